//! The `kubecs` binary as a process: it starts with no Kubernetes, stops cleanly on
//! SIGTERM with the store flushed, keeps its data across restarts, refuses a second
//! process on the same data directory, and refuses a non-loopback address with only the
//! well-known local credentials.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod process;

use process::start;
use std::process::Command;

#[test]
fn sigterm_drains_flushes_and_a_restart_keeps_every_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let mut kubecs = start(dir.path());
    for name in ["one", "two", "three"] {
        let (status, body) =
            kubecs.call("CreateCluster", &format!("{{\"clusterName\":\"{name}\"}}"));
        assert_eq!(status, 200, "{body}");
    }
    let (status, log) = kubecs.terminate();
    assert!(status.success(), "exit {status:?}: {log:?}");
    assert!(log.iter().any(|l| l.contains("store flushed")), "{log:?}");

    let mut kubecs = start(dir.path());
    let (status, body) = kubecs.call("ListClusters", "{}");
    assert_eq!(status, 200);
    for name in ["one", "two", "three"] {
        assert!(body.contains(&format!("cluster/{name}\"")), "{body}");
    }
    kubecs.terminate();
}

#[test]
fn a_second_kubecs_on_the_same_data_directory_stops_at_once_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = start(dir.path());
    let second = Command::new(env!("CARGO_BIN_EXE_kubecs"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains("already in use"), "{stderr}");
    // The first one is unaffected.
    assert_eq!(first.call("ListClusters", "{}").0, 200);
    first.terminate();
}

#[test]
fn a_non_loopback_address_with_only_the_local_credentials_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Refused before anything binds, so no non-loopback socket is ever opened.
    let output = Command::new(env!("CARGO_BIN_EXE_kubecs"))
        .args(["--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("test/test"), "{stderr}");
    assert!(stderr.contains("--credentials-file"), "{stderr}");
}
