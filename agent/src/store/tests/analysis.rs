//! Tests of `store::analysis` and `store::outcome` (children of the store,
//! kept in the store's tests folder: one file per concern).

use crate::record::tests_support::{completed_run, sample_run};
use crate::record::{ExitReason, RunRecord};
use crate::store::analysis::*;
use crate::store::test_support::*;
use crate::store::*;

/// A run of `command` stopped by the pattern after `runtime` seconds, its
/// first match on stderr line 57.
fn matched_run(at: i64, command: &str, runtime: f64) -> RunRecord {
    let mut run = sample_run(at);
    run.execution.command = command.to_string();
    run.execution.command_hash = sha256_hex(command);
    run.execution.total_runtime = runtime;
    run.execution.time_to_first_match = Some(runtime / 2.0);
    run
}

/// A clean run of `command` that wrote `lines` lines on stdout and on stderr.
fn clean_run(at: i64, command: &str, runtime: f64, lines: i64) -> RunRecord {
    let mut run = completed_run(at, command, 0, runtime);
    run.execution.stdout_lines = lines;
    run.execution.stderr_lines = lines;
    run
}

#[tokio::test]
async fn patterns_over_every_run_agree_with_the_kept_table_before_and_after_labels() {
    let (_dir, store) = temp_store().await;
    let t = now_ms() - 100_000;
    // A match, then a later clean run that got past stderr line 57: likely false positive.
    store
        .record_run(&matched_run(t, "npm test", 2.0))
        .await
        .unwrap();
    store
        .record_run(&clean_run(t + 10, "npm test", 12.0, 300))
        .await
        .unwrap();
    // A match with no later success, and a clean run that stopped short.
    store
        .record_run(&matched_run(t + 20, "cargo test", 4.0))
        .await
        .unwrap();
    store
        .record_run(&clean_run(t + 30, "cargo test", 10.0, 5))
        .await
        .unwrap();
    store
        .record_run(&clean_run(t + 40, "cargo test", 14.0, 5))
        .await
        .unwrap();
    // A failure with no match: a miss.
    store
        .record_run(&completed_run(t + 50, "cargo test", 2, 9.0))
        .await
        .unwrap();

    let check = |rows: Vec<PatternAnalysis>, table: Vec<PatternEffectiveness>| {
        assert_eq!(rows.len(), table.len());
        for (a, b) in rows.iter().zip(&table) {
            assert_eq!(a.pattern, b.pattern);
            assert_eq!(a.uses, b.total_uses);
            assert_eq!(a.false_positives, b.false_positives);
            assert_eq!(a.misses, b.missed_errors);
            assert_eq!(a.effectiveness_score, b.effectiveness_score, "one formula");
        }
    };
    let all = Filter::default();
    check(
        store.analyze_patterns(&all).await.unwrap(),
        store.pattern_effectiveness().await.unwrap(),
    );
    let before = store.analyze_patterns(&all).await.unwrap();
    assert_eq!(before[0].false_positives, 0);
    assert_eq!(before[0].misses, 1);

    let labels = store.label_outcomes().await.unwrap();
    assert_eq!(labels.later_success, 1, "{labels:?}");
    assert_eq!(
        store.label_outcomes().await.unwrap(),
        Default::default(),
        "labels once"
    );
    let after = store.analyze_patterns(&all).await.unwrap();
    assert_eq!(after[0].false_positives, 1);
    assert_eq!(after[0].true_exits, 1);
    check(after, store.pattern_effectiveness().await.unwrap());
    // ... and the kept table is what a rebuild makes.
    let mut kept = store.pattern_effectiveness().await.unwrap();
    store.rebuild_pattern_effectiveness().await.unwrap();
    let mut rebuilt = store.pattern_effectiveness().await.unwrap();
    kept.iter_mut()
        .chain(rebuilt.iter_mut())
        .for_each(|r| r.last_updated.clear());
    assert_eq!(kept, rebuilt);

    // Runtime saved: cargo test runs to completion in 10, 14 and 9 s
    // (median 10); its true exit took 4 s, so 6 s were saved.
    let row = &store.analyze_patterns(&all).await.unwrap()[0];
    assert_eq!(row.runtime_saved_runs, 1);
    assert!(
        (row.mean_runtime_saved.unwrap() - 6.0).abs() < 1e-9,
        "{row:?}"
    );

    // The filters: by command text and by start time.
    let npm = Filter {
        command: Some("npm".into()),
        ..Filter::default()
    };
    let rows = store.analyze_patterns(&npm).await.unwrap();
    assert_eq!((rows[0].uses, rows[0].false_positives), (2, 1));
    let none = Filter {
        since_ms: Some(now_ms() + 1000),
        ..Filter::default()
    };
    assert!(store.analyze_patterns(&none).await.unwrap().is_empty());
    assert_eq!(store.count_filtered_runs(&npm).await.unwrap(), 2);
}

