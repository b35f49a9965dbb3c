//! Authentication: verifies the SigV4 signature of every API request and puts the
//! verified `Caller` into the request's extensions for handlers (e.g. `registeredBy`).
//!
//! Runs after body buffering (the verifier hashes the body itself: JSON-protocol clients
//! do not send `x-amz-content-sha256`) and only on the API route; health and readiness
//! stay outside. With `--auth off` every request is accepted as the root of the configured
//! account.

use crate::app::AppState;
use crate::error::ApiError;
use crate::http::body::RawBody;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kubecs_api_models::ErrorCode;
use kubecs_sigv4::{AuthError, AuthErrorCode, Caller, RequestParts, Verifier};
use std::sync::Arc;
use std::time::SystemTime;

/// How requests are authenticated.
#[derive(Debug)]
pub enum Auth {
    /// SigV4, against the configured credentials.
    SigV4(Verifier),
    /// No checks (`--auth off`): local experiments only.
    Off,
}

pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = match &state.auth {
        Auth::Off => Caller {
            access_key_id: String::new(),
            account_id: state.account_id.clone(),
            principal_arn: format!("arn:aws:iam::{}:root", state.account_id),
        },
        Auth::SigV4(verifier) => match verify(verifier, &request) {
            Ok(caller) => caller,
            Err(err) => return auth_error_response(&err),
        },
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

fn verify(verifier: &Verifier, request: &Request) -> Result<Caller, AuthError> {
    let empty = bytes::Bytes::new();
    let body = request
        .extensions()
        .get::<RawBody>()
        .map_or(&empty, |b| &b.0);
    let headers: Vec<(&str, &[u8])> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let parts = RequestParts {
        method: request.method().as_str(),
        path: request.uri().path(),
        query: request.uri().query(),
        headers: &headers,
        body,
    };
    verifier.verify(&parts, SystemTime::now())
}

/// Auth errors become API errors through the one error table, so their `__type` and
/// status live in one place with every other code.
fn auth_error_response(err: &AuthError) -> Response {
    let code = match err.error_code() {
        AuthErrorCode::MissingAuthenticationToken => ErrorCode::MissingAuthenticationTokenException,
        AuthErrorCode::IncompleteSignature => ErrorCode::IncompleteSignatureException,
        AuthErrorCode::InvalidSignature => ErrorCode::InvalidSignatureException,
        AuthErrorCode::UnrecognizedClient => ErrorCode::UnrecognizedClientException,
    };
    tracing::debug!(reason = ?err, "authentication failed");
    ApiError::new(code, err.message()).into_response()
}
