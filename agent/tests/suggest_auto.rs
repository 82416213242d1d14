//! End-to-end: learning from the local database with the real binary and
//! real child processes — `suggest` and its safety rules, `--auto` on an
//! empty and on a trained database, and the false-positive filter's
//! enforce mode.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(60);

/// A command whose behaviour a file in the working directory (the test's
/// home) switches: `slow` makes it sleep 2 s, `fail` makes it print an
/// error block for 1.5 s and exit 1; otherwise it takes about 0.05 s.
const SWITCHED: &str = "if [ -e fail ]; then echo 'Error: boom'; sleep 1.5; echo '    at frame (x.js:1)'; exit 1; fi; \
                        if [ -e slow ]; then sleep 2; else sleep 0.05; fi; echo ok";

fn run_json(env: &Env, args: &[&str]) -> serde_json::Value {
    let (out, _) = env.run(args, LIMIT);
    json_summary(&out.stderr)
}

fn suggest(env: &Env, command: &str) -> serde_json::Value {
    let (out, _) = env.run(&["suggest", "--json", command], LIMIT);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("suggest --json prints one JSON object")
}

fn touch(env: &Env, name: &str) {
    std::fs::write(env.home.path().join(name), b"").unwrap();
}

fn remove(env: &Env, name: &str) {
    let _ = std::fs::remove_file(env.home.path().join(name));
}

fn switched_runs(env: &Env, pattern: &str, n: usize) {
    for _ in 0..n {
        let s = run_json(env, &["--json", pattern, "sh", "-c", SWITCHED]);
        assert_eq!(s["telemetry"]["recorded"], true, "{s}");
    }
}

#[test]
fn suggest_says_how_many_more_runs_are_needed_and_gives_no_values_before_five() {
    let env = Env::new();
    let empty = suggest(&env, "sh -c true");
    assert_eq!(empty["runs"], 0);
    assert!(
        empty["reason"]
            .as_str()
            .unwrap()
            .contains("no telemetry recorded yet"),
        "{empty}"
    );
    switched_runs(&env, "Error", 4);
    let command = format!("sh -c {}", shell_quote(SWITCHED));
    let four = suggest(&env, &command);
    assert_eq!(four["runs"], 4, "{four}");
    assert!(
        four["reason"].as_str().unwrap().contains("1 more needed"),
        "{four}"
    );
    for key in [
        "pattern",
        "timeout_s",
        "idle_timeout_s",
        "delay_exit_s",
        "confidence",
    ] {
        assert!(four.get(key).is_none(), "no {key} from 4 runs: {four}");
    }
    switched_runs(&env, "Error", 1);
    let five = suggest(&env, &command);
    assert_eq!(five["runs"], 5, "{five}");
    for key in [
        "pattern",
        "excludes",
        "delay_exit_s",
        "timeout_s",
        "idle_timeout_s",
        "confidence",
        "evidence",
        "command_line",
    ] {
        assert!(five.get(key).is_some(), "{key} missing: {five}");
    }
    // The human form has the command line to paste.
    let (out, _) = env.run(&["suggest", &command], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("earlyexit -e Error"), "{text}");
}

/// The Python earlyexit's auto-tune learned a 0.1 s timeout from fast runs
/// and killed a normal 2 s run. The same history, with real runs: many
/// runs of about 0.05 s, then one of 2 s under `--auto`.
#[test]
fn a_history_of_fast_runs_never_gets_a_normal_two_second_run_killed() {
    let env = Env::new();
    switched_runs(&env, "Error", 12);
    let command = format!("sh -c {}", shell_quote(SWITCHED));
    let s = suggest(&env, &command);
    let timeout = s["timeout_s"]
        .as_f64()
        .expect("a timeout from 12 successes");
    let idle = s["idle_timeout_s"].as_f64().expect("an idle timeout");
    assert!(timeout >= 30.0, "the floor: {s}");
    assert!(idle >= 30.0, "the floor: {s}");
    touch(&env, "slow");
    let run = run_json(&env, &["--auto", "--json", "sh", "-c", SWITCHED]);
    assert_eq!(run["exit_reason"], "completed", "{run}");
    assert_eq!(run["child"]["exit_code"], 0, "{run}");
    assert!(run["timings"]["total_runtime"].as_f64().unwrap() >= 2.0);
    assert_eq!(run["auto"]["timeout_s"].as_f64(), Some(timeout), "{run}");
    // And once it is recorded, the next suggestion still lets it through.
    let after = suggest(&env, &command);
    assert!(after["timeout_s"].as_f64().unwrap() >= 1.5 * 2.0, "{after}");
    assert!(
        after["idle_timeout_s"].as_f64().unwrap() >= 2.0 * 2.0,
        "{after}"
    );
}

