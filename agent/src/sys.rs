//! The only `unsafe` in the crate: thin, documented wrappers over the POSIX
//! calls that supervision needs and `std` does not offer (process-group
//! signals, child subreaping, `wait4` with resource usage, fd plumbing in
//! the child between `fork` and `exec`, pseudo-terminals).
//!
//! Every wrapper returns `io::Result` and never panics. Nothing here knows
//! about patterns, telemetry or policy; `supervise` decides when to call what.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

/// Makes this process a child subreaper (Linux): orphaned descendants are
/// re-parented to us instead of init, so we can reap them and they can't
/// escape our `wait`. A no-op elsewhere.
pub fn become_subreaper() -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer argument
        // and touches no memory of ours.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Sends `signal` to every process in process group `pgid`.
///
/// Returns `Ok(false)` when the group no longer exists (ESRCH).
pub fn signal_group(pgid: i32, signal: i32) -> io::Result<bool> {
    if pgid <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal process group <= 1",
        ));
    }
    // SAFETY: killpg only takes integers; pgid > 1 was checked so we never
    // signal our own group (0) or every process (-1 / 1).
    let rc = unsafe { libc::killpg(pgid, signal) };
    if rc == 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ESRCH) {
        Ok(false)
    } else {
        Err(err)
    }
}

/// True while any process (zombies included) is still in group `pgid`.
pub fn group_exists(pgid: i32) -> bool {
    // Signal 0 checks existence and permission without delivering anything.
    // EPERM means a process exists that we may not signal: still alive.
    match signal_group(pgid, 0) {
        Ok(alive) => alive,
        Err(e) => e.raw_os_error() == Some(libc::EPERM),
    }
}

/// How a reaped process ended, with its resource usage.
#[derive(Debug, Clone, Copy)]
pub struct Reaped {
    /// The reaped process.
    pub pid: i32,
    /// Exit code, when it exited normally.
    pub code: Option<i32>,
    /// Terminating signal, when a signal ended it.
    pub signal: Option<i32>,
    /// Peak resident set size, KiB (the process and its waited-for children).
    pub max_rss_kib: i64,
    /// User CPU time.
    pub user_cpu: Duration,
    /// System CPU time.
    pub system_cpu: Duration,
}

/// Blocks until any child of this process ends and reaps it (`wait4(-1)`).
///
/// Returns `Ok(None)` when there are no children left (ECHILD).
pub fn wait_any() -> io::Result<Option<Reaped>> {
    wait4_any(0)
}

/// Reaps one child of this process that has ended, without blocking.
///
/// Returns `Ok(None)` when none has ended yet or there are no children.
pub fn try_wait_any() -> io::Result<Option<Reaped>> {
    wait4_any(libc::WNOHANG)
}

fn wait4_any(flags: libc::c_int) -> io::Result<Option<Reaped>> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: rusage is plain old data; zeroed is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers refer to live locals for the whole call.
        let pid = unsafe { libc::wait4(-1, &mut status, flags, &mut usage) };
        if pid > 0 {
            let tv = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec.max(0) as u64)
                    + Duration::from_micros(t.tv_usec.max(0) as u64)
            };
            let (code, signal) = if libc::WIFEXITED(status) {
                (Some(libc::WEXITSTATUS(status)), None)
            } else if libc::WIFSIGNALED(status) {
                (None, Some(libc::WTERMSIG(status)))
            } else {
                (None, None)
            };
            return Ok(Some(Reaped {
                pid,
                code,
                signal,
                max_rss_kib: usage.ru_maxrss,
                user_cpu: tv(usage.ru_utime),
                system_cpu: tv(usage.ru_stime),
            }));
        }
        if pid == 0 {
            // WNOHANG and nothing has ended yet.
            return Ok(None);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => return Ok(None),
            _ => return Err(err),
        }
    }
}

/// True when `fd` refers to a terminal.
pub fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

/// A pseudo-terminal pair: we read the master, the child writes the slave.
pub struct Pty {
    /// Our end.
    pub master: OwnedFd,
    /// The child's end (its stdout).
    pub slave: OwnedFd,
}

/// Opens a pseudo-terminal whose slave passes bytes through unchanged (no
/// `\n` → `\r\n` translation, no echo), sized like our own terminal when we
/// have one.
pub fn open_pty() -> io::Result<Pty> {
    let mut master: libc::c_int = -1;
    let mut slave: libc::c_int = -1;
    // SAFETY: rusage-style POD; zeroed winsize is valid.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into the pointed-to local.
    let have_size = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) } == 0;
    let size_ptr = if have_size {
        &mut size as *mut libc::winsize
    } else {
        std::ptr::null_mut()
    };
    // SAFETY: master/slave are valid out-pointers; name and termios may be
    // null; size_ptr is null or points to a live local.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            size_ptr,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openpty succeeded, so both are fresh descriptors we now own.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        set_cloexec(fd.as_raw_fd())?;
    }
    // SAFETY: termios is POD; tcgetattr fills it before we read it.
    let mut tio: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor and pointer to a live local.
    if unsafe { libc::tcgetattr(slave.as_raw_fd(), &mut tio) } == 0 {
        tio.c_oflag &= !libc::OPOST;
        tio.c_lflag &= !(libc::ECHO | libc::ICANON);
        // SAFETY: valid descriptor and pointer to an initialised termios.
        if unsafe { libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &tio) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(Pty { master, slave })
}

fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How the child's process group and extra descriptors are set up between
/// `fork` and `exec`.
pub struct ChildSetup {
    /// `(source, target)`: `dup2(source, target)` in the child, so the child
    /// finds the write end of our pipe on descriptor `target` (`--fd N`).
    pub dup_fds: Vec<(RawFd, RawFd)>,
    /// Start a new session and take `controlling_tty` as its controlling
    /// terminal (`--pty`). Otherwise the child gets a new process group.
    pub controlling_tty: Option<RawFd>,
}

/// Installs `setup` on `command`. The child always leads its own process
/// group (as session leader with `--pty`), so one `killpg` reaches it and
/// everything it starts.
pub fn configure_child(command: &mut Command, setup: ChildSetup) {
    if setup.controlling_tty.is_none() {
        command.process_group(0);
    }
    let ChildSetup {
        dup_fds,
        controlling_tty,
    } = setup;
    if dup_fds.is_empty() && controlling_tty.is_none() {
        // Nothing to do between fork and exec: without a pre_exec hook std
        // starts the child with posix_spawn (vfork-like, no page-table copy),
        // which is most of the cost of starting a command.
        return;
    }
    // SAFETY: the closure runs in the forked child before exec and only calls
    // async-signal-safe functions (setsid, ioctl, dup2, fcntl) on integers
    // captured by value; it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if let Some(tty) = controlling_tty {
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::ioctl(tty, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            for &(source, target) in &dup_fds {
                if source == target {
                    // dup2 onto itself keeps FD_CLOEXEC: clear it instead.
                    let flags = libc::fcntl(source, libc::F_GETFD);
                    if flags < 0
                        || libc::fcntl(source, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0
                    {
                        return Err(io::Error::last_os_error());
                    }
                } else if libc::dup2(source, target) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Duplicates `fd` onto the lowest free descriptor `>= min`, close-on-exec.
///
/// Used so the pipe ends handed to `--fd N` never sit on a number another
/// `N` will be `dup2`ed onto in the child.
pub fn dup_at_least(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl with integer arguments on a descriptor the caller owns.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fcntl just returned this fresh descriptor; we are its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}
