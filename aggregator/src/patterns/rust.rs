//! Entries for Rust: `cargo test` (libtest), rustc and clippy diagnostics,
//! panics.
//!
//! Owns the Rust family only. Formats as printed by cargo 1.9x / rustc and
//! libtest (checked on real runs: a failing `cargo test` and a `cargo build`
//! with a compile error).

use super::{Entry, Severity};

/// `cargo test` and the test runners that print libtest's format.
const TEST: &[&str] = &[
    "cargo test",
    "cargo t",
    "cargo nextest",
    "cargo llvm-cov",
    "cargo tarpaulin",
    "cargo miri",
];
/// Every cargo command and the compilers it drives.
const BUILD: &[&str] = &["cargo", "rustc", "rustdoc", "clippy-driver", "cargo-clippy"];

/// Rust entries, most specific first.
pub(super) const ENTRIES: &[Entry] = &[
    Entry {
        id: "cargo-test-failed",
        tool: "cargo test",
        severity: Severity::Error,
        regex: r"^test \S+( - .*)? \.\.\. FAILED$",
        excludes: &[],
        commands: TEST,
        catches: "one failed test: `test parser::tests::empty ... FAILED` (doc tests too: `test src/lib.rs - f (line 3) ... FAILED`)",
    },
    Entry {
        id: "cargo-test-result-failed",
        tool: "cargo test",
        severity: Severity::FailureSummary,
        regex: r"^test result: FAILED\. [0-9]+ passed; [0-9]+ failed",
        excludes: &[],
        commands: TEST,
        catches: "the summary of a failed test binary: `test result: FAILED. 92 passed; 1 failed; …`",
    },
    Entry {
        id: "cargo-test-failures-header",
        tool: "cargo test",
        severity: Severity::FailureSummary,
        regex: r"^failures:$",
        excludes: &[],
        commands: TEST,
        catches: "the header of libtest's failures section (`failures:`)",
    },
    Entry {
        id: "cargo-test-rerun",
        tool: "cargo test",
        severity: Severity::FailureSummary,
        regex: r"^error: test failed, to rerun pass ",
        excludes: &[],
        commands: TEST,
        catches: "cargo's closing line after a failed test binary: ``error: test failed, to rerun pass `--lib` ``",
    },
    Entry {
        id: "nextest-failed",
        tool: "cargo nextest",
        severity: Severity::Error,
        regex: r"^\s*(FAIL|SIGSEGV|SIGABRT|TIMEOUT) \[ *[0-9.]+s\] ",
        excludes: &[],
        commands: &["cargo nextest"],
        catches: "a failed test in nextest's status lines: `        FAIL [   0.004s] crate tests::name`",
    },
    Entry {
        id: "rustfmt-diff",
        tool: "rustfmt",
        severity: Severity::Error,
        regex: r"^Diff in \S+( at line [0-9]+|:[0-9]+):$",
        excludes: &[],
        commands: &["cargo fmt", "rustfmt"],
        catches: "a file `cargo fmt --check` would change: `Diff in /src/lib.rs:1:` (older rustfmt: `Diff in /src/lib.rs at line 1:`)",
    },
    Entry {
        id: "rust-panic",
        tool: "rust",
        severity: Severity::Error,
        regex: r"^thread '[^']*'( \([0-9]+\))? panicked at ",
        excludes: &[],
        commands: &["cargo", "rustc"],
        catches: "a panic: `thread 'main' panicked at src/main.rs:3:5:` (with the thread id recent rustc prints: `thread 't' (2977) panicked at …`)",
    },
    Entry {
        id: "cargo-could-not-compile",
        tool: "cargo",
        severity: Severity::FailureSummary,
        regex: r"^error: [Cc]ould not compile `",
        excludes: &[],
        commands: BUILD,
        catches: "``error: could not compile `foo` (lib) due to 2 previous errors`` (older cargo: ``error: Could not compile `foo`.``)",
    },
    Entry {
        id: "cargo-build-failed-waiting",
        tool: "cargo",
        severity: Severity::FailureSummary,
        regex: r"^warning: build failed, waiting for other jobs to finish",
        excludes: &[],
        commands: BUILD,
        catches: "cargo's note that a parallel build already failed: `warning: build failed, waiting for other jobs to finish...`",
    },
    Entry {
        id: "rustc-aborting",
        tool: "rustc",
        severity: Severity::FailureSummary,
        regex: r"^error: aborting due to ",
        excludes: &[],
        commands: BUILD,
        catches: "`error: aborting due to 3 previous errors`",
    },
    Entry {
        id: "rustc-error",
        tool: "rustc",
        severity: Severity::Error,
        regex: r"^error(\[E[0-9]{4}\])?: ",
        excludes: &[],
        commands: BUILD,
        catches: "a compiler, clippy or cargo error: `error[E0425]: cannot find value`, `error: unused variable` under `-D warnings`, `error: failed to select a version`",
    },
    Entry {
        id: "rustc-warning",
        tool: "rustc",
        severity: Severity::Warning,
        regex: r"^warning(\[[A-Za-z0-9_:]+\])?: ",
        excludes: &[r"^warning: .* generated [0-9]+ warnings?( \(.*\))?$"],
        commands: BUILD,
        catches: "a compiler or clippy warning: `warning: unused variable: `x``",
    },
];

