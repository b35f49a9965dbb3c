//! ECS's words: the service event messages and deployment `rolloutStateReason`s that
//! DescribeServices shows, in one place so that every sentence can be checked against
//! its source.
//!
//! Sources:
//! - Amazon ECS Developer Guide, "Service event messages"
//!   (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages.html>):
//!   `service (service-name) has reached a steady state.`, `service (service-name) was
//!   unable to place a task because no container instance met all of its requirements.`
//!   and the "closest matching container-instance" sentences.
//! - The same guide, "Amazon ECS service deployment state change events"
//!   (<https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_service_deployment_events.html>):
//!   the reasons `ECS deployment <id> completed.` and `ECS deployment circuit breaker:
//!   rolling back to deploymentId <id>.`
//! - What ECS writes into `events[].message` (captured DescribeServices output, as
//!   published in many places, e.g. `(service web) has started 2 tasks: (task a) (task
//!   b).`, `(service web) has stopped 1 running tasks: (task a).`, `(service web)
//!   (deployment ecs-svc/1) deployment completed.`, `(service web) (deployment ecs-svc/1)
//!   deployment failed: tasks failed to start.`, `(service web) rolling back to deployment
//!   ecs-svc/0.`), and the `rolloutStateReason` `ECS deployment circuit breaker: tasks
//!   failed to start.` of a deployment the breaker failed. The guide writes the service
//!   without parentheses; the API has written `(service <name>)` for years, so that is
//!   what we write.

/// ECS names at most this many tasks in one "has started"/"has stopped" event: its
/// scheduler launches tasks in batches of at most 10 (RunTask's and StartTask's `count`
/// limit), one event per batch. A larger change is told in several events.
pub const MAX_TASKS_PER_EVENT: usize = 10;

/// `(service web) has started 2 tasks: (task a) (task b).`, one message per batch of
/// [`MAX_TASKS_PER_EVENT`] task ids.
pub fn tasks_started(service: &str, task_ids: &[String]) -> Vec<String> {
    batches(task_ids, |n, tasks| {
        format!("(service {service}) has started {n} tasks: {tasks}.")
    })
}

/// `(service web) has stopped 1 running tasks: (task a).`, one message per batch of
/// [`MAX_TASKS_PER_EVENT`] task ids. (ECS says "running tasks" whatever state they
/// were in, and never "1 task".)
pub fn tasks_stopped(service: &str, task_ids: &[String]) -> Vec<String> {
    batches(task_ids, |n, tasks| {
        format!("(service {service}) has stopped {n} running tasks: {tasks}.")
    })
}

fn batches(task_ids: &[String], message: impl Fn(usize, String) -> String) -> Vec<String> {
    task_ids
        .chunks(MAX_TASKS_PER_EVENT)
        .map(|batch| {
            let tasks: Vec<String> = batch.iter().map(|id| format!("(task {id})")).collect();
            message(batch.len(), tasks.join(" "))
        })
        .collect()
}

/// `(service web) has reached a steady state.`
pub fn steady_state(service: &str) -> String {
    format!("(service {service}) has reached a steady state.")
}

/// Why a task could not be placed, as the closest ECS reason to what the Kubernetes
/// scheduler said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementFailure {
    /// No node has the CPU the task asks for.
    Cpu,
    /// No node has the memory the task asks for.
    Memory,
    /// The host ports the task needs are taken on every node.
    Ports,
    /// Anything else (taints, node selectors, anti-affinity, no nodes at all): ECS's
    /// plain sentence, whose documented causes include all of these.
    Requirements,
}

impl PlacementFailure {
    /// The closest ECS reason for a Kubernetes scheduler message such as
    /// `0/3 nodes are available: 3 Insufficient cpu.` CPU, then memory, then ports
    /// win when the scheduler names several.
    pub fn of_scheduler_message(message: &str) -> Self {
        let message = message.to_ascii_lowercase();
        if message.contains("insufficient cpu") {
            PlacementFailure::Cpu
        } else if message.contains("insufficient memory") {
            PlacementFailure::Memory
        } else if message.contains("free ports") {
            PlacementFailure::Ports
        } else {
            PlacementFailure::Requirements
        }
    }
}

