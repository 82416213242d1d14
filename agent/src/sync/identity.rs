//! The agent's stable id: a UUIDv7 kept in `$EARLYEXIT_HOME/agent_id`
//! (mode 0600), made on first use. The collector keys records by (agent
//! id, execution id), so the id must not change while runs are pending.
//!
//! This module reads and creates that one file; nothing else.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::SyncError;

/// The file name inside `$EARLYEXIT_HOME`.
pub const AGENT_ID_FILE: &str = "agent_id";

/// Where the id of the agent whose home is `earlyexit_home` is kept.
pub fn agent_id_path(earlyexit_home: &Path) -> PathBuf {
    earlyexit_home.join(AGENT_ID_FILE)
}

/// Reads the agent id, creating the file (and a missing home, mode 0700)
/// with a new UUIDv7 when there is none. Two processes racing to create it
/// end up with the same id.
pub fn load_or_create(earlyexit_home: &Path) -> Result<String, SyncError> {
    let path = agent_id_path(earlyexit_home);
    let err = |source| SyncError::AgentId {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => return parse(&text).ok_or_else(|| err(invalid())),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(err(e)),
        Err(_) => {}
    }
    if !earlyexit_home.exists() {
        crate::spool::create_private_dir(earlyexit_home).map_err(err)?;
    }
    let id = uuid::Uuid::now_v7().to_string();
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(err)?;
            file.write_all(format!("{id}\n").as_bytes()).map_err(err)?;
            file.sync_all().map_err(err)?;
            Ok(id)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Another process made it first; it may still be writing.
            for _ in 0..50 {
                if let Some(id) = std::fs::read_to_string(&path)
                    .ok()
                    .as_deref()
                    .and_then(parse)
                {
                    return Ok(id);
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(err(invalid()))
        }
        Err(e) => Err(err(e)),
    }
}

fn parse(text: &str) -> Option<String> {
    uuid::Uuid::parse_str(text.trim())
        .ok()
        .map(|id| id.to_string())
}

fn invalid() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "the file does not hold a UUID",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_made_once_privately_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let id = load_or_create(&home).unwrap();
        assert!(uuid::Uuid::parse_str(&id).is_ok());
        let mode = std::fs::metadata(agent_id_path(&home))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(load_or_create(&home).unwrap(), id);
        std::fs::write(agent_id_path(&home), "not an id").unwrap();
        let e = load_or_create(&home).unwrap_err().to_string();
        assert!(e.contains("delete the file"), "{e}");
    }
}
