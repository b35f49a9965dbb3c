//! The deployment circuit breaker's rule (`deploymentConfiguration.deploymentCircuitBreaker`).
//!
//! ECS fails a deployment once the number of its failed tasks reaches a threshold of
//! half the desired count, rounded up, and at least 3 and at most 200 (Amazon ECS
//! Developer Guide, "How the Amazon ECS deployment circuit breaker detects failures",
//! <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html>,
//! and the API reference of `ServiceDeploymentCircuitBreaker.threshold`; older versions
//! of the guide said a minimum of 10). With `rollback`, ECS then starts a deployment of
//! the most recent COMPLETED one; without one to go back to, the deployment stays failed.
//!
//! What counts as a failed task here is [`super::tasks::failures`]: container restarts,
//! failed pods, and failed placements and starts reported in events. ECS's first stage
//! stops counting failed starts once one task runs and then counts failed health
//! checks; Kubernetes restarts a crashing container in place instead of replacing the
//! task, so every restart of the deployment's pods counts, whether or not one ran.

use kubecs_api_models::DeploymentConfiguration;

/// ECS's lower bound on the failed-task threshold.
pub const MIN_THRESHOLD: i32 = 3;
/// ECS's upper bound on the failed-task threshold.
pub const MAX_THRESHOLD: i32 = 200;

/// The failed-task threshold at a desired count: `ceil(0.5 * desired)` within
/// [`MIN_THRESHOLD`]..=[`MAX_THRESHOLD`].
pub fn threshold(desired: i32) -> i32 {
    let half_up = desired.max(0) / 2 + desired.max(0) % 2;
    half_up.clamp(MIN_THRESHOLD, MAX_THRESHOLD)
}

/// The circuit breaker's settings as given: `(enable, rollback)`, both off when absent.
pub fn settings(config: Option<&DeploymentConfiguration>) -> (bool, bool) {
    let breaker = config.and_then(|c| c.deployment_circuit_breaker.as_ref());
    let enable = breaker.and_then(|b| b.enable) == Some(true);
    let rollback = breaker.and_then(|b| b.rollback) == Some(true);
    (enable, enable && rollback)
}

/// Whether an enabled breaker trips for a deployment with `failed` failed tasks of
/// `desired`.
pub fn trips(config: Option<&DeploymentConfiguration>, failed: i32, desired: i32) -> bool {
    settings(config).0 && failed >= threshold(desired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubecs_api_models::DeploymentCircuitBreaker;

    #[test]
    fn the_threshold_is_half_the_desired_count_rounded_up_between_3_and_200() {
        assert_eq!(threshold(0), 3);
        assert_eq!(threshold(1), 3);
        assert_eq!(threshold(6), 3);
        assert_eq!(threshold(7), 4);
        assert_eq!(threshold(25), 13);
        assert_eq!(threshold(400), 200);
        assert_eq!(threshold(800), 200);
    }

    #[test]
    fn a_breaker_trips_only_when_enabled_and_rolls_back_only_when_asked() {
        let config = |enable, rollback| DeploymentConfiguration {
            deployment_circuit_breaker: Some(DeploymentCircuitBreaker {
                enable: Some(enable),
                rollback: Some(rollback),
            }),
            ..DeploymentConfiguration::default()
        };
        assert!(trips(Some(&config(true, false)), 3, 2));
        assert!(!trips(Some(&config(true, false)), 2, 2));
        assert!(!trips(Some(&config(false, true)), 50, 2));
        assert!(!trips(None, 50, 2));
        assert_eq!(settings(Some(&config(false, true))), (false, false));
        assert_eq!(settings(Some(&config(true, true))), (true, true));
    }
}
