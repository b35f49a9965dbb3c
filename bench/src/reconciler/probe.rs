//! The DescribeServices latency probe: one request at a time with a fixed pause between
//! them, on a thread of its own (its own runtime and connection), so that what it records
//! is kubecs's answer time and not the benchmark's other work. The same probe runs while
//! kubecs is idle and while a burst of services converges.

use crate::client::{Conn, Endpoint};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one probe run recorded.
#[derive(Debug, Default)]
pub struct ProbeOutcome {
    /// Latency of every answered request, ms.
    pub latencies_ms: Vec<f64>,
    /// When each of those requests was sent.
    pub sent_at: Vec<Instant>,
    pub errors: u64,
    pub first_error: Option<String>,
    pub seconds: f64,
}

/// A running probe; [`Probe::finish`] stops it and hands back its samples.
pub struct Probe {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<ProbeOutcome>,
}

impl Probe {
    /// Starts sending `body` (a DescribeServices request) to `endpoint`, pausing
    /// `interval` between an answer and the next request.
    pub fn start(endpoint: &Endpoint, body: String, interval: Duration) -> anyhow::Result<Probe> {
        let stop = Arc::new(AtomicBool::new(false));
        let endpoint = endpoint.clone();
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("probe".into())
                .spawn(move || {
                    let mut out = ProbeOutcome::default();
                    match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(rt) => rt.block_on(run(&endpoint, &body, interval, &stop, &mut out)),
                        Err(e) => {
                            out.errors += 1;
                            out.first_error = Some(e.to_string());
                        }
                    }
                    out
                })?
        };
        Ok(Probe { stop, thread })
    }

    /// Stops the probe; its samples.
    pub fn finish(self) -> ProbeOutcome {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}

async fn run(
    endpoint: &Endpoint,
    body: &str,
    interval: Duration,
    stop: &AtomicBool,
    out: &mut ProbeOutcome,
) {
    let started = Instant::now();
    let mut conn = match Conn::open(endpoint).await {
        Ok(c) => c,
        Err(e) => {
            out.errors += 1;
            out.first_error = Some(format!("{e:#}"));
            return;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        // Signed before the clock starts, as in the closed-loop runs.
        let signed = match conn.sign("DescribeServices", body.to_owned().into()) {
            Ok(s) => s,
            Err(e) => {
                out.errors += 1;
                out.first_error.get_or_insert(format!("{e:#}"));
                break;
            }
        };
        let sent = Instant::now();
        match conn.send(signed).await {
            Ok(a) if a.status.is_success() => {
                out.latencies_ms.push(sent.elapsed().as_secs_f64() * 1e3);
                out.sent_at.push(sent);
            }
            Ok(a) => {
                out.errors += 1;
                out.first_error.get_or_insert(format!(
                    "DescribeServices: HTTP {}: {}",
                    a.status,
                    String::from_utf8_lossy(&a.body)
                ));
            }
            Err(e) => {
                out.errors += 1;
                out.first_error
                    .get_or_insert(format!("DescribeServices: {e:#}"));
            }
        }
        tokio::time::sleep(interval).await;
    }
    out.seconds = started.elapsed().as_secs_f64();
}

impl ProbeOutcome {
    /// The latencies of the requests sent before `at`, and of those sent from then on.
    pub fn split_at(&self, at: Instant) -> (Vec<f64>, Vec<f64>) {
        let mut before = Vec::new();
        let mut after = Vec::new();
        for (latency, sent) in self.latencies_ms.iter().zip(&self.sent_at) {
            if *sent < at {
                before.push(*latency);
            } else {
                after.push(*latency);
            }
        }
        (before, after)
    }
}
