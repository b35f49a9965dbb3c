//! Every region, as a local AWS endpoint serves them: a request acts in the region it was
//! signed for, with that region's own clusters, task definitions, services and tags, and
//! ARNs that name it; `--regions` narrows what is served.

// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use clap::Parser;
use kubecs_server::config::Config;
use serde_json::json;
use support::TestServer;

#[tokio::test]
async fn each_region_has_its_own_resources_and_arns() {
    let server = TestServer::new();
    for region in ["us-east-2", "eu-west-1"] {
        let created = server
            .call_in(
                region,
                "CreateCluster",
                json!({"clusterName": "demo", "tags": [{"key": "r", "value": region}]}),
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text);
        assert_eq!(
            created.body["cluster"]["clusterArn"],
            format!("arn:aws:ecs:{region}:000000000000:cluster/demo")
        );
        let registered = server
            .call_in(
                region,
                "RegisterTaskDefinition",
                json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 64}]}),
            )
            .await;
        // Each region numbers its own revisions.
        assert_eq!(registered.body["taskDefinition"]["revision"], 1);
        assert_eq!(
            registered.body["taskDefinition"]["taskDefinitionArn"],
            format!("arn:aws:ecs:{region}:000000000000:task-definition/web:1")
        );
    }
    // A region nobody wrote to is empty.
    let listed = server
        .call_in("ap-south-1", "ListClusters", json!({}))
        .await;
    assert_eq!(listed.body["clusterArns"], json!([]));
    let listed = server.call_in("eu-west-1", "ListClusters", json!({})).await;
    assert_eq!(
        listed.body["clusterArns"],
        json!(["arn:aws:ecs:eu-west-1:000000000000:cluster/demo"])
    );
    // Tags are per region too, and a cluster of another region is not found here.
    let tags = server
        .call_in(
            "eu-west-1",
            "ListTagsForResource",
            json!({"resourceArn": "arn:aws:ecs:eu-west-1:000000000000:cluster/demo"}),
        )
        .await;
    assert_eq!(
        tags.body["tags"],
        json!([{"key": "r", "value": "eu-west-1"}])
    );
    let deleted = server
        .call_in("eu-west-1", "DeleteCluster", json!({"cluster": "demo"}))
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    let still = server
        .call_in(
            "us-east-2",
            "DescribeClusters",
            json!({"clusters": ["demo"]}),
        )
        .await;
    assert_eq!(still.body["clusters"][0]["status"], "ACTIVE");
    // An ARN of another region names nothing in this one.
    let other = server
        .call_in(
            "us-east-2",
            "DescribeClusters",
            json!({"clusters": ["arn:aws:ecs:eu-west-1:000000000000:cluster/demo"]}),
        )
        .await;
    assert_eq!(other.body["failures"][0]["reason"], "MISSING");
}

#[tokio::test]
async fn an_allow_list_refuses_other_regions_as_aws_does() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse_from(["kubecs", "--regions", "us-east-1,us-west-2"]);
    let server = TestServer::with(dir, config);
    let ok = server.call_in("us-west-2", "ListClusters", json!({})).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let refused = server.call_in("eu-west-1", "ListClusters", json!({})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.error_type(), "InvalidSignatureException");
    assert_eq!(
        refused.message(),
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    );
}
