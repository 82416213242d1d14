//! Who is asking over HTTP, and browser sessions.
//!
//! A request is authenticated by `Authorization: Bearer TOKEN` (an agent
//! token or a read-only viewer token of an org: scripts, Prometheus) or by
//! the session cookie [`COOKIE`]. A browser gets the cookie from the login
//! form, for a viewer token only: `HttpOnly` (no script reads it),
//! `SameSite=Strict` (no other site's page sends it), `Secure` over TLS,
//! `Path=/`. The session is kept in this process's memory under a random
//! 256-bit id and holds the token's hash, never the token; it expires after
//! [`SESSION_TTL`], on logout, and the token is checked again on every
//! request, so revoking it ends its sessions at once. Sessions belong to
//! one replica: behind a load balancer, pin browsers to a replica or log in
//! again after a switch.
//!
//! Owns sessions and the login pages. Must never put a token or session id
//! in a log line or a URL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use bytes::Bytes;
use earlyexit_scrub::sha256_hex;

use super::{AppState, json_error};
use crate::store::{Caller, TokenKind};

/// The session cookie's name.
pub const COOKIE: &str = "ee_session";

/// How long a browser session lasts after login: a working day.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Sessions kept at most; past it, expired ones go first, then the one
/// closest to expiring (that browser logs in again).
pub const MAX_SESSIONS: usize = 10_000;

#[derive(Debug)]
struct Session {
    token_hash: String,
    expires_at: Instant,
}

/// The browser sessions of this process.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// A new session for the token with hash `token_hash`; returns its id.
    pub fn create(&self, token_hash: String) -> Result<String, String> {
        let mut id = [0u8; 32];
        getrandom::fill(&mut id).map_err(|e| format!("no randomness for a session id: {e}"))?;
        let id = earlyexit_scrub::hex(id);
        let now = Instant::now();
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| s.expires_at > now);
        }
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.expires_at)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Session {
                token_hash,
                expires_at: now + SESSION_TTL,
            },
        );
        Ok(id)
    }

    /// The token hash of a live session.
    fn token_hash(&self, id: &str) -> Option<String> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(id) {
            Some(s) if s.expires_at > Instant::now() => Some(s.token_hash.clone()),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn remove(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Live sessions (for tests and `/metrics`).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|s| s.expires_at > now)
            .count()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a request has no caller.
#[derive(Debug)]
enum Refused {
    /// No credentials, or ones that are not (or no longer) valid.
    Unauthenticated(&'static str),
    /// The store could not be asked.
    Unavailable,
}

/// The value of cookie `name` in `headers`.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

async fn identify(parts: &Parts, state: &AppState) -> Result<Caller, Refused> {
    let (hash, from_session) = if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(Refused::Unauthenticated(
                "malformed authorization header: expected `Bearer TOKEN`",
            ))?;
        (sha256_hex(token.as_bytes()), false)
    } else if let Some(id) = cookie(&parts.headers, COOKIE) {
        let hash = state
            .sessions
            .token_hash(id)
            .ok_or(Refused::Unauthenticated(
                "the session expired or was ended: log in again at /login",
            ))?;
        (hash, true)
    } else {
        return Err(Refused::Unauthenticated(
            "no credentials: send `Authorization: Bearer TOKEN` (an org's agent or viewer token) or log in at /login",
        ));
    };
    match state.store.authenticate_hash(&hash).await {
        Ok(Some(caller)) if !from_session || caller.kind == TokenKind::Viewer => Ok(caller),
        Ok(_) => Err(Refused::Unauthenticated(
            "unknown or revoked token: create a viewer token with `earlyexit-collector token create --org ORG --viewer`",
        )),
        Err(e) => {
            state.health.call_failed(&e).await;
            Err(Refused::Unavailable)
        }
    }
}

/// The caller of an API request (or `/metrics`); a refusal is a JSON 401.
#[derive(Debug)]
pub struct ApiCaller(pub Caller);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match identify(parts, state).await {
            Ok(c) => Ok(ApiCaller(c)),
            Err(Refused::Unauthenticated(why)) => {
                let mut r = json_error(StatusCode::UNAUTHORIZED, why);
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"earlyexit-collector\""),
                );
                Err(r)
            }
            Err(Refused::Unavailable) => Err(json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                crate::health::STORE_UNAVAILABLE,
            )),
        }
    }
}

