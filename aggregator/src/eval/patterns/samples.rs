//! The runner samples (`--data DIR/runner_samples`): which tool each file
//! comes from, and where its failures are.
//!
//! Owns the table of sample files and one decoder per container format
//! (plain logs, `go test -json` events, JUnit XML, jest snapshots, pytest's
//! reStructuredText demo, Go test sources holding terraform output in
//! string literals). A decoder turns a file into failure units — the lines
//! that report one failure, as the tool printed them — without using the
//! pattern library, so the library is checked, not echoed. Must never
//! decide whether a unit is caught; that is the caller's job.

use std::path::Path;

use regex::Regex;

use crate::eval::EvalError;

/// How a sample file is laid out, and so how its failures are found.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    /// An excerpt of a real CI log; its failure is the marker line named in
    /// `ci_logs/PROVENANCE_ci_logs.json`.
    CiLog,
    /// `go test -json` (test2json) events, one JSON object a line; each
    /// `fail` / `build-fail` event is a failure, with the output events of
    /// the same test (or package build).
    GoJson,
    /// Plain tool output whose failures were listed by reading the file:
    /// (first line, last line, what failed).
    Listed(&'static [(usize, usize, &'static str)]),
    /// A JUnit XML report; each `<failure>` / `<error>` element is a failure.
    JunitXml,
    /// A jest snapshot file; each snapshot holds one run's output, and each
    /// that does not show a passing run is a failure.
    JestSnap,
    /// pytest's reporting demo (reStructuredText); each `____ test ____`
    /// section of the failure report is a failure, and the short summary
    /// is one more.
    PytestRst,
    /// Go test source whose string literals hold terraform output; each
    /// literal with a diagnostic or test summary starting a line (`Error:
    /// …`, `│ Error: …`, `Failure! …`) is a failure.
    GoSourceTerraform,
}

/// One sample file.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Path under `runner_samples/`.
    pub file: &'static str,
    /// The command that produced it, used to pick the library entries.
    pub command: &'static [&'static str],
    /// Its layout.
    pub format: Format,
}

/// Every sample file and how to read it.
pub const SAMPLES: &[Sample] = &[
    Sample {
        file: "ci_logs/cargo_test_fail_alacritty_579346432.log",
        command: &["cargo", "test"],
        format: Format::CiLog,
    },
    Sample {
        file: "ci_logs/cargo_test_fail_alacritty_567130646.log",
        command: &["cargo", "test"],
        format: Format::CiLog,
    },
    Sample {
        file: "ci_logs/rustc_error_alacritty_563821312.log",
        command: &["cargo", "build"],
        format: Format::CiLog,
    },
    Sample {
        file: "ci_logs/go_test_fail_go-ethereum_566009484.log",
        command: &["go", "test", "./..."],
        format: Format::CiLog,
    },
    Sample {
        file: "ci_logs/maven_surefire_fail_retrofit_482509524.log",
        command: &["mvn", "test"],
        format: Format::CiLog,
    },
    Sample {
        file: "ci_logs/pytest_fail_scikit-learn_562431016.log",
        command: &["python", "-m", "pytest"],
        format: Format::CiLog,
    },
    Sample {
        file: "ci_logs/npm_err_freecodecamp_566340191.log",
        command: &["npm", "test"],
        format: Format::CiLog,
    },
    Sample {
        file: "go_test/gotestsum_go-test-verbose.out",
        command: &["go", "test", "-v", "./..."],
        format: Format::Listed(&[
            (1, 2, "package badmain exits 2"),
            (67, 68, "TestFailed"),
            (74, 75, "TestFailedWithStderr"),
            (90, 90, "TestNestedWithFailure"),
            (95, 96, "TestNestedWithFailure/c"),
            (123, 124, "package stub fails"),
        ]),
    },
    Sample {
        file: "go_test/gotestsum_go-test-json.err",
        command: &["go", "test", "-json", "./..."],
        format: Format::Listed(&[(1, 2, "package broken does not compile")]),
    },
    Sample {
        file: "go_test/gotestsum_go-test-json.out",
        command: &["go", "test", "-json", "./..."],
        format: Format::GoJson,
    },
    Sample {
        file: "go_test/gotestsum_go-test-build-failed.out",
        command: &["go", "test", "-json", "./..."],
        format: Format::GoJson,
    },
    Sample {
        file: "go_test/gotestsum_go-test-json-panic-race-1.out",
        command: &["go", "test", "-json", "-race"],
        format: Format::GoJson,
    },
    Sample {
        file: "go_test/gotestsum_go-test-setup-failed.out",
        command: &["go", "test", "-json", "./..."],
        format: Format::GoJson,
    },
    Sample {
        file: "go_test/dorny_golang-json.json",
        command: &["go", "test", "-json", "./..."],
        format: Format::GoJson,
    },
    Sample {
        file: "pytest/pytest_doc_reportingdemo.rst",
        command: &["pytest", "failure_demo.py"],
        format: Format::PytestRst,
    },
    Sample {
        file: "pytest/dorny_python-xunit-pytest.xml",
        command: &["pytest", "--junitxml=report.xml"],
        format: Format::JunitXml,
    },
    Sample {
        file: "junit_maven/dorny_junit4-complete.xml",
        command: &["mvn", "test"],
        format: Format::JunitXml,
    },
    Sample {
        file: "junit_maven/dorny_TEST-org.apache.pulsar.AddMissingPatchVersionTest.xml",
        command: &["mvn", "test"],
        format: Format::JunitXml,
    },
    Sample {
        file: "jest/dorny_external_jest-test-results.xml",
        command: &["npx", "jest", "--ci"],
        format: Format::JunitXml,
    },
    Sample {
        file: "jest/dorny_test-errors_jest-test-results.xml",
        command: &["npx", "jest", "--ci"],
        format: Format::JunitXml,
    },
    Sample {
        file: "jest/jest_e2e_failures.test.ts.snap",
        command: &["npx", "jest"],
        format: Format::JestSnap,
    },
    Sample {
        file: "jest/jest_e2e_timeouts.test.ts.snap",
        command: &["npx", "jest"],
        format: Format::JestSnap,
    },
    Sample {
        file: "terraform/terraform_test_junit_1pass-1fail_expected-output.xml",
        command: &["terraform", "test", "-junit-xml=out.xml"],
        format: Format::JunitXml,
    },
    Sample {
        file: "terraform/terraform_format_diagnostic_test.go",
        command: &["terraform", "plan"],
        format: Format::GoSourceTerraform,
    },
    Sample {
        file: "terraform/terraform_command_test_test.go",
        command: &["terraform", "test"],
        format: Format::GoSourceTerraform,
    },
    Sample {
        file: "terraform/tfcmt_parser_test.go",
        command: &["terraform", "plan"],
        format: Format::GoSourceTerraform,
    },
];

