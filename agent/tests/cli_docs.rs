//! `earlyexit completions SHELL` and `earlyexit man` through the real
//! binaries: reserved in the first position, independent of the config
//! (a broken config.yaml does not stop them), `ee` completes as `ee`.

use std::process::Command;

fn run(bin: &str, args: &[&str], home: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(bin)
        .args(args)
        .env("EARLYEXIT_HOME", home)
        .output()
        .expect("run the binary");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn completions_and_man_work_even_with_a_broken_config() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.yaml"),
        "telemetry: [not, a, level]\n",
    )
    .unwrap();
    let earlyexit = env!("CARGO_BIN_EXE_earlyexit");
    let ee = env!("CARGO_BIN_EXE_ee");

    let (code, out, err) = run(earlyexit, &["completions", "bash"], home.path());
    assert_eq!(code, 0, "{err}");
    for word in ["stats", "clear-data", "--delay-exit", "--unix-exit-codes"] {
        assert!(out.contains(word), "bash completion lacks {word}");
    }
    let (code, out, err) = run(ee, &["completions", "zsh"], home.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("#compdef ee"),
        "{}",
        &out[..out.len().min(200)]
    );

    let (code, out, err) = run(earlyexit, &["man"], home.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(".TH earlyexit 1"),
        "{}",
        &out[..out.len().min(200)]
    );

    // Any other subcommand reads the config and says what is wrong with it.
    let (code, _, err) = run(earlyexit, &["stats"], home.path());
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("telemetry"), "{err}");

    let (code, _, err) = run(earlyexit, &["completions", "tcsh"], home.path());
    assert_eq!(code, 3);
    assert!(
        err.contains("possible values") && err.contains("fish"),
        "{err}"
    );
}
