//! The triage model: a logistic regression over the signals of
//! [`super::signals`], so a line's score is a probability in `[0, 1]`.
//!
//! Owns the weights, their file (JSON listing the signal names it was
//! trained on: a file for other signals is refused), the default model
//! embedded in the binary, and training from labelled lines. Must never
//! compute signals itself.

use serde::{Deserialize, Serialize};

use super::signals::{DIM, NAMES};

/// Version of the model file format.
pub const MODEL_VERSION: u32 = 1;

/// The default model, trained by `earlyexit-aggregator train-triage`
/// (see `aggregator/triage-data/README.md`).
const DEFAULT_MODEL: &str = include_str!("default_model.json");

/// Training passes of full-batch gradient descent.
const EPOCHS: usize = 3000;
/// Step size.
const LEARNING_RATE: f32 = 0.5;
/// L2 penalty on every weight but the bias: keeps weights of rare signals
/// small, so one training log cannot dominate.
const L2: f32 = 1e-3;

/// Why a model file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not JSON of the expected shape.
    #[error("the triage model is not valid JSON of the expected shape: {0}")]
    Parse(#[from] serde_json::Error),
    /// Another format version.
    #[error("the triage model has format version {found}, this build reads {MODEL_VERSION}: retrain it with `earlyexit-aggregator train-triage`")]
    Version {
        /// The version in the file.
        found: u32,
    },
    /// Trained on other signals.
    #[error("the triage model was trained on signals {found:?}, this build computes {expected:?}: retrain it with `earlyexit-aggregator train-triage`")]
    Signals {
        /// The names in the file.
        found: Vec<String>,
        /// The names this build computes.
        expected: Vec<String>,
    },
}

/// A trained triage model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriageModel {
    /// Format version ([`MODEL_VERSION`]).
    pub version: u32,
    /// The signal names, in order.
    pub signals: Vec<String>,
    /// One weight per signal.
    pub weights: Vec<f32>,
    /// What the model was trained on, in words.
    pub trained_on: String,
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

impl TriageModel {
    /// The model embedded in the binary.
    pub fn default_model() -> Self {
        Self::from_json(DEFAULT_MODEL).expect("the embedded triage model matches this build")
    }

    /// Parses and checks a model file's text.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let m: TriageModel = serde_json::from_str(text)?;
        if m.version != MODEL_VERSION {
            return Err(ModelError::Version { found: m.version });
        }
        if m.signals.len() != DIM
            || m.weights.len() != DIM
            || m.signals.iter().zip(NAMES).any(|(a, b)| a != b)
        {
            return Err(ModelError::Signals {
                found: m.signals,
                expected: NAMES.iter().map(|s| s.to_string()).collect(),
            });
        }
        Ok(m)
    }

    /// The model as pretty JSON (the committed file).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a model serialises")
    }

    /// The probability that a line with signals `v` explains the failure.
    pub fn score(&self, v: &[f32; DIM]) -> f32 {
        sigmoid(self.weights.iter().zip(v).map(|(w, x)| w * x).sum())
    }

    /// Trains on `rows` (signals, is an error line). Unweighted, so the
    /// probabilities are calibrated to the mix of lines trained on.
    pub fn train(rows: &[([f32; DIM], bool)], trained_on: String) -> Self {
        let mut w = [0f32; DIM];
        let n = rows.len().max(1) as f32;
        for _ in 0..EPOCHS {
            let mut g = [0f32; DIM];
            for (x, y) in rows {
                let p = sigmoid(w.iter().zip(x).map(|(w, x)| w * x).sum());
                let e = p - f32::from(u8::from(*y));
                for k in 0..DIM {
                    g[k] += e * x[k];
                }
            }
            for k in 0..DIM {
                let reg = if k == 0 { 0.0 } else { L2 * w[k] };
                w[k] -= LEARNING_RATE * (g[k] / n + reg);
            }
        }
        Self {
            version: MODEL_VERSION,
            signals: NAMES.iter().map(|s| s.to_string()).collect(),
            weights: w.to_vec(),
            trained_on,
        }
    }
}
