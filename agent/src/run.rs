//! One run: start the command (or read stdin in pipe mode), start a thread
//! per stream, and decide when to stop — on a match after the delay, on a
//! success pattern, on any timeout, on a stuck line, on a signal — then stop
//! the whole process group and collect what every stream saw.
//!
//! The loop here only reacts to [`Event`]s and deadlines; it does no I/O of
//! its own on the streams. Building the telemetry record and printing the
//! summary are `report`'s job.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::matcher::{HitKind, MatchOptions, PatternError, SourcedPattern, StreamMatcher};
use crate::record::ExitReason;
use crate::supervise::{self, GroupEvent, GroupGuard, SpawnSpec, Termination};
use crate::sys::{self, Reaped};
use crate::watch::{
    self, Decoration, Destination, RunProgress, StreamConfig, StreamEvent, StreamReport,
};

/// After the command exits, how long to keep reading streams that something
/// else (a background grandchild) still holds open before stopping the rest
/// of the group.
pub const EOF_GRACE_AFTER_EXIT: Duration = Duration::from_millis(500);

/// A run still going after this long is a long run: `execute` calls its
/// `on_long_run` hook (the caller starts opening the database then, so
/// short runs never pay for it).
pub const LONG_RUN: Duration = Duration::from_millis(10);

/// After the group is stopped, how long to wait for the streams to close.
pub const DRAIN_AFTER_STOP: Duration = Duration::from_millis(500);

/// Which standard streams the main pattern(s) watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMode {
    /// stdout only (default).
    Stdout,
    /// `--stderr`.
    Stderr,
    /// `--both`.
    Both,
}

impl MatchMode {
    /// `stdout`, `stderr` or `both`.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchMode::Stdout => "stdout",
            MatchMode::Stderr => "stderr",
            MatchMode::Both => "both",
        }
    }
}

/// Everything supervising a run needs, resolved from flags and config
/// (where its record goes is `lifecycle`'s `TelemetryPlan`, never given to the loop).
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The command; empty in pipe mode.
    pub argv: Vec<String>,
    /// Error patterns for the watched streams.
    pub patterns: Vec<SourcedPattern>,
    /// `--success-pattern`.
    pub success: Vec<SourcedPattern>,
    /// `--exclude`.
    pub exclude: Vec<SourcedPattern>,
    /// `--fd-pattern N PAT`: replaces the main pattern on stream N (1 = stdout, 2 = stderr).
    pub fd_patterns: BTreeMap<i32, Vec<SourcedPattern>>,
    /// Pattern flags.
    pub options: MatchOptions,
    /// The compiled patterns of each stream the run reads, by descriptor
    /// (1 = stdout, or stdin in pipe mode; 2 = stderr; 3 and up = `--fd`),
    /// from [`RunPlan::compile_matchers`]: compiled while planning, so a bad
    /// pattern is a usage error before anything starts.
    pub matchers: BTreeMap<i32, Arc<StreamMatcher>>,
    /// Which standard streams the main patterns watch.
    pub match_mode: MatchMode,
    /// `--fd N` (and every N >= 3 of `--fd-pattern`).
    pub extra_fds: Vec<i32>,
    /// `--fd-prefix`.
    pub prefix: bool,
    /// `-n`.
    pub line_numbers: bool,
    /// Highlight matches (colour resolved against the terminal).
    pub color: bool,
    /// `-q`.
    pub quiet: bool,
    /// Context lines printed before each match in the summary (`-B`/`-C`).
    pub print_before: usize,
    /// Context lines printed after each match in the summary (`-A`/`-C`).
    pub print_after: usize,
    /// `--pty`.
    pub pty: bool,
    /// `-t`.
    pub timeout: Option<Duration>,
    /// `-I`.
    pub idle_timeout: Option<Duration>,
    /// `--first-output-timeout`.
    pub first_output_timeout: Option<Duration>,
    /// `--delay-exit` in effect.
    pub delay_exit: Duration,
    /// `--delay-exit-after-lines`.
    pub delay_exit_after_lines: Option<u64>,
    /// `--max-repeat`.
    pub max_repeat: Option<u64>,
    /// `--kill-grace`.
    pub kill_grace: Duration,
    /// `-m`; 0 = no limit (never stop early on a match).
    pub max_count: u64,
    /// `--unix-exit-codes`.
    pub unix_exit_codes: bool,
    /// `--json`.
    pub json: bool,
    /// The false-positive filter (`fp_filter`, `fp_threshold`).
    pub fp: crate::learn::fp::FpFilter,
    /// Compile the patterns on first use, on the stream's thread when
    /// output arrives (`--auto` with the built-in library's pattern, known
    /// to compile): see [`StreamMatcher::deferred`].
    pub defer_compile: bool,
}

