//! The collector's second line of defence: every text field of a received
//! record goes through the same scrubber the agents use
//! (`earlyexit-scrub`), and what it still finds is replaced and counted.
//! A non-zero count means an agent sent something it should have hidden
//! (an old agent, a custom build, or a rule the agent had disabled).
//!
//! Scrubs every string field except `execution_id`, which is part of the
//! record's key and is validated instead (see `ingest`). A test reads the
//! protobuf descriptors so a field added to the schema cannot be missed.

use std::cell::RefCell;
use std::collections::HashMap;

use earlyexit_proto::v1::{Execution, MatchEvent, OutputSample, PerformanceMetric, RunRecord};
use earlyexit_scrub::Scrubber;

/// Fields up to this long are remembered with their scrubbed form: at the
/// `anonymous` level most text is templated (commands, patterns, masked
/// lines), so the same values arrive over and over.
const CACHED_FIELD_MAX: usize = 256;

/// Remembered fields per worker thread; the cache is emptied when full
/// (bounded memory: about entries × 2 × [`CACHED_FIELD_MAX`] at worst).
const CACHE_ENTRIES: usize = 8192;

thread_local! {
    /// Field → its scrubbed form (`None`: unchanged). Per thread, so
    /// handlers never wait on each other.
    static SEEN: RefCell<HashMap<Box<str>, Option<Box<str>>>> = RefCell::new(HashMap::new());
}

/// Scrubs records in place and counts changed fields.
#[derive(Debug, Default)]
pub struct Rescrubber {
    scrubber: Scrubber,
}

impl Rescrubber {
    /// Scrubs every text field of `record`; returns how many fields changed.
    ///
    /// Most records are clean, so the fields of each part (the execution,
    /// each match, each sample, the metrics) are joined and put through the
    /// scrubber's prefilter once; only a part that may hold something is
    /// scrubbed field by field.
    pub fn apply(&self, record: &mut RunRecord) -> u32 {
        let mut hits = 0;
        let mut joined = String::with_capacity(1024);
        if let Some(e) = record.execution.as_mut() {
            hits += self.part(&mut joined, |f| execution_fields(e, f));
        }
        for m in &mut record.matches {
            hits += self.part(&mut joined, |f| match_fields(m, f));
        }
        for s in &mut record.samples {
            hits += self.part(&mut joined, |f| sample_fields(s, f));
        }
        let metrics = &mut record.metrics;
        hits += self.part(&mut joined, |f| {
            for p in metrics.iter_mut() {
                metric_fields(p, f);
            }
        });
        hits
    }

    /// Scrubs the fields `visit` reaches unless, joined, they are clean.
    fn part(&self, joined: &mut String, mut visit: impl FnMut(&mut dyn FnMut(&mut String))) -> u32 {
        joined.clear();
        let mut all_cached = true;
        SEEN.with_borrow(|seen| {
            visit(&mut |text: &mut String| {
                all_cached &= text.is_empty() || seen.contains_key(text.as_str());
                joined.push_str(text);
                joined.push('\n');
            });
        });
        if !all_cached && self.scrubber.is_clean(joined) {
            return 0;
        }
        let mut hits = 0;
        SEEN.with_borrow_mut(|seen| {
            visit(&mut |text: &mut String| {
                if text.is_empty() {
                    return;
                }
                let scrubbed = match seen.get(text.as_str()) {
                    Some(known) => known.as_deref().map(str::to_owned),
                    None => {
                        let fresh = self.scrub(text);
                        if text.len() <= CACHED_FIELD_MAX {
                            if seen.len() >= CACHE_ENTRIES {
                                seen.clear();
                            }
                            seen.insert(text.as_str().into(), fresh.as_deref().map(Into::into));
                        }
                        fresh
                    }
                };
                if let Some(scrubbed) = scrubbed {
                    *text = scrubbed;
                    hits += 1;
                }
            });
        });
        hits
    }

    /// The scrubbed form of one field, or `None` when it is unchanged.
    fn scrub(&self, text: &str) -> Option<String> {
        let scrubbed = if text.contains('\n') {
            self.scrubber.scrub_text(text)
        } else {
            match self.scrubber.scrub_line(text) {
                std::borrow::Cow::Borrowed(_) => return None,
                std::borrow::Cow::Owned(s) => s,
            }
        };
        (scrubbed != text).then_some(scrubbed)
    }
}

/// Every scrubbed string field of `Execution` (all but `execution_id`; the
/// descriptor test below fails when a new string field is not listed).
fn execution_fields(e: &mut Execution, f: &mut dyn FnMut(&mut String)) {
    for s in [
        &mut e.mode,
        &mut e.command,
        &mut e.command_hash,
        &mut e.working_directory,
        &mut e.environment_vars,
        &mut e.pattern,
        &mut e.pattern_type,
        &mut e.exclude_patterns,
        &mut e.success_patterns,
        &mut e.match_mode,
        &mut e.fd_patterns,
        &mut e.monitored_fds,
        &mut e.exit_reason,
        &mut e.match_line_numbers,
        &mut e.project_type,
        &mut e.command_category,
        &mut e.telemetry_level,
        &mut e.earlyexit_version,
    ] {
        f(s);
    }
    for s in [&mut e.program, &mut e.error_message, &mut e.bundle_version]
        .into_iter()
        .flatten()
    {
        f(s);
    }
}

fn match_fields(m: &mut MatchEvent, f: &mut dyn FnMut(&mut String)) {
    for s in [
        &mut m.stream_source,
        &mut m.line_content,
        &mut m.matched_substring,
        &mut m.context_before,
        &mut m.context_after,
        &mut m.kind,
    ] {
        f(s);
    }
}

fn sample_fields(s: &mut OutputSample, f: &mut dyn FnMut(&mut String)) {
    for t in [
        &mut s.sample_type,
        &mut s.stream_source,
        &mut s.content,
        &mut s.content_hash,
    ] {
        f(t);
    }
}

fn metric_fields(p: &mut PerformanceMetric, f: &mut dyn FnMut(&mut String)) {
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
            shaping: None,
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
