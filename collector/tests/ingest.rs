//! Ingest against a real collector on 127.0.0.1:0, each test run on SQLite
//! and, when `EARLYEXIT_TEST_DATABASE_URL` is set, on PostgreSQL.

mod common;

use std::time::Duration;

use common::{Fixture, push, record, records};
use earlyexit_collector::store::Backend;
use earlyexit_collector::testing::TestDb;
use earlyexit_proto::v1::RunRecord;
use prost::Message;
use tonic::Code;

/// Runs `case` once per available backend.
macro_rules! each_backend {
    ($name:ident, |$db:ident| $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let dir = tempfile::tempdir().unwrap();
            for $db in TestDb::all(dir.path(), stringify!($name)).await.unwrap() {
                eprintln!("{}: {}", stringify!($name), $db.backend);
                let db_ref = &$db;
                async {
                    let $db = db_ref;
                    $body
                }
                .await;
                $db.cleanup().await;
            }
        }
    };
}

each_backend!(
    a_resent_batch_is_counted_as_duplicates_and_stored_once,
    |db| {
        let f = Fixture::start(db).await;
        let mut client = f.client().await;
        let batch = records("run", 50);
        let first = push(&mut client, Some(&f.token), "agent-1", batch.clone())
            .await
            .unwrap();
        assert_eq!((first.accepted, first.duplicates), (50, 0));
        assert!(first.rejected.is_empty());

        // The reply was "lost": the agent sends the batch again, plus 10 new.
        let mut again = batch;
        again.extend(records("more", 10));
        let second = push(&mut client, Some(&f.token), "agent-1", again)
            .await
            .unwrap();
        assert_eq!((second.accepted, second.duplicates), (10, 50));

        // The same execution ids from another agent are other records.
        let other = push(&mut client, Some(&f.token), "agent-2", records("run", 5))
            .await
            .unwrap();
        assert_eq!(other.accepted, 5);
        assert_eq!(f.store.count_records(f.org.id).await.unwrap(), 65);

        // A key twice in one batch is stored once.
        let twice = vec![record("dup"), record("dup")];
        let r = push(&mut client, Some(&f.token), "agent-1", twice)
            .await
            .unwrap();
        assert_eq!((r.accepted, r.duplicates), (1, 1));
        assert_eq!(f.store.count_records(f.org.id).await.unwrap(), 66);
        f.stop().await;
    }
);

each_backend!(bad_records_are_rejected_by_name_and_the_rest_stored, |db| {
    // The default per-record limit is the record budget agents shape to.
    let f = Fixture::start_with(db, |_| {}).await;
    let mut client = f.client().await;
    let mut big = record("big");
    big.matches[0].context_before = "x".repeat(earlyexit_proto::MAX_RECORD_BYTES);
    let no_execution = RunRecord::default();
    let mut no_id = record("");
    no_id.execution.as_mut().unwrap().execution_id.clear();
    let mut spaced = record("has space");
    spaced.execution.as_mut().unwrap().execution_id = "has space".into();
    let batch = vec![
        record("ok-1"),
        big,
        no_execution,
        no_id,
        spaced,
        record("ok-2"),
    ];
    let r = push(&mut client, Some(&f.token), "agent-1", batch)
        .await
        .unwrap();
    assert_eq!(r.accepted, 2);
    let rejected: Vec<(u32, &str)> = r
        .rejected
        .iter()
        .map(|x| (x.index, x.reason.as_str()))
        .collect();
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    assert_eq!(rejected[0].0, 1);
    assert!(
        rejected[0].1.contains(&format!(
            "over the collector's limit of {} bytes",
            earlyexit_proto::MAX_RECORD_BYTES
        )),
        "{rejected:?}"
    );
    assert_eq!(r.rejected[0].execution_id, "big");
    assert_eq!(rejected[1], (2, "record has no execution"));
    assert_eq!(rejected[2], (3, "execution_id is empty"));
    assert!(rejected[3].1.contains("without spaces"));
    assert!(r.rejected.iter().all(|x| !x.retriable));
    let keys = f.store.record_keys(f.org.id).await.unwrap();
    let ids: Vec<&str> = keys.iter().map(|(_, e)| e.as_str()).collect();
    assert_eq!(ids, ["ok-1", "ok-2"]);
    f.stop().await;
});

