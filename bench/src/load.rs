//! The closed loop: `concurrency` workers, each with its own keep-alive connection and one
//! request in flight, until the duration or the request budget runs out — whichever comes
//! first, so every loop stops by itself. Brackets the run with the server's CPU time.

use crate::client::{Conn, Endpoint};
use crate::procfs;
use crate::scenarios::{Scenario, Worker};
use bytes::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one closed-loop run observed.
#[derive(Debug, Default)]
pub struct Outcome {
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    /// Latency of every request (errors included), nanoseconds.
    pub latencies_ns: Vec<u64>,
    pub first_error: Option<String>,
    pub reconnects: u64,
    /// Server CPU time (utime + stime) spent during the run.
    pub server_cpu: Duration,
    /// This process's CPU time during the run (the client shares the machine).
    pub client_cpu: Duration,
}

/// Runs `scenario` closed-loop. Connections are opened before the clock starts.
pub async fn closed_loop(
    endpoint: &Endpoint,
    server_pid: u32,
    scenario: Scenario,
    tag: &str,
    concurrency: usize,
    duration: Duration,
    max_requests: u64,
) -> anyhow::Result<Outcome> {
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        conns.push(Conn::open(endpoint).await?);
    }
    let counter = Arc::new(AtomicU64::new(0));
    let tag: Arc<str> = Arc::from(tag);
    let cpu_before = procfs::cpu_time(server_pid);
    let client_before = procfs::cpu_time(std::process::id());
    let started = Instant::now();
    let deadline = started + duration;
    let mut handles = Vec::with_capacity(conns.len());
    for (id, conn) in conns.into_iter().enumerate() {
        let counter = Arc::clone(&counter);
        let tag = Arc::clone(&tag);
        handles.push(tokio::spawn(async move {
            worker_loop(
                conn,
                Worker::new(id),
                scenario,
                &tag,
                &counter,
                deadline,
                max_requests,
            )
            .await
        }));
    }
    let mut total = Outcome::default();
    for handle in handles {
        let part = handle.await?;
        total.requests += part.requests;
        total.errors += part.errors;
        total.reconnects += part.reconnects;
        total.latencies_ns.extend(part.latencies_ns);
        if total.first_error.is_none() {
            total.first_error = part.first_error;
        }
    }
    total.elapsed = started.elapsed();
    let cpu_after = procfs::cpu_time(server_pid);
    let client_after = procfs::cpu_time(std::process::id());
    total.server_cpu = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) => a.saturating_sub(b),
        _ => anyhow::bail!("the server process {server_pid} is gone"),
    };
    total.client_cpu = match (client_before, client_after) {
        (Some(b), Some(a)) => a.saturating_sub(b),
        _ => Duration::ZERO,
    };
    Ok(total)
}

async fn worker_loop(
    mut conn: Conn,
    mut worker: Worker,
    scenario: Scenario,
    tag: &str,
    counter: &AtomicU64,
    deadline: Instant,
    max_requests: u64,
) -> Outcome {
    let mut out = Outcome::default();
    while Instant::now() < deadline {
        let seq = counter.fetch_add(1, Ordering::Relaxed);
        if seq >= max_requests {
            break;
        }
        let body = Bytes::from(scenario.body(tag, seq, &worker));
        let signed = match conn.sign(scenario.operation(), body) {
            Ok(s) => s,
            Err(err) => {
                record_error(&mut out, format!("{err:#}"));
                continue;
            }
        };
        let sent = Instant::now();
        let answer = conn.send(signed).await;
        let latency = sent.elapsed();
        out.requests += 1;
        out.latencies_ns
            .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
        match answer {
            Ok(a) if a.status.is_success() => scenario.observe(&mut worker, &a.body),
            Ok(a) => record_error(
                &mut out,
                format!(
                    "{}: HTTP {}: {}",
                    scenario.operation(),
                    a.status,
                    String::from_utf8_lossy(&a.body)
                ),
            ),
            Err(err) => record_error(&mut out, format!("{}: {err:#}", scenario.operation())),
        }
    }
    out.reconnects = conn.reconnects;
    out
}

fn record_error(out: &mut Outcome, message: String) {
    out.errors += 1;
    if out.first_error.is_none() {
        out.first_error = Some(message);
    }
}
