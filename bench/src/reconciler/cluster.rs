//! The Kubernetes side of the reconciler benchmark: which cluster (KUBECONFIG, or the
//! local control plane started with enough hollow nodes), checks that it can hold the
//! run and that no other kubecs's objects are on it, the direct-Deployment baseline, and
//! removing what the run left.

use anyhow::{bail, Context};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, ServiceAccount};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::observer::MANAGED_SELECTOR;

/// Pods a kubemark hollow node (like a default kubelet) accepts.
pub const PODS_PER_NODE: usize = 110;
/// The field manager of the baseline's applies (kubecs applies as `kubecs`).
const FIELD_MANAGER: &str = "kubecs-bench";
const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// The cluster to run on: `kubeconfig` when given; else the local control plane of
/// deploy/local-k8s, started (or reused) by `kubecs_test_cluster` with `nodes` hollow
/// nodes. Blocking (it runs `up`, which may take a minute).
pub fn find_or_start(kubeconfig: Option<PathBuf>, nodes: usize) -> anyhow::Result<PathBuf> {
    if let Some(path) = kubeconfig.filter(|p| !p.as_os_str().is_empty()) {
        return Ok(path);
    }
    // `up` reads its node count from here when it creates the state directory (an
    // existing one keeps its own: the capacity check below says when it is too small).
    std::env::set_var("KUBECS_LOCAL_K8S_NODES", nodes.to_string());
    std::env::remove_var("KUBECONFIG");
    println!(
        "no KUBECONFIG: starting or reusing the local control plane (deploy/local-k8s/up, {nodes} hollow node(s))"
    );
    let cluster = kubecs_test_cluster::cluster()
        .map_err(|e| anyhow::anyhow!("the local control plane: {e}"))?;
    Ok(cluster.kubeconfig().to_path_buf())
}

pub async fn client(kubeconfig: &Path) -> anyhow::Result<Client> {
    let file = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("using {}", kubeconfig.display()))?;
    Ok(Client::try_from(config)?)
}

/// The API server's version (`v1.20.2`).
pub async fn server_version(client: &Client) -> String {
    client
        .apiserver_version()
        .await
        .map_or_else(|e| format!("unknown ({e})"), |v| v.git_version)
}

/// Ready nodes and the pods they accept in all.
pub async fn capacity(client: &Client) -> anyhow::Result<(usize, usize)> {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?;
    let mut ready = 0;
    let mut pods = 0;
    for node in &nodes.items {
        let Some(status) = &node.status else { continue };
        let is_ready = status
            .conditions
            .as_ref()
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if is_ready {
            ready += 1;
            pods += status
                .allocatable
                .as_ref()
                .and_then(|a| a.get("pods"))
                .and_then(|q| q.0.parse::<usize>().ok())
                .unwrap_or(0);
        }
    }
    Ok((ready, pods))
}

