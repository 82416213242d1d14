//! The collector's store goes away under load and comes back: health says
//! NOT_SERVING while it is gone and SERVING once it is back, agents are
//! told the store is unavailable (not that the collector is unreachable)
//! and keep their records, the collector logs the failure and the recovery
//! once each, and nothing acknowledged is lost.
//!
//! PostgreSQL (skipped, saying why, without `EARLYEXIT_TEST_DATABASE_URL`):
//! the test breaks its own database (no new connections, the open ones
//! terminated; or dropped and made again), never the server, which other
//! tests use at the same time. SQLite: another process holds the file's
//! write lock (a full or read-only disk needs privileges a test should not
//! take; the collector sees the same thing, writes that do not go through).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use earlyexit_collector::testing::{DATABASE_URL_VAR, TestDb};
use earlyexit_e2e::{
    Agent, Collector, StoreCheck, assert_stored_exactly_once, binaries, runtime, text,
};
use sqlx::Connection;

/// How long health may take to follow the store (a probe interval, its
/// timeout, and a slow machine).
const HEALTH_LIMIT: Duration = Duration::from_secs(20);

/// A database of the test's own on the test server; dropped when the test
/// ends, connections re-allowed first so a failed test leaves nothing
/// behind.
struct OwnDb {
    db: Option<TestDb>,
    /// The server's URL (for admin statements).
    server: String,
    /// The store URL the collector gets.
    store: String,
    /// The database's name.
    name: String,
}

impl OwnDb {
    /// A fresh database, or `None` (saying why) without
    /// `EARLYEXIT_TEST_DATABASE_URL`.
    fn create(test: &str) -> Option<OwnDb> {
        let Some(server) = std::env::var(DATABASE_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
        else {
            eprintln!("{test}: skipped: {DATABASE_URL_VAR} is not set");
            return None;
        };
        let db = runtime()
            .block_on(TestDb::postgres_on(&server))
            .expect("create the test database");
        let store = db.url.clone();
        Some(OwnDb {
            name: database_name(&store),
            db: Some(db),
            server,
            store,
        })
    }

    /// Runs `sql` on the server.
    fn admin(&self, sql: &str) {
        runtime()
            .block_on(admin(&self.server, sql))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Drop for OwnDb {
    fn drop(&mut self) {
        let _ = runtime().block_on(admin(&self.server, &allow(&self.name, true)));
        if let Some(db) = self.db.take() {
            runtime().block_on(db.cleanup());
        }
    }
}

fn allow(db: &str, yes: bool) -> String {
    format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS {yes}")
}

/// Runs `sql` on the server (as the admin URL's user).
async fn admin(server: &str, sql: &str) -> Result<(), sqlx::Error> {
    let mut conn = sqlx::PgConnection::connect(server).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await?;
    let _ = conn.close().await;
    Ok(())
}

/// The database a `postgres://…/NAME?…` URL names.
fn database_name(url: &str) -> String {
    let path = url.rsplit('/').next().unwrap_or("");
    path.split('?').next().unwrap_or(path).to_owned()
}

#[test]
fn the_store_lost_under_load_turns_health_off_and_back_and_loses_nothing() {
    const AGENTS: usize = 3;
    const RECORDS: usize = 2000;
    let Some(db) =
        OwnDb::create("the_store_lost_under_load_turns_health_off_and_back_and_loses_nothing")
    else {
        return;
    };
    let (store, name) = (db.store.clone(), db.name.clone());

    let bin = binaries!();
    let token = Collector::create_org_and_token(&bin, &store, "acme");
    // Paced (1500 records/s for the org) so the outage lands mid-sync.
    let mut collector = Collector::start(&bin, &store, 0, &["--org-records-per-second", "1500"]);
    assert_eq!(collector.serving(), Some(true), "{}", collector.log());
    let agents: Vec<Arc<Agent>> = (0..AGENTS)
        .map(|_| Arc::new(Agent::new(&bin, &collector.url(), &token, "")))
        .collect();
    let mut expected = HashSet::new();
    for agent in &agents {
        let ids = agent.seed(10, RECORDS);
        expected.extend(agent.keys(&ids));
    }
    // One more agent that syncs by hand while the store is gone.
    let late = Agent::new(&bin, &collector.url(), &token, "");
    let late_ids = late.seed(2, 5);
    expected.extend(late.keys(&late_ids));
    let total = expected.len() as i64;
    let check = StoreCheck::open(&store, "acme");

    let deadline = Instant::now() + Duration::from_secs(150);
    let syncing: Vec<_> = agents
        .iter()
        .map(|agent| {
            let agent = Arc::clone(agent);
            std::thread::spawn(move || agent.sync_until_done(deadline))
        })
        .collect();
    let before = check.wait_for_count(1000, Duration::from_secs(60));
    let acknowledged: Vec<(String, String)> = agents
        .iter()
        .flat_map(|agent| agent.keys(&agent.acknowledged_ids()))
        .collect();

    // The database goes away for the collector: no new connections, and
    // the open ones (the collector's, the check's) cut.
    db.admin(&allow(&name, false));
    db.admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ));
    let went_down = collector.wait_for_health(false, HEALTH_LIMIT);

    // An agent syncing now hears that the store is unavailable and keeps
    // its records.
    let (out, _) = late.run(&["sync", "--timeout", "5s"], Duration::from_secs(60));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("store is unavailable"), "{stderr}");
    assert!(stderr.contains("records stay pending"), "{stderr}");
    assert!(!stderr.contains("cannot reach"), "{stderr}");
    assert!(!stderr.contains(&name), "no database detail: {stderr}");
    assert_eq!(late.status()["pending"], 5, "{stderr}");
    assert_eq!(collector.serving(), Some(false), "still down");

