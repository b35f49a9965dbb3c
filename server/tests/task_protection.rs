//! Task scale-in protection through the router, on task records as the reconciler writes
//! them. (The pod's deletion cost is the reconciler's business.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use kubecs_api_models::Task;
use kubecs_storage::{StoreError, Write};
use serde_json::json;
use support::TestServer;

async fn setup() -> TestServer {
    let server = TestServer::new();
    server.ok("CreateCluster", json!({})).await;
    server.ok("RegisterTaskDefinition",
        json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "web", "memory": 32}]}),
    )
    .await;
    server
        .ok(
            "CreateService",
            json!({"serviceName": "web", "taskDefinition": "web", "desiredCount": 2}),
        )
        .await;
    let tasks = server.state.store.region("us-east-1").tasks();
    for (id, group, desired) in [
        ("a1", "service:web", "RUNNING"),
        ("s1", "service:web", "STOPPED"),
        ("r1", "family:web", "RUNNING"),
    ] {
        let record = Task {
            task_arn: Some(format!(
                "arn:aws:ecs:us-east-1:000000000000:task/default/{id}"
            )),
            group: Some(group.to_owned()),
            desired_status: Some(desired.to_owned()),
            last_status: Some(desired.to_owned()),
            ..Task::default()
        };
        tasks
            .update(("default", id), move |_| {
                Ok::<_, StoreError>((Write::Put(record.clone()), ()))
            })
            .await
            .unwrap();
    }
    server
}

#[tokio::test]
async fn service_tasks_are_protected_until_the_protection_is_removed() {
    let server = setup().await;
    let updated = server.ok("UpdateTaskProtection",
        json!({"cluster": "default", "tasks": ["a1", "r1", "s1", "zz"], "protectionEnabled": true, "expiresInMinutes": 60}),
    )
    .await;
    let protected = &updated["protectedTasks"];
    assert_eq!(protected.as_array().unwrap().len(), 1, "{updated:#}");
    assert_eq!(
        protected[0]["taskArn"],
        "arn:aws:ecs:us-east-1:000000000000:task/default/a1"
    );
    assert_eq!(protected[0]["protectionEnabled"], true);
    assert!(protected[0]["expirationDate"].is_number());
    let reasons: Vec<&str> = updated["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["TASK_NOT_VALID", "TASK_NOT_VALID", "MISSING"]);
    let stored = server
        .state
        .store
        .region("us-east-1")
        .services()
        .get(("default", "web"))
        .unwrap()
        .unwrap()
        .value;
    assert!(
        stored.protected.contains_key("a1"),
        "desired state for the reconciler"
    );

    let got = server
        .ok(
            "GetTaskProtection",
            json!({"cluster": "default", "tasks": ["a1"]}),
        )
        .await;
    assert_eq!(got["protectedTasks"][0]["protectionEnabled"], true);
    server
        .ok(
            "UpdateTaskProtection",
            json!({"cluster": "default", "tasks": ["a1"], "protectionEnabled": false}),
        )
        .await;
    let got = server
        .ok(
            "GetTaskProtection",
            json!({"cluster": "default", "tasks": ["a1"]}),
        )
        .await;
    assert_eq!(got["protectedTasks"][0]["protectionEnabled"], false);
    assert!(got["protectedTasks"][0].get("expirationDate").is_none());

    let too_long = server
        .call(
            "UpdateTaskProtection",
            json!({"cluster": "default", "tasks": ["a1"], "protectionEnabled": true, "expiresInMinutes": 2881}),
        )
        .await;
    assert_eq!(too_long.error_type(), "InvalidParameterException");
}
