//! The HTTP listener against a real collector on 127.0.0.1:0 (SQLite and,
//! when `EARLYEXIT_TEST_DATABASE_URL` is set, PostgreSQL), seeded over
//! real gRPC: auth (agent, viewer, none, sessions), the JSON API against
//! the store, `/metrics`, health, and `openapi.yaml` against the router.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use common::http::{self, Answer};
use common::{Fixture, push, record};
use earlyexit_collector::http::ROUTES;
use earlyexit_collector::testing::TestDb;
use earlyexit_proto::v1::RunRecord;

/// Runs with known columns: `n` per (program, reason).
fn seeded_runs(now_ms: i64) -> Vec<RunRecord> {
    let mut out = Vec::new();
    let kinds = [
        ("cargo", "test", "rust", "match", None, 4.0),
        ("cargo", "test", "rust", "completed", Some(0), 60.0),
        ("cargo", "build", "rust", "completed", Some(101), 30.0),
        ("pytest", "test", "python", "timeout_idle", None, 120.0),
        ("npm", "build", "node", "completed", Some(0), 10.0),
    ];
    for (k, (program, category, project, reason, code, runtime)) in kinds.iter().enumerate() {
        for i in 0..(k + 2) {
            let mut r = record(&format!("{program}-{category}-{reason}-{i}"));
            let e = r.execution.as_mut().unwrap();
            e.started_at_ms = now_ms - 3_600_000 - i64::try_from(i).unwrap() * 60_000;
            e.program = Some((*program).into());
            e.command_category = (*category).into();
            e.project_type = (*project).into();
            e.exit_reason = (*reason).into();
            e.child_exit_code = *code;
            e.total_runtime = *runtime;
            e.time_to_first_match = (*reason == "match").then_some(3.5);
            e.match_count = i64::from(*reason == "match");
            e.bytes_processed = 1000;
            e.bundle_version = (k == 0).then(|| "patterns:3".to_string());
            out.push(r);
        }
    }
    out
}

