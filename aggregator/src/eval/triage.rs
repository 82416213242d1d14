//! Triage measured on pairs of failing and passing logs with labelled error
//! lines (CiDiff's layout: `<case>/fail.log`, `pass.log`, `groundtruth`):
//! `earlyexit-aggregator eval cidiff --data DIR` and the held-out report of
//! `train-default`.
//!
//! Owns the protocol: warm (the passing log as history) line precision,
//! recall and F1 over every failing log, the findings at or above the
//! default minimum score (0.5) flagging the lines of their blocks, and the
//! share of logs whose first `E` line is in the best / 5 best findings
//! (every finding ranked, whatever its score); cold (no history) findings
//! in the passing logs, and recall and top 1 / top 5 on the failing ones.
//! Must never train or tune anything.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use crate::eval::metrics::Confusion;
use crate::eval::patterns::cidiff::{Case, read_cases};
use crate::eval::{EvalError, require_dir};
use crate::triage::{DEFAULT_MIN_SCORE, Finding, Triage, TriageModel};

/// The measures of one run of the protocol.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Cases measured.
    pub cases: usize,
    /// Warm: line precision (a finding flags its block's lines).
    pub warm_precision: f64,
    /// Warm: line recall.
    pub warm_recall: f64,
    /// Warm: line F1.
    pub warm_f1: f64,
    /// Warm: line F1 when a finding flags its head line only.
    pub warm_f1_heads: f64,
    /// Warm: share of cases whose first `E` line is in the best finding
    /// (its head or its block), findings ranked by score whatever the
    /// minimum score.
    pub warm_top1: f64,
    /// Warm: the same among the 5 best findings.
    pub warm_top5: f64,
    /// Warm: share of cases whose first `E` line is the head line of the
    /// best finding.
    pub warm_top1_head: f64,
    /// Warm: the same among the 5 best findings.
    pub warm_top5_head: f64,
    /// Cold: findings (printed lines) in all passing logs together.
    pub cold_pass_flags: usize,
    /// Cold: lines those findings cover.
    pub cold_pass_lines: usize,
    /// Cold: passing logs with at least one finding.
    pub cold_pass_logs_flagged: usize,
    /// Cold: line recall on the failing logs.
    pub cold_recall: f64,
    /// Cold: line precision on the failing logs.
    pub cold_precision: f64,
    /// Cold: share of cases whose first `E` line is in the best finding.
    pub cold_top1: f64,
    /// Cold: the same among the 5 best findings.
    pub cold_top5: f64,
    /// Per case: name, warm F1, rank of the first `E` line among the warm
    /// findings (0 = not found), cold flags on the passing log.
    pub per_case: Vec<(String, f64, usize, usize)>,
}

/// What one triage of one failing log scores.
struct Scored {
    lines: Confusion,
    heads: Confusion,
    /// 1-based rank of the first finding containing the first `E` line.
    rank: usize,
    /// The same, the first `E` line being the finding's head.
    rank_head: usize,
}

fn score_log(
    triage: &Triage,
    lines: &[String],
    truth: &HashSet<usize>,
    first: Option<usize>,
) -> Scored {
    let ranked = triage.run_lines(lines);
    let shown: Vec<&Finding> = ranked
        .iter()
        .filter(|f| f.score >= DEFAULT_MIN_SCORE)
        .collect();
    let covered: HashSet<usize> = shown.iter().flat_map(|f| f.line..=f.end_line).collect();
    let heads: HashSet<usize> = shown.iter().map(|f| f.line).collect();
    let (mut c, mut h) = (Confusion::default(), Confusion::default());
    for n in 1..=lines.len() {
        c.add(covered.contains(&n), truth.contains(&n));
        h.add(heads.contains(&n), truth.contains(&n));
    }
    let rank_of = |hit: &dyn Fn(&Finding, usize) -> bool| {
        first
            .and_then(|e| ranked.iter().position(|f| hit(f, e)))
            .map_or(0, |p| p + 1)
    };
    Scored {
        lines: c,
        heads: h,
        rank: rank_of(&|f, e| (f.line..=f.end_line).contains(&e)),
        rank_head: rank_of(&|f, e| f.line == e),
    }
}

/// Runs the protocol on `cases` with `model` (the default model if `None`).
pub fn evaluate(cases: &[Case], model: Option<&TriageModel>) -> Result<Report, EvalError> {
    evaluate_with_progress(cases, model, &mut |_| {})
}