each_backend!(missing_wrong_and_revoked_tokens_are_unauthenticated, |db| {
    let f = Fixture::start(db).await;
    let mut client = f.client().await;
    for token in [None, Some("eec_0000"), Some("")] {
        let err = push(&mut client, token, "agent-1", records("r", 3))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{token:?}: {err:?}");
    }
    let ok = push(&mut client, Some(&f.token), "agent-1", records("r", 3))
        .await
        .unwrap();
    assert_eq!(ok.accepted, 3);

    let tokens = f.store.list_tokens(Some("acme")).await.unwrap();
    assert!(f.store.revoke_token(&tokens[0].token_id).await.unwrap());
    let err = push(&mut client, Some(&f.token), "agent-1", records("late", 3))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("revoked"), "{}", err.message());
    assert_eq!(
        f.store.count_records(f.org.id).await.unwrap(),
        3,
        "nothing more stored"
    );
    f.stop().await;
});

each_backend!(one_org_cannot_read_or_overwrite_another, |db| {
    let f = Fixture::start(db).await;
    let other = f.store.create_org("globex").await.unwrap();
    let other_token = f.store.create_token("globex", None).await.unwrap().token;
    let mut client = f.client().await;

    // Same agent and execution ids in both orgs: two separate records, and
    // globex's push does not touch acme's body.
    let mut mine = record("shared-id");
    mine.execution.as_mut().unwrap().command = "acme-build".into();
    let mut theirs = record("shared-id");
    theirs.execution.as_mut().unwrap().command = "globex-build".into();
    let r = push(&mut client, Some(&f.token), "agent-1", vec![mine])
        .await
        .unwrap();
    assert_eq!(r.accepted, 1);
    let r = push(&mut client, Some(&other_token), "agent-1", vec![theirs])
        .await
        .unwrap();
    assert_eq!(
        (r.accepted, r.duplicates),
        (1, 0),
        "not a duplicate of acme's record"
    );
    let (body, _) = f
        .store
        .record_body(f.org.id, "agent-1", "shared-id")
        .await
        .unwrap()
        .unwrap();
    let stored = RunRecord::decode(body.as_slice()).unwrap();
    assert_eq!(stored.execution.unwrap().command, "acme-build");
    assert_eq!(f.store.count_records(other.id).await.unwrap(), 1);

    // Bundles: each org's agents see only their own.
    f.store
        .publish_bundle(
            f.org.id,
            "patterns",
            &earlyexit_proto::bundle::sample("patterns", "acme patterns"),
        )
        .await
        .unwrap();
    f.store
        .publish_bundle(
            other.id,
            "patterns",
            &earlyexit_proto::bundle::sample("patterns", "globex v1"),
        )
        .await
        .unwrap();
    f.store
        .publish_bundle(
            other.id,
            "patterns",
            &earlyexit_proto::bundle::sample("patterns", "globex v2"),
        )
        .await
        .unwrap();
    let mine = common_fetch(&f, &f.token).await;
    assert_eq!(
        mine,
        vec![(
            "patterns".to_owned(),
            1,
            earlyexit_proto::bundle::sample("patterns", "acme patterns")
        )]
    );
    let theirs = common_fetch(&f, &other_token).await;
    assert_eq!(
        theirs,
        vec![(
            "patterns".to_owned(),
            2,
            earlyexit_proto::bundle::sample("patterns", "globex v2")
        )]
    );
    f.stop().await;
});

each_backend!(the_collector_rescrubs_what_an_agent_missed, |db| {
    let f = Fixture::start(db).await;
    let mut client = f.client().await;
    let mut leaky = record("leaky");
    leaky.matches[0].line_content =
        "deploy failed: export AWS_SECRET=AKIAIOSFODNN7EXAMPLE by bob@acme-corp.io".into();
    leaky.execution.as_mut().unwrap().working_directory = "/home/bob/src/app".into();
    let r = push(
        &mut client,
        Some(&f.token),
        "agent-1",
        vec![leaky, record("clean")],
    )
    .await
    .unwrap();
    assert_eq!(r.accepted, 2);
    let (body, hits) = f
        .store
        .record_body(f.org.id, "agent-1", "leaky")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hits, 2, "two fields changed");
    let text = String::from_utf8_lossy(&body);
    assert!(!text.contains("AKIAIOSFODNN7EXAMPLE"), "{text}");
    assert!(
        !text.contains("bob@acme-corp.io") && !text.contains("/home/bob"),
        "{text}"
    );
    let (_, clean_hits) = f
        .store
        .record_body(f.org.id, "agent-1", "clean")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(clean_hits, 0);
    assert_eq!(
        f.running
            .stats
            .scrub_hits
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    f.stop().await;
});

