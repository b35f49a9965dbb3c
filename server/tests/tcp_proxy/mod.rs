//! A loopback TCP proxy that a test can cut and restore: put between kubecs and the
//! Kubernetes API server, cutting it is, for kubecs, the API server going away (open
//! connections drop, new ones are refused) without stopping a cluster other tests or
//! other users share.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub struct TcpProxy {
    addr: SocketAddr,
    upstream: String,
    serving: Option<JoinHandle<()>>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to `upstream`
    /// (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = upstream.to_owned();
        let serving = Some(tokio::spawn(serve(listener, upstream.clone())));
        Self {
            addr,
            upstream,
            serving,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every open connection and stops listening: connecting is refused.
    pub fn cut(&mut self) {
        if let Some(serving) = self.serving.take() {
            // Aborting the task drops the listener and its set of connection tasks,
            // which aborts them all and closes their sockets.
            serving.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restore(&mut self) {
        assert!(self.serving.is_none(), "the proxy is already serving");
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serving = Some(tokio::spawn(serve(listener, self.upstream.clone())));
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}

async fn serve(listener: TcpListener, upstream: String) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        let upstream = upstream.clone();
        connections.spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
        while connections.try_join_next().is_some() {}
    }
}
