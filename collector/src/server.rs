//! `serve`: binds, sets up TLS, wires the services (Ingest, Updates,
//! `grpc.health.v1`, reflection) and, with `http_listen`, the HTTP
//! listener ([`crate::http`], same TLS files), and runs until the shutdown
//! future resolves.
//!
//! Health (`grpc.health.v1`, for the whole server `""` and each service)
//! follows the store ([`crate::health`]): NOT_SERVING while it cannot be
//! written.
//!
//! Shutdown is bounded: health turns NOT_SERVING for good, the listener stops
//! accepting, subscriptions end, in-flight batches get up to
//! `shutdown_grace` to be committed and answered, then the writer drains
//! and the process exits. A batch cut off by the bound was not
//! acknowledged, so its agent sends it again.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result, bail};
use earlyexit_proto::v1::ingest_server::IngestServer;
use earlyexit_proto::v1::updates_server::UpdatesServer;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tonic::server::NamedService;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};

use crate::config::{ServeConfig, home};
use crate::health::StoreHealth;
use crate::ingest::{IngestService, IngestStats};
use crate::limit::IngestLimitLayer;
use crate::metrics::Metrics;
use crate::store::{Store, redact_url};
use crate::updates::UpdatesService;
use crate::writer::Writer;

/// A collector running in this process (tests, `bench`).
#[derive(Debug)]
pub struct Running {
    /// The bound address (the real port when asked for port 0).
    pub addr: SocketAddr,
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Counters since start.
    pub stats: Arc<IngestStats>,
    /// Connection counters since start (see [`crate::connections`]).
    pub connections: Arc<crate::connections::ConnectionStats>,
    /// The HTTP listener's address, when `http_listen` was set.
    pub http_addr: Option<SocketAddr>,
    /// Counters behind `/metrics`.
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<()>>,
}

impl Running {
    /// The URL agents use (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Shuts down gracefully and waits for the end.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.context("collector task panicked")?
    }
}

/// Binds and starts serving in the background.
pub async fn spawn(config: ServeConfig) -> Result<Running> {
    let (stop, stopped) = oneshot::channel();
    let bound = bind(config).await?;
    let addr = bound.addr;
    let scheme = bound.scheme;
    let stats = Arc::clone(&bound.stats);
    let connections = Arc::clone(&bound.connections);
    let metrics = Arc::clone(&bound.metrics);
    let http_addr = bound.http.as_ref().map(|h| h.addr);
    let task = tokio::spawn(bound.serve(async {
        let _ = stopped.await;
    }));
    Ok(Running {
        addr,
        scheme,
        stats,
        connections,
        http_addr,
        metrics,
        stop: Some(stop),
        task,
    })
}

/// Binds and serves until `shutdown` resolves. `on_bound` hears the gRPC
/// URL and the HTTP one (with `http_listen`) once the ports are open (the
/// CLI prints them).
pub async fn run(
    config: ServeConfig,
    on_bound: impl FnOnce(&str, Option<&str>),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let bound = bind(config).await?;
    let http = bound
        .http
        .as_ref()
        .map(|h| format!("{}://{}", bound.scheme, h.addr));
    on_bound(
        &format!("{}://{}", bound.scheme, bound.addr),
        http.as_deref(),
    );
    bound.serve(shutdown).await
}

