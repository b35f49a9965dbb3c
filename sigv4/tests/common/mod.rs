//! Shared by the integration tests: requests signed by the real `aws-sigv4` crate (the
//! signer inside the AWS SDK for Rust), a typical ECS request, and a credentials provider
//! that counts look-ups.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign as aws_sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use kubecs_sigv4::{
    Credential, CredentialsProvider, RequestParts, StaticCredentials, Verifier, VerifyConfig,
};

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
pub const AKID: &str = "AKIAKUBECSEXAMPLE";
pub const SECRET: &str = "kubecs/secret+EXAMPLE/KEY0123456789abcdef";
pub const TEMP_AKID: &str = "ASIAKUBECSTEMP";
pub const TEMP_SECRET: &str = "temporary-secret";
pub const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE//token+with/slashes==";

/// 2015-08-30T12:36:00Z.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_440_938_160)
}

/// A typical ECS request body (~300 bytes), as the JSON 1.1 SDKs send it.
pub const BODY: &str = r#"{"cluster":"default","taskDefinition":"web:7","count":2,"launchType":"FARGATE","networkConfiguration":{"awsvpcConfiguration":{"subnets":["subnet-0123456789abcdef0","subnet-0fedcba9876543210"],"securityGroups":["sg-0123456789abcdef0"],"assignPublicIp":"DISABLED"}},"tags":[{"key":"team","value":"platform"}],"startedBy":"ci-pipeline"}"#;

/// The headers an SDK sends for `RunTask`, before signing.
pub fn ecs_headers() -> Vec<(String, String)> {
    vec![
        ("host".into(), "ecs.us-east-1.amazonaws.com".into()),
        ("content-type".into(), "application/x-amz-json-1.1".into()),
        (
            "x-amz-target".into(),
            "AmazonEC2ContainerServiceV20141113.RunTask".into(),
        ),
        ("content-length".into(), BODY.len().to_string()),
        (
            "user-agent".into(),
            "aws-sdk-rust/1.0 os/linux lang/rust".into(),
        ),
        (
            "x-amz-user-agent".into(),
            "aws-sdk-rust/1.0 api/ecs/1.0 os/linux lang/rust".into(),
        ),
        (
            "amz-sdk-invocation-id".into(),
            "5b6f9bd1-6a6b-4b8b-9f35-5a6a2f1e7c10".into(),
        ),
        ("amz-sdk-request".into(), "attempt=1; max=3".into()),
    ]
}

/// What a request looks like after signing: owned, so tests can tamper with it.
#[derive(Debug, Clone)]
pub struct Owned {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Owned {
    pub fn ecs() -> Self {
        Self {
            method: "POST".into(),
            path: "/".into(),
            query: None,
            headers: ecs_headers(),
            body: BODY.as_bytes().to_vec(),
        }
    }

    pub fn header_refs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect()
    }

    pub fn verify_with<P: CredentialsProvider>(
        &self,
        verifier: &Verifier<P>,
        now: SystemTime,
    ) -> Result<kubecs_sigv4::Caller, kubecs_sigv4::AuthError> {
        let headers = self.header_refs();
        verifier.verify(
            &RequestParts {
                method: &self.method,
                path: &self.path,
                query: self.query.as_deref(),
                headers: &headers,
                body: &self.body,
            },
            now,
        )
    }

    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How the real signer should sign.
#[derive(Debug, Clone)]
pub struct AwsSign<'a> {
    pub akid: &'a str,
    pub secret: &'a str,
    pub token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
    pub time: SystemTime,
    /// `Some(expiry)` presigns into the query string.
    pub presign: Option<Duration>,
}

impl Default for AwsSign<'_> {
    fn default() -> Self {
        Self {
            akid: AKID,
            secret: SECRET,
            token: None,
            region: REGION,
            service: "ecs",
            time: t0(),
            presign: None,
        }
    }
}

/// Signs `req` with the real `aws-sigv4` and applies the result.
pub fn aws_signed(mut req: Owned, how: &AwsSign<'_>) -> Owned {
    let identity = Credentials::new(
        how.akid,
        how.secret,
        how.token.map(str::to_owned),
        None,
        "kubecs-tests",
    )
    .into();
    let mut settings = SigningSettings::default();
    if let Some(expiry) = how.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expiry);
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(how.region)
        .name(how.service)
        .time(how.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let host = req.header("host").unwrap().to_owned();
    let uri = match &req.query {
        Some(q) => format!("https://{host}{}?{q}", req.path),
        None => format!("https://{host}{}", req.path),
    };
    let signable = SignableRequest::new(
        &req.method,
        uri,
        req.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        SignableBody::Bytes(&req.body),
    )
    .unwrap();
    let (instructions, _) = aws_sign(signable, &params).unwrap().into_parts();
    let (headers, params) = instructions.into_parts();
    for h in headers {
        req.set_header(h.name(), h.value());
    }
    if !params.is_empty() {
        let mut q = req.query.clone().unwrap_or_default();
        for (k, v) in params {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(&format!("{k}={}", kubecs_sigv4::uri_encode(&v)));
        }
        req.query = Some(q);
    }
    req
}

/// The configured keys: a long-term one acting as `user/alice` and a temporary one with a
/// session token.
pub fn credentials() -> StaticCredentials {
    let mut c = StaticCredentials::new();
    c.insert(Credential::new(AKID, SECRET, ACCOUNT).with_principal("user/alice"));
    c.insert(
        Credential::new(TEMP_AKID, TEMP_SECRET, ACCOUNT)
            .with_principal("assumed-role/deployer/ci")
            .with_session_token(TOKEN),
    );
    c
}

/// Counts look-ups, to prove which failures are decided before any secret is touched.
#[derive(Debug, Default)]
pub struct Counting {
    pub inner: StaticCredentials,
    pub lookups: AtomicUsize,
}

impl Counting {
    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

impl CredentialsProvider for Counting {
    fn lookup(&self, access_key_id: &str) -> Option<&Credential> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.lookup(access_key_id)
    }
}

pub fn verifier() -> Verifier<Counting> {
    Verifier::new(
        VerifyConfig::ecs(REGION),
        Counting {
            inner: credentials(),
            lookups: AtomicUsize::new(0),
        },
    )
}
