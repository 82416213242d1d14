//! Reading CiDiff's breakage pairs (`--data DIR/cidiff/data/breakages`):
//! the logs, split into lines the way the ground truth numbers them, and
//! the `E` lines of the ground truth.
//!
//! Owns the layout of that data set only. Must never score anything.

use std::path::{Path, PathBuf};

use crate::eval::EvalError;

/// One breakage: a passing and a failing log of the same job.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case folder's name.
    pub name: String,
    /// Lines of `pass.log`.
    pub pass: Vec<String>,
    /// Lines of `fail.log`.
    pub fail: Vec<String>,
    /// 1-based numbers of the `E` (error) lines of `fail.log`, from
    /// `groundtruth`.
    pub error_lines: Vec<usize>,
}

/// Splits `text` into lines ended by CRLF, a bare CR or LF, as Java's
/// `readLine` does (the numbering of CiDiff's ground truth): a final line
/// end does not start one more line.
pub fn split_lines(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'\n' => {
                out.push(&text[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                out.push(&text[start..i]);
                i += if b.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        out.push(&text[start..]);
    }
    out
}

/// Parses a `groundtruth` file: the first line is a parse mode, then `E a-b`
/// / `E a` (error lines) and `C …` (context, ignored) lines.
pub fn parse_groundtruth(text: &str, path: &Path) -> Result<Vec<usize>, EvalError> {
    let bad = |reason: String| EvalError::BadData {
        path: path.to_path_buf(),
        reason,
    };
    let mut lines = Vec::new();
    for (n, l) in split_lines(text).into_iter().enumerate().skip(1) {
        let l = l.trim();
        let Some(range) = l.strip_prefix("E ") else {
            if l.is_empty() || l.starts_with("C ") {
                continue;
            }
            return Err(bad(format!(
                "line {}: expected 'E a-b', 'E a' or 'C …', found {l:?}",
                n + 1
            )));
        };
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| bad(format!("line {}: {s:?} is not a line number", n + 1)))
        };
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(range)?, num(range)?),
        };
        lines.extend(a..=b);
    }
    Ok(lines)
}

/// Reads every case folder under `dir` (the `breakages` folder), sorted by
/// name. Folders without `pass.log` are skipped (the README lives beside
/// them); a folder with `pass.log` but no `fail.log` or `groundtruth` is
/// an error.
pub fn read_cases(dir: &Path) -> Result<Vec<Case>, EvalError> {
    let read = |p: PathBuf| {
        std::fs::read(&p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| EvalError::BadData {
                path: p,
                reason: e.to_string(),
            })
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| EvalError::BadData {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("pass.log").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut cases = Vec::with_capacity(names.len());
    for name in names {
        let d = dir.join(&name);
        let gt_path = d.join("groundtruth");
        let error_lines = parse_groundtruth(&read(gt_path.clone())?, &gt_path)?;
        let lines = |t: String| split_lines(&t).into_iter().map(String::from).collect();
        cases.push(Case {
            pass: lines(read(d.join("pass.log"))?),
            fail: lines(read(d.join("fail.log"))?),
            name,
            error_lines,
        });
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_crlf_bare_cr_and_lf() {
        assert_eq!(split_lines("a\r\nb\rc\nd"), ["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\n\nb\n"), ["a", "", "b"]);
        assert_eq!(split_lines("\r\r\n"), ["", ""]);
        assert!(split_lines("").is_empty());
    }

    #[test]
    fn groundtruth_ranges_are_expanded_and_bad_lines_named() {
        let p = Path::new("gt");
        assert_eq!(
            parse_groundtruth("DEFAULT\nE 3-5\nC 2\nE 9\n", p).unwrap(),
            [3, 4, 5, 9]
        );
        let e = parse_groundtruth("DEFAULT\nE x\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("gt"), "{e}");
    }
}
