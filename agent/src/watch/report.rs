//! What one stream keeps for the run record, and tells the run loop: hits
//! (at most [`MAX_RECORDED_HITS`] in detail) with the lines before and
//! after them, the last [`TAIL_LINES`] lines, line and byte counts, and a
//! line repeated `--max-repeat` times.
//!
//! The [`StreamReport`] fills in as the stream is read, behind a mutex the
//! run loop takes at the end. This module never writes output.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::lock;
use super::progress::{RunProgress, StreamEvent};
use crate::matcher::{Hit, HitKind};

/// Lines of output tail kept per stream for the run record.
pub const TAIL_LINES: usize = 10;

/// Hits recorded in detail per stream; later hits are still counted.
pub const MAX_RECORDED_HITS: usize = 10_000;

/// Recorded lines (hits and context) are cut to this many bytes.
pub const RECORDED_LINE_CAP: usize = 4096;

/// A hit as recorded, with its context.
#[derive(Debug, Clone)]
pub struct RecordedHit {
    /// Error or success.
    pub kind: HitKind,
    /// When it was seen.
    pub at: Instant,
    /// 1-based line number in its stream.
    pub line_number: u64,
    /// The line (lossy UTF-8, capped).
    pub line: String,
    /// Match start in the line.
    pub start: usize,
    /// Match end in the line.
    pub end: usize,
    /// Lines before.
    pub before: Vec<String>,
    /// Lines after (as many as came before the run ended).
    pub after: Vec<String>,
    /// The line classifier's verdict, when the hit was scored as it came
    /// (`fp_filter: enforce`); `annotate` scores after the run.
    pub verdict: Option<crate::record::Verdict>,
    /// `fp_filter: enforce` ignored this error hit: it was not counted and
    /// the run loop never heard of it.
    pub suppressed: bool,
}

/// What one stream saw; read by the run loop at the end (the stream thread
/// may still be running if something outside our process group holds the
/// pipe open).
#[derive(Debug, Default)]
pub struct StreamReport {
    /// Complete lines, plus a final unterminated one.
    pub lines: u64,
    /// Bytes.
    pub bytes: u64,
    /// Hits recorded in detail (at most [`MAX_RECORDED_HITS`]).
    pub hits: Vec<RecordedHit>,
    /// Hits seen but not recorded in detail.
    pub hits_dropped: u64,
    /// The last [`TAIL_LINES`] lines.
    pub tail: Vec<String>,
    /// True once the stream reached EOF.
    pub finished: bool,
}

/// Fills one stream's [`StreamReport`] from the lines it is given.
pub(super) struct StreamRecorder {
    /// Index of the stream in the run.
    index: usize,
    report: Arc<Mutex<StreamReport>>,
    progress: Arc<RunProgress>,
    context_before: usize,
    context_after: usize,
    max_repeat: Option<u64>,
    /// The last lines, for before-context and the tail.
    recent: VecDeque<Vec<u8>>,
    recent_cap: usize,
    /// Hits still collecting after-context: (index in report.hits, lines to go).
    pending_after: Vec<(usize, usize)>,
    /// The last non-blank line (trimmed) and how often it came in a row.
    last_line: Vec<u8>,
    repeats: u64,
    /// `fp_filter: enforce`: error hits are scored as they come.
    fp: Option<crate::learn::fp::FpFilter>,
}

impl StreamRecorder {
    /// Records stream `index` into `report`, with `context_before` and
    /// `context_after` lines around each hit; `max_repeat` is `--max-repeat`.
    pub(super) fn new(
        index: usize,
        report: Arc<Mutex<StreamReport>>,
        progress: Arc<RunProgress>,
        (context_before, context_after): (usize, usize),
        max_repeat: Option<u64>,
        fp: Option<crate::learn::fp::FpFilter>,
    ) -> Self {
        let recent_cap = context_before.max(TAIL_LINES);
        StreamRecorder {
            index,
            report,
            progress,
            context_before,
            context_after,
            max_repeat,
            recent: VecDeque::with_capacity(recent_cap + 1),
            recent_cap,
            pending_after: Vec::new(),
            last_line: Vec::new(),
            repeats: 0,
            fp: fp.filter(|f| f.enforces()),
        }
    }

    /// True while every line must be seen: `--max-repeat` compares each
    /// line with the one before.
    pub(super) fn needs_each_line(&self) -> bool {
        self.max_repeat.is_some()
    }

    /// True while a hit still collects after-context.
    pub(super) fn collecting_context(&self) -> bool {
        !self.pending_after.is_empty()
    }

