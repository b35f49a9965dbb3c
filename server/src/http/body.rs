//! Reads the whole request body, within the size limit, before authentication (which must
//! hash it) and the handler see it. The time limit is the caller's (`http::api`): one
//! deadline for the body and the handler together.

use crate::app::AppState;
use crate::error::ApiError;
use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use kubecs_api_models::ErrorCode;

/// The body's bytes, or the error ECS gives for a body that is too large or unreadable.
pub async fn read(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
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
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes as u64) {
        return Err(too_large());
    }
    let limited = Limited::new(body, state.max_body_bytes);
    match limited.collect().await {
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(err) => Err(ApiError::new(
            ErrorCode::SerializationException,
            format!("The request body could not be read: {err}"),
        )),
        Ok(collected) => Ok(collected.to_bytes()),
    }
}
