//! The `earlyexit-collector` binary as an operator uses it: serve with the
//! defaults (TLS with a self-signed certificate, SQLite in its home), manage
//! orgs and tokens while it runs, stop it with SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_earlyexit-collector");

fn admin(home: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("EARLYEXIT_COLLECTOR_HOME", home)
        .env_remove("EARLYEXIT_COLLECTOR_STORE")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits for the child to exit, killing it after `limit`.
fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serve_with_defaults_then_manage_tokens_and_stop_on_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let mut serve = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("EARLYEXIT_COLLECTOR_HOME", home.path())
        .env_remove("EARLYEXIT_COLLECTOR_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first stdout line: {first:?}"))
        .to_owned();
    assert!(
        url.starts_with("https://127.0.0.1:"),
        "TLS by default: {url}"
    );
    let cert = home.path().join("tls/cert.pem");
    assert!(cert.exists(), "self-signed certificate made in the home");
    assert!(home.path().join("collector.db").exists());

    // Admin commands work against the running collector's store.
    let out = admin(home.path(), &["org", "create", "acme"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "acme");
    let out = admin(home.path(), &["org", "create", "acme"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("org 'acme' already exists"),
        "{}",
        text(&out.stderr)
    );
    let out = admin(home.path(), &["token", "create", "--org", "nope"]);
    assert!(
        text(&out.stderr).contains("no org named 'nope'"),
        "{}",
        text(&out.stderr)
    );
    let out = admin(
        home.path(),
        &["token", "create", "--org", "acme", "--agent-name", "ci"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert!(token.starts_with("eec_") && token.len() > 40, "{token}");
    let out = admin(home.path(), &["token", "list"]);
    let listing = text(&out.stdout);
    assert!(listing.contains("acme") && listing.contains("ci") && listing.contains("active"));
    assert!(!listing.contains(&token), "the secret is never listed");

    // An agent pinning the self-signed certificate can push.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let accepted = rt.block_on(push_one(&url, &cert, &token)).unwrap();
    assert_eq!(accepted, 1);

    let id = listing
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .next()
                .filter(|w| w.starts_with("tok_"))
        })
        .unwrap()
        .to_owned();
    let out = admin(home.path(), &["token", "revoke", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = admin(home.path(), &["token", "revoke", &id]);
    assert!(!out.status.success(), "revoking twice says so");

    // Refused calls are logged once per interval, by token id, never the token.
    for _ in 0..5 {
        let refused = rt.block_on(push_one(&url, &cert, &token)).unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    }

    // SIGTERM: a clean, prompt exit with a summary line.
    let pid = i32::try_from(serve.id()).unwrap();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = wait(&mut serve, Duration::from_secs(15));
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut log).unwrap();
    let stopped: Vec<&str> = log.lines().filter(|l| l.contains(" stopped ")).collect();
    assert_eq!(stopped.len(), 1, "one summary line at the stop: {log}");
    assert!(stopped[0].contains("records_stored=1 "), "{log}");
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("refused Ingest.Push"))
        .collect();
    assert_eq!(refusals.len(), 1, "rate limited: {log}");
    assert!(refusals[0].contains("peer=127.0.0.1:"), "{log}");
    assert!(refusals[0].contains(&format!("token_id={id} ")), "{log}");
    assert!(refusals[0].contains("reason=\"revoked token\""), "{log}");
    assert!(!log.contains(&token), "the token is never logged");
}

#[test]
fn bad_settings_are_explained() {
    let home = tempfile::tempdir().unwrap();
    let out = admin(
        home.path(),
        &["serve", "--listen", "127.0.0.1:0", "--tls-cert", "x.pem"],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--tls-cert and --tls-key go together"),
        "{}",
        text(&out.stderr)
    );
    let out = admin(home.path(), &["org", "list", "--store", "mysql://db/x"]);
    assert!(
        text(&out.stderr).contains("unsupported store URL 'mysql://db/x'"),
        "{}",
        text(&out.stderr)
    );
    let cfg = home.path().join("c.yaml");
    std::fs::write(&cfg, "listen: 127.0.0.1:0\nstorage: x\n").unwrap();
    let out = admin(home.path(), &["serve", "--config", cfg.to_str().unwrap()]);
    assert!(
        text(&out.stderr).contains("unknown field `storage`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn token_create_output_writes_a_private_file_in_a_new_folder_and_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    assert!(
        admin(home.path(), &["org", "create", "acme"])
            .status
            .success()
    );
    // A fresh agent home: the folder does not exist yet.
    let file = home
        .path()
        .join("agent-home")
        .join(".earlyexit")
        .join("collector.token");
    let path = file.to_str().unwrap();
    let out = admin(
        home.path(),
        &["token", "create", "--org", "acme", "--output", path],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "the token is not printed");
    assert!(
        text(&out.stderr).contains("collector.token_file"),
        "{}",
        text(&out.stderr)
    );
    let token = std::fs::read_to_string(&file).unwrap();
    assert!(token.trim().starts_with("eec_"), "{token}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);

    // Again: refused, the first token kept, and no second token made.
    let out = admin(
        home.path(),
        &["token", "create", "--org", "acme", "--output", path],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("never overwritten"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), token);
    let list = text(&admin(home.path(), &["token", "list"]).stdout);
    assert_eq!(list.lines().count(), 2, "header and one token: {list}");

    // An org that does not exist: no file is left behind.
    let other = home.path().join("other.token");
    let out = admin(
        home.path(),
        &[
            "token",
            "create",
            "--org",
            "nope",
            "--output",
            other.to_str().unwrap(),
        ],
    );
    assert!(!out.status.success());
    assert!(!other.exists());
}

/// One Push of one record to the collector at `url`, trusting `cert`.
async fn push_one(url: &str, cert: &Path, token: &str) -> Result<u64, tonic::Status> {
    use earlyexit_proto::v1::ingest_client::IngestClient;
    use earlyexit_proto::v1::{Execution, PushRequest, RunRecord};
    use tonic::transport::{Certificate, Channel, ClientTlsConfig};
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(cert).unwrap()))
        .domain_name("localhost");
    let channel = Channel::from_shared(url.to_owned())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(PushRequest {
        agent_id: "agent-1".into(),
        batch_seq: 1,
        records: vec![RunRecord {
            execution: Some(Execution {
                execution_id: "e-1".into(),
                started_at_ms: 1_763_700_000_000,
                ..Default::default()
            }),
            ..Default::default()
        }],
    });
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let response = IngestClient::new(channel).push(request).await?;
    Ok(u64::from(response.into_inner().accepted))
}

#[test]
fn bundles_are_checked_on_publish_then_listed_shown_and_retired() {
    let home = tempfile::tempdir().unwrap();
    assert!(
        admin(home.path(), &["org", "create", "acme"])
            .status
            .success()
    );
    let file = |name: &str, data: &[u8]| {
        let path = home.path().join(name);
        std::fs::write(&path, data).unwrap();
        path.to_str().unwrap().to_string()
    };
    let publish = |path: &str| {
        admin(
            home.path(),
            &[
                "bundle", "publish", "--org", "acme", "--kind", "patterns", "--file", path,
            ],
        )
    };
    // Random bytes, an empty file, a regex that does not compile: refused,
    // each saying why, and nothing is published.
    let random: Vec<u8> = (0..100u32).map(|i| (i * 89 % 256) as u8).collect();
    let bad_regex =
        br#"{"format": 1, "kind": "patterns", "patterns": [{"id": "p", "regex": "a(", "severity": "error"}]}"#;
    for (name, data, says) in [
        ("random.bin", &random[..], "not a patterns bundle"),
        ("empty.json", &b""[..], "not a patterns bundle"),
        (
            "bad.json",
            &bad_regex[..],
            "entry 0 (p): the regex 'a(' does not compile",
        ),
    ] {
        let out = publish(&file(name, data));
        assert!(!out.status.success(), "{name} was published");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(says) && stderr.contains("not published"),
            "{name}: {stderr}"
        );
    }
    let out = admin(home.path(), &["bundle", "list", "--org", "acme", "--json"]);
    assert_eq!(text(&out.stdout).trim(), "[]", "{}", text(&out.stderr));

    let one = earlyexit_proto::bundle::sample("patterns", "first");
    let two = earlyexit_proto::bundle::sample("patterns", "second");
    for (name, data, version) in [("one.json", &one, "1"), ("two.json", &two, "2")] {
        let out = publish(&file(name, data));
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), version);
        assert!(
            text(&out.stderr).contains("1 pattern"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = admin(home.path(), &["bundle", "list", "--org", "acme"]);
    let table = text(&out.stdout);
    assert!(
        table.starts_with("KIND") && table.lines().count() == 3,
        "{table}"
    );
    assert!(
        table
            .lines()
            .all(|l| l.starts_with("KIND") || l.ends_with("served")),
        "{table}"
    );

    let copy = home.path().join("copy.json");
    let out = admin(
        home.path(),
        &[
            "bundle",
            "show",
            "--org",
            "acme",
            "--kind",
            "patterns",
            "--version",
            "2",
            "--output",
            copy.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(
        shown.contains("holds      1 pattern") && shown.contains("state      served"),
        "{shown}"
    );
    assert_eq!(std::fs::read(&copy).unwrap(), two);

    let retire = || {
        admin(
            home.path(),
            &[
                "bundle",
                "retire",
                "--org",
                "acme",
                "--kind",
                "patterns",
                "--version",
                "2",
            ],
        )
    };
    let out = retire();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = retire();
    assert!(!out.status.success(), "retired twice");
    assert!(text(&out.stderr).contains("no served patterns bundle version 2"));
    let out = admin(home.path(), &["bundle", "list", "--org", "acme", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["version"], 2);
    assert!(listed[0]["retired_at_ms"].is_number());
    assert!(listed[1]["retired_at_ms"].is_null());
    let out = admin(
        home.path(),
        &[
            "bundle",
            "show",
            "--org",
            "acme",
            "--kind",
            "patterns",
            "--version",
            "9",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("bundle list --org acme"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn runs_reads_stored_runs_back_in_every_format_and_viewer_tokens_are_listed() {
    use earlyexit_collector::store::{QueryColumns, RecordRow, Store, now_ms};
    let home = tempfile::tempdir().unwrap();
    assert!(
        admin(home.path(), &["org", "create", "acme"])
            .status
            .success()
    );
    let out = admin(
        home.path(),
        &[
            "token",
            "create",
            "--org",
            "acme",
            "--viewer",
            "--agent-name",
            "ops",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).trim().starts_with("eec_"));
    assert!(
        text(&out.stderr).contains("viewer token"),
        "{}",
        text(&out.stderr)
    );
    let list = text(&admin(home.path(), &["token", "list"]).stdout);
    let row = list.lines().nth(1).unwrap();
    assert!(row.contains("ops") && row.contains("viewer"), "{list}");

    // Two runs stored as ingest stores them, one of them old.
    let url = format!("sqlite://{}", home.path().join("collector.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::connect(&url).await.unwrap();
        let org = store.org("acme").await.unwrap();
        let row = |id: &str, started: i64, program: &str| RecordRow {
            org_id: org.id,
            agent_id: "ci-1".into(),
            execution_id: id.into(),
            started_at_ms: started,
            received_at_ms: started,
            exit_reason: "match".into(),
            command_category: "test".into(),
            telemetry_level: "anonymous".into(),
            scrub_hits: 0,
            body: vec![0],
            query: QueryColumns {
                program: Some(program.into()),
                runtime_s: Some(4.5),
                match_count: Some(1),
                ..QueryColumns::default()
            },
        };
        let now = now_ms();
        store
            .insert_records(vec![
                row("new", now - 60_000, "cargo"),
                row("old", now - 10 * 86_400_000, "pytest"),
            ])
            .await
            .unwrap();
        store.close().await;
    });

    let csv = admin(home.path(), &["runs", "--org", "acme", "--format", "csv"]);
    assert!(csv.status.success(), "{}", text(&csv.stderr));
    let csv = text(&csv.stdout);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "header and the run of the last 7 days: {csv}"
    );
    assert!(lines[0].starts_with("org,agent_id,execution_id,started_at_ms"));
    assert!(lines[1].starts_with("acme,ci-1,new,"), "{csv}");
    assert!(lines[1].contains(",cargo,test,"), "{csv}");

    let jsonl = admin(
        home.path(),
        &["runs", "--since", "30d", "--format", "jsonl"],
    );
    let jsonl = text(&jsonl.stdout);
    let ids: Vec<String> = jsonl
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["execution_id"].to_string())
        .collect();
    assert_eq!(ids, ["\"new\"", "\"old\""], "newest first");

    let table = text(&admin(home.path(), &["runs", "--since", "30d"]).stdout);
    assert!(table.starts_with("STARTED"), "{table}");
    assert!(
        table.contains("pytest") && table.contains("4.5s"),
        "{table}"
    );

    let bad = admin(home.path(), &["runs", "--since", "soon"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("since 'soon' is not a duration"),
        "{}",
        text(&bad.stderr)
    );
    let bad = admin(home.path(), &["runs", "--org", "nope"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("no org named 'nope'"),
        "{}",
        text(&bad.stderr)
    );
}
