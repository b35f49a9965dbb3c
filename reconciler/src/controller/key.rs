//! What the loop reconciles: an ECS cluster (its namespace), an ECS service (its
//! workload and status), an ECS task (a standalone task's pod), a container instance
//! (a state change asked for its node) or a daemon, each within a region; and which key a
//! Kubernetes object that kubecs owns belongs to.

use std::fmt;

use k8s_openapi::api::core::v1::Namespace;
use kube::ResourceExt;

use crate::convert::names::{CLUSTER_NAME_ANNOTATION, REGION_ANNOTATION, SERVICE_NAME_ANNOTATION};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkKey {
    /// An ECS cluster: its namespace exists while the cluster is ACTIVE.
    Cluster { region: String, cluster: String },
    /// An ECS service: its Deployment and Services, and its observed status.
    Service {
        region: String,
        cluster: String,
        service: String,
    },
    /// An ECS task: a standalone task's pod and record; a service task's StopTask.
    Task {
        region: String,
        cluster: String,
        task: String,
    },
    /// A container instance: UpdateContainerInstancesState applied to its node.
    Instance {
        region: String,
        cluster: String,
        instance: String,
    },
    /// A daemon of the ECS Daemons API: its DaemonSet, deployments and running counts.
    Daemon {
        region: String,
        cluster: String,
        daemon: String,
    },
}

impl WorkKey {
    /// The kind, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            WorkKey::Cluster { .. } => "cluster",
            WorkKey::Service { .. } => "service",
            WorkKey::Task { .. } => "task",
            WorkKey::Instance { .. } => "container_instance",
            WorkKey::Daemon { .. } => "daemon",
        }
    }
}

impl fmt::Display for WorkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkKey::Cluster { region, cluster } => write!(f, "cluster {region}/{cluster}"),
            WorkKey::Service {
                region,
                cluster,
                service,
            } => write!(f, "service {region}/{cluster}/{service}"),
            WorkKey::Task {
                region,
                cluster,
                task,
            } => write!(f, "task {region}/{cluster}/{task}"),
            WorkKey::Instance {
                region,
                cluster,
                instance,
            } => write!(f, "container instance {region}/{cluster}/{instance}"),
            WorkKey::Daemon {
                region,
                cluster,
                daemon,
            } => write!(f, "daemon {region}/{cluster}/{daemon}"),
        }
    }
}

/// The region and exact ECS cluster name a namespace kubecs made stands for, from its
/// annotations.
pub fn cluster_of_namespace(namespace: &Namespace) -> Option<(String, String)> {
    let annotations = namespace.annotations();
    Some((
        annotations.get(REGION_ANNOTATION)?.clone(),
        annotations.get(CLUSTER_NAME_ANNOTATION)?.clone(),
    ))
}

/// The exact ECS service name an object carries in its annotations (Deployments and
/// Services; pods and ReplicaSets are found through their Deployment).
pub fn service_name_of<K: ResourceExt>(object: &K) -> Option<String> {
    object.annotations().get(SERVICE_NAME_ANNOTATION).cloned()
}
