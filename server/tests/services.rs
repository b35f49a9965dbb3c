//! Services through the router: ECS's defaults, validation, idempotency, deployments,
//! deletion (DRAINING, then INACTIVE once the workload is gone) and cluster counts.
//! Task definitions are put in the store directly so these tests do not depend on the
//! task-definition handlers.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use axum::http::StatusCode;
use kubecs_api_models::{ContainerDefinition, PortMapping, TaskDefinition, TaskDefinitionStatus};
use kubecs_storage::{Observed, StoreError};
use serde_json::{json, Value};
use support::TestServer;

const ARN: &str = "arn:aws:ecs:us-east-1:000000000000";

async fn task_definition(
    server: &TestServer,
    family: &str,
    status: TaskDefinitionStatus,
) -> String {
    let name = family.to_owned();
    let (revision, _) = server
        .state
        .store
        .region("us-east-1")
        .task_definitions()
        .register_revision(family, move |rev| {
            let family = &name;
            Ok::<_, StoreError>(TaskDefinition {
                family: Some(family.to_owned()),
                revision: Some(rev as i32),
                task_definition_arn: Some(format!("{ARN}:task-definition/{family}:{rev}")),
                status: Some(status.clone()),
                container_definitions: Some(vec![ContainerDefinition {
                    name: Some("web".into()),
                    image: Some("nginx".into()),
                    port_mappings: Some(vec![PortMapping {
                        container_port: Some(80),
                        // Service Connect names the port it serves.
                        name: Some("http".into()),
                        ..PortMapping::default()
                    }]),
                    ..ContainerDefinition::default()
                }]),
                ..TaskDefinition::default()
            })
        })
        .await
        .unwrap();
    format!("{family}:{revision}")
}

async fn setup() -> TestServer {
    let server = TestServer::new();
    let created = server.call("CreateCluster", json!({})).await;
    assert_eq!(created.status, StatusCode::OK);
    task_definition(&server, "web", TaskDefinitionStatus::Active).await;
    server
}

async fn create(server: &TestServer, body: Value) -> Value {
    let answer = server.call("CreateService", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["service"].clone()
}

async fn describe(server: &TestServer, name: &str) -> Value {
    let answer = server
        .call("DescribeServices", json!({"services": [name]}))
        .await;
    answer.body["services"][0].clone()
}

async fn active_services_count(server: &TestServer) -> i64 {
    let answer = server.call("DescribeClusters", json!({})).await;
    answer.body["clusters"][0]["activeServicesCount"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn create_service_stores_the_desired_state_with_a_primary_deployment() {
    let server = setup().await;
    let service = create(
        &server,
        json!({"serviceName": "api", "taskDefinition": "web", "desiredCount": 2}),
    )
    .await;
    assert_eq!(service["serviceArn"], format!("{ARN}:service/default/api"));
    assert_eq!(service["clusterArn"], format!("{ARN}:cluster/default"));
    assert_eq!(service["status"], "ACTIVE");
    assert_eq!(service["desiredCount"], 2);
    assert_eq!(service["runningCount"], 0);
    assert_eq!(service["launchType"], "EC2");
    assert_eq!(service["schedulingStrategy"], "REPLICA");
    assert_eq!(
        service["taskDefinition"],
        format!("{ARN}:task-definition/web:1")
    );
    assert_eq!(service["deploymentController"], json!({"type": "ECS"}));
    assert_eq!(service["createdBy"], "arn:aws:iam::000000000000:root");
    assert_eq!(
        service["deploymentConfiguration"],
        json!({
            "deploymentCircuitBreaker": {"enable": false, "rollback": false},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100
        })
    );
    assert!(service["createdAt"].is_number());
    let deployments = service["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 1);
    let primary = &deployments[0];
    let id = primary["id"].as_str().unwrap();
    assert!(
        id.starts_with("ecs-svc/") && id.len() == "ecs-svc/".len() + 19,
        "{id}"
    );
    assert_eq!(primary["status"], "PRIMARY");
    assert_eq!(primary["rolloutState"], "IN_PROGRESS");
    assert_eq!(primary["desiredCount"], 2);
    assert_eq!(active_services_count(&server).await, 1);
}

#[tokio::test]
async fn create_service_refuses_what_ecs_refuses_and_writes_nothing() {
    let server = setup().await;
    task_definition(&server, "old", TaskDefinitionStatus::Inactive).await;
    let cases = [
        (
            json!({"serviceName": "s", "taskDefinition": "nope", "desiredCount": 1}),
            "ClientException",
        ),
        (
            json!({"serviceName": "s", "taskDefinition": "old:1", "desiredCount": 1}),
            "InvalidParameterException",
        ),
        (
            json!({"cluster": "ghost", "serviceName": "s", "taskDefinition": "web", "desiredCount": 1}),
            "ClusterNotFoundException",
        ),
        (
            json!({"serviceName": "s", "taskDefinition": "web"}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceName": "bad name", "taskDefinition": "web", "desiredCount": 1}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceName": "s", "taskDefinition": "web", "desiredCount": 1, "launchType": "FARGATE",
                "capacityProviderStrategy": [{"capacityProvider": "FARGATE"}]}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceName": "s", "taskDefinition": "web", "desiredCount": 1,
                "deploymentConfiguration": {"minimumHealthyPercent": 150}}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceName": "s", "taskDefinition": "web", "desiredCount": 1,
                "loadBalancers": [{"targetGroupArn": "tg", "containerName": "db", "containerPort": 80}]}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceName": "s", "taskDefinition": "web", "desiredCount": 1,
                "loadBalancers": [{"targetGroupArn": "tg", "containerName": "web", "containerPort": 8080}]}),
            "InvalidParameterException",
        ),
        (
            json!({"serviceName": "s", "taskDefinition": "web", "desiredCount": -1}),
            "InvalidParameterException",
        ),
    ];
    for (body, code) in cases {
        let answer = server.call("CreateService", body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.error_type(), code, "{body}: {}", answer.message());
    }
    let list = server.call("ListServices", json!({})).await;
    assert_eq!(list.body["serviceArns"], json!([]));
    assert_eq!(active_services_count(&server).await, 0);
}

