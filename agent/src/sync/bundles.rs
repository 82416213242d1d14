//! Bundles (models, pattern libraries) streamed by the collector: chunks
//! reassembled in order, bounded in size, checked against their SHA-256,
//! and kept in the `bundles` table.
//!
//! A bundle is kept only when it is valid for its kind
//! (`earlyexit_proto::bundle::validate`, the check the collector made
//! before publishing it). Bundles are stored, never applied here: applying one is the job of the
//! learning side, which reads the table. This module owns that table and
//! the reassembly; it opens no connection.

use std::collections::HashMap;

use earlyexit_proto::v1::BundleChunk;
use sha2::{Digest, Sha256};

use crate::store::{Store, StoreError, now_ms};

/// The largest bundle accepted (256 MiB); a larger one is refused and
/// logged, and the agent keeps the versions it has.
pub const MAX_BUNDLE_BYTES: usize = 256 * 1024 * 1024;

/// A complete, checked bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// `patterns`, `models`, ….
    pub kind: String,
    /// Monotonic per kind.
    pub version: u64,
    /// SHA-256 of `data`, hex (checked).
    pub sha256: String,
    /// The bundle.
    pub data: Vec<u8>,
}

/// Why a bundle could not be put together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// A chunk that does not continue the bundle being received.
    #[error(
        "bundle {kind} v{version}: chunk {index} of {count} arrived out of order; the bundle is dropped and fetched again on reconnect"
    )]
    OutOfOrder {
        /// The chunk's kind.
        kind: String,
        /// The chunk's version.
        version: u64,
        /// The chunk's index.
        index: u32,
        /// The chunk's count.
        count: u32,
    },
    /// More than [`MAX_BUNDLE_BYTES`].
    #[error("bundle {kind} v{version} is larger than {} MiB; it is not kept", MAX_BUNDLE_BYTES >> 20)]
    TooLarge {
        /// The kind.
        kind: String,
        /// The version.
        version: u64,
    },
    /// Whole and undamaged, but not a valid bundle of its kind.
    #[error("bundle {kind} v{version} is not valid: {detail}; it is not kept")]
    Invalid {
        /// The kind.
        kind: String,
        /// The version.
        version: u64,
        /// What is wrong with it.
        detail: String,
    },
    /// The data does not hash to the announced SHA-256.
    #[error(
        "bundle {kind} v{version} is damaged (SHA-256 {actual}, announced {expected}); it is not kept"
    )]
    Checksum {
        /// The kind.
        kind: String,
        /// The version.
        version: u64,
        /// Announced.
        expected: String,
        /// Computed.
        actual: String,
    },
}

#[derive(Debug)]
struct Partial {
    kind: String,
    version: u64,
    sha256: String,
    count: u32,
    next: u32,
    data: Vec<u8>,
}

/// Reassembles the chunks of one stream, one bundle at a time.
#[derive(Debug, Default)]
pub struct Assembler {
    partial: Option<Partial>,
}

