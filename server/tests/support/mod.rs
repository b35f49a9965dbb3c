//! Drives the router in-process (`oneshot`), with requests signed by the test credentials.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kubecs_server::app::{router, AppState};
use kubecs_server::config::Config;
use kubecs_server::startup::build_state;
use kubecs_sigv4::{sign, RequestParts, SigningParams};
use std::sync::Arc;
use std::time::SystemTime;
use tower::ServiceExt;

pub const HOST: &str = "127.0.0.1:8716";

pub struct TestServer {
    pub state: Arc<AppState>,
    pub dir: tempfile::TempDir,
}

#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: serde_json::Value,
    pub text: String,
}

impl Answer {
    pub fn error_type(&self) -> &str {
        self.body["__type"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }
}

impl TestServer {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::on(dir)
    }

    pub fn on(dir: tempfile::TempDir) -> Self {
        let config = Config::for_data_dir(dir.path().to_path_buf());
        Self::with(dir, config)
    }

    /// A server on `dir` with `config` (its data directory is set to `dir`).
    pub fn with(dir: tempfile::TempDir, mut config: Config) -> Self {
        config.data_dir = Some(dir.path().to_path_buf());
        let state = Arc::new(build_state(&config).unwrap());
        Self { state, dir }
    }

    /// Closes the store and reopens the same directory, as a restart would.
    pub fn restart(self) -> Self {
        let TestServer { state, dir } = self;
        drop(state);
        Self::on(dir)
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// Calls an ECS operation with a JSON body, signed as `test`/`test` for us-east-1.
    pub async fn call(&self, operation: &str, body: serde_json::Value) -> Answer {
        self.send(signed_request(
            operation,
            body.to_string().into_bytes(),
            &[],
        ))
        .await
    }

    /// Calls an operation that must succeed; its answer's JSON.
    pub async fn ok(&self, operation: &str, body: serde_json::Value) -> serde_json::Value {
        let answer = self.call(operation, body.clone()).await;
        assert_eq!(
            answer.status,
            axum::http::StatusCode::OK,
            "{operation} {body}: {}",
            answer.text
        );
        answer.body
    }

    /// Like [`TestServer::call`], signed for `region`.
    pub async fn call_in(&self, region: &str, operation: &str, body: serde_json::Value) -> Answer {
        self.send(signed_in(
            region,
            "POST",
            operation,
            body.to_string().into_bytes(),
            &[],
        ))
        .await
    }
}

/// A POST / request as an AWS SDK sends it, signed with the default local credentials.
/// `overrides` replace or add headers before signing (an empty value removes one).
pub fn signed_request(operation: &str, body: Vec<u8>, overrides: &[(&str, &str)]) -> Request<Body> {
    signed("POST", operation, body, overrides)
}

/// Like [`signed_request`], with any method.
pub fn signed(
    method: &str,
    operation: &str,
    body: Vec<u8>,
    overrides: &[(&str, &str)],
) -> Request<Body> {
    signed_in("us-east-1", method, operation, body, overrides)
}

/// Like [`signed`], signed for `region`.
pub fn signed_in(
    region: &str,
    method: &str,
    operation: &str,
    body: Vec<u8>,
    overrides: &[(&str, &str)],
) -> Request<Body> {
    let target = format!("AmazonEC2ContainerServiceV20141113.{operation}");
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), HOST.into()),
        ("content-type".into(), "application/x-amz-json-1.1".into()),
        ("x-amz-target".into(), target),
    ];
    for (name, value) in overrides {
        headers.retain(|(k, _)| k != name);
        if !value.is_empty() {
            headers.push((name.to_string(), value.to_string()));
        }
    }
    let header_refs: Vec<(&str, &[u8])> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_bytes()))
        .collect();
    let parts = RequestParts {
        method,
        path: "/",
        query: None,
        headers: &header_refs,
        body: &body,
    };
    let params = SigningParams {
        access_key_id: "test",
        secret_access_key: "test",
        session_token: None,
        region,
        service: "ecs",
        time: SystemTime::now(),
        content_sha256_header: false,
    };
    let signed = sign(&parts, &params).unwrap();
    let mut builder = Request::builder().method(method).uri("/");
    for (k, v) in &headers {
        builder = builder.header(k, v);
    }
    for (k, v) in &signed.headers {
        builder = builder.header(*k, v);
    }
    builder.body(Body::from(body)).unwrap()
}

/// DeleteCluster on `cluster` racing `creates` calls of `operation` (the `i`th with
/// `body(i)`), the delete sent while they are under way: the delete's answer and how many
/// creates were acknowledged.
pub async fn delete_cluster_racing(
    server: &Arc<TestServer>,
    cluster: &str,
    operation: &'static str,
    creates: usize,
    body: impl Fn(usize) -> serde_json::Value,
) -> (Answer, usize) {
    let mut pending = Vec::new();
    for i in 0..creates {
        let (server, body) = (server.clone(), body(i));
        pending.push(tokio::spawn(async move {
            server.call(operation, body).await.status == StatusCode::OK
        }));
        if i == creates / 2 {
            tokio::task::yield_now().await;
        }
    }
    let delete = {
        let (server, cluster) = (server.clone(), cluster.to_owned());
        tokio::spawn(async move {
            server
                .call("DeleteCluster", serde_json::json!({"cluster": cluster}))
                .await
        })
    };
    let mut created = 0;
    for c in pending {
        created += usize::from(c.await.unwrap());
    }
    (delete.await.unwrap(), created)
}
