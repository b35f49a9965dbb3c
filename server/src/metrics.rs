//! Metrics: what `GET /metrics` shows, in the Prometheus text format (0.0.4).
//!
//! Two halves. [`Metrics`] holds the server's own series in plain atomics, one slot per
//! (operation, error code) fixed up front, so a request adds to a counter and a histogram
//! bucket without a lock, a map lookup or an allocation (the API serves ~10k requests/s).
//! The [`Registry`] (from `prometheus-client`) is what gets encoded: the server registers
//! a collector that reads those atomics and the store at scrape time, and other components
//! register their own series into sub-registries — the reconciler (which must not depend
//! on this crate) takes `registry.sub_registry_with_prefix("reconciler")` at start-up and
//! registers prometheus-client counters, gauges and histograms there (queue depth,
//! reconciles, errors, latency), named `kubecs_reconciler_*`. The registry is built in
//! `startup`, before the state is shared, and is read-only afterwards.
//!
//! Series (all `kubecs_`):
//! - `api_requests_total{operation, error}`: API requests (`POST /`) by operation and error
//!   code, `error="none"` for successes; `operation="unknown"` when the request named no
//!   operation of the model, or never got as far as naming one (refused by the HTTP
//!   parser, or its head not received in time).
//! - `api_request_duration_seconds{operation}`: API request latency, head to response.
//! - `api_write_duration_seconds{operation}`: latency of *successful* requests of the
//!   operations that write to the store (create, update, delete, register, tag, ...). The
//!   store writes happen inside the handlers (`ops/`), out of the server's sight, so this
//!   is the closest the server measures: for these operations, the write and the wait for
//!   its sync are most of the request.
//! - `store_size_bytes`, `store_syncs_total`: the store's size on disk and its write-ahead
//!   log syncs since open, both read at scrape time.
//! - `http_connections_open`, `http_connections_refused_total` (over `--max-connections`),
//!   `http_connections_closed_total{reason}` (`header_timeout`, `idle_timeout`,
//!   `response_timeout`).

use kubecs_api_models::{ErrorCode, Operation};
use kubecs_storage::Store;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Unit;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

pub use prometheus_client::registry::Registry;

/// The content type of `GET /metrics`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The prefix of every series name.
pub const PREFIX: &str = "kubecs";

/// Operations: the model's, plus one slot for "no operation".
const OPERATION_SLOTS: usize = Operation::ALL.len() + 1;
const UNKNOWN_OPERATION: usize = Operation::ALL.len();
/// Outcomes: success, then every error code.
const OUTCOME_SLOTS: usize = ErrorCode::ALL.len() + 1;

/// Upper bounds of the latency buckets, in microseconds: 0.5 ms to 10 s. Requests served
/// from memory take well under a millisecond; writes wait for a sync (a few ms); the
/// request timeout (30 s by default) ends in the +Inf bucket.
const BUCKETS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// A latency histogram in atomics: one counter per bucket (not cumulative, so an
/// observation touches one bucket) plus the +Inf bucket, and the sum in nanoseconds.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_ns: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        // The first bound at or above the value (Prometheus buckets are "less or equal").
        let index = BUCKETS_US.partition_point(|&bound| bound < us);
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Relaxed);
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    fn encode(&self, encoder: &mut prometheus_client::encoding::MetricEncoder) -> Fmt {
        let mut buckets = [(0.0, 0); BUCKETS_US.len() + 1];
        let mut count = 0;
        for (i, slot) in buckets.iter_mut().enumerate() {
            let n = self.buckets[i].load(Relaxed);
            let bound = BUCKETS_US
                .get(i)
                .map_or(f64::INFINITY, |us| *us as f64 / 1e6);
            *slot = (bound, n);
            count += n;
        }
        let sum = self.sum_ns.load(Relaxed) as f64 / 1e9;
        encoder
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(sum, count, &buckets, None)
    }
}

type Fmt = Result<(), std::fmt::Error>;

/// Why the server closed a connection on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// No complete request head within `--header-read-timeout-secs`.
    HeaderTimeout,
    /// Nothing sent for `--idle-timeout-secs` between requests.
    IdleTimeout,
    /// A response not taken by the client long after the request time limit.
    ResponseTimeout,
}

impl CloseReason {
    const ALL: [CloseReason; 3] = [
        CloseReason::HeaderTimeout,
        CloseReason::IdleTimeout,
        CloseReason::ResponseTimeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::ResponseTimeout => "response_timeout",
        }
    }
}

