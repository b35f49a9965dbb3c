//! Runs the `kubecs` binary as a process for tests: start it on a free loopback port,
//! call it with SigV4-signed requests over plain TCP, terminate or kill it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use kubecs_sigv4::{sign, RequestParts, SigningParams};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime};

/// A running `kubecs`; killed and reaped when dropped, so a failing test leaves nothing.
pub struct Kubecs {
    pub child: Child,
    pub addr: String,
    log: Receiver<String>,
}

impl Drop for Kubecs {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts the binary on `data_dir`, without a reconciler (a test of the API and the
/// store must not act on whatever cluster this machine can reach), and waits for its
/// "listening ... addr=" log line.
pub fn start(data_dir: &Path) -> Kubecs {
    start_with(data_dir, &["--kubernetes", "off"])
}

/// Starts the binary on `data_dir` with extra arguments and waits for its
/// "listening ... addr=" log line.
pub fn start_with(data_dir: &Path, args: &[&str]) -> Kubecs {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubecs"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(args)
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, log) = std::sync::mpsc::channel();
    // Keeps draining the log so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Owned from here on, so it is reaped whatever happens next.
    let mut kubecs = Kubecs {
        child,
        addr: String::new(),
        log,
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    loop {
        let line = kubecs
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("kubecs did not log that it is listening");
        if let Some(rest) = line.split("addr=").nth(1) {
            kubecs.addr = rest.split_whitespace().next().unwrap().to_owned();
            // Reported, not asserted: speed belongs in benchmarks, not tests.
            eprintln!(
                "kubecs listening on {} after {:?}",
                kubecs.addr,
                started.elapsed()
            );
            return kubecs;
        }
    }
}

impl Kubecs {
    /// One signed call; panics if the server does not answer.
    pub fn call(&self, operation: &str, body: &str) -> (u16, String) {
        call(&self.addr, operation, body).expect("kubecs did not answer")
    }

    /// SIGTERM, then the exit status and every log line it wrote.
    pub fn terminate(&mut self) -> (ExitStatus, Vec<String>) {
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

/// One ECS call signed as `test`/`test`, on its own connection: `Some((status, body))`,
/// or `None` when the connection failed (the server is gone).
pub fn call(addr: &str, operation: &str, body: &str) -> Option<(u16, String)> {
    let target = format!("AmazonEC2ContainerServiceV20141113.{operation}");
    let headers = [
        ("host", addr),
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
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}
