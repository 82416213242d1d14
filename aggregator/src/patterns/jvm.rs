//! Entries for the JVM: Maven (and its surefire / failsafe test reports),
//! Gradle, javac / kotlinc, Java exceptions, and JUnit XML reports.
//!
//! Owns the JVM family and the JUnit XML report entries (the format is
//! JUnit's, but pytest, jest-junit, gotestsum and `terraform test` write it
//! too, so those commands select it). Formats as Maven 3, surefire (2.12 in
//! the retrofit Travis log of the runner samples; 3.x prints `[ERROR] … <<<
//! FAILURE!` and `-- in`), Gradle and javac document and print them; no JVM
//! build could run on the machine these entries were written on (no Maven
//! repository), so none of these fixtures is from a local run.

use super::{Entry, Severity};

/// Maven, Gradle and the JVM tools they run.
const JVM: &[&str] = &["mvn", "gradle", "java", "javac", "kotlinc", "sbt"];
/// Maven only.
const MAVEN: &[&str] = &["mvn"];
/// Gradle only.
const GRADLE: &[&str] = &["gradle"];
/// Test runners that write (or print) JUnit XML reports.
const JUNIT_XML: &[&str] = &[
    "mvn",
    "gradle",
    "pytest",
    "jest",
    "npm test",
    "npm run",
    "yarn",
    "gotestsum",
    "terraform test",
];

/// The `tool` of the JUnit XML report entries.
pub const JUNIT_XML_TOOL: &str = "JUnit XML";

/// JVM entries, most specific first.
pub(super) const ENTRIES: &[Entry] = &[
    Entry {
        id: "maven-build-failure",
        tool: "mvn",
        severity: Severity::FailureSummary,
        regex: r"^(\[INFO\] )?BUILD FAILURE$",
        excludes: &[],
        commands: MAVEN,
        catches: "`[INFO] BUILD FAILURE`",
    },
    Entry {
        id: "maven-failed-goal",
        tool: "mvn",
        severity: Severity::FailureSummary,
        regex: r"^\[ERROR\] Failed to execute goal ",
        excludes: &[],
        commands: MAVEN,
        catches: "`[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:… (default-test)`",
    },
    Entry {
        id: "surefire-test-failure",
        tool: "surefire",
        severity: Severity::Error,
        regex: r"^(\[ERROR\] )?\S.* <<< (FAILURE|ERROR)!",
        excludes: &[],
        commands: JVM,
        catches: "a failed test or class: `testFoo(com.x.FooTest)  Time elapsed: 0.01 sec  <<< FAILURE!`, `[ERROR] Tests run: 3, … <<< FAILURE! - in com.x.FooTest`",
    },
    Entry {
        id: "surefire-tests-failed",
        tool: "surefire",
        severity: Severity::FailureSummary,
        regex: r"^(\[(ERROR|WARNING|INFO)\] )?Tests run: [0-9]+, (Failures: [1-9][0-9]*, Errors: [0-9]+|Failures: [0-9]+, Errors: [1-9][0-9]*)",
        excludes: &[],
        commands: JVM,
        catches: "totals with failures or errors: `Tests run: 324, Failures: 14, Errors: 1, Skipped: 1`",
    },
    Entry {
        id: "surefire-failed-list",
        tool: "surefire",
        severity: Severity::FailureSummary,
        regex: r"^(\[ERROR\] )?(Failed tests|Tests in error|Failures|Errors): *$",
        excludes: &[],
        commands: JVM,
        catches: "the heads of the failed-test lists: `Failed tests:`, `Tests in error:`, `[ERROR] Failures:`",
    },
    Entry {
        id: "maven-error",
        tool: "mvn",
        severity: Severity::Error,
        regex: r"^\[ERROR\] \S",
        excludes: &[
            r"^\[ERROR\] -> \[Help 1\]",
            r"^\[ERROR\] \[Help [0-9]+\] http",
            r"^\[ERROR\] (Re-run Maven using|To see the full stack trace|For more information about the errors|After correcting the problems)",
        ],
        commands: MAVEN,
        catches: "any `[ERROR] …` line (not the help boilerplate after a failure)",
    },
    Entry {
        id: "maven-warning",
        tool: "mvn",
        severity: Severity::Warning,
        regex: r"^\[WARNING\] \S",
        excludes: &[],
        commands: MAVEN,
        catches: "`[WARNING] …`",
    },
    Entry {
        id: "gradle-build-failed",
        tool: "gradle",
        severity: Severity::FailureSummary,
        regex: r"^(BUILD FAILED( in .*)?|FAILURE: Build (failed with an exception|completed with [0-9]+ failures)\.?)$",
        excludes: &[],
        commands: GRADLE,
        catches: "`BUILD FAILED in 12s`, `FAILURE: Build failed with an exception.`",
    },
    Entry {
        id: "gradle-task-failed",
        tool: "gradle",
        severity: Severity::Error,
        regex: r"^(> Task \S+ FAILED|Execution failed for task '[^']+'\.|\* What went wrong:)$",
        excludes: &[],
        commands: GRADLE,
        catches: "`> Task :app:test FAILED`, `* What went wrong:`, `Execution failed for task ':app:test'.`",
    },
    Entry {
        id: "gradle-test-failed",
        tool: "gradle",
        severity: Severity::Error,
        regex: r"^\S.* > .+ FAILED$|^[0-9]+ tests completed, [0-9]+ failed",
        excludes: &[],
        commands: GRADLE,
        catches: "`FooTest > addsNumbers() FAILED`, `3 tests completed, 1 failed`",
    },
    Entry {
        id: "javac-error",
        tool: "javac / kotlinc",
        severity: Severity::Error,
        regex: r"^(\[ERROR\] )?(\S+\.java:(\[[0-9]+,[0-9]+\]|[0-9]+:) error: |\S+\.java:\[[0-9]+,[0-9]+\] |e: (file://)?\S+\.kts?(:[0-9]+:[0-9]+|: \([0-9]+, [0-9]+\)))",
        excludes: &[],
        commands: JVM,
        catches: "`Foo.java:12: error: ';' expected`, Maven's `[ERROR] /src/Foo.java:[12,5] cannot find symbol`, kotlinc's `e: file:///src/A.kt:3:5 Unresolved reference`",
    },
    Entry {
        id: "java-exception",
        tool: "java",
        severity: Severity::Error,
        regex: r#"^\s*(Exception in thread "[^"]*" |Caused by: )?([a-z][\w$]*\.)+[A-Z][\w$]*(Exception|Error|Failure|AssertionFailedError)(: .*)?$"#,
        excludes: &[],
        commands: JVM,
        catches: "an exception line: `java.lang.AssertionError: expected [1.2.1] but found [1.2.0]`, `Caused by: java.io.IOException: …`, `Exception in thread \"main\" java.lang.NullPointerException`",
    },
    Entry {
        id: "junit-xml-failure",
        tool: JUNIT_XML_TOOL,
        severity: Severity::Error,
        regex: r"^\s*<(failure|error)(\s|>|/>|$)",
        excludes: &[],
        commands: JUNIT_XML,
        catches: "a `<failure …>` or `<error …>` element of a JUnit XML report",
    },
    Entry {
        id: "junit-xml-suite-failed",
        tool: JUNIT_XML_TOOL,
        severity: Severity::FailureSummary,
        regex: r#"^\s*<testsuites?\s[^>]*\b(failures|errors)="[1-9]"#,
        excludes: &[],
        commands: JUNIT_XML,
        catches: "a `<testsuite …>` whose `failures` or `errors` count is not 0",
    },
];