#[tokio::test]
async fn feedback_that_the_run_should_have_exited_overrides_a_label() {
    let (_dir, store) = temp_store().await;
    let t = now_ms() - 1000;
    let run = matched_run(t, "npm test", 2.0);
    store.record_run(&run).await.unwrap();
    store
        .record_run(&clean_run(t + 10, "npm test", 12.0, 300))
        .await
        .unwrap();
    store.label_outcomes().await.unwrap();
    assert_eq!(
        store.pattern_effectiveness().await.unwrap()[0].false_positives,
        1
    );
    store
        .record_feedback(
            &run.execution.execution_id,
            &Feedback {
                should_have_exited: Some(true),
                ..Feedback::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.pattern_effectiveness().await.unwrap()[0].false_positives,
        0
    );
    let rows = store.analyze_patterns(&Filter::default()).await.unwrap();
    assert_eq!(rows[0].false_positives, 0);
}

#[tokio::test]
async fn timing_quantiles_per_command() {
    let (_dir, store) = temp_store().await;
    let t = now_ms() - 1000;
    for (i, runtime) in [1.0, 2.0, 3.0, 4.0, 100.0].into_iter().enumerate() {
        let mut run = clean_run(t + i as i64, "make", runtime, 10);
        run.execution.time_to_first_output = Some(0.5);
        run.execution.longest_idle_period = runtime / 2.0;
        run.execution.idle_periods_count = 2;
        store.record_run(&run).await.unwrap();
    }
    store
        .record_run(&matched_run(t + 10, "npm test", 3.0))
        .await
        .unwrap();
    let rows = store.analyze_timing(&Filter::default()).await.unwrap();
    assert_eq!(rows.len(), 2);
    let make = &rows[0];
    assert_eq!((make.command.as_str(), make.runs), ("make", 5));
    let runtime = make.runtime.unwrap();
    assert_eq!(runtime.p50, 3.0);
    assert!((runtime.p95 - 80.8).abs() < 1e-9, "{runtime:?}");
    assert_eq!(runtime.max, 100.0);
    assert_eq!(make.time_to_first_output.unwrap().p50, 0.5);
    assert_eq!(make.idle_periods_mean, 2.0);
    assert_eq!(make.match_to_exit, None);
    assert_eq!(rows[1].runs_with_match, 1);
    assert!(rows[1].match_to_exit.is_some());
}

#[tokio::test]
async fn training_sessions_are_recorded_checked_and_listed_newest_first() {
    let (_dir, store) = temp_store().await;
    assert!(store.training_sessions(None).await.unwrap().is_empty());
    let session = |at: i64, accuracy: Option<f64>| NewTrainingSession {
        trained_at_ms: at,
        model: "line_classifier".into(),
        samples: 420,
        accuracy,
        precision: Some(0.9),
        recall: Some(0.8),
        triggered_by: "new_labels".into(),
        detail: None,
    };
    let old = store
        .record_training_session(&session(1_000, Some(0.91)))
        .await
        .unwrap();
    let new = store
        .record_training_session(&session(2_000, None))
        .await
        .unwrap();
    let listed = store.training_sessions(None).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|s| s.session_id.as_str())
            .collect::<Vec<_>>(),
        [new.as_str(), old.as_str()]
    );
    assert_eq!(listed[1].session, session(1_000, Some(0.91)));
    assert_eq!(store.training_sessions(Some(1_500)).await.unwrap().len(), 1);

    let e = store
        .record_training_session(&session(3_000, Some(1.5)))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("accuracy = 1.5 is out of range"),
        "{e}"
    );
    let mut negative = session(3_000, None);
    negative.samples = -1;
    assert!(store.record_training_session(&negative).await.is_err());
    assert_eq!(
        store.training_sessions(None).await.unwrap().len(),
        2,
        "nothing stored"
    );
}

#[tokio::test]
async fn histories_hold_every_run_of_a_command_in_order_with_its_match_lines() {
    let (_dir, store) = temp_store().await;
    let t = now_ms() - 1000;
    store
        .record_run(&matched_run(t + 5, "npm test", 2.0))
        .await
        .unwrap();
    store
        .record_run(&clean_run(t, "npm test", 1.0, 3))
        .await
        .unwrap();
    store
        .record_run(&clean_run(t, "make", 1.0, 3))
        .await
        .unwrap();
    let histories = store.command_histories(Some("npm")).await.unwrap();
    assert_eq!(histories.len(), 1);
    let runs = &histories[0].runs;
    assert_eq!(runs.len(), 2);
    assert!(runs[0].started_at_ms < runs[1].started_at_ms);
    assert!(runs[0].match_lines.is_empty());
    assert_eq!(runs[1].match_lines.len(), 2, "{runs:?}");
    assert_eq!(ExitReason::Match.as_str(), "match");
}

#[tokio::test]
async fn deleting_labelled_runs_keeps_pattern_effectiveness_equal_to_a_rebuild() {
    let (_dir, store) = temp_store().await;
    let t = now_ms() - 100_000;
    for i in 0..4 {
        store
            .record_run(&matched_run(t + i * 10, "npm test", 2.0))
            .await
            .unwrap();
    }
    store
        .record_run(&clean_run(t + 100, "npm test", 12.0, 300))
        .await
        .unwrap();
    store
        .record_run(&matched_run(t + 200, "npm test", 2.0))
        .await
        .unwrap();
    assert_eq!(store.label_outcomes().await.unwrap().later_success, 4);
    assert_eq!(
        store.pattern_effectiveness().await.unwrap()[0].false_positives,
        4
    );
    // Retention removes the two oldest labelled runs (and nothing else).
    let deleted = store.delete_runs_before(t + 15).await.unwrap();
    assert_eq!(deleted.runs, 2);
    let mut kept = store.pattern_effectiveness().await.unwrap();
    assert_eq!((kept[0].total_uses, kept[0].false_positives), (4, 2));
    store.rebuild_pattern_effectiveness().await.unwrap();
    let mut rebuilt = store.pattern_effectiveness().await.unwrap();
    kept.iter_mut()
        .chain(rebuilt.iter_mut())
        .for_each(|r| r.last_updated.clear());
    assert_eq!(kept, rebuilt);
}
