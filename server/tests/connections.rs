//! Slow and greedy clients, over real TCP: half-sent requests are closed after the
//! header-read timeout while `/healthz` keeps answering; kept-alive connections live
//! until the idle timeout (not the header timeout); past the connection cap new
//! connections are refused at once while open ones keep working; the request time limit
//! covers a slow body; shutdown lets the request in flight finish.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod live;

use kubecs_server::metrics::CloseReason;
use live::{api_request, read_response, read_to_end, Answer, Live};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Half-sent connections per test: a few hundred, but each costs this process two
/// descriptors (client and server side), which must stay under its open-file limit.
fn half_sent_count() -> usize {
    let limit = kubecs_server::startup::open_file_limit().unwrap_or(1024);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    300.min(limit.saturating_sub(200) / 2).max(10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_after_the_header_timeout_while_healthz_keeps_answering() {
    let server = Live::start(|c| c.header_read_timeout_secs = 1).await;
    let n = half_sent_count();
    let opened = Instant::now();
    let mut silent = Vec::new();
    let mut partial = Vec::new();
    for i in 0..n {
        let mut stream = server.connect().await;
        if i % 2 == 0 {
            silent.push(stream);
        } else {
            // A request head that never ends: the slowloris pattern.
            stream
                .write_all(b"POST / HTTP/1.1\r\nhost: kubecs\r\nx-amz-target: AmazonEC2Cont")
                .await
                .unwrap();
            partial.push(stream);
        }
    }

    // With all of them open, a new client is still served, at once.
    let asked = Instant::now();
    let health = server.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, "ok");
    let health_latency = asked.elapsed();
    assert!(
        health_latency < Duration::from_millis(500),
        "{health_latency:?}"
    );
    assert!(server.state.metrics.connections_open() >= n as i64);

    // Each half-sent one is closed after the timeout: silently if it sent nothing, with a
    // RequestTimeoutException if it had started a request.
    let mut last_close = Duration::ZERO;
    for mut stream in silent {
        let bytes = read_to_end(&mut stream, Duration::from_secs(10))
            .await
            .expect("a silent connection was never closed");
        assert!(bytes.is_empty(), "{}", String::from_utf8_lossy(&bytes));
        last_close = last_close.max(opened.elapsed());
    }
    for mut stream in partial {
        let bytes = read_to_end(&mut stream, Duration::from_secs(10))
            .await
            .expect("a half-sent connection was never closed");
        let answer = Answer::parse(&bytes).expect("no answer before the close");
        assert_eq!(answer.status, 408);
        answer.assert_aws_error("RequestTimeoutException");
        last_close = last_close.max(opened.elapsed());
    }
    eprintln!(
        "{n} half-sent connections; /healthz answered in {health_latency:?}; all closed {last_close:?} after the first opened"
    );
    assert!(last_close >= Duration::from_millis(900), "{last_close:?}");
    assert!(last_close < Duration::from_secs(4), "{last_close:?}");
    let metrics = &server.state.metrics;
    assert_eq!(
        metrics.connections_closed(CloseReason::HeaderTimeout),
        n as u64
    );
    assert_eq!(server.get("/healthz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_alive_connection_outlives_the_header_timeout_and_closes_after_the_idle_timeout() {
    let server = Live::start(|c| {
        c.header_read_timeout_secs = 1;
        c.idle_timeout_secs = 3;
    })
    .await;
    let mut stream = server.connect().await;
    let request = b"GET /healthz HTTP/1.1\r\nhost: kubecs\r\n\r\n";
    stream.write_all(request).await.unwrap();
    let first = read_response(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(first.expect("no first answer").status, 200);

    // Idle for longer than the header timeout: the connection is still there.
    tokio::time::sleep(Duration::from_millis(1800)).await;
    stream.write_all(request).await.unwrap();
    let second = read_response(&mut stream, Duration::from_secs(5)).await;
    assert_eq!(second.expect("closed before the idle timeout").status, 200);

    // Then idle past the idle timeout: closed, silently.
    let idle_from = Instant::now();
    let rest = read_to_end(&mut stream, Duration::from_secs(10))
        .await
        .expect("never closed");
    let idle = idle_from.elapsed();
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    assert!(idle >= Duration::from_millis(2800), "{idle:?}");
    assert!(idle < Duration::from_secs(5), "{idle:?}");
    assert_eq!(
        server
            .state
            .metrics
            .connections_closed(CloseReason::IdleTimeout),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_new_connections_are_refused_at_once_and_open_ones_keep_working() {
    let cap = 8;
    let server = Live::start(|c| {
        c.max_connections = cap;
        c.header_read_timeout_secs = 2;
    })
    .await;
    let metrics = std::sync::Arc::clone(&server.state.metrics);
    // A healthy kept-alive client first...
    let mut healthy = server.connect().await;
    let request = b"GET /healthz HTTP/1.1\r\nhost: kubecs\r\n\r\n";
    healthy.write_all(request).await.unwrap();
    assert_eq!(
        read_response(&mut healthy, Duration::from_secs(5))
            .await
            .unwrap()
            .status,
        200
    );
    // ...then idle sockets filling every other slot.
    let mut idle = Vec::new();
    for _ in 1..cap {
        idle.push(server.connect().await);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while metrics.connections_open() < cap as i64 {
        assert!(Instant::now() < deadline, "the server never took them all");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // One more is closed as soon as it is accepted, with no answer.
    let asked = Instant::now();
    let mut refused = server.connect().await;
    let _ = refused.write_all(request).await;
    let bytes = read_to_end(&mut refused, Duration::from_secs(1))
        .await
        .expect("a connection past the cap was left waiting");
    assert!(bytes.is_empty(), "{}", String::from_utf8_lossy(&bytes));
    assert!(asked.elapsed() < Duration::from_millis(900));
    assert_eq!(metrics.connections_refused(), 1);

    // The client that was already connected is still served.
    healthy.write_all(request).await.unwrap();
    let again = read_response(&mut healthy, Duration::from_secs(5)).await;
    assert_eq!(
        again.expect("the open client lost its connection").status,
        200
    );
    drop(healthy);

    // When the idle ones time out, their slots serve new clients again.
    for mut stream in idle {
        read_to_end(&mut stream, Duration::from_secs(10))
            .await
            .expect("an idle connection was never closed");
    }
    assert_eq!(server.get("/healthz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_is_answered_at_the_request_time_limit() {
    let server = Live::start(|c| c.request_timeout_secs = 1).await;
    let mut stream = server.connect().await;
    let request = api_request("CreateCluster", r#"{"clusterName":"slow"}"#, false);
    // Everything but the last few bytes of the body.
    let cut = request.len() - 5;
    let sent = Instant::now();
    stream.write_all(&request.as_bytes()[..cut]).await.unwrap();
    let bytes = read_to_end(&mut stream, Duration::from_secs(5))
        .await
        .expect("no answer");
    let took = sent.elapsed();
    let answer = Answer::parse(&bytes).unwrap();
    assert_eq!(answer.status, 408);
    answer.assert_aws_error("RequestTimeoutException");
    assert!(
        answer.json()["message"]
            .as_str()
            .unwrap()
            .contains("body was not received"),
        "{answer:?}"
    );
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_millis(1800), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_request_in_flight_finish_then_stops_and_flushes() {
    let mut server = Live::start(|_| {}).await;
    let idle = server.connect().await;
    let mut stream = server.connect().await;
    let request = api_request("CreateCluster", r#"{"clusterName":"drained"}"#, true);
    let cut = request.len() - 5;
    stream.write_all(&request.as_bytes()[..cut]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    server.shut_down();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The request was in flight when shutdown began: it completes, and the connection
    // then closes instead of staying alive.
    stream.write_all(&request.as_bytes()[cut..]).await.unwrap();
    let answer = read_response(&mut stream, Duration::from_secs(5))
        .await
        .expect("the request in flight was dropped");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["cluster"]["clusterName"], "drained");
    let result = tokio::time::timeout(Duration::from_secs(5), server.task.take().unwrap())
        .await
        .expect("serve did not return after the drain");
    result.unwrap().unwrap();
    // The idle connection was closed by the drain, and nothing listens any more.
    let mut idle = idle;
    assert!(read_to_end(&mut idle, Duration::from_secs(2))
        .await
        .is_some());
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
}
