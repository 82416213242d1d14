//! The harness of the workspace's end-to-end tests: `earlyexit` and
//! `earlyexit-collector` as real processes on 127.0.0.1, started, killed
//! and restarted by the tests in `tests/`.
//!
//! - [`Collector`]: `earlyexit-collector serve` on a fixed port (so a
//!   restart comes back where agents look for it), with `kill -9`,
//!   SIGTERM and restart, and its store opened read-side for checks.
//! - [`Agent`]: an `EARLYEXIT_HOME` with a config pointing at a collector;
//!   runs `earlyexit`, seeds thousands of recorded runs, reads the outbox.
//! - [`Guard`]: a child process killed (SIGKILL) and reaped when dropped,
//!   so no failing test leaves a process behind.
//!
//! Every wait here has a limit and fails the test with what was seen when
//! it runs out. Only 127.0.0.1 is used.
#![forbid(unsafe_code)]

mod process;
pub use process::wait_with_limit;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// The binaries under test; make it with [`binaries!`] in a test crate.
#[derive(Debug, Clone)]
pub struct Binaries {
    /// `earlyexit`.
    pub agent: PathBuf,
    /// `earlyexit-collector`.
    pub collector: PathBuf,
}

/// The [`Binaries`] cargo built for the calling test crate.
#[macro_export]
macro_rules! binaries {
    () => {
        $crate::Binaries {
            agent: env!("CARGO_BIN_EXE_e2e-earlyexit").into(),
            collector: env!("CARGO_BIN_EXE_e2e-earlyexit-collector").into(),
        }
    };
}

/// How long one `earlyexit` or admin command may take before the test fails.
pub const COMMAND_LIMIT: Duration = Duration::from_secs(60);

/// How long a collector may take to print `listening on`.
const START_LIMIT: Duration = Duration::from_secs(20);

/// A child process that is killed (SIGKILL) and reaped when dropped.
#[derive(Debug)]
pub struct Guard(Option<Child>);

impl Guard {
    /// Guards `child`.
    pub fn new(child: Child) -> Guard {
        Guard(Some(child))
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// The child, for its pipes.
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child is guarded")
    }

