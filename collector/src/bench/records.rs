//! The records the bench sends: shaped like an agent's `anonymous` level,
//! with the bounded variety of a fleet's templated output, and requests
//! encoded ahead of time so the load generator spends its CPU on sending.

use bytes::Bytes;
use earlyexit_proto::v1::{Execution, MatchEvent, PushRequest, RunRecord};
use prost::Message;

/// Commands, folders and failure lines in the sample fleet: enough variety
/// that re-scrubbing's per-thread memory of repeated fields is not a
/// single-entry cache, as little as templated CI output has.
const COMMANDS: u64 = 50;
const FOLDERS: u64 = 200;
const FAILURES: u64 = 1000;

/// A record shaped like what an agent sends at the `anonymous` level: one
/// match with context, its text drawn from a bounded variety (see above)
/// the way templated fleet output repeats.
pub fn sample_record(agent: usize, n: u64) -> RunRecord {
    static TEMPLATE: std::sync::LazyLock<RunRecord> = std::sync::LazyLock::new(template);
    let mut r = TEMPLATE.clone();
    if let Some(e) = r.execution.as_mut() {
        e.execution_id = format!("0193a1fd-{agent:04x}-7000-8000-{n:012x}");
        e.started_at_ms = 1_763_700_000_000 + i64::try_from(n).unwrap_or(0);
        e.command = format!("cargo test -p crate{} <args:9f2c4e1a7b3d>", n % COMMANDS);
        e.working_directory = format!("~/src/service-{}/<path:1c2d3e>", n % FOLDERS);
    }
    if let Some(m) = r.matches.first_mut() {
        let k = n % FAILURES;
        m.line_content = format!(
            "test result: FAILED. <*> passed; {} failed; <*> ignored",
            k % 7
        );
        m.context_before = format!("failures:\n    store::tests::case_{k}\n");
    }
    r
}

fn template() -> RunRecord {
    let (agent, n) = (0usize, 0u64);
    RunRecord {
        execution: Some(Execution {
            execution_id: format!("0193a1fd-{agent:04x}-7000-8000-{n:012x}"),
            started_at_ms: 1_763_700_000_000 + i64::try_from(n).unwrap_or(0),
            mode: "command".into(),
            command: "cargo <args:9f2c4e1a7b3d>".into(),
            command_hash: "4f3c9a1b2e7d6c5a".into(),
            program: Some("cargo".into()),
            working_directory: "~/src/<path:1c2d3e>".into(),
            pattern: "error|FAILED".into(),
            pattern_type: "regex".into(),
            match_mode: "stdout".into(),
            monitored_fds: "1".into(),
            delay_exit: 10.0,
            kill_grace: 5.0,
            exit_code: 0,
            exit_reason: "match".into(),
            child_exit_code: Some(101),
            total_runtime: 48.2,
            time_to_first_output: Some(0.31),
            time_to_first_match: Some(37.9),
            match_count: 1,
            match_line_numbers: "2211".into(),
            total_lines_processed: 2214,
            stdout_lines: 2100,
            stderr_lines: 114,
            bytes_processed: 181_223,
            project_type: "rust".into(),
            command_category: "test".into(),
            load_avg_1m: Some(1.7),
            telemetry_level: "anonymous".into(),
            earlyexit_version: "0.1.0".into(),
            ..Default::default()
        }),
        matches: vec![MatchEvent {
            match_number: 1,
            timestamp_offset: 37.9,
            stream_source: "stdout".into(),
            line_number: 2211,
            line_content: "test result: FAILED. <*> passed; <*> failed; <*> ignored".into(),
            matched_substring: "FAILED".into(),
            match_position_start: 13,
            match_position_end: 19,
            context_before: "failures:\n    store::tests::<*>\n".into(),
            context_after: "error: test failed, to rerun pass `-p <*> --lib`\n".into(),
            kind: "error".into(),
        }],
        ..Default::default()
    }
}

/// Records `first..first + total` of `agent`, as encoded Push requests of
/// `batch` records each (the last may be shorter).
pub fn encode_batches(agent: usize, first: u64, total: usize, batch: usize) -> Vec<Bytes> {
    let end = first + total as u64;
    (first..end)
        .step_by(batch.max(1))
        .map(|start| {
            let stop = (start + batch as u64).min(end);
            let request = PushRequest {
                agent_id: format!("agent-{agent}"),
                batch_seq: start,
                records: (start..stop).map(|n| sample_record(agent, n)).collect(),
            };
            Bytes::from(request.encode_to_vec())
        })
        .collect()
}
