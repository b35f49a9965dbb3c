//! A kubecs server in this process, served over real TCP on a loopback port by
//! `app::serve` (the binary's accept loop, connection limits and shutdown), and a raw
//! HTTP/1.1 client that can send exactly the bytes a test wants — half a request, a
//! malformed one — and read exactly what comes back.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use kubecs_server::app::{serve, AppState};
use kubecs_server::config::{AuthMode, Config};
use kubecs_server::startup::build_state;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct Live {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Live {
    /// Starts a server with authentication off (these tests are about HTTP, not SigV4)
    /// and whatever `configure` changes.
    pub async fn start(configure: impl FnOnce(&mut Config)) -> Live {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_data_dir(dir.path().to_path_buf());
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.auth = AuthMode::Off;
        configure(&mut config);
        let state = Arc::new(build_state(&config).unwrap());
        let listener = tokio::net::TcpListener::bind(config.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve(
            listener,
            Arc::clone(&state),
            shutdown,
            Duration::from_secs(config.shutdown_grace_secs),
        ));
        Live {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// Starts the graceful shutdown (the server's SIGTERM).
    pub fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// `GET <path>` on a connection of its own.
    pub async fn get(&self, path: &str) -> Answer {
        let mut stream = self.connect().await;
        let request = format!("GET {path} HTTP/1.1\r\nhost: kubecs\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        read_to_end(&mut stream, Duration::from_secs(10))
            .await
            .and_then(|bytes| Answer::parse(&bytes))
            .expect("no answer")
    }
}

/// An HTTP/1.1 request for the ECS API (no signature: these servers run with auth off).
pub fn api_request(operation: &str, body: &str, keep_alive: bool) -> String {
    format!(
        "POST / HTTP/1.1\r\nhost: kubecs\r\ncontent-type: application/x-amz-json-1.1\r\nx-amz-target: AmazonEC2ContainerServiceV20141113.{operation}\r\ncontent-length: {}\r\n{}\r\n{body}",
        body.len(),
        if keep_alive { "" } else { "connection: close\r\n" },
    )
}

/// Reads until the peer closes (or `limit` passes: `None`).
pub async fn read_to_end(stream: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    match tokio::time::timeout(limit, stream.read_to_end(&mut out)).await {
        Ok(Ok(_)) => Some(out),
        // A reset after (or instead of) an answer: what arrived is the answer.
        Ok(Err(_)) => Some(out),
        Err(_) => None,
    }
}

/// Reads one response on a kept-alive connection (its head, then `content-length` bytes).
pub async fn read_response(stream: &mut TcpStream, limit: Duration) -> Option<Answer> {
    let deadline = Instant::now() + limit;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(answer) = Answer::parse_complete(&buf) {
            return Some(answer);
        }
        let left = deadline.checked_duration_since(Instant::now())?;
        let n = tokio::time::timeout(left, stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn parse(bytes: &[u8]) -> Option<Answer> {
        let text = String::from_utf8_lossy(bytes);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let mut lines = head.split("\r\n");
        let status = lines.next()?.get(9..12)?.parse().ok()?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Some(Answer {
            status,
            headers,
            body: body.to_owned(),
        })
    }

    /// A response whose whole body (by `content-length`) is in `bytes`.
    fn parse_complete(bytes: &[u8]) -> Option<Answer> {
        let answer = Answer::parse(bytes)?;
        let length: usize = answer.header("content-length")?.parse().ok()?;
        (answer.body.len() >= length).then_some(answer)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// Asserts an AWS-form error: `__type` in the body and the header agree, and the
    /// response carries a request id.
    pub fn assert_aws_error(&self, code: &str) {
        assert_eq!(self.json()["__type"], code, "{self:?}");
        assert!(
            !self.json()["message"].as_str().unwrap_or("").is_empty(),
            "{self:?}"
        );
        assert_eq!(self.header("x-amzn-errortype"), Some(code), "{self:?}");
        let id = self.header("x-amzn-requestid").expect("no request id");
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        assert_eq!(
            self.header("content-type"),
            Some("application/x-amz-json-1.1")
        );
    }
}
