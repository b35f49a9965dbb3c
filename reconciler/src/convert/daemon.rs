//! A DAEMON service as a DaemonSet: one task on every node that can take it (ECS places
//! one task on each container instance). The pod template, labels and Services are the
//! ones a REPLICA service of the same task definition gets (`workload`); the rolling
//! update replaces at most `100 - minimumHealthyPercent` percent of the tasks at a time
//! (ECS's daemon default, 0%, replaces all at once).

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::api::core::v1::Service as KubeService;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kubecs_api_models::{SchedulingStrategy, Service, TaskDefinition};

use super::names::ClusterScope;
use super::validate::Unsupported;
use super::workload::{workload, REVISION_HISTORY_LIMIT};

/// The DaemonSet and Services of a DAEMON service running `td`.
pub fn daemon_set(
    scope: &ClusterScope<'_>,
    service: &Service,
    td: &TaskDefinition,
) -> Result<(DaemonSet, Vec<KubeService>), Unsupported> {
    let as_replica = Service {
        scheduling_strategy: Some(SchedulingStrategy::Replica),
        ..service.clone()
    };
    let workload = workload(scope, &as_replica, td)?;
    let deployment = workload.deployment;
    let spec = deployment.spec.unwrap_or_default();
    let minimum = service
        .deployment_configuration
        .as_ref()
        .and_then(|c| c.minimum_healthy_percent)
        .unwrap_or(0)
        .clamp(0, 100);
    let daemon_set = DaemonSet {
        metadata: deployment.metadata,
        spec: Some(DaemonSetSpec {
            selector: spec.selector,
            template: spec.template,
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    // Kubernetes needs at least one pod replaced at a time.
                    max_unavailable: Some(IntOrString::String(format!(
                        "{}%",
                        (100 - minimum).max(1)
                    ))),
                    ..RollingUpdateDaemonSet::default()
                }),
            }),
            revision_history_limit: Some(REVISION_HISTORY_LIMIT),
            ..DaemonSetSpec::default()
        }),
        status: None,
    };
    Ok((daemon_set, workload.services))
}

/// Whether Kubernetes can run the DAEMON `service` with `td`.
pub fn check_daemon(service: &Service, td: &TaskDefinition) -> Result<(), Unsupported> {
    let scope = ClusterScope {
        region: "check",
        cluster: "check",
    };
    daemon_set(&scope, service, td).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::names::{selector_labels, workload_name};
    use kubecs_api_models::{ContainerDefinition, DeploymentConfiguration};

    #[test]
    fn a_daemon_service_is_a_daemon_set_of_its_task_definition() {
        let service = Service {
            service_name: Some("agent".to_owned()),
            scheduling_strategy: Some(SchedulingStrategy::Daemon),
            deployment_configuration: Some(DeploymentConfiguration {
                minimum_healthy_percent: Some(50),
                ..DeploymentConfiguration::default()
            }),
            ..Service::default()
        };
        let td = TaskDefinition {
            family: Some("agent".to_owned()),
            revision: Some(1),
            container_definitions: Some(vec![ContainerDefinition {
                name: Some("agent".to_owned()),
                image: Some("agent:1".to_owned()),
                memory: Some(32),
                ..ContainerDefinition::default()
            }]),
            ..TaskDefinition::default()
        };
        let scope = ClusterScope {
            region: "us-east-1",
            cluster: "prod",
        };
        let (set, _) = daemon_set(&scope, &service, &td).unwrap();
        assert_eq!(set.metadata.name, Some(workload_name("agent")));
        let spec = set.spec.unwrap();
        assert_eq!(spec.selector.match_labels, Some(selector_labels("agent")));
        assert_eq!(
            spec.template.spec.unwrap().containers[0].image.as_deref(),
            Some("agent:1")
        );
        let rolling = spec.update_strategy.unwrap().rolling_update.unwrap();
        assert_eq!(
            rolling.max_unavailable,
            Some(IntOrString::String("50%".to_owned()))
        );
        assert!(check_daemon(&service, &td).is_ok());
    }
}