#[tokio::test]
async fn load_balancers_that_match_the_task_definition_are_accepted() {
    let server = setup().await;
    let service = create(
        &server,
        json!({"serviceName": "lb", "taskDefinition": "web", "desiredCount": 1,
               "loadBalancers": [{"targetGroupArn": "tg", "containerName": "web", "containerPort": 80}]}),
    )
    .await;
    assert_eq!(service["loadBalancers"][0]["containerPort"], 80);
}

#[tokio::test]
async fn create_service_is_idempotent_only_with_the_same_client_token() {
    let server = setup().await;
    let body = json!({"serviceName": "idem", "taskDefinition": "web", "desiredCount": 1, "clientToken": "t-1"});
    let first = create(&server, body.clone()).await;
    let again = create(&server, body).await;
    assert_eq!(first, again);
    for token in [Some("t-2"), None] {
        let mut body = json!({"serviceName": "idem", "taskDefinition": "web", "desiredCount": 1});
        if let Some(t) = token {
            body["clientToken"] = json!(t);
        }
        let answer = server.call("CreateService", body).await;
        assert_eq!(answer.error_type(), "InvalidParameterException");
        assert_eq!(answer.message(), "Creation of service was not idempotent.");
    }
    assert_eq!(active_services_count(&server).await, 1);
}

