//! Fitting a wire record into the record budget
//! ([`earlyexit_proto::MAX_RECORD_BYTES`]), so that the runs with the most
//! errors reach the collector instead of being refused for their size.
//!
//! What is kept, in order of value: the execution with every count (match
//! count, lines, bytes: they always describe the whole run), the first and
//! the last match events with their context, the output samples, the
//! events in between. What is cut is said in `RunRecord.shaping`:
//!
//! 1. every text field of a match event or sample longer than
//!    [`FIELD_CAP`] keeps its start and a note of how much was cut;
//! 2. `match_line_numbers` keeps its first numbers, up to
//!    [`LINE_NUMBERS_CAP`] bytes;
//! 3. match events are left out from the middle, keeping as many from both
//!    ends as fit;
//! 4. samples are left out from the end;
//! 5. a record still over the budget (an execution with enormous text
//!    fields) has those fields cut to [`FIELD_CAP`].
//!
//! Pure: no I/O, no privacy decisions (the record is already shaped for its
//! telemetry level when it gets here).

use earlyexit_proto::v1;
use prost::Message;

/// Bytes kept of one long text field (line, context, sample, command…).
/// 4 KiB: the agent records lines up to 4 KiB, so one line is cut only when
/// a context of several lines is longer than this.
pub const FIELD_CAP: usize = 4 * 1024;

/// Bytes kept of `match_line_numbers` (a JSON array): about 2,000 numbers.
pub const LINE_NUMBERS_CAP: usize = 16 * 1024;

/// Room left for the `shaping` message itself and the framing of the
/// repeated fields whose sizes are summed below.
const SHAPING_RESERVE: usize = 64;

/// Cuts `record` until it encodes in at most `budget` bytes; returns what
/// was cut (also stored in `record.shaping`), or `None` when it fit whole.
pub fn fit(record: &mut v1::RunRecord, budget: usize) -> Option<v1::Shaping> {
    let original = record.encoded_len();
    if original <= budget {
        return None;
    }
    let mut shaping = v1::Shaping {
        original_bytes: original as u64,
        ..v1::Shaping::default()
    };
    for m in &mut record.matches {
        for field in [
            &mut m.line_content,
            &mut m.matched_substring,
            &mut m.context_before,
            &mut m.context_after,
        ] {
            shaping.fields_truncated += u64::from(truncate(field, FIELD_CAP));
        }
    }
    for s in &mut record.samples {
        shaping.fields_truncated += u64::from(truncate(&mut s.content, FIELD_CAP));
    }
    if let Some(e) = record.execution.as_mut() {
        shaping.match_line_numbers_dropped =
            cap_line_numbers(&mut e.match_line_numbers, LINE_NUMBERS_CAP);
    }
    let budget = budget.saturating_sub(SHAPING_RESERVE);
    if record.encoded_len() > budget {
        let room = room_for_matches(record, budget);
        shaping.matches_dropped = keep_both_ends(&mut record.matches, room);
    }
    while record.encoded_len() > budget && !record.samples.is_empty() {
        record.samples.pop();
        shaping.samples_dropped += 1;
    }
    if record.encoded_len() > budget
        && let Some(e) = record.execution.as_mut()
    {
        for field in [
            &mut e.command,
            &mut e.working_directory,
            &mut e.environment_vars,
            &mut e.pattern,
            &mut e.exclude_patterns,
            &mut e.success_patterns,
            &mut e.fd_patterns,
        ] {
            shaping.fields_truncated += u64::from(truncate(field, FIELD_CAP));
        }
        if let Some(message) = e.error_message.as_mut() {
            shaping.fields_truncated += u64::from(truncate(message, FIELD_CAP));
        }
    }
    // Whatever is left over the budget now is in fields of bounded size
    // (ids, numbers, closed sets) or in the events: drop those last.
    while record.encoded_len() > budget && !record.matches.is_empty() {
        record.matches.remove(record.matches.len() / 2);
        shaping.matches_dropped += 1;
    }
    record.shaping = Some(shaping);
    Some(shaping)
}

/// Bytes the match events may take in all: the budget less everything else.
fn room_for_matches(record: &v1::RunRecord, budget: usize) -> usize {
    let without = v1::RunRecord {
        matches: Vec::new(),
        ..record.clone()
    };
    budget.saturating_sub(without.encoded_len())
}

/// Keeps the first and last events of `events` that fit in `room` bytes
/// (taking one from each end in turn), in their order; returns how many
/// were left out.
fn keep_both_ends(events: &mut Vec<v1::MatchEvent>, room: usize) -> u64 {
    let sizes: Vec<usize> = events.iter().map(entry_len).collect();
    let (mut head, mut tail) = (0, sizes.len());
    let mut used = 0;
    let mut from_front = true;
    while head < tail {
        let next = if from_front { head } else { tail - 1 };
        if used + sizes[next] > room {
            break;
        }
        used += sizes[next];
        if from_front {
            head += 1;
        } else {
            tail -= 1;
        }
        from_front = !from_front;
    }
    let dropped = tail - head;
    events.drain(head..tail);
    dropped as u64
}

/// Encoded bytes of one event as an entry of a repeated field.
fn entry_len(event: &v1::MatchEvent) -> usize {
    let len = event.encoded_len();
    1 + prost::encoding::encoded_len_varint(len as u64) + len
}