/// The caller of a dashboard page; a refusal sends the browser to /login.
#[derive(Debug)]
pub struct PageCaller(pub Caller);

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match identify(parts, state).await {
            Ok(c) => Ok(PageCaller(c)),
            Err(Refused::Unauthenticated(_)) => Err(Redirect::to("/login").into_response()),
            Err(Refused::Unavailable) => Err((
                StatusCode::SERVICE_UNAVAILABLE,
                Html(login_html(
                    "The collector's store is not available right now; try again shortly.",
                )),
            )
                .into_response()),
        }
    }
}

/// The login page, with an optional message.
fn login_html(message: &str) -> String {
    let message = if message.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"msg\" id=\"login-message\">{}</p>",
            super::dashboard::escape(message)
        )
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>earlyexit collector: log in</title><style>\
         body{{font:15px/1.4 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f4f5f7;color:#1d2330}}\
         form{{background:#fff;padding:2em;border-radius:8px;box-shadow:0 1px 4px #0002;width:min(28em,90vw)}}\
         input{{width:100%;box-sizing:border-box;padding:.6em;font:inherit;margin:.5em 0 1em}}\
         button{{padding:.6em 1.4em;font:inherit;background:#2856c5;color:#fff;border:0;border-radius:4px}}\
         .msg{{color:#a3261b}}code{{font-size:90%}}</style></head><body>\
         <form method=\"post\" action=\"/login\"><h1>earlyexit collector</h1>{message}\
         <label for=\"token\">Viewer token</label>\
         <input id=\"token\" name=\"token\" type=\"password\" autocomplete=\"off\" required>\
         <button id=\"login\" type=\"submit\">Log in</button>\
         <p>Make one with <code>earlyexit-collector token create --org ORG --viewer</code>.</p>\
         </form></body></html>"
    )
}

/// `GET /login`: the form.
pub async fn login_form() -> Html<String> {
    Html(login_html(""))
}

/// `POST /login` (form field `token`): a viewer token opens a session.
pub async fn login(State(state): State<AppState>, body: Bytes) -> Response {
    let token = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let refuse = |status: StatusCode, msg: &str| (status, Html(login_html(msg))).into_response();
    if token.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "Enter a viewer token.");
    }
    let hash = sha256_hex(token.as_bytes());
    match state.store.authenticate_hash(&hash).await {
        Ok(Some(caller)) if caller.kind == TokenKind::Viewer => {
            let id = match state.sessions.create(hash) {
                Ok(id) => id,
                Err(e) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &e),
            };
            tracing::info!(token_id = %caller.token_id, org = %caller.org.name, "dashboard login");
            let secure = if state.tls { "; Secure" } else { "" };
            let cookie = format!(
                "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
                SESSION_TTL.as_secs()
            );
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(Some(_)) => refuse(
            StatusCode::FORBIDDEN,
            "That is an agent token. The dashboard takes a read-only viewer token: earlyexit-collector token create --org ORG --viewer",
        ),
        Ok(None) => refuse(StatusCode::UNAUTHORIZED, "Unknown or revoked token."),
        Err(e) => {
            state.health.call_failed(&e).await;
            refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "The collector's store is not available right now; try again shortly.",
            )
        }
    }
}

/// `POST /logout`: ends the session and clears the cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, COOKIE) {
        state.sessions.remove(id);
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("ee_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; ee_session=abc ; b=2"),
        );
        assert_eq!(cookie(&h, COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn sessions_expire_and_end() {
        let s = Sessions::default();
        let id = s.create("hash".into()).unwrap();
        assert_eq!(id.len(), 64);
        assert_eq!(s.token_hash(&id).as_deref(), Some("hash"));
        assert_eq!(s.len(), 1);
        s.remove(&id);
        assert_eq!(s.token_hash(&id), None);
        assert!(s.is_empty());
    }
}
