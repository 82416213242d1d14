//! What all streams of one run share with the run loop: when output came
//! (first, last, idle gaps), the lines read on all streams (for
//! `--delay-exit-after-lines`), the error hits counted (for `-m`), the
//! switch that stops matching, and the [`StreamEvent`]s the loop must hear.
//!
//! Lock-free: the stream threads update atomics on every read, and send an
//! event only when the loop must act. This module decides nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::matcher::HitKind;

/// What a stream thread tells the run loop.
#[derive(Debug)]
pub enum StreamEvent {
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
}

/// The value of the output times before any output came.
const NO_OUTPUT_YET: u64 = u64::MAX;

/// The value of the line target while none is set.
const NO_LINE_TARGET: u64 = u64::MAX;

/// Output gaps at least this long count as idle periods.
const IDLE_PERIOD_NS: u64 = (crate::record::IDLE_PERIOD_SECS * 1e9) as u64;

/// The progress of one run across all its streams (see the module docs).
pub struct RunProgress {
    /// The run's start.
    pub start: Instant,
    notify: Box<dyn Fn(StreamEvent) + Send + Sync>,
    /// Nanoseconds since start of the last output byte, or NO_OUTPUT_YET.
    last_output_ns: AtomicU64,
    /// Nanoseconds since start of the first output byte, or NO_OUTPUT_YET.
    first_output_ns: AtomicU64,
    idle_periods: AtomicU64,
    longest_idle_ns: AtomicU64,
    lines_total: AtomicU64,
    matching_stopped: AtomicBool,
    /// `lines_total` at which to send DelayLinesReached, or NO_LINE_TARGET.
    delay_line_target: AtomicU64,
    error_hits: AtomicU64,
    max_count: u64,
}

impl std::fmt::Debug for RunProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunProgress")
            .field("start", &self.start)
            .field("lines_total", &self.lines_total)
            .field("error_hits", &self.error_hits)
            .field("matching_stopped", &self.matching_stopped)
            .finish_non_exhaustive()
    }
}

impl RunProgress {
    /// The progress of a run that started at `start`, telling the run loop
    /// through `notify` and stopping after `max_count` error hits (0: never).
    pub fn new(
        start: Instant,
        notify: impl Fn(StreamEvent) + Send + Sync + 'static,
        max_count: u64,
    ) -> Self {
        RunProgress {
            start,
            notify: Box::new(notify),
            last_output_ns: AtomicU64::new(NO_OUTPUT_YET),
            first_output_ns: AtomicU64::new(NO_OUTPUT_YET),
            idle_periods: AtomicU64::new(0),
            longest_idle_ns: AtomicU64::new(0),
            lines_total: AtomicU64::new(0),
            matching_stopped: AtomicBool::new(false),
            delay_line_target: AtomicU64::new(NO_LINE_TARGET),
            error_hits: AtomicU64::new(0),
            max_count,
        }
    }

    /// Tells the run loop.
    pub(super) fn send(&self, event: StreamEvent) {
        (self.notify)(event);
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
    pub(super) fn count_error_hit(&self) -> bool {
        let n = self.error_hits.fetch_add(1, Ordering::AcqRel) + 1;
        n == 1 || n == self.max_count
    }

    /// Output arrived now.
    pub(super) fn note_output(&self) {
        let now = self.start.elapsed().as_nanos() as u64;
        let prev = self.last_output_ns.swap(now, Ordering::AcqRel);
        if prev == NO_OUTPUT_YET {
            let _ = self.first_output_ns.compare_exchange(
                NO_OUTPUT_YET,
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
    pub fn last_output(&self) -> Option<Duration> {
        since_start(self.last_output_ns.load(Ordering::Acquire))
    }

    /// Time since start of the first output byte, if any came.
    pub fn first_output(&self) -> Option<Duration> {
        since_start(self.first_output_ns.load(Ordering::Acquire))
    }

    /// Idle periods so far and the longest gap, counting the gap from the
    /// last output to `end` (seconds since start).
    pub fn idle_stats(&self, end: Duration) -> (u64, f64) {
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

    /// Whether [`RunProgress::stop_matching`] was called.
    pub(super) fn matching_stopped(&self) -> bool {
        self.matching_stopped.load(Ordering::Acquire)
    }

    /// Ask for one [`StreamEvent::DelayLinesReached`] once `lines` more
    /// lines arrived.
    pub fn notify_after_lines(&self, lines: u64) {
        let target = self
            .lines_total
            .load(Ordering::Acquire)
            .saturating_add(lines);
        self.delay_line_target.store(target, Ordering::Release);
    }

    /// `lines` more lines were read on some stream.
    pub(super) fn add_lines(&self, lines: u64) {
        if lines == 0 {
            return;
        }
        let total = self.lines_total.fetch_add(lines, Ordering::AcqRel) + lines;
        let target = self.delay_line_target.load(Ordering::Acquire);
        if total >= target
            && self
                .delay_line_target
                .compare_exchange(target, NO_LINE_TARGET, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.send(StreamEvent::DelayLinesReached);
        }
    }
}

fn since_start(nanos: u64) -> Option<Duration> {
    (nanos != NO_OUTPUT_YET).then(|| Duration::from_nanos(nanos))
}
