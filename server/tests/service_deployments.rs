//! Service deployments and revisions through the router: recorded as deployments start,
//! listed and described, stopped by rolling back. (Their ends, which the reconciler
//! records, are shown by the cluster test.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use kubecs_storage::{CompletedDeployment, ServiceState, StoreError, Write};
use serde_json::{json, Value};
use support::TestServer;

async fn setup() -> TestServer {
    let server = TestServer::new();
    server.ok("CreateCluster", json!({})).await;
    for image in ["web:1", "web:2"] {
        server.ok("RegisterTaskDefinition",
            json!({"family": "web", "containerDefinitions": [{"name": "app", "image": image, "memory": 32}]}),
        )
        .await;
    }
    server
        .ok(
            "CreateService",
            json!({"serviceName": "web", "taskDefinition": "web:1", "desiredCount": 2}),
        )
        .await;
    server
}

async fn list(server: &TestServer, body: Value) -> Vec<Value> {
    server.ok("ListServiceDeployments", body).await["serviceDeployments"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn each_deployment_is_listed_with_its_revision() {
    let server = setup().await;
    let first = list(&server, json!({"service": "web"})).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["status"], "IN_PROGRESS");
    let first_arn = first[0]["serviceDeploymentArn"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        first_arn.starts_with("arn:aws:ecs:us-east-1:000000000000:service-deployment/default/web/")
    );
    let revision = first[0]["targetServiceRevisionArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let revisions = server.ok("DescribeServiceRevisions",
        json!({"serviceRevisionArns": [revision, "arn:aws:ecs:us-east-1:000000000000:service-revision/default/web/1"]}),
    )
    .await;
    let shown = &revisions["serviceRevisions"][0];
    assert_eq!(
        shown["taskDefinition"],
        "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
    );
    assert_eq!(
        shown["containerImages"],
        json!([{"containerName": "app", "image": "web:1"}])
    );
    assert_eq!(revisions["failures"][0]["reason"], "MISSING");

    server
        .ok(
            "UpdateService",
            json!({"service": "web", "taskDefinition": "web:2"}),
        )
        .await;
    // Scaling alone is no deployment.
    server
        .ok(
            "UpdateService",
            json!({"service": "web", "desiredCount": 3}),
        )
        .await;
    let both = list(&server, json!({"service": "web"})).await;
    assert_eq!(both.len(), 2);
    assert_eq!(both[1]["serviceDeploymentArn"], first_arn.as_str());
    assert_eq!(both[1]["status"], "STOPPED", "superseded while in progress");
    let stopped = list(&server, json!({"service": "web", "status": ["STOPPED"]})).await;
    assert_eq!(stopped.len(), 1);
    let paged = server
        .ok(
            "ListServiceDeployments",
            json!({"service": "web", "maxResults": 1}),
        )
        .await;
    assert_eq!(paged["serviceDeployments"].as_array().unwrap().len(), 1);
    assert!(paged["nextToken"].is_string());

    let described = server
        .ok(
            "DescribeServiceDeployments",
            json!({"serviceDeploymentArns": [both[0]["serviceDeploymentArn"]]}),
        )
        .await;
    let deployment = &described["serviceDeployments"][0];
    assert_eq!(
        deployment["sourceServiceRevisions"][0]["arn"],
        revision.as_str()
    );
    assert_eq!(deployment["targetServiceRevision"]["requestedTaskCount"], 3);
    assert!(deployment["deploymentConfiguration"].is_object());

    let missing = server
        .call("ListServiceDeployments", json!({"service": "nope"}))
        .await;
    assert_eq!(missing.error_type(), "ServiceNotFoundException");
}

#[tokio::test]
async fn stopping_a_deployment_rolls_it_back_to_the_last_completed_one() {
    let server = setup().await;
    let first = list(&server, json!({"service": "web"})).await;
    server
        .ok(
            "UpdateService",
            json!({"service": "web", "taskDefinition": "web:2"}),
        )
        .await;
    let current = list(&server, json!({"service": "web"})).await;
    let arn = current[0]["serviceDeploymentArn"]
        .as_str()
        .unwrap()
        .to_owned();
    // Nothing completed yet: nothing to go back to.
    let refused = server
        .call(
            "StopServiceDeployment",
            json!({"serviceDeploymentArn": arn, "stopType": "ROLLBACK"}),
        )
        .await;
    assert_eq!(
        refused.error_type(),
        "ConflictException",
        "{}",
        refused.text
    );

    // The reconciler saw the first deployment complete.
    let services = server.state.store.region("us-east-1").services();
    let first_id = first[0]["serviceDeploymentArn"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    services
        .update(("default", "web"), |current| {
            let mut next: ServiceState = current.unwrap().value.clone();
            next.memory.last_completed = Some(CompletedDeployment {
                id: format!("ecs-svc/{first_id}"),
                task_definition: "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
                    .to_owned(),
            });
            Ok::<_, StoreError>((Write::Put(next), ()))
        })
        .await
        .unwrap();
    let abort = server
        .call(
            "StopServiceDeployment",
            json!({"serviceDeploymentArn": arn, "stopType": "ABORT"}),
        )
        .await;
    assert_eq!(abort.error_type(), "InvalidParameterException");
    let stopped = server
        .ok(
            "StopServiceDeployment",
            json!({"serviceDeploymentArn": arn, "stopType": "ROLLBACK"}),
        )
        .await;
    assert_eq!(stopped["serviceDeploymentArn"], arn.as_str());
    let after = list(&server, json!({"service": "web"})).await;
    assert_eq!(after.len(), 2, "a rollback is no new service deployment");
    assert_eq!(after[0]["status"], "ROLLBACK_IN_PROGRESS");
    let service = server
        .ok("DescribeServices", json!({"services": ["web"]}))
        .await;
    assert_eq!(
        service["services"][0]["deployments"][0]["taskDefinition"],
        "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1"
    );
    let described = server
        .ok(
            "DescribeServiceDeployments",
            json!({"serviceDeploymentArns": [arn]}),
        )
        .await;
    assert_eq!(
        described["serviceDeployments"][0]["rollback"]["serviceRevisionArn"],
        first[0]["targetServiceRevisionArn"]
    );

    let unknown = server
        .call(
            "StopServiceDeployment",
            json!({"serviceDeploymentArn": "arn:aws:ecs:us-east-1:000000000000:service-deployment/default/web/1"}),
        )
        .await;
    assert_eq!(unknown.error_type(), "ServiceDeploymentNotFoundException");
    let hook = server
        .call(
            "ContinueServiceDeployment",
            json!({"serviceDeploymentArn": arn, "hookId": "h", "action": "CONTINUE"}),
        )
        .await;
    assert_eq!(
        hook.error_type(),
        "InvalidParameterException",
        "{}",
        hook.text
    );
}
