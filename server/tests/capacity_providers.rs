//! Capacity providers through the router: the built-in ones, Auto Scaling group
//! providers with ECS's defaults and rules, clusters' providers and default strategies,
//! and the strategy of services and tasks.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use serde_json::{json, Value};
use support::TestServer;

const ASG: &str =
    "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:0b1c:autoScalingGroupName/web";

async fn create(server: &TestServer, name: &str) -> Value {
    server
        .ok(
            "CreateCapacityProvider",
            json!({"name": name, "autoScalingGroupProvider": {"autoScalingGroupArn": ASG},
               "tags": [{"key": "team", "value": "web"}]}),
        )
        .await
}

#[tokio::test]
async fn an_auto_scaling_group_provider_gets_ecs_defaults_and_is_listed_with_the_built_in_ones() {
    let server = TestServer::new();
    let created = create(&server, "web-nodes").await;
    assert_eq!(
        created["capacityProvider"],
        json!({
            "capacityProviderArn": "arn:aws:ecs:us-east-1:000000000000:capacity-provider/web-nodes",
            "name": "web-nodes",
            "status": "ACTIVE",
            "type": "EC2_AUTOSCALING",
            "autoScalingGroupProvider": {
                "autoScalingGroupArn": ASG,
                "managedScaling": {"status": "DISABLED", "targetCapacity": 100,
                                   "minimumScalingStepSize": 1, "maximumScalingStepSize": 10000,
                                   "instanceWarmupPeriod": 300},
                "managedTerminationProtection": "DISABLED",
                "managedDraining": "ENABLED",
            },
            "tags": [{"key": "team", "value": "web"}],
        })
    );
    let all = server.ok("DescribeCapacityProviders", json!({})).await;
    let names: Vec<&str> = all["capacityProviders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["FARGATE", "FARGATE_SPOT", "web-nodes"]);
    let some = server
        .ok(
            "DescribeCapacityProviders",
            json!({"capacityProviders": ["web-nodes", "nope"], "include": ["TAGS"]}),
        )
        .await;
    assert_eq!(some["capacityProviders"][0]["tags"][0]["key"], "team");
    assert_eq!(some["failures"][0]["reason"], "MISSING");

    let updated = server
        .ok(
            "UpdateCapacityProvider",
            json!({"name": "web-nodes", "autoScalingGroupProvider": {
            "managedScaling": {"status": "ENABLED", "targetCapacity": 80},
            "managedTerminationProtection": "ENABLED"}}),
        )
        .await;
    let provider = &updated["capacityProvider"];
    assert_eq!(provider["updateStatus"], "UPDATE_COMPLETE");
    assert_eq!(
        provider["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"],
        80
    );
    assert_eq!(
        provider["autoScalingGroupProvider"]["managedTerminationProtection"],
        "ENABLED"
    );
}

#[tokio::test]
async fn what_ecs_refuses_about_providers_is_refused() {
    let server = TestServer::new();
    create(&server, "web-nodes").await;
    let again = server
        .call(
            "CreateCapacityProvider",
            json!({"name": "web-nodes", "autoScalingGroupProvider": {"autoScalingGroupArn": ASG}}),
        )
        .await;
    assert_eq!(again.error_type(), "ClientException");
    for (body, why) in [
        (
            json!({"name": "fargate-mine", "autoScalingGroupProvider": {"autoScalingGroupArn": ASG}}),
            "reserved prefix",
        ),
        (
            json!({"name": "AWSnodes", "autoScalingGroupProvider": {"autoScalingGroupArn": ASG}}),
            "reserved prefix",
        ),
        (
            json!({"name": "bad name", "autoScalingGroupProvider": {"autoScalingGroupArn": ASG}}),
            "bad name",
        ),
        (json!({"name": "nogroup"}), "no group"),
        (
            json!({"name": "protected", "autoScalingGroupProvider": {"autoScalingGroupArn": ASG,
                   "managedTerminationProtection": "ENABLED"}}),
            "protection without scaling",
        ),
        (
            json!({"name": "managed", "managedInstancesProvider": {"infrastructureRoleArn": "arn:aws:iam::0:role/x",
                   "instanceLaunchTemplate": {"ec2InstanceProfileArn": "arn:aws:iam::0:instance-profile/x",
                   "networkConfiguration": {"subnets": ["subnet-1"]}}}}),
            "managed instances",
        ),
    ] {
        let refused = server.call("CreateCapacityProvider", body.clone()).await;
        assert_eq!(
            refused.error_type(),
            "InvalidParameterException",
            "{why}: {}",
            refused.text
        );
    }
    let builtin = server
        .call(
            "DeleteCapacityProvider",
            json!({"capacityProvider": "FARGATE"}),
        )
        .await;
    assert_eq!(builtin.error_type(), "InvalidParameterException");
}

#[tokio::test]
async fn clusters_use_their_providers_and_default_strategy() {
    let server = TestServer::new();
    create(&server, "web-nodes").await;
    server
        .ok("CreateCluster", json!({"clusterName": "default"}))
        .await;
    let mixed = server
        .call(
            "PutClusterCapacityProviders",
            json!({"cluster": "default", "capacityProviders": ["web-nodes", "FARGATE"],
                   "defaultCapacityProviderStrategy": [
                       {"capacityProvider": "web-nodes", "weight": 1},
                       {"capacityProvider": "FARGATE", "weight": 1}]}),
        )
        .await;
    assert_eq!(
        mixed.error_type(),
        "InvalidParameterException",
        "{}",
        mixed.text
    );
    let unknown = server
        .call(
            "PutClusterCapacityProviders",
            json!({"cluster": "default", "capacityProviders": ["nope"], "defaultCapacityProviderStrategy": []}),
        )
        .await;
    assert_eq!(unknown.error_type(), "InvalidParameterException");
    let put = server.ok("PutClusterCapacityProviders",
        json!({"cluster": "default", "capacityProviders": ["web-nodes", "FARGATE"],
               "defaultCapacityProviderStrategy": [{"capacityProvider": "web-nodes", "base": 1, "weight": 1}]}),
    )
    .await;
    assert_eq!(
        put["cluster"]["capacityProviders"],
        json!(["web-nodes", "FARGATE"])
    );

    // In use: not deleted.
    let in_use = server
        .call(
            "DeleteCapacityProvider",
            json!({"capacityProvider": "web-nodes"}),
        )
        .await;
    assert_eq!(in_use.error_type(), "ResourceInUseException");

    // A service with neither launch type nor strategy uses the cluster's default.
    server.ok("RegisterTaskDefinition",
        json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 32}]}),
    )
    .await;
    let service = server
        .ok(
            "CreateService",
            json!({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1}),
        )
        .await;
    assert_eq!(
        service["service"]["capacityProviderStrategy"],
        json!([{"capacityProvider": "web-nodes", "base": 1, "weight": 1}])
    );
    assert!(service["service"].get("launchType").is_none(), "{service}");
    let outside = server
        .call(
            "CreateService",
            json!({"serviceName": "other", "taskDefinition": "web", "desiredCount": 1,
                   "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}),
        )
        .await;
    assert_eq!(outside.error_type(), "InvalidParameterException");

    // A task run with the default strategy is placed on its provider's nodes.
    let ran = server.ok("RunTask", json!({"taskDefinition": "web"})).await;
    let task = &ran["tasks"][0];
    assert_eq!(task["capacityProviderName"], "web-nodes");
    let id = task["taskArn"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let placement = server
        .state
        .store
        .region("us-east-1")
        .task_placements()
        .get(("default", id))
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        placement.capacity_providers,
        Some(vec!["web-nodes".to_owned()])
    );

    // Released by the cluster, the provider can go.
    server.ok("PutClusterCapacityProviders",
        json!({"cluster": "default", "capacityProviders": [], "defaultCapacityProviderStrategy": []}),
    )
    .await;
    let deleted = server.ok("DeleteCapacityProvider",
        json!({"capacityProvider": "arn:aws:ecs:us-east-1:000000000000:capacity-provider/web-nodes"}),
    )
    .await;
    assert_eq!(deleted["capacityProvider"]["status"], "INACTIVE");
}

#[tokio::test]
async fn capacity_providers_are_tagged_by_arn_and_unknown_ones_are_not_found() {
    let server = TestServer::new();
    create(&server, "web-nodes").await;
    let arn = "arn:aws:ecs:us-east-1:000000000000:capacity-provider/web-nodes";
    server
        .ok(
            "TagResource",
            json!({"resourceArn": arn, "tags": [{"key": "tier", "value": "front"}]}),
        )
        .await;
    let tags = server
        .ok("ListTagsForResource", json!({"resourceArn": arn}))
        .await;
    assert_eq!(
        tags["tags"],
        json!([{"key": "team", "value": "web"}, {"key": "tier", "value": "front"}])
    );
    let missing = server
        .call(
            "TagResource",
            json!({"resourceArn": "arn:aws:ecs:us-east-1:000000000000:capacity-provider/none",
                   "tags": [{"key": "k", "value": "v"}]}),
        )
        .await;
    assert_eq!(missing.error_type(), "ResourceNotFoundException");
}
