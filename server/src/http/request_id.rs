//! Gives every request an `x-amzn-RequestId` (a UUID), counts API requests in `metrics`,
//! and logs one access-log line per request: id, method, path, operation, status, the
//! error's code and message, the resources the request named (cluster, services, task
//! definition, ARN: see `dispatch::resources`) and latency.
//!
//! The API entry hands what it learned to this layer as response extensions (a
//! [`RequestSummary`], and `error::Refused` for an error), so nothing here parses a body
//! or a header back.

use crate::app::AppState;
use crate::error::{ApiError, Refused};
use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use kubecs_api_models::Operation;
use std::sync::Arc;
use std::time::Instant;

/// The tracing target of the access log (`RUST_LOG=kubecs_server::http::request_id=warn`
/// turns it off, and with it the work of naming resources).
pub const TARGET: &str = module_path!();

/// The request id, available to handlers through the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// What the API entry learned about a request, for metrics and the access log. Present on
/// the response of every request to the API path (not on health, metrics or 404s).
#[derive(Debug, Clone, Default)]
pub struct RequestSummary {
    /// The operation `X-Amz-Target` named, if it named one of the model's.
    pub operation: Option<Operation>,
    /// The resources the body named, rendered for the log (`cluster=a services=b,c`).
    pub resources: Option<String>,
}

pub async fn tag_and_log(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id: Arc<str> = Arc::from(uuid::Uuid::new_v4().to_string());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    let summary = response.extensions_mut().remove::<RequestSummary>();
    let refused = response.extensions().get::<Refused>();
    if let Some(summary) = &summary {
        state
            .metrics
            .observe_request(summary.operation, refused.map(|r| r.code), elapsed);
    }
    let summary = summary.unwrap_or_default();
    tracing::info!(
        request_id = %id,
        %method,
        path,
        operation = summary.operation.map_or("-", Operation::name),
        status = response.status().as_u16(),
        error = refused.map_or("", |r| r.code.wire_name()),
        error_message = refused.map_or("", |r| r.message.as_str()),
        resources = summary.resources.as_deref().unwrap_or(""),
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    response
}

/// The access-log line of a request refused before it reached the router (unparsable by
/// hyper, or its head not received in time): same shape, what is known of it.
pub fn log_refusal(id: &str, status: u16, error: &ApiError) {
    tracing::info!(
        request_id = id,
        method = "-",
        path = "-",
        operation = "-",
        status,
        error = error.code.wire_name(),
        error_message = error.message.as_str(),
        resources = "",
        "request"
    );
}
