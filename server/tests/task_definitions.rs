//! Task definitions end to end through the router: registration with ECS's additions and
//! validation, describe by family / revision / ARN, deregister and delete, the two
//! listings with their pagination, and concurrent registrations.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use support::TestServer;

const ARN_PREFIX: &str = "arn:aws:ecs:us-east-1:000000000000:task-definition/";

fn container(name: &str) -> Value {
    json!({"name": name, "image": "nginx:1.27", "memory": 256})
}

fn simple(family: &str) -> Value {
    json!({"family": family, "containerDefinitions": [container("web")]})
}

fn fargate(cpu: &str, memory: &str) -> Value {
    json!({
        "family": "fg",
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": cpu,
        "memory": memory,
        "containerDefinitions": [{"name": "app", "image": "nginx"}]
    })
}

async fn register(server: &TestServer, body: Value) -> Value {
    let answer = server.call("RegisterTaskDefinition", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["taskDefinition"].clone()
}

/// Asserts a refusal with this error type and a message containing `message`.
async fn refused(server: &TestServer, op: &str, body: Value, error: &str, message: &str) {
    let answer = server.call(op, body).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert_eq!(answer.error_type(), error, "{}", answer.text);
    assert!(answer.message().contains(message), "{}", answer.text);
}

async fn refused_registration(server: &TestServer, body: Value, error: &str, message: &str) {
    refused(server, "RegisterTaskDefinition", body, error, message).await;
}

async fn describe(server: &TestServer, reference: &str) -> Value {
    let answer = server
        .call(
            "DescribeTaskDefinition",
            json!({"taskDefinition": reference}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["taskDefinition"].clone()
}

async fn deregister(server: &TestServer, reference: &str) -> Value {
    let answer = server
        .call(
            "DeregisterTaskDefinition",
            json!({"taskDefinition": reference}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["taskDefinition"].clone()
}

async fn list(server: &TestServer, body: Value) -> (Vec<String>, Option<String>) {
    let answer = server.call("ListTaskDefinitions", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let arns = answer.body["taskDefinitionArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a.as_str()
                .unwrap()
                .trim_start_matches(ARN_PREFIX)
                .to_owned()
        })
        .collect();
    (arns, answer.body["nextToken"].as_str().map(str::to_owned))
}

async fn families(server: &TestServer, body: Value) -> (Vec<String>, Option<String>) {
    let answer = server.call("ListTaskDefinitionFamilies", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let names = answer.body["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    (names, answer.body["nextToken"].as_str().map(str::to_owned))
}

// --- Registration --------------------------------------------------------------------

#[tokio::test]
async fn register_returns_the_definition_with_what_ecs_adds() {
    let server = TestServer::new();
    let td = register(&server, simple("web")).await;
    assert_eq!(td["taskDefinitionArn"], format!("{ARN_PREFIX}web:1"));
    assert_eq!(td["family"], "web");
    assert_eq!(td["revision"], 1);
    assert_eq!(td["status"], "ACTIVE");
    assert!(td["registeredAt"].is_number(), "{td}");
    assert_eq!(td["registeredBy"], "arn:aws:iam::000000000000:root");
    assert_eq!(td["compatibilities"], json!(["EXTERNAL", "EC2"]));
    assert_eq!(td["volumes"], json!([]));
    assert_eq!(td["placementConstraints"], json!([]));
    let c = &td["containerDefinitions"][0];
    assert_eq!(c["name"], "web");
    assert_eq!(c["image"], "nginx:1.27");
    assert_eq!(c["memory"], 256);
    assert_eq!(c["cpu"], 0);
    assert_eq!(c["essential"], true);
    assert_eq!(c["portMappings"], json!([]));
    assert_eq!(c["environment"], json!([]));
    let text = serde_json::to_string(&td).unwrap();
    assert!(!text.contains("null"), "{text}");
}

#[tokio::test]
async fn every_container_member_given_comes_back_unchanged() {
    let server = TestServer::new();
    let full = json!({
        "name": "app", "image": "repo/app:2", "cpu": 128, "memory": 512,
        "memoryReservation": 256, "essential": true,
        "entryPoint": ["sh", "-c"], "command": ["echo hi"],
        "environment": [{"name": "A", "value": "1"}],
        "secrets": [{"name": "S", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/x"}],
        "dockerLabels": {"team": "core"},
        "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
        "healthCheck": {"command": ["CMD", "true"], "interval": 30, "retries": 3},
        "workingDirectory": "/srv", "user": "1000", "readonlyRootFilesystem": true,
        "linuxParameters": {"initProcessEnabled": true},
        "stopTimeout": 30, "startTimeout": 60, "hostname": "app",
        "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": false}],
        "volumesFrom": [], "links": [], "dnsServers": ["1.1.1.1"],
        "extraHosts": [{"hostname": "db", "ipAddress": "10.0.0.2"}],
        "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
        "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "udp", "name": "p"}],
        "logConfiguration": {"logDriver": "json-file", "options": {"max-size": "10m"}}
    });
    let td = register(
        &server,
        json!({
            "family": "full", "containerDefinitions": [full],
            "volumes": [{"name": "data", "host": {"sourcePath": "/var/data"}}],
            "taskRoleArn": "arn:aws:iam::000000000000:role/task",
            "pidMode": "task", "ipcMode": "none",
        }),
    )
    .await;
    let got = &td["containerDefinitions"][0];
    for (key, value) in full.as_object().unwrap() {
        assert_eq!(&got[key], value, "{key}");
    }
    assert_eq!(td["volumes"][0]["host"]["sourcePath"], "/var/data");
    assert_eq!(td["pidMode"], "task");
    assert_eq!(td["ipcMode"], "none");
}

#[tokio::test]
async fn revisions_count_up_per_family() {
    let server = TestServer::new();
    for expected in 1..=3 {
        assert_eq!(register(&server, simple("a")).await["revision"], expected);
    }
    assert_eq!(register(&server, simple("b")).await["revision"], 1);
}

#[tokio::test]
async fn a_fargate_definition_is_compatible_with_ec2_and_fargate_and_needs_an_eni() {
    let server = TestServer::new();
    let td = register(&server, fargate("256", "512")).await;
    assert_eq!(td["compatibilities"], json!(["EC2", "FARGATE"]));
    assert_eq!(td["requiresCompatibilities"], json!(["FARGATE"]));
    let attributes: Vec<&str> = td["requiresAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        attributes.contains(&"ecs.capability.task-eni"),
        "{attributes:?}"
    );
    assert!(
        attributes.contains(&"com.amazonaws.ecs.capability.docker-remote-api.1.18"),
        "{attributes:?}"
    );
}

#[tokio::test]
async fn an_awsvpc_definition_with_a_fargate_size_is_fargate_compatible_without_asking() {
    let server = TestServer::new();
    let mut body = fargate("1024", "2048");
    body.as_object_mut()
        .unwrap()
        .remove("requiresCompatibilities");
    let td = register(&server, body).await;
    assert_eq!(td["compatibilities"], json!(["EC2", "FARGATE"]));
    let mut body = fargate("1024", "2048");
    body["requiresCompatibilities"] = json!([]);
    body["cpu"] = json!("1000");
    let td = register(&server, body).await;
    assert_eq!(td["compatibilities"], json!(["EC2"]));
}

#[tokio::test]
async fn requires_attributes_follow_log_drivers_roles_and_reservations() {
    let server = TestServer::new();
    let td = register(
        &server,
        json!({
            "family": "attrs",
            "taskRoleArn": "arn:aws:iam::000000000000:role/t",
            "executionRoleArn": "arn:aws:iam::000000000000:role/e",
            "containerDefinitions": [{
                "name": "c", "image": "1.dkr.ecr.us-east-1.amazonaws.com/x:1",
                "memoryReservation": 128,
                "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}}
            }]
        }),
    )
    .await;
    let names: Vec<&str> = td["requiresAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    for wanted in [
        "com.amazonaws.ecs.capability.logging-driver.awslogs",
        "com.amazonaws.ecs.capability.docker-remote-api.1.19",
        "com.amazonaws.ecs.capability.docker-remote-api.1.21",
        "com.amazonaws.ecs.capability.task-iam-role",
        "com.amazonaws.ecs.capability.ecr-auth",
        "ecs.capability.execution-role-awslogs",
        "ecs.capability.execution-role-ecr-pull",
    ] {
        assert!(names.contains(&wanted), "{wanted} not in {names:?}");
    }
}

#[tokio::test]
async fn task_cpu_and_memory_in_units_are_stored_as_numbers() {
    let server = TestServer::new();
    let td = register(&server, fargate("1 vCPU", "2 GB")).await;
    assert_eq!(td["cpu"], "1024");
    assert_eq!(td["memory"], "2048");
    let td = register(&server, fargate("0.25 vcpu", "0.5GB")).await;
    assert_eq!(td["cpu"], "256");
    assert_eq!(td["memory"], "512");
}

#[tokio::test]
async fn unreadable_task_cpu_or_memory_is_an_invalid_parameter() {
    let server = TestServer::new();
    let mut body = simple("x");
    body["cpu"] = json!("lots");
    refused_registration(
        &server,
        body,
        "InvalidParameterException",
        "Invalid 'cpu' setting for task.",
    )
    .await;
    let mut body = simple("x");
    body["memory"] = json!("1 TB");
    refused_registration(
        &server,
        body,
        "InvalidParameterException",
        "Invalid 'memory' setting for task.",
    )
    .await;
    let mut body = simple("x");
    body["cpu"] = json!("64");
    refused_registration(
        &server,
        body,
        "InvalidParameterException",
        "Invalid 'cpu' setting for task.",
    )
    .await;
}

#[tokio::test]
async fn family_names_are_checked() {
    let server = TestServer::new();
    for (family, message) in [
        ("has space", "Family contains invalid characters."),
        ("dot.ted", "Family contains invalid characters."),
        ("", "Family can not be blank."),
        (&"f".repeat(256), "at most 255"),
    ] {
        refused_registration(&server, simple(family), "ClientException", message).await;
    }
    register(&server, simple(&"f".repeat(255))).await;
    refused_registration(
        &server,
        json!({"containerDefinitions": [container("a")]}),
        "InvalidParameterException",
        "family",
    )
    .await;
}

#[tokio::test]
async fn a_definition_needs_containers_with_valid_unique_names() {
    let server = TestServer::new();
    let with = |containers: Value| json!({"family": "f", "containerDefinitions": containers});
    refused_registration(
        &server,
        with(json!([])),
        "ClientException",
        "Container list cannot be empty.",
    )
    .await;
    refused_registration(
        &server,
        with(json!([{"image": "x", "memory": 1}])),
        "ClientException",
        "Container.name should not be null or empty.",
    )
    .await;
    refused_registration(
        &server,
        with(json!([container("bad name")])),
        "ClientException",
        "Container.name contains invalid characters.",
    )
    .await;
    refused_registration(
        &server,
        with(json!([container("a"), container("a")])),
        "ClientException",
        "Container names must be unique within a Task Definition.",
    )
    .await;
}

#[tokio::test]
async fn at_least_one_container_must_be_essential_and_essential_defaults_to_true() {
    let server = TestServer::new();
    let mut sidecar = container("side");
    sidecar["essential"] = json!(false);
    let mut other = container("other");
    other["essential"] = json!(false);
    refused_registration(
        &server,
        json!({"family": "f", "containerDefinitions": [sidecar.clone(), other]}),
        "ClientException",
        "Task definition doesn't have any essential container.",
    )
    .await;
    register(
        &server,
        json!({"family": "f", "containerDefinitions": [sidecar, container("main")]}),
    )
    .await;
}

#[tokio::test]
async fn each_container_needs_memory_unless_the_task_has_it() {
    let server = TestServer::new();
    let bare = json!({"name": "c", "image": "x"});
    refused_registration(
        &server,
        json!({"family": "f", "containerDefinitions": [bare.clone()]}),
        "ClientException",
        "Invalid setting for container 'c'. At least one of 'memory' or 'memoryReservation' must be specified.",
    )
    .await;
    register(
        &server,
        json!({"family": "f", "memory": "512", "containerDefinitions": [bare]}),
    )
    .await;
    register(
        &server,
        json!({"family": "f", "containerDefinitions": [{"name": "c", "image": "x", "memoryReservation": 64}]}),
    )
    .await;
}

#[tokio::test]
async fn memory_reservation_may_not_exceed_memory_nor_container_memory_the_task() {
    let server = TestServer::new();
    refused_registration(
        &server,
        json!({"family": "f", "containerDefinitions": [{"name": "c", "image": "x", "memory": 128, "memoryReservation": 256}]}),
        "ClientException",
        "'memoryReservation' must be less than or equal to 'memory'",
    )
    .await;
    register(
        &server,
        json!({"family": "f", "containerDefinitions": [{"name": "c", "image": "x", "memory": 128, "memoryReservation": 128}]}),
    )
    .await;
    refused_registration(
        &server,
        json!({"family": "f", "memory": "512", "containerDefinitions": [{"name": "c", "image": "x", "memory": 1024}]}),
        "ClientException",
        "The 'memory' setting for container 'c' is greater than for the task.",
    )
    .await;
}

#[tokio::test]
async fn fargate_requires_awsvpc() {
    let server = TestServer::new();
    let mut body = fargate("256", "512");
    body["networkMode"] = json!("bridge");
    refused_registration(
        &server,
        body,
        "ClientException",
        "Fargate only supports network mode \u{2018}awsvpc\u{2019}.",
    )
    .await;
    let mut body = fargate("256", "512");
    body.as_object_mut().unwrap().remove("networkMode");
    refused_registration(
        &server,
        body,
        "ClientException",
        "Fargate only supports network mode",
    )
    .await;
}

#[tokio::test]
async fn fargate_requires_task_cpu_and_memory() {
    let server = TestServer::new();
    let mut body = fargate("256", "512");
    body.as_object_mut().unwrap().remove("cpu");
    refused_registration(
        &server,
        body,
        "ClientException",
        "Fargate requires that 'cpu' be defined at the task level.",
    )
    .await;
    let mut body = fargate("256", "512");
    body.as_object_mut().unwrap().remove("memory");
    refused_registration(
        &server,
        body,
        "ClientException",
        "Fargate requires that 'memory' be defined at the task level.",
    )
    .await;
}

#[tokio::test]
async fn fargate_accepts_only_its_cpu_and_memory_combinations() {
    let server = TestServer::new();
    for (cpu, memory) in [
        ("256", "512"),
        ("512", "4096"),
        ("4096", "30720"),
        ("8 vCPU", "60 GB"),
        ("16384", "122880"),
    ] {
        register(&server, fargate(cpu, memory)).await;
    }
    refused_registration(
        &server,
        fargate("512", "512"),
        "ClientException",
        "No Fargate configuration exists for given values: 512 CPU, 512 memory. See the Amazon ECS documentation for the valid values.",
    )
    .await;
    for (cpu, memory) in [("256", "3072"), ("8192", "17408"), ("300", "1024")] {
        refused_registration(
            &server,
            fargate(cpu, memory),
            "ClientException",
            "No Fargate configuration exists",
        )
        .await;
    }
}

fn with_ports(mode: &str, mappings: Value) -> Value {
    json!({
        "family": "ports", "networkMode": mode,
        "containerDefinitions": [{"name": "c", "image": "x", "memory": 64, "portMappings": mappings}]
    })
}

#[tokio::test]
async fn in_awsvpc_and_host_mode_the_host_port_is_the_container_port() {
    let server = TestServer::new();
    for mode in ["awsvpc", "host"] {
        refused_registration(
            &server,
            with_ports(mode, json!([{"containerPort": 80, "hostPort": 8080}])),
            "ClientException",
            &format!("When networkMode={mode}, the host ports and container ports in port mappings must match."),
        )
        .await;
        let td = register(&server, with_ports(mode, json!([{"containerPort": 80}]))).await;
        assert_eq!(
            td["containerDefinitions"][0]["portMappings"],
            json!([{"containerPort": 80, "hostPort": 80, "protocol": "tcp"}]),
            "{mode}"
        );
        register(
            &server,
            with_ports(mode, json!([{"containerPort": 80, "hostPort": 80}])),
        )
        .await;
    }
}

#[tokio::test]
async fn in_bridge_mode_any_host_port_is_allowed_and_left_as_given() {
    let server = TestServer::new();
    let td = register(
        &server,
        with_ports(
            "bridge",
            json!([{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}]),
        ),
    )
    .await;
    assert_eq!(
        td["containerDefinitions"][0]["portMappings"],
        json!([
            {"containerPort": 80, "hostPort": 8080, "protocol": "tcp"},
            {"containerPort": 81, "protocol": "tcp"}
        ])
    );
}

#[tokio::test]
async fn port_mappings_need_a_valid_container_port_and_distinct_host_ports() {
    let server = TestServer::new();
    for bad in [json!([{"hostPort": 80}]), json!([{"containerPort": 70000}])] {
        refused_registration(
            &server,
            with_ports("bridge", bad),
            "ClientException",
            "Invalid 'containerPort' setting for container 'c'.",
        )
        .await;
    }
    refused_registration(
        &server,
        with_ports("bridge", json!([{"containerPort": 80, "hostPort": 3000}, {"containerPort": 81, "hostPort": 3000}])),
        "ClientException",
        "TCP host port '3000' is mapped multiple times in task.",
    )
    .await;
    // The same port over udp and tcp is two mappings.
    register(
        &server,
        with_ports(
            "awsvpc",
            json!([{"containerPort": 53, "protocol": "udp"}, {"containerPort": 53}]),
        ),
    )
    .await;
}

#[tokio::test]
async fn tags_are_checked_stored_and_returned() {
    let server = TestServer::new();
    let tags = json!([{"key": "team", "value": "core"}]);
    let mut body = simple("tagged");
    body["tags"] = tags.clone();
    let answer = server.call("RegisterTaskDefinition", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.body["tags"], tags);
    let described = server
        .call(
            "DescribeTaskDefinition",
            json!({"taskDefinition": "tagged:1", "include": ["TAGS"]}),
        )
        .await;
    assert_eq!(described.body["tags"], tags);
    let untagged = server
        .call(
            "DescribeTaskDefinition",
            json!({"taskDefinition": "tagged:1"}),
        )
        .await;
    assert!(untagged.body.get("tags").is_none(), "{}", untagged.text);
    let stored = server
        .state
        .store
        .region("us-east-1")
        .tags()
        .get(format!("{ARN_PREFIX}tagged:1").as_str())
        .unwrap()
        .unwrap();
    assert_eq!(stored.value.len(), 1);
    // The tagging operations see them under the revision's ARN.
    let listed = server
        .call(
            "ListTagsForResource",
            json!({"resourceArn": format!("{ARN_PREFIX}tagged:1")}),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(listed.body["tags"], tags);
}

#[tokio::test]
async fn tag_rules_refuse_the_registration_and_nothing_is_stored() {
    let server = TestServer::new();
    let cases = [
        (json!([{"key": "aws:owner", "value": "x"}]), "aws:"),
        (json!([{"key": "k".repeat(129), "value": "x"}]), "key"),
        (json!([{"key": "k", "value": "v".repeat(257)}]), "value"),
        (
            Value::Array(
                (0..51)
                    .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
                    .collect(),
            ),
            "tags",
        ),
    ];
    for (tags, message) in cases {
        let mut body = simple("t");
        body["tags"] = tags;
        refused_registration(&server, body, "InvalidParameterException", message).await;
    }
    let (names, _) = families(&server, json!({})).await;
    assert!(names.is_empty(), "{names:?}");
}

#[tokio::test]
async fn a_refused_registration_does_not_use_up_a_revision() {
    let server = TestServer::new();
    register(&server, simple("r")).await;
    refused_registration(
        &server,
        json!({"family": "r", "containerDefinitions": []}),
        "ClientException",
        "Container list cannot be empty.",
    )
    .await;
    assert_eq!(register(&server, simple("r")).await["revision"], 2);
}

// --- Describe ---------------------------------------------------------------------------

#[tokio::test]
async fn describe_by_family_revision_or_arn() {
    let server = TestServer::new();
    let first = register(&server, simple("d")).await;
    let second = register(&server, simple("d")).await;
    assert_eq!(describe(&server, "d").await, second);
    assert_eq!(describe(&server, "d:1").await, first);
    assert_eq!(describe(&server, &format!("{ARN_PREFIX}d:2")).await, second);
}

#[tokio::test]
async fn describing_an_unknown_task_definition_is_a_client_exception() {
    let server = TestServer::new();
    register(&server, simple("known")).await;
    for reference in [
        "unknown",
        "unknown:1",
        "known:2",
        &format!("{ARN_PREFIX}unknown:1"),
    ] {
        refused(
            &server,
            "DescribeTaskDefinition",
            json!({"taskDefinition": reference}),
            "ClientException",
            "Unable to describe task definition.",
        )
        .await;
    }
    refused(
        &server,
        "DescribeTaskDefinition",
        json!({"taskDefinition": "known:zero"}),
        "ClientException",
        "Invalid revision number",
    )
    .await;
}

// --- Deregister and delete --------------------------------------------------------------

#[tokio::test]
async fn deregister_makes_a_revision_inactive_and_the_family_resolves_to_the_latest_active() {
    let server = TestServer::new();
    register(&server, simple("g")).await;
    register(&server, simple("g")).await;
    let td = deregister(&server, "g:2").await;
    assert_eq!(td["status"], "INACTIVE");
    assert!(td["deregisteredAt"].is_number(), "{td}");
    assert_eq!(describe(&server, "g:2").await["status"], "INACTIVE");
    assert_eq!(describe(&server, "g").await["revision"], 1);
    deregister(&server, &format!("{ARN_PREFIX}g:1")).await;
    refused(
        &server,
        "DescribeTaskDefinition",
        json!({"taskDefinition": "g"}),
        "ClientException",
        "Unable to describe task definition.",
    )
    .await;
}

#[tokio::test]
async fn deregister_needs_an_existing_active_revision() {
    let server = TestServer::new();
    register(&server, simple("h")).await;
    let cases = [
        ("h", "a revision is required"),
        ("h:9", "does not exist"),
        ("nope:1", "does not exist"),
    ];
    for (reference, message) in cases {
        refused(
            &server,
            "DeregisterTaskDefinition",
            json!({"taskDefinition": reference}),
            "ClientException",
            message,
        )
        .await;
    }
    deregister(&server, "h:1").await;
    refused(
        &server,
        "DeregisterTaskDefinition",
        json!({"taskDefinition": "h:1"}),
        "ClientException",
        "TaskDefinition is inactive",
    )
    .await;
}

#[tokio::test]
async fn delete_moves_inactive_revisions_to_delete_in_progress_and_reports_the_rest() {
    let server = TestServer::new();
    register(&server, simple("k")).await;
    register(&server, simple("k")).await;
    deregister(&server, "k:1").await;
    let answer = server
        .call(
            "DeleteTaskDefinitions",
            json!({"taskDefinitions": ["k:1", "k:2", "k:7", "k"]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let deleted = answer.body["taskDefinitions"].as_array().unwrap();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["status"], "DELETE_IN_PROGRESS");
    assert!(deleted[0]["deleteRequestedAt"].is_number());
    let failures = answer.body["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert_eq!(failures[0]["arn"], "k:2");
    assert!(failures[0]["reason"]
        .as_str()
        .unwrap()
        .contains("ACTIVE status"));
    assert_eq!(failures[1]["arn"], "k:7");
    assert!(failures[1]["reason"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    assert_eq!(failures[2]["arn"], "k");
    assert_eq!(
        describe(&server, "k:1").await["status"],
        "DELETE_IN_PROGRESS"
    );
    assert_eq!(describe(&server, "k:2").await["status"], "ACTIVE");
    // A deleted revision's number is never handed out again.
    assert_eq!(register(&server, simple("k")).await["revision"], 3);
}

#[tokio::test]
async fn delete_takes_one_to_ten_task_definitions() {
    let server = TestServer::new();
    let eleven: Vec<String> = (1..=11).map(|i| format!("x:{i}")).collect();
    for list in [json!(eleven), json!([])] {
        refused(
            &server,
            "DeleteTaskDefinitions",
            json!({"taskDefinitions": list}),
            "InvalidParameterException",
            "between 1 and 10",
        )
        .await;
    }
}

// --- Listings ---------------------------------------------------------------------------

#[tokio::test]
async fn list_orders_by_family_then_revision_and_sorts_either_way() {
    let server = TestServer::new();
    for family in ["b", "a", "b", "a", "c"] {
        register(&server, simple(family)).await;
    }
    let (asc, token) = list(&server, json!({})).await;
    assert_eq!(asc, ["a:1", "a:2", "b:1", "b:2", "c:1"]);
    assert!(token.is_none());
    let (desc, _) = list(&server, json!({"sort": "DESC"})).await;
    assert_eq!(desc, ["c:1", "b:2", "b:1", "a:2", "a:1"]);
}

#[tokio::test]
async fn list_family_prefix_is_the_exact_family_and_status_filters() {
    let server = TestServer::new();
    for family in ["app", "app", "apple"] {
        register(&server, simple(family)).await;
    }
    deregister(&server, "app:1").await;
    let (arns, _) = list(&server, json!({"familyPrefix": "app"})).await;
    assert_eq!(arns, ["app:2"]);
    let (arns, _) = list(
        &server,
        json!({"familyPrefix": "app", "status": "INACTIVE"}),
    )
    .await;
    assert_eq!(arns, ["app:1"]);
    server
        .call(
            "DeleteTaskDefinitions",
            json!({"taskDefinitions": ["app:1"]}),
        )
        .await;
    let (arns, _) = list(&server, json!({"status": "DELETE_IN_PROGRESS"})).await;
    assert_eq!(arns, ["app:1"]);
    let (arns, _) = list(&server, json!({"status": "INACTIVE"})).await;
    assert!(arns.is_empty());
}

#[tokio::test]
async fn list_pages_with_an_opaque_token_and_refuses_bad_tokens_and_sizes() {
    let server = TestServer::new();
    for _ in 0..5 {
        register(&server, simple("p")).await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"maxResults": 2});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let (arns, next) = list(&server, body).await;
        seen.extend(arns);
        token = next;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["p:1", "p:2", "p:3", "p:4", "p:5"]);
    for bad in [
        json!({"nextToken": "garbage"}),
        json!({"maxResults": 0}),
        json!({"maxResults": 101}),
    ] {
        let answer = server.call("ListTaskDefinitions", bad).await;
        assert_eq!(
            answer.error_type(),
            "InvalidParameterException",
            "{}",
            answer.text
        );
    }
    // A token of the other listing is refused too.
    let (_, families_token) = families(&server, json!({"maxResults": 1})).await;
    assert!(families_token.is_none());
    register(&server, simple("q")).await;
    let (_, families_token) = families(&server, json!({"maxResults": 1})).await;
    let answer = server
        .call(
            "ListTaskDefinitions",
            json!({"nextToken": families_token.unwrap()}),
        )
        .await;
    assert_eq!(
        answer.error_type(),
        "InvalidParameterException",
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn families_filter_by_prefix_and_status_and_default_to_all() {
    let server = TestServer::new();
    for family in ["web", "web-api", "worker", "db"] {
        register(&server, simple(family)).await;
    }
    deregister(&server, "worker:1").await;
    let (all, _) = families(&server, json!({})).await;
    assert_eq!(all, ["db", "web", "web-api", "worker"]);
    let (w, _) = families(&server, json!({"familyPrefix": "w"})).await;
    assert_eq!(w, ["web", "web-api", "worker"]);
    let (active, _) = families(&server, json!({"status": "ACTIVE"})).await;
    assert_eq!(active, ["db", "web", "web-api"]);
    let (inactive, _) = families(&server, json!({"status": "INACTIVE"})).await;
    assert_eq!(inactive, ["worker"]);
    let (first, token) = families(&server, json!({"maxResults": 3})).await;
    assert_eq!(first, ["db", "web", "web-api"]);
    let (rest, token) = families(
        &server,
        json!({"maxResults": 3, "nextToken": token.unwrap()}),
    )
    .await;
    assert_eq!(rest, ["worker"]);
    assert!(token.is_none());
}

// --- Concurrency and durability ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_of_one_family_get_revisions_one_to_thirty_two() {
    let server = Arc::new(TestServer::new());
    let mut handles = Vec::new();
    for i in 0..32 {
        let server = server.clone();
        handles.push(tokio::spawn(async move {
            let mut body = simple("race");
            body["containerDefinitions"][0]["image"] = json!(format!("img:{i}"));
            let td = register(&server, body).await;
            (td["revision"].as_u64().unwrap(), i)
        }));
    }
    let mut revisions = Vec::new();
    for handle in handles {
        let (revision, i) = handle.await.unwrap();
        let td = describe(&server, &format!("race:{revision}")).await;
        assert_eq!(td["containerDefinitions"][0]["image"], format!("img:{i}"));
        revisions.push(revision);
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (1..=32).collect::<Vec<u64>>());
}

#[tokio::test]
async fn task_definitions_survive_a_restart() {
    let server = TestServer::new();
    let td = register(&server, simple("keep")).await;
    deregister(&server, "keep:1").await;
    register(&server, simple("keep")).await;
    let server = server.restart();
    let mut expected = td;
    expected["status"] = json!("INACTIVE");
    let got = describe(&server, "keep:1").await;
    assert!(got["deregisteredAt"].is_number());
    expected["deregisteredAt"] = got["deregisteredAt"].clone();
    assert_eq!(got, expected);
    assert_eq!(register(&server, simple("keep")).await["revision"], 3);
}

#[tokio::test]
async fn a_container_needs_an_image_and_positive_memory() {
    let server = TestServer::new();
    refused_registration(
        &server,
        json!({"family": "f", "containerDefinitions": [{"name": "c", "memory": 64}]}),
        "ClientException",
        "Container.image should not be null or empty.",
    )
    .await;
    for (member, value) in [("memory", 0), ("memory", -5), ("memoryReservation", 0)] {
        let mut c = json!({"name": "c", "image": "nginx", "memory": 64});
        c[member] = json!(value);
        refused_registration(
            &server,
            json!({"family": "f", "containerDefinitions": [c]}),
            "ClientException",
            &format!("Invalid '{member}' setting for container 'c'."),
        )
        .await;
    }
    let (listed, _) = families(&server, json!({})).await;
    assert!(listed.is_empty(), "{listed:?}");
}

// --- ECS's size and count limits --------------------------------------------------------

/// Asserts a refusal with exactly this error type and message.
async fn refused_exactly(server: &TestServer, body: Value, error: &str, message: &str) {
    let answer = server.call("RegisterTaskDefinition", body).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert_eq!(answer.error_type(), error, "{}", answer.text);
    assert_eq!(answer.message(), message);
}

/// A definition of `family` with one container `c`, changed by `change`.
fn one_container(family: &str, change: impl FnOnce(&mut Value)) -> Value {
    let mut c = container("c");
    change(&mut c);
    json!({"family": family, "containerDefinitions": [c]})
}

/// Registers every `accepted` body (each must succeed), then sends every `refused` one
/// (each must fail with its exact ClientException message); afterwards the family holds
/// only the accepted revisions and its next revision follows them: nothing refused was
/// stored or used up a revision number.
async fn limit_holds(
    server: &TestServer,
    family: &str,
    accepted: Vec<Value>,
    refused: Vec<(Value, String)>,
) {
    let count = accepted.len();
    for body in accepted {
        register(server, body).await;
    }
    for (body, message) in refused {
        refused_exactly(server, body, "ClientException", &message).await;
    }
    let (arns, _) = list(server, json!({"familyPrefix": family})).await;
    let expected: Vec<String> = (1..=count).map(|r| format!("{family}:{r}")).collect();
    assert_eq!(arns, expected);
    let next = register(server, simple(family)).await;
    assert_eq!(next["revision"], count + 1);
}

/// `simple(family)` with one environment variable whose value makes the definition
/// (without its tags) exactly `bytes` long as compact JSON, as kubecs measures it.
fn definition_of_size(family: &str, bytes: usize) -> Value {
    let mut body = one_container(family, |c| {
        c["environment"] = json!([{"name": "E", "value": ""}]);
    });
    let fill = bytes - serde_json::to_string(&body).unwrap().len();
    body["containerDefinitions"][0]["environment"][0]["value"] = json!("v".repeat(fill));
    body["tags"] = json!([{"key": "tags", "value": "do not count".repeat(20)}]);
    body
}

#[tokio::test]
async fn a_task_definition_of_64_kib_is_registered_and_one_byte_more_is_refused() {
    let server = TestServer::new();
    limit_holds(
        &server,
        "size",
        vec![definition_of_size("size", 65_536)],
        vec![(
            definition_of_size("size", 65_537),
            "Actual length: '65537'. Max allowed length is '65536' bytes.".to_owned(),
        )],
    )
    .await;
    let stored = describe(&server, "size:1").await;
    let value = stored["containerDefinitions"][0]["environment"][0]["value"]
        .as_str()
        .unwrap();
    assert!(value.len() > 65_000, "{}", value.len());
}

#[tokio::test]
async fn a_megabyte_environment_value_or_image_name_is_refused_and_nothing_is_stored() {
    let server = TestServer::new();
    let megabyte = "x".repeat(1_000_000);
    let big_env = one_container("issue", |c| {
        c["environment"] = json!([{"name": "BIG", "value": megabyte}]);
    });
    let size = serde_json::to_string(&big_env).unwrap().len();
    let big_image = one_container("issue", |c| c["image"] = json!(megabyte));
    refused_exactly(
        &server,
        big_env,
        "ClientException",
        &format!("Actual length: '{size}'. Max allowed length is '65536' bytes."),
    )
    .await;
    refused_exactly(
        &server,
        big_image,
        "ClientException",
        "Container.image should be 255 characters or less",
    )
    .await;
    let (names, _) = families(&server, json!({})).await;
    assert!(names.is_empty(), "{names:?}");
    assert_eq!(register(&server, simple("issue")).await["revision"], 1);
}

#[tokio::test]
async fn image_names_up_to_255_characters_are_registered_and_longer_ones_are_refused() {
    let server = TestServer::new();
    let image = |text: String| one_container("img", |c| c["image"] = json!(text));
    let digest = format!("{}@sha256:{}", "r".repeat(255), "a".repeat(64));
    limit_holds(
        &server,
        "img",
        vec![image("i".repeat(255)), image(digest)],
        vec![(
            image("i".repeat(256)),
            "Container.image should be 255 characters or less".to_owned(),
        )],
    )
    .await;
}

#[tokio::test]
async fn ten_containers_are_registered_and_eleven_are_refused() {
    let server = TestServer::new();
    let with = |n: usize| {
        let containers: Vec<Value> = (0..n).map(|i| container(&format!("c{i}"))).collect();
        json!({"family": "many", "containerDefinitions": containers})
    };
    limit_holds(
        &server,
        "many",
        vec![with(10)],
        vec![(with(11), "Too many containers.".to_owned())],
    )
    .await;
}

#[tokio::test]
async fn container_and_volume_names_are_limited_to_255_name_characters() {
    let server = TestServer::new();
    let named = |name: String| one_container("names", |c| c["name"] = json!(name));
    let volume = |name: String| {
        let mut body = simple("names");
        body["volumes"] = json!([{"name": name, "host": {"sourcePath": "/data"}}]);
        body
    };
    let bad_volume = "volume.name contains invalid characters.".to_owned();
    limit_holds(
        &server,
        "names",
        vec![named("n".repeat(255)), volume("v".repeat(255))],
        vec![
            (
                named("n".repeat(256)),
                "Container.name contains invalid characters.".to_owned(),
            ),
            (volume("v".repeat(256)), bad_volume.clone()),
            (volume("dot.ted".to_owned()), bad_volume),
        ],
    )
    .await;
}

#[tokio::test]
async fn environment_files_port_names_and_placement_constraints_have_their_limits() {
    let server = TestServer::new();
    let env_files = |n: usize| {
        one_container("lists", |c| {
            c["environmentFiles"] = (0..n)
                .map(|i| json!({"type": "s3", "value": format!("arn:aws:s3:::b/{i}.env")}))
                .collect();
        })
    };
    let port_name = |len: usize| {
        one_container("lists", |c| {
            c["portMappings"] = json!([{"containerPort": 80, "name": "p".repeat(len)}]);
        })
    };
    let constraints = |n: usize| {
        let mut body = simple("lists");
        body["placementConstraints"] = (0..n)
            .map(|i| json!({"type": "memberOf", "expression": format!("attribute:a{i} exists")}))
            .collect();
        body
    };
    limit_holds(
        &server,
        "lists",
        vec![env_files(10), port_name(64), constraints(10)],
        vec![
            (
                env_files(11),
                "Invalid setting for container 'c'. At most 10 'environmentFiles' may be specified.".to_owned(),
            ),
            (
                port_name(65),
                "Invalid port mapping name for container 'c': it can have at most 64 characters.".to_owned(),
            ),
            (
                constraints(11),
                "Too many placement constraints: a task definition can have at most 10.".to_owned(),
            ),
        ],
    )
    .await;
}
