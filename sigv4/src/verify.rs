//! The server side: decide whether a request is signed by a configured key, in AWS's order.
//!
//! Everything that needs no secret is checked first — algorithm, credential scope shape,
//! service, region, scope date against the request date, clock skew (or presigned expiry),
//! that `host` and every `x-amz-*` header are signed, and `x-amz-content-sha256` against the
//! body — so a flood of junk never touches the credential store or an HMAC. Then the access
//! key is looked up, its session token checked, and the signature compared in constant time.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use crate::canonical::{
    canonical_headers, canonical_query_string, canonical_request, canonical_uri, sha256_hex,
    string_to_sign,
};
use crate::credentials::{CredentialsProvider, StaticCredentials};
use crate::datetime::AmzDate;
use crate::error::{msg, AuthError, Reason};
use crate::key::{KeyCache, SigningKey};
use crate::parse::{find_auth, header, q, AuthLocation, AuthParams, CredentialScope};
use crate::request::RequestParts;
use crate::signature::Signature;

/// AWS's allowed clock skew.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// Which regions a credential may be scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regions {
    /// Any well-formed region name (`us-east-2`, `eu-west-1`, `cn-north-1`, ...), as a
    /// local AWS endpoint serves whatever region a client's profile names.
    Any,
    /// Only these.
    Only(Vec<String>),
}

impl Regions {
    /// Whether a credential scoped to `region` is accepted.
    pub fn accepts(&self, region: &str) -> bool {
        match self {
            Regions::Any => is_region_name(region),
            Regions::Only(allowed) => allowed.iter().any(|r| r == region),
        }
    }
}

/// Whether `name` has the shape of an AWS region name: lowercase words joined by hyphens,
/// ending in a number (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`), at most 32 bytes.
pub fn is_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    name.len() <= 32
        && words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.len() <= 3
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// What the verifier accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyConfig {
    /// The regions served; credentials scoped elsewhere are refused as AWS refuses them.
    pub regions: Regions,
    /// The signing name, `ecs`.
    pub service: String,
    /// How far the request time may be from the server's clock, either way.
    pub max_skew: Duration,
}

impl VerifyConfig {
    /// ECS in `region` only, with AWS's 15-minute skew.
    pub fn ecs(region: impl Into<String>) -> Self {
        Self {
            regions: Regions::Only(vec![region.into()]),
            service: "ecs".to_owned(),
            max_skew: DEFAULT_MAX_SKEW,
        }
    }
}

/// Who signed a verified request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The access key id used.
    pub access_key_id: String,
    /// Its account.
    pub account_id: String,
    /// Its principal's ARN.
    pub principal_arn: String,
    /// The region the request was signed for: the region whose resources it acts on.
    pub region: String,
}

/// Verifies requests against one configuration and credential set, caching derived keys.
/// `Send + Sync` when the provider is; share it behind an `Arc`.
#[derive(Debug)]
pub struct Verifier<P = StaticCredentials> {
    config: VerifyConfig,
    provider: P,
    cache: KeyCache,
}

