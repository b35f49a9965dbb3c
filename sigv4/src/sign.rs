//! The client side: sign a request (headers to add) or presign it (a query string), the way
//! the AWS SDKs do for a non-S3 service, so kubecs's own tools and benchmarks produce exactly
//! what real clients send.
//!
//! Like the SDKs, every header of the request is signed except the few that proxies and
//! transports rewrite (`authorization`, `user-agent`, `x-amzn-trace-id`, `transfer-encoding`),
//! and the request must already carry its `host` header.

use std::time::{Duration, SystemTime};

use crate::canonical::{
    self, canonical_headers, canonical_query_string, canonical_uri, credential_scope, sha256_hex,
    ALGORITHM,
};
use crate::credentials::Credential;
use crate::datetime::AmzDate;
use crate::encode::uri_encode_into;
use crate::key::SigningKey;
use crate::parse::q;
use crate::request::RequestParts;

/// Headers the SDKs never sign because intermediaries change them.
const UNSIGNED_HEADERS: [&str; 4] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
];
/// Headers the SDKs leave out of a *presigned* request's signature: whoever later uses the
/// URL (a browser, curl) will not send the SDK's own user agent or checksum mode.
const UNSIGNED_WHEN_PRESIGNING: [&str; 2] = ["x-amz-user-agent", "x-amz-checksum-mode"];
/// Headers the signer generates itself; copies in the input are dropped.
const GENERATED_HEADERS: [&str; 3] = ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];

/// The longest validity of a presigned request.
pub const MAX_PRESIGN_EXPIRES: Duration = Duration::from_secs(604_800);

/// What to sign with.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials.
    pub session_token: Option<&'a str>,
    /// The region, e.g. `us-east-1`.
    pub region: &'a str,
    /// The signing name, `ecs` for kubecs.
    pub service: &'a str,
    /// The signing time.
    pub time: SystemTime,
    /// Also send and sign `x-amz-content-sha256` (S3-style clients do; the JSON SDKs do not).
    pub content_sha256_header: bool,
}

impl<'a> SigningParams<'a> {
    /// Parameters for a configured credential.
    pub fn for_credential(
        credential: &'a Credential,
        region: &'a str,
        service: &'a str,
        time: SystemTime,
    ) -> Self {
        Self {
            access_key_id: credential.access_key_id(),
            secret_access_key: credential.secret_access_key().expose(),
            session_token: credential.session_token().map(|t| t.expose()),
            region,
            service,
            time,
            content_sha256_header: false,
        }
    }
}

/// The result of signing.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Headers to add (lower-case names): `authorization`, `x-amz-date`, and
    /// `x-amz-security-token` / `x-amz-content-sha256` when used. Empty for [`presign`].
    pub headers: Vec<(&'static str, String)>,
    /// For [`presign`]: the complete query string to send (the request's own parameters, then
    /// the signing parameters, `X-Amz-Signature` last), without `?`.
    pub query: Option<String>,
    /// The signature, hex.
    pub signature: String,
    /// The canonical request that was signed (for debugging and the test vectors).
    pub canonical_request: String,
    /// The string to sign.
    pub string_to_sign: String,
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The request has no `host` header, which SigV4 always signs.
    #[error("the request has no host header; SigV4 requires one")]
    MissingHost,
    /// The access key id contains a character that would break the credential scope.
    #[error("the access key id must not be empty or contain '/', ',', '=' or whitespace")]
    InvalidAccessKeyId,
    /// Presigned requests are valid for 1 second to 7 days.
    #[error("presigned expiry must be between 1 and 604800 seconds")]
    InvalidExpires,
}

/// Signs `req` with an `Authorization` header.
pub fn sign(req: &RequestParts<'_>, params: &SigningParams<'_>) -> Result<Signed, SignError> {
    check_access_key_id(params.access_key_id)?;
    let date = AmzDate::from_system_time(params.time);
    let amz_date = date.format_basic();
    let payload_hash = sha256_hex(req.body);

    let mut generated: Vec<(&'static str, String)> = vec![("x-amz-date", amz_date.clone())];
    if let Some(token) = params.session_token {
        generated.push(("x-amz-security-token", token.to_owned()));
    }
    if params.content_sha256_header {
        generated.push(("x-amz-content-sha256", payload_hash.clone()));
    }

    let mut headers = signable_headers(req.headers);
    headers.extend(generated.iter().map(|(n, v)| (*n, v.as_bytes())));
    let (names, signed_headers) = signed_header_names(&headers)?;
    let creq = canonical::canonical_request(
        req.method,
        &canonical_uri(req.path, true),
        &canonical_query_string(req.query.unwrap_or(""), None),
        &canonical_headers(headers.iter().copied(), &as_strs(&names)),
        &signed_headers,
        &payload_hash,
    );
    let scope = credential_scope(&date.date_stamp(), params.region, params.service);
    let (signature, string_to_sign) = sign_canonical(params, &date, &amz_date, &scope, &creq);

    let mut out = generated;
    out.push((
        "authorization",
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            params.access_key_id
        ),
    ));
    Ok(Signed {
        headers: out,
        query: None,
        signature,
        canonical_request: String::from_utf8_lossy(&creq).into_owned(),
        string_to_sign,
    })
}