/// Files of `runner_samples/` that hold provenance, not tool output.
pub const NOT_SAMPLES: &[&str] = &["PROVENANCE.tsv", "ci_logs/PROVENANCE_ci_logs.json"];

/// One decoded sample: its lines as the tool printed them (container
/// format removed) and its failure units.
#[derive(Debug, Clone, Default)]
pub struct Decoded {
    /// Text lines, each with its 1-based line number in the file.
    pub lines: Vec<(usize, String)>,
    /// Failure units.
    pub failures: Vec<Unit>,
    /// Units that show a passing run (jest snapshots): every hit in them is
    /// a false flag.
    pub passing: Vec<Unit>,
}

/// The lines that report one failure.
#[derive(Debug, Clone)]
pub struct Unit {
    /// What failed (a test, a package, a snapshot).
    pub label: String,
    /// 1-based line number in the file where the unit starts.
    pub line: usize,
    /// The unit's text lines.
    pub text: Vec<String>,
    /// For JUnit XML: the failure's message and body with the XML removed
    /// (entities decoded, CDATA opened), to check the tool's own log
    /// entries on it as well as the report entries on the raw element.
    pub body: Vec<String>,
}

/// Reads and decodes one sample.
pub fn decode(dir: &Path, sample: &Sample) -> Result<Decoded, EvalError> {
    let path = dir.join(sample.file);
    let bytes = std::fs::read(&path).map_err(|e| EvalError::BadData {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let bad = |reason: String| EvalError::BadData {
        path: path.clone(),
        reason,
    };
    match sample.format {
        Format::CiLog => ci_log(dir, sample.file, &text).map_err(bad),
        Format::GoJson => Ok(go_json(&text)),
        Format::Listed(units) => listed(&text, units).map_err(bad),
        Format::JunitXml => Ok(junit_xml(&text)),
        Format::JestSnap => Ok(jest_snap(&text)),
        Format::PytestRst => Ok(pytest_rst(&text)),
        Format::GoSourceTerraform => Ok(go_source_terraform(&text)),
    }
}

/// Lines split on LF, each without its trailing CR (the numbering the
/// sample provenance uses), numbered from 1.
fn lf_lines(text: &str) -> Vec<(usize, String)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l).to_string()))
        .collect()
}

