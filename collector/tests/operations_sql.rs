//! The example SQL of docs/OPERATIONS.md runs, exactly as written there,
//! on SQLite and (when `EARLYEXIT_TEST_DATABASE_URL` is set) PostgreSQL,
//! and answers what the seeded rows say.

use std::sync::Arc;

use earlyexit_collector::store::{QueryColumns, RecordRow, Store};
use earlyexit_collector::testing::TestDb;
use sqlx::Row as _;

/// The SQL block after `<!-- query: NAME -->` in docs/OPERATIONS.md.
fn query(name: &str) -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/OPERATIONS.md"
    ))
    .expect("docs/OPERATIONS.md");
    let marker = format!("<!-- query: {name} -->");
    let at = doc
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} in docs/OPERATIONS.md"));
    let rest = &doc[at + marker.len()..];
    let start = rest.find("```sql\n").expect("a sql block after the marker") + 7;
    let end = rest[start..].find("```").expect("the block ends");
    rest[start..start + end]
        .trim()
        .trim_end_matches(';')
        .to_owned()
}

const DAY: i64 = 86_400_000;
/// 2025-12-02 00:00 UTC: after the queries' window start.
const T0: i64 = 1_764_633_600_000;

#[allow(clippy::too_many_arguments)]
fn row(
    org_id: i64,
    agent: &str,
    n: usize,
    started: i64,
    program: &str,
    project: Option<&str>,
    reason: &str,
    code: Option<i64>,
    runtime: f64,
) -> RecordRow {
    RecordRow {
        org_id,
        agent_id: Arc::from(agent),
        execution_id: Arc::from(format!("{agent}-{program}-{reason}-{n}-{started}").as_str()),
        started_at_ms: started,
        received_at_ms: started + 1000,
        exit_reason: reason.into(),
        command_category: "test".into(),
        telemetry_level: "anonymous".into(),
        scrub_hits: 0,
        body: vec![1, 2, 3],
        query: QueryColumns {
            program: Some(program.into()),
            project_type: project.map(Into::into),
            child_exit_code: code,
            runtime_s: Some(runtime),
            first_match_s: None,
            match_count: Some(0),
            bytes: Some(10),
            bundle_version: None,
            agent_version: Some("0.1.0".into()),
        },
    }
}

async fn seed(store: &Store) -> (i64, i64) {
    let acme = store.create_org("acme").await.unwrap().id;
    let beta = store.create_org("beta").await.unwrap().id;
    let mut rows = Vec::new();
    // cargo: 6 runs of 50 s (2 fail by match), pytest: 5 of 100 s (all
    // complete, 1 exits 1), npm: 3 of 500 s (under the 5-run floor).
    for i in 0..6 {
        let reason = if i < 2 { "match" } else { "completed" };
        let code = (i >= 2).then_some(0);
        rows.push(row(
            acme,
            "a1",
            i,
            T0 + 10,
            "cargo",
            Some("rust"),
            reason,
            code,
            50.0,
        ));
    }
    for i in 0..5 {
        let code = Some(i64::from(i == 0));
        let day = if i < 3 { T0 } else { T0 + DAY };
        rows.push(row(
            beta,
            "b1",
            i,
            day + 20,
            "pytest",
            Some("python"),
            "completed",
            code,
            100.0,
        ));
    }
    for i in 0..3 {
        rows.push(row(
            acme,
            "a2",
            i,
            T0 + DAY + 30,
            "npm",
            None,
            "completed",
            Some(0),
            500.0,
        ));
    }
    // Before the window: counted by none of the queries.
    rows.push(row(
        acme,
        "a1",
        99,
        T0 - 2 * DAY,
        "cargo",
        Some("rust"),
        "match",
        None,
        1.0,
    ));
    store.insert_records(rows).await.unwrap();
    (acme, beta)
}

async fn run(store: &Store, sql: &str) -> Vec<Vec<String>> {
    // Every value read as text, so one comparison serves both backends.
    macro_rules! rows {
        ($rows:expr) => {
            $rows
                .iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| {
                            r.try_get::<String, _>(i)
                                .or_else(|_| r.try_get::<i64, _>(i).map(|v| v.to_string()))
                                .or_else(|_| r.try_get::<f64, _>(i).map(|v| format!("{v:.3}")))
                                .unwrap_or_else(|e| panic!("column {i}: {e}"))
                        })
                        .collect()
                })
                .collect()
        };
    }
    match store {
        Store::Sqlite(p) => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(p)
                .await
                .unwrap();
            rows!(rows)
        }
        Store::Postgres(p) => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(p)
                .await
                .unwrap();
            rows!(rows)
        }
    }
}

fn strs(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

#[tokio::test]
async fn the_documented_queries_run_on_every_backend_and_answer_right() {
    let dir = tempfile::tempdir().unwrap();
    for db in TestDb::all(dir.path(), "operations_sql").await.unwrap() {
        let store = db.store().await.unwrap();
        seed(&store).await;

        let slowest = run(&store, &query("slowest-commands")).await;
        assert_eq!(
            slowest,
            strs(&[
                &["pytest", "test", "5", "100.000", "100.000"],
                &["cargo", "test", "6", "50.000", "50.000"],
            ]),
            "{:?}",
            db.backend
        );

        let rates = run(&store, &query("failure-rate-per-project-type")).await;
        assert_eq!(
            rates,
            strs(&[
                &["rust", "6", "0.333"],
                &["python", "5", "0.200"],
                &["unknown", "3", "0.000"],
            ]),
            "{:?}",
            db.backend
        );

        let per_day = run(&store, &query("runs-per-agent-per-day")).await;
        let t0 = T0.to_string();
        let t1 = (T0 + DAY).to_string();
        assert_eq!(
            per_day,
            vec![
                vec!["acme".to_owned(), "a1".into(), t0.clone(), "6".into()],
                vec!["beta".to_owned(), "b1".into(), t0, "3".into()],
                vec!["acme".to_owned(), "a2".into(), t1.clone(), "3".into()],
                vec!["beta".to_owned(), "b1".into(), t1, "2".into()],
            ],
            "{:?}",
            db.backend
        );

        store.close().await;
        db.cleanup().await;
    }
}
