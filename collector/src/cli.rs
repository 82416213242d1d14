//! Command line: `serve`, and the admin commands that manage orgs, tokens
//! and bundles and read runs directly in the store (they work while
//! `serve` runs).
//!
//! Exit codes: 0 success, 1 the operation failed (store unreachable, no
//! such org, …), 2 usage error (clap).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, ServeConfig};
use crate::server;
use crate::store::Store;

/// Receives run records from earlyexit agents over gRPC (TLS, bearer
/// tokens), stores them idempotently in SQLite or PostgreSQL, and pushes
/// pattern and model bundles back.
#[derive(Debug, Parser)]
#[command(name = "earlyexit-collector", version, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve gRPC (Ingest, Updates, health, reflection) until SIGINT/SIGTERM.
    ///
    /// With no flags: listens on 127.0.0.1:7700, stores in
    /// ~/.earlyexit-collector/collector.db (or $EARLYEXIT_COLLECTOR_HOME) and
    /// serves TLS with a self-signed certificate made there on first start.
    /// Prints `listening on URL` on stdout once the port is open (and
    /// `http on URL` after it with --http-listen).
    Serve(ServeArgs),
    /// Manage orgs (every token, record and bundle belongs to one).
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage agent tokens (stored hashed; shown once at creation).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Publish pattern or model bundles for an org's agents.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Read stored runs back, newest first: the query columns kept beside
    /// each record (program, category, project type, exit reason, child
    /// exit code, runtime, first match, matches, bytes, bundle version,
    /// start time). Runs stored before those columns existed show them
    /// empty.
    Runs(RunsArgs),
    /// Measure ingest: the plain-sqlx ceiling, then a collector process fed
    /// over loopback gRPC (backlog drain rate, latency at half the peak,
    /// memory under overload). Use a release build.
    Bench(BenchArgs),
    /// Print a shell completion script for earlyexit-collector.
    Completions(earlyexit_termui::docs::CompletionsArgs),
    /// Print the man page (--dir DIR: one page per subcommand).
    Man(earlyexit_termui::docs::ManArgs),
    /// Measure the dashboard: fill a fresh store with --runs runs, serve
    /// HTTP in this process, and time the page and every API route (bytes,
    /// min / median / max ms). Use a release build.
    BenchDashboard(BenchDashboardArgs),
}

/// The whole command line as a clap command: what `completions` and `man`
/// describe, and what the deploy recipes' test parses recipes against.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

#[derive(Debug, Args)]
struct BenchDashboardArgs {
    /// sqlite://DIR (a fresh file is made in DIR) or a PostgreSQL server
    /// URL (a fresh database is made on it and dropped afterwards).
    #[arg(
        long,
        value_name = "URL",
        default_value = "sqlite:///tmp/earlyexit-collector-bench"
    )]
    store: String,
    /// Runs stored before measuring.
    #[arg(long, default_value_t = 100_000)]
    runs: usize,
    /// Requests per route.
    #[arg(long, default_value_t = 20)]
    requests: usize,
}

#[derive(Debug, Args)]
struct RunsArgs {
    /// Only this org's runs [default: every org].
    #[arg(long)]
    org: Option<String>,
    /// Only runs started this long ago or later: 30m, 24h, 7d, … (at most 366d).
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_since)]
    since: std::time::Duration,
    /// At most this many runs (newest first).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1_000_000))]
    limit: i64,
    /// table (for people), json (one array), jsonl (one object a line) or csv.
    #[arg(long, value_enum, default_value = "table")]
    format: crate::runs_output::RunsFormat,
    #[command(flatten)]
    store: StoreArgs,
}

