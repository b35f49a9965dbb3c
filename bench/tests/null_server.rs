//! The floor peer answers as kubecs-bench needs it to: `/healthz`, then any POST with a
//! 200 and a body of exactly the configured size, in both runtime layouts.
// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(runtime: &str, body_bytes: usize) -> (Server, SocketAddr) {
    let addr = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_null-server"))
        .args(["--listen", &addr.to_string(), "--data-dir", "/nonexistent"])
        .env("NULL_SERVER_RUNTIME", runtime)
        .env("NULL_SERVER_BODY_BYTES", body_bytes.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    (Server(child), addr)
}

/// One request on a fresh connection; returns the status line and the body.
fn request(addr: SocketAddr, head: &str, body: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{head} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status.trim_end().to_owned(), body)
}

fn wait_healthy(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "null-server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (status, body) = request(addr, "GET /healthz", "");
    assert_eq!(
        (status.as_str(), body.as_slice()),
        ("HTTP/1.1 200 OK", &b"ok"[..])
    );
}

#[test]
fn it_answers_every_post_with_a_json_body_of_the_configured_size() {
    for runtime in ["shared", "per-core"] {
        let (_server, addr) = start(runtime, 1234);
        wait_healthy(addr);
        for _ in 0..4 {
            let (status, body) = request(addr, "POST /", r#"{"cluster":"c"}"#);
            assert_eq!(status, "HTTP/1.1 200 OK", "{runtime}");
            assert_eq!(body.len(), 1234, "{runtime}");
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert!(json.is_object(), "{runtime}");
        }
    }
}
