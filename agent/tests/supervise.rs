//! End-to-end: the real binary supervising real processes with real signals.
//! Each test is bounded in time and leaves no process behind.

mod common;

use std::io::BufReader;
use std::process::Stdio;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn grandchild_holding_the_pipe_is_killed_with_the_group() {
    let env = Env::new();
    let (out, took) = env.run(
        &[
            "--delay-exit",
            "0",
            "--no-telemetry",
            "ERROR",
            "--",
            "sh",
            "-c",
            "sleep 300 & echo \"PID $!\"; echo ERROR; wait",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let pid = find_pid(&String::from_utf8_lossy(&out.stdout));
    assert!(
        wait_gone(pid, Duration::from_secs(2)),
        "background sleep {pid} survived"
    );
}

#[test]
fn child_ignoring_sigterm_gets_sigkill_after_the_grace_period() {
    let env = Env::new();
    let (out, took) = env.run(
        &[
            "--delay-exit",
            "0",
            "--kill-grace",
            "0.3s",
            "--no-telemetry",
            "--json",
            "ERROR",
            "--",
            "sh",
            "-c",
            "trap '' TERM; sleep 300 & echo \"PID $!\"; echo ERROR; wait",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        took >= Duration::from_millis(300),
        "SIGKILL came before the grace period: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let pid = find_pid(&String::from_utf8_lossy(&out.stdout));
    assert!(
        wait_gone(pid, Duration::from_secs(2)),
        "TERM-ignoring sleep {pid} survived"
    );
    let summary = json_summary(&out.stderr);
    assert_eq!(summary["stopped"]["sigkill"], true, "{summary}");
    assert_eq!(summary["child"]["signal_name"], "SIGKILL", "{summary}");
}

fn signal_stops_the_group(signal: i32, expected_code: i32) {
    let env = Env::new();
    let mut child = env
        .cmd(&[
            "--no-telemetry",
            "--json",
            "NEVERMATCH",
            "--",
            "sh",
            "-c",
            "sleep 300 & echo \"PID $!\"; echo READY; wait",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let seen = read_until(&mut stdout, |l| l.starts_with("READY"));
    let pid = find_pid(&seen);
    // Deliver the signal the way a user or CI would: with kill(1).
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    child.stdout = Some(stdout.into_inner());
    let out = wait_with_limit(child, LIMIT);
    assert_eq!(out.status.code(), Some(expected_code), "{out:?}");
    assert!(
        wait_gone(pid, Duration::from_secs(2)),
        "sleep {pid} survived signal {signal}"
    );
    let summary = json_summary(&out.stderr);
    assert_eq!(summary["exit_reason"], "interrupted", "{summary}");
}

#[test]
fn sigint_stops_the_group() {
    signal_stops_the_group(libc::SIGINT, 130);
}

#[test]
fn sigterm_stops_the_group() {
    signal_stops_the_group(libc::SIGTERM, 143);
}

#[test]
fn sighup_stops_the_group() {
    signal_stops_the_group(libc::SIGHUP, 129);
}

#[test]
fn flooding_the_unwatched_stream_never_blocks() {
    let env = Env::new();
    // 32 MiB on stderr (we watch stdout), then the error on stdout.
    let (out, _) = env.run(
        &[
            "--delay-exit",
            "0",
            "--no-telemetry",
            "--json",
            "ERROR",
            "--",
            "sh",
            "-c",
            "head -c 33554432 /dev/zero | tr '\\0' x >&2; echo >&2; echo ERROR",
        ],
        LIMIT,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stderr.len() >= 33_554_432,
        "stderr passed through: {}",
        out.stderr.len()
    );
    let summary = json_summary(&out.stderr);
    assert_eq!(summary["exit_reason"], "match");
}

#[test]
fn long_lines_and_invalid_utf8_pass_through_byte_exact() {
    let env = Env::new();
    let script = "printf 'a\\377\\376b\\n'; head -c 5000000 /dev/zero | tr '\\0' y; printf '\\303(\\r\\nend'";
    let (out, _) = env.run(
        &["--no-telemetry", "NEVERMATCH", "--", "sh", "-c", script],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1));
    let mut expected = b"a\xff\xfeb\n".to_vec();
    expected.extend(std::iter::repeat_n(b'y', 5_000_000));
    expected.extend_from_slice(b"\xc3(\r\nend");
    assert_eq!(out.stdout.len(), expected.len());
    assert!(out.stdout == expected, "output differs from input");
}

#[test]
fn a_match_past_a_long_line_and_in_invalid_utf8_is_found() {
    let env = Env::new();
    let script =
        "head -c 3000000 /dev/zero | tr '\\0' z; echo; printf '\\377 FATAL \\376\\n'; sleep 30";
    let (out, took) = env.run(
        &[
            "--delay-exit",
            "0",
            "--no-telemetry",
            "--json",
            "FATAL",
            "--",
            "sh",
            "-c",
            script,
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(took < Duration::from_secs(10));
    let summary = json_summary(&out.stderr);
    assert_eq!(summary["matches"][0]["line_number"], 2, "{summary}");
}

#[test]
fn command_not_found_is_a_clear_error() {
    let env = Env::new();
    let (out, _) = env.run(&["ERROR", "--", "no-such-command-xyz"], LIMIT);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot run 'no-such-command-xyz': command not found"),
        "{stderr}"
    );
    let (out, _) = env.run(
        &["--unix-exit-codes", "ERROR", "--", "no-such-command-xyz"],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(125));
    let (out, _) = env.run(&["ERROR", "--", "/etc"], LIMIT);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("permission denied"));
}

#[test]
fn delay_exit_keeps_reading_for_context_then_stops() {
    let env = Env::new();
    let (out, took) = env.run(
        &[
            "--delay-exit",
            "0.5",
            "--no-telemetry",
            "--json",
            "ERROR",
            "--",
            "sh",
            "-c",
            "echo ERROR; echo trace1; echo trace2; sleep 300",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let summary = json_summary(&out.stderr);
    assert_eq!(
        summary["matches"][0]["context_after"][0], "trace1",
        "{summary}"
    );
    assert_eq!(
        summary["matches"][0]["context_after"][1], "trace2",
        "{summary}"
    );
}

#[test]
fn delay_exit_after_lines_ends_the_delay_early() {
    let env = Env::new();
    let (out, took) = env.run(
        &[
            "--delay-exit",
            "60",
            "--delay-exit-after-lines",
            "2",
            "--no-telemetry",
            "ERROR",
            "--",
            "sh",
            "-c",
            "echo ERROR; sleep 0.2; echo a; echo b; sleep 300",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn child_exit_during_delay_ends_the_run() {
    let env = Env::new();
    let (out, took) = env.run(
        &[
            "--no-telemetry",
            "ERROR",
            "--",
            "sh",
            "-c",
            "echo ERROR; exit 4",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        took < Duration::from_secs(5),
        "default 10s delay must end with the child: {took:?}"
    );
}

#[test]
fn pty_gives_the_child_a_terminal() {
    let env = Env::new();
    let (out, _) = env.run(
        &[
            "--pty",
            "--no-telemetry",
            "NEVER",
            "--",
            "sh",
            "-c",
            "if [ -t 1 ]; then echo TTY; else echo PIPE; fi; echo x >&2",
        ],
        LIMIT,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "TTY\n",
        "no \\r\\n translation either"
    );
    let (out, _) = env.run(
        &[
            "--no-telemetry",
            "NEVER",
            "--",
            "sh",
            "-c",
            "if [ -t 1 ]; then echo TTY; else echo PIPE; fi",
        ],
        LIMIT,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "PIPE\n");
}

#[test]
fn pty_child_is_stopped_on_match() {
    let env = Env::new();
    let (out, took) = env.run(
        &[
            "--pty",
            "--delay-exit",
            "0",
            "--no-telemetry",
            "ERROR",
            "--",
            "sh",
            "-c",
            "sleep 300 & echo \"PID $!\"; echo ERROR; wait",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(took < Duration::from_secs(5));
    let pid = find_pid(&String::from_utf8_lossy(&out.stdout));
    assert!(wait_gone(pid, Duration::from_secs(2)));
}

#[test]
fn unbuffer_hint_is_set_for_the_child() {
    let env = Env::new();
    let (out, _) = env.run(
        &[
            "--no-telemetry",
            "NEVER",
            "--",
            "sh",
            "-c",
            "echo $PYTHONUNBUFFERED",
        ],
        LIMIT,
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n");
}
