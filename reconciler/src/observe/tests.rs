//! Scenarios of [`observe`](super::observe): a service's life as Kubernetes shows it,
//! and what DescribeServices says at each step.

use kubecs_api_models::DeploymentRolloutState::{Completed, Failed, InProgress};
use kubecs_storage::{CompletedDeployment, ServiceState};

use super::testing::*;
use super::Rollback;

const A: &str = "ecs-svc/1000000000000000001";
const B: &str = "ecs-svc/2000000000000000002";
const TD1: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1";
const TD2: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";

fn started(ids: &[u32]) -> String {
    let tasks: Vec<String> = ids.iter().map(|n| format!("(task {})", task(*n))).collect();
    format!(
        "(service web) has started {} tasks: {}.",
        ids.len(),
        tasks.join(" ")
    )
}

fn stopped(ids: &[u32]) -> String {
    let tasks: Vec<String> = ids.iter().map(|n| format!("(task {})", task(*n))).collect();
    format!(
        "(service web) has stopped {} running tasks: {}.",
        ids.len(),
        tasks.join(" ")
    )
}

const STEADY: &str = "(service web) has reached a steady state.";

fn completed(id: &str) -> String {
    format!("(service web) (deployment {id}) deployment completed.")
}

fn failed(id: &str) -> String {
    format!("(service web) (deployment {id}) deployment failed: tasks failed to start.")
}

/// Service `web` with deployment A COMPLETED on `n` running pods (1..=n).
fn stable_on_a(n: u32) -> (ServiceState, World) {
    let world = World::running(A, 1, n, Phase::Running);
    let state = world.observe(&service(n as i32, vec![primary(A, TD1, n as i32)]), 1);
    assert_eq!(deployment(&state.state, A).rollout_state, Some(Completed));
    (state.state, world)
}

/// What UpdateService with a new task definition does: A becomes ACTIVE, B is PRIMARY.
fn start_b(mut state: ServiceState) -> ServiceState {
    let desired = state.service.desired_count.unwrap_or(0);
    let deployments = state.service.deployments.get_or_insert_with(Vec::new);
    for d in deployments.iter_mut() {
        d.status = Some("ACTIVE".to_owned());
    }
    deployments.insert(0, primary(B, TD2, desired));
    state.service.task_definition = Some(TD2.to_owned());
    state
}

#[test]
fn a_fresh_service_reports_its_tasks_started_then_completes_and_reaches_a_steady_state() {
    let fresh = service(2, vec![primary(A, TD1, 2)]);
    let mut world = World::running(A, 1, 2, Phase::Pending);

    let pending = world.observe(&fresh, 1).state;
    assert_eq!(added(&fresh, &pending), [started(&[1, 2])]);
    assert_eq!(
        (pending.service.running_count, pending.service.pending_count),
        (Some(0), Some(2))
    );
    let a = deployment(&pending, A);
    assert_eq!((a.running_count, a.pending_count), (Some(0), Some(2)));
    assert_eq!(a.rollout_state, Some(InProgress));
    assert!(!pending.memory.steady);

    world.pods = (1..=2).map(|n| pod(n, A, Phase::Running)).collect();
    let running = world.observe(&pending, 2).state;
    assert_eq!(added(&pending, &running), [completed(A), STEADY.to_owned()]);
    let a = deployment(&running, A);
    assert_eq!((a.running_count, a.pending_count), (Some(2), Some(0)));
    assert_eq!(a.rollout_state, Some(Completed));
    assert_eq!(
        a.rollout_state_reason.as_deref(),
        Some(format!("ECS deployment {A} completed.").as_str())
    );
    assert_eq!(
        running.memory.last_completed,
        Some(CompletedDeployment {
            id: A.to_owned(),
            task_definition: TD1.to_owned()
        })
    );
    assert!(running.memory.steady);
}

#[test]
fn observing_an_unchanged_workload_again_changes_nothing() {
    let (stable, world) = stable_on_a(2);
    let again = world.observe(&stable, 60);
    assert_eq!(again.state, stable);
    assert_eq!(again.rollback, None);
}

