//! Small builders of Kubernetes objects and ECS services for the observation's tests.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::{
    ContainerStatus, ObjectReference, Pod, PodCondition, PodSpec, PodStatus, PodTemplateSpec,
};
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kubecs_api_models::{
    Deployment as EcsDeployment, DeploymentCircuitBreaker, DeploymentConfiguration,
    DeploymentRolloutState, Service, Timestamp,
};
use kubecs_storage::ServiceState;

use super::{observe, Observation, Snapshot};
use crate::convert::names::DEPLOYMENT_ID_ANNOTATION;

const EPOCH: k8s_openapi::jiff::Timestamp = k8s_openapi::jiff::Timestamp::UNIX_EPOCH;

pub const INSUFFICIENT_CPU: &str = "0/1 nodes are available: 1 Insufficient cpu.";
pub const INSUFFICIENT_MEMORY: &str = "0/1 nodes are available: 1 Insufficient memory.";

/// What a test pod is doing.
#[derive(Debug, Clone, Copy)]
pub enum Phase {
    /// On a node, containers not started.
    Pending,
    /// Running, not Ready.
    NotReady,
    /// Running and Ready.
    Running,
    /// The scheduler found no node, with this message.
    Unschedulable(&'static str),
    /// Being deleted.
    Terminating,
    /// Phase Failed.
    Failed,
}

/// The UID of test pod `n`.
pub fn uid(n: u32) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

/// The task id of test pod `n`.
pub fn task(n: u32) -> String {
    uid(n).replace('-', "")
}

fn annotations(deployment: &str) -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([(
        DEPLOYMENT_ID_ANNOTATION.to_owned(),
        deployment.to_owned(),
    )]))
}

fn condition(kind: &str, status: bool) -> PodCondition {
    PodCondition {
        type_: kind.to_owned(),
        status: if status { "True" } else { "False" }.to_owned(),
        ..PodCondition::default()
    }
}

/// Pod `n` of ECS deployment `deployment`.
pub fn pod(n: u32, deployment: &str, phase: Phase) -> Pod {
    let on_node = !matches!(phase, Phase::Unschedulable(_));
    let mut conditions = vec![condition("PodScheduled", on_node)];
    let k8s_phase = match phase {
        Phase::Pending | Phase::Unschedulable(_) => "Pending",
        Phase::Failed => "Failed",
        Phase::NotReady | Phase::Running | Phase::Terminating => "Running",
    };
    if let Phase::Unschedulable(message) = phase {
        conditions[0].reason = Some("Unschedulable".to_owned());
        conditions[0].message = Some(message.to_owned());
    }
    conditions.push(condition(
        "Ready",
        matches!(phase, Phase::Running | Phase::Terminating),
    ));
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("web-{n}")),
            uid: Some(uid(n)),
            annotations: annotations(deployment),
            deletion_timestamp: matches!(phase, Phase::Terminating).then(|| Time(EPOCH)),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: on_node.then(|| "node-1".to_owned()),
            ..PodSpec::default()
        }),
        status: Some(PodStatus {
            phase: Some(k8s_phase.to_owned()),
            conditions: Some(conditions),
            ..PodStatus::default()
        }),
    }
}

/// The pod with its container restarted `restarts` times.
pub fn restarted(mut pod: Pod, restarts: i32) -> Pod {
    if let Some(status) = pod.status.as_mut() {
        status.container_statuses = Some(vec![ContainerStatus {
            name: "app".to_owned(),
            restart_count: restarts,
            ..ContainerStatus::default()
        }]);
    }
    pod
}

/// The ReplicaSet of ECS deployment `deployment` at `replicas`.
pub fn replica_set(deployment: &str, replicas: i32) -> ReplicaSet {
    ReplicaSet {
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            template: Some(PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    annotations: annotations(deployment),
                    ..ObjectMeta::default()
                }),
                spec: None,
            }),
            ..ReplicaSetSpec::default()
        }),
        ..ReplicaSet::default()
    }
}

/// An event about `pod` seen `count` times.
pub fn event(pod: &Pod, reason: &str, count: i32) -> Event {
    Event {
        reason: Some(reason.to_owned()),
        regarding: Some(ObjectReference {
            kind: Some("Pod".to_owned()),
            name: pod.metadata.name.clone(),
            uid: pod.metadata.uid.clone(),
            ..ObjectReference::default()
        }),
        series: (count > 1).then_some(EventSeries {
            count,
            last_observed_time: MicroTime(EPOCH),
        }),
        ..Event::default()
    }
}

