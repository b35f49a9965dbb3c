//! Reads the whole request body, within the size limit and the request time limit, before
//! authentication (which must hash it) and the handler see it.

use crate::app::AppState;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use kubecs_api_models::ErrorCode;
use std::sync::Arc;

/// The buffered body, for layers and handlers that need the bytes.
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

pub async fn buffer(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let too_large = || {
        ApiError::new(
            ErrorCode::RequestEntityTooLargeException,
            format!(
                "Request body is larger than the {} bytes kubecs accepts.",
                state.max_body_bytes
            ),
        )
    };
    // A declared length over the limit is refused before reading anything.
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        return too_large().into_response();
    }
    let limited = Limited::new(body, state.max_body_bytes);
    let bytes = match tokio::time::timeout(state.request_timeout, limited.collect()).await {
        Err(_) => {
            return ApiError::new(
                ErrorCode::RequestTimeoutException,
                "The request body was not received within the time limit.",
            )
            .into_response()
        }
        Ok(Err(err)) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return too_large().into_response()
        }
        Ok(Err(err)) => {
            return ApiError::new(
                ErrorCode::SerializationException,
                format!("The request body could not be read: {err}"),
            )
            .into_response()
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    parts.extensions.insert(RawBody(bytes.clone()));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}
