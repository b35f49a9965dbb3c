//! An ECS service as an apps/v1 Deployment and its Services.
//!
//! - `replicas` is `desiredCount`; the pod template is the task definition's
//!   ([`pod_template`]) with the service's labels and the PRIMARY ECS deployment's id.
//! - The rolling update follows ECS's deployment configuration (see [`rolling_update`]).
//! - `revisionHistoryLimit` is [`REVISION_HISTORY_LIMIT`] and `progressDeadlineSeconds`
//!   [`PROGRESS_DEADLINE_SECONDS`]. The deployment circuit breaker has no Kubernetes field:
//!   the control loop reads the Deployment's Progressing condition and failed pods.
//! - A service placement constraint `distinctInstance` is a required pod anti-affinity on
//!   `kubernetes.io/hostname`; a `memberOf` constraint on node-label attributes (the
//!   service's or the task definition's) is required node affinity, on `task:group`
//!   pod affinity or anti-affinity ([`super::member_of`]); a `spread` placement strategy on a node field is a topology
//!   spread constraint ([`super::placement`]).
//! - Owner references need the Deployment's UID, which only the API server knows: the
//!   loop applies the Deployment, then calls [`Workload::set_owner`] before applying the
//!   Services, so that deleting the Deployment deletes them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy as KubeStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, PodAffinity, PodAffinityTerm, PodAntiAffinity,
    Service as KubeService,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kubecs_api_models::{
    Deployment as EcsDeployment, DeploymentConfiguration, DeploymentControllerType,
    DeploymentStrategy, PlacementConstraintType, SchedulingStrategy, Service, TaskDefinition,
};

use super::member_of::{self, member_of};
use super::names::{
    capacity_provider_requirement, label_value, namespace_name, selector_labels, service_labels,
    workload_name, ClusterScope, CLUSTER_ARN_ANNOTATION, DEPLOYMENT_ID_ANNOTATION, FAMILY_LABEL,
    REVISION_LABEL, SERVICE_ARN_ANNOTATION, SERVICE_NAME_ANNOTATION,
    TASK_DEFINITION_ARN_ANNOTATION,
};
use super::placement::spread_constraints;
use super::pod::pod_template;
use super::services::{
    cluster_ip_service, exposed_ports, load_balancer_services, service_connect_services,
    ServiceMeta,
};
use super::validate::Unsupported;

/// Old ReplicaSets kept for inspection and rollback.
pub const REVISION_HISTORY_LIMIT: i32 = 3;
/// How long a rollout may make no progress before Kubernetes marks it as failed
/// (Kubernetes's own default, written out so that it does not depend on the server).
pub const PROGRESS_DEADLINE_SECONDS: i32 = 600;
/// ECS's REPLICA default for `maximumPercent`.
pub const DEFAULT_MAXIMUM_PERCENT: i32 = 200;
/// ECS's REPLICA default for `minimumHealthyPercent`.
pub const DEFAULT_MINIMUM_HEALTHY_PERCENT: i32 = 100;

/// Everything Kubernetes runs for one ECS service.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// The namespace all of it lives in ([`namespace_name`]).
    pub namespace: String,
    /// The Deployment.
    pub deployment: Deployment,
    /// The ClusterIP, LoadBalancer and Service Connect Services.
    pub services: Vec<KubeService>,
}

/// An owner reference to an `apps/v1` workload (`Deployment`, `DaemonSet`): Kubernetes
/// deletes what it owns when it goes.
pub fn owned_by(kind: &str, name: &str, uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".to_owned(),
        kind: kind.to_owned(),
        name: name.to_owned(),
        uid: uid.to_owned(),
        controller: None,
        block_owner_deletion: None,
    }
}

impl Workload {
    /// Makes the Deployment (with this UID) the owner of every Service.
    pub fn set_owner(&mut self, deployment_uid: &str) {
        let name = self.deployment.metadata.name.clone().unwrap_or_default();
        let owner = owned_by("Deployment", &name, deployment_uid);
        for service in &mut self.services {
            service.metadata.owner_references = Some(vec![owner.clone()]);
        }
    }
}

/// The PRIMARY deployment of an ECS service: the one its pods should run.
pub fn primary_deployment(service: &Service) -> Option<&EcsDeployment> {
    service
        .deployments
        .iter()
        .flatten()
        .find(|d| d.status.as_deref() == Some("PRIMARY"))
}

