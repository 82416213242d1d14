//! `earlyexit-aggregator completions` and `man` describe the real command
//! line: its subcommands and flags.

use earlyexit_termui::docs::{self, CompletionsArgs, ManArgs, Shell};

#[test]
fn completions_and_man_name_the_subcommands_and_flags() {
    let command = earlyexit_aggregator::cli::command();
    command.clone().debug_assert();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut out = Vec::new();
        docs::completions(
            command.clone(),
            "earlyexit-aggregator",
            &CompletionsArgs { shell },
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        for word in [
            "triage",
            "train-default",
            "train-classifier",
            "eval",
            "min-score",
        ] {
            assert!(text.contains(word), "{shell:?} completion lacks {word}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut listed = Vec::new();
    docs::man(
        command,
        &ManArgs {
            dir: Some(dir.path().to_path_buf()),
        },
        &mut listed,
    )
    .unwrap();
    let top = std::fs::read_to_string(dir.path().join("earlyexit-aggregator.1")).unwrap();
    assert!(top.contains("train\\-default"), "{top}");
    let eval = std::fs::read_to_string(dir.path().join("earlyexit-aggregator-eval.1")).unwrap();
    assert!(eval.contains("cidiff"), "{eval}");
}