impl RunPlan {
    /// True in command mode, false in pipe mode.
    pub fn command_mode(&self) -> bool {
        !self.argv.is_empty()
    }

    /// Context lines recorded per match (at least 3, more when printing more).
    pub fn record_before(&self) -> usize {
        self.print_before.max(crate::record::MATCH_CONTEXT_LINES)
    }

    /// See [`Self::record_before`].
    pub fn record_after(&self) -> usize {
        self.print_after.max(crate::record::MATCH_CONTEXT_LINES)
    }

    /// The patterns watching stream `fd` (1 stdout / stdin, 2 stderr, N extra).
    /// Compiles the patterns of every stream this plan reads; the first
    /// pattern that does not compile is the error, naming its flag.
    pub fn compile_matchers(&self) -> Result<BTreeMap<i32, Arc<StreamMatcher>>, PatternError> {
        let fds: Vec<i32> = if self.command_mode() {
            [1, 2]
                .into_iter()
                .chain(self.extra_fds.iter().copied())
                .collect()
        } else {
            vec![1]
        };
        fds.into_iter()
            .map(|fd| Ok((fd, Arc::new(self.matcher_for(fd)?))))
            .collect()
    }

    fn matcher_for(&self, fd: i32) -> Result<StreamMatcher, PatternError> {
        let success: &[SourcedPattern] = if self.stream_watched(fd) {
            &self.success
        } else {
            &[]
        };
        if self.defer_compile {
            return Ok(StreamMatcher::deferred(
                self.patterns_for(fd),
                success,
                &self.exclude,
                self.options,
            ));
        }
        StreamMatcher::new(self.patterns_for(fd), success, &self.exclude, self.options)
    }

    fn patterns_for(&self, fd: i32) -> &[SourcedPattern] {
        if let Some(own) = self.fd_patterns.get(&fd) {
            return own;
        }
        let watched = match fd {
            1 => self.match_mode != MatchMode::Stderr,
            2 => self.match_mode != MatchMode::Stdout,
            _ => true,
        };
        if watched { &self.patterns } else { &[] }
    }

    fn stream_watched(&self, fd: i32) -> bool {
        self.fd_patterns.contains_key(&fd)
            || match fd {
                1 => self.match_mode != MatchMode::Stderr,
                2 => self.match_mode != MatchMode::Stdout,
                _ => true,
            }
    }
}

/// What the run loop reacts to: the stream threads' [`StreamEvent`]s and
/// the signal thread's [`GroupEvent`]s, on one channel.
#[derive(Debug)]
pub enum Event {
    /// From a stream thread: a hit, a stuck line, the delay's lines, EOF.
    Stream(StreamEvent),
    /// From the signal thread: the child's end, a signal to earlyexit.
    Group(GroupEvent),
}

impl From<StreamEvent> for Event {
    fn from(event: StreamEvent) -> Self {
        Event::Stream(event)
    }
}

impl From<GroupEvent> for Event {
    fn from(event: GroupEvent) -> Self {
        Event::Group(event)
    }
}

/// What one stream saw.
#[derive(Debug)]
pub struct StreamOutcome {
    /// `stdout`, `stderr`, `stdin`, `fdN`.
    pub name: String,
    /// Lines, bytes, hits and tail.
    pub report: StreamReport,
}

/// How a run ended and what it saw; `report` turns this into the record,
/// the summary and the exit code.
#[derive(Debug)]
pub struct Outcome {
    /// Wall-clock start.
    pub started_at: SystemTime,
    /// Monotonic start.
    pub start: Instant,
    /// When the run ended (after the group was stopped and streams drained).
    pub end: Instant,
    /// Why it ended.
    pub reason: ExitReason,
    /// Details for the summary (which timeout, which signal, the error).
    pub detail: Option<String>,
    /// The signal that interrupted earlyexit, for `interrupted`.
    pub signal: Option<i32>,
    /// The child's end, when it was reaped.
    pub child: Option<Reaped>,
    /// Counted error matches (at most `max_count` when it is not 0).
    pub error_matches: u64,
    /// When the first counted match came.
    pub first_match_at: Option<Instant>,
    /// First output byte, since start.
    pub first_output: Option<Duration>,
    /// Idle periods and the longest gap (seconds).
    pub idle: (u64, f64),
    /// Per stream, in order.
    pub streams: Vec<StreamOutcome>,
    /// How stopping the group went, when it was stopped.
    pub termination: Option<Termination>,
    /// Where the run happened (gathered while the command starts).
    pub context: Option<crate::context::RunContext>,
}

