//! Helpers shared by the collector's integration tests: a collector on
//! 127.0.0.1:0 over a test database, an org with a token, and records.

#![allow(dead_code)]

pub mod http;

use earlyexit_collector::config::ServeConfig;
use earlyexit_collector::server::{self, Running};
use earlyexit_collector::store::{Org, Store};
use earlyexit_collector::testing::TestDb;
use earlyexit_proto::v1::ingest_client::IngestClient;
use earlyexit_proto::v1::{Execution, MatchEvent, PushRequest, PushResponse, RunRecord};
use tonic::transport::Channel;

/// A running collector with one org and a token for it.
pub struct Fixture {
    pub store: Store,
    pub running: Running,
    pub org: Org,
    pub token: String,
}

impl Fixture {
    pub async fn start(db: &TestDb) -> Fixture {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: &TestDb, tweak: impl FnOnce(&mut ServeConfig)) -> Fixture {
        let store = db.store().await.expect("store opens");
        let org = store.create_org("acme").await.expect("org");
        let token = store
            .create_token("acme", Some("ci"))
            .await
            .expect("token")
            .token;
        let mut cfg = ServeConfig::for_test(db.url.clone());
        tweak(&mut cfg);
        let running = server::spawn(cfg).await.expect("collector starts");
        Fixture {
            store,
            running,
            org,
            token,
        }
    }

    pub async fn client(&self) -> IngestClient<Channel> {
        IngestClient::connect(self.running.url())
            .await
            .expect("connects")
    }

    pub async fn stop(self) {
        self.running.shutdown().await.expect("clean shutdown");
        self.store.close().await;
    }
}

/// A Push with `authorization: Bearer token` (no header when `token` is None).
pub async fn push(
    client: &mut IngestClient<Channel>,
    token: Option<&str>,
    agent_id: &str,
    records: Vec<RunRecord>,
) -> Result<PushResponse, tonic::Status> {
    let mut request = tonic::Request::new(PushRequest {
        agent_id: agent_id.to_owned(),
        batch_seq: 1,
        records,
    });
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("ascii"),
        );
    }
    client.push(request).await.map(tonic::Response::into_inner)
}

/// A plausible record with the given execution id.
pub fn record(execution_id: &str) -> RunRecord {
    RunRecord {
        execution: Some(Execution {
            execution_id: execution_id.to_owned(),
            started_at_ms: 1_763_700_000_000,
            mode: "command".into(),
            command: "cargo <args:1a2b3c4d5e6f>".into(),
            program: Some("cargo".into()),
            pattern: "error".into(),
            exit_reason: "match".into(),
            exit_code: 0,
            child_exit_code: Some(101),
            total_runtime: 12.5,
            project_type: "rust".into(),
            command_category: "build".into(),
            telemetry_level: "anonymous".into(),
            earlyexit_version: "0.1.0".into(),
            ..Default::default()
        }),
        matches: vec![MatchEvent {
            match_number: 1,
            stream_source: "stderr".into(),
            line_number: 42,
            line_content: "error[E0425]: cannot find value `<*>` in this scope".into(),
            kind: "error".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// `n` records with ids `{prefix}-{i}`.
pub fn records(prefix: &str, n: usize) -> Vec<RunRecord> {
    (0..n).map(|i| record(&format!("{prefix}-{i}"))).collect()
}
