//! The false-positive filter: the line classifier's verdict on a matched
//! line, and whether `fp_filter: enforce` lets that verdict overrule the
//! pattern.
//!
//! Owns the scoring of ONE matched line (the line and the one before it,
//! with the engine's default classifier, see
//! `earlyexit_aggregator::classify::embedded`) and the rule that suppresses
//! a match. It must never be called for a line that matched nothing: the
//! stream's hot path stays a block search, and only a line holding a hit
//! is scored (in `enforce` mode on the stream's thread as the hit arrives,
//! in `annotate` mode after the run, off the run's path).

use std::cell::RefCell;

use earlyexit_aggregator::classify::{default_classifier, score_default};
use earlyexit_aggregator::features::Features;

use crate::config::FpFilterMode;
use crate::record::Verdict;

/// In `annotate` mode, at most this many error matches of a run are scored
/// (after the run); later ones are recorded unscored. Bounds the work at
/// exit of a `-m 0` run that matched thousands of lines.
pub const MAX_ANNOTATED_MATCHES: usize = 100;

/// What the filter does with a run's matches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FpFilter {
    /// `fp_filter`.
    pub mode: FpFilterMode,
    /// `fp_threshold`: the noise confidence from which `enforce` ignores a match.
    pub threshold: f64,
}

impl FpFilter {
    /// The filter in `mode` with `threshold`.
    pub fn new(mode: FpFilterMode, threshold: f64) -> FpFilter {
        FpFilter { mode, threshold }
    }

    /// Whether matches are scored at all.
    pub fn scores(&self) -> bool {
        self.mode != FpFilterMode::Off
    }

    /// Whether matches are scored as they arrive and may be ignored.
    pub fn enforces(&self) -> bool {
        self.mode == FpFilterMode::Enforce
    }

    /// True when `enforce` ignores a match with this verdict: the model
    /// calls it noise with confidence at least the threshold.
    pub fn suppresses(&self, verdict: Verdict) -> bool {
        self.enforces() && !verdict.is_error && verdict.confidence >= self.threshold
    }
}

/// The default classifier's verdict on `line`, the line before it being
/// `prev`. Decodes the embedded model on the first call of the process.
pub fn score_line(line: &str, prev: Option<&str>) -> Verdict {
    thread_local! {
        static SCRATCH: RefCell<Features> = RefCell::new(Features::new());
    }
    let p = SCRATCH
        .with(|scratch| score_default(default_classifier(), line, prev, &mut scratch.borrow_mut()));
    Verdict::from_probability(f64::from(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforce_ignores_only_confident_noise() {
        let enforce = FpFilter::new(FpFilterMode::Enforce, 0.9);
        let noise = |confidence| Verdict {
            is_error: false,
            confidence,
        };
        assert!(enforce.suppresses(noise(0.95)));
        assert!(enforce.suppresses(noise(0.9)));
        assert!(!enforce.suppresses(noise(0.89)));
        assert!(!enforce.suppresses(Verdict {
            is_error: true,
            confidence: 0.99
        }));
        let annotate = FpFilter::new(FpFilterMode::Annotate, 0.9);
        assert!(!annotate.suppresses(noise(0.99)));
        assert!(annotate.scores() && !annotate.enforces());
        assert!(!FpFilter::new(FpFilterMode::Off, 0.9).scores());
    }

    #[test]
    fn the_default_model_tells_a_compiler_error_from_benign_error_words() {
        let error = score_line(
            "error[E0308]: mismatched types",
            Some("   Compiling demo v0.1.0"),
        );
        assert!(error.is_error, "{error:?}");
        for benign in [
            "   Compiling error-chain v0.12.4",
            "test tests::handles_error ... ok",
            "Build finished: 0 errors, 0 warnings",
        ] {
            let v = score_line(benign, Some("running 12 tests"));
            assert!(!v.is_error, "{benign}: {v:?}");
        }
    }

    #[test]
    fn a_verdict_reads_as_its_confidence_in_itself() {
        let v = Verdict::from_probability(0.07);
        assert!(!v.is_error);
        assert!((v.confidence - 0.93).abs() < 1e-9);
        assert_eq!(v.describe(), "likely noise, 0.93");
        assert_eq!(
            Verdict::from_probability(0.97).describe(),
            "likely error, 0.97"
        );
    }
}
