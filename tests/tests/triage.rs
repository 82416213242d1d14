//! `earlyexit triage`, end to end: a real failing command run through the
//! real `earlyexit`, recorded in its SQLite database, then triaged from the
//! record (`--last`, `--id`), and the errors a user can make.

use earlyexit_e2e::{Agent, COMMAND_LIMIT, binaries, text};

/// A build that prints 40 lines of progress, a compiler error on stderr
/// and cargo's summary, then fails.
const BUILD: &str = "i=0; while [ $i -lt 40 ]; do echo \"   Compiling dep$i v1.0.$i\"; i=$((i+1)); done; \
echo 'error[E0425]: cannot find value `count` in this scope' >&2; \
echo ' --> src/main.rs:4:20' >&2; \
echo 'error: could not compile `demo` (bin \"demo\") due to 1 previous error' >&2; exit 101";

fn findings(stdout: &[u8]) -> Vec<serde_json::Value> {
    text(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn a_recorded_failing_run_is_triaged_from_the_database() {
    let bin = binaries!();
    let agent = Agent::new(&bin, "https://127.0.0.1:9", "unused", "");

    // Before any run: a clear error, no database created.
    let (out, _) = agent.run(&["triage", "--last"], COMMAND_LIMIT);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no runs recorded yet"),
        "{}",
        text(&out.stderr)
    );

    let (out, _) = agent.run(&["-t", "30s", "--", "sh", "-c", BUILD], COMMAND_LIMIT);
    assert!(out.status.code().is_some(), "{}", text(&out.stderr));

    let (out, _) = agent.run(&["triage", "--last", "--json"], COMMAND_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let f = findings(&out.stdout);
    assert!(
        !f.is_empty(),
        "the compiler error is found: {}",
        text(&out.stderr)
    );
    assert_eq!(
        f[0]["text"], "error[E0425]: cannot find value `count` in this scope",
        "{f:?}"
    );
    assert!(
        f[0]["why"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "pattern:rustc-error")
    );
    let score = f[0]["score"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&score), "{score}");
    assert!(
        f.iter()
            .all(|x| !x["text"].as_str().unwrap().contains("Compiling")),
        "{f:?}"
    );

    // The same run by its id, as text, the best one only.
    let (out, _) = agent.run(&["export", "--format", "jsonl"], COMMAND_LIMIT);
    let run: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    let id = run["execution_id"].as_str().unwrap().to_string();
    let (out, _) = agent.run(&["triage", "--id", &id, "--top", "1"], COMMAND_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert_eq!(shown.lines().count(), 1, "{shown}");
    assert!(shown.contains("error[E0425]"), "{shown}");
    assert!(text(&out.stderr).contains(&id), "{}", text(&out.stderr));

    // Mistakes get a message that says what to do.
    let (out, _) = agent.run(&["triage", "--id", "no-such-run"], COMMAND_LIMIT);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("no recorded run has id 'no-such-run'"),
        "{}",
        text(&out.stderr)
    );
    let (out, _) = agent.run(&["triage", "--last", "--min-score", "2"], COMMAND_LIMIT);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("not a probability"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_log_file_and_its_history_are_triaged_without_a_database() {
    let bin = binaries!();
    let agent = Agent::new(&bin, "https://127.0.0.1:9", "unused", "");
    let dir = tempfile::tempdir().unwrap();
    let flaky = "error: could not reach cache server, building without it\n";
    let noise: String = (0..60)
        .map(|i| format!("   Compiling dep{i} v1.0.{i}\n"))
        .collect();
    let pass = dir.path().join("pass.log");
    let fail = dir.path().join("fail.log");
    std::fs::write(&pass, format!("{flaky}{noise}    Finished `dev` profile\n")).unwrap();
    std::fs::write(
        &fail,
        format!("{flaky}{noise}error[E0308]: mismatched types\r\n --> src/main.rs:2:18\r\n"),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let (out, _) = agent.run(args, COMMAND_LIMIT);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        findings(&out.stdout)
    };
    let cold = run(&[
        "triage",
        "--json",
        "--min-score",
        "0",
        fail.to_str().unwrap(),
    ]);
    let warm = run(&[
        "triage",
        "--json",
        "--min-score",
        "0",
        "--history",
        pass.to_str().unwrap(),
        fail.to_str().unwrap(),
    ]);
    let score_of = |f: &[serde_json::Value], line: u64| {
        f.iter()
            .find(|x| x["line"] == line)
            .map(|x| x["score"].as_f64().unwrap())
            .unwrap()
    };
    assert_eq!(warm[0]["line"], 62, "{warm:?}");
    assert_eq!(
        warm[0]["end_line"], 63,
        "the diagnostic is one finding: {warm:?}"
    );
    assert!(
        score_of(&warm, 1) < score_of(&cold, 1),
        "the flaky line the passing run prints too counts for less with history"
    );
    assert!(
        run(&["triage", pass.to_str().unwrap()]).is_empty(),
        "a clean log prints nothing"
    );
}
