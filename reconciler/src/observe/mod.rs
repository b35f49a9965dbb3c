//! The pure observation: from what Kubernetes shows about one ECS service's workload (its
//! Deployment, ReplicaSets, pods and the events about them), what DescribeServices must
//! say, in ECS's shapes and words. No I/O and no Kubernetes client: the control loop
//! calls [`observe`] on every reconcile and writes the state it returns with the store's
//! compare-and-set.
//!
//! Only observed fields change: the service's `runningCount`/`pendingCount` and
//! `events`; each ECS deployment's counts, `failedTasks`, `rolloutState`,
//! `rolloutStateReason` and `updatedAt`, a non-PRIMARY one's `desiredCount` (its
//! ReplicaSet's replicas as it drains) and its removal once drained; and the
//! reconciler's [`ServiceMemory`](kubecs_storage::ServiceMemory). Desired fields
//! (`desiredCount`, `taskDefinition`, `deploymentConfiguration`, deployment ids and
//! statuses) are the API's and are never touched.
//!
//! - [`tasks`]: pods as ECS tasks (ids, states, failures).
//! - [`deployments`]: counts per ECS deployment, and dropping drained ones.
//! - [`rollout`]: the PRIMARY deployment's COMPLETED/FAILED transitions and rollback.
//! - [`breaker`]: the circuit breaker's threshold.
//! - [`records`]: the task records ListTasks and DescribeTasks show.
//! - [`reports`]: the started/stopped, placement and steady-state events.
//! - [`messages`]: ECS's exact words, with their sources.

pub mod breaker;
pub mod deployments;
pub mod messages;
pub mod nodes;
pub mod records;
pub mod reports;
pub mod rollout;
pub mod tasks;

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::events::v1::Event;
use kubecs_api_models::status::{DRAINING, INACTIVE};
use kubecs_api_models::Timestamp;
use kubecs_storage::ServiceState;

pub use rollout::Rollback;
pub use tasks::{task_arn, task_id, Task, TaskState};

/// What Kubernetes shows about one ECS service's workload.
#[derive(Debug, Clone, Copy, Default)]
pub struct Snapshot<'a> {
    /// The service's Deployment (its template, status and conditions), if it exists.
    pub deployment: Option<&'a Deployment>,
    /// The Deployment's ReplicaSets.
    pub replica_sets: &'a [ReplicaSet],
    /// The service's pods, of any ReplicaSet.
    pub pods: &'a [Pod],
    /// events.k8s.io/v1 events about those pods, ReplicaSets and the Deployment.
    pub events: &'a [Event],
    /// The zones of the nodes, by node name (the tasks' `availabilityZone`).
    pub zones: Option<&'a records::Zones>,
}

/// The outcome of one observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The input state with its observed fields updated, new events added and the
    /// memory updated. Equal to the input when nothing changed.
    pub state: ServiceState,
    /// Set when the circuit breaker failed the PRIMARY deployment and asks for a
    /// rollback: the loop starts the new deployment, in the same write as `state`
    /// (its `rolloutStateReason` is [`messages::rollback_reason`]).
    pub rollback: Option<Rollback>,
    /// The task records to write in the same write (see [`records`]).
    pub tasks: records::TaskWrites,
}

/// Observes one ECS service: `state` as stored, `snapshot` as Kubernetes shows its
/// workload now. Deterministic except for the ids of new events (random, as ECS's).
///
/// An INACTIVE service is returned as it is. A DRAINING one only has its counts and
/// started/stopped events updated as its pods go: no placement or steady-state events
/// and no rollout transitions.
pub fn observe(state: &ServiceState, snapshot: &Snapshot<'_>, now: Timestamp) -> Observation {
    let mut next = state.clone();
    let status = state.service.status.as_deref();
    if status == Some(INACTIVE) {
        return Observation {
            state: next,
            rollback: None,
            tasks: records::TaskWrites::default(),
        };
    }
    let draining = status == Some(DRAINING);
    let name = state.service.service_name.clone().unwrap_or_default();
    let tasks: Vec<Task<'_>> = snapshot
        .pods
        .iter()
        .filter_map(|pod| Task::of(pod, snapshot.events))
        .collect();

    let new_failures = deployments::count_new_failures(&mut next.memory, &tasks);
    deployments::update(
        &mut next.service,
        &tasks,
        snapshot.replica_sets,
        &new_failures,
        now,
    );
    next.service.running_count = Some(deployments::count(&tasks, TaskState::Running));
    next.service.pending_count = Some(deployments::count(&tasks, TaskState::Pending));

    reports::tasks(&mut next, &name, &tasks, now);
    let mut rollback = None;
    if draining {
        next.memory.placement_failures.clear();
    } else {
        reports::placement(&mut next, &name, &tasks, now);
        rollback = rollout::advance(&mut next, &name, snapshot, &tasks, now);
    }
    reports::steady_state(&mut next, &name, &tasks, !draining, now);
    crate::history::follow(&mut next, now);
    let no_zones = records::Zones::new();
    let zones = snapshot.zones.unwrap_or(&no_zones);
    let (task_writes, written) =
        records::changes(&state.memory.task_records, snapshot.pods, |pod| {
            records::of_pod(pod, &next.service, zones)
        });
    next.memory.task_records = written;
    Observation {
        state: next,
        rollback,
        tasks: task_writes,
    }
}