#[tokio::test]
async fn describe_services_reports_unknown_names_as_missing_and_includes_tags_on_request() {
    let server = setup().await;
    create(
        &server,
        json!({"serviceName": "a", "taskDefinition": "web", "desiredCount": 0,
               "tags": [{"key": "team", "value": "x"}]}),
    )
    .await;
    let answer = server
        .call(
            "DescribeServices",
            json!({"services": ["a", format!("{ARN}:service/default/a"), "ghost"], "include": ["TAGS"]}),
        )
        .await;
    let services = answer.body["services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    assert_eq!(services[0]["tags"], json!([{"key": "team", "value": "x"}]));
    assert_eq!(
        answer.body["failures"],
        json!([{"arn": format!("{ARN}:service/default/ghost"), "reason": "MISSING"}])
    );
    let plain = describe(&server, "a").await;
    assert!(plain.get("tags").is_none());
    // Tags changed after the service was described show up on the next describe.
    let tagged = server
        .call(
            "TagResource",
            json!({"resourceArn": format!("{ARN}:service/default/a"),
                   "tags": [{"key": "env", "value": "prod"}]}),
        )
        .await;
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.text);
    let again = server
        .call(
            "DescribeServices",
            json!({"services": ["a"], "include": ["TAGS"]}),
        )
        .await;
    let tags = again.body["services"][0]["tags"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert!(
        tags.contains(&json!({"key": "env", "value": "prod"})),
        "{tags:?}"
    );
    let eleven: Vec<String> = (0..11).map(|i| format!("s{i}")).collect();
    let too_many = server
        .call("DescribeServices", json!({"services": eleven}))
        .await;
    assert_eq!(too_many.error_type(), "InvalidParameterException");
}

#[tokio::test]
async fn list_services_pages_ten_by_default_and_filters_by_launch_type() {
    let server = setup().await;
    for i in 0..12 {
        create(
            &server,
            json!({"serviceName": format!("s{i:02}"), "taskDefinition": "web", "desiredCount": 0}),
        )
        .await;
    }
    let first = server.call("ListServices", json!({})).await;
    assert_eq!(first.body["serviceArns"].as_array().unwrap().len(), 10);
    let token = first.body["nextToken"].as_str().unwrap();
    let second = server
        .call("ListServices", json!({"nextToken": token}))
        .await;
    let rest = second.body["serviceArns"].as_array().unwrap();
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[1], format!("{ARN}:service/default/s11"));
    assert!(second.body.get("nextToken").is_none());
    let fargate = server
        .call("ListServices", json!({"launchType": "FARGATE"}))
        .await;
    assert_eq!(fargate.body["serviceArns"], json!([]));
    let bad = server
        .call("ListServices", json!({"nextToken": "garbage"}))
        .await;
    assert_eq!(bad.error_type(), "InvalidParameterException");
}

