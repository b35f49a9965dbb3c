//! Authentication failures, as AWS reports them: one closed table of wire codes (`__type`)
//! and HTTP statuses, and a finer-grained [`Reason`] for logs, metrics and tests.
//!
//! # The table, and where it comes from
//!
//! | `__type`                               | HTTP | When                                             |
//! |----------------------------------------|------|--------------------------------------------------|
//! | `MissingAuthenticationTokenException`  | 400  | no `Authorization` header and no `X-Amz-*` query |
//! | `IncompleteSignatureException`         | 400  | malformed/incomplete header or query parameters  |
//! | `InvalidSignatureException`            | 400  | scope (region/service/date), clock skew, mismatch|
//! | `UnrecognizedClientException`          | 400  | unknown access key, missing or wrong token       |
//!
//! ECS is an `awsJson1_1` ("coral") service. Every observation of these errors *from ECS and
//! its coral siblings* shows HTTP **400**, not 403 (403 is what API Gateway, Lambda and the
//! query/REST-XML services such as STS/S3 return for their own names of these failures):
//! - ECS `ListClusters` → `StatusCode: 400 ... UnrecognizedClientException: The security token
//!   included in the request is invalid.` (2025): <https://github.com/keidarcy/e1s/issues/367>;
//!   ecs-cli, same code/status: <https://github.com/aws-azure-login/aws-azure-login/issues/37>.
//! - ECS → `InvalidSignatureException: The request signature we calculated does not match the
//!   signature you provided. Check your AWS Secret Access Key and signing method. Consult the
//!   service documentation for details.` `status code: 400`:
//!   <https://github.com/teralytics/prometheus-ecs-discovery/issues/7>.
//! - ECS `DescribeServices` → `InvalidSignatureException ... Signature expired: 20191209T104625Z
//!   is now earlier than 20191210T033904Z (20191210T034404Z - 5 min.)`:
//!   <https://github.com/fabfuel/ecs-deploy/issues/126>; ECR (coral) with `- 15 min.` and
//!   `status code: 400`: <https://github.com/upmc-enterprises/registry-creds/issues/24>.
//!   (Real ECS prints a 5-minute window; kubecs prints whatever window it is configured with,
//!   15 minutes by default as the issue asks.)
//! - `Signature not yet current: 20181120T211543Z is still later than 20181120T211529Z
//!   (20181120T211029Z + 5 min.)`: <https://github.com/serverless/enterprise/issues/11>; wording
//!   also in AWS's "Troubleshoot Signature Version 4 signing" page (IAM User Guide,
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-troubleshooting.html>).
//! - `{"__type":"InvalidSignatureException","message":"Credential should be scoped to correct
//!   service: 'sagemaker'. "}` with `HTTP/1.1 400` (awsJson1_1):
//!   <https://github.com/JuliaCloud/AWS.jl/issues/334>,
//!   <https://github.com/disneystreaming/smithy4s/issues/1568>.
//! - `Credential should be scoped to a valid region, not 'us-east-1'. ` (the `, not '<region>'`
//!   form is the one seen from services; the IAM troubleshooting page documents the same):
//!   <https://github.com/aws/aws-sdk-ruby/issues/508>, <https://github.com/fsouza/s3-upload-proxy/issues/241>.
//! - `IncompleteSignatureException`: `Authorization header requires 'Credential' parameter.
//!   Authorization header requires 'Signature' parameter. Authorization header requires
//!   'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date'
//!   or a 'Date' header. Authorization=...`: <https://github.com/aws/chalice/issues/828>,
//!   <https://github.com/brendanhay/amazonka/issues/316> (HTTP 400);
//!   `'<part>' not a valid key=value pair (missing equal-sign) in Authorization header: '<hdr>'.`:
//!   <https://github.com/aws/aws-sdk-go/issues/289>;
//!   `Credential must have exactly 5 slash-delimited elements, e.g.
//!   keyid/date/region/service/term, got '<credential>'` (status 400):
//!   <https://github.com/kubernetes-sigs/aws-iam-authenticator/issues/374>;
//!   `Date must be in ISO-8601 'basic format'. Got '<value>'. See
//!   http://en.wikipedia.org/wiki/ISO_8601` (coral `IncompleteSignatureException`):
//!   <https://github.com/umegaya/lua-aws/issues/18>;
//!   `'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.`:
//!   <https://github.com/aws/aws-sdk-php/issues/2469>.
//! - `MissingAuthenticationTokenException` from a coral JSON service (DynamoDB): `Request is
//!   missing Authentication Token`, `status code: 400`:
//!   <https://github.com/architect/dynalite/issues/105>,
//!   <https://github.com/amazon-archives/aws-dynamodb-session-tomcat/issues/42>. (The shorter
//!   `Missing Authentication Token` with 403 is API Gateway/Lambda's wording.)
//! - `UnrecognizedClientException: The security token included in the request is invalid.`
//!   (unknown key *and* bad/missing session token): the ECS sources above and
//!   <https://github.com/aws/aws-sdk-php/issues/1114> (`400 Bad Request`).
//! - Common Errors (every AWS API reference, e.g.
//!   <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html>):
//!   `IncompleteSignature` 400, `MissingAuthenticationToken` 403, `InvalidClientTokenId` 403 —
//!   these are the *query-protocol* names; the JSON services use the `...Exception` names above.
//! - `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP`:
//!   the IAM troubleshooting page above (the `: '<a>' != '<b>', from '<c>'.` suffix is ours).
//!
//! Messages marked "kubecs wording" in [`Reason`] have no AWS source we could find.
//!
//! # Retries
//! None of these is retried by botocore (boto3 / aws CLI): its standard mode retries only
//! the throttling codes, `RequestTimeout(Exception)`/`PriorRequestNotComplete`, HTTP
//! 500/502/503/504 and connection errors; legacy mode (`_retry.json`) lists no auth code.
//! botocore has **no** clock-skew correction at all (checked in `botocore/retries/standard.py`
//! and `botocore/data/_retry.json`), so a skewed client keeps failing with
//! `InvalidSignatureException: Signature expired`. The JS v3, Java v2, Go v2 and Rust SDKs do
//! correct clock skew: they treat `InvalidSignatureException`, `SignatureDoesNotMatch`,
//! `RequestTimeTooSkewed`, `RequestExpired`, `RequestInTheFuture` and `AuthFailure` as
//! clock-skew errors (JS v3: `CLOCK_SKEW_ERROR_CODES` in
//! `@aws-sdk/service-error-classification`) and retry *once* after adjusting their clock
//! from the response's `Date` header — so the server must send an accurate `Date` header.

