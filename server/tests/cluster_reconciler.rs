//! The reconciler against a real Kubernetes API server (`KUBECONFIG`, else the local
//! control plane of deploy/local-k8s, started if needed): ECS services driven through the
//! API become Deployments and Services, roll out, scale, drain and go INACTIVE, and
//! DescribeServices reports what the pods do; the circuit breaker rolls back a revision
//! that cannot be placed; everything converges after the API server was unreachable
//! for 30 s and after kubecs was killed mid-rollout; nodes are container instances, and
//! draining one moves a service's tasks to another; a daemon of the ECS Daemons API runs
//! on its capacity provider's nodes, rolls out a new revision and goes; an Express gateway
//! service runs with an Ingress routing its endpoint host to its container port.
//!
//! The reconciler acts as the service account of deploy/kubernetes/rbac.yaml, so the
//! manifests' permissions are proven enough. One reconciler at a time on the cluster:
//! two would each remove what the other made, as they would in production. So the
//! scenarios run one after the other in a single test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod process;
mod support;
mod tcp_proxy;

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::TestServer;
use tcp_proxy::TcpProxy;

use kubecs_reconciler::controller::{self, Metrics, Options};
use kubecs_reconciler::convert::{namespace_name, workload_name, ClusterScope};

const REGION: &str = "us-east-1";
/// Generous: the local cluster's pods start in seconds, a loaded CI machine is slower.
const CONVERGE: Duration = Duration::from_secs(120);

/// Polls `probe` every 300 ms until it gives `Ok`; fails after [`CONVERGE`] naming
/// `what` and the last thing `probe` saw (its `Err`).
async fn eventually<T, F>(what: &str, mut probe: impl FnMut() -> F) -> T
where
    F: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + CONVERGE;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(seen) => assert!(
                Instant::now() < deadline,
                "{what}: not within {CONVERGE:?}; seen: {seen}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

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
        let done = &done;
        eventually(what, || async move {
            let described = self.describe(cluster, service).await;
            if done(&described) {
                Ok(described)
            } else {
                Err(format!("the service: {described:#}"))
            }
        })
        .await
    }

    /// The tasks ListTasks gives for a service and desired status, as DescribeTasks
    /// describes them.
    async fn tasks(&self, cluster: &str, service: &str, desired: &str) -> Vec<Value> {
        let listed = self
            .ok(
                "ListTasks",
                json!({"cluster": cluster, "serviceName": service, "desiredStatus": desired}),
            )
            .await;
        let arns = listed["taskArns"].as_array().unwrap().clone();
        if arns.is_empty() {
            return Vec::new();
        }
        let described = self
            .ok("DescribeTasks", json!({"cluster": cluster, "tasks": arns}))
            .await;
        assert_eq!(described["failures"], json!([]), "{described:#}");
        described["tasks"].as_array().unwrap().clone()
    }

    /// Polls DescribeTasks until `done` holds for the task.
    async fn until_task(
        &self,
        cluster: &str,
        arn: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let done = &done;
        eventually(what, || async move {
            let described = self
                .ok("DescribeTasks", json!({"cluster": cluster, "tasks": [arn]}))
                .await;
            let task = described["tasks"][0].clone();
            if done(&task) {
                Ok(task)
            } else {
                Err(format!("the task: {described:#}"))
            }
        })
        .await
    }

    fn kubectl_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.kube.kubectl(&all).expect("kubectl");
        serde_json::from_str(&out).expect("kubectl json")
    }

    fn names(&self, kind: &str, namespace: &str) -> Vec<String> {
        managed(self.kube, kind, namespace)
    }
}

/// The names of the objects of `kind` in `namespace` that kubecs manages (and that are
/// not being deleted).
fn managed(kube: &kubecs_test_cluster::Cluster, kind: &str, namespace: &str) -> Vec<String> {
    let out = kube
        .kubectl(&[
            "get",
            kind,
            "-n",
            namespace,
            "-l",
            "app.kubernetes.io/managed-by=kubecs",
            "-o",
            "json",
        ])
        .expect("kubectl");
    let list: Value = serde_json::from_str(&out).expect("kubectl json");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["metadata"]["deletionTimestamp"].is_null())
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
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
    let identity = tempfile::tempdir().unwrap();
    let as_kubecs = kubecs_service_account(kube);
    // The in-process reconciler reaches the API server through a proxy the outage
    // scenario cuts.
    let mut proxy = TcpProxy::start(&api_server_address(&as_kubecs)).await;
    let server = TestServer::new();
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let options = Options {
        kubeconfig: Some(write_kubeconfig(
            identity.path(),
            "through-proxy",
            &through(&as_kubecs, proxy.addr()),
        )),
        workers: 4,
        ..Options::default()
    };
    let metrics = Arc::new(Metrics::default());
    let reconciler = tokio::spawn(controller::run(
        server.state.store.clone(),
        options,
        Arc::clone(&metrics),
        server.state.nodes.clone(),
        stop,
    ));
    let env = Env { server, kube };

    tutorial_flow(&env).await;
    unplaceable_revision_is_reported_and_the_old_tasks_stay(&env).await;
    tasks_run_and_stop(&env).await;
    task_sets_run_as_deployments_of_their_own(&env).await;
    a_daemon_service_runs_a_task_on_every_node(&env).await;
    a_daemon_runs_on_its_capacity_providers_nodes_and_rolls_out_revisions(&env).await;
    an_express_gateway_service_runs_with_an_ingress_to_its_port(&env).await;
    the_circuit_breaker_fails_an_unplaceable_revision_and_rolls_back(&env).await;
    everything_converges_after_the_api_server_was_away(&env, &mut proxy).await;
    container_instances_are_the_nodes_and_draining_moves_tasks(&env).await;

    assert!(metrics.reconciles("service", "ok") > 0);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), reconciler)
        .await
        .expect("the reconciler stops")
        .unwrap();

    // One reconciler per cluster: the killed-and-restarted kubecs runs once the
    // in-process one has stopped.
    let direct = write_kubeconfig(identity.path(), "direct", &as_kubecs);
    tokio::task::spawn_blocking(move || {
        kubecs_killed_mid_rollout_converges_after_restart(kube, &direct)
    })
    .await
    .unwrap();
}

/// A kubeconfig that acts as kubecs's service account of deploy/kubernetes/rbac.yaml
/// (applied first): the reconciler runs with exactly the permissions the manifests
/// grant it in a real cluster, so a missing rule fails here.
fn kubecs_service_account(kube: &kubecs_test_cluster::Cluster) -> Value {
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
    config
}

/// Writes a kubeconfig (JSON is YAML: a kubeconfig either way).
fn write_kubeconfig(dir: &Path, name: &str, config: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, config.to_string()).unwrap();
    path
}

