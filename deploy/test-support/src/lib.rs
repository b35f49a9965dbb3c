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
use std::sync::OnceLock;
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
    local: bool,
}

static CLUSTER: OnceLock<Result<Cluster, Error>> = OnceLock::new();

/// The cluster for this test run: `KUBECONFIG`'s when set, else the local one,
/// started (and built or unpacked) on first use. Later calls, from any thread,
/// get the same cluster or the same error.
pub fn cluster() -> Result<&'static Cluster, Error> {
    CLUSTER
        .get_or_init(find_or_start)
        .as_ref()
        .map_err(Clone::clone)
}

fn find_or_start() -> Result<Cluster, Error> {
    let cluster = match std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        Some(kubeconfig) => Cluster {
            kubeconfig,
            kubectl: default_kubectl(),
            local: false,
        },
        None => {
            let up = local::start()?;
            Cluster {
                kubeconfig: up.kubeconfig.into_os_string(),
                kubectl: up.kubectl,
                local: true,
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
        self.local
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
    /// plus a unique suffix, and waits until its `default` service account
    /// exists (pods are refused before that). Deleted when the returned value
    /// is dropped, unless the thread is panicking or `KUBECS_TEST_KEEP_NAMESPACES`
    /// is set: a failed test's objects stay for inspection.
    pub fn namespace(&self, test_name: &str) -> Result<TestNamespace<'_>, Error> {
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
