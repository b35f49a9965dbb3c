//! A service's deployment history, as ListServiceDeployments, DescribeServiceDeployments
//! and DescribeServiceRevisions show it: each service deployment, with the service
//! revision it deploys, is recorded when it starts and follows its ECS deployment's
//! rollout. Nothing is invented: an entry exists because a deployment started.
//!
//! - [`started`]: a new PRIMARY deployment (CreateService, UpdateService) is a new service
//!   deployment, IN_PROGRESS, from the previous one's revision to a new revision; one
//!   still in progress is STOPPED by it.
//! - [`rolling_back`]: the circuit breaker (or StopServiceDeployment) rolls a service
//!   deployment back: ROLLBACK_IN_PROGRESS, carried out by the new ECS deployment.
//! - [`follow`]: a rollout COMPLETED makes it SUCCESSFUL (ROLLBACK_SUCCESSFUL for a
//!   rollback); FAILED makes it STOPPED (ROLLBACK_FAILED for a rollback).
//! - Task counts are not stored: [`with_counts`] fills them from the ECS deployments.

use kubecs_api_models::{
    Deployment, DeploymentRolloutState, Rollback, Service, ServiceDeployment,
    ServiceDeploymentStatus, ServiceRevision, ServiceRevisionSummary, TaskDefinition, Timestamp,
};
use kubecs_storage::{HistoryEntry, ServiceState};

/// Service deployments kept per service (the newest).
pub const KEPT: usize = 20;

