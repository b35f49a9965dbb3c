//! What the loop knows of Kubernetes: one reflector (a watch-fed local copy) per kind of
//! object kubecs owns, selected by its `managed-by` label, plus Warning events, the nodes,
//! and a stripped copy of every pod (what each node's capacity is used by). Every change
//! to a watched object queues the ECS key it belongs to, so the loop is level-triggered:
//! it reads the copies, never the watch events themselves.

use std::fmt::Debug;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, PodSpec, PodStatus, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::networking::v1::IngressClass;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::task::JoinSet;

use super::key::{cluster_of_namespace, service_name_of, WorkKey};
use super::queue::WorkQueue;
use crate::convert::names::{MANAGED_BY, MANAGED_BY_LABEL, SERVICE_LABEL};
use crate::convert::task::TASK_LABEL;

/// The local copies, shared by every worker (cheap to clone).
#[derive(Clone)]
pub struct Caches {
    pub namespaces: Store<Namespace>,
    pub deployments: Store<Deployment>,
    /// DAEMON services' DaemonSets.
    pub daemon_sets: Store<DaemonSet>,
    pub replica_sets: Store<ReplicaSet>,
    pub pods: Store<Pod>,
    pub services: Store<Service>,
    pub events: Store<Event>,
    pub nodes: Store<Node>,
    /// The cluster's ingress classes: an Express gateway service gets its Ingress only
    /// where there is one.
    pub ingress_classes: Store<IngressClass>,
    /// Every pod of the cluster, stripped to what a node's capacity needs
    /// ([`strip_for_capacity`]).
    pub all_pods: Store<Pod>,
    /// True once every copy holds its first full list.
    listed: tokio::sync::watch::Receiver<bool>,
}

/// The label selector of everything kubecs made.
pub fn managed_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY}")
}