/// The rolling update for ECS's percentages at a desired count.
///
/// ECS keeps at least `ceil(desired * minimumHealthyPercent / 100)` tasks RUNNING and at
/// most `floor(desired * maximumPercent / 100)` RUNNING or PENDING. Kubernetes rounds a
/// percentage `maxUnavailable` down and a percentage `maxSurge` up. So:
/// - `maxUnavailable` is `100 - minimumHealthyPercent` percent: Kubernetes keeps
///   `desired - floor(desired * (100 - min) / 100)` = `ceil(desired * min / 100)`
///   available, exactly ECS's minimum, at every desired count;
/// - `maxSurge` is a number, `floor(desired * max / 100) - desired` (0 when `max` is
///   below 100), because a percentage would round up past ECS's maximum
///   (3 tasks at 150%: ECS allows 4, `50%` would allow 5).
///
/// When neither would let the rollout move (both resolve to 0, e.g. 1 task at 100/150),
/// Kubernetes would take one task down anyway; kubecs starts one extra task instead, so
/// that ECS's minimum healthy count, the availability promise, is what holds.
pub fn rolling_update(
    config: Option<&DeploymentConfiguration>,
    desired: i32,
) -> RollingUpdateDeployment {
    let min = config
        .and_then(|c| c.minimum_healthy_percent)
        .unwrap_or(DEFAULT_MINIMUM_HEALTHY_PERCENT)
        .clamp(0, 100);
    let max = config
        .and_then(|c| c.maximum_percent)
        .unwrap_or(DEFAULT_MAXIMUM_PERCENT)
        .max(0);
    let desired = i64::from(desired.max(0));
    let unavailable_percent = 100 - min;
    let mut surge = (desired * i64::from(max) / 100 - desired).max(0);
    if surge == 0 && desired * i64::from(unavailable_percent) / 100 == 0 {
        surge = 1;
    }
    RollingUpdateDeployment {
        max_surge: Some(IntOrString::Int(i32::try_from(surge).unwrap_or(i32::MAX))),
        max_unavailable: Some(IntOrString::String(format!("{unavailable_percent}%"))),
    }
}

