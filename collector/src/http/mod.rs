//! The HTTP listener beside gRPC (`serve --http-listen ADDR`, off unless
//! set): the dashboard, the JSON API under `/api/v1/`, Prometheus
//! `/metrics`, and `/healthz` / `/readyz`.
//!
//! - TLS: the same certificate, key and client CA as gRPC ([`tls_acceptor`]);
//!   plaintext only with `--insecure`.
//! - Auth ([`auth`]): every route but `/healthz`, `/readyz` and the login
//!   form needs a caller: `Authorization: Bearer TOKEN` (an agent token or
//!   a read-only viewer token) or the session cookie the login form sets
//!   for a viewer token. Everything read is scoped to that caller's org.
//! - The route table [`ROUTES`] is the router: `openapi.yaml` is checked
//!   against it by a test.
//!
//! Owns HTTP routing, sessions and TLS for HTTP. Must never write to the
//! store: the HTTP side only reads.

pub mod api;
pub mod auth;
pub mod dashboard;
pub mod metrics;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::connections::ConnectionStats;
use crate::health::StoreHealth;
use crate::ingest::IngestStats;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::writer::Writer;

pub use tls::tls_acceptor;

/// Everything a handler reads.
#[derive(Clone)]
pub struct AppState {
    /// The store (read only).
    pub store: Store,
    /// Whether the store takes writes.
    pub health: Arc<StoreHealth>,
    /// Ingest counters.
    pub stats: Arc<IngestStats>,
    /// Further counters.
    pub metrics: Arc<Metrics>,
    /// Connection counters of the gRPC listener.
    pub connections: Arc<ConnectionStats>,
    /// The ingest queue (depth and bytes).
    pub writer: Writer,
    /// Browser sessions.
    pub sessions: Arc<auth::Sessions>,
    /// Whether the listener serves TLS (cookies get `Secure`).
    pub tls: bool,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.store.backend())
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// A route: method, path, and its handler.
pub type RouteEntry = (&'static str, &'static str, fn() -> MethodRouter<AppState>);

/// Every route the HTTP listener serves; the router is built from this
/// table, and `openapi.yaml` must document exactly these.
pub const ROUTES: &[RouteEntry] = &[
    ("GET", "/healthz", || get(healthz)),
    ("GET", "/readyz", || get(readyz)),
    ("GET", "/metrics", || get(metrics::metrics)),
    ("GET", "/login", || get(auth::login_form)),
    ("POST", "/login", || post(auth::login)),
    ("POST", "/logout", || post(auth::logout)),
    ("GET", "/", || get(dashboard::page)),
    ("GET", "/api/v1/summary", || get(api::summary)),
    ("GET", "/api/v1/runs", || get(api::runs)),
    ("GET", "/api/v1/runs-over-time", || get(api::runs_over_time)),
    ("GET", "/api/v1/commands/slowest", || get(api::slowest)),
    ("GET", "/api/v1/commands/failing", || get(api::failing)),
    ("GET", "/api/v1/time-saved", || get(api::time_saved)),
    ("GET", "/api/v1/agents", || get(api::agents)),
    ("GET", "/api/v1/bundles", || get(api::bundles)),
];

/// The router over [`ROUTES`].
pub fn router(state: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    // One MethodRouter per path, so GET and POST /login share it.
    let mut paths: Vec<&str> = ROUTES.iter().map(|(_, p, _)| *p).collect();
    paths.dedup();
    for path in paths {
        let mut method_router: Option<MethodRouter<AppState>> = None;
        for (_, _, make) in ROUTES.iter().filter(|(_, p, _)| *p == path) {
            method_router = Some(match method_router {
                None => make(),
                Some(m) => m.merge(make()),
            });
        }
        if let Some(m) = method_router {
            router = router.route(path, m);
        }
    }
    router
        .fallback(|| async { (StatusCode::NOT_FOUND, "no such page\n") })
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers on every answer: no framing, no sniffing, no caching of data,
/// and a content policy that allows nothing from elsewhere.
async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `/healthz`: the process is up.
async fn healthz() -> &'static str {
    "ok\n"
}

/// How long `/readyz` waits for the store.
pub const READY_TIMEOUT: Duration = Duration::from_secs(3);

/// `/readyz`: the store answers and has every migration this build knows.
async fn readyz(State(state): State<AppState>) -> Response {
    let check = tokio::time::timeout(READY_TIMEOUT, state.store.readiness()).await;
    match check {
        Ok(Ok(())) if state.health.is_serving() => (StatusCode::OK, "ready\n").into_response(),
        Ok(Ok(())) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the store does not take writes (see the collector's log)\n",
        )
            .into_response(),
        Ok(Err(why)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: the store did not answer within {} s\n",
                READY_TIMEOUT.as_secs()
            ),
        )
            .into_response(),
    }
}

/// Binds `addr` for HTTP.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen for HTTP on {addr} (--http-listen)"))
}

/// Serves `router` on `listener` (TLS through `tls` when given) until
/// `stopping` turns true, then lets open requests finish for at most
/// `grace`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    mut stopping: watch::Receiver<bool>,
    grace: Duration,
) -> Result<()> {
    let mut stop = stopping.clone();
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let service = router.into_make_service();
    let served = async {
        match tls {
            None => axum::serve(listener, service)
                .with_graceful_shutdown(shutdown)
                .await
                .context("the HTTP server failed"),
            Some(acceptor) => axum::serve(tls::TlsListener::new(listener, acceptor), service)
                .with_graceful_shutdown(shutdown)
                .await
                .context("the HTTP server failed"),
        }
    };
    tokio::pin!(served);
    tokio::select! {
        r = &mut served => r,
        () = async {
            let _ = stopping.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(?grace, "HTTP requests still open after the shutdown grace were cut off");
            Ok(())
        }
    }
}

/// A JSON answer.
pub fn json<T: serde::Serialize>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the answer: {e}\n"),
        )
            .into_response(),
    }
}

/// A JSON error: `{"error": message}` with `status`.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