/// The unit made of lines `first..=last` (1-based) of `lines`.
fn span(lines: &[(usize, String)], first: usize, last: usize, label: String) -> Unit {
    Unit {
        label,
        line: first,
        text: lines
            .iter()
            .filter(|(n, _)| (first..=last).contains(n))
            .map(|(_, l)| l.clone())
            .collect(),
        body: Vec::new(),
    }
}

fn ci_log(dir: &Path, file: &str, text: &str) -> Result<Decoded, String> {
    let prov_path = dir.join("ci_logs/PROVENANCE_ci_logs.json");
    let prov =
        std::fs::read_to_string(&prov_path).map_err(|e| format!("{}: {e}", prov_path.display()))?;
    let prov: serde_json::Value =
        serde_json::from_str(&prov).map_err(|e| format!("{}: {e}", prov_path.display()))?;
    let entry = prov
        .as_array()
        .and_then(|a| a.iter().find(|e| e["file"] == file))
        .ok_or_else(|| format!("{file} is not in {}", prov_path.display()))?;
    let start = entry["lines_1based_newline_split"][0].as_u64();
    let marker = entry["marker_line"].as_u64();
    let (Some(start), Some(marker)) = (start, marker) else {
        return Err(format!(
            "{file}: provenance lacks lines_1based_newline_split or marker_line"
        ));
    };
    let line = (marker + 1)
        .checked_sub(start)
        .ok_or("marker before the excerpt")? as usize;
    let lines = lf_lines(text);
    if line > lines.len() {
        return Err(format!(
            "marker line {line} is past the end ({} lines)",
            lines.len()
        ));
    }
    let unit = span(&lines, line, line, format!("marker line {line}"));
    Ok(Decoded {
        lines,
        failures: vec![unit],
        passing: Vec::new(),
    })
}

fn listed(text: &str, units: &[(usize, usize, &str)]) -> Result<Decoded, String> {
    let lines = lf_lines(text);
    let mut failures = Vec::new();
    for &(first, last, what) in units {
        if last > lines.len() || first > last {
            return Err(format!(
                "listed failure {what} at {first}-{last} is outside the file"
            ));
        }
        failures.push(span(&lines, first, last, what.to_string()));
    }
    Ok(Decoded {
        lines,
        failures,
        passing: Vec::new(),
    })
}

fn go_json(text: &str) -> Decoded {
    let lines = lf_lines(text);
    let events: Vec<(usize, serde_json::Value)> = lines
        .iter()
        .filter_map(|(n, l)| serde_json::from_str(l).ok().map(|v| (*n, v)))
        .collect();
    let key = |v: &serde_json::Value| {
        let pkg = v["Package"]
            .as_str()
            .or(v["ImportPath"].as_str())
            .unwrap_or("")
            .to_string();
        (pkg, v["Test"].as_str().unwrap_or("").to_string())
    };
    let mut failures = Vec::new();
    for (n, ev) in &events {
        let action = ev["Action"].as_str().unwrap_or("");
        if action != "fail" && action != "build-fail" {
            continue;
        }
        let k = key(ev);
        let output = if action == "build-fail" {
            "build-output"
        } else {
            "output"
        };
        let mut text: Vec<String> = events
            .iter()
            .filter(|(_, o)| o["Action"] == output && key(o) == k)
            .map(|(m, _)| lines[m - 1].1.clone())
            .collect();
        text.push(lines[n - 1].1.clone());
        let label = if k.1.is_empty() {
            format!("{action} {}", k.0)
        } else {
            format!("{action} {}", k.1)
        };
        failures.push(Unit {
            label,
            line: *n,
            text,
            body: Vec::new(),
        });
    }
    Decoded {
        lines,
        failures,
        passing: Vec::new(),
    }
}

/// Replaces XML comments with spaces, keeping line breaks (and so line
/// numbers).
fn blank_xml_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("<!--") {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find("-->")
            .map(|j| i + j + 3)
            .unwrap_or(rest.len());
        out.extend(
            rest[i..end]
                .chars()
                .map(|c| if c == '\n' { '\n' } else { ' ' }),
        );
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Decodes XML character data: CDATA markers dropped, entities replaced.
fn xml_text(s: &str) -> String {
    let s = s.replace("<![CDATA[", "").replace("]]>", "");
    let re = Regex::new(r"&(lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);").expect("valid");
    re.replace_all(&s, |c: &regex::Captures| match &c[1] {
        "lt" => "<".to_string(),
        "gt" => ">".to_string(),
        "amp" => "&".to_string(),
        "quot" => "\"".to_string(),
        "apos" => "'".to_string(),
        n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16)
            .ok()
            .and_then(char::from_u32)
            .map(String::from)
            .unwrap_or_default(),
        n => n[1..]
            .parse()
            .ok()
            .and_then(char::from_u32)
            .map(String::from)
            .unwrap_or_default(),
    })
    .into_owned()
}