/// What of the service kubecs cannot run.
fn check_service_parameters(service: &Service) -> Result<(), Unsupported> {
    match &service.scheduling_strategy {
        None | Some(SchedulingStrategy::Replica) => {}
        Some(other) => {
            return Err(Unsupported::service(
                "schedulingStrategy",
                format!(
                    "{} services are not supported by kubecs yet; use REPLICA.",
                    other.as_str()
                ),
            ))
        }
    }
    if let Some(kind) = service
        .deployment_controller
        .as_ref()
        .and_then(|c| c.r#type.as_ref())
    {
        if *kind != DeploymentControllerType::Ecs {
            return Err(Unsupported::service(
                "deploymentController",
                format!(
                    "the {} deployment controller is not supported by kubecs; use ECS.",
                    kind.as_str()
                ),
            ));
        }
    }
    if let Some(strategy) = service
        .deployment_configuration
        .as_ref()
        .and_then(|c| c.strategy.as_ref())
    {
        if *strategy != DeploymentStrategy::Rolling {
            return Err(Unsupported::service(
                "deploymentConfiguration.strategy",
                format!(
                    "the {} strategy is not supported by kubecs; use ROLLING.",
                    strategy.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// The Deployment and Services of an ECS service running a task definition.
pub fn workload(
    scope: &ClusterScope<'_>,
    service: &Service,
    td: &TaskDefinition,
) -> Result<Workload, Unsupported> {
    check_service_parameters(service)?;
    let service_name = service.service_name.as_deref().unwrap_or_default();
    if service_name.is_empty() {
        return Err(Unsupported::service(
            "serviceName",
            "the service has no name.",
        ));
    }
    let namespace = namespace_name(scope);
    let name = workload_name(service_name);
    let selector = selector_labels(service_name);
    let labels = service_labels(scope, service_name);

    let mut annotations =
        BTreeMap::from([(SERVICE_NAME_ANNOTATION.to_owned(), service_name.to_owned())]);
    for (key, value) in [
        (SERVICE_ARN_ANNOTATION, &service.service_arn),
        (CLUSTER_ARN_ANNOTATION, &service.cluster_arn),
    ] {
        if let Some(value) = value {
            annotations.insert(key.to_owned(), value.clone());
        }
    }

    let mut template = pod_template(td)?;
    let meta = template.metadata.get_or_insert_with(ObjectMeta::default);
    meta.labels
        .get_or_insert_with(BTreeMap::new)
        .extend(labels.clone());
    if let Some(id) = primary_deployment(service).and_then(|d| d.id.as_ref()) {
        meta.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(DEPLOYMENT_ID_ANNOTATION.to_owned(), id.clone());
    }
    let distinct = service
        .placement_constraints
        .iter()
        .flatten()
        .any(|c| c.r#type == Some(PlacementConstraintType::DistinctInstance));
    // A capacity provider strategy of Auto Scaling group providers (their nodes only) and
    // the `memberOf` constraints Kubernetes can express.
    let also = service
        .capacity_provider_strategy
        .as_deref()
        .and_then(capacity_provider_requirement);
    let placed = member_of(member_of::expressions(service, td), also);
    if let Some(spec) = template.spec.as_mut() {
        if let Some(terms) = placed.nodes {
            spec.affinity
                .get_or_insert_with(Affinity::default)
                .node_affinity = Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms,
                }),
                ..NodeAffinity::default()
            });
        }
        if !placed.with.is_empty() {
            spec.affinity
                .get_or_insert_with(Affinity::default)
                .pod_affinity = Some(PodAffinity {
                required_during_scheduling_ignored_during_execution: Some(placed.with),
                ..PodAffinity::default()
            });
        }
    }
    let mut apart = placed.without;
    if distinct {
        apart.push(PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            }),
            topology_key: "kubernetes.io/hostname".to_owned(),
            ..PodAffinityTerm::default()
        });
    }
    if let Some(spec) = template.spec.as_mut().filter(|_| !apart.is_empty()) {
        spec.affinity
            .get_or_insert_with(Affinity::default)
            .pod_anti_affinity = Some(PodAntiAffinity {
            required_during_scheduling_ignored_during_execution: Some(apart),
            ..PodAntiAffinity::default()
        });
    }
    let spread = spread_constraints(
        service.placement_strategy.as_deref().unwrap_or_default(),
        &selector,
    );
    if let Some(spec) = template.spec.as_mut().filter(|_| !spread.is_empty()) {
        spec.topology_spread_constraints = Some(spread);
    }

    let mut deployment_labels = labels.clone();
    deployment_labels.insert(
        FAMILY_LABEL.to_owned(),
        label_value(td.family.as_deref().unwrap_or_default()),
    );
    if let Some(revision) = td.revision {
        deployment_labels.insert(REVISION_LABEL.to_owned(), revision.to_string());
    }
    let mut deployment_annotations = annotations.clone();
    if let Some(arn) = &td.task_definition_arn {
        deployment_annotations.insert(TASK_DEFINITION_ARN_ANNOTATION.to_owned(), arn.clone());
    }
    let desired = service.desired_count.unwrap_or(0).max(0);
    let deployment = Deployment {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace.clone()),
            labels: Some(deployment_labels),
            annotations: Some(deployment_annotations),
            ..ObjectMeta::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(desired),
            selector: LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            },
            template,
            strategy: Some(KubeStrategy {
                type_: Some("RollingUpdate".to_owned()),
                rolling_update: Some(rolling_update(
                    service.deployment_configuration.as_ref(),
                    desired,
                )),
            }),
            revision_history_limit: Some(REVISION_HISTORY_LIMIT),
            progress_deadline_seconds: Some(PROGRESS_DEADLINE_SECONDS),
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };

    let ports = exposed_ports(td)?;
    let meta = ServiceMeta {
        namespace: &namespace,
        labels: &labels,
        annotations: &annotations,
        selector: &selector,
    };
    let mut services: Vec<KubeService> = cluster_ip_service(&meta, service_name, &ports)
        .into_iter()
        .collect();
    services.extend(load_balancer_services(
        &meta,
        service_name,
        service.load_balancers.as_deref().unwrap_or_default(),
        &ports,
    )?);
    if let Some(connect) =
        primary_deployment(service).and_then(|d| d.service_connect_configuration.as_ref())
    {
        services.extend(service_connect_services(&meta, connect, &ports)?);
    }
    Ok(Workload {
        namespace,
        deployment,
        services,
    })
}

#[cfg(test)]
#[path = "workload_tests.rs"]
mod tests;
