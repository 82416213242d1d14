//! One watched stream (the child's stdout, stderr, an extra fd, or our own
//! stdin in pipe mode): read it as bytes arrive, pass the bytes through
//! unchanged, count lines and bytes, find hits, keep match context and the
//! tail of the output.
//!
//! Each stream has its own thread that never stops reading until EOF, so a
//! child flooding a stream nobody matches on can never block. The hot path
//! does no per-line work: blocks of complete lines are searched whole
//! ([`crate::matcher::StreamMatcher::next_candidate`]) and only lines around
//! a candidate are looked at. Per-line work happens only when asked for
//! (`-n`, prefixes, colour, `-v`, `-P`, `--max-repeat`).
//!
//! This module never kills anything and never touches the database: it
//! reports to the run loop through [`Event`]s and the shared counters.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use crate::matcher::{Hit, HitKind, MATCH_LINE_CAP, StreamMatcher};
use crate::sys::Reaped;

/// Stack of a stream thread (its buffers live on the heap).
const STREAM_STACK: usize = 256 * 1024;

/// Bytes read per `read` call.
pub const READ_BUFFER: usize = 128 * 1024;

/// Lines of output tail kept per stream for the run record.
pub const TAIL_LINES: usize = 10;

/// Hits recorded in detail per stream; later hits are still counted.
pub const MAX_RECORDED_HITS: usize = 10_000;

/// Recorded lines (hits and context) are cut to this many bytes.
pub const RECORDED_LINE_CAP: usize = 4096;

const NONE: u64 = u64::MAX;

/// What the stream threads, the reaper and the signal thread tell the run loop.
#[derive(Debug)]
pub enum Event {
    /// A line hit a pattern.
    Hit {
        /// Index of the stream.
        stream: usize,
        /// Error or success.
        kind: HitKind,
        /// When the line was seen.
        at: Instant,
    },
    /// `--max-repeat`: the same line came this many times in a row.
    Stuck {
        /// Index of the stream.
        stream: usize,
        /// The repeated line.
        line: String,
    },
    /// `--delay-exit-after-lines` lines arrived after the first match.
    DelayLinesReached,
    /// The stream ended (EOF or read error).
    Eof {
        /// Index of the stream.
        stream: usize,
        /// The read error, if it ended on one.
        error: Option<String>,
    },
    /// The child process ended.
    ChildExited(Reaped),
    /// A termination signal reached earlyexit.
    Signal(i32),
}

/// State shared by all streams of one run and the run loop.
#[derive(Debug)]
pub struct Shared {
    /// The run's start.
    pub start: Instant,
    /// Where events go.
    pub events: Sender<Event>,
    last_output_ns: AtomicU64,
    first_output_ns: AtomicU64,
    idle_periods: AtomicU64,
    longest_idle_ns: AtomicU64,
    lines_total: AtomicU64,
    matching_stopped: AtomicBool,
    delay_line_target: AtomicU64,
    error_hits: AtomicU64,
    max_count: u64,
}

/// Output gaps at least this long count as idle periods.
const IDLE_PERIOD_NS: u64 = (crate::record::IDLE_PERIOD_SECS * 1e9) as u64;

impl Shared {
    /// New shared state for a run that started at `start` and stops after
    /// `max_count` error hits (0: never).
    pub fn new(start: Instant, events: Sender<Event>, max_count: u64) -> Self {
        Shared {
            start,
            events,
            last_output_ns: AtomicU64::new(NONE),
            first_output_ns: AtomicU64::new(NONE),
            idle_periods: AtomicU64::new(0),
            longest_idle_ns: AtomicU64::new(0),
            lines_total: AtomicU64::new(0),
            matching_stopped: AtomicBool::new(false),
            delay_line_target: AtomicU64::new(NONE),
            error_hits: AtomicU64::new(0),
            max_count,
        }
    }

    /// Error hits counted so far on all streams (at most `max_count` when
    /// that is not 0).
    pub fn error_hits(&self) -> u64 {
        let hits = self.error_hits.load(Ordering::Acquire);
        if self.max_count == 0 {
            hits
        } else {
            hits.min(self.max_count)
        }
    }

