//! `earlyexit-aggregator eval patterns --data DIR`: the built-in pattern
//! library measured on real tool output.
//!
//! Owns two measures. (1) Every failure in `DIR/runner_samples` must be
//! caught by the entries its command selects ([`Library::for_command`]); a
//! failure is caught when the library flags at least one of the lines that
//! report it (see [`samples`] for how each file's failures are found). (2)
//! On CiDiff's 36 pairs (`DIR/cidiff/data/breakages`): the lines the whole
//! library flags in the *passing* logs (every one a false flag), and, for
//! information, recall and precision against the `E` lines of the failing
//! logs, beside the naive regex `(?i)error|fail|exception|fatal|panic`.
//! Must never change the library; it only reports.

pub mod cidiff;
pub mod samples;

use std::fmt;
use std::path::Path;

use regex::Regex;
use serde_json::json;

use crate::eval::{EvalError, require_dir};
use crate::patterns::{Entry, JUNIT_XML_TOOL, Library, Matcher, Severity};

/// The naive regex the issue compares against.
pub const NAIVE_REGEX: &str = r"(?i)error|fail|exception|fatal|panic";

/// The result of one failure unit.
#[derive(Debug, Clone)]
pub struct FailureResult {
    /// What failed.
    pub label: String,
    /// Where the unit starts (1-based line of the file).
    pub line: usize,
    /// The first entry that flagged a line of the unit, if any.
    pub caught_by: Option<&'static str>,
    /// JUnit XML only: the first of the tool's own log entries (report
    /// entries left out) that flagged a line of the decoded failure body.
    pub body_caught_by: Option<Option<&'static str>>,
}

/// The result of one sample file.
#[derive(Debug, Clone)]
pub struct SampleResult {
    /// Path under `runner_samples/`.
    pub file: String,
    /// The command whose entries were used.
    pub command: String,
    /// Number of entries that command selects.
    pub entries: usize,
    /// Lines decoded from the file.
    pub lines: usize,
    /// Of those, lines the selection flags.
    pub flagged: usize,
    /// Each failure unit.
    pub failures: Vec<FailureResult>,
    /// Units showing a passing run (jest snapshots) and the lines flagged
    /// in them.
    pub passing_units: usize,
    /// Lines flagged inside passing units (false flags).
    pub passing_flags: usize,
}

impl SampleResult {
    /// True when every failure of the sample was caught.
    pub fn all_caught(&self) -> bool {
        self.failures.iter().all(|f| f.caught_by.is_some())
    }
}

/// The CiDiff measure.
#[derive(Debug, Clone, Default)]
pub struct CidiffResult {
    /// Number of pass/fail pairs.
    pub cases: usize,
    /// Lines in the passing logs.
    pub pass_lines: usize,
    /// Lines the library flags in the passing logs.
    pub pass_flags: usize,
    /// Of those, flagged by an error or failure-summary entry (warnings
    /// left out).
    pub pass_flags_errors: usize,
    /// Passing logs with at least one flag.
    pub pass_logs_flagged: usize,
    /// `E` lines of the failing logs.
    pub fail_error_lines: usize,
    /// `E` lines the library flags.
    pub fail_error_lines_flagged: usize,
    /// Lines the library flags in the failing logs.
    pub fail_flags: usize,
    /// The naive regex on the same data: flags in the passing logs.
    pub naive_pass_flags: usize,
    /// The naive regex: passing logs with a flag.
    pub naive_pass_logs_flagged: usize,
    /// The naive regex: `E` lines flagged, and lines flagged, in the
    /// failing logs.
    pub naive_fail_error_lines_flagged: usize,
    /// The naive regex: lines flagged in the failing logs.
    pub naive_fail_flags: usize,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

impl CidiffResult {
    /// Share of `E` lines the library flags.
    pub fn recall(&self) -> f64 {
        ratio(self.fail_error_lines_flagged, self.fail_error_lines)
    }
    /// Share of the library's flags in the failing logs that are `E` lines.
    pub fn precision(&self) -> f64 {
        ratio(self.fail_error_lines_flagged, self.fail_flags)
    }
    /// The naive regex's recall.
    pub fn naive_recall(&self) -> f64 {
        ratio(self.naive_fail_error_lines_flagged, self.fail_error_lines)
    }
    /// The naive regex's precision.
    pub fn naive_precision(&self) -> f64 {
        ratio(self.naive_fail_error_lines_flagged, self.naive_fail_flags)
    }
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct PatternsReport {
    /// Entries in the built-in library.
    pub entries: usize,
    /// One result per sample file.
    pub samples: Vec<SampleResult>,
    /// Files under `runner_samples/` the sample table does not know.
    pub unknown_files: Vec<String>,
    /// The CiDiff measure.
    pub cidiff: CidiffResult,
}

impl PatternsReport {
    /// Failure units in all samples, and how many were caught.
    pub fn failures(&self) -> (usize, usize) {
        let all = self.samples.iter().map(|s| s.failures.len()).sum();
        let caught = self
            .samples
            .iter()
            .flat_map(|s| &s.failures)
            .filter(|f| f.caught_by.is_some())
            .count();
        (all, caught)
    }

