//! `earlyexit-collector bench`: a load generator that measures a real
//! collector process over loopback gRPC, next to the ceiling of inserting
//! the same rows with plain sqlx in one process.
//!
//! Phases, each on a fresh database of the chosen backend:
//! 1. ceiling: `Store::insert_records`, batches of `--batch`, one durable
//!    transaction each, one after another, no gRPC.
//! 2. backlog: `--agents` agents push `--records` records as fast as the
//!    collector acknowledges them (batches of `--batch`, durable commit
//!    before every acknowledgement); the rate is the peak ingest rate and
//!    the time is the backlog drain time. The batches are encoded before
//!    the clock starts, as an agent's outbox is ready before it syncs.
//! 3. latency: batches sent open-loop at half the peak rate for
//!    `--latency-secs`; p50/p99/max acknowledgement latency.
//! 4. overload: `--overload-agents` agents push without pause for
//!    `--overload-secs`; counts RESOURCE_EXHAUSTED refusals; the
//!    collector's peak RSS (VmHWM) is read at the end.
//!
//! The collector runs as a child process (`earlyexit-collector serve
//! --insecure` on 127.0.0.1:0) so its memory is measured alone.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use earlyexit_proto::v1::ingest_client::IngestClient;
use earlyexit_proto::v1::{Execution, MatchEvent, PushRequest, PushResponse, RunRecord};
use prost::Message;
use tonic::transport::Channel;

use crate::store::{RecordRow, Store, now_ms};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Store URL prefix: `sqlite://DIR` (a file per phase is made in DIR)
    /// or a PostgreSQL server URL (a database per phase is made on it).
    pub store: String,
    /// Records in the backlog phase.
    pub records: usize,
    /// Records per batch.
    pub batch: usize,
    /// Concurrent agents in the backlog phase.
    pub agents: usize,
    /// Records in the ceiling phase.
    pub ceiling_records: usize,
    /// Length of the latency phase.
    pub latency_secs: u64,
    /// Agents in the overload phase.
    pub overload_agents: usize,
    /// Length of the overload phase.
    pub overload_secs: u64,
}

/// A record shaped like what an agent sends at the `anonymous` level: one
/// match with context, its text drawn from a bounded variety (see below)
/// the way templated fleet output repeats.
pub fn sample_record(agent: usize, n: u64) -> RunRecord {
    static TEMPLATE: std::sync::LazyLock<RunRecord> = std::sync::LazyLock::new(template);
    let mut r = TEMPLATE.clone();
    // A fleet's variety: 50 commands, 200 folders, 1,000 distinct failures.
    if let Some(e) = r.execution.as_mut() {
        e.execution_id = format!("0193a1fd-{agent:04x}-7000-8000-{n:012x}");
        e.started_at_ms = 1_763_700_000_000 + i64::try_from(n).unwrap_or(0);
        e.command = format!("cargo test -p crate{} <args:9f2c4e1a7b3d>", n % 50);
        e.working_directory = format!("~/src/service-{}/<path:1c2d3e>", n % 200);
    }
    if let Some(m) = r.matches.first_mut() {
        let k = n % 1000;
        m.line_content = format!(
            "test result: FAILED. <*> passed; {} failed; <*> ignored",
            k % 7
        );
        m.context_before = format!("failures:\n    store::tests::case_{k}\n");
    }
    r
}

fn template() -> RunRecord {
    let (agent, n) = (0usize, 0u64);
    RunRecord {
        execution: Some(Execution {
            execution_id: format!("0193a1fd-{agent:04x}-7000-8000-{n:012x}"),
            started_at_ms: 1_763_700_000_000 + i64::try_from(n).unwrap_or(0),
            mode: "command".into(),
            command: "cargo <args:9f2c4e1a7b3d>".into(),
            command_hash: "4f3c9a1b2e7d6c5a".into(),
            program: Some("cargo".into()),
            working_directory: "~/src/<path:1c2d3e>".into(),
            pattern: "error|FAILED".into(),
            pattern_type: "regex".into(),
            match_mode: "stdout".into(),
            monitored_fds: "1".into(),
            delay_exit: 10.0,
            kill_grace: 5.0,
            exit_code: 0,
            exit_reason: "match".into(),
            child_exit_code: Some(101),
            total_runtime: 48.2,
            time_to_first_output: Some(0.31),
            time_to_first_match: Some(37.9),
            match_count: 1,
            match_line_numbers: "2211".into(),
            total_lines_processed: 2214,
            stdout_lines: 2100,
            stderr_lines: 114,
            bytes_processed: 181_223,
            project_type: "rust".into(),
            command_category: "test".into(),
            load_avg_1m: Some(1.7),
            telemetry_level: "anonymous".into(),
            earlyexit_version: "0.1.0".into(),
            ..Default::default()
        }),
        matches: vec![MatchEvent {
            match_number: 1,
            timestamp_offset: 37.9,
            stream_source: "stdout".into(),
            line_number: 2211,
            line_content: "test result: FAILED. <*> passed; <*> failed; <*> ignored".into(),
            matched_substring: "FAILED".into(),
            match_position_start: 13,
            match_position_end: 19,
            context_before: "failures:\n    store::tests::<*>\n".into(),
            context_after: "error: test failed, to rerun pass `-p <*> --lib`\n".into(),
            kind: "error".into(),
        }],
        ..Default::default()
    }
}

