//! `GET /healthz` (the process is up), `GET /readyz` (it can serve: the store answers) and
//! `GET /metrics` (Prometheus text format, see `metrics`). All are outside authentication
//! so probes and scrapers need no credentials.

use crate::app::AppState;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    match state.store.size_on_disk() {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
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
