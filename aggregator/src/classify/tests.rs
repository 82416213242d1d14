//! Tests of the line classifier: learning, calibration, warm start, the
//! model file and its refusals. All data is written here.

use super::persist::{Body, FORMAT_VERSION, MAGIC, decode_body};
use super::*;

fn line_set(lines: &[(String, bool)]) -> TrainingSet {
    let mut set = TrainingSet::new();
    let mut f = Features::new();
    for (l, y) in lines {
        set.push_line(&LineContext::new(l.as_bytes()), *y, &mut f);
    }
    set
}

fn p(m: &LineClassifier, line: &str) -> f32 {
    m.score_line(&LineContext::new(line.as_bytes()), &mut Features::new())
}

/// Error and noise lines told apart by words that are no severity words,
/// so only the hashed n-grams can learn them.
fn separable(n: usize) -> Vec<(String, bool)> {
    (0..n)
        .map(|i| {
            if i % 4 == 0 {
                (
                    format!("job {i} ended in state quarantined on host h{i}"),
                    true,
                )
            } else {
                (
                    format!("job {i} ended in state archived on host h{i}"),
                    false,
                )
            }
        })
        .collect()
}

#[test]
fn a_tiny_separable_set_is_learned() {
    let m = LineClassifier::train(&line_set(&separable(80)), &TrainParams::default()).unwrap();
    assert!(m.is_calibrated());
    // New numbers, same shapes: the masking generalises them.
    let bad = p(&m, "job 9123 ended in state quarantined on host h77");
    let good = p(&m, "job 9124 ended in state archived on host h78");
    assert!(bad > 0.8, "{bad}");
    assert!(good < 0.2, "{good}");
    assert_eq!(m.trained_on(), (80, 20));
}

#[test]
fn probabilities_are_calibrated_on_noisy_labels() {
    // "alpha" lines are errors 7 times in 10, "beta" lines 2 in 10.
    let lines: Vec<(String, bool)> = (0..2000)
        .map(|i| {
            if i % 2 == 0 {
                (format!("alpha step {i}"), (i / 2) % 10 < 7)
            } else {
                (format!("beta step {i}"), (i / 2) % 10 < 2)
            }
        })
        .collect();
    let m = LineClassifier::train(&line_set(&lines), &TrainParams::default()).unwrap();
    let a = p(&m, "alpha step 5");
    let b = p(&m, "beta step 5");
    assert!((a - 0.7).abs() < 0.1, "alpha {a}");
    assert!((b - 0.2).abs() < 0.1, "beta {b}");
}

#[test]
fn training_is_deterministic() {
    let set = line_set(&separable(60));
    let a = LineClassifier::train(&set, &TrainParams::default()).unwrap();
    let b = LineClassifier::train(&set, &TrainParams::default()).unwrap();
    assert_eq!(a.to_bytes(), b.to_bytes());
}