/// The `host:port` of a (minified) kubeconfig's API server.
fn api_server_address(config: &Value) -> String {
    let server = config["clusters"][0]["cluster"]["server"].as_str().unwrap();
    let rest = server.split_once("://").map_or(server, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap();
    if authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    {
        authority.to_owned()
    } else {
        format!("{authority}:443")
    }
}

/// The same kubeconfig, reaching its API server through `proxy`. The server's
/// certificate is still checked for the name it was reached by before.
fn through(config: &Value, proxy: SocketAddr) -> Value {
    let mut config = config.clone();
    let address = api_server_address(&config);
    let host = address.rsplit_once(':').unwrap().0.trim_matches(['[', ']']);
    let cluster = &mut config["clusters"][0]["cluster"];
    if host.parse::<std::net::IpAddr>().is_err() && cluster.get("tls-server-name").is_none() {
        cluster["tls-server-name"] = json!(host);
    }
    cluster["server"] = json!(format!("https://{proxy}"));
    config
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
            "placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"},
                                  {"type": "spread", "field": "instanceId"}],
            // Every hollow node is linux/amd64: a constraint they all meet.
            "placementConstraints": [{"type": "memberOf", "expression":
                "attribute:ecs.os-type == linux and attribute:ecs.cpu-architecture in [x86_64, arm64]"}],
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
    // The cluster counts its services' tasks.
    let described = env
        .ok(
            "DescribeClusters",
            json!({"clusters": [cluster], "include": ["STATISTICS"]}),
        )
        .await;
    let counted = &described["clusters"][0];
    assert_eq!(counted["runningTasksCount"], 2, "{counted:#}");
    assert_eq!(counted["pendingTasksCount"], 0, "{counted:#}");
    let statistics = counted["statistics"].as_array().unwrap();
    assert!(
        statistics.contains(&json!({"name": "runningEC2TasksCount", "value": "2"})),
        "{counted:#}"
    );
    assert!(
        messages(&stable)
            .iter()
            .any(|m| m.starts_with("(service auth) has started ")),
        "{stable:#}"
    );

    // Its tasks: one per pod, RUNNING, of this service and deployment.
    let first_tasks = env.tasks(&cluster, "auth", "RUNNING").await;
    assert_eq!(first_tasks.len(), 2, "{first_tasks:#?}");
    for task in &first_tasks {
        assert_eq!(task["lastStatus"], "RUNNING", "{task:#}");
        assert_eq!(task["group"], "service:auth");
        assert_eq!(task["startedBy"], stable["deployments"][0]["id"]);
        assert_eq!(task["taskDefinitionArn"], stable["taskDefinition"]);
        assert_eq!(task["containers"][0]["name"], "app");
    }

    // The Deployment: labels, replicas and ECS's percentages as the rolling update.
    let deployment = env.kubectl_json(&["get", "deployment", "-n", &namespace, &deployment_name]);
    let labels = &deployment["metadata"]["labels"];
    assert_eq!(labels["ecs.kubecs.io/cluster"], cluster.as_str());
    assert_eq!(labels["ecs.kubecs.io/service"], "auth");
    assert_eq!(labels["ecs.kubecs.io/family"], "auth");
    assert_eq!(labels["ecs.kubecs.io/revision"], "1");
    assert_eq!(deployment["spec"]["replicas"], 2);
    // Its spread strategies, as the API server keeps them: over zones, then nodes.
    let spread = &deployment["spec"]["template"]["spec"]["topologySpreadConstraints"];
    assert_eq!(
        spread[0]["topologyKey"], "topology.kubernetes.io/zone",
        "{spread:#}"
    );
    assert_eq!(
        spread[1]["topologyKey"], "kubernetes.io/hostname",
        "{spread:#}"
    );
    assert_eq!(spread[1]["whenUnsatisfiable"], "ScheduleAnyway");
    assert_eq!(
        spread[1]["labelSelector"]["matchLabels"]["ecs.kubecs.io/service"],
        "auth"
    );
    // Its memberOf constraint, as required node affinity on the nodes' labels.
    let terms = &deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
        ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
    assert_eq!(
        terms,
        &json!([{"matchExpressions": [
            {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
            {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
        ]}]),
        "{deployment:#}"
    );
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
    // Both service deployments are in the history: auth:2 SUCCESSFUL, the first
    // SUCCESSFUL before it.
    let history = env
        .ok(
            "ListServiceDeployments",
            json!({"cluster": cluster, "service": "auth"}),
        )
        .await;
    let statuses: Vec<&str> = history["serviceDeployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["SUCCESSFUL", "SUCCESSFUL"], "{history:#}");
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
    // The replaced tasks are STOPPED by the service scheduler and still described.
    let running = env.tasks(&cluster, "auth", "RUNNING").await;
    assert_eq!(running.len(), 2, "{running:#?}");
    assert!(running
        .iter()
        .all(|t| t["taskDefinitionArn"] == rolled["taskDefinition"]));
    let stopped = env.tasks(&cluster, "auth", "STOPPED").await;
    let arns = |tasks: &[Value]| -> Vec<Value> {
        let mut arns: Vec<Value> = tasks.iter().map(|t| t["taskArn"].clone()).collect();
        arns.sort_by_key(|a| a.to_string());
        arns
    };
    assert_eq!(arns(&stopped), arns(&first_tasks), "{stopped:#?}");
    for task in &stopped {
        assert_eq!(task["lastStatus"], "STOPPED", "{task:#}");
        assert_eq!(task["stopCode"], "ServiceSchedulerInitiated", "{task:#}");
        assert!(task["stoppedAt"].is_number(), "{task:#}");
    }

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
    let described = env
        .ok("DescribeClusters", json!({"clusters": [cluster]}))
        .await;
    assert_eq!(described["clusters"][0]["runningTasksCount"], 0);

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
    eventually("the namespace is deleted", || async {
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
            Ok(())
        } else {
            Err(format!("namespace {namespace}: {out}"))
        }
    })
    .await;

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
/// minimum healthy percent is 100), and a return to the old revision completes. A
/// service whose `memberOf` constraint no node meets gets the same event; `memberOf` on
/// `task:group` places tasks with another service's, or away from them.
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
    // memberOf on task groups: with api's task, and away from it.
    for (name, expression) in [
        ("with", "task:group == service:api"),
        ("apart", "not(task:group == service:api)"),
    ] {
        env.ok(
            "CreateService",
            json!({"cluster": cluster, "serviceName": name, "taskDefinition": "fits", "desiredCount": 2,
                   "placementConstraints": [{"type": "memberOf", "expression": expression}]}),
        )
        .await;
    }
    let instances = |tasks: Vec<Value>| -> Vec<String> {
        tasks
            .iter()
            .map(|t| {
                t["containerInstanceArn"]
                    .as_str()
                    .unwrap_or("none")
                    .to_owned()
            })
            .collect()
    };
    let api_instance = instances(env.tasks(&cluster, "api", "RUNNING").await)[0].clone();
    for (name, together) in [("with", true), ("apart", false)] {
        env.until(&cluster, name, "two tasks running", |s| {
            s["runningCount"] == 2
        })
        .await;
        let on = eventually("the tasks' instances", || async {
            let on = instances(env.tasks(&cluster, name, "RUNNING").await);
            if on.len() == 2 && on.iter().all(|i| i != "none") {
                Ok(on)
            } else {
                Err(format!("{on:?}"))
            }
        })
        .await;
        for instance in on {
            assert_eq!(
                instance == api_instance,
                together,
                "{name}: {instance} vs api's {api_instance}"
            );
        }
        env.ok(
            "DeleteService",
            json!({"cluster": cluster, "service": name, "force": true}),
        )
        .await;
    }
    // A memberOf constraint no node meets: never placed, with the same event.
    env.ok(
        "CreateService",
        json!({"cluster": cluster, "serviceName": "gpu", "taskDefinition": "fits", "desiredCount": 1,
               "placementConstraints": [{"type": "memberOf",
                                         "expression": "attribute:ecs.instance-type == p4d.24xlarge"}]}),
    )
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
    let gpu = env
        .until(&cluster, "gpu", "the memberOf placement event", |s| {
            messages(s).iter().any(|m| {
                m.starts_with("(service gpu) was unable to place a task because no container instance met all of its requirements.")
            })
        })
        .await;
    assert_eq!(gpu["runningCount"], 0, "{gpu:#}");
    env.ok(
        "DeleteService",
        json!({"cluster": cluster, "service": "gpu", "force": true}),
    )
    .await;

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
    for name in ["gpu", "with", "apart"] {
        env.until(&cluster, name, "INACTIVE", |s| s["status"] == "INACTIVE")
            .await;
    }
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
}

/// ECS's deployment circuit breaker: a revision whose tasks cannot be placed fails once
/// as many placements failed as the threshold (3 at a desired count of 3), and ECS goes
/// back to the last completed deployment's task definition as a new deployment.
async fn the_circuit_breaker_fails_an_unplaceable_revision_and_rolls_back(env: &Env) {
    let cluster = kubecs_test_cluster::unique_name("breaker");
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "steady", "containerDefinitions": container("nginx:1.27", 10)}),
    )
    .await;
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "greedy", "containerDefinitions": container("nginx:1.27", 102_400)}),
    )
    .await;
    env.ok(
        "CreateService",
        json!({
            "cluster": cluster, "serviceName": "api", "taskDefinition": "steady",
            "desiredCount": 3,
            "deploymentConfiguration": {
                "deploymentCircuitBreaker": {"enable": true, "rollback": true},
                "maximumPercent": 200, "minimumHealthyPercent": 100,
            },
        }),
    )
    .await;
    let first = env
        .until(&cluster, "api", "the first deployment completes", |s| {
            s["deployments"][0]["rolloutState"] == "COMPLETED" && s["runningCount"] == 3
        })
        .await;
    let first_id = first["deployments"][0]["id"].as_str().unwrap().to_owned();

    let updated = env
        .ok(
            "UpdateService",
            json!({"cluster": cluster, "service": "api", "taskDefinition": "greedy"}),
        )
        .await;
    let greedy_id = updated["service"]["deployments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The failed deployment leaves the list as soon as it has drained (it never ran a
    // task), so the story is read from the events and the deployment that follows.
    let failed =
        format!("(service api) (deployment {greedy_id}) deployment failed: tasks failed to start.");
    let rolling_back = format!("(service api) rolling back to deployment {first_id}.");
    let back = env
        .until(
            &cluster,
            "api",
            "the circuit breaker trips and the rollback completes",
            |s| {
                let deployments = s["deployments"].as_array().unwrap();
                let events = messages(s);
                events.contains(&failed)
                    && events.contains(&rolling_back)
                    && deployments.len() == 1
                    && deployments[0]["rolloutState"] == "COMPLETED"
                    && s["runningCount"] == 3
            },
        )
        .await;
    // The rollback is a new deployment of the last completed task definition.
    let primary = &back["deployments"][0];
    assert_ne!(primary["id"], first_id.as_str());
    assert_ne!(primary["id"], greedy_id.as_str());
    assert!(
        primary["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("task-definition/steady:1"),
        "{back:#}"
    );
    assert_eq!(back["taskDefinition"], primary["taskDefinition"]);
    // One service deployment for the failed revision, rolled back successfully.
    let history = env
        .ok(
            "ListServiceDeployments",
            json!({"cluster": cluster, "service": "api"}),
        )
        .await;
    let newest = &history["serviceDeployments"][0];
    assert_eq!(newest["status"], "ROLLBACK_SUCCESSFUL", "{history:#}");
    assert!(newest["targetServiceRevisionArn"]
        .as_str()
        .unwrap()
        .ends_with(greedy_id.rsplit('/').next().unwrap()));
    // Newest first: the failure, then the rollback; and the placement failures that
    // caused it.
    let events = messages(&back);
    let at = |m: &str| events.iter().position(|e| e == m).unwrap();
    assert!(at(&rolling_back) < at(&failed), "{events:#?}");
    assert!(
        events
            .iter()
            .any(|m| m.starts_with("(service api) was unable to place a task")),
        "{events:#?}"
    );
    let namespace = namespace_name(&ClusterScope {
        region: REGION,
        cluster: &cluster,
    });
    let deployment =
        env.kubectl_json(&["get", "deployment", "-n", &namespace, &workload_name("api")]);
    assert_eq!(
        deployment["metadata"]["labels"]["ecs.kubecs.io/family"],
        "steady"
    );

    env.ok(
        "DeleteService",
        json!({"cluster": cluster, "service": "api", "force": true}),
    )
    .await;
    env.until(&cluster, "api", "INACTIVE", |s| s["status"] == "INACTIVE")
        .await;
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
}

/// The API server unreachable for 30 s: kubecs keeps answering and accepting writes,
/// and once it is back everything converges, with no duplicate objects.
async fn everything_converges_after_the_api_server_was_away(env: &Env, proxy: &mut TcpProxy) {
    let cluster = kubecs_test_cluster::unique_name("outage");
    let namespace = namespace_name(&ClusterScope {
        region: REGION,
        cluster: &cluster,
    });
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "outage", "containerDefinitions": container("nginx:1.27", 10)}),
    )
    .await;
    env.ok(
        "CreateService",
        json!({"cluster": cluster, "serviceName": "web", "taskDefinition": "outage", "desiredCount": 1}),
    )
    .await;
    env.until(&cluster, "web", "web runs", |s| {
        s["deployments"][0]["rolloutState"] == "COMPLETED" && s["runningCount"] == 1
    })
    .await;

    proxy.cut();
    env.ok(
        "UpdateService",
        json!({"cluster": cluster, "service": "web", "desiredCount": 3}),
    )
    .await;
    env.ok(
        "CreateService",
        json!({"cluster": cluster, "serviceName": "worker", "taskDefinition": "outage", "desiredCount": 1}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    // Nothing could reach Kubernetes meanwhile: the counts are still the old ones.
    let web = env.describe(&cluster, "web").await;
    assert_eq!(
        (web["desiredCount"].clone(), web["runningCount"].clone()),
        (json!(3), json!(1))
    );
    let worker = env.describe(&cluster, "worker").await;
    assert_eq!(worker["runningCount"], 0);

    proxy.restore().await;
    env.until(&cluster, "web", "web scaled out", |s| {
        s["runningCount"] == 3
    })
    .await;
    env.until(&cluster, "worker", "worker runs", |s| {
        s["deployments"][0]["rolloutState"] == "COMPLETED" && s["runningCount"] == 1
    })
    .await;
    let mut deployments = env.names("deployments", &namespace);
    deployments.sort();
    let mut expected = vec![workload_name("web"), workload_name("worker")];
    expected.sort();
    assert_eq!(deployments, expected);
    assert_eq!(env.names("replicasets", &namespace).len(), 2);
    assert_eq!(env.names("services", &namespace).len(), 2);

    for service in ["web", "worker"] {
        env.ok(
            "DeleteService",
            json!({"cluster": cluster, "service": service, "force": true}),
        )
        .await;
        env.until(&cluster, service, "INACTIVE", |s| s["status"] == "INACTIVE")
            .await;
    }
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
}

/// kubecs killed (SIGKILL) while a rollout is under way, and started again on the same
/// store: the rollout completes, with one Deployment and no duplicate objects.
fn kubecs_killed_mid_rollout_converges_after_restart(
    kube: &'static kubecs_test_cluster::Cluster,
    kubeconfig: &Path,
) {
    let data = tempfile::tempdir().unwrap();
    let args = ["--kubeconfig", kubeconfig.to_str().unwrap()];
    let cluster = kubecs_test_cluster::unique_name("restart");
    let call = |kubecs: &process::Kubecs, op: &str, body: Value| -> Value {
        let (status, text) = kubecs.call(op, &body.to_string());
        assert_eq!(status, 200, "{op} {body}: {text}");
        serde_json::from_str(&text).unwrap()
    };
    let until = |kubecs: &process::Kubecs, what: &str, done: &dyn Fn(&Value) -> bool| {
        let deadline = Instant::now() + CONVERGE;
        loop {
            let body = json!({"cluster": cluster, "services": ["web"]});
            let service = call(kubecs, "DescribeServices", body)["services"][0].clone();
            if done(&service) {
                return service;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {CONVERGE:?}; {service:#}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    let namespace = namespace_name(&ClusterScope {
        region: REGION,
        cluster: &cluster,
    });
    let mut kubecs = process::start_with(data.path(), &args);
    call(&kubecs, "CreateCluster", json!({"clusterName": cluster}));
    for image in ["nginx:1.27", "nginx:1.28"] {
        call(
            &kubecs,
            "RegisterTaskDefinition",
            json!({"family": "restart", "containerDefinitions": container(image, 10)}),
        );
    }
    call(
        &kubecs,
        "CreateService",
        json!({"cluster": cluster, "serviceName": "web", "taskDefinition": "restart:1", "desiredCount": 2}),
    );
    until(&kubecs, "the first deployment completes", &|s| {
        s["deployments"][0]["rolloutState"] == "COMPLETED" && s["runningCount"] == 2
    });

    call(
        &kubecs,
        "UpdateService",
        json!({"cluster": cluster, "service": "web", "taskDefinition": "restart:2"}),
    );
    // Killed once the rollout has reached Kubernetes, before it completes.
    let deadline = Instant::now() + CONVERGE;
    loop {
        let deployment = serde_json::from_str::<Value>(
            &kube
                .kubectl(&[
                    "get",
                    "deployment",
                    "-n",
                    &namespace,
                    &workload_name("web"),
                    "-o",
                    "json",
                ])
                .unwrap(),
        )
        .unwrap();
        if deployment["metadata"]["labels"]["ecs.kubecs.io/revision"] == "2" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rollout never reached Kubernetes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    kubecs.child.kill().unwrap();
    kubecs.child.wait().unwrap();

    let kubecs = process::start_with(data.path(), &args);
    let done = until(&kubecs, "the rollout completes after the restart", &|s| {
        let deployments = s["deployments"].as_array().unwrap();
        deployments.len() == 1
            && deployments[0]["rolloutState"] == "COMPLETED"
            && s["runningCount"] == 2
    });
    assert!(done["taskDefinition"]
        .as_str()
        .unwrap()
        .ends_with("task-definition/restart:2"));
    let names = |kind: &str| managed(kube, kind, &namespace);
    assert_eq!(names("deployments"), vec![workload_name("web")]);
    assert_eq!(names("services").len(), 1);
    // The two revisions' ReplicaSets, the old one scaled to zero.
    assert_eq!(names("replicasets").len(), 2);

    call(
        &kubecs,
        "DeleteService",
        json!({"cluster": cluster, "service": "web", "force": true}),
    );
    until(&kubecs, "INACTIVE", &|s| s["status"] == "INACTIVE");
    call(&kubecs, "DeleteCluster", json!({"cluster": cluster}));
}

/// A database-migration-style RunTask with command and environment overrides runs as a
/// pod and is stopped with StopTask; StopTask of a service's task makes the service
/// replace it.
async fn tasks_run_and_stop(env: &Env) {
    let cluster = kubecs_test_cluster::unique_name("tasks");
    let namespace = namespace_name(&ClusterScope {
        region: REGION,
        cluster: &cluster,
    });
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "app", "containerDefinitions": [{
            "name": "app", "image": "app:1", "cpu": 10, "memory": 32,
            "command": ["serve"],
            "environment": [{"name": "MODE", "value": "web"}],
        }]}),
    )
    .await;
    let ran = env
        .ok(
            "RunTask",
            json!({
                "cluster": cluster, "taskDefinition": "app", "startedBy": "deploy-42",
                "placementStrategy": [{"type": "spread", "field": "instanceId"}],
                "overrides": {"containerOverrides": [{
                    "name": "app", "command": ["migrate", "--up"],
                    "environment": [{"name": "MODE", "value": "migrate"}],
                }]},
            }),
        )
        .await;
    let task = &ran["tasks"][0];
    assert_eq!(task["lastStatus"], "PROVISIONING", "{ran:#}");
    assert_eq!(task["desiredStatus"], "RUNNING");
    assert_eq!(task["group"], "family:app");
    let arn = task["taskArn"].as_str().unwrap().to_owned();
    let id = arn.rsplit('/').next().unwrap().to_owned();

    let running = env
        .until_task(&cluster, &arn, "the task runs", |t| {
            t["lastStatus"] == "RUNNING"
        })
        .await;
    assert_eq!(running["startedBy"], "deploy-42");
    assert!(running["startedAt"].is_number(), "{running:#}");
    let pod = env.kubectl_json(&["get", "pod", "-n", &namespace, &format!("ecs-task-{id}")]);
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["args"], json!(["migrate", "--up"]));
    assert_eq!(
        container["env"],
        json!([{"name": "MODE", "value": "migrate"}])
    );
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    // The spread over instances, among the tasks of its group, as the API server keeps it.
    let spread = &pod["spec"]["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], "kubernetes.io/hostname", "{pod:#}");
    assert_eq!(
        spread["labelSelector"]["matchLabels"]["ecs.kubecs.io/task-group"],
        pod["metadata"]["labels"]["ecs.kubecs.io/task-group"]
    );
    assert!(pod["metadata"]["labels"]["ecs.kubecs.io/task-group"].is_string());
    let listed = env
        .ok(
            "ListTasks",
            json!({"cluster": cluster, "startedBy": "deploy-42"}),
        )
        .await;
    assert_eq!(listed["taskArns"], json!([arn]));

    let stopping = env
        .ok(
            "StopTask",
            json!({"cluster": cluster, "task": arn, "reason": "migration done"}),
        )
        .await;
    assert_eq!(stopping["task"]["desiredStatus"], "STOPPED");
    let stopped = env
        .until_task(&cluster, &arn, "the task stops", |t| {
            t["lastStatus"] == "STOPPED"
        })
        .await;
    assert_eq!(stopped["stopCode"], "UserInitiated");
    assert_eq!(stopped["stoppedReason"], "migration done");
    assert!(stopped["stoppedAt"].is_number(), "{stopped:#}");
    let listed = env
        .ok(
            "ListTasks",
            json!({"cluster": cluster, "desiredStatus": "STOPPED"}),
        )
        .await;
    assert_eq!(listed["taskArns"], json!([arn]));

    // A service's task stopped by the user: the service starts another one.
    env.ok(
        "CreateService",
        json!({"cluster": cluster, "serviceName": "web", "taskDefinition": "app", "desiredCount": 1}),
    )
    .await;
    env.until(&cluster, "web", "web runs", |s| s["runningCount"] == 1)
        .await;
    let first = env.tasks(&cluster, "web", "RUNNING").await;
    let first_arn = first[0]["taskArn"].as_str().unwrap().to_owned();
    // Protected from scale-in: its pod gets the highest deletion cost.
    env.ok(
        "UpdateTaskProtection",
        json!({"cluster": cluster, "tasks": [first_arn], "protectionEnabled": true}),
    )
    .await;
    let task_id = first_arn.rsplit('/').next().unwrap().to_owned();
    eventually("the protected pod's deletion cost", || async {
        let pods = env.kubectl_json(&["get", "pods", "-n", &namespace]);
        let cost = pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["metadata"]["uid"].as_str().unwrap().replace('-', "") == task_id)
            .map(|p| {
                p["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"].clone()
            });
        if cost == Some(json!("2147483647")) {
            Ok(())
        } else {
            Err(format!("{cost:?}"))
        }
    })
    .await;
    env.ok(
        "StopTask",
        json!({"cluster": cluster, "task": first_arn, "reason": "bad host"}),
    )
    .await;
    let replaced = env
        .until_task(&cluster, &first_arn, "the service's task stops", |t| {
            t["lastStatus"] == "STOPPED"
        })
        .await;
    assert_eq!(replaced["stopCode"], "UserInitiated");
    assert_eq!(replaced["stoppedReason"], "bad host");
    env.until(&cluster, "web", "a new task runs", |s| {
        s["runningCount"] == 1
    })
    .await;
    let now = env.tasks(&cluster, "web", "RUNNING").await;
    assert_eq!(now.len(), 1);
    assert_ne!(now[0]["taskArn"], first_arn.as_str());

    env.ok(
        "DeleteService",
        json!({"cluster": cluster, "service": "web", "force": true}),
    )
    .await;
    env.until(&cluster, "web", "INACTIVE", |s| s["status"] == "INACTIVE")
        .await;
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
}

/// Nodes are the container instances of every cluster, with the resources Kubernetes
/// gives them; a service's tasks are on them; draining one moves the tasks to the
/// others at the service's minimum healthy and maximum percents, and ACTIVE uncordons it.
async fn container_instances_are_the_nodes_and_draining_moves_tasks(env: &Env) {
    let cluster = kubecs_test_cluster::unique_name("nodes");
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    let nodes = env.kubectl_json(&["get", "nodes"]);
    let nodes = nodes["items"].as_array().unwrap().clone();
    // A failed earlier run may have left a node drained.
    for node in &nodes {
        let name = node["metadata"]["name"].as_str().unwrap();
        env.kube
            .kubectl(&["uncordon", name])
            .expect("kubectl uncordon");
    }
    let nodes = env.kubectl_json(&["get", "nodes"]);
    let nodes = nodes["items"].as_array().unwrap().clone();
    assert!(
        nodes.len() >= 2,
        "draining needs a second node for the tasks (the test cluster starts two)"
    );
    let listed = env
        .ok("ListContainerInstances", json!({"cluster": cluster}))
        .await;
    let arns = listed["containerInstanceArns"].as_array().unwrap().clone();
    assert_eq!(arns.len(), nodes.len(), "{listed:#}");
    let described = env
        .ok(
            "DescribeContainerInstances",
            json!({"cluster": cluster, "containerInstances": arns}),
        )
        .await;
    let instances = described["containerInstances"].as_array().unwrap().clone();
    let resource = |instance: &Value, list: &str, name: &str| {
        instance[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["integerValue"]
            .as_i64()
            .unwrap()
    };
    for node in &nodes {
        let name = node["metadata"]["name"].as_str().unwrap();
        let instance = instances
            .iter()
            .find(|i| {
                let id = i["ec2InstanceId"].as_str().unwrap();
                id == name
                    || node["spec"]["providerID"]
                        .as_str()
                        .is_some_and(|p| p.ends_with(id))
            })
            .unwrap_or_else(|| panic!("no instance for node {name}: {described:#}"));
        let allocatable = &node["status"]["allocatable"];
        let cores: f64 = allocatable["cpu"].as_str().unwrap().parse().unwrap();
        let memory = allocatable["memory"].as_str().unwrap();
        let mib = if let Some(ki) = memory.strip_suffix("Ki") {
            ki.parse::<i64>().unwrap() / 1024
        } else {
            memory.strip_suffix("Mi").unwrap().parse::<i64>().unwrap()
        };
        assert_eq!(
            resource(instance, "registeredResources", "CPU"),
            (cores * 1024.0) as i64
        );
        assert_eq!(resource(instance, "registeredResources", "MEMORY"), mib);
        assert_eq!(instance["agentConnected"], true);
        assert_eq!(instance["status"], "ACTIVE");
        let attributes = instance["attributes"].as_array().unwrap();
        assert!(
            attributes
                .iter()
                .any(|a| a["name"] == "ecs.os-type" && a["value"] == "linux"),
            "{instance:#}"
        );
    }
    let counted = env
        .ok("DescribeClusters", json!({"clusters": [cluster]}))
        .await;
    assert_eq!(
        counted["clusters"][0]["registeredContainerInstancesCount"],
        nodes.len()
    );

    // Two tasks of 100 CPU units each (100m): they show on their instances.
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "spread", "containerDefinitions": container("spread:1", 100)}),
    )
    .await;
    env.ok(
        "CreateService",
        json!({"cluster": cluster, "serviceName": "web", "taskDefinition": "spread", "desiredCount": 2}),
    )
    .await;
    env.until(&cluster, "web", "web runs", |s| s["runningCount"] == 2)
        .await;
    let tasks = eventually("tasks on instances", || async {
        let tasks = env.tasks(&cluster, "web", "RUNNING").await;
        if tasks.len() == 2 && tasks.iter().all(|t| t["containerInstanceArn"].is_string()) {
            Ok(tasks)
        } else {
            Err(format!("{tasks:#?}"))
        }
    })
    .await;
    let drained = tasks[0]["containerInstanceArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let on_drained = tasks
        .iter()
        .filter(|t| t["containerInstanceArn"] == drained.as_str())
        .count() as i64;
    // Container instances count the pods of a watch of their own, which may see a pod a
    // moment after the task records do.
    let before = eventually("the instance counts its tasks", || async {
        let before = env
            .ok(
                "DescribeContainerInstances",
                json!({"cluster": cluster, "containerInstances": [drained]}),
            )
            .await;
        if before["containerInstances"][0]["runningTasksCount"] == on_drained {
            Ok(before)
        } else {
            Err(format!("{before:#}"))
        }
    })
    .await;
    let instance = &before["containerInstances"][0];
    // 100 units = 100m each; remaining is allocatable minus every request on the node.
    assert!(
        resource(instance, "remainingResources", "CPU")
            <= resource(instance, "registeredResources", "CPU") - 100 * on_drained,
        "{instance:#}"
    );
    let listed = env
        .ok(
            "ListTasks",
            json!({"cluster": cluster, "containerInstance": drained}),
        )
        .await;
    assert_eq!(
        listed["taskArns"].as_array().unwrap().len() as i64,
        on_drained
    );

    let answer = env
        .ok(
            "UpdateContainerInstancesState",
            json!({"cluster": cluster, "containerInstances": [drained], "status": "DRAINING"}),
        )
        .await;
    assert_eq!(
        answer["containerInstances"][0]["status"], "DRAINING",
        "{answer:#}"
    );
    let node_name = instances
        .iter()
        .find(|i| i["containerInstanceArn"] == drained.as_str())
        .unwrap()["ec2InstanceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let node_of = |name: &str| {
        nodes
            .iter()
            .find(|n| {
                n["metadata"]["name"] == name
                    || n["spec"]["providerID"]
                        .as_str()
                        .is_some_and(|p| p.ends_with(name))
            })
            .unwrap()["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let node_name = node_of(&node_name);
    // The tasks move: two RUNNING again, none on the drained instance, the node cordoned.
    eventually("tasks moved off the drained instance", || async {
        let tasks = env.tasks(&cluster, "web", "RUNNING").await;
        let running = tasks
            .iter()
            .filter(|t| t["lastStatus"] == "RUNNING")
            .count();
        let left = tasks
            .iter()
            .filter(|t| t["containerInstanceArn"] == drained.as_str())
            .count();
        if running == 2 && left == 0 && tasks.len() == 2 {
            Ok(())
        } else {
            Err(format!("{tasks:#?}"))
        }
    })
    .await;
    let node = env.kubectl_json(&["get", "node", &node_name]);
    assert_eq!(node["spec"]["unschedulable"], true, "{node:#}");
    let service = env
        .until(&cluster, "web", "steady after the drain", |s| {
            s["runningCount"] == 2 && s["desiredCount"] == 2
        })
        .await;
    let stopped = env.tasks(&cluster, "web", "STOPPED").await;
    assert!(
        stopped.len() as i64 >= on_drained,
        "{stopped:#?} {service:#}"
    );
    let draining = env
        .ok(
            "ListContainerInstances",
            json!({"cluster": cluster, "status": "DRAINING"}),
        )
        .await;
    assert_eq!(draining["containerInstanceArns"], json!([drained]));

    let answer = env
        .ok(
            "UpdateContainerInstancesState",
            json!({"cluster": cluster, "containerInstances": [drained], "status": "ACTIVE"}),
        )
        .await;
    assert_eq!(answer["containerInstances"][0]["status"], "ACTIVE");
    eventually("the node is uncordoned", || async {
        let node = env.kubectl_json(&["get", "node", &node_name]);
        if node["spec"]["unschedulable"] != true {
            Ok(())
        } else {
            Err(format!("{node:#}"))
        }
    })
    .await;

    env.ok(
        "DeleteService",
        json!({"cluster": cluster, "service": "web", "force": true}),
    )
    .await;
    env.until(&cluster, "web", "INACTIVE", |s| s["status"] == "INACTIVE")
        .await;
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
}

/// An EXTERNAL service's task sets: each its own Deployment at its computed count, the
/// service's counts their sum; a deleted task set's Deployment goes, then the task set.
async fn task_sets_run_as_deployments_of_their_own(env: &Env) {
    let cluster = kubecs_test_cluster::unique_name("sets");
    let namespace = namespace_name(&ClusterScope {
        region: REGION,
        cluster: &cluster,
    });
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "bluegreen", "containerDefinitions": container("bluegreen:1", 10)}),
    )
    .await;
    env.ok(
        "CreateService",
        json!({"cluster": cluster, "serviceName": "web", "desiredCount": 2,
               "deploymentController": {"type": "EXTERNAL"}}),
    )
    .await;
    let mut ids = Vec::new();
    for percent in [100, 50] {
        let created = env
            .ok(
                "CreateTaskSet",
                json!({"cluster": cluster, "service": "web", "taskDefinition": "bluegreen:1",
                       "scale": {"value": percent, "unit": "PERCENT"}}),
            )
            .await;
        ids.push(created["taskSet"]["id"].as_str().unwrap().to_owned());
    }
    let steady = env
        .until(&cluster, "web", "both task sets run", |s| {
            s["runningCount"] == 3
                && s["taskSets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|t| t["stabilityStatus"] == "STEADY_STATE")
        })
        .await;
    let running: Vec<i64> = steady["taskSets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["runningCount"].as_i64().unwrap())
        .collect();
    assert_eq!(running, [2, 1], "{steady:#}");
    assert_eq!(env.names("deployments", &namespace).len(), 2);

    env.ok(
        "DeleteTaskSet",
        json!({"cluster": cluster, "service": "web", "taskSet": ids[1]}),
    )
    .await;
    env.until(&cluster, "web", "the deleted task set is gone", |s| {
        s["taskSets"].as_array().unwrap().len() == 1 && s["runningCount"] == 2
    })
    .await;
    assert_eq!(env.names("deployments", &namespace).len(), 1);
    env.ok(
        "DeleteService",
        json!({"cluster": cluster, "service": "web", "force": true}),
    )
    .await;
    env.until(&cluster, "web", "INACTIVE", |s| s["status"] == "INACTIVE")
        .await;
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
}

/// A DAEMON service is a DaemonSet: one task on each node, its desired count the nodes'.
async fn a_daemon_service_runs_a_task_on_every_node(env: &Env) {
    let cluster = kubecs_test_cluster::unique_name("daemon");
    let namespace = namespace_name(&ClusterScope {
        region: REGION,
        cluster: &cluster,
    });
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    env.ok(
        "RegisterTaskDefinition",
        json!({"family": "agent", "containerDefinitions": container("agent:1", 10)}),
    )
    .await;
    let nodes = env.kubectl_json(&["get", "nodes"])["items"]
        .as_array()
        .unwrap()
        .len();
    env.ok(
        "CreateService",
        json!({"cluster": cluster, "serviceName": "agent", "taskDefinition": "agent",
               "schedulingStrategy": "DAEMON"}),
    )
    .await;
    let steady = env
        .until(&cluster, "agent", "a task on every node", |s| {
            s["runningCount"] == nodes
                && s["desiredCount"] == nodes
                && s["deployments"][0]["rolloutState"] == "COMPLETED"
        })
        .await;
    assert_eq!(steady["schedulingStrategy"], "DAEMON");
    assert_eq!(env.names("daemonsets", &namespace).len(), 1);
    assert!(env.names("deployments", &namespace).is_empty());
    let tasks = env.tasks(&cluster, "agent", "RUNNING").await;
    let instances: std::collections::BTreeSet<&str> = tasks
        .iter()
        .map(|t| t["containerInstanceArn"].as_str().unwrap())
        .collect();
    assert_eq!(instances.len(), nodes, "one task per node: {tasks:#?}");
    env.ok(
        "DeleteService",
        json!({"cluster": cluster, "service": "agent", "force": true}),
    )
    .await;
    env.until(&cluster, "agent", "INACTIVE", |s| s["status"] == "INACTIVE")
        .await;
    assert!(env.names("daemonsets", &namespace).is_empty());
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
}

/// A daemon (ECS Daemons API) is a DaemonSet on the nodes of its capacity provider: its
/// deployment succeeds once every node runs it, an update rolls the pods to the new
/// revision, and DeleteDaemon removes the DaemonSet and then the daemon.
async fn a_daemon_runs_on_its_capacity_providers_nodes_and_rolls_out_revisions(env: &Env) {
    let cluster = kubecs_test_cluster::unique_name("daemons");
    let provider = kubecs_test_cluster::unique_name("edge");
    let namespace = namespace_name(&ClusterScope {
        region: REGION,
        cluster: &cluster,
    });
    let label = format!("ecs.kubecs.io/capacity-provider={provider}");
    env.kube
        .kubectl(&["label", "nodes", "--all", "--overwrite", &label])
        .expect("label the nodes");
    let nodes = env.kubectl_json(&["get", "nodes"])["items"]
        .as_array()
        .unwrap()
        .len();
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    env.ok(
        "CreateCapacityProvider",
        json!({"name": provider, "autoScalingGroupProvider": {"autoScalingGroupArn":
               "arn:aws:autoscaling:us-east-1:000000000000:autoScalingGroup:1:autoScalingGroupName/edge"}}),
    )
    .await;
    env.ok(
        "PutClusterCapacityProviders",
        json!({"cluster": cluster, "capacityProviders": [provider],
               "defaultCapacityProviderStrategy": []}),
    )
    .await;
    let definition = |image: &str| {
        json!({"family": "node-agent", "memory": "64",
               "containerDefinitions": [{"name": "agent", "image": image, "memory": 32}]})
    };
    let v1 = env
        .ok("RegisterDaemonTaskDefinition", definition("agent:1"))
        .await["daemonTaskDefinitionArn"]
        .clone();
    // The API refuses a provider no node carries yet: wait for the label to be seen.
    let created = eventually("CreateDaemon", || async {
        let answer = env
            .server
            .call(
                "CreateDaemon",
                json!({"daemonName": "agent", "clusterArn": cluster,
                       "daemonTaskDefinitionArn": v1, "capacityProviderArns": [provider],
                       "deploymentConfiguration": {"drainPercent": 50.0}}),
            )
            .await;
        if answer.status == 200 {
            Ok(answer.body)
        } else {
            Err(answer.text)
        }
    })
    .await;
    let daemon_arn = created["daemonArn"].clone();
    let reaches = |deployment: Value, status: &'static str| async move {
        let what = format!("the daemon deployment is {status}");
        eventually(&what, || async {
            let described = env
                .ok(
                    "DescribeDaemonDeployments",
                    json!({"daemonDeploymentArns": [&deployment]}),
                )
                .await;
            let d = described["daemonDeployments"][0].clone();
            if d["status"] == status {
                Ok(d)
            } else {
                Err(format!("{described:#}"))
            }
        })
        .await
    };
    let first = reaches(created["deploymentArn"].clone(), "SUCCESSFUL").await;
    assert_eq!(
        first["targetDaemonRevision"]["totalRunningInstanceCount"],
        nodes
    );
    assert!(first["startedAt"].is_number() && first["finishedAt"].is_number());
    let described = env
        .ok("DescribeDaemon", json!({"daemonArn": daemon_arn}))
        .await;
    let revisions = described["daemon"]["currentRevisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 1, "{described:#}");
    assert_eq!(revisions[0]["totalRunningCount"], nodes);
    assert_eq!(revisions[0]["capacityProviders"][0]["runningCount"], nodes);
    assert_eq!(env.names("daemonsets", &namespace).len(), 1);
    // Its pods are its tasks: listed by daemonName, described with the daemon's group,
    // revision, deployment and capacity provider.
    let daemon_tasks = |status: &'static str| {
        let cluster = cluster.clone();
        async move {
            env.ok(
                "ListTasks",
                json!({"cluster": cluster, "daemonName": "agent", "desiredStatus": status}),
            )
            .await["taskArns"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let running = daemon_tasks("RUNNING").await;
    assert_eq!(running.len(), nodes);
    let described = env
        .ok(
            "DescribeTasks",
            json!({"cluster": cluster, "tasks": running}),
        )
        .await;
    let deployment_id = first["daemonDeploymentArn"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    for task in described["tasks"].as_array().unwrap() {
        assert_eq!(task["group"], "daemon:agent", "{task:#}");
        assert_eq!(task["lastStatus"], "RUNNING", "{task:#}");
        assert_eq!(task["taskDefinitionArn"], v1);
        assert_eq!(task["startedBy"], deployment_id);
        assert_eq!(task["capacityProviderName"], provider.as_str());
    }
    let of_service = env
        .server
        .call(
            "ListTasks",
            json!({"cluster": cluster, "serviceName": "daemon/agent"}),
        )
        .await;
    assert_eq!(of_service.error_type(), "ServiceNotFoundException");
    // The cluster counts them.
    let counted = env
        .ok("DescribeClusters", json!({"clusters": [cluster]}))
        .await["clusters"][0]
        .clone();
    assert_eq!(counted["runningTasksCount"], nodes, "{counted:#}");
    // StopTask stops one: its DaemonSet starts another on the node.
    let victim = running[0].clone();
    env.ok(
        "StopTask",
        json!({"cluster": cluster, "task": victim, "reason": "rotating the agent"}),
    )
    .await;
    let stopped = eventually("the stopped daemon task replaced", || async {
        let stopped = env
            .ok(
                "DescribeTasks",
                json!({"cluster": cluster, "tasks": [victim]}),
            )
            .await["tasks"][0]
            .clone();
        let now_running = daemon_tasks("RUNNING").await;
        if stopped["lastStatus"] == "STOPPED"
            && now_running.len() == nodes
            && !now_running.contains(&victim)
        {
            Ok(stopped)
        } else {
            Err(format!("{stopped:#} {now_running:?}"))
        }
    })
    .await;
    assert_eq!(stopped["stopCode"], "UserInitiated");
    assert_eq!(stopped["stoppedReason"], "rotating the agent");

    // A new revision rolls every node's task over.
    let v2 = env
        .ok("RegisterDaemonTaskDefinition", definition("agent:2"))
        .await["daemonTaskDefinitionArn"]
        .clone();
    let updated = env
        .ok(
            "UpdateDaemon",
            json!({"daemonArn": daemon_arn, "daemonTaskDefinitionArn": v2,
                   "capacityProviderArns": [provider]}),
        )
        .await;
    let second = reaches(updated["deploymentArn"].clone(), "SUCCESSFUL").await;
    assert_eq!(
        second["targetDaemonRevision"]["totalRunningInstanceCount"],
        nodes
    );
    let pods = env.kubectl_json(&["get", "pods", "-n", &namespace]);
    let images: Vec<&str> = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| p["spec"]["containers"][0]["image"].as_str().unwrap())
        .collect();
    assert_eq!(images, vec!["agent:2"; nodes], "{pods:#}");

    // A revision no node can place trips the circuit breaker: the daemon goes back to
    // the revision before it.
    let greedy = env
        .ok(
            "RegisterDaemonTaskDefinition",
            json!({"family": "node-agent",
                   "containerDefinitions": [{"name": "agent", "image": "agent:3",
                                             "cpu": 102_400, "memory": 32}]}),
        )
        .await["daemonTaskDefinitionArn"]
        .clone();
    let failing = env
        .ok(
            "UpdateDaemon",
            json!({"daemonArn": daemon_arn, "daemonTaskDefinitionArn": greedy,
                   "capacityProviderArns": [provider]}),
        )
        .await;
    let rolled_back = reaches(failing["deploymentArn"].clone(), "ROLLBACK_SUCCESSFUL").await;
    assert_eq!(rolled_back["circuitBreaker"]["status"], "TRIGGERED");
    assert_eq!(
        rolled_back["rollback"]["rollbackTargetDaemonRevisionArn"],
        second["targetDaemonRevision"]["arn"]
    );
    let described = env
        .ok("DescribeDaemon", json!({"daemonArn": daemon_arn}))
        .await;
    let revisions = described["daemon"]["currentRevisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 1, "{described:#}");
    assert_eq!(revisions[0]["arn"], second["targetDaemonRevision"]["arn"]);
    assert_eq!(revisions[0]["totalRunningCount"], nodes);

    env.ok("DeleteDaemon", json!({"daemonArn": daemon_arn}))
        .await;
    eventually("the daemon gone", || async {
        let answer = env
            .server
            .call("DescribeDaemon", json!({"daemonArn": daemon_arn}))
            .await;
        match answer.error_type() {
            "DaemonNotFoundException" => Ok(()),
            _ => Err(answer.text),
        }
    })
    .await;
    assert!(env.names("daemonsets", &namespace).is_empty());
    // Its tasks' records stay, STOPPED.
    assert!(daemon_tasks("RUNNING").await.is_empty());
    let stopped = daemon_tasks("STOPPED").await;
    assert!(stopped.len() >= 2 * nodes, "{stopped:?}");
    let described = env
        .ok(
            "DescribeTasks",
            json!({"cluster": cluster, "tasks": stopped}),
        )
        .await;
    for task in described["tasks"].as_array().unwrap() {
        assert_eq!(task["lastStatus"], "STOPPED", "{task:#}");
    }
    let counted = env
        .ok("DescribeClusters", json!({"clusters": [cluster]}))
        .await["clusters"][0]
        .clone();
    assert_eq!(counted["runningTasksCount"], 0, "{counted:#}");
    assert_eq!(counted["pendingTasksCount"], 0, "{counted:#}");
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
    env.ok(
        "DeleteCapacityProvider",
        json!({"capacityProvider": provider}),
    )
    .await;
    env.kube
        .kubectl(&[
            "label",
            "nodes",
            "--all",
            "ecs.kubecs.io/capacity-provider-",
        ])
        .expect("unlabel the nodes");
}

/// An Express gateway service is an ECS service with an Ingress where the cluster has an
/// ingress class (none before there is one, and one as soon as there is): its host routed
/// to its container port; an
/// update rolls out a new revision; deleting it drains the service and the Ingress goes
/// with its Deployment.
async fn an_express_gateway_service_runs_with_an_ingress_to_its_port(env: &Env) {
    let cluster = kubecs_test_cluster::unique_name("express");
    let class = kubecs_test_cluster::unique_name("ingress");
    let namespace = namespace_name(&ClusterScope {
        region: REGION,
        cluster: &cluster,
    });
    env.ok("CreateCluster", json!({"clusterName": cluster}))
        .await;
    let created = env
        .ok(
            "CreateExpressGatewayService",
            json!({"cluster": cluster, "serviceName": "web",
                   "executionRoleArn": "arn:aws:iam::000000000000:role/ecsTaskExecutionRole",
                   "infrastructureRoleArn": "arn:aws:iam::000000000000:role/ecsInfrastructureRole",
                   "primaryContainer": {"image": "web:1", "containerPort": 8080}}),
        )
        .await;
    let arn = created["service"]["serviceArn"].clone();
    let endpoint = created["service"]["activeConfigurations"][0]["ingressPaths"][0]["endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let host = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    env.until(&cluster, "web", "the Express service's task running", |s| {
        s["runningCount"] == 1 && s["deployments"][0]["rolloutState"] == "COMPLETED"
    })
    .await;
    // Without an ingress class nothing would route an Ingress: none is made.
    assert!(env.names("ingresses", &namespace).is_empty());
    env.kube
        .kubectl_stdin(
            &["apply", "-f", "-"],
            &json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                    "metadata": {"name": class},
                    "spec": {"controller": "example.com/no-controller"}})
            .to_string(),
        )
        .expect("an ingress class");
    // The classes are watched: the endpoint is routed without another change of the
    // service.
    eventually("an Ingress once the class exists", || async {
        match env.names("ingresses", &namespace).is_empty() {
            true => Err("no Ingress".to_owned()),
            false => Ok(()),
        }
    })
    .await;
    env.ok(
        "UpdateExpressGatewayService",
        json!({"serviceArn": arn, "primaryContainer": {"image": "web:2"}}),
    )
    .await;
    let rolled = env
        .until(&cluster, "web", "the update rolled out", |s| {
            s["deployments"].as_array().unwrap().len() == 1
                && s["deployments"][0]["rolloutState"] == "COMPLETED"
                && s["runningCount"] == 1
                && s["taskDefinition"].as_str().unwrap().ends_with(":2")
        })
        .await;
    let ingresses = env.kubectl_json(&["get", "ingresses", "-n", &namespace]);
    let rule = &ingresses["items"][0]["spec"]["rules"][0];
    assert_eq!(rule["host"], host, "{ingresses:#}");
    let backend = &rule["http"]["paths"][0]["backend"]["service"];
    assert_eq!(backend["port"]["number"], 8080);
    assert_eq!(
        backend["name"].as_str().unwrap(),
        workload_name("web"),
        "the Ingress routes to the service's ClusterIP Service"
    );
    let services = env.kubectl_json(&["get", "services", "-n", &namespace]);
    assert!(
        services["items"].as_array().unwrap().iter().any(|s| {
            s["metadata"]["name"] == backend["name"] && s["spec"]["ports"][0]["port"] == 8080
        }),
        "{services:#}"
    );

    assert!(rolled["taskDefinition"]
        .as_str()
        .unwrap()
        .contains(&format!("{cluster}-web")));
    let described = env
        .ok("DescribeExpressGatewayService", json!({"serviceArn": arn}))
        .await;
    let configs = described["service"]["activeConfigurations"]
        .as_array()
        .unwrap();
    assert_eq!(configs.len(), 1, "{described:#}");
    assert_eq!(configs[0]["primaryContainer"]["image"], "web:2");

    env.ok("DeleteExpressGatewayService", json!({"serviceArn": arn}))
        .await;
    env.until(&cluster, "web", "INACTIVE", |s| s["status"] == "INACTIVE")
        .await;
    eventually("the Ingress gone", || async {
        let left = env.names("ingresses", &namespace);
        match left.is_empty() {
            true => Ok(()),
            false => Err(format!("{left:?}")),
        }
    })
    .await;
    let gone = env
        .ok("DescribeExpressGatewayService", json!({"serviceArn": arn}))
        .await;
    assert_eq!(gone["service"]["status"]["statusCode"], "INACTIVE");
    env.ok("DeleteCluster", json!({"cluster": cluster})).await;
    env.kube
        .kubectl(&["delete", "ingressclass", &class])
        .expect("delete the ingress class");
}