/// `(service web) was unable to place a task because no container instance met all of
/// its requirements.`, followed for CPU, memory and ports by ECS's sentence about the
/// closest matching container instance. ECS names that instance; the Kubernetes
/// scheduler names no node, so the id is left out.
pub fn unable_to_place(service: &str, failure: PlacementFailure) -> String {
    let base = format!(
        "(service {service}) was unable to place a task because no container instance met all of its requirements."
    );
    let closest = match failure {
        PlacementFailure::Cpu => "has insufficient CPU units available.",
        PlacementFailure::Memory => "has insufficient memory available.",
        PlacementFailure::Ports => "is already using a port required by your task.",
        PlacementFailure::Requirements => return base,
    };
    format!("{base} The closest matching container-instance {closest}")
}

/// `(service web) (deployment ecs-svc/1) deployment completed.`
pub fn deployment_completed(service: &str, deployment: &str) -> String {
    format!("(service {service}) (deployment {deployment}) deployment completed.")
}

/// `(service web) (deployment ecs-svc/1) deployment failed: tasks failed to start.`
pub fn deployment_failed(service: &str, deployment: &str) -> String {
    format!(
        "(service {service}) (deployment {deployment}) deployment failed: tasks failed to start."
    )
}

/// `(service web) rolling back to deployment ecs-svc/0.`
pub fn rolling_back(service: &str, to_deployment: &str) -> String {
    format!("(service {service}) rolling back to deployment {to_deployment}.")
}

/// `rolloutStateReason` of a COMPLETED deployment: `ECS deployment ecs-svc/1 completed.`
pub fn completed_reason(deployment: &str) -> String {
    format!("ECS deployment {deployment} completed.")
}

/// `rolloutStateReason` of a deployment the circuit breaker failed.
pub const CIRCUIT_BREAKER_REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";

/// `rolloutStateReason` of a deployment whose tasks did not become healthy within the
/// Kubernetes progress deadline. ECS has no such reason (without the circuit breaker it
/// retries forever); this one says what happened in ECS's manner.
pub fn deadline_reason(deployment: &str, seconds: i32) -> String {
    format!(
        "ECS deployment {deployment} failed: tasks did not reach a steady state within {seconds} seconds."
    )
}

/// `rolloutStateReason` of the deployment the control loop starts to roll back:
/// `ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/0.`
pub fn rollback_reason(to_deployment: &str) -> String {
    format!("ECS deployment circuit breaker: rolling back to deploymentId {to_deployment}.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i:02}")).collect()
    }

    #[test]
    fn started_and_stopped_tasks_are_named_as_ecs_names_them() {
        assert_eq!(
            tasks_started("web", &ids(2)),
            ["(service web) has started 2 tasks: (task t00) (task t01)."]
        );
        assert_eq!(
            tasks_stopped("web", &ids(1)),
            ["(service web) has stopped 1 running tasks: (task t00)."]
        );
        assert!(tasks_started("web", &[]).is_empty());
    }

    #[test]
    fn an_event_names_at_most_ten_tasks() {
        let messages = tasks_started("web", &ids(23));
        assert_eq!(messages.len(), 3);
        assert!(messages[0].starts_with("(service web) has started 10 tasks: (task t00)"));
        assert!(messages[2].starts_with("(service web) has started 3 tasks: (task t20)"));
    }

    #[test]
    fn the_placement_reason_follows_the_scheduler_message() {
        let of = PlacementFailure::of_scheduler_message;
        assert_eq!(
            of("0/3 nodes are available: 3 Insufficient cpu."),
            PlacementFailure::Cpu
        );
        assert_eq!(
            of("0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."),
            PlacementFailure::Memory
        );
        assert_eq!(
            of("0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports."),
            PlacementFailure::Ports
        );
        assert_eq!(
            of("0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}."),
            PlacementFailure::Requirements
        );
        assert_eq!(
            unable_to_place("web", PlacementFailure::Memory),
            "(service web) was unable to place a task because no container instance met all of its requirements. The closest matching container-instance has insufficient memory available."
        );
        assert_eq!(
            unable_to_place("web", PlacementFailure::Requirements),
            "(service web) was unable to place a task because no container instance met all of its requirements."
        );
    }
}