fn junit_xml(text: &str) -> Decoded {
    let clean = blank_xml_comments(text);
    let lines = lf_lines(text);
    let open = Regex::new(r"<(failure|error)(\s[^>]*)?(/?)>").expect("valid");
    let message = Regex::new(r#"\bmessage="([^"]*)""#).expect("valid");
    let line_of = |offset: usize| clean[..offset].matches('\n').count() + 1;
    let mut failures = Vec::new();
    for m in open.captures_iter(&clean) {
        let whole = m.get(0).expect("match");
        let tag = &m[1];
        let self_closing = &m[3] == "/";
        let body_end = if self_closing {
            whole.end()
        } else {
            clean[whole.end()..]
                .find(&format!("</{tag}>"))
                .map(|j| whole.end() + j)
                .unwrap_or(clean.len())
        };
        let (first, last) = (line_of(whole.start()), line_of(body_end));
        let mut body: Vec<String> = Vec::new();
        if let Some(msg) = m.get(2).and_then(|a| message.captures(a.as_str())) {
            body.extend(xml_text(&msg[1]).lines().map(String::from));
        }
        body.extend(
            xml_text(&clean[whole.end()..body_end])
                .lines()
                .map(String::from),
        );
        let mut unit = span(&lines, first, last, format!("<{tag}> at line {first}"));
        unit.body = body;
        failures.push(unit);
    }
    Decoded {
        lines,
        failures,
        passing: Vec::new(),
    }
}

fn jest_snap(text: &str) -> Decoded {
    let lines = lf_lines(text);
    let mut failures = Vec::new();
    let mut passing = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (n, l) = &lines[i];
        let Some(rest) = l.strip_prefix("exports[`") else {
            i += 1;
            continue;
        };
        let name = rest.split("`] = `").next().unwrap_or(rest).to_string();
        let first_body = l
            .split_once("] = `")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        let mut body: Vec<String> = Some(first_body)
            .filter(|b| !b.is_empty())
            .into_iter()
            .collect();
        i += 1;
        while i < lines.len() && lines[i].1 != "`;" {
            body.push(lines[i].1.clone());
            i += 1;
        }
        // pretty-format wraps a string snapshot in double quotes.
        let mut body: Vec<String> = body
            .into_iter()
            .map(|b| {
                b.replace("\\`", "`")
                    .replace("\\${", "${")
                    .replace("\\\\", "\\")
            })
            .collect();
        if let Some(f) = body.first_mut() {
            *f = f.strip_prefix('"').unwrap_or(f).to_string();
        }
        if let Some(l) = body.last_mut() {
            *l = l.strip_suffix('"').unwrap_or(l).to_string();
        }
        let joined = body.join("\n");
        let fail_marks = ["FAIL", "failed", "●", "✕"]
            .iter()
            .any(|m| joined.contains(m));
        let pass_marks = joined.contains("PASS") || joined.contains(" passed");
        let unit = Unit {
            label: name,
            line: *n,
            text: body,
            body: Vec::new(),
        };
        if pass_marks && !fail_marks {
            passing.push(unit);
        } else {
            failures.push(unit);
        }
        i += 1;
    }
    Decoded {
        lines,
        failures,
        passing,
    }
}

fn pytest_rst(text: &str) -> Decoded {
    let raw = lf_lines(text);
    // Lines of `.. code-block::` blocks, indentation removed.
    let mut lines = Vec::new();
    let mut in_block = false;
    for (n, l) in &raw {
        if l.starts_with(".. code-block::") {
            in_block = true;
            continue;
        }
        if in_block {
            if let Some(s) = l.strip_prefix("    ") {
                lines.push((*n, s.to_string()));
            } else if l.trim().is_empty() {
                lines.push((*n, String::new()));
            } else {
                in_block = false;
            }
        }
    }
    let section = Regex::new(r"^_{3,} (.+?) _{3,}$").expect("valid");
    let banner = Regex::new(r"^={3,} (.+?) ={3,}$").expect("valid");
    let mut failures: Vec<Unit> = Vec::new();
    let mut current: Option<Unit> = None;
    for (n, l) in &lines {
        if let Some(c) = section.captures(l) {
            failures.extend(current.take());
            current = Some(Unit {
                label: c[1].to_string(),
                line: *n,
                text: vec![l.clone()],
                body: Vec::new(),
            });
        } else if let Some(c) = banner.captures(l) {
            failures.extend(current.take());
            if c[1].contains("short test summary") {
                current = Some(Unit {
                    label: "short test summary".to_string(),
                    line: *n,
                    text: vec![l.clone()],
                    body: Vec::new(),
                });
            }
        } else if let Some(u) = current.as_mut() {
            if l.contains("$ pytest") {
                failures.extend(current.take());
            } else {
                u.text.push(l.clone());
            }
        }
    }
    failures.extend(current);
    Decoded {
        lines,
        failures,
        passing: Vec::new(),
    }
}

