//! The reconciler's series, registered into the server's registry under `reconciler`
//! (`kubecs_reconciler_*`): queue depth, reconciles by kind and result, errors by kind and
//! reason, reconcile latency, services kubecs cannot run, and whether a cluster is
//! connected.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = [(&'static str, &'static str); 2];

#[derive(Debug)]
pub struct Metrics {
    pub queue_depth: Gauge,
    pub connected: Gauge,
    pub unsupported: Counter,
    reconciles: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    latency: Family<[(&'static str, &'static str); 1], Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            queue_depth: Gauge::default(),
            connected: Gauge::default(),
            unsupported: Counter::default(),
            reconciles: Family::default(),
            errors: Family::default(),
            // 1 ms to ~16 s.
            latency: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            }),
        }
    }
}

impl Metrics {
    /// Registers every series into `registry` (the server's `reconciler` sub-registry).
    pub fn register(self: &std::sync::Arc<Self>, registry: &mut Registry) {
        registry.register(
            "queue_depth",
            "Keys waiting in the reconciler's work queue.",
            self.queue_depth.clone(),
        );
        registry.register(
            "kubernetes_connected",
            "1 when a Kubernetes cluster is configured and its objects are being watched.",
            self.connected.clone(),
        );
        registry.register(
            "unsupported",
            "Reconciles of a service that kubecs cannot run on Kubernetes (stored before the API checked).",
            self.unsupported.clone(),
        );
        registry.register(
            "reconciles",
            "Reconciles by kind (cluster, service) and result (ok, error).",
            self.reconciles.clone(),
        );
        registry.register(
            "errors",
            "Failed reconciles by kind and reason (store, kubernetes, encode).",
            self.errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Latency of one reconcile, by kind.",
            self.latency.clone(),
        );
    }

    pub fn reconciled(&self, kind: &'static str, elapsed: Duration, error: Option<&'static str>) {
        let result = if error.is_some() { "error" } else { "ok" };
        self.reconciles
            .get_or_create(&[("kind", kind), ("result", result)])
            .inc();
        if let Some(reason) = error {
            self.errors
                .get_or_create(&[("kind", kind), ("reason", reason)])
                .inc();
        }
        self.latency
            .get_or_create(&[("kind", kind)])
            .observe(elapsed.as_secs_f64());
    }

    pub fn reconciles(&self, kind: &'static str, result: &'static str) -> u64 {
        self.reconciles
            .get_or_create(&[("kind", kind), ("result", result)])
            .get()
    }
}