impl Outcome {
    /// The outcome of a run that could not start (or be watched): reason
    /// `error`, with `detail` saying why, ended now.
    fn not_started(mut self, detail: String) -> Outcome {
        self.detail = Some(detail);
        self.end = Instant::now();
        self
    }
}

/// Runs `plan` to its end. Never panics on a child's behaviour; errors
/// starting the command come back as an outcome with reason `error`.
///
/// `on_long_run` is called once, from the run loop, when the run has lasted
/// [`LONG_RUN`]; never for a run that ends sooner.
pub fn execute(plan: &RunPlan, on_long_run: impl FnOnce()) -> Outcome {
    let start = Instant::now();
    let started_at = SystemTime::now();
    let (tx, rx) = mpsc::channel();
    let notify = tx.clone();
    let progress = Arc::new(RunProgress::new(
        start,
        move |event| {
            let _ = notify.send(Event::from(event));
        },
        plan.max_count,
    ));
    let mut outcome = Outcome {
        started_at,
        start,
        end: start,
        reason: ExitReason::Error,
        detail: None,
        signal: None,
        child: None,
        error_matches: 0,
        first_match_at: None,
        first_output: None,
        idle: (0, 0.0),
        streams: Vec::new(),
        termination: None,
        context: None,
    };
    let signals = match supervise::SignalThread::start(tx.clone()) {
        Ok(signals) => signals,
        Err(e) => {
            return outcome.not_started(format!("cannot install signal handlers: {e}"));
        }
    };

    let (sources, mut guard, pid) = if plan.command_mode() {
        // Orphans of the command are re-parented to us and reaped, not to init.
        let _ = sys::become_subreaper();
        let spec = SpawnSpec {
            argv: plan.argv.clone(),
            extra_fds: plan.extra_fds.clone(),
            pty: plan.pty,
        };
        match supervise::spawn(&spec) {
            Ok(spawned) => {
                let guard = GroupGuard::new(spawned.pid);
                signals.watch_child(spawned.pid);
                (spawned.streams, Some(guard), Some(spawned.pid))
            }
            Err(e) => {
                return outcome.not_started(e.to_string());
            }
        }
    } else {
        match std::io::stdin().as_fd().try_clone_to_owned() {
            Ok(fd) => (vec![("stdin".to_string(), File::from(fd))], None, None),
            Err(e) => {
                return outcome.not_started(format!("cannot read standard input: {e}"));
            }
        }
    };
    drop(tx);

    let reports = match start_streams(plan, sources, &progress) {
        Ok(reports) => reports,
        Err(e) => {
            if let Some(pid) = pid {
                outcome.termination = Some(supervise::terminate_group(pid, plan.kill_grace));
            }
            return outcome.not_started(format!("cannot watch the command's output: {e}"));
        }
    };

    // The run loop has nothing to do until the first event: gather the
    // run's context now, while the command starts, not after it ends.
    outcome.context = Some(crate::context::RunContext::gather(&plan.argv));
    let mut state = LoopState::new(plan, reports.len(), pid.is_some());
    state.long_run_hook = Some(Box::new(on_long_run));
    state.run(plan, &progress, &rx);
    state.error_matches = state.error_matches.max(progress.error_hits());
    outcome.reason = state.reason.unwrap_or(ExitReason::Error);
    outcome.detail = state.detail.take();
    outcome.signal = state.signal;
    outcome.error_matches = state.error_matches;
    outcome.first_match_at = state.first_match_at;

    if let Some(pid) = pid {
        let termination = supervise::terminate_group(pid, plan.kill_grace);
        if !termination.survived
            && let Some(guard) = guard.as_mut()
        {
            guard.disarm();
        }
        if termination.term_sent {
            outcome.termination = Some(termination);
        }
        state.drain(&rx, DRAIN_AFTER_STOP);
    }
    outcome.child = state.child;
    outcome.end = Instant::now();
    outcome.first_output = progress.first_output();
    outcome.idle = progress.idle_stats(outcome.end - start);
    outcome.streams = reports
        .into_iter()
        .map(|(name, report)| StreamOutcome {
            name,
            report: std::mem::take(&mut *report.lock().unwrap_or_else(|p| p.into_inner())),
        })
        .collect();
    outcome
}

type Reports = Vec<(String, Arc<Mutex<StreamReport>>)>;

