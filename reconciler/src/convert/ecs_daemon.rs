//! A daemon of the ECS Daemons API as a DaemonSet: its current revision runs as a DAEMON
//! service would (`daemon::daemon_set`) on the nodes of its capacity providers, with
//! `drainPercent` as the share of nodes whose task is replaced at a time. A daemon task
//! definition is a task definition with fewer members, so it runs as one.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubecs_api_models::{
    CapacityProviderStrategyItem, DaemonTaskDefinition, DeploymentConfiguration,
    RegisterDaemonTaskDefinitionRequest, RegisterTaskDefinitionRequest, SchedulingStrategy,
    Service, TaskDefinition,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::daemon::daemon_set;
use super::names::ClusterScope;
use super::validate::Unsupported;

/// Annotation on a daemon's DaemonSet and pods: the exact daemon name.
pub const DAEMON_NAME_ANNOTATION: &str = "ecs.kubecs.io/daemon-name";
/// Pod-template annotation: the ARN of the daemon revision the pods run. A new revision
/// (every UpdateDaemon) changes it, so the DaemonSet rolls out even for the same task
/// definition, and each pod tells which revision it belongs to.
pub const DAEMON_REVISION_ANNOTATION: &str = "ecs.kubecs.io/daemon-revision";

/// The name of the DAEMON service a daemon runs as: `daemon/<name>`. ECS service names
/// cannot hold a `/`, so no service's Kubernetes names or labels can meet a daemon's.
pub fn service_name(daemon: &str) -> String {
    format!("daemon/{daemon}")
}

/// Moves a value between two generated shapes that share member names (the daemon
/// shapes are subsets of the task-definition ones).
fn reshape<T: Serialize, U: DeserializeOwned>(value: &T) -> Result<U, serde_json::Error> {
    serde_json::from_value(serde_json::to_value(value)?)
}

/// The task definition a daemon task definition runs as.
pub fn as_task_definition(td: &DaemonTaskDefinition) -> Result<TaskDefinition, serde_json::Error> {
    Ok(TaskDefinition {
        family: td.family.clone(),
        revision: td.revision,
        task_definition_arn: td.daemon_task_definition_arn.clone(),
        container_definitions: td.container_definitions.as_ref().map(reshape).transpose()?,
        volumes: td.volumes.as_ref().map(reshape).transpose()?,
        cpu: td.cpu.clone(),
        memory: td.memory.clone(),
        task_role_arn: td.task_role_arn.clone(),
        execution_role_arn: td.execution_role_arn.clone(),
        ..TaskDefinition::default()
    })
}

/// The task-definition registration a daemon task definition's is checked as.
pub fn as_registration(
    input: &RegisterDaemonTaskDefinitionRequest,
) -> Result<RegisterTaskDefinitionRequest, serde_json::Error> {
    Ok(RegisterTaskDefinitionRequest {
        family: input.family.clone(),
        container_definitions: input
            .container_definitions
            .as_ref()
            .map(reshape)
            .transpose()?,
        volumes: input.volumes.as_ref().map(reshape).transpose()?,
        cpu: input.cpu.clone(),
        memory: input.memory.clone(),
        task_role_arn: input.task_role_arn.clone(),
        execution_role_arn: input.execution_role_arn.clone(),
        tags: input.tags.clone(),
        ..RegisterTaskDefinitionRequest::default()
    })
}

/// What a daemon's DaemonSet is made of.
#[derive(Debug, Clone, Copy)]
pub struct DaemonSpec<'a> {
    pub name: &'a str,
    pub daemon_arn: &'a str,
    pub cluster_arn: &'a str,
    pub revision_arn: &'a str,
    /// The names of its capacity providers: their nodes run it (built-in providers
    /// stand for any node).
    pub capacity_providers: &'a [String],
    /// The share of nodes whose task is replaced at a time (ECS's `drainPercent`);
    /// `None`: all at once.
    pub drain_percent: Option<f64>,
}

/// The name of a capacity provider from its ARN (`...:capacity-provider/<name>`) or name.
pub fn capacity_provider_name(arn: &str) -> &str {
    arn.rsplit_once(":capacity-provider/")
        .map_or(arn, |(_, name)| name)
}

/// The DaemonSet of a daemon running `td` (its revision's task definition, converted
/// with [`as_task_definition`]).
pub fn ecs_daemon_set(
    scope: &ClusterScope<'_>,
    spec: &DaemonSpec<'_>,
    td: &TaskDefinition,
) -> Result<DaemonSet, Unsupported> {
    let minimum = spec
        .drain_percent
        .map_or(0, |p| 100 - p.clamp(0.0, 100.0).ceil() as i32);
    let service = Service {
        service_name: Some(service_name(spec.name)),
        service_arn: Some(spec.daemon_arn.to_owned()),
        cluster_arn: Some(spec.cluster_arn.to_owned()),
        scheduling_strategy: Some(SchedulingStrategy::Daemon),
        capacity_provider_strategy: Some(
            spec.capacity_providers
                .iter()
                .map(|name| CapacityProviderStrategyItem {
                    capacity_provider: Some(name.clone()),
                    ..CapacityProviderStrategyItem::default()
                })
                .collect(),
        ),
        deployment_configuration: Some(DeploymentConfiguration {
            minimum_healthy_percent: Some(minimum),
            ..DeploymentConfiguration::default()
        }),
        ..Service::default()
    };
    let (mut set, _) = daemon_set(scope, &service, td)?;
    annotate(&mut set.metadata, spec, false);
    if let Some(spec_) = set.spec.as_mut() {
        annotate(
            spec_
                .template
                .metadata
                .get_or_insert_with(ObjectMeta::default),
            spec,
            true,
        );
    }
    Ok(set)
}