    /// Samples whose every failure was caught.
    pub fn samples_caught(&self) -> usize {
        self.samples.iter().filter(|s| s.all_caught()).count()
    }

    /// The one-object JSON summary.
    pub fn to_json(&self) -> serde_json::Value {
        let (failures, caught) = self.failures();
        let bodies: Vec<&Option<&str>> = self
            .samples
            .iter()
            .flat_map(|s| &s.failures)
            .filter_map(|f| f.body_caught_by.as_ref())
            .collect();
        let c = &self.cidiff;
        let per_sample: serde_json::Map<String, serde_json::Value> = self
            .samples
            .iter()
            .map(|s| {
                let caught = s.failures.iter().filter(|f| f.caught_by.is_some()).count();
                (
                    s.file.clone(),
                    json!({"failures": s.failures.len(), "caught": caught, "lines": s.lines, "flagged": s.flagged, "passing_flags": s.passing_flags}),
                )
            })
            .collect();
        json!({
            "entries": self.entries,
            "samples": self.samples.len(),
            "samples_caught": self.samples_caught(),
            "failures": failures,
            "failures_caught": caught,
            "junit_bodies": bodies.len(),
            "junit_bodies_caught": bodies.iter().filter(|b| b.is_some()).count(),
            "unknown_files": self.unknown_files,
            "cidiff_cases": c.cases,
            "cidiff_pass_lines": c.pass_lines,
            "cidiff_pass_flags": c.pass_flags,
            "cidiff_pass_flags_errors": c.pass_flags_errors,
            "cidiff_pass_logs_flagged": c.pass_logs_flagged,
            "cidiff_fail_recall": round(c.recall()),
            "cidiff_fail_precision": round(c.precision()),
            "cidiff_fail_error_lines": c.fail_error_lines,
            "naive_pass_flags": c.naive_pass_flags,
            "naive_fail_recall": round(c.naive_recall()),
            "naive_fail_precision": round(c.naive_precision()),
            "per_sample": per_sample,
        })
    }
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

impl fmt::Display for PatternsReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "runner samples ({} library entries):", self.entries)?;
        for s in &self.samples {
            let caught = s.failures.iter().filter(|x| x.caught_by.is_some()).count();
            writeln!(
                f,
                "  {:<4} {}  [{}; {} entries] failures caught {}/{}; lines flagged {}/{}{}",
                if s.all_caught() { "ok" } else { "MISS" },
                s.file,
                s.command,
                s.entries,
                caught,
                s.failures.len(),
                s.flagged,
                s.lines,
                if s.passing_units > 0 {
                    format!(
                        "; passing runs {} with {} flagged lines",
                        s.passing_units, s.passing_flags
                    )
                } else {
                    String::new()
                }
            )?;
            for x in &s.failures {
                match x.caught_by {
                    None => writeln!(f, "       MISSED line {}: {}", x.line, x.label)?,
                    Some(_) if matches!(x.body_caught_by, Some(None)) => writeln!(
                        f,
                        "       line {}: {}: body not caught by the tool's log entries",
                        x.line, x.label
                    )?,
                    Some(_) => {}
                }
            }
        }
        for u in &self.unknown_files {
            writeln!(f, "  ??   {u}: not in the sample table, not checked")?;
        }
        let (failures, caught) = self.failures();
        writeln!(
            f,
            "failures caught: {caught}/{failures}; samples with every failure caught: {}/{}",
            self.samples_caught(),
            self.samples.len()
        )?;
        let c = &self.cidiff;
        writeln!(f, "CiDiff ({} pairs), whole library:", c.cases)?;
        writeln!(
            f,
            "  passing logs: {} of {} lines flagged ({} by error/failure-summary entries), in {} of {} logs; naive regex: {} in {} logs",
            c.pass_flags,
            c.pass_lines,
            c.pass_flags_errors,
            c.pass_logs_flagged,
            c.cases,
            c.naive_pass_flags,
            c.naive_pass_logs_flagged
        )?;
        writeln!(
            f,
            "  failing logs: recall {:.3} ({} of {} E lines), precision {:.3} ({} flags); naive regex: recall {:.3}, precision {:.3}",
            c.recall(),
            c.fail_error_lines_flagged,
            c.fail_error_lines,
            c.precision(),
            c.fail_flags,
            c.naive_recall(),
            c.naive_precision()
        )
    }
}

