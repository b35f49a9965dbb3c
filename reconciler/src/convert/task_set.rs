//! A task set of an EXTERNAL service as its own Deployment: the service's workload as the
//! task set's task definition, scale and launch settings make it, named
//! `<service workload>-ts<id>`, selecting only its own pods by `ecs.kubecs.io/task-set`,
//! with `computedDesiredCount` replicas. No Services: the external deployment controller
//! routes traffic to the task sets itself.

use k8s_openapi::api::apps::v1::Deployment;
use kubecs_api_models::{
    Deployment as EcsDeployment, DeploymentController, DeploymentControllerType, Service,
    TaskDefinition, TaskSet,
};

use super::names::{label_value, workload_name, ClusterScope, PREFIX};
use super::validate::Unsupported;
use super::workload::workload;

/// Label: the task set a pod belongs to (the digits of its id).
pub const TASK_SET_LABEL: &str = "ecs.kubecs.io/task-set";

/// The label value of a task set id (`ecs-svc/1234...`: its digits).
pub fn task_set_label(id: &str) -> String {
    label_value(id.rsplit('/').next().unwrap_or(id))
}

/// The Deployment name of a task set of `service_name`.
pub fn task_set_name(service_name: &str, id: &str) -> String {
    let digits = id.rsplit('/').next().unwrap_or(id);
    let tail = &digits[digits.len().saturating_sub(10)..];
    format!("{}-ts{tail}", workload_name(service_name))
}

/// The Deployment of `task_set` of `service`, running `td`.
pub fn task_set_deployment(
    scope: &ClusterScope<'_>,
    service: &Service,
    task_set: &TaskSet,
    td: &TaskDefinition,
) -> Result<Deployment, Unsupported> {
    let id = task_set.id.clone().unwrap_or_default();
    let as_run = Service {
        desired_count: task_set.computed_desired_count,
        launch_type: task_set.launch_type.clone(),
        capacity_provider_strategy: task_set.capacity_provider_strategy.clone(),
        platform_version: task_set.platform_version.clone(),
        network_configuration: task_set.network_configuration.clone(),
        load_balancers: Some(Vec::new()),
        service_registries: Some(Vec::new()),
        task_definition: task_set.task_definition.clone(),
        deployment_controller: Some(DeploymentController {
            r#type: Some(DeploymentControllerType::Ecs),
        }),
        deployments: Some(vec![EcsDeployment {
            id: Some(id.clone()),
            status: Some("PRIMARY".to_owned()),
            task_definition: task_set.task_definition.clone(),
            ..EcsDeployment::default()
        }]),
        ..service.clone()
    };
    let mut deployment = workload(scope, &as_run, td)?.deployment;
    let label = task_set_label(&id);
    let service_name = service.service_name.as_deref().unwrap_or_default();
    deployment.metadata.name = Some(task_set_name(service_name, &id));
    deployment
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(TASK_SET_LABEL.to_owned(), label.clone());
    deployment
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(format!("{PREFIX}task-set-id"), id);
    if let Some(spec) = deployment.spec.as_mut() {
        spec.selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert(TASK_SET_LABEL.to_owned(), label.clone());
        spec.template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default)
            .insert(TASK_SET_LABEL.to_owned(), label);
    }
    Ok(deployment)
}

/// Whether Kubernetes can run `task_set` of `service` (refused with ECS's error if not).
pub fn check_task_set(
    service: &Service,
    task_set: &TaskSet,
    td: &TaskDefinition,
) -> Result<(), Unsupported> {
    let scope = ClusterScope {
        region: "check",
        cluster: "check",
    };
    task_set_deployment(&scope, service, task_set, td).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubecs_api_models::ContainerDefinition;

    #[test]
    fn a_task_set_is_a_deployment_of_its_own_pods_at_its_computed_count() {
        let service = Service {
            service_name: Some("web".to_owned()),
            desired_count: Some(4),
            deployment_controller: Some(DeploymentController {
                r#type: Some(DeploymentControllerType::External),
            }),
            ..Service::default()
        };
        let task_set = TaskSet {
            id: Some("ecs-svc/1234567890123456789".to_owned()),
            computed_desired_count: Some(2),
            task_definition: Some("arn:aws:ecs:us-east-1:0:task-definition/web:3".to_owned()),
            ..TaskSet::default()
        };
        let td = TaskDefinition {
            family: Some("web".to_owned()),
            revision: Some(3),
            container_definitions: Some(vec![ContainerDefinition {
                name: Some("app".to_owned()),
                image: Some("web:3".to_owned()),
                memory: Some(64),
                ..ContainerDefinition::default()
            }]),
            ..TaskDefinition::default()
        };
        let scope = ClusterScope {
            region: "us-east-1",
            cluster: "prod",
        };
        let deployment = task_set_deployment(&scope, &service, &task_set, &td).unwrap();
        assert_eq!(
            deployment.metadata.name,
            Some(format!("{}-ts0123456789", workload_name("web")))
        );
        let spec = deployment.spec.unwrap();
        assert_eq!(spec.replicas, Some(2));
        assert_eq!(
            spec.selector.match_labels.unwrap()[TASK_SET_LABEL],
            "1234567890123456789"
        );
        assert_eq!(
            spec.template.metadata.unwrap().labels.unwrap()[TASK_SET_LABEL],
            "1234567890123456789"
        );
        assert!(check_task_set(&service, &task_set, &td).is_ok());
    }
}