/// The Kubernetes Deployment running ECS deployment `deployment`, its spec observed;
/// with `deadline_exceeded`, its rollout has timed out.
pub fn kube_deployment(deployment: &str, deadline_exceeded: bool) -> Deployment {
    let progressing = DeploymentCondition {
        type_: "Progressing".to_owned(),
        status: if deadline_exceeded { "False" } else { "True" }.to_owned(),
        reason: Some(
            if deadline_exceeded {
                "ProgressDeadlineExceeded"
            } else {
                "NewReplicaSetAvailable"
            }
            .to_owned(),
        ),
        ..DeploymentCondition::default()
    };
    Deployment {
        metadata: ObjectMeta {
            generation: Some(2),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            progress_deadline_seconds: Some(600),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    annotations: annotations(deployment),
                    ..ObjectMeta::default()
                }),
                spec: None,
            },
            ..DeploymentSpec::default()
        }),
        status: Some(DeploymentStatus {
            observed_generation: Some(2),
            conditions: Some(vec![progressing]),
            ..DeploymentStatus::default()
        }),
    }
}

/// A new PRIMARY ECS deployment, as the API creates it.
pub fn primary(id: &str, task_definition: &str, desired: i32) -> EcsDeployment {
    EcsDeployment {
        id: Some(id.to_owned()),
        status: Some("PRIMARY".to_owned()),
        task_definition: Some(task_definition.to_owned()),
        desired_count: Some(desired),
        running_count: Some(0),
        pending_count: Some(0),
        failed_tasks: Some(0),
        created_at: Some(at(0)),
        updated_at: Some(at(0)),
        rollout_state: Some(DeploymentRolloutState::InProgress),
        rollout_state_reason: Some(format!("ECS deployment {id} in progress.")),
        ..EcsDeployment::default()
    }
}

/// An ACTIVE service `web` wanting `desired` tasks, with these deployments.
pub fn service(desired: i32, deployments: Vec<EcsDeployment>) -> ServiceState {
    ServiceState {
        service: Service {
            service_name: Some("web".to_owned()),
            service_arn: Some("arn:aws:ecs:us-east-1:123456789012:service/prod/web".to_owned()),
            status: Some("ACTIVE".to_owned()),
            desired_count: Some(desired),
            task_definition: deployments.first().and_then(|d| d.task_definition.clone()),
            running_count: Some(0),
            pending_count: Some(0),
            deployments: Some(deployments),
            deployment_configuration: Some(DeploymentConfiguration {
                maximum_percent: Some(200),
                minimum_healthy_percent: Some(100),
                deployment_circuit_breaker: Some(DeploymentCircuitBreaker {
                    enable: Some(false),
                    rollback: Some(false),
                }),
                ..DeploymentConfiguration::default()
            }),
            ..Service::default()
        },
        ..ServiceState::default()
    }
}

/// The state with its circuit breaker set.
pub fn with_breaker(mut state: ServiceState, enable: bool, rollback: bool) -> ServiceState {
    if let Some(config) = state.service.deployment_configuration.as_mut() {
        config.deployment_circuit_breaker = Some(DeploymentCircuitBreaker {
            enable: Some(enable),
            rollback: Some(rollback),
        });
    }
    state
}

/// `seconds` after the epoch.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_epoch_millis(seconds * 1000)
}

/// What Kubernetes shows, owned.
#[derive(Debug, Clone, Default)]
pub struct World {
    pub deployment: Option<Deployment>,
    pub replica_sets: Vec<ReplicaSet>,
    pub pods: Vec<Pod>,
    pub events: Vec<Event>,
}

impl World {
    /// The world with ECS deployment `deployment` rolled out to `replicas` pods in
    /// `phase` (numbered from `first`).
    pub fn running(deployment: &str, first: u32, replicas: u32, phase: Phase) -> Self {
        World {
            deployment: Some(kube_deployment(deployment, false)),
            replica_sets: vec![replica_set(deployment, replicas as i32)],
            pods: (first..first + replicas)
                .map(|n| pod(n, deployment, phase))
                .collect(),
            events: Vec::new(),
        }
    }

    /// Observes `state` in this world at `seconds`.
    pub fn observe(&self, state: &ServiceState, seconds: i64) -> Observation {
        let snapshot = Snapshot {
            deployment: self.deployment.as_ref(),
            replica_sets: &self.replica_sets,
            pods: &self.pods,
            events: &self.events,
            zones: None,
        };
        observe(state, &snapshot, at(seconds))
    }
}

/// The messages an observation added, oldest first.
pub fn added(before: &ServiceState, after: &ServiceState) -> Vec<String> {
    let old = before.service.events.as_ref().map_or(0, Vec::len);
    let all = after.service.events.clone().unwrap_or_default();
    let mut new: Vec<String> = all[..all.len() - old]
        .iter()
        .filter_map(|e| e.message.clone())
        .collect();
    new.reverse();
    new
}

/// The only (or first) ECS deployment with this id.
pub fn deployment<'a>(state: &'a ServiceState, id: &str) -> &'a EcsDeployment {
    state
        .service
        .deployments
        .iter()
        .flatten()
        .find(|d| d.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no deployment {id}"))
}
