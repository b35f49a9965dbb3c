//! Which Kubernetes cluster kubecs uses: `--kubeconfig` (or `KUBECONFIG`), else the
//! in-cluster service account when kubecs runs in a pod, else the local control plane of
//! `deploy/local-k8s` when it has been started on this machine, else none (the API is
//! served all the same, and kubecs looks again every few seconds).

use std::ffi::OsString;
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
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    local_kubeconfig_in(
        var("KUBECS_LOCAL_K8S_STATE_DIR"),
        var("XDG_CACHE_HOME"),
        var("HOME"),
    )
}

/// [`local_kubeconfig`] for these environment values: the state directory, else
/// `<cache>/kubecs/local-k8s` with the cache `XDG_CACHE_HOME`, else `~/.cache`.
fn local_kubeconfig_in(
    state_dir: Option<OsString>,
    xdg_cache: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let dir = match state_dir {
        Some(dir) => PathBuf::from(dir),
        None => xdg_cache
            .map(PathBuf::from)
            .or_else(|| home.map(|h| PathBuf::from(h).join(".cache")))?
            .join("kubecs")
            .join("local-k8s"),
    };
    Some(dir.join("kubeconfig"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_kubeconfig_is_where_local_k8s_up_writes_it() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(
            local_kubeconfig_in(os("/state"), os("/xdg"), os("/home/u")),
            Some(PathBuf::from("/state/kubeconfig"))
        );
        assert_eq!(
            local_kubeconfig_in(None, os("/xdg"), os("/home/u")),
            Some(PathBuf::from("/xdg/kubecs/local-k8s/kubeconfig"))
        );
        assert_eq!(
            local_kubeconfig_in(None, None, os("/home/u")),
            Some(PathBuf::from("/home/u/.cache/kubecs/local-k8s/kubeconfig"))
        );
        assert_eq!(local_kubeconfig_in(None, None, None), None);
    }
}