#[test]
fn one_class_and_bad_parameters_are_refused() {
    let only_noise: Vec<_> = separable(40).into_iter().filter(|(_, y)| !y).collect();
    let e = LineClassifier::train(&line_set(&only_noise), &TrainParams::default()).unwrap_err();
    assert!(
        matches!(
            e,
            ClassifyError::OneClass {
                errors: 0,
                lines: 30
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("both error and noise lines"));
    let params = TrainParams {
        learning_rate: -1.0,
        ..TrainParams::default()
    };
    let e = LineClassifier::train(&line_set(&separable(40)), &params).unwrap_err();
    assert!(e.to_string().contains("learning_rate"), "{e}");
}

#[test]
fn warm_start_learns_new_feedback_and_keeps_the_old() {
    let mut m = LineClassifier::train(&line_set(&separable(80)), &TrainParams::default()).unwrap();
    let new_kind = "cache shard 12 rebuilt from scratch";
    let before = p(&m, new_kind);
    let feedback: Vec<(String, bool)> = (0..50)
        .map(|i| (format!("cache shard {i} rebuilt from scratch"), true))
        .chain((0..50).map(|i| (format!("cache shard {i} rebuilt from snapshot"), false)))
        .collect();
    m.continue_training(&line_set(&feedback), 5).unwrap();
    let after = p(&m, new_kind);
    assert!(
        after > 0.8 && after > before,
        "before {before}, after {after}"
    );
    assert!(p(&m, "cache shard 12 rebuilt from snapshot") < 0.3);
    assert!(p(&m, "job 5 ended in state quarantined on host h1") > 0.5);
    assert_eq!(m.trained_on(), (180, 70));
}

#[test]
fn save_and_load_give_identical_predictions() {
    let m = LineClassifier::train(&line_set(&separable(80)), &TrainParams::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.model");
    m.save(&path).unwrap();
    let back = LineClassifier::load(&path).unwrap();
    assert_eq!(back, m);
    for l in [
        "job 1 ended in state quarantined on host h2",
        "job 1 ended in state archived on host h2",
        "something never seen",
        "",
    ] {
        assert_eq!(p(&back, l).to_bits(), p(&m, l).to_bits(), "{l}");
    }
    assert!(!dir.path().join("lines.model.tmp").exists());
}

fn with_body(m: &LineClassifier, edit: impl FnOnce(&mut Body)) -> Vec<u8> {
    let mut body = decode_body(&m.to_bytes(), "test").unwrap();
    edit(&mut body);
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    postcard::to_extend(&body, out).unwrap()
}

#[test]
fn a_model_with_another_feature_schema_is_refused() {
    let m = LineClassifier::train(&line_set(&separable(40)), &TrainParams::default()).unwrap();
    let other = with_body(&m, |b| {
        b.schema.fingerprint = "0123456789abcdef0123456789abcdef".into();
        b.schema.version += 1;
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.model");
    std::fs::write(&path, &other).unwrap();
    let e = LineClassifier::load(&path).unwrap_err();
    assert!(matches!(e, ClassifyError::SchemaMismatch { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("old.model"), "{msg}");
    assert!(msg.contains("0123456789abcdef"), "{msg}");
    assert!(
        msg.contains(FeatureSchema::current().fingerprint()),
        "{msg}"
    );
    assert!(msg.contains("retrain"), "{msg}");
    // Same fingerprint, another dimension: refused too.
    let wider = with_body(&m, |b| b.schema.dim += 1);
    assert!(matches!(
        LineClassifier::from_bytes(&wider),
        Err(ClassifyError::SchemaMismatch { .. })
    ));
}

#[test]
fn foreign_damaged_and_future_files_are_refused() {
    let m = LineClassifier::train(&line_set(&separable(40)), &TrainParams::default()).unwrap();
    let bytes = m.to_bytes();
    let e = LineClassifier::from_bytes(b"{\"weights\": []}").unwrap_err();
    assert!(matches!(e, ClassifyError::NotAModel { .. }), "{e}");
    let mut future = bytes.clone();
    future[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = LineClassifier::from_bytes(&future).unwrap_err();
    assert!(
        matches!(e, ClassifyError::FormatVersion { found, .. } if found == FORMAT_VERSION + 1),
        "{e}"
    );
    let e = LineClassifier::from_bytes(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(matches!(e, ClassifyError::Corrupt { .. }), "{e}");
    let mut longer = bytes.clone();
    longer.push(0);
    let e = LineClassifier::from_bytes(&longer).unwrap_err();
    assert!(e.to_string().contains("unexpected bytes"), "{e}");
    let out_of_range = with_body(&m, |b| b.entries.push((u32::MAX, 1.0, 1.0)));
    let e = LineClassifier::from_bytes(&out_of_range).unwrap_err();
    assert!(e.to_string().contains("outside"), "{e}");
    let e = LineClassifier::load(Path::new("/nonexistent/dir/x.model")).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/dir/x.model"), "{e}");
}

#[test]
fn probabilities_stay_in_the_unit_interval() {
    let params = TrainParams {
        learning_rate: 5.0,
        ..TrainParams::default()
    };
    let m = LineClassifier::train(&line_set(&separable(200)), &params).unwrap();
    let long = "quarantined ".repeat(10_000);
    for l in [
        long.as_str(),
        "",
        "quarantined",
        "archived archived archived",
    ] {
        let x = p(&m, l);
        assert!((0.0..=1.0).contains(&x), "{x}");
    }
}

#[test]
fn scoring_a_log_equals_scoring_its_lines_one_by_one() {
    let m = LineClassifier::train(&line_set(&separable(80)), &TrainParams::default()).unwrap();
    let log = [
        "job 1 ended in state quarantined on host h2",
        "    detail line",
        "job 2 ended in state archived on host h3",
    ];
    let batch = m.score_log(&log, |_, c| c.stream = crate::features::Stream::Stderr);
    assert_eq!(batch.len(), 3);
    for (i, p) in batch.iter().enumerate() {
        let mut c = LineContext::in_log(&log, i);
        c.stream = crate::features::Stream::Stderr;
        assert_eq!(
            p.to_bits(),
            m.score_line(&c, &mut Features::new()).to_bits()
        );
    }
    assert!(batch[0] > 0.5 && batch[2] < 0.5, "{batch:?}");
}
