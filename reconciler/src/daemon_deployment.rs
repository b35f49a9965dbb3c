//! Following a daemon's newest deployment from what the reconciler observed: PENDING
//! becomes IN_PROGRESS once the DaemonSet is applied, and SUCCESSFUL once every node runs
//! the revision. ECS's circuit breaker watches it meanwhile (the service rule,
//! `observe::breaker::threshold`, over the nodes that should run a task): once as many
//! of the revision's tasks failed, the daemon goes back to the revision it ran before
//! (ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCESSFUL), or, on its first deployment, the
//! deployment stops. The instance counts of its revisions follow the running tasks.

use kubecs_api_models::{
    DaemonCircuitBreaker, DaemonDeploymentRevisionDetail,
    DaemonDeploymentRollbackMonitorsStatus as Monitor, DaemonDeploymentStatus as Status,
    DaemonRollback, Timestamp,
};
use kubecs_storage::{DaemonState, RunningCount};

use crate::observe::breaker::threshold;

/// Moves `state`'s newest deployment on: `done` says whether the DaemonSet runs its
/// current revision everywhere, `failed` how many of that revision's tasks failed, of
/// `desired` nodes.
pub fn follow(state: &mut DaemonState, done: bool, failed: i32, desired: i32, now: Timestamp) {
    let counts = state.running.clone();
    let mut roll_back_to = None;
    let Some(deployment) = state.deployments.first_mut() else {
        return;
    };
    if deployment.status == Some(Status::Pending) {
        deployment.status = Some(Status::InProgress);
        deployment.started_at = Some(now);
    }
    let limit = threshold(desired);
    match deployment.status {
        Some(Status::InProgress) if deployment.target_daemon_revision.is_some() => {
            let tripped = failed >= limit;
            deployment.circuit_breaker = Some(DaemonCircuitBreaker {
                failure_count: Some(failed),
                threshold: Some(limit),
                status: Some(if tripped {
                    Monitor::Triggered
                } else if done {
                    Monitor::MonitoringComplete
                } else {
                    Monitor::Monitoring
                }),
            });
            if tripped {
                let source = deployment
                    .source_daemon_revisions
                    .iter()
                    .flatten()
                    .find_map(|r| r.arn.clone());
                let why = format!(
                    "The circuit breaker was triggered: {failed} tasks of the new revision failed (threshold {limit})."
                );
                match source {
                    Some(source) => {
                        deployment.status = Some(Status::RollbackInProgress);
                        deployment.status_reason = Some(format!("{why} Rolling back to {source}."));
                        deployment.rollback = Some(DaemonRollback {
                            reason: Some(why),
                            started_at: Some(now),
                            rollback_target_daemon_revision_arn: Some(source.clone()),
                            rollback_capacity_providers: None,
                        });
                        roll_back_to = Some(source);
                    }
                    None => {
                        deployment.status = Some(Status::Stopped);
                        deployment.status_reason = Some(format!(
                            "{why} There is no earlier revision to roll back to."
                        ));
                        deployment.stopped_at = Some(now);
                        deployment.finished_at = Some(now);
                    }
                }
            } else if done {
                deployment.status = Some(Status::Successful);
                deployment.status_reason =
                    Some("The deployment completed successfully.".to_owned());
                deployment.finished_at = Some(now);
            }
        }
        Some(Status::RollbackInProgress) if done => {
            deployment.status = Some(Status::RollbackSuccessful);
            deployment.status_reason = Some(format!(
                "Rolled back to {}.",
                deployment
                    .rollback
                    .as_ref()
                    .and_then(|r| r.rollback_target_daemon_revision_arn.as_deref())
                    .unwrap_or_default()
            ));
            deployment.finished_at = Some(now);
        }
        _ => {}
    }
    deployment
        .target_daemon_revision
        .iter_mut()
        .chain(deployment.source_daemon_revisions.iter_mut().flatten())
        .for_each(|d| count_revision(d, &counts));
    // The revision rolled back to runs again: it becomes the newest, the one the
    // DaemonSet is made of (its ARN and what it deploys are unchanged).
    if let Some(source) = roll_back_to {
        if let Some(rollback) = deployment.rollback.as_mut() {
            rollback.rollback_capacity_providers = state
                .revisions
                .iter()
                .find(|r| r.revision.daemon_revision_arn.as_deref() == Some(source.as_str()))
                .map(|r| r.capacity_provider_arns.clone());
        }
        if let Some(at) = state
            .revisions
            .iter()
            .position(|r| r.revision.daemon_revision_arn.as_deref() == Some(source.as_str()))
        {
            let revision = state.revisions.remove(at);
            state.revisions.insert(0, revision);
        }
    }
}

