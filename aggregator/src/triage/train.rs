//! Training the triage model from labelled log pairs (the layout of
//! [`crate::eval::patterns::cidiff`]: `<case>/fail.log`, `pass.log`,
//! `groundtruth`), as `earlyexit-aggregator train-triage --data DIR` does
//! on `DIR/train`, reporting on the held-out `DIR/test`.
//!
//! Owns turning cases into labelled signal rows: each failing log once with
//! its passing log as history (warm) and once without (cold), and each
//! passing log without history (every line a negative). Must never read
//! the evaluation data sets: it is given its cases.

use crate::eval::patterns::cidiff::Case;

use super::{Triage, TriageModel, signals::DIM};

/// The labelled rows of `cases`.
pub fn rows(cases: &[Case]) -> Vec<([f32; DIM], bool)> {
    rows_with_progress(cases, &mut |_| {})
}

/// [`rows`], calling `done(n)` after the n-th case (for a progress bar).
pub fn rows_with_progress(cases: &[Case], done: &mut dyn FnMut(usize)) -> Vec<([f32; DIM], bool)> {
    let mut out = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let truth: std::collections::HashSet<usize> = case.error_lines.iter().copied().collect();
        let cold = Triage::new().expect("built-in library compiles");
        let mut warm = Triage::new().expect("built-in library compiles");
        warm.add_history_lines(&case.pass);
        for t in [&warm, &cold] {
            for (i, v) in t.signals(&case.fail).into_iter().enumerate() {
                out.push((v, truth.contains(&(i + 1))));
            }
        }
        for v in cold.signals(&case.pass) {
            out.push((v, false));
        }
        done(n + 1);
    }
    out
}

/// Trains a model on `cases`.
pub fn train(cases: &[Case], trained_on: String) -> TriageModel {
    train_with_progress(cases, trained_on, &mut |_| {})
}

/// [`train`], calling `done(n)` after the n-th case is turned into rows
/// (the part that grows with the input; fitting the weights after it is short).
pub fn train_with_progress(
    cases: &[Case],
    trained_on: String,
    done: &mut dyn FnMut(usize),
) -> TriageModel {
    TriageModel::train(&rows_with_progress(cases, done), trained_on)
}
