//! Container instances registered explicitly (no node matches them here: no cluster),
//! their attributes, state changes and deregistration, through the router. Nodes as
//! container instances are shown by the cluster test.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use support::TestServer;

async fn setup() -> TestServer {
    let server = TestServer::new();
    let created = server
        .call("CreateCluster", json!({"clusterName": "default"}))
        .await;
    assert_eq!(created.status, StatusCode::OK);
    server
}

async fn register(server: &TestServer, instance_id: &str, stack: &str) -> Value {
    let answer = server
        .call(
            "RegisterContainerInstance",
            json!({
                "instanceIdentityDocument": json!({"instanceId": instance_id, "region": "us-east-1"}).to_string(),
                "totalResources": [
                    {"name": "CPU", "type": "INTEGER", "integerValue": 2048},
                    {"name": "MEMORY", "type": "INTEGER", "integerValue": 3768},
                ],
                "versionInfo": {"agentVersion": "1.80.0", "dockerVersion": "DockerVersion: 20.10.25"},
                "attributes": [{"name": "stack", "value": stack}],
                "tags": [{"key": "team", "value": "web"}],
            }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.body["containerInstance"].clone()
}

fn arns(answer: &Value) -> Vec<String> {
    answer["containerInstanceArns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_registration_no_node_matches_is_an_instance_whose_agent_never_connected() {
    let server = setup().await;
    let instance = register(&server, "i-0aaaaaaaaaaaaaaa1", "prod").await;
    let arn = instance["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = arn.rsplit('/').next().unwrap().to_owned();
    assert!(arn.starts_with("arn:aws:ecs:us-east-1:000000000000:container-instance/default/"));
    assert_eq!(id.len(), 32);
    assert_eq!(instance["ec2InstanceId"], "i-0aaaaaaaaaaaaaaa1");
    assert_eq!(instance["status"], "ACTIVE");
    assert_eq!(instance["agentConnected"], false);
    assert_eq!(instance["runningTasksCount"], 0);
    assert_eq!(instance["registeredResources"][0]["integerValue"], 2048);
    assert_eq!(instance["tags"][0]["key"], "team");

    // Listed and described by ARN or id; unknown ones are failures.
    let listed = server
        .call("ListContainerInstances", json!({"cluster": "default"}))
        .await;
    assert_eq!(arns(&listed.body), vec![arn.clone()]);
    let described = server
        .call(
            "DescribeContainerInstances",
            json!({"containerInstances": [id, "0123456789abcdef0123456789abcdef"], "include": ["TAGS"]}),
        )
        .await;
    assert_eq!(described.status, StatusCode::OK, "{}", described.text);
    let found = &described.body["containerInstances"][0];
    assert_eq!(found["containerInstanceArn"], arn.as_str());
    assert_eq!(found["versionInfo"]["agentVersion"], "1.80.0");
    assert!(found["registeredAt"].is_number());
    assert_eq!(found["tags"][0]["value"], "web");
    assert_eq!(
        found["attributes"],
        json!([{"name": "stack", "value": "prod"}])
    );
    assert_eq!(described.body["failures"][0]["reason"], "MISSING");
    let cluster = server
        .call("DescribeClusters", json!({"clusters": ["default"]}))
        .await;
    assert_eq!(
        cluster.body["clusters"][0]["registeredContainerInstancesCount"],
        1
    );
}

#[tokio::test]
async fn filters_select_instances_by_their_attributes() {
    let server = setup().await;
    let prod = register(&server, "i-0aaaaaaaaaaaaaaa1", "prod").await;
    let dev = register(&server, "i-0aaaaaaaaaaaaaaa2", "dev").await;
    let list = |filter: &str| {
        let server = &server;
        let filter = filter.to_owned();
        async move {
            let answer = server
                .call("ListContainerInstances", json!({"filter": filter}))
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            arns(&answer.body)
        }
    };
    let prod_arn = prod["containerInstanceArn"].as_str().unwrap().to_owned();
    let dev_arn = dev["containerInstanceArn"].as_str().unwrap().to_owned();
    assert_eq!(
        list("attribute:stack == prod").await,
        vec![prod_arn.clone()]
    );
    assert_eq!(list("attribute:stack =~ d*").await, vec![dev_arn.clone()]);
    assert_eq!(
        list("ec2InstanceId in [i-0aaaaaaaaaaaaaaa2]").await,
        vec![dev_arn.clone()]
    );
    assert_eq!(list("attribute:stack exists").await.len(), 2);
    assert!(list("agentConnected == true").await.is_empty());

    let bad = server
        .call(
            "ListContainerInstances",
            json!({"filter": "attribute:stack ~~ prod"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_type(), "InvalidParameterException");

    // Pages of one, in a stable order.
    let first = server
        .call("ListContainerInstances", json!({"maxResults": 1}))
        .await;
    let token = first.body["nextToken"].as_str().unwrap().to_owned();
    let second = server
        .call(
            "ListContainerInstances",
            json!({"maxResults": 1, "nextToken": token}),
        )
        .await;
    let mut both = [arns(&first.body), arns(&second.body)].concat();
    assert!(second.body.get("nextToken").is_none());
    both.sort();
    let mut want = vec![prod_arn, dev_arn];
    want.sort();
    assert_eq!(both, want);
}

#[tokio::test]
async fn custom_attributes_are_put_listed_and_deleted() {
    let server = setup().await;
    let instance = register(&server, "i-0aaaaaaaaaaaaaaa1", "prod").await;
    let arn = instance["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let put = server
        .call(
            "PutAttributes",
            json!({"attributes": [{"name": "gpu", "value": "none", "targetId": arn}]}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert_eq!(
        put.body["attributes"][0]["targetType"],
        "container-instance"
    );

    let listed = server
        .call(
            "ListAttributes",
            json!({"targetType": "container-instance", "attributeName": "gpu"}),
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    assert_eq!(
        listed.body["attributes"],
        json!([{"name": "gpu", "value": "none", "targetType": "container-instance", "targetId": arn}])
    );

    // Deleted: gone from the listing, the other attribute stays.
    let deleted = server
        .call(
            "DeleteAttributes",
            json!({"attributes": [{"name": "gpu", "targetId": arn}]}),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    let all = server
        .call(
            "ListAttributes",
            json!({"targetType": "container-instance"}),
        )
        .await;
    let names: Vec<&str> = all.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["stack"]);

    // An unknown target, and more than ECS's ten custom attributes.
    let unknown = server
        .call(
            "PutAttributes",
            json!({"attributes": [{"name": "a", "targetId": "0123456789abcdef0123456789abcdef"}]}),
        )
        .await;
    assert_eq!(unknown.error_type(), "TargetNotFoundException");
    let many: Vec<Value> = (0..10)
        .map(|n| json!({"name": format!("extra{n}"), "targetId": arn}))
        .collect();
    let over = server
        .call("PutAttributes", json!({"attributes": many}))
        .await;
    assert_eq!(over.error_type(), "AttributeLimitExceededException");
    let still = server
        .call(
            "ListAttributes",
            json!({"targetType": "container-instance"}),
        )
        .await;
    assert_eq!(still.body["attributes"].as_array().unwrap().len(), 1);
    let missing_type = server.call("ListAttributes", json!({})).await;
    assert_eq!(missing_type.error_type(), "InvalidParameterException");
}

#[tokio::test]
async fn draining_and_deregistering_an_instance() {
    let server = setup().await;
    let instance = register(&server, "i-0aaaaaaaaaaaaaaa1", "prod").await;
    let arn = instance["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let drained = server
        .call(
            "UpdateContainerInstancesState",
            json!({"containerInstances": [arn, "0123456789abcdef0123456789abcdef"], "status": "DRAINING"}),
        )
        .await;
    assert_eq!(drained.status, StatusCode::OK, "{}", drained.text);
    assert_eq!(drained.body["containerInstances"][0]["status"], "DRAINING");
    assert_eq!(drained.body["failures"][0]["reason"], "MISSING");
    let draining = server
        .call("ListContainerInstances", json!({"status": "DRAINING"}))
        .await;
    assert_eq!(arns(&draining.body), vec![arn.clone()]);
    let active = server
        .call("ListContainerInstances", json!({"status": "ACTIVE"}))
        .await;
    assert!(arns(&active.body).is_empty());
    let refused = server
        .call(
            "UpdateContainerInstancesState",
            json!({"containerInstances": [arn], "status": "REGISTERING"}),
        )
        .await;
    assert_eq!(refused.error_type(), "InvalidParameterException");

    // A cluster with a registered instance is not deleted.
    let delete = server
        .call("DeleteCluster", json!({"cluster": "default"}))
        .await;
    assert_eq!(
        delete.error_type(),
        "ClusterContainsContainerInstancesException"
    );

    let gone = server
        .call(
            "DeregisterContainerInstance",
            json!({"containerInstance": arn}),
        )
        .await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.text);
    assert_eq!(gone.body["containerInstance"]["status"], "INACTIVE");
    let listed = server.call("ListContainerInstances", json!({})).await;
    assert!(arns(&listed.body).is_empty());
    let again = server
        .call(
            "DeregisterContainerInstance",
            json!({"containerInstance": arn}),
        )
        .await;
    assert_eq!(again.error_type(), "InvalidParameterException");
    let delete = server
        .call("DeleteCluster", json!({"cluster": "default"}))
        .await;
    assert_eq!(delete.status, StatusCode::OK, "{}", delete.text);
}
