//! Starting and stopping the servers under test: kubecs (fresh data directory, SigV4 and
//! durable storage on, as in production) and moto's server, both on loopback ports this
//! process picked, both with their logs in files so a failure can be explained.

use crate::client::{wait_until_up, Conn, Endpoint};
use anyhow::{anyhow, bail, Context};
use http::{Method, StatusCode};
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to come up before the run gives up.
const KUBECS_START_LIMIT: Duration = Duration::from_secs(20);
const MOTO_START_LIMIT: Duration = Duration::from_secs(60);
/// How long SIGTERM may take before SIGKILL.
const STOP_LIMIT: Duration = Duration::from_secs(20);

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Kubecs,
    Moto,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Kubecs => "kubecs",
            Kind::Moto => "moto",
        }
    }
}

/// A running server this process started; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Server {
    pub kind: Kind,
    pub endpoint: Endpoint,
    child: Child,
    log: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The file its stdout and stderr go to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Starts kubecs on `data_dir` without a reconciler and waits for `/healthz`; returns
    /// the server and the time from spawn to the first healthy answer (the store's open
    /// time plus process start).
    pub async fn start_kubecs(
        bin: &Path,
        data_dir: &Path,
        logs: &Path,
    ) -> anyhow::Result<(Server, Duration)> {
        Server::start_kubecs_on(bin, data_dir, logs, None).await
    }

    /// [`Server::start_kubecs`], with the reconciler on the cluster of `kubeconfig` when
    /// given (`--kubernetes auto --kubeconfig <path>`), else off.
    pub async fn start_kubecs_on(
        bin: &Path,
        data_dir: &Path,
        logs: &Path,
        kubeconfig: Option<&Path>,
    ) -> anyhow::Result<(Server, Duration)> {
        let endpoint = Endpoint::new(free_loopback_port()?);
        let log = logs.join(format!("kubecs-{}.log", endpoint.addr.port()));
        let started = Instant::now();
        let mut command = Command::new(bin);
        command
            .arg("--listen")
            .arg(endpoint.addr.to_string())
            .arg("--data-dir")
            .arg(data_dir)
            // The defaults, spelled out: the targets are for SigV4 and durable storage on.
            .env("KUBECS_AUTH", "on")
            .env_remove("KUBECS_CREDENTIALS_FILE");
        match kubeconfig {
            Some(path) => {
                command
                    .env("KUBECS_KUBERNETES", "auto")
                    .env_remove("KUBECONFIG")
                    .arg("--kubeconfig")
                    .arg(path);
            }
            // The API against moto's: no reconciler (moto runs nothing either).
            None => {
                command.env("KUBECS_KUBERNETES", "off");
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(File::create(&log)?)
            .stderr(File::create(&log)?.try_clone()?)
            .spawn()
            .with_context(|| format!("cannot start {} (build it first)", bin.display()))?;
        let mut server = Server {
            kind: Kind::Kubecs,
            endpoint,
            child,
            log,
        };
        server.await_up("/healthz", KUBECS_START_LIMIT).await?;
        Ok((server, started.elapsed()))
    }

    /// Starts `python -m moto.server` on a loopback port and waits until it answers.
    pub async fn start_moto(python: &str, logs: &Path) -> anyhow::Result<Server> {
        let endpoint = Endpoint::new(free_loopback_port()?);
        let log = logs.join(format!("moto-{}.log", endpoint.addr.port()));
        let child = Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(endpoint.addr.port().to_string())
            .stdin(Stdio::null())
            .stdout(File::create(&log)?)
            .stderr(File::create(&log)?.try_clone()?)
            .spawn()
            .with_context(|| {
                format!("cannot start moto with {python} (pip install -r bench/requirements.txt)")
            })?;
        let mut server = Server {
            kind: Kind::Moto,
            endpoint,
            child,
            log,
        };
        server
            .await_up("/moto-api/data.json", MOTO_START_LIMIT)
            .await?;
        Ok(server)
    }

    async fn await_up(&mut self, path: &str, limit: Duration) -> anyhow::Result<()> {
        let up = wait_until_up(&self.endpoint, path, limit);
        tokio::pin!(up);
        // Poll the child too, so a server that exits at once fails fast with its log.
        loop {
            tokio::select! {
                result = &mut up => return result.map(|_| ()).map_err(|e| self.explain(e)),
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    if let Some(status) = self.child.try_wait()? {
                        return Err(self.explain(anyhow!("{} exited during start-up: {status}", self.kind.name())));
                    }
                }
            }
        }
    }

    fn explain(&self, err: anyhow::Error) -> anyhow::Error {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        err.context(format!("log {}:\n{}", self.log.display(), tail.join("\n")))
    }

    /// moto keeps everything in memory; its reset endpoint gives a fresh store between
    /// phases without paying its start-up again.
    pub async fn reset_moto(&self) -> anyhow::Result<()> {
        let mut conn = Conn::open(&self.endpoint).await?;
        let answer = conn.plain(Method::POST, "/moto-api/reset").await?;
        if answer.status != StatusCode::OK {
            bail!("moto reset answered HTTP {}", answer.status);
        }
        Ok(())
    }

    /// SIGTERM (kubecs drains and flushes its store), then SIGKILL after [`STOP_LIMIT`].
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        // std offers only SIGKILL; the `kill` utility sends the graceful signal.
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + STOP_LIMIT;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()?;
        self.child.wait()?;
        bail!(
            "{} did not stop within {STOP_LIMIT:?} of SIGTERM; killed",
            self.kind.name()
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// A port that was free a moment ago on 127.0.0.1 (the OS picks it). The window between
/// closing this listener and the server binding is tiny on a quiet loopback.
fn free_loopback_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?)
}
