//! Command-line and environment configuration of the `kubecs` binary.

use clap::{Parser, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The port kubecs listens on by default, everywhere (README, manifests, tests).
pub const DEFAULT_PORT: u16 = 8716;

/// kubecs: the Amazon ECS API, served from an embedded store and run on Kubernetes.
#[derive(Debug, Clone, Parser)]
#[command(name = "kubecs", version, about)]
pub struct Config {
    /// Address to listen on. Loopback by default: kubecs is reachable from this machine only.
    #[arg(long, env = "KUBECS_LISTEN", default_value_t = SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)))]
    pub listen: SocketAddr,

    /// Directory of the embedded store (default: the user's data directory + `kubecs`).
    #[arg(long, env = "KUBECS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// The default region: for requests that carry none (`--auth off`), and the region the
    /// data of a store from before regions (format 3) belongs to. Signed requests act in
    /// the region they were signed for.
    #[arg(long, env = "KUBECS_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Regions served (comma-separated). Default: every region, each with its own
    /// clusters, task definitions and services. Requests signed for another region are
    /// refused as AWS refuses them.
    #[arg(long, env = "KUBECS_REGIONS", value_delimiter = ',')]
    pub regions: Vec<String>,

    /// The AWS account id in ARNs, when the caller's credentials do not name one.
    #[arg(long, env = "KUBECS_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,

    /// Log format.
    #[arg(long, env = "KUBECS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Largest request body accepted, in bytes (ECS's own task definition limit is 64 KiB).
    #[arg(long, env = "KUBECS_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Longest time a request may take, body included, in seconds.
    #[arg(long, env = "KUBECS_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Authentication of API requests: SigV4 (`on`), or none (`off`, local experiments only).
    #[arg(long, env = "KUBECS_AUTH", value_enum, default_value_t = AuthMode::On)]
    pub auth: AuthMode,

    /// Credentials file (TOML). Default: `credentials.toml` in the data directory when it
    /// exists; otherwise only the well-known local pair `test`/`test` is accepted.
    #[arg(long, env = "KUBECS_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,

    /// Largest accepted difference between a request's signing time and ours, in seconds.
    #[arg(long, env = "KUBECS_MAX_CLOCK_SKEW_SECS", default_value_t = 15 * 60)]
    pub max_clock_skew_secs: u64,

    /// The store's page cache, in MiB. Desired state is small and hot; listings walk slim
    /// indexes. The default keeps the whole process under 100 MB with 100,000 task
    /// definition revisions and 10,000 services (BENCHMARKS.md).
    #[arg(long, env = "KUBECS_CACHE_MIB", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub cache_mib: u64,

    /// How long shutdown waits for in-flight requests, in seconds.
    #[arg(long, env = "KUBECS_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,

    /// How long a client has to send a complete request head, in seconds, from its
    /// connection's opening or from its first byte after an idle spell. Slower
    /// (half-sent) connections are closed.
    #[arg(long, env = "KUBECS_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,

    /// How long a kept-alive connection may sit idle between requests, in seconds.
    #[arg(long, env = "KUBECS_IDLE_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,

    /// Most client connections open at once; past it, new connections are closed as soon
    /// as they are accepted. Keep it under the open-file limit (`ulimit -n`), which the
    /// store's files share.
    #[arg(long, env = "KUBECS_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// The Kubernetes cluster that runs the services: a kubeconfig file (`KUBECONFIG`;
    /// with a list, its first file). Without it: the in-cluster service account when
    /// kubecs runs in a pod, else the local control plane when `deploy/local-k8s/up` has
    /// started it, else none: the API is served alone and kubecs looks again every 5 s.
    /// The log says which cluster is used.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// `off`: run no reconciler (the ECS API and its store only; services stay at 0
    /// running tasks and deleted ones DRAINING).
    #[arg(long, env = "KUBECS_KUBERNETES", value_enum, default_value_t = KubernetesMode::Auto)]
    pub kubernetes: KubernetesMode,

    /// Reconciles that run at once.
    #[arg(long, env = "KUBECS_RECONCILE_WORKERS", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub reconcile_workers: u64,
}

/// Whether kubecs runs its services on Kubernetes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KubernetesMode {
    /// Reconcile on the cluster found as `--kubeconfig` describes.
    Auto,
    /// Serve the API only.
    Off,
}

/// Whether API requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Verify SigV4 signatures.
    On,
    /// Accept every request (local experiments only; logged loudly).
    Off,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Config {
    /// The reconciler's settings.
    pub fn reconciler_options(&self) -> kubecs_reconciler::controller::Options {
        let kubeconfig = self.kubeconfig.as_ref().and_then(|path| {
            // KUBECONFIG may list files, as kubectl reads it; kubecs uses the first.
            std::env::split_paths(path).find(|p| !p.as_os_str().is_empty())
        });
        kubecs_reconciler::controller::Options {
            kubeconfig,
            workers: usize::try_from(self.reconcile_workers).unwrap_or(8),
            ..kubecs_reconciler::controller::Options::default()
        }
    }

    /// The data directory to use: the flag, or `<user data dir>/kubecs`, or `./.kubecs-data`.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            dirs::data_dir()
                .map(|d| d.join("kubecs"))
                .unwrap_or_else(|| PathBuf::from(".kubecs-data"))
        })
    }

    /// The per-request time limit.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The time limits and the cap on client connections.
    pub fn connection_limits(&self) -> crate::http::connection::ConnectionLimits {
        crate::http::connection::ConnectionLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            request_timeout: self.request_timeout(),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }

    /// A configuration for tests and embedding: defaults plus a data directory.
    pub fn for_data_dir(dir: PathBuf) -> Config {
        let mut config = Config::parse_from(["kubecs"]);
        config.data_dir = Some(dir);
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_cache_defaults_to_8_mib_and_refuses_zero() {
        assert_eq!(Config::parse_from(["kubecs"]).cache_mib, 8);
        assert_eq!(
            Config::parse_from(["kubecs", "--cache-mib", "64"]).cache_mib,
            64
        );
        assert!(Config::try_parse_from(["kubecs", "--cache-mib", "0"]).is_err());
    }

    #[test]
    fn connection_limits_default_to_10_s_60_s_and_1024_and_refuse_zero() {
        let limits = Config::parse_from(["kubecs"]).connection_limits();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(limits.idle_timeout, Duration::from_secs(60));
        assert_eq!(limits.request_timeout, Duration::from_secs(30));
        assert_eq!(limits.max_connections, 1024);
        for flag in [
            "--header-read-timeout-secs",
            "--idle-timeout-secs",
            "--max-connections",
        ] {
            assert!(
                Config::try_parse_from(["kubecs", flag, "0"]).is_err(),
                "{flag}"
            );
        }
    }
}
