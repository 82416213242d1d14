//! The command categories ([`COMMAND_CATEGORIES`]) and the category a
//! script, target or task name suggests (`test:unit`, `run_tests.sh`,
//! `build-and-deploy`).
//!
//! It judges names only: it must never look at a program's arguments.

use crate::context::UNKNOWN;

pub(super) const TEST: &str = "test";

pub(super) const BUILD: &str = "build";

pub(super) const LINT: &str = "lint";

pub(super) const DEPLOY: &str = "deploy";

pub(super) const INSTALL: &str = "install";

pub(super) const RUN: &str = "run";

/// Every value [`detect_command_category`](super::detect_command_category) can return.
pub const COMMAND_CATEGORIES: &[&str] = &[TEST, BUILD, LINT, DEPLOY, INSTALL, RUN, UNKNOWN];

/// A script run by path (`./run_tests.sh`, `scripts/deploy.py`), by its name.
pub(super) fn script_file(word: &str) -> Option<&'static str> {
    let looks_like_script = word.contains('/')
        || [
            ".sh", ".bash", ".py", ".js", ".mjs", ".ts", ".rb", ".pl", ".ps1",
        ]
        .iter()
        .any(|ext| word.ends_with(ext));
    if looks_like_script {
        script_name(word)
    } else {
        None
    }
}

/// The category a script, target or task name suggests: `test:unit`,
/// `run_tests.sh`, `lint-fix`, `build:prod`, `deploy`, `dev`, …
///
/// When several words match, the strongest purpose wins (`run_tests` is a
/// test, `build-and-deploy` a deploy); vague words (`check`, `all`, `run`)
/// count only when nothing else does.
pub(super) fn script_name(name: &str) -> Option<&'static str> {
    const STRENGTH: [&str; 6] = [TEST, DEPLOY, LINT, BUILD, INSTALL, RUN];
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    let stem = base.split_once('.').map_or(base.as_str(), |(stem, _)| stem);
    let tokens = || stem.split(|c: char| !c.is_ascii_alphanumeric());
    let strong = tokens()
        .filter_map(|token| match token {
            t if t.starts_with("test") || t.ends_with("tests") || t.starts_with("unittest") => {
                Some(TEST)
            }
            "spec" | "specs" | "e2e" | "unit" | "integration" | "coverage" | "cov" | "bench" => {
                Some(TEST)
            }
            "lint" | "eslint" | "fmt" | "format" | "typecheck" | "types" | "clippy"
            | "prettier" | "stylelint" | "style" => Some(LINT),
            "build" | "compile" | "bundle" | "dist" | "package" | "pack" | "assemble" => {
                Some(BUILD)
            }
            "deploy" | "release" | "publish" | "ship" | "rollout" | "provision" => Some(DEPLOY),
            "install" | "setup" | "bootstrap" | "deps" | "dependencies" | "vendor" => Some(INSTALL),
            "start" | "dev" | "serve" | "server" | "preview" => Some(RUN),
            _ => None,
        })
        .min_by_key(|category| STRENGTH.iter().position(|c| c == category));
    strong.or_else(|| {
        tokens().find_map(|token| match token {
            "check" | "verify" => Some(TEST),
            "all" => Some(BUILD),
            "run" | "up" | "watch" => Some(RUN),
            _ => None,
        })
    })
}
