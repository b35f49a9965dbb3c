//! The access log, captured: each request's line names the resources it was about
//! (cluster, services, task definition, ARN) and, for an error, its message; and a
//! refused signature says why at info level.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::{signed_request, TestServer};
use tracing_subscriber::fmt::MakeWriter;

/// Log lines written by the subscriber of the current thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The one access-log line whose fields include all of `needles`.
    fn line_with(&self, needles: &[&str]) -> String {
        let lines = self.lines();
        let found: Vec<&String> = lines
            .iter()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .collect();
        assert_eq!(found.len(), 1, "{needles:?} in:\n{}", lines.join("\n"));
        found[0].clone()
    }
}

/// Captures info-level lines, as the binary's default `RUST_LOG` would show them, for
/// this thread (each `#[tokio::test]` runs on its own thread).
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

#[tokio::test]
async fn each_request_line_names_the_cluster_service_and_task_definition() {
    let server = TestServer::new();
    let (log, _guard) = capture();
    server
        .call("CreateCluster", json!({"clusterName": "shop"}))
        .await;
    let family = json!({
        "family": "web",
        "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 64}]
    });
    server.call("RegisterTaskDefinition", family).await;
    let create = json!({
        "cluster": "shop", "serviceName": "front", "taskDefinition": "web:1", "desiredCount": 0
    });
    assert_eq!(server.call("CreateService", create).await.status, 200);
    server
        .call(
            "DescribeServices",
            json!({"cluster": "shop", "services": ["front", "back"]}),
        )
        .await;

    log.line_with(&[
        "operation=\"CreateCluster\"",
        "resources=\"clusterName=shop\"",
    ]);
    log.line_with(&[
        "operation=\"RegisterTaskDefinition\"",
        "resources=\"family=web\"",
    ]);
    let line = log.line_with(&["operation=\"CreateService\""]);
    assert!(
        line.contains("resources=\"cluster=shop serviceName=front taskDefinition=web:1\""),
        "{line}"
    );
    assert!(line.contains("status=200"), "{line}");
    assert!(line.contains("error=\"\""), "{line}");
    log.line_with(&[
        "operation=\"DescribeServices\"",
        "resources=\"cluster=shop services=front,back\"",
    ]);
}

#[tokio::test]
async fn an_error_line_carries_the_error_message_not_only_its_type() {
    let server = TestServer::new();
    let (log, _guard) = capture();
    let answer = server
        .call(
            "UpdateService",
            json!({"cluster": "nowhere", "service": "ghost"}),
        )
        .await;
    let message = answer.message().to_owned();
    assert!(!message.is_empty(), "{answer:?}");
    let line = log.line_with(&["operation=\"UpdateService\""]);
    assert!(
        line.contains("resources=\"cluster=nowhere service=ghost\""),
        "{line}"
    );
    assert!(
        line.contains(&format!("error=\"{}\"", answer.error_type())),
        "{line}"
    );
    assert!(
        line.contains(&format!("error_message={message:?}")),
        "{line}"
    );

    server
        .send(signed_request(
            "CreateCluster",
            b"{\"clusterName\":".to_vec(),
            &[],
        ))
        .await;
    let line = log.line_with(&["operation=\"CreateCluster\""]);
    assert!(line.contains("error=\"SerializationException\""), "{line}");
    assert!(
        line.contains("error_message=\"The request body is not valid JSON"),
        "{line}"
    );
}

#[tokio::test]
async fn a_refused_signature_says_why_at_info() {
    let server = TestServer::new();
    let (log, _guard) = capture();
    // Signed, then the body changed: the signature no longer matches.
    let mut request = signed_request("ListClusters", b"{}".to_vec(), &[]);
    *request.body_mut() = axum::body::Body::from("{\"maxResults\":5}");
    let answer = server.send(request).await;
    assert_eq!(answer.error_type(), "InvalidSignatureException");
    let request_id = answer.headers["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    let line = log.line_with(&["signature refused"]);
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains("reason=SignatureMismatch"), "{line}");
    assert!(line.contains(&request_id), "{line}");
    // The access line of the same request has the message too.
    let line = log.line_with(&["operation=\"ListClusters\"", "InvalidSignatureException"]);
    assert!(
        line.contains("error_message=\"The request signature we calculated"),
        "{line}"
    );
}