/// The server's own series (see the module docs), updated with relaxed atomics.
#[derive(Debug)]
pub struct Metrics {
    /// `OPERATION_SLOTS x OUTCOME_SLOTS` counters, row by operation.
    requests: Box<[AtomicU64]>,
    latency: Box<[Histogram]>,
    write_latency: Box<[Histogram]>,
    connections_open: AtomicI64,
    connections_refused: AtomicU64,
    connections_closed: [AtomicU64; CloseReason::ALL.len()],
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..OPERATION_SLOTS * OUTCOME_SLOTS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: (0..OPERATION_SLOTS).map(|_| Histogram::default()).collect(),
            write_latency: (0..OPERATION_SLOTS).map(|_| Histogram::default()).collect(),
            connections_open: AtomicI64::new(0),
            connections_refused: AtomicU64::new(0),
            connections_closed: Default::default(),
        }
    }
}

/// `Operation::ALL[i]` is the variant with discriminant `i` (the generated enum declares
/// them in that order; a test pins it), so the slot is the discriminant.
fn operation_slot(operation: Option<Operation>) -> usize {
    operation.map_or(UNKNOWN_OPERATION, |op| op as usize)
}

/// Slot 0 is success; error code `c` is slot `c + 1` (same ordering argument).
fn outcome_slot(error: Option<ErrorCode>) -> usize {
    error.map_or(0, |code| code as usize + 1)
}

/// Whether an operation writes to the store when it succeeds: everything but reads.
pub fn writes_store(operation: Operation) -> bool {
    let name = operation.name();
    !["List", "Describe", "Get", "Discover"]
        .iter()
        .any(|read| name.starts_with(read))
}

impl Metrics {
    /// One API request: its operation (if it named one), its error (if any) and latency.
    pub fn observe_request(
        &self,
        operation: Option<Operation>,
        error: Option<ErrorCode>,
        elapsed: Duration,
    ) {
        let op = operation_slot(operation);
        if let Some(counter) = self.requests.get(op * OUTCOME_SLOTS + outcome_slot(error)) {
            counter.fetch_add(1, Relaxed);
        }
        if let Some(histogram) = self.latency.get(op) {
            histogram.observe(elapsed);
        }
        if error.is_none() && operation.is_some_and(writes_store) {
            if let Some(histogram) = self.write_latency.get(op) {
                histogram.observe(elapsed);
            }
        }
    }

    /// A request refused before it reached the router (HTTP parser, header timeout).
    pub fn observe_refusal(&self, error: ErrorCode) {
        let slot = UNKNOWN_OPERATION * OUTCOME_SLOTS + outcome_slot(Some(error));
        if let Some(counter) = self.requests.get(slot) {
            counter.fetch_add(1, Relaxed);
        }
    }

