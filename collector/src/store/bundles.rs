//! Reading and retiring published bundles (`bundle list | show | retire`).
//!
//! Publishing and serving stay beside the rest of the store in `mod.rs`;
//! this file owns the operator's view. It never checks a bundle's content:
//! `earlyexit_proto::bundle` does, before anything is published.

use super::{Store, StoreError, now_ms};

/// A published bundle as the operator sees it (no data).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BundleInfo {
    /// What it holds.
    pub kind: String,
    /// Its version.
    pub version: i64,
    /// SHA-256 of the data, hex.
    pub sha256: String,
    /// Size of the data.
    pub bytes: i64,
    /// When it was published, milliseconds since the epoch.
    pub published_at_ms: i64,
    /// When it was retired, if it was.
    pub retired_at_ms: Option<i64>,
}

const INFO_COLUMNS: &str =
    "kind, version, sha256, CAST(LENGTH(data) AS BIGINT), published_at_ms, retired_at_ms";

type InfoRow = (String, i64, String, i64, i64, Option<i64>);

fn info((kind, version, sha256, bytes, published_at_ms, retired_at_ms): InfoRow) -> BundleInfo {
    BundleInfo {
        kind,
        version,
        sha256,
        bytes,
        published_at_ms,
        retired_at_ms,
    }
}

impl Store {
    /// Every bundle of an org, by kind then version (newest first).
    pub async fn list_bundles(&self, org_id: i64) -> Result<Vec<BundleInfo>, StoreError> {
        let sql = format!(
            "SELECT {INFO_COLUMNS} FROM bundles WHERE org_id = $1 ORDER BY kind, version DESC"
        );
        let rows: Vec<InfoRow> =
            on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(org_id)
                .fetch_all(p)
                .await)?;
        Ok(rows.into_iter().map(info).collect())
    }

    /// One bundle of an org with its data, or `None`.
    pub async fn bundle(
        &self,
        org_id: i64,
        kind: &str,
        version: i64,
    ) -> Result<Option<(BundleInfo, Vec<u8>)>, StoreError> {
        let sql = format!(
            "SELECT {INFO_COLUMNS}, data FROM bundles WHERE org_id = $1 AND kind = $2 AND version = $3"
        );
        type Row = (String, i64, String, i64, i64, Option<i64>, Vec<u8>);
        let row: Option<Row> =
            on_pool!(self, |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(org_id)
                .bind(kind)
                .bind(version)
                .fetch_optional(p)
                .await)?;
        Ok(row.map(|(k, v, s, b, p, r, data)| (info((k, v, s, b, p, r)), data)))
    }

    /// Retires a bundle: agents that do not have it are no longer sent it
    /// (they get the newest bundle of its kind that is not retired).
    /// `false` when there is no such bundle or it was retired already.
    pub async fn retire_bundle(
        &self,
        org_id: i64,
        kind: &str,
        version: i64,
    ) -> Result<bool, StoreError> {
        let sql = "UPDATE bundles SET retired_at_ms = $4 \
                   WHERE org_id = $1 AND kind = $2 AND version = $3 AND retired_at_ms IS NULL";
        let done = on_pool!(self, |p| sqlx::query(sql)
            .bind(org_id)
            .bind(kind)
            .bind(version)
            .bind(now_ms())
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const PATTERNS_ONE: &[u8] =
        br#"{"format": 1, "kind": "patterns", "patterns": [{"id": "a", "regex": "^E", "severity": "error"}]}"#;
    const PATTERNS_TWO: &[u8] =
        br#"{"format": 1, "kind": "patterns", "patterns": [{"id": "b", "regex": "^F", "severity": "error"}]}"#;

    #[tokio::test]
    async fn publishing_checks_the_bundle_against_its_kind() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let store = Store::connect(&url).await.unwrap();
        let org = store.create_org("acme").await.unwrap();
        for bad in [
            &b""[..],
            &[7u8; 100][..],
            br#"{"format": 1, "kind": "patterns", "patterns": []}"#,
        ] {
            let e = store
                .publish_bundle(org.id, "patterns", bad)
                .await
                .unwrap_err();
            assert!(matches!(e, StoreError::BadBundle(_)), "{e}");
        }
        assert!(
            store.list_bundles(org.id).await.unwrap().is_empty(),
            "nothing was kept"
        );
        assert_eq!(
            store
                .publish_bundle(org.id, "patterns", PATTERNS_ONE)
                .await
                .unwrap(),
            1
        );
    }

    #[tokio::test]
    async fn retiring_the_newest_bundle_serves_the_one_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("c.db").display());
        let store = Store::connect(&url).await.unwrap();
        let org = store.create_org("acme").await.unwrap();
        let v1 = store
            .publish_bundle(org.id, "patterns", PATTERNS_ONE)
            .await
            .unwrap();
        let v2 = store
            .publish_bundle(org.id, "patterns", PATTERNS_TWO)
            .await
            .unwrap();
        let newest = |have: HashMap<String, u64>| {
            let store = &store;
            async move { store.bundles_newer(org.id, &have).await.unwrap() }
        };
        assert_eq!(newest(HashMap::new()).await[0].version, v2);
        assert!(store.retire_bundle(org.id, "patterns", v2).await.unwrap());
        assert!(
            !store.retire_bundle(org.id, "patterns", v2).await.unwrap(),
            "once"
        );
        assert!(!store.retire_bundle(org.id, "patterns", 99).await.unwrap());
        let served = newest(HashMap::new()).await;
        assert_eq!(
            (served[0].version, served[0].data.as_slice()),
            (v1, PATTERNS_ONE)
        );
        let had_v1 = HashMap::from([("patterns".to_string(), u64::try_from(v1).unwrap())]);
        assert!(newest(had_v1).await.is_empty());

        let list = store.list_bundles(org.id).await.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[0].version, list[0].bytes),
            (v2, PATTERNS_TWO.len() as i64)
        );
        assert!(list[0].retired_at_ms.is_some() && list[1].retired_at_ms.is_none());
        let (shown, data) = store.bundle(org.id, "patterns", v1).await.unwrap().unwrap();
        assert_eq!((shown.version, data), (v1, PATTERNS_ONE.to_vec()));
        assert!(
            store
                .bundle(org.id, "patterns", 99)
                .await
                .unwrap()
                .is_none()
        );
    }
}