/// The HTTP listener, bound.
struct HttpBound {
    listener: TcpListener,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

/// A collector with its port open and store ready, not yet serving.
struct Bound {
    config: ServeConfig,
    listener: TcpListener,
    addr: SocketAddr,
    scheme: &'static str,
    tls: Option<ServerTlsConfig>,
    store: Store,
    stats: Arc<IngestStats>,
    connections: Arc<crate::connections::ConnectionStats>,
    metrics: Arc<Metrics>,
    http: Option<HttpBound>,
}

async fn bind(config: ServeConfig) -> Result<Bound> {
    config.validate()?;
    let store = Store::connect(&config.store).await?;
    let files = tls_files(&config)?;
    let tls = files
        .as_ref()
        .map(|(cert, key)| tls_config(cert, key, config.client_ca.as_deref()))
        .transpose()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let http = match config.http_listen {
        None => None,
        Some(at) => {
            let listener = crate::http::bind(at).await?;
            let addr = listener.local_addr()?;
            let tls = files
                .as_ref()
                .map(|(cert, key)| {
                    crate::http::tls_acceptor(cert, key, config.client_ca.as_deref())
                })
                .transpose()?;
            if tls.is_none() && !addr.ip().is_loopback() {
                tracing::warn!(
                    %addr,
                    "serving plaintext HTTP on an address that is not loopback: tokens and session cookies cross the network unencrypted; use TLS"
                );
            }
            Some(HttpBound {
                listener,
                addr,
                tls,
            })
        }
    };
    if tls.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "serving plaintext gRPC on an address that is not loopback: tokens and telemetry cross the network unencrypted; use --tls-cert/--tls-key"
        );
    }
    let transport = match (&tls, &config.client_ca) {
        (None, _) => "plaintext (--insecure)".to_owned(),
        (Some(_), Some(ca)) => format!("TLS, client certificates required (CA {})", ca.display()),
        (Some(_), None) => "TLS".to_owned(),
    };
    tracing::info!(
        store = %redact_url(&config.store),
        backend = %store.backend(),
        transport = %transport,
        "store open"
    );
    Ok(Bound {
        scheme: if tls.is_some() { "https" } else { "http" },
        config,
        listener,
        addr,
        tls,
        store,
        stats: Arc::new(IngestStats::default()),
        connections: Arc::new(crate::connections::ConnectionStats::default()),
        metrics: Arc::new(Metrics::default()),
        http,
    })
}

