//! The built-in pattern library: named, documented regexes for the output of
//! the tools people wrap (cargo, pytest, go, jest/npm, Maven/Gradle, make/gcc,
//! terraform, docker, kubectl/helm) and the markers CI runners print.
//!
//! Owns the entry type ([`Entry`]), the library of built-in entries
//! ([`Library::builtin`]), the choice of entries by command
//! ([`Library::for_command`], see [`command`]) and the compiled matcher
//! ([`Matcher`], see [`matcher`]). One file per tool family holds that
//! family's entries and their unit tests.
//!
//! Must never read files, learn, or keep state between lines: an entry is a
//! fixed description of a tool's output format. Learned patterns live
//! elsewhere and may be combined with these by the caller.

pub mod command;
pub mod matcher;

mod c;
mod ci;
mod containers;
mod go;
mod js;
mod jvm;
mod python;
mod rust;
mod terraform;

pub use command::CommandWords;
pub use jvm::JUNIT_XML_TOOL;
pub use matcher::{Matcher, clean_line};

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::Serialize;

/// How bad a line is when an entry hits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// A line that reports one error: a compiler diagnostic, a failed test,
    /// an exception.
    Error,
    /// A line that sums up a failed run ("test result: FAILED", "BUILD
    /// FAILURE", "Process completed with exit code 1").
    FailureSummary,
    /// A warning: worth showing, not a reason to stop a command.
    Warning,
}

impl Severity {
    /// The name used in reports and JSON (`error`, `failure-summary`,
    /// `warning`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::FailureSummary => "failure-summary",
            Severity::Warning => "warning",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One named pattern of the library.
///
/// The regex is anchored (`^…`) and is matched against a line after
/// [`clean_line`] (ANSI codes, a CI timestamp prefix and the line end
/// removed). A line that also matches one of `excludes` is not a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Stable name, used in reports and by triage (`pattern:<id>`), e.g.
    /// `cargo-test-failed`.
    pub id: &'static str,
    /// The tool whose output this is, e.g. `cargo test`, `pytest`.
    pub tool: &'static str,
    /// How bad a hit is.
    pub severity: Severity,
    /// The anchored regex (Rust `regex` syntax).
    pub regex: &'static str,
    /// Known noise: lines that match `regex` but report no problem.
    pub excludes: &'static [&'static str],
    /// Command shapes the entry applies to, e.g. `cargo test`, `python -m
    /// pytest`, `npx jest`. Empty: a generic CI-runner entry that applies to
    /// every command. See [`command`] for how shapes are compared.
    pub commands: &'static [&'static str],
    /// What the entry catches, in words (the documentation table).
    pub catches: &'static str,
}

impl Entry {
    /// True for generic CI-runner entries, which apply to every command.
    pub fn is_generic(&self) -> bool {
        self.commands.is_empty()
    }
}

/// A set of entries: the whole built-in library or the part that applies to
/// one command.
#[derive(Debug, Clone)]
pub struct Library {
    entries: Vec<&'static Entry>,
}

/// Every family's entries, generic CI-runner entries first: a selection
/// keeps this order, and the matcher reports the first entry that hits, so
/// the most specific markers come first.
const FAMILIES: &[&[Entry]] = &[
    ci::ENTRIES,
    rust::ENTRIES,
    python::ENTRIES,
    go::ENTRIES,
    js::ENTRIES,
    jvm::ENTRIES,
    c::ENTRIES,
    terraform::ENTRIES,
    containers::ENTRIES,
];

impl Library {
    /// The built-in library, every entry.
    pub fn builtin() -> Library {
        Library {
            entries: FAMILIES.iter().flat_map(|f| f.iter()).collect(),
        }
    }

