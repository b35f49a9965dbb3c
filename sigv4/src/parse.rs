//! Finding and parsing a request's signing parameters: the `Authorization: AWS4-HMAC-SHA256
//! Credential=..., SignedHeaders=..., Signature=...` header, or the `X-Amz-*` query-string
//! parameters of a presigned request. Only syntax lives here; what the values must *be* is the
//! verifier's business.

use std::borrow::Cow;

use crate::canonical::{ALGORITHM, TERMINATOR};
use crate::encode::percent_decode;
use crate::error::{msg, AuthError, Reason};

/// Where the signature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// The `Authorization` header.
    Header,
    /// `X-Amz-*` query parameters (a presigned URL).
    Query,
}

/// The signing parameters of one request, syntactically valid but not yet checked.
#[derive(Debug, Clone)]
pub struct AuthParams<'a> {
    /// Header or query.
    pub location: AuthLocation,
    /// The raw `Credential` value: `akid/date/region/service/aws4_request`.
    pub credential: Cow<'a, str>,
    /// The raw `SignedHeaders` value.
    pub signed_headers: Cow<'a, str>,
    /// The raw `Signature` value.
    pub signature: Cow<'a, str>,
    /// `X-Amz-Date` from the query (query auth only; header auth reads it from the headers).
    pub query_date: Option<Cow<'a, str>>,
    /// `X-Amz-Expires` (query auth only).
    pub expires: Option<Cow<'a, str>>,
    /// `X-Amz-Security-Token` from the query (query auth only).
    pub query_token: Option<Cow<'a, str>>,
}

/// The parts of a credential scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialScope<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// `YYYYMMDD`.
    pub date: &'a str,
    /// The region.
    pub region: &'a str,
    /// The service.
    pub service: &'a str,
}

impl<'a> CredentialScope<'a> {
    /// Splits `akid/date/region/service/aws4_request`. The access key id itself may not
    /// contain `/` (AWS refuses those too, with the same message).
    pub fn parse(credential: &'a str) -> Result<Self, AuthError> {
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
            return Err(AuthError::new(
                Reason::MalformedCredential,
                msg::malformed_credential(credential),
            ));
        };
        if *terminator != TERMINATOR {
            return Err(AuthError::new(
                Reason::BadTerminator,
                msg::bad_terminator(terminator),
            ));
        }
        Ok(Self {
            access_key_id,
            date,
            region,
            service,
        })
    }

    /// `akid/date/region/service`: the credential minus `/aws4_request`, the key-cache key.
    pub fn cache_key(credential: &str) -> &str {
        credential
            .strip_suffix(TERMINATOR)
            .and_then(|c| c.strip_suffix('/'))
            .unwrap_or(credential)
    }
}

/// Case-insensitive header lookup: the first value, if any.
pub(crate) fn header<'a>(headers: &[(&'a str, &'a [u8])], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// The query-string signing parameter names.
pub(crate) mod q {
    pub const ALGORITHM: &str = "X-Amz-Algorithm";
    pub const CREDENTIAL: &str = "X-Amz-Credential";
    pub const DATE: &str = "X-Amz-Date";
    pub const EXPIRES: &str = "X-Amz-Expires";
    pub const SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
    pub const SIGNATURE: &str = "X-Amz-Signature";
    pub const SECURITY_TOKEN: &str = "X-Amz-Security-Token";
}

/// Finds the signing parameters: the `Authorization` header, else `X-Amz-*` query parameters.
/// `has_header_date` says whether the request has an `X-Amz-Date` or `Date` header (AWS folds
/// its absence into the same "incomplete" message as the missing header parameters).
pub fn find_auth<'a>(
    authorization: Option<&'a [u8]>,
    query: Option<&'a str>,
    has_header_date: bool,
) -> Result<AuthParams<'a>, AuthError> {
    let query_params = query.map(parse_query).unwrap_or_default();
    let query_has = |name: &str| query_params.iter().any(|(k, _)| k == name);
    let query_signed =
        query_has(q::ALGORITHM) || query_has(q::CREDENTIAL) || query_has(q::SIGNATURE);

    match authorization {
        Some(_) if query_has(q::ALGORITHM) => Err(AuthError::new(
            Reason::BothHeaderAndQuery,
            msg::BOTH_HEADER_AND_QUERY,
        )),
        Some(value) => parse_authorization(value, has_header_date),
        None if query_signed => from_query(query_params),
        None => Err(AuthError::new(Reason::Missing, msg::MISSING_TOKEN)),
    }
}

