//! Bundles (models, pattern libraries) streamed by the collector: chunks
//! reassembled in order, bounded in size, checked against their SHA-256,
//! and kept in the `bundles` table.
//!
//! Bundles are stored, never applied here: applying one is the job of the
//! learning side, which reads the table. This module owns that table and
//! the reassembly; it opens no connection.

use std::collections::HashMap;

use earlyexit_proto::v1::BundleChunk;
use earlyexit_scrub::sha256_hex;

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
        let actual = sha256_hex(&done.data);
        if actual != done.sha256 {
            return Err(BundleError::Checksum {
                kind: done.kind,
                version: done.version,
                expected: done.sha256,
                actual,
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
    .map_err(store.sql_err())?
    .rows_affected();
    Ok(inserted > 0)
}

/// The newest version kept of each kind (`SubscribeRequest.have_versions`).
pub async fn have_versions(store: &Store) -> Result<HashMap<String, u64>, StoreError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, max(version) FROM bundles GROUP BY kind")
            .fetch_all(store.pool())
            .await
            .map_err(store.sql_err())?;
    Ok(rows
        .into_iter()
        .map(|(kind, version)| (kind, version.max(0) as u64))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(kind: &str, version: u64, data: &[u8], size: usize) -> Vec<BundleChunk> {
        let sha = sha256_hex(data);
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
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
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
        let data = vec![7u8; 9000];
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
        for chunk in chunks("models", 3, b"ok", 1) {
            done = a.feed(chunk).unwrap();
        }
        assert_eq!(done.unwrap().data, b"ok");
    }

    #[tokio::test]
    async fn bundles_are_kept_once_and_reported_as_had() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).await.unwrap();
        let mut a = Assembler::default();
        let mut bundle = None;
        for chunk in chunks("patterns", 4, b"rules", 2) {
            bundle = a.feed(chunk).unwrap();
        }
        let bundle = bundle.unwrap();
        assert!(store_bundle(&store, &bundle).await.unwrap());
        assert!(!store_bundle(&store, &bundle).await.unwrap());
        let have = have_versions(&store).await.unwrap();
        assert_eq!(have.get("patterns"), Some(&4));
    }
}
