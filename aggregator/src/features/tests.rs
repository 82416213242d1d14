//! Tests of the feature extractor: determinism, schema stability, and that
//! each input reaches the features it should.

use super::*;

fn feats(c: &LineContext<'_>) -> Features {
    let mut f = Features::new();
    extract(c, &mut f);
    f
}

fn value(f: &Features, name: &str) -> f32 {
    let i = DENSE_NAMES.iter().position(|n| *n == name).unwrap() as u32;
    f.indices()
        .iter()
        .zip(f.values())
        .filter(|(j, _)| **j == i)
        .map(|(_, v)| *v)
        .sum()
}

#[test]
fn dense_index_constants_follow_the_name_list() {
    let pairs = [
        (idx::SEV_FATAL, "sev_fatal"),
        (idx::SEV_NEGATED, "sev_negated"),
        (idx::LEN_LOG, "len_log"),
        (idx::STARTS_WITH_BRACKET, "starts_with_bracket"),
        (idx::POS_KNOWN, "pos_known"),
        (idx::STREAM_STDERR, "stream_stderr"),
        (idx::SAME_FIRST_WORD_AS_PREV, "same_first_word_as_prev"),
        (idx::PATTERN_WARNING, "pattern_warning"),
    ];
    for (i, n) in pairs {
        assert_eq!(DENSE_NAMES[i as usize], n);
    }
    assert_eq!(idx::PATTERN_WARNING as usize, DENSE_NAMES.len() - 1);
}

#[test]
fn extraction_is_deterministic_and_reuses_the_buffer() {
    let lines = ["a", "ERROR: disk /dev/sda1 full (code 28)", "b"];
    let c = LineContext::in_log(&lines, 1);
    let a = feats(&c);
    let mut b = Features::new();
    extract(&LineContext::new(b"something else entirely"), &mut b);
    extract(&c, &mut b);
    assert_eq!(a, b);
    assert!(!a.is_empty());
}

#[test]
fn every_index_is_inside_the_schema() {
    let schema = FeatureSchema::current();
    for line in schema::PROBE {
        let f = feats(&LineContext::new(line.as_bytes()));
        assert!(f.indices().iter().all(|&i| (i as usize) < schema.dim()));
        assert!(
            f.values()
                .iter()
                .all(|v| v.is_finite() && *v > 0.0 && *v <= 1.0)
        );
    }
}

/// Pins the schema. If this fails, `extract` or the names changed: bump
/// `SCHEMA_VERSION` and update the constant, so models trained on the old
/// features are refused rather than misread.
#[test]
fn the_schema_fingerprint_is_pinned() {
    let s = FeatureSchema::current();
    assert_eq!(s.version, 1);
    assert_eq!(s.dim(), DENSE_NAMES.len() + (1 << 18));
    assert_eq!(
        s.fingerprint(),
        PINNED_FINGERPRINT,
        "features changed: bump SCHEMA_VERSION"
    );
    assert_eq!(s.stamp().fingerprint, s.fingerprint());
}

const PINNED_FINGERPRINT: &str = "83f0036b400bc46027cea21d5cc3539b";

#[test]
fn variables_do_not_change_the_features() {
    let a = feats(&LineContext::new(
        b"worker 17 failed after 2.5s reading /tmp/a/b.txt",
    ));
    let b = feats(&LineContext::new(
        b"worker 3 failed after 10.25s reading /var/x/y.log",
    ));
    let mut ai = a.indices().to_vec();
    let mut bi = b.indices().to_vec();
    ai.sort_unstable();
    bi.sort_unstable();
    assert_eq!(ai, bi);
}

#[test]
fn severity_casing_and_negation_are_seen() {
    let upper = feats(&LineContext::new(b"ERROR connection refused"));
    assert_eq!(value(&upper, "sev_error"), 1.0);
    assert_eq!(value(&upper, "sev_upper"), 1.0);
    assert_eq!(value(&upper, "sev_early"), 1.0);
    let late = feats(&LineContext::new(b"the retry loop gave up with an error"));
    assert!(value(&late, "sev_early") < 0.2);
    assert_eq!(value(&late, "sev_upper"), 0.0);
    let fine = feats(&LineContext::new(
        b"test result: ok. 12 passed; 0 failed; 0 ignored",
    ));
    assert_eq!(value(&fine, "sev_error"), 0.0);
    assert_eq!(value(&fine, "sev_negated"), 1.0);
    assert_eq!(value(&fine, "sev_ok"), 1.0);
    let panic = feats(&LineContext::new(
        b"thread 'main' panicked at src/lib.rs:3:5",
    ));
    assert_eq!(value(&panic, "sev_fatal"), 1.0);
}

