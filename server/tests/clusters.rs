//! Clusters end to end through the router: ECS semantics and errors, and durability
//! across a restart.

// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use support::TestServer;

const ARN_PREFIX: &str = "arn:aws:ecs:us-east-1:000000000000:cluster/";

async fn create(server: &TestServer, body: Value) -> Value {
    let answer = server.call("CreateCluster", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["cluster"].clone()
}

#[tokio::test]
async fn create_cluster_returns_the_cluster_as_ecs_does() {
    let server = TestServer::new();
    let cluster = create(&server, json!({"clusterName": "demo"})).await;
    assert_eq!(cluster["clusterArn"], format!("{ARN_PREFIX}demo"));
    assert_eq!(cluster["clusterName"], "demo");
    assert_eq!(cluster["status"], "ACTIVE");
    for count in [
        "registeredContainerInstancesCount",
        "runningTasksCount",
        "pendingTasksCount",
        "activeServicesCount",
    ] {
        assert_eq!(cluster[count], 0, "{count}");
    }
    assert_eq!(
        cluster["settings"],
        json!([{"name": "containerInsights", "value": "disabled"}])
    );
    assert_eq!(cluster["statistics"], json!([]));
    assert_eq!(cluster["capacityProviders"], json!([]));
    // Absent members are omitted, never null.
    let text = serde_json::to_string(&cluster).unwrap();
    assert!(!text.contains("null"), "{text}");
}

#[tokio::test]
async fn create_cluster_without_a_name_creates_default() {
    let server = TestServer::new();
    let cluster = create(&server, json!({})).await;
    assert_eq!(cluster["clusterName"], "default");
    let described = server.call("DescribeClusters", json!({})).await;
    assert_eq!(described.body["clusters"][0]["clusterName"], "default");
}

#[tokio::test]
async fn create_cluster_of_an_active_name_returns_the_existing_cluster_unchanged() {
    let server = TestServer::new();
    let first = create(
        &server,
        json!({"clusterName": "same", "tags": [{"key": "team", "value": "a"}]}),
    )
    .await;
    let second = create(
        &server,
        json!({"clusterName": "same", "tags": [{"key": "team", "value": "b"}]}),
    )
    .await;
    assert_eq!(first, second);
    let list = server.call("ListClusters", json!({})).await;
    assert_eq!(list.body["clusterArns"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_cluster_names_are_refused_and_nothing_is_created() {
    let server = TestServer::new();
    for name in ["has space", "dot.ted", &"x".repeat(256), ""] {
        let answer = server
            .call("CreateCluster", json!({"clusterName": name}))
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{name:?}");
        assert_eq!(answer.error_type(), "InvalidParameterException", "{name:?}");
    }
    let list = server.call("ListClusters", json!({})).await;
    assert_eq!(list.body["clusterArns"], json!([]));
}

#[tokio::test]
async fn create_cluster_writes_the_cluster_and_its_tags_with_one_flush() {
    let server = TestServer::new();
    let flushes = server.state.store.flush_count();
    create(
        &server,
        json!({"clusterName": "tagged", "tags": [{"key": "team", "value": "x"}]}),
    )
    .await;
    // Two records written (the cluster, its tags), one flush waited for.
    assert_eq!(server.state.store.flush_count() - flushes, 1);
    let described = server
        .call(
            "DescribeClusters",
            json!({"clusters": ["tagged"], "include": ["TAGS"]}),
        )
        .await;
    assert_eq!(
        described.body["clusters"][0]["tags"],
        json!([{"key": "team", "value": "x"}])
    );
}

#[tokio::test]
async fn reserved_tag_keys_are_refused() {
    let server = TestServer::new();
    let answer = server
        .call(
            "CreateCluster",
            json!({"clusterName": "t", "tags": [{"key": "aws:owner", "value": "x"}]}),
        )
        .await;
    assert_eq!(answer.error_type(), "InvalidParameterException");
    let too_many: Vec<Value> = (0..51)
        .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
        .collect();
    let answer = server
        .call(
            "CreateCluster",
            json!({"clusterName": "t", "tags": too_many}),
        )
        .await;
    assert_eq!(answer.error_type(), "InvalidParameterException");
    assert!(answer.message().contains("tags"), "{}", answer.message());
}

#[tokio::test]
async fn describe_clusters_by_name_and_arn_with_missing_ones_in_failures() {
    let server = TestServer::new();
    create(&server, json!({"clusterName": "a"})).await;
    let answer = server
        .call(
            "DescribeClusters",
            json!({"clusters": ["a", format!("{ARN_PREFIX}a"), "ghost"]}),
        )
        .await;
    let clusters = answer.body["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 2);
    assert!(clusters.iter().all(|c| c["clusterName"] == "a"));
    assert_eq!(
        answer.body["failures"],
        json!([{"arn": format!("{ARN_PREFIX}ghost"), "reason": "MISSING"}])
    );
}

#[tokio::test]
async fn describe_clusters_includes_settings_tags_and_statistics_only_on_request() {
    let server = TestServer::new();
    create(
        &server,
        json!({"clusterName": "inc", "tags": [{"key": "k", "value": "v"}]}),
    )
    .await;
    let plain = server
        .call("DescribeClusters", json!({"clusters": ["inc"]}))
        .await;
    let cluster = &plain.body["clusters"][0];
    assert!(cluster.get("settings").is_none());
    assert_eq!(cluster["tags"], json!([]));
    let full = server
        .call(
            "DescribeClusters",
            json!({"clusters": ["inc"], "include": ["SETTINGS", "TAGS", "STATISTICS"]}),
        )
        .await;
    let cluster = &full.body["clusters"][0];
    assert_eq!(cluster["tags"], json!([{"key": "k", "value": "v"}]));
    assert_eq!(cluster["settings"][0]["name"], "containerInsights");
    let stats = cluster["statistics"].as_array().unwrap();
    assert!(stats
        .iter()
        .any(|s| s["name"] == "runningFargateTasksCount"));
}

#[tokio::test]
async fn delete_cluster_makes_it_inactive_and_it_stays_describable() {
    let server = TestServer::new();
    create(&server, json!({"clusterName": "gone"})).await;
    let deleted = server
        .call("DeleteCluster", json!({"cluster": "gone"}))
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(deleted.body["cluster"]["status"], "INACTIVE");
    let described = server
        .call("DescribeClusters", json!({"clusters": ["gone"]}))
        .await;
    assert_eq!(described.body["clusters"][0]["status"], "INACTIVE");
    assert_eq!(described.body["failures"], json!([]));
    let list = server.call("ListClusters", json!({})).await;
    assert_eq!(list.body["clusterArns"], json!([]));
    // Deleting again, or deleting what never existed: ClusterNotFoundException.
    for name in ["gone", "never"] {
        let again = server.call("DeleteCluster", json!({"cluster": name})).await;
        assert_eq!(again.error_type(), "ClusterNotFoundException", "{name}");
        assert_eq!(again.message(), "Cluster not found.");
    }
    // The name can be used again, for a fresh ACTIVE cluster.
    let reborn = create(&server, json!({"clusterName": "gone"})).await;
    assert_eq!(reborn["status"], "ACTIVE");
}

/// Registers a one-container task definition `family` and returns its ARN.
async fn register(server: &TestServer, family: &str) -> String {
    let answer = server
        .call(
            "RegisterTaskDefinition",
            json!({"family": family, "containerDefinitions": [
                {"name": "app", "image": "nginx", "memory": 64}
            ]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn delete_cluster_is_refused_while_services_are_active_or_draining() {
    let server = TestServer::new();
    create(&server, json!({"clusterName": "busy"})).await;
    register(&server, "web").await;
    let created = server
        .call(
            "CreateService",
            json!({"cluster": "busy", "serviceName": "web", "taskDefinition": "web", "desiredCount": 0}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let answer = server
        .call("DeleteCluster", json!({"cluster": "busy"}))
        .await;
    assert_eq!(answer.error_type(), "ClusterContainsServicesException");
    // A deleted service is DRAINING until its workload is gone: still refused.
    let deleted = server
        .call(
            "DeleteService",
            json!({"cluster": "busy", "service": "web"}),
        )
        .await;
    assert_eq!(deleted.body["service"]["status"], "DRAINING");
    let answer = server
        .call("DeleteCluster", json!({"cluster": "busy"}))
        .await;
    assert_eq!(answer.error_type(), "ClusterContainsServicesException");
    let described = server
        .call(
            "DescribeClusters",
            json!({"clusters": ["busy"], "include": ["STATISTICS"]}),
        )
        .await;
    let cluster = &described.body["clusters"][0];
    assert_eq!(cluster["status"], "ACTIVE");
    let stat = |name: &str| {
        cluster["statistics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|kv| kv["name"] == name)
            .map(|kv| kv["value"].as_str().unwrap().to_owned())
    };
    // An EC2 service, counted as EC2 (not Fargate), and now draining.
    assert_eq!(stat("drainingEC2ServiceCount").as_deref(), Some("1"));
    assert_eq!(stat("activeEC2ServiceCount").as_deref(), Some("0"));
    assert_eq!(stat("drainingFargateServiceCount").as_deref(), Some("0"));
}

/// DeleteCluster racing CreateService: either the cluster is deleted and no service was
/// acknowledged into it, or the delete is refused. Before the check moved into the write,
/// creates were acknowledged into a cluster the delete then marked INACTIVE.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_cluster_never_strands_a_service_created_concurrently() {
    let server = std::sync::Arc::new(TestServer::new());
    register(&server, "web").await;
    let mut deleted_runs = 0;
    for run in 0..20 {
        let cluster = format!("race{run}");
        create(&server, json!({"clusterName": cluster})).await;
        let (delete, created) =
            support::delete_cluster_racing(&server, &cluster, "CreateService", 8, |i| {
                json!({"cluster": cluster, "serviceName": format!("s{i}"),
                       "taskDefinition": "web", "desiredCount": 0})
            })
            .await;
        if delete.status == StatusCode::OK {
            deleted_runs += 1;
            assert_eq!(
                created, 0,
                "run {run}: services acknowledged into a deleted cluster"
            );
        } else {
            assert_eq!(delete.error_type(), "ClusterContainsServicesException");
            let listed = server
                .call(
                    "ListServices",
                    json!({"cluster": cluster, "maxResults": 100}),
                )
                .await;
            assert_eq!(
                listed.body["serviceArns"].as_array().unwrap().len(),
                created,
                "run {run}"
            );
        }
    }
    eprintln!("{deleted_runs} of 20 runs deleted the cluster first");
}

#[tokio::test]
async fn list_clusters_pages_with_an_opaque_validated_token() {
    let server = TestServer::new();
    for i in 0..5 {
        create(&server, json!({"clusterName": format!("c{i}")})).await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"maxResults": 2});
        if let Some(t) = &token {
            body["nextToken"] = json!(t);
        }
        let page = server.call("ListClusters", body).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let arns = page.body["clusterArns"].as_array().unwrap();
        assert!(arns.len() <= 2);
        seen.extend(arns.iter().map(|a| a.as_str().unwrap().to_owned()));
        match page.body.get("nextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..5).map(|i| format!("{ARN_PREFIX}c{i}")).collect();
    assert_eq!(seen, expected);

    let bad = server
        .call("ListClusters", json!({"nextToken": "not-a-token"}))
        .await;
    assert_eq!(bad.error_type(), "InvalidParameterException");
    for max in [0, 101] {
        let bad = server
            .call("ListClusters", json!({"maxResults": max}))
            .await;
        assert_eq!(bad.error_type(), "InvalidParameterException", "{max}");
    }
}

#[tokio::test]
async fn update_cluster_settings_merges_and_checks_values() {
    let server = TestServer::new();
    create(&server, json!({"clusterName": "s"})).await;
    let answer = server
        .call(
            "UpdateClusterSettings",
            json!({"cluster": "s", "settings": [{"name": "containerInsights", "value": "enabled"}]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.body["cluster"]["settings"],
        json!([{"name": "containerInsights", "value": "enabled"}])
    );
    let bad = server
        .call(
            "UpdateClusterSettings",
            json!({"cluster": "s", "settings": [{"name": "containerInsights", "value": "maybe"}]}),
        )
        .await;
    assert_eq!(bad.error_type(), "InvalidParameterException");
    let missing = server
        .call(
            "UpdateClusterSettings",
            json!({"cluster": "nope", "settings": [{"name": "containerInsights", "value": "enabled"}]}),
        )
        .await;
    assert_eq!(missing.error_type(), "ClusterNotFoundException");
}

#[tokio::test]
async fn update_cluster_stores_configuration_and_service_connect_defaults() {
    let server = TestServer::new();
    create(&server, json!({"clusterName": "u"})).await;
    let answer = server
        .call(
            "UpdateCluster",
            json!({
                "cluster": "u",
                "configuration": {"executeCommandConfiguration": {"logging": "DEFAULT"}},
                "serviceConnectDefaults": {"namespace": "ns"}
            }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let cluster = &answer.body["cluster"];
    assert_eq!(
        cluster["configuration"]["executeCommandConfiguration"]["logging"],
        "DEFAULT"
    );
    assert_eq!(cluster["serviceConnectDefaults"]["namespace"], "ns");
    let described = server
        .call(
            "DescribeClusters",
            json!({"clusters": ["u"], "include": ["CONFIGURATIONS"]}),
        )
        .await;
    assert_eq!(
        described.body["clusters"][0]["configuration"],
        cluster["configuration"]
    );
}

#[tokio::test]
async fn clusters_survive_a_restart() {
    let server = TestServer::new();
    create(&server, json!({"clusterName": "durable"})).await;
    create(&server, json!({"clusterName": "dropped"})).await;
    server
        .call("DeleteCluster", json!({"cluster": "dropped"}))
        .await;
    let server = server.restart();
    let answer = server
        .call(
            "DescribeClusters",
            json!({"clusters": ["durable", "dropped"]}),
        )
        .await;
    let clusters = answer.body["clusters"].as_array().unwrap();
    assert_eq!(clusters[0]["status"], "ACTIVE");
    assert_eq!(clusters[1]["status"], "INACTIVE");
}