impl Caches {
    /// Starts one watch per kind on `tasks`; each change queues its key on `queue`.
    pub fn start(
        client: &Client,
        queue: &Arc<WorkQueue<WorkKey>>,
        tasks: &mut JoinSet<()>,
    ) -> Caches {
        let (namespaces, ns_writer) = reflector::store();
        let (deployments, deploy_writer) = reflector::store();
        let (daemon_sets, daemon_writer) = reflector::store();
        let (replica_sets, rs_writer) = reflector::store();
        let (pods, pod_writer) = reflector::store();
        let (services, svc_writer) = reflector::store();
        let (events, event_writer) = reflector::store();
        let (nodes, node_writer) = reflector::store();
        let (ingress_classes, class_writer) = reflector::store();
        let (all_pods, all_pods_writer) = reflector::store();
        let (listed_tx, listed) = tokio::sync::watch::channel(false);
        let caches = Caches {
            namespaces,
            deployments,
            daemon_sets,
            replica_sets,
            pods,
            services,
            events,
            nodes,
            ingress_classes,
            all_pods,
            listed,
        };
        // One waiter per store: a store's readiness wakes only the last task that polled
        // it, so every other task waits on `listed` instead.
        tasks.spawn({
            let caches = caches.clone();
            async move {
                // A store whose writer is gone (its watch ended) is never ready; the
                // loop only ends those watches at shutdown.
                let _ = caches.namespaces.wait_until_ready().await;
                let _ = caches.deployments.wait_until_ready().await;
                let _ = caches.daemon_sets.wait_until_ready().await;
                let _ = caches.replica_sets.wait_until_ready().await;
                let _ = caches.pods.wait_until_ready().await;
                let _ = caches.services.wait_until_ready().await;
                let _ = caches.events.wait_until_ready().await;
                let _ = caches.nodes.wait_until_ready().await;
                let _ = caches.ingress_classes.wait_until_ready().await;
                let _ = caches.all_pods.wait_until_ready().await;
                let _ = listed_tx.send(true);
            }
        });
        let owned = watcher::Config::default().labels(&managed_selector());
        // Only warnings say that a task failed to start (FailedScheduling, Failed);
        // events carry no labels, so this is every warning of the cluster.
        let warnings = watcher::Config::default().fields("type=Warning");
        tasks.spawn(watch(
            Api::<Namespace>::all(client.clone()),
            owned.clone(),
            ns_writer,
            on_change(&caches, queue, |caches: &Caches, ns: &Namespace| {
                caches.key_of_namespace(ns)
            }),
        ));
        tasks.spawn(watch(
            Api::<Deployment>::all(client.clone()),
            owned.clone(),
            deploy_writer,
            on_change(&caches, queue, |caches: &Caches, d: &Deployment| {
                caches.key_of(d)
            }),
        ));
        tasks.spawn(watch(
            Api::<DaemonSet>::all(client.clone()),
            owned.clone(),
            daemon_writer,
            on_change(&caches, queue, |caches: &Caches, d: &DaemonSet| {
                caches.key_of(d)
            }),
        ));
        tasks.spawn(watch(
            Api::<ReplicaSet>::all(client.clone()),
            owned.clone(),
            rs_writer,
            on_change(&caches, queue, |caches: &Caches, rs: &ReplicaSet| {
                caches.key_of(rs)
            }),
        ));
        tasks.spawn(watch(
            Api::<Pod>::all(client.clone()),
            owned.clone(),
            pod_writer,
            on_change(&caches, queue, |caches: &Caches, pod: &Pod| {
                caches.key_of(pod)
            }),
        ));
        tasks.spawn(watch(
            Api::<Service>::all(client.clone()),
            owned,
            svc_writer,
            on_change(&caches, queue, |caches: &Caches, s: &Service| {
                caches.key_of(s)
            }),
        ));
        tasks.spawn(watch(
            Api::<Event>::all(client.clone()),
            warnings,
            event_writer,
            on_change(&caches, queue, |caches: &Caches, e: &Event| {
                caches.key_of_event(e)
            }),
        ));
        tasks.spawn(watch(
            Api::<Node>::all(client.clone()),
            watcher::Config::default(),
            node_writer,
            {
                let caches = caches.clone();
                let queue = Arc::clone(queue);
                // What of a node its tasks depend on: cordoned, draining (kubecs's
                // annotation), zone. Only a change of it (or the node going) queues
                // them; status heartbeats do not.
                let seen = std::sync::Mutex::new(std::collections::HashMap::new());
                move |node: &Node| {
                    let name = node.name_any();
                    let facts = crate::observe::nodes::facts(node, []);
                    let now = (
                        node.metadata.deletion_timestamp.is_some(),
                        facts.cordoned,
                        facts.draining,
                        facts.zone,
                    );
                    let changed = match seen.lock() {
                        Ok(mut seen) => seen.insert(name.clone(), now.clone()) != Some(now),
                        Err(_) => true,
                    };
                    if changed {
                        for key in caches.keys_on_node(&name) {
                            queue.add_urgent(key);
                        }
                    }
                }
            },
        ));
        tasks.spawn(watch(
            Api::<IngressClass>::all(client.clone()),
            watcher::Config::default(),
            class_writer,
            {
                let caches = caches.clone();
                let queue = Arc::clone(queue);
                // A class added or removed routes or unroutes every Express service:
                // each service is queued (a rare event; the others' passes are no-ops).
                move |_: &IngressClass| {
                    for deployment in caches.deployments.state() {
                        if let Some(key) = caches.key_of(&*deployment) {
                            queue.add(key);
                        }
                    }
                }
            },
        ));
        tasks.spawn(watch_stripped(
            Api::<Pod>::all(client.clone()),
            all_pods_writer,
        ));
        caches
    }

    /// The keys of kubecs's pods on the node named `node`.
    pub fn keys_on_node(&self, node: &str) -> Vec<WorkKey> {
        self.pods
            .state_filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
            .iter()
            .filter_map(|p| self.key_of(&**p))
            .collect()
    }

    /// The zone of every node that has a zone label, by node name.
    pub fn zones(&self) -> crate::observe::records::Zones {
        self.nodes
            .state()
            .iter()
            .filter_map(|n| Some((n.name_any(), crate::observe::nodes::facts(n, []).zone?)))
            .collect()
    }

