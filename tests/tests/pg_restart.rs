//! PostgreSQL restarted under load: the collector (a real process on a
//! database of its own) recovers, loses no acknowledged record and stores
//! none twice while agents keep syncing through the restart.
//!
//! Restarting the server breaks every other test using it at that moment,
//! so this runs only when asked: `EARLYEXIT_TEST_PG_RESTART=1` (CI runs
//! this binary alone, after the main test run) with
//! `EARLYEXIT_TEST_DATABASE_URL` pointing at a server on this machine that
//! `pg_ctlcluster` can restart (as root). Otherwise it says why it skips.

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use earlyexit_collector::testing::{DATABASE_URL_VAR, TestDb};
use earlyexit_e2e::{Agent, Collector, StoreCheck, assert_stored_exactly_once, binaries, runtime};

/// Set to 1 to run this test.
const GATE_VAR: &str = "EARLYEXIT_TEST_PG_RESTART";

/// How long the server may take to accept connections again.
const READY_LIMIT: Duration = Duration::from_secs(60);

/// The local cluster behind the test database.
struct Cluster {
    version: String,
    port: String,
}

impl Cluster {
    /// The cluster, or why this test cannot restart it.
    fn find() -> Result<Cluster, String> {
        if std::env::var(GATE_VAR).as_deref() != Ok("1") {
            return Err(format!(
                "{GATE_VAR} is not 1 (it restarts the PostgreSQL server, so it runs alone: see .ci/run)"
            ));
        }
        let url = std::env::var(DATABASE_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
            .ok_or(format!("{DATABASE_URL_VAR} is not set"))?;
        let authority = url
            .split_once("://")
            .map_or("", |(_, rest)| rest.split(['/', '?']).next().unwrap_or(""));
        let host_port = authority.rsplit('@').next().unwrap_or("");
        let (host, port) = host_port.split_once(':').unwrap_or((host_port, "5432"));
        if !matches!(host, "127.0.0.1" | "localhost") {
            return Err(format!(
                "{DATABASE_URL_VAR} is not on this machine ({host})"
            ));
        }
        let uid = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return Err("pg_ctlcluster needs root".into());
        }
        let version = std::fs::read_dir("/etc/postgresql")
            .map_err(|e| format!("no /etc/postgresql ({e}): not a Debian-style cluster"))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .find(|v| {
                std::path::Path::new(&format!("/etc/postgresql/{v}/main/postgresql.conf")).exists()
            })
            .ok_or("no cluster 'main' under /etc/postgresql")?;
        let cluster = Cluster {
            version,
            port: port.to_string(),
        };
        if !cluster.is_ready() {
            return Err(format!(
                "PostgreSQL on port {port} is not accepting connections"
            ));
        }
        Ok(cluster)
    }

    fn ctl(&self, action: &str) -> bool {
        Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &self.version, "main", action])
            .status()
            .is_ok_and(|s| s.success())
    }

    fn is_ready(&self) -> bool {
        Command::new("pg_isready")
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port])
            .status()
            .is_ok_and(|s| s.success())
    }

    fn wait_ready(&self) -> bool {
        let deadline = Instant::now() + READY_LIMIT;
        while !self.is_ready() {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    }
}

/// Starts the server again when the test ends with it down, whatever the
/// way the test ends.
struct KeepRunning<'a>(&'a Cluster);

impl Drop for KeepRunning<'_> {
    fn drop(&mut self) {
        if !self.0.is_ready() {
            self.0.ctl("start");
            self.0.wait_ready();
        }
    }
}

/// Drops the test database when the test ends.
struct DropDb(Option<TestDb>);

impl Drop for DropDb {
    fn drop(&mut self) {
        if let Some(db) = self.0.take() {
            runtime().block_on(db.cleanup());
        }
    }
}

#[test]
fn a_postgresql_restart_under_load_loses_and_duplicates_nothing() {
    const AGENTS: usize = 3;
    const RECORDS: usize = 2000;
    let cluster = match Cluster::find() {
        Ok(cluster) => cluster,
        Err(why) => {
            eprintln!(
                "a_postgresql_restart_under_load_loses_and_duplicates_nothing: skipped: {why}"
            );
            return;
        }
    };
    let _keep_running = KeepRunning(&cluster);
    let db = DropDb(
        runtime()
            .block_on(TestDb::postgres("pg_restart"))
            .expect("create the test database"),
    );
    let store = db.0.as_ref().expect("the database URL is set").url.clone();

    let bin = binaries!();
    let token = Collector::create_org_and_token(&bin, &store, "acme");
    // Paced (1500 records/s for the org) so the restart lands mid-sync.
    let mut collector = Collector::start(&bin, &store, 0, &["--org-records-per-second", "1500"]);
    let agents: Vec<Arc<Agent>> = (0..AGENTS)
        .map(|_| Arc::new(Agent::new(&bin, &collector.url(), &token, "")))
        .collect();
    let mut expected = HashSet::new();
    for agent in &agents {
        let ids = agent.seed(10, RECORDS);
        expected.extend(agent.keys(&ids));
    }
    let total = (AGENTS * RECORDS) as i64;
    let check = StoreCheck::open(&store, "acme");

    let deadline = Instant::now() + Duration::from_secs(120);
    let syncing: Vec<_> = agents
        .iter()
        .map(|agent| {
            let agent = Arc::clone(agent);
            std::thread::spawn(move || agent.sync_until_done(deadline))
        })
        .collect();

    let before = check.wait_for_count(1000, Duration::from_secs(60));
    // What the collector acknowledged to the agents before the restart.
    let acknowledged: Vec<(String, String)> = agents
        .iter()
        .flat_map(|agent| {
            let ids = agent.acknowledged_ids();
            agent.keys(&ids)
        })
        .collect();
    let started = Instant::now();
    assert!(cluster.ctl("restart"), "pg_ctlcluster restart failed");
    assert!(cluster.wait_ready(), "PostgreSQL did not come back");
    let restart_took = started.elapsed();
    let after_restart: HashSet<(String, String)> = check.keys().into_iter().collect();
    let lost = acknowledged
        .iter()
        .filter(|k| !after_restart.contains(*k))
        .count();
    assert_eq!(
        lost,
        0,
        "acknowledged records missing after the restart (of {})",
        acknowledged.len()
    );

    let attempts: Vec<u32> = syncing
        .into_iter()
        .map(|handle| handle.join().expect("a syncing agent failed"))
        .collect();
    eprintln!(
        "{before} of {total} stored before the restart ({} acknowledged to the agents), which took {restart_took:?}; sync attempts per agent: {attempts:?}",
        acknowledged.len()
    );
    assert!(
        before < total,
        "everything was stored before the restart; the test proved nothing"
    );
    assert_eq!(check.try_count(), Some(total));
    assert_stored_exactly_once(&check.keys(), &expected);
    for agent in &agents {
        assert_eq!(agent.status()["pending"], 0);
    }
    assert!(collector.is_running(), "{}", collector.log());
    assert_eq!(collector.terminate().code(), Some(0), "{}", collector.log());
    check.close();
}