each_backend!(oversized_batches_and_messages_are_refused_whole, |db| {
    let f = Fixture::start_with(db, |c| {
        c.limits.max_batch_records = 100;
        c.limits.max_message_bytes = 64 * 1024;
    })
    .await;
    let mut client = f.client().await;
    let err = push(&mut client, Some(&f.token), "agent-1", records("r", 101))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("over the collector's limit of 100"),
        "{}",
        err.message()
    );

    let mut huge = records("h", 10);
    for r in &mut huge {
        r.matches[0].context_after = "y".repeat(10_000);
    }
    let err = push(&mut client, Some(&f.token), "agent-1", huge)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");

    let err = push(&mut client, Some(&f.token), "", records("r", 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        f.store.count_records(f.org.id).await.unwrap(),
        0,
        "nothing stored"
    );
    // Still serving.
    let ok = push(&mut client, Some(&f.token), "agent-1", records("r", 100))
        .await
        .unwrap();
    assert_eq!(ok.accepted, 100);
    f.stop().await;
});

each_backend!(an_org_over_its_quota_is_told_when_to_retry, |db| {
    let f = Fixture::start_with(db, |c| {
        c.limits.org_records_per_second = Some(20);
        c.limits.org_burst_records = Some(20);
    })
    .await;
    let mut client = f.client().await;
    let ok = push(&mut client, Some(&f.token), "agent-1", records("a", 20))
        .await
        .unwrap();
    assert_eq!(ok.accepted, 20);
    let err = push(&mut client, Some(&f.token), "agent-1", records("b", 20))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.message()
            .contains("org 'acme' is over its ingest quota of 20 records/s; retry in"),
        "{}",
        err.message()
    );
    assert_eq!(f.store.count_records(f.org.id).await.unwrap(), 20);
    f.stop().await;
});

each_backend!(an_org_over_its_byte_quota_is_refused, |db| {
    let f = Fixture::start_with(db, |c| {
        c.limits.org_bytes_per_second = Some(64 * 1024);
    })
    .await;
    let mut client = f.client().await;
    // About 20 KB per batch: the first three fit the one-second burst.
    let mut refused = None;
    for i in 0..10 {
        let mut batch = records(&format!("b{i}"), 20);
        for r in &mut batch {
            r.matches[0].context_after = "z".repeat(1000);
        }
        if let Err(status) = push(&mut client, Some(&f.token), "agent-1", batch).await {
            refused = Some((i, status));
            break;
        }
    }
    let (i, status) = refused.expect("the byte quota refuses a batch");
    assert!(i >= 2, "the burst let the first batches in");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert!(
        status.message().contains("quota of 65536 bytes/s"),
        "{}",
        status.message()
    );
    assert_eq!(
        f.store.count_records(f.org.id).await.unwrap(),
        20 * i64::from(i)
    );
    f.stop().await;
});

