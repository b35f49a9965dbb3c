//! Requests signed by the real AWS signer (`aws-sigv4`, the one inside the AWS SDK for Rust)
//! for service `ecs` pass our verifier, and our signer produces byte-identical output.

// Test code: a failed unwrap is a failed test (clippy only exempts #[test] fns themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use kubecs_sigv4::{presign, sign, RequestParts, SigningParams};

#[test]
fn a_header_signed_ecs_request_from_the_real_signer_is_accepted() {
    let req = aws_signed(Owned::ecs(), &AwsSign::default());
    assert!(req
        .header("authorization")
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 Credential=AKIAKUBECSEXAMPLE/20150830/us-east-1/ecs/aws4_request, SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-target;x-amz-user-agent, Signature="));
    let v = verifier();
    let caller = req.verify_with(&v, t0()).unwrap();
    assert_eq!(caller.access_key_id, AKID);
    assert_eq!(caller.account_id, ACCOUNT);
    assert_eq!(caller.principal_arn, "arn:aws:iam::123456789012:user/alice");
    assert_eq!(v.provider().lookups(), 1);
    // A second request hits the key cache.
    req.verify_with(&v, t0()).unwrap();
    assert_eq!(v.key_cache().len(), 1);
}

#[test]
fn a_request_with_a_session_token_from_the_real_signer_is_accepted() {
    let req = aws_signed(
        Owned::ecs(),
        &AwsSign {
            akid: TEMP_AKID,
            secret: TEMP_SECRET,
            token: Some(TOKEN),
            ..AwsSign::default()
        },
    );
    assert_eq!(req.header("x-amz-security-token"), Some(TOKEN));
    let caller = req.verify_with(&verifier(), t0()).unwrap();
    assert_eq!(
        caller.principal_arn,
        "arn:aws:sts::123456789012:assumed-role/deployer/ci"
    );
}

#[test]
fn presigned_requests_from_the_real_signer_are_accepted() {
    for method in ["GET", "POST"] {
        let mut base = Owned::ecs();
        base.method = method.into();
        // Whoever uses a presigned URL sends only what it was signed with.
        base.headers
            .retain(|(n, _)| n == "host" || n == "content-type" || n == "content-length");
        base.query = Some("Action=ListClusters&Version=2014-11-13".into());
        for (akid, secret, token) in [(AKID, SECRET, None), (TEMP_AKID, TEMP_SECRET, Some(TOKEN))] {
            let req = aws_signed(
                base.clone(),
                &AwsSign {
                    akid,
                    secret,
                    token,
                    presign: Some(Duration::from_secs(900)),
                    ..AwsSign::default()
                },
            );
            let q = req.query.clone().unwrap();
            assert!(q.contains("X-Amz-Signature="), "{q}");
            assert!(req.header("authorization").is_none());
            req.verify_with(&verifier(), t0() + Duration::from_secs(600))
                .unwrap_or_else(|e| panic!("{method} {akid}: {e}"));
        }
    }
}

fn ours(
    akid: &'static str,
    secret: &'static str,
    token: Option<&'static str>,
) -> SigningParams<'static> {
    SigningParams {
        access_key_id: akid,
        secret_access_key: secret,
        session_token: token,
        region: REGION,
        service: "ecs",
        time: t0(),
        content_sha256_header: false,
    }
}

#[test]
fn our_signer_is_byte_identical_to_the_real_one() {
    for (akid, secret, token) in [(AKID, SECRET, None), (TEMP_AKID, TEMP_SECRET, Some(TOKEN))] {
        let unsigned = Owned::ecs();
        let theirs = aws_signed(
            unsigned.clone(),
            &AwsSign {
                akid,
                secret,
                token,
                ..AwsSign::default()
            },
        );
        let headers = unsigned.header_refs();
        let mine = sign(
            &RequestParts {
                method: "POST",
                path: "/",
                query: None,
                headers: &headers,
                body: &unsigned.body,
            },
            &ours(akid, secret, token),
        )
        .unwrap();
        for (name, value) in &mine.headers {
            assert_eq!(theirs.header(name), Some(value.as_str()), "{name}");
        }
        assert_eq!(mine.headers.len(), if token.is_some() { 3 } else { 2 });
    }
}

#[test]
fn our_presigned_query_carries_the_same_signature_as_the_real_one() {
    let mut unsigned = Owned::ecs();
    unsigned.method = "GET".into();
    unsigned.body.clear();
    // x-amz-user-agent is present but, as the SDK does, left out of a presigned signature.
    unsigned
        .headers
        .retain(|(n, _)| n == "host" || n == "x-amz-user-agent");
    unsigned.query = Some("Action=DescribeClusters&clusters.member.1=a%20b".into());
    for (akid, secret, token) in [(AKID, SECRET, None), (TEMP_AKID, TEMP_SECRET, Some(TOKEN))] {
        let theirs = aws_signed(
            unsigned.clone(),
            &AwsSign {
                akid,
                secret,
                token,
                presign: Some(Duration::from_secs(3600)),
                ..AwsSign::default()
            },
        );
        let headers = unsigned.header_refs();
        let mine = presign(
            &RequestParts {
                method: "GET",
                path: "/",
                query: unsigned.query.as_deref(),
                headers: &headers,
                body: b"",
            },
            &ours(akid, secret, token),
            Duration::from_secs(3600),
        )
        .unwrap();
        let mut a: Vec<&str> = theirs.query.as_deref().unwrap().split('&').collect();
        let mut b: Vec<&str> = mine.query.as_deref().unwrap().split('&').collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
    }
}
