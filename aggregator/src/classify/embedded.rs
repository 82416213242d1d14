//! The default line classifier: the model embedded in every binary, for
//! agents that have not trained one of their own.
//!
//! Owns how the default is trained (from the case pairs in
//! `aggregator/triage-data/train`: the `E` lines of a failing log are
//! errors, every other line of it and every line of its passing log is
//! noise; of the noise, only the lines a naive error pattern would match
//! ([`CANDIDATE`]), because the agent asks the model only about lines that
//! matched a pattern, so its probabilities must be calibrated on such
//! lines, not on all output), how a line is presented to it ([`default_context`]: the line and
//! the one before it, cleaned by [`clean_line`], no stream, position,
//! template or pattern hits, because a streaming agent does not know them
//! when a line arrives), and loading the embedded bytes once, on first use.
//! Must never read files at inference time.
//!
//! Regenerate the embedded file with
//! `earlyexit-aggregator train-classifier --data aggregator/triage-data --out aggregator/src/classify/default_model.bin`;
//! training is deterministic, so the same data and build give the same bytes.

use std::sync::OnceLock;

use super::{ClassifyError, LineClassifier, TrainParams, TrainingSet};
use crate::eval::patterns::cidiff::Case;
use crate::features::{Features, LineContext};
use crate::patterns::clean_line;

/// The embedded default model (see the module docs for how it is made).
const DEFAULT_MODEL: &[u8] = include_bytes!("default_model.bin");

/// The naive error pattern that picks the noise lines the default is
/// trained on: what users put in a first `earlyexit` pattern.
pub const CANDIDATE: &str = r"(?i)error|fail|fatal|panic|exception|traceback|abort|denied|not found|cannot|undefined|\*\*\*";

/// Weights smaller than this are dropped from the embedded default, so the
/// file holds the few thousand weights that matter instead of every token
/// the training logs contained.
pub const DEFAULT_PRUNE_BELOW: f32 = 0.05;

/// The embedded default classifier, decoded on first use (never on a
/// path that scores no line).
pub fn default_classifier() -> &'static LineClassifier {
    static MODEL: OnceLock<LineClassifier> = OnceLock::new();
    MODEL.get_or_init(|| {
        LineClassifier::from_bytes(DEFAULT_MODEL)
            .expect("the embedded default line classifier matches this build's features")
    })
}

/// The context the default classifier sees for `line` (after `prev`): both
/// cleaned with [`clean_line`]; the caller keeps the cleaned text alive.
pub fn default_context<'a>(line: &'a str, prev: Option<&'a str>) -> LineContext<'a> {
    let mut ctx = LineContext::new(line.as_bytes());
    ctx.prev = prev.map(str::as_bytes);
    ctx
}

/// Probability, in `[0, 1]`, that `line` (after `prev`) reports an error,
/// by `model` with the default presentation.
pub fn score_default(
    model: &LineClassifier,
    line: &str,
    prev: Option<&str>,
    scratch: &mut Features,
) -> f32 {
    let line = clean_line(line);
    let prev = prev.map(clean_line);
    model.score_line(&default_context(&line, prev.as_deref()), scratch)
}

/// The labelled lines of `cases`, presented as [`default_context`] does:
/// every error line, and the noise lines that match [`CANDIDATE`].
pub fn default_training_set(cases: &[Case]) -> TrainingSet {
    let candidate = regex::Regex::new(CANDIDATE).expect("CANDIDATE is a valid regex");
    let mut set = TrainingSet::new();
    let mut scratch = Features::new();
    for case in cases {
        for (lines, errors) in [(&case.fail, &case.error_lines[..]), (&case.pass, &[][..])] {
            let cleaned: Vec<String> = lines.iter().map(|l| clean_line(l).into_owned()).collect();
            for (i, line) in cleaned.iter().enumerate() {
                let is_error = errors.contains(&(i + 1));
                if !is_error && !candidate.is_match(line) {
                    continue;
                }
                let prev = i.checked_sub(1).map(|p| cleaned[p].as_str());
                let ctx = default_context(line, prev);
                set.push_line(&ctx, is_error, &mut scratch);
            }
        }
    }
    set
}

/// Trains the default classifier on `cases` with the default parameters
/// and prunes weights below [`DEFAULT_PRUNE_BELOW`].
pub fn train_default(cases: &[Case]) -> Result<LineClassifier, ClassifyError> {
    let mut model = LineClassifier::train(&default_training_set(cases), &TrainParams::default())?;
    model.prune(DEFAULT_PRUNE_BELOW);
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::patterns::cidiff::read_cases;

    #[test]
    fn the_embedded_default_is_what_train_default_makes_from_the_repository_data() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("triage-data/train");
        let model = train_default(&read_cases(&dir).unwrap()).unwrap();
        assert!(
            model.to_bytes() == DEFAULT_MODEL,
            "retrain: earlyexit-aggregator train-classifier --data aggregator/triage-data --out aggregator/src/classify/default_model.bin"
        );
        assert_eq!(default_classifier(), &model);
    }

    #[test]
    fn the_default_scores_only_what_it_is_shown() {
        let mut scratch = Features::new();
        let m = default_classifier();
        let error = score_default(m, "error[E0308]: mismatched types", None, &mut scratch);
        let noise = score_default(m, "   Compiling error-chain v0.12.4", None, &mut scratch);
        assert!(error > 0.5 && noise < 0.5, "{error} {noise}");
        // A CI timestamp in front changes nothing: lines are cleaned first.
        let stamped = score_default(
            m,
            "2024-05-01T12:00:00.1234567Z error[E0308]: mismatched types",
            None,
            &mut scratch,
        );
        assert_eq!(stamped, error);
    }
}
