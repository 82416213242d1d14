//! End to end: the `earlyexit-aggregator eval bgl` binary on a BGL-shaped
//! sample written here, and on a missing data folder.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_earlyexit-aggregator");

#[test]
fn eval_bgl_json_ends_with_one_object_holding_the_scores() {
    let dir = tempfile::tempdir().unwrap();
    let bgl = dir.path().join("loghub2k/BGL");
    std::fs::create_dir_all(&bgl).unwrap();
    let mut csv = String::from(
        "LineId,Label,Timestamp,Date,Node,Time,NodeRepeat,Type,Component,Level,Content,EventId,EventTemplate\n",
    );
    for i in 0..150 {
        let (label, level, content, ev) = match i % 3 {
            0 => (
                "KERNDTLB",
                "FATAL",
                "data TLB error interrupt".to_owned(),
                "E1",
            ),
            1 => (
                "-",
                "INFO",
                format!("{i} double-hummer alignment exceptions"),
                "E2",
            ),
            _ => ("-", "INFO", format!("generating core.{i}"), "E3"),
        };
        csv.push_str(&format!(
            "{i},{label},1117838570,2005.06.03,R02-M1-N0,2005-06-03-15.42.50.675872,R02-M1-N0,RAS,KERNEL,{level},{content},{ev},x\n"
        ));
    }
    std::fs::write(bgl.join("BGL_2k.log_structured.csv"), csv).unwrap();
    let out = Command::new(BIN)
        .args(["eval", "bgl", "--json", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("random 5-fold"), "{stdout}");
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for k in [
        "random_p",
        "random_r",
        "random_f1",
        "template_p",
        "template_r",
        "template_f1",
    ] {
        let v = last[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {last}"));
        assert!((0.0..=1.0).contains(&v), "{k} = {v}");
    }
    assert_eq!(last["lines"], 150);
    assert_eq!(last["alerts"], 50);
    assert!(last["random_f1"].as_f64().unwrap() > 0.95, "{last}");
    // The only alert template held out leaves its fold's training lines
    // without alerts: no model is trained there, and the report says so.
    assert_eq!(last["template_single_class_folds"], 1, "{last}");
    assert_eq!(last["template_r"], 0.0, "{last}");
    assert!(
        stdout.contains("training lines of one class only"),
        "{stdout}"
    );
}

#[test]
fn a_missing_data_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["eval", "bgl", "--data"])
        .arg(dir.path().join("nowhere"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("loghub2k/BGL") && err.contains("--data"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