#[test]
fn a_rollout_shows_both_deployments_until_the_old_one_has_drained() {
    let (stable, mut world) = stable_on_a(2);
    let updated = start_b(stable);

    // Kubernetes surges B's pods while A's keep running.
    world.deployment = Some(kube_deployment(B, false));
    world.replica_sets = vec![replica_set(A, 2), replica_set(B, 2)];
    world
        .pods
        .extend((3..=4).map(|n| pod(n, B, Phase::Pending)));
    let surging = world.observe(&updated, 10).state;
    assert_eq!(added(&updated, &surging), [started(&[3, 4])]);
    let (a, b) = (deployment(&surging, A), deployment(&surging, B));
    assert_eq!((a.desired_count, a.running_count), (Some(2), Some(2)));
    assert_eq!((b.desired_count, b.pending_count), (Some(2), Some(2)));
    assert_eq!(b.rollout_state, Some(InProgress));
    assert_eq!(
        (surging.service.running_count, surging.service.pending_count),
        (Some(2), Some(2))
    );
    assert!(!surging.memory.steady);

    // A's ReplicaSet scales down as B's pods become ready.
    world.replica_sets = vec![replica_set(A, 1), replica_set(B, 2)];
    world.pods = vec![
        pod(1, A, Phase::Terminating),
        pod(2, A, Phase::Running),
        pod(3, B, Phase::Running),
        pod(4, B, Phase::Pending),
    ];
    let halfway = world.observe(&surging, 20).state;
    assert_eq!(added(&surging, &halfway), [stopped(&[1])]);
    let a = deployment(&halfway, A);
    assert_eq!((a.desired_count, a.running_count), (Some(1), Some(1)));
    assert_eq!(deployment(&halfway, B).running_count, Some(1));

    // B runs everything; A's last pod is still terminating.
    world.replica_sets = vec![replica_set(A, 0), replica_set(B, 2)];
    world.pods = vec![
        pod(2, A, Phase::Terminating),
        pod(3, B, Phase::Running),
        pod(4, B, Phase::Running),
    ];
    let draining = world.observe(&halfway, 30).state;
    assert_eq!(added(&halfway, &draining), [stopped(&[2])]);
    assert_eq!(draining.service.deployments.as_ref().map(Vec::len), Some(2));
    assert_eq!(deployment(&draining, A).desired_count, Some(0));
    assert_eq!(deployment(&draining, B).rollout_state, Some(InProgress));

    // A's pods are gone: one PRIMARY, COMPLETED.
    world.pods.remove(0);
    let done = world.observe(&draining, 40).state;
    assert_eq!(added(&draining, &done), [completed(B), STEADY.to_owned()]);
    let deployments = done.service.deployments.clone().unwrap_or_default();
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0].id.as_deref(), Some(B));
    assert_eq!(deployments[0].rollout_state, Some(Completed));
    assert_eq!(
        done.memory.last_completed.map(|c| c.task_definition),
        Some(TD2.to_owned())
    );
}

#[test]
fn scaling_to_five_and_to_zero_reports_the_tasks_and_a_steady_state_each_time() {
    let (stable, mut world) = stable_on_a(2);
    let mut scaled = stable.clone();
    scaled.service.desired_count = Some(5);
    scaled.service.deployments.as_mut().unwrap()[0].desired_count = Some(5);

    world.replica_sets = vec![replica_set(A, 5)];
    world
        .pods
        .extend((3..=5).map(|n| pod(n, A, Phase::Pending)));
    let growing = world.observe(&scaled, 10).state;
    assert_eq!(added(&scaled, &growing), [started(&[3, 4, 5])]);
    assert_eq!(deployment(&growing, A).rollout_state, Some(Completed));

    world.pods = (1..=5).map(|n| pod(n, A, Phase::Running)).collect();
    let five = world.observe(&growing, 20).state;
    assert_eq!(added(&growing, &five), [STEADY]);
    assert_eq!(five.service.running_count, Some(5));

    let mut to_zero = five.clone();
    to_zero.service.desired_count = Some(0);
    to_zero.service.deployments.as_mut().unwrap()[0].desired_count = Some(0);
    world.replica_sets = vec![replica_set(A, 0)];
    world.pods = (1..=5).map(|n| pod(n, A, Phase::Terminating)).collect();
    let stopping = world.observe(&to_zero, 30).state;
    assert_eq!(added(&to_zero, &stopping), [stopped(&[1, 2, 3, 4, 5])]);
    assert_eq!(stopping.service.running_count, Some(0));
    assert!(!stopping.memory.steady, "tasks are still stopping");

    world.pods.clear();
    let zero = world.observe(&stopping, 40).state;
    assert_eq!(added(&stopping, &zero), [STEADY]);
    assert_eq!(zero.service.deployments.as_ref().map(Vec::len), Some(1));
}

