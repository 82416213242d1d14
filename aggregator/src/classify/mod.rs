//! The error-vs-noise line classifier.
//!
//! Owns training a model from labelled lines ([`TrainingSet`] of
//! [`Features`]), scoring lines with calibrated probabilities in `[0, 1]`
//! (the triage thresholds them at 0.5), continuing training from a saved
//! model (warm start), and the model file (format version plus the feature
//! schema it expects: a model computed on other features is refused, never
//! misread). Never computes features itself: they always come from
//! [`crate::features`], for training and inference alike.
//!
//! The model is a sparse logistic regression over the hashed features,
//! trained by AdaGrad (`linear`: hand-written, because smartcore's
//! logistic regression needs a dense matrix, which at 2^18 columns does not
//! fit in memory, and cannot continue from earlier weights), followed by
//! Platt scaling fitted with smartcore's `LogisticRegression` on
//! cross-fitted scores (`calibrate`), so a probability of 0.9 means about
//! nine in ten such lines are errors.

mod calibrate;
pub mod embedded;
mod linear;
mod persist;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::features::{FeatureSchema, Features, LineContext, SchemaStamp, extract, extract_log};
use calibrate::Platt;
pub(crate) use linear::Rng;
use linear::SparseLogistic;

pub use embedded::{default_classifier, score_default};
pub use persist::{FORMAT_VERSION, MAGIC};

/// Default passes over the training lines: AdaGrad on sparse n-grams
/// settles within a few passes; ten keeps 100,000 lines well under the
/// 10 s training budget (set a priori, not tuned on BGL).
pub const DEFAULT_EPOCHS: u32 = 10;
/// Default AdaGrad step size.
pub const DEFAULT_LEARNING_RATE: f32 = 0.3;
/// Default L2 penalty per update: small, the hashed block is sparse.
pub const DEFAULT_L2: f32 = 1e-5;
/// Default weight of an error line relative to a noise line: 1, so the
/// probabilities stay calibrated to the real mix of lines.
pub const DEFAULT_POSITIVE_WEIGHT: f32 = 1.0;
/// Default folds of the cross-fitting that produces the scores the
/// calibration is fitted on.
pub const DEFAULT_CALIBRATION_FOLDS: u32 = 3;
/// Default shuffling seed: training is deterministic.
pub const DEFAULT_SEED: u64 = 0x5eed_11e5;

/// Training knobs. Every default is a named constant above.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainParams {
    /// Passes over the lines.
    pub epochs: u32,
    /// AdaGrad step size.
    pub learning_rate: f32,
    /// L2 penalty on the touched weights, per update.
    pub l2: f32,
    /// Weight of an error line's gradient (noise lines weigh 1).
    pub positive_weight: f32,
    /// Folds for cross-fitted calibration; below 2 turns calibration off
    /// (the raw logistic output is used).
    pub calibration_folds: u32,
    /// Seed of the shuffles.
    pub seed: u64,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            epochs: DEFAULT_EPOCHS,
            learning_rate: DEFAULT_LEARNING_RATE,
            l2: DEFAULT_L2,
            positive_weight: DEFAULT_POSITIVE_WEIGHT,
            calibration_folds: DEFAULT_CALIBRATION_FOLDS,
            seed: DEFAULT_SEED,
        }
    }
}

/// Why training, loading or saving failed.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// Training needs both kinds of line.
    #[error(
        "cannot train a line classifier on {lines} lines of which {errors} are error lines: both error and noise lines are needed"
    )]
    OneClass {
        /// Error lines in the set.
        errors: usize,
        /// All lines in the set.
        lines: usize,
    },
    /// A training parameter is out of range.
    #[error("invalid training parameter {name} = {value}: {expected}")]
    BadParam {
        /// The parameter.
        name: &'static str,
        /// Its value, as written.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// The model file could not be read or written.
    #[error("cannot {action} model file {}: {source}", path.display())]
    Io {
        /// "read" or "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not a model file at all.
    #[error(
        "{from} is not an earlyexit line-classifier model (it does not start with EELINECL): pass a file written by the classifier's save"
    )]
    NotAModel {
        /// The file or source.
        from: String,
    },
    /// A model file of another layout version.
    #[error(
        "{from} is line-classifier model format v{found}, this build reads v{supported}: retrain the model with this build, or use the earlyexit release that wrote it"
    )]
    FormatVersion {
        /// The file or source.
        from: String,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A model trained on other features.
    #[error(
        "{from} was trained on feature schema v{} ({}, {} features) but this build computes schema v{} ({}, {} features): its weights would be misread, so it is refused; retrain it on this build's features",
        model.version, model.fingerprint, model.dim, ours.version, ours.fingerprint, ours.dim
    )]
    SchemaMismatch {
        /// The file or source.
        from: String,
        /// The schema the model was trained on.
        model: SchemaStamp,
        /// The schema this build computes.
        ours: SchemaStamp,
    },
    /// The right header but a damaged body.
    #[error("{from} is a damaged line-classifier model ({reason}): retrain or restore it")]
    Corrupt {
        /// The file or source.
        from: String,
        /// What is wrong.
        reason: String,
    },
}

