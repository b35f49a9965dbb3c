//! Every way a request is refused: the AWS code, HTTP status and message, and — for the
//! checks that must come first — proof that no secret was looked up.

// Test code: a failed unwrap is a failed test (clippy only exempts #[test] fns themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use kubecs_sigv4::canonical::{
    canonical_headers, canonical_request, canonical_uri, sha256_hex, string_to_sign,
};
use kubecs_sigv4::{sign, AuthError, Reason, RequestParts, SigningKey, SigningParams};

const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const BAD_TOKEN: &str = "The security token included in the request is invalid.";

fn signed() -> Owned {
    aws_signed(Owned::ecs(), &AwsSign::default())
}

/// Verifies at `t0` and returns the error and how many look-ups happened.
fn refuse(req: &Owned) -> (AuthError, usize) {
    refuse_at(req, t0())
}

fn refuse_at(req: &Owned, now: std::time::SystemTime) -> (AuthError, usize) {
    let v = verifier();
    let e = req.verify_with(&v, now).unwrap_err();
    (e, v.provider().lookups())
}

fn assert_error(e: &AuthError, code: &str, status: u16, message: &str) {
    assert_eq!(e.code(), code, "{e}");
    assert_eq!(e.status(), status, "{e}");
    assert_eq!(e.message(), message, "{e}");
}

#[test]
fn an_unsigned_request_is_missing_its_authentication_token() {
    let mut req = Owned::ecs();
    req.query = Some("Action=ListClusters".into());
    let (e, lookups) = refuse(&req);
    assert_error(
        &e,
        "MissingAuthenticationTokenException",
        400,
        "Request is missing Authentication Token",
    );
    assert_eq!(lookups, 0);
}

#[test]
fn a_tampered_body_fails_the_signature() {
    let mut req = signed();
    req.body = BODY.replace("\"count\":2", "\"count\":9").into_bytes();
    let (e, lookups) = refuse(&req);
    assert_error(&e, "InvalidSignatureException", 400, MISMATCH);
    assert_eq!(e.reason(), Reason::SignatureMismatch);
    assert_eq!(lookups, 1);
    // The log gets our canonical request, never the secret.
    let detail = e.detail().unwrap();
    assert!(detail.contains("x-amz-target:AmazonEC2ContainerServiceV20141113.RunTask"));
    assert!(!detail.contains(SECRET));
}

#[test]
fn a_tampered_signed_header_fails_the_signature() {
    let mut req = signed();
    req.set_header(
        "x-amz-target",
        "AmazonEC2ContainerServiceV20141113.DeleteCluster",
    );
    let (e, _) = refuse(&req);
    assert_error(&e, "InvalidSignatureException", 400, MISMATCH);
}

#[test]
fn a_tampered_unsigned_header_is_harmless() {
    let mut req = signed();
    req.set_header("user-agent", "something else");
    req.verify_with(&verifier(), t0()).unwrap();
}

#[test]
fn an_unsigned_amz_header_is_refused_before_any_lookup() {
    let mut req = signed();
    req.headers
        .push(("X-Amz-Meta-Injected".into(), "evil".into()));
    let (e, lookups) = refuse(&req);
    assert_error(
        &e,
        "IncompleteSignatureException",
        400,
        "There were headers present in the request which were not signed: x-amz-meta-injected",
    );
    assert_eq!(lookups, 0);
}

#[test]
fn a_replay_after_the_skew_window_has_expired() {
    let req = signed();
    req.verify_with(&verifier(), t0() + Duration::from_secs(15 * 60))
        .unwrap();
    let (e, lookups) = refuse_at(&req, t0() + Duration::from_secs(16 * 60));
    assert_error(
        &e,
        "InvalidSignatureException",
        400,
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T125200Z - 15 min.)",
    );
    assert_eq!(lookups, 0);
}

#[test]
fn a_request_from_the_future_is_not_yet_current() {
    let req = signed();
    req.verify_with(&verifier(), t0() - Duration::from_secs(15 * 60))
        .unwrap();
    let (e, lookups) = refuse_at(&req, t0() - Duration::from_secs(16 * 60));
    assert_error(
        &e,
        "InvalidSignatureException",
        400,
        "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z (20150830T122000Z + 15 min.)",
    );
    assert_eq!(lookups, 0);
}

#[test]
fn the_skew_window_is_configurable_and_worded_accordingly() {
    let req = signed();
    let mut config = kubecs_sigv4::VerifyConfig::ecs(REGION);
    config.max_skew = Duration::from_secs(5 * 60);
    let v = kubecs_sigv4::Verifier::new(config, credentials());
    let e = req
        .verify_with(&v, t0() + Duration::from_secs(6 * 60))
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z (20150830T124200Z - 5 min.)"
    );
}

