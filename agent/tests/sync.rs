//! End-to-end: the real `earlyexit` binary syncing to the real collector
//! (`earlyexit-collector`, in this process, SQLite store) on 127.0.0.1 —
//! `sync`, `sync --status`, `sync_on_exit`, `agent`, TLS and mTLS.
//!
//! Every answer comes from the collector itself: records refused for good
//! for a start time the collector does not accept, multi-chunk bundle streams from
//! bundles published in its store, a collector that is down from stopping
//! it. Two fault injectors stand in for what no working collector does: a
//! listener that accepts and never answers, and a [`Relay`] in front of the
//! collector that counts the calls an agent makes.

mod common;

use std::io::BufReader;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use earlyexit_collector::config::ServeConfig;
use earlyexit_collector::server::Running;
use earlyexit_collector::store::Store;
use earlyexit_collector::testing::{Relay, ReplyFault, TestPki};
use earlyexit_proto::v1;
use earlyexit_scrub::sha256_hex;
use prost::Message;
use sha2::{Digest, Sha256};

const LIMIT: Duration = Duration::from_secs(30);

/// The real collector on 127.0.0.1 over a SQLite store in a folder of its
/// own, with an org `acme` and a token for it. Stops when dropped.
struct Collector {
    runtime: tokio::runtime::Runtime,
    config: ServeConfig,
    running: Option<Running>,
    store: Store,
    org_id: i64,
    token: String,
    _dir: tempfile::TempDir,
}

impl Collector {
    fn start() -> Collector {
        Collector::start_with(|_| {})
    }

    /// Starts with the test's changes to the plaintext test configuration.
    fn start_with(configure: impl FnOnce(&mut ServeConfig)) -> Collector {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("collector.db").display());
        let mut config = ServeConfig::for_test(url.clone());
        configure(&mut config);
        let (store, org_id, token) = runtime.block_on(async {
            let store = Store::connect(&url).await.expect("collector store");
            let org = store.create_org("acme").await.expect("org");
            let token = store.create_token("acme", Some("ci")).await.expect("token");
            (store, org.id, token.token)
        });
        let mut collector = Collector {
            runtime,
            config,
            running: None,
            store,
            org_id,
            token,
            _dir: dir,
        };
        collector.restart();
        collector
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("the collector is running")
    }

    fn addr(&self) -> SocketAddr {
        self.running().addr
    }

    fn url(&self) -> String {
        self.running().url()
    }

    /// Stops gracefully: the port refuses connections afterwards.
    fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            self.config.listen = running.addr;
            self.runtime
                .block_on(running.shutdown())
                .expect("clean shutdown");
        }
    }

    /// Starts again on the same address and store.
    fn restart(&mut self) {
        assert!(self.running.is_none());
        let running = self
            .runtime
            .block_on(earlyexit_collector::server::spawn(self.config.clone()))
            .expect("collector starts");
        self.running = Some(running);
    }

    fn count(&self) -> i64 {
        self.runtime
            .block_on(self.store.count_records(self.org_id))
            .unwrap()
    }

    fn wait_for_count(&self, n: i64) -> i64 {
        let deadline = Instant::now() + LIMIT;
        while self.count() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.count()
    }

    /// (agent_id, execution_id) of every stored record.
    fn keys(&self) -> Vec<(String, String)> {
        self.runtime
            .block_on(self.store.record_keys(self.org_id))
            .unwrap()
    }

    /// A stored record as the collector keeps it.
    fn record(&self, agent_id: &str, execution_id: &str) -> v1::RunRecord {
        let (body, _) = self
            .runtime
            .block_on(self.store.record_body(self.org_id, agent_id, execution_id))
            .unwrap()
            .expect("stored");
        v1::RunRecord::decode(body.as_slice()).unwrap()
    }

    /// Records refused by name since this collector (re)started.
    fn rejected(&self) -> u64 {
        self.running()
            .stats
            .rejected
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    fn publish(&self, kind: &str, data: &[u8]) -> i64 {
        self.runtime
            .block_on(self.store.publish_bundle(self.org_id, kind, data))
            .unwrap()
    }

    /// A relay in front of this collector.
    fn relay(&self, fault: ReplyFault) -> Relay {
        self.runtime
            .block_on(Relay::start(self.addr(), fault))
            .unwrap()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = self.runtime.block_on(running.shutdown());
        }
    }
}

