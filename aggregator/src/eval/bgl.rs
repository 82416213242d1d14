//! `earlyexit-aggregator eval bgl --data DIR`: the line classifier on
//! BGL's alert labels, the stand-in for user feedback.
//!
//! Owns reading `loghub2k/BGL/BGL_2k.log_structured.csv`, the two
//! cross-validation protocols (a random 5-fold split, and a grouped 5-fold
//! split that holds whole templates, `EventId`, out of training: the honest
//! number for lines of a kind never labelled) and the naive-regex reference.
//! The classifier sees each line as it appears in the raw log with the
//! label column removed, with its real neighbours and position; the
//! `EventId` is used only to build the folds, never as a feature. Never
//! tunes anything: it reports what the default training gives.

use std::path::Path;

use serde::Serialize;

use super::metrics::Confusion;
use super::{EvalError, require_dir};
use crate::classify::{LineClassifier, Rng, TrainParams, TrainingSet};
use crate::features::{DENSE_NAMES, Features, extract_log};

/// Folder under `--data` that holds the sample.
pub const BGL_DIR: &str = "loghub2k/BGL";
/// The structured sample inside it.
pub const BGL_FILE: &str = "BGL_2k.log_structured.csv";
/// Folds of both protocols.
pub const FOLDS: usize = 5;
/// The triage threshold on calibrated probabilities.
pub const THRESHOLD: f32 = 0.5;
/// Seed of the random split.
pub const SPLIT_SEED: u64 = 20_260_103;
/// The naive reference regex.
pub const NAIVE_REGEX: &str = "(?i)error|fail|exception|fatal|panic";

/// Raw-log fields, in order, that make up a line (the label column is left out).
const LINE_FIELDS: &[&str] = &[
    "Timestamp",
    "Date",
    "Node",
    "Time",
    "NodeRepeat",
    "Type",
    "Component",
    "Level",
    "Content",
];

/// Precision, recall, F1 and the Brier score of one protocol.
#[derive(Debug, Clone, Serialize)]
pub struct Scores {
    /// Pooled counts over the held-out folds.
    pub counts: Confusion,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Mean squared error of the probabilities (None for the regex).
    pub brier: Option<f64>,
    /// Folds whose training lines were all of one class, so no model was
    /// trained and that class was predicted for the held-out lines.
    pub single_class_folds: usize,
}

impl Scores {
    fn new(counts: Confusion, brier: Option<f64>) -> Self {
        Self {
            counts,
            precision: counts.precision(),
            recall: counts.recall(),
            f1: counts.f1(),
            brier,
            single_class_folds: 0,
        }
    }
}

/// The result of `eval bgl`.
#[derive(Debug, Clone, Serialize)]
pub struct BglReport {
    /// Lines in the sample.
    pub lines: usize,
    /// Alert lines among them.
    pub alerts: usize,
    /// Distinct `EventId`s.
    pub templates: usize,
    /// `EventId`s with at least one alert line.
    pub alert_templates: usize,
    /// Random 5-fold split.
    pub random: Scores,
    /// Grouped 5-fold split, whole templates held out.
    pub template: Scores,
    /// The classifier without position and neighbour features, random split.
    pub no_context_random: Scores,
    /// The same, templates held out.
    pub no_context_template: Scores,
    /// smartcore random forest on the dense features, random split.
    pub forest_random: Scores,
    /// smartcore random forest on the dense features, templates held out.
    pub forest_template: Scores,
    /// Naive regex on the message (`Content`) only.
    pub regex_content: Scores,
    /// Naive regex on the whole line.
    pub regex_line: Scores,
    /// The dense features of largest weight in a model trained on all lines.
    pub top_dense_weights: Vec<(String, f32)>,
    /// Size of the saved model trained on all lines.
    pub model_bytes: usize,
    /// Templates with the most wrong decisions when held out, worst first.
    pub template_misses: Vec<TemplateResult>,
}

/// How one template fared when it was held out of training.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TemplateResult {
    /// Its `EventId`.
    pub event: String,
    /// One of its messages.
    pub example: String,
    /// Its lines.
    pub lines: usize,
    /// Alert lines among them.
    pub alerts: usize,
    /// Lines the model flagged.
    pub flagged: usize,
    /// Lines decided wrongly.
    pub wrong: usize,
}

struct Sample {
    lines: Vec<String>,
    contents: Vec<String>,
    alert: Vec<bool>,
    event: Vec<String>,
}

