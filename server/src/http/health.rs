//! `GET /healthz` (the process is up), `GET /readyz` (it can serve: the store takes
//! writes) and `GET /metrics` (Prometheus text format, see `metrics`). All are outside
//! authentication so probes and scrapers need no credentials.

use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kubecs_storage::Health;
use std::sync::Arc;

pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 `ready`, or 503 with why the store cannot take writes (a full disk, a failed
/// store), so that a load balancer or an operator sees it.
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, String) {
    match state.store.health() {
        Health::Ok => (StatusCode::OK, "ready".to_owned()),
        Health::Degraded(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store cannot write: {reason}"),
        ),
        Health::Failed(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store failed: {reason}"),
        ),
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match crate::metrics::encode(&state.registry) {
        Ok(text) => ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response(),
        Err(err) => {
            ApiError::internal(&format!("cannot encode the metrics: {err}")).into_response()
        }
    }
}
