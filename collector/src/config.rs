//! The collector's settings: one struct, from defaults, then an optional
//! YAML file (`--config`), then command-line flags, in that order.
//!
//! Every default is a named constant with its reason. Unknown keys in the
//! file are errors that name the key and the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Where `serve` listens by default: loopback only, so a fresh collector is
/// not exposed before TLS and tokens are thought about.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7700";

/// The largest gRPC message accepted. Agents split batches well below it;
/// a bigger message is refused before it is decoded (RESOURCE_EXHAUSTED).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 << 20;

/// Records in one Push. Agents send 500; ten times that leaves room and
/// still bounds the work one call can ask for.
pub const DEFAULT_MAX_BATCH_RECORDS: usize = 5000;

/// One encoded record: the record budget agents shape every record to
/// ([`earlyexit_proto::MAX_RECORD_BYTES`]). It may be set larger, never
/// smaller (a record the agent made to fit would be refused); anything
/// bigger is a bug or abuse and is rejected by name (not retriable).
pub const DEFAULT_MAX_RECORD_BYTES: usize = earlyexit_proto::MAX_RECORD_BYTES;

/// Decoded bytes waiting for or being written to the store, over all
/// calls. This is the ingest queue's bound: past it, Push answers
/// RESOURCE_EXHAUSTED instead of buffering (memory stays flat under
/// overload).
pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 32 << 20;

/// Push calls decoded and prepared at once, over all agents; more wait
/// (their bytes held back by HTTP/2 flow control), so memory does not grow
/// with the number of agents. Enough to keep both cores and the writer busy.
pub const DEFAULT_MAX_CONCURRENT_PUSHES: usize = 16;

/// Rows written in one transaction at most when several batches wait (group
/// commit: one durable sync covers all of them).
pub const DEFAULT_GROUP_COMMIT_ROWS: usize = 8000;

/// TCP connections open at once; more are closed at accept. Each agent
/// holds one (its update stream and pushes share it), so this is the
/// fleet size one replica serves; the process needs a file-descriptor
/// limit above it (`ulimit -n`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// How long a new connection may take to send its first bytes (a TLS
/// ClientHello or the HTTP/2 preface) before it is closed: clients send
/// them at once, so 10 s covers slow networks and cuts idle sockets.
pub const DEFAULT_FIRST_BYTES_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for in-flight batches before giving up on them
/// (they were not acknowledged, so the agents send them again).
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How often a `Subscribe` stream looks for bundles published by another
/// replica (bundles published through this one are sent at once).
pub const DEFAULT_BUNDLE_POLL: Duration = Duration::from_secs(5);

/// The collector's home: `$EARLYEXIT_COLLECTOR_HOME`, else
/// `~/.earlyexit-collector`. Holds the default SQLite file and the
/// self-signed certificate.
pub fn home() -> PathBuf {
    if let Some(dir) = std::env::var_os("EARLYEXIT_COLLECTOR_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".earlyexit-collector")
}

/// The store used when none is given: a SQLite file in [`home`].
pub fn default_store() -> String {
    format!("sqlite://{}", home().join("collector.db").display())
}

/// Everything `serve` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://…`.
    pub store: String,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle: when set, clients must present a certificate it signed.
    pub client_ca: Option<PathBuf>,
    /// Folder of the self-signed certificate (`cert.pem`, `key.pem`), made
    /// there on first start when missing; default `tls/` in [`home`].
    /// Replicas given one folder (shared, or a copy of the first's) serve
    /// one certificate, so an agent failing over trusts them all.
    pub tls_dir: Option<PathBuf>,
    /// Names put in a self-signed certificate besides localhost,
    /// 127.0.0.1, ::1 and the host's name: the other replicas' host names,
    /// a load balancer's.
    pub tls_names: Vec<String>,
    /// Serve plaintext gRPC (no TLS).
    pub insecure: bool,
    /// Address of the HTTP listener (dashboard, JSON API, `/metrics`,
    /// `/healthz`, `/readyz`); none (the default): no HTTP listener. Serves
    /// TLS with the gRPC settings, plaintext with `insecure`.
    pub http_listen: Option<SocketAddr>,
    /// Size, queue and rate limits.
    pub limits: Limits,
    /// Bound on the graceful shutdown phase.
    #[serde(deserialize_with = "de_duration")]
    pub shutdown_grace: Duration,
    /// How often `Subscribe` polls for bundles published elsewhere.
    #[serde(deserialize_with = "de_duration")]
    pub bundle_poll: Duration,
}

