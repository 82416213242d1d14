//! Helpers for end-to-end tests that run the real `earlyexit` binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private EARLYEXIT_HOME per test, so runs never touch the user's data.
pub struct Env {
    pub home: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Env {
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.home.path().join("telemetry.db")
    }

    /// `earlyexit ARGS` with this test's home and a clean, predictable environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        process::earlyexit_command(
            Path::new(env!("CARGO_BIN_EXE_earlyexit")),
            self.home.path(),
            args,
        )
    }

    /// Runs to completion, failing the test if it takes longer than `limit`.
    pub fn run(&self, args: &[&str], limit: Duration) -> (Output, Duration) {
        let started = Instant::now();
        let child = self
            .cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn earlyexit");
        let output = wait_with_limit(child, limit);
        (output, started.elapsed())
    }
}

impl Env {
    /// Runs `earlyexit ARGS` with `input` on its stdin (then closed).
    pub fn run_with_input(&self, args: &[&str], input: &[u8], limit: Duration) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn earlyexit");
        std::io::Write::write_all(&mut child.stdin.take().expect("piped stdin"), input)
            .expect("write stdin");
        wait_with_limit(child, limit)
    }
}

#[path = "../../../tests/src/process.rs"]
mod process;
pub use process::wait_with_limit;

/// True while a process with this pid exists (zombies included).
pub fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits up to `limit` for `pid` to disappear.
pub fn wait_gone(pid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !pid_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    !pid_alive(pid)
}

/// Finds `PID <n>` in text printed by a test command.
pub fn find_pid(text: &str) -> i32 {
    text.lines()
        .find_map(|l| l.strip_prefix("PID "))
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no 'PID n' line in output: {text}"))
}

/// Reads lines from `reader` until one satisfies `want`, returning all read so far.
pub fn read_until(reader: &mut BufReader<impl Read>, want: impl Fn(&str) -> bool) -> String {
    let mut all = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read line");
        all.push_str(&line);
        if n == 0 || want(&line) {
            return all;
        }
    }
}

/// Parses the one JSON summary line `--json` prints on stderr.
pub fn json_summary(stderr: &[u8]) -> serde_json::Value {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON summary in stderr: {text}"));
    serde_json::from_str(line).expect("valid JSON summary")
}
