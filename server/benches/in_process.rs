//! The cost of the kubecs request path *without* the network: DescribeServices(10) and
//! RegisterTaskDefinition through the router in-process (`oneshot`), SigV4-verified, on a
//! real, durable store, one request at a time.
//!
//! kubecs-bench measures what a client sees (hyper's HTTP/1, the kernel's TCP path and
//! tokio's wake-ups included); this isolates what kubecs's own code costs, so that a
//! change to the router, the handlers or the store can be measured without the noise of
//! the network path (bench/JOURNAL.md, third round). Requests are signed before the clock
//! starts. No tracing subscriber is installed, so the access-log line costs nothing here.
//! DescribeServices is timed by the clock (one thread, no waiting); registrations wait
//! for their flush, so they are measured by the process's CPU time instead (all threads:
//! the log committer's and sled's too, as kubecs-bench counts the server's). Figures to compare
//! between builds on one machine, not targets.
//!
//! `cargo bench -p kubecs-server --bench in_process`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

/// kubecs-bench's reading of a process's CPU time, so both count it the same way.
#[path = "../../bench/src/procfs.rs"]
#[allow(dead_code, unused_imports)] // its memory reader and its own tests are not used here
mod procfs;

use serde_json::json;
use std::time::Instant;
use support::{signed_request, TestServer};
use tower::ServiceExt;

/// The binary's allocator (server/src/main.rs), so that the figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REQUESTS_PER_ROUND: u32 = 20_000;
const ROUNDS: u32 = 8;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let server = TestServer::new();
        describe_services(&server).await;
        register_task_definitions(&server).await;
    });
}

/// Sends each request in turn and reads its whole answer, which must be a 200.
async fn send_all(router: &axum::Router, requests: Vec<axum::http::Request<axum::body::Body>>) {
    for request in requests {
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 200);
        http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap();
    }
}

async fn register_task_definitions(server: &TestServer) {
    const REGISTRATIONS: u32 = 3_000;
    let router = kubecs_server::app::router(server.state.clone());
    let body = serde_json::to_vec(&json!({"family": "bench", "containerDefinitions":
        [{"name": "c", "image": "nginx", "memory": 128}]}))
    .unwrap();
    let requests: Vec<_> = (0..REGISTRATIONS)
        .map(|_| signed_request("RegisterTaskDefinition", body.clone(), &[]))
        .collect();
    let process_cpu = || procfs::cpu_time(std::process::id()).unwrap().as_secs_f64();
    let (cpu_before, started) = (process_cpu(), Instant::now());
    send_all(&router, requests).await;
    let per = |seconds: f64| seconds * 1e6 / f64::from(REGISTRATIONS);
    println!(
        "RegisterTaskDefinition in-process, one at a time: {:.0} µs of process CPU per \
         request, {:.0} µs each by the clock ({REGISTRATIONS} registrations)",
        per(process_cpu() - cpu_before),
        per(started.elapsed().as_secs_f64()),
    );
}

async fn describe_services(server: &TestServer) {
    assert_eq!(server.call("CreateCluster", json!({})).await.status, 200);
    let registered = server
        .call(
            "RegisterTaskDefinition",
            json!({"family": "web", "containerDefinitions":
                   [{"name": "c", "image": "nginx", "memory": 128}]}),
        )
        .await;
    assert_eq!(registered.status, 200, "{}", registered.text);
    let names: Vec<String> = (0..10).map(|i| format!("service-{i}")).collect();
    for name in &names {
        let created = server
            .call(
                "CreateService",
                json!({"serviceName": name, "taskDefinition": "web", "desiredCount": 1}),
            )
            .await;
        assert_eq!(created.status, 200, "{}", created.text);
    }
    let body = serde_json::to_vec(&json!({ "services": names })).unwrap();
    let router = kubecs_server::app::router(server.state.clone());
    let mut per_request = Vec::new();
    for _ in 0..ROUNDS {
        let requests: Vec<_> = (0..REQUESTS_PER_ROUND)
            .map(|_| signed_request("DescribeServices", body.clone(), &[]))
            .collect();
        let started = Instant::now();
        send_all(&router, requests).await;
        per_request.push(started.elapsed().as_secs_f64() * 1e6 / f64::from(REQUESTS_PER_ROUND));
    }
    per_request.sort_by(f64::total_cmp);
    println!(
        "DescribeServices(10) in-process, one thread: {:.1} µs/request at best, {:.1} median \
         ({ROUNDS} rounds of {REQUESTS_PER_ROUND})",
        per_request[0],
        per_request[per_request.len() / 2]
    );
}
