//! End-to-end: what the real binary records locally, and that telemetry
//! never gets in the way of the run.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(20);

fn export(env: &Env) -> Vec<serde_json::Value> {
    let (out, _) = env.run(&["export", "--format", "jsonl"], LIMIT);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect()
}

#[test]
fn a_run_is_recorded_with_its_match_and_context() {
    let env = Env::new();
    let script = "for i in 1 2 3 4; do echo before$i; done; echo 'ERROR: boom'; echo after1; echo after2; echo after3; echo after4; sleep 30";
    let (out, _) = env.run(
        &[
            "--json",
            "--delay-exit",
            "0.3",
            "ERROR",
            "--",
            "sh",
            "-c",
            script,
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0));
    let summary = json_summary(&out.stderr);
    assert_eq!(summary["telemetry"]["recorded"], true, "{summary}");

    let mode = std::fs::metadata(env.db()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "telemetry.db must be private");

    let runs = export(&env);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run["execution_id"], summary["execution_id"]);
    assert_eq!(run["exit_reason"], "match");
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["match_count"], 1);
    assert_eq!(run["stdout_lines"], 9);
    assert_eq!(run["command_category"], "unknown");
    assert!(run["time_to_first_match"].as_f64().unwrap() > 0.0);
    assert!(run["time_from_match_to_exit"].as_f64().unwrap() >= 0.3);
    assert!(
        run["load_avg_1m"].is_number(),
        "system context recorded: {run}"
    );
    let event = &run["match_events"][0];
    assert_eq!(event["line_number"], 5);
    assert_eq!(event["line_content"], "ERROR: boom");
    assert_eq!(event["matched_substring"], "ERROR");
    assert_eq!(event["context_before"], "before2\nbefore3\nbefore4");
    assert_eq!(event["context_after"], "after1\nafter2\nafter3");
}