/// Go string literals of `text`: (1-based line where each starts, decoded
/// content). Comments and rune literals are skipped.
fn go_string_literals(text: &str) -> Vec<(usize, String)> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < b.len() {
        match b[i] {
            '\n' => line += 1,
            '/' if b.get(i + 1) == Some(&'/') => {
                while i < b.len() && b[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '/' if b.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == '*' && b[i + 1] == '/') {
                    line += usize::from(b[i] == '\n');
                    i += 1;
                }
                i += 1;
            }
            '\'' => {
                i += 1;
                while i < b.len() && b[i] != '\'' {
                    i += if b[i] == '\\' { 2 } else { 1 };
                }
            }
            '`' => {
                let start = line;
                let mut s = String::new();
                i += 1;
                while i < b.len() && b[i] != '`' {
                    line += usize::from(b[i] == '\n');
                    s.push(b[i]);
                    i += 1;
                }
                out.push((start, s));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                while i < b.len() && b[i] != '"' && b[i] != '\n' {
                    if b[i] == '\\' && i + 1 < b.len() {
                        i += 1;
                        match b[i] {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            '"' => s.push('"'),
                            '\\' => s.push('\\'),
                            c => {
                                s.push('\\');
                                s.push(c);
                            }
                        }
                    } else {
                        s.push(b[i]);
                    }
                    i += 1;
                }
                out.push((line, s));
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn go_source_terraform(text: &str) -> Decoded {
    // colorstring markup ([red], [bold], [reset]) becomes ANSI at run time.
    let markup = Regex::new(r"\[(reset|bold|dim|underline|red|green|yellow|blue|magenta|cyan|white|light_\w+|default)\]").expect("valid");
    let lines = lf_lines(text);
    let mut failures = Vec::new();
    for (line, lit) in go_string_literals(text) {
        let lit = markup.replace_all(&lit, "");
        let text: Vec<String> = lit
            .split('\n')
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        let starts_failure = text.iter().any(|l| {
            let t = l.trim_start_matches(['│', '╷', '╵', ' ', '\t']);
            t.starts_with("Error: ") || t.starts_with("Failure! ")
        });
        if starts_failure {
            failures.push(Unit {
                label: format!("string literal at line {line}"),
                line,
                text,
                body: Vec::new(),
            });
        }
    }
    Decoded {
        lines,
        failures,
        passing: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_literals_are_decoded_with_their_lines() {
        let src = "x := `a\nb`\n// \"no\"\ny := \"c\\nd\" + 'q'\n";
        let lits = go_string_literals(src);
        assert_eq!(lits, vec![(1, "a\nb".to_string()), (4, "c\nd".to_string())]);
    }

    #[test]
    fn junit_failures_skip_comments_and_decode_bodies() {
        let xml = "<!-- <failure> in a comment -->\n<testcase>\n  <failure message=\"a &amp; b\"><![CDATA[java.lang.AssertionError: x\nat y]]>\n  </failure>\n</testcase>\n<error/>\n";
        let d = junit_xml(xml);
        assert_eq!(d.failures.len(), 2);
        assert_eq!(d.failures[0].line, 3);
        assert_eq!(
            d.failures[0].text.len(),
            3,
            "from the open tag to the close tag"
        );
        assert_eq!(d.failures[0].body[0], "a & b");
        assert!(
            d.failures[0]
                .body
                .iter()
                .any(|l| l == "java.lang.AssertionError: x")
        );
        assert_eq!(d.failures[1].line, 7);
    }

    #[test]
    fn jest_snapshots_split_into_failing_and_passing_runs() {
        let snap = "exports[`a 1`] = `\n\"PASS x.js\n  ✓ ok\"\n`;\n\nexports[`b 1`] = `\n\"FAIL y.js\n  ● t\"\n`;\n";
        let d = jest_snap(snap);
        assert_eq!(d.passing.len(), 1);
        assert_eq!(d.failures.len(), 1);
        assert_eq!(d.failures[0].text, vec!["FAIL y.js", "  ● t"]);
    }
}