fn start_streams(
    plan: &RunPlan,
    sources: Vec<(String, File)>,
    progress: &Arc<RunProgress>,
) -> std::io::Result<Reports> {
    let stdout = Arc::new(Destination::new(File::from(
        std::io::stdout().as_fd().try_clone_to_owned()?,
    )));
    let stderr = Arc::new(Destination::new(File::from(
        std::io::stderr().as_fd().try_clone_to_owned()?,
    )));
    let mut reports = Vec::new();
    for (index, (name, source)) in sources.into_iter().enumerate() {
        let fd = match name.as_str() {
            "stdout" | "stdin" => 1,
            "stderr" => 2,
            other => other.trim_start_matches("fd").parse().unwrap_or(0),
        };
        let matcher = match plan.matchers.get(&fd) {
            Some(matcher) => matcher.clone(),
            // A plan made without `compile_matchers` (the CLI always calls it).
            None => Arc::new(plan.matcher_for(fd).map_err(std::io::Error::other)?),
        };
        let destination = match (plan.quiet, fd) {
            (true, _) => None,
            (false, 1) => Some(stdout.clone()),
            (false, _) => Some(stderr.clone()),
        };
        let decoration = Decoration {
            prefix: plan.prefix.then(|| format!("[{name}] ")),
            line_numbers: plan.line_numbers,
            color: plan.color,
        };
        let report = Arc::new(Mutex::new(StreamReport::default()));
        let config = StreamConfig {
            index,
            name: name.clone(),
            matcher,
            destination,
            decoration,
            max_repeat: plan.max_repeat,
            context_before: plan.record_before(),
            context_after: plan.record_after(),
            fp: Some(plan.fp),
        };
        watch::spawn(config, source, progress.clone(), report.clone())?;
        reports.push((name, report));
    }
    Ok(reports)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Running,
    /// Counting is over; reading on for context until this instant.
    Delay(Instant),
}

struct LoopState<'h> {
    long_run_hook: Option<Box<dyn FnOnce() + 'h>>,
    phase: Phase,
    open_streams: usize,
    child_running: bool,
    child: Option<Reaped>,
    child_exit_at: Option<Instant>,
    error_matches: u64,
    first_match_at: Option<Instant>,
    reason: Option<ExitReason>,
    detail: Option<String>,
    signal: Option<i32>,
    max_count: u64,
}

/// Which deadline is next.
#[derive(Debug, Clone, Copy)]
enum Deadline {
    Overall,
    Idle,
    FirstOutput,
    DelayEnd,
    EofGrace,
    LongRun,
}

impl<'h> LoopState<'h> {
    fn new(plan: &RunPlan, streams: usize, has_child: bool) -> Self {
        LoopState {
            long_run_hook: None,
            phase: Phase::Running,
            open_streams: streams,
            child_running: has_child,
            child: None,
            child_exit_at: None,
            error_matches: 0,
            first_match_at: None,
            reason: None,
            detail: None,
            signal: None,
            max_count: plan.max_count,
        }
    }

    fn next_deadline(&self, plan: &RunPlan, progress: &RunProgress) -> Option<(Instant, Deadline)> {
        let start = progress.start;
        let mut candidates: Vec<(Instant, Deadline)> = Vec::with_capacity(6);
        if self.long_run_hook.is_some() {
            candidates.push((start + LONG_RUN, Deadline::LongRun));
        }
        if let Phase::Delay(until) = self.phase {
            candidates.push((until, Deadline::DelayEnd));
        }
        if let Some(t) = plan.timeout {
            candidates.push((start + t, Deadline::Overall));
        }
        if let Some(t) = plan.idle_timeout {
            candidates.push((
                start + progress.last_output().unwrap_or_default() + t,
                Deadline::Idle,
            ));
        }
        if let Some(t) = plan.first_output_timeout
            && progress.first_output().is_none()
        {
            candidates.push((start + t, Deadline::FirstOutput));
        }
        if let Some(at) = self.child_exit_at
            && self.open_streams > 0
        {
            candidates.push((at + EOF_GRACE_AFTER_EXIT, Deadline::EofGrace));
        }
        candidates.into_iter().min_by_key(|(at, _)| *at)
    }

    fn run(&mut self, plan: &RunPlan, progress: &RunProgress, rx: &Receiver<Event>) {
        while self.reason.is_none() {
            if !self.child_running && self.open_streams == 0 {
                self.finish_normally();
                break;
            }
            // Deadlines move (output pushes the idle deadline back), so they
            // are recomputed from fresh state on every turn.
            let next = self.next_deadline(plan, progress);
            let event = match next {
                Some((at, which)) => {
                    let now = Instant::now();
                    if at <= now {
                        self.on_deadline(which, plan);
                        continue;
                    }
                    rx.recv_timeout(at - now)
                }
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match event {
                Ok(event) => self.on_event(event, plan, progress),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Every sender is gone: nothing more can happen.
                    self.finish_normally();
                }
            }
        }
    }