each_backend!(
    a_stalled_store_fills_the_queue_and_then_pushes_are_refused,
    |db| {
        let f = Fixture::start_with(db, |c| c.limits.max_inflight_bytes = 64 * 1024).await;
        // Hold the records table from another connection so the writer waits.
        let lock = Lock::take(db).await;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..6 {
            let mut client = f.client().await;
            let token = f.token.clone();
            tasks.spawn(async move {
                push(
                    &mut client,
                    Some(&token),
                    "agent-1",
                    records(&format!("q{i}"), 150),
                )
                .await
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Give the pushes time to queue; the first ones wait, the rest bounce.
        tokio::time::sleep(Duration::from_millis(300)).await;
        lock.release().await;
        let mut stored = 0;
        let mut busy = 0;
        while let Some(r) = tasks.join_next().await {
            match r.unwrap() {
                Ok(resp) => stored += resp.accepted,
                Err(status) => {
                    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
                    assert!(status.message().contains("busy"), "{}", status.message());
                    busy += 1;
                }
            }
        }
        assert!(busy >= 1, "the bounded queue refused some batches");
        assert!(
            stored >= 150,
            "the first batch was stored once the lock went"
        );
        assert_eq!(
            f.store.count_records(f.org.id).await.unwrap(),
            i64::from(stored),
            "exactly the acknowledged records are stored"
        );
        f.stop().await;
    }
);

each_backend!(shutdown_finishes_a_batch_in_flight, |db| {
    let f = Fixture::start(db).await;
    let lock = Lock::take(db).await;
    let mut client = f.client().await;
    let token = f.token.clone();
    let pushing =
        tokio::spawn(
            async move { push(&mut client, Some(&token), "agent-1", records("s", 200)).await },
        );
    // The push must be in the collector before the shutdown starts; it
    // waits there on the store's lock. On a loaded machine it took up to
    // 250 ms to arrive, so give it a second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let Fixture {
        store,
        running,
        org,
        ..
    } = f;
    let stopping = tokio::spawn(running.shutdown());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !stopping.is_finished(),
        "shutdown waits for the batch in flight"
    );
    lock.release().await;
    let answer = pushing
        .await
        .unwrap()
        .expect("the in-flight batch is answered");
    assert_eq!(answer.accepted, 200);
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("shutdown is bounded")
        .unwrap()
        .unwrap();
    assert_eq!(store.count_records(org.id).await.unwrap(), 200);
    store.close().await;
});

/// Fetches an org's bundles, reassembled: (kind, version, data).
async fn common_fetch(f: &Fixture, token: &str) -> Vec<(String, u64, Vec<u8>)> {
    use earlyexit_proto::v1::SubscribeRequest;
    use earlyexit_proto::v1::updates_client::UpdatesClient;
    let mut client = UpdatesClient::connect(f.running.url()).await.unwrap();
    let mut request = tonic::Request::new(SubscribeRequest {
        agent_id: "agent-1".into(),
        have_versions: Default::default(),
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let mut stream = client.fetch(request).await.unwrap().into_inner();
    let mut out: Vec<(String, u64, Vec<u8>)> = Vec::new();
    while let Some(chunk) = stream.message().await.unwrap() {
        if chunk.chunk_index == 0 {
            out.push((chunk.kind.clone(), chunk.version, Vec::new()));
        }
        out.last_mut().unwrap().2.extend(chunk.data);
    }
    out
}

/// A write lock on the records table held by another connection.
enum Lock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Lock {
    async fn take(db: &TestDb) -> Lock {
        use sqlx::Connection;
        match db.backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
                sqlx::raw_sql("BEGIN IMMEDIATE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                Lock::Sqlite(c)
            }
            Backend::Postgres => {
                let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
                let mut tx = pool.begin().await.unwrap();
                sqlx::raw_sql("LOCK TABLE records IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                Lock::Postgres(tx)
            }
        }
    }

    async fn release(self) {
        match self {
            Lock::Sqlite(mut c) => {
                sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap();
            }
            Lock::Postgres(tx) => tx.rollback().await.unwrap(),
        }
    }
}

each_backend!(an_acknowledgement_says_where_its_time_went, |db| {
    let f = Fixture::start(db).await;
    let mut client = f.client().await;
    let mut request = tonic::Request::new(earlyexit_proto::v1::PushRequest {
        agent_id: "agent-1".into(),
        batch_seq: 1,
        records: records("timed", 20),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", f.token).parse().unwrap(),
    );
    let reply = client.push(request).await.unwrap();
    let header = reply
        .metadata()
        .get(earlyexit_collector::ingest::SERVER_TIMING)
        .expect("a server-timing header")
        .to_str()
        .unwrap()
        .to_owned();
    let dur = |name: &str| -> f64 {
        header
            .split(", ")
            .find_map(|e| e.strip_prefix(&format!("{name};dur=")))
            .unwrap_or_else(|| panic!("no {name} in {header:?}"))
            .parse()
            .unwrap()
    };
    let parts = dur("prepare") + dur("queue") + dur("statements") + dur("commit");
    assert!(dur("total") > 0.0, "{header}");
    assert!(
        parts <= dur("total") + 0.01,
        "parts exceed the total: {header}"
    );
    assert!(dur("checkpoint") <= dur("queue"), "{header}");
    assert!(header.contains("group;desc=20"), "{header}");
    assert_eq!(reply.into_inner().accepted, 20);
    f.stop().await;
});
