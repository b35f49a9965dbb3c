//! Task sets of EXTERNAL services through the router: created, scaled, made primary and
//! deleted with ECS's rules. (Their Deployments are shown by the cluster test.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use serde_json::{json, Value};
use support::TestServer;

async fn setup() -> TestServer {
    let server = TestServer::new();
    server.ok("CreateCluster", json!({})).await;
    server.ok("RegisterTaskDefinition",
        json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "web", "memory": 32}]}),
    )
    .await;
    server.ok("CreateService",
        json!({"serviceName": "web", "desiredCount": 4, "deploymentController": {"type": "EXTERNAL"}}),
    )
    .await;
    server
}

async fn create(server: &TestServer, external: &str, percent: f64) -> Value {
    server.ok("CreateTaskSet",
        json!({"cluster": "default", "service": "web", "taskDefinition": "web:1", "externalId": external,
               "scale": {"value": percent, "unit": "PERCENT"}}),
    )
    .await["taskSet"]
        .clone()
}

async fn sets(server: &TestServer) -> Vec<Value> {
    server
        .ok(
            "DescribeTaskSets",
            json!({"cluster": "default", "service": "web"}),
        )
        .await["taskSets"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn task_sets_scale_with_the_service_and_change_places() {
    let server = setup().await;
    let blue = create(&server, "blue", 50.0).await;
    assert_eq!(blue["status"], "PRIMARY", "the first task set is primary");
    assert_eq!(blue["computedDesiredCount"], 2);
    assert_eq!(blue["stabilityStatus"], "STABILIZING");
    let blue_id = blue["id"].as_str().unwrap().to_owned();
    assert!(blue_id.starts_with("ecs-svc/"));
    assert!(blue["taskSetArn"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:ecs:us-east-1:000000000000:task-set/default/web/ecs-svc/"));
    let green = create(&server, "green", 100.0).await;
    assert_eq!(green["status"], "ACTIVE");
    let green_id = green["id"].as_str().unwrap().to_owned();

    server
        .ok(
            "UpdateServicePrimaryTaskSet",
            json!({"cluster": "default", "service": "web", "primaryTaskSet": green["taskSetArn"]}),
        )
        .await;
    let now = sets(&server).await;
    let status = |id: &str| {
        now.iter()
            .find(|s| s["id"] == id)
            .map(|s| s["status"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(status(&green_id), "PRIMARY");
    assert_eq!(status(&blue_id), "ACTIVE");

    let scaled = server.ok("UpdateTaskSet",
        json!({"cluster": "default", "service": "web", "taskSet": blue_id, "scale": {"value": 25, "unit": "PERCENT"}}),
    )
    .await;
    assert_eq!(scaled["taskSet"]["computedDesiredCount"], 1);
    server
        .ok(
            "UpdateService",
            json!({"cluster": "default", "service": "web", "desiredCount": 8}),
        )
        .await;
    let counts: Vec<i64> = sets(&server)
        .await
        .iter()
        .map(|s| s["computedDesiredCount"].as_i64().unwrap())
        .collect();
    assert_eq!(counts, [2, 8], "25% and 100% of 8");

    let primary = server
        .call(
            "DeleteTaskSet",
            json!({"cluster": "default", "service": "web", "taskSet": green_id}),
        )
        .await;
    assert_eq!(primary.error_type(), "InvalidParameterException");
    let deleted = server
        .ok(
            "DeleteTaskSet",
            json!({"cluster": "default", "service": "web", "taskSet": blue_id}),
        )
        .await;
    assert_eq!(deleted["taskSet"]["status"], "DRAINING");
    assert_eq!(deleted["taskSet"]["computedDesiredCount"], 0);
}

#[tokio::test]
async fn task_sets_need_an_external_service_and_a_known_task_set() {
    let server = setup().await;
    server
        .ok(
            "CreateService",
            json!({"serviceName": "ecs", "taskDefinition": "web", "desiredCount": 1}),
        )
        .await;
    let refused = server
        .call(
            "CreateTaskSet",
            json!({"cluster": "default", "service": "ecs", "taskDefinition": "web:1"}),
        )
        .await;
    assert_eq!(
        refused.error_type(),
        "InvalidParameterException",
        "{}",
        refused.text
    );
    let missing = server
        .call(
            "UpdateTaskSet",
            json!({"cluster": "default", "service": "web", "taskSet": "ecs-svc/1", "scale": {"value": 10, "unit": "PERCENT"}}),
        )
        .await;
    assert_eq!(missing.error_type(), "TaskSetNotFoundException");
    let described = server
        .ok(
            "DescribeTaskSets",
            json!({"cluster": "default", "service": "web", "taskSets": ["ecs-svc/1"]}),
        )
        .await;
    assert_eq!(described["failures"][0]["reason"], "MISSING");
    let bad_scale = server
        .call(
            "CreateTaskSet",
            json!({"cluster": "default", "service": "web", "taskDefinition": "web:1", "scale": {"value": 150, "unit": "PERCENT"}}),
        )
        .await;
    assert_eq!(bad_scale.error_type(), "InvalidParameterException");
    assert!(
        sets(&server).await.is_empty(),
        "refused calls create nothing"
    );
}
