//! Conformance tests drive a running `kubecs` with real AWS clients (aws-sdk-ecs here;
//! boto3, the aws CLI and the JS SDK in `python/` and `js/`). The library part starts a
//! kubecs server on a free loopback port with a fresh data directory: the real router,
//! store and SigV4 layer, reached over real HTTP.

use kubecs_server::app::{serve, AppState};
use kubecs_server::config::Config;
use kubecs_server::startup::build_state;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A kubecs server running in this process on a loopback port.
pub struct Kubecs {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    dir: Option<tempfile::TempDir>,
    data_dir: PathBuf,
}

impl Kubecs {
    /// Starts kubecs on a fresh data directory.
    pub async fn start() -> anyhow::Result<Kubecs> {
        let dir = tempfile::tempdir()?;
        let data_dir = dir.path().to_path_buf();
        let mut kubecs = Kubecs::start_on(&data_dir, |_| {}).await?;
        kubecs.dir = Some(dir);
        Ok(kubecs)
    }

    /// Starts kubecs on `data_dir`, letting `configure` adjust the configuration.
    pub async fn start_on(
        data_dir: &Path,
        configure: impl FnOnce(&mut Config),
    ) -> anyhow::Result<Kubecs> {
        let mut config = Config::for_data_dir(data_dir.to_path_buf());
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        configure(&mut config);
        let state: Arc<AppState> = Arc::new(build_state(&config)?);
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve(listener, state, shutdown, Duration::from_secs(5)));
        Ok(Kubecs {
            addr,
            stop: Some(stop),
            task: Some(task),
            dir: None,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server (draining and flushing the store) and starts a new one on the
    /// same data directory, as a restart of the process would.
    pub async fn restart(mut self) -> anyhow::Result<Kubecs> {
        let dir = self.dir.take();
        let data_dir = self.data_dir.clone();
        self.stop().await?;
        let mut again = Kubecs::start_on(&data_dir, |_| {}).await?;
        again.dir = dir;
        Ok(again)
    }

    /// Stops the server and waits until the store is closed.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}
