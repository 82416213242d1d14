//! A sparse logistic regression over the hashed feature vector, trained by
//! AdaGrad stochastic gradient descent.
//!
//! Owns the weights and the per-weight squared-gradient sums, which are
//! kept so training can continue later from where it stopped (warm start:
//! new feedback, a federated round). Hand-written because smartcore's
//! `LogisticRegression` takes a dense `n × d` matrix (at d = 2^18 + 34,
//! 100,000 lines would be 210 GB of `f64`), has no sample weights and always
//! fits from scratch. Never touches features beyond reading them, and never
//! calibrates (see `calibrate`).

use serde::{Deserialize, Serialize};

use super::{TrainParams, TrainingSet};
use crate::features::mix;

/// Added under the square root of AdaGrad's denominator.
const ADAGRAD_EPS: f32 = 1e-6;

/// The numerically safe logistic function.
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Weights, bias and AdaGrad state of the linear model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SparseLogistic {
    pub weights: Vec<f32>,
    pub sq_grad: Vec<f32>,
    pub bias: f32,
    pub bias_sq_grad: f32,
}

impl SparseLogistic {
    /// A model of `dim` zero weights.
    pub fn new(dim: usize) -> Self {
        Self {
            weights: vec![0.0; dim],
            sq_grad: vec![0.0; dim],
            bias: 0.0,
            bias_sq_grad: 0.0,
        }
    }

    /// The raw score (log-odds before calibration) of one row.
    #[inline]
    pub fn margin(&self, indices: &[u32], values: &[f32]) -> f32 {
        let mut m = self.bias;
        for (&i, &v) in indices.iter().zip(values) {
            m += self.weights[i as usize] * v;
        }
        m
    }

    /// Runs `params.epochs` passes of AdaGrad over `rows` of `set`, each in
    /// a fresh order drawn from `rng`.
    pub fn fit(&mut self, set: &TrainingSet, rows: &[usize], params: &TrainParams, rng: &mut Rng) {
        let mut order = rows.to_vec();
        let lr = params.learning_rate;
        for _ in 0..params.epochs {
            rng.shuffle(&mut order);
            for &r in &order {
                let (indices, values) = set.row(r);
                let y = set.label(r);
                let p = sigmoid(f64::from(self.margin(indices, values))) as f32;
                let w = if y { params.positive_weight } else { 1.0 };
                let g = (p - f32::from(u8::from(y))) * w;
                for (&i, &v) in indices.iter().zip(values) {
                    let i = i as usize;
                    let gi = g * v + params.l2 * self.weights[i];
                    self.sq_grad[i] += gi * gi;
                    self.weights[i] -= lr * gi / (self.sq_grad[i].sqrt() + ADAGRAD_EPS);
                }
                self.bias_sq_grad += g * g;
                self.bias -= lr * g / (self.bias_sq_grad.sqrt() + ADAGRAD_EPS);
            }
        }
    }
}

/// A small deterministic generator (splitmix64) for shuffling: training
/// with the same seed gives the same model on every machine.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.0)
    }

    /// A uniform number below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}