    fn finish_normally(&mut self) {
        self.reason = Some(if self.error_matches > 0 {
            ExitReason::Match
        } else {
            ExitReason::Completed
        });
    }

    fn on_event(&mut self, event: Event, plan: &RunPlan, progress: &RunProgress) {
        match event {
            Event::Stream(StreamEvent::Hit { kind, at, .. }) => {
                if self.phase != Phase::Running {
                    return;
                }
                match kind {
                    HitKind::Error => {
                        self.error_matches = progress.error_hits();
                        self.first_match_at.get_or_insert(at);
                        if self.max_count > 0 && self.error_matches >= self.max_count {
                            progress.stop_matching();
                            if plan.delay_exit.is_zero() {
                                self.reason = Some(ExitReason::Match);
                            } else {
                                self.phase = Phase::Delay(at + plan.delay_exit);
                                if let Some(lines) = plan.delay_exit_after_lines {
                                    progress.notify_after_lines(lines);
                                }
                            }
                        }
                    }
                    HitKind::Success => {
                        progress.stop_matching();
                        self.reason = Some(ExitReason::SuccessPattern);
                    }
                }
            }
            Event::Stream(StreamEvent::Stuck { stream, line }) => {
                if self.phase == Phase::Running {
                    let _ = stream;
                    self.detail = Some(format!(
                        "the same line came {} times in a row: {line}",
                        plan.max_repeat.unwrap_or_default()
                    ));
                    self.reason = Some(ExitReason::Stuck);
                }
            }
            Event::Stream(StreamEvent::DelayLinesReached) => {
                if matches!(self.phase, Phase::Delay(_)) {
                    self.reason = Some(ExitReason::Match);
                }
            }
            Event::Stream(StreamEvent::Eof { .. }) => {
                self.open_streams = self.open_streams.saturating_sub(1)
            }
            Event::Group(GroupEvent::ChildExited(reaped)) => {
                self.child = Some(reaped);
                self.child_running = false;
                self.child_exit_at = Some(Instant::now());
            }
            Event::Group(GroupEvent::Signal(signal)) => {
                self.signal = Some(signal);
                self.detail = Some(format!("received {}", signal_name(signal)));
                self.reason = Some(ExitReason::Interrupted);
            }
        }
    }

    fn on_deadline(&mut self, which: Deadline, plan: &RunPlan) {
        if let Deadline::LongRun = which {
            if let Some(hook) = self.long_run_hook.take() {
                hook();
            }
            return;
        }
        // Once a match is being delayed for context, any deadline just ends
        // the delay: the run is a match.
        if matches!(self.phase, Phase::Delay(_)) {
            self.reason = Some(ExitReason::Match);
            return;
        }
        let show = |d: Option<Duration>| crate::duration::format_duration(d.unwrap_or_default());
        let (reason, detail) = match which {
            Deadline::Overall => (
                ExitReason::TimeoutOverall,
                format!("timeout: still running after {}", show(plan.timeout)),
            ),
            Deadline::Idle => (
                ExitReason::TimeoutIdle,
                format!("idle timeout: no output for {}", show(plan.idle_timeout)),
            ),
            Deadline::FirstOutput => (
                ExitReason::TimeoutFirstOutput,
                format!(
                    "first-output timeout: no output within {}",
                    show(plan.first_output_timeout)
                ),
            ),
            Deadline::DelayEnd => (ExitReason::Match, String::new()),
            Deadline::LongRun => unreachable!("handled above"),
            Deadline::EofGrace => {
                // The command is done; what still holds its output open is
                // left over from it and is stopped with the group.
                self.finish_normally();
                return;
            }
        };
        self.reason = Some(reason);
        if !detail.is_empty() {
            self.detail = Some(detail);
        }
    }

    /// After the group was stopped: take the remaining EOFs and the child's
    /// exit, for at most `limit`.
    fn drain(&mut self, rx: &Receiver<Event>, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.open_streams > 0 || self.child_running {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match rx.recv_timeout(deadline - now) {
                Ok(Event::Stream(StreamEvent::Eof { .. })) => {
                    self.open_streams = self.open_streams.saturating_sub(1)
                }
                Ok(Event::Group(GroupEvent::ChildExited(reaped))) => {
                    self.child = Some(reaped);
                    self.child_running = false;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
}

/// `SIGINT`, `SIGTERM`, … for messages.
pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGPIPE => "SIGPIPE".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        other => format!("signal {other}"),
    }
}
