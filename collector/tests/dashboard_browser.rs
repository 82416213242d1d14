//! Headless Chromium drives the dashboard of a real collector seeded with
//! runs over real gRPC: a browser without a session sees no data (the
//! login form, and a 401 from the API), logs in with a viewer token
//! through the form, and reads figures that match the database. Saves a
//! screenshot to `target/test-artifacts/dashboard.png`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them); skipped, saying so, where /usr/bin/chromium is absent.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::http;
use common::{Fixture, push, record};
use earlyexit_collector::store::{FAILED_SQL, Store};
use earlyexit_collector::testing::TestDb;
use earlyexit_proto::v1::RunRecord;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver child, killed on drop.
struct Driver {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Driver {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                let s = http::get(addr, "/status", None).await;
                if s.status == 200 && s.json()["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        // Debian's /usr/bin/chromium is a wrapper script; the driver wants
        // the browser itself.
        let binary = ["/usr/lib/chromium/chromium", CHROMIUM]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,2200",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let mut driver = Driver {
            child,
            addr,
            session: String::new(),
            _profile: profile,
        };
        let made = driver.call("POST", "/session", Some(caps)).await;
        driver.session = made["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {made}"))
            .to_owned();
        driver
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let a = http::request(
            self.addr,
            method,
            path,
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .await;
        let v = a.json();
        assert_eq!(a.status, 200, "{method} {path}: {v}");
        v["value"].clone()
    }

    async fn session(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.call(method, &path, body).await
    }