    /// Counts an error hit; true when the run loop must hear of it (the
    /// first hit, and the one that reaches `max_count`). The other hits are
    /// only counted, so a stream full of matches costs no wake-ups.
    fn count_error_hit(&self) -> bool {
        let n = self.error_hits.fetch_add(1, Ordering::AcqRel) + 1;
        n == 1 || n == self.max_count
    }

    fn note_output(&self) {
        let now = self.start.elapsed().as_nanos() as u64;
        let prev = self.last_output_ns.swap(now, Ordering::AcqRel);
        if prev == NONE {
            let _ = self.first_output_ns.compare_exchange(
                NONE,
                now,
                Ordering::AcqRel,
                Ordering::Acquire,
            );
        } else {
            self.note_gap(now.saturating_sub(prev));
        }
    }

    fn note_gap(&self, gap: u64) {
        if gap >= IDLE_PERIOD_NS {
            self.idle_periods.fetch_add(1, Ordering::Relaxed);
        }
        self.longest_idle_ns.fetch_max(gap, Ordering::Relaxed);
    }

    /// Time since start of the last output byte, if any came.
    pub fn last_output(&self) -> Option<std::time::Duration> {
        nanos(self.last_output_ns.load(Ordering::Acquire))
    }

    /// Time since start of the first output byte, if any came.
    pub fn first_output(&self) -> Option<std::time::Duration> {
        nanos(self.first_output_ns.load(Ordering::Acquire))
    }

    /// Idle periods so far and the longest gap, counting the gap from the
    /// last output to `end` (seconds since start).
    pub fn idle_stats(&self, end: std::time::Duration) -> (u64, f64) {
        let mut periods = self.idle_periods.load(Ordering::Relaxed);
        let mut longest = self.longest_idle_ns.load(Ordering::Relaxed);
        if let Some(last) = self.last_output() {
            let trailing = end.saturating_sub(last).as_nanos() as u64;
            if trailing >= IDLE_PERIOD_NS {
                periods += 1;
            }
            longest = longest.max(trailing);
        }
        (periods, longest as f64 / 1e9)
    }

    /// From now on, hits are neither recorded nor reported.
    pub fn stop_matching(&self) {
        self.matching_stopped.store(true, Ordering::Release);
    }

    /// Ask for one [`Event::DelayLinesReached`] once `lines` more lines arrived.
    pub fn notify_after_lines(&self, lines: u64) {
        let target = self
            .lines_total
            .load(Ordering::Acquire)
            .saturating_add(lines);
        self.delay_line_target.store(target, Ordering::Release);
    }

    fn add_lines(&self, lines: u64) {
        if lines == 0 {
            return;
        }
        let total = self.lines_total.fetch_add(lines, Ordering::AcqRel) + lines;
        let target = self.delay_line_target.load(Ordering::Acquire);
        if total >= target
            && self
                .delay_line_target
                .compare_exchange(target, NONE, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let _ = self.events.send(Event::DelayLinesReached);
        }
    }
}

fn nanos(value: u64) -> Option<std::time::Duration> {
    (value != NONE).then(|| std::time::Duration::from_nanos(value))
}

/// Where passed-through bytes go: our stdout or stderr. Shared by streams
/// writing to the same place so decorated lines don't interleave.
#[derive(Debug)]
pub struct Sink {
    file: Mutex<Option<File>>,
}

impl Sink {
    /// A sink writing to a duplicate of `fd` (1 or 2).
    pub fn new(file: File) -> Self {
        Sink {
            file: Mutex::new(Some(file)),
        }
    }

