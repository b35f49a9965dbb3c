//! The service events that report tasks, placement and steady state, each told once.
//!
//! - Started/stopped: `memory.known_tasks` holds the live tasks (PENDING or RUNNING)
//!   already reported started. A live task not in it has started; a task in it that is
//!   gone, stopping or finished has stopped. A pod never placed is never reported, as
//!   ECS reports no task for a placement that failed.
//! - Placement: one event per distinct reason while pods cannot be placed. ECS omits a
//!   duplicate message "until either the cause is resolved or six hours passes"
//!   (Developer Guide, "Service event messages"); `memory.placement_failures` remembers
//!   what was said and when, and forgets a reason once no pod has it.
//! - Steady state: said on entering it (`memory.steady`): one deployment, PRIMARY and
//!   COMPLETED, with as many tasks running as desired, none pending and none stopping
//!   (a scale-in is steady once its tasks are gone).

use std::collections::BTreeSet;

use kubecs_api_models::{DeploymentRolloutState, Timestamp};
use kubecs_storage::ServiceState;

use super::deployments::is_primary;
use super::messages::{self, PlacementFailure};
use super::tasks::{Task, TaskState};
use crate::status::push_event;

/// How long ECS waits before repeating a placement failure whose cause persists.
pub const PLACEMENT_REPEAT_MILLIS: i64 = 6 * 60 * 60 * 1000;

/// Reports tasks started and stopped since the last observation.
pub fn tasks(state: &mut ServiceState, name: &str, tasks: &[Task<'_>], now: Timestamp) {
    let live: BTreeSet<String> = tasks
        .iter()
        .filter(|t| t.state.is_live())
        .map(|t| t.id.clone())
        .collect();
    let known = &state.memory.known_tasks;
    let started: Vec<String> = live.difference(known).cloned().collect();
    let stopped: Vec<String> = known.difference(&live).cloned().collect();
    let messages = messages::tasks_started(name, &started)
        .into_iter()
        .chain(messages::tasks_stopped(name, &stopped));
    for message in messages {
        push_event(&mut state.service, now, message);
    }
    state.memory.known_tasks = live;
}

/// Reports pods the scheduler cannot place, once per reason (see the module docs).
pub fn placement(state: &mut ServiceState, name: &str, tasks: &[Task<'_>], now: Timestamp) {
    let current: BTreeSet<String> = tasks
        .iter()
        .filter_map(|t| t.unschedulable)
        .map(|m| messages::unable_to_place(name, PlacementFailure::of_scheduler_message(m)))
        .collect();
    let reported = &mut state.memory.placement_failures;
    reported.retain(|message, _| current.contains(message));
    for message in current {
        let due = reported.get(&message).is_none_or(|at| {
            now.epoch_millis().saturating_sub(at.epoch_millis()) >= PLACEMENT_REPEAT_MILLIS
        });
        if due {
            reported.insert(message.clone(), now);
            push_event(&mut state.service, now, message);
        }
    }
}

/// Reports entering a steady state (never for a service being drained: `may_be_steady`
/// false).
pub fn steady_state(
    state: &mut ServiceState,
    name: &str,
    tasks: &[Task<'_>],
    may_be_steady: bool,
    now: Timestamp,
) {
    let service = &state.service;
    let deployments = service.deployments.as_deref().unwrap_or_default();
    let steady = may_be_steady
        && match deployments {
            [only] => {
                is_primary(only) && only.rollout_state == Some(DeploymentRolloutState::Completed)
            }
            _ => false,
        }
        && service.running_count.unwrap_or(0) == service.desired_count.unwrap_or(0)
        && service.pending_count.unwrap_or(0) == 0
        && !tasks.iter().any(|t| t.state == TaskState::Stopping);
    if steady && !state.memory.steady {
        push_event(&mut state.service, now, messages::steady_state(name));
    }
    state.memory.steady = steady;
}
