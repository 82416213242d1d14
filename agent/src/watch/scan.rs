//! The hot path of a stream: chunks of bytes as they were read become
//! lines, and each line that may hold a hit is given to the matcher. What
//! is done with the lines (recording hits and context, keeping the tail,
//! passing decorated output through) is a [`LineSink`]'s job, as ripgrep's
//! searcher leaves it to its `Sink`.
//!
//! With no per-line work asked for, a block of complete lines is searched
//! whole ([`StreamMatcher::next_candidate`]): only a line holding a
//! candidate is looked at, and the lines in between are handed over in one
//! piece ([`LineSink::passed_over`]). A line split across reads is
//! assembled (capped at [`MATCH_LINE_CAP`] for matching).
//!
//! This module owns no output, no counters and no channel; it never blocks.

use std::sync::Arc;

use crate::matcher::{Hit, MATCH_LINE_CAP, StreamMatcher};

/// What a [`LineScanner`] calls with the lines it finds.
pub trait LineSink {
    /// True while every complete line must come to [`LineSink::line`], even
    /// one that holds no candidate (a hit still collecting after-context).
    fn wants_each_line(&self) -> bool;

    /// One complete line, number `number` (from 1): `line` without its
    /// `\n` (a line assembled from several reads is capped at
    /// [`MATCH_LINE_CAP`]), `raw` the bytes of it that came in this chunk
    /// (with the `\n`; empty for an unterminated last line), and the hit
    /// the matcher found in it, if any.
    fn line(&mut self, number: u64, line: &[u8], raw: &[u8], hit: Option<Hit>);

    /// Complete lines passed over unread (each ends in `\n`; none holds a
    /// candidate). Called only on the fast path, never with nothing.
    fn passed_over(&mut self, lines: &[u8]);

    /// Part of the unfinished line `number` arrived.
    fn partial(&mut self, number: u64, bytes: &[u8]);
}

/// Splits one stream's chunks into lines for a [`LineSink`].
#[derive(Debug)]
pub struct LineScanner {
    matcher: Arc<StreamMatcher>,
    /// Look at every line (decorated output, `-v`, `-P`, `--max-repeat`);
    /// `None` until the first block, so a deferred matcher is not waited
    /// for before any output arrived.
    each_line: Option<bool>,
    /// Every line was asked for by the caller.
    each_line_asked: bool,
    /// Lines completed so far.
    line_no: u64,
    /// Bytes of the current unfinished line (capped at MATCH_LINE_CAP).
    partial: Vec<u8>,
    /// True when some of the current line was already read.
    mid_line: bool,
}

impl LineScanner {
    /// A scanner matching with `matcher`; `each_line` asks for every line
    /// to be looked at (also forced when the matcher cannot search blocks).
    pub fn new(matcher: Arc<StreamMatcher>, each_line: bool) -> Self {
        LineScanner {
            matcher,
            each_line: None,
            each_line_asked: each_line,
            line_no: 0,
            partial: Vec::new(),
            mid_line: false,
        }
    }

    /// Complete lines so far.
    pub fn lines(&self) -> u64 {
        self.line_no
    }

    /// One read's worth of bytes.
    pub fn chunk(&mut self, chunk: &[u8], sink: &mut impl LineSink) {
        let mut pos = 0;
        if self.mid_line {
            match memchr::memchr(b'\n', chunk) {
                None => {
                    self.extend_partial(chunk);
                    sink.partial(self.line_no + 1, chunk);
                    return;
                }
                Some(nl) => {
                    self.extend_partial(&chunk[..nl]);
                    let line = std::mem::take(&mut self.partial);
                    self.line(&line, &chunk[..=nl], sink);
                    // Keep the allocation for the next split line.
                    self.partial = line;
                    self.partial.clear();
                    self.mid_line = false;
                    pos = nl + 1;
                }
            }
        }
        if let Some(last) = memchr::memrchr(b'\n', &chunk[pos..]) {
            let end = pos + last + 1;
            self.block(&chunk[pos..end], sink);
            pos = end;
        }
        let tail = &chunk[pos..];
        if !tail.is_empty() {
            self.mid_line = true;
            self.extend_partial(tail);
            sink.partial(self.line_no + 1, tail);
        }
    }

    /// At the end of the stream: an unterminated last line becomes a line.
    /// True when there was one.
    pub fn finish(&mut self, sink: &mut impl LineSink) -> bool {
        if !self.mid_line {
            return false;
        }
        let line = std::mem::take(&mut self.partial);
        self.line(&line, b"", sink);
        self.mid_line = false;
        true
    }

