//! Starting the local control plane of `deploy/local-k8s` for a test run: runs
//! its `up`, and its `build` first when needed (unpacking the prebuilt tarball
//! when one is known), and reads the kubeconfig and kubectl paths `up` prints.
//!
//! Concurrency is handled by the scripts: `build` and `up` each take a lock
//! file, so when several test binaries start at once the first one starts the
//! cluster and the others wait for it and then reuse it. The cluster is left
//! running afterwards, so the next test run reuses it at once;
//! `deploy/local-k8s/down` stops it (CI calls it at the end of its run).
//!
//! It also reads the state directory `up` keeps (`config.env`, `pids/`), to
//! tell whether every component of the local cluster still runs: a hollow
//! node that died still shows Ready for up to 40 s, its pid file says so at once.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{tail, Error};

/// The prebuilt tarball's name inside `shared/k8s/`, beside the repository.
const SHARED_TARBALL: &str = "kubernetes-v1.20.2-linux-amd64.tar.xz";

/// What `up` reported about the cluster it started or found running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpOutput {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
}

/// The repository root, from this crate's manifest dir (`<root>/deploy/test-support`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// `deploy/local-k8s` in the repository.
pub fn scripts_dir() -> PathBuf {
    repo_root().join("deploy").join("local-k8s")
}

/// Starts (or reuses) the local cluster, building or unpacking the binaries
/// first when `up` cannot start it with what is there.
pub fn start() -> Result<UpOutput, Error> {
    let scripts = scripts_dir();
    // The common case, a cluster already running (every test process after
    // the first, under nextest one per test), costs one `up`: ~0.2 s, where
    // `build` checksums ~400 MB of binaries before it finds nothing to do.
    if let Ok(stdout) = run(&mut up(&scripts)) {
        return parse_up_output(&stdout);
    }
    let mut build = Command::new(scripts.join("build"));
    // KUBECS_K8S_TARBALL, when set, is read by `build` itself. Otherwise use
    // the shared prebuilt tarball when it is there, as CI's checkout has it.
    let shared = repo_root()
        .join("..")
        .join("shared")
        .join("k8s")
        .join(SHARED_TARBALL);
    if std::env::var_os("KUBECS_K8S_TARBALL").is_none() && shared.is_file() {
        build.arg("--from-tarball").arg(&shared);
    }
    run(&mut build)?;
    let stdout = run(&mut up(&scripts))?;
    parse_up_output(&stdout)
}

/// Hollow nodes of a cluster the tests start, unless `KUBECS_LOCAL_K8S_NODES` says: two,
/// so that tasks have somewhere to go when a node is drained. (A cluster already running
/// keeps the nodes it was started with.)
const TEST_NODES: &str = "2";

/// The `up` command the tests run.
fn up(scripts: &Path) -> Command {
    let mut command = Command::new(scripts.join("up"));
    if std::env::var_os("KUBECS_LOCAL_K8S_NODES").is_none() {
        command.env("KUBECS_LOCAL_K8S_NODES", TEST_NODES);
    }
    command
}

/// The components `up` keeps running for the state directory `state_dir`: the
/// control plane and `hollow-node-<i>` for each node its `config.env` names.
pub(crate) fn expected_components(state_dir: &Path) -> Result<Vec<String>, String> {
    let path = state_dir.join("config.env");
    let config = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let nodes = node_count(&config).ok_or_else(|| format!("{} has no NODES=", path.display()))?;
    let mut components: Vec<String> = [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ]
    .iter()
    .map(|c| (*c).to_owned())
    .collect();
    components.extend((0..nodes).map(|i| format!("hollow-node-{i}")));
    Ok(components)
}

/// The `NODES=` value of a `config.env` written by `up`.
fn node_count(config: &str) -> Option<usize> {
    config
        .lines()
        .find_map(|l| l.trim().strip_prefix("NODES="))
        .and_then(|v| v.trim().parse().ok())
}

/// True while `<state_dir>/pids/<component>.pid` names a running process whose
/// command line mentions `state_dir`: the scripts' own rule (`owned_pid` in
/// common.sh), so a pid reused by another process, or a zombie (its command
/// line is empty), does not count.
pub(crate) fn component_running(state_dir: &Path, component: &str) -> bool {
    let pid_file = state_dir.join("pids").join(format!("{component}.pid"));
    let Ok(pid) = std::fs::read_to_string(pid_file) else {
        return false;
    };
    let pid = pid.trim();
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match std::fs::read(Path::new("/proc").join(pid).join("cmdline")) {
        Ok(cmdline) => contains(&cmdline, state_dir.as_os_str().as_bytes()),
        Err(_) => false,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs a script with no stdin, returning its stdout; on failure the error
/// carries the tail of both streams (which hold the script's own diagnosis).
fn run(cmd: &mut Command) -> Result<String, Error> {
    let program = format!("{:?}", cmd.get_program());
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Spawn {
            program: program.clone(),
            message: e.to_string(),
        })?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(Error::Command {
            command: program,
            status: out.status.to_string(),
            output: tail(&format!("{stdout}{stderr}"), 4000),
        });
    }
    Ok(stdout)
}

