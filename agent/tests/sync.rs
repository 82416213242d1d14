//! End-to-end: the real `earlyexit` binary syncing to a gRPC collector on
//! 127.0.0.1 — `sync`, `sync --status`, `sync_on_exit` and `agent`.
//!
//! Two collectors on loopback: the real one (`earlyexit-collector`, SQLite
//! store, [`RealCollector`]) for what a deployment does, and a small
//! in-process `earlyexit.v1` server ([`Server`]) for answers the real one
//! gives only under conditions a test cannot arrange cheaply: records
//! refused for good (it refuses runs of the program `false`), and a fixed
//! two-chunk bundle stream.

mod common;

use std::collections::HashMap;
use std::io::BufReader;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use earlyexit_proto::v1;
use sha2::{Digest, Sha256};

const LIMIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "ee_test_token_0123456789";

/// What the collector holds.
#[derive(Default)]
struct Holdings {
    records: HashMap<(String, String), v1::RunRecord>,
    /// Push calls, refused ones included.
    pushes: usize,
    batch_seqs: Vec<u64>,
}

#[derive(Clone, Default)]
struct Collector {
    held: Arc<Mutex<Holdings>>,
}

fn check_token<T>(request: &tonic::Request<T>) -> Result<(), tonic::Status> {
    let ok = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    if ok {
        Ok(())
    } else {
        Err(tonic::Status::unauthenticated("invalid or missing token"))
    }
}

#[tonic::async_trait]
impl v1::ingest_server::Ingest for Collector {
    async fn push(
        &self,
        request: tonic::Request<v1::PushRequest>,
    ) -> Result<tonic::Response<v1::PushResponse>, tonic::Status> {
        self.held.lock().unwrap().pushes += 1;
        check_token(&request)?;
        let request = request.into_inner();
        let mut held = self.held.lock().unwrap();
        held.batch_seqs.push(request.batch_seq);
        let mut response = v1::PushResponse::default();
        for (index, record) in request.records.into_iter().enumerate() {
            let execution = record.execution.clone().unwrap_or_default();
            if execution.program.as_deref() == Some("false") {
                response.rejected.push(v1::Rejection {
                    index: index as u32,
                    execution_id: execution.execution_id,
                    reason: "this collector refuses runs of `false`".into(),
                    retriable: false,
                });
                continue;
            }
            let key = (request.agent_id.clone(), execution.execution_id.clone());
            match held.records.entry(key) {
                std::collections::hash_map::Entry::Occupied(_) => response.duplicates += 1,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(record);
                    response.accepted += 1;
                }
            }
        }
        Ok(tonic::Response::new(response))
    }
}

type ChunkStream = Pin<
    Box<
        dyn tonic::codegen::tokio_stream::Stream<Item = Result<v1::BundleChunk, tonic::Status>>
            + Send,
    >,
>;

const BUNDLE: &[u8] = b"patterns: [error, FAILED, panicked at]";

fn bundle_chunks() -> Vec<Result<v1::BundleChunk, tonic::Status>> {
    let sha: String = Sha256::digest(BUNDLE)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    BUNDLE
        .chunks(20)
        .enumerate()
        .map(|(i, part)| {
            Ok(v1::BundleChunk {
                kind: "patterns".into(),
                version: 1,
                chunk_index: i as u32,
                chunk_count: BUNDLE.len().div_ceil(20) as u32,
                sha256: sha.clone(),
                data: part.to_vec(),
            })
        })
        .collect()
}

#[tonic::async_trait]
impl v1::updates_server::Updates for Collector {
    type SubscribeStream = ChunkStream;
    type FetchStream = ChunkStream;

    async fn subscribe(
        &self,
        request: tonic::Request<v1::SubscribeRequest>,
    ) -> Result<tonic::Response<ChunkStream>, tonic::Status> {
        use tonic::codegen::tokio_stream::{self, StreamExt};
        check_token(&request)?;
        let have = request.into_inner().have_versions;
        let chunks = if have.get("patterns").copied().unwrap_or(0) >= 1 {
            Vec::new()
        } else {
            bundle_chunks()
        };
        Ok(tonic::Response::new(Box::pin(
            tokio_stream::iter(chunks).chain(tokio_stream::pending()),
        )))
    }

    async fn fetch(
        &self,
        request: tonic::Request<v1::SubscribeRequest>,
    ) -> Result<tonic::Response<ChunkStream>, tonic::Status> {
        check_token(&request)?;
        Ok(tonic::Response::new(Box::pin(
            tonic::codegen::tokio_stream::iter(bundle_chunks()),
        )))
    }
}

