//! The context of a run, captured once at start: the project type of the
//! working directory, the category of the command, how busy the machine is,
//! and the few environment variables that describe where it runs (CI or not,
//! `NODE_ENV`, …). The learning side groups runs by these. One file per job:
//!
//! | file | owns |
//! |---|---|
//! | [`project`] | [`detect_project_type`]: the nearest marker file in the working directory or its parents; [`PROJECT_TYPES`] |
//! | [`command`](mod@command) | [`detect_command_category`]: what a command line does, looking through wrappers and shell scripts; [`COMMAND_CATEGORIES`] |
//! | [`system`] | [`system_context`]: load, available memory and free disk at start |
//! | [`env`](mod@env) | [`relevant_env_vars`]: the allow-listed environment variables ([`ENV_ALLOW_LIST`]) |
//!
//! This file holds [`RunContext`], which gathers all four for a run, and
//! [`UNKNOWN`], the answer when nothing applies.
//!
//! Everything here is best effort and cheap: a few directory listings, two
//! small `/proc` reads and one `statvfs`. It must never fail or slow a run
//! (missing data is `None` or `"unknown"`), never spawn a process, and never
//! record an environment variable outside [`ENV_ALLOW_LIST`]. It uses no
//! other module of this crate.

pub mod command;
pub mod env;
pub mod project;
pub mod system;

pub use command::{COMMAND_CATEGORIES, detect_command_category};
pub use env::{ENV_ALLOW_LIST, MAX_ENV_VALUE_BYTES, relevant_env_vars};
pub use project::{MAX_DIR_ENTRIES, MAX_PROJECT_LEVELS, PROJECT_TYPES, detect_project_type};
pub use system::{SystemContext, system_context};

/// Returned when no project type or command category applies.
pub const UNKNOWN: &str = "unknown";

/// Everything about where a run happens, gathered once per run.
#[derive(Debug, Clone)]
pub struct RunContext {
    /// The working directory.
    pub cwd: std::path::PathBuf,
    /// [`detect_project_type`].
    pub project_type: &'static str,
    /// [`detect_command_category`].
    pub command_category: &'static str,
    /// [`system_context`].
    pub system: SystemContext,
    /// [`relevant_env_vars`].
    pub environment_vars: String,
}

impl RunContext {
    /// Gathers the context of running `argv` in the current directory.
    pub fn gather(argv: &[String]) -> RunContext {
        let cwd = std::env::current_dir().unwrap_or_default();
        RunContext {
            project_type: detect_project_type(&cwd),
            command_category: detect_command_category(argv),
            system: system_context(&cwd),
            environment_vars: relevant_env_vars(),
            cwd,
        }
    }
}
