//! The JSON API under `/api/v1/`: the dashboard's data for scripts
//! (documented in `collector/openapi.yaml`).
//!
//! Every endpoint takes `since` (a duration back from now: `7d`, `24h`,
//! `30m`; default [`DEFAULT_SINCE`]) and most take `limit` (1 to
//! [`MAX_LIMIT`]); a bad value is a 400 naming the parameter and what it
//! accepts. Everything is the caller's org only.

use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::auth::ApiCaller;
use super::{AppState, json, json_error};
use crate::store::{CommandOrder, RunFilter, StoreError, now_ms};

/// The window when `since` is not given.
pub const DEFAULT_SINCE: Duration = Duration::from_secs(7 * 86_400);

/// The longest window: a year.
pub const MAX_SINCE: Duration = Duration::from_secs(366 * 86_400);

/// Rows when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 20;

/// The most rows one answer carries.
pub const MAX_LIMIT: i64 = 1000;

/// The parameters of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// The window's start, milliseconds since the epoch.
    pub since_ms: i64,
    /// The window's length.
    pub since: Duration,
    /// Rows at most.
    pub limit: i64,
}

/// Parses `since` and `limit` from a query string.
pub fn parse_window(query: Option<&str>) -> Result<Window, String> {
    let mut since = DEFAULT_SINCE;
    let mut limit = DEFAULT_LIMIT;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "since" => {
                since = parse_since(&v)?;
            }
            "limit" => {
                limit = v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        format!("limit '{v}' must be a whole number from 1 to {MAX_LIMIT}")
                    })?;
            }
            _ => {}
        }
    }
    let back = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    Ok(Window {
        since_ms: now_ms().saturating_sub(back),
        since,
        limit,
    })
}

/// A `since` value: a duration up to [`MAX_SINCE`] (`7d`, `24h`, `90m`).
pub fn parse_since(v: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(v.trim())
        .map_err(|e| format!("since '{v}' is not a duration ({e}); write e.g. 7d, 24h or 30m"))?;
    if d.is_zero() || d > MAX_SINCE {
        return Err(format!("since '{v}' must be more than 0 and at most 366d"));
    }
    Ok(d)
}

/// The bucket width for charts of a window: hours up to two days, days
/// beyond.
pub fn bucket_ms(since: Duration) -> i64 {
    if since <= Duration::from_secs(2 * 86_400) {
        3_600_000
    } else {
        86_400_000
    }
}

fn bad_request(why: String) -> Response {
    json_error(StatusCode::BAD_REQUEST, &why)
}

async fn store_failed(state: &AppState, e: StoreError) -> Response {
    state.health.call_failed(&e).await;
    json_error(
        StatusCode::SERVICE_UNAVAILABLE,
        crate::health::STORE_UNAVAILABLE,
    )
}

/// The rows as JSON, or the store's failure as 503 (counted by health).
async fn reply<T: serde::Serialize>(state: &AppState, rows: Result<T, StoreError>) -> Response {
    match rows {
        Ok(rows) => json(&rows),
        Err(e) => store_failed(state, e).await,
    }
}

macro_rules! window_or_400 {
    ($q:expr) => {
        match parse_window($q.as_deref()) {
            Ok(w) => w,
            Err(why) => return bad_request(why),
        }
    };
}

/// `GET /api/v1/summary`: totals of the window.
pub async fn summary(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RawQuery(q): RawQuery,
) -> Response {
    let w = window_or_400!(q);
    let summary = match state.store.summary(caller.org.id, w.since_ms).await {
        Ok(s) => s,
        Err(e) => return store_failed(&state, e).await,
    };
    let saved = match state
        .store
        .time_saved(caller.org.id, w.since_ms, MAX_LIMIT)
        .await
    {
        Ok(s) => s,
        Err(e) => return store_failed(&state, e).await,
    };
    let saved_s: f64 = saved.iter().map(|t| t.saved_s).sum();
    json(&serde_json::json!({
        "org": caller.org.name,
        "since_ms": w.since_ms,
        "runs": summary.runs,
        "failed": summary.failed,
        "early_exits": summary.early_exits,
        "agents": summary.agents,
        "runtime_s": summary.runtime_s,
        "time_saved_s": saved_s,
    }))
}

