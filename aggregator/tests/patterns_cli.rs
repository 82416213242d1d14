//! The `earlyexit-aggregator patterns` and `eval patterns` commands, run as
//! the real binary on files the tests write.

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_earlyexit-aggregator"))
}

#[test]
fn scan_prints_the_failure_lines_of_a_cargo_log_and_not_its_noise() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("build.log");
    std::fs::write(
        &log,
        "running 2 tests\r\n\
         test tests::error_is_reported ... ok\r\n\
         test tests::fails ... \x1b[31mFAILED\x1b(B\x1b[m\r\n\
         test result: ok. 0 failed\r\n\
         progress 10%\rtest result: FAILED. 1 passed; 1 failed; 0 ignored\n",
    )
    .unwrap();
    let out = bin()
        .args(["patterns", "scan", "--command", "cargo test"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "3:cargo-test-failed: test tests::fails ... FAILED\n\
         5:cargo-test-result-failed: test result: FAILED. 1 passed; 1 failed; 0 ignored\n"
    );
}

#[test]
fn list_with_a_command_shows_only_the_entries_it_selects() {
    let out = bin()
        .args(["patterns", "list", "--json", "--command", "terraform plan"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let ids: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(ids.iter().any(|i| i == "terraform-error"), "{ids:?}");
    assert!(ids.iter().any(|i| i == "gha-error"), "{ids:?}");
    assert!(!ids.iter().any(|i| i == "cargo-test-failed"), "{ids:?}");
}

#[test]
fn eval_patterns_without_its_data_says_what_is_expected() {
    let tmp = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["eval", "patterns", "--data"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("runner_samples") && stderr.contains("--data"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}
