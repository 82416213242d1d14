//! Tests of `store::triage` (a child module of it, kept in the store's
//! tests folder: one file per concern).

use crate::record::OutputSample;
use crate::record::tests_support::{completed_run, sample_run};
use crate::store::test_support::*;
use crate::store::*;

fn sample(kind: &str, content: &str) -> OutputSample {
    OutputSample {
        sample_type: kind.into(),
        stream_source: "stdout".into(),
        timestamp_offset: 1.0,
        content_hash: earlyexit_scrub::sha256_hex(content),
        content: content.into(),
    }
}

#[tokio::test]
async fn a_run_reads_back_as_its_tail_and_its_history_as_passing_runs() {
    let (_dir, store) = temp_store().await;
    let now = now_ms();
    assert_eq!(store.latest_run_id().await.unwrap(), None);

    // Two successful runs of `make ci` (one with output), one failed run
    // of another command, then the failed run to triage.
    let mut ok = completed_run(now - 3000, "make ci", 0, 1.0);
    ok.samples = vec![sample(
        "match_context",
        "warning: cache miss\nbuilt 3 files",
    )];
    let mut ok_silent = completed_run(now - 2500, "make ci", 0, 1.0);
    ok_silent.samples.clear();
    let mut other = completed_run(now - 2000, "make docs", 0, 1.0);
    other.samples = vec![sample("tail", "docs built")];
    let mut failed = completed_run(now - 1000, "make ci", 2, 1.0);
    failed.samples = vec![
        sample("match_context", "error: x"),
        sample(
            "tail",
            "warning: cache miss\nmain.c:3:1: error: expected ';'",
        ),
        sample("tail", "make: *** [ci] Error 1"),
    ];
    for r in [&ok, &ok_silent, &other, &failed] {
        store.record_run(r).await.unwrap();
    }

    let id = store.latest_run_id().await.unwrap().unwrap();
    assert_eq!(id, failed.execution.execution_id);
    let run = store.recorded_output(&id).await.unwrap().unwrap();
    assert_eq!(run.command, "make ci");
    assert_eq!(run.child_exit_code, Some(2));
    // The tails, in order; the match context is inside them already.
    assert_eq!(
        run.text,
        "warning: cache miss\nmain.c:3:1: error: expected ';'\nmake: *** [ci] Error 1\n"
    );
    let history = store
        .passing_outputs(&run.command_hash, &id, HISTORY_RUNS)
        .await
        .unwrap();
    assert_eq!(
        history,
        vec!["warning: cache miss\nbuilt 3 files\n".to_string()]
    );
    assert_eq!(store.recorded_output("no-such-id").await.unwrap(), None);
}

#[tokio::test]
async fn a_run_with_match_context_only_reads_back_as_its_blocks() {
    let (_dir, store) = temp_store().await;
    let run = sample_run(now_ms());
    store.record_run(&run).await.unwrap();
    let got = store
        .recorded_output(&run.execution.execution_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        got.text.ends_with("error[E0425]: cannot find value `x`\n"),
        "{}",
        got.text
    );
}
