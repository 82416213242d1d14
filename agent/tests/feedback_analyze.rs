//! End-to-end: feedback, outcome labels and `analyze`, with the real
//! binary running real `sh -c` commands into a private database.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(30);

/// Runs `earlyexit ARGS`, expecting `code`; returns stdout.
fn expect(env: &Env, args: &[&str], code: i32) -> String {
    let (out, _) = env.run(args, LIMIT);
    assert_eq!(
        out.status.code(),
        Some(code),
        "earlyexit {args:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs a command under earlyexit with `--json`; returns its execution id.
fn recorded(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let (out, _) = env.run(&all, LIMIT);
    let summary = json_summary(&out.stderr);
    summary["execution_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no execution id: {summary}"))
        .to_string()
}

fn json(env: &Env, args: &[&str]) -> Value {
    serde_json::from_str(&expect(env, args, 0)).expect("one JSON object")
}

/// The `analyze patterns --json` row of `pattern`.
fn pattern_row(report: &Value, pattern: &str) -> Value {
    report["patterns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["pattern"] == pattern)
        .unwrap_or_else(|| panic!("no row for {pattern}: {report}"))
        .clone()
}

fn feedback_rows(env: &Env, id: &str) -> i64 {
    earlyexit::store::block_on(async {
        let store = earlyexit::store::Store::open_existing(&env.db()).await?;
        let n = store.feedback_count(id).await?;
        store.close().await;
        Ok::<_, earlyexit::store::StoreError>(n)
    })
    .unwrap()
}

#[test]
fn feedback_on_the_last_run_and_on_an_id_prefix() {
    let env = Env::new();
    let first = recorded(
        &env,
        &[
            "--delay-exit",
            "0",
            "ERROR",
            "--",
            "sh",
            "-c",
            "echo ERROR one",
        ],
    );
    let last = recorded(
        &env,
        &[
            "--delay-exit",
            "0",
            "ERROR",
            "--",
            "sh",
            "-c",
            "echo ERROR two",
        ],
    );

    let report = json(&env, &["feedback", "--last", "--rating", "4", "--json"]);
    assert_eq!(report["run"]["execution_id"], last.as_str(), "{report}");
    assert_eq!(report["run"]["user_rating"], 4);
    assert_eq!(report["pattern"]["user_rating_avg"], 4.0);

    // A prefix long enough to be unique (UUIDv7s made together share their start).
    let prefix = (4..=first.len())
        .map(|n| &first[..n])
        .find(|p| !last.starts_with(p))
        .unwrap();
    let text = expect(
        &env,
        &[
            "feedback",
            prefix,
            "--false-positive",
            "--comment",
            "just a log line",
        ],
        0,
    );
    assert!(
        text.contains(&format!("feedback recorded for run {first}")),
        "{text}"
    );
    assert!(text.contains("false positive"), "{text}");
    assert!(text.contains("1 false positives"), "{text}");
    assert_eq!(feedback_rows(&env, &first), 1);
    assert_eq!(feedback_rows(&env, &last), 1);

    let patterns = json(&env, &["analyze", "patterns", "--json"]);
    let row = pattern_row(&patterns, "ERROR");
    assert_eq!(row["uses"], 2);
    assert_eq!(row["false_positives"], 1);
    assert_eq!(row["true_exits"], 1);
    assert_eq!(row["rating_avg"], 4.0);
}

#[test]
fn bad_feedback_says_what_to_do_and_records_nothing() {
    let env = Env::new();
    let (out, _) = env.run(&["feedback", "--last", "--rating", "3"], LIMIT);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no runs recorded yet"), "{err}");

    let id = recorded(
        &env,
        &["--delay-exit", "0", "ERROR", "--", "sh", "-c", "echo ERROR"],
    );
    for (args, says) in [
        (
            vec!["feedback", "ffffffff", "--rating", "3"],
            "earlyexit stats",
        ),
        (
            vec!["feedback", "x", "--rating", "3"],
            "is not an execution id",
        ),
        (vec!["feedback", "--last"], "nothing to record"),
        (vec!["feedback", "--last", "--rating", "9"], "9"),
        (
            vec![
                "feedback",
                "--last",
                "--false-positive",
                "--should-have-exited",
                "yes",
            ],
            "contradict",
        ),
    ] {
        let (out, _) = env.run(&args, LIMIT);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(feedback_rows(&env, &id), 0);

    // --ask without a terminal does not ask; the values given are kept.
    let (out, _) = env.run(&["feedback", "--last", "--ask", "--missed-error"], LIMIT);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not asking"));
    assert_eq!(feedback_rows(&env, &id), 1);

    // `feedback: ask` in the config does not ask without a terminal either.
    std::fs::write(env.home.path().join("config.yaml"), "feedback: ask\n").unwrap();
    let (out, _) = env.run(&["feedback", "--last"], LIMIT);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("not asking") && err.contains("nothing to record"),
        "{err}"
    );
    assert_eq!(feedback_rows(&env, &id), 1);
}

#[test]
fn a_later_success_of_the_same_command_labels_the_match_a_likely_false_positive() {
    let env = Env::new();
    let flag = env.home.path().join("flaky-fixed");
    // Without the file the command prints a transient error on line 2 and
    // would go on; with it, it gets past line 2 and succeeds.
    let script = format!(
        "echo step1; if [ -e '{}' ]; then echo step2; echo done; else echo 'ERROR transient'; sleep 5; fi",
        flag.display()
    );
    let stopped = recorded(
        &env,
        &["--delay-exit", "0", "ERROR", "--", "sh", "-c", &script],
    );
    std::fs::write(&flag, "").unwrap();
    recorded(&env, &["ERROR", "--", "sh", "-c", &script]);
    // A run of another command that matched stays unlabelled.
    recorded(
        &env,
        &[
            "--delay-exit",
            "0",
            "ERROR",
            "--",
            "sh",
            "-c",
            "echo ERROR real",
        ],
    );

    let report = json(&env, &["analyze", "patterns", "--json"]);
    assert_eq!(report["labels_added"]["later_success"], 1, "{report}");
    let row = pattern_row(&report, "ERROR");
    assert_eq!(row["uses"], 3);
    assert_eq!(row["false_positives"], 1);
    assert_eq!(row["true_exits"], 1);
    // Labels are added once; the kept table says the same.
    let again = json(&env, &["analyze", "patterns", "--json"]);
    assert_eq!(again["labels_added"]["later_success"], 0);
    assert_eq!(pattern_row(&again, "ERROR")["false_positives"], 1);

    // Feedback wins over the label.
    expect(
        &env,
        &["feedback", &stopped, "--should-have-exited", "yes"],
        0,
    );
    let report = json(&env, &["analyze", "patterns", "--json"]);
    assert_eq!(pattern_row(&report, "ERROR")["false_positives"], 0);
}

#[test]
fn a_child_exiting_0_during_the_delay_is_a_likely_false_positive_and_a_silent_failure_a_miss() {
    let env = Env::new();
    recorded(
        &env,
        &[
            "--delay-exit",
            "5",
            "ERROR",
            "--",
            "sh",
            "-c",
            "echo 'ERROR harmless'; sleep 0.2; echo bye",
        ],
    );
    recorded(
        &env,
        &["ERROR", "--", "sh", "-c", "echo failing quietly; exit 3"],
    );
    // Killed at the end of the delay: a true exit.
    recorded(
        &env,
        &[
            "--delay-exit",
            "0.3",
            "ERROR",
            "--",
            "sh",
            "-c",
            "echo ERROR; sleep 5",
        ],
    );
    let report = json(&env, &["analyze", "patterns", "--json"]);
    assert_eq!(report["labels_added"]["delay_exit"], 1, "{report}");
    let row = pattern_row(&report, "ERROR");
    assert_eq!(row["uses"], 3);
    assert_eq!(row["false_positives"], 1);
    assert_eq!(row["misses"], 1);
    assert_eq!(row["true_exits"], 1);
    // 2·1 / (2·1 + 1 + 1)
    assert_eq!(row["effectiveness_score"], 0.5);
}

#[test]
fn analyze_on_an_empty_database_says_so() {
    let env = Env::new();
    for what in ["patterns", "timing", "anomalies", "models"] {
        let text = expect(&env, &["analyze", what], 0);
        assert!(text.contains("no telemetry recorded yet"), "{what}: {text}");
        let report = json(&env, &["analyze", what, "--json"]);
        let list = match what {
            "patterns" => "patterns",
            "timing" => "commands",
            "anomalies" => "anomalies",
            _ => "sessions",
        };
        assert_eq!(report[list], serde_json::json!([]), "{what}: {report}");
    }
    assert!(!env.db().exists(), "analyze never creates the database");
    // A database with runs but no pattern, no anomaly and no training.
    recorded(&env, &["-t", "10s", "--", "sh", "-c", "echo hi"]);
    assert!(expect(&env, &["analyze", "patterns"], 0).contains("no runs with an error pattern"));
    assert!(expect(&env, &["analyze", "anomalies"], 0).contains("no anomalies"));
    assert!(expect(&env, &["analyze", "models"], 0).contains("no training sessions yet"));
}

#[test]
fn analyze_timing_anomalies_and_models_on_a_populated_database() {
    let env = Env::new();
    let big = env.home.path().join("big");
    let script = format!(
        "if [ -e '{}' ]; then seq 1 20000; else echo small; fi",
        big.display()
    );
    for _ in 0..6 {
        recorded(&env, &["NOPE", "--", "sh", "-c", &script]);
    }
    std::fs::write(&big, "").unwrap();
    let jump = recorded(&env, &["NOPE", "--", "sh", "-c", &script]);

    let timing = json(&env, &["analyze", "timing", "--json"]);
    let commands = timing["commands"].as_array().unwrap();
    assert_eq!(commands.len(), 1, "{timing}");
    let c = &commands[0];
    assert_eq!(c["runs"], 7);
    for key in ["p50", "p95", "p99", "max"] {
        assert!(c["runtime"][key].as_f64().unwrap() > 0.0, "{c}");
    }
    assert!(c["time_to_first_output"]["p50"].as_f64().is_some(), "{c}");
    assert!(c["idle_periods_mean"].as_f64().is_some());
    assert_eq!(c["match_to_exit"], Value::Null);
    let table = expect(&env, &["analyze", "timing"], 0);
    assert!(
        table.contains("P95") && table.contains("FIRST-OUT"),
        "{table}"
    );

    let anomalies = json(&env, &["analyze", "anomalies", "--json"]);
    let found = anomalies["anomalies"].as_array().unwrap();
    let volume = found
        .iter()
        .find(|a| a["measure"] == "output_bytes")
        .unwrap_or_else(|| panic!("no output jump found: {anomalies}"));
    assert_eq!(volume["execution_id"], jump.as_str());
    assert_eq!(volume["history_runs"], 6);
    assert!(volume["value"].as_f64().unwrap() > volume["usual_high"].as_f64().unwrap());
    assert!(volume["spreads_out"].as_f64().unwrap() > 3.5);
    assert!(
        volume["detail"]
            .as_str()
            .unwrap()
            .contains("above the median")
    );
    assert_eq!(anomalies["rules"]["min_history"], 5);
    // --since in the future judges nothing; --command that fits nothing too.
    let none = json(
        &env,
        &["analyze", "anomalies", "--json", "--command", "no-such"],
    );
    assert_eq!(none["anomalies"], serde_json::json!([]));

    // Training sessions recorded by the trainer are listed.
    earlyexit::store::block_on(async {
        let store = earlyexit::store::Store::open_existing(&env.db()).await?;
        store
            .record_training_session(&earlyexit::store::analysis::NewTrainingSession {
                trained_at_ms: earlyexit::store::now_ms(),
                model: "line_classifier".into(),
                samples: 120,
                accuracy: Some(0.9),
                precision: Some(0.8),
                recall: Some(0.75),
                triggered_by: "new_labels".into(),
                detail: None,
            })
            .await
            .map_err(anyhow::Error::from)?;
        store.close().await;
        Ok::<_, anyhow::Error>(())
    })
    .unwrap();
    let models = json(&env, &["analyze", "models", "--json"]);
    let s = &models["sessions"][0];
    assert_eq!(s["model"], "line_classifier");
    assert_eq!(s["samples"], 120);
    assert_eq!(s["recall"], 0.75);
    assert_eq!(s["triggered_by"], "new_labels");
    assert!(s["trained_at"].as_str().unwrap().ends_with('Z'));
    let table = expect(&env, &["analyze", "models"], 0);
    assert!(
        table.contains("line_classifier") && table.contains("75.0%"),
        "{table}"
    );
}

#[test]
fn analyze_help_explains_the_columns_and_the_score() {
    let env = Env::new();
    let help = expect(&env, &["analyze", "patterns", "--help"], 0);
    assert!(help.contains("2*TRUE / (2*TRUE + FP + MISS)"), "{help}");
    for column in [
        "USES", "TRUE", "FP", "MISS", "TO-MATCH", "SAVED", "RATING", "SCORE",
    ] {
        assert!(help.contains(column), "{column}: {help}");
    }
    let help = expect(&env, &["analyze", "anomalies", "--help"], 0);
    assert!(help.contains("median absolute deviation"), "{help}");
}

#[test]
fn an_error_line_of_a_new_shape_is_an_anomaly_of_that_run() {
    let env = Env::new();
    let counter = env.home.path().join("counter");
    // The same command line each time; the sixth run on fails differently.
    let script = format!(
        "n=$(cat '{c}' 2>/dev/null || echo 0); echo $((n+1)) > '{c}'; \
         if [ $n -lt 6 ]; then echo \"ERROR: test case_$n failed after ${{n}}ms\"; \
         else echo 'ERROR: panic: index out of range [5] with length 3'; fi",
        c = counter.display()
    );
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(recorded(
            &env,
            &["--delay-exit", "0", "ERROR", "--", "sh", "-c", &script],
        ));
    }
    let report = json(&env, &["analyze", "anomalies", "--json"]);
    let new: Vec<&Value> = report["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["measure"] == "new_error_template")
        .collect();
    assert_eq!(new.len(), 1, "{report}");
    assert_eq!(new[0]["execution_id"], ids[6].as_str());
    assert_eq!(new[0]["history_runs"], 6);
    assert!(
        new[0]["template"].as_str().unwrap().contains("panic"),
        "{report}"
    );
    let table = expect(&env, &["analyze", "anomalies"], 0);
    assert!(table.contains("new_error_template"), "{table}");
    assert!(table.contains(&ids[6][..18]), "{table}");
}

/// Runs `earlyexit ARGS` on a pseudo-terminal (util-linux `script`), with
/// `input` typed; `None` when `script` is not installed.
fn on_a_terminal(env: &Env, args: &[&str], input: &str, ci: bool) -> Option<String> {
    use std::io::Write;
    use std::process::Stdio;
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: util-linux `script` is not installed, so no terminal can be made");
        return None;
    }
    let line = std::iter::once(env!("CARGO_BIN_EXE_earlyexit"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env("EARLYEXIT_HOME", env.home.path())
        .current_dir(env.home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if ci {
        cmd.env("CI", "true");
    } else {
        cmd.env_remove("CI");
    }
    let mut child = cmd.spawn().expect("spawn script");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = wait_with_limit(child, LIMIT);
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn ask_prompts_on_a_terminal_but_not_in_ci() {
    let env = Env::new();
    let id = recorded(
        &env,
        &[
            "--delay-exit",
            "0",
            "ERROR",
            "--",
            "sh",
            "-c",
            "echo ERROR x",
        ],
    );
    let Some(text) = on_a_terminal(
        &env,
        &["feedback", "--last", "--ask"],
        "4\ny\nnoise\n",
        false,
    ) else {
        return;
    };
    assert!(
        text.contains("Rating, 1 (badly) to 5 (perfectly)"),
        "{text}"
    );
    let run = earlyexit::store::block_on(async {
        let store = earlyexit::store::Store::open_existing(&env.db()).await?;
        let run = store
            .feedback_target(&id)
            .await
            .map_err(anyhow::Error::from)?;
        store.close().await;
        Ok::<_, anyhow::Error>(run)
    })
    .unwrap();
    assert_eq!(run.user_rating, Some(4), "{text}");
    assert!(run.false_positive_flag);
    assert_eq!(run.user_feedback.as_deref(), Some("noise"));

    // With CI set, a terminal is not enough.
    let text = on_a_terminal(&env, &["feedback", "--last", "--ask"], "2\n", true).unwrap();
    assert!(text.contains("not asking: CI is set"), "{text}");
    assert_eq!(feedback_rows(&env, &id), 1);
}
