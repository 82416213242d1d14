//! Bundles (models, pattern libraries) streamed by the collector: chunks
//! reassembled in order, bounded in size, and checked against their
//! SHA-256, and kept only when valid for their kind
//! (`earlyexit_proto::bundle::validate`, the check the collector made
//! before publishing them). Keeping them is the store's (`store::bundles`, the `bundles`
//! table); applying them is the learning side's. This module opens no
//! connection and runs no SQL.

use earlyexit_proto::v1::BundleChunk;
use earlyexit_scrub::sha256_hex;

pub use crate::store::Bundle;

/// The largest bundle accepted (256 MiB); a larger one is refused and
/// logged, and the agent keeps the versions it has.
pub const MAX_BUNDLE_BYTES: usize = 256 * 1024 * 1024;

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
        let actual = sha256_hex(&done.data);
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

    #[test]
    fn an_assembled_bundle_is_the_one_the_store_keeps() {
        let mut a = Assembler::default();
        let mut bundle = None;
        let rules = earlyexit_proto::bundle::sample("patterns", "rules");
        for chunk in chunks("patterns", 4, &rules, 20) {
            bundle = a.feed(chunk).unwrap();
        }
        let bundle = bundle.unwrap();
        assert_eq!(bundle.sha256, sha256_hex(&rules));
        assert_eq!((bundle.kind.as_str(), bundle.version), ("patterns", 4));
        assert_eq!(bundle.data, rules);
    }
}