impl Assembler {
    /// Takes the next chunk; returns the bundle when this chunk completes it.
    pub fn feed(&mut self, chunk: BundleChunk) -> Result<Option<Bundle>, BundleError> {
        let out_of_order = |c: &BundleChunk| BundleError::OutOfOrder {
            kind: c.kind.clone(),
            version: c.version,
            index: c.chunk_index,
            count: c.chunk_count,
        };
        if chunk.chunk_index == 0 {
            if chunk.chunk_count == 0 {
                return Err(out_of_order(&chunk));
            }
            self.partial = Some(Partial {
                kind: chunk.kind.clone(),
                version: chunk.version,
                sha256: chunk.sha256.to_ascii_lowercase(),
                count: chunk.chunk_count,
                next: 0,
                data: Vec::new(),
            });
        }
        let Some(partial) = self.partial.as_mut() else {
            return Err(out_of_order(&chunk));
        };
        if partial.kind != chunk.kind
            || partial.version != chunk.version
            || partial.count != chunk.chunk_count
            || partial.next != chunk.chunk_index
        {
            self.partial = None;
            return Err(out_of_order(&chunk));
        }
        if partial.data.len() + chunk.data.len() > MAX_BUNDLE_BYTES {
            let (kind, version) = (partial.kind.clone(), partial.version);
            self.partial = None;
            return Err(BundleError::TooLarge { kind, version });
        }
        partial.data.extend_from_slice(&chunk.data);
        partial.next += 1;
        if partial.next < partial.count {
            return Ok(None);
        }
        let Some(done) = self.partial.take() else {
            return Ok(None);
        };
        let actual = hex(&Sha256::digest(&done.data));
        if actual != done.sha256 {
            return Err(BundleError::Checksum {
                kind: done.kind,
                version: done.version,
                expected: done.sha256,
                actual,
            });
        }
        if let Err(e) = earlyexit_proto::bundle::validate(&done.kind, &done.data) {
            return Err(BundleError::Invalid {
                kind: done.kind,
                version: done.version,
                detail: e.to_string(),
            });
        }
        Ok(Some(Bundle {
            kind: done.kind,
            version: done.version,
            sha256: actual,
            data: done.data,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Keeps `bundle`; false when that kind and version was already kept.
pub async fn store_bundle(store: &Store, bundle: &Bundle) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT OR IGNORE INTO bundles (kind, version, sha256, data, received_at_ms) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&bundle.kind)
    .bind(i64::try_from(bundle.version).unwrap_or(i64::MAX))
    .bind(&bundle.sha256)
    .bind(&bundle.data)
    .bind(now_ms())
    .execute(store.pool())
    .await
    .map_err(|e| store.error(e))?
    .rows_affected();
    Ok(inserted > 0)
}

/// The newest version kept of each kind (`SubscribeRequest.have_versions`).
pub async fn have_versions(store: &Store) -> Result<HashMap<String, u64>, StoreError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, max(version) FROM bundles GROUP BY kind")
            .fetch_all(store.pool())
            .await
            .map_err(|e| store.error(e))?;
    Ok(rows
        .into_iter()
        .map(|(kind, version)| (kind, version.max(0) as u64))
        .collect())
}

/// A bundle kept on this machine, as `earlyexit bundles list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeptBundle {
    /// What it holds.
    pub kind: String,
    /// Its version.
    pub version: i64,
    /// SHA-256 of the data, hex.
    pub sha256: String,
    /// Size of the data.
    pub bytes: i64,
    /// When it arrived, milliseconds since the epoch.
    pub received_at_ms: i64,
}

/// Every bundle kept, by kind then newest version first.
pub async fn list_bundles(store: &Store) -> Result<Vec<KeptBundle>, StoreError> {
    let rows: Vec<(String, i64, String, i64, i64)> = sqlx::query_as(
        "SELECT kind, version, sha256, length(data), received_at_ms FROM bundles \
         ORDER BY kind, version DESC",
    )
    .fetch_all(store.pool())
    .await
    .map_err(|e| store.error(e))?;
    Ok(rows
        .into_iter()
        .map(
            |(kind, version, sha256, bytes, received_at_ms)| KeptBundle {
                kind,
                version,
                sha256,
                bytes,
                received_at_ms,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(kind: &str, version: u64, data: &[u8], size: usize) -> Vec<BundleChunk> {
        let sha = hex(&Sha256::digest(data));
        let parts: Vec<&[u8]> = data.chunks(size).collect();
        parts
            .iter()
            .enumerate()
            .map(|(i, part)| BundleChunk {
                kind: kind.into(),
                version,
                chunk_index: i as u32,
                chunk_count: parts.len() as u32,
                sha256: sha.clone(),
                data: part.to_vec(),
            })
            .collect()
    }

    #[test]
    fn chunks_are_reassembled_and_checked() {
        let data = earlyexit_proto::bundle::sample("patterns", &"x".repeat(10_000));
        let mut a = Assembler::default();
        let mut done = None;
        for chunk in chunks("patterns", 3, &data, 4096) {
            assert!(done.is_none());
            done = a.feed(chunk).unwrap();
        }
        let bundle = done.unwrap();
        assert_eq!(bundle.data, data);
        assert_eq!((bundle.kind.as_str(), bundle.version), ("patterns", 3));
    }

    #[test]
    fn damaged_or_disordered_bundles_are_refused() {
        let data = earlyexit_proto::bundle::sample("models", &"y".repeat(9000));
        let mut parts = chunks("models", 1, &data, 4000);
        parts[1].data[0] ^= 1;
        let mut a = Assembler::default();
        let results: Vec<_> = parts.into_iter().map(|c| a.feed(c)).collect();
        assert!(matches!(
            results.last().unwrap(),
            Err(BundleError::Checksum { .. })
        ));

        let mut parts = chunks("models", 2, &data, 4000);
        parts.swap(1, 2);
        let mut a = Assembler::default();
        assert_eq!(a.feed(parts[0].clone()), Ok(None));
        assert!(matches!(
            a.feed(parts[1].clone()),
            Err(BundleError::OutOfOrder { index: 2, .. })
        ));
        // A new bundle starting at chunk 0 is accepted after an error.
        let mut done = None;
        let ok = earlyexit_proto::bundle::sample("models", "ok");
        for chunk in chunks("models", 3, &ok, 16) {
            done = a.feed(chunk).unwrap();
        }
        assert_eq!(done.unwrap().data, ok);
    }

    #[test]
    fn a_whole_bundle_that_is_not_valid_for_its_kind_is_refused() {
        for (kind, data) in [
            ("patterns", &b"error|FAILED"[..]),
            ("patterns", &br#"{"format": 1, "kind": "patterns", "patterns": [{"id": "a", "regex": "(", "severity": "error"}]}"#[..]),
            ("weights", &earlyexit_proto::bundle::sample("patterns", "x")[..]),
        ] {
            let mut a = Assembler::default();
            let mut last = Ok(None);
            for chunk in chunks(kind, 1, data, 64) {
                last = a.feed(chunk);
            }
            match last {
                Err(BundleError::Invalid { detail, .. }) => assert!(!detail.is_empty()),
                other => panic!("{kind}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn bundles_are_kept_once_and_reported_as_had() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let mut a = Assembler::default();
        let mut bundle = None;
        let rules = earlyexit_proto::bundle::sample("patterns", "rules");
        for chunk in chunks("patterns", 4, &rules, 20) {
            bundle = a.feed(chunk).unwrap();
        }
        let bundle = bundle.unwrap();
        assert!(store_bundle(&store, &bundle).await.unwrap());
        assert!(!store_bundle(&store, &bundle).await.unwrap());
        let have = have_versions(&store).await.unwrap();
        assert_eq!(have.get("patterns"), Some(&4));
        let kept = list_bundles(&store).await.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].version, kept[0].bytes), (4, rules.len() as i64));
        assert_eq!(kept[0].sha256, bundle.sha256);
    }
}
