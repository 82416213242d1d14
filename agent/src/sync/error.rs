//! Why a sync failed, what the user should do about it, and which gRPC
//! codes are worth a retry.
//!
//! Retried ([`RETRIABLE_CODES`]), with back-off, because the push is
//! idempotent (the collector keys records by agent and execution id, so a
//! re-send is a duplicate, never a second record):
//!
//! - `UNAVAILABLE` — the collector is down, restarting, or unreachable, or
//!   it answered that its store is unavailable
//!   ([`earlyexit_proto::STORE_UNAVAILABLE`]; [`SyncError::StoreUnavailable`]
//!   says so instead of pointing at `collector.url`).
//! - `RESOURCE_EXHAUSTED` — the collector's backpressure or quota.
//! - `DEADLINE_EXCEEDED` — the call timed out; it may have been stored.
//! - `ABORTED` — a conflict on the collector's side (e.g. a busy store).
//! - `CANCELLED` — the call was cut (the collector shutting down).
//! - `INTERNAL` and `UNKNOWN` — tonic reports broken connections, HTTP/2
//!   resets and a collector that panicked this way; they are usually
//!   transient, and the bounded number of attempts keeps a lasting one from
//!   looping: records stay pending and the error is shown.
//!
//! A TLS handshake that failed on a certificate (the collector's is not
//! trusted by `collector.ca`, or it refused or missed ours) is never
//! retried whatever the code tonic gives it ([`is_certificate_failure`]):
//! the same configuration fails the same way.
//!
//! Every other code stops the sync at once and is recorded as the last
//! error, with advice: `UNAUTHENTICATED`, `PERMISSION_DENIED`,
//! `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `UNIMPLEMENTED`, `NOT_FOUND`,
//! `ALREADY_EXISTS`, `OUT_OF_RANGE`, `DATA_LOSS`. This module only
//! classifies and words errors; it never retries or sleeps.

use std::path::PathBuf;

use tonic::Code;

use crate::store::StoreError;

/// gRPC codes after which the same request is sent again (see the module
/// documentation for why each is here).
pub const RETRIABLE_CODES: &[Code] = &[
    Code::Unavailable,
    Code::ResourceExhausted,
    Code::DeadlineExceeded,
    Code::Aborted,
    Code::Cancelled,
    Code::Internal,
    Code::Unknown,
];

/// Codes after which a collector with several URLs (`collector.urls`) is
/// tried at its next URL: the replica is down, stopping, cut off or
/// without its store, and another may not be. Not RESOURCE_EXHAUSTED (that
/// replica is up and asks for a slower pace) nor ABORTED.
pub const FAIL_OVER_CODES: &[Code] = &[
    Code::Unavailable,
    Code::DeadlineExceeded,
    Code::Cancelled,
    Code::Internal,
    Code::Unknown,
];

/// True when a call that failed with `code` goes to the next URL.
pub fn is_fail_over(code: Code) -> bool {
    FAIL_OVER_CODES.contains(&code)
}

/// True when a call that failed with `code` is worth sending again.
pub fn is_retriable(code: Code) -> bool {
    RETRIABLE_CODES.contains(&code)
}

/// How rustls words a handshake that failed on a certificate, as it shows
/// in the status' chain of causes: an untrusted, expired or misnamed
/// collector certificate, and an alert from a collector that refused or
/// missed the client certificate.
const CERTIFICATE_FAILURES: &[&str] = &["invalid peer certificate", "received fatal alert"];

/// True when `status` is a TLS handshake that failed on a certificate:
/// nothing but a change of `collector.ca`, `cert` or `key` (or of the
/// collector's certificate) makes it succeed, so it is not retried.
pub fn is_certificate_failure(status: &tonic::Status) -> bool {
    let message = status_message(status);
    CERTIFICATE_FAILURES.iter().any(|w| message.contains(w))
}

