//! Tests of `store::feedback` (a child module of it, kept in the store's
//! tests folder: one file per concern).

use crate::record::tests_support::sample_run;
use crate::store::feedback::*;
use crate::store::test_support::*;
use crate::store::*;

/// `pattern_effectiveness` as it is, and as a rebuild from `executions` makes it.
async fn kept_and_rebuilt(store: &Store) -> (Vec<PatternEffectiveness>, Vec<PatternEffectiveness>) {
    let strip = |rows: Vec<PatternEffectiveness>| {
        rows.into_iter()
            .map(|mut r| {
                r.last_updated.clear();
                r
            })
            .collect::<Vec<_>>()
    };
    let kept = strip(store.pattern_effectiveness().await.unwrap());
    store.rebuild_pattern_effectiveness().await.unwrap();
    (kept, strip(store.pattern_effectiveness().await.unwrap()))
}

#[tokio::test]
async fn feedback_updates_the_run_the_feedback_table_and_effectiveness_in_step() {
    let (_dir, store) = temp_store().await;
    let first = sample_run(now_ms() - 1000);
    let second = sample_run(now_ms());
    store.record_run(&first).await.unwrap();
    store.record_run(&second).await.unwrap();
    let id = store.resolve_run(RunRef::Last).await.unwrap();
    assert_eq!(id, second.execution.execution_id);

    let target = store
        .record_feedback(
            &id,
            &Feedback {
                rating: Some(2),
                comment: Some("stopped on a warning".into()),
                false_positive: true,
                delay_should_be: Some(3.0),
                ..Feedback::default()
            },
        )
        .await
        .unwrap();
    assert!(target.false_positive_flag);
    assert_eq!(target.user_rating, Some(2));
    assert_eq!(
        target.user_feedback.as_deref(),
        Some("stopped on a warning")
    );
    assert_eq!(target.optimal_delay_suggestion, Some(3.0));
    assert_eq!(store.feedback_count(&id).await.unwrap(), 1);

    let (kept, rebuilt) = kept_and_rebuilt(&store).await;
    assert_eq!(kept, rebuilt);
    assert_eq!(kept[0].false_positives, 1);
    assert_eq!(kept[0].user_rating_avg, Some(2.0));

    // A second answer keeps what it does not change, and is a second row.
    let target = store
        .record_feedback(
            &id,
            &Feedback {
                should_have_exited: Some(true),
                ..Feedback::default()
            },
        )
        .await
        .unwrap();
    assert!(
        !target.false_positive_flag,
        "should have exited = not a false positive"
    );
    assert_eq!(target.user_rating, Some(2));
    assert_eq!(store.feedback_count(&id).await.unwrap(), 2);
    let (kept, rebuilt) = kept_and_rebuilt(&store).await;
    assert_eq!(kept, rebuilt);
    assert_eq!(kept[0].false_positives, 0);
}

#[tokio::test]
async fn missed_error_counts_as_a_miss_and_is_stored_in_the_feedback_row() {
    let (_dir, store) = temp_store().await;
    let mut run = crate::record::tests_support::completed_run(now_ms(), "make", 0, 2.0);
    run.execution.pattern = "error".into();
    store.record_run(&run).await.unwrap();
    let id = run.execution.execution_id.clone();
    store
        .record_feedback(
            &id,
            &Feedback {
                missed_error: true,
                ..Feedback::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM feedback WHERE missed_error = 1"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM executions WHERE should_have_exited = 1"
        )
        .await,
        1
    );
    let (kept, rebuilt) = kept_and_rebuilt(&store).await;
    assert_eq!(kept, rebuilt);
    assert_eq!(kept[0].missed_errors, 1);
}

#[tokio::test]
async fn ids_resolve_by_prefix_and_bad_ids_say_how_to_find_one() {
    let (_dir, store) = temp_store().await;
    assert!(matches!(
        store.resolve_run(RunRef::Last).await,
        Err(FeedbackError::NoRuns)
    ));
    let runs: Vec<_> = (0..3).map(|i| sample_run(now_ms() + i)).collect();
    for run in &runs {
        store.record_run(run).await.unwrap();
    }
    let id = &runs[1].execution.execution_id;
    // The whole id, upper case, and a prefix that only it has.
    assert_eq!(
        &store
            .resolve_run(RunRef::Id(&id.to_uppercase()))
            .await
            .unwrap(),
        id
    );
    let unique = (MIN_ID_PREFIX..=id.len())
        .map(|n| &id[..n])
        .find(|p| {
            runs.iter()
                .filter(|r| r.execution.execution_id.starts_with(p))
                .count()
                == 1
        })
        .unwrap();
    assert_eq!(&store.resolve_run(RunRef::Id(unique)).await.unwrap(), id);

    // UUIDv7s made together share their leading time digits.
    let shared = &id[..MIN_ID_PREFIX];
    match store.resolve_run(RunRef::Id(shared)).await {
        Err(e @ FeedbackError::Ambiguous { .. }) => {
            let text = e.to_string();
            assert!(text.contains("fits 3 runs"), "{text}");
            assert!(text.contains("give more characters"), "{text}");
        }
        other => panic!("expected an ambiguous prefix, got {other:?}"),
    }
    let unknown = store.resolve_run(RunRef::Id("ffff")).await.unwrap_err();
    assert!(matches!(unknown, FeedbackError::Unknown { .. }));
    assert!(unknown.to_string().contains("earlyexit stats"), "{unknown}");
    for bad in ["ab", "not-an-id", "0193%"] {
        let e = store.resolve_run(RunRef::Id(bad)).await.unwrap_err();
        assert!(matches!(e, FeedbackError::BadId { .. }), "{bad}: {e}");
    }
    // Nothing was written by the failed look-ups.
    assert_eq!(count(&store, "SELECT count(*) FROM feedback").await, 0);
}
