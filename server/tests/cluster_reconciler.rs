//! The reconciler against a real Kubernetes API server (`KUBECONFIG`, else the local
//! control plane of deploy/local-k8s, started if needed): ECS services driven through the
//! API become Deployments and Services, roll out, scale, drain and go INACTIVE, and
//! DescribeServices reports what the pods do.
//!
//! The reconciler acts as the service account of deploy/kubernetes/rbac.yaml, so the
//! manifests' permissions are proven enough. One kubecs (one store, one reconciler) per
//! test binary run: two reconcilers on one
//! cluster would each remove what the other made, as they would in production. So the
//! scenarios run one after the other in a single test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::TestServer;

use kubecs_reconciler::controller::{self, Metrics, Options};
use kubecs_reconciler::convert::{namespace_name, workload_name, ClusterScope};

const REGION: &str = "us-east-1";
/// Generous: the local cluster's pods start in seconds, a loaded CI machine is slower.
const CONVERGE: Duration = Duration::from_secs(120);

struct Env {
    server: TestServer,
    kube: &'static kubecs_test_cluster::Cluster,
}

impl Env {
    async fn ok(&self, op: &str, body: Value) -> Value {
        let answer = self.server.call(op, body.clone()).await;
        assert_eq!(answer.status, 200, "{op} {body}: {}", answer.text);
        answer.body
    }

    async fn describe(&self, cluster: &str, service: &str) -> Value {
        let body = self
            .ok(
                "DescribeServices",
                json!({"cluster": cluster, "services": [service]}),
            )
            .await;
        body["services"][0].clone()
    }