use std::fmt;

/// The AWS error code (`__type`) of an authentication failure. Closed: the server maps each
/// variant to a response in one place, and nothing else can be invented here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthErrorCode {
    /// No signature at all.
    MissingAuthenticationToken,
    /// The signature's parameters are missing or malformed.
    IncompleteSignature,
    /// The signature is well-formed but wrong: scope, time or value.
    InvalidSignature,
    /// The access key or security token is not known.
    UnrecognizedClient,
}

impl AuthErrorCode {
    /// The wire name, as sent in the JSON body's `__type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature => "IncompleteSignatureException",
            Self::InvalidSignature => "InvalidSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
        }
    }

    /// The HTTP status ECS uses for this code (see the module docs for the evidence).
    pub const fn status(self) -> u16 {
        match self {
            Self::MissingAuthenticationToken
            | Self::IncompleteSignature
            | Self::InvalidSignature
            | Self::UnrecognizedClient => 400,
        }
    }
}

impl fmt::Display for AuthErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a request was refused, in more detail than the wire code. Used for logs, metrics and
/// tests; never sent to the client (the message is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Neither an `Authorization` header nor query-string signing parameters.
    Missing,
    /// Both an `Authorization` header and `X-Amz-Algorithm` in the query (kubecs wording).
    BothHeaderAndQuery,
    /// `Authorization` names another algorithm than `AWS4-HMAC-SHA256` (kubecs wording).
    UnsupportedAlgorithm,
    /// A component of the `Authorization` header has no `=`.
    MalformedComponent,
    /// `Credential`, `SignedHeaders`, `Signature` or the date is missing.
    MissingParameter,
    /// A query-string signing parameter is missing (S3's wording, adapted).
    MissingQueryParameter,
    /// The credential does not have five `/`-separated parts.
    MalformedCredential,
    /// The credential's last element is not `aws4_request`.
    BadTerminator,
    /// The credential is scoped to another service.
    WrongService,
    /// The credential is scoped to another region.
    WrongRegion,
    /// The request date is not `YYYYMMDD'T'HHMMSS'Z'` (or an HTTP date for `Date`).
    MalformedDate,
    /// The credential's date is not the request's date.
    ScopeDateMismatch,
    /// The request is older than the allowed skew (or its presigned expiry).
    Expired,
    /// The request is dated further in the future than the allowed skew.
    NotYetCurrent,
    /// `X-Amz-Expires` is not an integer in 1..=604800 (S3's wording).
    BadExpires,
    /// `SignedHeaders` is empty or malformed (kubecs wording).
    MalformedSignedHeaders,
    /// `host` is not among the signed headers.
    HostNotSigned,
    /// An `x-amz-*` header is present but not signed (S3's wording).
    UnsignedAmzHeader,
    /// `x-amz-content-sha256` does not match the body (S3's wording).
    ContentSha256Mismatch,
    /// The access key is not configured.
    UnknownAccessKey,
    /// The key has a session token and the request has none, or the token differs, or the key
    /// has none and the request sent one.
    BadSecurityToken,
    /// The signature does not match.
    SignatureMismatch,
}

