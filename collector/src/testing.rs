//! What tests of this crate, of the agent and of the workspace's
//! end-to-end suite need around a collector:
//!
//! - [`TestDb`]: a SQLite file in a folder the test owns, and a fresh
//!   PostgreSQL database per test when `EARLYEXIT_TEST_DATABASE_URL` is set
//!   (skipped, with the reason printed, when it is not). Lets one test body
//!   run against both backends.
//! - [`TestPki`]: a CA with a server and a client certificate, as PEM files,
//!   for TLS and mTLS on 127.0.0.1.
//! - [`Relay`]: a TCP relay in front of a collector that counts the gRPC
//!   calls passing through and can cut the collector's replies short (a
//!   reply lost after the batch was committed).
//!
//! Nothing here is used by `serve`; it is public so that tests in other
//! crates share one copy.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::store::{Backend, Store, StoreError};

/// The variable naming the PostgreSQL server tests may create databases on.
pub const DATABASE_URL_VAR: &str = "EARLYEXIT_TEST_DATABASE_URL";

/// A database made for one test.
#[derive(Debug)]
pub struct TestDb {
    /// The store URL to give the collector.
    pub url: String,
    /// Which backend.
    pub backend: Backend,
    /// For PostgreSQL: the server URL and the database to drop afterwards.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite file in `dir`.
    pub fn sqlite(dir: &Path) -> TestDb {
        TestDb {
            url: format!("sqlite://{}", dir.join("collector.db").display()),
            backend: Backend::Sqlite,
            postgres: None,
        }
    }

    /// A new, empty PostgreSQL database, or `None` (with a line on stderr
    /// saying why) when `EARLYEXIT_TEST_DATABASE_URL` is unset.
    pub async fn postgres(test: &str) -> Result<Option<TestDb>, StoreError> {
        let Some(server) = std::env::var(DATABASE_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
        else {
            eprintln!(
                "{test}: PostgreSQL part skipped: {DATABASE_URL_VAR} is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            return Ok(None);
        };
        Self::postgres_on(&server).await.map(Some)
    }

    /// A new, empty database on the PostgreSQL server at `server`.
    pub async fn postgres_on(server: &str) -> Result<TestDb, StoreError> {
        let server = server.to_owned();
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(|e| StoreError::Random(e.to_string()))?;
        let name = format!("ee_test_{}", earlyexit_scrub::hex(random));
        let mut admin = PgConnection::connect(&server)
            .await
            .map_err(|e| StoreError::Connect(crate::store::redact_url(&server), e.to_string()))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        let _ = admin.close().await;
        Ok(TestDb {
            url: with_database(&server, &name),
            backend: Backend::Postgres,
            postgres: Some((server, name)),
        })
    }

    /// SQLite in `dir`, then PostgreSQL when configured.
    pub async fn all(dir: &Path, test: &str) -> Result<Vec<TestDb>, StoreError> {
        let mut dbs = vec![TestDb::sqlite(dir)];
        dbs.extend(TestDb::postgres(test).await?);
        Ok(dbs)
    }

    /// Opens the store (migrating it).
    pub async fn store(&self) -> Result<Store, StoreError> {
        Store::connect(&self.url).await
    }

    /// Drops a PostgreSQL database (SQLite files go with their folder).
    pub async fn cleanup(self) {
        if let Some((server, name)) = self.postgres
            && let Ok(mut admin) = PgConnection::connect(&server).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await;
            let _ = admin.close().await;
        }
    }
}

/// PEM files for TLS tests, made by [`TestPki::create`]: a CA, a server
/// certificate for `127.0.0.1` and `localhost`, and a client certificate
/// for mTLS, both signed by the CA.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate (agents: `collector.ca`; collector: `--client-ca`).
    pub ca: PathBuf,
    /// The server certificate (`--tls-cert`).
    pub server_cert: PathBuf,
    /// Its key (`--tls-key`).
    pub server_key: PathBuf,
    /// The client certificate (agents: `collector.cert`).
    pub client_cert: PathBuf,
    /// Its key (agents: `collector.key`).
    pub client_key: PathBuf,
}

impl TestPki {
    /// Makes a new CA named `name` and its certificates in `dir` (created
    /// when missing). Two calls make two CAs that do not trust each other.
    pub fn create(dir: &Path, name: &str) -> anyhow::Result<TestPki> {
        std::fs::create_dir_all(dir)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate()?)?;

        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let mut params = CertificateParams::new(names)?;
            params
                .distinguished_name
                .push(DnType::CommonName, format!("{name} {usage:?}"));
            params.extended_key_usages = vec![usage];
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            let key = KeyPair::generate()?;
            let cert = params.signed_by(&key, &ca)?;
            Ok::<_, rcgen::Error>((cert.pem(), key.serialize_pem()))
        };
        let (server_cert, server_key) = leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client_cert, client_key) = leaf(
            vec!["earlyexit-agent".into()],
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;

        let pki = TestPki {
            ca: dir.join(format!("{name}-ca.pem")),
            server_cert: dir.join(format!("{name}-server.pem")),
            server_key: dir.join(format!("{name}-server.key")),
            client_cert: dir.join(format!("{name}-client.pem")),
            client_key: dir.join(format!("{name}-client.key")),
        };
        for (path, pem) in [
            (&pki.ca, ca.pem()),
            (&pki.server_cert, server_cert),
            (&pki.server_key, server_key),
            (&pki.client_cert, client_cert),
            (&pki.client_key, client_key),
        ] {
            std::fs::write(path, pem)?;
        }
        Ok(pki)
    }
}