fn parse_since(v: &str) -> Result<std::time::Duration, String> {
    crate::http::api::parse_since(v)
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// sqlite://DIR (fresh files are made in DIR) or a PostgreSQL server
    /// URL (fresh databases are made on it and dropped afterwards).
    #[arg(
        long,
        value_name = "URL",
        default_value = "sqlite:///tmp/earlyexit-collector-bench"
    )]
    store: String,
    /// Records in the backlog phase.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Records per Push.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Concurrent agents in the backlog phase.
    #[arg(long, default_value_t = 8)]
    agents: usize,
    /// Records inserted in the plain-sqlx ceiling phase.
    #[arg(long, default_value_t = 300_000)]
    ceiling_records: usize,
    /// Seconds of the latency phase.
    #[arg(long, default_value_t = 10)]
    latency_secs: u64,
    /// Agents in the overload phase.
    #[arg(long, default_value_t = 64)]
    overload_agents: usize,
    /// Seconds of the overload phase.
    #[arg(long, default_value_t = 10)]
    overload_secs: u64,
    /// Rounds of every phase, each on fresh databases; every figure is
    /// printed as min / median / max over them (three: the least that has
    /// a median that one disturbed round cannot move).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    repeat: u64,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// YAML file with the same settings as the flags (listen, store,
    /// tls_cert, tls_key, client_ca, tls_dir, tls_names, insecure, http_listen, shutdown_grace, bundle_poll,
    /// limits: {max_message_bytes, max_batch_records, max_record_bytes,
    /// max_inflight_bytes, max_concurrent_pushes, group_commit_rows, org_records_per_second,
    /// org_burst_records, org_bytes_per_second, max_connections (4096),
    /// first_bytes_timeout (10s)}). Flags win over the file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7700].
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
    /// sqlite://PATH or postgres://USER@HOST/DB [default: sqlite://~/.earlyexit-collector/collector.db].
    #[arg(long, value_name = "URL", env = "EARLYEXIT_COLLECTOR_STORE")]
    store: Option<String>,
    /// PEM certificate chain to serve TLS with (with --tls-key).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this PEM CA (mutual TLS).
    #[arg(long, value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// Folder of the self-signed certificate, made there on first start
    /// when missing [default: ~/.earlyexit-collector/tls]. Give replicas
    /// one folder (shared, or a copy of the first one's) so they serve one
    /// certificate and agents can fail over between them.
    #[arg(long, value_name = "DIR")]
    tls_dir: Option<PathBuf>,
    /// A name (host or IP) to put in the self-signed certificate when it
    /// is made, besides localhost, 127.0.0.1, ::1 and this host's name:
    /// the other replicas' hosts. Repeatable.
    #[arg(long = "tls-name", value_name = "NAME")]
    tls_names: Vec<String>,
    /// Serve plaintext gRPC (and HTTP), without TLS (warns unless listening on loopback).
    #[arg(long)]
    insecure: bool,
    /// Also serve HTTP on ADDR (e.g. 127.0.0.1:7701): the dashboard, the
    /// JSON API (/api/v1/…), Prometheus /metrics, /healthz and /readyz,
    /// with the same TLS settings as gRPC [default: no HTTP listener].
    #[arg(long, value_name = "ADDR")]
    http_listen: Option<std::net::SocketAddr>,
    /// Per-org ingest limit, records per second (per replica) [default: none].
    #[arg(long, value_name = "N")]
    org_records_per_second: Option<u32>,
}