impl<P: CredentialsProvider> Verifier<P> {
    /// A verifier with an empty key cache.
    pub fn new(config: VerifyConfig, provider: P) -> Self {
        Self {
            config,
            provider,
            cache: KeyCache::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &VerifyConfig {
        &self.config
    }

    /// The credentials.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The derived-key cache (for metrics).
    pub fn key_cache(&self) -> &KeyCache {
        &self.cache
    }

    /// Verifies `req` at time `now`.
    pub fn verify(&self, req: &RequestParts<'_>, now: SystemTime) -> Result<Caller, AuthError> {
        let amz_date_header = header(req.headers, "x-amz-date");
        let date_header = header(req.headers, "date");
        let auth = find_auth(
            header(req.headers, "authorization"),
            req.query,
            amz_date_header.is_some() || date_header.is_some(),
        )?;

        let scope = CredentialScope::parse(&auth.credential)?;
        if scope.service != self.config.service {
            return Err(AuthError::new(
                Reason::WrongService,
                msg::wrong_service(&self.config.service),
            ));
        }
        if !self.config.regions.accepts(scope.region) {
            return Err(AuthError::new(
                Reason::WrongRegion,
                msg::wrong_region(scope.region),
            ));
        }

        let request_time = request_time(&auth, amz_date_header, date_header)?;
        let amz_date = request_time.format_basic();
        let request_day = request_time.date_stamp();
        if scope.date != request_day {
            return Err(AuthError::new(
                Reason::ScopeDateMismatch,
                msg::scope_date_mismatch(scope.date, &request_day, &amz_date),
            ));
        }
        self.check_time(&auth, request_time, &amz_date, now)?;

        let signed = signed_header_list(&auth.signed_headers)?;
        check_required_headers_signed(req.headers, &signed)?;

        let payload_hash = sha256_hex(req.body);
        if let Some(v) = header(req.headers, "x-amz-content-sha256") {
            if v.trim_ascii() != payload_hash.as_bytes() {
                return Err(AuthError::new(
                    Reason::ContentSha256Mismatch,
                    msg::CONTENT_SHA256_MISMATCH,
                ));
            }
        }

        // Only now is the credential store consulted.
        let Some(credential) = self.provider.lookup(scope.access_key_id) else {
            return Err(AuthError::new(Reason::UnknownAccessKey, msg::BAD_TOKEN));
        };
        let presented_token: Option<&[u8]> = match auth.location {
            AuthLocation::Header => header(req.headers, "x-amz-security-token"),
            AuthLocation::Query => auth.query_token.as_deref().map(str::as_bytes),
        };
        let token_ok = match (credential.session_token(), presented_token) {
            (Some(expected), Some(got)) => expected.ct_eq_bytes(got),
            (None, None) => true,
            _ => false,
        };
        if !token_ok {
            return Err(AuthError::new(Reason::BadSecurityToken, msg::BAD_TOKEN));
        }

        let exclude = (auth.location == AuthLocation::Query).then_some(q::SIGNATURE);
        let creq = canonical_request(
            req.method,
            &canonical_uri(req.path, true),
            &canonical_query_string(req.query.unwrap_or(""), exclude),
            &canonical_headers(req.headers.iter().copied(), &signed),
            &auth.signed_headers,
            &payload_hash,
        );
        // The scope is the credential after the access key id (which has no '/').
        let scope_str = auth.credential.split_once('/').map_or("", |(_, rest)| rest);
        let sts = string_to_sign(&amz_date, scope_str, &creq);
        let key = self.cache.get_or_derive(
            CredentialScope::cache_key(&auth.credential),
            credential.serial(),
            || {
                SigningKey::derive(
                    credential.secret_access_key().expose().as_bytes(),
                    scope.date,
                    scope.region,
                    scope.service,
                )
            },
        );
        let computed = key.sign(sts.as_bytes());
        let matches = Signature::from_hex(&auth.signature).is_some_and(|s| s.ct_eq(&computed));
        if !matches {
            return Err(
                AuthError::new(Reason::SignatureMismatch, msg::SIGNATURE_MISMATCH).with_detail(
                    format!(
                        "canonical request:\n{}\nstring to sign:\n{sts}",
                        String::from_utf8_lossy(&creq)
                    ),
                ),
            );
        }
        Ok(Caller {
            access_key_id: credential.access_key_id().to_owned(),
            account_id: credential.account_id().to_owned(),
            principal_arn: credential.principal_arn().to_owned(),
            region: scope.region.to_owned(),
        })
    }

    fn check_time(
        &self,
        auth: &AuthParams<'_>,
        request_time: AmzDate,
        amz_date: &str,
        now: SystemTime,
    ) -> Result<(), AuthError> {
        let now = AmzDate::from_system_time(now);
        let skew = secs(self.config.max_skew);
        let (past_window, past_label) = match auth.location {
            AuthLocation::Header => (skew, window_label(skew)),
            AuthLocation::Query => {
                let expires = auth
                    .expires
                    .as_deref()
                    .and_then(|e| e.parse::<i64>().ok())
                    .filter(|e| (1..=604_800).contains(e))
                    .ok_or_else(|| AuthError::new(Reason::BadExpires, msg::BAD_EXPIRES))?;
                (expires, window_label(expires))
            }
        };
        let earliest = now.add_secs(-past_window);
        if request_time < earliest {
            return Err(AuthError::new(
                Reason::Expired,
                msg::expired(
                    amz_date,
                    &earliest.format_basic(),
                    &now.format_basic(),
                    &past_label,
                ),
            ));
        }
        let latest = now.add_secs(skew);
        if request_time > latest {
            return Err(AuthError::new(
                Reason::NotYetCurrent,
                msg::not_yet_current(
                    amz_date,
                    &latest.format_basic(),
                    &now.format_basic(),
                    &window_label(skew),
                ),
            ));
        }
        Ok(())
    }
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// `15 min` like AWS for whole minutes, `90 sec` otherwise.
fn window_label(secs: i64) -> String {
    if secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} sec")
    }
}

/// The request time: `X-Amz-Date` (query or header), else the `Date` header.
fn request_time(
    auth: &AuthParams<'_>,
    amz_date_header: Option<&[u8]>,
    date_header: Option<&[u8]>,
) -> Result<AmzDate, AuthError> {
    let malformed = |raw: &[u8]| {
        AuthError::new(
            Reason::MalformedDate,
            msg::malformed_date(&String::from_utf8_lossy(raw)),
        )
    };
    let (raw, http_form): (Cow<'_, [u8]>, bool) = match (auth.location, &auth.query_date) {
        (AuthLocation::Query, Some(d)) => (Cow::Borrowed(d.as_bytes()), false),
        (AuthLocation::Query, None) => return Err(malformed(b"")),
        (AuthLocation::Header, _) => match (amz_date_header, date_header) {
            (Some(v), _) => (Cow::Borrowed(v), false),
            (None, Some(v)) => (Cow::Borrowed(v), true),
            (None, None) => return Err(malformed(b"")),
        },
    };
    let text = std::str::from_utf8(&raw)
        .map_err(|_| malformed(&raw))?
        .trim();
    let parsed = if http_form {
        AmzDate::parse_http(text)
    } else {
        AmzDate::parse_basic(text)
    };
    parsed.ok_or_else(|| malformed(&raw))
}

/// Splits and checks `SignedHeaders`: non-empty lower-case header names separated by `;`.
fn signed_header_list(raw: &str) -> Result<Vec<&str>, AuthError> {
    let names: Vec<&str> = raw.split(';').collect();
    let valid = names.iter().all(|n| {
        !n.is_empty()
            && n.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
            })
    });
    if valid {
        Ok(names)
    } else {
        Err(AuthError::new(
            Reason::MalformedSignedHeaders,
            msg::malformed_signed_headers(raw),
        ))
    }
}

/// `host` must be signed, and so must every `x-amz-*` header the request carries (otherwise a
/// man in the middle could add or change, say, `x-amz-security-token` or `x-amz-target`).
fn check_required_headers_signed(
    headers: &[(&str, &[u8])],
    signed: &[&str],
) -> Result<(), AuthError> {
    if !signed.contains(&"host") {
        return Err(AuthError::new(Reason::HostNotSigned, msg::HOST_NOT_SIGNED));
    }
    let mut unsigned: Vec<String> = headers
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| n.len() >= 6 && n.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-"))
        .filter(|n| !signed.iter().any(|s| n.eq_ignore_ascii_case(s)))
        .map(str::to_ascii_lowercase)
        .collect();
    if unsigned.is_empty() {
        return Ok(());
    }
    unsigned.sort_unstable();
    unsigned.dedup();
    Err(AuthError::new(
        Reason::UnsignedAmzHeader,
        msg::unsigned_headers(&unsigned.join(", ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_can_be_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Verifier>();
    }

    #[test]
    fn skew_windows_are_labelled_like_aws() {
        assert_eq!(window_label(900), "15 min");
        assert_eq!(window_label(90), "90 sec");
    }
}
