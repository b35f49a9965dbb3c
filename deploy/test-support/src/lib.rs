//! Test support: gives cluster-backed tests a Kubernetes API server, the one named by
//! `KUBECONFIG` when it is set, otherwise the local control plane from `deploy/local-k8s`.
//!
//! ```no_run
//! let cluster = kubecs_test_cluster::cluster().expect("test cluster");
//! let ns = cluster.namespace("my_test").expect("namespace");
//! let pods = cluster.kubectl(&["-n", ns.name(), "get", "pods"]).expect("kubectl");
//! // `ns` is deleted when dropped, unless the test is panicking (kept for a look).
//! ```
//!
//! The local cluster is started at most once per test run and shared by every
//! test and every test binary (the scripts serialise on lock files), and stays
//! up afterwards so the next run reuses it; `deploy/local-k8s/down` stops it.
//! Each time a test asks for it ([`cluster`], [`Cluster::namespace`]) it is
//! checked first: every component still running and every node Ready. When not
//! (a hollow node died, the machine slept), `up` runs again and restarts what is
//! broken from the same state, before the test relies on it.
//! Each test takes its own namespace ([`Cluster::namespace`]) or ECS cluster
//! name ([`unique_name`]), so tests can run in parallel. Talking to the API
//! server goes through `kubectl` (the same v1.20.2 as the server when the
//! local cluster is used), which keeps this crate free of dependencies.

mod error;
mod local;
mod names;

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

pub use error::Error;
pub use local::{repo_root, scripts_dir};
pub use names::{is_dns_label, unique_name};

/// Label put on every namespace made by [`Cluster::namespace`], so leftovers
/// from failed tests can be found: `kubectl delete ns -l kubecs-test=true`.
pub const TEST_NAMESPACE_LABEL: &str = "kubecs-test";

/// A Kubernetes cluster reachable with `kubectl`.
#[derive(Debug, Clone)]
pub struct Cluster {
    kubeconfig: OsString,
    kubectl: PathBuf,
    /// The local cluster's state directory (`up`'s, holding `kubeconfig`,
    /// `config.env` and `pids/`); `None` for a cluster named by `KUBECONFIG`.
    state_dir: Option<PathBuf>,
}

static CLUSTER: OnceLock<Result<Cluster, Error>> = OnceLock::new();

/// One repair at a time in this process: threads that find the cluster broken
/// together wait for the first one's `up` and then find it whole.
static REPAIR: Mutex<()> = Mutex::new(());

/// The cluster for this test run: `KUBECONFIG`'s when set, else the local one,
/// started (and built or unpacked) on first use. Later calls, from any thread,
/// get the same cluster or the same error; for the local cluster each call
/// first checks it is whole and restarts what is not ([`Cluster::ensure_ready`]).
pub fn cluster() -> Result<&'static Cluster, Error> {
    let cluster = CLUSTER
        .get_or_init(find_or_start)
        .as_ref()
        .map_err(Clone::clone)?;
    cluster.ensure_ready()?;
    Ok(cluster)
}

fn find_or_start() -> Result<Cluster, Error> {
    let cluster = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(kubeconfig) => Cluster {
            kubeconfig,
            kubectl: default_kubectl(),
            state_dir: None,
        },
        None => {
            let up = local::start()?;
            // `up` prints <state dir>/kubeconfig.
            let state_dir = up
                .kubeconfig
                .parent()
                .map(Path::to_path_buf)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "kubeconfig path without a directory: {}",
                        up.kubeconfig.display()
                    ))
                })?;
            Cluster {
                kubeconfig: up.kubeconfig.into_os_string(),
                kubectl: up.kubectl,
                state_dir: Some(state_dir),
            }
        }
    };
    // Fail here, once, with a clear message rather than in every test.
    cluster.kubectl(&["--request-timeout=10s", "get", "--raw", "/readyz"])?;
    Ok(cluster)
}

