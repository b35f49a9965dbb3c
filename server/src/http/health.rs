//! `GET /healthz` (the process is up) and `GET /readyz` (it can serve: the store takes
//! writes). Both are outside authentication so probes need no credentials.

use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
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