/// Reads the `export KUBECONFIG=...` and `export KUBECS_KUBECTL=...` lines.
pub fn parse_up_output(stdout: &str) -> Result<UpOutput, Error> {
    let mut kubeconfig = None;
    let mut kubectl = None;
    for line in stdout.lines() {
        if let Some(v) = line.strip_prefix("export KUBECONFIG=") {
            kubeconfig = Some(unquote(v)?);
        } else if let Some(v) = line.strip_prefix("export KUBECS_KUBECTL=") {
            kubectl = Some(unquote(v)?);
        }
    }
    match (kubeconfig, kubectl) {
        (Some(kubeconfig), Some(kubectl)) => Ok(UpOutput {
            kubeconfig: PathBuf::from(kubeconfig),
            kubectl: PathBuf::from(kubectl),
        }),
        _ => Err(Error::Invalid(format!(
            "deploy/local-k8s/up printed no KUBECONFIG/KUBECS_KUBECTL lines:\n{stdout}"
        ))),
    }
}

/// Undoes bash's `printf %q` for the paths `up` prints: backslash escapes
/// only; the `$'...'` form (control characters in a path) is refused.
fn unquote(v: &str) -> Result<String, Error> {
    if v.starts_with("$'") {
        return Err(Error::Invalid(format!("unsupported path quoting: {v}")));
    }
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_output_gives_both_paths() {
        let out = parse_up_output(
            "export KUBECONFIG=/root/.cache/kubecs/local-k8s/kubeconfig\n\
             export KUBECS_KUBECTL=/opt/my\\ dir/kubectl\n",
        )
        .expect("parses");
        assert_eq!(
            out.kubeconfig,
            PathBuf::from("/root/.cache/kubecs/local-k8s/kubeconfig")
        );
        assert_eq!(out.kubectl, PathBuf::from("/opt/my dir/kubectl"));
    }

    #[test]
    fn up_output_without_kubeconfig_is_an_error() {
        assert!(parse_up_output("export KUBECS_KUBECTL=/k\n").is_err());
        assert!(
            parse_up_output("export KUBECONFIG=$'/a\\nb'\nexport KUBECS_KUBECTL=/k\n").is_err()
        );
    }

    #[test]
    fn the_node_count_comes_from_config_env() {
        let config = "# Written by deploy/local-k8s/up\nNODES=3\nAPI_PORT=26443\n";
        assert_eq!(node_count(config), Some(3));
        assert_eq!(node_count("API_PORT=1\n"), None);
        assert_eq!(node_count("NODES=x\n"), None);
    }

    #[test]
    fn expected_components_are_the_control_plane_and_each_node() {
        let dir = std::env::temp_dir().join(crate::unique_name("kubecs-components"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        assert!(expected_components(&dir).is_err(), "no config.env");
        std::fs::write(dir.join("config.env"), "NODES=2\n").expect("config");
        let got = expected_components(&dir).expect("components");
        std::fs::remove_dir_all(&dir).expect("clean up");
        assert_eq!(
            got,
            [
                "etcd",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "hollow-node-0",
                "hollow-node-1"
            ]
        );
    }

    #[test]
    fn a_component_runs_only_while_its_pid_names_the_state_dir() {
        let dir = std::env::temp_dir().join(crate::unique_name("kubecs-pids"));
        std::fs::create_dir_all(dir.join("pids")).expect("temp dir");
        assert!(!component_running(&dir, "etcd"), "no pid file");
        // This test process runs, but its command line does not name `dir`.
        std::fs::write(dir.join("pids/etcd.pid"), std::process::id().to_string())
            .expect("pid file");
        assert!(!component_running(&dir, "etcd"), "a stranger's pid");
        // `tail -f <dir>/x` does name it.
        std::fs::write(dir.join("x"), "").expect("file");
        let mut child = Command::new("tail")
            .arg("-f")
            .arg(dir.join("x"))
            .spawn()
            .expect("spawn tail");
        std::fs::write(dir.join("pids/etcd.pid"), format!("{}\n", child.id())).expect("pid file");
        // Until the child has exec'd, its command line is still this test's: wait for
        // `tail` to show.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut running = component_running(&dir, "etcd");
        while !running && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            running = component_running(&dir, "etcd");
        }
        child.kill().expect("kill tail");
        let _ = child.wait();
        let after = component_running(&dir, "etcd");
        std::fs::remove_dir_all(&dir).expect("clean up");
        assert!(running, "our process is running");
        assert!(!after, "a dead process is not running");
    }

    #[test]
    fn the_repo_root_holds_the_scripts() {
        assert!(scripts_dir().join("up").is_file(), "{:?}", scripts_dir());
        assert!(repo_root().join("Cargo.toml").is_file());
    }
}
