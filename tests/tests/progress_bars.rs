//! Progress bars draw on a terminal and nowhere else: `earlyexit sync` of
//! a backlog and `earlyexit export --output FILE` of 10,000 runs under a
//! pseudo-terminal (util-linux `script`) show their bar; the same commands
//! with stderr on a pipe show none (the sync its periodic text line, the
//! export its summary). Real agent and collector processes on 127.0.0.1.

use std::process::{Command, Stdio};

use earlyexit_e2e::{Agent, COMMAND_LIMIT, Collector, binaries, text, wait_with_limit};

/// Records in each agent's backlog: above the 1,000 a sync needs for a bar.
const BACKLOG: usize = 3000;

#[test]
fn a_sync_backlog_draws_a_bar_on_a_terminal_only() {
    let script = Command::new("script").arg("--version").output();
    if !script.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: `script` (util-linux) is not installed to give the sync a terminal");
        return;
    }
    let bin = binaries!();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite://{}", dir.path().join("collector.db").display());
    let token = Collector::create_org_and_token(&bin, &store, "acme");
    let collector = Collector::start(&bin, &store, 0, &[]);

    // On a terminal: `script` runs the sync on a pty and copies what it
    // wrote (stdout and stderr alike) to our pipe.
    let on_tty = Agent::new(&bin, &collector.url(), &token, "");
    on_tty.seed(3, BACKLOG);
    let inner = format!("{} sync", bin.agent.display());
    let child = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("EARLYEXIT_HOME", on_tty.home.path())
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .current_dir(on_tty.home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_limit(child, COMMAND_LIMIT);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}{}", text(&out.stderr));
    assert!(
        shown.contains(&format!("/{BACKLOG} records (")),
        "no progress bar on the terminal:\n{shown}"
    );
    assert!(shown.contains("eta"), "not the bar's template:\n{shown}");
    assert!(
        shown.contains(&format!("sent {BACKLOG} records")),
        "{shown}"
    );

    // On a pipe: no bar, no escape sequence; the text line instead.
    let on_pipe = Agent::new(&bin, &collector.url(), &token, "");
    on_pipe.seed(3, BACKLOG);
    let (out, _) = on_pipe.run(&["sync"], COMMAND_LIMIT);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "escape sequences on a pipe:\n{stderr}"
    );
    assert!(!stderr.contains("eta"), "a bar on a pipe:\n{stderr}");
    assert!(
        stderr.contains(&format!("sending: {BACKLOG}/{BACKLOG} records (100%)")),
        "{stderr}"
    );
}

#[test]
fn an_export_to_a_file_draws_a_bar_on_a_terminal_only() {
    const RUNS: usize = 10_000;
    let script = Command::new("script").arg("--version").output();
    if !script.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: `script` (util-linux) is not installed to give the export a terminal");
        return;
    }
    let bin = binaries!();
    // No collector is needed to export; the config only has to be valid.
    let agent = Agent::new(&bin, "http://127.0.0.1:9", "unused", "");
    agent.seed(3, RUNS);

    let out_file = agent.home.path().join("runs.jsonl");
    let inner = format!(
        "{} export --format jsonl --output {}",
        bin.agent.display(),
        out_file.display()
    );
    let child = Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .env("EARLYEXIT_HOME", agent.home.path())
        .env("TERM", "xterm")
        .current_dir(agent.home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_with_limit(child, COMMAND_LIMIT);
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}{}", text(&out.stderr));
    assert!(
        shown.contains(&format!("/{RUNS} runs (")),
        "no progress bar on the terminal:\n{shown}"
    );
    let lines = std::fs::read_to_string(&out_file).unwrap().lines().count();
    assert_eq!(lines, RUNS);

    // On a pipe: the summary line only.
    std::fs::remove_file(&out_file).unwrap();
    let (out, _) = agent.run(
        &[
            "export",
            "--format",
            "jsonl",
            "--output",
            out_file.to_str().unwrap(),
        ],
        COMMAND_LIMIT,
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.trim(),
        format!("exported {RUNS} runs to {}", out_file.display())
    );
}
