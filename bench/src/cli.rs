//! Command-line flags, and the two presets they resolve to: the full benchmark and the
//! few-seconds `--smoke` run that CI uses to keep the tool from rotting; and the flags of
//! the `reconciler` subcommand (kubecs's reconciler on a real Kubernetes control plane).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// Measures kubecs against moto's ECS endpoint with the same SigV4-signed requests, in the
/// same run, and writes the figures as JSON and into BENCHMARKS.md.
#[derive(Debug, Parser)]
#[command(name = "kubecs-bench", args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The kubecs binary to start. Default: target/release/kubecs (target/debug/kubecs with
    /// --smoke, which CI has already built).
    #[arg(long, env = "KUBECS_BENCH_KUBECS_BIN")]
    pub kubecs_bin: Option<PathBuf>,

    /// The Python interpreter that has `moto[server]` (bench/requirements.txt).
    #[arg(long, env = "KUBECS_BENCH_PYTHON", default_value = "python3")]
    pub python: String,

    /// Only these scenarios (names as printed, matched by prefix, e.g.
    /// `DescribeServices,ListTaskDefinitions`): for profiling one of them. The stores of
    /// the ListTaskDefinitions phases are built only when it is selected.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Option<Vec<String>>,

    /// Skip moto (kubecs figures only, no ratios).
    #[arg(long)]
    pub no_moto: bool,

    /// A few seconds in total: tiny durations, small stores, concurrency 1 and 8; exits
    /// non-zero if any request failed. Writes no results unless --json/--markdown say so (nor does a
    /// run narrowed with --scenarios).
    #[arg(long)]
    pub smoke: bool,

    /// Seconds each (scenario, concurrency) run lasts.
    #[arg(long)]
    pub duration_secs: Option<f64>,

    /// Concurrency levels (closed loop: one connection and one request in flight each).
    #[arg(long, value_delimiter = ',')]
    pub concurrency: Option<Vec<usize>>,

    /// Revisions in the small store for ListTaskDefinitions.
    #[arg(long)]
    pub small_revisions: Option<u64>,

    /// Revisions in the large store for ListTaskDefinitions and the memory target.
    #[arg(long)]
    pub large_revisions: Option<u64>,

    /// Services in the large store (memory target).
    #[arg(long)]
    pub large_services: Option<u64>,

    /// Revisions to try to preload into moto for the large ListTaskDefinitions run, within
    /// --moto-preload-budget-secs (moto registers a few hundred per second at best). 0 skips
    /// moto's large run.
    #[arg(long)]
    pub moto_large_revisions: Option<u64>,

    /// Wall-clock bound on each moto preload; whatever it reached is what is measured and
    /// reported.
    #[arg(long, default_value_t = 120.0)]
    pub moto_preload_budget_secs: f64,

    /// Where to write the JSON results. Default for a full run: bench/results/<UTC time>.json.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// Markdown file whose generated results section is replaced. Default for a full run:
    /// BENCHMARKS.md.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

/// Other benchmarks than the default one (kubecs against moto).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// kubecs's reconciler on a real Kubernetes control plane: CreateService to
    /// Deployment, Pods Ready to runningCount, a burst of one-task services to all stable,
    /// memory, DescribeServices under convergence, and ECS against a direct Deployment.
    /// Uses KUBECONFIG when set, else starts the local control plane with enough hollow
    /// nodes (deploy/local-k8s/up --nodes N). Writes bench/results/reconciler-<time>.json
    /// and the reconciler section of BENCHMARKS.md.
    Reconciler(ReconcilerArgs),
}

