//! The `bundles` table: bundles (models, pattern libraries) received from
//! the collector, kept by kind and version. `sync` reassembles and checks
//! them; this module only keeps them and says which versions are had.
//!
//! It never applies a bundle (the learning side reads the table).

use std::collections::HashMap;

use super::{Store, StoreError, now_ms};

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

impl Store {
    /// Keeps `bundle`; false when that kind and version was already kept.
    pub async fn store_bundle(&self, bundle: &Bundle) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT OR IGNORE INTO bundles (kind, version, sha256, data, received_at_ms) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&bundle.kind)
        .bind(i64::try_from(bundle.version).unwrap_or(i64::MAX))
        .bind(&bundle.sha256)
        .bind(&bundle.data)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(self.sql_err())?
        .rows_affected();
        Ok(inserted > 0)
    }

    /// Every bundle kept, by kind then newest version first.
    pub async fn list_bundles(&self) -> Result<Vec<KeptBundle>, StoreError> {
        let rows: Vec<(String, i64, String, i64, i64)> = sqlx::query_as(
            "SELECT kind, version, sha256, length(data), received_at_ms FROM bundles \
             ORDER BY kind, version DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.sql_err())?;
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

    /// The newest version kept of each kind (`SubscribeRequest.have_versions`).
    pub async fn bundle_versions(&self) -> Result<HashMap<String, u64>, StoreError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT kind, max(version) FROM bundles GROUP BY kind")
                .fetch_all(&self.pool)
                .await
                .map_err(self.sql_err())?;
        Ok(rows
            .into_iter()
            .map(|(kind, version)| (kind, version.max(0) as u64))
            .collect())
    }
}

#[cfg(test)]
#[path = "tests/bundles.rs"]
mod tests;