#[test]
fn a_credential_for_another_region_is_refused_before_any_lookup() {
    let req = aws_signed(
        Owned::ecs(),
        &AwsSign {
            region: "eu-west-1",
            ..AwsSign::default()
        },
    );
    let (e, lookups) = refuse(&req);
    assert_error(
        &e,
        "InvalidSignatureException",
        400,
        "Credential should be scoped to a valid region, not 'eu-west-1'. ",
    );
    assert_eq!(lookups, 0);
}

#[test]
fn a_credential_for_another_service_is_refused_before_any_lookup() {
    let req = aws_signed(
        Owned::ecs(),
        &AwsSign {
            service: "ec2",
            ..AwsSign::default()
        },
    );
    let (e, lookups) = refuse(&req);
    assert_error(
        &e,
        "InvalidSignatureException",
        400,
        "Credential should be scoped to correct service: 'ecs'. ",
    );
    assert_eq!(lookups, 0);
}

#[test]
fn an_unknown_access_key_is_an_unrecognized_client() {
    let req = aws_signed(
        Owned::ecs(),
        &AwsSign {
            akid: "AKIAUNKNOWN",
            ..AwsSign::default()
        },
    );
    let (e, lookups) = refuse(&req);
    assert_error(&e, "UnrecognizedClientException", 400, BAD_TOKEN);
    assert_eq!(lookups, 1);
}

#[test]
fn a_wrong_secret_fails_the_signature() {
    let req = aws_signed(
        Owned::ecs(),
        &AwsSign {
            secret: "not-the-secret",
            ..AwsSign::default()
        },
    );
    let (e, _) = refuse(&req);
    assert_error(&e, "InvalidSignatureException", 400, MISMATCH);
}

#[test]
fn a_key_with_a_session_token_requires_it() {
    let req = aws_signed(
        Owned::ecs(),
        &AwsSign {
            akid: TEMP_AKID,
            secret: TEMP_SECRET,
            ..AwsSign::default()
        },
    );
    let (e, _) = refuse(&req);
    assert_error(&e, "UnrecognizedClientException", 400, BAD_TOKEN);
    assert_eq!(e.reason(), Reason::BadSecurityToken);
}

#[test]
fn a_wrong_session_token_is_refused() {
    let req = aws_signed(
        Owned::ecs(),
        &AwsSign {
            akid: TEMP_AKID,
            secret: TEMP_SECRET,
            token: Some("IQoJb3JpZ2luX2VjEXAMPLE//someone+else=="),
            ..AwsSign::default()
        },
    );
    let (e, _) = refuse(&req);
    assert_error(&e, "UnrecognizedClientException", 400, BAD_TOKEN);
}

#[test]
fn a_session_token_on_a_long_term_key_is_refused() {
    let req = aws_signed(
        Owned::ecs(),
        &AwsSign {
            token: Some(TOKEN),
            ..AwsSign::default()
        },
    );
    let (e, _) = refuse(&req);
    assert_eq!(e.reason(), Reason::BadSecurityToken);
}

#[test]
fn a_scope_date_other_than_the_request_date_is_refused() {
    let mut req = signed();
    req.set_header("x-amz-date", "20150831T003600Z");
    let (e, lookups) = refuse(&req);
    assert_error(
        &e,
        "InvalidSignatureException",
        400,
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20150830' != '20150831', from '20150831T003600Z'.",
    );
    assert_eq!(lookups, 0);
}

#[test]
fn a_malformed_request_date_is_refused() {
    let mut req = signed();
    req.set_header("x-amz-date", "2015-08-30T12:36:00Z");
    let (e, _) = refuse(&req);
    assert_error(
        &e,
        "IncompleteSignatureException",
        400,
        "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See http://en.wikipedia.org/wiki/ISO_8601",
    );
}

#[test]
fn a_content_sha256_that_does_not_match_the_body_is_refused() {
    let unsigned = Owned::ecs();
    let headers = unsigned.header_refs();
    let out = sign(
        &RequestParts {
            method: "POST",
            path: "/",
            query: None,
            headers: &headers,
            body: &unsigned.body,
        },
        &SigningParams {
            access_key_id: AKID,
            secret_access_key: SECRET,
            session_token: None,
            region: REGION,
            service: "ecs",
            time: t0(),
            content_sha256_header: true,
        },
    )
    .unwrap();
    let mut req = unsigned.clone();
    for (n, v) in &out.headers {
        req.set_header(n, v);
    }
    req.verify_with(&verifier(), t0()).unwrap();
    req.body.push(b' ');
    let (e, lookups) = refuse(&req);
    assert_error(
        &e,
        "InvalidSignatureException",
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    );
    assert_eq!(lookups, 0);
}

