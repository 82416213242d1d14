//! Tests of `store::open` (a child module of it, kept in the store's
//! tests folder: one file per concern).

use super::*;
use crate::record::tests_support::sample_run;
use crate::recorder::record_run_blocking;
use crate::store::test_support::*;
use crate::store::*;
use std::path::Path;
use std::time::Duration;

#[tokio::test]
async fn open_creates_private_directory_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home").join(".earlyexit");
    let db = home.join(crate::config::DEFAULT_DB_FILE);
    let store = Store::open(&db).await.unwrap();
    store.record_run(&sample_run(now_ms())).await.unwrap();
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&db), 0o600);
    // SQLite gives the WAL the database file's mode.
    let wal = db.with_extension("db-wal");
    assert!(wal.exists(), "WAL journal mode is on");
    assert_eq!(mode(&wal), 0o600);
    store.close().await;
}

/// Run by `open_is_private_under_a_permissive_umask` in a child process
/// whose umask is 000; does nothing on its own.
#[tokio::test]
async fn open_in_child_process() {
    if let Ok(db) = std::env::var("EARLYEXIT_TEST_CHILD_DB") {
        let store = Store::open(Path::new(&db)).await.unwrap();
        store.record_run(&sample_run(now_ms())).await.unwrap();
        store.close().await;
    }
}

#[test]
fn open_is_private_under_a_permissive_umask() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("new-home");
    let db = home.join(crate::config::DEFAULT_DB_FILE);
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::open::tests::open_in_child_process",
            "--quiet",
        ])
        .env("EARLYEXIT_TEST_CHILD_DB", &db)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(db.exists(), "the child process created the database");
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&db), 0o600);
}

#[tokio::test]
async fn reopening_keeps_data_and_applies_migrations_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
    let store = Store::open(&db).await.unwrap();
    store.record_run(&sample_run(now_ms())).await.unwrap();
    store.close().await;
    let store = Store::open(&db).await.unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 1);
    assert_eq!(
        count(&store, "SELECT count(*) FROM _sqlx_migrations").await,
        MIGRATOR.iter().count() as i64
    );
    store.record_run(&sample_run(now_ms())).await.unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 2);
    let auto_vacuum: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(auto_vacuum, 2, "new databases use incremental auto-vacuum");
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn concurrent_first_opens_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
    let handles: Vec<_> = (0..6)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || record_run_blocking(&db, &sample_run(now_ms()), 90, 100))
        })
        .collect();
    for handle in handles {
        handle.join().unwrap().unwrap();
    }
    let store = Store::open_existing(&db).await.unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 6);
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
    let store = Store::open(&db).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
             execution_time) VALUES (99990101000000, 'future', 1, x'00', 0)",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    store.close().await;
    let err = Store::open(&db).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::TooNew {
                version: 99990101000000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade earlyexit"), "{err}");
}

#[tokio::test]
async fn a_corrupt_file_is_an_error_that_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
    std::fs::write(&db, vec![0x5a; 8192]).unwrap();
    let err = Store::open(&db).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("move it aside"), "{err}");
}

#[tokio::test]
async fn a_held_write_lock_is_a_locked_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
    let holder = Store::open(&db).await.unwrap();
    let mut tx = holder.pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    sqlx::query("INSERT INTO meta (key, value) VALUES ('x', 'y')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let waiter = Store::connect(&db, false, Duration::from_millis(100))
        .await
        .unwrap();
    let err = waiter.record_run(&sample_run(now_ms())).await.unwrap_err();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert!(
        err.to_string().contains("locked by another process"),
        "{err}"
    );
    tx.rollback().await.unwrap();
    waiter.record_run(&sample_run(now_ms())).await.unwrap();
}

#[test]
fn an_unusable_location_is_an_error_naming_the_alternatives() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let err = block_on(Store::open(
        &not_a_dir.join("sub").join(crate::config::DEFAULT_DB_FILE),
    ))
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("--db PATH") && text.contains("--no-telemetry"),
        "{text}"
    );
    let err = record_run_blocking(
        &not_a_dir.join(crate::config::DEFAULT_DB_FILE),
        &sample_run(0),
        90,
        100,
    )
    .unwrap_err();
    assert!(err.to_string().contains("--no-telemetry"), "{err}");
}

#[tokio::test]
async fn open_existing_never_creates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none").join(crate::config::DEFAULT_DB_FILE);
    let err = Store::open_existing(&db).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }));
    assert_eq!(
        err.to_string(),
        format!("no telemetry recorded yet at {}", db.display())
    );
    assert!(!db.parent().unwrap().exists());
}