/// Runs every phase and prints the results.
pub async fn run(opts: BenchOptions) -> Result<()> {
    let record_bytes = sample_record(0, 0).encoded_len();
    println!(
        "earlyexit-collector bench: {} store, batches of {}, records of {record_bytes} bytes",
        backend_name(&opts.store),
        opts.batch
    );

    // 1. Ceiling.
    let (url, _guard) = phase_store(&opts.store, "ceiling").await?;
    let ceiling = ceiling(&url, opts.ceiling_records, opts.batch).await?;
    println!(
        "ceiling (plain sqlx, one process, one durable transaction per batch): {:>9.0} records/s",
        ceiling
    );

    // 2–4 against a collector process.
    let (url, _guard2) = phase_store(&opts.store, "collector").await?;
    let mut collector = Collector::start(&url).await?;
    let token = {
        let store = Store::connect(&url).await?;
        store.create_org("bench").await?;
        let t = store.create_token("bench", Some("bench")).await?.token;
        store.close().await;
        t
    };

    let batches = Arc::new(encode_backlog(opts.records, opts.batch));
    let started = Instant::now();
    let cpu_before = collector.cpu_secs();
    let sent = push_backlog(&collector.url, &token, batches, opts.agents).await?;
    let drain = started.elapsed();
    let cpu = collector.cpu_secs().zip(cpu_before).map(|(a, b)| a - b);
    let peak = sent as f64 / drain.as_secs_f64();
    println!(
        "backlog: {sent} records from {} agents drained in {:.2} s = {:>9.0} records/s  ({:.2}x the ceiling)",
        opts.agents,
        drain.as_secs_f64(),
        peak,
        peak / ceiling
    );
    if let Some(cpu) = cpu {
        println!(
            "         the collector used {:.2} cores ({:.1} µs of CPU per record); the load generator shares the machine",
            cpu / drain.as_secs_f64(),
            cpu * 1e6 / sent as f64
        );
    }

    let lat = latency(
        &collector.url,
        &token,
        peak / 2.0,
        opts.batch,
        Duration::from_secs(opts.latency_secs),
    )
    .await?;
    println!(
        "latency at half the peak ({:.0} records/s, {} batches): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        peak / 2.0,
        lat.count,
        lat.p50,
        lat.p99,
        lat.max
    );

    let over = overload(
        &collector.url,
        &token,
        opts.overload_agents,
        opts.batch,
        Duration::from_secs(opts.overload_secs),
    )
    .await?;
    let rss = collector.peak_rss_mb();
    println!(
        "overload: {} agents for {} s: {} records acknowledged ({:.0}/s), {} batches refused busy; collector peak RSS {:.1} MB",
        opts.overload_agents,
        opts.overload_secs,
        over.acked,
        over.acked as f64 / opts.overload_secs as f64,
        over.busy,
        rss.unwrap_or(f64::NAN)
    );
    collector.stop()?;
    Ok(())
}

fn backend_name(url: &str) -> &'static str {
    if url.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    }
}

/// Drops a phase's PostgreSQL database at the end.
struct PhaseGuard(Option<crate::testing::TestDb>);

impl Drop for PhaseGuard {
    fn drop(&mut self) {
        if let Some(db) = self.0.take() {
            // Best effort, on a small runtime of its own.
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                std::thread::spawn(move || rt.block_on(db.cleanup()))
                    .join()
                    .ok();
            }
        }
    }
}