/// kubectl for a cluster named by `KUBECONFIG`: `KUBECS_KUBECTL`, else the one
/// `deploy/local-k8s/build` cached (same paths as its common.sh), else PATH's.
fn default_kubectl() -> PathBuf {
    if let Some(k) = std::env::var_os("KUBECS_KUBECTL").filter(|v| !v.is_empty()) {
        return PathBuf::from(k);
    }
    let bin_dir = std::env::var_os("KUBECS_K8S_BIN_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("KUBECS_K8S_CACHE_DIR").map(|d| PathBuf::from(d).join("bin")))
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
                .map(|c| c.join("kubecs").join("k8s-v1.20.2").join("bin"))
        });
    match bin_dir.map(|d| d.join("kubectl")) {
        Some(k) if k.is_file() => k,
        _ => PathBuf::from("kubectl"),
    }
}

impl Cluster {
    /// The kubeconfig (a path; with a user's `KUBECONFIG` possibly a list).
    pub fn kubeconfig(&self) -> &Path {
        Path::new(&self.kubeconfig)
    }

    /// The kubectl binary used for this cluster.
    pub fn kubectl_path(&self) -> &Path {
        &self.kubectl
    }

    /// True when this is the local cluster of `deploy/local-k8s` (hollow nodes
    /// named `hollow-node-<i>`), false when it came from `KUBECONFIG`.
    pub fn is_local(&self) -> bool {
        self.state_dir.is_some()
    }

    /// The local cluster's state directory (pids, logs, the nodes' runtime
    /// sockets); `None` for a cluster named by `KUBECONFIG`.
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// Each node's name and the status of its Ready condition (`True`,
    /// `False`, `Unknown`, or empty when it has none yet).
    pub fn node_readiness(&self) -> Result<Vec<(String, String)>, Error> {
        let out = self.kubectl(&[
            "--request-timeout=10s",
            "get",
            "nodes",
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}"#,
        ])?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(n, s)| (n.to_owned(), s.to_owned()))
            .collect())
    }

    /// Makes sure the local cluster is whole before a test relies on it: every
    /// component `up` started still runs (its pid file names a live process of
    /// this state dir) and every hollow node is Ready. Otherwise runs `up`
    /// again, which restarts from the same state what is broken (only the
    /// nodes when the control plane is fine, ~2 s; else everything, ~10 s),
    /// and checks again. A cluster named by `KUBECONFIG` is not ours to
    /// restart and is taken as it is.
    pub fn ensure_ready(&self) -> Result<(), Error> {
        let Some(state_dir) = self.state_dir.as_deref() else {
            return Ok(());
        };
        if self.local_problem(state_dir).is_none() {
            return Ok(());
        }
        let _one_at_a_time = REPAIR.lock().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have repaired it while this one waited.
        let Some(problem) = self.local_problem(state_dir) else {
            return Ok(());
        };
        eprintln!("kubecs-test-cluster: the local cluster is not whole ({problem}); running deploy/local-k8s/up");
        local::start()?;
        match self.local_problem(state_dir) {
            None => Ok(()),
            Some(problem) => Err(Error::Invalid(format!(
                "the local cluster in {} is still not whole after deploy/local-k8s/up: {problem}",
                state_dir.display()
            ))),
        }
    }

    /// What is wrong with the local cluster in `state_dir`, or `None`.
    fn local_problem(&self, state_dir: &Path) -> Option<String> {
        let components = match local::expected_components(state_dir) {
            Ok(c) => c,
            Err(e) => return Some(e),
        };
        let dead: Vec<&str> = components
            .iter()
            .map(String::as_str)
            .filter(|c| !local::component_running(state_dir, c))
            .collect();
        if !dead.is_empty() {
            return Some(format!("not running: {}", dead.join(", ")));
        }
        let nodes = match self.node_readiness() {
            Ok(nodes) => nodes,
            Err(e) => return Some(format!("kubectl get nodes failed: {e}")),
        };
        let not_ready: Vec<&str> = components
            .iter()
            .map(String::as_str)
            .filter(|c| c.starts_with("hollow-node-"))
            .filter(|c| !nodes.iter().any(|(n, ready)| n == c && ready == "True"))
            .collect();
        (!not_ready.is_empty()).then(|| format!("not Ready: {}", not_ready.join(", ")))
    }

    /// A `kubectl` command aimed at this cluster; add arguments and run it.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.env("KUBECONFIG", &self.kubeconfig);
        cmd
    }

    /// Runs kubectl with `args`; returns its stdout, or an error with its stderr.
    pub fn kubectl(&self, args: &[&str]) -> Result<String, Error> {
        self.kubectl_with_stdin(args, None)
    }

    /// Runs kubectl with `args` and `input` on its stdin (e.g. `apply -f -`).
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Result<String, Error> {
        self.kubectl_with_stdin(args, Some(input))
    }

    fn kubectl_with_stdin(&self, args: &[&str], input: Option<&str>) -> Result<String, Error> {
        let command_line = format!("kubectl {}", args.join(" "));
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| Error::Spawn {
            program: self.kubectl.display().to_string(),
            message: e.to_string(),
        })?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(input.as_bytes())
                .map_err(|e| Error::Spawn {
                    program: command_line.clone(),
                    message: format!("writing stdin: {e}"),
                })?;
        }
        let out = child.wait_with_output().map_err(|e| Error::Spawn {
            program: command_line.clone(),
            message: e.to_string(),
        })?;
        if !out.status.success() {
            return Err(Error::Command {
                command: command_line,
                status: out.status.to_string(),
                output: error::tail(&String::from_utf8_lossy(&out.stderr), 4000),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Creates a namespace of its own for one test, named after `test_name`
    /// plus a unique suffix (after [`Cluster::ensure_ready`], as a test that
    /// asks for a namespace is about to rely on the nodes), and waits until
    /// its `default` service account
    /// exists (pods are refused before that). Deleted when the returned value
    /// is dropped, unless the thread is panicking or `KUBECS_TEST_KEEP_NAMESPACES`
    /// is set: a failed test's objects stay for inspection.
    pub fn namespace(&self, test_name: &str) -> Result<TestNamespace<'_>, Error> {
        self.ensure_ready()?;
        let name = unique_name(test_name);
        let manifest = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    {TEST_NAMESPACE_LABEL}: \"true\"\n"
        );
        self.kubectl_stdin(&["create", "-f", "-"], &manifest)?;
        let ns = TestNamespace {
            name,
            cluster: self,
        };
        wait_until(
            &format!("the default service account in namespace {}", ns.name),
            Duration::from_secs(60),
            || {
                Ok(self
                    .kubectl(&[
                        "-n",
                        &ns.name,
                        "get",
                        "serviceaccount",
                        "default",
                        "-o",
                        "name",
                    ])
                    .ok())
            },
        )?;
        Ok(ns)
    }
}

