//! The kubecs server: the Amazon ECS API (AWS JSON 1.1) over HTTP, SigV4-authenticated,
//! backed by the embedded store. `main.rs` parses the configuration and calls [`run`].
//!
//! - [`app`]: shared state, router, the accept loop and graceful shutdown.
//! - [`http`]: connections and their timeouts, request ids and access log, body
//!   buffering, authentication, the API entry, health and metrics endpoints.
//! - [`dispatch`]: operation to handler, JSON decoding and model validation.
//! - [`ops`]: the handlers, one module per resource family.
//! - [`error`]: `ApiError` and its HTTP form.
//! - [`metrics`]: the server's series and the registry `GET /metrics` encodes.

pub mod allocator;
pub mod app;
pub mod compat;
pub mod config;
pub mod context;
pub mod dispatch;
pub mod error;
pub mod http;
pub mod metrics;
pub mod ops;
pub mod startup;
pub mod telemetry;

use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs kubecs until SIGTERM/SIGINT.
pub async fn run(config: config::Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let state = Arc::new(startup::build_state(&config)?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        data_dir = %config.data_dir().display(),
        region = %config.region,
        startup_ms = started.elapsed().as_millis() as u64,
        "kubecs listening: aws ecs --endpoint-url http://{addr} ..."
    );
    // A store that has failed for good (its files' state unknown) cannot recover in this
    // process: stop serving and exit non-zero, so that a supervisor restarts kubecs and
    // the store is recovered from its log at start.
    let store = state.store.clone();
    let (failed_tx, mut failed_rx) = tokio::sync::oneshot::channel();
    let shutdown = async move {
        tokio::select! {
            () = app::shutdown_signal() => {}
            reason = store.failed() => {
                tracing::error!(%reason, "the store failed: shutting down so that kubecs is restarted");
                let _ = failed_tx.send(reason);
            }
        }
    };
    // The reconciler runs beside the API in this process and stops with it; the API
    // never waits for it.
    let (stop_reconciler, stop) = tokio::sync::watch::channel(false);
    let reconciler = (config.kubernetes == config::KubernetesMode::Auto).then(|| {
        tokio::spawn(kubecs_reconciler::controller::run(
            state.store.clone(),
            config.reconciler_options(),
            Arc::clone(&state.reconciler_metrics),
            state.nodes.clone(),
            stop,
        ))
    });
    let served = app::serve(
        listener,
        state,
        shutdown,
        Duration::from_secs(config.shutdown_grace_secs),
    )
    .await;
    let _ = stop_reconciler.send(true);
    if let Some(reconciler) = reconciler {
        if tokio::time::timeout(Duration::from_secs(5), reconciler)
            .await
            .is_err()
        {
            tracing::warn!("the reconciler did not stop within 5 s");
        }
    }
    if let Ok(reason) = failed_rx.try_recv() {
        anyhow::bail!("the store failed ({reason}); restart kubecs to recover it from its log");
    }
    served
}
