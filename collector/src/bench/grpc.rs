//! The bench's side of `Ingest.Push`: already-encoded requests sent as
//! they are (no encoding on the clock), retried while the collector says it
//! is busy, and the answer's `server-timing` header read back.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use earlyexit_proto::v1::PushResponse;
use prost::Message;
use tonic::transport::Channel;

use crate::ingest::SERVER_TIMING;

/// First and longest pause after RESOURCE_EXHAUSTED: what an agent's sync
/// loop does, so a busy collector is not hammered by the bench either.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(200);

/// A connection that sends encoded `PushRequest`s.
#[derive(Clone)]
pub struct Pusher {
    grpc: tonic::client::Grpc<Channel>,
    authorization: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

/// One acknowledged Push.
pub struct Ack {
    /// Records accepted or already stored.
    pub records: u64,
    /// The collector's `server-timing` header, if it sent one.
    pub server_timing: Option<String>,
}

impl Pusher {
    /// Connects to the collector at `url` with `token`.
    pub async fn connect(url: &str, token: &str) -> Result<Pusher> {
        let channel = Channel::from_shared(url.to_owned())?
            .connect()
            .await
            .with_context(|| format!("cannot connect to {url}"))?;
        Ok(Pusher {
            grpc: tonic::client::Grpc::new(channel),
            authorization: format!("Bearer {token}")
                .parse()
                .context("the token is not ASCII")?,
        })
    }

    /// Sends `body` until it is acknowledged, backing off while the
    /// collector refuses it as busy. Returns the count of records it says
    /// it has (busy refusals are counted in `busy`).
    pub async fn push_until_acked(&mut self, body: &Bytes, busy: &mut u64) -> Result<Ack> {
        let mut pause = FIRST_BACKOFF;
        loop {
            match self.push_once(body).await? {
                Some(ack) => return Ok(ack),
                None => {
                    *busy += 1;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Sends `body` once: `None` when the collector refused it as busy.
    pub async fn push_once(&mut self, body: &Bytes) -> Result<Option<Ack>> {
        self.grpc.ready().await?;
        let mut request = tonic::Request::new(body.clone());
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        let path =
            tonic::codegen::http::uri::PathAndQuery::from_static("/earlyexit.v1.Ingest/Push");
        match self.grpc.unary(request, path, RawCodec).await {
            Ok(reply) => {
                let server_timing = reply
                    .metadata()
                    .get(SERVER_TIMING)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let r = PushResponse::decode(reply.into_inner())?;
                Ok(Some(Ack {
                    records: u64::from(r.accepted + r.duplicates),
                    server_timing,
                }))
            }
            Err(s) if s.code() == tonic::Code::ResourceExhausted => Ok(None),
            Err(s) => bail!("push failed: {s}"),
        }
    }
}

/// Sends and receives already-encoded message bodies.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Bytes>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}