/// A collector serving on 127.0.0.1:0 on its own thread until dropped.
struct Server {
    addr: SocketAddr,
    collector: Collector,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let collector = Collector::default();
        let service = collector.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                tonic::transport::Server::builder()
                    .add_service(v1::ingest_server::IngestServer::new(service.clone()))
                    .add_service(v1::updates_server::UpdatesServer::new(service))
                    .serve_with_incoming_shutdown(
                        tonic::transport::server::TcpIncoming::from(listener),
                        async {
                            let _ = stop_rx.await;
                        },
                    )
                    .await
                    .unwrap();
            });
        });
        Server {
            addr: addr_rx.recv_timeout(LIMIT).unwrap(),
            collector,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn records(&self) -> usize {
        self.collector.held.lock().unwrap().records.len()
    }

    fn pushes(&self) -> usize {
        self.collector.held.lock().unwrap().pushes
    }

    fn wait_for_records(&self, n: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.records() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.records() >= n
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An address where nothing listens (bound, then closed).
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Writes the home config: the collector at `url` with the token in a file.
fn configure(env: &Env, url: &str, token: &str, extra: &str) {
    let token_file = env.home.path().join("collector.token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    std::fs::write(
        env.home.path().join("config.yaml"),
        format!("collector:\n  url: {url}\n  token_file: collector.token\n{extra}"),
    )
    .unwrap();
}

/// Records a run of `program` (no pattern: it runs to completion).
fn record_run(env: &Env, program: &str) {
    let (out, _) = env.run(&["NONE", "--", program], LIMIT);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn status(env: &Env) -> serde_json::Value {
    let (out, _) = env.run(&["sync", "--status", "--json"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

#[test]
fn recorded_runs_reach_the_collector_exactly_once() {
    let server = Server::start();
    let env = Env::new();
    configure(&env, &server.url(), TOKEN, "");
    for _ in 0..3 {
        record_run(&env, "true");
    }
    assert_eq!(status(&env)["pending"], 3);

    let (out, _) = env.run(&["sync"], LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("sent 3 records in 1 batches"), "{stdout}");
    assert!(
        stdout.contains("3 stored, 0 duplicates, 0 rejected; 0 pending"),
        "{stdout}"
    );
    assert_eq!(server.records(), 3);

    // Nothing pending: the next sync sends nothing at all.
    let pushes = server.pushes();
    let (out, _) = env.run(&["sync", "--json"], LIMIT);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["records"], 0);
    assert_eq!(report["ok"], true);
    assert_eq!(server.pushes(), pushes);

    // What arrived is the anonymous shape, never the raw command line.
    let held = server.collector.held.lock().unwrap();
    for record in held.records.values() {
        let e = record.execution.as_ref().unwrap();
        assert_eq!(e.telemetry_level, "anonymous");
        assert!(e.command.starts_with("true <args:"), "{}", e.command);
        assert!(
            e.working_directory.starts_with("<dir:"),
            "{}",
            e.working_directory
        );
    }
    let agent_id = std::fs::read_to_string(env.home.path().join("agent_id")).unwrap();
    assert!(
        held.records
            .keys()
            .all(|(agent, _)| agent == agent_id.trim())
    );
    drop(held);

    let s = status(&env);
    assert_eq!(s["pending"], 0);
    assert_eq!(s["acknowledged"], 3);
    assert_eq!(s["acknowledged_total"], 3);
    assert!(s["last_success_ms"].is_number());
    assert!(s["last_error"].is_null());
    assert_eq!(s["collector"], server.url());
}

#[test]
fn a_wrong_token_is_refused_by_name_and_records_stay_pending() {
    let server = Server::start();
    let env = Env::new();
    configure(&env, &server.url(), "not-the-token", "");
    record_run(&env, "true");
    let (out, _) = env.run(&["sync"], LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("UNAUTHENTICATED"), "{stderr}");
    assert!(stderr.contains("collector.token"), "{stderr}");
    assert!(
        !stderr.contains("not-the-token"),
        "the token is never shown: {stderr}"
    );
    assert_eq!(server.pushes(), 1, "not retried");
    let s = status(&env);
    assert_eq!(s["pending"], 1);
    assert!(
        s["last_error"]
            .as_str()
            .unwrap()
            .contains("UNAUTHENTICATED"),
        "{s}"
    );
    assert!(!s.to_string().contains("not-the-token"));
}

#[test]
fn an_unreachable_collector_keeps_records_pending_until_a_later_sync() {
    let env = Env::new();
    configure(&env, &dead_url(), TOKEN, "");
    record_run(&env, "true");
    record_run(&env, "true");
    let (out, elapsed) = env.run(&["sync"], LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot reach the collector"), "{stderr}");
    assert!(stderr.contains("stay pending"), "{stderr}");
    assert!(
        elapsed < Duration::from_secs(15),
        "bounded retries: {elapsed:?}"
    );
    let s = status(&env);
    assert_eq!(s["pending"], 2);
    assert!(s["last_success_ms"].is_null());

    // The collector is back (here: configured at its address): catch up.
    let server = Server::start();
    configure(&env, &server.url(), TOKEN, "");
    let (out, _) = env.run(&["sync"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(server.records(), 2);
    let s = status(&env);
    assert_eq!(s["pending"], 0);
    assert!(
        s["last_error"].is_null(),
        "a clean sync clears the error: {s}"
    );
}

#[test]
fn records_refused_for_good_are_marked_rejected_and_never_resent() {
    let server = Server::start();
    let env = Env::new();
    configure(&env, &server.url(), TOKEN, "");
    record_run(&env, "true");
    record_run(&env, "false");
    let (out, _) = env.run(&["sync"], LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("1 stored, 0 duplicates, 1 rejected; 0 pending"),
        "{stdout}"
    );
    let s = status(&env);
    assert_eq!(
        (s["pending"].as_u64(), s["rejected"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(
        s["recent_rejections"][0]["reason"],
        "this collector refuses runs of `false`"
    );
    let pushes = server.pushes();
    let (out, _) = env.run(&["sync"], LIMIT);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        server.pushes(),
        pushes,
        "the rejected record is not sent again"
    );
}

#[test]
fn dry_run_prints_the_as_sent_records_and_sends_nothing() {
    let server = Server::start();
    let env = Env::new();
    configure(&env, &server.url(), TOKEN, "");
    record_run(&env, "true");
    let (out, _) = env.run(&["sync", "--dry-run"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["execution"]["telemetry_level"], "anonymous");
    assert!(text(&out.stderr).contains("1 records would be sent"));
    assert_eq!(server.pushes(), 0);
    assert_eq!(status(&env)["pending"], 1);
}

#[test]
fn sync_on_exit_pushes_the_runs_own_record_before_the_run_exits() {
    let server = Server::start();
    let env = Env::new();
    configure(&env, &server.url(), TOKEN, "sync_on_exit: true\n");
    let (out, _) = env.run(&["--json", "NONE", "--", "true"], LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let summary = json_summary(&out.stderr);
    assert_eq!(server.records(), 1, "{}", text(&out.stderr));
    let held = server.collector.held.lock().unwrap();
    let (_, id) = held.records.keys().next().unwrap();
    assert_eq!(id, summary["execution_id"].as_str().unwrap());
    drop(held);
    assert_eq!(status(&env)["pending"], 0);
}

#[test]
fn sync_on_exit_to_a_silent_collector_costs_at_most_the_timeout() {
    // Accepts TCP connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let env = Env::new();
    configure(
        &env,
        &url,
        TOKEN,
        "sync_on_exit: true\nsync_on_exit_timeout: 700ms\n",
    );
    let (quick, baseline) = env.run(&["--no-telemetry", "NONE", "--", "true"], LIMIT);
    assert_eq!(quick.status.code(), Some(1));
    let (out, elapsed) = env.run(&["NONE", "--", "true"], LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the exit code is the run's: {stderr}"
    );
    assert!(
        elapsed < baseline + Duration::from_millis(700 + 1500),
        "{elapsed:?} (baseline {baseline:?})"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("sync_on_exit"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("did not answer within 0.7s"),
        "{stderr}"
    );
    assert_eq!(status(&env)["pending"], 1);
    drop(silent);
}

#[test]
fn the_agent_syncs_new_runs_keeps_bundles_and_stops_cleanly_on_sigterm() {
    let server = Server::start();
    let env = Env::new();
    configure(&env, &server.url(), TOKEN, "");
    record_run(&env, "true");
    let mut agent = env
        .cmd(&["agent", "--interval", "200ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn earlyexit agent");
    let mut stderr = BufReader::new(agent.stderr.take().unwrap());
    let log = read_until(&mut stderr, |l| l.contains("received bundle patterns v1"));
    assert!(log.contains("received bundle patterns v1"), "{log}");
    assert!(
        server.wait_for_records(1, LIMIT),
        "catch-up at start: {log}"
    );
    record_run(&env, "true");
    record_run(&env, "true");
    assert!(server.wait_for_records(3, LIMIT), "new runs are synced");

    let started = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let log_thread = std::thread::spawn(move || {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        rest
    });
    let code = loop {
        if let Some(code) = agent.try_wait().unwrap() {
            break code;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the agent did not stop within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let rest = log_thread.join().unwrap();
    assert_eq!(code.code(), Some(0), "{log}{rest}");
    assert!(rest.contains("stopped"), "{rest}");
    let s = crate::status(&env);
    assert_eq!(s["pending"], 0);
}

/// The real collector (`earlyexit-collector`) on 127.0.0.1:0 over a SQLite
/// store in a folder of its own, with an org `acme` and a token for it.
struct RealCollector {
    runtime: tokio::runtime::Runtime,
    running: Option<earlyexit_collector::server::Running>,
    store: earlyexit_collector::store::Store,
    org_id: i64,
    token: String,
    _dir: tempfile::TempDir,
}

impl RealCollector {
    fn start() -> RealCollector {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("collector.db").display());
        let (store, org_id, token, running) = runtime.block_on(async {
            let store = earlyexit_collector::store::Store::connect(&url)
                .await
                .expect("collector store");
            let org = store.create_org("acme").await.expect("org");
            let token = store
                .create_token("acme", Some("ci"))
                .await
                .expect("token")
                .token;
            let running = earlyexit_collector::server::spawn(
                earlyexit_collector::config::ServeConfig::for_test(url.clone()),
            )
            .await
            .expect("collector starts");
            (store, org.id, token, running)
        });
        RealCollector {
            runtime,
            running: Some(running),
            store,
            org_id,
            token,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        self.running.as_ref().unwrap().url()
    }

    fn count(&self) -> i64 {
        self.runtime
            .block_on(self.store.count_records(self.org_id))
            .unwrap()
    }
}

impl Drop for RealCollector {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.shutdown());
        }
    }
}

#[test]
fn the_real_collector_stores_every_run_once_across_repeated_syncs() {
    let collector = RealCollector::start();
    let env = Env::new();
    configure(&env, &collector.url(), &collector.token, "");
    for _ in 0..3 {
        record_run(&env, "true");
    }
    let (out, _) = env.run(&["sync"], LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("3 stored, 0 duplicates, 0 rejected; 0 pending"),
        "{stdout}"
    );
    assert_eq!(collector.count(), 3);

    // A lost reply is simulated by putting the records back to pending: the
    // re-send is counted as duplicates and stored once.
    let db = env.db();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .connect()
            .await
            .unwrap();
        sqlx::query("UPDATE outbox SET state = 'pending'")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let (out, _) = env.run(&["sync"], LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("0 stored, 3 duplicates"), "{stdout}");
    assert_eq!(collector.count(), 3, "never stored twice");
    record_run(&env, "true");
    let (out, _) = env.run(&["sync"], LIMIT);
    assert!(text(&out.stdout).contains("sent 1 records"));
    assert_eq!(collector.count(), 4);
}

#[test]
fn the_real_collector_refuses_a_wrong_token_and_nothing_is_lost() {
    let collector = RealCollector::start();
    let env = Env::new();
    configure(&env, &collector.url(), "eec_wrong", "");
    record_run(&env, "true");
    let (out, _) = env.run(&["sync"], LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("UNAUTHENTICATED"), "{stderr}");
    assert!(stderr.contains("collector.token"), "{stderr}");
    assert_eq!(status(&env)["pending"], 1);
    configure(&env, &collector.url(), &collector.token, "");
    let (out, _) = env.run(&["sync"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(collector.count(), 1);
}

#[test]
fn the_agent_syncs_to_the_real_collector_and_keeps_its_published_bundles() {
    let collector = RealCollector::start();
    let env = Env::new();
    configure(&env, &collector.url(), &collector.token, "");
    collector
        .runtime
        .block_on(
            collector
                .store
                .publish_bundle(collector.org_id, "patterns", b"error|FAILED"),
        )
        .unwrap();
    let mut agent = env
        .cmd(&["agent", "--interval", "200ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn earlyexit agent");
    let mut stderr = BufReader::new(agent.stderr.take().unwrap());
    let log = read_until(&mut stderr, |l| l.contains("received bundle patterns v1"));
    assert!(log.contains("received bundle patterns v1"), "{log}");
    record_run(&env, "true");
    let deadline = Instant::now() + LIMIT;
    while collector.count() < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(collector.count(), 1);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &agent.id().to_string()])
        .status();
    let output = wait_with_limit(agent, Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(0));
}