#[test]
fn telemetry_off_writes_nothing_not_even_an_empty_database() {
    let env = Env::new();
    for args in [
        vec!["--no-telemetry", "X", "true"],
        vec!["--telemetry=off", "X", "true"],
    ] {
        let (out, _) = env.run(&args, LIMIT);
        assert_eq!(out.status.code(), Some(1));
    }
    let out = env
        .cmd(&["X", "true"])
        .env("EARLYEXIT_NO_TELEMETRY", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let entries: Vec<_> = std::fs::read_dir(env.home.path()).unwrap().collect();
    assert!(entries.is_empty(), "files appeared: {entries:?}");
}

#[test]
fn an_unwritable_database_warns_once_and_changes_nothing_else() {
    let env = Env::new();
    let (out, _) = env.run(
        &[
            "--db",
            "/dev/null/telemetry.db",
            "--delay-exit",
            "0",
            "ERROR",
            "--",
            "echo",
            "ERROR",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "exit code as without telemetry");
    assert_eq!(out.stdout, b"ERROR\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("telemetry skipped").count(), 1, "{stderr}");
}

#[test]
fn a_corrupt_database_warns_and_is_left_alone() {
    let env = Env::new();
    let garbage = vec![0x5a_u8; 8192];
    std::fs::write(env.db(), &garbage).unwrap();
    let (out, _) = env.run(
        &[
            "--unix-exit-codes",
            "X",
            "--",
            "sh",
            "-c",
            "sleep 0.3; exit 4",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("telemetry skipped"), "{stderr}");
    assert_eq!(
        std::fs::read(env.db()).unwrap(),
        garbage,
        "corrupt file must not be touched"
    );
}

#[test]
fn a_command_that_cannot_start_is_recorded_as_error() {
    let env = Env::new();
    let (out, _) = env.run(&["X", "--", "no-such-command-xyz"], LIMIT);
    assert_eq!(out.status.code(), Some(3));
    let runs = export(&env);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["exit_reason"], "error");
    assert!(
        runs[0]["error_message"]
            .as_str()
            .unwrap()
            .contains("command not found")
    );
}

#[test]
fn export_into_a_closed_pipe_ends_quietly() {
    let env = Env::new();
    for _ in 0..30 {
        let (out, _) = env.run(&["X", "--", "echo", "X"], LIMIT);
        assert!(out.status.success());
    }
    let mut child = env
        .cmd(&["export", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read a little, then close our end, like `| head -c 100`.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 100];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = wait_with_limit(child, LIMIT);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stats_and_clear_data_work_from_the_command_line() {
    let env = Env::new();
    let (out, _) = env.run(&["stats"], LIMIT);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no telemetry recorded yet"));
    assert!(!env.db().exists(), "stats must not create the database");
    for script in ["echo ERROR", "echo fine"] {
        env.run(
            &["--delay-exit", "0", "ERROR", "--", "sh", "-c", script],
            LIMIT,
        );
    }
    let (out, _) = env.run(&["stats", "--json"], LIMIT);
    assert_eq!(out.status.code(), Some(0));
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["runs"], 2, "{stats}");
    assert_eq!(stats["runs_with_match"], 1, "{stats}");

    let (out, _) = env.run(&["clear-data", "--all"], LIMIT);
    assert_ne!(out.status.code(), Some(0), "no terminal, no --yes: refuse");
    assert_eq!(export(&env).len(), 2);
    let (out, _) = env.run(&["clear-data", "--all", "--yes"], LIMIT);
    assert_eq!(out.status.code(), Some(0));
    assert!(export(&env).is_empty());
}

#[test]
fn short_runs_are_spooled_long_runs_written_and_export_sees_both() {
    let env = Env::new();
    let (out, _) = env.run(&["--json", "X", "--", "true"], LIMIT);
    let short = json_summary(&out.stderr);
    assert_eq!(short["telemetry"]["stored_in"], "spool", "{short}");
    // Once the database is open, a run queues behind the spooled ones.
    let (out, _) = env.run(&["--json", "X", "--", "sleep", "0.3"], LIMIT);
    let long = json_summary(&out.stderr);
    assert_eq!(long["telemetry"]["recorded"], true, "{long}");
    // export reads the spool first: both runs, once each.
    let ids: Vec<String> = export(&env)
        .iter()
        .map(|r| r["execution_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&short["execution_id"].as_str().unwrap().to_string()));
    assert!(ids.contains(&long["execution_id"].as_str().unwrap().to_string()));
    // The spool was emptied into the database: a long run now goes straight there.
    let (out, _) = env.run(&["--json", "X", "--", "sleep", "0.3"], LIMIT);
    assert_eq!(
        json_summary(&out.stderr)["telemetry"]["stored_in"],
        "database"
    );
    assert_eq!(export(&env).len(), 3);
}

#[test]
fn config_scrub_rules_and_anonymize_local_apply_everywhere() {
    let env = Env::new();
    std::fs::write(
        env.home.path().join("config.yaml"),
        "anonymize_local: true\nscrub_disable: [ipv4]\nscrub_rules:\n  - name: ticket\n    regex: 'OPS-[0-9]+'\n    replacement: '<ticket>'\n",
    )
    .unwrap();
    let line = "ERROR OPS-4242 from 10.1.2.3 by dave@corp-mail.io";
    let (out, _) = env.run(&["--delay-exit", "0", "ERROR", "--", "echo", line], LIMIT);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        line,
        "pass-through is never scrubbed"
    );
    let runs = export(&env);
    let stored = runs[0]["match_events"][0]["line_content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        stored, "ERROR <ticket> from 10.1.2.3 by <email>",
        "stored scrubbed (ipv4 disabled)"
    );

    let out = env.run_with_input(&["scrub"], b"see OPS-7\n", LIMIT);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "see <ticket>\n");

    std::fs::write(
        env.home.path().join("config.yaml"),
        "scrub_rules:\n  - name: broken\n    regex: 'a('\n    replacement: x\n",
    )
    .unwrap();
    let (out, _) = env.run(&["scrub"], LIMIT);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("broken"),
        "names the bad rule"
    );
}

/// `select count(*) from executions`, read straight from the file as any
/// SQLite client would (0 when there is no database yet).
fn executions_in_file(env: &Env) -> i64 {
    if !env.db().exists() {
        return 0;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(env.db())
            .read_only(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let count: i64 = sqlx::query_scalar("select count(*) from executions")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        count
    })
}

#[test]
fn every_run_of_100_ms_or_more_is_in_the_database_when_earlyexit_exits() {
    let env = Env::new();
    // Short runs may wait in the spool...
    for _ in 0..4 {
        let (out, _) = env.run(&["X", "true"], LIMIT);
        assert_eq!(out.status.code(), Some(1));
    }
    // ...until the next run that lasts: it moves them in and adds itself.
    let (out, took) = env.run(&["X", "sleep", "0.15"], LIMIT);
    assert_eq!(out.status.code(), Some(1));
    assert!(took >= Duration::from_millis(150));
    assert_eq!(executions_in_file(&env), 5);
    // Long runs with many matches (once spooled as too big to write at exit).
    for expected in 6..=8 {
        let (out, _) = env.run(
            &["-m", "0", "E", "sh", "-c", "seq -f E%g 1 500; sleep 0.12"],
            LIMIT,
        );
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(executions_in_file(&env), expected);
    }
    // A run that lasts 0.5 s, in pipe mode.
    let mut child = env
        .cmd(&["X"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"one\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    let out = wait_with_limit(child, LIMIT);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(executions_in_file(&env), 9);
    assert_eq!(
        std::fs::metadata(env.home.path().join("telemetry.db.spool")).map_or(0, |m| m.len()),
        0,
        "nothing left waiting"
    );
}
