//! Private files and directories: a directory is made with mode 0700 and a
//! file with mode 0600, whatever the umask, and a file made once and then
//! only read (the scrub key, the agent id) is published whole with
//! [`load_or_create_once`], so no reader ever sees it half-written.
//!
//! Every module that creates a file of the user's (the database, the spool,
//! the key, the id, an export) creates it here. This module knows nothing
//! of what the files hold and never deletes a file it did not make.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a reader looks again at a file that exists but does not hold
/// a valid value yet (one written in place by an older version may still be
/// being written), and how long it waits between looks: 100 × 5 ms, far
/// longer than writing a few bytes takes even on a loaded machine, short
/// enough that a damaged file soon gets its clear error.
const READ_ATTEMPTS: u32 = 100;
const READ_PAUSE: Duration = Duration::from_millis(5);

/// Creates `dir` (and its parents) with mode 0700, whatever the umask.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Creates the directory `path` is in (mode 0700) when it is missing.
pub fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) if !dir.exists() => create_dir(dir),
        _ => Ok(()),
    }
}

/// Creates the file `path`, which must not exist yet, for writing with mode
/// 0600 whatever the umask; [`io::ErrorKind::AlreadyExists`] when it does.
pub fn create_new(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // The mode above is filtered by the umask; make it exact.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Opens `path` for appending, creating it with mode 0600 (whatever the
/// umask) when missing; an existing file is made private if it is not.
pub fn open_append(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// The value kept in the private file `path`, made with `make` the first
/// time. `check` turns the file's bytes into the value, or says why they
/// are not one.
///
/// Any number of processes may call this at once on a missing file: each
/// writes its candidate to a temporary file of its own (mode 0600), syncs
/// it, and links it into place, which succeeds for exactly one of them; the
/// others discard theirs and read the winner's. The file appears whole, so
/// readers never see part of it; a file that is there but fails `check`
/// is read again for a bounded time (a file an older version wrote in place
/// may still be growing) and then is an error carrying `check`'s reason.
/// A missing directory is created with mode 0700.
pub fn load_or_create_once<T>(
    path: &Path,
    make: impl FnOnce() -> io::Result<Vec<u8>>,
    check: impl Fn(&[u8]) -> io::Result<T>,
) -> io::Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => return check(&bytes).or_else(|_| read_until_valid(path, &check)),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    create_parent(path)?;
    let bytes = make()?;
    let value = check(&bytes)?;
    match publish(path, &bytes) {
        Ok(()) => Ok(value),
        // Another process published first: everyone uses theirs.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_until_valid(path, &check),
        Err(e) => Err(e),
    }
}

/// Reads `path` until `check` accepts it, at most [`READ_ATTEMPTS`] times.
fn read_until_valid<T>(path: &Path, check: &impl Fn(&[u8]) -> io::Result<T>) -> io::Result<T> {
    let mut last = None;
    for attempt in 0..READ_ATTEMPTS {
        if attempt > 0 {
            std::thread::sleep(READ_PAUSE);
        }
        match std::fs::read(path).and_then(|bytes| check(&bytes)) {
            Ok(value) => return Ok(value),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("the file never became valid")))
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and puts it
/// in place without replacing anything: [`io::ErrorKind::AlreadyExists`]
/// when `path` appeared meanwhile. The temporary file is always removed.
fn publish(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let temp = temp_path(path);
    let written = create_new(&temp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let placed = written.and_then(|()| link_no_replace(&temp, path));
    let _ = std::fs::remove_file(&temp);
    placed?;
    // The link itself survives a crash once its directory is synced.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Makes `to` name the file `from` names, failing when `to` exists. A hard
/// link where the file system has them; otherwise a rename that refuses to
/// replace (Linux `RENAME_NOREPLACE`).
fn link_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::hard_link(from, to) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => rustix::fs::renameat_with(
            rustix::fs::CWD,
            from,
            rustix::fs::CWD,
            to,
            rustix::fs::RenameFlags::NOREPLACE,
        )
        .map_err(io::Error::from),
        other => other,
    }
}

/// A name beside `path` no other process uses: `.NAME.PID.NANOS.tmp`.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    path.with_file_name(format!(".{name}.{}.{nanos}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn at_least_4(bytes: &[u8]) -> io::Result<Vec<u8>> {
        if bytes.len() >= 4 {
            Ok(bytes.to_vec())
        } else {
            Err(io::Error::new(io::ErrorKind::InvalidData, "too short"))
        }
    }

    #[test]
    fn a_missing_file_is_made_privately_once_and_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("home/value");
        let made = load_or_create_once(&path, || Ok(b"first".to_vec()), at_least_4).unwrap();
        assert_eq!(made, b"first");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let again = load_or_create_once(
            &path,
            || panic!("an existing file is not made again"),
            at_least_4,
        )
        .unwrap();
        assert_eq!(again, b"first");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["value"]);
    }

    #[test]
    fn an_invalid_file_is_an_error_with_the_reason_and_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value");
        std::fs::write(&path, b"ab").unwrap();
        let e = load_or_create_once(&path, || Ok(b"new one".to_vec()), at_least_4).unwrap_err();
        assert_eq!(e.to_string(), "too short");
        assert_eq!(std::fs::read(&path).unwrap(), b"ab");
        // A value `make` returns is checked too, and nothing is published.
        let other = dir.path().join("other");
        let e = load_or_create_once(&other, || Ok(b"x".to_vec()), at_least_4).unwrap_err();
        assert_eq!(e.to_string(), "too short");
        assert!(!other.exists());
    }

    #[test]
    fn a_file_completed_while_a_reader_waits_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value");
        std::fs::write(&path, b"ab").unwrap();
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(10));
                std::fs::write(&path, b"abcdef").unwrap();
            })
        };
        let read = load_or_create_once(&path, || unreachable!(), at_least_4).unwrap();
        writer.join().unwrap();
        assert_eq!(read, b"abcdef");
    }

    #[test]
    fn racing_creators_all_get_the_one_value_that_was_published() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("value");
        let barrier = std::sync::Barrier::new(16);
        let values: Vec<Vec<u8>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let (path, barrier) = (&path, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        let mine = format!("value of creator {i:02}").into_bytes();
                        load_or_create_once(path, || Ok(mine), at_least_4).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let on_disk = std::fs::read(&path).unwrap();
        assert!(on_disk.starts_with(b"value of creator "), "{on_disk:?}");
        assert!(values.iter().all(|v| *v == on_disk), "{values:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
