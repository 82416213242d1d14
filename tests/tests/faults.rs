//! Faults, end to end: real `earlyexit` and `earlyexit-collector`
//! processes on 127.0.0.1, killed, stopped, starved and fed garbage. What
//! must hold (DESIGN.md §6): no acknowledged record is lost, none is stored
//! twice, an agent cut off keeps working and catches up, bad input gets a
//! clear error and changes nothing.
//!
//! Each test is bounded: every command has a limit, every loop a deadline,
//! and every process is killed by its guard when the test ends.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use earlyexit_collector::testing::{Relay, ReplyFault};
use earlyexit_e2e::{
    Agent, COMMAND_LIMIT, Collector, StoreCheck, assert_stored_exactly_once, binaries, text,
};

/// A SQLite store in `dir`, with the org `acme`; returns (store URL, token).
fn sqlite_store(dir: &std::path::Path) -> (String, String) {
    let store = format!("sqlite://{}", dir.join("collector.db").display());
    let token = Collector::create_org_and_token(&binaries!(), &store, "acme");
    (store, token)
}

#[test]
fn killing_the_collector_repeatedly_loses_and_duplicates_nothing() {
    const AGENTS: usize = 3;
    const RECORDS: usize = 2500;
    let bin = binaries!();
    let dir = tempfile::tempdir().unwrap();
    let (store, token) = sqlite_store(dir.path());
    let mut collector = Collector::start(&bin, &store, 0, &[]);
    let check = StoreCheck::open(&store, "acme");

    let agents: Vec<Agent> = (0..AGENTS)
        .map(|_| Agent::new(&bin, &collector.url(), &token, ""))
        .collect();
    let mut expected = HashSet::new();
    for agent in &agents {
        let ids = agent.seed(30, RECORDS);
        assert_eq!(agent.status()["pending"], RECORDS as u64);
        expected.extend(agent.keys(&ids));
    }
    let total = (AGENTS * RECORDS) as i64;

    // Every agent syncs until it succeeds, while the collector is killed
    // (-9) and restarted on the same port, again and again.
    let deadline = Instant::now() + Duration::from_secs(120);
    let syncing: Vec<_> = agents
        .into_iter()
        .map(|agent| {
            std::thread::spawn(move || {
                let attempts = agent.sync_until_done(deadline);
                (agent, attempts)
            })
        })
        .collect();
    let mut counts_at_kill = Vec::new();
    check.wait_for_count(1, Duration::from_secs(30));
    for pause in [100, 300, 200, 400, 250] {
        std::thread::sleep(Duration::from_millis(pause));
        counts_at_kill.push(check.count());
        collector.kill9();
        std::thread::sleep(Duration::from_millis(150));
        collector.restart();
    }
    let mut attempts = Vec::new();
    let mut agents = Vec::new();
    for handle in syncing {
        let (agent, n) = handle.join().expect("a syncing agent failed");
        attempts.push(n);
        agents.push(agent);
    }
    let mid_sync = counts_at_kill
        .iter()
        .filter(|&&n| n > 0 && n < total)
        .count();
    assert!(
        mid_sync >= 3,
        "fewer than 3 kills landed mid-sync ({counts_at_kill:?} of {total}); the test proved little"
    );
    eprintln!("counts at each kill: {counts_at_kill:?}; sync attempts per agent: {attempts:?}");

    assert_eq!(check.count(), total);
    assert_stored_exactly_once(&check.keys(), &expected);
    for agent in &agents {
        let status = agent.status();
        assert_eq!(status["pending"], 0, "{status}");
        assert_eq!(status["acknowledged"], RECORDS as u64, "{status}");
    }
    assert!(collector.is_running(), "{}", collector.log());
}