/// Cuts `text` to at most `cap` bytes (on a character boundary) followed by
/// a note of how many bytes were cut; true when it did.
fn truncate(text: &mut String, cap: usize) -> bool {
    if text.len() <= cap {
        return false;
    }
    let note = format!(" [… {} bytes cut]", text.len() - cap);
    let mut end = cap.saturating_sub(note.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(&note);
    true
}

/// Keeps the first numbers of the JSON array `numbers` that fit in `cap`
/// bytes; returns how many were left out. Anything that is not an array of
/// numbers is cut like any text field.
fn cap_line_numbers(numbers: &mut String, cap: usize) -> u64 {
    if numbers.len() <= cap {
        return 0;
    }
    let Ok(all) = serde_json::from_str::<Vec<i64>>(numbers) else {
        truncate(numbers, cap);
        return 0;
    };
    let mut kept = String::with_capacity(cap);
    kept.push('[');
    let mut count = 0;
    for n in &all {
        let item = if count == 0 {
            n.to_string()
        } else {
            format!(",{n}")
        };
        if kept.len() + item.len() + 1 > cap {
            break;
        }
        kept.push_str(&item);
        count += 1;
    }
    kept.push(']');
    *numbers = kept;
    (all.len() - count) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUDGET: usize = 64 * 1024;

    fn event(n: i64, line_bytes: usize) -> v1::MatchEvent {
        v1::MatchEvent {
            match_number: n,
            line_number: n * 10,
            line_content: format!("error {n}: {}", "x".repeat(line_bytes)),
            context_before: "before\n".repeat(3),
            context_after: "after\n".repeat(3),
            kind: "error".into(),
            ..v1::MatchEvent::default()
        }
    }

    fn record(events: usize, line_bytes: usize) -> v1::RunRecord {
        let numbers: Vec<i64> = (1..=events as i64).map(|n| n * 10).collect();
        v1::RunRecord {
            execution: Some(v1::Execution {
                execution_id: "run-1".into(),
                match_count: events as i64,
                total_lines_processed: 10 * events as i64,
                match_line_numbers: serde_json::to_string(&numbers).unwrap(),
                ..v1::Execution::default()
            }),
            matches: (1..=events as i64).map(|n| event(n, line_bytes)).collect(),
            samples: vec![v1::OutputSample {
                sample_type: "tail".into(),
                content: "last lines\n".repeat(100),
                ..v1::OutputSample::default()
            }],
            ..v1::RunRecord::default()
        }
    }

    #[test]
    fn a_record_within_the_budget_is_left_whole() {
        let mut r = record(3, 100);
        let before = r.clone();
        assert_eq!(fit(&mut r, BUDGET), None);
        assert_eq!(r, before);
    }

    #[test]
    fn a_big_record_keeps_its_counts_and_both_ends_and_says_what_was_cut() {
        let mut r = record(10_000, 200);
        let original = r.encoded_len();
        let shaping = fit(&mut r, BUDGET).unwrap();
        assert!(r.encoded_len() <= BUDGET, "{} > {BUDGET}", r.encoded_len());
        assert_eq!(r.shaping, Some(shaping));
        assert_eq!(shaping.original_bytes, original as u64);
        let e = r.execution.as_ref().unwrap();
        assert_eq!(e.match_count, 10_000, "counts describe the whole run");
        assert_eq!(e.total_lines_processed, 100_000);
        let kept = r.matches.len() as u64;
        assert!(kept >= 100, "kept {kept}");
        assert_eq!(kept + shaping.matches_dropped, 10_000);
        assert_eq!(r.matches.first().unwrap().match_number, 1);
        assert_eq!(r.matches.last().unwrap().match_number, 10_000);
        let numbers: Vec<i64> = serde_json::from_str(&e.match_line_numbers).unwrap();
        assert_eq!(numbers[0], 10);
        assert_eq!(
            numbers.len() as u64 + shaping.match_line_numbers_dropped,
            10_000
        );
        assert!(e.match_line_numbers.len() <= LINE_NUMBERS_CAP);
        assert_eq!(
            r.samples.len(),
            1,
            "the sample fits once the middle is gone"
        );
    }

    #[test]
    fn long_fields_keep_their_start_and_say_how_much_was_cut() {
        let mut r = record(40, 40_000);
        let shaping = fit(&mut r, BUDGET).unwrap();
        assert!(r.encoded_len() <= BUDGET);
        assert_eq!(shaping.fields_truncated, 40);
        let line = &r.matches[0].line_content;
        assert!(line.starts_with("error 1: xxx"), "{line}");
        assert!(line.ends_with("bytes cut]"), "{line}");
        assert!(line.len() <= FIELD_CAP);
    }

    #[test]
    fn an_enormous_execution_is_cut_too() {
        let mut r = record(1, 10);
        let e = r.execution.as_mut().unwrap();
        e.command = "é".repeat(100_000);
        e.environment_vars = "X".repeat(100_000);
        fit(&mut r, BUDGET).unwrap();
        assert!(r.encoded_len() <= BUDGET);
        let command = &r.execution.as_ref().unwrap().command;
        assert!(command.starts_with('é') && command.len() <= FIELD_CAP);
    }

    #[test]
    fn the_real_budget_holds_for_a_run_of_half_a_million_matches() {
        let mut r = record(500_000, 60);
        fit(&mut r, earlyexit_proto::MAX_RECORD_BYTES).unwrap();
        assert!(r.encoded_len() <= earlyexit_proto::MAX_RECORD_BYTES);
        assert!(r.matches.len() > 1000);
    }
}
