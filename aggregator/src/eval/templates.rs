//! `eval templates`: grouping accuracy of the template miner on the 16
//! Loghub 2k samples (against the corrected and the original ground
//! truth) and its speed on the samples concatenated and repeated. Owns
//! reading those files and the GA arithmetic; it must never tune the
//! miner per dataset: every dataset is mined with the same configuration.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::{EvalError, require_dir};
use crate::template::{Miner, MinerConfig, TemplateId, split_lines};

/// The 16 Loghub 2k systems, in alphabetical order.
pub const DATASETS: [&str; 16] = [
    "Android",
    "Apache",
    "BGL",
    "HDFS",
    "HPC",
    "Hadoop",
    "HealthApp",
    "Linux",
    "Mac",
    "OpenSSH",
    "OpenStack",
    "Proxifier",
    "Spark",
    "Thunderbird",
    "Windows",
    "Zookeeper",
];

/// The datasets the miner's defaults were tuned on: every other one of
/// [`DATASETS`] (1st, 3rd, …). The others were only looked at afterwards.
pub const TUNING: [&str; 8] = [
    "Android",
    "BGL",
    "HPC",
    "HealthApp",
    "Mac",
    "OpenStack",
    "Spark",
    "Windows",
];

/// One dataset's result.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetResult {
    /// System name.
    pub name: String,
    /// Lines mined.
    pub lines: usize,
    /// Templates found.
    pub templates: usize,
    /// Event types in the corrected truth.
    pub truth_templates: usize,
    /// Grouping accuracy against the corrected truth.
    pub ga: f64,
    /// Grouping accuracy against the original Loghub truth.
    pub ga_uncorrected: f64,
    /// Whether the defaults were tuned on it.
    pub tuning: bool,
    /// Lines their own template's `to_regex()` does not match (should be 0).
    pub regex_misses: usize,
}

/// The whole report; serialised as the last line of `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Mean GA over the 16 datasets, corrected truth.
    pub average_ga: f64,
    /// Mean GA over the 16 datasets, original truth.
    pub average_ga_uncorrected: f64,
    /// Mean GA over the tuning datasets (corrected truth).
    pub average_ga_tuning: f64,
    /// Mean GA over the other datasets (corrected truth).
    pub average_ga_held_out: f64,
    /// GA per dataset (corrected truth).
    pub datasets: std::collections::BTreeMap<String, f64>,
    /// GA per dataset (original truth).
    pub datasets_uncorrected: std::collections::BTreeMap<String, f64>,
    /// Lines (of all datasets) their own template's regex does not match.
    pub regex_misses: usize,
    /// Lines per second of one miner, one thread, on the datasets
    /// concatenated and repeated to `speed_lines`.
    pub lines_per_sec: f64,
    /// The same per second of the thread's CPU time (what one core does on
    /// a shared machine); absent where the OS does not say.
    pub lines_per_cpu_sec: Option<f64>,
    /// Lines in the speed run.
    pub speed_lines: u64,
    /// Templates the speed run's miner ended with.
    pub speed_templates: usize,
    /// Every dataset in full.
    pub details: Vec<DatasetResult>,
}

/// Grouping accuracy (Loghub): the share of lines whose predicted group is
/// exactly the set of lines sharing their true event id.
pub fn grouping_accuracy<P: Eq + std::hash::Hash, T: Eq + std::hash::Hash>(
    predicted: &[P],
    truth: &[T],
) -> f64 {
    assert_eq!(predicted.len(), truth.len(), "one prediction per line");
    if predicted.is_empty() {
        return 1.0;
    }
    let mut truth_size: HashMap<&T, usize> = HashMap::new();
    for t in truth {
        *truth_size.entry(t).or_default() += 1;
    }
    // For each predicted group: its size and the single truth id it holds
    // (None once it holds two).
    let mut groups: HashMap<&P, (usize, Option<&T>, bool)> = HashMap::new();
    for (p, t) in predicted.iter().zip(truth) {
        let g = groups.entry(p).or_insert((0, Some(t), true));
        g.0 += 1;
        if g.1 != Some(t) {
            g.2 = false;
        }
    }
    let correct: usize = groups
        .values()
        .filter(|(size, t, pure)| *pure && t.is_some_and(|t| truth_size[t] == *size))
        .map(|(size, _, _)| size)
        .sum();
    correct as f64 / predicted.len() as f64
}