/// Splits a raw query string into percent-decoded `(key, value)` pairs. Undecodable UTF-8 is
/// replaced rather than refused: such values simply fail later checks.
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                String::from_utf8_lossy(&percent_decode(k)).into_owned(),
                String::from_utf8_lossy(&percent_decode(v)).into_owned(),
            )
        })
        .collect()
}

fn from_query<'a>(params: Vec<(String, String)>) -> Result<AuthParams<'a>, AuthError> {
    let take = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Cow::Owned(v.clone()))
    };
    let algorithm = take(q::ALGORITHM);
    let (Some(algorithm), Some(credential), Some(signed_headers), Some(signature), Some(date)) = (
        algorithm,
        take(q::CREDENTIAL),
        take(q::SIGNED_HEADERS),
        take(q::SIGNATURE),
        take(q::DATE),
    ) else {
        return Err(AuthError::new(
            Reason::MissingQueryParameter,
            msg::MISSING_QUERY,
        ));
    };
    if algorithm != ALGORITHM {
        return Err(AuthError::new(
            Reason::UnsupportedAlgorithm,
            msg::unsupported_algorithm(&algorithm),
        ));
    }
    Ok(AuthParams {
        location: AuthLocation::Query,
        credential,
        signed_headers,
        signature,
        query_date: Some(date),
        expires: take(q::EXPIRES),
        query_token: take(q::SECURITY_TOKEN),
    })
}

fn parse_authorization(value: &[u8], has_header_date: bool) -> Result<AuthParams<'_>, AuthError> {
    // A header that is not even UTF-8 cannot hold a SigV4 signature; report it as AWS reports
    // any header without the SigV4 parameters.
    let Ok(header) = std::str::from_utf8(value) else {
        return Err(missing_parameters(
            &String::from_utf8_lossy(value),
            [true, true, true],
            has_header_date,
        ));
    };
    let header = header.trim();
    let (algorithm, rest) = header.split_once([' ', '\t']).unwrap_or((header, ""));

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    let mut malformed = None;
    // AWS splits on commas *and* whitespace: a stray space inside a value (a pasted access
    // key with a trailing blank) is reported as its own component without '='.
    for part in rest
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|p| !p.is_empty())
    {
        match part.split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed_headers = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            Some(_) => {}
            None => {
                malformed.get_or_insert(part);
            }
        }
    }

    if algorithm != ALGORITHM {
        // Something that is not SigV4 at all (a bearer token, SigV2): AWS answers with the
        // list of what a SigV4 header needs. A SigV4-shaped header with another algorithm
        // gets a direct message.
        if credential.is_none() {
            return Err(missing_parameters(
                header,
                [true, signature.is_none(), signed_headers.is_none()],
                has_header_date,
            ));
        }
        return Err(AuthError::new(
            Reason::UnsupportedAlgorithm,
            msg::unsupported_algorithm(algorithm),
        ));
    }
    if let Some(part) = malformed {
        return Err(AuthError::new(
            Reason::MalformedComponent,
            msg::malformed_component(part, header),
        ));
    }
    match (credential, signed_headers, signature) {
        (Some(c), Some(h), Some(s)) if has_header_date => Ok(AuthParams {
            location: AuthLocation::Header,
            credential: Cow::Borrowed(c),
            signed_headers: Cow::Borrowed(h),
            signature: Cow::Borrowed(s),
            query_date: None,
            expires: None,
            query_token: None,
        }),
        (c, h, s) => Err(missing_parameters(
            header,
            [c.is_none(), s.is_none(), h.is_none()],
            has_header_date,
        )),
    }
}