    // Back: health follows, and what was acknowledged before is there.
    db.admin(&allow(&name, true));
    let came_back = collector.wait_for_health(true, HEALTH_LIMIT);
    let stored: HashSet<(String, String)> = check.keys().into_iter().collect();
    let lost = acknowledged.iter().filter(|k| !stored.contains(*k)).count();
    assert_eq!(
        lost,
        0,
        "acknowledged before the outage, missing after it (of {})",
        acknowledged.len()
    );

    let (out, _) = late.run(&["sync", "--timeout", "30s"], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let attempts: Vec<u32> = syncing
        .into_iter()
        .map(|handle| handle.join().expect("a syncing agent failed"))
        .collect();
    eprintln!(
        "{before} of {total} stored before the outage ({} acknowledged); NOT_SERVING {went_down:?} after the break, SERVING {came_back:?} after the repair; sync attempts per agent: {attempts:?}",
        acknowledged.len()
    );
    assert!(
        before < total,
        "everything was stored before the outage; the test proved nothing"
    );
    assert_eq!(check.try_count(), Some(total));
    assert_stored_exactly_once(&check.keys(), &expected);
    for agent in agents.iter().map(|a| &**a).chain([&late]) {
        assert_eq!(agent.status()["pending"], 0);
    }

    // One line for the failure and one for the recovery, with a count of
    // the calls that failed in between; never the token.
    assert!(collector.is_running(), "{}", collector.log());
    assert_eq!(collector.terminate().code(), Some(0), "{}", collector.log());
    let log = collector.log();
    let down: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("health is NOT_SERVING"))
        .collect();
    let up: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("health is SERVING"))
        .collect();
    assert_eq!(down.len(), 1, "{log}");
    assert!(down[0].contains("ERROR"), "{log}");
    assert_eq!(up.len(), 1, "{log}");
    let failed: u64 = up[0]
        .split("failed_calls=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count of failed calls: {}", up[0]));
    assert!(failed >= 1, "the late agent's pushes at least: {}", up[0]);
    eprintln!("{}\n{}", down[0], up[0]);
    assert!(!log.contains(&token), "the token is never logged");
    check.close();
}

