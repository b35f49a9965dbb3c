//! Starting a new ECS deployment of a service: the API does it for a new task definition
//! or `forceNewDeployment`, the reconciler for a circuit-breaker rollback. The previous
//! PRIMARY becomes ACTIVE until the reconciler has drained it.

use kubecs_api_models::status::{DEPLOYMENT_ACTIVE, DEPLOYMENT_PRIMARY};
use kubecs_api_models::{Deployment, DeploymentRolloutState, Service, Timestamp};

/// `ecs-svc/` and 19 digits, the form of ECS deployment ids.
pub fn new_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000_000u128;
    format!("ecs-svc/{n:019}")
}

/// A new PRIMARY deployment of `service` as it now stands (task definition, counts,
/// launch settings), IN_PROGRESS until the reconciler sees it complete.
pub fn primary(service: &Service, now: Timestamp) -> Deployment {
    let id = new_id();
    Deployment {
        rollout_state_reason: Some(format!("ECS deployment {id} in progress.")),
        id: Some(id),
        status: Some(DEPLOYMENT_PRIMARY.to_owned()),
        task_definition: service.task_definition.clone(),
        desired_count: service.desired_count,
        pending_count: Some(0),
        running_count: Some(0),
        failed_tasks: Some(0),
        created_at: Some(now),
        updated_at: Some(now),
        launch_type: service.launch_type.clone(),
        capacity_provider_strategy: service.capacity_provider_strategy.clone(),
        platform_version: service.platform_version.clone(),
        platform_family: service.platform_family.clone(),
        network_configuration: service.network_configuration.clone(),
        rollout_state: Some(DeploymentRolloutState::InProgress),
        ..Deployment::default()
    }
}

/// Starts a new deployment: the current PRIMARY becomes ACTIVE (the reconciler drains
/// it), the new one is PRIMARY.
pub fn start_new(service: &mut Service, now: Timestamp) {
    let next = primary(service, now);
    let deployments = service.deployments.get_or_insert_with(Vec::new);
    for old in deployments.iter_mut() {
        if old.status.as_deref() == Some(DEPLOYMENT_PRIMARY) {
            old.status = Some(DEPLOYMENT_ACTIVE.to_owned());
            old.updated_at = Some(now);
        }
    }
    deployments.insert(0, next);
}
