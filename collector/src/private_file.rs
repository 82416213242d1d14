//! Files only the collector's user may read: a folder is made with mode
//! 0700 and a secret file (the database, a token, a TLS key) with mode
//! 0600, created new, never over an existing one.
//!
//! Every module of the collector that creates such a file creates it here.
//! This module knows nothing of what the files hold.

use std::fs::File;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `dir` (and its parents) with mode 0700 where missing.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates the folder `path` is in (mode 0700) when it is missing.
pub fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) if !dir.exists() => create_dir(dir),
        _ => Ok(()),
    }
}

/// Creates the file `path`, which must not exist yet, for writing with
/// mode 0600; [`io::ErrorKind::AlreadyExists`] when it does.
pub fn create_new(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Makes an existing file private (mode 0600), as far as the file system
/// lets us.
pub fn restrict(path: &Path) {
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_secret_file_is_private_and_never_replaces_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/secret");
        create_parent(&path).unwrap();
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        std::io::Write::write_all(&mut create_new(&path).unwrap(), b"s").unwrap();
        assert_eq!(mode(&path), 0o600);
        let e = create_new(&path).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), b"s");
    }
}
