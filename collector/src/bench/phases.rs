//! The four phases of one round: the plain-sqlx ceiling, the backlog drain
//! (peak ingest rate), open-loop latency at a given rate, and overload.
//! Each returns its figures; printing is the caller's job.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use earlyexit_proto::v1::ingest_client::IngestClient;
use earlyexit_proto::v1::{PushRequest, RunRecord};
use prost::Message;
use tonic::transport::Channel;

use super::grpc::Pusher;
use super::records::{encode_batches, sample_record};
use super::summary::{PushTime, quantile};
use crate::store::{QueryColumns, RecordRow, Store, now_ms};

/// Agents whose records each phase sends, so the phases of a round never
/// send the same key twice (every row the collector writes is new).
const BACKLOG_AGENT: usize = 0;
const LATENCY_AGENT: usize = 1;
const OVERLOAD_AGENT: usize = 2;

/// The slowest share of Pushes whose breakdown is reported: the ones that
/// make the p99.
const TAIL: f64 = 0.01;

/// Inserts `records` rows with plain sqlx, `batch` per durable
/// transaction, one after another, checkpointing as the collector's writer
/// does when idle; returns rows per second.
pub async fn ceiling(url: &str, records: usize, batch: usize) -> Result<f64> {
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
                    query: QueryColumns::of(e),
                    body: r.encode_to_vec(),
                }
            })
            .collect();
        writer.insert(rows).await?;
        // One process, one insert after another: idle between them.
        writer.checkpoint(true).await?;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    drop(writer);
    store.close().await;
    Ok(rate)
}

/// The backlog's batches, encoded before the clock starts, as an agent's
/// outbox is ready before it syncs.
pub fn backlog_batches(records: usize, batch: usize) -> Arc<Vec<Bytes>> {
    Arc::new(encode_batches(BACKLOG_AGENT, 0, records, batch))
}

/// `agents` connections push `batches` as fast as they are acknowledged,
/// each taking the next batch not yet sent; returns the records
/// acknowledged.
pub async fn backlog(
    url: &str,
    token: &str,
    batches: Arc<Vec<Bytes>>,
    agents: usize,
) -> Result<u64> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..agents {
        let mut pusher = Pusher::connect(url, token).await?;
        let (next, batches) = (Arc::clone(&next), Arc::clone(&batches));
        tasks.spawn(async move {
            let (mut acked, mut busy) = (0u64, 0u64);
            loop {
                let i = usize::try_from(next.fetch_add(1, Ordering::Relaxed)).unwrap_or(usize::MAX);
                let Some(body) = batches.get(i) else {
                    return Ok::<u64, anyhow::Error>(acked);
                };
                acked += pusher.push_until_acked(body, &mut busy).await?.records;
            }
        });
    }
    let mut acked = 0;
    while let Some(r) = tasks.join_next().await {
        acked += r??;
    }
    Ok(acked)
}

/// Acknowledgement latency of Pushes sent open-loop at a fixed rate.
pub struct Latency {
    /// Pushes sent.
    pub count: usize,
    /// Client-side percentiles, ms.
    pub p50: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// Slowest, ms.
    pub max: f64,
    /// The mean breakdown of every Push.
    pub all: PushTime,
    /// The mean breakdown of the slowest [`TAIL`] of Pushes.
    pub tail: PushTime,
}

/// Sends a batch of `batch` records every `batch / rate` seconds for
/// `length`, each on its own task so a slow answer does not hold the next
/// send back; the batches are encoded before the clock starts.
pub async fn latency(
    url: &str,
    token: &str,
    rate: f64,
    batch: usize,
    length: Duration,
) -> Result<Latency> {
    let interval = Duration::from_secs_f64(batch as f64 / rate.max(1.0));
    let count = (length.as_secs_f64() / interval.as_secs_f64()).ceil() as usize;
    let batches = encode_batches(LATENCY_AGENT, 1_000_000_000, count * batch, batch);
    let pusher = Pusher::connect(url, token).await?;
    let mut tasks = tokio::task::JoinSet::new();
    let start = tokio::time::Instant::now();
    for (i, body) in batches.into_iter().enumerate() {
        tokio::time::sleep_until(start + interval * u32::try_from(i).unwrap_or(u32::MAX)).await;
        let mut pusher = pusher.clone();
        tasks.spawn(async move {
            let sent = Instant::now();
            let ack = pusher.push_until_acked(&body, &mut 0).await?;
            let ms = sent.elapsed().as_secs_f64() * 1e3;
            Ok::<PushTime, anyhow::Error>(PushTime::from_header(ms, ack.server_timing.as_deref()))
        });
    }
    let mut times = Vec::with_capacity(count);
    while let Some(r) = tasks.join_next().await {
        times.push(r??);
    }
    times.sort_by(|a, b| a.client.total_cmp(&b.client));
    let client: Vec<f64> = times.iter().map(|t| t.client).collect();
    let tail_from = ((times.len() as f64) * (1.0 - TAIL)).floor() as usize;
    Ok(Latency {
        count: times.len(),
        p50: quantile(&client, 0.50),
        p99: quantile(&client, 0.99),
        max: client.last().copied().unwrap_or(f64::NAN),
        all: PushTime::mean(&times),
        tail: PushTime::mean(&times[tail_from.min(times.len().saturating_sub(1))..]),
    })
}

/// What the overload phase saw.
pub struct Overload {
    /// Records acknowledged.
    pub acked: u64,
    /// Pushes refused busy (RESOURCE_EXHAUSTED).
    pub busy: u64,
}

/// `agents` push without pause until `length` is over, building each batch
/// as they go; refusals are counted, not retried.
pub async fn overload(
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
                let recs = (n..n + batch as u64)
                    .map(|k| sample_record(OVERLOAD_AGENT, k))
                    .collect();
                n += batch as u64;
                match c.push(request(&token, OVERLOAD_AGENT, n, recs)).await {
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