/// Writes the home config: the collector at `url` with the token in a file,
/// `collector_keys` inside `collector:` (indented), `extra` at the top level.
fn configure_with(env: &Env, url: &str, token: &str, collector_keys: &str, extra: &str) {
    let token_file = env.home.path().join("collector.token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    std::fs::write(
        env.home.path().join("config.yaml"),
        format!("collector:\n  url: {url}\n  token_file: collector.token\n{collector_keys}{extra}"),
    )
    .unwrap();
}

fn configure(env: &Env, url: &str, token: &str, extra: &str) {
    configure_with(env, url, token, "", extra);
}

/// Records a run of `program` (no pattern: it runs to completion).
fn record_run(env: &Env, program: &str) {
    let (out, _) = env.run(&["NONE", "--", program], LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn status(env: &Env) -> serde_json::Value {
    let (out, _) = env.run(&["sync", "--status", "--json"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("status JSON")
}

fn agent_id(env: &Env) -> String {
    std::fs::read_to_string(env.home.path().join("agent_id"))
        .unwrap()
        .trim()
        .to_string()
}

/// Sends SIGTERM to `child` and waits up to 10 s for it to exit.
fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    let started = Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn recorded_runs_reach_the_collector_exactly_once() {
    let collector = Collector::start();
    let relay = collector.relay(ReplyFault::None);
    let env = Env::new();
    configure(&env, &relay.url(), &collector.token, "");
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
    assert_eq!(collector.count(), 3);
    assert_eq!(relay.calls(), 1, "one batch, one call");

    // Nothing pending: the next sync sends nothing at all.
    let (out, _) = env.run(&["sync", "--json"], LIMIT);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["records"], 0);
    assert_eq!(report["ok"], true);
    assert_eq!(relay.calls(), 1, "no call without pending records");

    // What is stored is the anonymous shape, never the raw command line,
    // under this agent's id.
    let agent = agent_id(&env);
    let keys = collector.keys();
    assert_eq!(keys.len(), 3);
    for (agent_id, execution_id) in &keys {
        assert_eq!(agent_id, &agent);
        let record = collector.record(agent_id, execution_id);
        let e = record.execution.unwrap();
        assert_eq!(&e.execution_id, execution_id);
        assert_eq!(e.telemetry_level, "anonymous");
        assert!(e.command.starts_with("true <args:"), "{}", e.command);
        assert!(
            e.working_directory.starts_with("<dir:"),
            "{}",
            e.working_directory
        );
    }

    let s = status(&env);
    assert_eq!(s["pending"], 0);
    assert_eq!(s["acknowledged"], 3);
    assert_eq!(s["acknowledged_total"], 3);
    assert!(s["last_success_ms"].is_number());
    assert!(s["last_error"].is_null());
    assert_eq!(s["collector"], relay.url());
}

#[test]
fn a_resent_batch_is_counted_as_duplicates_and_stored_once() {
    let collector = Collector::start();
    let env = Env::new();
    configure(&env, &collector.url(), &collector.token, "");
    for _ in 0..3 {
        record_run(&env, "true");
    }
    let (out, _) = env.run(&["sync"], LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert_eq!(collector.count(), 3);

    // A lost reply: the records are put back to pending, as if the answer
    // never arrived. The re-send is counted as duplicates and stored once.
    sql(&env, "UPDATE outbox SET state = 'pending'");
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
fn a_wrong_token_is_refused_by_name_once_and_records_stay_pending() {
    let collector = Collector::start();
    let relay = collector.relay(ReplyFault::None);
    let env = Env::new();
    configure(&env, &relay.url(), "eec_not-the-token", "");
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
    assert_eq!(relay.calls(), 1, "not retried");
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
    assert_eq!(collector.count(), 0);

    // With the right token, the pending record goes through.
    configure(&env, &relay.url(), &collector.token, "");
    let (out, _) = env.run(&["sync"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(collector.count(), 1);
}

#[test]
fn a_stopped_collector_keeps_records_pending_until_it_is_back() {
    let mut collector = Collector::start();
    let env = Env::new();
    configure(&env, &collector.url(), &collector.token, "");
    record_run(&env, "true");
    record_run(&env, "true");
    collector.stop();

    let (out, elapsed) = env.run(&["sync"], LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot reach the collector"), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert!(stderr.contains("stay pending"), "{stderr}");
    assert!(
        elapsed < Duration::from_secs(15),
        "bounded retries: {elapsed:?}"
    );
    let s = status(&env);
    assert_eq!(s["pending"], 2);
    assert!(s["last_success_ms"].is_null());

    // Back at the same address: catch up.
    collector.restart();
    let (out, _) = env.run(&["sync"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(collector.count(), 2);
    let s = status(&env);
    assert_eq!(s["pending"], 0);
    assert!(
        s["last_error"].is_null(),
        "a clean sync clears the error: {s}"
    );
}

/// Runs `sql` on the agent's database, as another program could.
fn sql(env: &Env, sql: &'static str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(env.db())
            .connect()
            .await
            .unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    });
}

#[test]
fn records_refused_for_good_are_marked_rejected_shown_as_the_last_error_and_never_resent() {
    let collector = Collector::start();
    let relay = collector.relay(ReplyFault::None);
    let env = Env::new();
    configure(&env, &relay.url(), &collector.token, "");
    record_run(&env, "true");
    record_run(&env, "false");
    // Short runs wait in the spool: `stats` moves them into the database.
    let (out, _) = env.run(&["stats"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // A run whose start time the collector refuses (as it would a record
    // from a machine whose clock was reset to 1970).
    sql(
        &env,
        "UPDATE executions SET started_at_ms = 0 WHERE started_at_ms = \
         (SELECT max(started_at_ms) FROM executions)",
    );

    let (out, _) = env.run(&["sync"], LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("1 stored, 0 duplicates, 1 rejected; 0 pending"),
        "{stdout}"
    );
    assert_eq!(collector.count(), 1);
    assert_eq!(collector.rejected(), 1);
    let s = status(&env);
    assert_eq!(
        (s["pending"].as_u64(), s["rejected"].as_u64()),
        (Some(0), Some(1))
    );
    let reason = s["recent_rejections"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("started_at_ms must be a positive time"),
        "{reason}"
    );
    let last_error = s["last_error"].as_str().unwrap_or_default();
    assert!(
        last_error.contains("rejected 1 record") && last_error.contains("started_at_ms"),
        "a rejection is an error the status shows: {s}"
    );
    let (out, _) = env.run(&["sync", "--status"], LIMIT);
    let human = text(&out.stdout);
    assert!(!human.contains("last error    none"), "{human}");

    let calls = relay.calls();
    let (out, _) = env.run(&["sync"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        relay.calls(),
        calls,
        "the rejected record is not sent again"
    );
    assert_eq!(collector.rejected(), 1);
}

#[test]
fn a_run_with_100000_long_matching_lines_reaches_the_collector_shaped_to_the_budget() {
    let collector = Collector::start();
    let env = Env::new();
    configure(
        &env,
        &collector.url(),
        &collector.token,
        "telemetry: full\n",
    );
    // 100,000 matching lines of 512 bytes: 50 MB of errors.
    let script = "line=\"error: $(printf '%0505d' 7)\"; yes \"$line\" | head -n 100000";
    let (out, _) = env.run(
        &["--json", "-m", "0", "error", "--", "sh", "-c", script],
        Duration::from_secs(120),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let execution_id = json_summary(&out.stderr)["execution_id"]
        .as_str()
        .unwrap()
        .to_string();

    let (out, _) = env.run(&["sync"], Duration::from_secs(120));
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("1 stored, 0 duplicates, 0 rejected"),
        "{stdout}"
    );
    let (agent_id, _) = collector.keys().into_iter().next().unwrap();
    let record = collector.record(&agent_id, &execution_id);
    assert!(record.encoded_len() <= earlyexit_proto::MAX_RECORD_BYTES);
    let e = record.execution.as_ref().unwrap();
    assert_eq!(e.match_count, 100_000, "the count describes the whole run");
    assert_eq!(e.stdout_lines, 100_000);
    let shaping = record.shaping.expect("the record says what was cut");
    assert!(shaping.original_bytes > earlyexit_proto::MAX_RECORD_BYTES as u64);
    assert!(shaping.matches_dropped > 0);
    assert!(record.matches.len() > 100, "kept {}", record.matches.len());
    assert_eq!(record.matches[0].line_number, 1, "the first match is kept");
    let last = record.matches.last().unwrap();
    assert!(last.line_number > record.matches[record.matches.len() / 2].line_number);
    assert!(record.matches[0].line_content.starts_with("error: 0000"));
    let s = status(&env);
    assert!(s["last_error"].is_null(), "{s}");
}

#[test]
fn a_secret_seen_once_is_hidden_everywhere_and_no_hash_sent_is_a_plain_sha256() {
    let secret = "Pz7-qLm2-Rt9x-Vw4k";
    // Five places: the command line, an environment variable, a matched
    // line, its context, and the tail sample.
    let script = format!(
        "echo \"PGPASSWORD={secret}\"; echo \"login as {secret}\"; echo \"error: auth with {secret} refused\"; echo done {secret}"
    );
    for level in ["full", "anonymous"] {
        let collector = Collector::start();
        let env = Env::new();
        configure(
            &env,
            &collector.url(),
            &collector.token,
            &format!("telemetry: {level}\n"),
        );
        let (out, _) = env.run(
            &[
                "--json", "-m", "0", "error", "--", "sh", "-c", &script, secret,
            ],
            LIMIT,
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let execution_id = json_summary(&out.stderr)["execution_id"]
            .as_str()
            .unwrap()
            .to_string();
        let (out, _) = env.run(&["sync"], LIMIT);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let (agent_id, _) = collector.keys().into_iter().next().unwrap();
        let record = collector.record(&agent_id, &execution_id);
        let sent = format!("{record:?}");
        assert!(
            !sent.contains(secret),
            "{level}: the secret left the machine: {sent}"
        );
        assert!(
            !sent.contains("Pz7-qLm2"),
            "{level}: part of it did: {sent}"
        );

        // No hash in the record is the plain SHA-256 of anything the run saw
        // or sent: the raw command line, directory, lines, or the sent text.
        let e = record.execution.as_ref().unwrap();
        let mut inputs = vec![
            format!("sh -c {script} {secret}"),
            env.home.path().to_string_lossy().into_owned(),
        ];
        inputs.extend(
            script
                .split("; ")
                .map(|c| c.replace("echo ", "").replace('"', "")),
        );
        inputs.extend([e.command.clone(), e.working_directory.clone()]);
        inputs.extend(record.matches.iter().map(|m| m.line_content.clone()));
        inputs.extend(record.samples.iter().map(|s| s.content.clone()));
        for input in &inputs {
            let plain = sha256_hex(input.as_bytes());
            assert!(
                !sent.contains(&plain[..12]),
                "{level}: the plain SHA-256 of {input:?} was sent"
            );
        }
        if level == "anonymous" {
            assert!(e.command.starts_with("sh <args:"), "{}", e.command);
        }
    }
}

#[test]
fn dry_run_prints_the_as_sent_records_and_sends_nothing() {
    let collector = Collector::start();
    let relay = collector.relay(ReplyFault::None);
    let env = Env::new();
    configure(&env, &relay.url(), &collector.token, "");
    record_run(&env, "true");
    let (out, _) = env.run(&["sync", "--dry-run"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["execution"]["telemetry_level"], "anonymous");
    assert!(text(&out.stderr).contains("1 records would be sent"));
    assert_eq!(relay.calls(), 0);
    assert_eq!(collector.count(), 0);
    assert_eq!(status(&env)["pending"], 1);
}

#[test]
fn sync_on_exit_pushes_the_runs_own_record_before_the_run_exits() {
    let collector = Collector::start();
    let env = Env::new();
    configure(
        &env,
        &collector.url(),
        &collector.token,
        "sync_on_exit: true\n",
    );
    let (out, _) = env.run(&["--json", "NONE", "--", "true"], LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let summary = json_summary(&out.stderr);
    // Stored before the run exited: no waiting here.
    let keys = collector.keys();
    assert_eq!(keys.len(), 1, "{}", text(&out.stderr));
    assert_eq!(keys[0].0, agent_id(&env));
    assert_eq!(keys[0].1, summary["execution_id"].as_str().unwrap());
    assert_eq!(status(&env)["pending"], 0);
}

#[test]
fn sync_on_exit_to_a_silent_collector_costs_at_most_the_timeout() {
    // A fault injector: accepts TCP connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let env = Env::new();
    configure(
        &env,
        &url,
        "eec_any",
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

    // The failure is remembered: the next runs skip the attempt at once,
    // silently, and leave their records pending.
    assert!(env.home.path().join("sync_on_exit.backoff").exists());
    for pending in 2..=3 {
        let (out, elapsed) = env.run(&["NONE", "--", "true"], LIMIT);
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("sync_on_exit"), "{stderr}");
        assert!(
            elapsed < baseline + Duration::from_millis(400),
            "skipped, not waited for: {elapsed:?} (baseline {baseline:?})"
        );
        assert_eq!(status(&env)["pending"], pending);
    }
    drop(silent);
}

#[test]
fn sync_on_exit_tries_again_after_the_back_off_window_and_a_success_ends_it() {
    let collector = Collector::start();
    let env = Env::new();
    configure(
        &env,
        &collector.url(),
        &collector.token,
        "sync_on_exit: true\n",
    );
    let backoff = env.home.path().join("sync_on_exit.backoff");
    // Inside a window: skipped.
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 60_000;
    std::fs::write(&backoff, format!("{later} 1\n")).unwrap();
    record_run(&env, "true");
    assert_eq!(collector.count(), 0);
    // The window is over: the run syncs both records and ends the back-off.
    std::fs::write(&backoff, "1000 1\n").unwrap();
    record_run(&env, "true");
    assert_eq!(collector.count(), 2);
    assert!(!backoff.exists());
}

#[test]
fn the_agent_syncs_new_runs_keeps_chunked_bundles_and_stops_cleanly_on_sigterm() {
    let collector = Collector::start();
    let env = Env::new();
    configure(&env, &collector.url(), &collector.token, "");
    // 2.5 MiB: three chunks of at most 1 MiB on the stream.
    let mut tag = String::with_capacity(5 << 19);
    let mut block = Sha256::digest(b"patterns").to_vec();
    while tag.len() < 5 << 19 {
        block = Sha256::digest(&block).to_vec();
        tag.push_str(&sha256_hex(&block));
    }
    let bundle = earlyexit_proto::bundle::sample("patterns", &tag);
    assert!(bundle.len() > 2 << 20);
    assert_eq!(collector.publish("patterns", &bundle), 1);
    record_run(&env, "true");

    let mut agent = env
        .cmd(&["agent", "--interval", "200ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn earlyexit agent");
    let mut stderr = BufReader::new(agent.stderr.take().unwrap());
    let log = read_until(&mut stderr, |l| l.contains("received bundle patterns v1"));
    let want = format!(
        "received bundle patterns v1 ({} bytes, sha256 {})",
        bundle.len(),
        sha256_hex(&bundle)
    );
    assert!(log.contains(&want), "{log}");
    assert_eq!(collector.wait_for_count(1), 1, "catch-up at start: {log}");
    record_run(&env, "true");
    record_run(&env, "true");
    assert_eq!(collector.wait_for_count(3), 3, "new runs are synced");

    // A version published while the agent is subscribed reaches it.
    let second = earlyexit_proto::bundle::sample("patterns", "v2");
    assert_eq!(collector.publish("patterns", &second), 2);
    let more = read_until(&mut stderr, |l| l.contains("received bundle patterns v2"));
    assert!(
        more.contains(&format!(
            "received bundle patterns v2 ({} bytes",
            second.len()
        )),
        "{more}"
    );

    let status = terminate(&mut agent);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(status.code(), Some(0), "{log}{more}{rest}");
    assert!(rest.contains("stopped"), "{rest}");
    assert_eq!(crate::status(&env)["pending"], 0);

    // Both versions are kept, whole.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let kept: Vec<(i64, Vec<u8>)> = rt.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(env.db())
            .connect()
            .await
            .unwrap();
        sqlx::query_as("SELECT version, data FROM bundles WHERE kind = 'patterns' ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    });
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0], (1, bundle));
    assert_eq!(kept[1], (2, second));
    // And the agent says what it holds.
    let (out, _) = env.run(&["bundles", "list", "--json"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["kind"], "patterns");
    assert_eq!(listed[0]["version"], 2);
    assert_eq!(listed[1]["version"], 1);
    assert_eq!(listed[1]["bytes"], kept[0].1.len());
    let (out, _) = env.run(&["bundles", "list"], LIMIT);
    let table = text(&out.stdout);
    assert!(
        table.starts_with("KIND") && table.lines().count() == 3,
        "{table}"
    );
}

#[test]
fn tls_with_the_configured_ca_works_and_another_ca_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "acme").unwrap();
    let other = TestPki::create(dir.path(), "other").unwrap();
    let collector = Collector::start_with(|c| {
        c.insecure = false;
        c.tls_cert = Some(pki.server_cert.clone());
        c.tls_key = Some(pki.server_key.clone());
    });
    let url = collector.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let env = Env::new();
    let ca = |path: &std::path::Path| format!("  ca: {}\n", path.display());

    // A CA that did not sign the collector's certificate: refused at once,
    // with what to check.
    configure_with(&env, &url, &collector.token, &ca(&other.ca), "");
    record_run(&env, "true");
    let (out, elapsed) = env.run(&["sync"], LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&url), "{stderr}");
    assert!(stderr.contains("TLS handshake"), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    assert!(stderr.contains("collector.ca"), "{stderr}");
    assert!(elapsed < Duration::from_secs(2), "not retried: {elapsed:?}");
    assert_eq!(status(&env)["pending"], 1);
    assert_eq!(collector.count(), 0);

    // The CA that did.
    configure_with(&env, &url, &collector.token, &ca(&pki.ca), "");
    let (out, _) = env.run(&["sync"], LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("1 stored"), "{stdout}");
    assert_eq!(collector.count(), 1);
}

#[test]
fn a_url_with_the_wrong_scheme_says_which_scheme_the_collector_speaks() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "acme").unwrap();
    let tls = Collector::start_with(|c| {
        c.insecure = false;
        c.tls_cert = Some(pki.server_cert.clone());
        c.tls_key = Some(pki.server_key.clone());
    });
    let plaintext = Collector::start();
    let env = Env::new();
    configure(&env, &plaintext.url(), &plaintext.token, "");
    record_run(&env, "true");
    let cases = [
        (
            tls.url().replace("https://", "http://"),
            &tls.token,
            "speaks TLS: use https://",
        ),
        (
            plaintext.url().replace("http://", "https://"),
            &plaintext.token,
            "speaks plaintext gRPC",
        ),
    ];
    for (url, token, says) in cases {
        configure(&env, &url, token, "");
        let (out, elapsed) = env.run(&["sync"], LIMIT);
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(3),
            "{url}: {}{stderr}",
            text(&out.stdout)
        );
        assert!(stderr.contains(says), "{url}: {stderr}");
        assert!(!stderr.contains("h2 protocol error"), "{stderr}");
        // Retrying would add the back-off waits (about 3 s over the five
        // attempts) to the same work; one refused call is far under that,
        // even on a loaded machine (2.3 s seen with both cores busy).
        assert!(elapsed < Duration::from_secs(4), "not retried: {elapsed:?}");
        assert_eq!(status(&env)["pending"], 1);
    }
}

#[test]
fn mutual_tls_needs_the_agents_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::create(dir.path(), "acme").unwrap();
    let collector = Collector::start_with(|c| {
        c.insecure = false;
        c.tls_cert = Some(pki.server_cert.clone());
        c.tls_key = Some(pki.server_key.clone());
        c.client_ca = Some(pki.ca.clone());
    });
    let url = collector.url();
    let env = Env::new();
    let ca = format!("  ca: {}\n", pki.ca.display());

    // No client certificate: the collector ends the connection and the
    // record stays. In TLS 1.3 the client's side of the handshake is done
    // before the collector checks for its certificate, so the agent hears
    // either the collector's alert (and names the keys to set) or, when
    // its request raced the alert, only that the connection closed.
    configure_with(&env, &url, &collector.token, &ca, "");
    record_run(&env, "true");
    let (out, _) = env.run(&["sync"], LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&url), "{stderr}");
    assert!(
        (stderr.contains("CertificateRequired") && stderr.contains("collector.cert"))
            || stderr.contains("connection closed"),
        "{stderr}"
    );
    assert_eq!(status(&env)["pending"], 1);
    assert_eq!(collector.count(), 0);

    // With the agent's certificate and key.
    let identity = format!(
        "{ca}  cert: {}\n  key: {}\n",
        pki.client_cert.display(),
        pki.client_key.display()
    );
    configure_with(&env, &url, &collector.token, &identity, "");
    let (out, _) = env.run(&["sync"], LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(collector.count(), 1);
    assert_eq!(status(&env)["pending"], 0);
}