/// A database dropped and made again empty: NOT_SERVING while it is gone,
/// and SERVING once it is back, the collector having migrated it (its
/// probe writes a table the migrations make).
#[test]
fn a_dropped_database_made_again_is_migrated_and_serves() {
    let Some(db) = OwnDb::create("a_dropped_database_made_again_is_migrated_and_serves") else {
        return;
    };
    let (store, name) = (db.store.clone(), db.name.clone());
    let bin = binaries!();
    let token = Collector::create_org_and_token(&bin, &store, "acme");
    let mut collector = Collector::start(&bin, &store, 0, &[]);
    let agent = Agent::new(&bin, &collector.url(), &token, "");
    agent.seed(1, 3);
    let (out, _) = agent.run(&["sync", "--timeout", "30s"], Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    db.admin(&format!("DROP DATABASE {name} WITH (FORCE)"));
    collector.wait_for_health(false, HEALTH_LIMIT);
    agent.seed(1, 1);
    let (out, _) = agent.run(&["sync", "--timeout", "5s"], Duration::from_secs(60));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("store is unavailable"), "{stderr}");
    assert!(
        !stderr.contains("does not exist"),
        "no database detail: {stderr}"
    );
    assert_eq!(agent.status()["pending"], 1, "{stderr}");

    db.admin(&format!("CREATE DATABASE {name}"));
    collector.wait_for_health(true, HEALTH_LIMIT);
    let (migrations, records): (i64, i64) = runtime().block_on(async {
        let mut conn = sqlx::PgConnection::connect(&store).await.expect("connect");
        let migrations = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&mut conn)
            .await
            .expect("the collector migrated the new database");
        let records = sqlx::query_scalar("SELECT COUNT(*) FROM records")
            .fetch_one(&mut conn)
            .await
            .expect("the records table is back");
        (migrations, records)
    });
    assert!(migrations >= 2, "{migrations}");
    assert_eq!(records, 0);
    assert_eq!(collector.terminate().code(), Some(0), "{}", collector.log());
    let log = collector.log();
    assert_eq!(log.matches("health is NOT_SERVING").count(), 1, "{log}");
    assert_eq!(log.matches("health is SERVING").count(), 1, "{log}");
}

/// SQLite: another process holds the write lock under load. Health turns
/// NOT_SERVING (the probe write times out), SERVING once the lock is let
/// go, and every record ends up stored once.
#[test]
fn a_sqlite_store_locked_elsewhere_under_load_turns_health_off_and_back() {
    const AGENTS: usize = 2;
    const RECORDS: usize = 1500;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = TestDb::sqlite(dir.path());
    let store = db.url.clone();
    let bin = binaries!();
    let token = Collector::create_org_and_token(&bin, &store, "acme");
    let mut collector = Collector::start(&bin, &store, 0, &["--org-records-per-second", "1000"]);
    let agents: Vec<Arc<Agent>> = (0..AGENTS)
        .map(|_| Arc::new(Agent::new(&bin, &collector.url(), &token, "")))
        .collect();
    let mut expected = HashSet::new();
    for agent in &agents {
        let ids = agent.seed(5, RECORDS);
        expected.extend(agent.keys(&ids));
    }
    let total = expected.len() as i64;
    let check = StoreCheck::open(&store, "acme");
    let deadline = Instant::now() + Duration::from_secs(150);
    let syncing: Vec<_> = agents
        .iter()
        .map(|agent| {
            let agent = Arc::clone(agent);
            std::thread::spawn(move || agent.sync_until_done(deadline))
        })
        .collect();
    let before = check.wait_for_count(500, Duration::from_secs(60));

    // Held for less than the collector's 10 s busy timeout, so the batch
    // its writer was committing waits and goes through afterwards.
    let mut locker = runtime().block_on(async {
        let mut locker = sqlx::SqliteConnection::connect(&store)
            .await
            .expect("open the collector's file");
        sqlx::raw_sql("BEGIN EXCLUSIVE")
            .execute(&mut locker)
            .await
            .expect("take the write lock");
        locker
    });
    let locked = Instant::now();
    let went_down = collector.wait_for_health(false, HEALTH_LIMIT);
    runtime().block_on(async {
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut locker)
            .await
            .expect("let the lock go");
        let _ = locker.close().await;
    });
    let held = locked.elapsed();
    let came_back = collector.wait_for_health(true, HEALTH_LIMIT);

    let attempts: Vec<u32> = syncing
        .into_iter()
        .map(|handle| handle.join().expect("a syncing agent failed"))
        .collect();
    eprintln!(
        "{before} of {total} stored before the lock; NOT_SERVING {went_down:?} after it, lock held {held:?}, SERVING {came_back:?} after it went; sync attempts per agent: {attempts:?}"
    );
    assert!(before < total, "everything was stored before the lock");
    assert_stored_exactly_once(&check.keys(), &expected);
    for agent in &agents {
        assert_eq!(agent.status()["pending"], 0);
    }
    assert_eq!(collector.terminate().code(), Some(0), "{}", collector.log());
    let log = collector.log();
    assert_eq!(log.matches("health is NOT_SERVING").count(), 1, "{log}");
    assert_eq!(log.matches("health is SERVING").count(), 1, "{log}");
    check.close();
}