    /// `kill -9`, then reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) and waits up to `limit` for
    /// the exit; panics (after SIGKILL) when it does not come.
    pub fn signal_and_wait(&mut self, signal: i32, limit: Duration) -> ExitStatus {
        let mut child = self.0.take().expect("the child is guarded");
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} {}", child.id());
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "process {} did not exit within {limit:?} of signal {signal}",
                    child.id()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The exit status if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.0.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Waits for the exit and its output; kills it and panics after `limit`.
    pub fn wait_with_limit(mut self, limit: Duration) -> Output {
        let child = self.0.take().expect("the child is guarded");
        wait_with_limit(child, limit)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A port on 127.0.0.1 that was free a moment ago (bound, then closed).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Text of a pipe's bytes.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A current-thread runtime for the library calls the checks make.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// `earlyexit-collector serve` on a fixed port of 127.0.0.1, plaintext.
#[derive(Debug)]
pub struct Collector {
    bin: PathBuf,
    /// The store URL (`sqlite://…` or `postgres://…`).
    pub store: String,
    /// The port it listens on, across restarts.
    pub port: u16,
    extra: Vec<String>,
    /// The self-signed certificate's folder (`--tls-dir`) when it serves
    /// TLS; plaintext (`--insecure`) otherwise.
    tls_dir: Option<PathBuf>,
    process: Option<Guard>,
    /// Everything it printed on stderr, over all its lives.
    log: Arc<Mutex<String>>,
}

impl Collector {
    /// Creates the org `org` in `store` and a token for it with the admin
    /// commands; returns the token.
    pub fn create_org_and_token(bin: &Binaries, store: &str, org: &str) -> String {
        let admin = |args: &[&str]| {
            let child = Command::new(&bin.collector)
                .args(args)
                .args(["--store", store])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn earlyexit-collector");
            let out = wait_with_limit(child, COMMAND_LIMIT);
            assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
            text(&out.stdout).trim().to_string()
        };
        admin(&["org", "create", org]);
        admin(&["token", "create", "--org", org])
    }

    /// Starts `serve` on `port` (0: a free one) with `extra` flags.
    pub fn start(bin: &Binaries, store: &str, port: u16, extra: &[&str]) -> Collector {
        Self::start_with(bin, store, port, None, extra)
    }

    /// Starts `serve` with TLS: the self-signed certificate of `tls_dir`
    /// (made there when missing; `tls_dir/cert.pem` is what agents pin).
    pub fn start_tls(bin: &Binaries, store: &str, tls_dir: &std::path::Path) -> Collector {
        Self::start_with(bin, store, 0, Some(tls_dir.to_path_buf()), &[])
    }

    fn start_with(
        bin: &Binaries,
        store: &str,
        port: u16,
        tls_dir: Option<PathBuf>,
        extra: &[&str],
    ) -> Collector {
        let mut collector = Collector {
            bin: bin.collector.clone(),
            store: store.to_string(),
            port: if port == 0 { free_port() } else { port },
            extra: extra.iter().map(|s| s.to_string()).collect(),
            tls_dir,
            process: None,
            log: Arc::default(),
        };
        collector.restart();
        collector
    }

    /// `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.tls_dir.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Starts it again (it must be stopped), waiting for `listening on`.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "the collector is already running");
        let mut serve = Command::new(&self.bin);
        serve.args(["serve", "--store", &self.store]);
        match &self.tls_dir {
            Some(dir) => serve.arg("--tls-dir").arg(dir),
            None => serve.arg("--insecure"),
        };
        let mut child = serve
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn earlyexit-collector serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let guard = Guard::new(child);
        let log = Arc::clone(&self.log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                log.push_str(&line);
                log.push('\n');
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut first = String::new();
            let _ = BufReader::new(stdout).read_line(&mut first);
            let _ = tx.send(first);
        });
        let first = rx.recv_timeout(START_LIMIT).unwrap_or_default();
        let want = format!("listening on {}", self.url());
        assert_eq!(first.trim(), want, "collector log:\n{}", self.log());
        self.process = Some(guard);
    }

