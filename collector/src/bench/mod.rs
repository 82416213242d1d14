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
//! `bench-dashboard` ([`run_dashboard`]) measures the dashboard and API
//! over a filled store instead.
//!
//! The collector runs as a child process (`earlyexit-collector serve
//! --insecure` on 127.0.0.1:0) so its memory is measured alone.
//!
//! A round is all four phases on fresh databases; `--repeat` rounds run
//! one after another and every figure is reported as min / median / max
//! over them, because one run on a shared machine says little. Each phase
//! also records what else the machine was doing (load average, other
//! processes' CPU; see [`machine`]), and the latency phase splits each
//! Push's acknowledgement time by the collector's `server-timing` header
//! ([`summary::PushTime`]).

mod collector;
mod dashboard;
mod grpc;
mod machine;
mod phases;
mod records;
mod summary;

pub use dashboard::{DashboardOptions, run as run_dashboard};
pub use records::sample_record;

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use prost::Message;

use crate::store::{Store, now_ms};
use collector::Collector;
use machine::{Neighbours, Snapshot};
use summary::{PushTime, Spread};

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
    /// Rounds of all phases.
    pub repeat: usize,
}

/// Runs `opts.repeat` rounds of every phase, printing each round's
/// figures as it ends and then min / median / max over the rounds.
pub async fn run(opts: BenchOptions) -> Result<()> {
    println!(
        "earlyexit-collector bench: {} store, batches of {}, records of {} bytes, {} rounds, {} CPUs",
        backend_name(&opts.store),
        opts.batch,
        sample_record(0, 0).encoded_len(),
        opts.repeat.max(1),
        machine::cpus()
    );
    let mut rounds = Vec::new();
    for k in 1..=opts.repeat.max(1) {
        println!("-- round {k}/{}", opts.repeat.max(1));
        let r = round(&opts).await?;
        r.print(&opts);
        rounds.push(r);
    }
    print_summary(&opts, &rounds);
    Ok(())
}

/// Every figure of one round.
struct Round {
    ceiling: f64,
    ceiling_load: Neighbours,
    acked: u64,
    drain: Duration,
    collector_cpu: Option<f64>,
    backlog_load: Neighbours,
    latency: phases::Latency,
    latency_rate: f64,
    latency_load: Neighbours,
    overload: phases::Overload,
    overload_load: Neighbours,
    rss_mb: Option<f64>,
}

impl Round {
    fn peak(&self) -> f64 {
        self.acked as f64 / self.drain.as_secs_f64()
    }
}

/// One round: the ceiling, then a fresh collector for the other phases.
async fn round(opts: &BenchOptions) -> Result<Round> {
    let postgres = backend_name(&opts.store) == "postgres";

    let (url, _ceiling_db) = phase_store(&opts.store, "ceiling").await?;
    let before = Snapshot::take(None, postgres);
    let ceiling = phases::ceiling(&url, opts.ceiling_records, opts.batch).await?;
    let ceiling_load = before.until(&Snapshot::take(None, postgres));

    let (url, _collector_db) = phase_store(&opts.store, "collector").await?;
    let mut collector = Collector::start(&url).await?;
    let pid = Some(collector.pid());
    let token = bench_token(&url).await?;

    let batches = phases::backlog_batches(opts.records, opts.batch);
    let before = Snapshot::take(pid, postgres);
    let cpu_before = machine::cpu_secs(collector.pid());
    let started = Instant::now();
    let acked = phases::backlog(&collector.url, &token, batches, opts.agents).await?;
    let drain = started.elapsed();
    let collector_cpu = machine::cpu_secs(collector.pid())
        .zip(cpu_before)
        .map(|(a, b)| a - b);
    let backlog_load = before.until(&Snapshot::take(pid, postgres));

    let latency_rate = acked as f64 / drain.as_secs_f64() / 2.0;
    let before = Snapshot::take(pid, postgres);
    let latency = phases::latency(
        &collector.url,
        &token,
        latency_rate,
        opts.batch,
        Duration::from_secs(opts.latency_secs),
    )
    .await?;
    let latency_load = before.until(&Snapshot::take(pid, postgres));

    let before = Snapshot::take(pid, postgres);
    let overload = phases::overload(
        &collector.url,
        &token,
        opts.overload_agents,
        opts.batch,
        Duration::from_secs(opts.overload_secs),
    )
    .await?;
    let overload_load = before.until(&Snapshot::take(pid, postgres));
    let rss_mb = machine::peak_rss_mb(collector.pid());
    collector.stop()?;

    Ok(Round {
        ceiling,
        ceiling_load,
        acked,
        drain,
        collector_cpu,
        backlog_load,
        latency,
        latency_rate,
        latency_load,
        overload,
        overload_load,
        rss_mb,
    })
}

/// An org and a token on the collector's store, for the agents.
async fn bench_token(url: &str) -> Result<String> {
    let store = Store::connect(url).await?;
    store.create_org("bench").await?;
    let token = store.create_token("bench", Some("bench")).await?.token;
    store.close().await;
    Ok(token)
}

