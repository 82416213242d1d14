//! Platt scaling: turns raw linear scores into calibrated probabilities.
//!
//! Owns fitting `p = σ(a·score + b)` on scores the model did not train on
//! (cross-fitted), with smartcore's `LogisticRegression` on the one-column
//! score matrix. Never sees features or labels of lines other than through
//! the scores it is given.

use serde::{Deserialize, Serialize};
use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};

use super::linear::sigmoid;

/// L2 penalty on the slope: keeps the fit finite when the scores separate
/// the classes perfectly (then the probabilities are merely very sure).
const PLATT_ALPHA: f64 = 1.0;

/// The calibration map `p = σ(slope·score + intercept)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Platt {
    pub slope: f64,
    pub intercept: f64,
}

impl Platt {
    /// The identity map: the raw score is taken as log-odds.
    pub const IDENTITY: Platt = Platt {
        slope: 1.0,
        intercept: 0.0,
    };

    /// The calibrated probability of a raw score, in `[0, 1]`.
    #[inline]
    pub fn probability(&self, score: f32) -> f32 {
        sigmoid(self.slope * f64::from(score) + self.intercept) as f32
    }

    /// Fits the map on `(score, label)` pairs. `None` when both classes are
    /// not present or smartcore fails (the caller keeps the identity).
    pub fn fit(scores: &[f32], labels: &[bool]) -> Option<Platt> {
        if !labels.iter().any(|&l| l) || labels.iter().all(|&l| l) {
            return None;
        }
        let x = DenseMatrix::new(
            scores.len(),
            1,
            scores.iter().map(|&s| f64::from(s)).collect(),
            true,
        )
        .ok()?;
        let y: Vec<u32> = labels.iter().map(|&l| u32::from(l)).collect();
        let params = LogisticRegressionParameters::default().with_alpha(PLATT_ALPHA);
        let lr = LogisticRegression::fit(&x, &y, params).ok()?;
        // Classes are sorted, so the fitted coefficient is for class 1.
        let slope = *lr.coefficients().get((0, 0));
        let intercept = *lr.intercept().get((0, 0));
        (slope.is_finite() && intercept.is_finite() && slope > 0.0)
            .then_some(Platt { slope, intercept })
    }
}