/// A namespace owned by one test; see [`Cluster::namespace`].
#[derive(Debug)]
pub struct TestNamespace<'a> {
    name: String,
    cluster: &'a Cluster,
}

impl TestNamespace<'_> {
    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestNamespace<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("KUBECS_TEST_KEEP_NAMESPACES").is_some() {
            eprintln!(
                "kubecs-test-cluster: keeping namespace {} for inspection",
                self.name
            );
            return;
        }
        // --wait=false: namespace finalisation takes seconds and nothing waits on it.
        if let Err(e) = self
            .cluster
            .kubectl(&["delete", "namespace", &self.name, "--wait=false"])
        {
            eprintln!(
                "kubecs-test-cluster: could not delete namespace {}: {e}",
                self.name
            );
        }
    }
}

/// Polls `probe` every 250 ms until it returns `Some`, for at most `timeout`.
/// `what` names the awaited condition in the timeout error; a probe error ends
/// the wait at once.
pub fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl FnMut() -> Result<Option<T>, Error>,
) -> Result<T, Error> {
    let start = Instant::now();
    loop {
        if let Some(value) = probe()? {
            return Ok(value);
        }
        if start.elapsed() >= timeout {
            return Err(Error::Invalid(format!(
                "timed out after {timeout:?} waiting for {what}"
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_returns_the_first_value_and_times_out_otherwise() {
        let mut calls = 0;
        let got = wait_until("third call", Duration::from_secs(5), || {
            calls += 1;
            Ok((calls == 3).then_some(calls))
        });
        assert_eq!(got, Ok(3));

        let err = wait_until::<()>("never", Duration::from_millis(300), || Ok(None))
            .expect_err("must time out");
        assert!(err.to_string().contains("never"), "{err}");
    }

    #[test]
    fn wait_until_stops_on_a_probe_error() {
        let mut calls = 0;
        let err = wait_until::<()>("x", Duration::from_secs(5), || {
            calls += 1;
            Err(Error::Invalid("boom".into()))
        });
        assert_eq!(err, Err(Error::Invalid("boom".into())));
        assert_eq!(calls, 1);
    }
}