#[test]
fn the_idle_timeout_covers_twice_the_longest_silence_of_a_successful_run() {
    let env = Env::new();
    // One successful run is silent for 1.2 s between two lines.
    let quiet = "if [ -e pause ]; then echo a; sleep 1.2; fi; echo b";
    for i in 0..5 {
        if i == 2 {
            touch(&env, "pause");
        }
        let s = run_json(&env, &["--json", "NONE", "sh", "-c", quiet]);
        assert_eq!(s["exit_reason"], "completed", "{s}");
        if i == 2 {
            // The gap between reading "a" and "b": the 1.2 s sleep, less
            // however late "a" was read.
            assert!(
                s["timings"]["longest_idle_period"].as_f64().unwrap() >= 1.1,
                "{s}"
            );
            remove(&env, "pause");
        }
    }
    let s = suggest(&env, &format!("sh -c {}", shell_quote(quiet)));
    let idle = s["idle_timeout_s"].as_f64().unwrap();
    // Twice the 1.2 s silence, and the 30 s floor (which is the larger here).
    assert!(idle >= 30.0, "{s}");
    let ev = s["evidence"]["idle_timeout"]["evidence"].as_str().unwrap();
    let prefix = "the longest silence of 5 successful runs was ";
    let silence: f64 = ev
        .strip_prefix(prefix)
        .and_then(|rest| rest.split('s').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{ev}"));
    assert!(
        silence >= 1.2,
        "the paused run is the longest silence: {ev}"
    );
    assert!(idle >= 2.0 * silence, "{s}");
}

#[test]
fn the_delay_covers_the_error_block_the_command_printed_after_its_first_match() {
    let env = Env::new();
    switched_runs(&env, "Error", 5);
    touch(&env, "fail");
    let failed = run_json(&env, &["--json", "Error", "sh", "-c", SWITCHED]);
    assert_eq!(failed["exit_reason"], "match", "{failed}");
    let block = failed["timings"]["time_from_match_to_exit"]
        .as_f64()
        .unwrap();
    assert!(
        block >= 1.4,
        "the 1.5 s block, less the time to see its first line: {failed}"
    );
    let s = suggest(&env, &format!("sh -c {}", shell_quote(SWITCHED)));
    let delay = s["delay_exit_s"].as_f64().unwrap();
    assert!(
        delay >= block,
        "delay {delay} must cover the {block} s block: {s}"
    );
    assert!(delay < 10.0, "learned, not the default: {s}");
}

#[test]
fn auto_on_an_empty_database_uses_the_built_in_library_for_the_tool() {
    let env = Env::new();
    // A `pytest` that fails the way pytest does, then would hang.
    let bin = env.home.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let fake = bin.join("pytest");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'collected 2 items'\necho 'FAILED tests/test_x.py::test_a - assert 1 == 2'\nsleep 30\n",
    )
    .unwrap();
    make_executable(&fake);
    let fake = fake.to_str().unwrap();
    let (out, elapsed) = env.run(&["--auto", "--delay-exit", "0", fake, "-q"], LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "matched: {stderr}");
    assert!(
        elapsed < Duration::from_secs(20),
        "stopped at the failure, not after the sleep"
    );
    let note = stderr
        .lines()
        .find(|l| l.starts_with("earlyexit: --auto:"))
        .unwrap_or_else(|| panic!("one line says what was chosen: {stderr}"));
    assert!(
        note.contains("built-in library") && note.contains("pytest"),
        "{note}"
    );
    assert!(note.contains("no timeouts"), "{note}");
    // -q hides the line; --json carries the choice instead.
    let (out, _) = env.run(&["--auto", "-q", "--delay-exit", "0", fake], LIMIT);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("--auto:"));
    let s = run_json(&env, &["--auto", "--json", "--delay-exit", "0", fake]);
    assert_eq!(s["auto"]["pattern_source"], "builtin", "{s}");
    assert_eq!(s["auto"]["timeout_s"], serde_json::Value::Null, "{s}");
    assert_eq!(s["exit_reason"], "match", "{s}");
}

#[test]
fn auto_on_a_trained_database_uses_the_learned_pattern_delay_and_timeouts() {
    let env = Env::new();
    switched_runs(&env, "Error", 5);
    touch(&env, "fail");
    switched_runs(&env, "Error", 1);
    let s = run_json(&env, &["--auto", "--json", "sh", "-c", SWITCHED]);
    let auto = &s["auto"];
    assert_eq!(auto["pattern_source"], "learned", "{s}");
    assert_eq!(auto["pattern"], "Error", "{s}");
    assert_eq!(auto["runs"], 6, "{s}");
    assert!(auto["timeout_s"].as_f64().unwrap() >= 30.0, "{s}");
    let delay = auto["delay_exit_s"].as_f64().unwrap();
    assert!((1.5..10.0).contains(&delay), "{s}");
    assert_eq!(s["exit_reason"], "match", "{s}");
    // The learned delay was long enough for the whole block.
    let after = s["matches"][0]["context_after"].to_string();
    assert!(after.contains("at frame"), "{s}");
}

