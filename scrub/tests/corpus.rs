//! The in-repository corpora (`scrub/corpus/*.jsonl`, made by
//! `scrub/corpus/generate.py`) scored through the library the way
//! `shared/data/secrets/score.py` scores the eval binary: a secret counts as
//! removed when it no longer occurs in the case's output; a negative counts
//! as a false positive when its text changed at all. A rule change that
//! loses recall or adds false positives on either split fails here.

use earlyexit_scrub::Scrubber;
use serde_json::Value;

struct Score {
    secrets: usize,
    removed: usize,
    negatives: usize,
    changed: usize,
}

fn score(file: &str) -> Score {
    let path = format!("{}/corpus/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("corpus file in the repository");
    let scrubber = Scrubber::default();
    let mut s = Score {
        secrets: 0,
        removed: 0,
        negatives: 0,
        changed: 0,
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("one JSON case per line");
        let input = case["text"].as_str().expect("text");
        let out = scrubber.scrub_text(input);
        let secrets = case["secrets"].as_array().expect("secrets");
        if secrets.is_empty() {
            s.negatives += 1;
            s.changed += usize::from(out != input);
        }
        for secret in secrets {
            s.secrets += 1;
            s.removed += usize::from(!out.contains(secret.as_str().expect("secret")));
        }
    }
    s
}

fn check(file: &str, min_recall: f64, max_fp: f64) {
    let s = score(file);
    let recall = s.removed as f64 / s.secrets as f64;
    let fp = s.changed as f64 / s.negatives as f64;
    assert!(
        recall >= min_recall && fp <= max_fp,
        "{file}: recall {recall:.4} (want >= {min_recall}), FP {fp:.4} (want <= {max_fp})"
    );
}

#[test]
fn tune_split_meets_the_targets() {
    check("tune.jsonl", 0.99, 0.02);
}

/// The holdout split is never tuned on; this asserts today's measured floor
/// (recall 0.937, FP 1.3 %), not the 0.99 target, so it catches regressions.
#[test]
fn holdout_split_does_not_regress() {
    check("holdout.jsonl", 0.935, 0.02);
}
