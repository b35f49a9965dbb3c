//! ECS deployments of a service: the deployment configuration's defaults and bounds, and
//! scaling the PRIMARY deployment. Starting a new PRIMARY deployment is shared with the
//! reconciler's rollback (`kubecs_reconciler::deployment`).

pub use kubecs_reconciler::deployment::{primary, start_new};

use crate::error::ApiError;
use kubecs_api_models::{
    DeploymentCircuitBreaker, DeploymentConfiguration, SchedulingStrategy, Service, Timestamp,
};

/// ECS's defaults: REPLICA 200/100, DAEMON 100/0; the circuit breaker off.
pub fn with_defaults(
    given: Option<&DeploymentConfiguration>,
    strategy: &SchedulingStrategy,
) -> DeploymentConfiguration {
    let (max, min) = match strategy {
        SchedulingStrategy::Daemon => (100, 0),
        _ => (200, 100),
    };
    let mut config = given.cloned().unwrap_or_default();
    config.maximum_percent.get_or_insert(max);
    config.minimum_healthy_percent.get_or_insert(min);
    config
        .deployment_circuit_breaker
        .get_or_insert(DeploymentCircuitBreaker {
            enable: Some(false),
            rollback: Some(false),
        });
    config
}

/// An UpdateService's configuration over the current one: members it sets replace
/// the current ones, members it leaves out are kept.
pub fn overlay(
    current: &DeploymentConfiguration,
    given: &DeploymentConfiguration,
) -> DeploymentConfiguration {
    let mut merged = current.clone();
    macro_rules! take {
        ($($member:ident),*) => {
            $( if given.$member.is_some() { merged.$member = given.$member.clone(); } )*
        };
    }
    take!(
        maximum_percent,
        minimum_healthy_percent,
        deployment_circuit_breaker,
        alarms,
        strategy,
        bake_time_in_minutes,
        lifecycle_hooks,
        canary_configuration,
        linear_configuration
    );
    merged
}

/// The bounds ECS enforces on rolling-update percentages.
pub fn check(config: &DeploymentConfiguration) -> Result<(), ApiError> {
    let min = config.minimum_healthy_percent.unwrap_or(100);
    let max = config.maximum_percent.unwrap_or(200);
    if !(0..=100).contains(&min) {
        return Err(ApiError::invalid_parameter(format!(
            "minimumHealthyPercent must be between 0 and 100, but was {min}."
        )));
    }
    if max < min || max <= 0 {
        return Err(ApiError::invalid_parameter(format!(
            "maximumPercent ({max}) must be greater than 0 and not less than minimumHealthyPercent ({min})."
        )));
    }
    Ok(())
}

/// A scale-only change: the PRIMARY deployment's desired count follows the service's.
pub fn scale_primary(service: &mut Service, now: Timestamp) {
    let desired = service.desired_count;
    for d in service.deployments.iter_mut().flatten() {
        if d.status.as_deref() == Some("PRIMARY") {
            d.desired_count = desired;
            d.updated_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_scheduling_strategy_and_keep_what_was_given() {
        let replica = with_defaults(None, &SchedulingStrategy::Replica);
        assert_eq!(replica.maximum_percent, Some(200));
        assert_eq!(replica.minimum_healthy_percent, Some(100));
        let breaker = replica.deployment_circuit_breaker.unwrap();
        assert_eq!(
            (breaker.enable, breaker.rollback),
            (Some(false), Some(false))
        );
        let daemon = with_defaults(None, &SchedulingStrategy::Daemon);
        assert_eq!(daemon.maximum_percent, Some(100));
        assert_eq!(daemon.minimum_healthy_percent, Some(0));
        let given = DeploymentConfiguration {
            maximum_percent: Some(150),
            ..Default::default()
        };
        let merged = with_defaults(Some(&given), &SchedulingStrategy::Replica);
        assert_eq!(merged.maximum_percent, Some(150));
        assert_eq!(merged.minimum_healthy_percent, Some(100));
    }

    #[test]
    fn an_update_keeps_the_members_it_does_not_set() {
        let current = DeploymentConfiguration {
            maximum_percent: Some(150),
            ..with_defaults(None, &SchedulingStrategy::Replica)
        };
        let given = DeploymentConfiguration {
            minimum_healthy_percent: Some(50),
            ..Default::default()
        };
        let merged = overlay(&current, &given);
        assert_eq!(merged.maximum_percent, Some(150));
        assert_eq!(merged.minimum_healthy_percent, Some(50));
        assert_eq!(
            merged.deployment_circuit_breaker,
            current.deployment_circuit_breaker
        );
    }

    #[test]
    fn percentages_out_of_bounds_are_refused() {
        let bad_min = DeploymentConfiguration {
            minimum_healthy_percent: Some(120),
            maximum_percent: Some(200),
            ..Default::default()
        };
        assert!(check(&bad_min).is_err());
        let max_below_min = DeploymentConfiguration {
            minimum_healthy_percent: Some(100),
            maximum_percent: Some(50),
            ..Default::default()
        };
        assert!(check(&max_below_min).is_err());
        assert!(check(&with_defaults(None, &SchedulingStrategy::Replica)).is_ok());
    }

    #[test]
    fn deployment_ids_have_the_ecs_form() {
        let id = kubecs_reconciler::deployment::new_id();
        let digits = id.strip_prefix("ecs-svc/").unwrap();
        assert_eq!(digits.len(), 19);
        assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn a_new_deployment_demotes_the_primary_to_active() {
        let mut service = Service {
            task_definition: Some("td:1".into()),
            desired_count: Some(2),
            ..Service::default()
        };
        let t = Timestamp::from_epoch_millis(1000);
        service.deployments = Some(vec![primary(&service, t)]);
        service.task_definition = Some("td:2".into());
        start_new(&mut service, t);
        let d = service.deployments.unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].status.as_deref(), Some("PRIMARY"));
        assert_eq!(d[0].task_definition.as_deref(), Some("td:2"));
        assert_eq!(d[1].status.as_deref(), Some("ACTIVE"));
    }
}
