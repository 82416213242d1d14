//! The connection to the collector: a channel for `collector.url` (or one
//! per replica of `collector.urls`, the current one used until a caller
//! [fails over](Collector::fail_over)), TLS
//! (rustls: `collector.ca` as the only root when set, the system's roots
//! otherwise; `cert` + `key` for mTLS), plaintext only for an explicit
//! `http://` URL, and `authorization: Bearer TOKEN` on every call.
//!
//! Connecting is lazy: [`Collector::connect`] reads the token and the
//! certificate files (so their errors name the file) but opens no socket;
//! an unreachable collector shows as `UNAVAILABLE` on the first call. This
//! module makes calls; it never retries them or touches the database.

use std::path::Path;
use std::time::Duration;

use earlyexit_proto::v1;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::SyncError;
use crate::config::CollectorConfig;

/// Time to open the TCP connection and finish the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Time one push may take, the collector's durable commit included.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// HTTP/2 pings on an idle connection, so a collector that vanished
/// without closing the update stream is noticed.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// Largest message accepted from the collector (a bundle chunk, a reply).
pub const MAX_DECODE_BYTES: usize = 8 * 1024 * 1024;

/// Adds the bearer token to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer(<not shown>)")
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, Bearer>;

/// A configured collector: the two services over one channel per URL.
#[derive(Debug, Clone)]
pub struct Collector {
    targets: Vec<Target>,
    current: usize,
    warning: Option<String>,
}

/// One URL of the collector and its services.
#[derive(Debug, Clone)]
struct Target {
    url: String,
    ingest: v1::ingest_client::IngestClient<Authed>,
    updates: v1::updates_client::UpdatesClient<Authed>,
}

impl Collector {
    /// Prepares the channel for `config` (no I/O but reading the token and
    /// certificate files). Must be called inside a tokio runtime.
    pub fn connect(config: &CollectorConfig) -> Result<Collector, SyncError> {
        let urls = config.urls().map_err(SyncError::NoUrl)?;
        let bearer = Bearer(bearer_value(&read_token(config)?)?);
        let mut targets = Vec::with_capacity(urls.len());
        for url in urls {
            let channel = endpoint(&url, config)?.connect_lazy();
            let ingest =
                v1::ingest_client::IngestClient::with_interceptor(channel.clone(), bearer.clone())
                    .max_decoding_message_size(MAX_DECODE_BYTES);
            let updates =
                v1::updates_client::UpdatesClient::with_interceptor(channel, bearer.clone())
                    .max_decoding_message_size(MAX_DECODE_BYTES);
            targets.push(Target {
                url,
                ingest,
                updates,
            });
        }
        Ok(Collector {
            targets,
            current: 0,
            warning: config.token_file.as_deref().and_then(token_file_warning),
        })
    }

    /// How many URLs the collector has (`collector.urls`; 1 for `url`).
    pub fn replicas(&self) -> usize {
        self.targets.len()
    }

    /// Moves to the next URL (round robin) and returns true, or false when
    /// there is only one.
    pub fn fail_over(&mut self) -> bool {
        if self.targets.len() < 2 {
            return false;
        }
        self.current = (self.current + 1) % self.targets.len();
        true
    }

    /// A warning about the configuration to show the user once (a token
    /// file others can read), if any.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// The URL in use, for messages (it holds no secret).
    pub fn url(&self) -> &str {
        &self.targets[self.current].url
    }

    /// `Ingest.Push`, bounded by [`PUSH_TIMEOUT`]. Cancel-safe: dropping
    /// the future abandons the call, and the records stay pending.
    pub async fn push(
        &mut self,
        request: v1::PushRequest,
    ) -> Result<v1::PushResponse, tonic::Status> {
        let mut request = tonic::Request::new(request);
        request.set_timeout(PUSH_TIMEOUT);
        self.targets[self.current]
            .ingest
            .push(request)
            .await
            .map(tonic::Response::into_inner)
    }

    /// `Updates.Subscribe`: the stream of bundle chunks.
    pub async fn subscribe(
        &mut self,
        request: v1::SubscribeRequest,
    ) -> Result<tonic::Streaming<v1::BundleChunk>, tonic::Status> {
        self.targets[self.current]
            .updates
            .subscribe(request)
            .await
            .map(tonic::Response::into_inner)
    }
}

/// The token from `token` or `token_file`, trimmed.
fn read_token(config: &CollectorConfig) -> Result<String, SyncError> {
    let token = match (&config.token, &config.token_file) {
        (Some(token), _) => token.clone(),
        (None, Some(path)) => read_file("token_file", path).and_then(|bytes| {
            String::from_utf8(bytes).map_err(|_| SyncError::BadToken("file is not UTF-8 text"))
        })?,
        (None, None) => return Err(SyncError::NoToken),
    };
    Ok(token.trim().to_string())
}

/// The warning for a token file that users other than its owner can read
/// (anyone who reads the token can send records as this agent's org).
fn token_file_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        format!(
            "earlyexit: warning: the collector token file {} can be read by other users (mode {:04o}); make it private: chmod 600 {}",
            path.display(),
            mode & 0o7777,
            path.display()
        )
    })
}

fn bearer_value(token: &str) -> Result<MetadataValue<Ascii>, SyncError> {
    if token.is_empty() {
        return Err(SyncError::BadToken("is empty"));
    }
    if token.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(SyncError::BadToken(
            "holds spaces, line breaks or non-ASCII characters",
        ));
    }
    format!("Bearer {token}")
        .parse()
        .map_err(|_| SyncError::BadToken("cannot be sent in a header"))
}

fn read_file(key: &'static str, path: &Path) -> Result<Vec<u8>, SyncError> {
    std::fs::read(path).map_err(|source| SyncError::File {
        key,
        path: path.to_path_buf(),
        source,
    })
}

