//! Express gateway services through the router: the ECS service and task definition they
//! are, their configurations and endpoint, update and delete. (The Ingress is the
//! reconciler's business: `cluster_reconciler`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use serde_json::{json, Value};
use support::TestServer;

const ACCOUNT: &str = "arn:aws:ecs:us-east-1:000000000000";
const EXECUTION_ROLE: &str = "arn:aws:iam::000000000000:role/ecsTaskExecutionRole";
const INFRASTRUCTURE_ROLE: &str = "arn:aws:iam::000000000000:role/ecsInfrastructureRole";

fn create_body() -> Value {
    json!({"serviceName": "web", "executionRoleArn": EXECUTION_ROLE,
           "infrastructureRoleArn": INFRASTRUCTURE_ROLE,
           "primaryContainer": {"image": "nginx:1.27", "containerPort": 8080,
                                "environment": [{"name": "MODE", "value": "prod"}]},
           "scalingTarget": {"minTaskCount": 2, "maxTaskCount": 4},
           "tags": [{"key": "team", "value": "web"}]})
}

#[tokio::test]
async fn an_express_service_is_an_ecs_service_of_a_registered_task_definition() {
    let server = TestServer::new();
    // The default cluster is created for it.
    let created = server
        .ok("CreateExpressGatewayService", create_body())
        .await;
    let service = &created["service"];
    let arn = format!("{ACCOUNT}:service/default/web");
    assert_eq!(service["serviceArn"], arn);
    assert_eq!(service["cluster"], format!("{ACCOUNT}:cluster/default"));
    assert_eq!(service["status"]["statusCode"], "ACTIVE");
    assert_eq!(service["infrastructureRoleArn"], INFRASTRUCTURE_ROLE);
    assert_eq!(service["tags"], json!([{"key": "team", "value": "web"}]));
    let config = &service["activeConfigurations"][0];
    assert_eq!(config["cpu"], "256");
    assert_eq!(config["memory"], "512");
    assert_eq!(config["healthCheckPath"], "/ping");
    assert_eq!(config["primaryContainer"]["containerPort"], 8080);
    assert_eq!(config["scalingTarget"]["minTaskCount"], 2);
    assert_eq!(config["scalingTarget"]["autoScalingMetric"], "AVERAGE_CPU");
    let endpoint = config["ingressPaths"][0]["endpoint"].as_str().unwrap();
    assert!(
        endpoint.starts_with("http://web-") && endpoint.ends_with(".us-east-1.ecs.localhost/"),
        "{endpoint}"
    );
    assert_eq!(config["ingressPaths"][0]["accessType"], "PUBLIC");
    assert!(config["serviceRevisionArn"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{ACCOUNT}:service-revision/default/web/")));

    // The ECS service and its task definition, as any client sees them.
    let described = server
        .ok("DescribeServices", json!({"services": ["web"]}))
        .await;
    let ecs = &described["services"][0];
    assert_eq!(ecs["desiredCount"], 2);
    assert_eq!(ecs["launchType"], "FARGATE");
    let td_arn = ecs["taskDefinition"].as_str().unwrap();
    assert_eq!(td_arn, format!("{ACCOUNT}:task-definition/default-web:1"));
    let td = server
        .ok("DescribeTaskDefinition", json!({"taskDefinition": td_arn}))
        .await;
    let td = &td["taskDefinition"];
    assert_eq!(td["networkMode"], "awsvpc");
    assert_eq!(td["executionRoleArn"], EXECUTION_ROLE);
    let main = &td["containerDefinitions"][0];
    assert_eq!(main["name"], "Main");
    assert_eq!(main["image"], "nginx:1.27");
    assert_eq!(main["portMappings"][0]["containerPort"], 8080);
    assert_eq!(
        main["environment"],
        json!([{"name": "MODE", "value": "prod"}])
    );
    assert_eq!(main["logConfiguration"]["logDriver"], "awslogs");

    let again = server
        .call("CreateExpressGatewayService", create_body())
        .await;
    assert_eq!(again.error_type(), "InvalidParameterException");

    let with_tags = server
        .ok(
            "DescribeExpressGatewayService",
            json!({"serviceArn": arn, "include": ["TAGS"]}),
        )
        .await;
    assert_eq!(
        with_tags["service"]["tags"],
        json!([{"key": "team", "value": "web"}])
    );
    let without = server
        .ok("DescribeExpressGatewayService", json!({"serviceArn": arn}))
        .await;
    assert!(without["service"].get("tags").is_none());
}

#[tokio::test]
async fn an_update_deploys_a_new_revision_over_the_current_configuration() {
    let server = TestServer::new();
    server
        .ok("CreateExpressGatewayService", create_body())
        .await;
    let arn = format!("{ACCOUNT}:service/default/web");
    let updated = server
        .ok(
            "UpdateExpressGatewayService",
            json!({"serviceArn": arn, "memory": "1024",
                   "primaryContainer": {"image": "nginx:1.28"}}),
        )
        .await;
    let target = &updated["service"]["targetConfiguration"];
    assert_eq!(target["memory"], "1024");
    assert_eq!(target["cpu"], "256");
    assert_eq!(target["primaryContainer"]["image"], "nginx:1.28");
    // Kept from the first configuration.
    assert_eq!(target["primaryContainer"]["containerPort"], 8080);
    assert_eq!(target["scalingTarget"]["minTaskCount"], 2);

    let described = server
        .ok("DescribeServices", json!({"services": ["web"]}))
        .await;
    let ecs = &described["services"][0];
    assert_eq!(
        ecs["taskDefinition"],
        format!("{ACCOUNT}:task-definition/default-web:2")
    );
    assert_eq!(ecs["deployments"].as_array().unwrap().len(), 2);
    // Both configurations run until the new deployment completes.
    let express = server
        .ok("DescribeExpressGatewayService", json!({"serviceArn": arn}))
        .await;
    let configs = express["service"]["activeConfigurations"]
        .as_array()
        .unwrap();
    assert_eq!(configs.len(), 2);
    assert_eq!(configs[0]["primaryContainer"]["image"], "nginx:1.28");
    assert_ne!(
        configs[0]["serviceRevisionArn"],
        configs[1]["serviceRevisionArn"]
    );

    let refused = server
        .call(
            "UpdateExpressGatewayService",
            json!({"serviceArn": arn, "healthCheckPath": "ping"}),
        )
        .await;
    assert_eq!(refused.error_type(), "InvalidParameterException");
}

#[tokio::test]
async fn delete_drains_the_service_and_ecs_errors_name_what_is_wrong() {
    let server = TestServer::new();
    server
        .ok("CreateExpressGatewayService", create_body())
        .await;
    let arn = format!("{ACCOUNT}:service/default/web");
    let deleted = server
        .ok("DeleteExpressGatewayService", json!({"serviceArn": arn}))
        .await;
    assert_eq!(deleted["service"]["status"]["statusCode"], "DRAINING");
    let again = server
        .call("DeleteExpressGatewayService", json!({"serviceArn": arn}))
        .await;
    assert_eq!(again.error_type(), "ServiceNotActiveException");
    let update = server
        .call(
            "UpdateExpressGatewayService",
            json!({"serviceArn": arn, "cpu": "512"}),
        )
        .await;
    assert_eq!(update.error_type(), "ServiceNotActiveException");

    let missing = format!("{ACCOUNT}:service/default/none");
    let described = server
        .call(
            "DescribeExpressGatewayService",
            json!({"serviceArn": missing}),
        )
        .await;
    assert_eq!(described.error_type(), "ResourceNotFoundException");
    let deleted = server
        .call(
            "DeleteExpressGatewayService",
            json!({"serviceArn": missing}),
        )
        .await;
    assert_eq!(deleted.error_type(), "ServiceNotFoundException");
    // A plain ECS service is not an Express one.
    server
        .ok(
            "RegisterTaskDefinition",
            json!({"family": "plain", "containerDefinitions": [{"name": "a", "image": "a", "memory": 32}]}),
        )
        .await;
    server
        .ok(
            "CreateService",
            json!({"serviceName": "plain", "taskDefinition": "plain", "desiredCount": 0}),
        )
        .await;
    let plain = server
        .call(
            "DescribeExpressGatewayService",
            json!({"serviceArn": format!("{ACCOUNT}:service/default/plain")}),
        )
        .await;
    assert_eq!(plain.error_type(), "ResourceNotFoundException");

    let mut bad = create_body();
    bad["serviceName"] = json!("other");
    bad["scalingTarget"] = json!({"minTaskCount": 5, "maxTaskCount": 2});
    let refused = server.call("CreateExpressGatewayService", bad).await;
    assert_eq!(refused.error_type(), "InvalidParameterException");
    let other = server
        .ok("DescribeServices", json!({"services": ["other"]}))
        .await;
    assert_eq!(other["failures"][0]["reason"], "MISSING");
    let families = server.ok("ListTaskDefinitionFamilies", json!({})).await;
    assert!(!families["families"]
        .as_array()
        .unwrap()
        .contains(&json!("default-other")));
}
