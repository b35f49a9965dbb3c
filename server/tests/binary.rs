//! The `kubecs` binary as a process: it starts with no Kubernetes, stops cleanly on
//! SIGTERM with the store flushed, keeps its data across restarts, refuses a second
//! process on the same data directory, and refuses a non-loopback address with only the
//! well-known local credentials.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use kubecs_sigv4::{sign, RequestParts, SigningParams};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

struct Process {
    child: Child,
    addr: String,
    log: std::sync::mpsc::Receiver<String>,
}

/// Starts the binary on a free port and waits for its "listening" log line.
// The child is reaped by `Process`'s Drop, or by `terminate`; if it never logs that it
// listens, the test fails and the test process's exit takes the child's pipe with it.
#[allow(clippy::zombie_processes)]
fn start(data_dir: &Path) -> Process {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubecs"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("kubecs did not log that it is listening");
        if let Some(rest) = line.split("addr=").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().to_owned();
            // Reported, not asserted: speed is for benchmarks, not tests.
            eprintln!("kubecs listening on {addr} after {:?}", started.elapsed());
            return Process {
                child,
                addr,
                log: rx,
            };
        }
    }
}

impl Process {
    fn call(&self, operation: &str, body: &str) -> (u16, String) {
        let target = format!("AmazonEC2ContainerServiceV20141113.{operation}");
        let headers = [
            ("host", self.addr.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let refs: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_bytes())).collect();
        let signed = sign(
            &RequestParts {
                method: "POST",
                path: "/",
                query: None,
                headers: &refs,
                body: body.as_bytes(),
            },
            &SigningParams {
                access_key_id: "test",
                secret_access_key: "test",
                session_token: None,
                region: "us-east-1",
                service: "ecs",
                time: SystemTime::now(),
                content_sha256_header: false,
            },
        )
        .unwrap();
        let mut request = String::from("POST / HTTP/1.1\r\nconnection: close\r\n");
        for (k, v) in headers.iter() {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        for (k, v) in &signed.headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (status, body)
    }

    /// SIGTERM, then the exit status and every log line it wrote.
    fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        (status, self.log.try_iter().collect())
    }
}

#[test]
fn sigterm_drains_flushes_and_a_restart_keeps_every_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let kubecs = start(dir.path());
    for name in ["one", "two", "three"] {
        let (status, body) =
            kubecs.call("CreateCluster", &format!("{{\"clusterName\":\"{name}\"}}"));
        assert_eq!(status, 200, "{body}");
    }
    let (status, log) = kubecs.terminate();
    assert!(status.success(), "exit {status:?}: {log:?}");
    assert!(log.iter().any(|l| l.contains("store flushed")), "{log:?}");

    let kubecs = start(dir.path());
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
    let first = start(dir.path());
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
