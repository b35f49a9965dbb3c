//! What Kubernetes shows of kubecs's work, as a watch sees it: the first time each
//! service's Deployment appears, and the first time each of its pods is Ready. Runs on a
//! thread of its own (its own runtime and Kubernetes client), so that the instants it
//! records are not held up by the requests the benchmark sends meanwhile.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The label every object kubecs makes carries, and the one naming its ECS service.
pub const MANAGED_SELECTOR: &str = "app.kubernetes.io/managed-by=kubecs";
pub const SERVICE_LABEL: &str = "ecs.kubecs.io/service";

/// What the watches saw, by ECS service (its `ecs.kubecs.io/service` label: the service
/// name, for the names this benchmark uses).
#[derive(Debug, Default)]
pub struct Seen {
    /// First time the service's Deployment was seen, and its namespace.
    pub deployments: HashMap<String, (String, Instant)>,
    /// First time each pod of the service was seen Ready, by pod name.
    pub pods_ready: HashMap<String, HashMap<String, Instant>>,
    /// Watches that have listed everything once (2 when both are live).
    pub listed: usize,
    pub watch_errors: u64,
    pub first_watch_error: Option<String>,
}

impl Seen {
    /// When the first pod of `service` was seen Ready.
    pub fn first_ready(&self, service: &str) -> Option<Instant> {
        self.pods_ready.get(service)?.values().min().copied()
    }
}

/// The watch thread; stopped on drop.
pub struct Observer {
    seen: Arc<Mutex<Seen>>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Observer {
    /// Starts watching Deployments and Pods made by kubecs (every namespace) and waits
    /// until both watches have listed what exists.
    pub fn start(kubeconfig: &Path) -> anyhow::Result<Observer> {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let (started_tx, started_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread = {
            let seen = Arc::clone(&seen);
            let kubeconfig = kubeconfig.to_path_buf();
            std::thread::Builder::new()
                .name("observer".into())
                .spawn(move || observe(kubeconfig, seen, stopped, started_tx))?
        };
        let observer = Observer {
            seen,
            stop: Some(stop),
            thread: Some(thread),
        };
        match started_rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => anyhow::bail!("the watch thread could not start: {e}"),
            Err(_) => anyhow::bail!("the watch thread did not start within 30 s"),
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while observer.with(|s| s.listed) < 2 {
            if Instant::now() > deadline {
                anyhow::bail!(
                    "the watches did not list Deployments and Pods within 60 s: {:?}",
                    observer.with(|s| s.first_watch_error.clone())
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(observer)
    }

    /// Reads what was seen.
    pub fn with<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Polls `f` every millisecond until it gives a value, for at most `limit`.
    pub async fn wait_for<T>(&self, limit: Duration, f: impl Fn(&Seen) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = self.with(&f) {
                return Some(v);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn observe(
    kubeconfig: PathBuf,
    seen: Arc<Mutex<Seen>>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    started: std::sync::mpsc::Sender<Result<(), String>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = started.send(Err(e.to_string()));
            return;
        }
    };
    runtime.block_on(async move {
        let client = match super::cluster::client(&kubeconfig).await {
            Ok(c) => c,
            Err(e) => {
                let _ = started.send(Err(format!("{e:#}")));
                return;
            }
        };
        let _ = started.send(Ok(()));
        tokio::select! {
            () = watch_deployments(client.clone(), Arc::clone(&seen)) => {}
            () = watch_pods(client, Arc::clone(&seen)) => {}
            _ = stopped.wait_for(|s| *s) => {}
        }
    });
}

fn config() -> watcher::Config {
    watcher::Config::default().labels(MANAGED_SELECTOR)
}

async fn watch_deployments(client: Client, seen: Arc<Mutex<Seen>>) {
    let stream = watcher(Api::<Deployment>::all(client), config()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        let now = Instant::now();
        let mut s = seen.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Ok(watcher::Event::Apply(d) | watcher::Event::InitApply(d)) => {
                if let (Some(service), Some(ns)) = (d.labels().get(SERVICE_LABEL), d.namespace()) {
                    s.deployments.entry(service.clone()).or_insert((ns, now));
                }
            }
            Ok(watcher::Event::InitDone) => s.listed += 1,
            Ok(_) => {}
            Err(e) => record_error(&mut s, format!("Deployment watch: {e}")),
        }
    }
}

async fn watch_pods(client: Client, seen: Arc<Mutex<Seen>>) {
    let stream = watcher(Api::<Pod>::all(client), config()).default_backoff();
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        let now = Instant::now();
        let mut s = seen.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => {
                if let Some(service) = p.labels().get(SERVICE_LABEL) {
                    if is_ready(&p) {
                        s.pods_ready
                            .entry(service.clone())
                            .or_default()
                            .entry(p.name_any())
                            .or_insert(now);
                    }
                }
            }
            Ok(watcher::Event::InitDone) => s.listed += 1,
            Ok(_) => {}
            Err(e) => record_error(&mut s, format!("Pod watch: {e}")),
        }
    }
}

fn record_error(s: &mut Seen, message: String) {
    s.watch_errors += 1;
    if s.first_watch_error.is_none() {
        s.first_watch_error = Some(message);
    }
}

/// A pod whose Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}