fn read_sample(path: &Path) -> Result<Sample, EvalError> {
    let bad = |reason: String| EvalError::BadData {
        path: path.to_owned(),
        reason,
    };
    let mut rdr = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let headers = rdr.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            bad(format!(
                "no {name} column (expected the Loghub structured CSV header)"
            ))
        })
    };
    let fields = LINE_FIELDS
        .iter()
        .map(|f| col(f))
        .collect::<Result<Vec<_>, _>>()?;
    let (label, event, content) = (col("Label")?, col("EventId")?, col("Content")?);
    let mut s = Sample {
        lines: Vec::new(),
        contents: Vec::new(),
        alert: Vec::new(),
        event: Vec::new(),
    };
    for (n, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("record {}: {e}", n + 1)))?;
        let get = |i: usize| rec.get(i).unwrap_or("");
        let line: Vec<&str> = fields.iter().map(|&i| get(i)).collect();
        s.lines.push(line.join(" "));
        s.contents.push(get(content).to_owned());
        s.alert.push(get(label) != "-");
        s.event.push(get(event).to_owned());
    }
    if s.lines.is_empty() {
        return Err(bad("no records".into()));
    }
    if !s.alert.iter().any(|&a| a) || s.alert.iter().all(|&a| a) {
        return Err(bad(
            "the Label column has only one class; alerts and non-alerts are both needed".into(),
        ));
    }
    Ok(s)
}

/// Fold of every line: a seeded shuffle dealt round-robin.
fn random_folds(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    Rng::new(SPLIT_SEED).shuffle(&mut order);
    let mut fold = vec![0; n];
    for (p, &r) in order.iter().enumerate() {
        fold[r] = p % FOLDS;
    }
    fold
}

/// Fold of every line such that each template lies in one fold: templates,
/// largest first, each go to the fold with the fewest lines so far.
fn grouped_folds(event: &[String]) -> Vec<usize> {
    let mut sizes: Vec<(&str, usize)> = Vec::new();
    {
        let mut sorted: Vec<&str> = event.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        for e in sorted {
            match sizes.last_mut() {
                Some((last, n)) if *last == e => *n += 1,
                _ => sizes.push((e, 1)),
            }
        }
    }
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut load = [0usize; FOLDS];
    let mut of = std::collections::HashMap::new();
    for (e, n) in sizes {
        let f = (0..FOLDS).min_by_key(|&f| (load[f], f)).expect("FOLDS > 0");
        load[f] += n;
        of.insert(e, f);
    }
    event.iter().map(|e| of[e.as_str()]).collect()
}

/// Dense features that look beyond the line itself.
const CONTEXT_FEATURES: &[&str] = &[
    "pos_known",
    "pos_rel",
    "pos_tail",
    "prev_alarm",
    "next_alarm",
    "next_indented",
    "same_first_word_as_prev",
];

/// `set` without [`CONTEXT_FEATURES`]: how much the position and the
/// neighbours contribute (in BGL alerts come in bursts).
fn without_context(set: &TrainingSet) -> TrainingSet {
    let drop: Vec<u32> = DENSE_NAMES
        .iter()
        .enumerate()
        .filter(|(_, n)| CONTEXT_FEATURES.contains(n))
        .map(|(i, _)| i as u32)
        .collect();
    let mut out = TrainingSet::new();
    for r in 0..set.len() {
        let (i, v) = set.row(r);
        let (i, v): (Vec<u32>, Vec<f32>) = i
            .iter()
            .zip(v)
            .filter(|(i, _)| !drop.contains(i))
            .map(|(i, v)| (*i, *v))
            .unzip();
        out.push(&Features::from_parts(&i, &v), set.labels()[r]);
    }
    out
}

/// The one label all `rows` share, if they do: such a fold's training
/// lines cannot train a model (with few templates, every alert template
/// may sit in the held-out fold).
fn single_class(set: &TrainingSet, rows: &[usize]) -> Option<bool> {
    let first = set.labels()[*rows.first()?];
    rows.iter()
        .all(|&r| set.labels()[r] == first)
        .then_some(first)
}

fn cross_validate(
    set: &TrainingSet,
    fold: &[usize],
    params: &TrainParams,
    path: &Path,
) -> Result<(Scores, Vec<f32>), EvalError> {
    let mut counts = Confusion::default();
    let mut sq = 0.0;
    let labels = set.labels();
    let mut probs = vec![0.0; set.len()];
    let mut single = 0;
    for f in 0..FOLDS {
        let train: Vec<usize> = (0..set.len()).filter(|&r| fold[r] != f).collect();
        let test: Vec<usize> = (0..set.len()).filter(|&r| fold[r] == f).collect();
        let model = match single_class(set, &train) {
            Some(_) => {
                single += 1;
                None
            }
            None => Some(
                LineClassifier::train(&set.select(&train), params).map_err(|e| {
                    EvalError::BadData {
                        path: path.to_owned(),
                        reason: format!("training fold {f}: {e}"),
                    }
                })?,
            ),
        };
        for r in test {
            // Without a model, the only class the training lines showed.
            let p = match &model {
                Some(m) => m.probability(&set.features(r)),
                None => f32::from(u8::from(single_class(set, &train) == Some(true))),
            };
            probs[r] = p;
            let y = labels[r];
            counts.add(p >= THRESHOLD, y);
            sq += f64::from(p - f32::from(u8::from(y))).powi(2);
        }
    }
    let mut scores = Scores::new(counts, Some(sq / set.len() as f64));
    scores.single_class_folds = single;
    Ok((scores, probs))
}

