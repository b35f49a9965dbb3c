//! The ECS Daemons API through the router: daemon task definitions, daemons, their
//! revisions and deployments as the API records them. (Running them is the reconciler's
//! business: `cluster_reconciler`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use support::TestServer;

const ACCOUNT: &str = "arn:aws:ecs:us-east-1:000000000000";
const ASG: &str =
    "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/edge";

fn agent_definition(image: &str) -> Value {
    json!({"family": "monitoring-agent", "cpu": "256", "memory": "128",
           "containerDefinitions": [{"name": "agent", "image": image, "memory": 64,
                                      "command": ["run"]}],
           "tags": [{"key": "team", "value": "ops"}]})
}

/// A cluster with an Auto Scaling group provider `edge` associated, and revision 1 of
/// the `monitoring-agent` daemon task definition.
async fn setup() -> TestServer {
    let server = TestServer::new();
    server
        .ok("CreateCluster", json!({"clusterName": "prod"}))
        .await;
    server
        .ok(
            "CreateCapacityProvider",
            json!({"name": "edge", "autoScalingGroupProvider": {"autoScalingGroupArn": ASG}}),
        )
        .await;
    server
        .ok(
            "PutClusterCapacityProviders",
            json!({"cluster": "prod", "capacityProviders": ["edge"],
                   "defaultCapacityProviderStrategy": []}),
        )
        .await;
    server
        .ok("RegisterDaemonTaskDefinition", agent_definition("agent:1"))
        .await;
    server
}

fn create_body(name: &str, td: &str) -> Value {
    json!({"daemonName": name, "clusterArn": format!("{ACCOUNT}:cluster/prod"),
           "daemonTaskDefinitionArn": td,
           "capacityProviderArns": [format!("{ACCOUNT}:capacity-provider/edge")],
           "deploymentConfiguration": {"drainPercent": 25.0, "bakeTimeInMinutes": 0},
           "tags": [{"key": "env", "value": "prod"}]})
}