#[test]
fn auto_keeps_its_choice_for_a_minute_or_until_the_database_changes() {
    let env = Env::new();
    switched_runs(&env, "Error", 2);
    let cache_dir = env.home.path().join("auto-cache");
    let cached = || -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
        let mut v: Vec<_> = std::fs::read_dir(&cache_dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|e| (e.path(), e.metadata().unwrap().modified().unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    // `true` ends within 10 ms: its run goes to the spool, the database
    // is not written, so the second --auto run uses the cached choice.
    let first = run_json(&env, &["--auto", "--json", "true"]);
    let after_first = cached();
    assert_eq!(after_first.len(), 1, "{after_first:?}");
    let second = run_json(&env, &["--auto", "--json", "true"]);
    assert_eq!(first["auto"], second["auto"]);
    assert_eq!(cached(), after_first, "a cache hit rewrites nothing");
    // A run that lasts writes the database; within a minute the cached
    // choice still stands.
    switched_runs(&env, "Error", 1);
    run_json(&env, &["--auto", "--json", "true"]);
    assert_eq!(cached(), after_first, "younger than a minute: still used");
    // Older than a minute and the database changed: made again.
    let (path, _) = &after_first[0];
    let mut entry: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    entry["made_at_ms"] = serde_json::json!(entry["made_at_ms"].as_i64().unwrap() - 120_000);
    std::fs::write(path, entry.to_string()).unwrap();
    let aged = cached();
    run_json(&env, &["--auto", "--json", "true"]);
    assert_ne!(cached(), aged, "made again from the database");
}

#[test]
fn enforce_ignores_a_match_the_model_calls_noise_and_stops_on_a_real_error() {
    let env = Env::new();
    let noisy = "echo '   Compiling error-chain v0.12.4'; sleep 0.3; echo 'test result: ok'";
    let s = run_json(
        &env,
        &[
            "--json",
            "--fp-filter",
            "enforce",
            "--delay-exit",
            "0",
            "error",
            "sh",
            "-c",
            noisy,
        ],
    );
    assert_eq!(
        s["exit_reason"], "completed",
        "the noise did not stop it: {s}"
    );
    assert_eq!(s["match_count"], 0, "{s}");
    assert_eq!(s["suppressed_matches"], 1, "{s}");
    let m = &s["matches"][0];
    assert_eq!(m["suppressed"], true, "{s}");
    assert!(
        m["verdict"].as_str().unwrap().starts_with("likely noise, "),
        "{s}"
    );

    let real =
        "echo '   Compiling error-chain v0.12.4'; echo 'error[E0308]: mismatched types'; sleep 30";
    let (out, elapsed) = env.run(
        &[
            "--json",
            "--fp-filter",
            "enforce",
            "--delay-exit",
            "0",
            "error",
            "sh",
            "-c",
            real,
        ],
        LIMIT,
    );
    let s = json_summary(&out.stderr);
    assert_eq!(s["exit_reason"], "match", "{s}");
    assert!(elapsed < Duration::from_secs(20));
    assert_eq!(s["match_count"], 1, "{s}");
    assert_eq!(s["suppressed_matches"], 1, "{s}");
    assert_eq!(s["matches"][1]["is_error"], true, "{s}");

    // Annotate (the default) scores and records, and stops on the first match.
    let s = run_json(
        &env,
        &["--json", "--delay-exit", "0", "error", "sh", "-c", noisy],
    );
    assert_eq!(s["exit_reason"], "match", "{s}");
    assert_eq!(s["fp_filter"], "annotate");
    assert_eq!(s["matches"][0]["is_error"], false, "{s}");

    // The database has the verdicts and the suppressed match; stats shows it.
    let rows = db_rows(&env.db());
    assert!(rows.contains(&(1, Some(0), 1)), "{rows:?}");
    let (out, _) = env.run(&["stats", "--json"], LIMIT);
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["suppressed_matches"], 2, "{stats}");
    let (out, _) = env.run(&["stats"], LIMIT);
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 matches ignored as noise"));
}

#[test]
fn a_bad_threshold_is_a_usage_error_that_says_what_to_write() {
    let env = Env::new();
    let (out, _) = env.run(&["--fp-threshold", "2", "error", "true"], LIMIT);
    assert_ne!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("0.5 to 1"), "{stderr}");
    let (out, _) = env.run(&["--auto"], LIMIT);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--auto needs a command"));
}

/// (executions.suppressed_matches, match_events.is_error, match_events.suppressed)
/// of every error match event.
fn db_rows(db: &Path) -> Vec<(i64, Option<i64>, i64)> {
    let url = format!("sqlite://{}?mode=ro", db.display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_as(
                "SELECT e.suppressed_matches, m.is_error, m.suppressed FROM match_events m \
                 JOIN executions e USING (execution_id) WHERE m.kind = 'error'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap()
        })
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