/// How the transports word a connection whose two ends speak different
/// protocols: h2 reading a TLS record as a frame (an `http://` URL to a TLS
/// collector), and rustls reading a plaintext HTTP/2 frame as a record (an
/// `https://` URL to a plaintext collector).
const TLS_SPOKEN: &str = "frame with invalid size";
const PLAINTEXT_SPOKEN: &str = "received corrupt message of type InvalidContentType";

/// How a plaintext HTTP/2 connection reads when the other end closed it
/// while the client was still writing: a TLS server does that after its
/// alert, and then the alert may never be read (the close resets the
/// connection), so the words above do not show.
const CUT_OFF: &[&str] = &["broken pipe", "connection reset"];

/// Whether the server behind an `http://` URL answers a plaintext greeting
/// with a TLS alert record (content type 21, version 3.x). It sends the
/// five bytes of one record header, which a TLS server reads whole before
/// it answers, so its close is orderly and its alert arrives. Bounded: one
/// second to connect and one to read, on a host that just answered.
fn answers_with_tls(url: &str) -> bool {
    use std::io::{Read, Write};
    use std::net::{TcpStream, ToSocketAddrs};
    use std::time::Duration;
    const WAIT: Duration = Duration::from_secs(1);
    let Ok(uri) = url.parse::<tonic::transport::Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(80);
    let Some(addr) = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, WAIT) else {
        return false;
    };
    let mut answer = [0u8; 2];
    stream.set_read_timeout(Some(WAIT)).is_ok()
        && stream.set_write_timeout(Some(WAIT)).is_ok()
        && stream.write_all(b"PRI *").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && answer == [21, 3]
}

/// What the collector speaks when the URL's scheme says otherwise: `Some(true)`
/// for TLS behind an `http://` URL, `Some(false)` for plaintext behind an
/// `https://` URL, `None` when the failure is anything else. Not retried:
/// only a change of `collector.url` helps.
pub fn scheme_mismatch(url: &str, status: &tonic::Status) -> Option<bool> {
    let message = status_message(status);
    if url.starts_with("http://")
        && (message.contains(TLS_SPOKEN)
            || (CUT_OFF.iter().any(|w| message.contains(w)) && answers_with_tls(url)))
    {
        Some(true)
    } else if url.starts_with("https://") && message.contains(PLAINTEXT_SPOKEN) {
        Some(false)
    } else {
        None
    }
}

/// The protocol name of a code, as in the gRPC spec (`UNAUTHENTICATED`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// What to do after the collector answered with `code`.
fn advice(code: Code) -> &'static str {
    match code {
        Code::Unauthenticated => {
            "the collector refused the token: check collector.token / collector.token_file \
             (`earlyexit-collector token create` makes a new one)"
        }
        Code::PermissionDenied => {
            "the token is valid but may not do this: ask the collector's admin for a token of \
             this org with ingest rights"
        }
        Code::Unimplemented => {
            "the server at collector.url does not serve this call: check the URL points at an \
             earlyexit collector, and that it is not older than this agent"
        }
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
            "the collector refused the request: upgrade earlyexit or the collector so they \
             speak the same protocol, and report it if they already do"
        }
        Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
            "check collector.url and that the collector is running and reachable"
        }
        Code::ResourceExhausted => "the collector is overloaded or over quota: try again later",
        _ => "try again later, and check the collector's logs",
    }
}