/// The first entry that flags `line` (any of its CR-separated parts).
fn flag(m: &Matcher, line: &str) -> Option<&'static Entry> {
    m.first_hit_in_parts(line).map(|(e, _)| e)
}

/// Runs both measures on `data`.
pub fn run(data: &Path) -> Result<PatternsReport, EvalError> {
    let dir = require_dir(
        data,
        "runner_samples",
        "runner samples (real failing tool output)",
    )?;
    let breakages = require_dir(data, "cidiff/data/breakages", "CiDiff breakage pairs")?;
    let lib = Library::builtin();
    let compile = |l: &Library| {
        l.matcher().map_err(|e| EvalError::BadData {
            path: dir.clone(),
            reason: e.to_string(),
        })
    };
    let mut results = Vec::new();
    for sample in samples::SAMPLES {
        let decoded = samples::decode(&dir, sample)?;
        let selection = lib.for_command(sample.command);
        let m = compile(&selection)?;
        let body_m = compile(&selection.without_tool(JUNIT_XML_TOOL))?;
        let caught = |text: &[String]| text.iter().find_map(|l| flag(&m, l)).map(|e| e.id);
        let failures = decoded
            .failures
            .iter()
            .map(|u| FailureResult {
                label: u.label.clone(),
                line: u.line,
                caught_by: caught(&u.text),
                body_caught_by: (!u.body.is_empty())
                    .then(|| u.body.iter().find_map(|l| flag(&body_m, l)).map(|e| e.id)),
            })
            .collect();
        results.push(SampleResult {
            file: sample.file.to_string(),
            command: sample.command.join(" "),
            entries: selection.entries().len(),
            lines: decoded.lines.len(),
            flagged: decoded
                .lines
                .iter()
                .filter(|(_, l)| flag(&m, l).is_some())
                .count(),
            failures,
            passing_units: decoded.passing.len(),
            passing_flags: decoded
                .passing
                .iter()
                .flat_map(|u| &u.text)
                .filter(|l| flag(&m, l).is_some())
                .count(),
        });
    }
    let unknown_files = unknown_files(&dir)?;
    let cidiff = measure_cidiff(&breakages, &compile(&lib)?)?;
    Ok(PatternsReport {
        entries: lib.entries().len(),
        samples: results,
        unknown_files,
        cidiff,
    })
}

