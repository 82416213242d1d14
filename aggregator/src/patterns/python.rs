//! Entries for Python: pytest, unittest, tracebacks, warnings, pip.
//!
//! Owns the Python family only. pytest's report as in its reporting demo
//! (pytest 9: `_____ name _____` sections, `E   ` lines, `path.py:N:
//! ErrorType`, the short summary, `=== … in 0.12s ===` totals) and as older
//! releases print it (`in 506.01 seconds`); unittest, tracebacks, warnings
//! and pip checked on real runs (Python 3.11). The linters' formats (ruff,
//! flake8, pylint, mypy, black) are from their documentation.

use super::{Entry, Severity};

/// pytest, however it is started.
const PYTEST: &[&str] = &["pytest", "py.test", "python -m pytest"];
/// Anything that runs Python code.
const PYTHON: &[&str] = &["pytest", "py.test", "python", "unittest", "pip"];
/// Python linters, formatters and type checkers.
const LINT: &[&str] = &["flake8", "ruff", "pylint", "mypy", "black", "pyright"];
/// unittest and the runners that print its format.
const UNITTEST: &[&str] = &["python", "unittest", "pytest"];

/// Python entries, most specific first.
pub(super) const ENTRIES: &[Entry] = &[
    Entry {
        id: "pytest-failed-test",
        tool: "pytest",
        severity: Severity::Error,
        regex: r"^(FAILED|ERROR) \S+\.py(::| |$)",
        excludes: &[],
        commands: PYTEST,
        catches: "a short-summary line: `FAILED tests/test_x.py::test_a - assert 1 == 2`, `ERROR tests/test_y.py`",
    },
    Entry {
        id: "pytest-verbose-failed",
        tool: "pytest",
        severity: Severity::Error,
        regex: r"^\S+\.py::\S.* (FAILED|ERROR)( +\[ *[0-9]+%\])?$",
        excludes: &[],
        commands: PYTEST,
        catches: "a failed test in `-v` output: `tests/test_x.py::test_a FAILED   [ 50%]`",
    },
    Entry {
        id: "pytest-summary-failed",
        tool: "pytest",
        severity: Severity::FailureSummary,
        regex: r"^=+ (.*, )?[0-9]+ (failed|errors?)\b.* in [0-9.]+ ?s(econds)?( \([0-9:]+\))? =+$",
        excludes: &[],
        commands: PYTEST,
        catches: "the closing totals of a failed run: `==== 2 failed, 10 passed in 1.2s ====`",
    },
    Entry {
        id: "pytest-section-failures",
        tool: "pytest",
        severity: Severity::FailureSummary,
        regex: r"^=+ (FAILURES|ERRORS) =+$",
        excludes: &[],
        commands: PYTEST,
        catches: "the header of the failure report: `===== FAILURES =====`",
    },
    Entry {
        id: "pytest-error-collecting",
        tool: "pytest",
        severity: Severity::Error,
        regex: r"^(_+ )?ERROR (collecting|at setup of|at teardown of) \S+",
        excludes: &[],
        commands: PYTEST,
        catches: "`____ ERROR collecting tests/test_x.py ____`, `ERROR at setup of test_db`",
    },
    Entry {
        id: "pytest-interrupted",
        tool: "pytest",
        severity: Severity::FailureSummary,
        regex: r"^!+ Interrupted: [0-9]+ errors? during collection !+$",
        excludes: &[],
        commands: PYTEST,
        catches: "`!!!!!!!! Interrupted: 1 error during collection !!!!!!!!`",
    },
    Entry {
        id: "pytest-assert-detail",
        tool: "pytest",
        severity: Severity::Error,
        regex: r"^\s*E {2,}\S",
        excludes: &[],
        commands: PYTEST,
        catches: "the `E       assert 42 == 43` lines that explain a failure",
    },
    Entry {
        id: "pytest-failure-location",
        tool: "pytest",
        severity: Severity::Error,
        regex: r"^\s*\S+\.py:[0-9]+: ([A-Za-z_][\w.]*\.)?([A-Z]\w*)?(Error|Exception|Failed|Exit|Interrupt|Warning)$",
        excludes: &[],
        commands: PYTEST,
        catches: "the location line closing a failure: `failure_demo.py:21: AssertionError`",
    },
    Entry {
        id: "unittest-failure-header",
        tool: "unittest",
        severity: Severity::Error,
        regex: r"^(FAIL|ERROR): \w+ \([\w.]+\)",
        excludes: &[],
        commands: UNITTEST,
        catches: "`FAIL: test_fail (test_x.T.test_fail)`, `ERROR: test_err (test_x.T)`",
    },
    Entry {
        id: "unittest-summary-failed",
        tool: "unittest",
        severity: Severity::FailureSummary,
        regex: r"^FAILED \((failures|errors|unexpected successes)=[0-9]+",
        excludes: &[],
        commands: UNITTEST,
        catches: "`FAILED (failures=1, errors=1)`",
    },
    Entry {
        id: "python-traceback",
        tool: "python",
        severity: Severity::Error,
        regex: r"^\s*Traceback \(most recent call last\):$",
        excludes: &[],
        commands: PYTHON,
        catches: "the head of a traceback",
    },
    Entry {
        id: "python-exception",
        tool: "python",
        severity: Severity::Error,
        regex: r"^([a-z_][\w]*\.)*([A-Z]\w*)?(Error|Exception|Exit|Interrupt)(: .*)?$",
        excludes: &[],
        commands: PYTHON,
        catches: "the exception line closing a traceback: `ValueError: boom`, `json.decoder.JSONDecodeError: …`, `KeyboardInterrupt`",
    },
    Entry {
        id: "python-warning",
        tool: "python",
        severity: Severity::Warning,
        regex: r"^\s*\S+:[0-9]+: [A-Z]\w*Warning: ",
        excludes: &[],
        commands: PYTHON,
        catches: "a `warnings` message: `<string>:1: DeprecationWarning: old`",
    },
    Entry {
        id: "python-lint-error",
        tool: "flake8 / ruff / pylint / mypy",
        severity: Severity::Error,
        regex: r"^\S+\.pyi?:[0-9]+(:[0-9]+)?:? ([A-Z]+[0-9]+:? |error: )",
        excludes: &[],
        commands: LINT,
        catches: "`a.py:1:8: F401 [*] `os` imported but unused` (ruff, flake8), `a.py:1:0: C0114: …` (pylint), `a.py:3: error: Incompatible types` (mypy)",
    },
    Entry {
        id: "python-lint-summary",
        tool: "flake8 / ruff / pylint / mypy",
        severity: Severity::FailureSummary,
        regex: r"^(Found [1-9][0-9]* errors?\b|Oh no! |[0-9]+ files? would be reformatted)",
        excludes: &[],
        commands: LINT,
        catches: "`Found 3 errors.` (ruff), `Found 2 errors in 1 file (checked 3 source files)` (mypy), black's `Oh no! …` and `1 file would be reformatted`",
    },
    Entry {
        id: "black-would-reformat",
        tool: "black",
        severity: Severity::Error,
        regex: r"^would reformat \S",
        excludes: &[],
        commands: &["black"],
        catches: "`would reformat src/app.py`",
    },
    Entry {
        id: "pip-error",
        tool: "pip",
        severity: Severity::Error,
        regex: r"^ERROR: (Could not|No matching distribution|Failed|Cannot|Command errored|ResolutionImpossible|pip's dependency resolver|Exception|Invalid requirement|Directory)",
        excludes: &[],
        commands: &["pip"],
        catches: "`ERROR: Could not find a version that satisfies the requirement x`, `ERROR: Failed building wheel for y`",
    },
];

