//! `earlyexit` as a child process of a test: the command in a home of its
//! own with a predictable environment, and waiting for a child with a
//! limit, collecting its output. Shared, as this one file, by the
//! end-to-end harness (`tests/src/lib.rs`) and the agent's own binary
//! tests (`agent/tests/common`, which include it by path), so both start
//! and wait the same way. It never spawns a process itself.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `BIN ARGS` (an `earlyexit` binary) with `home` as its `EARLYEXIT_HOME`
/// and working directory, telemetry not turned off by the environment, and
/// stdin empty.
pub fn earlyexit_command(bin: &Path, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("EARLYEXIT_HOME", home)
        .env_remove("EARLYEXIT_NO_TELEMETRY")
        .current_dir(home)
        .stdin(Stdio::null());
    cmd
}

/// Waits for `child` and collects its output (both pipes read on threads
/// of their own, so a full pipe never blocks it); kills it and panics
/// after `limit`.
pub fn wait_with_limit(mut child: Child, limit: Duration) -> Output {
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let stdout = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process {} did not exit within {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}