    /// The entries that apply to a command given as its words (`["cargo",
    /// "test", "--lib"]`), generic CI-runner entries always included.
    ///
    /// Wrappers are looked through (`env`, `sudo`, `time`, `timeout`,
    /// `npx`, `poetry run`, `python -m`, `sh -c '…'`, …). A command that may
    /// run any tool — `make`, a script, a task runner, a program the library
    /// does not know — gets every entry, since its output can come from
    /// anything.
    pub fn for_command<S: AsRef<str>>(&self, argv: &[S]) -> Library {
        let words = CommandWords::parse(argv);
        if words.runs_anything(|p| known_programs().contains(p)) {
            return self.clone();
        }
        Library {
            entries: self
                .entries
                .iter()
                .copied()
                .filter(|e| e.is_generic() || e.commands.iter().any(|s| words.matches_shape(s)))
                .collect(),
        }
    }

    /// The entries of this set.
    pub fn entries(&self) -> &[&'static Entry] {
        &self.entries
    }

    /// The entry named `id`, if it is in this set.
    pub fn get(&self, id: &str) -> Option<&'static Entry> {
        self.entries.iter().copied().find(|e| e.id == id)
    }

    /// The entries for one tool (as in [`Entry::tool`]).
    pub fn by_tool(&self, tool: &str) -> Library {
        Library {
            entries: self
                .entries
                .iter()
                .copied()
                .filter(|e| e.tool == tool)
                .collect(),
        }
    }

    /// This set without the entries of one tool.
    pub fn without_tool(&self, tool: &str) -> Library {
        Library {
            entries: self
                .entries
                .iter()
                .copied()
                .filter(|e| e.tool != tool)
                .collect(),
        }
    }

    /// Compiles this set into a [`Matcher`].
    pub fn matcher(&self) -> Result<Matcher, PatternError> {
        Matcher::new(self.entries.iter().copied())
    }
}

/// The programs some built-in entry's shapes name (canonical).
fn known_programs() -> &'static HashSet<String> {
    static KNOWN: LazyLock<HashSet<String>> = LazyLock::new(|| {
        FAMILIES
            .iter()
            .flat_map(|f| f.iter())
            .flat_map(|e| e.commands.iter())
            .filter_map(|s| CommandWords::shape_program(s))
            .collect()
    });
    &KNOWN
}

