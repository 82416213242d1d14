//! The child process group: start the command in a group of its own with
//! its output on pipes (or a pseudo-terminal), reap it and every orphan it
//! leaves, and stop the whole group — SIGTERM, a grace period, SIGKILL.
//!
//! [`GroupGuard`] kills the group when dropped, so no path out of a run
//! (panic, error, early return) can leave processes behind. This module
//! decides nothing about patterns or timeouts; `run` tells it when to stop.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use crate::sys;

/// Environment hints that make common runtimes flush output line by line
/// when writing to a pipe. Set only when the user has not set them.
pub const UNBUFFER_HINTS: &[(&str, &str)] = &[("PYTHONUNBUFFERED", "1"), ("GIT_FLUSH", "1")];

/// After SIGKILL, how long to wait for the group to disappear before giving
/// up on it (processes in uninterruptible sleep can take a while).
pub const KILL_WAIT: Duration = Duration::from_secs(2);

/// What to start and how.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Extra descriptors the child writes to (`--fd N`), each `>= 3`.
    pub extra_fds: Vec<i32>,
    /// Run the child's stdout on a pseudo-terminal.
    pub pty: bool,
}

/// A command that could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// No such program.
    #[error("cannot run '{program}': command not found; check the spelling, or your PATH")]
    NotFound {
        /// argv[0].
        program: String,
    },
    /// Not executable, or a directory.
    #[error(
        "cannot run '{program}': permission denied; is it executable (chmod +x) and not a directory?"
    )]
    PermissionDenied {
        /// argv[0].
        program: String,
    },
    /// Anything else.
    #[error("cannot run '{program}': {source}")]
    Other {
        /// argv[0].
        program: String,
        /// The OS error.
        source: io::Error,
    },
    /// Setting up pipes or the pseudo-terminal failed.
    #[error("cannot set up {what} for the command: {source}")]
    Setup {
        /// What was being set up.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

/// A started child: its pid (which is also its process group id) and the
/// read ends of its streams, in order: stdout, stderr, then each extra fd.
#[derive(Debug)]
pub struct Spawned {
    /// The child's pid, also its process group id.
    pub pid: i32,
    /// `(name, read end)`: `stdout`, `stderr`, `fd3`, ….
    pub streams: Vec<(String, File)>,
}

/// Starts `spec` in a new process group (a new session with `--pty`).
pub fn spawn(spec: &SpawnSpec) -> Result<Spawned, SpawnError> {
    let program = spec.argv.first().cloned().unwrap_or_default();
    let setup_err = |what| move |source| SpawnError::Setup { what, source };
    let mut command = Command::new(&program);
    command.args(&spec.argv[1..]);
    for (key, value) in UNBUFFER_HINTS {
        if std::env::var_os(key).is_none() {
            command.env(key, value);
        }
    }

    let mut stdout_reader: Option<File> = None;
    let mut controlling_tty = None;
    if spec.pty {
        let pty = sys::open_pty().map_err(setup_err("a pseudo-terminal"))?;
        stdout_reader = Some(File::from(pty.master));
        command.stdout(Stdio::from(pty.slave));
        // std has dup2'ed the slave onto fd 1 before pre_exec hooks run.
        controlling_tty = Some(1);
    } else {
        command.stdout(Stdio::piped());
    }
    command.stderr(Stdio::piped());

    // Pipes for `--fd N`. The write ends are moved above every N first, so a
    // dup2 onto one N can never clobber the source of another.
    let floor = spec.extra_fds.iter().copied().max().unwrap_or(2) + 1;
    let mut extra_readers = Vec::new();
    let mut extra_writers: Vec<OwnedFd> = Vec::new();
    let mut dup_fds = Vec::new();
    for &fd in &spec.extra_fds {
        let (reader, writer) = io::pipe().map_err(setup_err("a pipe"))?;
        let writer = sys::dup_at_least(OwnedFd::from(writer).as_raw_fd(), floor)
            .map_err(setup_err("a pipe"))?;
        dup_fds.push((writer.as_raw_fd(), fd));
        extra_writers.push(writer);
        extra_readers.push((format!("fd{fd}"), File::from(OwnedFd::from(reader))));
    }
    sys::configure_child(
        &mut command,
        sys::ChildSetup {
            dup_fds,
            controlling_tty,
        },
    );

    let mut child = command.spawn().map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => SpawnError::NotFound {
            program: program.clone(),
        },
        io::ErrorKind::PermissionDenied => SpawnError::PermissionDenied {
            program: program.clone(),
        },
        _ => SpawnError::Other {
            program: program.clone(),
            source,
        },
    })?;
    // Our copies of the child's ends must close, or EOF never comes.
    drop(command);
    drop(extra_writers);

    let pid = child.id() as i32;
    let stdout = match stdout_reader {
        Some(master) => master,
        None => File::from(OwnedFd::from(
            child.stdout.take().expect("stdout was piped"),
        )),
    };
    let stderr = File::from(OwnedFd::from(
        child.stderr.take().expect("stderr was piped"),
    ));
    let mut streams = vec![
        ("stdout".to_string(), stdout),
        ("stderr".to_string(), stderr),
    ];
    streams.extend(extra_readers);
    Ok(Spawned { pid, streams })
}

/// Kills the process group with SIGKILL when dropped, unless disarmed after
/// the group is known to be gone.
#[derive(Debug)]
pub struct GroupGuard {
    pgid: i32,
    armed: bool,
}

impl GroupGuard {
    /// Guards group `pgid`.
    pub fn new(pgid: i32) -> Self {
        GroupGuard { pgid, armed: true }
    }