async fn phase_store(base: &str, phase: &str) -> Result<(String, PhaseGuard)> {
    if base.starts_with("postgres") {
        let db = crate::testing::TestDb::postgres_on(base).await?;
        Ok((db.url.clone(), PhaseGuard(Some(db))))
    } else {
        let dir = crate::store::sqlite_path(base)
            .context("--store must be sqlite://DIR or a postgres:// server URL")?;
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let file = dir.join(format!("bench-{phase}-{}.db", now_ms()));
        Ok((format!("sqlite://{}", file.display()), PhaseGuard(None)))
    }
}

async fn ceiling(url: &str, records: usize, batch: usize) -> Result<f64> {
    let store = Store::connect(url).await?;
    let org = store.create_org("ceiling").await?;
    let agent: Arc<str> = "agent-0".into();
    let mut writer = store.record_writer();
    let mut n = 0u64;
    let started = Instant::now();
    while (n as usize) < records {
        let rows: Vec<RecordRow> = (0..batch)
            .map(|_| {
                let r = sample_record(0, n);
                n += 1;
                let e = r.execution.as_ref().expect("set");
                RecordRow {
                    org_id: org.id,
                    agent_id: Arc::clone(&agent),
                    execution_id: e.execution_id.as_str().into(),
                    started_at_ms: e.started_at_ms,
                    received_at_ms: now_ms(),
                    exit_reason: e.exit_reason.clone(),
                    command_category: e.command_category.clone(),
                    telemetry_level: e.telemetry_level.clone(),
                    scrub_hits: 0,
                    body: r.encode_to_vec(),
                }
            })
            .collect();
        writer.insert(rows).await?;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    drop(writer);
    store.close().await;
    Ok(rate)
}

async fn client(url: &str) -> Result<IngestClient<Channel>> {
    Ok(IngestClient::connect(url.to_owned())
        .await
        .with_context(|| format!("cannot connect to {url}"))?
        .max_decoding_message_size(16 << 20))
}

fn request(
    token: &str,
    agent: usize,
    seq: u64,
    records: Vec<RunRecord>,
) -> tonic::Request<PushRequest> {
    let mut r = tonic::Request::new(PushRequest {
        agent_id: format!("agent-{agent}"),
        batch_seq: seq,
        records,
    });
    r.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("token is ASCII"),
    );
    r
}

/// Pushes one batch (made by `make`, again for each retry) until it is
/// acknowledged, backing off while the collector says it is busy.
async fn push_until_acked(
    c: &mut IngestClient<Channel>,
    token: &str,
    agent: usize,
    seq: u64,
    make: impl Fn() -> Vec<RunRecord>,
) -> Result<u64> {
    let mut pause = Duration::from_millis(5);
    loop {
        match c.push(request(token, agent, seq, make())).await {
            Ok(r) => {
                let r = r.into_inner();
                return Ok(u64::from(r.accepted + r.duplicates));
            }
            Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            Err(s) => bail!("push failed: {s}"),
        }
    }
}

/// Every batch of the backlog, encoded before the clock starts, so the
/// load generator spends its CPU on sending, not on building records.
fn encode_backlog(records: usize, batch: usize) -> Vec<Bytes> {
    let total = records as u64;
    (0..total)
        .step_by(batch)
        .map(|start| {
            let end = (start + batch as u64).min(total);
            let request = PushRequest {
                agent_id: "agent-0".into(),
                batch_seq: start,
                records: (start..end).map(|n| sample_record(0, n)).collect(),
            };
            Bytes::from(request.encode_to_vec())
        })
        .collect()
}

async fn push_backlog(
    url: &str,
    token: &str,
    batches: Arc<Vec<Bytes>>,
    agents: usize,
) -> Result<u64> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..agents {
        let channel = Channel::from_shared(url.to_owned())?.connect().await?;
        let (token, next, batches) = (token.to_owned(), Arc::clone(&next), Arc::clone(&batches));
        tasks.spawn(async move {
            let mut grpc = tonic::client::Grpc::new(channel);
            let mut acked = 0u64;
            loop {
                let i = usize::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap_or(usize::MAX);
                let Some(body) = batches.get(i) else {
                    return Ok::<u64, anyhow::Error>(acked);
                };
                let mut pause = Duration::from_millis(5);
                loop {
                    grpc.ready().await?;
                    let mut request = tonic::Request::new(body.clone());
                    request.metadata_mut().insert(
                        "authorization",
                        format!("Bearer {token}").parse().expect("token is ASCII"),
                    );
                    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
                        "/earlyexit.v1.Ingest/Push",
                    );
                    match grpc.unary(request, path, RawCodec).await {
                        Ok(reply) => {
                            let r = PushResponse::decode(reply.into_inner())?;
                            acked += u64::from(r.accepted + r.duplicates);
                            break;
                        }
                        Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                            tokio::time::sleep(pause).await;
                            pause = (pause * 2).min(Duration::from_millis(200));
                        }
                        Err(s) => bail!("push failed: {s}"),
                    }
                }
            }
        });
    }
    let mut acked = 0;
    while let Some(r) = tasks.join_next().await {
        acked += r??;
    }
    Ok(acked)
}