/// Flags of `kubecs-bench reconciler`.
#[derive(Debug, Clone, Args)]
pub struct ReconcilerArgs {
    /// The kubecs binary to start (with its reconciler on).
    #[arg(
        long,
        env = "KUBECS_BENCH_KUBECS_BIN",
        default_value = "target/release/kubecs"
    )]
    pub kubecs_bin: PathBuf,

    /// The Kubernetes cluster. Unset: the local control plane of deploy/local-k8s (its
    /// state directory and ports from KUBECS_LOCAL_K8S_STATE_DIR, KUBECS_K8S_API_PORT, ...),
    /// started with enough hollow nodes. No other kubecs may reconcile on this cluster:
    /// each removes the namespaces of ECS clusters it does not know.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Hollow nodes to ask deploy/local-k8s/up for (when it starts the cluster). Default:
    /// enough for every pod of the run at 110 pods per node.
    #[arg(long)]
    pub nodes: Option<usize>,

    /// One-task services created in the burst.
    #[arg(long, default_value_t = 1000)]
    pub services: usize,

    /// CreateService calls in flight at once during the burst.
    #[arg(long, default_value_t = 16)]
    pub burst_concurrency: usize,

    /// One-task services created one at a time for the two latencies (CreateService to
    /// Deployment, Pods Ready to runningCount).
    #[arg(long, default_value_t = 20)]
    pub latency_samples: usize,

    /// How often DescribeServices is polled for runningCount in the latency samples, ms.
    #[arg(long, default_value_t = 10)]
    pub poll_ms: u64,

    /// Pairs of (ECS service, direct Deployment) timed to stable, taking turns.
    #[arg(long, default_value_t = 20)]
    pub stable_pairs: usize,

    /// Desired count (replicas) of each service and Deployment of the pairs.
    #[arg(long, default_value_t = 1)]
    pub stable_desired_count: usize,

    /// How often both sides of a pair are polled (DescribeServices; GET Deployment), ms.
    #[arg(long, default_value_t = 100)]
    pub stable_poll_ms: u64,

    /// Skip the burst's baseline: as many copies of kubecs's Deployment applied directly
    /// and timed until all are rolled out (then deleted) before the ECS burst.
    #[arg(long)]
    pub no_direct_burst: bool,

    /// How long DescribeServices latency is sampled before the burst (the idle figure), s.
    #[arg(long, default_value_t = 10.0)]
    pub idle_secs: f64,

    /// Pause between two DescribeServices of the latency probe, ms (one at a time).
    #[arg(long, default_value_t = 20)]
    pub describe_interval_ms: u64,

    /// Pause between two sweeps of DescribeServices(10) over the burst's services not yet
    /// stable, ms. The sweeps are load on kubecs too (a sweep of 1,000 services is 100
    /// requests).
    #[arg(long, default_value_t = 1000)]
    pub sweep_ms: u64,

    /// Give up waiting for the burst to be stable after this long, s (reported, not failed).
    #[arg(long, default_value_t = 900.0)]
    pub stable_limit_secs: f64,

    /// Where to write the JSON results. Default: bench/results/reconciler-<UTC time>.json.
    #[arg(long)]
    pub json: Option<PathBuf>,

    /// Markdown file whose reconciler section is replaced. Default: BENCHMARKS.md.
    #[arg(long)]
    pub markdown: Option<PathBuf>,

    /// Write no JSON and no Markdown (a trial run).
    #[arg(long)]
    pub no_write: bool,
}

/// The resolved settings of one run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub smoke: bool,
    pub scenarios: Option<Vec<String>>,
    pub kubecs_bin: PathBuf,
    pub python: String,
    pub moto: bool,
    pub duration: Duration,
    pub concurrency: Vec<usize>,
    pub small_revisions: u64,
    pub large_revisions: u64,
    pub large_services: u64,
    pub moto_large_revisions: u64,
    pub moto_preload_budget: Duration,
    /// Pause after a large preload before measuring.
    pub settle: Duration,
    pub json: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
}

impl Settings {
    /// Whether a scenario was selected (all are, unless --scenarios says otherwise).
    pub fn selected(&self, label: &str) -> bool {
        self.scenarios
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| label.starts_with(n.as_str())))
    }
}

/// Upper bound on requests in one timed run, whatever the duration: keeps the sample
/// buffers bounded even if a server answers implausibly fast.
pub const MAX_REQUESTS_PER_RUN: u64 = 5_000_000;

impl Cli {
    pub fn settings(self) -> Settings {
        let smoke = self.smoke;
        let pick =
            |v: Option<u64>, full: u64, small: u64| v.unwrap_or(if smoke { small } else { full });
        let stamp = crate::machine::utc_stamp();
        // Only a complete run updates the repository's figures by default.
        let complete = !smoke && self.scenarios.is_none();
        Settings {
            smoke,
            scenarios: self.scenarios,
            kubecs_bin: self.kubecs_bin.unwrap_or_else(|| {
                PathBuf::from(if smoke {
                    "target/debug/kubecs"
                } else {
                    "target/release/kubecs"
                })
            }),
            python: self.python,
            moto: !self.no_moto,
            duration: Duration::from_secs_f64(
                self.duration_secs
                    .unwrap_or(if smoke { 0.25 } else { 5.0 })
                    .max(0.01),
            ),
            concurrency: self.concurrency.unwrap_or_else(|| {
                if smoke {
                    vec![1, 8]
                } else {
                    vec![1, 8, 64]
                }
            }),
            small_revisions: pick(self.small_revisions, 1_000, 100),
            large_revisions: pick(self.large_revisions, 100_000, 300),
            large_services: pick(self.large_services, 10_000, 50),
            moto_large_revisions: pick(self.moto_large_revisions, 10_000, 0),
            moto_preload_budget: Duration::from_secs_f64(self.moto_preload_budget_secs.max(1.0)),
            settle: Duration::from_secs(if smoke { 0 } else { 3 }),
            json: self
                .json
                .or_else(|| complete.then(|| PathBuf::from(format!("bench/results/{stamp}.json")))),
            markdown: self
                .markdown
                .or_else(|| complete.then(|| PathBuf::from("BENCHMARKS.md"))),
        }
    }
}
