//! Tests of the deploy/local-k8s scripts that need no cluster: `down` stops
//! exactly the processes recorded in its state directory and nothing else and
//! removes what they leave (runtime sockets), `--wipe` removes only a directory
//! made by `up`, `up` refuses binaries without a current recipe record, and
//! every script has `--help`.

// The workspace allows `expect` in test functions only; in this test crate the
// helpers are test code too, and a failed set-up step should fail the test.
#![allow(clippy::expect_used)]

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use kubecs_test_cluster::{scripts_dir, unique_name};

fn script(name: &str) -> Command {
    Command::new(scripts_dir().join(name))
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("run script")
}

fn temp_state_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("kubecs-down-test"));
    std::fs::create_dir_all(dir.join("pids")).expect("create state dir");
    dir
}

/// A process whose command line names `dir`, as the components `up` starts do.
fn process_naming(dir: &Path) -> Child {
    let file = dir.join("component.log");
    std::fs::write(&file, "").expect("log file");
    // Not `bash -c 'sleep ..' dir`: bash would exec sleep, dropping the dir.
    Command::new("tail")
        .arg("-f")
        .arg(&file)
        .spawn()
        .expect("spawn tail")
}

fn exited_within(child: &mut Child, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if child.try_wait().expect("try_wait").is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn down_stops_the_recorded_pids_and_leaves_a_reused_pid_alone() {
    let dir = temp_state_dir();
    std::fs::write(dir.join(".kubecs-local-k8s"), "").expect("marker");
    let mut ours = process_naming(&dir);
    // Recorded, but its command line does not name the state directory: a pid
    // that the kernel gave to an unrelated process since.
    let mut stranger = Command::new("sleep")
        .arg("300")
        .spawn()
        .expect("spawn sleep");
    std::fs::write(dir.join("pids/etcd.pid"), ours.id().to_string()).expect("pid file");
    std::fs::write(
        dir.join("pids/kube-apiserver.pid"),
        stranger.id().to_string(),
    )
    .expect("pid file");
    // What `up` leaves beside the processes: a node's runtime socket (a real
    // one, as kubemark makes) and the record of the binaries it started.
    std::fs::create_dir_all(dir.join("run")).expect("run dir");
    let socket = UnixListener::bind(dir.join("run/hollow-node-0.sock")).expect("bind socket");
    std::fs::write(dir.join("binaries.started"), "recipe=x\n").expect("record");

    let out = output(script("down").arg("--state-dir").arg(&dir));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert!(
        exited_within(&mut ours, Duration::from_secs(5)),
        "the recorded process was not stopped"
    );
    assert!(
        stranger.try_wait().expect("try_wait").is_none(),
        "an unrelated process was killed"
    );
    assert!(!dir.join("pids/etcd.pid").exists(), "pid files are removed");
    drop(socket);
    assert!(
        !dir.join("run/hollow-node-0.sock").exists(),
        "runtime sockets are removed"
    );
    assert!(
        !dir.join("binaries.started").exists(),
        "the record of the started binaries is removed"
    );
    stranger.kill().expect("kill stranger");
    let _ = stranger.wait();

    let out = output(script("down").arg("--state-dir").arg(&dir).arg("--wipe"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.exists(), "--wipe removes the state directory");
}

#[test]
fn down_refuses_a_directory_that_up_did_not_make() {
    let dir = temp_state_dir();
    let out = output(script("down").arg("--state-dir").arg(&dir).arg("--wipe"));
    assert!(!out.status.success(), "down accepted a foreign directory");
    assert!(dir.exists(), "a foreign directory was removed");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn up_refuses_binaries_without_a_record_of_the_current_recipe() {
    let dir = std::env::temp_dir().join(unique_name("kubecs-up-recipe-test"));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    for b in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kubemark",
    ] {
        // Never run: up must stop before starting anything.
        std::fs::write(bin.join(b), "#!/bin/sh\nexit 1\n").expect("stub");
        let out = output(Command::new("chmod").arg("+x").arg(bin.join(b)));
        assert!(out.status.success());
    }
    let up = |dir: &Path| {
        output(
            script("up")
                .arg("--bin-dir")
                .arg(dir.join("bin"))
                .arg("--state-dir")
                .arg(dir.join("state")),
        )
    };
    // No ORIGIN at all: a cache from before the record (say an old tarball's).
    let out = up(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "up accepted unrecorded binaries");
    assert!(stderr.contains("(not recorded)"), "{stderr}");
    // An ORIGIN of another recipe.
    std::fs::write(
        bin.join("ORIGIN"),
        "recipe=v1.20.2-older\nfrom=tarball 00\n",
    )
    .expect("ORIGIN");
    let out = up(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "up accepted binaries of another recipe"
    );
    assert!(stderr.contains("'v1.20.2-older'"), "{stderr}");
    assert!(stderr.contains("build"), "says what to run: {stderr}");
    assert!(
        !dir.join("state").exists(),
        "up made a state dir before refusing"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn every_script_has_help_and_rejects_unknown_arguments() {
    for name in ["build", "up", "down", "ci-prepare"] {
        let help = output(script(name).arg("--help"));
        assert!(help.status.success(), "{name} --help failed");
        assert!(
            String::from_utf8_lossy(&help.stdout).contains("Usage:"),
            "{name} --help prints no usage"
        );
        let bad = output(script(name).arg("--no-such-flag"));
        assert!(!bad.status.success(), "{name} accepted an unknown flag");
    }
    let check = output(Command::new(scripts_dir().join("../kubernetes/check")).arg("--help"));
    assert!(check.status.success());
}