/// Sends and receives already-encoded message bodies.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Bytes>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

struct Latency {
    count: usize,
    p50: f64,
    p99: f64,
    max: f64,
}

async fn latency(
    url: &str,
    token: &str,
    rate: f64,
    batch: usize,
    length: Duration,
) -> Result<Latency> {
    let interval = Duration::from_secs_f64(batch as f64 / rate.max(1.0));
    let batches = (length.as_secs_f64() / interval.as_secs_f64()).ceil() as u64;
    let c = client(url).await?;
    let mut tasks = tokio::task::JoinSet::new();
    let start = tokio::time::Instant::now();
    for i in 0..batches {
        tokio::time::sleep_until(start + interval * u32::try_from(i).unwrap_or(u32::MAX)).await;
        let mut c = c.clone();
        let token = token.to_owned();
        let base = 1_000_000_000 + i * batch as u64;
        tasks.spawn(async move {
            let make = || {
                (base..base + batch as u64)
                    .map(|n| sample_record(1, n))
                    .collect()
            };
            let sent = Instant::now();
            push_until_acked(&mut c, &token, 1, i, make).await?;
            Ok::<f64, anyhow::Error>(sent.elapsed().as_secs_f64() * 1000.0)
        });
    }
    let mut ms = Vec::with_capacity(usize::try_from(batches).unwrap_or(0));
    while let Some(r) = tasks.join_next().await {
        ms.push(r??);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    Ok(Latency {
        count: ms.len(),
        p50: at(0.50),
        p99: at(0.99),
        max: *ms.last().unwrap_or(&0.0),
    })
}

struct Overload {
    acked: u64,
    busy: u64,
}

async fn overload(
    url: &str,
    token: &str,
    agents: usize,
    batch: usize,
    length: Duration,
) -> Result<Overload> {
    let acked = Arc::new(AtomicU64::new(0));
    let busy = Arc::new(AtomicU64::new(0));
    let deadline = tokio::time::Instant::now() + length;
    let mut tasks = tokio::task::JoinSet::new();
    for agent in 0..agents {
        let mut c = client(url).await?;
        let (token, acked, busy) = (token.to_owned(), Arc::clone(&acked), Arc::clone(&busy));
        tasks.spawn(async move {
            let mut n = 2_000_000_000u64 + agent as u64 * 100_000_000;
            while tokio::time::Instant::now() < deadline {
                let recs = (n..n + batch as u64).map(|k| sample_record(2, k)).collect();
                n += batch as u64;
                match c.push(request(&token, 2, n, recs)).await {
                    Ok(r) => {
                        acked.fetch_add(u64::from(r.into_inner().accepted), Ordering::Relaxed);
                    }
                    Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                        busy.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(s) => return Err(anyhow::anyhow!("push failed: {s}")),
                }
            }
            Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(Overload {
        acked: acked.load(Ordering::Relaxed),
        busy: busy.load(Ordering::Relaxed),
    })
}

/// The collector child process.
struct Collector {
    child: Child,
    url: String,
}

impl Collector {
    async fn start(store: &str) -> Result<Collector> {
        let exe: PathBuf = std::env::current_exe().context("cannot find this program")?;
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--insecure",
                "--store",
                store,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the collector")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await??;
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .with_context(|| format!("the collector did not start: {line:?}"))?
            .to_owned();
        Ok(Collector { child, url })
    }

    /// User + system CPU seconds used so far (Linux `/proc/PID/stat`).
    fn cpu_secs(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which may hold spaces) in parentheses.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    }

    /// Peak resident memory so far, MB (Linux `VmHWM`).
    fn peak_rss_mb(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }

    fn stop(&mut self) -> Result<()> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait()?;
        if !status.success() {
            bail!("the collector exited with {status}");
        }
        Ok(())
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