    /// Writes all of `bytes`. When the reader went away (EPIPE) or the write
    /// fails, pass-through to this sink stops; reading and matching go on.
    fn write(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut guard = lock(&self.file);
        if let Some(file) = guard.as_mut()
            && file.write_all(bytes).is_err()
        {
            *guard = None;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How to show one stream's lines when passing them through.
#[derive(Debug, Clone, Default)]
pub struct Decoration {
    /// A label before each line, e.g. `[stderr] `.
    pub prefix: Option<String>,
    /// `-n`: the line number before each line.
    pub line_numbers: bool,
    /// Highlight error-pattern matches.
    pub color: bool,
}

impl Decoration {
    fn is_plain(&self) -> bool {
        self.prefix.is_none() && !self.line_numbers && !self.color
    }
}

/// Everything one stream thread needs.
#[derive(Debug)]
pub struct StreamConfig {
    /// Index of this stream in the run.
    pub index: usize,
    /// `stdout`, `stderr`, `stdin`, `fd3`, ….
    pub name: String,
    /// The patterns for this stream (may have none).
    pub matcher: Arc<StreamMatcher>,
    /// Pass-through target; `None` with `-q`.
    pub sink: Option<Arc<Sink>>,
    /// How lines are shown.
    pub decoration: Decoration,
    /// `--max-repeat`.
    pub max_repeat: Option<u64>,
    /// Context lines recorded before each hit.
    pub context_before: usize,
    /// Context lines recorded after each hit.
    pub context_after: usize,
}

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

/// Starts the thread that drains `source`; the report fills in as it reads.
pub fn spawn(
    config: StreamConfig,
    source: File,
    shared: Arc<Shared>,
    report: Arc<Mutex<StreamReport>>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("watch-{}", config.name))
        .stack_size(STREAM_STACK)
        .spawn(move || {
            let mut reader = Reader::new(config, shared, report);
            reader.drain(source);
        })
}

struct Reader {
    config: StreamConfig,
    shared: Arc<Shared>,
    report: Arc<Mutex<StreamReport>>,
    /// Lines completed so far.
    line_no: u64,
    /// Bytes of the current unfinished line (capped at MATCH_LINE_CAP).
    partial: Vec<u8>,
    /// True when some of the current line was already read.
    mid_line: bool,
    /// True when some of the current line was already passed through
    /// (decorated output only).
    partial_written: bool,
    /// The last lines, for before-context and the tail.
    recent: VecDeque<Vec<u8>>,
    recent_cap: usize,
    /// Hits still collecting after-context: (index in report.hits, lines to go).
    pending_after: Vec<(usize, usize)>,
    last_line: Vec<u8>,
    repeats: u64,
    per_line: bool,
    out: Vec<u8>,
}

impl Reader {
    fn new(config: StreamConfig, shared: Arc<Shared>, report: Arc<Mutex<StreamReport>>) -> Self {
        let per_line = !config.decoration.is_plain()
            || !config.matcher.can_scan()
            || config.max_repeat.is_some();
        let recent_cap = config.context_before.max(TAIL_LINES);
        Reader {
            config,
            shared,
            report,
            line_no: 0,
            partial: Vec::new(),
            mid_line: false,
            partial_written: false,
            recent: VecDeque::with_capacity(recent_cap + 1),
            recent_cap,
            pending_after: Vec::new(),
            last_line: Vec::new(),
            repeats: 0,
            per_line,
            out: Vec::new(),
        }
    }

    fn drain(&mut self, mut source: File) {
        let mut buf = vec![0u8; READ_BUFFER];
        let error = loop {
            match source.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    self.shared.note_output();
                    self.chunk(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A pty master reads EIO once the last slave holder is gone.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        if self.mid_line {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, b"");
            self.shared.add_lines(1);
            self.flush_out();
        }
        {
            let mut report = lock(&self.report);
            report.lines = self.line_no;
            report.tail = self.tail();
            report.finished = true;
        }
        let _ = self.shared.events.send(Event::Eof {
            stream: self.config.index,
            error,
        });
    }

    /// One read's worth of bytes.
    fn chunk(&mut self, chunk: &[u8]) {
        if self.config.decoration.is_plain()
            && let Some(sink) = &self.config.sink
        {
            sink.write(chunk);
        }
        let lines_before = self.line_no;
        let mut pos = 0;
        if self.mid_line {
            match memchr::memchr(b'\n', chunk) {
                None => {
                    self.extend_partial(chunk);
                    self.out_partial(chunk);
                    self.finish_chunk(chunk.len() as u64, lines_before);
                    return;
                }
                Some(nl) => {
                    self.extend_partial(&chunk[..nl]);
                    let line = std::mem::take(&mut self.partial);
                    self.line(&line, &chunk[..=nl]);
                    self.partial = line;
                    self.partial.clear();
                    self.mid_line = false;
                    pos = nl + 1;
                }
            }
        }
        if let Some(last) = memchr::memrchr(b'\n', &chunk[pos..]) {
            let end = pos + last + 1;
            self.block(&chunk[pos..end]);
            pos = end;
        }
        let tail = &chunk[pos..];
        if !tail.is_empty() {
            self.mid_line = true;
            self.extend_partial(tail);
            self.out_partial(tail);
        }
        self.finish_chunk(chunk.len() as u64, lines_before);
    }

    fn finish_chunk(&mut self, bytes: u64, lines_before: u64) {
        self.flush_out();
        {
            let mut report = lock(&self.report);
            report.bytes += bytes;
            report.lines = self.line_no;
        }
        self.shared.add_lines(self.line_no - lines_before);
    }

    fn extend_partial(&mut self, bytes: &[u8]) {
        let room = MATCH_LINE_CAP.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Complete lines, each ending in `\n`.
    fn block(&mut self, block: &[u8]) {
        if !self.per_line {
            let mut cursor = self.lines_one_by_one_while_pending(block, 0);
            while cursor < block.len() {
                let Some(candidate) = self.config.matcher.next_candidate(block, cursor) else {
                    break;
                };
                let start = memchr::memrchr(b'\n', &block[cursor..candidate])
                    .map_or(cursor, |i| cursor + i + 1);
                let end = candidate
                    + memchr::memchr(b'\n', &block[candidate..])
                        .unwrap_or(block.len() - candidate - 1);
                self.skip_lines(&block[cursor..start]);
                self.line(&block[start..end], &block[start..=end]);
                cursor = self.lines_one_by_one_while_pending(block, end + 1);
            }
            self.skip_lines(&block[cursor..]);
        } else {
            for line in block.split_inclusive(|&b| b == b'\n') {
                self.line(&line[..line.len() - 1], line);
            }
        }
    }

    /// While hits still want after-context, handle lines individually.
    /// Returns where the fast scan may resume.
    fn lines_one_by_one_while_pending(&mut self, block: &[u8], mut cursor: usize) -> usize {
        while !self.pending_after.is_empty() && cursor < block.len() {
            let end = cursor
                + memchr::memchr(b'\n', &block[cursor..]).unwrap_or(block.len() - cursor - 1);
            self.line(&block[cursor..end], &block[cursor..=end]);
            cursor = end + 1;
        }
        cursor
    }

    /// Complete lines the fast path passes over: count them and remember
    /// the last few (for before-context and the tail) without looking at
    /// each one.
    fn skip_lines(&mut self, bytes: &[u8]) {
        self.line_no += memchr::memchr_iter(b'\n', bytes).count() as u64;
        let mut end = bytes.len();
        let mut last: Vec<&[u8]> = Vec::with_capacity(self.recent_cap);
        while end > 0 && last.len() < self.recent_cap {
            let body_end = end - 1; // drop the '\n'
            let start = memchr::memrchr(b'\n', &bytes[..body_end]).map_or(0, |i| i + 1);
            last.push(&bytes[start..body_end]);
            end = start;
        }
        for line in last.into_iter().rev() {
            self.push_recent(line);
        }
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

    /// One complete line (`line` without its `\n`; `raw` as it arrived in
    /// this chunk, for decorated output).
    fn line(&mut self, line: &[u8], raw: &[u8]) {
        self.line_no += 1;
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
        let hit = self.config.matcher.check_line(line);
        if let Some(hit) = hit {
            self.on_hit(hit, line);
        }
        if let Some(limit) = self.config.max_repeat {
            self.check_repeat(line, limit);
        }
        self.push_recent(line);
        if !self.config.decoration.is_plain() {
            self.out_line(line, raw, hit);
        }
    }

    fn on_hit(&mut self, hit: Hit, line: &[u8]) {
        if self.shared.matching_stopped.load(Ordering::Acquire) {
            return;
        }
        let at = Instant::now();
        {
            let mut report = lock(&self.report);
            if report.hits.len() < MAX_RECORDED_HITS {
                let before = self
                    .recent
                    .iter()
                    .skip(self.recent.len().saturating_sub(self.config.context_before))
                    .map(|l| recorded(l))
                    .collect();
                report.hits.push(RecordedHit {
                    kind: hit.kind,
                    at,
                    line_number: self.line_no,
                    line: recorded(line),
                    start: hit.start,
                    end: hit.end,
                    before,
                    after: Vec::new(),
                });
                if self.config.context_after > 0 {
                    self.pending_after
                        .push((report.hits.len() - 1, self.config.context_after));
                }
            } else {
                report.hits_dropped += 1;
            }
        }
        let tell = match hit.kind {
            HitKind::Error => self.shared.count_error_hit(),
            HitKind::Success => true,
        };
        if tell {
            let _ = self.shared.events.send(Event::Hit {
                stream: self.config.index,
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
                let _ = self.shared.events.send(Event::Stuck {
                    stream: self.config.index,
                    line: recorded(line),
                });
            }
        } else {
            self.last_line.clear();
            self.last_line.extend_from_slice(trimmed);
            self.repeats = 1;
        }
    }

    fn line_start_decoration(&mut self, line_number: u64) {
        if let Some(prefix) = &self.config.decoration.prefix {
            self.out.extend_from_slice(prefix.as_bytes());
        }
        if self.config.decoration.line_numbers {
            self.out
                .extend_from_slice(format!("{line_number}:").as_bytes());
        }
    }

    /// Decorated output of a partial line as it arrives.
    fn out_partial(&mut self, bytes: &[u8]) {
        if self.config.decoration.is_plain() || self.config.sink.is_none() {
            return;
        }
        if !self.partial_written {
            self.line_start_decoration(self.line_no + 1);
        }
        self.out.extend_from_slice(bytes);
        self.partial_written = true;
    }

    fn out_line(&mut self, line: &[u8], raw: &[u8], hit: Option<Hit>) {
        if self.config.sink.is_none() {
            return;
        }
        if self.partial_written {
            // The start of this line went out already, undecorated by colour.
            self.out.extend_from_slice(raw);
            self.partial_written = false;
            return;
        }
        self.line_start_decoration(self.line_no);
        let ranges = match hit {
            Some(h) if self.config.decoration.color && h.kind == HitKind::Error => {
                self.config.matcher.highlight_ranges(line)
            }
            _ => Vec::new(),
        };
        let mut at = 0;
        for (start, end) in ranges {
            if start < at || start == end {
                continue;
            }
            self.out.extend_from_slice(&line[at..start]);
            self.out.extend_from_slice(b"\x1b[1;31m");
            self.out.extend_from_slice(&line[start..end]);
            self.out.extend_from_slice(b"\x1b[0m");
            at = end;
        }
        self.out.extend_from_slice(&raw[at..]);
    }

    fn flush_out(&mut self) {
        if self.out.is_empty() {
            return;
        }
        if let Some(sink) = &self.config.sink {
            sink.write(&self.out);
        }
        self.out.clear();
    }

    fn tail(&self) -> Vec<String> {
        let mut tail: Vec<String> = self
            .recent
            .iter()
            .skip(self.recent.len().saturating_sub(TAIL_LINES))
            .map(|l| recorded(l))
            .collect();
        if self.mid_line && !self.partial.is_empty() {
            tail.push(recorded(&self.partial));
        }
        tail
    }
}

/// A line as stored: lossy UTF-8, capped at [`RECORDED_LINE_CAP`] bytes,
/// without a trailing `\r`.
fn recorded(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    String::from_utf8_lossy(&line[..line.len().min(RECORDED_LINE_CAP)]).into_owned()
}
