//! Two collector replicas on one store and one certificate: an agent with
//! `collector.urls` and `collector.ca` set once syncs through the first,
//! fails over to the second when the first stops (no certificate error:
//! they serve the same certificate), and back again; every record is
//! stored once.
//!
//! On the PostgreSQL server of `EARLYEXIT_TEST_DATABASE_URL` when it is set
//! (the replicas' usual store), else on one SQLite file both replicas open.

use std::collections::HashSet;
use std::time::Duration;

use earlyexit_collector::testing::TestDb;
use earlyexit_e2e::{
    Agent, Collector, StoreCheck, assert_stored_exactly_once, binaries, runtime, text,
};

/// Points `agent` at both replicas, trusting the shared certificate.
fn configure(agent: &Agent, urls: &[String], ca: &std::path::Path) {
    std::fs::write(
        agent.home.path().join("config.yaml"),
        format!(
            "collector:\n  urls: [{}]\n  token_file: collector.token\n  ca: {}\n",
            urls.join(", "),
            ca.display()
        ),
    )
    .expect("write config.yaml");
}

fn sync_ok(agent: &Agent) -> String {
    let (out, _) = agent.run(&["sync", "--timeout", "30s"], Duration::from_secs(90));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}{stderr}", text(&out.stdout));
    assert!(!stderr.contains("BadSignature"), "{stderr}");
    stderr
}

#[test]
fn an_agent_fails_over_between_replicas_sharing_one_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = runtime()
        .block_on(TestDb::postgres("replicas"))
        .expect("create the test database")
        .unwrap_or_else(|| TestDb::sqlite(dir.path()));
    let store = db.url.clone();
    let bin = binaries!();
    let token = Collector::create_org_and_token(&bin, &store, "acme");

    // Both start at once on one certificate folder: one makes the
    // certificate, the other waits for it and serves the same.
    let tls = dir.path().join("tls");
    let (mut a, mut b) = std::thread::scope(|s| {
        let a = s.spawn(|| Collector::start_tls(&bin, &store, &tls));
        let b = s.spawn(|| Collector::start_tls(&bin, &store, &tls));
        (a.join().expect("replica a"), b.join().expect("replica b"))
    });
    let ca = tls.join("cert.pem");
    assert!(ca.exists());
    let urls = vec![a.url(), b.url()];

    let agent = Agent::new(&bin, &a.url(), &token, "");
    configure(&agent, &urls, &ca);
    let mut ids = agent.seed(2, 4);
    sync_ok(&agent);
    let status = agent.status();
    assert_eq!(status["pending"], 0);
    assert_eq!(status["collector"], urls.join(", "));

    // The first replica stops: the agent goes to the second.
    assert_eq!(a.terminate().code(), Some(0), "{}", a.log());
    ids.extend(agent.seed(1, 3));
    sync_ok(&agent);
    assert_eq!(agent.status()["pending"], 0);

    // The first is back and the second stops: round robin brings the
    // agent back to the first.
    a.restart();
    assert_eq!(b.terminate().code(), Some(0), "{}", b.log());
    ids.extend(agent.seed(1, 3));
    sync_ok(&agent);
    assert_eq!(agent.status()["pending"], 0);

    let check = StoreCheck::open(&store, "acme");
    let expected: HashSet<(String, String)> = agent.keys(&ids);
    assert_eq!(expected.len(), 10);
    assert_stored_exactly_once(&check.keys(), &expected);
    check.close();
    assert_eq!(a.terminate().code(), Some(0), "{}", a.log());
    runtime().block_on(db.cleanup());
}