/// AWS's combined message: one sentence per missing piece, then the header echoed back.
fn missing_parameters(header: &str, missing: [bool; 3], has_date: bool) -> AuthError {
    let mut m = String::new();
    for (name, is_missing) in ["Credential", "Signature", "SignedHeaders"]
        .iter()
        .zip(missing)
    {
        if is_missing {
            m.push_str("Authorization header requires '");
            m.push_str(name);
            m.push_str("' parameter. ");
        }
    }
    if !has_date {
        m.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    m.push_str("Authorization=");
    m.push_str(header);
    AuthError::new(Reason::MissingParameter, m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuthErrorCode;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn a_well_formed_header_is_split_into_its_parameters() {
        let p = find_auth(Some(GOOD.as_bytes()), None, true).unwrap();
        assert_eq!(p.location, AuthLocation::Header);
        assert_eq!(
            p.credential,
            "AKIDEXAMPLE/20150830/us-east-1/ecs/aws4_request"
        );
        assert_eq!(p.signed_headers, "host;x-amz-date");
        assert!(p.signature.starts_with("5fa00f"));
    }

    #[test]
    fn components_may_come_in_any_order_without_spaces() {
        let h = "AWS4-HMAC-SHA256 Signature=ab,SignedHeaders=host,Credential=A/1/r/s/aws4_request";
        let p = find_auth(Some(h.as_bytes()), None, true).unwrap();
        assert_eq!(p.credential, "A/1/r/s/aws4_request");
        assert_eq!(p.signature, "ab");
    }

    #[test]
    fn no_signature_at_all_is_a_missing_token() {
        let e = find_auth(None, Some("Action=x"), true).unwrap_err();
        assert_eq!(e.code(), "MissingAuthenticationTokenException");
        assert_eq!(e.message(), "Request is missing Authentication Token");
    }

    #[test]
    fn a_bearer_token_gets_aws_combined_message() {
        let e = find_auth(Some(b"Bearer abc"), None, false).unwrap_err();
        assert_eq!(e.error_code(), AuthErrorCode::IncompleteSignature);
        assert_eq!(
            e.message(),
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer abc"
        );
    }

    #[test]
    fn a_header_missing_some_parameters_names_exactly_those() {
        let h = "AWS4-HMAC-SHA256 Credential=ABCDEF";
        let e = find_auth(Some(h.as_bytes()), None, true).unwrap_err();
        assert_eq!(
            e.message(),
            "Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 Credential=ABCDEF"
        );
        let e = find_auth(Some(GOOD.as_bytes()), None, false).unwrap_err();
        assert!(e
            .message()
            .starts_with("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256"));
    }

    #[test]
    fn a_component_without_equals_is_named() {
        // The shape of aws/aws-sdk-go#289: a blank pasted into the access key.
        let h = "AWS4-HMAC-SHA256 Credential=AKIAXXXXXXXXXX /20150620/us-east-1/cloudformation/aws4_request, SignedHeaders=host;x-amz-date, Signature=240c93ba";
        let e = find_auth(Some(h.as_bytes()), None, true).unwrap_err();
        assert_eq!(e.reason(), Reason::MalformedComponent);
        assert_eq!(
            e.message(),
            format!("'/20150620/us-east-1/cloudformation/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: '{h}'.")
        );
    }

    #[test]
    fn another_algorithm_is_refused() {
        let h = GOOD.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256");
        let e = find_auth(Some(h.as_bytes()), None, true).unwrap_err();
        assert_eq!(e.reason(), Reason::UnsupportedAlgorithm);
    }

    #[test]
    fn query_parameters_are_decoded() {
        let q = "Action=ListClusters&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20150830%2Fus-east-1%2Fecs%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab&X-Amz-Security-Token=a%2Bb%3D";
        let p = find_auth(None, Some(q), false).unwrap();
        assert_eq!(p.location, AuthLocation::Query);
        assert_eq!(p.credential, "AKID/20150830/us-east-1/ecs/aws4_request");
        assert_eq!(p.query_date.as_deref(), Some("20150830T123600Z"));
        assert_eq!(p.expires.as_deref(), Some("60"));
        assert_eq!(p.query_token.as_deref(), Some("a+b="));
    }

    #[test]
    fn incomplete_query_parameters_are_refused() {
        let e = find_auth(None, Some("X-Amz-Algorithm=AWS4-HMAC-SHA256"), false).unwrap_err();
        assert_eq!(e.reason(), Reason::MissingQueryParameter);
        let e = find_auth(None, Some("X-Amz-Signature=ab"), false).unwrap_err();
        assert_eq!(e.reason(), Reason::MissingQueryParameter);
    }

    #[test]
    fn header_and_query_together_are_refused() {
        let e = find_auth(
            Some(GOOD.as_bytes()),
            Some("X-Amz-Algorithm=AWS4-HMAC-SHA256"),
            true,
        )
        .unwrap_err();
        assert_eq!(e.reason(), Reason::BothHeaderAndQuery);
    }

    #[test]
    fn credential_scopes_are_split_and_checked_for_shape() {
        let s = CredentialScope::parse("AKID/20150830/us-east-1/ecs/aws4_request").unwrap();
        assert_eq!(
            (s.access_key_id, s.date, s.region, s.service),
            ("AKID", "20150830", "us-east-1", "ecs")
        );
        let e = CredentialScope::parse("foo/bar/20210531/us-east-1/sts/aws4_request").unwrap_err();
        assert_eq!(
            e.message(),
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'foo/bar/20210531/us-east-1/sts/aws4_request'"
        );
        let e = CredentialScope::parse("AKID/20150830/us-east-1/ecs/aws5_request").unwrap_err();
        assert_eq!(e.reason(), Reason::BadTerminator);
        assert_eq!(
            CredentialScope::cache_key("AKID/20150830/us-east-1/ecs/aws4_request"),
            "AKID/20150830/us-east-1/ecs"
        );
    }
}