#[test]
fn host_must_be_signed() {
    let mut req = signed();
    let auth = req.header("authorization").unwrap().replace(";host;", ";");
    req.set_header("authorization", &auth);
    let (e, lookups) = refuse(&req);
    assert_error(
        &e,
        "IncompleteSignatureException",
        400,
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
    );
    assert_eq!(lookups, 0);
}

fn presigned(expires: u64) -> Owned {
    let mut req = Owned::ecs();
    req.method = "GET".into();
    req.body.clear();
    req.headers.retain(|(n, _)| n == "host");
    req.query = Some("Action=ListClusters".into());
    aws_signed(
        req,
        &AwsSign {
            presign: Some(Duration::from_secs(expires)),
            ..AwsSign::default()
        },
    )
}

#[test]
fn a_presigned_request_expires_after_its_expiry() {
    let req = presigned(60);
    req.verify_with(&verifier(), t0() + Duration::from_secs(60))
        .unwrap();
    let (e, lookups) = refuse_at(&req, t0() + Duration::from_secs(61));
    assert_error(
        &e,
        "InvalidSignatureException",
        400,
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z (20150830T123701Z - 1 min.)",
    );
    assert_eq!(lookups, 0);
}

#[test]
fn a_tampered_presigned_query_fails_the_signature() {
    let mut req = presigned(900);
    req.query = Some(
        req.query
            .unwrap()
            .replace("Action=ListClusters", "Action=DeleteCluster"),
    );
    let (e, _) = refuse(&req);
    assert_error(&e, "InvalidSignatureException", 400, MISMATCH);
}

#[test]
fn a_presigned_request_needs_a_sane_expiry() {
    for bad in ["0", "604801", "-5", "soon"] {
        let mut req = presigned(900);
        req.query = Some(
            req.query
                .unwrap()
                .replace("X-Amz-Expires=900", &format!("X-Amz-Expires={bad}")),
        );
        let (e, lookups) = refuse(&req);
        assert_eq!(e.reason(), Reason::BadExpires, "{bad}");
        assert_eq!(e.code(), "IncompleteSignatureException");
        assert_eq!(lookups, 0);
    }
}

#[test]
fn header_and_query_signatures_together_are_refused() {
    let mut req = signed();
    req.query = Some("X-Amz-Algorithm=AWS4-HMAC-SHA256".into());
    let (e, _) = refuse(&req);
    assert_eq!(e.reason(), Reason::BothHeaderAndQuery);
}

#[test]
fn the_date_header_may_stand_in_for_x_amz_date() {
    // No SDK does this any more, but SigV4 allows it: sign `date` instead of `x-amz-date`.
    let date = "Sun, 30 Aug 2015 12:36:00 GMT";
    let headers: Vec<(&str, &[u8])> = vec![
        ("Host", b"ecs.us-east-1.amazonaws.com"),
        ("Date", date.as_bytes()),
        ("Content-Type", b"application/x-amz-json-1.1"),
    ];
    let signed_names = ["content-type", "date", "host"];
    let creq = canonical_request(
        "POST",
        &canonical_uri("/", true),
        "",
        &canonical_headers(headers.iter().copied(), &signed_names),
        "content-type;date;host",
        &sha256_hex(BODY.as_bytes()),
    );
    let sts = string_to_sign(
        "20150830T123600Z",
        "20150830/us-east-1/ecs/aws4_request",
        &creq,
    );
    let sig = SigningKey::derive(SECRET.as_bytes(), "20150830", REGION, "ecs")
        .sign(sts.as_bytes())
        .to_hex();
    let mut req = Owned::ecs();
    req.headers = headers
        .iter()
        .map(|(n, v)| (n.to_string(), String::from_utf8(v.to_vec()).unwrap()))
        .collect();
    req.set_header(
        "Authorization",
        &format!("AWS4-HMAC-SHA256 Credential={AKID}/20150830/us-east-1/ecs/aws4_request, SignedHeaders=content-type;date;host, Signature={sig}"),
    );
    req.verify_with(&verifier(), t0()).unwrap();
    req.set_header("Date", "Sun, 30 Aug 2015 12:36:01 GMT");
    assert_eq!(refuse(&req).0.reason(), Reason::SignatureMismatch);
}