#[tokio::test]
async fn scaling_alone_keeps_the_deployment_and_a_new_task_definition_starts_one() {
    let server = setup().await;
    task_definition(&server, "web", TaskDefinitionStatus::Active).await;
    let created = create(
        &server,
        json!({"serviceName": "u", "taskDefinition": "web:1", "desiredCount": 1}),
    )
    .await;
    let first_id = created["deployments"][0]["id"].clone();
    // Described once before the change: DescribeServices keeps encoded services, and
    // must never answer with the one it encoded before an update.
    assert_eq!(describe(&server, "u").await["desiredCount"], 1);

    let scaled = server
        .call("UpdateService", json!({"service": "u", "desiredCount": 3}))
        .await;
    assert_eq!(scaled.status, StatusCode::OK, "{}", scaled.text);
    let service = &scaled.body["service"];
    assert_eq!(service["desiredCount"], 3);
    assert_eq!(service["deployments"].as_array().unwrap().len(), 1);
    assert_eq!(service["deployments"][0]["id"], first_id);
    assert_eq!(service["deployments"][0]["desiredCount"], 3);
    let described = describe(&server, "u").await;
    assert_eq!(described["desiredCount"], 3);
    assert_eq!(described["deployments"][0]["desiredCount"], 3);

    let rolled = server
        .call(
            "UpdateService",
            json!({"service": "u", "taskDefinition": "web:2"}),
        )
        .await;
    let deployments = rolled.body["service"]["deployments"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[0]["status"], "PRIMARY");
    assert_eq!(
        deployments[0]["taskDefinition"],
        format!("{ARN}:task-definition/web:2")
    );
    assert_eq!(deployments[1]["status"], "ACTIVE");
    assert_eq!(deployments[1]["id"], first_id);

    let forced = server
        .call(
            "UpdateService",
            json!({"service": "u", "forceNewDeployment": true}),
        )
        .await;
    assert_eq!(
        forced.body["service"]["deployments"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let unknown = server
        .call(
            "UpdateService",
            json!({"service": "nope", "desiredCount": 1}),
        )
        .await;
    assert_eq!(unknown.error_type(), "ServiceNotFoundException");
}

#[tokio::test]
async fn a_deleted_service_drains_then_becomes_inactive_and_the_name_is_free_again() {
    let server = setup().await;
    create(
        &server,
        json!({"serviceName": "d", "taskDefinition": "web", "desiredCount": 2}),
    )
    .await;
    let refused = server.call("DeleteService", json!({"service": "d"})).await;
    assert_eq!(refused.error_type(), "InvalidParameterException");
    assert_eq!(describe(&server, "d").await["status"], "ACTIVE");

    let deleted = server
        .call("DeleteService", json!({"service": "d", "force": true}))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(deleted.body["service"]["status"], "DRAINING");
    assert_eq!(deleted.body["service"]["desiredCount"], 0);
    assert_eq!(active_services_count(&server).await, 0);
    // Deleting it again answers it as it is and changes no count.
    let again = server
        .call("DeleteService", json!({"service": "d", "force": true}))
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["service"]["status"], "DRAINING");
    assert_eq!(active_services_count(&server).await, 0);
    let update = server
        .call("UpdateService", json!({"service": "d", "desiredCount": 1}))
        .await;
    assert_eq!(update.error_type(), "ServiceNotActiveException");
    let recreate = server
        .call(
            "CreateService",
            json!({"serviceName": "d", "taskDefinition": "web", "desiredCount": 1}),
        )
        .await;
    assert_eq!(
        recreate.message(),
        "Unable to Start a service that is still Draining."
    );
    let cluster_delete = server
        .call("DeleteCluster", json!({"cluster": "default"}))
        .await;
    assert_eq!(
        cluster_delete.error_type(),
        "ClusterContainsServicesException"
    );

    // The reconciler's part, driven through the storage API as it will drive it: once
    // the workload is gone it marks the service INACTIVE, for the generation it saw.
    let region = server.state.store.region("us-east-1");
    let record = region.services().get(("default", "d")).unwrap().unwrap();
    let outcome =
        kubecs_reconciler::drain::finish_drain(&region, "default", "d", record.generation)
            .await
            .unwrap();
    assert!(matches!(outcome, Observed::Applied(_)));

    let gone = describe(&server, "d").await;
    assert_eq!(gone["status"], "INACTIVE");
    assert_eq!(gone["deployments"], json!([]));
    let list = server.call("ListServices", json!({})).await;
    assert_eq!(list.body["serviceArns"], json!([]));
    // The cluster no longer counts it: nothing stops its deletion now.
    let stats = server
        .call("DescribeClusters", json!({"include": ["STATISTICS"]}))
        .await;
    let draining = stats.body["clusters"][0]["statistics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["name"] == "drainingEC2ServiceCount")
        .unwrap()["value"]
        .clone();
    assert_eq!(draining, "0");
    let again = create(
        &server,
        json!({"serviceName": "d", "taskDefinition": "web", "desiredCount": 1}),
    )
    .await;
    assert_eq!(again["status"], "ACTIVE");
    assert_eq!(active_services_count(&server).await, 1);
}

#[tokio::test]
async fn a_role_name_is_stored_as_the_iam_role_arn_ecs_returns() {
    let server = setup().await;
    for (role, expected) in [
        (
            "ecsServiceRole",
            "arn:aws:iam::000000000000:role/ecsServiceRole",
        ),
        (
            "/service-role/x",
            "arn:aws:iam::000000000000:role/service-role/x",
        ),
        ("arn:aws:iam::123:role/mine", "arn:aws:iam::123:role/mine"),
    ] {
        let name = format!("r{}", role.len());
        let service = create(
            &server,
            json!({"serviceName": name, "taskDefinition": "web", "desiredCount": 0, "role": role}),
        )
        .await;
        assert_eq!(service["roleArn"], expected, "{role}");
    }
}

#[tokio::test]
async fn a_slow_reconciler_cannot_overwrite_a_newer_desire() {
    let server = setup().await;
    create(
        &server,
        json!({"serviceName": "r", "taskDefinition": "web", "desiredCount": 1}),
    )
    .await;
    let services = server.state.store.region("us-east-1").services();
    let seen = services.get(("default", "r")).unwrap().unwrap().generation;
    server
        .call("UpdateService", json!({"service": "r", "desiredCount": 5}))
        .await;
    let outcome = services
        .compare_and_set_observed(("default", "r"), seen, |state| {
            let mut next = state.clone();
            next.service.running_count = Some(1);
            Ok::<_, StoreError>(Some(next))
        })
        .await
        .unwrap();
    assert!(matches!(outcome, Observed::Stale { .. }));
    assert_eq!(describe(&server, "r").await["desiredCount"], 5);
}

#[tokio::test]
async fn resources_are_tagged_untagged_and_listed_by_arn() {
    let server = setup().await;
    create(
        &server,
        json!({"serviceName": "t", "taskDefinition": "web", "desiredCount": 0}),
    )
    .await;
    for arn in [
        format!("{ARN}:cluster/default"),
        format!("{ARN}:service/default/t"),
    ] {
        let tagged = server
            .call(
                "TagResource",
                json!({"resourceArn": arn, "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]}),
            )
            .await;
        assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.text);
        assert_eq!(tagged.body, json!({}));
        server
            .call(
                "TagResource",
                json!({"resourceArn": arn, "tags": [{"key": "a", "value": "9"}]}),
            )
            .await;
        server
            .call(
                "UntagResource",
                json!({"resourceArn": arn, "tagKeys": ["b"]}),
            )
            .await;
        let listed = server
            .call("ListTagsForResource", json!({"resourceArn": arn}))
            .await;
        assert_eq!(
            listed.body["tags"],
            json!([{"key": "a", "value": "9"}]),
            "{arn}"
        );
    }
    let described = server
        .call("DescribeClusters", json!({"include": ["TAGS"]}))
        .await;
    assert_eq!(
        described.body["clusters"][0]["tags"],
        json!([{"key": "a", "value": "9"}])
    );

    let missing = server
        .call(
            "ListTagsForResource",
            json!({"resourceArn": format!("{ARN}:cluster/ghost")}),
        )
        .await;
    assert_eq!(missing.error_type(), "ClusterNotFoundException");
    let missing = server
        .call(
            "TagResource",
            json!({"resourceArn": format!("{ARN}:service/default/ghost"), "tags": [{"key": "a", "value": "1"}]}),
        )
        .await;
    assert_eq!(missing.error_type(), "ResourceNotFoundException");
    let missing = server
        .call(
            "ListTagsForResource",
            json!({"resourceArn": format!("{ARN}:service/default/ghost")}),
        )
        .await;
    assert_eq!(missing.error_type(), "InvalidParameterException");
    let invalid = server
        .call(
            "TagResource",
            json!({"resourceArn": "not-an-arn", "tags": [{"key": "a", "value": "1"}]}),
        )
        .await;
    assert_eq!(invalid.error_type(), "InvalidParameterException");
    let reserved = server
        .call("TagResource", json!({"resourceArn": format!("{ARN}:cluster/default"), "tags": [{"key": "aws:x", "value": "1"}]}))
        .await;
    assert_eq!(reserved.error_type(), "InvalidParameterException");
    let fifty: Vec<Value> = (0..50)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    let over = server
        .call(
            "TagResource",
            json!({"resourceArn": format!("{ARN}:cluster/default"), "tags": fifty}),
        )
        .await;
    assert_eq!(
        over.error_type(),
        "InvalidParameterException",
        "{}",
        over.text
    );
}

#[tokio::test]
async fn a_cluster_deleted_after_use_refuses_service_calls() {
    let server = TestServer::new();
    let created = server
        .call("CreateCluster", json!({"clusterName": "brief"}))
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    task_definition(&server, "web", TaskDefinitionStatus::Active).await;
    // Used while ACTIVE (the ACTIVE check is kept per stored cluster version)...
    let described = server
        .call(
            "DescribeServices",
            json!({"cluster": "brief", "services": ["none"]}),
        )
        .await;
    assert_eq!(described.status, StatusCode::OK, "{}", described.text);
    let deleted = server
        .call("DeleteCluster", json!({"cluster": "brief"}))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    // ...and refused once it is INACTIVE.
    let described = server
        .call(
            "DescribeServices",
            json!({"cluster": "brief", "services": ["none"]}),
        )
        .await;
    assert_eq!(described.error_type(), "ClusterNotFoundException");
    let answer = server
        .call(
            "CreateService",
            json!({"cluster": "brief", "serviceName": "s", "taskDefinition": "web", "desiredCount": 0}),
        )
        .await;
    assert_eq!(answer.error_type(), "ClusterNotFoundException");
}

#[tokio::test]
async fn create_service_writes_service_tags_and_count_with_one_flush() {
    let server = setup().await;
    let flushes = server.state.store.flush_count();
    create(
        &server,
        json!({"serviceName": "one", "taskDefinition": "web", "desiredCount": 1,
               "tags": [{"key": "team", "value": "x"}]}),
    )
    .await;
    // Three records changed (service, tags, the cluster's count), one flush waited for.
    assert_eq!(server.state.store.flush_count() - flushes, 1);
    assert_eq!(active_services_count(&server).await, 1);
    let tagged = server
        .call(
            "DescribeServices",
            json!({"services": ["one"], "include": ["TAGS"]}),
        )
        .await;
    assert_eq!(
        tagged.body["services"][0]["tags"],
        json!([{"key": "team", "value": "x"}])
    );
}

#[tokio::test]
async fn delete_service_writes_the_service_and_the_count_with_one_flush() {
    let server = setup().await;
    create(
        &server,
        json!({"serviceName": "gone", "taskDefinition": "web", "desiredCount": 0}),
    )
    .await;
    assert_eq!(active_services_count(&server).await, 1);
    let flushes = server.state.store.flush_count();
    let answer = server
        .call("DeleteService", json!({"service": "gone"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    // Two records changed (the service, the cluster's count), one flush waited for.
    assert_eq!(server.state.store.flush_count() - flushes, 1);
    assert_eq!(active_services_count(&server).await, 0);
    assert_eq!(describe(&server, "gone").await["status"], "DRAINING");
}

// --- ECS's count and length limits ------------------------------------------------------

/// `n` copies of `item(i)` as a JSON list.
fn items(n: usize, item: impl Fn(usize) -> Value) -> Value {
    (0..n).map(item).collect()
}

/// Gives the default cluster `count` Auto Scaling group capacity providers, `cp-<n>`: a
/// strategy may only name the cluster's providers.
async fn with_capacity_providers(server: &TestServer, count: usize) {
    let names: Vec<String> = (0..count).map(|i| format!("cp-{i}")).collect();
    for name in &names {
        let created = server
            .call(
                "CreateCapacityProvider",
                json!({"name": name, "autoScalingGroupProvider": {"autoScalingGroupArn":
                    "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:0:autoScalingGroupName/g"}}),
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    }
    let put = server
        .call(
            "PutClusterCapacityProviders",
            json!({"cluster": "default", "capacityProviders": names, "defaultCapacityProviderStrategy": []}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
}

/// Service bodies at and past each documented limit: (member, value at the limit, value
/// past it, ECS's message for the latter).
fn limit_cases() -> Vec<(&'static str, Value, Value, &'static str)> {
    let lb = |i: usize| json!({"targetGroupArn": format!("tg-{i}"), "containerName": "web", "containerPort": 80});
    let awsvpc = |subnets: usize, groups: usize| {
        json!({"awsvpcConfiguration": {
            "subnets": items(subnets, |i| json!(format!("subnet-{i}"))),
            "securityGroups": items(groups, |i| json!(format!("sg-{i}"))),
        }})
    };
    let constraint = |expression: String| json!({"type": "memberOf", "expression": expression});
    let strategy = |i: usize| json!({"type": "spread", "field": format!("attribute:a{i}")});
    let registry = |i: usize| json!({"registryArn": format!("arn:aws:servicediscovery:us-east-1:000000000000:service/srv-{i}")});
    let provider = |i: usize| json!({"capacityProvider": format!("cp-{i}")});
    // ECS allows a 64-character discoveryName; kubecs names a Kubernetes Service after
    // it, and those stop at 63, so the accepted case is 63 (64 is refused as not
    // runnable). DNS names are labels of at most 63 characters, dot-separated.
    let dns_name = |length: usize| {
        let mut name = String::new();
        while name.len() < length {
            if !name.is_empty() {
                name.push('.');
            }
            let label = (length - name.len()).min(63);
            name.push_str(&"n".repeat(label));
        }
        name
    };
    let connect = |aliases: usize, discovery: usize, dns: usize| {
        json!({"enabled": true, "namespace": "ns", "services": [{
            "portName": "http",
            "discoveryName": "d".repeat(discovery),
            "clientAliases": items(aliases, |i| json!({"port": 80 + i, "dnsName": dns_name(dns)})),
        }]})
    };
    vec![
        (
            "loadBalancers",
            items(5, lb),
            items(6, lb),
            "load balancers can have at most 5 items.",
        ),
        (
            "networkConfiguration",
            awsvpc(16, 5),
            awsvpc(17, 5),
            "subnets can have at most 16 items.",
        ),
        (
            "networkConfiguration",
            awsvpc(16, 5),
            awsvpc(16, 6),
            "security groups can have at most 5 items.",
        ),
        (
            "placementConstraints",
            items(10, |i| constraint(format!("attribute:a{i} exists"))),
            items(11, |i| constraint(format!("attribute:a{i} exists"))),
            "placement constraints can have at most 10 items.",
        ),
        (
            "placementConstraints",
            json!([constraint(format!("attribute:{} exists", "e".repeat(1983)))]),
            json!([constraint(format!("attribute:{} exists", "e".repeat(1984)))]),
            "A placement constraint expression can have at most 2000 characters.",
        ),
        (
            "placementConstraints",
            json!([constraint("attribute:stack == prod".to_owned()), {"type": "distinctInstance"}]),
            json!([constraint("attribute:stack ~~ prod".to_owned())]),
            "The expression 'attribute:stack ~~ prod' is not valid: unknown operator ~~.",
        ),
        (
            "placementConstraints",
            json!([{"type": "distinctInstance"}]),
            json!([{"type": "memberOf"}]),
            "The memberOf placement constraint requires an expression.",
        ),
        (
            "placementStrategy",
            items(5, strategy),
            items(6, strategy),
            "placement strategy can have at most 5 items.",
        ),
        (
            "serviceRegistries",
            items(1, registry),
            items(2, registry),
            "service registries can have at most 1 items.",
        ),
        (
            "capacityProviderStrategy",
            items(20, provider),
            items(21, provider),
            "capacity provider strategy can have at most 20 items.",
        ),
        (
            "serviceConnectConfiguration",
            connect(1, 63, 127),
            connect(2, 63, 127),
            "client aliases can have at most 1 items.",
        ),
        (
            "serviceConnectConfiguration",
            connect(1, 63, 127),
            connect(1, 65, 127),
            "discoveryName can have at most 64 characters.",
        ),
        (
            "serviceConnectConfiguration",
            connect(1, 63, 127),
            connect(1, 63, 128),
            "dnsName can have at most 127 characters.",
        ),
    ]
}

/// Asserts an InvalidParameterException with exactly `message`.
async fn refused_with(server: &TestServer, op: &str, body: Value, message: &str) {
    let answer = server.call(op, body.clone()).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(answer.error_type(), "InvalidParameterException", "{body}");
    assert_eq!(answer.message(), message, "{body}");
}

#[tokio::test]
async fn create_service_accepts_each_limit_and_refuses_one_past_it_writing_nothing() {
    let server = setup().await;
    with_capacity_providers(&server, 20).await;
    let body = |name: &str, member: &str, value: &Value| {
        let mut body = json!({"serviceName": name, "taskDefinition": "web", "desiredCount": 0});
        body[member] = value.clone();
        body
    };
    let cases = limit_cases();
    for (i, (member, at, past, message)) in cases.iter().enumerate() {
        create(&server, body(&format!("ok{i}"), member, at)).await;
        refused_with(
            &server,
            "CreateService",
            body("refused", member, past),
            message,
        )
        .await;
    }
    let token = |t: String| json!({"serviceName": "refused", "taskDefinition": "web", "desiredCount": 0, "clientToken": t});
    let bad_token = "Invalid clientToken: up to 36 ASCII characters in the range of 33-126 (inclusive) are allowed.";
    refused_with(&server, "CreateService", token("t".repeat(37)), bad_token).await;
    refused_with(&server, "CreateService", token("a b".to_owned()), bad_token).await;
    let mut at_limit = token("~".repeat(36));
    at_limit["serviceName"] = json!("token");
    create(&server, at_limit).await;

    let missing = server
        .call("DescribeServices", json!({"services": ["refused"]}))
        .await;
    assert_eq!(missing.body["failures"][0]["reason"], "MISSING");
    let listed = server
        .call("ListServices", json!({"maxResults": 100}))
        .await;
    let expected = cases.len() + 1;
    assert_eq!(
        listed.body["serviceArns"].as_array().unwrap().len(),
        expected
    );
    assert_eq!(active_services_count(&server).await, expected as i64);
}

#[tokio::test]
async fn update_service_accepts_each_limit_and_refuses_one_past_it_changing_nothing() {
    let server = setup().await;
    with_capacity_providers(&server, 20).await;
    create(
        &server,
        json!({"serviceName": "u", "taskDefinition": "web", "desiredCount": 1}),
    )
    .await;
    for (member, at, past, message) in limit_cases() {
        let before = describe(&server, "u").await;
        let mut body = json!({"service": "u", "desiredCount": 3});
        body[member] = past;
        refused_with(&server, "UpdateService", body, message).await;
        assert_eq!(describe(&server, "u").await, before, "{member}");
        let mut body = json!({"service": "u"});
        body[member] = at.clone();
        let answer = server.call("UpdateService", body).await;
        assert_eq!(answer.status, StatusCode::OK, "{member}: {}", answer.text);
        // Service Connect settings belong to the deployment that the update started.
        let service = &answer.body["service"];
        let stored = match member {
            "serviceConnectConfiguration" => &service["deployments"][0][member],
            _ => &service[member],
        };
        assert_eq!(stored, &at, "{member}");
    }
}

#[tokio::test]
async fn list_services_by_namespace_finds_the_services_whose_service_connect_names_it() {
    let server = setup().await;
    let connect = |namespace: &str| json!({"enabled": true, "namespace": namespace});
    create(
        &server,
        json!({"serviceName": "a", "taskDefinition": "web", "desiredCount": 0, "serviceConnectConfiguration": connect("shop")}),
    )
    .await;
    create(
        &server,
        json!({"serviceName": "b", "taskDefinition": "web", "desiredCount": 0, "serviceConnectConfiguration": connect("other")}),
    )
    .await;
    create(
        &server,
        json!({"serviceName": "c", "taskDefinition": "web", "desiredCount": 0}),
    )
    .await;
    let listed = |namespace: &'static str| {
        let server = &server;
        async move {
            let answer = server
                .call("ListServicesByNamespace", json!({"namespace": namespace}))
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            answer.body["serviceArns"].clone()
        }
    };
    let arn = |name: &str| format!("arn:aws:ecs:us-east-1:000000000000:service/default/{name}");
    assert_eq!(listed("shop").await, json!([arn("a")]));
    // An update moves the service to the namespace its new deployment names.
    let answer = server
        .call(
            "UpdateService",
            json!({"service": "c", "serviceConnectConfiguration": connect("shop")}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(listed("shop").await, json!([arn("a"), arn("c")]));
    assert_eq!(listed("other").await, json!([arn("b")]));
    // A deleted service is no longer listed.
    let answer = server
        .call("DeleteService", json!({"service": "a", "force": true}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(listed("shop").await, json!([arn("c")]));
}

#[tokio::test]
async fn a_task_definition_kubernetes_cannot_run_is_refused_and_nothing_changes() {
    let server = setup().await;
    let registered = server
        .call(
            "RegisterTaskDefinition",
            json!({
                "family": "windows",
                "runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"},
                "containerDefinitions": [{"name": "app", "image": "iis", "memory": 512}],
            }),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
    let message = "The operating system family WINDOWS_SERVER_2022_CORE is not supported: kubecs runs Linux containers only.";

    let refused = server
        .call(
            "CreateService",
            json!({"serviceName": "win", "taskDefinition": "windows", "desiredCount": 1}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(refused.error_type(), "ClientException");
    assert_eq!(refused.message(), message);
    assert_eq!(describe(&server, "win").await["status"], Value::Null);
    assert_eq!(active_services_count(&server).await, 0);

    create(
        &server,
        json!({"serviceName": "web", "taskDefinition": "web", "desiredCount": 1}),
    )
    .await;
    let before = describe(&server, "web").await;
    let refused = server
        .call(
            "UpdateService",
            json!({"service": "web", "taskDefinition": "windows"}),
        )
        .await;
    assert_eq!(refused.error_type(), "ClientException", "{}", refused.text);
    assert_eq!(refused.message(), message);
    assert_eq!(describe(&server, "web").await, before);

    // A change without a new task definition is checked with the one the service runs:
    // a Service Connect discovery name Kubernetes cannot name a Service after.
    let refused = server
        .call(
            "UpdateService",
            json!({"service": "web", "serviceConnectConfiguration": {
                "enabled": true, "namespace": "ns",
                "services": [{"portName": "http", "discoveryName": "d".repeat(64)}],
            }}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert!(
        refused.message().contains("discoveryName"),
        "{}",
        refused.text
    );
    assert_eq!(describe(&server, "web").await, before);
    let accepted = server
        .call(
            "UpdateService",
            json!({"service": "web", "serviceConnectConfiguration": {
                "enabled": true, "namespace": "ns",
                "services": [{"portName": "http", "discoveryName": "d".repeat(63)}],
            }}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text);
}