#[test]
fn unplaceable_pods_are_reported_once_per_reason_and_again_after_six_hours() {
    let fresh = service(2, vec![primary(A, TD1, 2)]);
    let mut world = World::running(A, 1, 2, Phase::Unschedulable(INSUFFICIENT_CPU));
    let cpu = "(service web) was unable to place a task because no container instance met all of its requirements. The closest matching container-instance has insufficient CPU units available.";

    let first = world.observe(&fresh, 1).state;
    assert_eq!(added(&fresh, &first), [cpu]);
    assert_eq!(
        (first.service.running_count, first.service.pending_count),
        (Some(0), Some(0))
    );
    let again = world.observe(&first, 60).state;
    assert_eq!(again, first);
    let later = world.observe(&first, 6 * 3600 + 1).state;
    assert_eq!(added(&first, &later), [cpu]);

    world.pods = (1..=2)
        .map(|n| pod(n, A, Phase::Unschedulable(INSUFFICIENT_MEMORY)))
        .collect();
    let memory = world.observe(&later, 6 * 3600 + 2).state;
    let messages = added(&later, &memory);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].ends_with("has insufficient memory available."));

    world.pods = (1..=2).map(|n| pod(n, A, Phase::Pending)).collect();
    let placed = world.observe(&memory, 6 * 3600 + 3).state;
    assert_eq!(added(&memory, &placed), [started(&[1, 2])]);
    assert!(placed.memory.placement_failures.is_empty());
}

/// B rolling out over a stable A (tasks 1 and 2 known), with the breaker set.
fn b_over_a(enable: bool, rollback: bool) -> (ServiceState, World) {
    let (stable, mut world) = stable_on_a(2);
    let state = with_breaker(start_b(stable), enable, rollback);
    world.deployment = Some(kube_deployment(B, false));
    world.replica_sets = vec![replica_set(A, 2), replica_set(B, 2)];
    (state, world)
}

fn crash_b(world: &mut World, restarts: [i32; 2]) {
    world.pods.truncate(2);
    world
        .pods
        .push(restarted(pod(3, B, Phase::NotReady), restarts[0]));
    world
        .pods
        .push(restarted(pod(4, B, Phase::NotReady), restarts[1]));
}

#[test]
fn the_circuit_breaker_fails_the_deployment_and_rolls_back_to_the_last_completed_one() {
    let (state, mut world) = b_over_a(true, true);
    crash_b(&mut world, [1, 1]);
    let below = world.observe(&state, 10);
    assert_eq!(deployment(&below.state, B).failed_tasks, Some(2));
    assert_eq!(deployment(&below.state, B).rollout_state, Some(InProgress));
    assert_eq!(below.rollback, None);

    crash_b(&mut world, [2, 1]);
    let tripped = world.observe(&below.state, 20);
    let b = deployment(&tripped.state, B);
    assert_eq!(b.failed_tasks, Some(3));
    assert_eq!(b.rollout_state, Some(Failed));
    assert_eq!(
        b.rollout_state_reason.as_deref(),
        Some("ECS deployment circuit breaker: tasks failed to start.")
    );
    assert_eq!(
        added(&below.state, &tripped.state),
        [
            failed(B),
            format!("(service web) rolling back to deployment {A}.")
        ]
    );
    assert_eq!(
        tripped.rollback,
        Some(Rollback {
            failed_deployment: B.to_owned(),
            to_deployment: A.to_owned(),
            task_definition: TD1.to_owned(),
        })
    );

    // A FAILED deployment stays failed, and the rollback is asked for once.
    crash_b(&mut world, [5, 5]);
    let after = world.observe(&tripped.state, 30);
    assert_eq!(after.rollback, None);
    assert_eq!(deployment(&after.state, B).rollout_state, Some(Failed));
    assert!(added(&tripped.state, &after.state).is_empty());
}