/// Refuses a cluster that holds namespaces made by a kubecs: another kubecs reconciling
/// there would remove this run's objects (and this run's kubecs would remove its). Waits
/// a while for ones being deleted (a previous run's).
pub async fn ensure_no_kubecs_namespaces(client: &Client) -> anyhow::Result<()> {
    let api = Api::<Namespace>::all(client.clone());
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut said = false;
    loop {
        let list = api
            .list(&ListParams::default().labels(MANAGED_SELECTOR))
            .await?;
        if list.items.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = list
            .items
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        let terminating = list
            .items
            .iter()
            .all(|n| n.metadata.deletion_timestamp.is_some());
        if !terminating {
            bail!(
                "the cluster has namespaces made by a kubecs ({}): another kubecs may be reconciling on it, and two undo each other. Use a cluster of your own (e.g. KUBECS_LOCAL_K8S_STATE_DIR=<dir> and other ports for deploy/local-k8s/up), or delete them if they are left from an interrupted run: kubectl delete ns -l {MANAGED_SELECTOR}",
                names.join(", ")
            );
        }
        if Instant::now() > deadline {
            bail!(
                "namespaces made by a kubecs are still being deleted after 300 s: {}",
                names.join(", ")
            );
        }
        if !said {
            println!(
                "waiting for {} namespace(s) of an earlier run to be deleted",
                names.len()
            );
            said = true;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Creates the baseline's namespace and waits for its default service account (pods are
/// refused before it exists).
pub async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let ns: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubecs-bench": "direct"}},
    }))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), name);
    let deadline = Instant::now() + Duration::from_secs(60);
    while accounts.get_opt("default").await?.is_none() {
        if Instant::now() > deadline {
            bail!("no default service account in {name} after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The Deployment kubecs made for `service` (found by its service label in `namespace`).
pub async fn kubecs_deployment(
    client: &Client,
    namespace: &str,
    service: &str,
) -> anyhow::Result<Deployment> {
    let list = Api::<Deployment>::namespaced(client.clone(), namespace)
        .list(
            &ListParams::default().labels(&format!("{}={service}", super::observer::SERVICE_LABEL)),
        )
        .await?;
    list.items
        .into_iter()
        .next()
        .with_context(|| format!("no Deployment of service {service} in {namespace}"))
}

/// kubecs's Deployment as a plain manifest for another namespace: its spec (the pod
/// template kubecs made) with `replicas`, under `name`, without status or server-set
/// metadata, and with the managed-by label changed so that no kubecs ever takes it for
/// its own.
pub fn baseline_manifest(
    from: &Deployment,
    namespace: &str,
    name: &str,
    replicas: usize,
) -> anyhow::Result<Value> {
    let mut v = serde_json::to_value(from)?;
    let relabel = |labels: &mut Value| {
        if let Some(map) = labels.as_object_mut() {
            if map.contains_key(MANAGED_BY_LABEL) {
                map.insert(MANAGED_BY_LABEL.into(), Value::from(FIELD_MANAGER));
            }
        }
    };
    let mut labels = v["metadata"]["labels"].take();
    relabel(&mut labels);
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
    }
    v["metadata"] = json!({"name": name, "namespace": namespace, "labels": labels});
    v["spec"]["replicas"] = Value::from(replicas);
    relabel(&mut v["spec"]["selector"]["matchLabels"]);
    relabel(&mut v["spec"]["template"]["metadata"]["labels"]);
    Ok(v)
}

/// Applies a baseline Deployment (server-side apply, as kubecs does).
pub async fn apply(client: &Client, namespace: &str, manifest: &Value) -> anyhow::Result<()> {
    let name = manifest["metadata"]["name"].as_str().unwrap_or_default();
    Api::<Deployment>::namespaced(client.clone(), namespace)
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(manifest),
        )
        .await
        .with_context(|| format!("applying Deployment {namespace}/{name}"))?;
    Ok(())
}

/// Whether a Deployment has rolled out: the controller has seen its generation and all
/// `replicas` are updated and available (what `kubectl rollout status` waits for).
pub async fn is_available(
    client: &Client,
    namespace: &str,
    name: &str,
    replicas: usize,
) -> anyhow::Result<bool> {
    let d = Api::<Deployment>::namespaced(client.clone(), namespace)
        .get(name)
        .await?;
    Ok(rolled_out(&d, replicas))
}

/// [`is_available`] for a Deployment at hand.
pub fn rolled_out(d: &Deployment, replicas: usize) -> bool {
    let Some(status) = &d.status else {
        return false;
    };
    let want = i32::try_from(replicas).unwrap_or(i32::MAX);
    let generation = d.metadata.generation.unwrap_or(0);
    status.observed_generation.unwrap_or(0) >= generation
        && status.updated_replicas.unwrap_or(0) == want
        && status.available_replicas.unwrap_or(0) == want
        && status.replicas.unwrap_or(0) == want
}

/// First times seen, by object name.
pub type FirstSeen = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>>;

/// Watches the Deployments and Pods of `namespace`, recording the first time each
/// Deployment is rolled out with `replicas` and each pod is Ready (until aborted).
pub async fn watch_rollouts(
    client: Client,
    namespace: String,
    replicas: usize,
    rollouts: FirstSeen,
    pods_ready: FirstSeen,
) {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::runtime::{watcher, WatchStreamExt};
    let record = |seen: &FirstSeen, name: Option<String>| {
        let now = Instant::now();
        let mut seen = seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.entry(name.unwrap_or_default()).or_insert(now);
    };
    let deployments = async {
        let api = Api::<Deployment>::namespaced(client.clone(), &namespace);
        let stream = watcher(api, watcher::Config::default()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) = event {
                if rolled_out(&d, replicas) {
                    record(&rollouts, d.metadata.name);
                }
            }
        }
    };
    let pods = async {
        let api = Api::<Pod>::namespaced(client.clone(), &namespace);
        let stream = watcher(api, watcher::Config::default()).default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) = event {
                if super::observer::is_ready(&p) {
                    record(&pods_ready, p.metadata.name);
                }
            }
        }
    };
    futures::join!(deployments, pods);
}

/// Deletes `names` (namespaces) and waits up to `limit` for them to be gone; returns the
/// ones still there.
pub async fn delete_namespaces(
    client: &Client,
    names: &[String],
    limit: Duration,
) -> anyhow::Result<Vec<String>> {
    let api = Api::<Namespace>::all(client.clone());
    for name in names {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(e).with_context(|| format!("deleting namespace {name}")),
        }
    }
    let deadline = Instant::now() + limit;
    loop {
        let mut left = Vec::new();
        for name in names {
            if api.get_opt(name).await?.is_some() {
                left.push(name.clone());
            }
        }
        if left.is_empty() || Instant::now() > deadline {
            return Ok(left);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
