//! `GET /metrics`: the collector's counters in the Prometheus text format
//! (version 0.0.4). Needs a token like every data route (Prometheus:
//! `authorization: {credentials: TOKEN}` in the scrape config).
//!
//! These are this process's counters since it started (per replica). The
//! per-org series are the scraping token's org only; the other series are
//! the replica's totals over every org.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::ApiCaller;
use crate::metrics::ACK_BUCKETS_S;

/// The metric name prefix.
const P: &str = "earlyexit_collector";

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {P}_{name} {help}");
    let _ = writeln!(out, "# TYPE {P}_{name} {kind}");
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text of `/metrics` for `state`, with the per-org series of `org`.
pub fn render(state: &AppState, org: &str) -> String {
    let s = &state.stats;
    let m = &state.metrics;
    let c = &state.connections;
    let mut out = String::with_capacity(4096);
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);

    family(
        &mut out,
        "records_accepted_total",
        "counter",
        "Records newly stored (the ingest rate is its rate()).",
    );
    let _ = writeln!(out, "{P}_records_accepted_total {}", load(&s.accepted));
    family(
        &mut out,
        "records_duplicate_total",
        "counter",
        "Records already stored, sent again (not stored twice).",
    );
    let _ = writeln!(out, "{P}_records_duplicate_total {}", load(&s.duplicates));
    family(
        &mut out,
        "records_rejected_total",
        "counter",
        "Records refused by name, by reason.",
    );
    for (why, n) in m.records_rejected() {
        let _ = writeln!(
            out,
            "{P}_records_rejected_total{{reason=\"{}\"}} {n}",
            why.label()
        );
    }
    family(
        &mut out,
        "pushes_refused_total",
        "counter",
        "Push calls refused whole (nothing stored), by reason.",
    );
    for (why, n) in m.pushes_refused() {
        let _ = writeln!(
            out,
            "{P}_pushes_refused_total{{reason=\"{}\"}} {n}",
            why.label()
        );
    }
    family(
        &mut out,
        "scrub_catches_total",
        "counter",
        "Fields the collector's re-scrubber changed (secrets the agents missed).",
    );
    let _ = writeln!(out, "{P}_scrub_catches_total {}", load(&s.scrub_hits));
    family(
        &mut out,
        "store_errors_total",
        "counter",
        "Group transactions the store failed.",
    );
    let _ = writeln!(out, "{P}_store_errors_total {}", load(&m.store_errors));
    family(
        &mut out,
        "store_up",
        "gauge",
        "1 while the store takes writes, 0 while it does not.",
    );
    let _ = writeln!(out, "{P}_store_up {}", u8::from(state.health.is_serving()));
    family(
        &mut out,
        "queue_batches",
        "gauge",
        "Push batches waiting for or in a store transaction.",
    );
    let _ = writeln!(out, "{P}_queue_batches {}", state.writer.queued_batches());
    family(
        &mut out,
        "queue_bytes",
        "gauge",
        "Decoded bytes of those batches (bounded by limits.max_inflight_bytes).",
    );
    let _ = writeln!(out, "{P}_queue_bytes {}", state.writer.queued_bytes());
    family(
        &mut out,
        "queue_capacity_bytes",
        "gauge",
        "The queue's bound, bytes.",
    );
    let _ = writeln!(out, "{P}_queue_capacity_bytes {}", state.writer.capacity());
    family(
        &mut out,
        "ack_latency_seconds",
        "histogram",
        "Time from a Push reaching the handler to its acknowledgement (after the durable commit).",
    );
    let (buckets, sum) = m.ack_latency.snapshot();
    for (le, n) in ACK_BUCKETS_S.iter().zip(&buckets) {
        let _ = writeln!(out, "{P}_ack_latency_seconds_bucket{{le=\"{le}\"}} {n}");
    }
    let total = buckets.last().copied().unwrap_or(0);
    let _ = writeln!(out, "{P}_ack_latency_seconds_bucket{{le=\"+Inf\"}} {total}");
    let _ = writeln!(out, "{P}_ack_latency_seconds_sum {sum}");
    let _ = writeln!(out, "{P}_ack_latency_seconds_count {total}");
    family(
        &mut out,
        "subscribed_agents",
        "gauge",
        "Open Updates.Subscribe streams (agents waiting for bundles).",
    );
    let _ = writeln!(
        out,
        "{P}_subscribed_agents {}",
        m.subscribed.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "connections_open",
        "gauge",
        "gRPC TCP connections open.",
    );
    let _ = writeln!(
        out,
        "{P}_connections_open {}",
        c.open.load(Ordering::Relaxed)
    );
    family(
        &mut out,
        "connections_refused_total",
        "counter",
        "gRPC connections closed at accept because limits.max_connections were open.",
    );
    let _ = writeln!(out, "{P}_connections_refused_total {}", load(&c.refused));
    family(
        &mut out,
        "dashboard_sessions",
        "gauge",
        "Live dashboard sessions in this replica.",
    );
    let _ = writeln!(out, "{P}_dashboard_sessions {}", state.sessions.len());
    let orgs: Vec<_> = m
        .orgs()
        .into_iter()
        .filter(|(name, _)| name == org)
        .collect();
    for (name, kind, help) in [
        (
            "org_records_accepted_total",
            "counter",
            "Records newly stored, per org.",
        ),
        (
            "org_records_duplicate_total",
            "counter",
            "Duplicate records, per org.",
        ),
        (
            "org_records_rejected_total",
            "counter",
            "Records refused by name, per org.",
        ),
    ] {
        family(&mut out, name, kind, help);
        for (org, counters) in &orgs {
            let v = match name {
                "org_records_accepted_total" => load(&counters.accepted),
                "org_records_duplicate_total" => load(&counters.duplicates),
                _ => load(&counters.rejected),
            };
            let _ = writeln!(out, "{P}_{name}{{org=\"{}\"}} {v}", escape_label(org));
        }
    }
    out
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>, ApiCaller(caller): ApiCaller) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(&state, &caller.org.name),
    )
        .into_response()
}
