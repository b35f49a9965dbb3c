//! Gives every request an `x-amzn-RequestId` (a UUID) and logs one line per request with
//! the id, operation, status and latency.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;

/// The request id, available to handlers through the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

pub async fn tag_and_log(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id: Arc<str> = Arc::from(uuid::Uuid::new_v4().to_string());
    let operation = request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit_once('.').map(|(_, op)| op.to_owned()));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    let error = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info!(
        request_id = %id,
        %method,
        path,
        operation = operation.as_deref().unwrap_or("-"),
        status = response.status().as_u16(),
        error,
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