impl Reason {
    /// The wire code this reason is reported as.
    pub const fn code(self) -> AuthErrorCode {
        use AuthErrorCode as C;
        match self {
            Self::Missing => C::MissingAuthenticationToken,
            Self::BothHeaderAndQuery
            | Self::UnsupportedAlgorithm
            | Self::MalformedComponent
            | Self::MissingParameter
            | Self::MissingQueryParameter
            | Self::MalformedCredential
            | Self::BadTerminator
            | Self::MalformedDate
            | Self::BadExpires
            | Self::MalformedSignedHeaders
            | Self::HostNotSigned
            | Self::UnsignedAmzHeader => C::IncompleteSignature,
            Self::WrongService
            | Self::WrongRegion
            | Self::ScopeDateMismatch
            | Self::Expired
            | Self::NotYetCurrent
            | Self::ContentSha256Mismatch
            | Self::SignatureMismatch => C::InvalidSignature,
            Self::UnknownAccessKey | Self::BadSecurityToken => C::UnrecognizedClient,
        }
    }
}

/// A refused request: the AWS code, status and message to send back, plus the reason.
///
/// `detail` carries diagnostics for the server's log only (for a signature mismatch, the
/// canonical request and string to sign we computed); it never contains a secret, and the
/// server must not put it in the response.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", reason.code())]
pub struct AuthError {
    reason: Reason,
    message: String,
    detail: Option<String>,
}

impl AuthError {
    pub(crate) fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            detail: None,
        }
    }

    pub(crate) fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The AWS error code (`__type`), e.g. `InvalidSignatureException`.
    pub fn code(&self) -> &'static str {
        self.reason.code().as_str()
    }

    /// The typed error code.
    pub fn error_code(&self) -> AuthErrorCode {
        self.reason.code()
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.reason.code().status()
    }

    /// The message for the response body, worded as AWS words it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The precise reason, for logs and metrics.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// Server-side diagnostics (never for the response body).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