/// Labelled lines as feature rows (compressed sparse rows).
#[derive(Debug, Clone)]
pub struct TrainingSet {
    offsets: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
    labels: Vec<bool>,
}

impl TrainingSet {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            offsets: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
            labels: Vec::new(),
        }
    }

    /// Adds one line's features; `is_error` is its label.
    pub fn push(&mut self, features: &Features, is_error: bool) {
        self.indices.extend_from_slice(features.indices());
        self.values.extend_from_slice(features.values());
        self.offsets.push(self.indices.len());
        self.labels.push(is_error);
    }

    /// Extracts the features of `ctx` (with `scratch` as buffer) and adds them.
    pub fn push_line(&mut self, ctx: &LineContext<'_>, is_error: bool, scratch: &mut Features) {
        extract(ctx, scratch);
        self.push(scratch, is_error);
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of error lines.
    pub fn errors(&self) -> usize {
        self.labels.iter().filter(|&&l| l).count()
    }

    /// The labels, in order.
    pub fn labels(&self) -> &[bool] {
        &self.labels
    }

    /// The rows `rows` of this set, in that order, as a new set.
    pub fn select(&self, rows: &[usize]) -> TrainingSet {
        let mut out = TrainingSet::new();
        for &r in rows {
            let (i, v) = self.row(r);
            out.indices.extend_from_slice(i);
            out.values.extend_from_slice(v);
            out.offsets.push(out.indices.len());
            out.labels.push(self.labels[r]);
        }
        out
    }

    /// Indices and values of row `r`.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.offsets[r], self.offsets[r + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// Row `r` as a feature vector.
    pub fn features(&self, r: usize) -> Features {
        let (i, v) = self.row(r);
        Features::from_parts(i, v)
    }

    fn label(&self, r: usize) -> bool {
        self.labels[r]
    }
}

impl Default for TrainingSet {
    fn default() -> Self {
        Self::new()
    }
}

/// A trained error-vs-noise line classifier.
#[derive(Debug, Clone, PartialEq)]
pub struct LineClassifier {
    schema: SchemaStamp,
    linear: SparseLogistic,
    platt: Platt,
    calibrated: bool,
    params: TrainParams,
    trained_lines: u64,
    trained_positives: u64,
}

fn check_params(p: &TrainParams) -> Result<(), ClassifyError> {
    let bad = |name, value: String, expected| {
        Err(ClassifyError::BadParam {
            name,
            value,
            expected,
        })
    };
    if p.epochs == 0 {
        return bad("epochs", p.epochs.to_string(), "at least 1");
    }
    if !(p.learning_rate.is_finite() && p.learning_rate > 0.0) {
        return bad(
            "learning_rate",
            p.learning_rate.to_string(),
            "a number above 0",
        );
    }
    if !(p.l2.is_finite() && p.l2 >= 0.0) {
        return bad("l2", p.l2.to_string(), "a number, 0 or more");
    }
    if !(p.positive_weight.is_finite() && p.positive_weight > 0.0) {
        return bad(
            "positive_weight",
            p.positive_weight.to_string(),
            "a number above 0",
        );
    }
    Ok(())
}

impl LineClassifier {
    /// Trains a model on `set`: the linear model on every line, calibrated
    /// on scores cross-fitted over `params.calibration_folds` folds.
    pub fn train(set: &TrainingSet, params: &TrainParams) -> Result<Self, ClassifyError> {
        check_params(params)?;
        let errors = set.errors();
        if errors == 0 || errors == set.len() {
            return Err(ClassifyError::OneClass {
                errors,
                lines: set.len(),
            });
        }
        let schema = FeatureSchema::current().stamp();
        let dim = schema.dim as usize;
        let mut rng = Rng::new(params.seed);
        let k = params.calibration_folds as usize;
        let mut platt = None;
        if k >= 2 && errors >= k && set.len() - errors >= k {
            let mut order: Vec<usize> = (0..set.len()).collect();
            rng.shuffle(&mut order);
            let mut scores = vec![0.0f32; set.len()];
            for fold in 0..k {
                let train: Vec<usize> = order
                    .iter()
                    .enumerate()
                    .filter(|(p, _)| p % k != fold)
                    .map(|(_, &r)| r)
                    .collect();
                let mut m = SparseLogistic::new(dim);
                m.fit(set, &train, params, &mut rng);
                for (_, &r) in order.iter().enumerate().filter(|(p, _)| p % k == fold) {
                    let (i, v) = set.row(r);
                    scores[r] = m.margin(i, v);
                }
            }
            platt = Platt::fit(&scores, set.labels());
        }
        let mut linear = SparseLogistic::new(dim);
        let all: Vec<usize> = (0..set.len()).collect();
        linear.fit(set, &all, params, &mut rng);
        Ok(Self {
            schema,
            linear,
            platt: platt.unwrap_or(Platt::IDENTITY),
            calibrated: platt.is_some(),
            params: params.clone(),
            trained_lines: set.len() as u64,
            trained_positives: errors as u64,
        })
    }