#[cfg(test)]
mod tests {
    use super::ENTRIES;
    use crate::patterns::test_support::check_fixtures;

    /// Lines in the formats of Maven 3 / surefire, Gradle 8, javac, kotlinc,
    /// the JVM and JUnit XML.
    #[test]
    fn fixtures() {
        check_fixtures(
            ENTRIES,
            &[
                (
                    "maven-build-failure",
                    "[INFO] BUILD FAILURE",
                    "[INFO] BUILD SUCCESS",
                ),
                (
                    "maven-failed-goal",
                    "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:2.22.2:test (default-test) on project x: There are test failures.",
                    "[INFO] --- maven-surefire-plugin:2.22.2:test (default-test) @ x ---",
                ),
                (
                    "surefire-test-failure",
                    "getWithNullUrl(retrofit2.RequestFactoryTest)  Time elapsed: 0.003 sec  <<< ERROR!",
                    "Running retrofit2.ErrorHandlerTest",
                ),
                (
                    "surefire-tests-failed",
                    "Tests run: 324, Failures: 14, Errors: 1, Skipped: 1",
                    "Tests run: 12, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.1 sec - in com.x.ErrorTest",
                ),
                ("surefire-failed-list", "Tests in error: ", "Results :"),
                (
                    "maven-error",
                    "[ERROR] /src/main/java/Foo.java:[3,5] cannot find symbol",
                    "[ERROR] -> [Help 1]",
                ),
                (
                    "maven-error",
                    "[ERROR] There are test failures.",
                    "[INFO] error_count=0",
                ),
                (
                    "maven-warning",
                    "[WARNING] Using platform encoding (UTF-8 actually) to copy filtered resources",
                    "[INFO] Scanning for projects...",
                ),
                (
                    "gradle-build-failed",
                    "BUILD FAILED in 12s",
                    "BUILD SUCCESSFUL in 3s",
                ),
                (
                    "gradle-task-failed",
                    "> Task :app:test FAILED",
                    "> Task :app:compileJava UP-TO-DATE",
                ),
                (
                    "gradle-test-failed",
                    "FooTest > addsNumbers() FAILED",
                    "FooTest > errorIsReported() PASSED",
                ),
                (
                    "javac-error",
                    "src/Foo.java:12: error: ';' expected",
                    "Note: Some input files use unchecked or unsafe operations.",
                ),
                (
                    "java-exception",
                    "java.lang.AssertionError: expected [1.2.1] but found [1.2.0]",
                    "at org.testng.Assert.fail(Assert.java:99)",
                ),
                (
                    "java-exception",
                    "Caused by: java.io.IOException: Broken pipe",
                    "com.example.ErrorHandler: registered",
                ),
                (
                    "junit-xml-failure",
                    "    <failure type=\"java.lang.AssertionError\" message=\"expected [1.2.1] but found [1.2.0]\">",
                    "<testcase name=\"failure_is_reported\" classname=\"t\" time=\"0.1\"/>",
                ),
                (
                    "junit-xml-suite-failed",
                    "<testsuite name=\"pytest\" errors=\"0\" failures=\"2\" skipped=\"2\" tests=\"15\">",
                    "<testsuite name=\"pytest\" errors=\"0\" failures=\"0\" skipped=\"2\" tests=\"15\">",
                ),
            ],
        );
    }
}
