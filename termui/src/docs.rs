//! `completions SHELL` and `man [--dir DIR]` for a binary, from its clap
//! [`Command`]. The binary adds [`CompletionsArgs`] and [`ManArgs`] as
//! subcommands and calls [`completions`] / [`man`] with its full command.
//!
//! Writes to the writer it is given (stdout) or, for `man --dir`, new files
//! in DIR; it never installs anything.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Command;
pub use clap_complete::Shell;

/// `completions SHELL`: print a completion script.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "\
Install, e.g.:
  bash:  BIN completions bash > ~/.local/share/bash-completion/completions/BIN
  zsh:   BIN completions zsh > ~/.zfunc/_BIN   (with fpath+=~/.zfunc before compinit)
  fish:  BIN completions fish > ~/.config/fish/completions/BIN.fish")]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

/// `man`: print the man page, or write one per subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct ManArgs {
    /// Write BIN.1 and one BIN-SUBCOMMAND.1 page per subcommand into DIR
    /// (created if missing) instead of printing BIN.1 on stdout.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Writes the completion script for `shell` of `command` (named `bin`) to `out`.
pub fn completions(
    mut command: Command,
    bin: &str,
    args: &CompletionsArgs,
    out: &mut dyn Write,
) -> io::Result<()> {
    clap_complete::generate(args.shell, &mut command, bin, out);
    out.flush()
}

/// `man`: the page of `command` on `out`, or with `--dir` every page
/// written into that folder (their paths are printed on `out`).
pub fn man(command: Command, args: &ManArgs, out: &mut dyn Write) -> io::Result<()> {
    match &args.dir {
        None => clap_mangen::Man::new(command).render(out),
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
            for path in write_pages(command, dir)? {
                writeln!(out, "{}", path.display())?;
            }
            Ok(())
        }
    }
}

/// Writes the page of `command` and of each of its subcommands (recursively,
/// named `parent-sub.1`) into `dir`; returns the files written.
fn write_pages(command: Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut command = command;
    command.build();
    let mut written = Vec::new();
    let mut stack = vec![command];
    while let Some(cmd) = stack.pop() {
        let name = cmd.get_display_name().unwrap_or(cmd.get_name()).to_string();
        let path = dir.join(format!("{name}.1"));
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone()).render(&mut page)?;
        std::fs::write(&path, page).map_err(|e| with_path(e, &path))?;
        written.push(path);
        stack.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    }
    Ok(written)
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Parser, Subcommand};

    #[derive(Parser)]
    #[command(name = "demo", about = "A demo")]
    struct Demo {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Subcommand)]
    enum Sub {
        /// Sync now.
        Sync {
            /// Give up after this long.
            #[arg(long)]
            timeout: Option<String>,
        },
    }

    fn demo() -> Command {
        <Demo as clap::CommandFactory>::command()
    }

    #[test]
    fn completions_name_the_subcommands_and_flags_for_every_shell() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut out = Vec::new();
            completions(demo(), "demo", &CompletionsArgs { shell }, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.contains("sync") && text.contains("timeout"),
                "{shell}: {text}"
            );
        }
    }

    #[test]
    fn man_prints_one_page_or_writes_one_per_subcommand() {
        let mut out = Vec::new();
        man(demo(), &ManArgs { dir: None }, &mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(
            page.starts_with(".ie") || page.contains(".TH demo"),
            "{page}"
        );
        assert!(page.contains("sync"), "{page}");

        let dir = tempfile_dir();
        let mut listed = Vec::new();
        man(
            demo(),
            &ManArgs {
                dir: Some(dir.clone()),
            },
            &mut listed,
        )
        .unwrap();
        let sub = std::fs::read_to_string(dir.join("demo-sync.1")).unwrap();
        assert!(sub.contains("timeout"), "{sub}");
        assert!(String::from_utf8(listed).unwrap().contains("demo.1"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A fresh folder under the system's temporary directory.
    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "earlyexit-termui-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}
