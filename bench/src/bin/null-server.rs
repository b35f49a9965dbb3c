//! The floor peer: an HTTP/1.1 server on the same hyper and tokio as kubecs (a
//! multi-threaded runtime, one worker per core; like kubecs, no `TCP_NODELAY`) that does
//! no work at all. It reads each
//! request's body and answers 200 with a fixed JSON body of `--body-bytes` bytes; no
//! SigV4, no dispatch, no store, no log.
//!
//! kubecs-bench drives it like kubecs (`--kubecs-bin target/release/null-server
//! --no-moto`; it takes kubecs's `--listen` and `--data-dir` and answers `/healthz`), so
//! its CPU per request is what the HTTP/1 and TCP path alone costs on the machine: the
//! part of kubecs's figure that no handler work can remove (BENCHMARKS.md, "The floor:
//! a server that does nothing").

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use http::{header, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

#[derive(Debug, Parser)]
#[command(about = "An HTTP server that does nothing, to measure the transport's floor")]
struct Args {
    #[arg(long)]
    listen: SocketAddr,
    /// Accepted for kubecs-bench's command line; nothing is stored.
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Size of every answer's body. The default is the size of kubecs's answer to the
    /// benchmark's DescribeServices(10) (12 KB). kubecs-bench passes only kubecs's flags,
    /// hence the environment variables.
    #[arg(long, env = "NULL_SERVER_BODY_BYTES", default_value_t = 12_000)]
    body_bytes: usize,
    /// `shared`: one multi-threaded runtime, as kubecs runs. `per-core`: one
    /// single-threaded runtime per core, each accepting on its own `SO_REUSEPORT` socket,
    /// so a connection's requests never cross threads: the floor of that design.
    #[arg(long, env = "NULL_SERVER_RUNTIME", value_enum, default_value_t = Runtime::Shared)]
    runtime: Runtime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Runtime {
    Shared,
    PerCore,
}

/// A JSON object of exactly `len` bytes (at least `{"p":""}`, 8 bytes).
fn body_of(len: usize) -> Bytes {
    let padding = len.saturating_sub(8);
    Bytes::from(format!(r#"{{"p":"{}"}}"#, "x".repeat(padding)))
}

async fn answer(
    request: Request<Incoming>,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let is_health = request.uri().path() == "/healthz";
    // Read the whole request, as any server that parses JSON must.
    let _ = request.into_body().collect().await;
    let body = if is_health {
        Bytes::from_static(b"ok")
    } else {
        body
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    Ok(response)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let body = body_of(args.body_bytes);
    match args.runtime {
        Runtime::Shared => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(serve(args.listen, body)),
        Runtime::PerCore => {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            let threads = (0..cores)
                .map(|_| {
                    let body = body.clone();
                    let listen_on = args.listen;
                    std::thread::spawn(move || -> anyhow::Result<()> {
                        tokio::runtime::Builder::new_current_thread()
                            .enable_all()
                            .build()?
                            .block_on(serve(listen_on, body))
                    })
                })
                .collect::<Vec<_>>();
            for thread in threads {
                thread
                    .join()
                    .map_err(|_| anyhow::anyhow!("a server thread panicked"))??;
            }
            Ok(())
        }
    }
}

/// A listening socket on `addr` that other threads of this process may bind too; made
/// inside the runtime that will poll it.
fn listen(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket
        .bind(addr)
        .with_context(|| format!("cannot listen on {addr}"))?;
    Ok(socket.listen(1024)?)
}

async fn serve(addr: SocketAddr, body: Bytes) -> anyhow::Result<()> {
    let listener = listen(addr)?;
    loop {
        let (stream, _) = listener.accept().await?;
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, body.clone()));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