/// The templates with the most wrong held-out decisions, worst first.
fn worst_templates(s: &Sample, probs: &[f32], n: usize) -> Vec<TemplateResult> {
    let mut by: std::collections::BTreeMap<&str, TemplateResult> =
        std::collections::BTreeMap::new();
    for (i, e) in s.event.iter().enumerate() {
        let t = by.entry(e).or_insert_with(|| TemplateResult {
            event: e.clone(),
            example: s.contents[i].clone(),
            ..TemplateResult::default()
        });
        let flagged = probs[i] >= THRESHOLD;
        t.lines += 1;
        t.alerts += usize::from(s.alert[i]);
        t.flagged += usize::from(flagged);
        t.wrong += usize::from(flagged != s.alert[i]);
    }
    let mut v: Vec<TemplateResult> = by.into_values().filter(|t| t.wrong > 0).collect();
    v.sort_by(|a, b| b.wrong.cmp(&a.wrong).then(a.event.cmp(&b.event)));
    v.truncate(n);
    v
}

/// The same folds with smartcore's random forest on the dense features
/// only (it needs a dense matrix, so the hashed block is left out, and it
/// gives labels, not probabilities): a reference for the linear model.
fn forest_cross_validate(
    set: &TrainingSet,
    fold: &[usize],
    path: &Path,
) -> Result<Scores, EvalError> {
    use smartcore::ensemble::random_forest_classifier::{
        RandomForestClassifier, RandomForestClassifierParameters,
    };
    use smartcore::linalg::basic::matrix::DenseMatrix;
    let d = DENSE_NAMES.len();
    let dense_row = |r: usize| {
        let mut row = vec![0.0f64; d];
        let (i, v) = set.row(r);
        for (&i, &v) in i.iter().zip(v) {
            if (i as usize) < d {
                row[i as usize] += f64::from(v);
            }
        }
        row
    };
    let matrix = |rows: &[usize]| {
        let values: Vec<f64> = rows.iter().flat_map(|&r| dense_row(r)).collect();
        DenseMatrix::new(rows.len(), d, values, false)
    };
    let bad = |reason: String| EvalError::BadData {
        path: path.to_owned(),
        reason,
    };
    let mut counts = Confusion::default();
    let mut single = 0;
    let labels = set.labels();
    for f in 0..FOLDS {
        let train: Vec<usize> = (0..set.len()).filter(|&r| fold[r] != f).collect();
        let test: Vec<usize> = (0..set.len()).filter(|&r| fold[r] == f).collect();
        if let Some(class) = single_class(set, &train) {
            single += 1;
            test.iter().for_each(|&r| counts.add(class, labels[r]));
            continue;
        }
        let x = matrix(&train).map_err(|e| bad(e.to_string()))?;
        let y: Vec<u32> = train.iter().map(|&r| u32::from(labels[r])).collect();
        let params = RandomForestClassifierParameters::default().with_seed(SPLIT_SEED);
        let forest = RandomForestClassifier::fit(&x, &y, params)
            .map_err(|e| bad(format!("random forest, fold {f}: {e}")))?;
        let xt = matrix(&test).map_err(|e| bad(e.to_string()))?;
        let pred: Vec<u32> = forest.predict(&xt).map_err(|e| bad(e.to_string()))?;
        for (&r, &p) in test.iter().zip(&pred) {
            counts.add(p == 1, labels[r]);
        }
    }
    let mut scores = Scores::new(counts, None);
    scores.single_class_folds = single;
    Ok(scores)
}

fn regex_scores(texts: &[String], alert: &[bool]) -> Scores {
    let re = regex::Regex::new(NAIVE_REGEX).expect("a valid constant regex");
    let mut c = Confusion::default();
    for (t, &y) in texts.iter().zip(alert) {
        c.add(re.is_match(t), y);
    }
    Scores::new(c, None)
}

