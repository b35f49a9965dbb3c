//! The control loop: makes Kubernetes run what the store says, and writes back what runs.
//!
//! Level-triggered and keyed. One de-duplicated work queue ([`queue`]) of [`WorkKey`]s
//! (an ECS cluster or service of a region) is fed by the store's change feed, by watches
//! on the objects kubecs owns ([`caches`]), by a full pass once the watches have listed
//! everything, and by a periodic resync. Workers take keys one at a time (never two
//! reconciles of one key at once), read the store and the local copies, apply with
//! server-side apply ([`apply`]) and write the observed status with the store's
//! compare-and-set on the generation they acted on; a failure is retried with capped
//! exponential backoff, its reason logged and counted ([`metrics`]).
//!
//! The API never waits for this loop. Without a cluster, or while its API server is
//! away, kubecs serves and stores as usual; the loop converges once it is back.

pub mod apply;
pub mod caches;
mod cluster;
pub mod connect;
mod daemon;
mod ecs_daemon;
pub mod expiry;
mod express;
mod instance;
pub mod key;
pub mod metrics;
pub mod nodes;
pub mod queue;
mod service;
mod task;
mod task_sets;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;
use kubecs_api_models::status::INACTIVE;
use kubecs_storage::{Store, StoreError, TableId};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use caches::Caches;
pub use key::WorkKey;
pub use metrics::Metrics;
pub use nodes::NodeView;
use queue::WorkQueue;

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--kubeconfig`: the cluster to use (see [`connect`] for the fallbacks).
    pub kubeconfig: Option<PathBuf>,
    /// Reconciles running at once.
    pub workers: usize,
    /// How often every key is reconciled again, whatever changed.
    pub resync: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            kubeconfig: None,
            workers: 8,
            resync: Duration::from_secs(300),
        }
    }
}

/// How often kubecs looks for a cluster while it has none.
const LOOK_AGAIN: Duration = Duration::from_secs(5);

/// What a reconcile asks for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing until something changes.
    Done,
    /// Reconcile again after this long (zero: as soon as this reconcile ends).
    After(Duration),
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("kubernetes: {}", kube_message(.0))]
    Kube(#[from] kube::Error),
    #[error("cannot encode an object: {0}")]
    Encode(#[from] serde_json::Error),
}

/// An API server's refusal as its message and reason (kube's own text repeats the whole
/// status structure); other client errors as they are.
fn kube_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            format!("{} ({} {})", status.message, status.code, status.reason)
        }
        other => other.to_string(),
    }
}

impl ReconcileError {
    /// The reason label of the error metric.
    pub fn reason(&self) -> &'static str {
        match self {
            ReconcileError::Store(_) => "store",
            ReconcileError::Kube(_) => "kubernetes",
            ReconcileError::Encode(_) => "encode",
        }
    }
}

/// What every reconcile reads and writes.
pub struct Context {
    pub store: Store,
    pub client: Client,
    pub caches: Caches,
    pub queue: Arc<WorkQueue<WorkKey>>,
    pub metrics: Arc<Metrics>,
}

/// Runs the loop until `stop` turns true (or its sender is dropped); `nodes` shows the
/// cluster's nodes once it has one.
pub async fn run(
    store: Store,
    options: Options,
    metrics: Arc<Metrics>,
    nodes: NodeView,
    mut stop: watch::Receiver<bool>,
) {
    let Some((client, source)) = find_cluster(&options, &mut stop).await else {
        return;
    };
    tracing::info!(cluster = %source, "reconciling ECS services on this Kubernetes cluster");
    let queue = WorkQueue::new();
    let mut tasks = JoinSet::new();
    // Subscribed before the first full pass, so that no change falls between them.
    let feed = store.subscribe();
    let caches = Caches::start(&client, &queue, &mut tasks);
    nodes.connect(&caches);
    let ctx = Arc::new(Context {
        store: store.clone(),
        client,
        caches,
        queue: Arc::clone(&queue),
        metrics: Arc::clone(&metrics),
    });
    tasks.spawn(follow_feed(Arc::clone(&ctx), feed));
    tasks.spawn(resync(Arc::clone(&ctx), options.resync));
    tasks.spawn(expiry::run(store.clone()));
    for _ in 0..options.workers.max(1) {
        tasks.spawn(work(Arc::clone(&ctx)));
    }
    tasks.spawn({
        let ctx = Arc::clone(&ctx);
        async move {
            loop {
                let depth = i64::try_from(ctx.queue.depth()).unwrap_or(i64::MAX);
                ctx.metrics.queue_depth.set(depth);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    });
    let _ = stop.wait_for(|stop| *stop).await;
    queue.close();
    metrics.connected.set(0);
    tasks.shutdown().await;
}

/// The cluster to use, looking again every [`LOOK_AGAIN`] while there is none; `None`
/// when stopped first.
async fn find_cluster(
    options: &Options,
    stop: &mut watch::Receiver<bool>,
) -> Option<(Client, connect::Source)> {
    let mut said = false;
    loop {
        match connect::find(options.kubeconfig.as_deref()).await {
            Ok(Some(found)) => return Some(found),
            Ok(None) if !said => {
                said = true;
                tracing::info!(
                    "no Kubernetes cluster configured (--kubeconfig, KUBECONFIG, in-cluster, or deploy/local-k8s/up): serving the ECS API only; services start once a cluster is found"
                );
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "cannot use the configured Kubernetes cluster; trying again")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(LOOK_AGAIN) => {}
            _ = stop.wait_for(|stop| *stop) => return None,
        }
    }
}

/// Queues the key of every change the store announces; after falling behind the feed,
/// queues everything.
async fn follow_feed(ctx: Arc<Context>, mut feed: kubecs_storage::ChangeReceiver) {
    loop {
        match feed.recv().await {
            Ok(change) => {
                let region = change.region().to_owned();
                match change.table {
                    TableId::Services => {
                        if let Ok((cluster, service)) = change.key::<(String, String)>() {
                            ctx.queue.add(WorkKey::Service {
                                region,
                                cluster,
                                service,
                            });
                        }
                    }
                    TableId::Daemons => {
                        if let Ok((cluster, daemon)) = change.key::<(String, String)>() {
                            ctx.queue.add(WorkKey::Daemon {
                                region,
                                cluster,
                                daemon,
                            });
                        }
                    }
                    TableId::Clusters => {
                        if let Ok(cluster) = change.key::<String>() {
                            ctx.queue.add(WorkKey::Cluster { region, cluster });
                        }
                    }
                    TableId::ContainerInstances => {
                        if let Ok((cluster, instance)) = change.key::<(String, String)>() {
                            ctx.queue.add(WorkKey::Instance {
                                region,
                                cluster,
                                instance,
                            });
                        }
                    }
                    TableId::Tasks => {
                        if let Ok((cluster, task)) = change.key::<(String, String)>() {
                            if task_needs_work(&ctx, &region, &cluster, &task) {
                                ctx.queue.add(WorkKey::Task {
                                    region,
                                    cluster,
                                    task,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::info!(
                    missed,
                    "fell behind the store's changes: reconciling everything"
                );
                queue_everything(&ctx);
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// A full pass once the watches have listed everything, then one every `every`.
async fn resync(ctx: Arc<Context>, every: Duration) {
    ctx.caches.ready().await;
    ctx.metrics.connected.set(1);
    loop {
        queue_everything(&ctx);
        tokio::time::sleep(every).await;
    }
}

/// Whether a changed task record asks for a reconcile (see [`task::wants_reconcile`]).
fn task_needs_work(ctx: &Context, region: &str, cluster: &str, task: &str) -> bool {
    match ctx.store.region(region).tasks().get((cluster, task)) {
        Ok(Some(record)) => task::wants_reconcile(&record.value),
        // Gone (expired): its pod, if any, is removed by the task's reconcile.
        Ok(None) => true,
        Err(error) => {
            tracing::warn!(%error, "cannot read a changed task record");
            true
        }
    }
}

/// Queues every ECS cluster and service that is not INACTIVE, and every key the local
/// copies hold objects of (so that objects of gone services are removed).
fn queue_everything(ctx: &Context) {
    let regions = match ctx.store.regions() {
        Ok(regions) => regions,
        Err(error) => {
            tracing::warn!(%error, "cannot list the store's regions for a full pass");
            Vec::new()
        }
    };
    for region in regions {
        let tables = ctx.store.region(&region);
        for entry in tables.clusters().scan_all() {
            match entry {
                Ok((cluster, record)) if record.value.status.as_deref() != Some(INACTIVE) => {
                    ctx.queue.add(WorkKey::Cluster {
                        region: region.clone(),
                        cluster,
                    });
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot read a cluster in a full pass"),
            }
        }
        for entry in tables.services().scan_all() {
            match entry {
                Ok(((cluster, service), record))
                    if record.value.service.status.as_deref() != Some(INACTIVE) =>
                {
                    ctx.queue.add(WorkKey::Service {
                        region: region.clone(),
                        cluster,
                        service,
                    });
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot read a service in a full pass"),
            }
        }
        for entry in tables.daemons().scan_all() {
            match entry {
                Ok(((cluster, daemon), _)) => ctx.queue.add(WorkKey::Daemon {
                    region: region.clone(),
                    cluster,
                    daemon,
                }),
                Err(error) => tracing::warn!(%error, "cannot read a daemon in a full pass"),
            }
        }
        for entry in tables.tasks().scan_all() {
            match entry {
                Ok(((cluster, task), record))
                    if record.value.last_status.as_deref() != Some("STOPPED")
                        && task::wants_reconcile(&record.value) =>
                {
                    ctx.queue.add(WorkKey::Task {
                        region: region.clone(),
                        cluster,
                        task,
                    });
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "cannot read a task in a full pass"),
            }
        }
        for entry in tables.container_instances().scan_all() {
            match entry {
                Ok(((cluster, instance), record))
                    if record.observed_generation < record.generation =>
                {
                    ctx.queue.add(WorkKey::Instance {
                        region: region.clone(),
                        cluster,
                        instance,
                    });
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "cannot read a container instance in a full pass")
                }
            }
        }
    }
    for key in ctx.caches.keys() {
        ctx.queue.add(key);
    }
}

/// One worker: reconciles keys until the queue closes. Waits for the local copies first:
/// deciding on an empty copy would re-apply everything and could end a drain early.
async fn work(ctx: Arc<Context>) {
    ctx.caches.ready().await;
    while let Some(key) = ctx.queue.next().await {
        let started = Instant::now();
        let result = match &key {
            WorkKey::Cluster { region, cluster } => cluster::reconcile(&ctx, region, cluster).await,
            WorkKey::Service {
                region,
                cluster,
                service,
            } => service::reconcile(&ctx, region, cluster, service).await,
            WorkKey::Task {
                region,
                cluster,
                task,
            } => task::reconcile(&ctx, region, cluster, task).await,
            WorkKey::Instance {
                region,
                cluster,
                instance,
            } => instance::reconcile(&ctx, region, cluster, instance).await,
            WorkKey::Daemon {
                region,
                cluster,
                daemon,
            } => ecs_daemon::reconcile(&ctx, region, cluster, daemon).await,
        };
        let elapsed = started.elapsed();
        match result {
            Ok(next) => {
                ctx.queue.succeeded(&key);
                ctx.metrics.reconciled(key.kind(), elapsed, None);
                match next {
                    Next::Done => {}
                    // Queued again when this reconcile is marked done below.
                    Next::After(delay) if delay.is_zero() => ctx.queue.add(key.clone()),
                    Next::After(delay) => ctx.queue.add_after(key.clone(), delay),
                }
            }
            Err(error) => {
                let delay = ctx.queue.failed(&key);
                ctx.metrics
                    .reconciled(key.kind(), elapsed, Some(error.reason()));
                tracing::warn!(%key, %error, retry_in_ms = delay.as_millis() as u64, "reconcile failed");
                ctx.queue.add_after(key.clone(), delay);
            }
        }
        ctx.queue.done(&key);
    }
}