/// The id part of an ECS deployment id (`ecs-svc/8426326277060308234`).
fn short(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// `arn:...:<kind>/<cluster>/<service>/<id>` for the service `service_arn`.
fn arn(service_arn: &str, kind: &str, id: &str) -> String {
    match service_arn.split_once(":service/") {
        Some((prefix, rest)) => format!("{prefix}:{kind}/{rest}/{id}"),
        None => format!("{service_arn}/{kind}/{id}"),
    }
}

/// Records the service's PRIMARY deployment as a new service deployment. `td` is its
/// task definition (its container images go into the revision).
pub fn started(state: &mut ServiceState, td: Option<&TaskDefinition>, now: Timestamp) {
    let service = &state.service;
    let Some(primary) = service.deployments.iter().flatten().next() else {
        return;
    };
    let Some(id) = primary.id.clone() else {
        return;
    };
    let service_arn = service.service_arn.clone().unwrap_or_default();
    let revision = revision_of(service, primary, td, &service_arn, now);
    let source = state
        .history
        .first()
        .and_then(|e| e.revision.service_revision_arn.clone());
    for entry in &mut state.history {
        let status = entry.deployment.status.clone();
        if matches!(
            status,
            Some(ServiceDeploymentStatus::InProgress | ServiceDeploymentStatus::Pending)
        ) {
            entry.deployment.status = Some(ServiceDeploymentStatus::Stopped);
            entry.deployment.status_reason =
                Some("Stopped: a new deployment of the service started.".to_owned());
            entry.deployment.stopped_at = Some(now);
            entry.deployment.updated_at = Some(now);
        }
    }
    let deployment = ServiceDeployment {
        service_deployment_arn: Some(arn(&service_arn, "service-deployment", short(&id))),
        service_arn: service.service_arn.clone(),
        cluster_arn: service.cluster_arn.clone(),
        created_at: Some(now),
        started_at: Some(now),
        updated_at: Some(now),
        source_service_revisions: Some(
            source
                .map(|arn| ServiceRevisionSummary {
                    arn: Some(arn),
                    ..ServiceRevisionSummary::default()
                })
                .into_iter()
                .collect(),
        ),
        target_service_revision: Some(ServiceRevisionSummary {
            arn: revision.service_revision_arn.clone(),
            ..ServiceRevisionSummary::default()
        }),
        status: Some(ServiceDeploymentStatus::InProgress),
        deployment_configuration: service.deployment_configuration.clone(),
        ..ServiceDeployment::default()
    };
    state.history.insert(
        0,
        HistoryEntry {
            deployment,
            revision,
            ecs_deployments: vec![id],
        },
    );
    state.history.truncate(KEPT);
}

/// The service revision a deployment deploys: the service's configuration as it starts.
fn revision_of(
    service: &Service,
    primary: &Deployment,
    td: Option<&TaskDefinition>,
    service_arn: &str,
    now: Timestamp,
) -> ServiceRevision {
    let id = primary.id.as_deref().map(short).unwrap_or_default();
    ServiceRevision {
        service_revision_arn: Some(arn(service_arn, "service-revision", id)),
        service_arn: service.service_arn.clone(),
        cluster_arn: service.cluster_arn.clone(),
        task_definition: primary.task_definition.clone(),
        capacity_provider_strategy: primary.capacity_provider_strategy.clone(),
        launch_type: primary.launch_type.clone(),
        platform_version: primary.platform_version.clone(),
        platform_family: primary.platform_family.clone(),
        load_balancers: service.load_balancers.clone(),
        service_registries: service.service_registries.clone(),
        network_configuration: primary.network_configuration.clone(),
        service_connect_configuration: primary.service_connect_configuration.clone(),
        container_images: td.map(|td| {
            td.container_definitions
                .iter()
                .flatten()
                .map(|c| kubecs_api_models::ContainerImage {
                    container_name: c.name.clone(),
                    image: c.image.clone(),
                    image_digest: None,
                })
                .collect()
        }),
        guard_duty_enabled: Some(false),
        created_at: Some(now),
        ..ServiceRevision::default()
    }
}

/// Rolls back the service deployment of the ECS deployment `failed`: the service's new
/// PRIMARY (already started) carries the rollback to the revision of `to` (an ECS
/// deployment id), for `reason`.
pub fn rolling_back(
    state: &mut ServiceState,
    failed: &str,
    to: &str,
    reason: &str,
    now: Timestamp,
) {
    let Some(new_primary) = state
        .service
        .deployments
        .iter()
        .flatten()
        .next()
        .and_then(|d| d.id.clone())
    else {
        return;
    };
    let target = state
        .history
        .iter()
        .find(|e| e.ecs_deployments.iter().any(|d| d == to))
        .and_then(|e| e.revision.service_revision_arn.clone());
    let Some(entry) = state
        .history
        .iter_mut()
        .find(|e| e.ecs_deployments.iter().any(|d| d == failed))
    else {
        return;
    };
    let deployment = &mut entry.deployment;
    deployment.status = Some(ServiceDeploymentStatus::RollbackInProgress);
    deployment.status_reason = Some(reason.to_owned());
    deployment.finished_at = None;
    deployment.stopped_at = None;
    deployment.updated_at = Some(now);
    deployment.rollback = Some(Rollback {
        reason: Some(reason.to_owned()),
        started_at: Some(now),
        service_revision_arn: target,
    });
    entry.ecs_deployments.push(new_primary);
}

/// Follows the rollouts of the service's ECS deployments.
pub fn follow(state: &mut ServiceState, now: Timestamp) {
    let deployments = state.service.deployments.clone().unwrap_or_default();
    for entry in &mut state.history {
        let status = entry.deployment.status.clone();
        let rollback = status == Some(ServiceDeploymentStatus::RollbackInProgress);
        if !rollback && status != Some(ServiceDeploymentStatus::InProgress) {
            continue;
        }
        let Some(carrier) = entry
            .ecs_deployments
            .last()
            .and_then(|id| deployments.iter().find(|d| d.id.as_deref() == Some(id)))
        else {
            continue;
        };
        let next = match (&carrier.rollout_state, rollback) {
            (Some(DeploymentRolloutState::Completed), false) => ServiceDeploymentStatus::Successful,
            (Some(DeploymentRolloutState::Completed), true) => {
                ServiceDeploymentStatus::RollbackSuccessful
            }
            (Some(DeploymentRolloutState::Failed), false) => ServiceDeploymentStatus::Stopped,
            (Some(DeploymentRolloutState::Failed), true) => ServiceDeploymentStatus::RollbackFailed,
            _ => continue,
        };
        let deployment = &mut entry.deployment;
        if next == ServiceDeploymentStatus::Stopped {
            deployment.stopped_at = Some(now);
        } else {
            deployment.finished_at = Some(now);
        }
        if !rollback {
            deployment.status_reason = carrier.rollout_state_reason.clone();
        }
        deployment.status = Some(next);
        deployment.updated_at = Some(now);
    }
}

/// The service deployment with its revisions' task counts, from the service's ECS
/// deployments (a revision no deployment runs any more has none).
pub fn with_counts(entry: &HistoryEntry, state: &ServiceState) -> ServiceDeployment {
    let deployments = state.service.deployments.clone().unwrap_or_default();
    let counts = |revision_arn: &str| {
        let ids: Vec<&String> = state
            .history
            .iter()
            .filter(|e| e.revision.service_revision_arn.as_deref() == Some(revision_arn))
            .flat_map(|e| e.ecs_deployments.first())
            .collect();
        let of: Vec<&Deployment> = deployments
            .iter()
            .filter(|d| d.id.as_ref().is_some_and(|id| ids.contains(&id)))
            .collect();
        (
            of.iter().map(|d| d.desired_count.unwrap_or(0)).sum::<i32>(),
            of.iter().map(|d| d.running_count.unwrap_or(0)).sum::<i32>(),
            of.iter().map(|d| d.pending_count.unwrap_or(0)).sum::<i32>(),
        )
    };
    let summary = |s: &ServiceRevisionSummary| {
        let (requested, running, pending) = counts(s.arn.as_deref().unwrap_or_default());
        ServiceRevisionSummary {
            requested_task_count: Some(requested),
            running_task_count: Some(running),
            pending_task_count: Some(pending),
            ..s.clone()
        }
    };
    let mut out = entry.deployment.clone();
    out.source_service_revisions = out
        .source_service_revisions
        .map(|all| all.iter().map(summary).collect());
    out.target_service_revision = out.target_service_revision.as_ref().map(summary);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment;
    use kubecs_api_models::status::DEPLOYMENT_PRIMARY;

    fn state() -> ServiceState {
        let service = Service {
            service_arn: Some("arn:aws:ecs:us-east-1:123456789012:service/prod/web".to_owned()),
            cluster_arn: Some("arn:aws:ecs:us-east-1:123456789012:cluster/prod".to_owned()),
            task_definition: Some(
                "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1".to_owned(),
            ),
            desired_count: Some(2),
            ..Service::default()
        };
        let mut state = ServiceState {
            service,
            ..ServiceState::default()
        };
        let primary = deployment::primary(&state.service, Timestamp::from_epoch_millis(0));
        state.service.deployments = Some(vec![primary]);
        started(&mut state, None, Timestamp::from_epoch_millis(0));
        state
    }

    fn primary_id(state: &ServiceState) -> String {
        state.service.deployments.as_ref().unwrap()[0]
            .id
            .clone()
            .unwrap()
    }

    fn set_rollout(state: &mut ServiceState, id: &str, rollout: DeploymentRolloutState) {
        for d in state.service.deployments.iter_mut().flatten() {
            if d.id.as_deref() == Some(id) {
                d.rollout_state = Some(rollout.clone());
            }
        }
    }

    #[test]
    fn a_deployment_is_recorded_with_its_revision_and_succeeds_with_its_rollout() {
        let mut state = state();
        let id = primary_id(&state);
        let entry = &state.history[0];
        let number = id.rsplit('/').next().unwrap();
        assert_eq!(
            entry.deployment.service_deployment_arn.as_deref(),
            Some(
                format!("arn:aws:ecs:us-east-1:123456789012:service-deployment/prod/web/{number}")
                    .as_str()
            )
        );
        assert_eq!(
            entry.revision.task_definition,
            state.service.task_definition
        );
        assert_eq!(
            entry.deployment.status,
            Some(ServiceDeploymentStatus::InProgress)
        );
        assert_eq!(entry.deployment.source_service_revisions, Some(Vec::new()));

        set_rollout(&mut state, &id, DeploymentRolloutState::Completed);
        follow(&mut state, Timestamp::from_epoch_millis(5_000));
        let done = &state.history[0].deployment;
        assert_eq!(done.status, Some(ServiceDeploymentStatus::Successful));
        assert_eq!(done.finished_at, Some(Timestamp::from_epoch_millis(5_000)));
    }

    #[test]
    fn a_new_deployment_stops_the_one_in_progress_and_starts_from_its_revision() {
        let mut state = state();
        let first_revision = state.history[0].revision.service_revision_arn.clone();
        deployment::start_new(&mut state.service, Timestamp::from_epoch_millis(1_000));
        started(&mut state, None, Timestamp::from_epoch_millis(1_000));
        assert_eq!(state.history.len(), 2);
        assert_eq!(
            state.history[1].deployment.status,
            Some(ServiceDeploymentStatus::Stopped)
        );
        assert_eq!(
            state.history[0]
                .deployment
                .source_service_revisions
                .as_ref()
                .unwrap()[0]
                .arn,
            first_revision
        );
        // Counts come from the ECS deployments: the new one's desired count is requested.
        let shown = with_counts(&state.history[0], &state);
        assert_eq!(
            shown.target_service_revision.unwrap().requested_task_count,
            Some(2)
        );
    }

    #[test]
    fn a_rollback_is_carried_by_the_new_deployment_and_ends_with_it() {
        let mut state = state();
        let good = primary_id(&state);
        set_rollout(&mut state, &good, DeploymentRolloutState::Completed);
        follow(&mut state, Timestamp::from_epoch_millis(1_000));
        deployment::start_new(&mut state.service, Timestamp::from_epoch_millis(2_000));
        started(&mut state, None, Timestamp::from_epoch_millis(2_000));
        let bad = primary_id(&state);
        set_rollout(&mut state, &bad, DeploymentRolloutState::Failed);
        follow(&mut state, Timestamp::from_epoch_millis(3_000));
        assert_eq!(
            state.history[0].deployment.status,
            Some(ServiceDeploymentStatus::Stopped)
        );

        deployment::start_new(&mut state.service, Timestamp::from_epoch_millis(3_000));
        rolling_back(
            &mut state,
            &bad,
            &good,
            "circuit breaker",
            Timestamp::from_epoch_millis(3_000),
        );
        let entry = &state.history[0];
        assert_eq!(
            entry.deployment.status,
            Some(ServiceDeploymentStatus::RollbackInProgress)
        );
        assert_eq!(
            entry
                .deployment
                .rollback
                .as_ref()
                .unwrap()
                .service_revision_arn,
            state.history[1].revision.service_revision_arn
        );
        assert_eq!(
            state.history.len(),
            2,
            "a rollback is no new service deployment"
        );

        let carrier = primary_id(&state);
        assert_eq!(
            state.service.deployments.as_ref().unwrap()[0]
                .status
                .as_deref(),
            Some(DEPLOYMENT_PRIMARY)
        );
        set_rollout(&mut state, &carrier, DeploymentRolloutState::Completed);
        follow(&mut state, Timestamp::from_epoch_millis(4_000));
        assert_eq!(
            state.history[0].deployment.status,
            Some(ServiceDeploymentStatus::RollbackSuccessful)
        );
    }

    #[test]
    fn only_the_newest_deployments_are_kept() {
        let mut state = state();
        for n in 0..KEPT + 5 {
            let at = Timestamp::from_epoch_millis(n as i64 * 1_000);
            deployment::start_new(&mut state.service, at);
            started(&mut state, None, at);
        }
        assert_eq!(state.history.len(), KEPT);
    }
}