#[test]
fn neighbours_stream_and_position_are_features() {
    let lines = [
        "Traceback (most recent call last):",
        "  File \"x.py\", line 3, in <module>",
        "ValueError: bad",
    ];
    let mut head = LineContext::in_log(&lines, 0);
    head.stream = Stream::Stderr;
    let f = feats(&head);
    assert_eq!(value(&f, "next_indented"), 1.0);
    assert_eq!(value(&f, "stream_stderr"), 1.0);
    assert_eq!(value(&f, "pos_rel"), 0.0);
    assert_eq!(value(&f, "pos_known"), 1.0);
    let frame = feats(&LineContext::in_log(&lines, 1));
    assert_eq!(value(&frame, "indented"), 1.0);
    assert_eq!(value(&frame, "prev_alarm"), 1.0);
    assert_eq!(value(&frame, "next_alarm"), 1.0);
    let last = feats(&LineContext::in_log(&lines, 2));
    assert_eq!(value(&last, "pos_rel"), 1.0);
    assert_eq!(value(&last, "pos_tail"), 1.0);
    let alone = feats(&LineContext::new(lines[2].as_bytes()));
    assert_eq!(value(&alone, "pos_known"), 0.0);
}

#[test]
fn template_and_pattern_hits_are_optional_inputs() {
    let base = LineContext::new(b"npm ERR! code ELIFECYCLE");
    let plain = feats(&base);
    let hits = [PatternHit {
        id: "npm-err",
        severity: HitSeverity::FailureSummary,
    }];
    let mut rich = base;
    rich.template = Some(TemplateInfo {
        text: "npm ERR! code <*>",
        rarity: 7.0,
    });
    rich.pattern_hits = &hits;
    let f = feats(&rich);
    assert_eq!(value(&f, "template_known"), 1.0);
    assert_eq!(value(&f, "template_rarity"), 1.0, "rarity is clamped");
    assert_eq!(value(&f, "pattern_failure_summary"), 0.5);
    assert_eq!(
        f.len(),
        plain.len() + 5,
        "3 dense + template hash + pattern hash"
    );
}

#[test]
fn invalid_utf8_and_huge_lines_are_fine() {
    let f = feats(&LineContext::new(b"\xff\xfe error \xc3"));
    assert_eq!(value(&f, "sev_error"), 1.0);
    let big = "x".repeat(100_000);
    let f = feats(&LineContext::new(big.as_bytes()));
    assert_eq!(value(&f, "len_log"), 1.0);
}

#[test]
fn extract_log_gives_the_same_vectors_as_extract_line_by_line() {
    let lines = [
        "Compiling foo v0.1.0",
        "error[E0308]: mismatched types",
        "  --> src/main.rs:3:5",
        "",
        "test result: FAILED. 1 passed; 1 failed",
        "    at x.y(Z.java:1)",
        "done",
    ];
    let hits = [PatternHit {
        id: "rustc-error",
        severity: HitSeverity::Error,
    }];
    fn setup<'a>(i: usize, c: &mut LineContext<'a>, hits: &'a [PatternHit<'a>]) {
        c.stream = if i.is_multiple_of(2) {
            Stream::Stderr
        } else {
            Stream::Stdout
        };
        if i == 1 {
            c.pattern_hits = hits;
            c.template = Some(TemplateInfo {
                text: "error[<*>]: mismatched types",
                rarity: 0.5,
            });
        }
    }
    let mut seen = 0;
    extract_log(
        &lines,
        |i, c| {
            setup(i, c, &hits);
            // What prepare may not change is put back.
            c.line = b"tampered";
            c.position = None;
        },
        |i, f| {
            let mut c = LineContext::in_log(&lines, i);
            setup(i, &mut c, &hits);
            assert_eq!(f, &feats(&c), "line {i}");
            seen += 1;
        },
    );
    assert_eq!(seen, lines.len());
    let empty: [&str; 0] = [];
    extract_log(&empty, |_, _| {}, |_, _| panic!("no lines, no calls"));
}