    fn extend_partial(&mut self, bytes: &[u8]) {
        let room = MATCH_LINE_CAP.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn line(&mut self, line: &[u8], raw: &[u8], sink: &mut impl LineSink) {
        self.line_no += 1;
        let hit = self.matcher.check_line(line);
        sink.line(self.line_no, line, raw, hit);
    }

    /// Whether every line is looked at (also when the matcher cannot search
    /// blocks); decided on first use.
    fn each_line(&mut self) -> bool {
        match self.each_line {
            Some(v) => v,
            None => {
                let v = self.each_line_asked || !self.matcher.can_scan();
                self.each_line = Some(v);
                v
            }
        }
    }

    /// Complete lines, each ending in `\n`.
    fn block(&mut self, block: &[u8], sink: &mut impl LineSink) {
        if self.each_line() {
            for line in block.split_inclusive(|&b| b == b'\n') {
                self.line(&line[..line.len() - 1], line, sink);
            }
            return;
        }
        let mut cursor = self.lines_one_by_one_while_wanted(block, 0, sink);
        while cursor < block.len() {
            let Some(candidate) = self.matcher.next_candidate(block, cursor) else {
                break;
            };
            let start = memchr::memrchr(b'\n', &block[cursor..candidate])
                .map_or(cursor, |i| cursor + i + 1);
            let end = candidate
                + memchr::memchr(b'\n', &block[candidate..]).unwrap_or(block.len() - candidate - 1);
            self.pass_over(&block[cursor..start], sink);
            self.line(&block[start..end], &block[start..=end], sink);
            cursor = self.lines_one_by_one_while_wanted(block, end + 1, sink);
        }
        self.pass_over(&block[cursor..], sink);
    }

    /// While the sink wants every line, hands lines over one by one.
    /// Returns where the fast scan may resume.
    fn lines_one_by_one_while_wanted(
        &mut self,
        block: &[u8],
        mut cursor: usize,
        sink: &mut impl LineSink,
    ) -> usize {
        while sink.wants_each_line() && cursor < block.len() {
            let end = cursor
                + memchr::memchr(b'\n', &block[cursor..]).unwrap_or(block.len() - cursor - 1);
            self.line(&block[cursor..end], &block[cursor..=end], sink);
            cursor = end + 1;
        }
        cursor
    }

    /// Complete lines the fast path passes over: counted, not looked at.
    fn pass_over(&mut self, lines: &[u8], sink: &mut impl LineSink) {
        if lines.is_empty() {
            return;
        }
        self.line_no += memchr::memchr_iter(b'\n', lines).count() as u64;
        sink.passed_over(lines);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::{HitKind, MatchOptions, SourcedPattern};

    /// Everything a scanner told its sink, in order.
    #[derive(Debug, Default)]
    struct Calls {
        /// (number, line, raw, hit kind)
        lines: Vec<(u64, String, String, Option<HitKind>)>,
        passed_over: Vec<String>,
        partials: Vec<(u64, String)>,
        /// Lines still wanted one by one (after-context of a hit).
        want: usize,
    }

    impl LineSink for Calls {
        fn wants_each_line(&self) -> bool {
            self.want > 0
        }
        fn line(&mut self, number: u64, line: &[u8], raw: &[u8], hit: Option<Hit>) {
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            if self.want > 0 {
                self.want -= 1;
            }
            self.lines
                .push((number, text(line), text(raw), hit.map(|h| h.kind)));
        }
        fn passed_over(&mut self, lines: &[u8]) {
            assert!(!lines.is_empty());
            assert!(lines.ends_with(b"\n"));
            self.passed_over
                .push(String::from_utf8_lossy(lines).into_owned());
        }
        fn partial(&mut self, number: u64, bytes: &[u8]) {
            self.partials
                .push((number, String::from_utf8_lossy(bytes).into_owned()));
        }
    }

    fn scanner(errors: &str, success: &str, options: MatchOptions, each: bool) -> LineScanner {
        let p = |t: &str| -> Vec<SourcedPattern> {
            if t.is_empty() {
                Vec::new()
            } else {
                vec![SourcedPattern::new(t, "PATTERN")]
            }
        };
        let matcher = StreamMatcher::new(&p(errors), &p(success), &[], options).unwrap();
        LineScanner::new(Arc::new(matcher), each)
    }

    fn numbers(calls: &Calls) -> Vec<u64> {
        calls.lines.iter().map(|l| l.0).collect()
    }

    #[test]
    fn the_fast_path_looks_only_at_candidate_lines_and_passes_the_rest_over_whole() {
        let mut s = scanner("ERROR", "", MatchOptions::default(), false);
        let mut calls = Calls::default();
        s.chunk(b"a\nb\nan ERROR here\nc\nd\n", &mut calls);
        assert_eq!(
            calls.lines,
            [(
                3,
                "an ERROR here".into(),
                "an ERROR here\n".into(),
                Some(HitKind::Error)
            )]
        );
        assert_eq!(calls.passed_over, ["a\nb\n", "c\nd\n"]);
        assert_eq!(s.lines(), 5);
        assert!(calls.partials.is_empty());
    }

    #[test]
    fn a_block_with_no_candidate_is_one_pass_over_and_counts_every_line() {
        let mut s = scanner("ERROR", "", MatchOptions::default(), false);
        let mut calls = Calls::default();
        let block = "ok\n".repeat(1000);
        s.chunk(block.as_bytes(), &mut calls);
        assert!(calls.lines.is_empty());
        assert_eq!(calls.passed_over, [block]);
        assert_eq!(s.lines(), 1000);
    }

    #[test]
    fn a_line_split_across_reads_is_assembled_and_its_parts_reported_as_they_come() {
        let mut s = scanner("ERROR", "", MatchOptions::default(), false);
        let mut calls = Calls::default();
        s.chunk(b"first\nan ER", &mut calls);
        s.chunk(b"R", &mut calls);
        s.chunk(b"OR split\nnext", &mut calls);
        assert_eq!(calls.passed_over, ["first\n"]);
        assert_eq!(
            calls.partials,
            [(2, "an ER".into()), (2, "R".into()), (3, "next".into())]
        );
        assert_eq!(
            calls.lines,
            [(
                2,
                "an ERROR split".into(),
                "OR split\n".into(),
                Some(HitKind::Error)
            )]
        );
        assert_eq!(s.lines(), 2);
        // The unterminated last line is a line at the end, with no raw bytes.
        assert!(s.finish(&mut calls));
        assert_eq!(calls.lines[1], (3, "next".into(), String::new(), None));
        assert_eq!(s.lines(), 3);
        assert!(!s.finish(&mut calls), "only once");
    }

    #[test]
    fn a_stream_ending_on_a_newline_has_no_last_partial_line() {
        let mut s = scanner("x", "", MatchOptions::default(), false);
        let mut calls = Calls::default();
        s.chunk(b"a\n", &mut calls);
        assert!(!s.finish(&mut calls));
        assert_eq!(s.lines(), 1);
        assert!(calls.lines.is_empty());
    }

    #[test]
    fn lines_are_handed_over_one_by_one_while_the_sink_wants_them() {
        let mut s = scanner("ERROR", "", MatchOptions::default(), false);
        let mut calls = Calls {
            want: 2,
            ..Calls::default()
        };
        s.chunk(b"a\nb\nc\nd\nERROR\ne\n", &mut calls);
        assert_eq!(numbers(&calls), [1, 2, 5]);
        assert_eq!(calls.lines[0].3, None);
        assert_eq!(calls.passed_over, ["c\nd\n", "e\n"]);
        assert_eq!(s.lines(), 6);
    }

    #[test]
    fn every_line_is_looked_at_when_asked_or_when_the_matcher_cannot_scan_blocks() {
        let mut asked = scanner("ERROR", "", MatchOptions::default(), true);
        let mut calls = Calls::default();
        asked.chunk(b"a\nERROR\nb\n", &mut calls);
        assert_eq!(numbers(&calls), [1, 2, 3]);
        assert_eq!(calls.lines[1].3, Some(HitKind::Error));
        assert!(calls.passed_over.is_empty());

        // -v: a hit is a line that does not match; blocks cannot be searched.
        let invert = MatchOptions {
            invert: true,
            ..MatchOptions::default()
        };
        let mut inverted = scanner("ok", "", invert, false);
        let mut calls = Calls::default();
        inverted.chunk(b"ok\nbad\nok\n", &mut calls);
        let hits: Vec<_> = calls.lines.iter().map(|l| (l.0, l.3)).collect();
        assert_eq!(hits, [(1, None), (2, Some(HitKind::Error)), (3, None)]);
    }

    #[test]
    fn success_and_error_patterns_are_both_found_by_the_block_search() {
        let mut s = scanner("FAIL", "PASSED", MatchOptions::default(), false);
        let mut calls = Calls::default();
        s.chunk(b"x\nall PASSED\ny\none FAIL\n", &mut calls);
        let hits: Vec<_> = calls.lines.iter().map(|l| (l.0, l.3)).collect();
        assert_eq!(
            hits,
            [(2, Some(HitKind::Success)), (4, Some(HitKind::Error))]
        );
    }

    #[test]
    fn a_line_longer_than_the_cap_is_matched_on_its_capped_start_only() {
        let mut s = scanner("ERROR", "", MatchOptions::default(), false);
        let mut calls = Calls::default();
        let long = vec![b'a'; MATCH_LINE_CAP];
        s.chunk(&long, &mut calls);
        s.chunk(b"ERROR past the cap\n", &mut calls);
        // The line was assembled from two reads: what is matched is capped,
        // so the ERROR beyond the cap is not a hit.
        assert_eq!(calls.lines.len(), 1);
        assert_eq!(calls.lines[0].1.len(), MATCH_LINE_CAP);
        assert_eq!(calls.lines[0].3, None);
        assert_eq!(s.lines(), 1);
    }

    #[test]
    fn carriage_returns_and_invalid_utf8_pass_through_the_scan() {
        let mut s = scanner("ERROR", "", MatchOptions::default(), false);
        let mut calls = Calls::default();
        s.chunk(b"\xff\xfe\r\nERROR \xc3\r\n", &mut calls);
        assert_eq!(calls.lines.len(), 1);
        assert_eq!(calls.lines[0].0, 2);
        assert_eq!(calls.lines[0].3, Some(HitKind::Error));
        assert_eq!(calls.passed_over.len(), 1);
        assert_eq!(s.lines(), 2);
    }
}
