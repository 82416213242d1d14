//! The line-classifier model file.
//!
//! Owns the byte layout: 8 bytes of magic (`EELINECL`), the format version
//! as a little-endian `u32`, then a postcard body holding the feature-schema
//! stamp, the non-zero weights with their AdaGrad state, the calibration
//! and the training parameters. Reading checks, in order, the magic, the
//! format version, the body, and the schema stamp against this build's
//! features, and refuses anything else with a message saying what to do:
//! a model is never misread. Never decides what the weights mean.

use serde::{Deserialize, Serialize};

use super::calibrate::Platt;
use super::linear::SparseLogistic;
use super::{ClassifyError, LineClassifier, TrainParams};
use crate::features::SchemaStamp;

/// First bytes of every model file.
pub const MAGIC: &[u8; 8] = b"EELINECL";
/// Version of the byte layout after the magic.
pub const FORMAT_VERSION: u32 = 1;

/// What is serialised after the magic and the version.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Body {
    pub schema: SchemaStamp,
    /// `(index, weight, squared-gradient sum)` of every weight training touched.
    pub entries: Vec<(u32, f32, f32)>,
    pub bias: f32,
    pub bias_sq_grad: f32,
    pub platt: Platt,
    pub calibrated: bool,
    pub params: TrainParams,
    pub trained_lines: u64,
    pub trained_positives: u64,
}

pub(crate) fn encode(m: &LineClassifier) -> Vec<u8> {
    let lin = &m.linear;
    let entries = lin
        .sq_grad
        .iter()
        .enumerate()
        .filter(|(_, g)| **g > 0.0)
        .map(|(i, &g)| (i as u32, lin.weights[i], g))
        .collect();
    let body = Body {
        schema: m.schema.clone(),
        entries,
        bias: lin.bias,
        bias_sq_grad: lin.bias_sq_grad,
        platt: m.platt,
        calibrated: m.calibrated,
        params: m.params.clone(),
        trained_lines: m.trained_lines,
        trained_positives: m.trained_positives,
    };
    let mut out = Vec::with_capacity(64 + body.entries.len() * 12);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    postcard::to_extend(&body, out).expect("serialising to a Vec cannot fail")
}

/// Reads the file layout; `from` names the source in errors.
pub(crate) fn decode_body(bytes: &[u8], from: &str) -> Result<Body, ClassifyError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(ClassifyError::NotAModel { from: from.into() });
    }
    let rest = &bytes[MAGIC.len()..];
    let Some((version, body)) = rest.split_first_chunk::<4>() else {
        return Err(ClassifyError::Corrupt {
            from: from.into(),
            reason: "the file ends inside its header".into(),
        });
    };
    let found = u32::from_le_bytes(*version);
    if found != FORMAT_VERSION {
        return Err(ClassifyError::FormatVersion {
            from: from.into(),
            found,
            supported: FORMAT_VERSION,
        });
    }
    let (body, tail): (Body, _) =
        postcard::take_from_bytes(body).map_err(|e| ClassifyError::Corrupt {
            from: from.into(),
            reason: format!("the body does not decode ({e})"),
        })?;
    if !tail.is_empty() {
        return Err(ClassifyError::Corrupt {
            from: from.into(),
            reason: format!("{} unexpected bytes after the body", tail.len()),
        });
    }
    Ok(body)
}

/// Checks `body` against the schema this build computes and builds the model.
pub(crate) fn into_model(
    body: Body,
    expected: &SchemaStamp,
    from: &str,
) -> Result<LineClassifier, ClassifyError> {
    if body.schema != *expected {
        return Err(ClassifyError::SchemaMismatch {
            from: from.into(),
            model: body.schema,
            ours: expected.clone(),
        });
    }
    let corrupt = |reason: String| ClassifyError::Corrupt {
        from: from.into(),
        reason,
    };
    let dim = expected.dim as usize;
    let mut linear = SparseLogistic::new(dim);
    for &(i, w, g) in &body.entries {
        if i as usize >= dim {
            return Err(corrupt(format!(
                "weight index {i} is outside the {dim} features"
            )));
        }
        if !w.is_finite() || !g.is_finite() || g < 0.0 {
            return Err(corrupt(format!("weight {i} is not a finite number")));
        }
        linear.weights[i as usize] = w;
        linear.sq_grad[i as usize] = g;
    }
    let finite = body.bias.is_finite()
        && body.bias_sq_grad.is_finite()
        && body.platt.slope.is_finite()
        && body.platt.intercept.is_finite();
    if !finite {
        return Err(corrupt(
            "the bias or the calibration is not a finite number".into(),
        ));
    }
    linear.bias = body.bias;
    linear.bias_sq_grad = body.bias_sq_grad;
    Ok(LineClassifier {
        schema: body.schema,
        linear,
        platt: body.platt,
        calibrated: body.calibrated,
        params: body.params,
        trained_lines: body.trained_lines,
        trained_positives: body.trained_positives,
    })
}