/// A sync that could not be done, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No `collector` key in the config.
    #[error(
        "no collector is configured: add `collector: {{url: https://HOST:PORT, token_file: PATH}}` to $EARLYEXIT_HOME/config.yaml (see `earlyexit config show`)"
    )]
    NoCollector,
    /// The configured telemetry level sends nothing.
    #[error(
        "telemetry is '{level}': nothing leaves this machine ({pending} records are pending from runs recorded at anonymous or full); set `telemetry: anonymous` (or full) to send them"
    )]
    NotSending {
        /// The level in effect.
        level: &'static str,
        /// Records waiting.
        pending: u64,
    },
    /// `collector.url` is not a usable URL.
    #[error(
        "collector.url '{url}' {detail}; write https://HOST:PORT (or http://HOST:PORT for a plaintext collector on a trusted network)"
    )]
    BadUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Neither `url` nor `urls`, or both.
    #[error("{0}")]
    NoUrl(&'static str),
    /// Neither `token` nor `token_file`.
    #[error(
        "the collector needs a token: set collector.token_file (a file holding the token, mode 0600) or collector.token"
    )]
    NoToken,
    /// A configured file (token, CA, certificate, key) cannot be read.
    #[error("cannot read collector.{key} {}: {source}; check the path and its permissions", path.display())]
    File {
        /// The config key (`token_file`, `ca`, `cert`, `key`).
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The token is empty or holds characters a header cannot carry.
    #[error(
        "the collector token {0}; it must be one line of printable ASCII (copy it again from `earlyexit-collector token create`)"
    )]
    BadToken(&'static str),
    /// `cert` without `key` or the reverse.
    #[error(
        "collector.cert and collector.key go together (mTLS): set both, or neither (TLS without a client certificate)"
    )]
    HalfIdentity,
    /// TLS could not be set up.
    #[error("cannot set up TLS for {url}: {detail}; check collector.ca, cert and key")]
    Tls {
        /// The collector URL.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The collector answered with an error that retrying will not fix.
    #[error("the collector at {url} refused the push ({}: {message}): {}", code_name(*.code), advice(*.code))]
    Refused {
        /// The collector URL.
        url: String,
        /// The gRPC code.
        code: Code,
        /// The collector's message.
        message: String,
    },
    /// The TLS handshake failed on a certificate (see
    /// [`is_certificate_failure`]).
    #[error(
        "the TLS handshake with the collector at {url} failed ({message}); records stay pending: check that collector.ca is the CA that signed the collector's certificate (or leave it out to use the system's roots) and that the URL's host is a name in that certificate; if the collector requires client certificates (mTLS), set collector.cert and collector.key to a certificate its CA signed"
    )]
    Certificate {
        /// The collector URL.
        url: String,
        /// What rustls said.
        message: String,
    },
    /// The URL's scheme does not match what the collector speaks.
    #[error("{}", wrong_scheme(url, *speaks_tls))]
    WrongScheme {
        /// The collector URL as configured.
        url: String,
        /// The collector speaks TLS (else plaintext).
        speaks_tls: bool,
    },
    /// The collector is reachable but its store is not (it answered
    /// UNAVAILABLE with [`earlyexit_proto::STORE_UNAVAILABLE`]) past the
    /// attempts or the time allowed.
    #[error(
        "the collector at {url} is up but its store is unavailable, so it cannot take records now; records stay pending and are sent by the next sync (nothing to change on this machine: the collector's log says what is wrong with its store)"
    )]
    StoreUnavailable {
        /// The collector URL.
        url: String,
    },
    /// Retriable failures went on past the attempts or the time allowed.
    #[error("cannot reach the collector at {url} ({}: {message}); records stay pending and are sent by the next sync: {}", code_name(*.code), advice(*.code))]
    Unreachable {
        /// The collector URL.
        url: String,
        /// The last gRPC code.
        code: Code,
        /// The last message.
        message: String,
    },
    /// The sync was stopped (shutdown signal, `sync_on_exit_timeout`).
    #[error("stopped before the collector answered; records stay pending")]
    Stopped,
    /// The agent id file could not be read or made.
    #[error("cannot use the agent id file {}: {source}; check $EARLYEXIT_HOME's permissions, or delete the file to have a new id made", path.display())]
    AgentId {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The scrubber could not be set up from the config.
    #[error("cannot set up scrubbing (scrub_rules, scrub_disable, scrub_keyed): {0}")]
    Privacy(#[from] crate::privacy::PrivacyError),
    /// The local database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// The error for a failed call to the collector at `url`: the
    /// collector's "store unavailable" answer becomes
    /// [`SyncError::StoreUnavailable`], other retriable codes
    /// [`SyncError::Unreachable`], the rest [`SyncError::Refused`].
    pub fn from_status(url: &str, status: &tonic::Status) -> SyncError {
        let message = status_message(status);
        if let Some(speaks_tls) = scheme_mismatch(url, status) {
            SyncError::WrongScheme {
                url: url.to_string(),
                speaks_tls,
            }
        } else if is_certificate_failure(status) {
            SyncError::Certificate {
                url: url.to_string(),
                message,
            }
        } else if status.code() == Code::Unavailable
            && status.message() == earlyexit_proto::STORE_UNAVAILABLE
        {
            SyncError::StoreUnavailable {
                url: url.to_string(),
            }
        } else if is_retriable(status.code()) {
            SyncError::Unreachable {
                url: url.to_string(),
                code: status.code(),
                message,
            }
        } else {
            SyncError::Refused {
                url: url.to_string(),
                code: status.code(),
                message,
            }
        }
    }

    /// True when the same sync may succeed later without a change of
    /// configuration.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            SyncError::Unreachable { .. } | SyncError::StoreUnavailable { .. } | SyncError::Stopped
        )
    }
}

