//! Generic entries: CI-runner markers (GitHub Actions, Azure Pipelines,
//! GitLab, Travis, Jenkins) and the shell's own failure messages, which
//! apply to every command; and git's `fatal:`, since every CI job runs git.
//!
//! Owns only entries that are safe everywhere: markers a runner or a shell
//! prints, never a tool's wording that could appear in another tool's
//! passing output.

use super::{Entry, Severity};

/// Generic entries, most specific first.
pub(super) const ENTRIES: &[Entry] = &[
    Entry {
        id: "gha-process-exit-code",
        tool: "GitHub Actions",
        severity: Severity::FailureSummary,
        regex: r"^(##\[error\])?Process completed with exit code [1-9][0-9]*\.?$",
        excludes: &[],
        commands: &[],
        catches: "the runner's summary of a failed step: `##[error]Process completed with exit code 1.`",
    },
    Entry {
        id: "gha-error",
        tool: "GitHub Actions",
        severity: Severity::Error,
        regex: r"^(##\[error\]|::error( [^:]*)?::|##vso\[task\.logissue type=error)",
        excludes: &[],
        commands: &[],
        catches: "error annotations: `##[error]…`, the `::error file=…::msg` workflow command, Azure's `##vso[task.logissue type=error]`",
    },
    Entry {
        id: "gha-warning",
        tool: "GitHub Actions",
        severity: Severity::Warning,
        regex: r"^(##\[warning\]|::warning( [^:]*)?::|##vso\[task\.logissue type=warning)",
        excludes: &[],
        commands: &[],
        catches: "warning annotations: `##[warning]…`, `::warning::…`",
    },
    Entry {
        id: "gitlab-job-failed",
        tool: "GitLab runner",
        severity: Severity::FailureSummary,
        regex: r"^ERROR: Job failed\b",
        excludes: &[],
        commands: &[],
        catches: "`ERROR: Job failed: exit code 1`, `ERROR: Job failed (system failure): …`",
    },
    Entry {
        id: "travis-command-exited",
        tool: "Travis CI",
        severity: Severity::FailureSummary,
        regex: r#"^The command ".*" (exited with|failed and exited with) [1-9][0-9]*"#,
        excludes: &[],
        commands: &[],
        catches: "`The command \"make test\" exited with 2.`",
    },
    Entry {
        id: "jenkins-finished-failure",
        tool: "Jenkins",
        severity: Severity::FailureSummary,
        regex: r"^Finished: (FAILURE|UNSTABLE|ABORTED)$",
        excludes: &[],
        commands: &[],
        catches: "the last line of a failed Jenkins build: `Finished: FAILURE`",
    },
    Entry {
        id: "git-fatal",
        tool: "git",
        severity: Severity::Error,
        regex: r"^fatal: \S",
        excludes: &[
            r"^fatal: No names found, cannot describe anything\.",
            r"^fatal: no tag exactly matches ",
        ],
        commands: &["git"],
        catches: "`fatal: repository 'https://…' not found`, `fatal: not a git repository` (not `git describe` finding no tag, which version scripts expect)",
    },
    Entry {
        id: "shell-command-not-found",
        tool: "shell",
        severity: Severity::Error,
        regex: r"^(\S+: )?(line [0-9]+: |[0-9]+: )?\S+: (command not found|not found)$",
        excludes: &[],
        commands: &[],
        catches: "`bash: cargo: command not found`, `./ci.sh: line 3: jq: command not found`, dash's `sh: 1: jq: not found`",
    },
    Entry {
        id: "shell-killed-by-signal",
        tool: "shell",
        severity: Severity::Error,
        regex: r"^(\S+: line [0-9]+: +[0-9]+ +(Segmentation fault|Bus error|Illegal instruction|Aborted|Killed|Floating point exception)( +\(core dumped\))?( .*)?|(Segmentation fault|Bus error|Illegal instruction|Aborted|Killed|Floating point exception)( \(core dumped\))?)$",
        excludes: &[],
        commands: &[],
        catches: "the shell's report of a child killed by a signal: `Segmentation fault (core dumped)`, `./run.sh: line 4: 123 Killed  ./app`",
    },
];

#[cfg(test)]
mod tests {
    use super::ENTRIES;
    use crate::patterns::test_support::check_fixtures;

    #[test]
    fn fixtures() {
        check_fixtures(
            ENTRIES,
            &[
                (
                    "gha-process-exit-code",
                    "##[error]Process completed with exit code 1.",
                    "Process completed with exit code 0.",
                ),
                (
                    "gha-error",
                    "::error file=src/main.rs,line=3::missing semicolon",
                    "echo \"::group::error handling tests\"",
                ),
                (
                    "gha-error",
                    "##[error]The operation was canceled.",
                    "[error] is a tag in this log",
                ),
                (
                    "gha-warning",
                    "##[warning]Node.js 16 actions are deprecated.",
                    "##[group]Run cargo test",
                ),
                (
                    "gitlab-job-failed",
                    "ERROR: Job failed: exit code 1",
                    "Job succeeded",
                ),
                (
                    "travis-command-exited",
                    "The command \"ci/script.sh\" exited with 101.",
                    "The command \"ci/script.sh\" exited with 0.",
                ),
                (
                    "jenkins-finished-failure",
                    "Finished: FAILURE",
                    "Finished: SUCCESS",
                ),
                (
                    "git-fatal",
                    "fatal: could not read Username for 'https://github.com': No such device or address",
                    "fatal: No names found, cannot describe anything.",
                ),
                (
                    "shell-command-not-found",
                    "./ci.sh: line 3: jq: command not found",
                    "checking whether a command not found handler exists... no",
                ),
                (
                    "shell-command-not-found",
                    "sh: 1: jq: not found",
                    "Test not found: skipping",
                ),
                (
                    "shell-killed-by-signal",
                    "Segmentation fault (core dumped)",
                    "Killed processes: 0",
                ),
                (
                    "shell-killed-by-signal",
                    "./run.sh: line 4: 12345 Killed                  ./server",
                    "Aborted transactions are retried",
                ),
            ],
        );
    }
}
