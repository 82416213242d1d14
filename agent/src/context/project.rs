//! The project type of a working directory: the nearest marker file
//! (`Cargo.toml`, `package.json`, `go.mod`, …) in it or its parents, up to
//! the repository root or [`MAX_PROJECT_LEVELS`] directories.
//! [`PROJECT_TYPES`] is every answer it can give.
//!
//! It lists directories and nothing more: it must never read a file's
//! contents, never search above a repository root, and never look at more
//! than [`MAX_DIR_ENTRIES`] entries of one directory.

use std::fs;
use std::path::Path;

use super::UNKNOWN;

/// How many directories [`detect_project_type`] looks at: the working
/// directory and its parents. Enough for `repo/crates/foo/src`, and it stops
/// earlier at a VCS root.
pub const MAX_PROJECT_LEVELS: usize = 5;

/// Directory entries looked at per directory. A project root has tens; a
/// bigger directory (a download folder, `/tmp`) is not worth listing fully.
pub const MAX_DIR_ENTRIES: usize = 2048;

/// Marker files in priority order: when one directory holds several, the
/// first listed wins (a Rust crate with a `Makefile` is `rust`). A leading
/// `*` matches a suffix.
const PROJECT_MARKERS: &[(&str, &str)] = &[
    ("Cargo.toml", "rust"),
    ("package.json", "nodejs"),
    ("pyproject.toml", "python"),
    ("setup.py", "python"),
    ("setup.cfg", "python"),
    ("requirements.txt", "python"),
    ("Pipfile", "python"),
    ("go.mod", "go"),
    ("pom.xml", "java"),
    ("build.gradle", "java"),
    ("build.gradle.kts", "java"),
    ("*.tf", "terraform"),
    ("Gemfile", "ruby"),
    ("composer.json", "php"),
    ("CMakeLists.txt", "cmake"),
    ("Makefile", "make"),
    ("GNUmakefile", "make"),
    ("makefile", "make"),
];

/// Every value [`detect_project_type`] can return.
pub const PROJECT_TYPES: &[&str] = &[
    "rust",
    "nodejs",
    "python",
    "go",
    "java",
    "terraform",
    "ruby",
    "php",
    "cmake",
    "make",
    UNKNOWN,
];

/// Directory names that mark a repository root; the search stops there.
const VCS_DIRS: &[&str] = &[".git", ".hg", ".svn", ".jj"];

/// The project type of `cwd`: the marker file found nearest to it (looking
/// in `cwd` and its parents, up to the repository root or
/// [`MAX_PROJECT_LEVELS`] directories), e.g. `rust`, `nodejs`, `python`,
/// `go`, `java`, `terraform`, `ruby`, `php`, `cmake`, `make`; or `unknown`.
///
/// `cwd` should be absolute (parents of a relative path are not visited).
/// Costs one directory listing per level visited.
pub fn detect_project_type(cwd: &Path) -> &'static str {
    for dir in cwd.ancestors().take(MAX_PROJECT_LEVELS) {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        let mut best: Option<usize> = None;
        let mut at_repo_root = false;
        for entry in entries.take(MAX_DIR_ENTRIES).flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if VCS_DIRS.contains(&name) {
                at_repo_root = true;
            } else if let Some(rank) = PROJECT_MARKERS
                .iter()
                .position(|(marker, _)| marker_matches(marker, name))
            {
                best = Some(best.map_or(rank, |b| b.min(rank)));
            }
        }
        if let Some(rank) = best {
            return PROJECT_MARKERS[rank].1;
        }
        if at_repo_root {
            break;
        }
    }
    UNKNOWN
}

fn marker_matches(marker: &str, name: &str) -> bool {
    match marker.strip_prefix('*') {
        Some(suffix) => name.len() > suffix.len() && name.ends_with(suffix),
        None => name == marker,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        fs::write(dir.join(name), "").unwrap();
    }

    #[test]
    fn each_marker_gives_its_project_type() {
        let cases = [
            ("Cargo.toml", "rust"),
            ("package.json", "nodejs"),
            ("pyproject.toml", "python"),
            ("setup.py", "python"),
            ("requirements.txt", "python"),
            ("go.mod", "go"),
            ("pom.xml", "java"),
            ("build.gradle", "java"),
            ("build.gradle.kts", "java"),
            ("main.tf", "terraform"),
            ("Gemfile", "ruby"),
            ("composer.json", "php"),
            ("CMakeLists.txt", "cmake"),
            ("Makefile", "make"),
        ];
        for (marker, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir(dir.path().join(".git")).unwrap();
            touch(dir.path(), marker);
            assert_eq!(detect_project_type(dir.path()), expected, "{marker}");
        }
    }

    #[test]
    fn priority_decides_between_markers_in_one_directory() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".git")).unwrap();
        for marker in ["Makefile", "package.json", "Cargo.toml"] {
            touch(dir.path(), marker);
        }
        assert_eq!(detect_project_type(dir.path()), "rust");
    }

    #[test]
    fn markers_are_found_in_parents_and_the_nearest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        let deep = repo.join("services/api/src");
        fs::create_dir_all(&deep).unwrap();
        fs::create_dir(repo.join(".git")).unwrap();
        touch(&repo, "Makefile");
        assert_eq!(detect_project_type(&deep), "make");
        touch(&repo.join("services/api"), "go.mod");
        assert_eq!(detect_project_type(&deep), "go");
    }

    #[test]
    fn search_stops_at_the_repository_root() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "Cargo.toml");
        let repo = dir.path().join("repo");
        fs::create_dir_all(repo.join(".git")).unwrap();
        assert_eq!(detect_project_type(&repo), UNKNOWN);
        // Without a repository root, a parent's marker counts.
        fs::remove_dir(repo.join(".git")).unwrap();
        assert_eq!(detect_project_type(&repo), "rust");
    }

    #[test]
    fn search_stops_after_max_levels() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "package.json");
        let mut deep = dir.path().to_path_buf();
        for level in 0..MAX_PROJECT_LEVELS {
            deep.push(format!("d{level}"));
        }
        fs::create_dir_all(&deep).unwrap();
        assert_eq!(detect_project_type(&deep), UNKNOWN);
        assert_eq!(detect_project_type(deep.parent().unwrap()), "nodejs");
    }

    #[test]
    fn a_directory_that_cannot_be_listed_is_unknown() {
        assert_eq!(
            detect_project_type(Path::new("/nonexistent/earlyexit/x")),
            UNKNOWN
        );
    }

    #[test]
    fn every_marker_type_is_listed_in_project_types() {
        for (_, kind) in PROJECT_MARKERS {
            assert!(
                PROJECT_TYPES.contains(kind),
                "{kind} missing from PROJECT_TYPES"
            );
        }
    }
}
