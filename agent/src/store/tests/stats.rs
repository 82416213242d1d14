//! Tests of `store::stats` (a child module of it, kept in the store's
//! tests folder: one file per concern).

use super::*;
use crate::record::tests_support::{completed_run, sample_run};
use crate::store::test_support::*;
use crate::store::*;

#[tokio::test]
async fn stats_queries_report_recent_runs_reasons_and_percentiles() {
    let (_dir, store) = temp_store().await;
    let now = now_ms();
    for i in 1..=20 {
        let run = completed_run(now - (30 - i) * 1000, "npm test", 0, i as f64);
        store.record_run(&run).await.unwrap();
    }
    store.record_run(&sample_run(now)).await.unwrap();
    store
        .record_run(&sample_run(now - 10 * DAY_MS))
        .await
        .unwrap();

    let recent = store.recent_runs(0, 3).await.unwrap();
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[0].command, "cargo test --workspace");
    assert_eq!(recent[1].total_runtime, 20.0);

    let totals = store.run_totals(0).await.unwrap();
    assert_eq!(
        totals,
        RunTotals {
            runs: 22,
            runs_with_match: 2,
            suppressed_matches: 0,
            suppressed_then_failed: 0,
        }
    );
    let reasons = store.exit_reason_counts(0).await.unwrap();
    assert_eq!(
        reasons[0],
        ReasonCount {
            exit_reason: "completed".into(),
            runs: 20
        }
    );
    assert_eq!(
        reasons[1],
        ReasonCount {
            exit_reason: "match".into(),
            runs: 2
        }
    );

    let commands = store.command_stats(0, 10).await.unwrap();
    assert_eq!(commands[0].command, "npm test");
    assert_eq!(commands[0].runs, 20);
    assert_eq!(commands[0].median_runtime, 10.0);
    assert_eq!(commands[0].p95_runtime, 19.0);
    assert_eq!(commands[1].runs, 2);

    let since = now - DAY_MS;
    assert_eq!(store.run_totals(since).await.unwrap().runs, 21);
    assert_eq!(store.command_stats(since, 10).await.unwrap()[1].runs, 1);
}

#[tokio::test]
async fn recent_runtimes_are_the_latest_in_the_window_oldest_first() {
    let (_dir, store) = temp_store().await;
    let now = now_ms();
    for i in 1..=5 {
        let run = completed_run(now - (10 - i) * 1000, "make", 0, i as f64);
        store.record_run(&run).await.unwrap();
    }
    let old = completed_run(now - 10 * DAY_MS, "make", 0, 99.0);
    store.record_run(&old).await.unwrap();
    let hash = store.command_stats(0, 1).await.unwrap()[0]
        .command_hash
        .clone();
    assert_eq!(
        store.recent_runtimes(&hash, 0, 3).await.unwrap(),
        [3.0, 4.0, 5.0]
    );
    assert_eq!(
        store
            .recent_runtimes(&hash, now - DAY_MS, 10)
            .await
            .unwrap(),
        [1.0, 2.0, 3.0, 4.0, 5.0]
    );
    assert!(
        store
            .recent_runtimes("nope", 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}
