//! Requests the HTTP layer refuses get an AWS-form error (`__type` and message in the
//! body, `x-amzn-ErrorType`, `x-amzn-RequestId`), not hyper's bare 400/431 or axum's
//! empty 405: a header with a control character, too many or too large headers, a
//! malformed request line, a method the path does not take. Sent as raw bytes over TCP,
//! since no well-behaved client library would send most of them.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod live;

use kubecs_api_models::ErrorCode;
use live::{read_to_end, Answer, Live};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

async fn send_raw(server: &Live, request: &[u8]) -> Answer {
    let mut stream = server.connect().await;
    stream.write_all(request).await.unwrap();
    let bytes = read_to_end(&mut stream, Duration::from_secs(10))
        .await
        .expect("the connection was left open");
    Answer::parse(&bytes)
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&bytes)))
}

fn request_with_headers(extra: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nhost: kubecs\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: AmazonEC2ContainerServiceV20141113.ListClusters\r\n{extra}connection: close\r\ncontent-length: 2\r\n\r\n{{}}"
    )
}

#[tokio::test]
async fn a_target_with_a_control_character_is_a_serialization_exception() {
    let server = Live::start(|_| {}).await;
    let request = "POST / HTTP/1.1\r\nhost: kubecs\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: AmazonEC2ContainerServiceV20141113.List\x01Clusters\r\ncontent-length: 2\r\n\r\n{}";
    let answer = send_raw(&server, request.as_bytes()).await;
    assert_eq!(answer.status, 400);
    answer.assert_aws_error("SerializationException");
    assert!(answer.body.contains("not valid HTTP/1.1"), "{answer:?}");
    // It is counted like any refused request.
    let metrics = &server.state.metrics;
    assert_eq!(
        metrics.requests(None, Some(ErrorCode::SerializationException)),
        1
    );
}

#[tokio::test]
async fn a_target_with_bytes_http_allows_but_no_operation_has_is_an_unknown_operation() {
    let server = Live::start(|_| {}).await;
    // A tab and non-ASCII bytes are legal in a header value: the router gets these.
    for target in [
        &b"AmazonEC2ContainerServiceV20141113.List\tClusters"[..],
        b"AmazonEC2ContainerServiceV20141113.List\xc3\xa9Clusters",
    ] {
        let mut request = b"POST / HTTP/1.1\r\nhost: kubecs\r\ncontent-type: application/x-amz-json-1.1\r\nconnection: close\r\ncontent-length: 2\r\nx-amz-target: ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b"\r\n\r\n{}");
        let answer = send_raw(&server, &request).await;
        assert_eq!(answer.status, 400);
        answer.assert_aws_error("UnknownOperationException");
    }
}

#[tokio::test]
async fn too_many_headers_are_a_request_entity_too_large_exception() {
    let server = Live::start(|_| {}).await;
    let extra: String = (0..120).map(|i| format!("x-pad-{i}: {i}\r\n")).collect();
    let answer = send_raw(&server, request_with_headers(&extra).as_bytes()).await;
    assert_eq!(answer.status, 413);
    answer.assert_aws_error("RequestEntityTooLargeException");
    assert!(answer.body.contains("100 headers"), "{answer:?}");
    assert!(answer.header("date").is_some(), "{answer:?}");
}

#[tokio::test]
async fn a_header_section_over_64_kib_is_a_request_entity_too_large_exception() {
    let server = Live::start(|_| {}).await;
    let extra = format!("x-pad: {}\r\n", "a".repeat(70 * 1024));
    let answer = send_raw(&server, request_with_headers(&extra).as_bytes()).await;
    assert_eq!(answer.status, 413);
    answer.assert_aws_error("RequestEntityTooLargeException");
}

#[tokio::test]
async fn headers_under_the_limits_are_served() {
    let server = Live::start(|_| {}).await;
    let extra: String = (0..90).map(|i| format!("x-pad-{i}: {i}\r\n")).collect();
    let extra = format!("{extra}x-big: {}\r\n", "a".repeat(48 * 1024));
    let answer = send_raw(&server, request_with_headers(&extra).as_bytes()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn a_malformed_request_line_or_header_is_a_serialization_exception() {
    let server = Live::start(|_| {}).await;
    for request in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST / HTTP/9.9\r\nhost: kubecs\r\n\r\n",
        b"POST / HTTP/1.1\r\nhost: kubecs\r\nno colon here\r\n\r\n",
        b"POST / HTTP/1.1\r\nhost: kubecs\r\nbad name\x7f: x\r\n\r\n",
    ] {
        let answer = send_raw(&server, request).await;
        assert_eq!(answer.status, 400, "{:?}", String::from_utf8_lossy(request));
        answer.assert_aws_error("SerializationException");
    }
}

#[tokio::test]
async fn other_methods_on_health_readiness_and_metrics_are_aws_405s() {
    let server = Live::start(|_| {}).await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let request = format!("POST {path} HTTP/1.1\r\nhost: kubecs\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
        let answer = send_raw(&server, request.as_bytes()).await;
        assert_eq!(answer.status, 405, "{path}");
        answer.assert_aws_error("MethodNotAllowedException");
        assert_eq!(answer.header("allow"), Some("GET,HEAD"));
    }
}