/// [`evaluate`], calling `done(n)` after the n-th case (for a progress bar).
pub fn evaluate_with_progress(
    cases: &[Case],
    model: Option<&TriageModel>,
    done: &mut dyn FnMut(usize),
) -> Result<Report, EvalError> {
    // Every finding is ranked (top 1 / top 5 whatever the score); the
    // minimum score applies to what is counted as flagged.
    let make = || -> Result<Triage, EvalError> {
        let m = model.cloned().unwrap_or_else(TriageModel::default_model);
        let t = Triage::with_builtin_library(m)
            .map_err(|e| EvalError::BadData {
                path: "built-in pattern library".into(),
                reason: e.to_string(),
            })?
            .with_min_score(0.0);
        Ok(t)
    };
    let cold = make()?;
    let (mut warm_c, mut warm_h, mut cold_c) = (
        Confusion::default(),
        Confusion::default(),
        Confusion::default(),
    );
    let mut top = [0usize; 6];
    let (mut pass_flags, mut pass_lines, mut pass_logs) = (0, 0, 0);
    let mut per_case = Vec::new();
    for case in cases {
        let truth: HashSet<usize> = case.error_lines.iter().copied().collect();
        let first = case.error_lines.iter().min().copied();
        let mut warm = make()?;
        warm.add_history_lines(&case.pass);
        let w = score_log(&warm, &case.fail, &truth, first);
        add(&mut warm_c, &w.lines);
        add(&mut warm_h, &w.heads);
        top[0] += usize::from(w.rank == 1);
        top[1] += usize::from((1..=5).contains(&w.rank));
        top[2] += usize::from(w.rank_head == 1);
        top[3] += usize::from((1..=5).contains(&w.rank_head));
        let c = score_log(&cold, &case.fail, &truth, first);
        add(&mut cold_c, &c.lines);
        top[4] += usize::from(c.rank == 1);
        top[5] += usize::from((1..=5).contains(&c.rank));
        let shown: Vec<Finding> = cold
            .run_lines(&case.pass)
            .into_iter()
            .filter(|f| f.score >= DEFAULT_MIN_SCORE)
            .collect();
        pass_flags += shown.len();
        pass_lines += shown.iter().map(|f| f.end_line + 1 - f.line).sum::<usize>();
        pass_logs += usize::from(!shown.is_empty());
        per_case.push((case.name.clone(), w.lines.f1(), w.rank, shown.len()));
        done(per_case.len());
    }
    let share = |k: usize| k as f64 / cases.len().max(1) as f64;
    Ok(Report {
        cases: cases.len(),
        warm_precision: warm_c.precision(),
        warm_recall: warm_c.recall(),
        warm_f1: warm_c.f1(),
        warm_f1_heads: warm_h.f1(),
        warm_top1: share(top[0]),
        warm_top5: share(top[1]),
        warm_top1_head: share(top[2]),
        warm_top5_head: share(top[3]),
        cold_pass_flags: pass_flags,
        cold_pass_lines: pass_lines,
        cold_pass_logs_flagged: pass_logs,
        cold_recall: cold_c.recall(),
        cold_precision: cold_c.precision(),
        cold_top1: share(top[4]),
        cold_top5: share(top[5]),
        per_case,
    })
}

fn add(total: &mut Confusion, c: &Confusion) {
    total.tp += c.tp;
    total.fp += c.fp;
    total.fn_ += c.fn_;
    total.tn += c.tn;
}

/// `eval cidiff --data DIR`: the protocol on DIR/cidiff/data/breakages with
/// the default model.
pub fn run_cidiff(data: &Path) -> Result<Report, EvalError> {
    let dir = require_dir(
        data,
        "cidiff/data/breakages",
        "CiDiff breakage pairs (case folders with pass.log, fail.log, groundtruth)",
    )?;
    let cases = read_cases(&dir)?;
    let bar = case_progress("evaluating", cases.len());
    let report = evaluate_with_progress(&cases, None, &mut |n| bar.set(n as u64));
    bar.finish();
    report
}

/// Case sets smaller than this get no progress bar.
const PROGRESS_MIN_CASES: u64 = 200;

/// A bar over `cases` cases on stderr (terminal only, large sets only).
pub fn case_progress(what: &str, cases: usize) -> earlyexit_termui::progress::Progress {
    earlyexit_termui::progress::Progress::new(
        what,
        "cases",
        u64::try_from(cases).unwrap_or(u64::MAX),
        PROGRESS_MIN_CASES,
    )
}

/// The report as text, and with `json` one JSON object on the last line.
pub fn render(r: &Report, json: bool) -> String {
    let mut s = String::new();
    for (name, f1, rank, pf) in &r.per_case {
        s.push_str(&format!(
            "{name:<40} warm F1 {f1:.3}  first E rank {}  cold pass flags {pf}\n",
            if *rank == 0 {
                "-".to_string()
            } else {
                rank.to_string()
            }
        ));
    }
    s.push_str(&format!(
        "cases {}\nwarm: P {:.3} R {:.3} F1 {:.3} (head lines only: F1 {:.3})  first E in top 1 {:.3}, top 5 {:.3} (as the head line: {:.3}, {:.3})\ncold: passing logs {} findings, {} lines ({} of {} logs); failing logs recall {:.3} precision {:.3}, first E in top 1 {:.3}, top 5 {:.3}\n",
        r.cases, r.warm_precision, r.warm_recall, r.warm_f1, r.warm_f1_heads, r.warm_top1, r.warm_top5,
        r.warm_top1_head, r.warm_top5_head,
        r.cold_pass_flags, r.cold_pass_lines, r.cold_pass_logs_flagged, r.cases, r.cold_recall, r.cold_precision,
        r.cold_top1, r.cold_top5
    ));
    if json {
        let mut v = serde_json::to_value(r).expect("report serialises");
        v.as_object_mut().expect("object").remove("per_case");
        s.push_str(&format!("{v}\n"));
    }
    s
}
