//! `earlyexit-collector completions` and `man` describe the real command
//! line: its subcommands and flags.

use earlyexit_termui::docs::{self, CompletionsArgs, ManArgs, Shell};

#[test]
fn completions_and_man_name_the_subcommands_and_flags() {
    let command = earlyexit_collector::cli::command();
    command.clone().debug_assert();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut out = Vec::new();
        docs::completions(
            command.clone(),
            "earlyexit-collector",
            &CompletionsArgs { shell },
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        for word in [
            "serve",
            "token",
            "bundle",
            "tls-cert",
            "org-records-per-second",
        ] {
            assert!(text.contains(word), "{shell:?} completion lacks {word}");
        }
    }
    let mut page = Vec::new();
    docs::man(command, &ManArgs { dir: None }, &mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains(".TH earlyexit-collector 1"), "{page}");
    assert!(page.contains("serve") && page.contains("token"), "{page}");
}
