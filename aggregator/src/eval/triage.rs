//! Triage measured on pairs of failing and passing logs with labelled error
//! lines (CiDiff's layout: `<case>/fail.log`, `pass.log`, `groundtruth`):
//! `earlyexit-aggregator eval cidiff --data DIR` and the held-out report of
//! `train-triage`.
//!
//! Owns the protocol: warm (the passing log as history) line precision,
//! recall and F1 over every failing log and the share of logs whose first
//! `E` line is among the top 1 / top 5 findings; cold (no history) lines
//! flagged in the passing logs and recall on the failing ones. Must never
//! train or tune anything.

use std::path::Path;

use serde::Serialize;

use crate::eval::metrics::Confusion;
use crate::eval::patterns::cidiff::{Case, read_cases};
use crate::eval::{EvalError, require_dir};
use crate::triage::{Triage, TriageModel};

/// The measures of one run of the protocol.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Cases measured.
    pub cases: usize,
    /// Warm: line precision.
    pub warm_precision: f64,
    /// Warm: line recall.
    pub warm_recall: f64,
    /// Warm: line F1.
    pub warm_f1: f64,
    /// Warm: share of cases whose first `E` line is the top finding.
    pub warm_top1: f64,
    /// Warm: share of cases whose first `E` line is among the top 5.
    pub warm_top5: f64,
    /// Cold: findings in all passing logs together.
    pub cold_pass_flags: usize,
    /// Cold: passing logs with at least one finding.
    pub cold_pass_logs_flagged: usize,
    /// Cold: line recall on the failing logs.
    pub cold_recall: f64,
    /// Cold: line precision on the failing logs.
    pub cold_precision: f64,
    /// Per case: name, warm F1, rank of the first `E` line among the warm
    /// findings (0 = not found), cold flags on the passing log.
    pub per_case: Vec<(String, f64, usize, usize)>,
}

fn flagged(triage: &Triage, lines: &[String]) -> Vec<usize> {
    triage.run_lines(lines).iter().map(|f| f.line).collect()
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
    let make = || -> Result<Triage, EvalError> {
        let t = Triage::new().map_err(|e| EvalError::BadData {
            path: "built-in pattern library".into(),
            reason: e.to_string(),
        })?;
        Ok(match model {
            Some(m) => t.with_model(m.clone()),
            None => t,
        })
    };
    let cold = make()?;
    let (mut warm_c, mut cold_c) = (Confusion::default(), Confusion::default());
    let (mut top1, mut top5, mut pass_flags, mut pass_logs) = (0, 0, 0, 0);
    let mut per_case = Vec::new();
    for case in cases {
        let truth: std::collections::HashSet<usize> = case.error_lines.iter().copied().collect();
        let mut warm = make()?;
        warm.add_history_lines(&case.pass);
        let w = flagged(&warm, &case.fail);
        let mut c = Confusion::default();
        for n in 1..=case.fail.len() {
            c.add(w.contains(&n), truth.contains(&n));
        }
        add(&mut warm_c, &c);
        let first = case.error_lines.iter().min().copied();
        let rank = first
            .and_then(|f| w.iter().position(|&l| l == f))
            .map_or(0, |p| p + 1);
        top1 += usize::from(rank == 1);
        top5 += usize::from((1..=5).contains(&rank));
        let cf = flagged(&cold, &case.fail);
        for n in 1..=case.fail.len() {
            cold_c.add(cf.contains(&n), truth.contains(&n));
        }
        let pf = flagged(&cold, &case.pass).len();
        pass_flags += pf;
        pass_logs += usize::from(pf > 0);
        per_case.push((case.name.clone(), c.f1(), rank, pf));
        done(per_case.len());
    }
    let share = |k: usize| k as f64 / cases.len().max(1) as f64;
    Ok(Report {
        cases: cases.len(),
        warm_precision: warm_c.precision(),
        warm_recall: warm_c.recall(),
        warm_f1: warm_c.f1(),
        warm_top1: share(top1),
        warm_top5: share(top5),
        cold_pass_flags: pass_flags,
        cold_pass_logs_flagged: pass_logs,
        cold_recall: cold_c.recall(),
        cold_precision: cold_c.precision(),
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
        "cases {}\nwarm: P {:.3} R {:.3} F1 {:.3}  first E in top 1 {:.3}, top 5 {:.3}\ncold: passing logs {} lines flagged ({} of {} logs); failing logs recall {:.3} precision {:.3}\n",
        r.cases, r.warm_precision, r.warm_recall, r.warm_f1, r.warm_top1, r.warm_top5,
        r.cold_pass_flags, r.cold_pass_logs_flagged, r.cases, r.cold_recall, r.cold_precision
    ));
    if json {
        let mut v = serde_json::to_value(r).expect("report serialises");
        v.as_object_mut().expect("object").remove("per_case");
        s.push_str(&format!("{v}\n"));
    }
    s
}
