//! Counts per ECS deployment, and dropping a deployment that has drained.
//!
//! - `runningCount`/`pendingCount`: the deployment's pods by [`TaskState`].
//! - `failedTasks`: grows by the failures of its pods since the last observation
//!   ([`count_new_failures`]); it never goes down, as in ECS.
//! - `desiredCount` of a non-PRIMARY deployment: its ReplicaSet's `spec.replicas`, which
//!   Kubernetes lowers as the rollout moves on. The PRIMARY's is the API's.
//! - A non-PRIMARY deployment with no pods left and a ReplicaSet at 0 replicas (or none)
//!   is dropped, as ECS drops an INACTIVE one: a stable service shows one PRIMARY.
//! - `updatedAt` moves when any of these change.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::ReplicaSet;
use kubecs_api_models::status::DEPLOYMENT_PRIMARY;
use kubecs_api_models::{Deployment, Service, Timestamp};
use kubecs_storage::ServiceMemory;

use super::tasks::{deployment_of_replica_set, Task, TaskState};

/// Whether an ECS deployment is the PRIMARY one.
pub fn is_primary(deployment: &Deployment) -> bool {
    deployment.status.as_deref() == Some(DEPLOYMENT_PRIMARY)
}

/// How many tasks are in `state`.
pub fn count<'t, 'a: 't>(tasks: impl IntoIterator<Item = &'t Task<'a>>, state: TaskState) -> i32 {
    let n = tasks.into_iter().filter(|t| t.state == state).count();
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A ReplicaSet's `spec.replicas` (Kubernetes defaults an unset one to 1).
pub fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().map_or(0, |s| s.replicas.unwrap_or(1))
}

/// The replicas of the ReplicaSets running ECS deployment `id`.
fn replicas_of(replica_sets: &[ReplicaSet], id: &str) -> i32 {
    replica_sets
        .iter()
        .filter(|rs| deployment_of_replica_set(rs) == Some(id))
        .map(replicas)
        .fold(0, i32::saturating_add)
}

/// The failures of each ECS deployment's pods since the last observation, and
/// `memory.task_failures` brought up to date. A pod's failures only ever add: what was
/// counted stays counted when its events expire or the pod goes.
pub fn count_new_failures<'a>(
    memory: &mut ServiceMemory,
    tasks: &[Task<'a>],
) -> BTreeMap<&'a str, i32> {
    let mut counted = BTreeMap::new();
    let mut new = BTreeMap::new();
    for task in tasks {
        let before = memory.task_failures.get(&task.id).copied().unwrap_or(0);
        let total = before.max(task.failures);
        if total > 0 {
            counted.insert(task.id.clone(), total);
        }
        if let Some(deployment) = task.deployment.filter(|_| total > before) {
            let sum: &mut i32 = new.entry(deployment).or_default();
            *sum = sum.saturating_add(total - before);
        }
    }
    memory.task_failures = counted;
    new
}

/// Updates every ECS deployment's observed counts and drops the drained non-PRIMARY ones.
pub fn update(
    service: &mut Service,
    tasks: &[Task<'_>],
    replica_sets: &[ReplicaSet],
    new_failures: &BTreeMap<&str, i32>,
    now: Timestamp,
) {
    let Some(deployments) = service.deployments.as_mut() else {
        return;
    };
    for deployment in deployments.iter_mut() {
        let Some(id) = deployment.id.clone() else {
            continue;
        };
        let before = deployment.clone();
        let own: Vec<&Task<'_>> = tasks
            .iter()
            .filter(|t| t.deployment == Some(id.as_str()))
            .collect();
        deployment.running_count = Some(count(own.iter().copied(), TaskState::Running));
        deployment.pending_count = Some(count(own.iter().copied(), TaskState::Pending));
        if let Some(n) = new_failures.get(id.as_str()) {
            deployment.failed_tasks = Some(deployment.failed_tasks.unwrap_or(0).saturating_add(*n));
        }
        if !is_primary(deployment) {
            deployment.desired_count = Some(replicas_of(replica_sets, &id));
        }
        if *deployment != before {
            deployment.updated_at = Some(now);
        }
    }
    deployments.retain(|d| is_primary(d) || has_work_left(d, tasks, replica_sets));
}

/// Whether a deployment still has pods (not finished ones) or replicas.
fn has_work_left(deployment: &Deployment, tasks: &[Task<'_>], replica_sets: &[ReplicaSet]) -> bool {
    let Some(id) = deployment.id.as_deref() else {
        return false;
    };
    tasks
        .iter()
        .any(|t| t.deployment == Some(id) && t.state.is_present())
        || replicas_of(replica_sets, id) > 0
}

/// Whether anything but ECS deployment `primary` still has pods (not finished ones) or
/// replicas: the rollout to it is not over.
pub fn others_left(primary: &str, tasks: &[Task<'_>], replica_sets: &[ReplicaSet]) -> bool {
    tasks
        .iter()
        .any(|t| t.deployment != Some(primary) && t.state.is_present())
        || replica_sets
            .iter()
            .any(|rs| deployment_of_replica_set(rs) != Some(primary) && replicas(rs) > 0)
}
