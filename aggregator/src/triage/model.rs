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

/// The default model, trained by `earlyexit-aggregator train-default`
/// (see `aggregator/triage-data/README.md`).
const DEFAULT_MODEL: &str = include_str!("default_model.json");

/// Newton (IRLS) iterations: the problem has a couple of dozen weights and
/// converges in a handful.
const NEWTON_STEPS: usize = 25;
/// L2 penalty on every weight but the bias, per training row: keeps weights
/// of rare signals small, so one training log cannot dominate.
const L2: f64 = 1e-4;

/// Why a model file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not JSON of the expected shape.
    #[error("the triage model is not valid JSON of the expected shape: {0}")]
    Parse(#[from] serde_json::Error),
    /// Another format version.
    #[error(
        "the triage model has format version {found}, this build reads {MODEL_VERSION}: retrain it with `earlyexit-aggregator train-default --data aggregator/triage-data`"
    )]
    Version {
        /// The version in the file.
        found: u32,
    },
    /// Trained on other signals.
    #[error(
        "the triage model was trained on signals {found:?}, this build computes {expected:?}: retrain it with `earlyexit-aggregator train-default --data aggregator/triage-data`"
    )]
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

    /// A model with every weight 0 (every score 0.5), for computing signals
    /// before any model exists.
    pub fn untrained() -> Self {
        Self {
            version: MODEL_VERSION,
            signals: NAMES.iter().map(|s| s.to_string()).collect(),
            weights: vec![0.0; DIM],
            trained_on: "nothing".into(),
        }
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

    /// Trains on `rows` (signals, is an error line) by Newton's method on
    /// the L2-penalised log loss. Unweighted, so the probabilities are
    /// calibrated to the mix of lines trained on.
    pub fn train(rows: &[([f32; DIM], bool)], trained_on: String) -> Self {
        // Identical rows (most noise lines) are folded into one with a
        // count: the same fit, far fewer rows per Newton step. A BTreeMap
        // keeps the summation order, so the model is the same every run.
        let mut folded: std::collections::BTreeMap<([u32; DIM], bool), f64> =
            std::collections::BTreeMap::new();
        for (x, y) in rows {
            *folded.entry((x.map(f32::to_bits), *y)).or_default() += 1.0;
        }
        let rows: Vec<([f32; DIM], bool, f64)> = folded
            .into_iter()
            .map(|((x, y), c)| (x.map(f32::from_bits), y, c))
            .collect();
        let mut w = [0f64; DIM];
        let n: f64 = rows.iter().map(|r| r.2).sum::<f64>().max(1.0);
        for _ in 0..NEWTON_STEPS {
            let mut g = [0f64; DIM];
            let mut h = [[0f64; DIM]; DIM];
            for (x, y, count) in &rows {
                let z: f64 = w.iter().zip(x).map(|(w, &x)| w * f64::from(x)).sum();
                let p = 1.0 / (1.0 + (-z).exp());
                let e = count * (p - f64::from(u8::from(*y)));
                let s = count * (p * (1.0 - p)).max(1e-9);
                for a in 0..DIM {
                    let xa = f64::from(x[a]);
                    if xa == 0.0 {
                        continue;
                    }
                    g[a] += e * xa;
                    for b in 0..DIM {
                        h[a][b] += s * xa * f64::from(x[b]);
                    }
                }
            }
            for a in 0..DIM {
                g[a] /= n;
                for v in &mut h[a] {
                    *v /= n;
                }
                let reg = if a == 0 { 1e-9 } else { L2 };
                g[a] += reg * w[a];
                h[a][a] += reg;
            }
            let step = solve(h, g);
            let mut moved = 0f64;
            for a in 0..DIM {
                w[a] -= step[a];
                moved = moved.max(step[a].abs());
            }
            if moved < 1e-7 {
                break;
            }
        }
        Self {
            version: MODEL_VERSION,
            signals: NAMES.iter().map(|s| s.to_string()).collect(),
            weights: w.iter().map(|&w| w as f32).collect(),
            trained_on,
        }
    }
}

/// Solves `h · x = g` by Gaussian elimination with partial pivoting (`h`
/// is positive definite: the L2 term is on its diagonal).
fn solve(mut h: [[f64; DIM]; DIM], mut g: [f64; DIM]) -> [f64; DIM] {
    for c in 0..DIM {
        let p = (c..DIM)
            .max_by(|&a, &b| h[a][c].abs().total_cmp(&h[b][c].abs()))
            .expect("non-empty range");
        h.swap(c, p);
        g.swap(c, p);
        let d = h[c][c];
        for r in c + 1..DIM {
            let f = h[r][c] / d;
            if f != 0.0 {
                let pivot = h[c];
                for (v, p) in h[r][c..].iter_mut().zip(&pivot[c..]) {
                    *v -= f * p;
                }
                g[r] -= f * g[c];
            }
        }
    }
    let mut x = [0f64; DIM];
    for c in (0..DIM).rev() {
        let s: f64 = (c + 1..DIM).map(|k| h[c][k] * x[k]).sum();
        x[c] = (g[c] - s) / h[c][c];
    }
    x
}
