use super::*;

/// Build noise: many lines of a few templates.
fn noise(n: usize) -> String {
    (0..n)
        .map(|i| format!("   Compiling crate{} v0.{}.{}\n", i % 7, i % 13, i))
        .collect()
}

#[test]
fn a_clean_log_prints_nothing() {
    let log = noise(300) + "    Finished `release` profile [optimized] target(s) in 12.3s\n";
    let t = Triage::new().unwrap();
    assert_eq!(t.run(&log), Vec::<Finding>::new());
}

#[test]
fn lines_split_on_bare_cr_are_numbered_like_readline() {
    // Progress overwritten with bare CRs, CRLF line ends, then the error.
    let log = format!(
        "{}Progress: 10%\rProgress: 50%\rProgress: 100%\r\nerror[E0308]: mismatched types\r\n --> src/main.rs:2:5\r\nerror: could not compile `demo` (bin \"demo\") due to 1 previous error\r\n",
        noise(50).replace('\n', "\r\n")
    );
    let f = Triage::new().unwrap().run(&log);
    assert!(!f.is_empty(), "the compiler error is found");
    // 50 noise lines, 3 progress parts: the error is line 54.
    assert_eq!(f[0].line, 54, "{f:?}");
    assert_eq!(f[0].text, "error[E0308]: mismatched types");
    assert!(f[0].why.iter().any(|w| w.starts_with("pattern:")), "{f:?}");
    assert!(f.iter().all(|x| !x.text.contains('\r')));
}

#[test]
fn ansi_codes_are_tolerated() {
    let log =
        noise(40) + "\x1b[1m\x1b[31merror[E0425]\x1b[0m: cannot find value `x` in this scope\n";
    let f = Triage::new().unwrap().run(&log);
    assert_eq!(f[0].line, 41);
    assert!(!f[0].text.contains('\x1b'), "{:?}", f[0].text);
}

#[test]
fn a_stack_trace_is_one_finding_at_its_head() {
    let mut log = noise(200);
    log.push_str(
        "Exception in thread \"main\" java.lang.IllegalStateException: connection pool exhausted\n",
    );
    for i in 0..30 {
        log.push_str(&format!(
            "\tat com.example.pool.Pool.take{i}(Pool.java:{})\n",
            100 + i
        ));
    }
    log.push_str("Process finished\n");
    let f = Triage::new().unwrap().run(&log);
    let in_trace: Vec<_> = f.iter().filter(|x| (201..=231).contains(&x.line)).collect();
    assert_eq!(in_trace.len(), 1, "one finding for the trace: {f:?}");
    assert_eq!(in_trace[0].line, 201, "reported at its head line");
}

#[test]
fn history_suppresses_known_noise() {
    // A flaky error line that every passing run prints too (and that does
    // not say it was worked around: "continuing" would lower it anyway).
    let flaky = "error: failed to connect to metrics endpoint\n";
    let pass = noise(100) + flaky + &noise(20);
    let fail = noise(100)
        + flaky
        + &noise(20)
        + "error[E0599]: no method named `frob` found for struct `Pool`\n";
    let cold = Triage::new().unwrap().run(&fail);
    assert!(
        cold.iter().any(|x| x.line == 101),
        "without history the flaky line is a finding: {cold:?}"
    );
    let mut warm = Triage::new().unwrap();
    warm.add_history(&pass);
    let f = warm.run(&fail);
    assert!(
        f.iter().all(|x| x.line != 101),
        "history marks it as noise: {f:?}"
    );
    assert_eq!(f.first().map(|x| x.line), Some(122), "{f:?}");
    assert!(f[0].why.iter().any(|w| w == "not-in-history"), "{f:?}");
}

#[test]
fn a_line_that_says_it_was_worked_around_counts_for_less() {
    let log = |line: &str| noise(100) + line + "\n" + &noise(20);
    let score = |log: String| {
        let f = Triage::new().unwrap().with_min_score(0.0).run(&log);
        f.iter().find(|x| x.line == 101).unwrap().score
    };
    let plain = score(log("error: failed to download the cache archive"));
    let recovered = score(log("error: failed to download the cache archive, retrying"));
    assert!(recovered < plain, "{recovered} < {plain}");
}