    /// `kill -9`: no shutdown, no drain.
    pub fn kill9(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill9();
        }
    }

    /// SIGTERM: the graceful stop; returns its exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut process = self.process.take().expect("the collector is running");
        process.signal_and_wait(libc::SIGTERM, Duration::from_secs(20))
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.process
            .as_mut()
            .is_some_and(|p| p.try_wait().is_none())
    }

    /// What it printed on stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// What `grpc.health.v1` of a plaintext collector says for the whole
    /// server (`""`): `Some(true)`
    /// for SERVING, `Some(false)` for any other status, `None` when it
    /// does not answer.
    pub fn serving(&self) -> Option<bool> {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_check_response::ServingStatus;
        use tonic_health::pb::health_client::HealthClient;
        let url = self.url();
        runtime().block_on(async move {
            let channel = tonic::transport::Channel::from_shared(url)
                .ok()?
                .connect_timeout(Duration::from_secs(5))
                .connect()
                .await
                .ok()?;
            let mut client = HealthClient::new(channel);
            let request = HealthCheckRequest {
                service: String::new(),
            };
            let answer = tokio::time::timeout(Duration::from_secs(5), client.check(request))
                .await
                .ok()?
                .ok()?;
            Some(answer.into_inner().status() == ServingStatus::Serving)
        })
    }

    /// Waits up to `limit` for health to say SERVING (`serving`) or not;
    /// returns how long it took. Panics with the collector's log when the
    /// limit passes.
    pub fn wait_for_health(&self, serving: bool, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.serving() == Some(serving) {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < limit,
                "health did not turn {} within {limit:?}; collector log:\n{}",
                if serving { "SERVING" } else { "NOT_SERVING" },
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The collector's store, read from the test (records of one org).
pub struct StoreCheck {
    runtime: tokio::runtime::Runtime,
    store: earlyexit_collector::store::Store,
    org_id: i64,
}

impl StoreCheck {
    /// Opens `store` for the records of `org`.
    pub fn open(store: &str, org: &str) -> StoreCheck {
        let runtime = runtime();
        let (store, org_id) = runtime.block_on(async {
            let store = earlyexit_collector::store::Store::connect(store)
                .await
                .expect("open the collector's store");
            let org = store.org(org).await.expect("the org exists");
            (store, org.id)
        });
        StoreCheck {
            runtime,
            store,
            org_id,
        }
    }

    /// Records stored for the org; `None` while the store cannot answer
    /// (a database restarting).
    pub fn try_count(&self) -> Option<i64> {
        self.runtime
            .block_on(self.store.count_records(self.org_id))
            .ok()
    }

    /// Records stored for the org.
    pub fn count(&self) -> i64 {
        self.try_count().expect("count the collector's records")
    }

    /// (agent_id, execution_id) of every stored record, duplicates kept.
    pub fn keys(&self) -> Vec<(String, String)> {
        self.runtime
            .block_on(self.store.record_keys(self.org_id))
            .expect("read the collector's record keys")
    }

    /// Waits up to `limit` for `n` records; returns the count then.
    pub fn wait_for_count(&self, n: i64, limit: Duration) -> i64 {
        let deadline = Instant::now() + limit;
        loop {
            let count = self.try_count().unwrap_or(-1);
            if count >= n || Instant::now() > deadline {
                return count;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes the pool.
    pub fn close(self) {
        self.runtime.block_on(self.store.close());
    }
}

/// Asserts that the stored keys are exactly `expected`, each once.
pub fn assert_stored_exactly_once(
    stored: &[(String, String)],
    expected: &HashSet<(String, String)>,
) {
    let unique: HashSet<&(String, String)> = stored.iter().collect();
    assert_eq!(
        unique.len(),
        stored.len(),
        "{} records are stored more than once",
        stored.len() - unique.len()
    );
    let missing = expected.iter().filter(|k| !unique.contains(k)).count();
    let unexpected = unique.iter().filter(|k| !expected.contains(**k)).count();
    assert_eq!(
        (missing, unexpected),
        (0, 0),
        "missing and unexpected records (of {} expected, {} stored)",
        expected.len(),
        stored.len()
    );
}

/// An agent: a private `EARLYEXIT_HOME` with a config for one collector.
#[derive(Debug)]
pub struct Agent {
    bin: PathBuf,
    /// The home folder.
    pub home: tempfile::TempDir,
}

impl Agent {
    /// A new home whose config points at `url` with `token`, plus `extra`
    /// top-level YAML lines.
    pub fn new(bin: &Binaries, url: &str, token: &str, extra: &str) -> Agent {
        let agent = Agent {
            bin: bin.agent.clone(),
            home: tempfile::tempdir().expect("tempdir"),
        };
        agent.configure(url, token, extra);
        agent
    }

    /// Rewrites the config.
    pub fn configure(&self, url: &str, token: &str, extra: &str) {
        std::fs::write(
            self.home.path().join("collector.token"),
            format!("{token}\n"),
        )
        .expect("write the token file");
        std::fs::write(
            self.home.path().join("config.yaml"),
            format!("collector:\n  url: {url}\n  token_file: collector.token\n{extra}"),
        )
        .expect("write config.yaml");
    }

    /// The local database.
    pub fn db(&self) -> PathBuf {
        self.home.path().join("telemetry.db")
    }

    /// `earlyexit ARGS` in this home with a predictable environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        process::earlyexit_command(&self.bin, self.home.path(), args)
    }

    /// Starts `earlyexit ARGS` with piped output, guarded.
    pub fn spawn(&self, args: &[&str]) -> Guard {
        Guard::new(
            self.cmd(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn earlyexit"),
        )
    }

    /// Runs `earlyexit ARGS` to completion (at most `limit`).
    pub fn run(&self, args: &[&str], limit: Duration) -> (Output, Duration) {
        let started = Instant::now();
        let output = self.spawn(args).wait_with_limit(limit);
        (output, started.elapsed())
    }

    /// `earlyexit sync --status --json`.
    pub fn status(&self) -> serde_json::Value {
        let (out, _) = self.run(&["sync", "--status", "--json"], COMMAND_LIMIT);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("status JSON")
    }

    /// The agent's id (made now, as its first sync would, when missing).
    pub fn agent_id(&self) -> String {
        earlyexit::sync::identity::load_or_create(self.home.path()).expect("the agent id")
    }

    /// Records `n` runs, every one pending in the outbox: `real` of them
    /// by running `earlyexit` (a completed command, a failing one, a
    /// pattern match), the rest as copies of those with fresh ids, written
    /// through the agent's own store (`Store::record_run`, the same
    /// transaction a run does). Returns their execution ids.
    pub fn seed(&self, real: usize, n: usize) -> Vec<String> {
        assert!(real >= 1 && real <= n);
        for i in 0..real {
            let (args, code): (&[&str], i32) = match i % 3 {
                0 => (&["NONE", "--", "true"], 1),
                1 => (&["NONE", "--", "false"], 1),
                _ => (
                    &[
                        "--delay-exit",
                        "0",
                        "error",
                        "--",
                        "echo",
                        "error: disk full",
                    ],
                    0,
                ),
            };
            let (out, _) = self.run(args, COMMAND_LIMIT);
            assert_eq!(out.status.code(), Some(code), "{}", text(&out.stderr));
        }
        let rt = runtime();
        rt.block_on(async {
            use earlyexit::store::outbox;
            let store = earlyexit::store::Store::open(&self.db())
                .await
                .expect("open the agent's database");
            // Runs land in the spool first; a sync moves them in the same way.
            store
                .ingest_spool(&earlyexit::spool::spool_path(&self.db()))
                .await
                .expect("move the spooled runs in");
            let pending = outbox::pending_after(&store, 0, i64::MAX)
                .await
                .expect("read the outbox");
            let mut ids: Vec<String> = pending.into_iter().map(|p| p.execution_id).collect();
            assert_eq!(ids.len(), real, "every real run is pending");
            let runs = store.runs_by_id(&ids).await.expect("read the runs");
            for i in real..n {
                let mut run = runs[i % runs.len()].clone();
                run.execution.execution_id = uuid::Uuid::now_v7().to_string();
                run.execution.started_at_ms += i as i64;
                store.record_run(&run).await.expect("record a run");
                ids.push(run.execution.execution_id);
            }
            store.close().await;
            ids
        })
    }

    /// The (agent_id, execution_id) keys of `ids` for this agent.
    pub fn keys(&self, ids: &[String]) -> HashSet<(String, String)> {
        let agent = self.agent_id();
        ids.iter().map(|id| (agent.clone(), id.clone())).collect()
    }

    /// Runs `earlyexit sync` until it exits 0, at most until `deadline`;
    /// returns the number of attempts. Panics with the last output when
    /// the deadline passes.
    pub fn sync_until_done(&self, deadline: Instant) -> u32 {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (out, _) = self.run(&["sync", "--timeout", "30s"], COMMAND_LIMIT);
            if out.status.success() {
                return attempts;
            }
            assert!(
                Instant::now() < deadline,
                "sync did not succeed by the deadline after {attempts} attempts; last: {}{}",
                text(&out.stdout),
                text(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ids of the runs the outbox holds as acknowledged by the collector.
    pub fn acknowledged_ids(&self) -> Vec<String> {
        runtime().block_on(async {
            use sqlx::ConnectOptions;
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(self.db())
                .read_only(true)
                .connect()
                .await
                .expect("open the agent's database");
            sqlx::query_scalar("SELECT execution_id FROM outbox WHERE state = 'acknowledged'")
                .fetch_all(&mut conn)
                .await
                .expect("read the outbox")
        })
    }
}
