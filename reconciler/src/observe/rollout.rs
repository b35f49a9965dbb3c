//! The PRIMARY deployment's rollout: IN_PROGRESS until it COMPLETES or FAILS, each once.
//!
//! - COMPLETED: its `runningCount` equals its `desiredCount`, nothing of it is pending,
//!   and nothing else (other deployments' pods or ReplicaSets) is left. Remembered in
//!   `memory.last_completed`, the target of a later rollback.
//! - FAILED by the circuit breaker ([`super::breaker`]) when enabled, or when the
//!   Kubernetes Deployment reports `Progressing=False` with reason
//!   `ProgressDeadlineExceeded` for this deployment's template (pods that never become
//!   Ready: ECS would fail their health checks and replace them until the breaker
//!   trips). With `rollback` and a COMPLETED deployment to go back to, a [`Rollback`] is
//!   returned; the loop starts that deployment.
//!
//! A COMPLETED or FAILED rollout never changes again: ECS keeps the state of a
//! deployment once it has one, through later scaling and task failures.

use k8s_openapi::api::apps::v1::Deployment as KubeDeployment;
use kubecs_api_models::{DeploymentRolloutState, Timestamp};
use kubecs_storage::{CompletedDeployment, ServiceState};

use super::deployments::{is_primary, others_left};
use super::messages;
use super::tasks::Task;
use super::{breaker, Snapshot};
use crate::convert::names::DEPLOYMENT_ID_ANNOTATION;
use crate::convert::workload::PROGRESS_DEADLINE_SECONDS;
use crate::status::push_event;

/// A rollback the circuit breaker asks for: start a deployment of `task_definition`,
/// the one `to_deployment` completed with, in place of `failed_deployment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    /// The PRIMARY deployment that failed.
    pub failed_deployment: String,
    /// The last deployment that COMPLETED.
    pub to_deployment: String,
    /// Its task definition ARN.
    pub task_definition: String,
}

enum Outcome {
    Completed,
    Failed(String),
}

/// Moves the PRIMARY deployment's rollout on, if it is IN_PROGRESS and has finished
/// either way; adds the events ECS adds and returns the rollback to start, if any.
pub fn advance(
    state: &mut ServiceState,
    name: &str,
    snapshot: &Snapshot<'_>,
    tasks: &[Task<'_>],
    now: Timestamp,
) -> Option<Rollback> {
    let config = state.service.deployment_configuration.clone();
    let primary = state
        .service
        .deployments
        .iter_mut()
        .flatten()
        .find(|d| is_primary(d))?;
    if !matches!(
        primary.rollout_state,
        None | Some(DeploymentRolloutState::InProgress)
    ) {
        return None;
    }
    let id = primary.id.clone()?;
    let desired = primary.desired_count.unwrap_or(0);
    let outcome = if let Some(seconds) = deadline_exceeded(snapshot.deployment, &id) {
        Outcome::Failed(messages::deadline_reason(&id, seconds))
    } else if breaker::trips(config.as_ref(), primary.failed_tasks.unwrap_or(0), desired) {
        Outcome::Failed(messages::CIRCUIT_BREAKER_REASON.to_owned())
    } else if primary.running_count == Some(desired)
        && primary.pending_count.unwrap_or(0) == 0
        && !others_left(&id, tasks, snapshot.replica_sets)
    {
        Outcome::Completed
    } else {
        return None;
    };
    primary.updated_at = Some(now);
    match outcome {
        Outcome::Completed => {
            primary.rollout_state = Some(DeploymentRolloutState::Completed);
            primary.rollout_state_reason = Some(messages::completed_reason(&id));
            state.memory.last_completed = Some(CompletedDeployment {
                id: id.clone(),
                task_definition: primary.task_definition.clone().unwrap_or_default(),
            });
            let message = messages::deployment_completed(name, &id);
            push_event(&mut state.service, now, message);
            None
        }
        Outcome::Failed(reason) => {
            primary.rollout_state = Some(DeploymentRolloutState::Failed);
            primary.rollout_state_reason = Some(reason);
            push_event(
                &mut state.service,
                now,
                messages::deployment_failed(name, &id),
            );
            let (_, rollback) = breaker::settings(config.as_ref());
            let target = state
                .memory
                .last_completed
                .as_ref()
                .filter(|last| rollback && last.id != id)?;
            let message = messages::rolling_back(name, &target.id);
            let rollback = Rollback {
                failed_deployment: id,
                to_deployment: target.id.clone(),
                task_definition: target.task_definition.clone(),
            };
            push_event(&mut state.service, now, message);
            Some(rollback)
        }
    }
}

/// The progress deadline in seconds, when the Kubernetes Deployment has exceeded it
/// while rolling out ECS deployment `id`: its template must be that deployment's and
/// its status must be of its current spec, so that a condition left from an earlier
/// template never fails a new deployment.
fn deadline_exceeded(deployment: Option<&KubeDeployment>, id: &str) -> Option<i32> {
    let deployment = deployment?;
    let spec = deployment.spec.as_ref()?;
    let template_id = spec
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(DEPLOYMENT_ID_ANNOTATION)?;
    if template_id != id {
        return None;
    }
    let status = deployment.status.as_ref()?;
    if let (Some(generation), Some(observed)) =
        (deployment.metadata.generation, status.observed_generation)
    {
        if observed < generation {
            return None;
        }
    }
    let exceeded = status.conditions.iter().flatten().any(|c| {
        c.type_ == "Progressing"
            && c.status == "False"
            && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    exceeded.then(|| {
        spec.progress_deadline_seconds
            .unwrap_or(PROGRESS_DEADLINE_SECONDS)
    })
}
