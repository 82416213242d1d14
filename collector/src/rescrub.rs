//! The collector's second line of defence: every text field of a received
//! record goes through the same scrubber the agents use
//! (`earlyexit-scrub`), and what it still finds is replaced and counted.
//! A non-zero count means an agent sent something it should have hidden
//! (an old agent, a custom build, or a rule the agent had disabled).
//!
//! Scrubs every string field except `execution_id`, which is part of the
//! record's key and is validated instead (see `ingest`). A test reads the
//! protobuf descriptors so a field added to the schema cannot be missed.

use earlyexit_proto::v1::{Execution, MatchEvent, OutputSample, PerformanceMetric, RunRecord};
use earlyexit_scrub::Scrubber;

/// Scrubs records in place and counts changed fields.
#[derive(Debug, Default)]
pub struct Rescrubber {
    scrubber: Scrubber,
}

impl Rescrubber {
    /// Scrubs every text field of `record`; returns how many fields changed.
    pub fn apply(&self, record: &mut RunRecord) -> u32 {
        let mut hits = 0;
        let mut field = |text: &mut String| {
            if text.is_empty() {
                return;
            }
            let scrubbed = if text.contains('\n') {
                self.scrubber.scrub_text(text)
            } else {
                match self.scrubber.scrub_line(text) {
                    std::borrow::Cow::Borrowed(_) => return,
                    std::borrow::Cow::Owned(s) => s,
                }
            };
            if scrubbed != *text {
                *text = scrubbed;
                hits += 1;
            }
        };
        if let Some(e) = record.execution.as_mut() {
            execution_fields(e, &mut field);
        }
        for m in &mut record.matches {
            match_fields(m, &mut field);
        }
        for s in &mut record.samples {
            sample_fields(s, &mut field);
        }
        for p in &mut record.metrics {
            metric_fields(p, &mut field);
        }
        hits
    }
}

/// Every scrubbed string field of `Execution` (all but `execution_id`).
fn execution_fields(e: &mut Execution, f: &mut impl FnMut(&mut String)) {
    let Execution {
        execution_id: _,
        mode,
        command,
        command_hash,
        program,
        working_directory,
        environment_vars,
        pattern,
        pattern_type,
        exclude_patterns,
        success_patterns,
        match_mode,
        fd_patterns,
        monitored_fds,
        exit_reason,
        error_message,
        match_line_numbers,
        project_type,
        command_category,
        telemetry_level,
        earlyexit_version,
        ..
    } = e;
    for s in [
        mode,
        command,
        command_hash,
        working_directory,
        environment_vars,
        pattern,
        pattern_type,
        exclude_patterns,
        success_patterns,
        match_mode,
        fd_patterns,
        monitored_fds,
        exit_reason,
        match_line_numbers,
        project_type,
        command_category,
        telemetry_level,
        earlyexit_version,
    ] {
        f(s);
    }
    for s in [program, error_message].into_iter().flatten() {
        f(s);
    }
}

fn match_fields(m: &mut MatchEvent, f: &mut impl FnMut(&mut String)) {
    let MatchEvent {
        stream_source,
        line_content,
        matched_substring,
        context_before,
        context_after,
        kind,
        ..
    } = m;
    for s in [
        stream_source,
        line_content,
        matched_substring,
        context_before,
        context_after,
        kind,
    ] {
        f(s);
    }
}

fn sample_fields(s: &mut OutputSample, f: &mut impl FnMut(&mut String)) {
    let OutputSample {
        sample_type,
        stream_source,
        content,
        content_hash,
        ..
    } = s;
    for s in [sample_type, stream_source, content, content_hash] {
        f(s);
    }
}

fn metric_fields(p: &mut PerformanceMetric, f: &mut impl FnMut(&mut String)) {
    f(&mut p.metric_name);
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    const CANARY: &str = "AKIAIOSFODNN7EXAMPLE";

    /// Sets every string field of `msg` (found through the descriptors) to
    /// the canary, through a round trip of a hand-built encoding.
    fn all_string_fields(message: &str) -> Vec<(String, u32)> {
        let fds =
            prost_types::FileDescriptorSet::decode(earlyexit_proto::FILE_DESCRIPTOR_SET).unwrap();
        let msg = fds
            .file
            .iter()
            .flat_map(|f| &f.message_type)
            .find(|m| m.name() == message)
            .unwrap_or_else(|| panic!("{message} not in the descriptors"));
        msg.field
            .iter()
            .filter(|f| f.r#type() == prost_types::field_descriptor_proto::Type::String)
            .map(|f| (f.name().to_owned(), u32::try_from(f.number()).unwrap()))
            .collect()
    }

    fn canary_message<M: Message + Default>(message: &str) -> M {
        let mut buf = Vec::new();
        for (_, number) in all_string_fields(message) {
            prost::encoding::string::encode(number, &format!("key {CANARY} end"), &mut buf);
        }
        M::decode(buf.as_slice()).unwrap()
    }

    #[test]
    fn every_string_field_but_the_key_is_scrubbed() {
        let mut record = RunRecord {
            execution: Some(canary_message::<Execution>("Execution")),
            matches: vec![canary_message("MatchEvent")],
            samples: vec![canary_message("OutputSample")],
            metrics: vec![canary_message("PerformanceMetric")],
        };
        let fields: usize = [
            "Execution",
            "MatchEvent",
            "OutputSample",
            "PerformanceMetric",
        ]
        .iter()
        .map(|m| all_string_fields(m).len())
        .sum();
        let hits = Rescrubber::default().apply(&mut record);
        assert_eq!(hits as usize, fields - 1, "all but execution_id changed");
        let exec = record.execution.as_mut().unwrap();
        assert!(exec.execution_id.contains(CANARY), "the key is left alone");
        exec.execution_id.clear();
        let bytes = record.encode_to_vec();
        assert!(
            !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "a string field escaped the rescrubber"
        );
    }

    #[test]
    fn clean_records_are_left_alone() {
        let mut record = RunRecord {
            execution: Some(Execution {
                execution_id: "0193-x".into(),
                command: "cargo <args:1a2b3c4d5e6f>".into(),
                exit_reason: "match".into(),
                ..Default::default()
            }),
            matches: vec![MatchEvent {
                line_content: "error[E0425]: cannot find value `<*>` in this scope".into(),
                context_before: "   Compiling demo v0.1.0\n<email> wrote".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let before = record.clone();
        assert_eq!(Rescrubber::default().apply(&mut record), 0);
        assert_eq!(record, before);
    }
}
