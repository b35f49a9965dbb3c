//! The AWS JSON 1.1 envelope, driven through the whole router: targets, content types,
//! methods, paths, bodies, the unsupported-operation answer and the request id.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use kubecs_api_models::Operation;
use kubecs_server::ops::is_implemented;
use serde_json::json;
use support::{signed_request, TestServer};

#[tokio::test]
async fn every_response_carries_a_uuid_request_id_and_the_json_content_type() {
    let server = TestServer::new();
    let ok = server.call("ListClusters", json!({})).await;
    let err = server.call("NoSuchOperation", json!({})).await;
    for answer in [&ok, &err] {
        let id = answer.headers["x-amzn-requestid"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        assert_eq!(answer.headers["content-type"], "application/x-amz-json-1.1");
    }
    assert_ne!(
        ok.headers["x-amzn-requestid"],
        err.headers["x-amzn-requestid"]
    );
}

#[tokio::test]
async fn an_unknown_target_is_an_unknown_operation_exception() {
    let server = TestServer::new();
    let answer = server.call("NoSuchOperation", json!({})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_type(), "UnknownOperationException");
    assert_eq!(
        answer.headers["x-amzn-errortype"],
        "UnknownOperationException"
    );
    assert!(answer.message().contains("NoSuchOperation"));
}

#[tokio::test]
async fn a_missing_target_is_an_unknown_operation_exception() {
    let server = TestServer::new();
    let request = signed_request("ListClusters", b"{}".to_vec(), &[("x-amz-target", "")]);
    let answer = server.send(request).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_type(), "UnknownOperationException");
    assert!(
        answer.message().contains("X-Amz-Target"),
        "{}",
        answer.message()
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_serialization_exception() {
    let server = TestServer::new();
    for body in [&b"not json"[..], b"[1,2]", b"{\"clusterName\":", b"\"x\""] {
        let answer = server
            .send(signed_request("CreateCluster", body.to_vec(), &[]))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert_eq!(answer.error_type(), "SerializationException", "{body:?}");
    }
}

#[tokio::test]
async fn a_member_of_the_wrong_type_is_a_serialization_exception_naming_it() {
    let server = TestServer::new();
    let answer = server
        .call("CreateCluster", json!({"clusterName": 42}))
        .await;
    assert_eq!(answer.error_type(), "SerializationException");
    assert!(
        answer.message().contains("clusterName"),
        "{}",
        answer.message()
    );
    // And nothing was created.
    let list = server.call("ListClusters", json!({})).await;
    assert_eq!(list.body["clusterArns"], json!([]));
}

#[tokio::test]
async fn an_empty_body_counts_as_an_empty_object() {
    let server = TestServer::new();
    let answer = server
        .send(signed_request("ListClusters", Vec::new(), &[]))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["clusterArns"], json!([]));
}

#[tokio::test]
async fn unknown_members_are_ignored() {
    let server = TestServer::new();
    let answer = server
        .call(
            "CreateCluster",
            json!({"clusterName": "a", "memberFromTheFuture": [1]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn a_wrong_or_missing_content_type_is_refused_with_415() {
    let server = TestServer::new();
    for content_type in ["text/plain", ""] {
        let request = signed_request(
            "ListClusters",
            b"{}".to_vec(),
            &[("content-type", content_type)],
        );
        let answer = server.send(request).await;
        assert_eq!(
            answer.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert_eq!(answer.error_type(), "UnsupportedMediaTypeException");
        assert!(answer.message().contains("application/x-amz-json-1.1"));
    }
    // Parameters after the media type are fine.
    let request = signed_request(
        "ListClusters",
        b"{}".to_vec(),
        &[("content-type", "application/x-amz-json-1.1; charset=utf-8")],
    );
    assert_eq!(server.send(request).await.status, StatusCode::OK);
}

#[tokio::test]
async fn paths_other_than_the_api_answer_a_json_404() {
    let server = TestServer::new();
    let request = Request::builder()
        .method("GET")
        .uri("/no/such/path")
        .body(Body::empty())
        .unwrap();
    let answer = server.send(request).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.error_type(), "NotFoundException");
    assert!(answer.headers.contains_key("x-amzn-requestid"));
}

#[tokio::test]
async fn health_and_readiness_need_no_credentials() {
    let server = TestServer::new();
    for path in ["/healthz", "/readyz"] {
        let request = Request::builder().uri(path).body(Body::empty()).unwrap();
        let answer = server.send(request).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn an_unsigned_api_request_is_refused_before_any_handler_runs() {
    let server = TestServer::new();
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("host", support::HOST)
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            "AmazonEC2ContainerServiceV20141113.CreateCluster",
        )
        .body(Body::from(r#"{"clusterName":"sneaky"}"#))
        .unwrap();
    let answer = server.send(request).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_type(), "MissingAuthenticationTokenException");
    let describe = server
        .call("DescribeClusters", json!({"clusters": ["sneaky"]}))
        .await;
    assert_eq!(describe.body["failures"][0]["reason"], "MISSING");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413() {
    let server = TestServer::new();
    let big = format!(
        "{{\"clusterName\":\"a\",\"pad\":\"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    let answer = server
        .send(signed_request("CreateCluster", big.into_bytes(), &[]))
        .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.error_type(), "RequestEntityTooLargeException");
}

#[tokio::test]
async fn methods_other_than_post_on_the_api_path_are_not_allowed() {
    let server = TestServer::new();
    for method in ["GET", "PUT", "DELETE"] {
        let answer = server
            .send(support::signed(method, "ListClusters", Vec::new(), &[]))
            .await;
        assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(answer.error_type(), "MethodNotAllowedException");
    }
}

#[tokio::test]
async fn every_operation_not_implemented_answers_unsupported_feature_naming_it() {
    let server = TestServer::new();
    for op in Operation::ALL {
        let answer = server.call(op.name(), json!({})).await;
        if is_implemented(op) {
            assert_ne!(answer.error_type(), "UnsupportedFeatureException", "{op}");
        } else {
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{op}");
            assert_eq!(answer.error_type(), "UnsupportedFeatureException", "{op}");
            assert!(answer.message().contains(op.name()), "{op}");
        }
    }
}

#[tokio::test]
async fn model_constraints_are_invalid_parameter_exceptions_naming_the_member() {
    let server = TestServer::new();
    let answer = server
        .call("DescribeClusters", json!({"include": ["SETTINGS", "NOPE"]}))
        .await;
    assert_eq!(answer.error_type(), "InvalidParameterException");
    assert!(
        answer.message().starts_with("include"),
        "{}",
        answer.message()
    );
    let answer = server
        .call("UpdateClusterSettings", json!({"cluster": "x"}))
        .await;
    assert_eq!(answer.error_type(), "InvalidParameterException");
    assert!(
        answer.message().contains("'settings'"),
        "{}",
        answer.message()
    );
}
