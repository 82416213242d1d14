//! Tests of `store::outbox` (a child module of it, kept in the store's
//! tests folder: one file per concern).

use super::*;
use crate::record::tests_support::sample_run;

fn run_at(level: &str, started_at_ms: i64) -> crate::record::RunRecord {
    let mut run = sample_run(started_at_ms);
    run.execution.telemetry_level = level.into();
    run
}

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("t.db")).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn only_runs_at_a_sending_level_get_a_pending_row_oldest_first() {
    let (_dir, store) = store().await;
    let now = now_ms();
    let runs = [
        run_at("anonymous", now - 3000),
        run_at("local", now - 2000),
        run_at("full", now - 1000),
    ];
    for run in &runs {
        store.record_run(run).await.unwrap();
    }
    let pending = pending_after(&store, 0, 10).await.unwrap();
    let ids: Vec<_> = pending.iter().map(|p| p.execution_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            runs[0].execution.execution_id.as_str(),
            runs[2].execution.execution_id.as_str()
        ]
    );
    assert_eq!(pending[0].level, TelemetryLevel::Anonymous);
    assert_eq!(pending[1].level, TelemetryLevel::Full);
    assert_eq!(pending_count(&store).await.unwrap(), 2);
    // Paging by seq.
    let rest = pending_after(&store, pending[0].seq, 10).await.unwrap();
    assert_eq!(rest, pending[1..]);
}

#[tokio::test]
async fn answers_move_records_between_states_and_count_them() {
    let (_dir, store) = store().await;
    let now = now_ms();
    let runs: Vec<_> = (0..4).map(|i| run_at("anonymous", now - 100 + i)).collect();
    for run in &runs {
        store.record_run(run).await.unwrap();
    }
    let id = |i: usize| runs[i].execution.execution_id.clone();
    let answer = Answer {
        acknowledged: vec![id(0), id(1)],
        rejected: vec![(id(2), "record larger than 1 MiB".into())],
        retry: vec![(id(3), "quota exceeded, retry later".into())],
        accepted: 1,
        duplicates: 1,
    };
    apply_answer(&store, &answer).await.unwrap();
    let status = status(&store).await.unwrap();
    assert_eq!(
        (status.pending, status.acknowledged, status.rejected),
        (1, 2, 1)
    );
    assert_eq!(
        (
            status.acknowledged_total,
            status.duplicates_total,
            status.rejected_total
        ),
        (1, 1, 1)
    );
    assert!(status.last_success_ms.is_some());
    assert_eq!(status.recent_rejections[0].execution_id, id(2));
    assert_eq!(
        status.recent_rejections[0].reason,
        "record larger than 1 MiB"
    );
    // The retriable one stays pending with its attempt counted.
    let (attempts, reason): (i64, Option<String>) =
        sqlx::query_as("SELECT attempts, reason FROM outbox WHERE execution_id = ?")
            .bind(id(3))
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 1);
    assert_eq!(reason.as_deref(), Some("quota exceeded, retry later"));
    // A second answer for records no longer pending changes nothing.
    apply_answer(
        &store,
        &Answer {
            acknowledged: vec![id(2)],
            ..Answer::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(status_of(&store, &id(2)).await, "rejected");
}

async fn status_of(store: &Store, id: &str) -> String {
    sqlx::query_scalar("SELECT state FROM outbox WHERE execution_id = ?")
        .bind(id)
        .fetch_one(&store.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn batch_seq_increases_and_errors_are_kept_until_cleared() {
    let (_dir, store) = store().await;
    assert_eq!(next_batch_seq(&store).await.unwrap(), 1);
    assert_eq!(next_batch_seq(&store).await.unwrap(), 2);
    record_error(&store, "collector unreachable").await.unwrap();
    let s = status(&store).await.unwrap();
    assert_eq!(s.last_error.as_deref(), Some("collector unreachable"));
    assert_eq!(s.batch_seq, 2);
    clear_error(&store).await.unwrap();
    assert_eq!(status(&store).await.unwrap().last_error, None);
}

#[tokio::test]
async fn pending_runs_deleted_by_retention_or_clear_data_are_counted_as_dropped() {
    let (_dir, store) = store().await;
    let now = now_ms();
    let day = 86_400_000;
    let old = [
        run_at("anonymous", now - 100 * day),
        run_at("full", now - 99 * day),
    ];
    let acked_old = run_at("anonymous", now - 98 * day);
    let fresh = run_at("anonymous", now - 1000);
    for run in old.iter().chain([&acked_old, &fresh]) {
        store.record_run(run).await.unwrap();
    }
    apply_answer(
        &store,
        &Answer {
            acknowledged: vec![acked_old.execution.execution_id.clone()],
            accepted: 1,
            ..Answer::default()
        },
    )
    .await
    .unwrap();
    let report = store.enforce_limits(90, 0).await.unwrap();
    assert_eq!(report.expired.runs, 3);
    assert_eq!(report.expired.unsent, 2, "the acknowledged one is not lost");
    let s = status(&store).await.unwrap();
    assert_eq!(s.dropped.expired, 2);
    assert_eq!(s.pending, 1);

    let cleared = store.delete_all().await.unwrap();
    assert_eq!(cleared.unsent, 1);
    let s = status(&store).await.unwrap();
    assert_eq!(
        s.dropped,
        Dropped {
            expired: 2,
            size_cap: 0,
            cleared: 1
        }
    );
    assert_eq!(s.dropped.total(), 3);
    assert_eq!(s.pending, 0);
}
