//! From raw samples to the figures the targets are stated in: requests/s, latency
//! percentiles (nearest rank over every sample, no histogram approximation), and CPU time
//! per request.

use crate::load::Outcome;
use crate::procfs::Memory;
use crate::servers::Kind;
use serde::Serialize;

/// The figures of one (server, scenario, concurrency) run.
#[derive(Debug, Clone, Serialize)]
pub struct RunStats {
    pub server: Kind,
    pub scenario: String,
    /// Which store the run was made on (`ops`, or `N revisions`).
    pub store: String,
    pub concurrency: usize,
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub requests_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub server_cpu_us_per_request: f64,
    pub client_cpu_us_per_request: f64,
    pub server_rss_mib: f64,
    pub server_hwm_mib: f64,
    pub reconnects: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

impl RunStats {
    pub fn new(
        server: Kind,
        scenario: &str,
        store: &str,
        concurrency: usize,
        mut outcome: Outcome,
        memory: Memory,
    ) -> RunStats {
        outcome.latencies_ns.sort_unstable();
        let seconds = outcome.elapsed.as_secs_f64();
        let per_request = |d: std::time::Duration| {
            if outcome.requests == 0 {
                0.0
            } else {
                d.as_secs_f64() * 1e6 / outcome.requests as f64
            }
        };
        RunStats {
            server,
            scenario: scenario.to_owned(),
            store: store.to_owned(),
            concurrency,
            requests: outcome.requests,
            errors: outcome.errors,
            seconds,
            requests_per_sec: if seconds > 0.0 {
                outcome.requests as f64 / seconds
            } else {
                0.0
            },
            p50_us: percentile_us(&outcome.latencies_ns, 0.50),
            p99_us: percentile_us(&outcome.latencies_ns, 0.99),
            max_us: outcome.latencies_ns.last().map_or(0.0, |&n| n as f64 / 1e3),
            server_cpu_us_per_request: per_request(outcome.server_cpu),
            client_cpu_us_per_request: per_request(outcome.client_cpu),
            server_rss_mib: kib_to_mib(memory.rss_kib),
            server_hwm_mib: kib_to_mib(memory.hwm_kib),
            reconnects: outcome.reconnects,
            first_error: outcome.first_error,
        }
    }
}

pub fn kib_to_mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Nearest-rank percentile of sorted nanosecond samples, in microseconds.
pub fn percentile_us(sorted_ns: &[u64], p: f64) -> f64 {
    if sorted_ns.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted_ns.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_ns.len()) - 1;
    sorted_ns[index] as f64 / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_us(&samples, 0.50), 50.0);
        assert_eq!(percentile_us(&samples, 0.99), 99.0);
        assert_eq!(percentile_us(&samples, 1.0), 100.0);
        assert_eq!(percentile_us(&[7000], 0.99), 7.0);
        assert_eq!(percentile_us(&[], 0.5), 0.0);
    }
}
