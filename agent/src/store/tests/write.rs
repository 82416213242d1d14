//! Tests of `store::write` (a child module of it, kept in the store's
//! tests folder: one file per concern).

use super::*;
use crate::record::MatchEvent;
use crate::record::tests_support::sample_run;
use crate::store::test_support::*;
use crate::store::*;

#[tokio::test]
async fn record_run_writes_every_row_of_the_run() {
    let (_dir, store) = temp_store().await;
    let run = sample_run(now_ms());
    store.record_run(&run).await.unwrap();
    let id = &run.execution.execution_id;
    assert_eq!(count_for(&store, "executions", id).await, 1);
    assert_eq!(count_for(&store, "match_events", id).await, 2);
    assert_eq!(count_for(&store, "output_samples", id).await, 1);
    assert_eq!(count_for(&store, "performance_metrics", id).await, 2);

    let (command, reason, pattern_type, case_insensitive, ts): (
        String,
        String,
        String,
        bool,
        String,
    ) = sqlx::query_as(
        "SELECT command, exit_reason, pattern_type, case_insensitive, timestamp \
                 FROM executions WHERE execution_id = ?",
    )
    .bind(id)
    .fetch_one(&store.pool)
    .await
    .unwrap();
    assert_eq!(command, "cargo test --workspace");
    assert_eq!(reason, "match");
    assert_eq!(pattern_type, "regex");
    assert!(!case_insensitive);
    assert_eq!(ts, rfc3339_ms(run.execution.started_at_ms));

    let events: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT event_id, match_number, matched_substring FROM match_events \
             WHERE execution_id = ? ORDER BY match_number",
    )
    .bind(id)
    .fetch_all(&store.pool)
    .await
    .unwrap();
    assert_eq!(events[0].1, 1);
    assert_eq!(events[1].2, "FAIL");
    assert_ne!(events[0].0, events[1].0);
    for (event_id, _, _) in &events {
        let uuid = uuid::Uuid::parse_str(event_id).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
    }

    let pe = store.pattern_effectiveness().await.unwrap();
    assert_eq!(pe.len(), 1);
    assert_eq!(pe[0].pattern, "error|FAIL");
    assert_eq!(pe[0].pattern_hash, sha256_hex("error|FAIL"));
    assert_eq!((pe[0].total_uses, pe[0].successful_exits), (1, 1));
    assert_eq!(pe[0].avg_time_to_match, Some(4.0));
    assert_eq!(pe[0].effectiveness_score, Some(1.0));
}

#[tokio::test]
async fn a_run_with_thousands_of_matches_is_stored_whole() {
    let (_dir, store) = temp_store().await;
    let mut run = sample_run(now_ms());
    let template = run.matches[0].clone();
    run.matches = (1..=2500)
        .map(|n| MatchEvent {
            match_number: n,
            line_number: n * 2,
            ..template.clone()
        })
        .collect();
    store.record_run(&run).await.unwrap();
    let id = &run.execution.execution_id;
    assert_eq!(count_for(&store, "match_events", id).await, 2500);
    let last: i64 =
        sqlx::query_scalar("SELECT max(line_number) FROM match_events WHERE execution_id = ?")
            .bind(id)
            .fetch_one(&store.pool)
            .await
            .unwrap();
    assert_eq!(last, 5000);
}

#[tokio::test]
async fn a_failing_insert_stores_nothing_of_the_run() {
    let (_dir, store) = temp_store().await;
    store.record_run(&sample_run(now_ms())).await.unwrap();
    // Make the last insert of the next run fail, after the execution,
    // match event and sample rows were written.
    sqlx::query(
        "CREATE TRIGGER fail_metrics BEFORE INSERT ON performance_metrics \
             WHEN (SELECT count(*) FROM executions) > 1 \
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    )
    .execute(&store.pool)
    .await
    .unwrap();
    let run = sample_run(now_ms());
    let err = store.record_run(&run).await.unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    let id = &run.execution.execution_id;
    for table in [
        "executions",
        "match_events",
        "output_samples",
        "performance_metrics",
    ] {
        assert_eq!(count_for(&store, table, id).await, 0, "{table}");
    }
    assert_eq!(count(&store, "SELECT count(*) FROM match_events").await, 2);
    let pe = store.pattern_effectiveness().await.unwrap();
    assert_eq!(pe[0].total_uses, 1, "the failed run is not counted");
    // The store is still usable.
    sqlx::query("DROP TRIGGER fail_metrics")
        .execute(&store.pool)
        .await
        .unwrap();
    store.record_run(&run).await.unwrap();
    assert_eq!(count_for(&store, "executions", id).await, 1);
}