/// Presigns `req`: the signature travels in the query string, valid for `expires`.
pub fn presign(
    req: &RequestParts<'_>,
    params: &SigningParams<'_>,
    expires: Duration,
) -> Result<Signed, SignError> {
    check_access_key_id(params.access_key_id)?;
    if expires.is_zero() || expires > MAX_PRESIGN_EXPIRES {
        return Err(SignError::InvalidExpires);
    }
    let date = AmzDate::from_system_time(params.time);
    let amz_date = date.format_basic();
    let payload_hash = sha256_hex(req.body);
    let scope = credential_scope(&date.date_stamp(), params.region, params.service);

    let mut headers = signable_headers(req.headers);
    headers.retain(|(n, _)| {
        !UNSIGNED_WHEN_PRESIGNING
            .iter()
            .any(|u| n.eq_ignore_ascii_case(u))
    });
    let (names, signed_headers) = signed_header_names(&headers)?;

    let credential = format!("{}/{scope}", params.access_key_id);
    let expires = expires.as_secs().to_string();
    let mut added: Vec<(&str, &str)> = vec![
        (q::ALGORITHM, ALGORITHM),
        (q::CREDENTIAL, &credential),
        (q::DATE, &amz_date),
        (q::EXPIRES, &expires),
        (q::SIGNED_HEADERS, &signed_headers),
    ];
    if let Some(token) = params.session_token {
        added.push((q::SECURITY_TOKEN, token));
    }
    let mut query = req.query.unwrap_or("").to_owned();
    for (k, v) in &added {
        if !query.is_empty() {
            query.push('&');
        }
        uri_encode_into(&mut query, k.as_bytes(), false);
        query.push('=');
        uri_encode_into(&mut query, v.as_bytes(), false);
    }

    let creq = canonical::canonical_request(
        req.method,
        &canonical_uri(req.path, true),
        &canonical_query_string(&query, None),
        &canonical_headers(headers.iter().copied(), &as_strs(&names)),
        &signed_headers,
        &payload_hash,
    );
    let (signature, string_to_sign) = sign_canonical(params, &date, &amz_date, &scope, &creq);
    query.push('&');
    query.push_str(q::SIGNATURE);
    query.push('=');
    query.push_str(&signature);
    Ok(Signed {
        headers: Vec::new(),
        query: Some(query),
        signature,
        canonical_request: String::from_utf8_lossy(&creq).into_owned(),
        string_to_sign,
    })
}

fn check_access_key_id(id: &str) -> Result<(), SignError> {
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b',' | b'='));
    ok.then_some(()).ok_or(SignError::InvalidAccessKeyId)
}

fn signable_headers<'a>(headers: &'a [(&'a str, &'a [u8])]) -> Vec<(&'a str, &'a [u8])> {
    headers
        .iter()
        .filter(|(n, _)| {
            !UNSIGNED_HEADERS
                .iter()
                .chain(GENERATED_HEADERS.iter())
                .any(|u| n.eq_ignore_ascii_case(u))
        })
        .copied()
        .collect()
}

/// The sorted, de-duplicated, lower-case names to sign, and their `;`-joined list.
fn signed_header_names(headers: &[(&str, &[u8])]) -> Result<(Vec<String>, String), SignError> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort_unstable();
    names.dedup();
    if !names.iter().any(|n| n == "host") {
        return Err(SignError::MissingHost);
    }
    let joined = names.join(";");
    Ok((names, joined))
}

fn as_strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

fn sign_canonical(
    params: &SigningParams<'_>,
    date: &AmzDate,
    amz_date: &str,
    scope: &str,
    creq: &[u8],
) -> (String, String) {
    let string_to_sign = canonical::string_to_sign(amz_date, scope, creq);
    let key = SigningKey::derive(
        params.secret_access_key.as_bytes(),
        &date.date_stamp(),
        params.region,
        params.service,
    );
    (key.sign(string_to_sign.as_bytes()).to_hex(), string_to_sign)
}