impl Round {
    fn print(&self, opts: &BenchOptions) {
        let peak = self.peak();
        let secs = self.drain.as_secs_f64();
        println!(
            "ceiling (plain sqlx, one process, one durable transaction per batch): {:>9.0} records/s",
            self.ceiling
        );
        println!("         {}", show_load(&self.ceiling_load));
        println!(
            "backlog: {} records from {} agents drained in {secs:.2} s = {peak:>9.0} records/s  ({:.2}x the ceiling)",
            self.acked,
            opts.agents,
            peak / self.ceiling
        );
        if let Some(cpu) = self.collector_cpu {
            println!(
                "         the collector used {:.2} cores ({:.1} µs of CPU per record)",
                cpu / secs,
                cpu * 1e6 / self.acked as f64
            );
        }
        println!("         {}", show_load(&self.backlog_load));
        let lat = &self.latency;
        println!(
            "latency at half the peak ({:.0} records/s, {} batches): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.latency_rate, lat.count, lat.p50, lat.p99, lat.max
        );
        println!("         mean push:     {}", lat.all);
        println!("         slowest 1 %:   {}", lat.tail);
        println!("         {}", show_load(&self.latency_load));
        println!(
            "overload: {} agents for {} s: {} records acknowledged ({:.0}/s), {} batches refused busy; collector peak RSS {:.1} MB",
            opts.overload_agents,
            opts.overload_secs,
            self.overload.acked,
            self.overload.acked as f64 / opts.overload_secs as f64,
            self.overload.busy,
            self.rss_mb.unwrap_or(f64::NAN)
        );
        println!("         {}", show_load(&self.overload_load));
    }
}

/// The machine's load over a phase, in one line.
fn show_load(n: &Neighbours) -> String {
    format!(
        "machine: load {:.2} -> {:.2}; CPU in use {:.2} cores: bench {:.2}, collector {:.2}, database {:.2}, other processes {:.2}; iowait {:.2} cores; others wrote {:.1} MB/s to disk",
        n.load_before,
        n.load_after,
        n.machine,
        n.bench,
        n.collector,
        n.database,
        n.others,
        n.iowait,
        n.others_written_mb_s
    )
}

/// Min / median / max of every figure over the rounds.
fn print_summary(opts: &BenchOptions, rounds: &[Round]) {
    let spread = |f: &dyn Fn(&Round) -> f64| Spread::of(rounds.iter().map(f));
    let line = |name: &str, s: Spread, decimals: usize, unit: &str| {
        println!("  {name:<36} {}{unit}", s.show(decimals));
    };
    println!(
        "== {} rounds, min / median / max ({} store)",
        rounds.len(),
        backend_name(&opts.store)
    );
    line("ceiling, records/s", spread(&|r| r.ceiling), 0, "");
    line("ingest (backlog), records/s", spread(&|r| r.peak()), 0, "");
    line(
        "ingest / ceiling (same round)",
        spread(&|r| r.peak() / r.ceiling),
        2,
        "x",
    );
    line(
        "backlog drained in",
        spread(&|r| r.drain.as_secs_f64()),
        2,
        " s",
    );
    line(
        "collector CPU during backlog",
        spread(&|r| {
            r.collector_cpu
                .map_or(f64::NAN, |c| c / r.drain.as_secs_f64())
        }),
        2,
        " cores",
    );
    line(
        "collector CPU per record",
        spread(&|r| {
            r.collector_cpu
                .map_or(f64::NAN, |c| c * 1e6 / r.acked as f64)
        }),
        1,
        " µs",
    );
    line(
        "latency p50 at half peak",
        spread(&|r| r.latency.p50),
        1,
        " ms",
    );
    line(
        "latency p99 at half peak",
        spread(&|r| r.latency.p99),
        1,
        " ms",
    );
    line(
        "latency max at half peak",
        spread(&|r| r.latency.max),
        1,
        " ms",
    );
    type Part = fn(&PushTime) -> f64;
    let parts: [(&str, Part); 7] = [
        ("prepare", |t| t.prepare),
        ("queue", |t| t.queue),
        ("checkpoint", |t| t.checkpoint),
        ("statements", |t| t.statements),
        ("commit", |t| t.commit),
        ("wake", |t| t.wake),
        ("outside the handler", |t| t.outside),
    ];
    for (name, part) in parts {
        line(
            &format!("  slowest 1 %: {name}"),
            spread(&|r| part(&r.latency.tail)),
            1,
            " ms",
        );
    }
    line(
        "  slowest 1 %: rows in their group",
        spread(&|r| r.latency.tail.group_rows),
        0,
        "",
    );
    line(
        "  every push: rows in its group",
        spread(&|r| r.latency.all.group_rows),
        0,
        "",
    );
    line(
        "overload acknowledged, records/s",
        spread(&|r| r.overload.acked as f64 / opts.overload_secs as f64),
        0,
        "",
    );
    line(
        "collector peak RSS",
        spread(&|r| r.rss_mb.unwrap_or(f64::NAN)),
        1,
        " MB",
    );
    type Load = fn(&Round) -> &Neighbours;
    let phases: [(&str, Load); 4] = [
        ("ceiling", |r| &r.ceiling_load),
        ("backlog", |r| &r.backlog_load),
        ("latency", |r| &r.latency_load),
        ("overload", |r| &r.overload_load),
    ];
    for (name, load) in phases {
        line(
            &format!("{name}: load average at start"),
            spread(&|r| load(r).load_before),
            2,
            "",
        );
        line(
            &format!("{name}: other processes' CPU"),
            spread(&|r| load(r).others),
            2,
            " cores",
        );
        line(
            &format!("{name}: iowait"),
            spread(&|r| load(r).iowait),
            2,
            " cores",
        );
        line(
            &format!("{name}: others' disk writes"),
            spread(&|r| load(r).others_written_mb_s),
            1,
            " MB/s",
        );
    }
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
