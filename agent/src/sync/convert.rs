//! A recorded run → the record put on the wire (`earlyexit.v1.RunRecord`).
//!
//! The only way to get a wire record is [`Sendable::shape`], which takes
//! the run through [`Outbound::as_sent`] first: the field-by-field copy
//! ([`to_proto`]) is private, so nothing unshaped can reach the client.
//! This module copies fields; it decides nothing about privacy (that is
//! `privacy`) and does no I/O.

use earlyexit_proto::v1;
use prost::Message;

use crate::privacy::Outbound;
use crate::record::RunRecord;

/// A run shaped for its telemetry level and converted to the wire type,
/// ready to be put in a `PushRequest`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sendable {
    /// The run's id in the local database (the outbox key).
    local_id: String,
    record: v1::RunRecord,
    encoded_len: usize,
}

impl Sendable {
    /// `run` as `outbound` sends it, cut to the record budget
    /// ([`earlyexit_proto::MAX_RECORD_BYTES`], see [`super::fit`]); `None`
    /// when its level sends nothing.
    pub fn shape(outbound: &Outbound, run: &RunRecord) -> Option<Sendable> {
        let sent = outbound.as_sent(run)?;
        let mut record = to_proto(&sent);
        super::fit::fit(&mut record, earlyexit_proto::MAX_RECORD_BYTES);
        Some(Sendable {
            local_id: run.execution.execution_id.clone(),
            encoded_len: record.encoded_len(),
            record,
        })
    }

    /// The run's id in the local database.
    pub fn local_id(&self) -> &str {
        &self.local_id
    }

    /// Bytes of the encoded record (without the repeated-field framing).
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }

    /// The wire record.
    pub fn record(&self) -> &v1::RunRecord {
        &self.record
    }

    /// The wire record, by value (for the request).
    pub fn into_record(self) -> v1::RunRecord {
        self.record
    }
}