// Message constructors live here so every wording sits next to its sources above.
pub(crate) mod msg {
    pub(crate) const MISSING_TOKEN: &str = "Request is missing Authentication Token";
    pub(crate) const SIGNATURE_MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
    pub(crate) const BAD_TOKEN: &str = "The security token included in the request is invalid.";
    pub(crate) const HOST_NOT_SIGNED: &str =
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";
    pub(crate) const BOTH_HEADER_AND_QUERY: &str =
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.";
    pub(crate) const MISSING_QUERY: &str = "AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'. Re-examine the query-string parameters.";
    pub(crate) const CONTENT_SHA256_MISMATCH: &str =
        "The provided 'x-amz-content-sha256' header does not match what was computed.";
    pub(crate) const BAD_EXPIRES: &str =
        "X-Amz-Expires must be a number of seconds between 1 and 604800 (one week).";

    pub(crate) fn wrong_service(expected: &str) -> String {
        format!("Credential should be scoped to correct service: '{expected}'. ")
    }

    pub(crate) fn wrong_region(got: &str) -> String {
        format!("Credential should be scoped to a valid region, not '{got}'. ")
    }

    pub(crate) fn bad_terminator(got: &str) -> String {
        format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{got}'. "
        )
    }

    pub(crate) fn malformed_credential(got: &str) -> String {
        format!("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{got}'")
    }

    pub(crate) fn malformed_date(got: &str) -> String {
        format!(
            "Date must be in ISO-8601 'basic format'. Got '{got}'. See http://en.wikipedia.org/wiki/ISO_8601"
        )
    }

    pub(crate) fn scope_date_mismatch(scope: &str, request_day: &str, request: &str) -> String {
        format!("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope}' != '{request_day}', from '{request}'.")
    }

    pub(crate) fn expired(request: &str, limit: &str, now: &str, window: &str) -> String {
        format!("Signature expired: {request} is now earlier than {limit} ({now} - {window}.)")
    }

    pub(crate) fn not_yet_current(request: &str, limit: &str, now: &str, window: &str) -> String {
        format!(
            "Signature not yet current: {request} is still later than {limit} ({now} + {window}.)"
        )
    }

    pub(crate) fn malformed_component(part: &str, header: &str) -> String {
        format!("'{part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{header}'.")
    }

    pub(crate) fn unsupported_algorithm(got: &str) -> String {
        format!("Unsupported AWS 'algorithm': '{got}'. Only 'AWS4-HMAC-SHA256' is accepted.")
    }

    pub(crate) fn unsigned_headers(names: &str) -> String {
        format!("There were headers present in the request which were not signed: {names}")
    }

    pub(crate) fn malformed_signed_headers(got: &str) -> String {
        format!("SignedHeaders must be a non-empty, ';'-separated list of lower-case header names, got '{got}'.")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_maps_to_a_wire_code_and_a_client_error_status() {
        let all = [
            Reason::Missing,
            Reason::BothHeaderAndQuery,
            Reason::UnsupportedAlgorithm,
            Reason::MalformedComponent,
            Reason::MissingParameter,
            Reason::MissingQueryParameter,
            Reason::MalformedCredential,
            Reason::BadTerminator,
            Reason::WrongService,
            Reason::WrongRegion,
            Reason::MalformedDate,
            Reason::ScopeDateMismatch,
            Reason::Expired,
            Reason::NotYetCurrent,
            Reason::BadExpires,
            Reason::MalformedSignedHeaders,
            Reason::HostNotSigned,
            Reason::UnsignedAmzHeader,
            Reason::ContentSha256Mismatch,
            Reason::UnknownAccessKey,
            Reason::BadSecurityToken,
            Reason::SignatureMismatch,
        ];
        for r in all {
            let e = AuthError::new(r, "m");
            assert!(e.code().ends_with("Exception"), "{r:?}");
            assert_eq!(e.status(), 400, "{r:?}");
        }
    }

    #[test]
    fn display_names_the_code_and_the_message() {
        let e = AuthError::new(Reason::UnknownAccessKey, msg::BAD_TOKEN);
        assert_eq!(
            e.to_string(),
            "UnrecognizedClientException: The security token included in the request is invalid."
        );
    }
}