/// A deployment's revision with the instances running it, per capacity provider.
fn count_revision(detail: &mut DaemonDeploymentRevisionDetail, counts: &[RunningCount]) {
    let arn = detail.arn.clone().unwrap_or_default();
    let mut total = 0;
    for provider in detail.capacity_providers.iter_mut().flatten() {
        let running: i32 = counts
            .iter()
            .filter(|c| {
                c.revision_arn == arn
                    && Some(c.capacity_provider_arn.as_str()) == provider.arn.as_deref()
            })
            .map(|c| c.count)
            .sum();
        provider.running_instance_count = Some(running);
        total += running;
    }
    detail.total_running_instance_count = Some(total);
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubecs_api_models::{
        DaemonDeployment, DaemonDeploymentCapacityProvider, DaemonRevision, DaemonStatus,
    };
    use kubecs_storage::DaemonRevisionState;

    const EDGE: &str = "arn:aws:ecs:us-east-1:1:capacity-provider/edge";

    fn detail(arn: &str) -> DaemonDeploymentRevisionDetail {
        DaemonDeploymentRevisionDetail {
            arn: Some(arn.to_owned()),
            capacity_providers: Some(vec![DaemonDeploymentCapacityProvider {
                arn: Some(EDGE.to_owned()),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    fn revision(arn: &str) -> DaemonRevisionState {
        DaemonRevisionState {
            revision: DaemonRevision {
                daemon_revision_arn: Some(arn.to_owned()),
                ..Default::default()
            },
            capacity_provider_arns: vec![EDGE.to_owned()],
            deployment_configuration: None,
        }
    }

    /// The revision the daemon runs.
    fn current(state: &DaemonState) -> Option<&str> {
        state
            .current_revision()?
            .revision
            .daemon_revision_arn
            .as_deref()
    }

    /// A daemon deploying revision `new` over `old` (or its first revision).
    fn deploying(new: &str, old: Option<&str>) -> DaemonState {
        let now = Timestamp::now();
        DaemonState {
            daemon_arn: "d".to_owned(),
            cluster_arn: "c".to_owned(),
            status: DaemonStatus::Active,
            created_at: now,
            updated_at: now,
            client_token: None,
            revisions: [Some(new), old]
                .into_iter()
                .flatten()
                .map(revision)
                .collect(),
            deployments: vec![DaemonDeployment {
                status: Some(Status::Pending),
                target_daemon_revision: Some(detail(new)),
                source_daemon_revisions: old.map(|o| vec![detail(o)]),
                ..Default::default()
            }],
            running: vec![RunningCount {
                revision_arn: new.to_owned(),
                capacity_provider_arn: EDGE.to_owned(),
                count: 2,
            }],
            task_records: Default::default(),
            pending_count: 0,
        }
    }

    #[test]
    fn a_deployment_starts_then_succeeds_once_every_node_runs_it() {
        let now = Timestamp::now();
        let mut state = deploying("r2", Some("r1"));
        follow(&mut state, false, 0, 2, now);
        let d = &state.deployments[0];
        assert_eq!(d.status, Some(Status::InProgress));
        assert!(d.started_at.is_some());
        let breaker = d.circuit_breaker.as_ref().unwrap();
        assert_eq!(
            (breaker.failure_count, breaker.threshold),
            (Some(0), Some(3))
        );
        assert_eq!(breaker.status, Some(Monitor::Monitoring));
        follow(&mut state, true, 0, 2, now);
        let d = &state.deployments[0];
        assert_eq!(d.status, Some(Status::Successful));
        assert_eq!(
            d.target_daemon_revision
                .as_ref()
                .unwrap()
                .total_running_instance_count,
            Some(2)
        );
        assert_eq!(
            d.circuit_breaker.as_ref().unwrap().status,
            Some(Monitor::MonitoringComplete)
        );
    }

    #[test]
    fn the_circuit_breaker_rolls_back_to_the_revision_before_then_succeeds() {
        let now = Timestamp::now();
        let mut state = deploying("r2", Some("r1"));
        follow(&mut state, false, 2, 2, now);
        assert_eq!(state.deployments[0].status, Some(Status::InProgress));
        follow(&mut state, false, 3, 2, now);
        let d = &state.deployments[0];
        assert_eq!(d.status, Some(Status::RollbackInProgress));
        assert_eq!(
            d.circuit_breaker.as_ref().unwrap().status,
            Some(Monitor::Triggered)
        );
        let rollback = d.rollback.as_ref().unwrap();
        assert_eq!(
            rollback.rollback_target_daemon_revision_arn.as_deref(),
            Some("r1")
        );
        assert_eq!(
            rollback.rollback_capacity_providers,
            Some(vec![EDGE.to_owned()])
        );
        // The DaemonSet is made of r1 again.
        assert_eq!(current(&state), Some("r1"));
        // Failures of r2's tasks no longer matter; r1 running everywhere ends it.
        follow(&mut state, true, 0, 2, now);
        assert_eq!(
            state.deployments[0].status,
            Some(Status::RollbackSuccessful)
        );
    }

    #[test]
    fn a_first_deployment_that_fails_stops() {
        let now = Timestamp::now();
        let mut state = deploying("r1", None);
        follow(&mut state, false, 3, 1, now);
        let d = &state.deployments[0];
        assert_eq!(d.status, Some(Status::Stopped));
        assert!(d
            .status_reason
            .as_deref()
            .unwrap()
            .contains("no earlier revision"));
        assert_eq!(current(&state), Some("r1"));
    }
}