#[cfg(test)]
mod tests {
    use super::ENTRIES;
    use crate::patterns::test_support::check_fixtures;

    /// pytest lines as its report prints them; unittest, traceback and pip
    /// lines from real runs (Python 3.11, pip 24).
    #[test]
    fn fixtures() {
        check_fixtures(
            ENTRIES,
            &[
                (
                    "pytest-failed-test",
                    "FAILED tests/test_x.py::test_a - assert 1 == 2",
                    "PASSED tests/test_x.py::test_error_message_is_clear",
                ),
                (
                    "pytest-failed-test",
                    "ERROR tests/test_db.py",
                    "tests/test_db.py ....   [100%]",
                ),
                (
                    "pytest-failed-test",
                    "FAILED tests/test_p.py::test_sum[a b] - assert 3 == 4",
                    "tests/test_p.py::test_sum[a b] PASSED",
                ),
                (
                    "pytest-verbose-failed",
                    "tests/test_x.py::test_a FAILED                                    [ 50%]",
                    "tests/test_x.py::test_handles_failed_upload PASSED               [ 50%]",
                ),
                (
                    "pytest-summary-failed",
                    "= 2 failed, 10071 passed, 378 skipped, 1 xfailed, 182 warnings in 506.01 seconds =",
                    "============ 10 passed, 2 skipped in 1.20s ============",
                ),
                (
                    "pytest-summary-failed",
                    "==== 1 failed, 2 passed in 0.12s ====",
                    "==== 3 passed, 1 xfailed in 0.12s ====",
                ),
                (
                    "pytest-section-failures",
                    "================================= FAILURES =================================",
                    "=========================== test session starts ============================",
                ),
                (
                    "pytest-error-collecting",
                    "_____________ ERROR collecting tests/test_x.py _____________",
                    "collecting ... collected 44 items",
                ),
                (
                    "pytest-interrupted",
                    "!!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!",
                    "!!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!",
                ),
                (
                    "python-lint-error",
                    "src/app.py:1:8: F401 [*] `os` imported but unused",
                    "src/app.py: 12 lines checked",
                ),
                (
                    "python-lint-error",
                    "src/app.py:3: error: Incompatible types in assignment",
                    "src/app.py:3: note: See https://mypy.rtfd.io/en/stable/_refs.html",
                ),
                (
                    "python-lint-summary",
                    "Found 2 errors in 1 file (checked 3 source files)",
                    "Success: no issues found in 3 source files",
                ),
                (
                    "python-lint-summary",
                    "1 file would be reformatted, 4 files would be left unchanged.",
                    "All done! ✨ 🍰 ✨",
                ),
                (
                    "black-would-reformat",
                    "would reformat src/app.py",
                    "5 files left unchanged.",
                ),
                (
                    "pytest-assert-detail",
                    "E       assert (3 * 2) < 6",
                    "    assert param1 * 2 < param2",
                ),
                (
                    "pytest-failure-location",
                    "failure_demo.py:21: AssertionError",
                    "failure_demo.py:35: ",
                ),
                (
                    "pytest-failure-location",
                    "tests/test_lib.py:32: Exception",
                    "tests/test_lib.py:32: in test_error",
                ),
                (
                    "unittest-failure-header",
                    "FAIL: test_fail (test_x.T.test_fail)",
                    "test_error_path (test_x.T.test_error_path) ... ok",
                ),
                (
                    "unittest-summary-failed",
                    "FAILED (failures=1, errors=1)",
                    "OK (skipped=2)",
                ),
                (
                    "python-traceback",
                    "Traceback (most recent call last):",
                    "  File \"/tmp/py/test_x.py\", line 5, in test_err",
                ),
                (
                    "python-exception",
                    "json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
                    "    raise ValueError(\"boom\")",
                ),
                (
                    "python-exception",
                    "AssertionError: 1 != 2",
                    "ErrorCount: 0",
                ),
                (
                    "python-exception",
                    "Exception: error",
                    "    except Exception:",
                ),
                (
                    "python-warning",
                    "<string>:1: DeprecationWarning: old",
                    "warnings summary: see above",
                ),
                (
                    "pip-error",
                    "ERROR: No matching distribution found for nonexistent-pkg==99",
                    "Looking in links: /opt/wheels",
                ),
            ],
        );
    }
}