/// What a [`Relay`] does with the collector's replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFault {
    /// Passes everything through.
    None,
    /// Passes the connection set-up through, then cuts the first reply to
    /// a call after its first bytes and closes both connections. The
    /// collector answers a Push only after the batch is committed, so the
    /// batch is stored but the agent never hears it: a lost reply.
    CutReply,
}

/// The first bytes an HTTP/2 client sends, before its first frame.
const HTTP2_PREFACE_LEN: usize = 24;

/// Frame header: length (3 bytes), type, flags, stream id (4 bytes).
const FRAME_HEADER_LEN: usize = 9;

/// The HTTP/2 frame type that opens a request or a response.
const FRAME_HEADERS: u8 = 0x1;

/// A TCP relay on `127.0.0.1:0` in front of a collector (plaintext gRPC).
/// Counts the calls clients open through it (each gRPC call is one
/// HEADERS frame from the client) and applies its [`ReplyFault`]. Stops
/// relaying when dropped.
#[derive(Debug)]
pub struct Relay {
    /// Where agents connect.
    pub addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Starts relaying to `upstream`. Must be called inside a tokio runtime.
    pub async fn start(upstream: SocketAddr, fault: ReplyFault) -> std::io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) ends every
            // connection with it.
            let mut connections = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                connections.spawn(relay(client, upstream, fault, Arc::clone(&counter)));
            }
        });
        Ok(Relay { addr, calls, task })
    }

    /// `http://ADDR` of the relay.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// gRPC calls clients opened through the relay so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One client connection: client bytes go upstream as they come (counting
/// the calls); upstream bytes come back frame by frame, applying `fault`.
async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    fault: ReplyFault,
    calls: Arc<AtomicUsize>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async move {
        let mut frames = Frames::after(HTTP2_PREFACE_LEN);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            frames.push(&buf[..n]);
            while let Some(frame) = frames.next_frame() {
                if frame.kind == FRAME_HEADERS && frame.stream != 0 {
                    calls.fetch_add(1, Ordering::SeqCst);
                }
            }
            server_write.write_all(&buf[..n]).await?;
        }
    };
    let down = async move {
        let mut frames = Frames::after(0);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = server_read.read(&mut buf).await?;
            if n == 0 {
                return Ok::<(), std::io::Error>(());
            }
            if fault == ReplyFault::None {
                client_write.write_all(&buf[..n]).await?;
                continue;
            }
            frames.push(&buf[..n]);
            while let Some(frame) = frames.next_frame() {
                if frame.kind == FRAME_HEADERS && frame.stream != 0 {
                    // Half a frame header, then nothing: the reply is cut.
                    client_write.write_all(&frame.bytes[..4]).await?;
                    return Ok(());
                }
                client_write.write_all(&frame.bytes).await?;
            }
        }
    };
    // Whichever direction ends first ends the connection.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}

/// One HTTP/2 frame, whole.
struct Frame {
    kind: u8,
    stream: u32,
    bytes: Vec<u8>,
}

/// Cuts a byte stream into HTTP/2 frames, after skipping a preface.
struct Frames {
    skip: usize,
    buf: Vec<u8>,
}

impl Frames {
    fn after(preface: usize) -> Frames {
        Frames {
            skip: preface,
            buf: Vec::new(),
        }
    }

    fn push(&mut self, mut bytes: &[u8]) {
        let skipped = self.skip.min(bytes.len());
        self.skip -= skipped;
        bytes = &bytes[skipped..];
        self.buf.extend_from_slice(bytes);
    }

    fn next_frame(&mut self) -> Option<Frame> {
        if self.buf.len() < FRAME_HEADER_LEN {
            return None;
        }
        let len = usize::from(self.buf[0]) << 16
            | usize::from(self.buf[1]) << 8
            | usize::from(self.buf[2]);
        let total = FRAME_HEADER_LEN + len;
        if self.buf.len() < total {
            return None;
        }
        let bytes: Vec<u8> = self.buf.drain(..total).collect();
        Some(Frame {
            kind: bytes[3],
            stream: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff,
            bytes,
        })
    }
}

/// `postgres://u@h:5432/test?x=y` with the database replaced by `name`.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_cut_after_the_preface_and_across_reads() {
        let mut frames = Frames::after(HTTP2_PREFACE_LEN);
        let mut stream = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        // SETTINGS (type 4) on stream 0, empty; HEADERS on stream 1, 3 bytes.
        stream.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        stream.extend_from_slice(&[0, 0, 3, 1, 4, 0, 0, 0, 1, b'a', b'b', b'c']);
        let mut kinds = Vec::new();
        for piece in stream.chunks(5) {
            frames.push(piece);
            while let Some(frame) = frames.next_frame() {
                kinds.push((frame.kind, frame.stream, frame.bytes.len()));
            }
        }
        assert_eq!(kinds, [(4, 0, 9), (1, 1, 12)]);
    }

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://h:5432?sslmode=disable", "x"),
            "postgres://h:5432/x?sslmode=disable"
        );
    }
}
