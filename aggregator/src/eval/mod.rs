//! Evaluation on external, labelled data (`earlyexit-aggregator eval …`).
//!
//! Owns finding and reading the evaluation data under `--data DIR` and the
//! shape of the reports. Must never be needed by a test: the project's
//! tests write their own data, and a fresh clone has no `../shared`.

pub mod bgl;
pub mod metrics;
pub mod patterns;
pub mod templates;
pub mod triage;

use std::path::{Path, PathBuf};

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The folder that should hold a data set is missing.
    #[error(
        "no {what} under {}: pass --data pointing at the folder that holds it (e.g. --data ../shared/data, which must contain {expected})",
        dir.display()
    )]
    MissingData {
        /// What was being looked for ("the Loghub 2k samples").
        what: &'static str,
        /// Where it was looked for.
        dir: PathBuf,
        /// The relative path expected inside `--data`.
        expected: &'static str,
    },
    /// A data file could not be read or parsed.
    #[error("cannot read {}: {reason}", path.display())]
    BadData {
        /// The file.
        path: PathBuf,
        /// What went wrong, in words.
        reason: String,
    },
}

/// Returns `data/expected` if it is a directory, else [`EvalError::MissingData`].
pub fn require_dir(
    data: &Path,
    expected: &'static str,
    what: &'static str,
) -> Result<PathBuf, EvalError> {
    let dir = data.join(expected);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(EvalError::MissingData {
            what,
            dir,
            expected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_data_folder_names_what_is_expected_there() {
        let tmp = tempfile::tempdir().unwrap();
        let e = require_dir(tmp.path(), "loghub2k", "Loghub 2k samples")
            .unwrap_err()
            .to_string();
        assert!(e.contains("loghub2k"), "{e}");
        assert!(e.contains("--data"), "{e}");
        std::fs::create_dir(tmp.path().join("loghub2k")).unwrap();
        assert!(require_dir(tmp.path(), "loghub2k", "Loghub 2k samples").is_ok());
    }
}