#[tokio::test]
async fn daemon_task_definitions_are_revisions_with_ecs_arns_statuses_and_listings() {
    let server = setup().await;
    let second = server
        .ok("RegisterDaemonTaskDefinition", agent_definition("agent:2"))
        .await;
    let arn2 = format!("{ACCOUNT}:daemon-task-definition/monitoring-agent:2");
    assert_eq!(second, json!({"daemonTaskDefinitionArn": arn2}));

    // A bare family is its latest ACTIVE revision.
    let described = server
        .ok(
            "DescribeDaemonTaskDefinition",
            json!({"daemonTaskDefinition": "monitoring-agent"}),
        )
        .await;
    let td = &described["daemonTaskDefinition"];
    assert_eq!(td["daemonTaskDefinitionArn"], arn2);
    assert_eq!(td["revision"], 2);
    assert_eq!(td["status"], "ACTIVE");
    assert_eq!(td["containerDefinitions"][0]["image"], "agent:2");
    assert_eq!(td["cpu"], "256");
    assert!(td["registeredAt"].is_number());
    assert!(td["registeredBy"].is_string());
    let tags = server
        .ok("ListTagsForResource", json!({"resourceArn": arn2}))
        .await;
    assert_eq!(tags["tags"], json!([{"key": "team", "value": "ops"}]));

    let deleted = server
        .ok(
            "DeleteDaemonTaskDefinition",
            json!({"daemonTaskDefinition": "monitoring-agent:2"}),
        )
        .await;
    assert_eq!(deleted["daemonTaskDefinitionArn"], arn2);
    let again = server
        .call(
            "DeleteDaemonTaskDefinition",
            json!({"daemonTaskDefinition": arn2}),
        )
        .await;
    assert_eq!(again.error_type(), "ClientException");
    assert!(again.message().contains("being deleted"), "{}", again.text);
    // Still describable; the family now means revision 1.
    let gone = server
        .ok(
            "DescribeDaemonTaskDefinition",
            json!({"daemonTaskDefinition": arn2}),
        )
        .await;
    assert_eq!(gone["daemonTaskDefinition"]["status"], "DELETED");
    assert!(gone["daemonTaskDefinition"]["deleteRequestedAt"].is_number());
    let latest = server
        .ok(
            "DescribeDaemonTaskDefinition",
            json!({"daemonTaskDefinition": "monitoring-agent"}),
        )
        .await;
    assert_eq!(latest["daemonTaskDefinition"]["revision"], 1);

    // Listing: ACTIVE by default, ALL includes the deleted one, DESC reverses.
    server
        .ok(
            "RegisterDaemonTaskDefinition",
            json!({"family": "log-router", "containerDefinitions": [{"name": "fluent", "image": "fluent-bit", "memory": 32}]}),
        )
        .await;
    let arns = |v: &Value| -> Vec<String> {
        v["daemonTaskDefinitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s["arn"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let active = server.ok("ListDaemonTaskDefinitions", json!({})).await;
    assert_eq!(arns(&active), ["log-router:1", "monitoring-agent:1"]);
    let all = server
        .ok(
            "ListDaemonTaskDefinitions",
            json!({"status": "ALL", "sort": "DESC"}),
        )
        .await;
    assert_eq!(
        arns(&all),
        ["monitoring-agent:2", "monitoring-agent:1", "log-router:1"]
    );
    let prefixed = server
        .ok(
            "ListDaemonTaskDefinitions",
            json!({"familyPrefix": "monitor", "status": "ALL", "revision": "LAST_REGISTERED"}),
        )
        .await;
    assert_eq!(arns(&prefixed), ["monitoring-agent:2"]);
    let family = server
        .ok(
            "ListDaemonTaskDefinitions",
            json!({"family": "monitoring-agent", "status": "ALL"}),
        )
        .await;
    assert_eq!(arns(&family), ["monitoring-agent:1", "monitoring-agent:2"]);
    // `family` is exact: a prefix of a family names none.
    let partial = server
        .ok("ListDaemonTaskDefinitions", json!({"family": "monitoring"}))
        .await;
    assert_eq!(arns(&partial), Vec::<String>::new());
    let first = server
        .ok(
            "ListDaemonTaskDefinitions",
            json!({"status": "ALL", "maxResults": 2}),
        )
        .await;
    assert_eq!(arns(&first).len(), 2);
    let rest = server
        .ok(
            "ListDaemonTaskDefinitions",
            json!({"status": "ALL", "maxResults": 2, "nextToken": first["nextToken"]}),
        )
        .await;
    assert_eq!(arns(&rest), ["monitoring-agent:2"]);
    assert!(rest.get("nextToken").is_none());
}

#[tokio::test]
async fn a_daemon_task_definition_is_checked_as_a_task_definition_and_refusals_store_nothing() {
    let server = setup().await;
    for (body, code) in [
        (
            json!({"family": "bad family", "containerDefinitions": [{"name": "a", "image": "a", "memory": 32}]}),
            "ClientException",
        ),
        (
            json!({"family": "agent", "containerDefinitions": [{"name": "a", "image": "a", "memory": 32},
                                                            {"name": "a", "image": "b", "memory": 32}]}),
            "ClientException",
        ),
        (
            json!({"family": "agent", "containerDefinitions": [{"name": "a", "image": "a", "memory": 32}],
                   "memory": "lots"}),
            "InvalidParameterException",
        ),
    ] {
        let refused = server
            .call("RegisterDaemonTaskDefinition", body.clone())
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(refused.error_type(), code, "{body}: {}", refused.text);
    }
    let listed = server
        .ok(
            "ListDaemonTaskDefinitions",
            json!({"familyPrefix": "agent"}),
        )
        .await;
    assert_eq!(listed["daemonTaskDefinitions"], json!([]));
    let missing = server
        .call(
            "DescribeDaemonTaskDefinition",
            json!({"daemonTaskDefinition": "agent:7"}),
        )
        .await;
    assert_eq!(missing.error_type(), "ClientException");
    assert!(missing.message().contains("not found"));
}

#[tokio::test]
async fn a_daemon_records_its_revision_and_deployment_and_is_described_and_listed() {
    let server = setup().await;
    let td = format!("{ACCOUNT}:daemon-task-definition/monitoring-agent:1");
    let created = server.ok("CreateDaemon", create_body("agent", &td)).await;
    let daemon_arn = format!("{ACCOUNT}:daemon/prod/agent");
    assert_eq!(created["daemonArn"], daemon_arn);
    assert_eq!(created["status"], "ACTIVE");
    assert!(created["createdAt"].is_number());
    let deployment_arn = created["deploymentArn"].as_str().unwrap().to_owned();
    let id = deployment_arn
        .strip_prefix(&format!("{ACCOUNT}:daemon-deployment/prod/agent/"))
        .expect("a daemon deployment ARN");
    assert_eq!(id.len(), 16);

    let described = server
        .ok("DescribeDaemon", json!({"daemonArn": daemon_arn}))
        .await;
    let daemon = &described["daemon"];
    assert_eq!(daemon["clusterArn"], format!("{ACCOUNT}:cluster/prod"));
    assert_eq!(daemon["deploymentArn"], deployment_arn);
    let revision = &daemon["currentRevisions"][0];
    let revision_arn = revision["arn"].as_str().unwrap().to_owned();
    assert!(revision_arn.starts_with(&format!("{ACCOUNT}:daemon-revision/prod/agent/")));
    // Nothing runs without a cluster.
    assert_eq!(revision["totalRunningCount"], 0);
    assert_eq!(
        revision["capacityProviders"],
        json!([{"arn": format!("{ACCOUNT}:capacity-provider/edge"), "runningCount": 0}])
    );

    let revisions = server
        .ok(
            "DescribeDaemonRevisions",
            json!({"daemonRevisionArns": [revision_arn, format!("{ACCOUNT}:daemon-revision/prod/agent/1")]}),
        )
        .await;
    let r = &revisions["daemonRevisions"][0];
    assert_eq!(r["daemonTaskDefinitionArn"], td);
    assert_eq!(r["daemonArn"], daemon_arn);
    assert_eq!(
        r["containerImages"],
        json!([{"containerName": "agent", "image": "agent:1"}])
    );
    assert_eq!(revisions["failures"][0]["reason"], "MISSING");

    let deployments = server
        .ok(
            "DescribeDaemonDeployments",
            json!({"daemonDeploymentArns": [deployment_arn]}),
        )
        .await;
    let d = &deployments["daemonDeployments"][0];
    assert_eq!(d["status"], "PENDING");
    assert_eq!(d["targetDaemonRevision"]["arn"], revision_arn);
    assert_eq!(d["deploymentConfiguration"]["drainPercent"], 25.0);

    let tags = server
        .ok("ListTagsForResource", json!({"resourceArn": daemon_arn}))
        .await;
    assert_eq!(tags["tags"], json!([{"key": "env", "value": "prod"}]));

    let listed = server
        .ok("ListDaemons", json!({"clusterArn": "prod"}))
        .await;
    assert_eq!(listed["daemonSummariesList"][0]["daemonArn"], daemon_arn);
    let other_provider = server
        .ok(
            "ListDaemons",
            json!({"clusterArn": "prod", "capacityProviderArns": ["other"]}),
        )
        .await;
    assert_eq!(other_provider["daemonSummariesList"], json!([]));
    let default_cluster = server.call("ListDaemons", json!({})).await;
    assert_eq!(default_cluster.error_type(), "ClusterNotFoundException");
    let refused = server
        .call("DeleteCluster", json!({"cluster": "prod"}))
        .await;
    assert_eq!(refused.error_type(), "ClusterContainsServicesException");
}

#[tokio::test]
async fn create_daemon_is_idempotent_by_client_token_and_refuses_what_ecs_refuses() {
    let server = setup().await;
    let td = "monitoring-agent:1";
    let mut body = create_body("agent", td);
    body["clientToken"] = json!("token-1");
    let first = server.ok("CreateDaemon", body.clone()).await;
    let retry = server.ok("CreateDaemon", body.clone()).await;
    assert_eq!(first["deploymentArn"], retry["deploymentArn"]);
    body["clientToken"] = json!("token-2");
    let clash = server.call("CreateDaemon", body).await;
    assert_eq!(clash.error_type(), "InvalidParameterException");

    for (change, code) in [
        (
            json!({"daemonName": "bad name"}),
            "InvalidParameterException",
        ),
        (json!({"clusterArn": "missing"}), "ClusterNotFoundException"),
        (
            json!({"daemonTaskDefinitionArn": "nothing:1"}),
            "ClientException",
        ),
        (
            json!({"capacityProviderArns": []}),
            "InvalidParameterException",
        ),
        (
            json!({"capacityProviderArns": ["FARGATE"]}),
            "InvalidParameterException",
        ),
        (
            json!({"capacityProviderArns": ["unknown"]}),
            "InvalidParameterException",
        ),
        (
            json!({"deploymentConfiguration": {"drainPercent": 120.0}}),
            "InvalidParameterException",
        ),
    ] {
        let mut body = create_body("other", td);
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let refused = server.call("CreateDaemon", body.clone()).await;
        assert_eq!(refused.error_type(), code, "{body}: {}", refused.text);
    }
    let listed = server
        .ok("ListDaemons", json!({"clusterArn": "prod"}))
        .await;
    assert_eq!(listed["daemonSummariesList"].as_array().unwrap().len(), 1);

    // A provider the cluster does not use is refused.
    server
        .ok(
            "CreateCapacityProvider",
            json!({"name": "spare", "autoScalingGroupProvider": {"autoScalingGroupArn": ASG}}),
        )
        .await;
    let mut body = create_body("other", td);
    body["capacityProviderArns"] = json!(["spare"]);
    let unassociated = server.call("CreateDaemon", body).await;
    assert_eq!(unassociated.error_type(), "InvalidParameterException");
    assert!(unassociated.message().contains("not associated"));
}

#[tokio::test]
async fn update_starts_a_new_deployment_and_delete_stops_what_is_in_progress() {
    let server = setup().await;
    let created = server
        .ok("CreateDaemon", create_body("agent", "monitoring-agent:1"))
        .await;
    let daemon_arn = created["daemonArn"].clone();
    let first = created["deploymentArn"].clone();
    server
        .ok("RegisterDaemonTaskDefinition", agent_definition("agent:2"))
        .await;
    let updated = server
        .ok(
            "UpdateDaemon",
            json!({"daemonArn": daemon_arn, "daemonTaskDefinitionArn": "monitoring-agent:2",
                   "capacityProviderArns": ["edge"]}),
        )
        .await;
    assert_ne!(updated["deploymentArn"], first);
    assert!(updated["updatedAt"].is_number());

    let listed = server
        .ok("ListDaemonDeployments", json!({"daemonArn": daemon_arn}))
        .await;
    let summaries = listed["daemonDeployments"].as_array().unwrap();
    assert_eq!(summaries.len(), 2);
    assert_eq!(
        summaries[0]["daemonDeploymentArn"],
        updated["deploymentArn"]
    );
    assert_eq!(summaries[0]["status"], "PENDING");
    assert_eq!(summaries[1]["status"], "STOPPED");
    assert!(summaries[1]["statusReason"]
        .as_str()
        .unwrap()
        .contains(updated["deploymentArn"].as_str().unwrap()));
    let stopped = server
        .ok(
            "ListDaemonDeployments",
            json!({"daemonArn": daemon_arn, "status": ["STOPPED"]}),
        )
        .await;
    assert_eq!(
        stopped["daemonDeployments"][0]["daemonDeploymentArn"],
        first
    );
    let described = server
        .ok(
            "DescribeDaemonDeployments",
            json!({"daemonDeploymentArns": [updated["deploymentArn"]]}),
        )
        .await;
    let d = &described["daemonDeployments"][0];
    assert_eq!(d["sourceDaemonRevisions"].as_array().unwrap().len(), 1);
    assert_ne!(
        d["sourceDaemonRevisions"][0]["arn"],
        d["targetDaemonRevision"]["arn"]
    );

    // A deleted task definition cannot be deployed.
    server
        .ok(
            "DeleteDaemonTaskDefinition",
            json!({"daemonTaskDefinition": "monitoring-agent:1"}),
        )
        .await;
    let refused = server
        .call(
            "UpdateDaemon",
            json!({"daemonArn": daemon_arn, "daemonTaskDefinitionArn": "monitoring-agent:1",
                   "capacityProviderArns": ["edge"]}),
        )
        .await;
    assert_eq!(refused.error_type(), "ClientException");

    let deleted = server
        .ok("DeleteDaemon", json!({"daemonArn": daemon_arn}))
        .await;
    assert_eq!(deleted["status"], "DELETE_IN_PROGRESS");
    let again = server
        .call("DeleteDaemon", json!({"daemonArn": daemon_arn}))
        .await;
    assert_eq!(again.error_type(), "DaemonNotActiveException");
    let update_now = server
        .call(
            "UpdateDaemon",
            json!({"daemonArn": daemon_arn, "daemonTaskDefinitionArn": "monitoring-agent:2",
                   "capacityProviderArns": ["edge"]}),
        )
        .await;
    assert_eq!(update_now.error_type(), "DaemonNotActiveException");
    let described = server
        .ok("DescribeDaemon", json!({"daemonArn": daemon_arn}))
        .await;
    assert_eq!(described["daemon"]["status"], "DELETE_IN_PROGRESS");
    // Nothing runs, so nothing is current.
    assert_eq!(described["daemon"]["currentRevisions"], json!([]));

    for (op, body) in [
        (
            "DescribeDaemon",
            json!({"daemonArn": format!("{ACCOUNT}:daemon/prod/none")}),
        ),
        (
            "UpdateDaemon",
            json!({"daemonArn": format!("{ACCOUNT}:daemon/prod/none"),
                                "daemonTaskDefinitionArn": "monitoring-agent:2",
                                "capacityProviderArns": ["edge"]}),
        ),
    ] {
        let missing = server.call(op, body).await;
        assert_eq!(missing.error_type(), "DaemonNotFoundException", "{op}");
    }
    let malformed = server
        .call("DescribeDaemon", json!({"daemonArn": "agent"}))
        .await;
    assert_eq!(malformed.error_type(), "InvalidParameterException");
}

/// DeleteCluster racing CreateDaemon: either the cluster is deleted and no daemon was
/// acknowledged into it, or the delete is refused and every acknowledged daemon is
/// there. The daemons table is read inside the delete's write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_cluster_never_strands_a_daemon_created_concurrently() {
    let server = std::sync::Arc::new(TestServer::new());
    server
        .ok("RegisterDaemonTaskDefinition", agent_definition("agent:1"))
        .await;
    let mut deleted_runs = 0;
    for run in 0..20 {
        let (cluster, provider) = (format!("race{run}"), format!("edge{run}"));
        server
            .ok("CreateCluster", json!({"clusterName": cluster}))
            .await;
        server
            .ok(
                "CreateCapacityProvider",
                json!({"name": provider, "autoScalingGroupProvider":
                       {"autoScalingGroupArn": format!("{ASG}{run}")}}),
            )
            .await;
        server
            .ok(
                "PutClusterCapacityProviders",
                json!({"cluster": cluster, "capacityProviders": [provider],
                       "defaultCapacityProviderStrategy": []}),
            )
            .await;
        let (delete, created) =
            support::delete_cluster_racing(&server, &cluster, "CreateDaemon", 4, |i| {
                json!({"daemonName": format!("d{i}"),
                       "clusterArn": format!("{ACCOUNT}:cluster/{cluster}"),
                       "daemonTaskDefinitionArn": "monitoring-agent",
                       "capacityProviderArns": [format!("{ACCOUNT}:capacity-provider/{provider}")]})
            })
            .await;
        if delete.status == StatusCode::OK {
            deleted_runs += 1;
            assert_eq!(
                created, 0,
                "run {run}: daemons acknowledged into a deleted cluster"
            );
        } else {
            assert_eq!(delete.error_type(), "ClusterContainsServicesException");
            assert!(delete.message().contains("Daemons"), "{}", delete.text);
            let listed = server
                .ok("ListDaemons", json!({"clusterArn": cluster}))
                .await;
            assert_eq!(
                listed["daemonSummariesList"].as_array().unwrap().len(),
                created,
                "run {run}"
            );
        }
    }
    eprintln!("{deleted_runs} of 20 runs deleted the cluster first");
}
