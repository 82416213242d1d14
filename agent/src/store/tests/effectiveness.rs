//! Tests of `store::effectiveness` (a child module of it, kept in the store's
//! tests folder: one file per concern).

use crate::record::tests_support::{completed_run, sample_run};
use crate::store::test_support::*;
use crate::store::*;

#[tokio::test]
async fn runs_without_a_pattern_leave_pattern_effectiveness_alone() {
    let (_dir, store) = temp_store().await;
    let mut run = completed_run(now_ms(), "make", 0, 1.0);
    run.execution.pattern.clear();
    store.record_run(&run).await.unwrap();
    assert_eq!(count(&store, "SELECT count(*) FROM executions").await, 1);
    assert!(store.pattern_effectiveness().await.unwrap().is_empty());
}

#[tokio::test]
async fn pattern_effectiveness_matches_a_rebuild_after_records_and_prunes() {
    let (_dir, store) = temp_store().await;
    let now = now_ms();
    for i in 0..30 {
        let at = now - i * DAY_MS;
        let run = match i % 3 {
            0 => sample_run(at),
            1 => completed_run(at, "pytest -x", 1, 2.0 + i as f64),
            _ => completed_run(at, "pytest -x", 0, 1.5),
        };
        store.record_run(&run).await.unwrap();
    }
    store
        .delete_runs_before(now - 20 * DAY_MS + 1)
        .await
        .unwrap();
    let incremental = store.pattern_effectiveness().await.unwrap();
    store.rebuild_pattern_effectiveness().await.unwrap();
    let rebuilt = store.pattern_effectiveness().await.unwrap();
    assert_eq!(incremental.len(), 1);
    let (a, b) = (&incremental[0], &rebuilt[0]);
    assert_eq!(a.total_uses, 20);
    assert_eq!(
        (
            a.total_uses,
            a.successful_exits,
            a.missed_errors,
            a.false_positives
        ),
        (
            b.total_uses,
            b.successful_exits,
            b.missed_errors,
            b.false_positives
        )
    );
    assert_eq!(a.successful_exits, 7);
    assert_eq!(a.missed_errors, 7);
    let close = |x: Option<f64>, y: Option<f64>| (x.unwrap() - y.unwrap()).abs() < 1e-9;
    assert!(close(a.avg_total_runtime, b.avg_total_runtime));
    assert!(close(a.avg_time_to_match, b.avg_time_to_match));
    assert!(close(a.effectiveness_score, b.effectiveness_score));
    // 7 caught, 7 missed: F1 = 14 / 21.
    assert!(close(a.effectiveness_score, Some(14.0 / 21.0)));
}

#[tokio::test]
async fn feedback_is_reflected_after_a_rebuild() {
    let (_dir, store) = temp_store().await;
    let run = sample_run(now_ms());
    store.record_run(&run).await.unwrap();
    store.record_run(&sample_run(now_ms())).await.unwrap();
    sqlx::query(
        "UPDATE executions SET false_positive_flag = 1, user_rating = 2 WHERE execution_id = ?",
    )
    .bind(&run.execution.execution_id)
    .execute(&store.pool)
    .await
    .unwrap();
    store.rebuild_pattern_effectiveness().await.unwrap();
    let pe = &store.pattern_effectiveness().await.unwrap()[0];
    assert_eq!(pe.false_positives, 1);
    assert_eq!(pe.user_rating_avg, Some(2.0));
    // 1 true positive, 1 false positive: F1 = 2 / 3.
    assert!((pe.effectiveness_score.unwrap() - 2.0 / 3.0).abs() < 1e-9);
}