fn annotate(meta: &mut ObjectMeta, spec: &DaemonSpec<'_>, with_revision: bool) {
    let annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(DAEMON_NAME_ANNOTATION.to_owned(), spec.name.to_owned());
    if with_revision {
        annotations.insert(
            DAEMON_REVISION_ANNOTATION.to_owned(),
            spec.revision_arn.to_owned(),
        );
    }
}

/// Whether Kubernetes can run a daemon of `td`.
pub fn check_ecs_daemon(td: &DaemonTaskDefinition) -> Result<(), Unsupported> {
    let scope = ClusterScope {
        region: "check",
        cluster: "check",
    };
    let converted = as_task_definition(td)
        .map_err(|e| Unsupported::task("containerDefinitions", e.to_string()))?;
    let spec = DaemonSpec {
        name: "check",
        daemon_arn: "check",
        cluster_arn: "check",
        revision_arn: "check",
        capacity_providers: &[],
        drain_percent: None,
    };
    ecs_daemon_set(&scope, &spec, &converted).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::names::{workload_name, CAPACITY_PROVIDER_LABEL};
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use kubecs_api_models::DaemonContainerDefinition;

    fn daemon_td() -> DaemonTaskDefinition {
        DaemonTaskDefinition {
            family: Some("monitoring-agent".to_owned()),
            revision: Some(2),
            daemon_task_definition_arn: Some(
                "arn:aws:ecs:us-east-1:123456789012:daemon-task-definition/monitoring-agent:2"
                    .to_owned(),
            ),
            cpu: Some("256".to_owned()),
            memory: Some("64".to_owned()),
            container_definitions: Some(vec![DaemonContainerDefinition {
                name: Some("agent".to_owned()),
                image: Some("agent:2".to_owned()),
                command: Some(vec!["run".to_owned()]),
                memory: Some(32),
                ..DaemonContainerDefinition::default()
            }]),
            ..DaemonTaskDefinition::default()
        }
    }

    #[test]
    fn a_daemon_task_definition_runs_as_the_task_definition_with_its_members() {
        let td = as_task_definition(&daemon_td()).unwrap();
        assert_eq!(td.family.as_deref(), Some("monitoring-agent"));
        assert_eq!(td.revision, Some(2));
        assert_eq!(td.cpu.as_deref(), Some("256"));
        let container = &td.container_definitions.unwrap()[0];
        assert_eq!(container.image.as_deref(), Some("agent:2"));
        assert_eq!(container.command, Some(vec!["run".to_owned()]));
        assert_eq!(container.memory, Some(32));
    }

    #[test]
    fn a_daemon_is_a_daemon_set_on_its_capacity_providers_nodes_named_apart_from_services() {
        let scope = ClusterScope {
            region: "us-east-1",
            cluster: "prod",
        };
        let providers = vec!["edge-nodes".to_owned()];
        let spec = DaemonSpec {
            name: "agent",
            daemon_arn: "arn:aws:ecs:us-east-1:123456789012:daemon/prod/agent",
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            revision_arn: "arn:aws:ecs:us-east-1:123456789012:daemon-revision/prod/agent/7",
            capacity_providers: &providers,
            drain_percent: Some(25.0),
        };
        let td = as_task_definition(&daemon_td()).unwrap();
        let set = ecs_daemon_set(&scope, &spec, &td).unwrap();
        // A service named "agent" has another workload name.
        assert_ne!(set.metadata.name, Some(workload_name("agent")));
        assert_eq!(
            set.metadata.annotations.as_ref().unwrap()[DAEMON_NAME_ANNOTATION],
            "agent"
        );
        let spec_ = set.spec.unwrap();
        let template = spec_.template;
        assert_eq!(
            template.metadata.unwrap().annotations.unwrap()[DAEMON_REVISION_ANNOTATION],
            spec.revision_arn
        );
        let pod = template.spec.unwrap();
        assert_eq!(pod.containers[0].image.as_deref(), Some("agent:2"));
        let terms = pod
            .affinity
            .unwrap()
            .node_affinity
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .unwrap()
            .node_selector_terms;
        let requirement = &terms[0].match_expressions.as_ref().unwrap()[0];
        assert_eq!(requirement.key, CAPACITY_PROVIDER_LABEL);
        assert_eq!(requirement.values, Some(providers.clone()));
        assert_eq!(
            spec_
                .update_strategy
                .unwrap()
                .rolling_update
                .unwrap()
                .max_unavailable,
            Some(IntOrString::String("25%".to_owned()))
        );
    }

    #[test]
    fn capacity_providers_are_named_by_their_arns_last_segment() {
        assert_eq!(
            capacity_provider_name("arn:aws:ecs:us-east-1:1:capacity-provider/edge"),
            "edge"
        );
        assert_eq!(capacity_provider_name("edge"), "edge");
    }
}
