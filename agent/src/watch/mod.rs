//! One watched stream (the child's stdout, stderr, an extra fd, or our own
//! stdin in pipe mode): read it as bytes arrive, pass the bytes through
//! unchanged, count lines and bytes, find hits, keep match context and the
//! tail of the output.
//!
//! Each stream has its own thread that never stops reading until EOF, so a
//! child flooding a stream nobody matches on can never block. The parts:
//!
//! | module | owns |
//! |---|---|
//! | [`scan`] | the hot path: chunks into lines, the block search for candidates, calling a [`scan::LineSink`] |
//! | [`report`] | what is kept: hits with context, the tail, counts, `--max-repeat` |
//! | [`output`] | pass-through: plain, or with prefixes, line numbers and colour |
//! | [`progress`] | what all streams share with the run loop, and the events it hears |
//!
//! This module ties them together on the stream's thread. Per-line work
//! happens only when asked for (`-n`, prefixes, colour, `-v`, `-P`,
//! `--max-repeat`) or while a hit collects after-context. Nothing here
//! kills anything or touches the database: the run loop hears through
//! [`StreamEvent`]s and the [`RunProgress`].

pub mod output;
pub mod progress;
pub mod report;
pub mod scan;

use std::fs::File;
use std::io::{self, Read};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

pub use output::{Decoration, Destination};
pub use progress::{RunProgress, StreamEvent};
pub use report::{MAX_RECORDED_HITS, RECORDED_LINE_CAP, RecordedHit, StreamReport, TAIL_LINES};

use crate::matcher::{Hit, StreamMatcher};
use output::Passthrough;
use report::StreamRecorder;
use scan::{LineScanner, LineSink};

/// Stack of a stream thread (its buffers live on the heap).
const STREAM_STACK: usize = 256 * 1024;

/// Bytes read per `read` call.
pub const READ_BUFFER: usize = 128 * 1024;

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
    pub destination: Option<Arc<Destination>>,
    /// How lines are shown.
    pub decoration: Decoration,
    /// `--max-repeat`.
    pub max_repeat: Option<u64>,
    /// Context lines recorded before each hit.
    pub context_before: usize,
    /// Context lines recorded after each hit.
    pub context_after: usize,
    /// The false-positive filter; only `enforce` acts on the stream's thread.
    pub fp: Option<crate::learn::fp::FpFilter>,
}

/// Starts the thread that drains `source`; the report fills in as it reads.
pub fn spawn(
    config: StreamConfig,
    source: File,
    progress: Arc<RunProgress>,
    report: Arc<Mutex<StreamReport>>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("watch-{}", config.name))
        .stack_size(STREAM_STACK)
        .spawn(move || Stream::new(config, progress, report).drain(source))
}

/// A stream's lines go both to what is kept and to the pass-through.
struct Lines {
    recorder: StreamRecorder,
    passthrough: Passthrough,
}

impl LineSink for Lines {
    fn wants_each_line(&self) -> bool {
        self.recorder.collecting_context()
    }

    fn line(&mut self, number: u64, line: &[u8], raw: &[u8], hit: Option<Hit>) {
        self.recorder.line(number, line, hit);
        self.passthrough.line(number, line, raw, hit);
    }

    fn passed_over(&mut self, lines: &[u8]) {
        self.recorder.passed_over(lines);
    }

    fn partial(&mut self, number: u64, bytes: &[u8]) {
        self.passthrough.partial(number, bytes);
    }
}

/// One stream on its thread: the scanner and what it feeds.
struct Stream {
    progress: Arc<RunProgress>,
    scanner: LineScanner,
    lines: Lines,
}

impl Stream {
    fn new(
        config: StreamConfig,
        progress: Arc<RunProgress>,
        report: Arc<Mutex<StreamReport>>,
    ) -> Self {
        let recorder = StreamRecorder::new(
            config.index,
            report,
            progress.clone(),
            (config.context_before, config.context_after),
            config.max_repeat,
            config.fp,
        );
        let passthrough = Passthrough::new(
            config.destination,
            config.decoration,
            config.matcher.clone(),
        );
        let each_line = passthrough.decorated() || recorder.needs_each_line();
        Stream {
            progress,
            scanner: LineScanner::new(config.matcher, each_line),
            lines: Lines {
                recorder,
                passthrough,
            },
        }
    }

    fn drain(&mut self, mut source: File) {
        let mut buf = vec![0u8; READ_BUFFER];
        let error = loop {
            match source.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => {
                    self.progress.note_output();
                    self.chunk(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A pty master reads EIO once the last slave holder is gone.
                Err(e) if e.raw_os_error() == Some(libc::EIO) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        if self.scanner.finish(&mut self.lines) {
            self.progress.add_lines(1);
            self.lines.passthrough.flush();
        }
        self.lines.recorder.finish(self.scanner.lines(), error);
    }

    /// One read's worth of bytes.
    fn chunk(&mut self, chunk: &[u8]) {
        self.lines.passthrough.chunk(chunk);
        let lines_before = self.scanner.lines();
        self.scanner.chunk(chunk, &mut self.lines);
        self.lines.passthrough.flush();
        let lines = self.scanner.lines();
        self.lines
            .recorder
            .chunk_done(chunk.len() as u64, lines, lines - lines_before);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
