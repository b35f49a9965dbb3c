//! The application: shared state, the router, and serving with graceful shutdown.

use crate::config::Config;
use crate::context::{Caches, Clock};
use crate::http;
use crate::http::auth::Auth;
use axum::routing::{any, get};
use axum::Router;
use kubecs_storage::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

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
}

impl AppState {
    pub fn new(config: &Config, store: Store, auth: Auth) -> Self {
        Self {
            store,
            region: Arc::from(config.region.as_str()),
            account_id: config.account_id.clone(),
            clock: Clock::System,
            max_body_bytes: config.max_body_bytes,
            request_timeout: config.request_timeout(),
            auth,
            caches: Arc::default(),
        }
    }
}

/// The router: the ECS API on `/` (which reads and authenticates the body itself, see
/// `http::api`); health and readiness; everything else a JSON 404. Request ids and the
/// access log wrap all of it.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new().route("/", any(http::api::entry));
    Router::new()
        .route("/healthz", get(http::health::healthz))
        .route("/readyz", get(http::health::readyz))
        .merge(api)
        .fallback(http::api::not_found)
        // A bug must not drop the client's connection: a panic becomes ServerException
        // (inside the request-id layer, so the answer still carries its request id).
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            answer_panic,
        ))
        .layer(axum::middleware::from_fn(http::request_id::tag_and_log))
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
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()> {
    let store = state.store.clone();
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    };
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(signal);
    let mut server = std::pin::pin!(std::future::IntoFuture::into_future(server));
    tokio::select! {
        result = &mut server => result?,
        _ = async {
            let _ = stopping_rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_secs = grace.as_secs(), "in-flight requests did not finish within the shutdown grace period");
        }
    }
    store.flush().await?;
    tracing::info!("store flushed; kubecs stopped");
    Ok(())
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