    /// The names of the nodes kubecs cordoned for a DRAINING request.
    pub fn draining_nodes(&self) -> std::collections::BTreeSet<String> {
        self.nodes
            .state()
            .iter()
            .filter(|n| crate::observe::nodes::facts(n, []).draining)
            .map(|n| n.name_any())
            .collect()
    }

    /// Whether every copy holds its first full list.
    pub fn is_ready(&self) -> bool {
        *self.listed.borrow()
    }

    /// Waits until every copy holds its first full list.
    pub async fn ready(&self) {
        let _ = self.listed.clone().wait_for(|listed| *listed).await;
    }

    /// Every key the copies hold objects of: a full pass reconciles them all, which
    /// removes objects whose ECS service or cluster is gone.
    pub fn keys(&self) -> Vec<WorkKey> {
        let mut keys: Vec<WorkKey> = self
            .namespaces
            .state()
            .iter()
            .filter_map(|ns| self.key_of_namespace(ns))
            .collect();
        keys.extend(
            self.deployments
                .state()
                .iter()
                .filter_map(|d| self.key_of(&**d)),
        );
        keys.extend(
            self.daemon_sets
                .state()
                .iter()
                .filter_map(|d| self.key_of(&**d)),
        );
        keys.extend(
            self.services
                .state()
                .iter()
                .filter_map(|s| self.key_of(&**s)),
        );
        keys.extend(
            self.pods
                .state()
                .iter()
                .filter(|p| p.labels().contains_key(TASK_LABEL))
                .filter_map(|p| self.key_of(&**p)),
        );
        keys
    }

    fn key_of_namespace(&self, namespace: &Namespace) -> Option<WorkKey> {
        let (region, cluster) = cluster_of_namespace(namespace)?;
        Some(WorkKey::Cluster { region, cluster })
    }

    /// The standalone task a pod runs (its task label), else the ECS service an object
    /// of a service's workload belongs to: the region and
    /// cluster of its namespace, the service's exact name from its annotation, else
    /// from its service label (exact unless hashed, see `names::label_value`: ECS names
    /// have no dots, hashed values do), else from its Deployment's annotation.
    pub fn key_of<K: ResourceExt>(&self, object: &K) -> Option<WorkKey> {
        let namespace = object.namespace()?;
        let (region, cluster) = self
            .namespaces
            .get(&ObjectRef::new(&namespace))
            .and_then(|ns| cluster_of_namespace(&ns))?;
        if let Some(daemon) = object
            .annotations()
            .get(crate::convert::ecs_daemon::DAEMON_NAME_ANNOTATION)
        {
            return Some(WorkKey::Daemon {
                region,
                cluster,
                daemon: daemon.clone(),
            });
        }
        if let Some(task) = object.labels().get(TASK_LABEL) {
            return Some(WorkKey::Task {
                region,
                cluster,
                task: task.clone(),
            });
        }
        let service = match service_name_of(object) {
            Some(name) => name,
            None => {
                let label = object.labels().get(SERVICE_LABEL)?;
                if label.contains('.') {
                    self.deployments
                        .find(|d| {
                            d.namespace().as_deref() == Some(namespace.as_str())
                                && d.labels().get(SERVICE_LABEL) == Some(label)
                        })
                        .and_then(|d| service_name_of(&*d))?
                } else {
                    label.clone()
                }
            }
        };
        Some(WorkKey::Service {
            region,
            cluster,
            service,
        })
    }

    /// The service an event is about, through the pod, ReplicaSet or Deployment it
    /// names.
    fn key_of_event(&self, event: &Event) -> Option<WorkKey> {
        let regarding = event.regarding.as_ref()?;
        let name = regarding.name.as_deref()?;
        let namespace = regarding.namespace.as_deref()?;
        match regarding.kind.as_deref()? {
            "Pod" => self
                .pods
                .get(&ObjectRef::new(name).within(namespace))
                .and_then(|p| self.key_of(&*p)),
            "ReplicaSet" => self
                .replica_sets
                .get(&ObjectRef::new(name).within(namespace))
                .and_then(|r| self.key_of(&*r)),
            "Deployment" => self
                .deployments
                .get(&ObjectRef::new(name).within(namespace))
                .and_then(|d| self.key_of(&*d)),
            _ => None,
        }
    }