    /// Warm start: `epochs` more passes of the linear model over `set`,
    /// from the current weights and AdaGrad state (new feedback, a
    /// federated round). The calibration is kept as it is; retrain with
    /// [`LineClassifier::train`] to refit it.
    pub fn continue_training(
        &mut self,
        set: &TrainingSet,
        epochs: u32,
    ) -> Result<(), ClassifyError> {
        let params = TrainParams {
            epochs,
            ..self.params.clone()
        };
        check_params(&params)?;
        let mut rng = Rng::new(self.params.seed ^ self.trained_lines);
        let all: Vec<usize> = (0..set.len()).collect();
        self.linear.fit(set, &all, &params, &mut rng);
        self.trained_lines += set.len() as u64;
        self.trained_positives += set.errors() as u64;
        Ok(())
    }

    /// Drops every weight of magnitude below `min_abs` (with its AdaGrad
    /// state, so the saved file no longer lists it): a smaller model that
    /// scores almost the same. Returns how many weights are left.
    pub fn prune(&mut self, min_abs: f32) -> usize {
        let lin = &mut self.linear;
        let mut kept = 0;
        for (w, g) in lin.weights.iter_mut().zip(lin.sq_grad.iter_mut()) {
            if w.abs() < min_abs {
                *w = 0.0;
                *g = 0.0;
            } else if *g > 0.0 {
                kept += 1;
            }
        }
        kept
    }

    /// The raw score (log-odds of the linear model, before calibration).
    pub fn raw_score(&self, features: &Features) -> f32 {
        self.linear.margin(features.indices(), features.values())
    }

    /// The calibrated probability, in `[0, 1]`, that the line is an error.
    #[inline]
    pub fn probability(&self, features: &Features) -> f32 {
        self.platt.probability(self.raw_score(features))
    }

    /// Extracts the features of `ctx` into `scratch` and scores them.
    pub fn score_line(&self, ctx: &LineContext<'_>, scratch: &mut Features) -> f32 {
        extract(ctx, scratch);
        self.probability(scratch)
    }

    /// The probability of every line of a log, each line tokenised once
    /// (see [`extract_log`]: `prepare(i, ctx)` may set the stream,
    /// template and pattern hits of line `i`).
    pub fn score_log<'a, S: AsRef<[u8]>>(
        &self,
        lines: &'a [S],
        prepare: impl FnMut(usize, &mut LineContext<'a>),
    ) -> Vec<f32> {
        let mut out = Vec::with_capacity(lines.len());
        extract_log(lines, prepare, |_, f| out.push(self.probability(f)));
        out
    }

    /// The schema the model was trained on.
    pub fn schema(&self) -> &SchemaStamp {
        &self.schema
    }

    /// Whether a calibration was fitted (false when the training set was
    /// too small for cross-fitting, or calibration was turned off).
    pub fn is_calibrated(&self) -> bool {
        self.calibrated
    }

    /// Lines (and error lines among them) the model has been trained on.
    pub fn trained_on(&self) -> (u64, u64) {
        (self.trained_lines, self.trained_positives)
    }

    /// The `n` weights of largest magnitude, with feature names
    /// (hashed buckets appear as `hashed[i]`).
    pub fn top_weights(&self, n: usize) -> Vec<(String, f32)> {
        let mut v: Vec<(usize, f32)> = self
            .linear
            .weights
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, w)| *w != 0.0)
            .collect();
        v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        let schema = FeatureSchema::current();
        v.into_iter()
            .take(n)
            .map(|(i, w)| (schema.name(i as u32), w))
            .collect()
    }

    /// The model as bytes (see the `persist` module for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        persist::encode(self)
    }

    /// Reads a model from bytes; refuses another format or feature schema.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClassifyError> {
        Self::decode(bytes, "the model bytes")
    }

    fn decode(bytes: &[u8], from: &str) -> Result<Self, ClassifyError> {
        let body = persist::decode_body(bytes, from)?;
        persist::into_model(body, &FeatureSchema::current().stamp(), from)
    }

    /// Writes the model to `path` (through a temporary file in the same
    /// folder and a rename, so a crash never leaves half a model).
    pub fn save(&self, path: &Path) -> Result<(), ClassifyError> {
        let io = |source| ClassifyError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let written = std::fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(&self.to_bytes())?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
            // Best effort: the temporary file is ours and half written.
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        Ok(())
    }

    /// Reads a model from `path`; refuses another format or feature schema.
    pub fn load(path: &Path) -> Result<Self, ClassifyError> {
        let bytes = std::fs::read(path).map_err(|source| ClassifyError::Io {
            action: "read",
            path: path.to_owned(),
            source,
        })?;
        Self::decode(&bytes, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests;