#[test]
fn without_rollback_the_circuit_breaker_only_fails_the_deployment() {
    let (state, mut world) = b_over_a(true, false);
    crash_b(&mut world, [3, 0]);
    let tripped = world.observe(&state, 10);
    assert_eq!(deployment(&tripped.state, B).rollout_state, Some(Failed));
    assert_eq!(tripped.rollback, None);
    let messages = added(&state, &tripped.state);
    assert_eq!(messages.last(), Some(&failed(B)));
    assert!(!messages.iter().any(|m| m.contains("rolling back")));
}

#[test]
fn with_no_completed_deployment_to_go_back_to_there_is_no_rollback() {
    let fresh = with_breaker(service(2, vec![primary(A, TD1, 2)]), true, true);
    let mut world = World::running(A, 1, 2, Phase::NotReady);
    world.pods = world.pods.into_iter().map(|p| restarted(p, 2)).collect();
    let tripped = world.observe(&fresh, 10);
    assert_eq!(deployment(&tripped.state, A).rollout_state, Some(Failed));
    assert_eq!(tripped.rollback, None);
}

#[test]
fn a_disabled_circuit_breaker_never_fails_a_deployment() {
    let (state, mut world) = b_over_a(false, true);
    crash_b(&mut world, [50, 50]);
    let observed = world.observe(&state, 10);
    let b = deployment(&observed.state, B);
    assert_eq!(
        (b.failed_tasks, b.rollout_state.clone()),
        (Some(100), Some(InProgress))
    );
    assert_eq!(observed.rollback, None);
}

#[test]
fn an_impossible_resource_request_trips_the_breaker_through_scheduling_failures() {
    let (state, mut world) = b_over_a(true, true);
    let unplaced = pod(3, B, Phase::Unschedulable(INSUFFICIENT_MEMORY));
    world.events = vec![event(&unplaced, "FailedScheduling", 3)];
    world.pods.push(unplaced);
    let tripped = world.observe(&state, 5);
    assert_eq!(deployment(&tripped.state, B).rollout_state, Some(Failed));
    assert_eq!(
        tripped.rollback.map(|r| r.to_deployment),
        Some(A.to_owned())
    );
}

#[test]
fn failures_are_counted_once_even_as_pods_and_events_come_and_go() {
    let (state, mut world) = b_over_a(false, false);
    let first = restarted(pod(3, B, Phase::NotReady), 1);
    world.events = vec![event(&first, "Failed", 1)];
    world.pods.push(first);
    let one = world.observe(&state, 10).state;
    assert_eq!(deployment(&one, B).failed_tasks, Some(2));

    world.events.clear();
    let expired = world.observe(&one, 20).state;
    assert_eq!(deployment(&expired, B).failed_tasks, Some(2));

    world.pods[2] = pod(4, B, Phase::Pending);
    let replaced = world.observe(&expired, 30).state;
    assert_eq!(deployment(&replaced, B).failed_tasks, Some(2));

    world.pods[2] = restarted(pod(4, B, Phase::NotReady), 1);
    let again = world.observe(&replaced, 40).state;
    assert_eq!(deployment(&again, B).failed_tasks, Some(3));
    assert_eq!(deployment(&again, A).failed_tasks, Some(0));
}

