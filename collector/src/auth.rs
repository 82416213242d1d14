//! Who is calling: the bearer token in a request's metadata, mapped to an
//! org through the store. Every handler calls [`authenticate`] first and
//! scopes all it reads and writes to the returned caller's org.
//!
//! Never logs or echoes a token; a failure says what to check instead.
//! Refused calls are logged (peer address, token id when the token is one
//! of ours, reason) at most once per [`FAILURE_LOG_INTERVAL`], with the
//! count of those not logged, so a client retrying a bad token cannot flood
//! the log.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use crate::health::StoreHealth;
use crate::store::{Caller, Store, TokenKind};

/// Refused calls are logged at most this often.
pub const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// When the last failure line was written, and the failures since.
static FAILURE_LOG: Mutex<(Option<Instant>, u64)> = Mutex::new((None, 0));

/// [`authenticate`] for a call, logging a refusal (see the module
/// documentation). `call` names it in the log (`Ingest.Push`).
pub async fn authenticate_call<T>(
    store: &Store,
    health: &StoreHealth,
    request: &Request<T>,
    call: &str,
) -> Result<Caller, Status> {
    let result = authenticate(store, health, request.metadata()).await;
    if let Err(status) = &result
        && status.code() == tonic::Code::Unauthenticated
    {
        let (token_id, reason) = match bearer_token(request.metadata()) {
            Ok(token) => match store.token_state(token).await {
                Ok(Some((id, true))) => (Some(id), "revoked token"),
                Ok(Some((id, false))) => (Some(id), "token refused"),
                Ok(None) | Err(_) => (None, "a token this collector never made"),
            },
            Err(_) => (None, "no usable token"),
        };
        log_failure(request.remote_addr(), call, token_id.as_deref(), reason);
    }
    result
}

/// Writes one failure line, or counts it when one was written lately.
fn log_failure(peer: Option<SocketAddr>, call: &str, token_id: Option<&str>, reason: &str) {
    let mut state = FAILURE_LOG.lock().unwrap_or_else(|p| p.into_inner());
    let (last, unlogged) = &mut *state;
    if last.is_some_and(|at| at.elapsed() < FAILURE_LOG_INTERVAL) {
        *unlogged += 1;
        return;
    }
    let peer = peer.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
    tracing::warn!(
        %peer,
        token_id = %token_id.unwrap_or("-"),
        reason,
        refused_since_last_line = *unlogged,
        "refused {call}"
    );
    *last = Some(Instant::now());
    *unlogged = 0;
}

/// The caller behind `metadata`'s `authorization: Bearer …`, or
/// UNAUTHENTICATED (missing, malformed, unknown or revoked token),
/// PERMISSION_DENIED (a read-only viewer token) or
/// UNAVAILABLE (the store cannot be asked right now; `health` hears of it).
pub async fn authenticate(
    store: &Store,
    health: &StoreHealth,
    metadata: &MetadataMap,
) -> Result<Caller, Status> {
    check_token(store, health, bearer_token(metadata)?).await
}

/// The token of `metadata`'s `authorization: Bearer …` header, or
/// UNAUTHENTICATED when it is missing or malformed.
pub fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    let Some(value) = metadata.get("authorization") else {
        return Err(Status::unauthenticated(
            "no token: send `authorization: Bearer TOKEN` (agent config collector.token or collector.token_file)",
        ));
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            Status::unauthenticated("malformed authorization header: expected `Bearer TOKEN`")
        })
}

/// The caller holding `token` now: long-lived calls (an update stream) ask
/// again while they run, so a revoked token is cut off. A store failure is
/// told to `health` and answered with [`crate::health::unavailable`].
pub async fn check_token(
    store: &Store,
    health: &StoreHealth,
    token: &str,
) -> Result<Caller, Status> {
    match store.authenticate(token).await {
        Ok(Some(caller)) if caller.kind == TokenKind::Viewer => Err(Status::permission_denied(
            "this is a viewer token: it is read-only (the dashboard and the HTTP API); agents need a token from `earlyexit-collector token create --org ORG`",
        )),
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => Err(Status::unauthenticated(
            "unknown or revoked token: create one with `earlyexit-collector token create --org ORG`",
        )),
        Err(e) => {
            health.call_failed(&e).await;
            Err(crate::health::unavailable())
        }
    }
}