    /// Polls DescribeServices until `done` holds.
    async fn until(
        &self,
        cluster: &str,
        service: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + CONVERGE;
        loop {
            let described = self.describe(cluster, service).await;
            if done(&described) {
                return described;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {CONVERGE:?}; the service: {described:#}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    fn kubectl_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.kube.kubectl(&all).expect("kubectl");
        serde_json::from_str(&out).expect("kubectl json")
    }

    /// The names of the objects of `kind` in `namespace` that kubecs manages.
    fn names(&self, kind: &str, namespace: &str) -> Vec<String> {
        let list = self.kubectl_json(&[
            "get",
            kind,
            "-n",
            namespace,
            "-l",
            "app.kubernetes.io/managed-by=kubecs",
        ]);
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["metadata"]["deletionTimestamp"].is_null())
            .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn messages(service: &Value) -> Vec<String> {
    service["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_owned())
        .collect()
}

fn container(image: &str, cpu: u32) -> Value {
    json!([{
        "name": "app",
        "image": image,
        "cpu": cpu,
        "memory": 32,
        "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
        "dockerLabels": {"team": "web"},
    }])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_run_roll_out_scale_and_drain_on_kubernetes() {
    let kube = kubecs_test_cluster::cluster().expect("a Kubernetes cluster for the tests");
    let server = TestServer::new();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let identity = tempfile::tempdir().unwrap();
    let options = Options {
        kubeconfig: Some(as_kubecs_service_account(kube, identity.path())),
        workers: 4,
        ..Options::default()
    };
    let metrics = Arc::new(Metrics::default());
    let reconciler = tokio::spawn(controller::run(
        server.state.store.clone(),
        options,
        Arc::clone(&metrics),
        stop,
    ));
    let env = Env { server, kube };

    tutorial_flow(&env).await;
    unplaceable_revision_is_reported_and_the_old_tasks_stay(&env).await;

    assert!(metrics.reconciles("service", "ok") > 0);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), reconciler)
        .await
        .expect("the reconciler stops")
        .unwrap();
}

/// A kubeconfig in `dir` that acts as kubecs's service account of
/// deploy/kubernetes/rbac.yaml (applied first): the reconciler runs with exactly the
/// permissions the manifests grant it in a real cluster, so a missing rule fails here.
fn as_kubecs_service_account(
    kube: &kubecs_test_cluster::Cluster,
    dir: &std::path::Path,
) -> std::path::PathBuf {
    let rbac = kubecs_test_cluster::repo_root().join("deploy/kubernetes/rbac.yaml");
    kube.kubectl(&["apply", "-f", rbac.to_str().unwrap()])
        .expect("apply rbac.yaml");
    let config = kube
        .kubectl(&[
            "config",
            "view",
            "--raw",
            "--minify",
            "--flatten",
            "-o",
            "json",
        ])
        .expect("kubectl config view");
    let mut config: Value = serde_json::from_str(&config).unwrap();
    config["users"][0]["user"]["as"] = json!("system:serviceaccount:kubecs:kubecs");
    // JSON is YAML: a kubeconfig either way.
    let path = dir.join("kubeconfig");
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// The ECS getting-started flow: a service of two tasks, a rollout to a new revision,
/// scaling, deletion, and the names reused.
async fn tutorial_flow(env: &Env) {
    let cluster = kubecs_test_cluster::unique_name("stage");
    let namespace = namespace_name(&ClusterScope {
        region: REGION,
        cluster: &cluster,
    });
    let deployment_name = workload_name("auth");
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "auth", "containerDefinitions": container("nginx:1.27", 10)}),
    )
    .await;
    env.ok(
        "CreateService",
        json!({
            "cluster": cluster, "serviceName": "auth", "taskDefinition": "auth",
            "desiredCount": 2,
            "deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 50},
        }),
    )
    .await;

    let stable = env
        .until(&cluster, "auth", "two tasks running and steady", |s| {
            s["runningCount"] == 2
                && messages(s)
                    .iter()
                    .any(|m| m == "(service auth) has reached a steady state.")
        })
        .await;
    assert_eq!(stable["deployments"].as_array().unwrap().len(), 1);
    assert_eq!(stable["deployments"][0]["rolloutState"], "COMPLETED");
    assert!(
        messages(&stable)
            .iter()
            .any(|m| m.starts_with("(service auth) has started ")),
        "{stable:#}"
    );

    // The Deployment: labels, replicas and ECS's percentages as the rolling update.
    let deployment = env.kubectl_json(&["get", "deployment", "-n", &namespace, &deployment_name]);
    let labels = &deployment["metadata"]["labels"];
    assert_eq!(labels["ecs.kubecs.io/cluster"], cluster.as_str());
    assert_eq!(labels["ecs.kubecs.io/service"], "auth");
    assert_eq!(labels["ecs.kubecs.io/family"], "auth");
    assert_eq!(labels["ecs.kubecs.io/revision"], "1");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let rolling = &deployment["spec"]["strategy"]["rollingUpdate"];
    assert_eq!(rolling["maxUnavailable"], "50%");
    assert_eq!(rolling["maxSurge"], 2);
    assert_eq!(
        deployment["metadata"]["annotations"]["ecs.kubecs.io/service-arn"],
        stable["serviceArn"]
    );
    // A ClusterIP Service for the container port, owned by the Deployment.
    let services = env.kubectl_json(&[
        "get",
        "services",
        "-n",
        &namespace,
        "-l",
        "app.kubernetes.io/managed-by=kubecs",
    ]);
    let service = &services["items"][0];
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    assert_eq!(
        service["metadata"]["ownerReferences"][0]["uid"],
        deployment["metadata"]["uid"]
    );

    // Revision 2: a new deployment rolls the pods, then is the only one.
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "auth", "containerDefinitions": container("nginx:1.28", 10)}),
    )
    .await;
    let updated = env
        .ok(
            "UpdateService",
            json!({"cluster": cluster, "service": "auth", "taskDefinition": "auth:2"}),
        )
        .await;
    assert_eq!(
        updated["service"]["deployments"].as_array().unwrap().len(),
        2
    );
    let rolled = env
        .until(&cluster, "auth", "the rollout to auth:2 completes", |s| {
            let deployments = s["deployments"].as_array().unwrap();
            deployments.len() == 1
                && deployments[0]["rolloutState"] == "COMPLETED"
                && deployments[0]["taskDefinition"]
                    .as_str()
                    .unwrap()
                    .ends_with("task-definition/auth:2")
                && s["runningCount"] == 2
        })
        .await;
    assert!(
        messages(&rolled)
            .iter()
            .any(|m| m.starts_with("(service auth) has stopped ")),
        "{rolled:#}"
    );
    let deployment = env.kubectl_json(&["get", "deployment", "-n", &namespace, &deployment_name]);
    assert_eq!(
        deployment["metadata"]["labels"]["ecs.kubecs.io/revision"],
        "2"
    );

    // Scale out and in.
    env.ok(
        "UpdateService",
        json!({"cluster": cluster, "service": "auth", "desiredCount": 5}),
    )
    .await;
    env.until(&cluster, "auth", "five running", |s| s["runningCount"] == 5)
        .await;
    env.ok(
        "UpdateService",
        json!({"cluster": cluster, "service": "auth", "desiredCount": 0}),
    )
    .await;
    env.until(&cluster, "auth", "none running", |s| {
        s["runningCount"] == 0 && s["pendingCount"] == 0
    })
    .await;

    // Delete: DRAINING, then INACTIVE once the objects are gone; the cluster can go.
    let deleted = env
        .ok(
            "DeleteService",
            json!({"cluster": cluster, "service": "auth"}),
        )
        .await;
    assert_eq!(deleted["service"]["status"], "DRAINING");
    env.until(&cluster, "auth", "INACTIVE", |s| s["status"] == "INACTIVE")
        .await;
    assert_eq!(env.names("deployments", &namespace), Vec::<String>::new());
    assert_eq!(env.names("services", &namespace), Vec::<String>::new());
    let deleted = env.ok("DeleteCluster", json!({"cluster": cluster})).await;
    assert_eq!(deleted["cluster"]["status"], "INACTIVE");
    let deadline = Instant::now() + CONVERGE;
    loop {
        let out = env
            .kube
            .kubectl(&[
                "get",
                "namespace",
                &namespace,
                "--ignore-not-found",
                "-o",
                "name",
            ])
            .expect("kubectl");
        let ns = env.kubectl_json(&["get", "namespaces"]);
        let terminating = ns["items"].as_array().unwrap().iter().any(|n| {
            n["metadata"]["name"] == namespace.as_str()
                && !n["metadata"]["deletionTimestamp"].is_null()
        });
        if out.trim().is_empty() || terminating {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "namespace {namespace} not deleted"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // The same names work again (once Kubernetes has finished with the namespace).
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    env.ok(
        "CreateService",
        json!({"cluster": cluster, "serviceName": "auth", "taskDefinition": "auth", "desiredCount": 1}),
    )
    .await;
    env.until(&cluster, "auth", "the reused name runs", |s| {
        s["runningCount"] == 1
    })
    .await;
    env.ok(
        "DeleteService",
        json!({"cluster": cluster, "service": "auth", "force": true}),
    )
    .await;
    env.until(&cluster, "auth", "INACTIVE again", |s| {
        s["status"] == "INACTIVE"
    })
    .await;
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
}

/// A revision no node can hold: ECS's placement event, the old tasks kept running (the
/// minimum healthy percent is 100), and a return to the old revision completes.
async fn unplaceable_revision_is_reported_and_the_old_tasks_stay(env: &Env) {
    let cluster = kubecs_test_cluster::unique_name("placement");
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "fits", "containerDefinitions": container("nginx:1.27", 10)}),
    )
    .await;
    // 100 vCPUs: no hollow node has them.
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "huge", "containerDefinitions": container("nginx:1.27", 102_400)}),
    )
    .await;
    env.ok(
        "CreateService",
        json!({"cluster": cluster, "serviceName": "api", "taskDefinition": "fits", "desiredCount": 1}),
    )
    .await;
    env.until(&cluster, "api", "the first deployment completes", |s| {
        s["deployments"][0]["rolloutState"] == "COMPLETED" && s["runningCount"] == 1
    })
    .await;
    env.ok(
        "UpdateService",
        json!({"cluster": cluster, "service": "api", "taskDefinition": "huge"}),
    )
    .await;
    let placement = "(service api) was unable to place a task because no container instance met all of its requirements.";
    let stuck = env
        .until(&cluster, "api", "the placement event", |s| {
            messages(s).iter().any(|m| m.starts_with(placement))
        })
        .await;
    let deployments = stuck["deployments"].as_array().unwrap();
    assert_eq!(deployments.len(), 2, "{stuck:#}");
    assert_eq!(deployments[0]["rolloutState"], "IN_PROGRESS");
    assert_eq!(deployments[0]["runningCount"], 0);
    assert_eq!(
        deployments[1]["runningCount"], 1,
        "the old task keeps running"
    );
    assert_eq!(stuck["runningCount"], 1);

    env.ok(
        "UpdateService",
        json!({"cluster": cluster, "service": "api", "taskDefinition": "fits:1"}),
    )
    .await;
    env.until(&cluster, "api", "back to one deployment of fits:1", |s| {
        let deployments = s["deployments"].as_array().unwrap();
        deployments.len() == 1
            && deployments[0]["rolloutState"] == "COMPLETED"
            && s["runningCount"] == 1
    })
    .await;
    env.ok(
        "DeleteService",
        json!({"cluster": cluster, "service": "api", "force": true}),
    )
    .await;
    env.until(&cluster, "api", "INACTIVE", |s| s["status"] == "INACTIVE")
        .await;
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
}
