//! Who is calling: the bearer token in a request's metadata, mapped to an
//! org through the store. Every handler calls [`authenticate`] first and
//! scopes all it reads and writes to the returned caller's org.
//!
//! Never logs or echoes a token; a failure says what to check instead.

use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::store::{Caller, Store};

/// The caller behind `metadata`'s `authorization: Bearer …`, or
/// UNAUTHENTICATED (missing, malformed, unknown or revoked token) or
/// UNAVAILABLE (the store cannot be asked right now).
pub async fn authenticate(store: &Store, metadata: &MetadataMap) -> Result<Caller, Status> {
    check_token(store, bearer_token(metadata)?).await
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
/// again while they run, so a revoked token is cut off.
pub async fn check_token(store: &Store, token: &str) -> Result<Caller, Status> {
    match store.authenticate(token).await {
        Ok(Some(caller)) => Ok(caller),
        Ok(None) => Err(Status::unauthenticated(
            "unknown or revoked token: create one with `earlyexit-collector token create --org ORG`",
        )),
        Err(e) => Err(Status::unavailable(format!(
            "cannot check the token right now ({e}); retry"
        ))),
    }
}