struct Dataset {
    name: &'static str,
    lines: Vec<String>,
    truth: Vec<String>,
    truth_uncorrected: Vec<String>,
}

fn read_event_ids(path: &Path) -> Result<Vec<String>, EvalError> {
    let bad = |reason: String| EvalError::BadData {
        path: path.to_path_buf(),
        reason,
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let headers = r.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = headers
        .iter()
        .position(|h| h == "EventId")
        .ok_or_else(|| bad("no EventId column".into()))?;
    let mut ids = Vec::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        ids.push(
            rec.get(col)
                .ok_or_else(|| bad(format!("row {} has no EventId", ids.len() + 1)))?
                .to_string(),
        );
    }
    Ok(ids)
}

fn load(raw: &Path, corrected: &Path, name: &'static str) -> Result<Dataset, EvalError> {
    let log: PathBuf = raw.join(name).join(format!("{name}_2k.log"));
    let bytes = std::fs::read(&log).map_err(|e| EvalError::BadData {
        path: log.clone(),
        reason: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<String> = split_lines(&text).map(str::to_string).collect();
    let truth = read_event_ids(
        &corrected
            .join(name)
            .join(format!("{name}_2k.log_structured_corrected.csv")),
    )?;
    let truth_uncorrected =
        read_event_ids(&raw.join(name).join(format!("{name}_2k.log_structured.csv")))?;
    for (what, t) in [("corrected", &truth), ("original", &truth_uncorrected)] {
        if t.len() != lines.len() {
            return Err(EvalError::BadData {
                path: log,
                reason: format!(
                    "{} lines but the {what} truth has {} rows",
                    lines.len(),
                    t.len()
                ),
            });
        }
    }
    Ok(Dataset {
        name,
        lines,
        truth,
        truth_uncorrected,
    })
}

/// Options of `eval templates`.
#[derive(Debug, Clone)]
pub struct Options {
    /// The miner configuration (the same for every dataset).
    pub config: MinerConfig,
    /// Lines in the speed run.
    pub speed_lines: u64,
    /// Print the misgrouped lines of this dataset.
    pub explain: Option<String>,
}

/// Runs the evaluation on `data` (which holds `loghub2k/` and
/// `loghub2k_corrected/`), printing a table, and returns the report.
pub fn run(data: &Path, opts: &Options) -> anyhow::Result<Report> {
    let raw = require_dir(data, "loghub2k", "Loghub 2k samples")?;
    let corrected = require_dir(
        data,
        "loghub2k_corrected",
        "corrected Loghub 2k ground truth",
    )?;
    let sets: Vec<Dataset> = DATASETS
        .iter()
        .map(|n| load(&raw, &corrected, n))
        .collect::<Result<_, _>>()?;

    let mut details = Vec::new();
    println!(
        "{:<12} {:>6} {:>9} {:>6} {:>8} {:>12}",
        "dataset", "lines", "templates", "truth", "GA", "GA original"
    );
    for d in &sets {
        let mut miner = Miner::new(opts.config.clone())?;
        let ids: Vec<TemplateId> = d.lines.iter().map(|l| miner.add(l)).collect();
        // Templates merged later take the lines they had.
        let ids: Vec<TemplateId> = ids.into_iter().map(|i| miner.resolve(i)).collect();
        let truth_n = d
            .truth
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
        let regex_misses = regex_misses(&d.lines, &ids, &miner);
        let r = DatasetResult {
            name: d.name.to_string(),
            lines: d.lines.len(),
            templates: miner.len(),
            truth_templates: truth_n,
            ga: grouping_accuracy(&ids, &d.truth),
            ga_uncorrected: grouping_accuracy(&ids, &d.truth_uncorrected),
            tuning: TUNING.contains(&d.name),
            regex_misses,
        };
        println!(
            "{:<12} {:>6} {:>9} {:>6} {:>8.4} {:>12.4}{}",
            r.name,
            r.lines,
            r.templates,
            r.truth_templates,
            r.ga,
            r.ga_uncorrected,
            if r.tuning { "  (tuning)" } else { "" }
        );
        if opts.explain.as_deref() == Some(d.name) {
            explain(d, &ids, &miner);
        }
        details.push(r);
    }
    let mean = |f: &dyn Fn(&DatasetResult) -> Option<f64>| {
        let v: Vec<f64> = details.iter().filter_map(f).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let average_ga = mean(&|r| Some(r.ga));
    let average_ga_uncorrected = mean(&|r| Some(r.ga_uncorrected));
    let average_ga_tuning = mean(&|r| r.tuning.then_some(r.ga));
    let average_ga_held_out = mean(&|r| (!r.tuning).then_some(r.ga));
    println!(
        "average GA {average_ga:.4} (original truth {average_ga_uncorrected:.4}); tuning datasets {average_ga_tuning:.4}, held out {average_ga_held_out:.4}"
    );
    let regex_misses: usize = details.iter().map(|r| r.regex_misses).sum();
    println!(
        "template regexes: {regex_misses} of {} lines not matched by their own template's regex",
        details.iter().map(|r| r.lines).sum::<usize>()
    );

    let all: Vec<&str> = sets
        .iter()
        .flat_map(|d| d.lines.iter().map(String::as_str))
        .collect();
    let sp = speed(&all, opts.speed_lines, &opts.config)?;
    let (lines_per_sec, speed_templates) = (sp.lines_per_sec, sp.templates);
    println!(
        "speed: {lines_per_sec:.0} lines/s wall, {} lines/s of thread CPU time, on {} lines (one thread), {speed_templates} templates",
        sp.lines_per_cpu_sec
            .map_or_else(|| "?".to_string(), |c| format!("{c:.0}")),
        opts.speed_lines
    );
    Ok(Report {
        average_ga,
        average_ga_uncorrected,
        average_ga_tuning,
        average_ga_held_out,
        datasets: details.iter().map(|r| (r.name.clone(), r.ga)).collect(),
        datasets_uncorrected: details
            .iter()
            .map(|r| (r.name.clone(), r.ga_uncorrected))
            .collect(),
        regex_misses,
        lines_per_sec,
        lines_per_cpu_sec: sp.lines_per_cpu_sec,
        speed_lines: opts.speed_lines,
        speed_templates,
        details,
    })
}

/// Lines that the anchored regex of the template they went to does not
/// match. One regex is compiled at a time (and dropped before the next),
/// so the check does not weigh on the peak memory the bench reports.
fn regex_misses(lines: &[String], ids: &[TemplateId], miner: &Miner) -> usize {
    let mut by_template: HashMap<TemplateId, Vec<&str>> = HashMap::new();
    for (line, id) in lines.iter().zip(ids) {
        by_template.entry(*id).or_default().push(line);
    }
    by_template
        .into_iter()
        .map(
            |(id, lines)| match miner.template(id).map(|t| t.to_regex()) {
                Some(re) => lines.iter().filter(|l| !re.is_match(l)).count(),
                None => lines.len(),
            },
        )
        .sum()
}

/// Mines `lines` repeated until `total` lines, with one fresh miner.
fn speed(lines: &[&str], total: u64, config: &MinerConfig) -> anyhow::Result<Speed> {
    let mut miner = Miner::new(config.clone())?;
    let cpu_start = thread_cpu_secs();
    let start = Instant::now();
    let mut n = 0u64;
    let mut sink = 0u64;
    'outer: loop {
        for l in lines {
            if n >= total {
                break 'outer;
            }
            sink = sink.wrapping_add(miner.add(l).0);
            n += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = match (cpu_start, thread_cpu_secs()) {
        (Some(a), Some(b)) if b > a => Some(b - a),
        _ => None,
    };
    std::hint::black_box(sink);
    Ok(Speed {
        lines_per_sec: n as f64 / secs.max(1e-9),
        lines_per_cpu_sec: cpu.map(|c| n as f64 / c),
        templates: miner.len(),
    })
}

struct Speed {
    lines_per_sec: f64,
    lines_per_cpu_sec: Option<f64>,
    templates: usize,
}

/// CPU time (user + system) of the calling thread so far, from
/// `/proc/thread-self/stat` (Linux; `None` elsewhere). The machine the
/// speed is measured on may be shared: CPU time says what one core does
/// whatever else runs.
fn thread_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold
    // spaces): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // The kernel reports clock ticks; USER_HZ is 100 on every Linux ABI.
    Some((utime + stime) / 100.0)
}

/// Prints, for each wrongly grouped true event, the predicted templates its
/// lines went to, and for each impure predicted template the events in it.
fn explain(d: &Dataset, ids: &[TemplateId], miner: &Miner) {
    let mut by_truth: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, t) in d.truth.iter().enumerate() {
        by_truth.entry(t).or_default().push(i);
    }
    let mut by_pred: HashMap<TemplateId, Vec<usize>> = HashMap::new();
    for (i, p) in ids.iter().enumerate() {
        by_pred.entry(*p).or_default().push(i);
    }
    let text = |id: TemplateId| miner.template(id).map(|t| t.text()).unwrap_or_default();
    let mut events: Vec<_> = by_truth.iter().collect();
    events.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    for (ev, rows) in events {
        let preds: std::collections::BTreeSet<TemplateId> = rows.iter().map(|&i| ids[i]).collect();
        let exact = preds.len() == 1 && by_pred[preds.iter().next().unwrap()].len() == rows.len();
        if exact {
            continue;
        }
        println!(
            "  event {ev} ({} lines) -> {} templates",
            rows.len(),
            preds.len()
        );
        for p in preds.iter().take(4) {
            let own = rows.iter().filter(|&&i| ids[i] == *p).count();
            let size = by_pred[p].len();
            println!("    [{own}/{size}] {}", text(*p));
            if let Some(&i) = rows.iter().find(|&&i| ids[i] == *p) {
                println!("        e.g. {}", d.lines[i]);
            }
        }
    }
}

/// Arguments of `earlyexit-aggregator eval templates`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data folder: must hold loghub2k/SYSTEM/ (raw logs and original
    /// truth) and loghub2k_corrected/SYSTEM/ (corrected truth).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Print the report as JSON; its last line is one object with
    /// average_ga, average_ga_uncorrected, lines_per_sec and datasets.
    #[arg(long)]
    pub json: bool,
    /// A miner configuration file (JSON, the fields of MinerConfig; any
    /// field left out keeps its default). Default: the built-in defaults.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Lines in the speed run (the 16 samples concatenated and repeated).
    #[arg(long, default_value_t = 1_000_000)]
    pub speed_lines: u64,
    /// Also print the wrongly grouped events of this dataset.
    #[arg(long, value_name = "NAME")]
    pub explain: Option<String>,
}

/// Runs `eval templates`.
pub fn main(args: Args) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let config = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read miner configuration {}", p.display()))?;
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is not a miner configuration (JSON object with the fields of MinerConfig)",
                    p.display()
                )
            })?
        }
        None => MinerConfig::default(),
    };
    let opts = Options {
        config,
        speed_lines: args.speed_lines,
        explain: args.explain,
    };
    let report = run(&args.data, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_accuracy_counts_only_lines_in_exactly_right_groups() {
        // Truth: a a b b c. Prediction merges b and c, splits nothing else.
        let truth = ["a", "a", "b", "b", "c"];
        assert_eq!(grouping_accuracy(&[1, 1, 2, 2, 2], &truth), 0.4);
        // A split group is wrong too: a is split in two.
        assert_eq!(grouping_accuracy(&[1, 9, 2, 2, 3], &truth), 0.6);
        assert_eq!(grouping_accuracy(&[7, 7, 8, 8, 9], &truth), 1.0);
    }

    /// Writes a tiny stand-in for the 16 datasets: CRLF logs without a
    /// final newline, the original truth in `loghub2k`, the corrected one
    /// in `loghub2k_corrected` (which splits the last event in two).
    fn write_data(dir: &Path, rows_short_by: usize) {
        let lines = [
            "081109 203615 148 INFO dfs.DataNode: Receiving block blk_1 src: /10.0.0.1:50010",
            "081109 203616 149 INFO dfs.DataNode: Receiving block blk_2 src: /10.0.0.2:50010",
            "081109 203617 150 WARN dfs.DataNode: Slow \"BlockReceiver\" write, took 300ms",
            "081109 203618 151 WARN dfs.DataNode: Slow \"BlockReceiver\" write, took 12ms",
        ];
        for name in DATASETS {
            let raw = dir.join("loghub2k").join(name);
            let cor = dir.join("loghub2k_corrected").join(name);
            std::fs::create_dir_all(&raw).unwrap();
            std::fs::create_dir_all(&cor).unwrap();
            std::fs::write(raw.join(format!("{name}_2k.log")), lines.join("\r\n")).unwrap();
            let csv = |ids: [&str; 4]| {
                let mut s = String::from("LineId,Content,EventId,EventTemplate\n");
                for (i, (l, id)) in lines.iter().zip(ids).enumerate().skip(rows_short_by) {
                    s.push_str(&format!(
                        "{},\"{}\",{id},t\n",
                        i + 1,
                        l.replace('"', "\"\"")
                    ));
                }
                s
            };
            std::fs::write(
                raw.join(format!("{name}_2k.log_structured.csv")),
                csv(["E1", "E1", "E2", "E2"]),
            )
            .unwrap();
            std::fs::write(
                cor.join(format!("{name}_2k.log_structured_corrected.csv")),
                csv(["E1", "E1", "E2", "E3"]),
            )
            .unwrap();
        }
    }

    fn opts() -> Options {
        Options {
            config: MinerConfig::default(),
            speed_lines: 100,
            explain: None,
        }
    }

    #[test]
    fn the_evaluation_reads_both_truths_and_scores_every_dataset() {
        let tmp = tempfile::tempdir().unwrap();
        write_data(tmp.path(), 0);
        let r = run(tmp.path(), &opts()).unwrap();
        assert_eq!(r.datasets.len(), 16);
        // The miner makes {1,2} and {3,4}: right for the original truth,
        // half right for the corrected one (3 and 4 are two events there).
        assert_eq!(r.average_ga_uncorrected, 1.0);
        assert_eq!(r.average_ga, 0.5);
        assert_eq!(r.regex_misses, 0);
        assert_eq!(r.speed_lines, 100);
        assert!(r.lines_per_sec > 0.0);
    }

    #[test]
    fn missing_or_short_data_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let e = run(tmp.path(), &opts()).unwrap_err().to_string();
        assert!(e.contains("loghub2k") && e.contains("--data"), "{e}");
        write_data(tmp.path(), 1);
        let e = run(tmp.path(), &opts()).unwrap_err().to_string();
        assert!(
            e.contains("4 lines but the corrected truth has 3 rows"),
            "{e}"
        );
    }
}
