//! The application: shared state, the router, and serving: the accept loop with its
//! connection cap, and graceful shutdown (drain, then flush the store).

use crate::config::Config;
use crate::context::{Caches, Clock};
use crate::http;
use crate::http::auth::Auth;
use crate::http::connection::{ConnectionLimits, Shared, Stop};
use crate::metrics::{Metrics, Registry};
use axum::routing::{any, get};
use axum::Router;
use kubecs_storage::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// State shared by every request.
#[derive(Debug)]
pub struct AppState {
    pub store: Store,
    /// The default region: what requests that name none (`--auth off`) act in.
    pub region: Arc<str>,
    pub account_id: String,
    pub clock: Clock,
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub auth: Auth,
    pub caches: Arc<Caches>,
    pub connections: ConnectionLimits,
    /// The server's own series, updated by every request.
    pub metrics: Arc<Metrics>,
    /// What `GET /metrics` encodes: the server's series and any other component's.
    pub registry: Arc<Registry>,
    /// The reconciler's series (registered in `registry`), for the loop `run` starts.
    pub reconciler_metrics: Arc<kubecs_reconciler::controller::Metrics>,
    /// The nodes the reconciler sees, for the container-instance operations.
    pub nodes: kubecs_reconciler::controller::NodeView,
}

impl AppState {
    /// The state for `config`: its metrics registry holds the server's series and the
    /// reconciler's (`kubecs_reconciler_*`, updated by the loop `run` starts).
    pub fn new(config: &Config, store: Store, auth: Auth) -> Self {
        let metrics = Arc::new(Metrics::default());
        let mut registry = crate::metrics::registry(Arc::clone(&metrics), store.clone());
        let reconciler_metrics = Arc::new(kubecs_reconciler::controller::Metrics::default());
        reconciler_metrics.register(registry.sub_registry_with_prefix("reconciler"));
        Self {
            store,
            region: Arc::from(config.region.as_str()),
            account_id: config.account_id.clone(),
            clock: Clock::System,
            max_body_bytes: config.max_body_bytes,
            request_timeout: config.request_timeout(),
            auth,
            caches: Arc::default(),
            connections: config.connection_limits(),
            metrics,
            registry: Arc::new(registry),
            reconciler_metrics,
            nodes: kubecs_reconciler::controller::NodeView::default(),
        }
    }
}

/// The router: the ECS API on `/` (which reads and authenticates the body itself, see
/// `http::api`); health, readiness and metrics (GET only, anything else an AWS-form 405);
/// everything else a JSON 404. Request ids, metrics and the access log wrap all of it.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new().route("/", any(http::api::entry));
    let refuse = http::api::method_not_allowed;
    Router::new()
        .route("/healthz", get(http::health::healthz).fallback(refuse))
        .route("/readyz", get(http::health::readyz).fallback(refuse))
        .route("/metrics", get(http::health::metrics).fallback(refuse))
        .merge(api)
        .fallback(http::api::not_found)
        // A bug must not drop the client's connection: a panic becomes ServerException
        // (inside the request-id layer, so the answer still carries its request id).
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            answer_panic,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            http::request_id::tag_and_log,
        ))
        .with_state(state)
}

/// The answer to a request whose handler panicked: a generic 500; the log has the detail.
fn answer_panic(payload: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    crate::error::ApiError::internal(&format!("handler panicked: {detail}")).into_response()
}

/// Serves until `shutdown` resolves, then drains in-flight requests for at most `grace`
/// and flushes the store.
///
/// Connections are served by `http::connection` (hyper's HTTP/1 with kubecs's header-read
/// and idle timeouts). At most `--max-connections` are open at once: past that, a new
/// connection is closed as soon as it is accepted, so the ones already open — and the
/// process's file descriptors — are not starved by a flood of idle sockets.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()> {
    let store = state.store.clone();
    let limits = state.connections;
    let shared = Arc::new(Shared::new(
        router(Arc::clone(&state)),
        Arc::clone(&state.metrics),
        limits,
    ));
    // One permit per open connection; taking them all back is how shutdown knows that
    // every connection has finished.
    let capacity = limits.max_connections.min(Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(capacity));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(Stop::Serving);
    let mut refusals = RefusalReport::default();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
        };
        match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => {
                let shared = Arc::clone(&shared);
                let stop = stop_rx.clone();
                tokio::spawn(async move {
                    shared.serve(stream, stop).await;
                    drop(permit);
                });
            }
            Err(_) => {
                state.metrics.connection_refused();
                refusals.note(limits.max_connections);
                drop(stream);
            }
        }
    }
    // New connections are refused by the kernel from here on.
    drop(listener);
    let _ = stop_tx.send(Stop::Draining);
    let all = u32::try_from(capacity).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs(),
            "in-flight requests did not finish within the shutdown grace period"
        );
    }
    // Connections still open stop when they see the sender gone.
    drop(stop_tx);
    store.flush().await?;
    tracing::info!("store flushed; kubecs stopped");
    Ok(())
}

/// A failed `accept`. A connection that died in the backlog is nobody's concern; anything
/// else (typically EMFILE: out of file descriptors) is logged, and accepting pauses for a
/// second so the loop does not spin while descriptors are short (hyper's and axum's rule).
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "cannot accept connections; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Warns about refused connections at most every ten seconds: a flood of them must not
/// become a flood of log lines.
#[derive(Default)]
struct RefusalReport {
    last: Option<Instant>,
    since_last: u64,
}

impl RefusalReport {
    const EVERY: Duration = Duration::from_secs(10);

    fn note(&mut self, max_connections: usize) {
        self.since_last += 1;
        if self.last.is_some_and(|t| t.elapsed() < Self::EVERY) {
            return;
        }
        tracing::warn!(
            max_connections,
            refused = self.since_last,
            "connection limit reached: refusing new connections (--max-connections)"
        );
        self.last = Some(Instant::now());
        self.since_last = 0;
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; draining requests");
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_panic_becomes_a_server_exception_that_reveals_nothing_internal() {
        let response = answer_panic(Box::new("secret internal detail"));
        assert_eq!(response.status().as_u16(), 500);
        assert_eq!(response.headers()["x-amzn-errortype"], "ServerException");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&body);
        assert!(text.contains("\"__type\":\"ServerException\""), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}
