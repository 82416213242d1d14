//! `earlyexit.v1.Updates`: sends an org's newest bundles (pattern libraries,
//! models) to its agents in chunks. `Fetch` sends what is newer than the
//! agent's versions and ends; `Subscribe` does the same, then keeps the
//! stream open and sends each new version as it appears (polling the store,
//! so a bundle published through any replica reaches every subscriber).
//!
//! Only ever reads bundles of the caller's org. A subscription checks its
//! token again before every poll, so it ends with UNAUTHENTICATED within
//! one poll (`bundle_poll`) of the token being revoked, before anything
//! published later is sent; it also ends when the agent goes away or the
//! collector shuts down.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use earlyexit_proto::v1::updates_server::Updates;
use earlyexit_proto::v1::{BundleChunk, SubscribeRequest};
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::auth::{authenticate_call, bearer_token, check_token};
use crate::health::StoreHealth;
use crate::store::{Bundle, Store};

/// Bundle bytes per chunk: well under gRPC's 4 MiB default message limit.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Chunks buffered per stream before the sender waits for the agent.
const STREAM_BUFFER: usize = 4;

/// A stream of chunks.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<BundleChunk, Status>> + Send>>;

/// The Updates service.
#[derive(Debug, Clone)]
pub struct UpdatesService {
    store: Store,
    poll: Duration,
    shutdown: watch::Receiver<bool>,
    health: Arc<StoreHealth>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl UpdatesService {
    /// A service reading bundles from `store`; subscriptions poll every
    /// `poll` and end when `shutdown` turns true; store failures are told
    /// to `health`; open subscriptions are counted in `metrics`.
    pub fn new(
        store: Store,
        poll: Duration,
        shutdown: watch::Receiver<bool>,
        health: Arc<StoreHealth>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        UpdatesService {
            store,
            poll,
            shutdown,
            health,
            metrics,
        }
    }

    async fn open(
        &self,
        request: Request<SubscribeRequest>,
        follow: bool,
    ) -> Result<Response<ChunkStream>, Status> {
        let call = if follow {
            "Updates.Subscribe"
        } else {
            "Updates.Fetch"
        };
        let caller = authenticate_call(&self.store, &self.health, &request, call).await?;
        let token = bearer_token(request.metadata())?.to_string();
        let mut have = request.into_inner().have_versions;
        let store = self.store.clone();
        let poll = self.poll;
        let mut shutdown = self.shutdown.clone();
        let health = Arc::clone(&self.health);
        // The first answer comes before the stream opens, so a store failure
        // is a status, not a broken stream.
        let first = match store.bundles_newer(caller.org.id, &have).await {
            Ok(first) => first,
            Err(e) => {
                health.call_failed(&e).await;
                return Err(crate::health::unavailable());
            }
        };
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let subscribed = follow.then(|| self.metrics.subscription());
        tokio::spawn(async move {
            // Counted while the stream is open.
            let _subscribed = subscribed;
            if !send_bundles(&tx, first, &mut have).await || !follow {
                return;
            }
            loop {
                tokio::select! {
                    () = tx.closed() => return,
                    _ = shutdown.wait_for(|stop| *stop) => return,
                    () = tokio::time::sleep(poll) => {}
                }
                match check_token(&store, &health, &token).await {
                    Ok(now) if now.org.id == caller.org.id => {}
                    Err(status) if status.code() == tonic::Code::Unauthenticated => {
                        let _ = tx
                            .send(Err(Status::unauthenticated(
                                "the token of this update stream was revoked; the stream ends (the agent needs a new token: earlyexit-collector token create)",
                            )))
                            .await;
                        return;
                    }
                    // The store cannot say right now: send nothing, ask again.
                    Err(_) => continue,
                    // A token never moves to another org; end rather than mix.
                    Ok(_) => return,
                }
                match store.bundles_newer(caller.org.id, &have).await {
                    Ok(bundles) => {
                        if !send_bundles(&tx, bundles, &mut have).await {
                            return;
                        }
                    }
                    // A store hiccup: keep the stream, try at the next poll.
                    Err(e) => {
                        health.call_failed(&e).await;
                        continue;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Sends each bundle as chunks and records its version in `have`. False
/// when the agent went away.
async fn send_bundles(
    tx: &mpsc::Sender<Result<BundleChunk, Status>>,
    bundles: Vec<Bundle>,
    have: &mut HashMap<String, u64>,
) -> bool {
    for bundle in bundles {
        for chunk in chunks(&bundle) {
            if tx.send(Ok(chunk)).await.is_err() {
                return false;
            }
        }
        have.insert(bundle.kind, u64::try_from(bundle.version).unwrap_or(0));
    }
    true
}

/// A bundle cut into [`CHUNK_BYTES`] pieces (an empty bundle is one empty
/// chunk).
pub fn chunks(bundle: &Bundle) -> Vec<BundleChunk> {
    let pieces: Vec<&[u8]> = if bundle.data.is_empty() {
        vec![&[]]
    } else {
        bundle.data.chunks(CHUNK_BYTES).collect()
    };
    let count = u32::try_from(pieces.len()).unwrap_or(u32::MAX);
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, data)| BundleChunk {
            kind: bundle.kind.clone(),
            version: u64::try_from(bundle.version).unwrap_or(0),
            chunk_index: u32::try_from(i).unwrap_or(u32::MAX),
            chunk_count: count,
            sha256: bundle.sha256.clone(),
            data: data.to_vec(),
        })
        .collect()
}

#[tonic::async_trait]
impl Updates for UpdatesService {
    type SubscribeStream = ChunkStream;
    type FetchStream = ChunkStream;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        self.open(request, true).await
    }

    async fn fetch(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        self.open(request, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_are_cut_into_numbered_chunks() {
        let bundle = Bundle {
            kind: "patterns".into(),
            version: 3,
            sha256: "ab".into(),
            data: vec![7; CHUNK_BYTES * 2 + 10],
        };
        let c = chunks(&bundle);
        assert_eq!(c.len(), 3);
        assert!(c.iter().all(|c| c.chunk_count == 3 && c.version == 3));
        assert_eq!(c[2].data.len(), 10);
        assert_eq!(
            c.iter().map(|c| c.data.len()).sum::<usize>(),
            bundle.data.len()
        );
        let empty = Bundle {
            data: Vec::new(),
            ..bundle
        };
        assert_eq!(chunks(&empty).len(), 1);
    }
}