/// What to do about a URL whose scheme the collector does not speak.
fn wrong_scheme(url: &str, speaks_tls: bool) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    if speaks_tls {
        format!(
            "the collector at {url} speaks TLS: use https://{rest} in collector.url, and set collector.ca to its certificate (a collector that made its own prints the `collector.ca:` line to use when it starts, e.g. ~/.earlyexit-collector/tls/cert.pem); records stay pending"
        )
    } else {
        format!(
            "the collector at {url} speaks plaintext gRPC (it was started with --insecure): use http://{rest} in collector.url, or serve it with TLS; records stay pending"
        )
    }
}

/// The status message, with the transport's cause when tonic has one
/// ("tcp connect error: Connection refused").
fn status_message(status: &tonic::Status) -> String {
    let mut message = status.message().to_string();
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&text);
        }
        source = cause.source();
    }
    if message.is_empty() {
        "no message".to_string()
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on loopback that reads the five-byte greeting and answers
    /// `reply`.
    fn answering(reply: &'static [u8]) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut conn, _)) = listener.accept() {
                let mut greeting = [0u8; 5];
                let _ = conn.read_exact(&mut greeting);
                let _ = conn.write_all(reply);
            }
        });
        format!("http://{addr}")
    }

    #[test]
    fn a_cut_off_plaintext_call_to_a_tls_server_is_recognised_by_its_alert() {
        let cut = tonic::Status::unknown(
            "transport error: connection error: stream closed because of a broken pipe",
        );
        // A TLS alert record: handshake failure.
        let tls = answering(&[21, 3, 3, 0, 2, 2, 40]);
        assert_eq!(scheme_mismatch(&tls, &cut), Some(true));
        // An HTTP/2 server's SETTINGS frame is no alert.
        let h2 = answering(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        assert_eq!(scheme_mismatch(&h2, &cut), None);
        // Nothing listening: no mismatch, just unreachable.
        assert_eq!(scheme_mismatch("http://127.0.0.1:9", &cut), None);
    }

    const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    #[test]
    fn exactly_the_listed_codes_are_retried() {
        let retried: Vec<&str> = ALL
            .iter()
            .filter(|c| is_retriable(**c))
            .map(|c| code_name(*c))
            .collect();
        assert_eq!(
            retried,
            [
                "CANCELLED",
                "UNKNOWN",
                "DEADLINE_EXCEEDED",
                "RESOURCE_EXHAUSTED",
                "ABORTED",
                "INTERNAL",
                "UNAVAILABLE"
            ]
        );
        for never in [
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::InvalidArgument,
            Code::FailedPrecondition,
            Code::Unimplemented,
        ] {
            assert!(!is_retriable(never), "{}", code_name(never));
        }
    }

    #[test]
    fn a_refused_token_says_which_keys_to_check() {
        let e = SyncError::from_status(
            "https://c:7700",
            &tonic::Status::unauthenticated("invalid token"),
        );
        let text = e.to_string();
        assert!(matches!(e, SyncError::Refused { .. }));
        assert!(!e.is_transient());
        assert!(text.contains("UNAUTHENTICATED"), "{text}");
        assert!(text.contains("collector.token"), "{text}");
        assert!(text.contains("https://c:7700"), "{text}");
    }

    #[test]
    fn a_certificate_failure_names_the_tls_keys_and_is_not_transient() {
        for detail in [
            "invalid peer certificate: UnknownIssuer",
            "received fatal alert: CertificateRequired",
        ] {
            let status = tonic::Status::unavailable(detail);
            assert!(is_certificate_failure(&status), "{detail}");
            let e = SyncError::from_status("https://127.0.0.1:7700", &status);
            let text = e.to_string();
            assert!(matches!(e, SyncError::Certificate { .. }), "{text}");
            assert!(!e.is_transient());
            assert!(text.contains(detail), "{text}");
            assert!(text.contains("collector.ca"), "{text}");
            assert!(text.contains("collector.cert"), "{text}");
        }
        assert!(!is_certificate_failure(&tonic::Status::unavailable(
            "tcp connect error: Connection refused"
        )));
    }

    #[test]
    fn a_url_whose_scheme_the_collector_does_not_speak_says_which_to_use() {
        let tls = tonic::Status::internal(
            "h2 protocol error: http2 error: transport error: connection error detected: frame with invalid size",
        );
        let e = SyncError::from_status("http://127.0.0.1:7700", &tls);
        let text = e.to_string();
        assert!(
            matches!(
                e,
                SyncError::WrongScheme {
                    speaks_tls: true,
                    ..
                }
            ),
            "{text}"
        );
        assert!(!e.is_transient());
        assert!(
            text.contains("speaks TLS: use https://127.0.0.1:7700"),
            "{text}"
        );
        assert!(text.contains("collector.ca"), "{text}");
        assert!(!text.contains("h2 protocol error"), "{text}");
        let plain = tonic::Status::unavailable(
            "received corrupt message of type InvalidContentType: transport error",
        );
        let e = SyncError::from_status("https://c:7700", &plain);
        assert!(e.to_string().contains("speaks plaintext gRPC"), "{e}");
        // The same words under the right scheme are not a mismatch.
        assert!(scheme_mismatch("https://c:7700", &tls).is_none());
        assert!(scheme_mismatch("http://c:7700", &plain).is_none());
    }

    #[test]
    fn an_unreachable_collector_says_records_stay_pending() {
        let e = SyncError::from_status(
            "http://127.0.0.1:9",
            &tonic::Status::unavailable("tcp connect error"),
        );
        let text = e.to_string();
        assert!(e.is_transient());
        assert!(text.contains("cannot reach the collector"), "{text}");
        assert!(text.contains("stay pending"), "{text}");
        assert!(text.contains("UNAVAILABLE"), "{text}");
    }

    #[test]
    fn a_collector_whose_store_is_down_is_not_called_unreachable() {
        let status = tonic::Status::unavailable(earlyexit_proto::STORE_UNAVAILABLE);
        let e = SyncError::from_status("https://c:7700", &status);
        let text = e.to_string();
        assert!(matches!(e, SyncError::StoreUnavailable { .. }), "{text}");
        assert!(e.is_transient());
        assert!(is_retriable(status.code()));
        assert!(text.contains("store is unavailable"), "{text}");
        assert!(text.contains("stay pending"), "{text}");
        assert!(!text.contains("cannot reach"), "{text}");
        assert!(!text.contains("check collector.url"), "{text}");
    }
}