    /// One complete line, number `number`, with its hit.
    pub(super) fn line(&mut self, number: u64, line: &[u8], hit: Option<Hit>) {
        if !self.pending_after.is_empty() {
            let text = recorded(line);
            let mut report = lock(&self.report);
            self.pending_after.retain_mut(|(index, remaining)| {
                if let Some(hit) = report.hits.get_mut(*index) {
                    hit.after.push(text.clone());
                }
                *remaining -= 1;
                *remaining > 0
            });
        }
        if let Some(hit) = hit {
            self.on_hit(number, hit, line);
        }
        if let Some(limit) = self.max_repeat {
            self.check_repeat(line, limit);
        }
        self.push_recent(line);
    }

    /// Complete lines nobody looked at: only the last few are kept (for
    /// before-context and the tail).
    pub(super) fn passed_over(&mut self, lines: &[u8]) {
        let mut end = lines.len();
        let mut last: Vec<&[u8]> = Vec::with_capacity(self.recent_cap);
        while end > 0 && last.len() < self.recent_cap {
            let body_end = end - 1; // drop the '\n'
            let start = memchr::memrchr(b'\n', &lines[..body_end]).map_or(0, |i| i + 1);
            last.push(&lines[start..body_end]);
            end = start;
        }
        for line in last.into_iter().rev() {
            self.push_recent(line);
        }
    }

    /// After a chunk of `bytes` bytes: the counts so far (`lines` complete
    /// lines, `new_lines` of them in this chunk).
    pub(super) fn chunk_done(&self, bytes: u64, lines: u64, new_lines: u64) {
        {
            let mut report = lock(&self.report);
            report.bytes += bytes;
            report.lines = lines;
        }
        self.progress.add_lines(new_lines);
    }

    /// At the end of the stream (`lines` in all; `error` the read error it
    /// ended on): the report is complete and the run loop hears of it.
    pub(super) fn finish(&self, lines: u64, error: Option<String>) {
        {
            let mut report = lock(&self.report);
            report.lines = lines;
            report.tail = self.tail();
            report.finished = true;
        }
        self.progress.send(StreamEvent::Eof {
            stream: self.index,
            error,
        });
    }

    fn push_recent(&mut self, line: &[u8]) {
        let mut slot = if self.recent.len() >= self.recent_cap {
            self.recent.pop_front().unwrap_or_default()
        } else {
            Vec::new()
        };
        slot.clear();
        slot.extend_from_slice(&line[..line.len().min(RECORDED_LINE_CAP)]);
        self.recent.push_back(slot);
    }

    fn on_hit(&mut self, number: u64, hit: Hit, line: &[u8]) {
        if self.progress.matching_stopped() {
            return;
        }
        let at = Instant::now();
        // Only a line that hit is scored; the hot path never gets here.
        let verdict = match (&self.fp, hit.kind) {
            (Some(_), HitKind::Error) => {
                let text = recorded(line);
                let prev = self.recent.back().map(|l| recorded(l));
                Some(crate::learn::fp::score_line(&text, prev.as_deref()))
            }
            _ => None,
        };
        let suppressed = matches!((&self.fp, verdict), (Some(fp), Some(v)) if fp.suppresses(v));
        {
            let mut report = lock(&self.report);
            if report.hits.len() < MAX_RECORDED_HITS {
                let before = self
                    .recent
                    .iter()
                    .skip(self.recent.len().saturating_sub(self.context_before))
                    .map(|l| recorded(l))
                    .collect();
                report.hits.push(RecordedHit {
                    kind: hit.kind,
                    at,
                    line_number: number,
                    line: recorded(line),
                    start: hit.start,
                    end: hit.end,
                    before,
                    after: Vec::new(),
                    verdict,
                    suppressed,
                });
                if self.context_after > 0 {
                    self.pending_after
                        .push((report.hits.len() - 1, self.context_after));
                }
            } else {
                report.hits_dropped += 1;
            }
        }
        if suppressed {
            // Recorded with its context, never counted: the run goes on.
            return;
        }
        let tell = match hit.kind {
            HitKind::Error => self.progress.count_error_hit(),
            HitKind::Success => true,
        };
        if tell {
            self.progress.send(StreamEvent::Hit {
                stream: self.index,
                kind: hit.kind,
                at,
            });
        }
    }

    fn check_repeat(&mut self, line: &[u8], limit: u64) {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return;
        }
        if trimmed == self.last_line.as_slice() {
            self.repeats += 1;
            if self.repeats == limit {
                self.progress.send(StreamEvent::Stuck {
                    stream: self.index,
                    line: recorded(line),
                });
            }
        } else {
            self.last_line.clear();
            self.last_line.extend_from_slice(trimmed);
            self.repeats = 1;
        }
    }

    fn tail(&self) -> Vec<String> {
        self.recent
            .iter()
            .skip(self.recent.len().saturating_sub(TAIL_LINES))
            .map(|l| recorded(l))
            .collect()
    }
}

/// A line as stored: lossy UTF-8, capped at [`RECORDED_LINE_CAP`] bytes,
/// without a trailing `\r`.
fn recorded(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(&line[..line.len().min(RECORDED_LINE_CAP)]).into_owned()
}
