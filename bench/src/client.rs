//! One keep-alive HTTP/1.1 connection to a server, sending ECS requests that it signs
//! itself with SigV4 (credentials test/test, us-east-1, service ecs): a fresh, real
//! signature per request, exactly as an SDK would compute it, never a replayed one.

use anyhow::{anyhow, Context};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use kubecs_sigv4::{sign, RequestParts, SigningParams};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};
use tokio::net::TcpStream;

/// The JSON protocol's target prefix for ECS.
const TARGET_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// No single request may hang a run: past this it counts as an error and the connection
/// is replaced.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a server listens (always a loopback address).
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// The `host` header, `127.0.0.1:<port>`.
    pub host: String,
}

impl Endpoint {
    pub fn new(addr: SocketAddr) -> Endpoint {
        Endpoint {
            addr,
            host: addr.to_string(),
        }
    }
}

/// A signed ECS request ready to send: signing happens before the latency clock starts,
/// so latencies are the server's (plus loopback), not the signer's.
pub struct Signed {
    request: Request<Full<Bytes>>,
}

/// One response.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// A connection that reconnects by itself when the server closes it (moto's HTTP server
/// may), counting how often.
pub struct Conn {
    endpoint: Endpoint,
    sender: Option<SendRequest<Full<Bytes>>>,
    pub reconnects: u64,
}

impl Conn {
    pub async fn open(endpoint: &Endpoint) -> anyhow::Result<Conn> {
        let mut conn = Conn {
            endpoint: endpoint.clone(),
            sender: None,
            reconnects: 0,
        };
        conn.sender = Some(conn.connect().await?);
        Ok(conn)
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(self.endpoint.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.endpoint.addr))?;
        // Small request/response pairs: Nagle would add delayed-ACK waits to every call.
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or the sender is dropped; the
            // next request notices and reconnects.
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Signs an ECS call (`operation`, JSON `body`) for this connection's server.
    pub fn sign(&self, operation: &str, body: Bytes) -> anyhow::Result<Signed> {
        let target = format!("{TARGET_PREFIX}.{operation}");
        let headers: [(&str, &[u8]); 3] = [
            ("host", self.endpoint.host.as_bytes()),
            ("content-type", CONTENT_TYPE.as_bytes()),
            ("x-amz-target", target.as_bytes()),
        ];
        let parts = RequestParts {
            method: "POST",
            path: "/",
            query: None,
            headers: &headers,
            body: &body,
        };
        let params = SigningParams {
            access_key_id: "test",
            secret_access_key: "test",
            session_token: None,
            region: "us-east-1",
            service: "ecs",
            time: SystemTime::now(),
            content_sha256_header: false,
        };
        let signed = sign(&parts, &params).map_err(|e| anyhow!("signing failed: {e}"))?;
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header("host", &self.endpoint.host)
            .header("content-type", CONTENT_TYPE)
            .header("x-amz-target", target);
        for (name, value) in signed.headers {
            builder = builder.header(name, value);
        }
        Ok(Signed {
            request: builder.body(Full::new(body))?,
        })
    }

    /// Sends a signed request and reads the whole answer.
    pub async fn send(&mut self, signed: Signed) -> anyhow::Result<Answer> {
        let sender = self.ready_sender().await?;
        let exchange = async {
            let response = sender.send_request(signed.request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>(Answer { status, body })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(err)) => {
                self.sender = None;
                Err(err)
            }
            Err(_) => {
                self.sender = None;
                Err(anyhow!("no answer within {REQUEST_TIMEOUT:?}"))
            }
        }
    }

    /// Signs and sends in one go (setup and preload, where latency is not recorded).
    pub async fn call(
        &mut self,
        operation: &str,
        body: impl Into<Bytes>,
    ) -> anyhow::Result<Answer> {
        let signed = self.sign(operation, body.into())?;
        self.send(signed).await
    }

    /// Like [`Conn::call`], but any answer other than 200 is an error carrying the body.
    pub async fn call_ok(
        &mut self,
        operation: &str,
        body: impl Into<Bytes>,
    ) -> anyhow::Result<Bytes> {
        let answer = self.call(operation, body).await?;
        if answer.status == StatusCode::OK {
            Ok(answer.body)
        } else {
            Err(anyhow!(
                "{operation}: HTTP {}: {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            ))
        }
    }

    /// An unsigned request to a non-ECS path (`/healthz`, moto's `/moto-api/reset`).
    pub async fn plain(&mut self, method: Method, path: &str) -> anyhow::Result<Answer> {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.endpoint.host)
            .body(Full::new(Bytes::new()))?;
        self.send(Signed { request }).await
    }

    async fn ready_sender(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        let usable = match self.sender.as_mut() {
            Some(s) => s.ready().await.is_ok(),
            None => false,
        };
        if !usable {
            self.sender = Some(self.connect().await?);
            self.reconnects += 1;
        }
        self.sender
            .as_mut()
            .ok_or_else(|| anyhow!("no connection to {}", self.endpoint.addr))
    }
}

/// Polls `GET path` until it answers 200, within `limit`: how servers are awaited after
/// start (and how kubecs's open time is measured).
pub async fn wait_until_up(
    endpoint: &Endpoint,
    path: &str,
    limit: Duration,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        if let Ok(mut conn) = Conn::open(endpoint).await {
            if let Ok(answer) = conn.plain(Method::GET, path).await {
                if answer.status == StatusCode::OK {
                    return Ok(started.elapsed());
                }
            }
        }
        if started.elapsed() > limit {
            return Err(anyhow!(
                "{} did not answer GET {path} with 200 within {limit:?}",
                endpoint.addr
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