/// `GET /api/v1/runs`: stored runs, newest first.
pub async fn runs(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RawQuery(q): RawQuery,
) -> Response {
    let w = window_or_400!(q);
    let filter = RunFilter {
        org_id: Some(caller.org.id),
        since_ms: Some(w.since_ms),
        limit: w.limit,
    };
    reply(&state, state.store.runs(&filter).await).await
}

/// `GET /api/v1/runs-over-time`: runs per hour or day and exit reason.
pub async fn runs_over_time(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RawQuery(q): RawQuery,
) -> Response {
    let w = window_or_400!(q);
    let bucket = bucket_ms(w.since);
    match state
        .store
        .runs_over_time(caller.org.id, w.since_ms, bucket)
        .await
    {
        Ok(rows) => json(&serde_json::json!({ "bucket_ms": bucket, "buckets": rows })),
        Err(e) => store_failed(&state, e).await,
    }
}

/// `GET /api/v1/commands/slowest`.
pub async fn slowest(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RawQuery(q): RawQuery,
) -> Response {
    let w = window_or_400!(q);
    reply(
        &state,
        state
            .store
            .commands(caller.org.id, w.since_ms, CommandOrder::Slowest, w.limit)
            .await,
    )
    .await
}

/// `GET /api/v1/commands/failing`.
pub async fn failing(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RawQuery(q): RawQuery,
) -> Response {
    let w = window_or_400!(q);
    reply(
        &state,
        state
            .store
            .commands(
                caller.org.id,
                w.since_ms,
                CommandOrder::MostFailing,
                w.limit,
            )
            .await,
    )
    .await
}

/// `GET /api/v1/time-saved`.
pub async fn time_saved(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RawQuery(q): RawQuery,
) -> Response {
    let w = window_or_400!(q);
    reply(
        &state,
        state
            .store
            .time_saved(caller.org.id, w.since_ms, w.limit)
            .await,
    )
    .await
}

/// `GET /api/v1/agents`.
pub async fn agents(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RawQuery(q): RawQuery,
) -> Response {
    let w = window_or_400!(q);
    reply(
        &state,
        state
            .store
            .agents_seen(caller.org.id, w.since_ms, w.limit)
            .await,
    )
    .await
}

/// `GET /api/v1/bundles`: published bundles and the versions runs name.
pub async fn bundles(
    State(state): State<AppState>,
    ApiCaller(caller): ApiCaller,
    RawQuery(q): RawQuery,
) -> Response {
    let w = window_or_400!(q);
    let published = match state.store.list_bundles(caller.org.id).await {
        Ok(b) => b,
        Err(e) => return store_failed(&state, e).await,
    };
    match state
        .store
        .bundle_use(caller.org.id, w.since_ms, w.limit)
        .await
    {
        Ok(used) => json(&serde_json::json!({ "published": published, "in_use": used })),
        Err(e) => store_failed(&state, e).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_parsed_and_bad_values_named() {
        let w = parse_window(Some("since=24h&limit=5")).unwrap();
        assert_eq!(w.since, Duration::from_secs(86_400));
        assert_eq!(w.limit, 5);
        assert_eq!(parse_window(None).unwrap().since, DEFAULT_SINCE);
        let e = parse_window(Some("since=soon")).unwrap_err();
        assert!(e.contains("since 'soon' is not a duration"), "{e}");
        let e = parse_window(Some("limit=0")).unwrap_err();
        assert!(e.contains("from 1 to 1000"), "{e}");
        assert!(parse_window(Some("since=400d")).is_err());
        assert_eq!(bucket_ms(Duration::from_secs(3600)), 3_600_000);
        assert_eq!(bucket_ms(DEFAULT_SINCE), 86_400_000);
    }
}