async fn start(db: &TestDb) -> (Fixture, SocketAddr, String) {
    let fx = Fixture::start_with(db, |cfg| {
        cfg.http_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let addr = fx.running.http_addr.expect("HTTP listener bound");
    let viewer = fx
        .store
        .create_viewer_token("acme", Some("dashboard"))
        .await
        .expect("viewer token")
        .token;
    (fx, addr, viewer)
}

#[tokio::test]
async fn the_api_answers_from_the_store_and_only_with_a_token() {
    let dir = tempfile::tempdir().unwrap();
    for db in TestDb::all(dir.path(), "http_api").await.unwrap() {
        let (fx, addr, viewer) = start(&db).await;
        let now = earlyexit_collector::store::now_ms();
        let runs = seeded_runs(now);
        let total = runs.len();
        let mut client = fx.client().await;
        let resp = push(&mut client, Some(&fx.token), "agent-1", runs)
            .await
            .expect("push");
        assert_eq!(resp.accepted as usize, total, "{:?}", db.backend);

        // Nothing without a token: no numbers in the body.
        for path in [
            "/api/v1/summary",
            "/api/v1/runs",
            "/metrics",
            "/api/v1/agents",
        ] {
            let a = http::get(addr, path, None).await;
            assert_eq!(a.status, 401, "{path}: {}", a.text());
            assert!(a.text().contains("no credentials"), "{path}: {}", a.text());
            assert!(!a.text().contains("agent-1"), "{path} leaks data");
        }
        let a = http::get(addr, "/api/v1/summary", Some("eec_not-a-token")).await;
        assert_eq!(a.status, 401);
        let a = http::get(addr, "/", None).await;
        assert_eq!(a.status, 303, "a page without a session goes to /login");
        assert_eq!(a.header("location"), Some("/login"));
        assert!(!a.text().contains("total-runs"));

        // Health needs nothing.
        assert_eq!(http::get(addr, "/healthz", None).await.status, 200);
        let ready = http::get(addr, "/readyz", None).await;
        assert_eq!(ready.status, 200, "{}", ready.text());

        // The numbers match the store, with the agent and the viewer token.
        for token in [&fx.token, &viewer] {
            let s = http::get(addr, "/api/v1/summary?since=1d", Some(token)).await;
            assert_eq!(s.status, 200, "{}", s.text());
            let s = s.json();
            assert_eq!(s["runs"], total);
            // match (2) + build exit 101 (4) + timeout (5) failed.
            assert_eq!(s["failed"], 2 + 4 + 5);
            assert_eq!(s["early_exits"], 2);
            assert_eq!(s["agents"], 1);
            // Each early `cargo test` saved 60 - 4 s.
            assert_eq!(s["time_saved_s"], 2.0 * 56.0);
        }
        let runs = http::get(addr, "/api/v1/runs?since=1d&limit=3", Some(&viewer))
            .await
            .json();
        assert_eq!(runs.as_array().unwrap().len(), 3);
        assert_eq!(runs[0]["agent_id"], "agent-1");
        let slow = http::get(addr, "/api/v1/commands/slowest", Some(&viewer))
            .await
            .json();
        assert_eq!(slow[0]["program"], "pytest");
        assert_eq!(slow[0]["mean_runtime_s"], 120.0);
        let failing = http::get(addr, "/api/v1/commands/failing", Some(&viewer))
            .await
            .json();
        assert_eq!(failing[0]["program"], "pytest");
        assert_eq!(failing[0]["failed"], 5);
        assert_eq!(failing.as_array().unwrap().len(), 3, "npm never failed");
        let bundles = http::get(addr, "/api/v1/bundles", Some(&viewer))
            .await
            .json();
        assert_eq!(bundles["in_use"][0]["bundle_version"], "patterns:3");
        assert_eq!(bundles["in_use"][0]["runs"], 2);
        let agents = http::get(addr, "/api/v1/agents", Some(&viewer))
            .await
            .json();
        assert_eq!(agents[0]["version"], "0.1.0");
        let bad = http::get(addr, "/api/v1/runs?since=soon", Some(&viewer)).await;
        assert_eq!(bad.status, 400);
        assert!(bad.text().contains("since 'soon' is not a duration"));

        // Another org's token sees none of it.
        fx.store.create_org("other").await.unwrap();
        let other = fx.store.create_viewer_token("other", None).await.unwrap();
        let s = http::get(addr, "/api/v1/summary", Some(&other.token))
            .await
            .json();
        assert_eq!(s["runs"], 0);

        // Metrics count what happened.
        let m = http::get(addr, "/metrics", Some(&viewer)).await;
        assert_eq!(m.status, 200);
        let m = m.text();
        assert!(
            m.contains(&format!(
                "earlyexit_collector_records_accepted_total {total}"
            )),
            "{m}"
        );
        assert!(m.contains(&format!(
            "earlyexit_collector_org_records_accepted_total{{org=\"acme\"}} {total}"
        )));
        assert!(m.contains("earlyexit_collector_ack_latency_seconds_count 1"));
        assert!(m.contains("earlyexit_collector_store_up 1"));
        // Per-org series are the scraping token's org only.
        let theirs = http::get(addr, "/metrics", Some(&other.token)).await.text();
        assert!(!theirs.contains("org=\"acme\""), "{theirs}");

        fx.stop().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn viewer_tokens_are_read_only_and_log_the_browser_in() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite(dir.path());
    let (fx, addr, viewer) = start(&db).await;

    // gRPC refuses a viewer token, and counts the refusal.
    let mut client = fx.client().await;
    let err = push(&mut client, Some(&viewer), "agent-1", vec![record("x")])
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err}");
    assert!(err.message().contains("read-only"), "{}", err.message());
    assert_eq!(fx.store.count_records(fx.org.id).await.unwrap(), 0);
    let m = http::get(addr, "/metrics", Some(&viewer)).await.text();
    assert!(m.contains("earlyexit_collector_pushes_refused_total{reason=\"unauthenticated\"} 1"));

    // The login form takes a viewer token, not an agent token.
    let form = |t: &str| format!("token={t}").into_bytes();
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    let a = http::request(addr, "POST", "/login", &ct, &form(&fx.token)).await;
    assert_eq!(a.status, 403);
    assert!(a.text().contains("That is an agent token"));
    assert!(a.header("set-cookie").is_none());
    let a = http::request(addr, "POST", "/login", &ct, &form("eec_wrong")).await;
    assert_eq!(a.status, 401);
    assert!(a.header("set-cookie").is_none());

    let a: Answer = http::request(addr, "POST", "/login", &ct, &form(&viewer)).await;
    assert_eq!(a.status, 303, "{}", a.text());
    let cookie = a.header("set-cookie").expect("a session cookie").to_owned();
    assert!(cookie.starts_with("ee_session="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    assert!(!cookie.contains(&viewer), "the cookie is not the token");
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = http::request(addr, "GET", "/", &[("Cookie", &session)], b"").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("id=\"total-runs\">0<"),
        "{}",
        page.text()
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let api = http::request(addr, "GET", "/api/v1/summary", &[("Cookie", &session)], b"").await;
    assert_eq!(api.status, 200);

    // Revoking the token ends the session at its next request.
    let id = fx.store.list_tokens(Some("acme")).await.unwrap();
    let viewer_id = &id.iter().find(|t| t.kind == "viewer").unwrap().token_id;
    assert!(fx.store.revoke_token(viewer_id).await.unwrap());
    let page = http::request(addr, "GET", "/", &[("Cookie", &session)], b"").await;
    assert_eq!(page.status, 303);

    // Logging out ends a session too.
    let viewer2 = fx
        .store
        .create_viewer_token("acme", None)
        .await
        .unwrap()
        .token;
    let a = http::request(addr, "POST", "/login", &ct, &form(&viewer2)).await;
    let session = a
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let out = http::request(addr, "POST", "/logout", &[("Cookie", &session)], b"").await;
    assert_eq!(out.status, 303);
    let page = http::request(addr, "GET", "/", &[("Cookie", &session)], b"").await;
    assert_eq!(page.status, 303);

    fx.stop().await;
}

/// (method, path) of every operation in `collector/openapi.yaml`.
fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("collector/openapi.yaml");
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("valid YAML");
    let paths = doc["paths"].as_mapping().expect("paths");
    let mut out = BTreeSet::new();
    for (path, ops) in paths {
        for (method, _) in ops.as_mapping().expect("operations") {
            out.insert((
                method.as_str().unwrap().to_ascii_uppercase(),
                path.as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn openapi_documents_every_route_and_every_documented_route_answers() {
    let routes: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let documented = documented();
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routes).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from openapi.yaml: {undocumented:?}"
    );
    assert!(
        unrouted.is_empty(),
        "documented but not routed: {unrouted:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite(dir.path());
    let (fx, addr, viewer) = start(&db).await;
    let auth = format!("Bearer {viewer}");
    for (method, path) in &documented {
        let body: &[u8] = if path == "/login" { b"token=" } else { b"" };
        let a = http::request(addr, method, path, &[("Authorization", &auth)], body).await;
        assert!(
            ![404, 405].contains(&a.status),
            "{method} {path} answered {}",
            a.status
        );
    }
    assert_eq!(http::get(addr, "/nope", Some(&viewer)).await.status, 404);
    fx.stop().await;
}

/// GET `path` over TLS trusting `ca` (and presenting a client certificate
/// when given); the status line, or the TLS error.
async fn tls_get(
    addr: SocketAddr,
    ca: &std::path::Path,
    client: Option<(&std::path::Path, &std::path::Path)>,
    path: &str,
) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
    };
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    // A server that ends TLS without close_notify still sent the answer.
    let _ = tls.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    if text.is_empty() {
        return Err("no answer".into());
    }
    Ok(text.lines().next().unwrap_or("").to_owned())
}

#[tokio::test]
async fn http_serves_the_grpc_tls_settings() {
    let dir = tempfile::tempdir().unwrap();
    let pki = earlyexit_collector::testing::TestPki::create(&dir.path().join("pki"), "t").unwrap();
    let db = TestDb::sqlite(dir.path());
    let fx = Fixture::start_with(&db, |cfg| {
        cfg.insecure = false;
        cfg.tls_cert = Some(pki.server_cert.clone());
        cfg.tls_key = Some(pki.server_key.clone());
        cfg.client_ca = Some(pki.ca.clone());
        cfg.http_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let addr = fx.running.http_addr.unwrap();
    let ok = tls_get(
        addr,
        &pki.ca,
        Some((&pki.client_cert, &pki.client_key)),
        "/healthz",
    )
    .await;
    assert_eq!(ok.as_deref(), Ok("HTTP/1.1 200 OK"), "{ok:?}");
    // Without a client certificate the handshake is refused, as on gRPC.
    let refused = tls_get(addr, &pki.ca, None, "/healthz").await;
    assert!(refused.is_err(), "{refused:?}");
    // A plaintext request gets no HTTP answer.
    let plain = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        out
    };
    let out = tokio::time::timeout(std::time::Duration::from_secs(15), plain)
        .await
        .expect("the server closes a plaintext connection");
    assert!(
        !out.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    fx.stop().await;
}