/// Why a set of entries could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    /// An entry's regex or one of its excludes does not compile.
    #[error("pattern entry '{id}': invalid regex {regex:?}: {reason}; fix the entry's regex")]
    BadRegex {
        /// The entry.
        id: String,
        /// The regex that failed.
        regex: String,
        /// What the regex compiler said.
        reason: String,
    },
    /// An entry's regex does not start with `^`.
    #[error("pattern entry '{id}': regex {regex:?} is not anchored; start it with '^'")]
    NotAnchored {
        /// The entry.
        id: String,
        /// The regex.
        regex: String,
    },
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers shared by the families' fixture tests.

    use super::Library;

    /// Checks a family's fixtures: every entry of `family` has at least one
    /// row; each positive line is hit by that entry (as the first hit of the
    /// family's entries, or at least among the hits); each noise line is
    /// hit neither by that entry nor by any error or failure-summary entry
    /// of the family (a warning entry may flag it: `warning: unused` is
    /// noise for errors, not for warnings).
    pub fn check_fixtures(family: &'static [super::Entry], rows: &[(&str, &str, &str)]) {
        let lib = Library {
            entries: family.iter().collect(),
        };
        let m = lib.matcher().expect("family compiles");
        for e in family {
            assert!(
                rows.iter().any(|(id, _, _)| *id == e.id),
                "entry {} has no fixture",
                e.id
            );
        }
        for (id, pos, noise) in rows {
            assert!(lib.get(id).is_some(), "fixture names unknown entry {id}");
            let hits: Vec<&str> = m.hits(pos).iter().map(|e| e.id).collect();
            assert!(hits.contains(id), "{id} should hit {pos:?}; hits: {hits:?}");
            let bad: Vec<&str> = m
                .hits(noise)
                .iter()
                .filter(|e| e.id == *id || e.severity != super::Severity::Warning)
                .map(|e| e.id)
                .collect();
            assert!(
                bad.is_empty(),
                "noise line {noise:?} (for {id}) is hit by {bad:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_entry_compiles_and_is_anchored() {
        let lib = Library::builtin();
        assert!(lib.entries().len() >= 60, "{}", lib.entries().len());
        for e in lib.entries() {
            assert!(e.regex.starts_with('^'), "{} is not anchored", e.id);
            regex::Regex::new(e.regex).unwrap_or_else(|err| panic!("{}: {err}", e.id));
            for x in e.excludes {
                regex::Regex::new(x).unwrap_or_else(|err| panic!("{} exclude: {err}", e.id));
            }
            assert!(
                !e.catches.is_empty() && !e.tool.is_empty(),
                "{} undocumented",
                e.id
            );
        }
        lib.matcher().unwrap();
    }

    #[test]
    fn ids_are_unique_and_kebab_case() {
        let mut seen = HashSet::new();
        for e in Library::builtin().entries() {
            assert!(seen.insert(e.id), "duplicate id {}", e.id);
            assert!(
                e.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                e.id
            );
        }
    }

    #[test]
    fn an_unanchored_or_broken_regex_is_refused_with_its_entry_named() {
        static BAD: Entry = Entry {
            id: "bad-one",
            tool: "t",
            severity: Severity::Error,
            regex: "^error(",
            excludes: &[],
            commands: &[],
            catches: "x",
        };
        static LOOSE: Entry = Entry {
            regex: "error",
            ..BAD
        };
        let e = Matcher::new([&BAD]).unwrap_err().to_string();
        assert!(e.contains("bad-one") && e.contains("invalid regex"), "{e}");
        let e = Matcher::new([&LOOSE]).unwrap_err().to_string();
        assert!(e.contains("not anchored"), "{e}");
    }

    #[test]
    fn cargo_test_selects_rust_and_ci_entries_only() {
        let lib = Library::builtin().for_command(&["cargo", "test", "--lib"]);
        assert!(lib.get("cargo-test-failed").is_some());
        assert!(lib.get("rustc-error").is_some());
        assert!(
            lib.get("gha-error").is_some(),
            "generic entries are always included"
        );
        assert!(lib.get("pytest-failed-test").is_none());
        assert!(lib.get("maven-error").is_none());
        assert!(
            lib.entries()
                .iter()
                .all(|e| e.is_generic() || e.tool.contains("cargo") || e.tool.contains("rust"))
        );
    }

    #[test]
    fn python_dash_m_pytest_and_wrappers_select_pytest_entries() {
        for argv in [
            &["python", "-m", "pytest", "-x"][..],
            &["python3.12", "-m", "pytest"],
            &["poetry", "run", "pytest", "tests/"],
            &["env", "CI=1", "pytest"],
            &["uv", "run", "pytest"],
            &["sh", "-c", "cd py && pytest -q"],
        ] {
            let lib = Library::builtin().for_command(argv);
            assert!(lib.get("pytest-failed-test").is_some(), "{argv:?}");
            assert!(lib.get("cargo-test-failed").is_none(), "{argv:?}");
        }
    }

    #[test]
    fn tool_shapes_pick_their_families() {
        let pick = |argv: &[&str], id: &str| Library::builtin().for_command(argv).get(id).is_some();
        assert!(pick(&["go", "test", "./..."], "go-test-fail"));
        assert!(!pick(&["go", "test", "./..."], "jest-failure-header"));
        assert!(pick(&["npx", "jest", "--ci"], "jest-failure-header"));
        assert!(pick(&["npm", "test"], "npm-err"));
        assert!(pick(&["mvn", "-B", "verify"], "surefire-test-failure"));
        assert!(pick(&["./gradlew", "build"], "gradle-build-failed"));
        assert!(pick(&["terraform", "plan"], "terraform-error"));
        assert!(!pick(&["terraform", "plan"], "rustc-error"));
        assert!(pick(&["docker", "build", "."], "docker-buildkit-error"));
        assert!(pick(&["kubectl", "apply", "-f", "x.yaml"], "kubectl-error"));
        assert!(pick(&["helm", "upgrade", "x"], "helm-error"));
        assert!(pick(&["gcc", "-c", "a.c"], "cc-error"));
        assert!(pick(&["cargo", "fmt", "--check"], "rustfmt-diff"));
        assert!(!pick(&["cargo", "build"], "rustfmt-diff"));
        assert!(pick(&["ruff", "check", "."], "python-lint-error"));
        assert!(pick(&["npx", "eslint", "src"], "eslint-error"));
        assert!(pick(&["ctest", "--output-on-failure"], "ctest-failed"));
    }

    #[test]
    fn every_shape_names_a_program_that_selects_its_entry() {
        for e in Library::builtin().entries() {
            for shape in e.commands {
                let argv: Vec<&str> = shape.split_whitespace().collect();
                let lib = Library::builtin().for_command(&argv);
                assert!(
                    lib.get(e.id).is_some(),
                    "{} not selected by its shape {shape:?}",
                    e.id
                );
                assert!(
                    lib.entries().len() < Library::builtin().entries().len() || argv[0] == "make",
                    "shape {shape:?} of {} selects every entry: its program is unknown",
                    e.id
                );
            }
        }
    }

    /// Excerpts of real passing runs on this project's machines (test names
    /// and messages that say "error" or "fail" included): no error or
    /// failure-summary entry their command selects may flag a line.
    #[test]
    fn passing_runs_flag_nothing_as_an_error() {
        let runs: &[(&[&str], &str)] = &[
            (
                &["cargo", "test"],
                "    Blocking waiting for file lock on package cache\n\
                 warning: `earlyexit-aggregator` (lib test) generated 1 warning\n\
                 \x20   Finished `test` profile [unoptimized + debuginfo] target(s) in 0.24s\n\
                 \x20    Running unittests src/lib.rs (target/debug/deps/earlyexit_aggregator-f9f94c5db0904b80)\n\
                 running 30 tests\n\
                 test eval::patterns::cidiff::tests::groundtruth_ranges_are_expanded_and_bad_lines_named ... ok\n\
                 test eval::patterns::tests::a_missing_data_folder_is_a_clear_error ... ok\n\
                 test patterns::tests::an_unanchored_or_broken_regex_is_refused_with_its_entry_named ... ok\n\
                 test result: ok. 30 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.73s",
            ),
            (
                &["python3", "-m", "unittest", "-v", "test_ok"],
                "test_error_message_is_clear (test_ok.T.test_error_message_is_clear) ... expected error in test\n\
                 ok\n\
                 test_failure_count_zero (test_ok.T.test_failure_count_zero) ... failures=0 errors=0\n\
                 ok\n\
                 ----------------------------------------------------------------------\n\
                 Ran 2 tests in 0.000s\n\
                 OK",
            ),
            (
                &["make", "-f", "Makefile.ok"],
                "gcc -Wall -O2 -o ok ok.c\nfalse\nmake: [Makefile.ok:3: all] Error 1 (ignored)\nerror_count=0",
            ),
            (
                &["node", "--test", "ok.test.js"],
                "TAP version 13\n# Error: expected in test\n# Subtest: error handling works\n\
                 ok 1 - error handling works\nok 3 - skipped # SKIP\nnot ok 4 - todo # TODO\n\
                 \x20 failureType: 'testCodeFailure'\n# pass 2\n# fail 0",
            ),
        ];
        for (argv, log) in runs {
            let m = Library::builtin().for_command(argv).matcher().unwrap();
            for line in log.lines() {
                if let Some(e) = m.first_hit(line) {
                    assert_eq!(
                        e.severity,
                        Severity::Warning,
                        "{argv:?}: {line:?} flagged by {}",
                        e.id
                    );
                }
            }
        }
    }

    #[test]
    fn a_command_that_can_run_anything_gets_every_entry() {
        let all = Library::builtin().entries().len();
        for argv in [
            &["make", "test"][..],
            &["./ci.sh"],
            &["bash", "build.sh"],
            &["some-unknown-tool"],
        ] {
            assert_eq!(
                Library::builtin().for_command(argv).entries().len(),
                all,
                "{argv:?}"
            );
        }
    }
}