#[test]
fn killing_an_agent_mid_sync_loses_and_duplicates_nothing() {
    const RECORDS: usize = 6000;
    let bin = binaries!();
    let dir = tempfile::tempdir().unwrap();
    let (store, token) = sqlite_store(dir.path());
    // At most 2000 records a second for the org: the sync takes a few
    // seconds, so the kill lands in its middle.
    let collector = Collector::start(&bin, &store, 0, &["--org-records-per-second", "2000"]);
    let check = StoreCheck::open(&store, "acme");
    let agent = Agent::new(&bin, &collector.url(), &token, "");
    let ids = agent.seed(30, RECORDS);
    let expected = agent.keys(&ids);

    let mut sync = agent.spawn(&["sync"]);
    let first_batches = check.wait_for_count(1000, Duration::from_secs(30));
    sync.kill9();
    let at_kill = check.count();
    assert!(
        (1000..RECORDS as i64).contains(&first_batches) && at_kill < RECORDS as i64,
        "killed after {at_kill} of {RECORDS} records were stored; the kill must land mid-sync"
    );
    let status = agent.status();
    let pending = status["pending"].as_u64().unwrap();
    assert!(pending > 0, "{status}");
    assert!(
        pending >= RECORDS as u64 - at_kill as u64,
        "every record the collector has not stored is still pending: {status}"
    );

    let attempts = agent.sync_until_done(Instant::now() + Duration::from_secs(60));
    eprintln!("{at_kill} stored when the agent was killed; {attempts} syncs to finish");
    assert_eq!(check.count(), RECORDS as i64);
    assert_stored_exactly_once(&check.keys(), &expected);
    let status = agent.status();
    assert_eq!(status["pending"], 0, "{status}");
    assert_eq!(status["acknowledged"], RECORDS as u64, "{status}");
}

