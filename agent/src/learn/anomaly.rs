//! Anomalies in one command's run history: runs far outside their usual
//! runtime or output volume, and error lines of a shape (template) the
//! command never printed before.
//!
//! # The rules
//!
//! * **History** — a run is compared with up to [`HISTORY_WINDOW`] runs of
//!   the same command started before it, and only when there are at least
//!   [`MIN_HISTORY`] of them.
//! * **Outlier** (runtime, output bytes) — robust statistics, never
//!   mean ± k·σ: the *spread* is the median absolute deviation of the
//!   history scaled to a standard deviation (× 1.4826), but at least
//!   [`RELATIVE_SPREAD_FLOOR`] of the median and the measure's absolute
//!   floor (so a history of identical runs does not make every small
//!   difference an anomaly). A run is an anomaly when it lies more than
//!   [`OUTLIER_SPREADS`] spreads from the median; the *usual range* is
//!   median ± that many spreads; *how far out* is the distance in spreads
//!   (a robust z-score, signed: negative is below the usual range).
//! * **New error template** — the error lines that matched are mined
//!   into templates (the learning engine's miner,
//!   `earlyexit_aggregator::template`) in run order; a matched line whose
//!   template none of the command's earlier runs produced is an anomaly.
//!
//! Pure functions over a command's runs in time order; reading them is
//! `store::analysis`' job.

use std::collections::HashSet;

use earlyexit_aggregator::template::{Miner, MinerConfig};
use serde::Serialize;

use super::robust::{MAD_TO_SIGMA, median_mad_with};

/// Fewest earlier runs of a command before its runs are judged.
pub const MIN_HISTORY: usize = 5;
/// Most earlier runs a run is compared with (the most recent ones).
pub const HISTORY_WINDOW: usize = 50;
/// Distance from the median, in spreads, beyond which a run is an anomaly.
pub const OUTLIER_SPREADS: f64 = 3.5;
/// The spread is never below this share of the median.
pub const RELATIVE_SPREAD_FLOOR: f64 = 0.05;

/// What is measured of each run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// `total_runtime`, seconds.
    Runtime,
    /// `bytes_processed`: output bytes on every stream.
    OutputBytes,
    /// A matched error line of a template new to the command.
    NewErrorTemplate,
}

impl Measure {
    /// The name used in tables and `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Runtime => "runtime",
            Measure::OutputBytes => "output_bytes",
            Measure::NewErrorTemplate => "new_error_template",
        }
    }

    /// The smallest spread of the measure (a second's twentieth, 64 bytes).
    fn absolute_floor(self) -> f64 {
        match self {
            Measure::Runtime => 0.05,
            Measure::OutputBytes => 64.0,
            Measure::NewErrorTemplate => 0.0,
        }
    }

    /// `value` with its unit.
    pub fn show(self, value: f64) -> String {
        match self {
            Measure::Runtime => format!("{value:.2}s"),
            Measure::OutputBytes => format!("{value:.0} B"),
            Measure::NewErrorTemplate => format!("{value}"),
        }
    }
}

/// One run of a command, as the rules see it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRun {
    /// Execution id.
    pub execution_id: String,
    /// Start, ms since the epoch.
    pub started_at_ms: i64,
    /// `total_runtime`, seconds.
    pub runtime: f64,
    /// `bytes_processed`.
    pub output_bytes: f64,
    /// The error lines that matched, in order.
    pub match_lines: Vec<String>,
}

/// One anomaly: the run, the measure, the usual range and how far out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Anomaly {
    /// The run.
    pub execution_id: String,
    /// Its start, ms since the epoch.
    pub started_at_ms: i64,
    /// Its command.
    pub command: String,
    /// What is out of the ordinary.
    pub measure: Measure,
    /// The run's value (outliers only).
    pub value: Option<f64>,
    /// The history's median (outliers only).
    pub median: Option<f64>,
    /// The usual range, low end (outliers only; never below 0).
    pub usual_low: Option<f64>,
    /// The usual range, high end (outliers only).
    pub usual_high: Option<f64>,
    /// Distance from the median in spreads, signed (outliers only).
    pub spreads_out: Option<f64>,
    /// The template, for a new error template.
    pub template: Option<String>,
    /// Earlier runs it was compared with.
    pub history_runs: usize,
    /// One sentence saying all of the above.
    pub detail: String,
}

/// The anomalies among `runs` (one command's, in start order) that started
/// at or after `from_ms`.
pub fn detect(command: &str, runs: &[HistoryRun], from_ms: i64) -> Vec<Anomaly> {
    let mut found = Vec::new();
    let mut scratch = Vec::with_capacity(HISTORY_WINDOW);
    for measure in [Measure::Runtime, Measure::OutputBytes] {
        let values: Vec<f64> = runs
            .iter()
            .map(|r| match measure {
                Measure::Runtime => r.runtime,
                _ => r.output_bytes,
            })
            .collect();
        for (i, run) in runs.iter().enumerate() {
            if i < MIN_HISTORY || run.started_at_ms < from_ms {
                continue;
            }
            let history = &values[i.saturating_sub(HISTORY_WINDOW)..i];
            if let Some(anomaly) = outlier(command, run, measure, values[i], history, &mut scratch)
            {
                found.push(anomaly);
            }
        }
    }
    found.extend(new_templates(command, runs, from_ms));
    found
}

