use super::*;

fn argv(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// A successful run of `secs` seconds with the longest silence `idle`.
fn ok_run(i: i64, secs: f64, idle: f64) -> HistoryRun {
    HistoryRun {
        execution_id: format!("run-{i}"),
        started_at_ms: 1_700_000_000_000 + i,
        pattern: String::new(),
        exclude_patterns: "[]".into(),
        exit_reason: "completed".into(),
        child_exit_code: Some(0),
        child_signal: None,
        total_runtime: secs,
        time_to_first_output: Some(0.01),
        longest_idle_period: idle,
        time_to_first_match: None,
        time_from_match_to_exit: None,
        delay_exit: 10.0,
        false_positive_flag: false,
        first_match_after: None,
    }
}

/// A run ended by `pattern`, `after` seconds after the first match; the
/// child exited by itself (`killed` false) or was stopped.
fn match_run(i: i64, pattern: &str, after: f64, killed: bool, last_line: &str) -> HistoryRun {
    HistoryRun {
        pattern: pattern.into(),
        exit_reason: "match".into(),
        child_exit_code: (!killed).then_some(1),
        child_signal: killed.then_some(15),
        time_to_first_match: Some(1.0),
        time_from_match_to_exit: Some(after),
        first_match_after: Some(format!("context\n{last_line}")),
        total_runtime: 1.0 + after,
        ..ok_run(i, 0.0, 0.0)
    }
}

fn suggestion(runs: &[HistoryRun], command: &str) -> Suggestion {
    match advise(command, &argv(command), runs, &[]) {
        Advice::Suggested(s) => *s,
        other => panic!("expected a suggestion, got {other:?}"),
    }
}

#[test]
fn nothing_is_suggested_from_fewer_than_five_runs_and_the_answer_says_how_many_more() {
    let runs: Vec<HistoryRun> = (0..4).map(|i| ok_run(i, 1.0, 0.1)).collect();
    match advise("npm test", &argv("npm test"), &runs, &[]) {
        Advice::TooFew { runs, reason } => {
            assert_eq!(runs, 4);
            assert!(reason.contains("1 more needed"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let json = serde_json::to_value(advise("npm test", &argv("npm test"), &[], &[])).unwrap();
    let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["reason", "runs"], "only runs and a reason: {json}");
    assert!(json["reason"].as_str().unwrap().contains("5 more needed"));
    // Five runs are enough.
    let five: Vec<HistoryRun> = (0..5).map(|i| ok_run(i, 1.0, 0.1)).collect();
    assert!(matches!(
        advise("npm test", &argv("npm test"), &five, &[]),
        Advice::Suggested(_)
    ));
}

#[test]
fn the_overall_timeout_is_never_below_one_and_a_half_times_the_slowest_successful_run() {
    let mut runs: Vec<HistoryRun> = (0..9).map(|i| ok_run(i, 40.0, 1.0)).collect();
    runs.push(ok_run(9, 100.0, 1.0));
    // A failed run that took longer does not count: it was not a success.
    runs.push(HistoryRun {
        child_exit_code: Some(1),
        ..ok_run(10, 500.0, 1.0)
    });
    let s = suggestion(&runs, "cargo test");
    assert_eq!(s.timeout_s, Some(150.0));
    assert!(
        s.evidence.timeout.evidence.contains("took 100s"),
        "{:?}",
        s.evidence.timeout
    );
    assert!(s.command_line.contains("-t 150s"), "{}", s.command_line);
    // Fewer than five successes: no timeout at all.
    let mostly_failed: Vec<HistoryRun> = (0..6)
        .map(|i| HistoryRun {
            child_exit_code: Some(i64::from(i >= 4)),
            ..ok_run(i, 1.0, 0.1)
        })
        .collect();
    let s = suggestion(&mostly_failed, "cargo test");
    assert_eq!(s.timeout_s, None);
    assert_eq!(s.idle_timeout_s, None);
    assert!(!s.command_line.contains(" -t "), "{}", s.command_line);
}

#[test]
fn the_idle_timeout_is_never_below_twice_the_longest_silence_of_a_successful_run() {
    let mut runs: Vec<HistoryRun> = (0..6).map(|i| ok_run(i, 120.0, 5.0)).collect();
    runs[3].longest_idle_period = 40.0;
    let s = suggestion(&runs, "make all");
    assert_eq!(s.idle_timeout_s, Some(80.0));
    // The wait for the first output is a silence too.
    runs[4].time_to_first_output = Some(55.0);
    let s = suggestion(&runs, "make all");
    assert_eq!(s.idle_timeout_s, Some(110.0));
}

#[test]
fn the_delay_covers_the_longest_error_block_seen() {
    let mut runs: Vec<HistoryRun> = (0..5).map(|i| ok_run(i, 3.0, 0.5)).collect();
    // The command printed its stack trace and exited 4 s after the match.
    runs.push(match_run(
        5,
        "Error",
        4.0,
        false,
        "    at main (index.js:3)",
    ));
    runs.push(match_run(6, "Error", 0.5, false, "done"));
    let s = suggestion(&runs, "node app.js");
    assert!(s.delay_exit_s >= 4.0, "{s:?}");
    assert_eq!(s.delay_exit_s, 6.0);
    // A block still going when a 10 s delay ran out: the delay doubles.
    runs.push(match_run(
        7,
        "Error",
        10.0,
        true,
        "    at Object.<anonymous> (x.js:9)",
    ));
    let s = suggestion(&runs, "node app.js");
    assert_eq!(s.delay_exit_s, 20.0, "{:?}", s.evidence.delay_exit);
    // No match ever: the default, with low confidence.
    let quiet: Vec<HistoryRun> = (0..5).map(|i| ok_run(i, 3.0, 0.5)).collect();
    let s = suggestion(&quiet, "node app.js");
    assert_eq!(s.delay_exit_s, DELAY_DEFAULT_SECS);
    assert!(s.evidence.delay_exit.confidence < 0.5);
}

/// The Python earlyexit's auto-tune learned a 0.1 s timeout from fast runs
/// and killed a normal 2 s run. The same history here.
#[test]
fn fast_runs_never_teach_a_timeout_that_kills_a_normal_two_second_run() {
    let runs: Vec<HistoryRun> = (0..50)
        .map(|i| ok_run(i, 0.05 + 0.001 * (i % 50) as f64, 0.01))
        .collect();
    let s = suggestion(&runs, "pytest -q");
    let timeout = s.timeout_s.unwrap();
    let idle = s.idle_timeout_s.unwrap();
    // The floors: far above the 2 s the next run will take.
    assert!(timeout >= TIMEOUT_FLOOR_SECS, "{timeout}");
    assert!(idle >= IDLE_FLOOR_SECS, "{idle}");
    // After the 2 s run is recorded the timeout still lets it through.
    let mut more = runs;
    more.insert(0, ok_run(50, 2.0, 2.0));
    let s = suggestion(&more, "pytest -q");
    assert!(s.timeout_s.unwrap() >= 3.0 && s.idle_timeout_s.unwrap() >= 4.0);
}

#[test]
fn the_best_learned_pattern_wins_and_a_poor_one_loses_to_the_library() {
    let mut runs: Vec<HistoryRun> = (0..5).map(|i| ok_run(i, 3.0, 0.5)).collect();
    runs.extend((5..8).map(|i| match_run(i, "FAIL|Error", 1.0, false, "x")));
    runs.extend((8..10).map(|i| match_run(i, "error", 1.0, false, "x")));
    let row = |pattern: &str, score: Option<f64>| PatternEffectiveness {
        pattern_hash: String::new(),
        pattern: pattern.into(),
        total_uses: 10,
        successful_exits: 5,
        false_positives: 0,
        missed_errors: 0,
        avg_time_to_match: None,
        avg_total_runtime: None,
        user_rating_avg: None,
        effectiveness_score: score,
        last_updated: String::new(),
    };
    let eff = [row("FAIL|Error", Some(0.6)), row("error", Some(0.9))];
    let Advice::Suggested(s) = advise("npm test", &argv("npm test"), &runs, &eff) else {
        panic!()
    };
    assert_eq!(s.pattern.as_deref(), Some("error"));
    assert_eq!(s.pattern_source, PatternSource::Learned);
    assert!(
        s.evidence.pattern.evidence.contains("0.90"),
        "{:?}",
        s.evidence.pattern
    );
    // Both learned patterns poor: the built-in entries for npm instead.
    let eff = [row("FAIL|Error", Some(0.1)), row("error", Some(0.2))];
    let Advice::Suggested(s) = advise("npm test", &argv("npm test"), &runs, &eff) else {
        panic!()
    };
    assert_eq!(s.pattern_source, PatternSource::Builtin);
    assert!(
        s.evidence.pattern.evidence.contains("npm-err"),
        "{:?}",
        s.evidence.pattern
    );
}

#[test]
fn the_command_line_is_complete_and_quoted() {
    let runs: Vec<HistoryRun> = (0..5).map(|i| ok_run(i, 3.0, 0.5)).collect();
    let s = suggestion(&runs, "cargo test");
    assert_eq!(s.pattern_source, PatternSource::Builtin);
    let line = &s.command_line;
    assert!(line.starts_with("earlyexit -e '"), "{line}");
    assert!(line.contains("--delay-exit 10s"), "{line}");
    assert!(line.contains("-I 30s") && line.contains("-t 30s"), "{line}");
    assert!(line.ends_with("-- cargo test"), "{line}");
    assert!(s.confidence > 0.0 && s.confidence <= 1.0);
}