#[test]
fn an_unreachable_collector_costs_runs_at_most_their_timeout_and_is_caught_up() {
    const RUNS: usize = 6;
    let bin = binaries!();
    let dir = tempfile::tempdir().unwrap();
    let (store, token) = sqlite_store(dir.path());
    let mut collector = Collector::start(&bin, &store, 0, &[]);
    let check = StoreCheck::open(&store, "acme");
    // Stopped (gracefully): its port refuses connections now.
    assert_eq!(collector.terminate().code(), Some(0), "{}", collector.log());

    // What a run costs with nothing to sync.
    let on_exit = Agent::new(
        &bin,
        &collector.url(),
        &token,
        "sync_on_exit: true\nsync_on_exit_timeout: 1s\n",
    );
    let baseline = (0..3)
        .map(|_| {
            let (out, took) = on_exit.run(&["--no-telemetry", "NONE", "--", "true"], COMMAND_LIMIT);
            assert_eq!(out.status.code(), Some(1));
            took
        })
        .max()
        .unwrap();

    // sync_on_exit runs: the first one's push gives up within its timeout
    // and says so; the failure opens a back-off window, so the next runs
    // skip the push silently. The exit code stays the run's, the records
    // stay pending.
    for run in 0..RUNS {
        let (out, took) = on_exit.run(&["NONE", "--", "true"], COMMAND_LIMIT);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(
            stderr.contains("sync_on_exit"),
            run == 0,
            "run {run}: {stderr}"
        );
        assert!(
            took < baseline + Duration::from_millis(1000 + 700),
            "a run took {took:?} (baseline {baseline:?}, sync_on_exit_timeout 1s)"
        );
    }
    assert_eq!(on_exit.status()["pending"], RUNS as u64);

    // The default (sync_on_exit off) with `earlyexit agent` syncing in the
    // background: runs are as fast as with no collector at all.
    let background = Agent::new(&bin, &collector.url(), &token, "");
    let mut daemon = background.spawn(&["agent", "--interval", "200ms"]);
    let mut slowest = Duration::ZERO;
    for _ in 0..3 * RUNS {
        let (out, took) = background.run(&["NONE", "--", "true"], COMMAND_LIMIT);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        slowest = slowest.max(took);
    }
    assert!(
        slowest < baseline + Duration::from_millis(500),
        "slowest run {slowest:?} with the collector down (baseline {baseline:?})"
    );
    assert_eq!(check.count(), 0);

    // Back on the same port: the daemon catches up by itself, a manual sync
    // catches up the rest.
    collector.restart();
    let want = (RUNS + 3 * RUNS) as i64;
    let (out, _) = on_exit.run(&["sync"], COMMAND_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(check.wait_for_count(want, Duration::from_secs(45)), want);
    let stopped = daemon.signal_and_wait(libc::SIGTERM, Duration::from_secs(10));
    assert_eq!(stopped.code(), Some(0));
    assert_eq!(on_exit.status()["pending"], 0);
    assert_eq!(background.status()["pending"], 0);
    assert_eq!(check.count(), want, "nothing stored twice");
}

/// A fault injector on 127.0.0.1:0: every connection gets `reply`, then is
/// closed. Stops when dropped.
struct Garbage {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Garbage {
    fn start(reply: &'static [u8]) -> Garbage {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let _ = conn.set_read_timeout(Some(Duration::from_millis(200)));
                        let _ = conn.read(&mut [0u8; 1024]);
                        let _ = conn.write_all(reply);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Garbage {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Garbage {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn garbage_on_the_collectors_port_is_a_clear_error_and_records_stay_pending() {
    let bin = binaries!();
    let dir = tempfile::tempdir().unwrap();
    let (store, token) = sqlite_store(dir.path());
    let agent = Agent::new(&bin, "http://127.0.0.1:9", &token, "");
    let ids = agent.seed(3, 3);

    for reply in [
        &b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"[..],
        &b"\x00\x00\x12\x04\x00\x00\x00\x00\x00garbage, not a frame"[..],
        &b""[..],
    ] {
        let garbage = Garbage::start(reply);
        let url = format!("http://127.0.0.1:{}", garbage.port);
        agent.configure(&url, &token, "");
        let (out, took) = agent.run(&["sync"], COMMAND_LIMIT);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains(&url), "{stderr}");
        assert!(stderr.contains("records stay pending"), "{stderr}");
        assert!(took < Duration::from_secs(20), "{took:?}");
        assert_eq!(agent.status()["pending"], 3, "{stderr}");
    }

    // The real collector takes them all.
    let collector = Collector::start(&bin, &store, 0, &[]);
    agent.configure(&collector.url(), &token, "");
    let (out, _) = agent.run(&["sync"], COMMAND_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let check = StoreCheck::open(&store, "acme");
    assert_stored_exactly_once(&check.keys(), &agent.keys(&ids));
}

#[test]
fn a_reply_cut_short_is_sent_again_and_stored_once() {
    const RECORDS: usize = 40;
    let bin = binaries!();
    let dir = tempfile::tempdir().unwrap();
    let (store, token) = sqlite_store(dir.path());
    let collector = Collector::start(&bin, &store, 0, &[]);
    let check = StoreCheck::open(&store, "acme");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let upstream = format!("127.0.0.1:{}", collector.port).parse().unwrap();
    let relay = runtime
        .block_on(Relay::start(upstream, ReplyFault::CutReply))
        .unwrap();
    let agent = Agent::new(&bin, &relay.url(), &token, "");
    let ids = agent.seed(3, RECORDS);

    // Every reply is cut after the collector committed: the agent cannot
    // know, retries, and keeps the records pending.
    let (out, _) = agent.run(&["sync"], COMMAND_LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("records stay pending"), "{stderr}");
    assert!(relay.calls() > 1, "retried: {} calls", relay.calls());
    assert_eq!(agent.status()["pending"], RECORDS as u64);
    assert_eq!(check.count(), RECORDS as i64, "stored on the first call");

    // Straight to the collector: the re-send is all duplicates.
    agent.configure(&collector.url(), &token, "");
    let (out, _) = agent.run(&["sync"], COMMAND_LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("0 stored, {RECORDS} duplicates")),
        "{stdout}"
    );
    assert_stored_exactly_once(&check.keys(), &agent.keys(&ids));
}

#[test]
fn batches_over_the_collectors_limits_are_refused_clearly_and_nothing_is_stored() {
    let bin = binaries!();
    let dir = tempfile::tempdir().unwrap();
    let (store, token) = sqlite_store(dir.path());
    let agent = Agent::new(&bin, "http://127.0.0.1:9", &token, "");
    agent.seed(3, 300);
    let check = StoreCheck::open(&store, "acme");

    for (limits, want) in [
        (
            "limits:\n  max_batch_records: 100\n",
            "batch of 300 records is over the collector's limit of 100",
        ),
        ("limits:\n  max_message_bytes: 4096\n", "OUT_OF_RANGE"),
    ] {
        let config = dir.path().join("collector.yaml");
        std::fs::write(&config, limits).unwrap();
        let mut collector =
            Collector::start(&bin, &store, 0, &["--config", config.to_str().unwrap()]);
        agent.configure(&collector.url(), &token, "");
        let (out, _) = agent.run(&["sync"], COMMAND_LIMIT);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
        assert!(stderr.contains("refused the push"), "{stderr}");
        assert_eq!(agent.status()["pending"], 300);
        assert_eq!(check.count(), 0);
        assert!(collector.is_running(), "{}", collector.log());
        assert_eq!(collector.terminate().code(), Some(0));
    }
}

#[test]
fn the_same_ids_under_another_orgs_token_are_kept_apart_and_a_revoked_token_stores_nothing() {
    let bin = binaries!();
    let dir = tempfile::tempdir().unwrap();
    let (store, acme_token) = sqlite_store(dir.path());
    let globex_token = Collector::create_org_and_token(&bin, &store, "globex");
    let collector = Collector::start(&bin, &store, 0, &[]);
    let acme = StoreCheck::open(&store, "acme");
    let globex = StoreCheck::open(&store, "globex");

    let agent = Agent::new(&bin, &collector.url(), &acme_token, "");
    let ids = agent.seed(3, 20);
    let (out, _) = agent.run(&["sync"], COMMAND_LIMIT);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A copy of the same home (same agent id, same runs) with globex's
    // token: stored for globex, acme's records untouched.
    let copy = Agent::new(&bin, &collector.url(), &globex_token, "");
    for file in ["agent_id", "telemetry.db"] {
        std::fs::copy(agent.home.path().join(file), copy.home.path().join(file)).unwrap();
    }
    let rt = earlyexit_e2e::runtime();
    rt.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(copy.db())
            .connect()
            .await
            .unwrap();
        sqlx::query("UPDATE outbox SET state = 'pending'")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let (out, _) = copy.run(&["sync"], COMMAND_LIMIT);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("20 stored, 0 duplicates"), "{stdout}");
    assert_stored_exactly_once(&acme.keys(), &agent.keys(&ids));
    assert_stored_exactly_once(&globex.keys(), &agent.keys(&ids));

    // Revoked while the agent has more to send: refused by name, nothing
    // stored, the records stay.
    let tokens = std::process::Command::new(&bin.collector)
        .args(["token", "list", "--org", "globex", "--store", &store])
        .output()
        .unwrap();
    let token_id = text(&tokens.stdout)
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .next()
                .filter(|w| w.starts_with("tok_"))
        })
        .map(str::to_string)
        .expect("a token id");
    let revoked = std::process::Command::new(&bin.collector)
        .args(["token", "revoke", &token_id, "--store", &store])
        .output()
        .unwrap();
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    copy.seed(1, 5);
    let (out, _) = copy.run(&["sync"], COMMAND_LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("UNAUTHENTICATED"), "{stderr}");
    assert_eq!(copy.status()["pending"], 5);
    assert_eq!(globex.count(), 20);
    assert_eq!(acme.count(), 20);
}
