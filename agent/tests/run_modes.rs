//! End-to-end: timeouts, pipe mode, streams, patterns and exit codes of the
//! real binary.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(20);

fn run(args: &[&str]) -> (std::process::Output, Duration) {
    Env::new().run(args, LIMIT)
}

#[test]
fn overall_timeout_in_command_mode() {
    let (out, took) = run(&[
        "--no-telemetry",
        "--json",
        "-t",
        "0.4s",
        "NONE",
        "--",
        "sleep",
        "30",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert_eq!(json_summary(&out.stderr)["exit_reason"], "timeout_overall");
    let (out, _) = run(&[
        "--no-telemetry",
        "--unix-exit-codes",
        "-t",
        "0.2",
        "NONE",
        "--",
        "sleep",
        "30",
    ]);
    assert_eq!(out.status.code(), Some(124));
}

#[test]
fn idle_timeout_counts_bytes_so_a_progress_bar_is_not_idle() {
    // A `\r` progress bar for 1.2 s, no newline at all, then silence.
    let script = "for i in 1 2 3 4 5 6; do printf '\\r%d%%' $i; sleep 0.2; done; sleep 30";
    let (out, took) = run(&[
        "--no-telemetry",
        "--json",
        "-I",
        "0.6s",
        "NONE",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let summary = json_summary(&out.stderr);
    assert_eq!(summary["exit_reason"], "timeout_idle", "{summary}");
    assert!(
        took >= Duration::from_millis(1500),
        "progress bar counted as idle: {took:?}"
    );
    assert!(took < Duration::from_secs(6), "{took:?}");
}

#[test]
fn first_output_timeout() {
    let (out, took) = run(&[
        "--no-telemetry",
        "--json",
        "--first-output-timeout",
        "300ms",
        "NONE",
        "--",
        "sh",
        "-c",
        "sleep 30; echo late",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(took < Duration::from_secs(5));
    assert_eq!(
        json_summary(&out.stderr)["exit_reason"],
        "timeout_first_output"
    );
    // Output in time: the timeout no longer applies.
    let (out, _) = run(&[
        "--no-telemetry",
        "--first-output-timeout",
        "300ms",
        "NONE",
        "--",
        "sh",
        "-c",
        "echo hi; sleep 0.5",
    ]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn stuck_detection_with_max_repeat() {
    let (out, took) = run(&[
        "--no-telemetry",
        "--json",
        "--max-repeat",
        "5",
        "NONE",
        "--",
        "sh",
        "-c",
        "echo start; while true; do echo 'waiting for lock'; sleep 0.01; done",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(took < Duration::from_secs(5));
    let summary = json_summary(&out.stderr);
    assert_eq!(summary["exit_reason"], "stuck");
    assert!(
        summary["detail"]
            .as_str()
            .unwrap()
            .contains("waiting for lock")
    );
}

#[test]
fn pipe_mode_match_and_no_match() {
    let env = Env::new();
    let out = env.run_with_input(
        &["--no-telemetry", "--json", "FAIL"],
        b"ok\nok\nFAIL here\nmore\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    let summary = json_summary(&out.stderr);
    assert_eq!(summary["mode"], "pipe");
    assert_eq!(summary["matches"][0]["stream"], "stdin");
    assert_eq!(summary["matches"][0]["line_number"], 3);

    let out = env.run_with_input(&["--no-telemetry", "FAIL"], b"ok\nfine\n", LIMIT);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"ok\nfine\n");
}

#[test]
fn pipe_mode_timeout_does_not_wait_for_the_writer() {
    let env = Env::new();
    let mut child = env
        .cmd(&["--no-telemetry", "-t", "0.3", "FAIL"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap(); // held open: the writer is "still running"
    let out = wait_with_limit(child, LIMIT);
    drop(stdin);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn stderr_and_both_select_the_watched_stream() {
    let script = "echo ERROR >&2; echo fine";
    let (out, _) = run(&[
        "--no-telemetry",
        "--delay-exit",
        "0",
        "ERROR",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.status.code(), Some(1), "stdout only by default");
    let (out, _) = run(&[
        "--no-telemetry",
        "--delay-exit",
        "0",
        "--stderr",
        "ERROR",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.status.code(), Some(0));
    let (out, _) = run(&[
        "--no-telemetry",
        "--delay-exit",
        "0",
        "--both",
        "fine",
        "--",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn extra_fd_with_its_own_pattern() {
    let (out, took) = run(&[
        "--no-telemetry",
        "--json",
        "--delay-exit",
        "0",
        "--fd-pattern",
        "3",
        "DEPLOY FAILED",
        "NEVERMATCH",
        "--",
        "sh",
        "-c",
        "echo step1; echo 'DEPLOY FAILED: quota' >&3; sleep 30",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < Duration::from_secs(5));
    let summary = json_summary(&out.stderr);
    assert_eq!(summary["matches"][0]["stream"], "fd3");
}

#[test]
fn fd_prefix_and_line_numbers_decorate_pass_through() {
    let (out, _) = run(&[
        "--no-telemetry",
        "--fd-prefix",
        "-n",
        "NEVER",
        "--",
        "sh",
        "-c",
        "echo one; echo two",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[stdout] 1:one\n[stdout] 2:two\n"
    );
}

#[test]
fn color_always_highlights_the_match() {
    let (out, _) = run(&[
        "--no-telemetry",
        "--color",
        "always",
        "--delay-exit",
        "0",
        "ERR",
        "--",
        "echo",
        "an ERR here",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "an \u{1b}[1;31mERR\u{1b}[0m here\n"
    );
}

#[test]
fn quiet_passes_nothing_through() {
    let (out, _) = run(&[
        "--no-telemetry",
        "-q",
        "ERROR",
        "--",
        "sh",
        "-c",
        "echo hello; echo ERROR",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(out.stderr.is_empty());
}

#[test]
fn max_count_exclude_invert_word_and_case() {
    let script = "echo 'error: 1'; echo 'warning: 0 errors'; echo 'error: 2'; echo 'ERROR: 3'";
    let (out, _) = run(&[
        "--no-telemetry",
        "--json",
        "-m",
        "3",
        "--exclude",
        "0 errors",
        "-i",
        "error",
        "--",
        "sh",
        "-c",
        script,
    ]);
    let summary = json_summary(&out.stderr);
    let lines: Vec<i64> = summary["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["line_number"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [1, 3, 4], "{summary}");

    let (out, _) = run(&[
        "--no-telemetry",
        "--json",
        "-w",
        "error",
        "--",
        "sh",
        "-c",
        "echo errors; echo the error",
    ]);
    assert_eq!(json_summary(&out.stderr)["matches"][0]["line_number"], 2);

    let (out, _) = run(&[
        "--no-telemetry",
        "--json",
        "-v",
        "^ok",
        "--",
        "sh",
        "-c",
        "echo ok 1; echo ok 2; echo not ok 3",
    ]);
    assert_eq!(json_summary(&out.stderr)["matches"][0]["line_number"], 3);
}

#[test]
fn max_count_zero_records_every_match_and_runs_to_completion() {
    let (out, _) = run(&[
        "--no-telemetry",
        "--json",
        "-m",
        "0",
        "E",
        "--",
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo E$i; done",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let summary = json_summary(&out.stderr);
    assert_eq!(summary["match_count"], 5);
    assert_eq!(summary["exit_reason"], "match");
}

#[test]
fn success_pattern_stops_early_with_success() {
    let (out, took) = run(&[
        "--no-telemetry",
        "--unix-exit-codes",
        "--success-pattern",
        "Listening on",
        "ERROR",
        "--",
        "sh",
        "-c",
        "echo booting; echo 'Listening on :8080'; sleep 30",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(took < Duration::from_secs(5));
}

#[test]
fn perl_regex_lookaround() {
    let (out, _) = run(&[
        "--no-telemetry",
        "--json",
        "-P",
        "error(?!: expected)",
        "--",
        "sh",
        "-c",
        "echo 'error: expected'; echo 'error: boom'",
    ]);
    assert_eq!(json_summary(&out.stderr)["matches"][0]["line_number"], 2);
}

#[test]
fn unix_exit_codes_pass_the_child_status_through() {
    let (out, _) = run(&[
        "--no-telemetry",
        "--unix-exit-codes",
        "ERROR",
        "--",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7));
    let (out, _) = run(&[
        "--no-telemetry",
        "--unix-exit-codes",
        "ERROR",
        "--",
        "sh",
        "-c",
        "echo ERROR; exit 0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let (out, _) = run(&["--no-telemetry", "ERROR", "--", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(1), "default style: 1 = no match");
}

#[test]
fn usage_errors_say_what_to_do_and_exit_3() {
    let (out, _) = run(&[]);
    assert_eq!(out.status.code(), Some(3));
    let (out, _) = run(&["--", "true"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no PATTERN given"));
    let (out, _) = run(&["a(", "true"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid pattern 'a('"), "{stderr}");
    let (out, _) = run(&["--unix-exit-codes", "-t", "soon", "X", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let (out, _) = run(&["improve"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("earlyexit run PATTERN improve"));
    let (out, _) = run(&["sync"]);
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no collector is configured"), "{stderr}");
}

#[test]
fn a_bad_pattern_from_any_flag_is_named_before_the_command_starts() {
    let cases: [(&[&str], &str); 6] = [
        (&["a("], "(from PATTERN)"),
        (&["-e", "ok", "-e", "b["], "(from -e)"),
        (&["--exclude", "c(", "X"], "(from --exclude)"),
        (
            &["--success-pattern", "d(", "X"],
            "(from --success-pattern)",
        ),
        (&["--fd-pattern", "3", "e(", "X"], "(from --fd-pattern 3)"),
        (
            &["--stderr", "--fd-pattern", "2", "f(", "X"],
            "(from --fd-pattern 2)",
        ),
    ];
    for (flags, origin) in cases {
        let env = Env::new();
        let marker = env.home.path().join("started");
        let script = format!("touch '{}'; echo out", marker.display());
        let mut args: Vec<&str> = flags.to_vec();
        args.extend(["sh", "-c", &script]);
        let (out, _) = env.run(&args, LIMIT);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{flags:?}: {stderr}");
        assert!(stderr.contains(origin), "{flags:?}: {stderr}");
        assert!(stderr.contains("hint:"), "{stderr}");
        for internal in ["thread", "channel", "(?:"] {
            assert!(
                !stderr.contains(internal),
                "{flags:?} speaks of {internal}: {stderr}"
            );
        }
        assert!(!marker.exists(), "{flags:?}: the command ran");
        assert!(out.stdout.is_empty(), "{flags:?}");
        assert!(!env.db().exists(), "{flags:?}: a usage error was recorded");
        assert!(!env.home.path().join("telemetry.db.spool").exists());
    }
    // Pipe mode reads nothing either.
    let env = Env::new();
    let out = env.run_with_input(&["a("], b"passed through?\n", LIMIT);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Look-around without -P says to use -P; with -P the hint does not.
    let (out, _) = run(&["foo(?=bar)", "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("need -P"), "{stderr}");
    let (out, _) = run(&["-P", "(?<", "true"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3));
    assert!(!stderr.contains("use -P"), "{stderr}");
}

#[test]
fn run_subcommand_runs_a_command_named_like_a_subcommand() {
    let (out, _) = run(&[
        "run",
        "--no-telemetry",
        "--delay-exit",
        "0",
        "hi",
        "--",
        "echo",
        "hi",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let (out, _) = run(&["run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--idle-timeout"));
}

#[test]
fn ee_is_the_same_program() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ee"))
        .args([
            "--no-telemetry",
            "--delay-exit",
            "0",
            "X",
            "--",
            "echo",
            "X",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"X\n");
}

#[test]
fn scrub_subcommand_filters_stdin_one_line_per_line() {
    let env = Env::new();
    let out = env.run_with_input(
        &["scrub", "--explain"],
        b"plain\nAWS key AKIAIOSFODNN7EXAMPLE\n\xff bad utf8 carol@corp.io\n",
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    assert!(stdout.starts_with("plain\n"));
    assert!(
        !stdout.contains("AKIAIOSFODNN7EXAMPLE") && !stdout.contains("carol@corp.io"),
        "{stdout}"
    );
    let explained = String::from_utf8_lossy(&out.stderr);
    assert!(
        explained.contains("2:") && explained.contains("aws-access-key-id"),
        "{explained}"
    );
}
