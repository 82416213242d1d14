//! The record store on its own, on SQLite and, when
//! `EARLYEXIT_TEST_DATABASE_URL` is set, on PostgreSQL: which rows are new
//! and which are duplicates, whatever the mix and however the rows are cut
//! into statements.

use std::sync::Arc;

use earlyexit_collector::store::{Backend, QueryColumns, RecordRow, Store};
use earlyexit_collector::testing::TestDb;

fn row(org_id: i64, agent: &str, execution: &str) -> RecordRow {
    RecordRow {
        org_id,
        agent_id: agent.into(),
        execution_id: execution.into(),
        started_at_ms: 1_763_700_000_000,
        received_at_ms: 1_763_700_000_500,
        exit_reason: "match".into(),
        command_category: "test".into(),
        telemetry_level: "anonymous".into(),
        scrub_hits: 0,
        body: format!("body of {execution}").into_bytes(),
        query: QueryColumns::default(),
    }
}

fn rows(org_id: i64, agent: &str, prefix: &str, n: usize) -> Vec<RecordRow> {
    let agent: Arc<str> = agent.into();
    (0..n)
        .map(|i| RecordRow {
            agent_id: Arc::clone(&agent),
            ..row(org_id, "", &format!("{prefix}-{i:05}"))
        })
        .collect()
}

async fn on_each_backend(test: &str, case: impl AsyncFn(&Store, i64)) {
    let dir = tempfile::tempdir().unwrap();
    for db in TestDb::all(dir.path(), test).await.unwrap() {
        eprintln!("{test}: {}", db.backend);
        let store = db.store().await.unwrap();
        let org = store.create_org("acme").await.unwrap();
        case(&store, org.id).await;
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn new_rows_and_duplicates_are_told_apart_across_statements() {
    on_each_backend("store_flags", async |store, org| {
        let mut writer = store.record_writer();

        // 777 new rows: statements of 500, 256, 16, 4 and 1 rows.
        let first = writer.insert(rows(org, "a", "run", 777)).await.unwrap();
        assert_eq!(first, vec![true; 777]);

        // A re-send of rows 600..777 (in the second statement and after),
        // then 40 new rows and, last, a key that appears twice.
        let mut batch = rows(org, "a", "run", 777).split_off(600);
        batch.extend(rows(org, "a", "new", 40));
        batch.push(row(org, "a", "twice"));
        batch.push(row(org, "a", "twice"));
        let flags = writer.insert(batch).await.unwrap();
        let mut want = vec![false; 177];
        want.extend([true; 40]);
        want.extend([true, false]);
        assert_eq!(flags, want);

        // Duplicates only in the first statement of a later batch; the rows
        // after it are new and must be reported so.
        let mut batch = rows(org, "a", "run", 3);
        batch.extend(rows(org, "a", "later", 600));
        let flags = writer.insert(batch).await.unwrap();
        assert_eq!(flags[..3], [false; 3]);
        assert!(flags[3..].iter().all(|&new| new));

        // The same ids from another agent are other records.
        let flags = writer.insert(rows(org, "b", "run", 10)).await.unwrap();
        assert_eq!(flags, vec![true; 10]);

        assert_eq!(
            store.count_records(org).await.unwrap(),
            777 + 40 + 1 + 600 + 10
        );
        let keys = store.record_keys(org).await.unwrap();
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "a record was stored twice");
    })
    .await;
}

#[tokio::test]
async fn a_failed_insert_stores_nothing_and_the_writer_recovers() {
    on_each_backend("store_failure", async |store, org| {
        let mut writer = store.record_writer();
        // A row of an org that does not exist breaks the foreign key: the
        // whole insert fails and none of its rows stays.
        let mut batch = rows(org, "a", "ok", 20);
        batch.push(row(org + 1000, "a", "orphan"));
        assert!(writer.insert(batch).await.is_err());
        assert_eq!(store.count_records(org).await.unwrap(), 0);

        // The same writer goes on working, and the rows are new.
        let flags = writer.insert(rows(org, "a", "ok", 20)).await.unwrap();
        assert_eq!(flags, vec![true; 20]);
        assert_eq!(store.count_records(org).await.unwrap(), 20);
    })
    .await;
}

#[tokio::test]
async fn a_new_sqlite_store_uses_large_pages_and_a_small_wal() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite(dir.path());
    assert_eq!(db.backend, Backend::Sqlite);
    let Store::Sqlite(pool) = db.store().await.unwrap() else {
        unreachable!("a SQLite test database");
    };
    let page: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&pool)
        .await
        .unwrap();
    let checkpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(page, 16 * 1024);
    assert_eq!(checkpoint * page, 4 << 20);
}

#[tokio::test]
async fn the_sqlite_writer_checkpoints_when_idle_or_over_its_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store = TestDb::sqlite(dir.path()).store().await.unwrap();
    let org = store.create_org("acme").await.unwrap().id;
    let mut writer = store.record_writer();
    // Rows of 64 KiB: 16 make 1 MiB.
    let big = |prefix: &str, n: usize| -> Vec<RecordRow> {
        rows(org, "a", prefix, n)
            .into_iter()
            .map(|r| RecordRow {
                body: vec![7; 64 << 10],
                ..r
            })
            .collect()
    };

    writer.insert(big("first", 16)).await.unwrap();
    assert_eq!(
        writer.checkpoint(true).await.unwrap(),
        None,
        "1 MiB is not due"
    );

    writer.insert(big("second", 64)).await.unwrap();
    assert_eq!(
        writer.checkpoint(false).await.unwrap(),
        None,
        "5 MiB while batches wait is under the hard limit"
    );
    assert!(
        writer.checkpoint(true).await.unwrap().is_some(),
        "due once idle"
    );
    assert_eq!(
        writer.checkpoint(true).await.unwrap(),
        None,
        "nothing new since"
    );

    writer.insert(big("third", 17 * 16)).await.unwrap();
    assert!(
        writer.checkpoint(false).await.unwrap().is_some(),
        "over 16 MiB it checkpoints even with batches waiting"
    );
    assert_eq!(store.count_records(org).await.unwrap(), 16 + 64 + 17 * 16);
    drop(writer);
    store.close().await;
}
