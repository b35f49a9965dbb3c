//! The API entry point: reads the body, authenticates, checks the AWS JSON 1.1 envelope
//! (method, content type, `X-Amz-Target`), builds the handler context and dispatches; and
//! the JSON 404 for every other path.
//!
//! Body reading and authentication are steps of this one function rather than router
//! middleware: each `from_fn` layer cost a boxed future, a clone of the inner service and
//! a type-map entry to pass its result on (a few percent of DescribeServices in
//! `server/benches/in_process.rs`), and plain calls say in what order things happen. That
//! order, and so which error a bad request gets first, is what it was: body limits, then
//! the signature, then the envelope.

use crate::app::AppState;
use crate::context::Ctx;
use crate::dispatch::dispatch;
use crate::error::ApiError;
use crate::http::request_id::RequestId;
use crate::http::{auth, body};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use kubecs_api_models::{ErrorCode, Operation, TARGET_PREFIX};
use std::sync::Arc;

/// Media types accepted on requests: the AWS JSON types (1.1 is what every ECS client
/// sends; 1.0 and plain JSON carry the same body) — anything else is refused.
const ACCEPTED_CONTENT_TYPES: &[&str] = &[
    "application/x-amz-json-1.1",
    "application/x-amz-json-1.0",
    "application/json",
];

pub async fn entry(State(state): State<Arc<AppState>>, request: Request) -> Response {
    match handle(&state, request).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn handle(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let body = body::read(state, &parts.headers, body).await?;
    let caller = auth::authenticate(state, &parts, &body)?;
    if parts.method != Method::POST {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowedException,
            format!(
                "The ECS API accepts only POST requests on / (AWS JSON 1.1 protocol), not {}.",
                parts.method
            ),
        ));
    }
    check_content_type(&parts)?;
    let operation = operation(&parts)?;
    let Some(RequestId(request_id)) = parts.extensions.get::<RequestId>().cloned() else {
        // `request_id::tag_and_log` wraps every route; reaching here is a wiring bug.
        return Err(ApiError::internal(&"request id missing"));
    };
    let region: Arc<str> = Arc::from(caller.region.as_str());
    let ctx = Ctx {
        store: state.store.region(&region),
        arns: Arc::new(kubecs_api_models::ArnBuilder::new(
            &region,
            &state.account_id,
        )),
        region,
        caller,
        request_id,
        now: state.clock.now(),
        caches: state.caches.clone(),
    };
    match tokio::time::timeout(state.request_timeout, dispatch(operation, ctx, &body)).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::new(
            ErrorCode::RequestTimeoutException,
            format!("{operation} did not complete within the time limit."),
        )),
    }
}

fn check_content_type(parts: &Parts) -> Result<(), ApiError> {
    let Some(value) = parts.headers.get(header::CONTENT_TYPE) else {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaTypeException,
            "Missing Content-Type header: the ECS API expects application/x-amz-json-1.1.",
        ));
    };
    let media_type = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if ACCEPTED_CONTENT_TYPES.contains(&media_type.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaTypeException,
            format!(
                "Unsupported Content-Type {:?}: the ECS API expects application/x-amz-json-1.1.",
                String::from_utf8_lossy(value.as_bytes())
            ),
        ))
    }
}

fn operation(parts: &Parts) -> Result<Operation, ApiError> {
    let Some(target) = parts.headers.get("x-amz-target") else {
        return Err(ApiError::new(
            ErrorCode::UnknownOperationException,
            format!("Missing X-Amz-Target header: expected {TARGET_PREFIX}.<Operation>."),
        ));
    };
    let target = String::from_utf8_lossy(target.as_bytes());
    target
        .strip_prefix(TARGET_PREFIX)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(Operation::from_name)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownOperationException,
                format!("{target} is not an operation of {TARGET_PREFIX}."),
            )
        })
}

/// Any path other than the API, health and readiness.
pub async fn not_found(method: Method, uri: axum::http::Uri) -> Response {
    ApiError::new(
        ErrorCode::NotFoundException,
        format!(
            "No resource at {method} {}: the ECS API is served at POST /.",
            uri.path()
        ),
    )
    .into_response()
}