impl Bound {
    async fn serve(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let Bound {
            config,
            listener,
            addr,
            tls,
            store,
            stats,
            connections: connection_stats,
            metrics,
            http,
            ..
        } = self;
        let limits = config.limits.clone();
        let (stopping, stop_watch) = watch::channel(false);
        let (reporter, health_service) = tonic_health::server::health_reporter();
        let health = Arc::new(StoreHealth::new(
            reporter,
            vec![
                "",
                <IngestServer<IngestService> as NamedService>::NAME,
                <UpdatesServer<UpdatesService> as NamedService>::NAME,
            ],
        ));
        health.publish().await;
        let (writer, mut writers) = Writer::start(
            store.clone(),
            limits.max_inflight_bytes,
            limits.group_commit_rows,
            Arc::clone(&health),
        );
        // The HTTP side reads the queue's depth through a handle of its
        // own; it ends before the writers are waited for (below).
        let http_task = http.map(|h| {
            let state = crate::http::AppState {
                store: store.clone(),
                health: Arc::clone(&health),
                stats: Arc::clone(&stats),
                metrics: Arc::clone(&metrics),
                connections: Arc::clone(&connection_stats),
                writer: writer.clone(),
                sessions: Arc::new(crate::http::auth::Sessions::default()),
                tls: h.tls.is_some(),
            };
            tracing::info!(addr = %h.addr, tls = h.tls.is_some(), "HTTP listening (dashboard, /api/v1, /metrics, /healthz, /readyz)");
            tokio::spawn(crate::http::serve(
                h.listener,
                h.tls,
                crate::http::router(state),
                stop_watch.clone(),
                config.shutdown_grace,
            ))
        });
        let ingest = IngestServer::new(IngestService::new(
            store.clone(),
            writer,
            limits.clone(),
            Arc::clone(&stats),
            Arc::clone(&metrics),
            Arc::clone(&health),
        ))
        .max_decoding_message_size(limits.max_message_bytes);
        let updates = UpdatesServer::new(UpdatesService::new(
            store.clone(),
            config.bundle_poll,
            stop_watch.clone(),
            Arc::clone(&health),
            Arc::clone(&metrics),
        ));
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(earlyexit_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .context("cannot build the reflection service")?;

        let mut builder = Server::builder()
            .layer(IngestLimitLayer::new(limits.max_concurrent_pushes))
            .tcp_nodelay(true)
            .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)));
        if let Some(tls) = tls {
            builder = builder
                .tls_config(tls)
                .context("invalid TLS configuration")?;
        }
        let router = builder
            .add_service(health_service)
            .add_service(reflection)
            .add_service(ingest)
            .add_service(updates);

        // Shutdown: stop accepting, end subscriptions, and bound the wait
        // for in-flight calls.
        let (drained_tx, drained_rx) = oneshot::channel::<()>();
        let grace = config.shutdown_grace;
        let signal = {
            let health = Arc::clone(&health);
            async move {
                shutdown.await;
                tracing::info!("shutting down: no new connections; finishing in-flight batches");
                health.stop().await;
                let _ = stopping.send(true);
                let _ = drained_tx.send(());
            }
        };
        let watch_store = {
            let health = Arc::clone(&health);
            let store = store.clone();
            let stopping = stop_watch.clone();
            tokio::spawn(async move { health.watch(store, stopping).await })
        };
        let summary = tokio::spawn(log_summaries(
            Arc::clone(&stats),
            Arc::clone(&connection_stats),
            stop_watch.clone(),
        ));
        let mut serving = Box::pin(router.serve_with_incoming_shutdown(
            crate::connections::bounded(
                listener,
                limits.max_connections,
                limits.first_bytes_timeout,
                Arc::clone(&connection_stats),
            ),
            signal,
        ));
        tracing::info!(%addr, "listening");
        let served = tokio::select! {
            r = &mut serving => r,
            () = async {
                let _ = drained_rx.await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "shutdown grace ran out; unanswered batches were not acknowledged and will be re-sent");
                Ok(())
            }
        };
        summary.abort();
        watch_store.abort();
        // Dropping the server drops its writer handles, and the HTTP side
        // (stopped with the rest, bounded by its own grace) the last one;
        // the writer tasks commit what is queued and end.
        drop(serving);
        if let Some(task) = http_task {
            match tokio::time::timeout(grace + grace, task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    tracing::warn!(error = %format!("{e:#}"), "the HTTP listener failed")
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP listener panicked"),
                Err(_) => tracing::warn!("the HTTP listener did not stop in time"),
            }
        }
        let writers_done = async { while writers.join_next().await.is_some() {} };
        if tokio::time::timeout(grace, writers_done).await.is_err() {
            tracing::warn!(
                ?grace,
                "the store did not finish the last batches in time; they were not acknowledged"
            );
        }
        // Aborts writers still running; each gives its connection back, so
        // closing the pool does not wait for them.
        drop(writers);
        store.close().await;
        tracing::info!(
            records_stored = stats.accepted.load(Ordering::Relaxed),
            duplicates = stats.duplicates.load(Ordering::Relaxed),
            rejected = stats.rejected.load(Ordering::Relaxed),
            fields_rescrubbed = stats.scrub_hits.load(Ordering::Relaxed),
            busy_refusals = stats.busy.load(Ordering::Relaxed),
            connections_refused_at_cap = connection_stats.refused.load(Ordering::Relaxed),
            connections_closed_silent = connection_stats.silent.load(Ordering::Relaxed),
            "stopped"
        );
        served.context("the gRPC server failed")
    }
}