#[test]
fn malformed_authorization_headers_are_refused_without_a_lookup() {
    let good = signed().header("authorization").unwrap().to_owned();
    let cases: Vec<(String, Reason)> = vec![
        (String::new(), Reason::MissingParameter),
        ("AWS4-HMAC-SHA256".into(), Reason::MissingParameter),
        ("Bearer eyJhbGciOi.x.y".into(), Reason::MissingParameter),
        ("AWS AKID:c2lnbmF0dXJl".into(), Reason::MissingParameter),
        (
            good.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
            Reason::UnsupportedAlgorithm,
        ),
        (
            good.replace("Credential=", "Credential"),
            Reason::MalformedComponent,
        ),
        (
            good.replace(", Signature=", ", Sig="),
            Reason::MissingParameter,
        ),
        (
            good.replace("/aws4_request", ""),
            Reason::MalformedCredential,
        ),
        (
            good.replace("/aws4_request", "/aws4_request/x"),
            Reason::MalformedCredential,
        ),
        (
            good.replace("aws4_request", "aws5_request"),
            Reason::BadTerminator,
        ),
        (good.replace(AKID, "AK/ID"), Reason::MalformedCredential),
        (
            good.replace("SignedHeaders=", "SignedHeaders=Host;"),
            Reason::MalformedSignedHeaders,
        ),
        (
            good.replace("SignedHeaders=", "SignedHeaders=;"),
            Reason::MalformedSignedHeaders,
        ),
        (
            good.replace("/20150830/", "/2015083/"),
            Reason::ScopeDateMismatch,
        ),
        (good.replace("/us-east-1/", "//"), Reason::WrongRegion),
    ];
    for (value, reason) in cases {
        let mut req = signed();
        req.set_header("authorization", &value);
        let (e, lookups) = refuse(&req);
        assert_eq!(e.reason(), reason, "{value:?}: {e}");
        assert_eq!(e.status(), 400);
        assert_eq!(lookups, 0, "{value:?}");
    }
}

#[test]
fn the_right_signature_in_upper_case_is_not_accepted() {
    let mut req = signed();
    let auth = req.header("authorization").unwrap();
    let cut = auth.find("Signature=").unwrap() + "Signature=".len();
    let value = format!("{}{}", &auth[..cut], auth[cut..].to_uppercase());
    req.set_header("authorization", &value);
    assert_eq!(refuse(&req).0.reason(), Reason::SignatureMismatch);
}

#[test]
fn a_garbled_signature_value_is_a_mismatch() {
    for sig in ["", "zz", "abc", &"0".repeat(64), &"a".repeat(65)] {
        let mut req = signed();
        let auth = req.header("authorization").unwrap();
        let cut = auth.find("Signature=").unwrap() + "Signature=".len();
        let value = format!("{}{sig}", &auth[..cut]);
        req.set_header("authorization", &value);
        let (e, _) = refuse(&req);
        assert_eq!(e.reason(), Reason::SignatureMismatch, "{sig:?}: {e}");
    }
}

#[test]
fn any_region_is_served_when_configured_and_the_caller_carries_it() {
    let req = aws_signed(
        Owned::ecs(),
        &AwsSign {
            region: "eu-west-1",
            ..AwsSign::default()
        },
    );
    let mut config = kubecs_sigv4::VerifyConfig::ecs(REGION);
    config.regions = kubecs_sigv4::Regions::Any;
    let verifier = kubecs_sigv4::Verifier::new(config, common::credentials());
    let caller = req.verify_with(&verifier, t0()).unwrap();
    assert_eq!(caller.region, "eu-west-1");
}

#[test]
fn region_names_have_aws_s_shape() {
    for good in [
        "us-east-1",
        "eu-west-1",
        "ap-southeast-2",
        "us-gov-west-1",
        "cn-north-1",
        "il-central-1",
    ] {
        assert!(kubecs_sigv4::is_region_name(good), "{good}");
    }
    for bad in [
        "",
        "us",
        "us-east",
        "US-EAST-1",
        "us-east-1a",
        "us_east_1",
        "-east-1",
        "us--1",
        "a-b-1234",
    ] {
        assert!(!kubecs_sigv4::is_region_name(bad), "{bad}");
    }
    let only = kubecs_sigv4::Regions::Only(vec!["us-east-2".into()]);
    assert!(only.accepts("us-east-2"));
    assert!(!only.accepts("us-east-1"));
}