fn outlier(
    command: &str,
    run: &HistoryRun,
    measure: Measure,
    value: f64,
    history: &[f64],
    scratch: &mut Vec<f64>,
) -> Option<Anomaly> {
    let (median, mad) = median_mad_with(history, scratch)?;
    let spread = (mad * MAD_TO_SIGMA)
        .max(RELATIVE_SPREAD_FLOOR * median.abs())
        .max(measure.absolute_floor());
    let z = (value - median) / spread;
    if z.abs() <= OUTLIER_SPREADS {
        return None;
    }
    let low = (median - OUTLIER_SPREADS * spread).max(0.0);
    let high = median + OUTLIER_SPREADS * spread;
    let detail = format!(
        "{} {} is {:.1} spreads {} the median {} of the {} previous runs (usual {} to {})",
        measure.as_str(),
        measure.show(value),
        z.abs(),
        if z > 0.0 { "above" } else { "below" },
        measure.show(median),
        history.len(),
        measure.show(low),
        measure.show(high),
    );
    Some(Anomaly {
        execution_id: run.execution_id.clone(),
        started_at_ms: run.started_at_ms,
        command: command.to_string(),
        measure,
        value: Some(value),
        median: Some(median),
        usual_low: Some(low),
        usual_high: Some(high),
        spreads_out: Some(z),
        template: None,
        history_runs: history.len(),
        detail,
    })
}

/// The matched lines whose template no earlier run of the command had.
fn new_templates(command: &str, runs: &[HistoryRun], from_ms: i64) -> Vec<Anomaly> {
    let mut found = Vec::new();
    if runs.len() <= MIN_HISTORY || runs.iter().all(|r| r.match_lines.is_empty()) {
        return found;
    }
    let Ok(mut miner) = Miner::new(MinerConfig::default()) else {
        return found;
    };
    let mut seen = HashSet::new();
    for (i, run) in runs.iter().enumerate() {
        let judged = i >= MIN_HISTORY && run.started_at_ms >= from_ms;
        let mut new_in_run = HashSet::new();
        for line in &run.match_lines {
            let id = miner.add(line);
            if !judged {
                seen.insert(id);
            } else if !seen.contains(&id) && new_in_run.insert(id) {
                let template = miner
                    .template(id)
                    .map_or_else(|| line.clone(), |t| t.text());
                found.push(Anomaly {
                    execution_id: run.execution_id.clone(),
                    started_at_ms: run.started_at_ms,
                    command: command.to_string(),
                    measure: Measure::NewErrorTemplate,
                    value: None,
                    median: None,
                    usual_low: None,
                    usual_high: None,
                    spreads_out: None,
                    detail: format!(
                        "an error line of a shape none of the {i} earlier runs printed: {template}"
                    ),
                    template: Some(template),
                    history_runs: i,
                });
            }
        }
        seen.extend(new_in_run);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(i: i64, runtime: f64, bytes: f64, lines: &[&str]) -> HistoryRun {
        HistoryRun {
            execution_id: format!("run{i}"),
            started_at_ms: i,
            runtime,
            output_bytes: bytes,
            match_lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn a_slow_run_is_named_with_its_usual_range_and_distance() {
        let mut runs: Vec<_> = (0..8)
            .map(|i| run(i, 10.0 + (i % 3) as f64 * 0.2, 5000.0, &[]))
            .collect();
        runs.push(run(8, 60.0, 5000.0, &[]));
        let found = detect("make test", &runs, 0);
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(a.execution_id, "run8");
        assert_eq!(a.measure, Measure::Runtime);
        assert!(a.spreads_out.unwrap() > 10.0, "{a:?}");
        assert!(a.usual_high.unwrap() < 60.0 && a.usual_low.unwrap() < 10.0);
        assert!(a.detail.contains("above the median"), "{}", a.detail);
    }

    #[test]
    fn a_huge_earlier_run_does_not_hide_the_next_one_and_few_runs_judge_nothing() {
        // mean ± 2σ of this history would call nothing odd; median/MAD does.
        let mut runs: Vec<_> = (0..10).map(|i| run(i, 1.0, 100.0, &[])).collect();
        runs[3].runtime = 500.0;
        runs.push(run(10, 3.0, 100.0, &[]));
        let found = detect("t", &runs, 0);
        let ids: Vec<_> = found.iter().map(|a| a.execution_id.as_str()).collect();
        assert_eq!(ids, ["run10"], "{found:?}");
        assert!(detect("t", &runs[..5], 0).is_empty());
    }

    #[test]
    fn output_volume_jumps_and_new_error_templates_are_found() {
        let mut runs: Vec<_> = (0..6)
            .map(|i| {
                run(
                    i,
                    1.0,
                    1000.0,
                    &[&format!("error: test case_{i} failed after {i}ms")],
                )
            })
            .collect();
        runs.push(run(
            6,
            1.0,
            1000.0,
            &["error: test case_9 failed after 12ms"],
        ));
        runs.push(run(
            7,
            1.0,
            90_000.0,
            &["panic: index out of range [5] with length 3"],
        ));
        let found = detect("go test", &runs, 0);
        let kinds: Vec<_> = found
            .iter()
            .map(|a| (a.execution_id.as_str(), a.measure))
            .collect();
        assert!(kinds.contains(&("run7", Measure::OutputBytes)), "{kinds:?}");
        assert!(
            kinds.contains(&("run7", Measure::NewErrorTemplate)),
            "{kinds:?}"
        );
        assert!(!kinds.iter().any(|(id, _)| *id == "run6"), "{kinds:?}");
        // Only runs since `from_ms` are judged.
        assert!(detect("go test", &runs, 8).is_empty());
    }
}
