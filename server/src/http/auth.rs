//! Authentication: verifies the SigV4 signature of every API request and yields the
//! verified `Caller` for handlers (e.g. `registeredBy`).
//!
//! Runs after body buffering (the verifier hashes the body itself: JSON-protocol clients
//! do not send `x-amz-content-sha256`) and only on the API route; health and readiness
//! stay outside. With `--auth off` every request is accepted as the root of the configured
//! account.

use crate::app::AppState;
use crate::error::ApiError;
use axum::http::request::Parts;
use kubecs_api_models::ErrorCode;
use kubecs_sigv4::{AuthError, AuthErrorCode, Caller, RequestParts, Verifier};
use std::time::SystemTime;

/// How requests are authenticated.
#[derive(Debug)]
pub enum Auth {
    /// SigV4, against the configured credentials.
    SigV4(Verifier),
    /// No checks (`--auth off`): local experiments only.
    Off,
}

/// The verified caller of a request whose body is `body`, or the error ECS gives.
pub fn authenticate(state: &AppState, parts: &Parts, body: &[u8]) -> Result<Caller, ApiError> {
    match &state.auth {
        Auth::Off => Ok(Caller {
            access_key_id: String::new(),
            account_id: state.account_id.clone(),
            principal_arn: format!("arn:aws:iam::{}:root", state.account_id),
            region: state.region.to_string(),
        }),
        Auth::SigV4(verifier) => {
            verify(verifier, parts, body).map_err(|err| auth_error(&err, parts))
        }
    }
}

fn verify(verifier: &Verifier, parts: &Parts, body: &[u8]) -> Result<Caller, AuthError> {
    let headers: Vec<(&str, &[u8])> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let request = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &headers,
        body,
    };
    verifier.verify(&request, SystemTime::now())
}

fn auth_error(err: &AuthError, parts: &Parts) -> ApiError {
    let code = match err.error_code() {
        AuthErrorCode::MissingAuthenticationToken => ErrorCode::MissingAuthenticationTokenException,
        AuthErrorCode::IncompleteSignature => ErrorCode::IncompleteSignatureException,
        AuthErrorCode::InvalidSignature => ErrorCode::InvalidSignatureException,
        AuthErrorCode::UnrecognizedClient => ErrorCode::UnrecognizedClientException,
    };
    // Why a signature was refused is what its sender needs to fix it (wrong region, clock
    // skew, a wrong secret): info, not debug, where sled's internals drown it. The
    // canonical request we computed is long and only for digging further: debug.
    let request_id = parts
        .extensions
        .get::<crate::http::request_id::RequestId>()
        .map_or("-", |id| &*id.0);
    tracing::info!(
        request_id,
        reason = ?err.reason(),
        error = err.code(),
        error_message = err.message(),
        "signature refused"
    );
    if let Some(detail) = err.detail() {
        tracing::debug!(
            request_id,
            detail,
            "signature refused: what kubecs computed"
        );
    }
    ApiError::new(code, err.message())
}
