//! Moving a service's tasks off draining container instances, as ECS does: "service
//! tasks on the draining instance are stopped and replaced according to the service's
//! deployment configuration". Up to `maximumPercent` of the desired count runs during
//! the move: the service's Deployment gets extra replicas (a surge) while tasks remain
//! on draining nodes, and they start elsewhere (the nodes are cordoned). A task on a
//! draining node is stopped only while at least `minimumHealthyPercent` of the desired
//! count stays RUNNING without it; one that is not RUNNING goes at once.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kubecs_api_models::Service;

use crate::observe::tasks::{state, TaskState};

/// What a service does about its tasks on draining nodes in one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Replicas to run above the desired count.
    pub surge: i32,
    /// Names of pods to delete now.
    pub stop: Vec<String>,
}

/// ECS's defaults for a REPLICA service.
const DEFAULT_MINIMUM_HEALTHY: i32 = 100;
const DEFAULT_MAXIMUM: i32 = 200;

/// The plan for `service`'s `pods` given the `draining` nodes' names.
pub fn plan(service: &Service, pods: &[Pod], draining: &BTreeSet<String>) -> Plan {
    let node = |p: &Pod| p.spec.as_ref().and_then(|s| s.node_name.clone());
    let on_draining: Vec<&Pod> = pods
        .iter()
        .filter(|p| state(p).is_live() && node(p).is_some_and(|n| draining.contains(&n)))
        .collect();
    if on_draining.is_empty() {
        return Plan::default();
    }
    let desired = service.desired_count.unwrap_or(0).max(0);
    let config = service.deployment_configuration.as_ref();
    let minimum = config
        .and_then(|c| c.minimum_healthy_percent)
        .unwrap_or(DEFAULT_MINIMUM_HEALTHY);
    let maximum = config
        .and_then(|c| c.maximum_percent)
        .unwrap_or(DEFAULT_MAXIMUM);
    // ECS rounds the minimum up and the maximum down.
    let min_running = (desired * minimum + 99) / 100;
    let max_running = desired * maximum / 100;
    let running = pods
        .iter()
        .filter(|p| state(p) == TaskState::Running)
        .count() as i32;

    // Tasks not yet RUNNING go first: stopping them costs no healthy task.
    let (not_running, running_here): (Vec<&Pod>, Vec<&Pod>) = on_draining
        .into_iter()
        .partition(|p| state(p) != TaskState::Running);
    let may_stop_running = (running - min_running).max(0) as usize;
    let stopped_running = running_here.len().min(may_stop_running);
    let stop = not_running
        .iter()
        .chain(&running_here[..stopped_running])
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    // The RUNNING tasks that stay for now get their replacements started first, as far
    // as the maximum allows; the ones stopped are replaced by their ReplicaSet.
    let staying = (running_here.len() - stopped_running) as i32;
    Plan {
        surge: staying.min((max_running - desired).max(0)),
        stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::testing::{pod, Phase};
    use kubecs_api_models::DeploymentConfiguration;

    fn service(desired: i32, minimum: i32, maximum: i32) -> Service {
        Service {
            desired_count: Some(desired),
            deployment_configuration: Some(DeploymentConfiguration {
                minimum_healthy_percent: Some(minimum),
                maximum_percent: Some(maximum),
                ..DeploymentConfiguration::default()
            }),
            ..Service::default()
        }
    }

    fn on(node: &str, n: u32, phase: Phase) -> Pod {
        let mut p = pod(n, "ecs-svc/1", phase);
        p.metadata.name = Some(format!("web-{n}"));
        p.spec.as_mut().unwrap().node_name = Some(node.to_owned());
        p
    }

    fn draining() -> BTreeSet<String> {
        BTreeSet::from(["a".to_owned()])
    }

    #[test]
    fn nothing_happens_without_tasks_on_draining_nodes() {
        let pods = [on("b", 1, Phase::Running)];
        assert_eq!(
            plan(&service(1, 100, 200), &pods, &draining()),
            Plan::default()
        );
    }

    #[test]
    fn at_100_percent_replacements_start_before_any_task_stops() {
        let pods = [on("a", 1, Phase::Running), on("a", 2, Phase::Running)];
        let first = plan(&service(2, 100, 200), &pods, &draining());
        assert_eq!(
            first,
            Plan {
                surge: 2,
                stop: vec![]
            }
        );
        // One replacement is RUNNING elsewhere: one task on the draining node may stop.
        let pods = [
            on("a", 1, Phase::Running),
            on("a", 2, Phase::Running),
            on("b", 3, Phase::Running),
            on("b", 4, Phase::Pending),
        ];
        let next = plan(&service(2, 100, 200), &pods, &draining());
        assert_eq!(
            next,
            Plan {
                surge: 1,
                stop: vec!["web-1".to_owned()]
            }
        );
    }

    #[test]
    fn a_lower_minimum_stops_tasks_at_once_and_the_maximum_caps_the_surge() {
        let pods = [
            on("a", 1, Phase::Running),
            on("a", 2, Phase::Running),
            on("a", 3, Phase::Running),
            on("a", 4, Phase::Running),
        ];
        // 50%: two of four may stop now; 125%: one extra task at most.
        let plan = plan(&service(4, 50, 125), &pods, &draining());
        assert_eq!(plan.stop, vec!["web-1".to_owned(), "web-2".to_owned()]);
        assert_eq!(plan.surge, 1);
    }

    #[test]
    fn tasks_not_yet_running_on_a_draining_node_stop_at_once() {
        let pods = [on("a", 1, Phase::Pending), on("b", 2, Phase::Running)];
        let plan = plan(&service(2, 100, 100), &pods, &draining());
        assert_eq!(
            plan,
            Plan {
                surge: 0,
                stop: vec!["web-1".to_owned()]
            }
        );
    }

    #[test]
    fn stopping_tasks_are_left_alone() {
        let pods = [on("a", 1, Phase::Terminating)];
        assert_eq!(
            plan(&service(1, 0, 100), &pods, &draining()),
            Plan::default()
        );
    }
}