    /// The group is gone; nothing left to kill.
    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = sys::signal_group(self.pgid, libc::SIGKILL);
        }
    }
}

/// How stopping the group went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termination {
    /// SIGTERM was sent (the group still existed).
    pub term_sent: bool,
    /// The grace period ran out and SIGKILL was sent.
    pub kill_sent: bool,
    /// The group was still there after SIGKILL and [`KILL_WAIT`].
    pub survived: bool,
}

/// Stops every process in group `pgid`: SIGTERM, wait up to `grace` for the
/// group to disappear, then SIGKILL and wait up to [`KILL_WAIT`].
///
/// The group disappears once its members are reaped; the reaper thread
/// ([`spawn_reaper`]) does that, including orphans re-parented to us.
pub fn terminate_group(pgid: i32, grace: Duration) -> Termination {
    let mut result = Termination {
        term_sent: false,
        kill_sent: false,
        survived: false,
    };
    if !sys::group_exists(pgid) {
        return result;
    }
    result.term_sent = sys::signal_group(pgid, libc::SIGTERM).unwrap_or(false);
    if wait_until_gone(pgid, grace) {
        return result;
    }
    result.kill_sent = sys::signal_group(pgid, libc::SIGKILL).unwrap_or(false);
    result.survived = !wait_until_gone(pgid, KILL_WAIT);
    result
}

/// Polls until group `pgid` is gone or `limit` passes; true when gone.
fn wait_until_gone(pgid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_micros(100);
    loop {
        if !sys::group_exists(pgid) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

/// What the signal thread tells the run loop.
#[derive(Debug)]
pub enum GroupEvent {
    /// The command ended.
    ChildExited(sys::Reaped),
    /// A termination signal (SIGINT, SIGTERM, SIGHUP) reached earlyexit.
    Signal(i32),
}

/// The thread that handles signals for a run: it turns SIGINT, SIGTERM and
/// SIGHUP into [`GroupEvent::Signal`]s, and on SIGCHLD reaps every ended
/// child of this process (the command and any orphan re-parented to us),
/// reporting the command's end as [`GroupEvent::ChildExited`]. One thread does both, so a
/// run starts one thread fewer.
#[derive(Debug, Clone)]
pub struct SignalThread {
    child: Arc<AtomicI32>,
}

impl SignalThread {
    /// Starts the thread. Call it before starting the command, so no signal
    /// is missed.
    /// Events go to `events`, as whatever the run loop turns them into.
    pub fn start<E: From<GroupEvent> + Send + 'static>(
        events: Sender<E>,
    ) -> io::Result<SignalThread> {
        use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGCHLD])?;
        let child = Arc::new(AtomicI32::new(0));
        let watched = child.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .stack_size(SMALL_STACK)
            .spawn(move || {
                for signal in signals.forever() {
                    let sent = if signal == SIGCHLD {
                        reap(&watched, &events)
                    } else {
                        events.send(GroupEvent::Signal(signal).into()).is_ok()
                    };
                    if !sent {
                        break;
                    }
                }
            })?;
        Ok(SignalThread { child })
    }

    /// Reports the end of `pid` from now on (and reaps anything that ended
    /// before this call).
    pub fn watch_child(&self, pid: i32) {
        self.child.store(pid, Ordering::Release);
        // Children that ended before the pid was known are still zombies:
        // wake the thread to reap them now.
        let _ = signal_hook::low_level::raise(signal_hook::consts::SIGCHLD);
    }
}

/// Stack size of the helper threads, which do little and recurse nowhere.
const SMALL_STACK: usize = 64 * 1024;

/// Reaps every ended child; false when the run loop is gone.
fn reap<E: From<GroupEvent>>(child: &AtomicI32, events: &Sender<E>) -> bool {
    let watched = child.load(Ordering::Acquire);
    if watched == 0 {
        // Not started yet (or pipe mode): leave zombies for `watch_child`.
        return true;
    }
    while let Ok(Some(reaped)) = sys::try_wait_any() {
        if reaped.pid == watched && events.send(GroupEvent::ChildExited(reaped).into()).is_err() {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_kills_the_whole_group_when_dropped() {
        let spawned = spawn(&SpawnSpec {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "sleep 300 & echo \"$!\"; wait".into(),
            ],
            extra_fds: Vec::new(),
            pty: false,
        })
        .expect("spawn sh");
        let mut stdout = String::new();
        let mut reader = std::io::BufReader::new(&spawned.streams[0].1);
        std::io::BufRead::read_line(&mut reader, &mut stdout).unwrap();
        let grandchild: i32 = stdout.trim().parse().unwrap();
        drop(GroupGuard::new(spawned.pid));
        let reaped = loop {
            match sys::wait_any().unwrap() {
                Some(r) if r.pid == spawned.pid => break r,
                Some(_) => continue,
                None => panic!("child vanished without being reaped"),
            }
        };
        assert_eq!(reaped.signal, Some(libc::SIGKILL));
        // The grandchild was in the group too (re-parented to init, which reaps it).
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::path::Path::new(&format!("/proc/{grandchild}")).exists()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let state = std::fs::read_to_string(format!("/proc/{grandchild}/stat")).unwrap_or_default();
        assert!(
            state.is_empty() || state.contains(") Z "),
            "grandchild still running: {state}"
        );
    }

    #[test]
    fn spawn_errors_name_the_program() {
        let err = spawn(&SpawnSpec {
            argv: vec!["definitely-not-a-program".into()],
            extra_fds: Vec::new(),
            pty: false,
        })
        .unwrap_err();
        assert!(matches!(err, SpawnError::NotFound { .. }));
        assert!(err.to_string().contains("'definitely-not-a-program'"));
    }
}
