//! What the ECS agent and ECS Exec call: ECS's errors for a cluster without agents, and
//! the `kubectl exec` command instead of an ECS Exec session.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use axum::http::StatusCode;
use kubecs_api_models::Task;
use kubecs_storage::{StoreError, Write};
use serde_json::json;
use support::TestServer;

#[tokio::test]
async fn agent_operations_answer_that_there_is_no_agent() {
    let server = TestServer::new();
    server
        .call("CreateCluster", json!({"clusterName": "default"}))
        .await;
    let poll = server.call("DiscoverPollEndpoint", json!({})).await;
    assert_eq!(poll.status, StatusCode::BAD_REQUEST);
    assert_eq!(poll.error_type(), "ClientException");
    assert!(
        poll.message().contains("no ECS container agent"),
        "{}",
        poll.text
    );
    for op in [
        "SubmitTaskStateChange",
        "SubmitContainerStateChange",
        "SubmitAttachmentStateChanges",
    ] {
        let answer = server.call(op, json!({"attachments": []})).await;
        assert_eq!(
            answer.error_type(),
            "AccessDeniedException",
            "{op}: {}",
            answer.text
        );
    }
    let registered = server
        .call(
            "RegisterContainerInstance",
            json!({"instanceIdentityDocument": json!({"instanceId": "i-0c"}).to_string()}),
        )
        .await;
    let arn = registered.body["containerInstance"]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let update = server
        .call("UpdateContainerAgent", json!({"containerInstance": arn}))
        .await;
    assert_eq!(
        update.error_type(),
        "NoUpdateAvailableException",
        "{}",
        update.text
    );
    let unknown = server
        .call(
            "UpdateContainerAgent",
            json!({"containerInstance": "0123456789abcdef0123456789abcdef"}),
        )
        .await;
    assert_eq!(unknown.error_type(), "InvalidParameterException");
}

/// Puts a task record of cluster `default` as the reconciler would write it.
async fn task(server: &TestServer, id: &str, group: &str, exec: bool, status: &str) {
    let record = Task {
        task_arn: Some(format!(
            "arn:aws:ecs:us-east-1:000000000000:task/default/{id}"
        )),
        group: Some(group.to_owned()),
        last_status: Some(status.to_owned()),
        desired_status: Some("RUNNING".to_owned()),
        enable_execute_command: Some(exec),
        containers: Some(vec![
            kubecs_api_models::Container {
                name: Some("app".to_owned()),
                ..Default::default()
            },
            kubecs_api_models::Container {
                name: Some("sidecar".to_owned()),
                ..Default::default()
            },
        ]),
        ..Task::default()
    };
    let tasks = server.state.store.region("us-east-1").tasks();
    tasks
        .update(("default", id), move |_| {
            Ok::<_, StoreError>((Write::Put(record.clone()), ()))
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn execute_command_answers_the_kubectl_exec_command_after_ecs_checks() {
    let server = TestServer::new();
    server
        .call("CreateCluster", json!({"clusterName": "default"}))
        .await;
    let standalone = "0123456789abcdef0123456789abcdef";
    let of_service = "fedcba9876543210fedcba9876543210";
    task(&server, standalone, "family:app", true, "RUNNING").await;
    task(&server, of_service, "service:web", true, "RUNNING").await;
    task(
        &server,
        "11111111111111111111111111111111",
        "family:app",
        false,
        "RUNNING",
    )
    .await;
    task(
        &server,
        "22222222222222222222222222222222",
        "family:app",
        true,
        "PENDING",
    )
    .await;

    let exec = |task: &str, container: Option<&str>| {
        let mut body = json!({"task": task, "command": "/bin/sh", "interactive": true});
        if let Some(c) = container {
            body["container"] = json!(c);
        }
        server.call("ExecuteCommand", body)
    };
    let answer = exec(standalone, Some("app")).await;
    assert_eq!(
        answer.error_type(),
        "TargetNotConnectedException",
        "{}",
        answer.text
    );
    let message = answer.message();
    assert!(
        message.contains("kubectl exec -it -n ecs-default-"),
        "{message}"
    );
    assert!(
        message.ends_with(&format!(" ecs-task-{standalone} -c app -- /bin/sh")),
        "{message}"
    );
    let answer = exec(of_service, Some("sidecar")).await;
    assert!(
        answer
            .message()
            .contains(r#"@.metadata.uid=="fedcba98-7654-3210-fedc-ba9876543210""#),
        "{}",
        answer.text
    );
    assert!(answer.message().contains("-c sidecar -- /bin/sh"));

    // ECS's checks come first.
    let two = exec(standalone, None).await;
    assert_eq!(two.error_type(), "InvalidParameterException");
    let disabled = exec("11111111111111111111111111111111", Some("app")).await;
    assert!(disabled
        .message()
        .contains("execute command was not enabled"));
    let pending = exec("22222222222222222222222222222222", Some("app")).await;
    assert!(pending.message().contains("RUNNING"));
    let missing = exec("33333333333333333333333333333333", Some("app")).await;
    assert_eq!(missing.error_type(), "InvalidParameterException");
}