    /// Requests counted for `operation` with `error` (tests, and the metrics endpoint).
    pub fn requests(&self, operation: Option<Operation>, error: Option<ErrorCode>) -> u64 {
        let slot = operation_slot(operation) * OUTCOME_SLOTS + outcome_slot(error);
        self.requests.get(slot).map_or(0, |c| c.load(Relaxed))
    }

    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Relaxed);
    }

    pub fn connection_ended(&self) {
        self.connections_open.fetch_sub(1, Relaxed);
    }

    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Relaxed);
    }

    pub fn connection_closed(&self, reason: CloseReason) {
        self.connections_closed[reason as usize].fetch_add(1, Relaxed);
    }

    pub fn connections_open(&self) -> i64 {
        self.connections_open.load(Relaxed)
    }

    pub fn connections_refused(&self) -> u64 {
        self.connections_refused.load(Relaxed)
    }

    pub fn connections_closed(&self, reason: CloseReason) -> u64 {
        self.connections_closed[reason as usize].load(Relaxed)
    }

    fn encode_requests(&self, encoder: &mut DescriptorEncoder) -> Fmt {
        let mut family = encoder.encode_descriptor(
            "api_requests",
            "API requests by operation and error code (error=\"none\": success).",
            None,
            MetricType::Counter,
        )?;
        for (op, row) in self.requests.chunks(OUTCOME_SLOTS).enumerate() {
            for (outcome, counter) in row.iter().enumerate() {
                let n = counter.load(Relaxed);
                if n == 0 {
                    continue; // 77 x 43 series of zeros would drown the rest
                }
                let labels = [
                    ("operation", operation_label(op)),
                    ("error", outcome_label(outcome)),
                ];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }

    fn encode_histograms(
        encoder: &mut DescriptorEncoder,
        name: &str,
        help: &str,
        histograms: &[Histogram],
    ) -> Fmt {
        let mut family =
            encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
        for (op, histogram) in histograms.iter().enumerate() {
            if histogram.count() == 0 {
                continue;
            }
            let labels = [("operation", operation_label(op))];
            histogram.encode(&mut family.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn encode_connections(&self, encoder: &mut DescriptorEncoder) -> Fmt {
        let open = ConstGauge::new(self.connections_open());
        open.encode(encoder.encode_descriptor(
            "http_connections_open",
            "Client connections open now.",
            None,
            open.metric_type(),
        )?)?;
        let refused = ConstCounter::new(self.connections_refused());
        refused.encode(encoder.encode_descriptor(
            "http_connections_refused",
            "Connections closed at once because --max-connections were open.",
            None,
            refused.metric_type(),
        )?)?;
        let mut closed = encoder.encode_descriptor(
            "http_connections_closed",
            "Connections the server closed on its own, by reason.",
            None,
            MetricType::Counter,
        )?;
        for reason in CloseReason::ALL {
            let labels = [("reason", reason.as_str())];
            ConstCounter::new(self.connections_closed(reason))
                .encode(closed.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

fn operation_label(slot: usize) -> &'static str {
    Operation::ALL.get(slot).map_or("unknown", |op| op.name())
}

fn outcome_label(slot: usize) -> &'static str {
    match slot.checked_sub(1) {
        None => "none",
        Some(i) => ErrorCode::ALL.get(i).map_or("unknown", |c| c.wire_name()),
    }
}

/// The collector the server registers: its atomics, and the store read at scrape time.
#[derive(Debug)]
struct ServerCollector {
    metrics: std::sync::Arc<Metrics>,
    store: Store,
}

impl prometheus_client::collector::Collector for ServerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Fmt {
        self.metrics.encode_requests(&mut encoder)?;
        Metrics::encode_histograms(
            &mut encoder,
            "api_request_duration",
            "API request latency by operation, from the request head to the response.",
            &self.metrics.latency,
        )?;
        Metrics::encode_histograms(
            &mut encoder,
            "api_write_duration",
            "Latency of successful requests of operations that write to the store (the write and its sync included).",
            &self.metrics.write_latency,
        )?;
        // A store that cannot report its size is left out of this scrape rather than
        // failing the whole page; /readyz reports the store's health.
        if let Ok(bytes) = self.store.size_on_disk() {
            let size = ConstGauge::new(bytes);
            size.encode(encoder.encode_descriptor(
                "store_size",
                "Bytes the store uses on disk.",
                Some(&Unit::Bytes),
                size.metric_type(),
            )?)?;
        }
        let syncs = ConstCounter::new(self.store.flush_count());
        syncs.encode(encoder.encode_descriptor(
            "store_syncs",
            "Syncs of the store's write-ahead log since it was opened.",
            None,
            syncs.metric_type(),
        )?)?;
        self.metrics.encode_connections(&mut encoder)
    }
}

/// The registry `GET /metrics` encodes, with the server's series in it. Other components
/// add theirs with `registry.sub_registry_with_prefix(...)` before it is shared.
pub fn registry(metrics: std::sync::Arc<Metrics>, store: Store) -> Registry {
    let mut registry = Registry::with_prefix(PREFIX);
    registry.register_collector(Box::new(ServerCollector { metrics, store }));
    registry
}

/// The registry in the Prometheus text format.
pub fn encode(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut text = String::with_capacity(16 * 1024);
    prometheus_client::encoding::prometheus_text::encode(&mut text, registry)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_the_enum_discriminants_in_table_order() {
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i, "{op}");
        }
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(*code as usize, i, "{code}");
        }
        assert_eq!(operation_label(UNKNOWN_OPERATION), "unknown");
        assert_eq!(outcome_label(0), "none");
    }

    #[test]
    fn an_observation_lands_in_the_first_bucket_at_or_above_it() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(500)); // exactly on a bound: that bucket
        h.observe(Duration::from_micros(501));
        h.observe(Duration::from_secs(60)); // past every bound: +Inf
        let counts: Vec<u64> = h.buckets.iter().map(|b| b.load(Relaxed)).collect();
        assert_eq!(counts[0], 1);
        assert_eq!(counts[1], 1);
        assert_eq!(counts[BUCKETS_US.len()], 1);
        assert_eq!(h.count(), 3);
        assert_eq!(h.sum_ns.load(Relaxed), 60_001_001_000);
    }

    #[test]
    fn reads_are_not_writes() {
        assert!(writes_store(Operation::CreateCluster));
        assert!(writes_store(Operation::RegisterTaskDefinition));
        assert!(writes_store(Operation::TagResource));
        assert!(!writes_store(Operation::DescribeServices));
        assert!(!writes_store(Operation::ListClusters));
        assert!(!writes_store(Operation::GetTaskProtection));
    }
}