fn endpoint(url: &str, config: &CollectorConfig) -> Result<Endpoint, SyncError> {
    let bad = |detail: &str| SyncError::BadUrl {
        url: url.to_string(),
        detail: detail.to_string(),
    };
    let tls = if url.starts_with("https://") {
        true
    } else if url.starts_with("http://") {
        false
    } else {
        return Err(bad("has no https:// or http:// scheme"));
    };
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| bad(&format!("is not a valid URL ({e})")))?;
    if endpoint.uri().host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    let endpoint = endpoint
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    if !tls {
        if config.ca.is_some() || config.cert.is_some() {
            return Err(bad(
                "is plaintext http:// but collector.ca / cert are set (they need https://)",
            ));
        }
        return Ok(endpoint);
    }
    let mut tls_config = ClientTlsConfig::new();
    tls_config = match &config.ca {
        Some(ca) => tls_config.ca_certificate(Certificate::from_pem(read_file("ca", ca)?)),
        None => tls_config.with_native_roots(),
    };
    match (&config.cert, &config.key) {
        (Some(cert), Some(key)) => {
            tls_config = tls_config.identity(Identity::from_pem(
                read_file("cert", cert)?,
                read_file("key", key)?,
            ));
        }
        (None, None) => {}
        _ => return Err(SyncError::HalfIdentity),
    }
    endpoint.tls_config(tls_config).map_err(|e| SyncError::Tls {
        url: url.to_string(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str) -> CollectorConfig {
        CollectorConfig {
            url: url.to_string(),
            urls: Vec::new(),
            token: Some("t0ken".into()),
            token_file: None,
            ca: None,
            cert: None,
            key: None,
        }
    }

    #[tokio::test]
    async fn urls_need_a_scheme_and_a_host() {
        for (url, want) in [
            ("collector:7700", "no https://"),
            ("ftp://c:7700", "no https://"),
            ("https://", "not a valid URL"),
        ] {
            let e = Collector::connect(&config(url)).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
        }
        assert!(Collector::connect(&config("http://127.0.0.1:7700")).is_ok());
        assert!(Collector::connect(&config("https://collector.internal:7700")).is_ok());
    }

    #[tokio::test]
    async fn the_token_comes_trimmed_from_the_file_and_a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  s3cret-token\n").unwrap();
        let mut c = config("http://127.0.0.1:1");
        c.token = None;
        c.token_file = Some(path.clone());
        assert_eq!(read_token(&c).unwrap(), "s3cret-token");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let warning = Collector::connect(&c)
            .unwrap()
            .warning()
            .map(str::to_string);
        assert!(
            warning.as_deref().is_some_and(|w| w.contains("chmod 600")),
            "{warning:?}"
        );
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        assert_eq!(Collector::connect(&c).unwrap().warning(), None);
        c.token_file = Some(dir.path().join("missing"));
        let e = Collector::connect(&c).unwrap_err().to_string();
        assert!(e.contains("collector.token_file"), "{e}");
        assert!(e.contains("missing"), "{e}");
        c.token_file = None;
        assert!(matches!(
            Collector::connect(&c).unwrap_err(),
            SyncError::NoToken
        ));
        c.token = Some("two words".into());
        assert!(matches!(
            Collector::connect(&c).unwrap_err(),
            SyncError::BadToken(_)
        ));
    }

    #[tokio::test]
    async fn tls_files_are_checked_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config("https://c:7700");
        c.ca = Some(dir.path().join("ca.pem"));
        let e = Collector::connect(&c).unwrap_err().to_string();
        assert!(e.contains("collector.ca"), "{e}");
        let mut c = config("https://c:7700");
        c.cert = Some(dir.path().join("cert.pem"));
        assert!(matches!(
            Collector::connect(&c).unwrap_err(),
            SyncError::HalfIdentity
        ));
        let mut c = config("http://c:7700");
        c.ca = Some(dir.path().join("ca.pem"));
        let e = Collector::connect(&c).unwrap_err().to_string();
        assert!(e.contains("plaintext"), "{e}");
    }

    #[test]
    fn the_token_is_never_in_debug_output() {
        let b = Bearer(bearer_value("s3cret").unwrap());
        assert!(!format!("{b:?}").contains("s3cret"));
    }

    #[tokio::test]
    async fn replicas_are_tried_in_turn_and_url_and_urls_do_not_mix() {
        let mut c = config("");
        c.urls = vec![
            "http://127.0.0.1:7701".into(),
            " http://127.0.0.1:7702 ".into(),
        ];
        let mut collector = Collector::connect(&c).unwrap();
        assert_eq!(collector.replicas(), 2);
        assert_eq!(collector.url(), "http://127.0.0.1:7701");
        assert!(collector.fail_over());
        assert_eq!(collector.url(), "http://127.0.0.1:7702");
        assert!(collector.fail_over());
        assert_eq!(collector.url(), "http://127.0.0.1:7701");
        c.urls.push("collector:7703".into());
        let e = Collector::connect(&c).unwrap_err().to_string();
        assert!(
            e.contains("collector:7703") && e.contains("no https://"),
            "{e}"
        );

        let mut single = Collector::connect(&config("http://127.0.0.1:7700")).unwrap();
        assert!(!single.fail_over());
        let mut both = config("http://127.0.0.1:7700");
        both.urls = vec!["http://127.0.0.1:7701".into()];
        let e = Collector::connect(&both).unwrap_err().to_string();
        assert!(e.contains("not both"), "{e}");
        let e = Collector::connect(&config(" ")).unwrap_err().to_string();
        assert!(e.contains("collector.url is missing"), "{e}");
    }
}
