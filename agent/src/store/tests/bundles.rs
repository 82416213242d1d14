//! Tests of `store::bundles` (a child module of it, kept in the store's
//! tests folder: one file per concern).

use super::*;

#[tokio::test]
async fn bundles_are_kept_once_and_reported_as_had() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).await.unwrap();
    let bundle = Bundle {
        kind: "patterns".into(),
        version: 4,
        sha256: earlyexit_scrub::sha256_hex(b"rules"),
        data: b"rules".to_vec(),
    };
    assert!(store.store_bundle(&bundle).await.unwrap());
    assert!(!store.store_bundle(&bundle).await.unwrap());
    let older = Bundle {
        version: 2,
        ..bundle.clone()
    };
    assert!(store.store_bundle(&older).await.unwrap());
    let have = store.bundle_versions().await.unwrap();
    assert_eq!(have.get("patterns"), Some(&4));
    assert_eq!(have.len(), 1);
    let kept = store.list_bundles().await.unwrap();
    assert_eq!(kept.iter().map(|b| b.version).collect::<Vec<_>>(), [4, 2]);
    assert_eq!(
        (kept[0].bytes, kept[0].sha256.as_str()),
        (5, bundle.sha256.as_str())
    );
}
