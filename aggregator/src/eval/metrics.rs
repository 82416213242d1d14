//! Binary classification counts and the scores computed from them.
//!
//! Owns the definitions of precision, recall and F1 used by every
//! evaluation (an empty denominator scores 0, never NaN). Never reads data.

use serde::Serialize;

/// Counts of a binary decision against the truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Flagged and truly positive.
    pub tp: u64,
    /// Flagged but negative.
    pub fp: u64,
    /// Positive but not flagged.
    pub fn_: u64,
    /// Negative and not flagged.
    pub tn: u64,
}

impl Confusion {
    /// Counts one decision.
    pub fn add(&mut self, flagged: bool, positive: bool) {
        match (flagged, positive) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    /// tp / (tp + fp); 0 when nothing was flagged.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// tp / (tp + fn); 0 when there is nothing to find.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// Harmonic mean of precision and recall; 0 when both are 0.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_definitions() {
        let mut c = Confusion::default();
        for (f, p) in [
            (true, true),
            (true, true),
            (true, false),
            (false, true),
            (false, false),
        ] {
            c.add(f, p);
        }
        assert_eq!((c.tp, c.fp, c.fn_, c.tn), (2, 1, 1, 1));
        assert!((c.precision() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.recall() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.f1() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(Confusion::default().f1(), 0.0);
    }
}
