//! Health follows the store, and a store failure reaches clients as one
//! fixed UNAVAILABLE status without the store's own words (SQL, table
//! names).

mod common;

use std::time::{Duration, Instant};

use common::{Fixture, push, records};
use earlyexit_collector::health::STORE_UNAVAILABLE;
use earlyexit_collector::store::Store;
use earlyexit_collector::testing::TestDb;
use earlyexit_proto::v1::SubscribeRequest;
use earlyexit_proto::v1::updates_client::UpdatesClient;
use sqlx::Connection;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Words of the stores' own errors and of our SQL that must never reach a
/// client.
const STORE_WORDS: &[&str] = &[
    "records", "table", "relation", "sql", "insert", "select", "database", "no such",
];

async fn health_of(channel: &Channel) -> ServingStatus {
    HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "earlyexit.v1.Ingest".into(),
        })
        .await
        .expect("health answers")
        .into_inner()
        .status()
}

/// Waits (up to `limit`) for health to say `want`; returns how long it took.
async fn wait_for_health(channel: &Channel, want: ServingStatus, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let now = health_of(channel).await;
        if now == want {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "health still {now:?} after {limit:?}, wanted {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A channel to the fixture's collector (for health checks).
async fn channel(f: &Fixture) -> Channel {
    Channel::from_shared(f.running.url())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn execute(store: &Store, sql: &'static str) {
    match store {
        Store::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
        Store::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ()),
    }
    .expect("the test's SQL runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_reaches_clients_as_one_status_without_sql() {
    let dir = tempfile::tempdir().unwrap();
    for db in TestDb::all(
        dir.path(),
        "a_store_failure_reaches_clients_as_one_status_without_sql",
    )
    .await
    .unwrap()
    {
        let f = Fixture::start(&db).await;
        let channel = channel(&f).await;
        let mut client = f.client().await;
        let ok = push(&mut client, Some(&f.token), "agent-1", records("a", 3))
            .await
            .unwrap();
        assert_eq!(ok.accepted, 3, "{:?}", db.backend);
        assert_eq!(health_of(&channel).await, ServingStatus::Serving);

        // The table the pushes write goes away: the store's error names it.
        execute(&f.store, "DROP TABLE records").await;
        let failed = push(&mut client, Some(&f.token), "agent-1", records("b", 3))
            .await
            .unwrap_err();
        assert_eq!(
            failed.code(),
            Code::Unavailable,
            "{:?}: {failed:?}",
            db.backend
        );
        assert_eq!(failed.message(), STORE_UNAVAILABLE, "{:?}", db.backend);
        let lower = failed.message().to_lowercase();
        for word in STORE_WORDS {
            assert!(!lower.contains(word), "{:?}: {word} in {lower}", db.backend);
        }
        // Reads too: a bundle fetch whose table is gone gets the same status.
        execute(&f.store, "DROP TABLE bundles").await;
        let mut updates = UpdatesClient::new(channel.clone());
        let mut request = tonic::Request::new(SubscribeRequest {
            agent_id: "agent-1".into(),
            have_versions: Default::default(),
        });
        let bearer = format!("Bearer {}", f.token).parse().unwrap();
        request.metadata_mut().insert("authorization", bearer);
        let fetch = updates.fetch(request).await.unwrap_err();
        assert_eq!(fetch.code(), Code::Unavailable, "{fetch:?}");
        assert_eq!(fetch.message(), STORE_UNAVAILABLE);

        // A failed write takes the collector out of service at once (for a
        // hold of a second), and the next push is refused the same way
        // without asking the store.
        assert_eq!(health_of(&channel).await, ServingStatus::NotServing);
        let refused = push(&mut client, Some(&f.token), "agent-1", records("c", 1))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unavailable);
        assert_eq!(refused.message(), STORE_UNAVAILABLE);
        // The probe can still write, so it comes back after the hold; the
        // next push fails again and the hold doubles.
        wait_for_health(&channel, ServingStatus::Serving, Duration::from_secs(10)).await;
        let again = push(&mut client, Some(&f.token), "agent-1", records("d", 1))
            .await
            .unwrap_err();
        assert_eq!(again.message(), STORE_UNAVAILABLE);
        let held = wait_for_health(&channel, ServingStatus::Serving, Duration::from_secs(10)).await;
        assert!(
            held >= Duration::from_millis(1500),
            "a second hold of 2 s: {held:?}"
        );
        f.stop().await;
        db.cleanup().await;
    }
}

/// SQLite: another process holding the write lock makes the store
/// unwritable: health turns NOT_SERVING within a probe interval and its
/// timeout, and SERVING again once the lock is let go; pushes meanwhile
/// are answered with the fixed status and later ones are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_locked_elsewhere_is_reported_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite(dir.path());
    let f = Fixture::start(&db).await;
    let channel = channel(&f).await;
    let mut client = f.client().await;
    assert_eq!(
        push(&mut client, Some(&f.token), "agent-1", records("a", 2))
            .await
            .unwrap()
            .accepted,
        2
    );

    let path = dir.path().join("collector.db");
    let mut locker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    let took = wait_for_health(&channel, ServingStatus::NotServing, Duration::from_secs(15)).await;
    assert!(
        took < Duration::from_secs(8),
        "probe interval + timeout: {took:?}"
    );
    let refused = push(&mut client, Some(&f.token), "agent-1", records("b", 2))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!(refused.message(), STORE_UNAVAILABLE);

    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .unwrap();
    locker.close().await.unwrap();
    let back = wait_for_health(&channel, ServingStatus::Serving, Duration::from_secs(10)).await;
    assert!(back < Duration::from_secs(5), "{back:?}");
    let stored = push(&mut client, Some(&f.token), "agent-1", records("b", 2))
        .await
        .unwrap();
    assert_eq!(stored.accepted, 2);
    assert_eq!(f.store.count_records(f.org.id).await.unwrap(), 4);
    f.stop().await;
}
