//! Test-only builders of realistic [`RunRecord`]s, shared by the store and
//! the subcommand tests.

use super::{Execution, ExitReason, MatchEvent, OutputSample, PerformanceMetric, RunRecord};
use earlyexit_scrub::sha256_hex;

/// A `cargo test` run started at `started_at_ms` that was stopped by the
/// pattern `error|FAIL` after two matches, with one context sample and two
/// resource metrics.
pub(crate) fn sample_run(started_at_ms: i64) -> RunRecord {
    let command = "cargo test --workspace".to_string();
    let context = "running 12 tests\ntest parse::ok ... ok\nerror[E0425]: cannot find value `x`";
    RunRecord {
        execution: Execution {
            execution_id: uuid::Uuid::now_v7().to_string(),
            started_at_ms,
            mode: "command".into(),
            command_hash: sha256_hex(&command),
            command,
            program: Some("cargo".to_string()),
            working_directory: "/home/dev/project".to_string(),
            environment_vars: r#"{"CI":"true"}"#.to_string(),
            pattern: "error|FAIL".to_string(),
            pattern_type: "regex".into(),
            case_insensitive: false,
            invert_match: false,
            word_regexp: false,
            line_regexp: false,
            max_count: 0,
            exclude_patterns: r#"["error: 0 errors"]"#.to_string(),
            success_patterns: "[]".to_string(),
            match_mode: "both".into(),
            fd_patterns: "{}".to_string(),
            monitored_fds: "[]".to_string(),
            pty: false,
            overall_timeout: Some(600.0),
            idle_timeout: Some(60.0),
            first_output_timeout: None,
            delay_exit: 10.0,
            delay_exit_after_lines: Some(20),
            max_repeat: None,
            kill_grace: 5.0,
            exit_code: 0,
            exit_reason: ExitReason::Match,
            child_exit_code: None,
            child_signal: Some(15),
            error_message: None,
            total_runtime: 14.25,
            time_to_first_output: Some(0.12),
            time_to_first_match: Some(4.0),
            time_from_match_to_exit: Some(10.25),
            idle_periods_count: 2,
            longest_idle_period: 3.5,
            match_count: 2,
            match_line_numbers: "[57,61]".to_string(),
            total_lines_processed: 240,
            stdout_lines: 200,
            stderr_lines: 40,
            fd_lines: 0,
            bytes_processed: 18_000,
            stdout_bytes: 15_000,
            stderr_bytes: 3_000,
            project_type: "rust".to_string(),
            command_category: "test".to_string(),
            load_avg_1m: Some(0.8),
            mem_available_mb: Some(12_000.0),
            disk_free_mb: Some(50_000.0),
            telemetry_level: "local".into(),
            earlyexit_version: "0.1.0".into(),
        },
        matches: vec![
            MatchEvent {
                match_number: 1,
                timestamp_offset: 4.0,
                stream_source: "stderr".to_string(),
                line_number: 57,
                line_content: "error[E0425]: cannot find value `x`".to_string(),
                matched_substring: "error".to_string(),
                match_position_start: 0,
                match_position_end: 5,
                context_before: "running 12 tests\ntest parse::ok ... ok".to_string(),
                context_after: " --> src/lib.rs:3:5".to_string(),
                kind: "error".into(),
            },
            MatchEvent {
                match_number: 2,
                timestamp_offset: 4.5,
                stream_source: "stdout".to_string(),
                line_number: 61,
                line_content: "test result: FAIL. 11 passed; 1 failed".to_string(),
                matched_substring: "FAIL".to_string(),
                match_position_start: 13,
                match_position_end: 17,
                context_before: String::new(),
                context_after: String::new(),
                kind: "error".into(),
            },
        ],
        samples: vec![OutputSample {
            sample_type: "match_context".into(),
            stream_source: "stderr".to_string(),
            timestamp_offset: 4.0,
            content_hash: sha256_hex(context),
            content: context.to_string(),
        }],
        metrics: vec![
            PerformanceMetric {
                metric_name: "peak_rss_mb".into(),
                metric_value: 312.5,
                timestamp_offset: 14.25,
            },
            PerformanceMetric {
                metric_name: "cpu_user_seconds".into(),
                metric_value: 21.0,
                timestamp_offset: 14.25,
            },
        ],
        fp: Default::default(),
    }
}

/// A run of `command` with no pattern match that completed with
/// `child_exit_code`, taking `total_runtime` seconds.
pub(crate) fn completed_run(
    started_at_ms: i64,
    command: &str,
    child_exit_code: i64,
    total_runtime: f64,
) -> RunRecord {
    let mut run = sample_run(started_at_ms);
    let e = &mut run.execution;
    e.command = command.to_string();
    e.command_hash = sha256_hex(command);
    e.program = command.split_whitespace().next().map(str::to_string);
    e.exit_reason = ExitReason::Completed;
    e.exit_code = 1;
    e.child_exit_code = Some(child_exit_code);
    e.child_signal = None;
    e.total_runtime = total_runtime;
    e.time_to_first_match = None;
    e.time_from_match_to_exit = None;
    e.match_count = 0;
    e.match_line_numbers = "[]".to_string();
    run.matches.clear();
    run.samples.clear();
    run
}

/// Secrets that must never leave the machine, whatever field they are in.
pub(crate) const CANARIES: &[&str] = &[
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_0123456789abcdefghijABCDEFGHIJ012345",
    "mallory@acme-corp.io",
];

/// `run` with every string anywhere in it replaced by text holding all the
/// [`CANARIES`] (the exit reason, an enum, stays valid).
pub(crate) fn poisoned(run: &RunRecord) -> RunRecord {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) => {
                *s = format!("x {} y {} z {}", CANARIES[0], CANARIES[1], CANARIES[2]);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::Object(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(run).unwrap();
    walk(&mut value);
    value["execution"]["exit_reason"] = serde_json::json!("match");
    serde_json::from_value(value).unwrap()
}
