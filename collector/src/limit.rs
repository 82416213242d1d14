//! A bound on Push calls being worked on at once, applied before a request's
//! body is read: a call over the bound waits for a slot while HTTP/2 flow
//! control holds its bytes on the agent's side, so memory does not grow
//! with the number of agents pushing. Other calls (health, bundles) pass
//! straight through.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::Semaphore;
use tower::{Layer, Service};

/// The gRPC path prefix of the calls that are bounded.
const BOUNDED_PREFIX: &str = "/earlyexit.v1.Ingest/";

/// Bounds concurrent Ingest calls across all connections.
#[derive(Debug, Clone)]
pub struct IngestLimitLayer {
    slots: Arc<Semaphore>,
}

impl IngestLimitLayer {
    /// At most `slots` Push calls decode and prepare at once.
    pub fn new(slots: usize) -> Self {
        IngestLimitLayer {
            slots: Arc::new(Semaphore::new(slots.max(1))),
        }
    }
}

impl<S> Layer<S> for IngestLimitLayer {
    type Service = IngestLimit<S>;
    fn layer(&self, inner: S) -> IngestLimit<S> {
        IngestLimit {
            inner,
            slots: Arc::clone(&self.slots),
        }
    }
}

/// The service [`IngestLimitLayer`] makes.
#[derive(Debug, Clone)]
pub struct IngestLimit<S> {
    inner: S,
    slots: Arc<Semaphore>,
}

impl<S, B> Service<http::Request<B>> for IngestLimit<S>
where
    S: Service<http::Request<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if !request.uri().path().starts_with(BOUNDED_PREFIX) {
            return Box::pin(self.inner.call(request));
        }
        // The ready clone serves this call; the fresh clone waits for the next
        // poll_ready (the usual tower pattern).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let slots = Arc::clone(&self.slots);
        Box::pin(async move {
            let _slot = slots.acquire_owned().await;
            inner.call(request).await
        })
    }
}
