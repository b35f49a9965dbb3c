//! The API entry point: checks the AWS JSON 1.1 envelope (method, content type,
//! `X-Amz-Target`), builds the handler context and dispatches; and the JSON 404 for
//! every other path.

use crate::app::AppState;
use crate::context::Ctx;
use crate::dispatch::dispatch;
use crate::error::ApiError;
use crate::http::body::RawBody;
use crate::http::request_id::RequestId;
use axum::extract::{Request, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use kubecs_api_models::{ErrorCode, Operation, TARGET_PREFIX};
use kubecs_sigv4::Caller;
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
    if request.method() != Method::POST {
        return Err(ApiError::new(
            ErrorCode::MethodNotAllowedException,
            format!(
                "The ECS API accepts only POST requests on / (AWS JSON 1.1 protocol), not {}.",
                request.method()
            ),
        ));
    }
    check_content_type(&request)?;
    let operation = operation(&request)?;
    let extensions = request.extensions();
    let (Some(caller), Some(request_id), Some(RawBody(body))) = (
        extensions.get::<Caller>().cloned(),
        extensions.get::<RequestId>().cloned(),
        extensions.get::<RawBody>().cloned(),
    ) else {
        // The layers in `app::router` always set these; reaching here is a wiring bug.
        return Err(ApiError::internal(&"request extensions missing"));
    };
    let ctx = Ctx {
        store: state.store.clone(),
        region: state.region.clone(),
        arns: state.arns.clone(),
        caller,
        request_id: request_id.0,
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

fn check_content_type(request: &Request) -> Result<(), ApiError> {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
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

fn operation(request: &Request) -> Result<Operation, ApiError> {
    let Some(target) = request.headers().get("x-amz-target") else {
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