/// Files under `dir` that are neither a known sample nor provenance.
fn unknown_files(dir: &Path) -> Result<Vec<String>, EvalError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = std::fs::read_dir(&d).map_err(|e| EvalError::BadData {
            path: d.clone(),
            reason: e.to_string(),
        })?;
        for e in rd.filter_map(|e| e.ok()) {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(dir)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            let known = samples::SAMPLES.iter().any(|s| s.file == rel)
                || samples::NOT_SAMPLES.contains(&rel.as_str());
            if !known {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn measure_cidiff(dir: &Path, m: &Matcher) -> Result<CidiffResult, EvalError> {
    let naive = Regex::new(NAIVE_REGEX).expect("valid");
    let cases = cidiff::read_cases(dir)?;
    let mut r = CidiffResult {
        cases: cases.len(),
        ..CidiffResult::default()
    };
    for case in &cases {
        let mut flagged_here = 0;
        let mut naive_here = 0;
        r.pass_lines += case.pass.len();
        for line in &case.pass {
            if let Some(e) = m.first_hit(line) {
                flagged_here += 1;
                if e.severity != Severity::Warning {
                    r.pass_flags_errors += 1;
                }
            }
            naive_here += usize::from(naive.is_match(line));
        }
        r.pass_flags += flagged_here;
        r.pass_logs_flagged += usize::from(flagged_here > 0);
        r.naive_pass_flags += naive_here;
        r.naive_pass_logs_flagged += usize::from(naive_here > 0);
        let errors: std::collections::HashSet<usize> = case.error_lines.iter().copied().collect();
        r.fail_error_lines += errors.len();
        for (i, line) in case.fail.iter().enumerate() {
            let is_error = errors.contains(&(i + 1));
            if m.is_hit(line) {
                r.fail_flags += 1;
                r.fail_error_lines_flagged += usize::from(is_error);
            }
            if naive.is_match(line) {
                r.naive_fail_flags += 1;
                r.naive_fail_error_lines_flagged += usize::from(is_error);
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_data_folder_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let e = run(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("runner_samples") && e.contains("--data"), "{e}");
        std::fs::create_dir(tmp.path().join("runner_samples")).unwrap();
        let e = run(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("cidiff/data/breakages"), "{e}");
    }

    #[test]
    fn a_missing_sample_file_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("runner_samples")).unwrap();
        std::fs::create_dir_all(tmp.path().join("cidiff/data/breakages")).unwrap();
        let e = run(tmp.path()).unwrap_err().to_string();
        assert!(e.contains(samples::SAMPLES[0].file), "{e}");
    }

    #[test]
    fn cidiff_counts_flags_and_recall_on_a_written_pair() {
        let tmp = tempfile::tempdir().unwrap();
        let case = tmp.path().join("case1");
        std::fs::create_dir(&case).unwrap();
        std::fs::write(
            case.join("pass.log"),
            "Compiling x\r\ntest result: ok. 1 passed; 0 failed\rDone\n",
        )
        .unwrap();
        std::fs::write(case.join("fail.log"), "Compiling x\r\nerror[E0425]: cannot find value `y`\rnote: fail here\n##[error]Process completed with exit code 1.\n").unwrap();
        std::fs::write(case.join("groundtruth"), "DEFAULT\nE 2-3\n").unwrap();
        let m = Library::builtin().matcher().unwrap();
        let r = measure_cidiff(tmp.path(), &m).unwrap();
        assert_eq!(r.cases, 1);
        assert_eq!(r.pass_lines, 3);
        assert_eq!(r.pass_flags, 0);
        assert_eq!(r.naive_pass_flags, 1, "the naive regex flags `0 failed`");
        assert_eq!(r.fail_error_lines, 2);
        assert_eq!(
            r.fail_error_lines_flagged, 1,
            "line 2 is an E line, line 3 is not flagged"
        );
        assert_eq!(r.fail_flags, 2);
        assert!((r.recall() - 0.5).abs() < 1e-9);
    }
}