/// Limits that keep memory and work bounded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest gRPC message, bytes.
    pub max_message_bytes: usize,
    /// Most records in one Push.
    pub max_batch_records: usize,
    /// Largest encoded record, bytes.
    pub max_record_bytes: usize,
    /// Bound of the ingest queue, in decoded bytes.
    pub max_inflight_bytes: usize,
    /// Push calls worked on at once.
    pub max_concurrent_pushes: usize,
    /// Most rows per group-commit transaction.
    pub group_commit_rows: usize,
    /// Per-org ingest rate, records per second, per replica (none: unlimited).
    pub org_records_per_second: Option<u32>,
    /// Per-org burst above the rate, records (default: one second's worth or
    /// one full batch, whichever is larger).
    pub org_burst_records: Option<u32>,
    /// Per-org ingest volume, encoded bytes per second, per replica (none:
    /// unlimited); the burst is one second's worth (a bigger message passes
    /// when the bucket is full and leaves it in debt).
    pub org_bytes_per_second: Option<u32>,
    /// TCP connections open at once (see [`crate::connections`]).
    pub max_connections: usize,
    /// Time a new connection has to send its first bytes.
    #[serde(deserialize_with = "de_duration")]
    pub first_bytes_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_batch_records: DEFAULT_MAX_BATCH_RECORDS,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
            max_concurrent_pushes: DEFAULT_MAX_CONCURRENT_PUSHES,
            group_commit_rows: DEFAULT_GROUP_COMMIT_ROWS,
            org_records_per_second: None,
            org_burst_records: None,
            org_bytes_per_second: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            first_bytes_timeout: DEFAULT_FIRST_BYTES_TIMEOUT,
        }
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            store: default_store(),
            tls_cert: None,
            tls_key: None,
            client_ca: None,
            tls_dir: None,
            tls_names: Vec::new(),
            insecure: false,
            http_listen: None,
            limits: Limits::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            bundle_poll: DEFAULT_BUNDLE_POLL,
        }
    }
}

impl ServeConfig {
    /// Plaintext on `127.0.0.1:0` with the given store: what tests use.
    pub fn for_test(store: impl Into<String>) -> Self {
        ServeConfig {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            store: store.into(),
            insecure: true,
            shutdown_grace: Duration::from_secs(5),
            bundle_poll: Duration::from_millis(200),
            ..ServeConfig::default()
        }
    }

