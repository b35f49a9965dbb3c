//! Pods as ECS tasks: a pod's task id, the ECS deployment it belongs to, the state ECS
//! would show for it, why it could not be placed, and how many times it failed.
//!
//! - The task id is the pod's UID without dashes (32 hex digits, the form of ECS task
//!   ids): stable for the pod's life and never reused.
//! - The ECS deployment is the pod's `ecs.kubecs.io/deployment-id` annotation, which the
//!   pod template carries (a ReplicaSet's is its template's).
//! - States: RUNNING is phase Running, Ready=True and not terminating. A pod the
//!   scheduler has not placed is not a task yet (ECS shows no task for a placement that
//!   failed), so it counts as neither running nor pending. Any other pod that is not
//!   terminating and has not finished is PENDING. Terminating pods are stopping, pods in
//!   phase Failed or Succeeded stopped: neither counts.

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodCondition};
use k8s_openapi::api::events::v1::Event;

use crate::convert::names::DEPLOYMENT_ID_ANNOTATION;

/// What ECS would show for a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Not placed on a node yet: no task in ECS terms.
    Unplaced,
    /// Placed, not yet running (pulling, starting, or not Ready).
    Pending,
    /// Running and Ready.
    Running,
    /// Being deleted (a deletion timestamp is set).
    Stopping,
    /// Finished: phase Failed or Succeeded.
    Stopped,
}

impl TaskState {
    /// Whether the task is one ECS lists as live (PENDING or RUNNING).
    pub fn is_live(self) -> bool {
        matches!(self, TaskState::Pending | TaskState::Running)
    }

    /// Whether the pod still holds its deployment back from being drained (anything
    /// but finished: a finished pod may linger until its ReplicaSet is deleted).
    pub fn is_present(self) -> bool {
        self != TaskState::Stopped
    }
}

/// One pod, seen as an ECS task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task<'a> {
    /// The task id ([`task_id`]).
    pub id: String,
    /// The ECS deployment id the pod belongs to, if annotated.
    pub deployment: Option<&'a str>,
    /// Its ECS state.
    pub state: TaskState,
    /// The scheduler's message when it found no node for the pod.
    pub unschedulable: Option<&'a str>,
    /// How many times it failed so far ([`failures`]).
    pub failures: i32,
}

impl<'a> Task<'a> {
    /// The task of a pod, given the events about the service's objects; `None` for a
    /// pod without a UID (only objects never stored have none).
    pub fn of(pod: &'a Pod, events: &[Event]) -> Option<Self> {
        Some(Task {
            id: task_id(pod)?,
            deployment: deployment_of_pod(pod),
            state: state(pod),
            unschedulable: unschedulable(pod),
            failures: failures(pod, events),
        })
    }
}

/// A pod's ECS task id: its UID without dashes.
pub fn task_id(pod: &Pod) -> Option<String> {
    let uid = pod.metadata.uid.as_deref().filter(|uid| !uid.is_empty())?;
    Some(uid.replace('-', ""))
}

/// The ARN of task `task_id` of the service or daemon `owner_arn`
/// (`arn:aws:ecs:<region>:<account>:service/<cluster>/<service>`, or `daemon/...`):
/// `arn:aws:ecs:<region>:<account>:task/<cluster>/<task id>`. `None` for an ARN not of
/// that form.
pub fn task_arn(owner_arn: &str, task_id: &str) -> Option<String> {
    let (prefix, resource) = owner_arn
        .split_once(":service/")
        .or_else(|| owner_arn.split_once(":daemon/"))?;
    let (cluster, _service) = resource.split_once('/')?;
    Some(format!("{prefix}:task/{cluster}/{task_id}"))
}

/// The ECS deployment a pod belongs to.
pub fn deployment_of_pod(pod: &Pod) -> Option<&str> {
    pod.metadata
        .annotations
        .as_ref()?
        .get(DEPLOYMENT_ID_ANNOTATION)
        .map(String::as_str)
}

/// The ECS deployment a ReplicaSet runs (its pod template's annotation).
pub fn deployment_of_replica_set(rs: &ReplicaSet) -> Option<&str> {
    rs.spec
        .as_ref()?
        .template
        .as_ref()?
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(DEPLOYMENT_ID_ANNOTATION)
        .map(String::as_str)
}

fn condition<'a>(pod: &'a Pod, kind: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}

/// The state ECS would show for a pod (see the module documentation).
pub fn state(pod: &Pod) -> TaskState {
    if pod.metadata.deletion_timestamp.is_some() {
        return TaskState::Stopping;
    }
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Failed" | "Succeeded")) {
        return TaskState::Stopped;
    }
    let ready = condition(pod, "Ready").is_some_and(|c| c.status == "True");
    if phase == Some("Running") && ready {
        return TaskState::Running;
    }
    let on_node = pod.spec.as_ref().is_some_and(|s| s.node_name.is_some())
        || condition(pod, "PodScheduled").is_some_and(|c| c.status == "True");
    if on_node {
        TaskState::Pending
    } else {
        TaskState::Unplaced
    }
}

/// The names of the pod's containers that have exited (terminated, not restarted).
pub fn exited_containers(pod: &Pod) -> Vec<&str> {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default()
        .iter()
        .filter(|s| s.state.as_ref().is_some_and(|st| st.terminated.is_some()))
        .map(|s| s.name.as_str())
        .collect()
}