/// Runs the evaluation on `data/loghub2k/BGL/BGL_2k.log_structured.csv`.
pub fn run(data: &Path, params: &TrainParams) -> Result<BglReport, EvalError> {
    let dir = require_dir(data, BGL_DIR, "BGL sample of Loghub 2k")?;
    let path = dir.join(BGL_FILE);
    if !path.is_file() {
        return Err(EvalError::BadData {
            path,
            reason: "missing: expected the Loghub 2k BGL structured CSV here".into(),
        });
    }
    let s = read_sample(&path)?;
    let mut set = TrainingSet::new();
    extract_log(&s.lines, |_, _| {}, |i, f| set.push(f, s.alert[i]));
    let (random, _) = cross_validate(&set, &random_folds(set.len()), params, &path)?;
    let (template, held_out) = cross_validate(&set, &grouped_folds(&s.event), params, &path)?;
    let template_misses = worst_templates(&s, &held_out, 10);
    let bare = without_context(&set);
    let (no_context_random, _) = cross_validate(&bare, &random_folds(set.len()), params, &path)?;
    let (no_context_template, _) = cross_validate(&bare, &grouped_folds(&s.event), params, &path)?;
    let forest_random = forest_cross_validate(&set, &random_folds(set.len()), &path)?;
    let forest_template = forest_cross_validate(&set, &grouped_folds(&s.event), &path)?;
    let all = LineClassifier::train(&set, params).map_err(|e| EvalError::BadData {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let model_bytes = all.to_bytes().len();
    let top_dense_weights = all
        .top_weights(usize::MAX)
        .into_iter()
        .filter(|(n, _)| !n.starts_with("hashed["))
        .take(10)
        .collect();
    let mut events: Vec<&str> = s.event.iter().map(String::as_str).collect();
    events.sort_unstable();
    events.dedup();
    let mut alert_events: Vec<&str> = s
        .event
        .iter()
        .zip(&s.alert)
        .filter(|(_, a)| **a)
        .map(|(e, _)| e.as_str())
        .collect();
    alert_events.sort_unstable();
    alert_events.dedup();
    Ok(BglReport {
        lines: s.lines.len(),
        alerts: s.alert.iter().filter(|&&a| a).count(),
        templates: events.len(),
        alert_templates: alert_events.len(),
        random,
        template,
        no_context_random,
        no_context_template,
        forest_random,
        forest_template,
        regex_content: regex_scores(&s.contents, &s.alert),
        regex_line: regex_scores(&s.lines, &s.alert),
        top_dense_weights,
        model_bytes,
        template_misses,
    })
}

/// The human report; with `json`, ends with one JSON object on one line.
pub fn render(r: &BglReport, json: bool) -> String {
    let mut out = format!(
        "BGL line classifier: {} lines, {} alerts, {} templates ({} with alerts); threshold {THRESHOLD}\n",
        r.lines, r.alerts, r.templates, r.alert_templates
    );
    out.push_str(&format!(
        "{:<34} {:>6} {:>6} {:>6} {:>7} {:>5} {:>5} {:>5}\n",
        "protocol", "P", "R", "F1", "Brier", "TP", "FP", "FN"
    ));
    for (name, s) in [
        ("random 5-fold", &r.random),
        ("templates held out (5-fold)", &r.template),
        ("no position/neighbours: random", &r.no_context_random),
        ("no position/neighbours: held out", &r.no_context_template),
        ("forest, dense only: random", &r.forest_random),
        ("forest, dense only: held out", &r.forest_template),
        ("naive regex on Content", &r.regex_content),
        ("naive regex on the whole line", &r.regex_line),
    ] {
        let brier = s.brier.map_or("-".to_owned(), |b| format!("{b:.4}"));
        out.push_str(&format!(
            "{name:<34} {:>6.3} {:>6.3} {:>6.3} {brier:>7} {:>5} {:>5} {:>5}\n",
            s.precision, s.recall, s.f1, s.counts.tp, s.counts.fp, s.counts.fn_
        ));
        if s.single_class_folds > 0 {
            out.push_str(&format!(
                "  ({} of {FOLDS} folds had training lines of one class only: no model, that class predicted)\n",
                s.single_class_folds
            ));
        }
    }
    out.push_str(&format!(
        "model on all lines: {} bytes saved; largest dense weights:",
        r.model_bytes
    ));
    for (n, w) in &r.top_dense_weights {
        out.push_str(&format!(" {n} {w:+.2}"));
    }
    out.push('\n');
    out.push_str("templates most often wrong when held out (lines / alerts / flagged):\n");
    for t in &r.template_misses {
        let mut ex: String = t.example.chars().take(70).collect();
        if ex.len() < t.example.len() {
            ex.push('…');
        }
        out.push_str(&format!(
            "  {:<5} {:>4} / {:>3} / {:>3}  {ex}\n",
            t.event, t.lines, t.alerts, t.flagged
        ));
    }
    if json {
        let j = serde_json::json!({
            "random_p": r.random.precision,
            "random_r": r.random.recall,
            "random_f1": r.random.f1,
            "random_brier": r.random.brier,
            "template_p": r.template.precision,
            "template_r": r.template.recall,
            "template_f1": r.template.f1,
            "template_brier": r.template.brier,
            "template_single_class_folds": r.template.single_class_folds,
            "no_context_random_f1": r.no_context_random.f1,
            "no_context_template_f1": r.no_context_template.f1,
            "forest_random_f1": r.forest_random.f1,
            "forest_template_f1": r.forest_template.f1,
            "regex_content_p": r.regex_content.precision,
            "regex_content_r": r.regex_content.recall,
            "regex_line_p": r.regex_line.precision,
            "regex_line_r": r.regex_line.recall,
            "model_bytes": r.model_bytes,
            "lines": r.lines,
            "alerts": r.alerts,
            "templates": r.templates,
            "alert_templates": r.alert_templates,
        });
        out.push_str(&j.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_folds_keep_each_template_in_one_fold_and_balance_lines() {
        let event: Vec<String> = (0..100).map(|i| format!("E{}", i % 13)).collect();
        let fold = grouped_folds(&event);
        for e in 0..13 {
            let folds: std::collections::HashSet<_> =
                (0..100).filter(|i| i % 13 == e).map(|i| fold[i]).collect();
            assert_eq!(folds.len(), 1);
        }
        let mut load = [0; FOLDS];
        fold.iter().for_each(|&f| load[f] += 1);
        assert!(load.iter().all(|&n| (16..=24).contains(&n)), "{load:?}");
    }

    #[test]
    fn random_folds_are_balanced() {
        let mut load = [0; FOLDS];
        random_folds(1003).iter().for_each(|&f| load[f] += 1);
        assert!(load.iter().all(|&n| n == 200 || n == 201), "{load:?}");
    }

    #[test]
    fn a_small_written_sample_is_evaluated_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let bgl = dir.path().join(BGL_DIR);
        std::fs::create_dir_all(&bgl).unwrap();
        let mut csv = String::from(
            "LineId,Label,Timestamp,Date,Node,Time,NodeRepeat,Type,Component,Level,Content,EventId,EventTemplate\n",
        );
        for i in 0..200 {
            let (label, level, content, ev) = match i % 5 {
                0 => (
                    "KERNDTLB",
                    "FATAL",
                    "data TLB error interrupt".to_owned(),
                    "E1",
                ),
                1 => (
                    "-",
                    "INFO",
                    format!("{i} double-hummer alignment exceptions"),
                    "E2",
                ),
                2 => ("-", "INFO", "generating core.{i}".to_owned(), "E3"),
                3 => (
                    "APPREAD",
                    "FATAL",
                    format!("ciod: failed to read message prefix on socket {i}"),
                    "E4",
                ),
                _ => (
                    "-",
                    "FATAL",
                    format!("instruction address: 0x{i:08x}"),
                    "E5",
                ),
            };
            csv.push_str(&format!(
                "{i},{label},1117838570,2005.06.03,R02-M1-N0,2005-06-03-15.42.50.675872,R02-M1-N0,RAS,KERNEL,{level},{content},{ev},x\n"
            ));
        }
        std::fs::write(bgl.join(BGL_FILE), csv).unwrap();
        let r = run(dir.path(), &TrainParams::default()).unwrap();
        assert_eq!(
            (r.lines, r.alerts, r.templates, r.alert_templates),
            (200, 80, 5, 2)
        );
        assert!(r.random.f1 > 0.95, "{r:?}");
        let text = render(&r, true);
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        for k in [
            "random_p",
            "random_r",
            "random_f1",
            "template_p",
            "template_r",
            "template_f1",
        ] {
            assert!(last[k].is_number(), "{k} in {last}");
        }
    }

    #[test]
    fn a_missing_or_malformed_sample_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = run(dir.path(), &TrainParams::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("loghub2k/BGL") && e.contains("--data"), "{e}");
        let bgl = dir.path().join(BGL_DIR);
        std::fs::create_dir_all(&bgl).unwrap();
        std::fs::write(bgl.join(BGL_FILE), "LineId,Content\n1,x\n").unwrap();
        let e = run(dir.path(), &TrainParams::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("no Label column") || e.contains("no Timestamp column"),
            "{e}"
        );
    }
}