    /// Reads a YAML config file over the defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        if text.trim().is_empty() {
            return Ok(ServeConfig::default());
        }
        serde_yaml_ng::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            why: e.to_string(),
        })
    }

    /// Checks combinations that no single field can: TLS files come in
    /// pairs, and mTLS needs TLS.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) | (None, Some(_)) => {
                return Err(ConfigError::Invalid(
                    "--tls-cert and --tls-key go together: give both, or neither (a self-signed certificate is then made), or --insecure".into(),
                ));
            }
            _ => {}
        }
        if self.insecure && (self.tls_cert.is_some() || self.client_ca.is_some()) {
            return Err(ConfigError::Invalid(
                "--insecure serves plaintext, so --tls-cert/--tls-key/--client-ca would be ignored; drop one side".into(),
            ));
        }
        if (self.tls_dir.is_some() || !self.tls_names.is_empty())
            && (self.insecure || self.tls_cert.is_some())
        {
            return Err(ConfigError::Invalid(
                "--tls-dir and --tls-name are for the self-signed certificate, so they go with neither --insecure nor --tls-cert/--tls-key; drop one side".into(),
            ));
        }
        let l = &self.limits;
        for (name, v) in [
            ("max_message_bytes", l.max_message_bytes),
            ("max_batch_records", l.max_batch_records),
            ("max_record_bytes", l.max_record_bytes),
            ("max_inflight_bytes", l.max_inflight_bytes),
            ("max_concurrent_pushes", l.max_concurrent_pushes),
            ("group_commit_rows", l.group_commit_rows),
            ("max_connections", l.max_connections),
        ] {
            if v == 0 {
                return Err(ConfigError::Invalid(format!(
                    "limits.{name} must be greater than 0"
                )));
            }
        }
        if l.max_record_bytes < earlyexit_proto::MAX_RECORD_BYTES {
            return Err(ConfigError::Invalid(format!(
                "limits.max_record_bytes is {}, below the record budget agents shape their records to ({} bytes): their largest runs would be refused; set it to {} or more",
                l.max_record_bytes,
                earlyexit_proto::MAX_RECORD_BYTES,
                earlyexit_proto::MAX_RECORD_BYTES
            )));
        }
        if l.org_bytes_per_second == Some(0) {
            return Err(ConfigError::Invalid(
                "limits.org_bytes_per_second must be greater than 0 (leave it out for no limit)"
                    .into(),
            ));
        }
        if l.org_records_per_second == Some(0) {
            return Err(ConfigError::Invalid(
                "limits.org_records_per_second must be greater than 0 (leave it out for no limit)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A config file or flag combination that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {why}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The file is not valid YAML for the collector (unknown key, wrong type).
    #[error("invalid config file {}: {why}", .path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        why: String,
    },
    /// Settings that do not go together.
    #[error("{0}")]
    Invalid(String),
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "'{text}' is not a duration ({e}); write e.g. 10s or 500ms"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_overrides_defaults_and_unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("collector.yaml");
        std::fs::write(
            &path,
            "listen: 0.0.0.0:7701\nstore: postgres://ee@db/ee\nshutdown_grace: 3s\nlimits:\n  org_records_per_second: 2000\n",
        )
        .unwrap();
        let cfg = ServeConfig::from_file(&path).unwrap();
        assert_eq!(cfg.listen.port(), 7701);
        assert_eq!(cfg.store, "postgres://ee@db/ee");
        assert_eq!(cfg.shutdown_grace, Duration::from_secs(3));
        assert_eq!(cfg.limits.org_records_per_second, Some(2000));
        assert_eq!(cfg.limits.max_batch_records, DEFAULT_MAX_BATCH_RECORDS);

        std::fs::write(&path, "listen: 0.0.0.0:7701\nlimit:\n  x: 1\n").unwrap();
        let err = ServeConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("unknown field `limit`"), "{err}");
        assert!(err.contains("collector.yaml"), "{err}");

        std::fs::write(&path, "shutdown_grace: soon\n").unwrap();
        let err = ServeConfig::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("'soon' is not a duration"), "{err}");
    }

    #[test]
    fn tls_files_come_in_pairs() {
        let cfg = ServeConfig {
            tls_cert: Some("c.pem".into()),
            ..ServeConfig::default()
        };
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("go together")
        );
        let cfg = ServeConfig {
            insecure: true,
            client_ca: Some("ca.pem".into()),
            ..ServeConfig::default()
        };
        assert!(cfg.validate().is_err());
        let cfg = ServeConfig {
            insecure: true,
            tls_dir: Some("tls".into()),
            ..ServeConfig::default()
        };
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("--tls-dir")
        );
        assert!(ServeConfig::default().validate().is_ok());
    }

    #[test]
    fn the_record_limit_may_be_larger_than_the_budget_never_smaller() {
        let mut cfg = ServeConfig::default();
        assert_eq!(
            cfg.limits.max_record_bytes,
            earlyexit_proto::MAX_RECORD_BYTES
        );
        cfg.limits.max_record_bytes = 2 * earlyexit_proto::MAX_RECORD_BYTES;
        assert!(cfg.validate().is_ok());
        cfg.limits.max_record_bytes = earlyexit_proto::MAX_RECORD_BYTES - 1;
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("below the record budget"), "{err}");
        assert!(err.contains("set it to 1048576 or more"), "{err}");
    }
}