/// The scheduler's message for a pod it could not place (PodScheduled=False with reason
/// Unschedulable), unless the pod is going away.
pub fn unschedulable(pod: &Pod) -> Option<&str> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let scheduled = condition(pod, "PodScheduled")?;
    if scheduled.status != "False" || scheduled.reason.as_deref() != Some("Unschedulable") {
        return None;
    }
    Some(scheduled.message.as_deref().unwrap_or_default())
}

/// Event reasons that each stand for a task that failed to start: the scheduler's
/// `FailedScheduling` (no node fits) and the kubelet's `Failed` (the image cannot be
/// pulled, a container cannot be created). ECS counts a task it could not place or start
/// as failed; counting them here lets an impossible request or a missing image trip
/// the circuit breaker in seconds rather than at the progress deadline.
pub const FAILED_START_REASONS: [&str; 2] = ["FailedScheduling", "Failed"];

/// How many times a pod failed so far: its containers' restarts (each is a task that
/// stopped, which ECS would replace), one if the pod itself failed (evicted, or its
/// containers exited under restartPolicy Never), and every failed start reported in an
/// event about it (see [`FAILED_START_REASONS`]; an event seen `series.count` or
/// `deprecatedCount` times counts that many).
pub fn failures(pod: &Pod, events: &[Event]) -> i32 {
    let status = pod.status.as_ref();
    let restarts: i32 = [
        status.and_then(|s| s.init_container_statuses.as_ref()),
        status.and_then(|s| s.container_statuses.as_ref()),
    ]
    .into_iter()
    .flatten()
    .flatten()
    .map(|c: &ContainerStatus| c.restart_count.max(0))
    .fold(0, i32::saturating_add);
    let failed_pod = i32::from(status.and_then(|s| s.phase.as_deref()) == Some("Failed"));
    let failed_starts = events
        .iter()
        .filter(|e| is_about(e, pod))
        .filter(|e| {
            e.reason
                .as_deref()
                .is_some_and(|r| FAILED_START_REASONS.contains(&r))
        })
        .map(occurrences)
        .fold(0, i32::saturating_add);
    restarts
        .saturating_add(failed_pod)
        .saturating_add(failed_starts)
}

/// Whether an event is about this pod (by UID, or by name when the event has no UID).
fn is_about(event: &Event, pod: &Pod) -> bool {
    let Some(regarding) = &event.regarding else {
        return false;
    };
    if regarding.kind.as_deref().is_some_and(|k| k != "Pod") {
        return false;
    }
    match (regarding.uid.as_deref(), pod.metadata.uid.as_deref()) {
        (Some(event_uid), Some(pod_uid)) => event_uid == pod_uid,
        _ => regarding.name.is_some() && regarding.name == pod.metadata.name,
    }
}

/// How many times an event happened: its series count, or the count of an event
/// written through the older core/v1 API, and at least once.
fn occurrences(event: &Event) -> i32 {
    let series = event.series.as_ref().map_or(0, |s| s.count);
    series.max(event.deprecated_count.unwrap_or(0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::testing::*;

    #[test]
    fn a_task_id_is_the_pod_uid_without_dashes() {
        let pod = pod(1, "ecs-svc/1", Phase::Running);
        assert_eq!(
            task_id(&pod).as_deref(),
            Some("00000000000000000000000000000001")
        );
    }

    #[test]
    fn a_task_arn_follows_the_service_arn() {
        assert_eq!(
            task_arn("arn:aws:ecs:eu-west-1:123456789012:service/prod/web", "abc").as_deref(),
            Some("arn:aws:ecs:eu-west-1:123456789012:task/prod/abc")
        );
        assert_eq!(task_arn("not-an-arn", "abc"), None);
    }

    #[test]
    fn only_placed_live_pods_are_pending_or_running() {
        assert_eq!(state(&pod(1, "d", Phase::Running)), TaskState::Running);
        assert_eq!(state(&pod(1, "d", Phase::NotReady)), TaskState::Pending);
        assert_eq!(state(&pod(1, "d", Phase::Pending)), TaskState::Pending);
        assert_eq!(
            state(&pod(1, "d", Phase::Unschedulable(INSUFFICIENT_CPU))),
            TaskState::Unplaced
        );
        assert_eq!(state(&pod(1, "d", Phase::Terminating)), TaskState::Stopping);
        assert_eq!(state(&pod(1, "d", Phase::Failed)), TaskState::Stopped);
    }

    #[test]
    fn failures_add_restarts_a_failed_pod_and_failed_starts() {
        let crashing = restarted(pod(1, "d", Phase::NotReady), 2);
        assert_eq!(failures(&crashing, &[]), 2);
        assert_eq!(failures(&pod(2, "d", Phase::Failed), &[]), 1);
        let unplaced = pod(3, "d", Phase::Unschedulable(INSUFFICIENT_CPU));
        let events = [
            event(&unplaced, "FailedScheduling", 4),
            event(&unplaced, "Scheduled", 1),
            event(&crashing, "FailedScheduling", 1),
        ];
        assert_eq!(failures(&unplaced, &events), 4);
        assert_eq!(failures(&crashing, &events), 3);
    }
}
