//! The agent's stable id: a UUIDv7 kept in `$EARLYEXIT_HOME/agent_id`
//! (mode 0600), made on first use. The collector keys records by (agent
//! id, execution id), so the id must not change while runs are pending.
//!
//! This module reads and creates that one file; nothing else.

use std::path::{Path, PathBuf};

use super::SyncError;

/// The file name inside `$EARLYEXIT_HOME`.
pub const AGENT_ID_FILE: &str = "agent_id";

/// Where the id of the agent whose home is `earlyexit_home` is kept.
pub fn agent_id_path(earlyexit_home: &Path) -> PathBuf {
    earlyexit_home.join(AGENT_ID_FILE)
}

/// Reads the agent id, creating the file (and a missing home, mode 0700)
/// with a new UUIDv7 when there is none. Processes racing to create it all
/// end up with the same id (see
/// [`load_or_create_once`](crate::private_file::load_or_create_once)).
pub fn load_or_create(earlyexit_home: &Path) -> Result<String, SyncError> {
    let path = agent_id_path(earlyexit_home);
    crate::private_file::load_or_create_once(
        &path,
        || Ok(format!("{}\n", uuid::Uuid::now_v7()).into_bytes()),
        |bytes| {
            std::str::from_utf8(bytes)
                .ok()
                .and_then(parse)
                .ok_or_else(invalid)
        },
    )
    .map_err(|source| SyncError::AgentId { path, source })
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
    use std::os::unix::fs::PermissionsExt;

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
