//! `GET /healthz` (the process is up) and `GET /readyz` (it can serve: the store answers).
//! Both are outside authentication so probes need no credentials.

use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
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