#[cfg(test)]
mod tests {
    use super::ENTRIES;
    use crate::patterns::test_support::check_fixtures;

    /// Lines from a real failing `cargo test` and `cargo build` (cargo
    /// 1.9x), and the noise lines next to them in the same runs.
    #[test]
    fn fixtures() {
        check_fixtures(
            ENTRIES,
            &[
                (
                    "cargo-test-failed",
                    "test tests::fails ... FAILED",
                    "test tests::error_is_reported ... ok",
                ),
                (
                    "cargo-test-failed",
                    "test src/lib.rs - add (line 3) ... FAILED",
                    "test tests::failed_login_is_rejected ... ignored",
                ),
                (
                    "cargo-test-result-failed",
                    "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.18s",
                    "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s",
                ),
                (
                    "cargo-test-failures-header",
                    "failures:",
                    "    tests::failures_are_counted",
                ),
                (
                    "cargo-test-rerun",
                    "error: test failed, to rerun pass `--lib`",
                    "     Running unittests src/lib.rs (target/debug/deps/rs-1234)",
                ),
                (
                    "nextest-failed",
                    "        FAIL [   0.004s] rs tests::fails",
                    "        PASS [   0.003s] rs tests::fail_fast_is_off",
                ),
                (
                    "rustfmt-diff",
                    "Diff in /tmp/pat-real/rs/src/lib.rs:1:",
                    "+pub fn add(a: i32, b: i32) -> i32 {",
                ),
                (
                    "rust-panic",
                    "thread 'tests::fails' (2977) panicked at src/lib.rs:5:26:",
                    "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
                ),
                (
                    "rust-panic",
                    "thread 'main' panicked at 'assertion failed: requested < self.len', src/grid.rs:195:9",
                    "   4: rs::tests::fails",
                ),
                (
                    "cargo-could-not-compile",
                    "error: could not compile `rs` (lib) due to 1 previous error",
                    "   Compiling rs v0.1.0 (/tmp/rs)",
                ),
                (
                    "cargo-build-failed-waiting",
                    "warning: build failed, waiting for other jobs to finish...",
                    "   Compiling build-failed-handler v0.1.0",
                ),
                (
                    "cargo-could-not-compile",
                    "error: Could not compile `alacritty_terminal`.",
                    "    Finished dev [unoptimized + debuginfo] target(s) in 5m 49s",
                ),
                (
                    "rustc-aborting",
                    "error: aborting due to 2 previous errors",
                    "For more information about this error, try `rustc --explain E0425`.",
                ),
                (
                    "rustc-error",
                    "error[E0425]: cannot find value `b` in this scope",
                    "  = note: `#[warn(unused_variables)]` on by default",
                ),
                (
                    "rustc-error",
                    "error: unused variable: `x`",
                    "warning: unused variable: `x`",
                ),
                (
                    "rustc-warning",
                    "warning: unused variable: `unused`",
                    "warning: `rs` (lib) generated 1 warning (run `cargo fix --lib -p rs` to apply 1 suggestion)",
                ),
            ],
        );
    }
}
