//! ListTasks and DescribeTasks through the router, on task records as the reconciler
//! writes them (put in the store directly: what the pods of a service become is the
//! reconciler's own tests' business, and the cluster test shows the whole path).

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use axum::http::StatusCode;
use kubecs_api_models::{LaunchType, Task, TaskStopCode};
use kubecs_storage::{StoreError, Write};
use serde_json::{json, Value};
use support::TestServer;

const ARN: &str = "arn:aws:ecs:us-east-1:000000000000";

fn task(cluster: &str, id: &str, service: &str, family: &str, desired: &str) -> Task {
    Task {
        task_arn: Some(format!("{ARN}:task/{cluster}/{id}")),
        cluster_arn: Some(format!("{ARN}:cluster/{cluster}")),
        task_definition_arn: Some(format!("{ARN}:task-definition/{family}:1")),
        group: Some(format!("service:{service}")),
        started_by: Some(format!("ecs-svc/{service}")),
        last_status: Some(desired.to_owned()),
        desired_status: Some(desired.to_owned()),
        launch_type: Some(LaunchType::Ec2),
        stop_code: (desired == "STOPPED").then_some(TaskStopCode::ServiceSchedulerInitiated),
        ..Task::default()
    }
}

/// A cluster `default` with services `web` and `worker`, and tasks: web's a1 and a2
/// running and a3 stopped, worker's b1 running; a task `c1` in another cluster.
async fn setup() -> TestServer {
    let server = TestServer::new();
    for cluster in ["default", "other"] {
        let created = server
            .call("CreateCluster", json!({"clusterName": cluster}))
            .await;
        assert_eq!(created.status, StatusCode::OK);
    }
    let registered = server
        .call(
            "RegisterTaskDefinition",
            json!({"family": "web", "containerDefinitions": [{"name": "app", "image": "nginx", "memory": 32}]}),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
    for service in ["web", "worker"] {
        let created = server
            .call(
                "CreateService",
                json!({"serviceName": service, "taskDefinition": "web", "desiredCount": 1}),
            )
            .await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    }
    let region = server.state.store.region("us-east-1");
    let tasks = region.tasks();
    let records = [
        ("default", task("default", "a1", "web", "web", "RUNNING")),
        ("default", task("default", "a2", "web", "web", "RUNNING")),
        ("default", task("default", "a3", "web", "web", "STOPPED")),
        (
            "default",
            task("default", "b1", "worker", "jobs", "RUNNING"),
        ),
        ("other", task("other", "c1", "web", "web", "RUNNING")),
    ];
    region
        .transaction(|tx| {
            for (cluster, record) in &records {
                let id = record
                    .task_arn
                    .as_deref()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap();
                let record = record.clone();
                tx.update(&tasks, (*cluster, id), |_| {
                    Ok::<_, StoreError>((Write::Put(record), ()))
                })?;
            }
            Ok::<_, StoreError>(())
        })
        .await
        .unwrap();
    server
}

async fn list(server: &TestServer, body: Value) -> Vec<String> {
    let answer = server.call("ListTasks", body.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{body}: {}", answer.text);
    answer.body["taskArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().rsplit('/').next().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn list_tasks_filters_by_service_family_started_by_and_desired_status() {
    let server = setup().await;
    assert_eq!(list(&server, json!({})).await, ["a1", "a2", "b1"]);
    assert_eq!(
        list(&server, json!({"serviceName": "web"})).await,
        ["a1", "a2"]
    );
    assert_eq!(
        list(
            &server,
            json!({"serviceName": "web", "desiredStatus": "STOPPED"})
        )
        .await,
        ["a3"]
    );
    assert_eq!(list(&server, json!({"family": "jobs"})).await, ["b1"]);
    assert_eq!(
        list(&server, json!({"startedBy": "ecs-svc/worker"})).await,
        ["b1"]
    );
    assert_eq!(
        list(&server, json!({"launchType": "FARGATE"})).await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(&server, json!({"desiredStatus": "PENDING"})).await,
        Vec::<String>::new()
    );
    assert_eq!(list(&server, json!({"cluster": "other"})).await, ["c1"]);

    let missing = server
        .call("ListTasks", json!({"serviceName": "nope"}))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.error_type(), "ServiceNotFoundException");
    let missing = server.call("ListTasks", json!({"cluster": "nope"})).await;
    assert_eq!(missing.error_type(), "ClusterNotFoundException");
}

#[tokio::test]
async fn list_tasks_pages() {
    let server = setup().await;
    let first = server.call("ListTasks", json!({"maxResults": 2})).await;
    assert_eq!(first.body["taskArns"].as_array().unwrap().len(), 2);
    let token = first.body["nextToken"].as_str().unwrap().to_owned();
    let rest = list(&server, json!({"maxResults": 2, "nextToken": token})).await;
    assert_eq!(rest, ["b1"]);
    let refused = server.call("ListTasks", json!({"maxResults": 101})).await;
    assert_eq!(refused.error_type(), "InvalidParameterException");
}

#[tokio::test]
async fn describe_tasks_by_id_or_arn_with_failures_and_tags() {
    let server = setup().await;
    let a1 = format!("{ARN}:task/default/a1");
    let tagged = server
        .call(
            "TagResource",
            json!({"resourceArn": a1, "tags": [{"key": "team", "value": "web"}]}),
        )
        .await;
    assert_eq!(tagged.status, StatusCode::OK, "{}", tagged.text);
    let answer = server
        .call(
            "DescribeTasks",
            json!({"tasks": [a1, "a3", "zz", format!("{ARN}:task/other/c1")], "include": ["TAGS"]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let tasks = answer.body["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["taskArn"], a1.as_str());
    assert_eq!(tasks[0]["tags"], json!([{"key": "team", "value": "web"}]));
    assert_eq!(tasks[1]["lastStatus"], "STOPPED");
    assert_eq!(tasks[1]["stopCode"], "ServiceSchedulerInitiated");
    assert_eq!(
        answer.body["failures"],
        json!([
            {"arn": format!("{ARN}:task/default/zz"), "reason": "MISSING"},
            {"arn": format!("{ARN}:task/other/c1"), "reason": "MISSING"},
        ])
    );

    let empty = server.call("DescribeTasks", json!({"tasks": []})).await;
    assert_eq!(empty.error_type(), "InvalidParameterException");
    let many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    let too_many = server.call("DescribeTasks", json!({"tasks": many})).await;
    assert_eq!(too_many.error_type(), "InvalidParameterException");
}

#[tokio::test]
async fn run_task_answers_provisioning_tasks_with_their_overrides_group_and_tags() {
    let server = setup().await;
    let answer = server
        .call(
            "RunTask",
            json!({
                "taskDefinition": "web", "count": 2, "startedBy": "ci",
                "overrides": {"containerOverrides": [{"name": "app", "command": ["migrate"]}]},
                "tags": [{"key": "job", "value": "migrate"}],
            }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let tasks = answer.body["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2);
    assert_ne!(tasks[0]["taskArn"], tasks[1]["taskArn"]);
    assert_eq!(answer.body["failures"], json!([]));
    let task = &tasks[0];
    assert_eq!(task["lastStatus"], "PROVISIONING");
    assert_eq!(task["desiredStatus"], "RUNNING");
    assert_eq!(task["group"], "family:web");
    assert_eq!(task["startedBy"], "ci");
    assert_eq!(
        task["taskDefinitionArn"],
        format!("{ARN}:task-definition/web:1")
    );
    assert_eq!(
        task["overrides"]["containerOverrides"][0]["command"],
        json!(["migrate"])
    );
    assert_eq!(task["containers"][0]["name"], "app");
    assert_eq!(task["containers"][0]["lastStatus"], "PENDING");
    let id = task["taskArn"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));

    // Stored: listed, described, tagged.
    let listed = list(&server, json!({"startedBy": "ci"})).await;
    assert_eq!(listed.len(), 2);
    let described = server
        .call(
            "DescribeTasks",
            json!({"tasks": [task["taskArn"]], "include": ["TAGS"]}),
        )
        .await;
    assert_eq!(
        described.body["tasks"][0]["tags"],
        json!([{"key": "job", "value": "migrate"}])
    );
    let plain = server
        .call("DescribeTasks", json!({"tasks": [task["taskArn"]]}))
        .await;
    assert!(
        plain.body["tasks"][0].get("tags").is_none(),
        "{}",
        plain.text
    );
    assert_eq!(task["tags"], json!([{"key": "job", "value": "migrate"}]));
}

#[tokio::test]
async fn run_task_refuses_what_ecs_refuses_and_changes_nothing() {
    let server = setup().await;
    let refusals = [
        (
            json!({"taskDefinition": "web", "count": 11}),
            "InvalidParameterException",
        ),
        (
            json!({"taskDefinition": "web", "count": 0}),
            "InvalidParameterException",
        ),
        (
            json!({"taskDefinition": "web", "overrides": {"containerOverrides": [{"name": "db"}]}}),
            "InvalidParameterException",
        ),
        (json!({"taskDefinition": "nope"}), "ClientException"),
        (
            json!({"taskDefinition": "web", "cluster": "nope"}),
            "ClusterNotFoundException",
        ),
    ];
    for (body, code) in refusals {
        let answer = server.call("RunTask", body.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            answer.text
        );
        assert_eq!(answer.error_type(), code, "{body}: {}", answer.text);
    }
    assert_eq!(list(&server, json!({})).await, ["a1", "a2", "b1"]);
}

#[tokio::test]
async fn stop_task_wants_the_task_stopped_with_the_users_reason() {
    let server = setup().await;
    let answer = server
        .call("StopTask", json!({"task": "a1", "reason": "maintenance"}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let task = &answer.body["task"];
    assert_eq!(task["desiredStatus"], "STOPPED");
    assert_eq!(task["stopCode"], "UserInitiated");
    assert_eq!(task["stoppedReason"], "maintenance");
    assert!(task["stoppingAt"].is_number());
    assert_eq!(list(&server, json!({"serviceName": "web"})).await, ["a2"]);

    let default = server.call("StopTask", json!({"task": "a2"})).await;
    assert_eq!(
        default.body["task"]["stoppedReason"],
        "Task stopped by user"
    );

    let missing = server.call("StopTask", json!({"task": "zz"})).await;
    assert_eq!(missing.error_type(), "InvalidParameterException");
    assert_eq!(missing.message(), "The referenced task was not found.");
    let elsewhere = server
        .call("StopTask", json!({"task": format!("{ARN}:task/other/c1")}))
        .await;
    assert_eq!(elsewhere.error_type(), "InvalidParameterException");
}

/// RunTask's ARNs as task ids.
fn ids(answer: &Value) -> Vec<String> {
    answer["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            t["taskArn"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_client_token_makes_run_task_idempotent_and_tasks_count_as_pending() {
    let server = setup().await;
    let body = json!({"taskDefinition": "web", "count": 2, "clientToken": "migration-7"});
    let first = server.call("RunTask", body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let again = server.call("RunTask", body).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(ids(&first.body).len(), 2);
    assert_eq!(ids(&first.body), ids(&again.body));
    let other = server
        .call(
            "RunTask",
            json!({"taskDefinition": "web", "clientToken": "migration-8"}),
        )
        .await;
    assert!(!ids(&first.body).contains(&ids(&other.body)[0]));
    let family = list(&server, json!({"startedBy": null, "family": "web"})).await;
    // a1, a2 (the service's), and three run tasks: the retry started none.
    assert_eq!(family.len(), 5, "{family:?}");
    let cluster = server
        .call("DescribeClusters", json!({"clusters": ["default"]}))
        .await;
    assert_eq!(cluster.body["clusters"][0]["pendingTasksCount"], 3);
    let long = server
        .call(
            "RunTask",
            json!({"taskDefinition": "web", "clientToken": "x".repeat(65)}),
        )
        .await;
    assert_eq!(long.error_type(), "InvalidParameterException");
}

#[tokio::test]
async fn run_task_tags_come_from_the_request_the_task_definition_and_ecs() {
    let server = setup().await;
    let registered = server
        .call(
            "RegisterTaskDefinition",
            json!({"family": "jobs", "containerDefinitions": [{"name": "app", "image": "jobs", "memory": 32}],
                   "tags": [{"key": "team", "value": "data"}]}),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
    let ran = server
        .call(
            "RunTask",
            json!({"taskDefinition": "jobs", "propagateTags": "TASK_DEFINITION",
                   "enableECSManagedTags": true, "tags": [{"key": "job", "value": "nightly"}]}),
        )
        .await;
    assert_eq!(ran.status, StatusCode::OK, "{}", ran.text);
    let want = json!([
        {"key": "team", "value": "data"},
        {"key": "job", "value": "nightly"},
        {"key": "aws:ecs:clusterName", "value": "default"},
    ]);
    assert_eq!(ran.body["tasks"][0]["tags"], want);
    let arn = ran.body["tasks"][0]["taskArn"].as_str().unwrap();
    let listed = server
        .call("ListTagsForResource", json!({"resourceArn": arn}))
        .await;
    assert_eq!(listed.body["tags"], want);

    let service = server
        .call(
            "RunTask",
            json!({"taskDefinition": "jobs", "propagateTags": "SERVICE"}),
        )
        .await;
    assert_eq!(service.error_type(), "InvalidParameterException");
}

#[tokio::test]
async fn placement_constraints_are_checked_and_kept_for_the_pod() {
    let server = setup().await;
    let ran = server
        .call(
            "RunTask",
            json!({"taskDefinition": "web", "count": 2, "placementConstraints": [
                {"type": "memberOf", "expression": "attribute:ecs.instance-type =~ t3.*"},
                {"type": "distinctInstance"},
            ], "placementStrategy": [
                {"type": "spread", "field": "attribute:ecs.availability-zone"},
                {"type": "binpack", "field": "memory"},
            ]}),
        )
        .await;
    assert_eq!(ran.status, StatusCode::OK, "{}", ran.text);
    let placements = server.state.store.region("us-east-1").task_placements();
    let mut groups = Vec::new();
    for id in ids(&ran.body) {
        let placement = placements
            .get(("default", id.as_str()))
            .unwrap()
            .unwrap()
            .value;
        // No node here satisfies the expression: the task waits, PENDING, as in ECS.
        assert_eq!(placement.nodes, Some(Vec::new()));
        // The spread is kept for the pod; binpack is not.
        assert_eq!(placement.spread, ["attribute:ecs.availability-zone"]);
        groups.push(placement.distinct.unwrap());
    }
    assert_eq!(groups[0], groups[1], "one distinctInstance group per call");
    let plain = server
        .call("RunTask", json!({"taskDefinition": "web"}))
        .await;
    let id = &ids(&plain.body)[0];
    assert!(placements.get(("default", id.as_str())).unwrap().is_none());

    for bad in [
        json!([{"type": "distinctInstance", "expression": "attribute:a == b"}]),
        json!([{"type": "memberOf"}]),
        json!([{"type": "memberOf", "expression": "attribute:a ~~ b"}]),
    ] {
        let refused = server
            .call(
                "RunTask",
                json!({"taskDefinition": "web", "placementConstraints": bad}),
            )
            .await;
        assert_eq!(refused.error_type(), "InvalidParameterException", "{bad}");
    }
    let family = list(&server, json!({"family": "web"})).await;
    assert_eq!(family.len(), 5, "refused calls started nothing: {family:?}");
}

#[tokio::test]
async fn start_task_needs_instances_with_an_agent() {
    let server = setup().await;
    let registered = server
        .call(
            "RegisterContainerInstance",
            json!({"instanceIdentityDocument": json!({"instanceId": "i-0bbbbbbbbbbbbbbb1"}).to_string()}),
        )
        .await;
    assert_eq!(registered.status, StatusCode::OK, "{}", registered.text);
    let arn = registered.body["containerInstance"]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let started = server
        .call(
            "StartTask",
            json!({"taskDefinition": "web", "containerInstances": [arn, "0123456789abcdef0123456789abcdef"]}),
        )
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    assert_eq!(started.body["tasks"], json!([]));
    let reasons: Vec<&str> = started.body["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["AGENT", "MISSING"]);
    let none = server
        .call(
            "StartTask",
            json!({"taskDefinition": "web", "containerInstances": []}),
        )
        .await;
    assert_eq!(none.error_type(), "InvalidParameterException");
}
