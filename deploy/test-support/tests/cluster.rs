//! Cluster-backed tests of the test support itself: they obtain the cluster the
//! way every cluster-backed test does (starting the local one when `KUBECONFIG`
//! is unset) and check that it is a working Kubernetes: Ready nodes, pods with
//! resource limits scheduled and Running/Ready, per-test namespaces, and the
//! deploy/kubernetes manifests accepted by the API server with the right RBAC.
//! Each test works in its own namespace, so they run in parallel.

use std::process::Command;
use std::time::{Duration, Instant};

use kubecs_test_cluster::{cluster, repo_root, unique_name, wait_until, Cluster, Error};

fn test_cluster() -> &'static Cluster {
    match cluster() {
        Ok(c) => c,
        Err(e) => panic!("no test cluster: {e}"),
    }
}

#[test]
fn the_cluster_has_a_ready_node_and_the_local_one_is_a_hollow_node() {
    let cluster = test_cluster();
    let nodes = cluster.node_readiness().expect("kubectl get nodes");
    assert!(
        nodes.iter().any(|(_, ready)| ready == "True"),
        "no Ready node: {nodes:?}"
    );
    if cluster.is_local() {
        assert!(
            nodes
                .iter()
                .any(|(n, ready)| n == "hollow-node-0" && ready == "True"),
            "hollow-node-0 is not Ready: {nodes:?}"
        );
    }
    let version = cluster
        .kubectl(&["version", "-o", "json"])
        .expect("version");
    if cluster.is_local() {
        assert!(version.contains("\"gitVersion\": \"v1.20.2\""), "{version}");
    }
}

#[test]
fn a_deployment_with_resource_limits_gets_running_ready_pods_on_a_node() {
    let cluster = test_cluster();
    let ns = cluster.namespace("deployment_limits").expect("namespace");
    // resources.limits is the typed-key map that crashed a kube-apiserver built
    // with the vendored reflect2 under Go 1.19: keep it in this manifest.
    let manifest = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
        ports:
        - {containerPort: 8080, protocol: TCP}
        resources:
          requests: {cpu: 50m, memory: 32Mi}
          limits: {cpu: 100m, memory: 64Mi}
"#;
    cluster
        .kubectl_stdin(&["-n", ns.name(), "apply", "-f", "-"], manifest)
        .expect("apply deployment");

    let pods = wait_until("2 Running and Ready pods", Duration::from_secs(120), || {
        let out = cluster.kubectl(&[
            "-n",
            ns.name(),
            "get",
            "pods",
            "-l",
            "app=web",
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase} {.status.conditions[?(@.type=="Ready")].status} {.spec.containers[0].resources.limits.memory}{"\n"}{end}"#,
        ])?;
        let ready: Vec<String> = out
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                f.len() == 5 && !f[1].is_empty() && f[2] == "Running" && f[3] == "True"
            })
            .map(str::to_owned)
            .collect();
        Ok((ready.len() == 2).then_some(ready))
    })
    .expect("pods become Running/Ready");
    for pod in &pods {
        assert!(pod.ends_with(" 64Mi"), "limits not kept: {pod}");
        if cluster.is_local() {
            assert!(pod.contains(" hollow-node-"), "not on a hollow node: {pod}");
        }
    }
    let available = cluster
        .kubectl(&[
            "-n",
            ns.name(),
            "get",
            "deployment",
            "web",
            "-o",
            "jsonpath={.status.availableReplicas}",
        ])
        .expect("deployment status");
    // The deployment controller may lag the pods by a moment.
    if available.trim() != "2" {
        wait_until("deployment available", Duration::from_secs(30), || {
            let a = cluster.kubectl(&[
                "-n",
                ns.name(),
                "get",
                "deployment",
                "web",
                "-o",
                "jsonpath={.status.availableReplicas}",
            ])?;
            Ok((a.trim() == "2").then_some(()))
        })
        .expect("deployment reports 2 available replicas");
    }
}

#[test]
fn each_test_namespace_is_unique_and_deleted_when_dropped() {
    let cluster = test_cluster();
    let a = cluster.namespace("ns_lifecycle").expect("namespace a");
    let b = cluster.namespace("ns_lifecycle").expect("namespace b");
    assert_ne!(a.name(), b.name());
    let label = cluster
        .kubectl(&[
            "get",
            "namespace",
            a.name(),
            "-o",
            "jsonpath={.metadata.labels.kubecs-test}",
        ])
        .expect("get namespace");
    assert_eq!(label, "true");
    let name = a.name().to_owned();
    drop(a);
    wait_until(
        "namespace to be deleted or terminating",
        Duration::from_secs(60),
        || match cluster.kubectl(&["get", "namespace", &name, "-o", "jsonpath={.status.phase}"]) {
            Ok(phase) => Ok((phase == "Terminating").then_some(())),
            Err(Error::Command { output, .. }) if output.contains("NotFound") => Ok(Some(())),
            Err(e) => Err(e),
        },
    )
    .expect("dropped namespace goes away");
    // `b` is still there until it is dropped.
    cluster
        .kubectl(&["get", "namespace", b.name()])
        .expect("the other namespace is untouched");
}

#[test]
fn ecs_cluster_names_are_unique_and_valid() {
    let a = unique_name("ecs_cluster");
    let b = unique_name("ecs_cluster");
    assert_ne!(a, b);
    assert!(a.starts_with("ecs-cluster-"), "{a}");
}

#[test]
fn the_kubernetes_manifests_pass_a_server_side_dry_run_and_the_rbac_checks() {
    let cluster = test_cluster();
    let check = repo_root().join("deploy").join("kubernetes").join("check");
    let out = Command::new(&check)
        .env("KUBECONFIG", cluster.kubeconfig())
        .env("KUBECS_KUBECTL", cluster.kubectl_path())
        .output()
        .expect("run deploy/kubernetes/check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "deploy/kubernetes/check failed:\n{text}"
    );
    // The script must have checked both what is allowed and what is not.
    assert!(text.contains("can patch deployments.apps"), "{text}");
    assert!(text.contains("cannot get secrets"), "{text}");
}

#[test]
fn a_second_up_reuses_the_running_local_cluster_quickly() {
    let cluster = test_cluster();
    if !cluster.is_local() {
        eprintln!("KUBECONFIG is set: nothing to check about the local cluster's reuse");
        return;
    }
    let started = Instant::now();
    let out = Command::new(repo_root().join("deploy").join("local-k8s").join("up"))
        .output()
        .expect("run up");
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "export KUBECONFIG={}",
            cluster.kubeconfig().display()
        )),
        "{stdout}"
    );
    // A fresh start takes ~15 s; reuse only checks pids and /readyz.
    assert!(elapsed < Duration::from_secs(10), "reuse took {elapsed:?}");
}
