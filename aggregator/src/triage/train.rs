//! Training the triage model from labelled log pairs (the layout of
//! [`crate::eval::patterns::cidiff`]: `<case>/fail.log`, `pass.log`,
//! `groundtruth`), as `earlyexit-aggregator train-default --data DIR` does
//! on `DIR/train`, reporting on `DIR/tune` (and `DIR/holdout` on request).
//!
//! Owns turning cases into labelled rows, one per block (a finding): each
//! failing log once with its passing log as history (warm) and once
//! without (cold), and each passing log without history (every block a
//! negative). A block is positive when any of its lines is labelled. Must
//! never read the evaluation data sets: it is given its cases.

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
        let make = || {
            Triage::with_builtin_library(TriageModel::untrained())
                .expect("built-in library compiles")
        };
        let (cold, mut warm) = (make(), make());
        warm.add_history_lines(&case.pass);
        for t in [&warm, &cold] {
            for (head, end, v) in t.block_rows(&case.fail) {
                out.push((v, (head + 1..=end + 1).any(|n| truth.contains(&n))));
            }
        }
        for (_, _, v) in cold.block_rows(&case.pass) {
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