/// Field-by-field copy. Private: callers go through [`Sendable::shape`].
fn to_proto(run: &RunRecord) -> v1::RunRecord {
    let e = &run.execution;
    v1::RunRecord {
        execution: Some(v1::Execution {
            execution_id: e.execution_id.clone(),
            started_at_ms: e.started_at_ms,
            mode: e.mode.clone(),
            command: e.command.clone(),
            command_hash: e.command_hash.clone(),
            program: e.program.clone(),
            working_directory: e.working_directory.clone(),
            environment_vars: e.environment_vars.clone(),
            pattern: e.pattern.clone(),
            pattern_type: e.pattern_type.clone(),
            case_insensitive: e.case_insensitive,
            invert_match: e.invert_match,
            word_regexp: e.word_regexp,
            line_regexp: e.line_regexp,
            max_count: e.max_count,
            exclude_patterns: e.exclude_patterns.clone(),
            success_patterns: e.success_patterns.clone(),
            match_mode: e.match_mode.clone(),
            fd_patterns: e.fd_patterns.clone(),
            monitored_fds: e.monitored_fds.clone(),
            pty: e.pty,
            overall_timeout: e.overall_timeout,
            idle_timeout: e.idle_timeout,
            first_output_timeout: e.first_output_timeout,
            delay_exit: e.delay_exit,
            delay_exit_after_lines: e.delay_exit_after_lines,
            max_repeat: e.max_repeat,
            kill_grace: e.kill_grace,
            exit_code: e.exit_code,
            exit_reason: e.exit_reason.as_str().to_string(),
            child_exit_code: e.child_exit_code,
            child_signal: e.child_signal,
            error_message: e.error_message.clone(),
            total_runtime: e.total_runtime,
            time_to_first_output: e.time_to_first_output,
            time_to_first_match: e.time_to_first_match,
            time_from_match_to_exit: e.time_from_match_to_exit,
            idle_periods_count: e.idle_periods_count,
            longest_idle_period: e.longest_idle_period,
            match_count: e.match_count,
            match_line_numbers: e.match_line_numbers.clone(),
            total_lines_processed: e.total_lines_processed,
            stdout_lines: e.stdout_lines,
            stderr_lines: e.stderr_lines,
            fd_lines: e.fd_lines,
            bytes_processed: e.bytes_processed,
            stdout_bytes: e.stdout_bytes,
            stderr_bytes: e.stderr_bytes,
            project_type: e.project_type.clone(),
            command_category: e.command_category.clone(),
            load_avg_1m: e.load_avg_1m,
            mem_available_mb: e.mem_available_mb,
            disk_free_mb: e.disk_free_mb,
            telemetry_level: e.telemetry_level.clone(),
            earlyexit_version: e.earlyexit_version.clone(),
            // Runs do not record which bundles they used yet.
            bundle_version: None,
        }),
        matches: run
            .matches
            .iter()
            .map(|m| v1::MatchEvent {
                match_number: m.match_number,
                timestamp_offset: m.timestamp_offset,
                stream_source: m.stream_source.clone(),
                line_number: m.line_number,
                line_content: m.line_content.clone(),
                matched_substring: m.matched_substring.clone(),
                match_position_start: m.match_position_start,
                match_position_end: m.match_position_end,
                context_before: m.context_before.clone(),
                context_after: m.context_after.clone(),
                kind: m.kind.clone(),
            })
            .collect(),
        samples: run
            .samples
            .iter()
            .map(|s| v1::OutputSample {
                sample_type: s.sample_type.clone(),
                stream_source: s.stream_source.clone(),
                timestamp_offset: s.timestamp_offset,
                content: s.content.clone(),
                content_hash: s.content_hash.clone(),
            })
            .collect(),
        metrics: run
            .metrics
            .iter()
            .map(|m| v1::PerformanceMetric {
                metric_name: m.metric_name.clone(),
                metric_value: m.metric_value,
                timestamp_offset: m.timestamp_offset,
            })
            .collect(),
        shaping: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TelemetryLevel;
    use crate::record::tests_support::{CANARIES, poisoned, sample_run};
    use earlyexit_scrub::Scrubber;

    #[test]
    fn every_field_is_copied() {
        let run = sample_run(1_700_000_000_000);
        let outbound = Outbound::new(
            TelemetryLevel::Full,
            Scrubber::default(),
            crate::privacy::test_key(),
        );
        let sent = outbound.as_sent(&run).unwrap();
        let wire = Sendable::shape(&outbound, &run).unwrap();
        let e = wire.record().execution.as_ref().unwrap();
        // The proto and the record serialize to the same field names: compare
        // every execution field that both have.
        let ours = serde_json::to_value(&sent.execution).unwrap();
        let theirs = serde_json::json!({
            "execution_id": e.execution_id, "started_at_ms": e.started_at_ms, "mode": e.mode,
            "command": e.command, "command_hash": e.command_hash, "program": e.program,
            "working_directory": e.working_directory, "environment_vars": e.environment_vars,
            "pattern": e.pattern, "pattern_type": e.pattern_type,
        });
        let theirs_2 = serde_json::json!({
            "case_insensitive": e.case_insensitive, "invert_match": e.invert_match,
            "word_regexp": e.word_regexp, "line_regexp": e.line_regexp, "max_count": e.max_count,
            "exclude_patterns": e.exclude_patterns, "success_patterns": e.success_patterns,
            "match_mode": e.match_mode, "fd_patterns": e.fd_patterns,
            "monitored_fds": e.monitored_fds, "pty": e.pty,
            "overall_timeout": e.overall_timeout, "idle_timeout": e.idle_timeout,
            "first_output_timeout": e.first_output_timeout, "delay_exit": e.delay_exit,
            "delay_exit_after_lines": e.delay_exit_after_lines, "max_repeat": e.max_repeat,
        });
        let theirs_3 = serde_json::json!({
            "kill_grace": e.kill_grace, "exit_code": e.exit_code, "exit_reason": e.exit_reason,
            "child_exit_code": e.child_exit_code, "child_signal": e.child_signal,
            "error_message": e.error_message, "total_runtime": e.total_runtime,
        });
        let theirs_4 = serde_json::json!({
            "time_to_first_output": e.time_to_first_output,
            "time_to_first_match": e.time_to_first_match,
            "time_from_match_to_exit": e.time_from_match_to_exit,
            "idle_periods_count": e.idle_periods_count,
            "longest_idle_period": e.longest_idle_period, "match_count": e.match_count,
            "match_line_numbers": e.match_line_numbers,
            "total_lines_processed": e.total_lines_processed, "stdout_lines": e.stdout_lines,
            "stderr_lines": e.stderr_lines, "fd_lines": e.fd_lines,
            "bytes_processed": e.bytes_processed, "stdout_bytes": e.stdout_bytes,
            "stderr_bytes": e.stderr_bytes, "project_type": e.project_type,
            "command_category": e.command_category, "load_avg_1m": e.load_avg_1m,
            "mem_available_mb": e.mem_available_mb, "disk_free_mb": e.disk_free_mb,
            "telemetry_level": e.telemetry_level, "earlyexit_version": e.earlyexit_version,
        });
        let mut theirs = theirs;
        for part in [theirs_2, theirs_3, theirs_4] {
            theirs
                .as_object_mut()
                .unwrap()
                .extend(part.as_object().unwrap().clone());
        }
        assert_eq!(ours, theirs);
        assert_eq!(wire.record().matches.len(), run.matches.len());
        assert_eq!(
            wire.record().matches[0].line_content,
            sent.matches[0].line_content
        );
        assert_eq!(wire.record().samples.len(), sent.samples.len());
        assert_eq!(wire.record().metrics.len(), run.metrics.len());
        assert_eq!(wire.local_id(), run.execution.execution_id);
        assert_eq!(wire.encoded_len(), wire.record().encode_to_vec().len());
    }

    #[test]
    fn local_and_off_runs_have_no_wire_form() {
        let run = sample_run(1);
        for level in [TelemetryLevel::Off, TelemetryLevel::Local] {
            assert!(
                Sendable::shape(
                    &Outbound::new(level, Scrubber::default(), crate::privacy::test_key()),
                    &run
                )
                .is_none()
            );
        }
    }

    /// The guarantee the sync path rests on: a run recorded with a secret in
    /// every text field, stored, read back and shaped as the sender does,
    /// encodes to bytes that hold none of the secrets, at both levels.
    #[tokio::test]
    async fn no_canary_secret_reaches_the_encoded_push_request() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("t.db"))
            .await
            .unwrap();
        for level in [TelemetryLevel::Full, TelemetryLevel::Anonymous] {
            let mut run = poisoned(&sample_run(crate::store::now_ms()));
            run.execution.execution_id = uuid::Uuid::now_v7().to_string();
            run.execution.telemetry_level = level.as_str().into();
            store.record_run(&run).await.unwrap();
            let pending = crate::store::outbox::pending_after(&store, 0, 100)
                .await
                .unwrap();
            assert!(
                pending
                    .iter()
                    .any(|p| p.execution_id == run.execution.execution_id)
            );
            let stored = store
                .runs_by_id(std::slice::from_ref(&run.execution.execution_id))
                .await
                .unwrap();
            assert_eq!(stored.len(), 1);
            assert!(
                serde_json::to_string(&stored[0])
                    .unwrap()
                    .contains(CANARIES[0]),
                "the local copy keeps raw content, so the test means something"
            );
            let wire = Sendable::shape(
                &Outbound::new(level, Scrubber::default(), crate::privacy::test_key()),
                &stored[0],
            )
            .unwrap();
            let request = v1::PushRequest {
                agent_id: "a".into(),
                batch_seq: 1,
                records: vec![wire.into_record()],
            };
            let bytes = request.encode_to_vec();
            for canary in CANARIES {
                assert!(
                    !bytes.windows(canary.len()).any(|w| w == canary.as_bytes()),
                    "{level:?}: '{canary}' is in the encoded request"
                );
            }
        }
    }
}