/// How often the one-line ingest summary is logged (only when something
/// happened since the last one).
pub const SUMMARY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Logs what ingest and the connection bounds did in each
/// [`SUMMARY_INTERVAL`], until `stopping` turns true.
async fn log_summaries(
    stats: Arc<IngestStats>,
    connections: Arc<crate::connections::ConnectionStats>,
    mut stopping: watch::Receiver<bool>,
) {
    let read = || {
        [
            stats.accepted.load(Ordering::Relaxed),
            stats.duplicates.load(Ordering::Relaxed),
            stats.rejected.load(Ordering::Relaxed),
            stats.busy.load(Ordering::Relaxed),
            connections.refused.load(Ordering::Relaxed),
            connections.silent.load(Ordering::Relaxed),
        ]
    };
    let mut before = read();
    loop {
        tokio::select! {
            () = tokio::time::sleep(SUMMARY_INTERVAL) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        let now = read();
        if now == before {
            continue;
        }
        let d: Vec<u64> = now.iter().zip(&before).map(|(n, b)| n - b).collect();
        tracing::info!(
            seconds = SUMMARY_INTERVAL.as_secs(),
            records_stored = d[0],
            duplicates = d[1],
            rejected = d[2],
            busy_refusals = d[3],
            connections_open = connections.open.load(Ordering::Relaxed),
            connections_refused_at_cap = d[4],
            connections_closed_silent = d[5],
            "ingest summary"
        );
        before = now;
    }
}

/// The TLS certificate and key files: the given ones, a self-signed
/// certificate made (once) in the collector's home when none are given,
/// or none with `--insecure`. gRPC and HTTP serve the same.
fn tls_files(config: &ServeConfig) -> Result<Option<(PathBuf, PathBuf)>> {
    if config.insecure {
        return Ok(None);
    }
    Ok(Some(match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        _ => self_signed(
            &config.tls_dir.clone().unwrap_or_else(|| home().join("tls")),
            &config.tls_names,
        )?,
    }))
}

/// gRPC's TLS settings for `cert`/`key`, requiring client certificates
/// signed by `client_ca` when given.
fn tls_config(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<ServerTlsConfig> {
    let identity = Identity::from_pem(read(cert)?, read(key)?);
    let mut tls = ServerTlsConfig::new().identity(identity);
    if let Some(ca) = client_ca {
        tls = tls.client_ca_root(Certificate::from_pem(read(ca)?));
    }
    Ok(tls)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// How long a replica that finds another one making the shared
/// certificate waits for it.
const CERT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A certificate for localhost, this host and `extra` names, made on first
/// use and kept in `dir` (cert.pem, key.pem) so agents can pin it
/// (`collector.ca`). Replicas starting at once on one folder agree on one
/// certificate: the key file is created exclusively, so one replica makes
/// both files and the others wait for its `cert.pem`, which appears whole
/// (written aside, then renamed).
fn self_signed(dir: &Path, extra: &[String]) -> Result<(PathBuf, PathBuf)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let pin = |what: &str| {
        tracing::info!(
            "{what}; agents: `collector.ca: {}` (replicas serving the same folder need no other)",
            cert.display()
        );
    };
    if cert.exists() && key.exists() {
        pin("TLS with the self-signed certificate");
        return Ok((cert, key));
    }
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(host.trim().to_owned());
    }
    names.extend(extra.iter().map(|n| n.trim().to_owned()));
    names.retain(|n| !n.is_empty());
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    let made = rcgen::generate_simple_self_signed(names.clone())
        .context("cannot make a self-signed certificate")?;
    crate::private_file::create_dir(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let opened = crate::private_file::create_new(&key);
    let mut f = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Another replica is making it (or made the key and died).
            let started = std::time::Instant::now();
            while !cert.exists() {
                if started.elapsed() > CERT_WAIT {
                    bail!(
                        "{} exists without {}: another collector was making the certificate and did not finish; remove {} and start again",
                        key.display(),
                        cert.display(),
                        key.display()
                    );
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            pin("TLS with the self-signed certificate another replica made");
            return Ok((cert, key));
        }
        Err(e) => return Err(e).with_context(|| format!("cannot write {}", key.display())),
    };
    std::io::Write::write_all(&mut f, made.signing_key.serialize_pem().as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", key.display()))?;
    let aside = dir.join(format!(".cert.pem.{}", std::process::id()));
    std::fs::write(&aside, made.cert.pem())
        .and_then(|()| std::fs::rename(&aside, &cert))
        .with_context(|| format!("cannot write {}", cert.display()))?;
    tracing::info!(names = %names.join(", "), "made a self-signed TLS certificate (use --tls-cert/--tls-key for one of your CA's)");
    pin("TLS with the self-signed certificate");
    Ok((cert, key))
}