    /// The objects of one service's workload in `namespace`, by its service label.
    pub fn of_service<K>(&self, store: &Store<K>, namespace: &str, label: &str) -> Vec<K>
    where
        K: Resource<DynamicType = ()> + Clone + 'static,
    {
        store
            .state_filter(|o| {
                o.meta().namespace.as_deref() == Some(namespace)
                    && o.meta()
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(SERVICE_LABEL))
                        .is_some_and(|v| v == label)
            })
            .into_iter()
            .map(|o| (*o).clone())
            .collect()
    }

    /// The events of `namespace`.
    pub fn events_in(&self, namespace: &str) -> Vec<Event> {
        self.events
            .state_filter(|e| e.metadata.namespace.as_deref() == Some(namespace))
            .into_iter()
            .map(|e| (*e).clone())
            .collect()
    }
}

/// The callback of a watch: queue the key the changed object belongs to.
fn on_change<K>(
    caches: &Caches,
    queue: &Arc<WorkQueue<WorkKey>>,
    key: impl Fn(&Caches, &K) -> Option<WorkKey> + Send + 'static,
) -> impl Fn(&K) + Send + 'static {
    let caches = caches.clone();
    let queue = Arc::clone(queue);
    move |object| {
        if let Some(k) = key(&caches, object) {
            // What Kubernetes shows changed: reported before pending applies.
            queue.add_urgent(k);
        }
    }
}

/// A pod reduced to what a node's used capacity and kubecs's task counts need: its
/// identity, labels, node, container requests and host ports, phase and conditions.
fn strip_for_capacity(pod: &mut Pod) {
    let meta = &mut pod.metadata;
    meta.annotations = None;
    meta.owner_references = None;
    meta.managed_fields = None;
    meta.finalizers = None;
    if let Some(spec) = pod.spec.take() {
        let strip =
            |c: &k8s_openapi::api::core::v1::Container| k8s_openapi::api::core::v1::Container {
                name: c.name.clone(),
                resources: c.resources.clone(),
                ports: c.ports.clone(),
                ..Default::default()
            };
        pod.spec = Some(PodSpec {
            node_name: spec.node_name,
            containers: spec.containers.iter().map(strip).collect(),
            init_containers: spec.init_containers.map(|i| i.iter().map(strip).collect()),
            overhead: spec.overhead,
            ..PodSpec::default()
        });
    }
    if let Some(status) = pod.status.take() {
        pod.status = Some(PodStatus {
            phase: status.phase,
            conditions: status.conditions,
            ..PodStatus::default()
        });
    }
}

/// Keeps the stripped copy of every pod up to date; nothing is queued from it (kubecs's
/// own pods are watched whole above).
async fn watch_stripped(api: Api<Pod>, writer: reflector::store::Writer<Pod>) {
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(strip_for_capacity)
        .reflect(writer)
        .touched_objects();
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        if let Err(err) = item {
            tracing::warn!(error = %err, "watch of every pod failed; retrying");
        }
    }
}

/// Keeps one reflector up to date, calling `changed` with every object added, modified
/// or deleted. Watch errors are retried with kube's default backoff (the API server may
/// be away for a while); they are logged, never fatal.
async fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
    writer: reflector::store::Writer<K>,
    changed: impl Fn(&K) + Send + 'static,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let kind = K::kind(&()).into_owned();
    let stream = watcher(api, config)
        .default_backoff()
        // The field managers' records are the bulk of an object and never read here.
        .modify(|object: &mut K| object.managed_fields_mut().clear())
        .reflect(writer)
        .touched_objects();
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        match item {
            Ok(object) => changed(&object),
            Err(err) => tracing::warn!(kind, error = %err, "watch failed; retrying"),
        }
    }
}
