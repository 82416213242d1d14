//! Entries for JavaScript and TypeScript: jest, mocha, TAP (`node --test`,
//! tape), npm / yarn / pnpm, uncaught Node.js errors, tsc.
//!
//! Owns the JS family only. jest's format as in jest's own end-to-end
//! snapshots (runner samples), mocha's spec reporter as in the freeCodeCamp
//! Travis log; TAP, npm and Node.js errors checked on real runs of `node
//! --test`, `npm test`, `npm run` and uncaught errors (Node.js 20, npm 11,
//! which prints `npm error`; npm 6 printed `npm ERR!`).

use super::{Entry, Severity};

/// Commands that run a JS test runner (directly or as a package script).
const TEST: &[&str] = &[
    "jest",
    "mocha",
    "vitest",
    "node",
    "npm test",
    "npm t",
    "npm run",
    "npm run-script",
    "yarn",
    "pnpm test",
    "pnpm run",
    "pnpm t",
];
/// ESLint, directly or as a package script.
const LINT: &[&str] = &[
    "eslint",
    "npm run",
    "npm test",
    "yarn",
    "pnpm run",
    "pnpm lint",
];
/// Anything that runs Node.js code or a package manager.
const NODE: &[&str] = &["node", "npm", "yarn", "pnpm", "jest", "mocha", "tsc"];

/// JS entries, most specific first.
pub(super) const ENTRIES: &[Entry] = &[
    Entry {
        id: "jest-suite-fail",
        tool: "jest",
        severity: Severity::FailureSummary,
        regex: r"^FAIL \S",
        excludes: &[],
        commands: TEST,
        catches: "a failed test file: `FAIL __tests__/sum.test.js`",
    },
    Entry {
        id: "jest-failure-header",
        tool: "jest",
        severity: Severity::Error,
        regex: r"^\s*● \S",
        excludes: &[
            r"^\s*● Console$",
            r"^\s*● (Validation|Deprecation) Warning:",
        ],
        commands: TEST,
        catches: "the head of one failure: `  ● suite › test name`, `  ● Test suite failed to run` (not `● Console` blocks)",
    },
    Entry {
        id: "jest-summary-failed",
        tool: "jest",
        severity: Severity::FailureSummary,
        regex: r"^(Tests|Test Suites|Snapshots):\s+[0-9]+ failed",
        excludes: &[],
        commands: TEST,
        catches: "`Tests:       1 failed, 2 passed, 3 total`, `Test Suites: 1 failed, 1 total`",
    },
    Entry {
        id: "jest-test-failed-mark",
        tool: "jest",
        severity: Severity::Error,
        regex: r"^\s*[✕×] \S",
        excludes: &[],
        commands: TEST,
        catches: "a failed test in verbose output: `    ✕ adds numbers (5 ms)`",
    },
    Entry {
        id: "jest-code-frame",
        tool: "jest",
        severity: Severity::Error,
        regex: r"^\s*> [0-9]+ \| ",
        excludes: &[],
        commands: TEST,
        catches: "the marked source line of a code frame: `    > 12 |   expect(false).toBeTruthy();`",
    },
    Entry {
        id: "mocha-failing",
        tool: "mocha",
        severity: Severity::FailureSummary,
        regex: r"^\s*[0-9]+ failing$",
        excludes: &[],
        commands: TEST,
        catches: "mocha's total: `  3 failing`",
    },
    Entry {
        id: "mocha-failure-item",
        tool: "mocha",
        severity: Severity::Error,
        regex: r"^\s+[0-9]+\) \S",
        excludes: &[],
        commands: TEST,
        catches: "a failed test in mocha's spec listing and failure report: `  1) Check challenges`",
    },
    Entry {
        id: "tap-not-ok",
        tool: "TAP (node --test, tape)",
        severity: Severity::Error,
        regex: r"^\s*not ok [0-9]+\b",
        excludes: &[r"#\s*(TODO|SKIP)\b"],
        commands: TEST,
        catches: "`not ok 2 - fails` (not `# TODO` or `# SKIP` directives)",
    },
    Entry {
        id: "tap-fail-count",
        tool: "TAP (node --test, tape)",
        severity: Severity::FailureSummary,
        regex: r"^# fail [1-9][0-9]*$",
        excludes: &[],
        commands: TEST,
        catches: "the TAP total `# fail 1`",
    },
    Entry {
        id: "eslint-error",
        tool: "eslint",
        severity: Severity::Error,
        regex: r"^\s+[0-9]+:[0-9]+\s+error\s+\S",
        excludes: &[],
        commands: LINT,
        catches: "a problem in ESLint's stylish output: `  12:5  error  'x' is defined but never used  no-unused-vars`",
    },
    Entry {
        id: "eslint-summary",
        tool: "eslint",
        severity: Severity::FailureSummary,
        regex: r"^✖ [0-9]+ problems? \([1-9][0-9]* errors?",
        excludes: &[],
        commands: LINT,
        catches: "`✖ 3 problems (2 errors, 1 warning)`",
    },
    Entry {
        id: "npm-err",
        tool: "npm",
        severity: Severity::Error,
        regex: r"^npm (ERR!|error) ",
        excludes: &[],
        commands: NODE,
        catches: "npm's error block: `npm ERR! Test failed.`, `npm error Missing script: \"nope\"` (npm 10+)",
    },
    Entry {
        id: "npm-warn",
        tool: "npm",
        severity: Severity::Warning,
        regex: r"^npm (WARN|warn) ",
        excludes: &[],
        commands: NODE,
        catches: "`npm WARN deprecated …`, `npm warn …`",
    },
    Entry {
        id: "yarn-pnpm-failed",
        tool: "yarn / pnpm",
        severity: Severity::FailureSummary,
        regex: r"^\s*(error Command failed with exit code [1-9]|ELIFECYCLE\s+(Test failed|Command failed)|ERR_PNPM_\w+)",
        excludes: &[],
        commands: NODE,
        catches: "`error Command failed with exit code 1.` (yarn 1), ` ELIFECYCLE  Command failed with exit code 1.` (pnpm), `ERR_PNPM_…`",
    },
    Entry {
        id: "node-uncaught-error",
        tool: "node",
        severity: Severity::Error,
        regex: r"^\s*(Uncaught )?([A-Z]\w*)?(Error|Exception)( \[[A-Z0-9_]+\])?: \S",
        excludes: &[],
        commands: NODE,
        catches: "an error as Node, mocha and jest print it (indented inside a report): `TypeError: Cannot read properties of null`, `Error: Cannot find module './x'`, `AssertionError [ERR_ASSERTION]: …`",
    },
    Entry {
        id: "tsc-error",
        tool: "tsc",
        severity: Severity::Error,
        regex: r"^\s*(\S+(:[0-9]+:[0-9]+ - |\([0-9]+,[0-9]+\): ))?error TS[0-9]+: ",
        excludes: &[],
        commands: NODE,
        catches: "`src/a.ts:3:7 - error TS2322: …`, `src/a.ts(3,7): error TS2322: …`",
    },
];

