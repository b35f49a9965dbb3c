//! Verification cost of a typical ECS request (a `RunTask` with a ~300-byte body, the
//! headers a real SDK sends) with a warm signing-key cache — the server's hot path.
//! Run: `cargo bench -p kubecs-sigv4 --bench verify`.

// Test code: a failed unwrap is a failed test (clippy only exempts #[test] fns themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use kubecs_sigv4::{
    sign, Credential, RequestParts, SigningParams, StaticCredentials, Verifier, VerifyConfig,
};

const BODY: &str = r#"{"cluster":"default","taskDefinition":"web:7","count":2,"launchType":"FARGATE","networkConfiguration":{"awsvpcConfiguration":{"subnets":["subnet-0123456789abcdef0","subnet-0fedcba9876543210"],"securityGroups":["sg-0123456789abcdef0"],"assignPublicIp":"DISABLED"}},"tags":[{"key":"team","value":"platform"}],"startedBy":"ci-pipeline"}"#;

fn bench_verify(c: &mut Criterion) {
    let now = UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    let content_length = BODY.len().to_string();
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), "ecs.us-east-1.amazonaws.com".into()),
        ("content-type".into(), "application/x-amz-json-1.1".into()),
        (
            "x-amz-target".into(),
            "AmazonEC2ContainerServiceV20141113.RunTask".into(),
        ),
        ("content-length".into(), content_length),
        (
            "user-agent".into(),
            "aws-cli/2.15.0 Python/3.11.6 Linux/6.5 botocore/2.4.5".into(),
        ),
        ("accept-encoding".into(), "identity".into()),
    ];
    let cred = Credential::new(
        "AKIAKUBECSBENCH",
        "bench/secret+KEY0123456789abcdefghijkl",
        "123456789012",
    );
    let signed = {
        let refs: Vec<(&str, &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let unsigned = RequestParts {
            method: "POST",
            path: "/",
            query: None,
            headers: &refs,
            body: BODY.as_bytes(),
        };
        sign(
            &unsigned,
            &SigningParams::for_credential(&cred, "us-east-1", "ecs", now),
        )
        .unwrap()
    };
    headers.extend(
        signed
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone())),
    );
    let refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let req = RequestParts {
        method: "POST",
        path: "/",
        query: None,
        headers: &refs,
        body: BODY.as_bytes(),
    };

    let mut creds = StaticCredentials::new();
    creds.insert(cred);
    let verifier = Verifier::new(VerifyConfig::ecs("us-east-1"), creds);
    verifier.verify(&req, now).unwrap(); // warm the key cache

    c.bench_function("verify_ecs_run_task_warm_cache", |b| {
        b.iter(|| verifier.verify(black_box(&req), black_box(now)).unwrap())
    });

    // For contrast: the first request of a day (key derivation: 4 extra HMACs).
    c.bench_function("verify_ecs_run_task_cold_key", |b| {
        b.iter(|| {
            let fresh = Verifier::new(VerifyConfig::ecs("us-east-1"), verifier.provider().clone());
            fresh.verify(black_box(&req), black_box(now)).unwrap()
        })
    });
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
