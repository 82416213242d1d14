//! The served surface: TLS and mutual TLS, health and reflection, bundle
//! streams, two replicas on one PostgreSQL, and garbage on the port.

mod common;

use std::time::Duration;

use common::{Fixture, push, records};
use earlyexit_collector::config::ServeConfig;
use earlyexit_collector::server;
use earlyexit_collector::testing::TestDb;
use earlyexit_proto::v1::ingest_client::IngestClient;
use earlyexit_proto::v1::updates_client::UpdatesClient;
use earlyexit_proto::v1::{PushResponse, SubscribeRequest};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use tokio::io::AsyncWriteExt;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

struct Pki {
    ca_pem: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &ca).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        ca_pem: ca.pem(),
        server: leaf(
            vec!["localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        client: leaf(vec!["agent-1".into()], ExtendedKeyUsagePurpose::ClientAuth),
    }
}

async fn tls_channel(url: &str, pki: &Pki, with_client_cert: bool) -> Result<Channel, String> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&pki.ca_pem))
        .domain_name("localhost");
    if with_client_cert {
        tls = tls.identity(Identity::from_pem(&pki.client.0, &pki.client.1));
    }
    Channel::from_shared(url.to_owned())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_and_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite(dir.path());
    let pki = pki();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let cert = write("server.pem", &pki.server.0);
    let key = write("server.key", &pki.server.1);
    let ca = write("ca.pem", &pki.ca_pem);

    // TLS only.
    let f = Fixture::start_with(&db, |c| {
        c.insecure = false;
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key.clone());
    })
    .await;
    let url = f.running.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let mut client = IngestClient::new(tls_channel(&url, &pki, false).await.unwrap());
    let r = push(&mut client, Some(&f.token), "agent-1", records("tls", 5))
        .await
        .unwrap();
    assert_eq!(r.accepted, 5);
    // A plaintext client cannot talk to it.
    let mut plain = IngestClient::connect(url.replace("https", "http"))
        .await
        .unwrap();
    assert!(
        push(&mut plain, Some(&f.token), "agent-1", records("p", 1))
            .await
            .is_err()
    );
    let token = f.token.clone();
    f.stop().await;

    // Mutual TLS: no client certificate, no service.
    let cfg = ServeConfig {
        insecure: false,
        tls_cert: Some(cert),
        tls_key: Some(key),
        client_ca: Some(ca),
        ..ServeConfig::for_test(db.url.clone())
    };
    let running = server::spawn(cfg).await.unwrap();
    let url = running.url();
    let refused = match tls_channel(&url, &pki, false).await {
        Err(_) => true,
        Ok(channel) => push(
            &mut IngestClient::new(channel),
            Some(&token),
            "agent-1",
            records("m", 1),
        )
        .await
        .is_err(),
    };
    assert!(refused, "a client without a certificate is refused");
    let mut client = IngestClient::new(tls_channel(&url, &pki, true).await.unwrap());
    let r = push(&mut client, Some(&token), "agent-1", records("mtls", 3))
        .await
        .unwrap();
    assert_eq!(r.accepted, 3);
    running.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_are_served() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::start(&TestDb::sqlite(dir.path())).await;
    let channel = Channel::from_shared(f.running.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    for service in ["", "earlyexit.v1.Ingest", "earlyexit.v1.Updates"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status();
        assert_eq!(status, ServingStatus::Serving, "{service:?}");
    }

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("unexpected reflection answer {answer:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "earlyexit.v1.Ingest",
        "earlyexit.v1.Updates",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == expected), "{names:?}");
    }
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_gets_each_new_bundle_as_it_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::start(&TestDb::sqlite(dir.path())).await;
    f.store
        .publish_bundle(
            f.org.id,
            "patterns",
            &earlyexit_proto::bundle::sample("patterns", "v1"),
        )
        .await
        .unwrap();
    let mut client = UpdatesClient::connect(f.running.url()).await.unwrap();
    let mut request = tonic::Request::new(SubscribeRequest {
        agent_id: "agent-1".into(),
        have_versions: [("models".to_owned(), 4)].into_iter().collect(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", f.token).parse().unwrap(),
    );
    let mut stream = client.subscribe(request).await.unwrap().into_inner();
    let first = stream.message().await.unwrap().unwrap();
    assert_eq!(
        (first.kind.as_str(), first.version, &first.data[..]),
        (
            "patterns",
            1,
            &earlyexit_proto::bundle::sample("patterns", "v1")[..]
        )
    );
    assert_eq!(
        first.sha256,
        earlyexit_scrub::sha256_hex(earlyexit_proto::bundle::sample("patterns", "v1"))
    );

    // Published later (as by another replica or the aggregator): arrives on
    // the open stream; of models, only version 5 is newer than the 4 the
    // agent has.
    for fill in 1..=5u8 {
        let version = f
            .store
            .publish_bundle(
                f.org.id,
                "models",
                &earlyexit_proto::bundle::sample(
                    "models",
                    &char::from(b'a' + fill).to_string().repeat((3 << 20) - 256),
                ),
            )
            .await
            .unwrap();
        assert_eq!(version, i64::from(fill));
    }
    f.store
        .publish_bundle(
            f.org.id,
            "patterns",
            &earlyexit_proto::bundle::sample("patterns", "v2"),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < 2 {
        let chunk = tokio::time::timeout_at(deadline, stream.message())
            .await
            .expect("new bundles arrive")
            .unwrap()
            .unwrap();
        if chunk.chunk_index + 1 == chunk.chunk_count {
            got.push((chunk.kind.clone(), chunk.version, chunk.chunk_count));
        }
    }
    got.sort();
    assert_eq!(
        got,
        [("models".to_owned(), 5, 3), ("patterns".to_owned(), 2, 1)]
    );
    drop(stream);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_postgres_store_every_record_once() {
    let Some(db) = TestDb::postgres("two_replicas_on_one_postgres_store_every_record_once")
        .await
        .unwrap()
    else {
        return;
    };
    let a = Fixture::start(&db).await;
    let b = server::spawn(ServeConfig::for_test(db.url.clone()))
        .await
        .unwrap();
    let urls = [a.running.url(), b.url()];
    let mut agents = tokio::task::JoinSet::new();
    for agent in 0..4 {
        let urls = urls.clone();
        let token = a.token.clone();
        agents.spawn(async move {
            let mut clients = [
                IngestClient::connect(urls[0].clone()).await.unwrap(),
                IngestClient::connect(urls[1].clone()).await.unwrap(),
            ];
            let id = format!("agent-{agent}");
            let mut acked = 0;
            for batch in 0..20 {
                let records = records(&format!("b{batch}"), 100);
                let home = (agent + batch) % 2;
                let r: PushResponse = push(&mut clients[home], Some(&token), &id, records.clone())
                    .await
                    .unwrap();
                acked += r.accepted + r.duplicates;
                // Every third batch is re-sent to the other replica, as
                // after a lost reply and a fail-over.
                if batch % 3 == 0 {
                    let again = push(&mut clients[1 - home], Some(&token), &id, records)
                        .await
                        .unwrap();
                    assert_eq!((again.accepted, again.duplicates), (0, 100));
                }
            }
            acked
        });
    }
    let mut acked = 0;
    while let Some(n) = agents.join_next().await {
        acked += n.unwrap();
    }
    assert_eq!(acked, 4 * 20 * 100);
    let keys = a.store.record_keys(a.org.id).await.unwrap();
    assert_eq!(keys.len(), 8000);
    let unique: std::collections::HashSet<_> = keys.iter().collect();
    assert_eq!(unique.len(), 8000, "no record stored twice");
    b.shutdown().await.unwrap();
    a.stop().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_and_truncated_frames_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::start(&TestDb::sqlite(dir.path())).await;
    let addr = f.running.addr;

    // Not HTTP/2 at all, an HTTP/2 preface followed by a cut-off frame, and
    // a connection closed mid-preface.
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let inputs: [&[u8]; 3] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\xff\xfe garbage",
        &[&preface[..], &[0, 0, 64, 1, 4, 0, 0, 0, 1, 0x82]].concat(),
        &preface[..10],
    ];
    for input in inputs {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(input).await;
        let _ = s.shutdown().await;
    }

    // A well-formed gRPC call whose body is not a PushRequest (a field
    // length running past the end of the message).
    let token = f.token.clone();
    let raw = |body: Vec<u8>| {
        let token = token.clone();
        async move {
            let channel = Channel::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.unwrap();
            let mut request = tonic::Request::new(body);
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            let path =
                tonic::codegen::http::uri::PathAndQuery::from_static("/earlyexit.v1.Ingest/Push");
            grpc.unary::<Vec<u8>, Vec<u8>, _>(request, path, RawCodec)
                .await
        }
    };
    let err = raw(vec![0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2])
        .await
        .unwrap_err();
    assert!(
        matches!(err.code(), Code::Internal | Code::InvalidArgument),
        "{err:?}"
    );

    assert_eq!(
        f.store.count_records(f.org.id).await.unwrap(),
        0,
        "nothing stored"
    );
    let mut client = f.client().await;
    let r = push(&mut client, Some(&f.token), "agent-1", records("after", 3))
        .await
        .unwrap();
    assert_eq!(r.accepted, 3, "still serving");
    f.stop().await;
}

/// Sends and receives raw bytes as gRPC message bodies.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_stream_ends_unauthenticated_once_its_token_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::start(&TestDb::sqlite(dir.path())).await;
    let mut client = UpdatesClient::connect(f.running.url()).await.unwrap();
    let mut request = tonic::Request::new(SubscribeRequest {
        agent_id: "agent-1".into(),
        have_versions: Default::default(),
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", f.token).parse().unwrap(),
    );
    let mut stream = client.subscribe(request).await.unwrap().into_inner();
    let tokens = f.store.list_tokens(Some("acme")).await.unwrap();
    assert!(f.store.revoke_token(&tokens[0].token_id).await.unwrap());
    // Published after the revocation: must never reach the stream.
    f.store
        .publish_bundle(
            f.org.id,
            "patterns",
            &earlyexit_proto::bundle::sample("patterns", "after revocation"),
        )
        .await
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("the stream ends within a poll");
    let status = end.expect_err("no bundle, an error");
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("revoked"), "{status:?}");
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_capped_and_closed_and_agents_get_in_afterwards() {
    use std::sync::atomic::Ordering;
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let f = Fixture::start_with(&TestDb::sqlite(dir.path()), |c| {
        c.limits.max_connections = 50;
        c.limits.first_bytes_timeout = Duration::from_millis(800);
    })
    .await;
    // 300 connections that never send a byte, on loopback.
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(
            tokio::net::TcpStream::connect(f.running.addr)
                .await
                .unwrap(),
        );
    }
    // Every one is closed by the collector: those over the cap at once, the
    // others when the first-bytes timeout runs out (which frees places, so
    // the split depends on how fast they were accepted).
    let closed = async {
        for conn in &mut idle {
            // The collector may greet first (HTTP/2 SETTINGS); read until it
            // lets go: EOF or a reset.
            let mut greeting = Vec::new();
            let _ = conn.read_to_end(&mut greeting).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("all idle connections closed by the collector");
    let stats = &f.running.connections;
    let (refused, silent) = (
        stats.refused.load(Ordering::Relaxed),
        stats.silent.load(Ordering::Relaxed),
    );
    assert_eq!(refused + silent, 300, "{refused} refused, {silent} silent");
    assert!(
        refused >= 100 && silent >= 50,
        "{refused} refused, {silent} silent"
    );
    assert_eq!(stats.open.load(Ordering::Relaxed), 0);
    // An agent that talks gets in.
    let mut client = f.client().await;
    let r = push(&mut client, Some(&f.token), "agent-1", records("after", 3))
        .await
        .unwrap();
    assert_eq!(r.accepted, 3);
    f.stop().await;
}
