//! Which Kubernetes cluster kubecs uses: `--kubeconfig` (or `KUBECONFIG`), else the
//! in-cluster service account when kubecs runs in a pod, else the local control plane of
//! `deploy/local-k8s` when it has been started on this machine, else none (the API is
//! served all the same, and kubecs looks again every few seconds).

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// Where the cluster came from, for the logs and `--help`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A kubeconfig file named by `--kubeconfig`/`KUBECONFIG`.
    Kubeconfig(PathBuf),
    /// The service account of the pod kubecs runs in.
    InCluster,
    /// `deploy/local-k8s`'s kubeconfig.
    Local(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Kubeconfig(path) => write!(f, "kubeconfig {}", path.display()),
            Source::InCluster => f.write_str("in-cluster service account"),
            Source::Local(path) => write!(f, "local control plane ({})", path.display()),
        }
    }
}

/// The kubeconfig `deploy/local-k8s/up` writes (its `common.sh` paths).
pub fn local_kubeconfig() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("KUBECS_LOCAL_K8S_STATE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("kubeconfig"));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("kubecs").join("local-k8s").join("kubeconfig"))
}

/// The cluster to use now, per the module's order; `Ok(None)` when there is none yet.
/// `explicit` is `--kubeconfig`, or `KUBECONFIG` (its first file when it lists several).
pub async fn find(explicit: Option<&Path>) -> Result<Option<(Client, Source)>, String> {
    if let Some(path) = explicit {
        let config = from_file(path).await?;
        return client(config).map(|c| Some((c, Source::Kubeconfig(path.to_owned()))));
    }
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        let config = Config::incluster().map_err(|e| format!("in-cluster configuration: {e}"))?;
        return client(config).map(|c| Some((c, Source::InCluster)));
    }
    match local_kubeconfig() {
        Some(path) if path.is_file() => {
            let config = from_file(&path).await?;
            client(config).map(|c| Some((c, Source::Local(path))))
        }
        _ => Ok(None),
    }
}

async fn from_file(path: &Path) -> Result<Config, String> {
    let kubeconfig = Kubeconfig::read_from(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn client(config: Config) -> Result<Client, String> {
    Client::try_from(config).map_err(|e| format!("cannot build a Kubernetes client: {e}"))
}
