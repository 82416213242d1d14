//! `earlyexit-collector bench-dashboard`: the dashboard's page weight and
//! time to answer over a store holding `--runs` runs.
//!
//! Fills a fresh store (SQLite file or PostgreSQL database) with runs of a
//! plausible fleet (50 agents, 12 commands, every exit reason, spread over
//! the last 7 days), through the record writer as ingest stores them;
//! starts a collector in this process with its HTTP listener on
//! 127.0.0.1:0; then asks for the dashboard page and each API route
//! `--requests` times with a viewer token, one request at a time, and
//! prints bytes and min / median / max time per route (the time is the
//! whole HTTP exchange on loopback: auth, store queries, rendering).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::records::sample_record;
use crate::config::ServeConfig;
use crate::store::{QueryColumns, RecordRow, Store, now_ms};

/// What `bench-dashboard` runs.
#[derive(Debug, Clone)]
pub struct DashboardOptions {
    /// `sqlite://DIR` or a PostgreSQL server URL (as for `bench`).
    pub store: String,
    /// Runs stored before measuring.
    pub runs: usize,
    /// Requests per route.
    pub requests: usize,
}

/// The routes measured.
const ROUTES: [&str; 8] = [
    "/",
    "/api/v1/summary",
    "/api/v1/runs-over-time",
    "/api/v1/commands/slowest",
    "/api/v1/commands/failing",
    "/api/v1/time-saved",
    "/api/v1/agents",
    "/api/v1/runs?limit=100",
];

const PROGRAMS: [(&str, &str, &str); 12] = [
    ("cargo", "test", "rust"),
    ("cargo", "build", "rust"),
    ("cargo", "clippy", "rust"),
    ("pytest", "test", "python"),
    ("mypy", "lint", "python"),
    ("npm", "test", "node"),
    ("npm", "build", "node"),
    ("go", "test", "go"),
    ("go", "build", "go"),
    ("mvn", "test", "java"),
    ("gradle", "build", "java"),
    ("terraform", "deploy", "terraform"),
];

const REASONS: [&str; 6] = [
    "completed",
    "completed",
    "completed",
    "match",
    "timeout_idle",
    "success_pattern",
];

/// A small deterministic generator (the figures must not depend on luck).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

fn rows(org_id: i64, first: usize, n: usize, now: i64, rng: &mut Lcg) -> Vec<RecordRow> {
    (first..first + n)
        .map(|i| {
            let agent = rng.next(50);
            let (program, category, project) = PROGRAMS[usize::try_from(rng.next(12)).unwrap_or(0)];
            let reason = REASONS[usize::try_from(rng.next(6)).unwrap_or(0)];
            let started = now - 1 - i64::try_from(rng.next(7 * 86_400_000)).unwrap_or(0);
            let runtime = 5.0 + f64::from(u32::try_from(rng.next(600)).unwrap_or(0));
            let mut record = sample_record(usize::try_from(agent).unwrap_or(0), i as u64);
            let e = record.execution.as_mut().expect("sample has one");
            e.started_at_ms = started;
            e.program = Some(program.into());
            e.command_category = category.into();
            e.project_type = project.into();
            e.exit_reason = reason.into();
            e.child_exit_code = (reason == "completed").then(|| i64::from(rng.next(5) == 0));
            e.total_runtime = if reason == "match" {
                runtime / 4.0
            } else {
                runtime
            };
            e.time_to_first_match = (reason == "match").then_some(runtime / 5.0);
            e.bundle_version = (rng.next(2) == 0).then(|| format!("patterns:{}", 1 + rng.next(3)));
            RecordRow {
                org_id,
                agent_id: Arc::from(format!("agent-{agent:02}").as_str()),
                execution_id: e.execution_id.as_str().into(),
                started_at_ms: started,
                received_at_ms: started + 1000,
                exit_reason: e.exit_reason.clone(),
                command_category: e.command_category.clone(),
                telemetry_level: e.telemetry_level.clone(),
                scrub_hits: 0,
                query: QueryColumns::of(e),
                body: record.encode_to_vec(),
            }
        })
        .collect()
}

/// One GET with a bearer token: status and body length.
async fn get(addr: SocketAddr, path: &str, token: &str) -> Result<(u16, usize)> {
    let mut s = TcpStream::connect(addr).await?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP head in the answer")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status in the answer")?;
    Ok((status, raw.len() - split - 4))
}

/// Runs the dashboard bench and prints its table.
pub async fn run(opts: DashboardOptions) -> Result<()> {
    let (url, _guard) = super::phase_store(&opts.store, "dashboard").await?;
    let store = Store::connect(&url).await?;
    let org = store.create_org("bench").await?;
    let token = store
        .create_viewer_token("bench", Some("bench"))
        .await?
        .token;
    let now = now_ms();
    let mut rng = Lcg(0x5eed);
    let filled = Instant::now();
    let mut writer = store.record_writer();
    let mut done = 0;
    while done < opts.runs {
        let n = (opts.runs - done).min(500);
        writer.insert(rows(org.id, done, n, now, &mut rng)).await?;
        writer.checkpoint(true).await?;
        done += n;
    }
    drop(writer);
    println!(
        "stored {} runs in {:.1} s ({} store)",
        opts.runs,
        filled.elapsed().as_secs_f64(),
        store.backend()
    );

    let mut cfg = ServeConfig::for_test(url.clone());
    cfg.http_listen = Some("127.0.0.1:0".parse().expect("valid address"));
    let running = crate::server::spawn(cfg).await?;
    let addr = running.http_addr.context("the HTTP listener is not up")?;
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9}",
        "route", "bytes", "min ms", "median", "max ms"
    );
    for path in ROUTES {
        let (status, _) = get(addr, path, &token).await?; // warm-up
        if status != 200 {
            bail!("GET {path} answered {status}");
        }
        let mut times = Vec::with_capacity(opts.requests);
        let mut bytes = 0;
        for _ in 0..opts.requests.max(1) {
            let started = Instant::now();
            let (status, len) = get(addr, path, &token).await?;
            times.push(started.elapsed());
            if status != 200 {
                bail!("GET {path} answered {status}");
            }
            bytes = len;
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{:<28} {:>9} {:>9.1} {:>9.1} {:>9.1}",
            path,
            bytes,
            ms(times[0]),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1])
        );
    }
    running.shutdown().await?;
    store.close().await;
    Ok(())
}