    async fn go(&self, url: &str) {
        self.session("POST", "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn url(&self) -> String {
        self.session("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn source(&self) -> String {
        self.session("GET", "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .session(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {v}"))
            .to_owned()
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        let v = self
            .session("GET", &format!("/element/{id}/text"), None)
            .await;
        v.as_str().unwrap().to_owned()
    }

    async fn stop(self) {
        let _ = self.session("DELETE", "", None).await;
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 600 runs over the last six days from three agents.
fn fleet(now_ms: i64, agent: usize) -> Vec<RunRecord> {
    let shapes = [
        ("cargo", "test", "rust", "match", None, 20.0),
        ("cargo", "test", "rust", "completed", Some(0), 95.0),
        ("cargo", "build", "rust", "completed", Some(0), 140.0),
        ("pytest", "test", "python", "completed", Some(1), 45.0),
        ("pytest", "test", "python", "timeout_idle", None, 300.0),
        ("npm", "test", "node", "completed", Some(0), 12.0),
        ("go", "build", "go", "success_pattern", None, 8.0),
    ];
    (0..200)
        .map(|i| {
            let (program, category, project, reason, code, runtime) = shapes[(i + agent) % 7];
            let mut r = record(&format!("run-{agent}-{i}"));
            let e = r.execution.as_mut().unwrap();
            e.started_at_ms = now_ms - 60_000 - i64::try_from(i).unwrap() * 2_500_000;
            e.program = Some(program.into());
            e.command_category = category.into();
            e.project_type = project.into();
            e.exit_reason = reason.into();
            e.child_exit_code = code;
            e.total_runtime = runtime + f64::from(u32::try_from(i % 10).unwrap());
            e.time_to_first_match = (reason == "match").then_some(15.0);
            e.earlyexit_version = format!("0.1.{agent}");
            r
        })
        .collect()
}

async fn scalar(store: &Store, sql: &str, org: i64, since: i64) -> i64 {
    match store {
        Store::Sqlite(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(org)
            .bind(since)
            .fetch_one(p)
            .await
            .unwrap(),
        Store::Postgres(p) => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(org)
            .bind(since)
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    target.join("test-artifacts")
}

#[tokio::test]
async fn a_browser_logs_in_and_sees_what_the_database_holds() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        eprintln!(
            "dashboard browser test skipped: {CHROMIUM} or {CHROMEDRIVER} is absent (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite(dir.path());
    let fx = Fixture::start_with(&db, |cfg| {
        cfg.http_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let addr = fx.running.http_addr.unwrap();
    let base = format!("http://{addr}");
    let viewer = fx
        .store
        .create_viewer_token("acme", Some("browser"))
        .await
        .unwrap()
        .token;
    let now = earlyexit_collector::store::now_ms();
    let mut client = fx.client().await;
    for agent in 0..3 {
        let runs = fleet(now, agent);
        let n = runs.len();
        let r = push(
            &mut client,
            Some(&fx.token),
            &format!("ci-runner-{agent}"),
            runs,
        )
        .await
        .unwrap();
        assert_eq!(r.accepted as usize, n);
    }

    let driver = Driver::start().await;

    // No session: the login form, no figures; the API answers 401.
    driver.go(&format!("{base}/")).await;
    assert_eq!(driver.url().await, format!("{base}/login"));
    let src = driver.source().await;
    assert!(
        !src.contains("total-runs"),
        "a page without login shows data"
    );
    assert!(src.contains("Viewer token"));
    driver.go(&format!("{base}/api/v1/summary")).await;
    let src = driver.source().await;
    assert!(src.contains("no credentials"), "{src}");
    assert!(!src.contains("\"runs\""), "{src}");

    // A wrong token is refused on the form.
    driver.go(&format!("{base}/login")).await;
    let field = driver.find("#token").await;
    driver
        .session(
            "POST",
            &format!("/element/{field}/value"),
            Some(json!({"text": "eec_wrong"})),
        )
        .await;
    let button = driver.find("#login").await;
    driver
        .session("POST", &format!("/element/{button}/click"), Some(json!({})))
        .await;
    assert!(
        driver
            .text("#login-message")
            .await
            .contains("Unknown or revoked token")
    );

    // Log in with the viewer token.
    let field = driver.find("#token").await;
    driver
        .session(
            "POST",
            &format!("/element/{field}/value"),
            Some(json!({"text": viewer})),
        )
        .await;
    let button = driver.find("#login").await;
    driver
        .session("POST", &format!("/element/{button}/click"), Some(json!({})))
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while driver.url().await != format!("{base}/") {
        assert!(
            Instant::now() < deadline,
            "login did not reach the dashboard"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The figures shown are the database's.
    let since = now - 7 * 86_400_000;
    let org = fx.org.id;
    let q = |cond: &str| {
        format!(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM records WHERE org_id = $1 AND started_at_ms >= $2{cond}"
        )
    };
    let runs = scalar(&fx.store, &q(""), org, since).await;
    let failed = scalar(&fx.store, &q(&format!(" AND {FAILED_SQL}")), org, since).await;
    let early = scalar(&fx.store, &q(" AND exit_reason = 'match'"), org, since).await;
    let agents = scalar(
        &fx.store,
        "SELECT CAST(COUNT(DISTINCT agent_id) AS BIGINT) FROM records WHERE org_id = $1 AND started_at_ms >= $2",
        org,
        since,
    )
    .await;
    assert_eq!(runs, 600);
    assert_eq!(driver.text("#total-runs").await, runs.to_string());
    assert_eq!(driver.text("#failed-runs").await, failed.to_string());
    assert_eq!(driver.text("#early-exits").await, early.to_string());
    assert_eq!(driver.text("#agent-count").await, agents.to_string());
    let matched = driver.text("b[data-reason=\"match\"]").await;
    assert_eq!(matched, early.to_string());
    let slowest = driver.text("#slowest-table tr:nth-child(2) td").await;
    assert_eq!(
        slowest, "pytest",
        "timeouts of 300 s make pytest the slowest"
    );
    assert!(driver.text("#agents-table").await.contains("ci-runner-2"));
    assert!(driver.text("#patterns-none").await.contains("No data yet"));

    // The screenshot, as a test artifact.
    let png = driver.session("GET", "/screenshot", None).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let out = artifacts();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("dashboard.png"), &png).unwrap();
    eprintln!("screenshot: {}", out.join("dashboard.png").display());

    driver.stop().await;
    fx.stop().await;
}
