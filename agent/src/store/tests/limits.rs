//! Tests of `store::limits` (a child module of it, kept in the store's
//! tests folder: one file per concern).

use super::*;
use crate::record::RunRecord;
use crate::record::tests_support::sample_run;
use crate::store::test_support::*;
use crate::store::*;
use std::time::Duration;

#[tokio::test]
async fn retention_deletes_old_runs_with_their_rows_at_most_hourly() {
    let (_dir, store) = temp_store().await;
    let now = now_ms();
    let old = sample_run(now - 100 * DAY_MS);
    let recent = sample_run(now - DAY_MS);
    store.record_run(&old).await.unwrap();
    store.record_run(&recent).await.unwrap();
    sqlx::query("INSERT INTO feedback (feedback_id, execution_id, rating) VALUES ('f1', ?, 2)")
        .bind(&old.execution.execution_id)
        .execute(&store.pool)
        .await
        .unwrap();

    let report = store
        .enforce_limits_at(now, 90, 0, PRUNE_TIME_BUDGET)
        .await
        .unwrap();
    assert!(report.age_checked);
    assert_eq!(
        report.expired,
        DeleteCounts {
            runs: 1,
            match_events: 2,
            output_samples: 1,
            performance_metrics: 2,
            feedback: 1,
            unsent: 0,
        }
    );
    let old_id = &old.execution.execution_id;
    for table in [
        "executions",
        "match_events",
        "output_samples",
        "performance_metrics",
        "feedback",
    ] {
        assert_eq!(count_for(&store, table, old_id).await, 0, "{table}");
    }
    assert_eq!(
        count_for(&store, "executions", &recent.execution.execution_id).await,
        1
    );
    assert_eq!(
        count_for(&store, "match_events", &recent.execution.execution_id).await,
        2
    );
    assert_eq!(
        store.pattern_effectiveness().await.unwrap()[0].total_uses,
        1
    );

    // Within the hour the check does not run again...
    let older = sample_run(now - 200 * DAY_MS);
    store.record_run(&older).await.unwrap();
    let report = store
        .enforce_limits_at(now + 60_000, 90, 0, PRUNE_TIME_BUDGET)
        .await
        .unwrap();
    assert!(!report.age_checked);
    assert_eq!(
        count_for(&store, "executions", &older.execution.execution_id).await,
        1
    );
    // ...and an hour later it does.
    let report = store
        .enforce_limits_at(now + 3_600_000, 90, 0, PRUNE_TIME_BUDGET)
        .await
        .unwrap();
    assert!(report.age_checked);
    assert_eq!(report.expired.runs, 1);
    assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 1);
}

#[tokio::test]
async fn zero_limits_delete_nothing() {
    let (_dir, store) = temp_store().await;
    store
        .record_run(&sample_run(now_ms() - 1000 * DAY_MS))
        .await
        .unwrap();
    let report = store.enforce_limits(0, 0).await.unwrap();
    assert_eq!(report.expired.runs + report.over_size_cap.runs, 0);
    assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 1);
}

/// A run carrying about 20 KiB of output samples.
fn bulky_run(started_at_ms: i64) -> RunRecord {
    let mut run = sample_run(started_at_ms);
    let line = "E 2024-01-01 worker[42]: connection reset by peer, retrying\n";
    run.samples[0].content = line.repeat(20 * 1024 / line.len());
    run
}

#[tokio::test]
async fn size_cap_deletes_oldest_runs_and_shrinks_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join(crate::config::DEFAULT_DB_FILE);
    let store = Store::open(&db).await.unwrap();
    let now = now_ms();
    let runs: Vec<RunRecord> = (0..120)
        .map(|i| bulky_run(now - (120 - i) * 60_000))
        .collect();
    for run in &runs {
        store.record_run(run).await.unwrap();
    }
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&store.pool)
        .await
        .unwrap();
    let before = std::fs::metadata(&db).unwrap().len();
    assert!(
        before > 2 * 1024 * 1024,
        "test data is over the cap: {before}"
    );

    let report = store
        .enforce_limits_at(now, 0, 1, PRUNE_TIME_BUDGET)
        .await
        .unwrap();
    assert!(!report.incomplete);
    let deleted = report.over_size_cap.runs as usize;
    assert!(deleted > 60 && deleted < 120, "deleted {deleted}");
    assert!(report.used_bytes_after <= 1024 * 1024);
    // The oldest runs went first; the newest are all kept.
    for (i, run) in runs.iter().enumerate() {
        let kept = count_for(&store, "executions", &run.execution.execution_id).await;
        assert_eq!(kept, i64::from(i >= deleted), "run {i}");
    }
    let after = std::fs::metadata(&db).unwrap().len();
    let wal = std::fs::metadata(db.with_extension("db-wal")).map_or(0, |m| m.len());
    assert!(
        after + wal <= 1024 * 1024,
        "file shrank: {before} -> {after} + wal {wal}"
    );
    assert_eq!(
        store.pattern_effectiveness().await.unwrap()[0].total_uses,
        (120 - deleted) as i64
    );

    // Under the cap now: the next run prunes nothing.
    let report = store
        .enforce_limits_at(now, 0, 1, PRUNE_TIME_BUDGET)
        .await
        .unwrap();
    assert_eq!(report.over_size_cap.runs, 0);
}

#[tokio::test]
async fn size_pruning_stops_at_the_time_budget_and_resumes_later() {
    let (_dir, store) = temp_store().await;
    let now = now_ms();
    for i in 0..80 {
        store.record_run(&bulky_run(now - i * 1000)).await.unwrap();
    }
    let report = store
        .enforce_limits_at(now, 0, 1, Duration::ZERO)
        .await
        .unwrap();
    assert!(report.incomplete);
    assert_eq!(report.over_size_cap.runs, 0);
    let report = store
        .enforce_limits_at(now, 0, 1, PRUNE_TIME_BUDGET)
        .await
        .unwrap();
    assert!(!report.incomplete);
    assert!(report.over_size_cap.runs > 0);
}
