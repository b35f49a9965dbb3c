//! `ApiError`: what a handler or the protocol layer answers when a request fails, and
//! the one place it becomes an HTTP response (status, `__type`, `x-amzn-ErrorType`, and
//! the [`Refused`] extension the access log and metrics read).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kubecs_api_models::{error_body, ErrorCode, Violation};
use kubecs_storage::{InvalidPageToken, StoreError};

/// The content type of every API response, errors included.
pub const AMZ_JSON_1_1: &str = "application/x-amz-json-1.1";

/// An ECS error: a code from the table in `kubecs-api-models` and a message for the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterException, message)
    }

    pub fn client(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ClientException, message)
    }

    /// A server fault. The client sees a fixed message; `detail` goes to the log only, so
    /// nothing internal (paths, keys, engine errors) leaks into a response.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(ErrorCode::ServerException, "Internal server error.")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl From<StoreError> for ApiError {
    /// A store fault is a server fault (500). When the store cannot write (a full disk),
    /// the client is told so in general words, since that is what it must wait for; the
    /// log has the path and the system error.
    fn from(err: StoreError) -> Self {
        match &err {
            StoreError::Unavailable(reason) => {
                tracing::error!(%err, "a write was refused: the store cannot write its log");
                let why = if reason.contains("No space left on device") {
                    "the disk that holds its data is full"
                } else {
                    "its data cannot be written"
                };
                Self::new(
                    ErrorCode::ServerException,
                    format!("The change was not made: {why}. Nothing already stored is lost; retry once the server's store recovers."),
                )
            }
            StoreError::Failed(_) => {
                tracing::error!(%err, "a write was refused: the store has failed");
                Self::new(
                    ErrorCode::ServerException,
                    "The change was not made: the server's store has failed and the server is restarting. Retry shortly.",
                )
            }
            _ => ApiError::internal(&err),
        }
    }
}

impl From<kubecs_api_models::ArnError> for ApiError {
    fn from(err: kubecs_api_models::ArnError) -> Self {
        Self::new(err.code, err.message)
    }
}

impl From<Violation> for ApiError {
    fn from(v: Violation) -> Self {
        ApiError::invalid_parameter(v.to_string())
    }
}

impl From<InvalidPageToken> for ApiError {
    fn from(err: InvalidPageToken) -> Self {
        ApiError::invalid_parameter(format!("Invalid nextToken: {err}."))
    }
}

/// The error a response carries, as a response extension: the access log names the code
/// and the message, and metrics count the code, without parsing the body back.
#[derive(Debug, Clone)]
pub struct Refused {
    pub code: ErrorCode,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, error_body(self.code, &self.message)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON_1_1));
        headers.insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.code.wire_name()),
        );
        response.extensions_mut().insert(Refused {
            code: self.code,
            message: self.message,
        });
        response
    }
}
