//! The local cluster heals before a test relies on it: a hollow node that died
//! (killed here through its pid file, as a kubemark crash would leave it) is
//! restarted by the next `cluster()` call, which finds it not running and runs
//! `up` again. Its own test binary, with one test: `cargo test` runs test
//! binaries one after another, so no other test of this crate sees the node
//! down (under nextest a parallel test may run `up` too; the scripts' lock
//! makes that one repair, not two).

// A failed set-up step should fail the test; helpers are test code here too.
#![allow(clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kubecs_test_cluster::{cluster, wait_until};

fn pid_in(file: &Path) -> String {
    std::fs::read_to_string(file)
        .expect("read pid file")
        .trim()
        .to_owned()
}

/// True while `pid` is a live process of this state dir (not gone, not a zombie).
fn runs_in(pid: &str, state_dir: &Path) -> bool {
    std::fs::read(Path::new("/proc").join(pid).join("cmdline"))
        .map(|cmdline| {
            let needle = state_dir.to_string_lossy();
            String::from_utf8_lossy(&cmdline).contains(needle.as_ref())
        })
        .unwrap_or(false)
}

#[test]
fn a_killed_hollow_node_is_restarted_when_a_test_asks_for_the_cluster() {
    let first = cluster().expect("test cluster");
    let Some(state_dir) = first.state_dir() else {
        eprintln!("KUBECONFIG is set: an outside cluster is not restarted, nothing to check");
        return;
    };
    let pid_file = state_dir.join("pids").join("hollow-node-0.pid");
    let old = pid_in(&pid_file);
    let api_server = pid_in(&state_dir.join("pids").join("kube-apiserver.pid"));
    assert!(
        runs_in(&old, state_dir),
        "hollow-node-0 (pid {old}) is not running to begin with"
    );

    let status = Command::new("kill")
        .args(["-KILL", &old])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -KILL {old} failed");
    wait_until(
        "the killed node to be gone",
        Duration::from_secs(10),
        || Ok((!runs_in(&old, state_dir)).then_some(())),
    )
    .expect("the node process goes away");
    // Its Node object still says Ready (the controller waits 40 s before it
    // marks a silent node); only its pid file tells that it is dead.

    let started = Instant::now();
    let again = cluster().expect("the cluster, repaired");
    let took = started.elapsed();
    eprintln!("cluster() restarted hollow-node-0 in {took:?}");

    let new = pid_in(&pid_file);
    assert_ne!(new, old, "hollow-node-0 was not restarted");
    assert!(
        runs_in(&new, state_dir),
        "the restarted node (pid {new}) does not run"
    );
    let nodes = again.node_readiness().expect("kubectl get nodes");
    assert!(!nodes.is_empty(), "no nodes");
    assert!(
        nodes.iter().all(|(_, ready)| ready == "True"),
        "not every node is Ready: {nodes:?}"
    );
    // Only the node was restarted, not the control plane, and it serves its
    // fake runtime on its own socket in the state dir.
    assert_eq!(
        pid_in(&state_dir.join("pids").join("kube-apiserver.pid")),
        api_server,
        "the control plane was restarted for a dead node"
    );
    assert!(
        state_dir.join("run").join("hollow-node-0.sock").exists(),
        "no runtime socket for the restarted node"
    );
    assert!(took < Duration::from_secs(60), "the repair took {took:?}");

    // And a later call finds it whole without running `up` again.
    let started = Instant::now();
    cluster().expect("the cluster, whole");
    assert_eq!(pid_in(&pid_file), new, "a whole cluster was restarted");
    assert!(started.elapsed() < Duration::from_secs(10));
}