#[test]
fn scores_are_probabilities_best_first_and_min_score_filters() {
    let log = noise(100)
        + "warning: unused variable: `x`\n"
        + "thread 'tests::adds' panicked at src/lib.rs:9:5:\n"
        + "test tests::adds ... FAILED\n"
        + "test result: FAILED. 1 passed; 1 failed; 0 ignored\n";
    let all = Triage::new().unwrap().with_min_score(0.0).run(&log);
    assert_eq!(all.len(), 104);
    assert!(all.iter().all(|f| (0.0..=1.0).contains(&f.score)));
    assert!(all.windows(2).all(|w| w[0].score >= w[1].score));
    let shown = Triage::new().unwrap().run(&log);
    assert!(shown.iter().all(|f| f.score >= DEFAULT_MIN_SCORE));
    assert!(shown.len() < all.len());
}

#[test]
fn json_has_the_documented_fields() {
    let log = noise(30) + "error: linking with `cc` failed: exit status: 1\n";
    let f = Triage::new().unwrap().run(&log);
    let v: serde_json::Value = serde_json::to_value(&f[0]).unwrap();
    for k in ["line", "score", "text", "template", "why"] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
}

#[test]
fn a_model_for_other_signals_is_refused() {
    let mut m = TriageModel::default_model();
    m.signals[1] = "something_else".into();
    let e = TriageModel::from_json(&m.to_json())
        .unwrap_err()
        .to_string();
    assert!(e.contains("train-default"), "{e}");
    let mut m = TriageModel::default_model();
    m.version = 99;
    assert!(TriageModel::from_json(&m.to_json()).is_err());
}

#[test]
fn training_learns_a_separable_signal() {
    let mut rows = Vec::new();
    for i in 0..400 {
        let mut v = [0f32; signals::DIM];
        v[0] = 1.0;
        let pos = i % 10 == 0;
        v[1] = f32::from(u8::from(pos));
        v[11] = (i % 7) as f32 / 7.0;
        rows.push((v, pos));
    }
    let m = TriageModel::train(&rows, "test".into());
    assert!(m.score(&rows[0].0) > 0.9, "{}", m.score(&rows[0].0));
    assert!(m.score(&rows[1].0) < 0.1, "{}", m.score(&rows[1].0));
}

#[test]
fn a_compiler_diagnostic_is_one_finding_covering_its_lines() {
    let log = noise(80)
        + "main.c: In function 'main':\n"
        + "main.c:3:41: error: expected ';' before 'return'\n"
        + "    3 | int main(void) { printf(\"%d\\n\", util(2)) return 0; }\n"
        + "      |                                         ^~~~~~~\n"
        + "      |                                         ;\n"
        + "make: *** [Makefile:5: main.o] Error 1\n";
    let f = Triage::new().unwrap().run(&log);
    assert_eq!(f[0].line, 82, "{f:?}");
    assert_eq!(
        f[0].end_line, 85,
        "the code and caret lines are its block: {f:?}"
    );
    assert!(f.iter().all(|x| !(83..=85).contains(&x.line)), "{f:?}");
}

#[test]
fn an_error_inside_an_indented_region_is_its_own_finding() {
    // A step's output indented under its header, an error in the middle.
    let mut log = noise(60) + "Run ./ci.sh\n";
    for i in 0..20 {
        log.push_str(&format!("  step {i}: copying file{i}.txt to out/\n"));
    }
    log.push_str("  Error: ENOENT: no such file or directory, open 'dist/index.html'\n");
    log.push_str("      at Object.openSync (node:fs:573:18)\n");
    for i in 20..30 {
        log.push_str(&format!("  step {i}: copying file{i}.txt to out/\n"));
    }
    let f = Triage::new().unwrap().with_min_score(0.0).run(&log);
    assert_eq!(f[0].line, 82, "{:?}", &f[..3]);
    assert_eq!(f[0].end_line, 83, "{:?}", &f[..3]);
}

#[test]
fn routine_output_after_an_error_is_not_its_block() {
    // cargo's indented `Compiling` lines after an error line do not
    // become the error's block: their template is common in the log.
    let log = "error: could not reach cache server, building without it\n".to_string() + &noise(30);
    let f = Triage::new().unwrap().with_min_score(0.0).run(&log);
    let first = f.iter().find(|x| x.line == 1).unwrap();
    assert_eq!(first.end_line, 1, "{first:?}");
}