/// Where the admin commands find the store.
#[derive(Debug, Args)]
struct StoreArgs {
    /// sqlite://PATH or postgres://… [default: the serve default, or `store:` in --config].
    #[arg(long, value_name = "URL", env = "EARLYEXIT_COLLECTOR_STORE")]
    store: Option<String>,
    /// Collector config file to read `store:` from.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an org.
    Create {
        /// 1-64 letters, digits, '-', '_' or '.'.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List orgs.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token for an org's agents (or, with --viewer, a read-only
    /// one for the dashboard and the HTTP API); prints it once, alone on
    /// stdout (or writes it to --output).
    Create {
        /// The org the token's agents write to (or its viewer reads).
        #[arg(long)]
        org: String,
        /// A label for the agent, fleet or person using it (shown in `token list`).
        #[arg(long)]
        agent_name: Option<String>,
        /// A read-only viewer token: logs a browser in to the dashboard and
        /// reads the HTTP API; gRPC refuses it.
        #[arg(long)]
        viewer: bool,
        /// Write the token to FILE instead of stdout: the file is created
        /// with mode 0600 (and missing folders with 0700); an existing file
        /// is never overwritten. Point the agent's `collector.token_file` at it.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List tokens (ids and labels, never the secrets).
    List {
        /// Only this org's tokens.
        #[arg(long)]
        org: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token by its id (tok_…, from `token list`); takes effect on
    /// the next call.
    Revoke {
        /// The token id.
        token_id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum BundleCommand {
    /// Publish FILE as the next version of KIND for an org; subscribed
    /// agents receive it. FILE must be a valid bundle of KIND (a JSON
    /// document `{"format": 1, "kind": KIND, …}`: every pattern's regex
    /// compiles, ids are unique, models name their feature schema); anything
    /// else is refused, naming the entry and what is wrong, and nothing is
    /// published.
    Publish {
        /// The org whose agents get it.
        #[arg(long)]
        org: String,
        /// What it holds: patterns or models.
        #[arg(long)]
        kind: String,
        /// The artifact.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Every bundle of an org: kind, version, size, SHA-256, when it was
    /// published and whether it is retired.
    List {
        /// The org.
        #[arg(long)]
        org: String,
        /// Print one JSON array instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// One bundle: its facts and what it holds; `--output FILE` writes its
    /// data (never overwriting a file).
    Show {
        #[command(flatten)]
        bundle: BundleRef,
        /// Write the bundle's data to FILE.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Stop sending a bundle to agents that do not have it yet: they get the
    /// newest bundle of its kind that is not retired. Agents that already
    /// hold it keep it until a newer version is published (publish the
    /// previous content again to move them back).
    Retire {
        #[command(flatten)]
        bundle: BundleRef,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// One published bundle: `--org O --kind K --version V`.
#[derive(Debug, Args)]
struct BundleRef {
    /// The org.
    #[arg(long)]
    org: String,
    /// The bundle's kind.
    #[arg(long)]
    kind: String,
    /// The bundle's version.
    #[arg(long)]
    version: i64,
}

/// `ms` since the epoch as RFC 3339, seconds precision.
fn rfc3339(ms: i64) -> String {
    let at =
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

/// Runs the command line; the binary's whole `main`.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("earlyexit-collector: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("earlyexit-collector: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Completions(args) => Ok(earlyexit_termui::docs::completions(
            self::command(),
            "earlyexit-collector",
            &args,
            &mut std::io::stdout(),
        )?),
        Command::Man(args) => Ok(earlyexit_termui::docs::man(
            self::command(),
            &args,
            &mut std::io::stdout(),
        )?),
        Command::Bench(a) => {
            crate::bench::run(crate::bench::BenchOptions {
                store: a.store,
                records: a.records,
                batch: a.batch,
                agents: a.agents,
                ceiling_records: a.ceiling_records,
                latency_secs: a.latency_secs,
                overload_agents: a.overload_agents,
                overload_secs: a.overload_secs,
                repeat: usize::try_from(a.repeat).unwrap_or(usize::MAX),
            })
            .await
        }
        Command::BenchDashboard(a) => {
            crate::bench::run_dashboard(crate::bench::DashboardOptions {
                store: a.store,
                runs: a.runs,
                requests: a.requests,
            })
            .await
        }
        Command::Serve(args) => serve(args).await,
        Command::Org(OrgCommand::Create { name, store }) => {
            let org = open(&store).await?.create_org(&name).await?;
            println!("{}", org.name);
            eprintln!(
                "created org '{}'; next: earlyexit-collector token create --org {}",
                org.name, org.name
            );
            Ok(())
        }
        Command::Org(OrgCommand::List { store }) => {
            for org in open(&store).await?.list_orgs().await? {
                println!("{}", org.name);
            }
            Ok(())
        }
        Command::Runs(a) => {
            let store = open(&a.store).await?;
            let org_id = match &a.org {
                Some(name) => Some(store.org(name).await?.id),
                None => None,
            };
            let back = i64::try_from(a.since.as_millis()).unwrap_or(i64::MAX);
            let runs = store
                .runs(&crate::store::RunFilter {
                    org_id,
                    since_ms: Some(crate::store::now_ms().saturating_sub(back)),
                    limit: a.limit,
                })
                .await?;
            let mut out = std::io::stdout().lock();
            crate::runs_output::write(&mut out, &runs, a.format)
                .context("cannot write to stdout")?;
            if runs.is_empty() && a.format == crate::runs_output::RunsFormat::Table {
                eprintln!(
                    "no runs started in the last {} (try --since 30d)",
                    humantime::format_duration(a.since)
                );
            }
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            org,
            agent_name,
            viewer,
            output,
            store,
        }) => {
            // The file first: a path that cannot be written leaves no
            // token behind that nobody holds.
            let file = output.as_deref().map(create_private_file).transpose()?;
            let created = async {
                let kind = if viewer {
                    crate::store::TokenKind::Viewer
                } else {
                    crate::store::TokenKind::Agent
                };
                let token = open(&store)
                    .await?
                    .create_token_of(&org, agent_name.as_deref(), kind)
                    .await?;
                Ok::<_, anyhow::Error>(token)
            }
            .await;
            let token = match created {
                Ok(token) => token,
                Err(e) => {
                    if let Some(path) = &output {
                        let _ = std::fs::remove_file(path);
                    }
                    return Err(e);
                }
            };
            match (file, &output) {
                (Some(mut file), Some(path)) => {
                    use std::io::Write;
                    file.write_all(format!("{}\n", token.token).as_bytes())
                        .and_then(|()| file.sync_all())
                        .with_context(|| format!("cannot write the token to {}", path.display()))?;
                    eprintln!(
                        "token {} for org '{org}' written to {} (mode 0600); agent config: collector.token_file: {}",
                        token.token_id,
                        path.display(),
                        path.display()
                    );
                }
                _ if viewer => {
                    println!("{}", token.token);
                    eprintln!(
                        "viewer token {} for org '{org}': shown once, store it now; it logs in to the dashboard (serve --http-listen) and reads /api/v1 and /metrics, read-only",
                        token.token_id
                    );
                }
                _ => {
                    println!("{}", token.token);
                    eprintln!(
                        "token {} for org '{org}': shown once, store it now (agent config: collector.token or collector.token_file; or use --output FILE)",
                        token.token_id
                    );
                }
            }
            Ok(())
        }
        Command::Token(TokenCommand::List { org, store }) => {
            let tokens = open(&store).await?.list_tokens(org.as_deref()).await?;
            println!(
                "{:<18} {:<20} {:<24} {:<7} STATE",
                "ID", "ORG", "AGENT", "KIND"
            );
            for t in tokens {
                println!(
                    "{:<18} {:<20} {:<24} {:<7} {}",
                    t.token_id,
                    t.org,
                    t.agent_name.as_deref().unwrap_or("-"),
                    t.kind,
                    if t.revoked_at_ms.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { token_id, store }) => {
            if open(&store).await?.revoke_token(&token_id).await? {
                eprintln!("revoked {token_id}; calls with it now get UNAUTHENTICATED");
                Ok(())
            } else {
                anyhow::bail!(
                    "no active token with id '{token_id}' (see `earlyexit-collector token list`)"
                )
            }
        }
        Command::Bundle(BundleCommand::Publish {
            org,
            kind,
            file,
            store,
        }) => {
            let data =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let summary = earlyexit_proto::bundle::validate(&kind, &data)
                .with_context(|| format!("{} is not published", file.display()))?;
            let store = open(&store).await?;
            let org = store.org(&org).await?;
            let version = store.publish_bundle(org.id, &kind, &data).await?;
            println!("{version}");
            eprintln!(
                "published {kind} version {version} for org '{}' ({summary}, {} bytes)",
                org.name,
                data.len()
            );
            Ok(())
        }
        Command::Bundle(BundleCommand::List { org, json, store }) => {
            let store = open(&store).await?;
            let org = store.org(&org).await?;
            let bundles = store.list_bundles(org.id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&bundles)?);
            } else if bundles.is_empty() {
                eprintln!(
                    "org '{}' has no bundles (publish one with `earlyexit-collector bundle publish`)",
                    org.name
                );
            } else {
                println!(
                    "{:<12} {:>8} {:>10}  {:<12}  {:<20}  STATE",
                    "KIND", "VERSION", "BYTES", "SHA256", "PUBLISHED"
                );
                for b in bundles {
                    println!(
                        "{:<12} {:>8} {:>10}  {:<12}  {:<20}  {}",
                        b.kind,
                        b.version,
                        b.bytes,
                        &b.sha256[..b.sha256.len().min(12)],
                        rfc3339(b.published_at_ms),
                        b.retired_at_ms.map_or_else(
                            || "served".to_string(),
                            |at| format!("retired {}", rfc3339(at))
                        )
                    );
                }
            }
            Ok(())
        }
        Command::Bundle(BundleCommand::Show {
            bundle: BundleRef { org, kind, version },
            output,
            store,
        }) => {
            let store = open(&store).await?;
            let org = store.org(&org).await?;
            let Some((info, data)) = store.bundle(org.id, &kind, version).await? else {
                anyhow::bail!(
                    "org '{}' has no {kind} bundle version {version} (see `earlyexit-collector bundle list --org {}`)",
                    org.name,
                    org.name
                );
            };
            let holds = earlyexit_proto::bundle::validate(&kind, &data)
                .map_or_else(|e| format!("not valid: {e}"), |s| s.to_string());
            println!("kind       {}", info.kind);
            println!("version    {}", info.version);
            println!("bytes      {}", info.bytes);
            println!("sha256     {}", info.sha256);
            println!("published  {}", rfc3339(info.published_at_ms));
            println!(
                "state      {}",
                info.retired_at_ms.map_or_else(
                    || "served".to_string(),
                    |at| format!("retired {}", rfc3339(at))
                )
            );
            println!("holds      {holds}");
            if let Some(path) = output {
                use std::io::Write;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .with_context(|| {
                        format!("cannot create {} (it is never overwritten)", path.display())
                    })?;
                file.write_all(&data)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("wrote {} bytes to {}", data.len(), path.display());
            }
            Ok(())
        }
        Command::Bundle(BundleCommand::Retire {
            bundle: BundleRef { org, kind, version },
            store,
        }) => {
            let store = open(&store).await?;
            let org = store.org(&org).await?;
            if store.retire_bundle(org.id, &kind, version).await? {
                eprintln!(
                    "retired {kind} version {version} of org '{}': agents that do not have it get the newest {kind} bundle not retired; agents holding it keep it until a newer version is published",
                    org.name
                );
                Ok(())
            } else {
                anyhow::bail!(
                    "org '{}' has no served {kind} bundle version {version} (see `earlyexit-collector bundle list --org {}`)",
                    org.name,
                    org.name
                )
            }
        }
    }
}

async fn open(args: &StoreArgs) -> Result<Store> {
    let url = match (&args.store, &args.config) {
        (Some(url), _) => url.clone(),
        (None, Some(file)) => ServeConfig::from_file(file)?.store,
        (None, None) => config::default_store(),
    };
    Ok(Store::connect(&url).await?)
}

async fn serve(args: ServeArgs) -> Result<()> {
    let mut cfg = match &args.config {
        Some(file) => ServeConfig::from_file(file)?,
        None => ServeConfig::default(),
    };
    if let Some(listen) = args.listen {
        cfg.listen = listen;
    }
    if let Some(store) = args.store {
        cfg.store = store;
    }
    if args.tls_cert.is_some() {
        cfg.tls_cert = args.tls_cert;
    }
    if args.tls_key.is_some() {
        cfg.tls_key = args.tls_key;
    }
    if args.client_ca.is_some() {
        cfg.client_ca = args.client_ca;
    }
    if args.tls_dir.is_some() {
        cfg.tls_dir = args.tls_dir;
    }
    if !args.tls_names.is_empty() {
        cfg.tls_names = args.tls_names;
    }
    cfg.insecure |= args.insecure;
    if args.http_listen.is_some() {
        cfg.http_listen = args.http_listen;
    }
    if args.org_records_per_second.is_some() {
        cfg.limits.org_records_per_second = args.org_records_per_second;
    }
    // Watch the signals before the port opens: a SIGTERM that comes right
    // after `listening on` must stop the collector gracefully, not kill it.
    let shutdown = shutdown_signal()?;
    server::run(
        cfg,
        |url, http| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "listening on {url}");
            if let Some(http) = http {
                let _ = writeln!(out, "http on {http}");
            }
            let _ = out.flush();
        },
        shutdown,
    )
    .await
}

/// A future that resolves on SIGINT or SIGTERM; the handlers are in place
/// when this returns.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// Creates `path` for a secret: missing folders with mode 0700, the file
/// with mode 0600; refuses an existing file.
fn create_private_file(path: &std::path::Path) -> Result<std::fs::File> {
    crate::private_file::create_parent(path).with_context(|| {
        format!(
            "cannot create the folder {}",
            path.parent().unwrap_or(path).display()
        )
    })?;
    crate::private_file::create_new(path).with_context(|| {
            format!(
                "cannot create {} for the token (an existing file is never overwritten: remove it or choose another path)",
                path.display()
            )
        })
}
