//! Entries for Go: `go test` (text and `-json` output), `go build` / `go
//! vet` compile errors, panics and runtime fatal errors, the race detector,
//! module errors.
//!
//! Owns the Go family only. Formats from the `testing` package and
//! `cmd/test2json` (the `-json` events `{"Action":"fail",…}`), and the gc
//! compiler's `file.go:line:col: message`.

use super::{Entry, Severity};

/// `go test` and the wrappers that print its output.
const TEST: &[&str] = &["go test", "gotestsum"];
/// Every go command, and linters that print compiler-style positions.
const GO: &[&str] = &["go", "gotestsum", "golangci-lint"];

/// Go entries, most specific first.
pub(super) const ENTRIES: &[Entry] = &[
    Entry {
        id: "go-test-json-fail",
        tool: "go test -json",
        severity: Severity::FailureSummary,
        regex: r#"^\{.*"Action":"(build-)?fail""#,
        excludes: &[],
        commands: TEST,
        catches: r#"a test2json failure event: `{"Action":"fail","Package":"…","Test":"TestX"}`, `{"Action":"build-fail",…}`"#,
    },
    Entry {
        id: "go-test-json-output-fail",
        tool: "go test -json",
        severity: Severity::Error,
        regex: r#"^\{.*"Output":"( |\\t)*(--- FAIL: |panic: |fatal error: |FAIL\\t|FAIL\\n|WARNING: DATA RACE)"#,
        excludes: &[],
        commands: TEST,
        catches: r#"a test2json output event carrying a failure line: `{"Action":"output",…,"Output":"--- FAIL: TestX (0.00s)\n"}`"#,
    },
    Entry {
        id: "go-test-fail",
        tool: "go test",
        severity: Severity::Error,
        regex: r"^\s*--- FAIL: \S+",
        excludes: &[],
        commands: TEST,
        catches: "a failed test or subtest: `--- FAIL: TestX (0.00s)`, `    --- FAIL: TestX/sub (0.00s)`",
    },
    Entry {
        id: "go-test-pkg-fail",
        tool: "go test",
        severity: Severity::FailureSummary,
        regex: r"^FAIL($|\t\S)",
        excludes: &[],
        commands: TEST,
        catches: "a failed package: `FAIL\tgithub.com/x/y\t0.010s`, `FAIL\tx [build failed]`, the bare `FAIL` line",
    },
    Entry {
        id: "go-panic",
        tool: "go",
        severity: Severity::Error,
        regex: r"^(panic: |fatal error: )",
        excludes: &[],
        commands: GO,
        catches: "`panic: runtime error: index out of range`, `panic: test timed out after 1s`, `fatal error: all goroutines are asleep - deadlock!`",
    },
    Entry {
        id: "go-race",
        tool: "go",
        severity: Severity::Error,
        regex: r"^WARNING: DATA RACE$",
        excludes: &[],
        commands: GO,
        catches: "the race detector's report head",
    },
    Entry {
        id: "go-compile-error",
        tool: "go build",
        severity: Severity::Error,
        regex: r"^(vet: )?(\.{1,2}/)*[\w./@+-]+\.go:[0-9]+:[0-9]+: \S",
        excludes: &[],
        commands: GO,
        catches: "a compiler, vet or linter diagnostic with line and column: `./main.go:3:2: undefined: x` (not `t.Log` lines, which have no column)",
    },
    Entry {
        id: "go-module-error",
        tool: "go",
        severity: Severity::Error,
        regex: r"^go: (.*: )?(missing go\.sum entry|cannot find module|no required module|unknown revision|invalid version|updates to go\.mod needed|go\.mod requires go|errors parsing go\.mod|inconsistent vendoring|module .* found, but does not contain)",
        excludes: &[],
        commands: GO,
        catches: "module resolution failures: `go: github.com/x@v1: missing go.sum entry`, `go: updates to go.mod needed`",
    },
];

#[cfg(test)]
mod tests {
    use super::ENTRIES;
    use crate::patterns::test_support::check_fixtures;

    /// Lines in the formats of `go test`, `go test -json` (test2json) and
    /// the gc compiler.
    #[test]
    fn fixtures() {
        check_fixtures(
            ENTRIES,
            &[
                (
                    "go-test-json-fail",
                    r#"{"Time":"2025-03-10T17:34:31Z","Action":"fail","Package":"example.com/x","Test":"TestA","Elapsed":0}"#,
                    r#"{"Time":"2025-03-10T17:34:31Z","Action":"pass","Package":"example.com/x","Test":"TestFailover","Elapsed":0}"#,
                ),
                (
                    "go-test-json-fail",
                    r#"{"ImportPath":"example.com/x.test","Action":"build-fail"}"#,
                    r##"{"ImportPath":"example.com/x.test","Action":"build-output","Output":"# example.com/x\n"}"##,
                ),
                (
                    "go-test-json-output-fail",
                    r#"{"Action":"output","Package":"p","Test":"TestB","Output":"    --- FAIL: TestB/sub (0.00s)\n"}"#,
                    r#"{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: the failed case is skipped\n"}"#,
                ),
                (
                    "go-test-fail",
                    "    --- FAIL: TestNestedWithFailure/c (0.00s)",
                    "--- PASS: TestFailureModes (0.00s)",
                ),
                (
                    "go-test-pkg-fail",
                    "FAIL\tgithub.com/x/y\t0.011s",
                    "ok  \tgithub.com/x/failover\t0.011s",
                ),
                ("go-test-pkg-fail", "FAIL", "FAILOVER=1 is set"),
                (
                    "go-panic",
                    "panic: test timed out after 1s",
                    "    panics_test.go:12: recovered: boom",
                ),
                (
                    "go-panic",
                    "fatal error: all goroutines are asleep - deadlock!",
                    "goroutine 1 [chan receive]:",
                ),
                (
                    "go-race",
                    "WARNING: DATA RACE",
                    "Write at 0x00c000012345 by goroutine 7:",
                ),
                (
                    "go-compile-error",
                    "./directory_test.go:321:10: undefined: assert.foo",
                    "    main_test.go:11: Hello",
                ),
                (
                    "go-module-error",
                    "go: github.com/x/y@v1.2.3: missing go.sum entry for go.mod file",
                    "go: downloading github.com/x/errors v1.2.3",
                ),
            ],
        );
    }
}