#[cfg(test)]
mod tests {
    use super::ENTRIES;
    use crate::patterns::test_support::check_fixtures;

    /// jest and mocha lines in their reporters' formats; TAP, npm and node
    /// lines from real runs (Node.js 20, npm 11).
    #[test]
    fn fixtures() {
        check_fixtures(
            ENTRIES,
            &[
                (
                    "jest-suite-fail",
                    "FAIL __tests__/throwNumber.test.js",
                    "PASS __tests__/failing-input.test.js",
                ),
                (
                    "jest-failure-header",
                    "  ● .assertions() › throws",
                    "  ● Console",
                ),
                (
                    "jest-failure-header",
                    "  ● Test suite failed to run",
                    "● Validation Warning:",
                ),
                (
                    "jest-summary-failed",
                    "Tests:       1 failed, 1 total",
                    "Tests:       4 passed, 4 total",
                ),
                (
                    "jest-test-failed-mark",
                    "    ✕ throws on assertion (3 ms)",
                    "    ✓ handles error input (2 ms)",
                ),
                (
                    "jest-code-frame",
                    "    > 12 |   expect(false).toBeTruthy();",
                    "      11 |   expect.assertions(2);",
                ),
                ("mocha-failing", "  1 failing", "  12 passing (3s)"),
                (
                    "mocha-failure-item",
                    "  1) Check challenges",
                    "  2109 passing (1m)",
                ),
                (
                    "tap-not-ok",
                    "not ok 2 - fails",
                    "not ok 3 - flaky network # TODO fix",
                ),
                ("tap-fail-count", "# fail 1", "# fail 0"),
                (
                    "eslint-error",
                    "  12:5  error  'x' is defined but never used  no-unused-vars",
                    "  3:1  warning  Unexpected console statement  no-console",
                ),
                (
                    "eslint-summary",
                    "✖ 3 problems (2 errors, 1 warning)",
                    "✖ 1 problem (0 errors, 1 warning)",
                ),
                (
                    "npm-err",
                    "npm error Missing script: \"nope\"",
                    "> node -e \"require('assert').strictEqual(1,2)\"",
                ),
                (
                    "npm-err",
                    "npm ERR! Test failed.  See above for more details.",
                    "npm notice New major version of npm available!",
                ),
                (
                    "npm-warn",
                    "npm WARN deprecated request@2.88.2: request has been deprecated",
                    "added 12 packages in 3s",
                ),
                (
                    "yarn-pnpm-failed",
                    "error Command failed with exit code 1.",
                    "info Visit https://yarnpkg.com/en/docs/cli/run for documentation about this command.",
                ),
                (
                    "node-uncaught-error",
                    "AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:",
                    "    at Module._compile (node:internal/modules/cjs/loader:1521:14)",
                ),
                (
                    "node-uncaught-error",
                    "Error: Cannot find module './nope'",
                    "  code: 'MODULE_NOT_FOUND',",
                ),
                (
                    "tsc-error",
                    "tsconfig.json:13:3 - error TS6258: 'typeRoots' should be set inside the 'compilerOptions' object",
                    "Found 0 errors. Watching for file changes.",
                ),
            ],
        );
    }
}
