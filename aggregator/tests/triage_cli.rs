//! The `earlyexit-aggregator triage`, `train-default` and `eval cidiff`
//! commands, run as the real binary on files the tests write.

use std::path::Path;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_earlyexit-aggregator"))
}

fn noise(n: usize) -> String {
    (0..n)
        .map(|i| format!("   Compiling crate{} v0.{}.{}\r\n", i % 7, i % 13, i))
        .collect()
}

#[test]
fn triage_json_history_and_top() {
    let tmp = tempfile::tempdir().unwrap();
    let flaky = "error: could not reach cache server, building without it\r\n";
    let pass = tmp.path().join("pass.log");
    let fail = tmp.path().join("fail.log");
    std::fs::write(&pass, noise(80) + flaky + &noise(5)).unwrap();
    std::fs::write(
        &fail,
        noise(80)
            + flaky
            + &noise(5)
            + "error[E0425]: cannot find value `count` in this scope\r\n --> src/main.rs:4:20\r\n",
    )
    .unwrap();
    let out = bin()
        .arg("triage")
        .arg(&fail)
        .arg("--json")
        .arg("--history")
        .arg(&pass)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{stdout}");
    assert_eq!(rows[0]["line"], 87);
    assert!(
        rows[0]["why"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "not-in-history")
    );

    let out = bin()
        .arg("triage")
        .arg(&fail)
        .args(["--top", "1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
}

#[test]
fn triage_of_a_clean_log_prints_nothing_and_bad_input_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let clean = tmp.path().join("ok.log");
    std::fs::write(&clean, noise(200) + "    Finished `dev` profile in 3.2s\n").unwrap();
    let out = bin().arg("triage").arg(&clean).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = bin()
        .args(["triage", "--min-score", "2"])
        .arg(&clean)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--min-score"));

    let missing = tmp.path().join("nope.log");
    let out = bin().arg("triage").arg(&missing).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.log"));
}

fn write_case(dir: &Path, name: &str, k: usize) {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("pass.log"), noise(40 + k)).unwrap();
    std::fs::write(
        d.join("fail.log"),
        noise(40 + k) + "error[E0308]: mismatched types\n --> src/lib.rs:1:1\n",
    )
    .unwrap();
    std::fs::write(d.join("groundtruth"), format!("DEFAULT\nE {}\n", 41 + k)).unwrap();
}

#[test]
fn train_default_writes_a_usable_model_and_eval_cidiff_reports_json() {
    let tmp = tempfile::tempdir().unwrap();
    // Without the tuning split: a message naming it.
    for k in 0..4 {
        write_case(&tmp.path().join("train"), &format!("c{k}"), k);
    }
    let model = tmp.path().join("model.json");
    let train = |extra: &[&str]| {
        bin()
            .args(["train-default", "--json", "--data"])
            .arg(tmp.path())
            .arg("--out")
            .arg(&model)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = train(&[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("tune"),
        "{out:?}"
    );
    assert!(!model.exists(), "nothing written on bad input");
    write_case(&tmp.path().join("tune"), "t0", 7);
    write_case(&tmp.path().join("holdout"), "h0", 9);
    let out = train(&["--holdout"]);
    assert!(out.status.success(), "{out:?}");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("tune (1 cases)") && report.contains("holdout (1 cases)"),
        "{report}"
    );
    let first = std::fs::read(&model).unwrap();
    assert!(train(&[]).status.success());
    assert_eq!(
        first,
        std::fs::read(&model).unwrap(),
        "the same data gives the same model"
    );
    let fail = tmp.path().join("tune/t0/fail.log");
    let out = bin()
        .arg("triage")
        .arg(&fail)
        .arg("--model")
        .arg(&model)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("E0308"));

    let data = tmp.path().join("data");
    for k in 0..2 {
        write_case(&data.join("cidiff/data/breakages"), &format!("b{k}"), k);
    }
    let out = bin()
        .args(["eval", "cidiff", "--json", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for k in ["warm_f1", "warm_top5", "cold_pass_flags", "cold_recall"] {
        assert!(last.get(k).is_some(), "{k} missing: {last}");
    }
    assert_eq!(last["warm_top5"], 1.0, "{stdout}");

    let out = bin()
        .args(["eval", "cidiff", "--data"])
        .arg(tmp.path().join("none"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cidiff/data/breakages"));
}