#[test]
fn an_exceeded_progress_deadline_fails_the_primary_deployment() {
    let (state, mut world) = b_over_a(false, false);
    crash_b(&mut world, [0, 0]);
    world.deployment = Some(kube_deployment(B, true));
    let observed = world.observe(&state, 700);
    let b = deployment(&observed.state, B);
    assert_eq!(b.rollout_state, Some(Failed));
    assert_eq!(
        b.rollout_state_reason.as_deref(),
        Some(
            format!(
                "ECS deployment {B} failed: tasks did not reach a steady state within 600 seconds."
            )
            .as_str()
        )
    );
    assert_eq!(added(&state, &observed.state).last(), Some(&failed(B)));
    assert_eq!(observed.rollback, None);
}

#[test]
fn a_deadline_left_from_an_earlier_template_does_not_fail_a_new_deployment() {
    let (state, mut world) = b_over_a(false, false);
    world.deployment = Some(kube_deployment(A, true));
    let not_applied = world.observe(&state, 10);
    assert_eq!(
        deployment(&not_applied.state, B).rollout_state,
        Some(InProgress)
    );

    let mut unobserved = kube_deployment(B, true);
    unobserved.metadata.generation = Some(3);
    world.deployment = Some(unobserved);
    let stale = world.observe(&state, 10);
    assert_eq!(deployment(&stale.state, B).rollout_state, Some(InProgress));
}

#[test]
fn a_draining_service_counts_down_without_steady_state_or_placement_events() {
    let (stable, mut world) = stable_on_a(2);
    let mut deleted = stable.clone();
    deleted.service.status = Some("DRAINING".to_owned());
    deleted.service.desired_count = Some(0);
    deleted.service.deployments.as_mut().unwrap()[0].desired_count = Some(0);

    world.replica_sets = vec![replica_set(A, 0)];
    world.pods = vec![
        pod(1, A, Phase::Terminating),
        pod(2, A, Phase::Running),
        pod(3, A, Phase::Unschedulable(INSUFFICIENT_CPU)),
    ];
    let going = world.observe(&deleted, 10).state;
    assert_eq!(added(&deleted, &going), [stopped(&[1])]);
    assert_eq!(going.service.running_count, Some(1));
    assert!(!going.memory.steady);

    world.pods.clear();
    let gone = world.observe(&going, 20);
    assert_eq!(added(&going, &gone.state), [stopped(&[2])]);
    assert_eq!(
        (
            gone.state.service.running_count,
            gone.state.service.pending_count
        ),
        (Some(0), Some(0))
    );
    assert_eq!(gone.state.service.status.as_deref(), Some("DRAINING"));
    assert_eq!(gone.rollback, None);
}

#[test]
fn an_inactive_service_is_left_as_it_is() {
    let (stable, world) = stable_on_a(2);
    let mut inactive = stable;
    inactive.service.status = Some("INACTIVE".to_owned());
    inactive.service.deployments = Some(Vec::new());
    let observed = world.observe(&inactive, 10);
    assert_eq!(observed.state, inactive);
}

#[test]
fn an_observation_changes_only_observed_fields() {
    let (state, mut world) = b_over_a(true, true);
    crash_b(&mut world, [3, 3]);
    world.replica_sets = vec![replica_set(A, 1), replica_set(B, 2)];
    let observed = world.observe(&state, 10);
    assert!(observed.rollback.is_some());

    let strip = |s: &ServiceState| {
        let mut service = s.service.clone();
        service.running_count = None;
        service.pending_count = None;
        service.events = None;
        for d in service.deployments.iter_mut().flatten() {
            d.running_count = None;
            d.pending_count = None;
            d.failed_tasks = None;
            d.rollout_state = None;
            d.rollout_state_reason = None;
            d.updated_at = None;
            if d.status.as_deref() != Some("PRIMARY") {
                d.desired_count = None;
            }
        }
        (service, s.client_token.clone())
    };
    assert_eq!(strip(&observed.state), strip(&state));
    assert_eq!(observed.state.service.desired_count, Some(2));
    assert_eq!(deployment(&observed.state, B).desired_count, Some(2));
    assert_eq!(deployment(&observed.state, A).desired_count, Some(1));
}
