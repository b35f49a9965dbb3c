//! Express gateway services: CreateExpressGatewayService, DescribeExpressGatewayService,
//! UpdateExpressGatewayService and DeleteExpressGatewayService.
//!
//! As in ECS, an Express gateway service is an ECS service: Create registers a task
//! definition (`<cluster>-<service>`, one container `Main` on its container port, awsvpc,
//! FARGATE) and creates a service of `minTaskCount` tasks from it, visible to
//! DescribeServices and run by the reconciler as any service. What ECS adds — a load
//! balancer with an HTTPS endpoint — is an Ingress on Kubernetes: the service's host
//! (`<service>-<hash>.<region>.ecs.localhost`) routed to its container port, made where
//! the cluster has an ingress class. Update registers a new revision from the current
//! configuration with the request's members over it, and deploys it; Delete drains the
//! service (DRAINING, then INACTIVE). The load balancer's health check path and the
//! scaling target are kept, not applied.

use kubecs_api_models::status::{ACTIVE, DRAINING, INACTIVE};
use kubecs_api_models::{
    AccessType, AwsVpcConfiguration, ContainerDefinition, CreateClusterRequest,
    CreateExpressGatewayServiceRequest, CreateExpressGatewayServiceResponse, CreateServiceRequest,
    DeleteExpressGatewayServiceRequest, DeleteExpressGatewayServiceResponse, DeleteServiceRequest,
    DescribeExpressGatewayServiceRequest, DescribeExpressGatewayServiceResponse,
    ECSExpressGatewayService, ErrorCode, ExpressGatewayContainer, ExpressGatewayScalingTarget,
    ExpressGatewayServiceConfiguration, ExpressGatewayServiceInclude,
    ExpressGatewayServiceScalingMetric, ExpressGatewayServiceStatus,
    ExpressGatewayServiceStatusCode, IngressPathSummary, LaunchType, LogConfiguration, LogDriver,
    NetworkConfiguration, NetworkMode, Operation, PortMapping, PropagateTags,
    RegisterTaskDefinitionRequest, RepositoryCredentials, TransportProtocol,
    UpdateExpressGatewayServiceRequest, UpdateExpressGatewayServiceResponse, UpdateServiceRequest,
    UpdatedExpressGatewayService,
};
use kubecs_reconciler::convert::{express, ClusterScope};
use kubecs_storage::{ExpressConfiguration, ExpressState, ServiceState};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{clusters, names, services, tags, task_definitions};

pub const OPERATIONS: &[Operation] = &[
    Operation::CreateExpressGatewayService,
    Operation::DescribeExpressGatewayService,
    Operation::UpdateExpressGatewayService,
    Operation::DeleteExpressGatewayService,
];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::CreateExpressGatewayService => "An ECS service (DescribeServices shows it) of a registered task definition `<cluster>-<service>` (container `Main`, awsvpc, FARGATE; cpu 256, memory 512, port 80 by default) with `minTaskCount` tasks, and an Ingress routing its endpoint host `<service>-<hash>.<region>.ecs.localhost` to the container port where the cluster has an ingress class. The default cluster is created if missing. The health check path and scaling target are kept, not applied.",
        Operation::DescribeExpressGatewayService => "Status (ACTIVE, DRAINING, INACTIVE), the configurations of its current deployments with their service revisions and endpoint, current deployment; `include: [\"TAGS\"]`.",
        Operation::UpdateExpressGatewayService => "The request's members over the current configuration become a new task-definition revision and deployment.",
        Operation::DeleteExpressGatewayService => "The service drains (DRAINING, then INACTIVE once its tasks are gone); its Ingress goes with it.",
        _ => return None,
    })
}

/// ECS's defaults (API reference): 256 CPU units, 512 MiB, port 80, `/ping`, 1 to 20
/// tasks scaled on average CPU at 60%.
const DEFAULT_CPU: &str = "256";
const DEFAULT_MEMORY: &str = "512";
const DEFAULT_PORT: i32 = 80;
const DEFAULT_HEALTH_CHECK_PATH: &str = "/ping";
const DEFAULT_MIN_TASKS: i32 = 1;
const DEFAULT_MAX_TASKS: i32 = 20;
const DEFAULT_TARGET_VALUE: i32 = 60;
/// Configurations kept per service.
const HISTORY: usize = 20;
const CONTAINER: &str = "Main";
const DEFAULT_CLUSTER: &str = "default";

fn resource_not_found(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFoundException,
        format!("Resource not found: {arn}."),
    )
}

fn service_not_found() -> ApiError {
    ApiError::new(ErrorCode::ServiceNotFoundException, "Service not found.")
}

/// The (cluster, service) of a service ARN (`arn:...:service/<cluster>/<name>`); `None`
/// when it names nothing of ours.
fn parse_arn<'a>(ctx: &Ctx, arn: &'a str) -> Result<Option<(&'a str, &'a str)>, ApiError> {
    if !arn.starts_with("arn:") {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid service ARN: {arn}"
        )));
    }
    let Some(resource) = ctx.arns.resource_of(arn) else {
        return Ok(None);
    };
    let path = resource
        .strip_prefix("service/")
        .ok_or_else(|| ApiError::invalid_parameter(format!("Invalid service ARN: {arn}")))?;
    Ok(match path.split('/').collect::<Vec<_>>()[..] {
        [cluster, name] if !cluster.is_empty() && !name.is_empty() => Some((cluster, name)),
        _ => None,
    })
}

/// The Express gateway service an ARN names: its cluster, name and state.
fn stored(ctx: &Ctx, arn: &str) -> Result<Option<(String, String, ServiceState)>, ApiError> {
    let Some((cluster, name)) = parse_arn(ctx, arn)? else {
        return Ok(None);
    };
    let state = ctx
        .store
        .services()
        .get((cluster, name))?
        .map(|r| r.value)
        .filter(|s| s.express.is_some());
    Ok(state.map(|s| (cluster.to_owned(), name.to_owned(), s)))
}

/// A service name ECS would derive from the image: its last path segment without tag or
/// digest, and 4 hex digits.
fn name_from_image(image: &str) -> String {
    let base = image
        .rsplit('/')
        .next()
        .unwrap_or(image)
        .split(['@', ':'])
        .next()
        .unwrap_or_default();
    let base: String = base
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(200)
        .collect();
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..4];
    if base.is_empty() {
        format!("express-{suffix}")
    } else {
        format!("{base}-{suffix}")
    }
}

fn check_configuration(configuration: &ExpressGatewayServiceConfiguration) -> Result<(), ApiError> {
    if let Some(path) = &configuration.health_check_path {
        if !path.starts_with('/') {
            return Err(ApiError::invalid_parameter(
                "healthCheckPath must start with '/'.",
            ));
        }
    }
    let port = configuration
        .primary_container
        .as_ref()
        .and_then(|c| c.container_port)
        .unwrap_or(DEFAULT_PORT);
    if !(1..=65535).contains(&port) {
        return Err(ApiError::invalid_parameter(
            "containerPort must be between 1 and 65535.",
        ));
    }
    if let Some(target) = &configuration.scaling_target {
        let min = target.min_task_count.unwrap_or(DEFAULT_MIN_TASKS);
        let max = target.max_task_count.unwrap_or(DEFAULT_MAX_TASKS);
        if min < 1 || max < min {
            return Err(ApiError::invalid_parameter(
                "minTaskCount must be at least 1 and no more than maxTaskCount.",
            ));
        }
    }
    if configuration
        .primary_container
        .as_ref()
        .and_then(|c| c.image.as_deref())
        .is_none_or(str::is_empty)
    {
        return Err(ApiError::invalid_parameter(
            "primaryContainer.image must be specified.",
        ));
    }
    Ok(())
}

/// A configuration with ECS's defaults filled in.
fn with_defaults(mut c: ExpressGatewayServiceConfiguration) -> ExpressGatewayServiceConfiguration {
    c.cpu.get_or_insert_with(|| DEFAULT_CPU.to_owned());
    c.memory.get_or_insert_with(|| DEFAULT_MEMORY.to_owned());
    c.health_check_path
        .get_or_insert_with(|| DEFAULT_HEALTH_CHECK_PATH.to_owned());
    if let Some(container) = c.primary_container.as_mut() {
        container.container_port.get_or_insert(DEFAULT_PORT);
    }
    let target = c
        .scaling_target
        .get_or_insert_with(ExpressGatewayScalingTarget::default);
    target.min_task_count.get_or_insert(DEFAULT_MIN_TASKS);
    target.max_task_count.get_or_insert(DEFAULT_MAX_TASKS);
    target
        .auto_scaling_metric
        .get_or_insert(ExpressGatewayServiceScalingMetric::AverageCpu);
    target
        .auto_scaling_target_value
        .get_or_insert(DEFAULT_TARGET_VALUE);
    c
}

/// The task definition a configuration runs as.
fn registration(
    ctx: &Ctx,
    family: &str,
    cluster: &str,
    service: &str,
    c: &ExpressGatewayServiceConfiguration,
) -> RegisterTaskDefinitionRequest {
    let container = c.primary_container.clone().unwrap_or_default();
    let port = container.container_port.unwrap_or(DEFAULT_PORT);
    let logs = container.aws_logs_configuration.as_ref();
    let log_options = [
        (
            "awslogs-group",
            logs.and_then(|l| l.log_group.clone())
                .unwrap_or_else(|| format!("/aws/ecs/{cluster}/{service}")),
        ),
        ("awslogs-region", ctx.region.to_string()),
        (
            "awslogs-stream-prefix",
            logs.and_then(|l| l.log_stream_prefix.clone())
                .unwrap_or_else(|| "ecs".to_owned()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    RegisterTaskDefinitionRequest {
        family: Some(family.to_owned()),
        network_mode: Some(NetworkMode::Awsvpc),
        requires_compatibilities: Some(vec![kubecs_api_models::Compatibility::Fargate]),
        cpu: c.cpu.clone(),
        memory: c.memory.clone(),
        execution_role_arn: c.execution_role_arn.clone(),
        task_role_arn: c.task_role_arn.clone(),
        container_definitions: Some(vec![ContainerDefinition {
            name: Some(CONTAINER.to_owned()),
            image: container.image.clone(),
            essential: Some(true),
            command: container.command.clone(),
            environment: container.environment.clone(),
            secrets: container.secrets.clone(),
            repository_credentials: container.repository_credentials.as_ref().map(|r| {
                RepositoryCredentials {
                    credentials_parameter: r.credentials_parameter.clone(),
                }
            }),
            port_mappings: Some(vec![PortMapping {
                container_port: Some(port),
                protocol: Some(TransportProtocol::Tcp),
                name: Some(format!("main-{port}")),
                ..PortMapping::default()
            }]),
            log_configuration: Some(LogConfiguration {
                log_driver: Some(LogDriver::Awslogs),
                options: Some(log_options),
                secret_options: None,
            }),
            ..ContainerDefinition::default()
        }]),
        ..RegisterTaskDefinitionRequest::default()
    }
}

/// Registers the task definition of a configuration; its ARN.
async fn register(
    ctx: &Ctx,
    cluster: &str,
    service: &str,
    configuration: &ExpressGatewayServiceConfiguration,
) -> Result<String, ApiError> {
    let family = family_of(cluster, service);
    let registered = task_definitions::register(
        ctx.clone(),
        registration(ctx, &family, cluster, service, configuration),
    )
    .await?;
    Ok(registered
        .task_definition
        .and_then(|t| t.task_definition_arn)
        .unwrap_or_default())
}

/// The tasks a configuration starts with: its `minTaskCount`.
fn min_tasks(configuration: &ExpressGatewayServiceConfiguration) -> i32 {
    configuration
        .scaling_target
        .as_ref()
        .and_then(|t| t.min_task_count)
        .unwrap_or(DEFAULT_MIN_TASKS)
}

fn family_of(cluster: &str, service: &str) -> String {
    let family = format!("{cluster}-{service}");
    if family.len() <= names::MAX_NAME {
        family
    } else {
        service.to_owned()
    }
}

fn network(c: &ExpressGatewayServiceConfiguration) -> NetworkConfiguration {
    let given = c.network_configuration.clone().unwrap_or_default();
    NetworkConfiguration {
        awsvpc_configuration: Some(AwsVpcConfiguration {
            // Kubernetes pods have no subnets; ECS would pick the default VPC's.
            subnets: Some(
                given
                    .subnets
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| vec!["subnet-kubecs-default".to_owned()]),
            ),
            security_groups: given.security_groups,
            assign_public_ip: None,
        }),
    }
}

pub async fn create(
    ctx: Ctx,
    input: CreateExpressGatewayServiceRequest,
) -> Result<CreateExpressGatewayServiceResponse, ApiError> {
    let image = input
        .primary_container
        .as_ref()
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let name = input
        .service_name
        .clone()
        .unwrap_or_else(|| name_from_image(&image));
    if !names::is_valid(&name) {
        return Err(ApiError::invalid_parameter(
            "Service name must be up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.",
        ));
    }
    tags::check(input.tags.as_ref())?;
    let configuration = with_defaults(ExpressGatewayServiceConfiguration {
        cpu: input.cpu.clone(),
        memory: input.memory.clone(),
        execution_role_arn: input.execution_role_arn.clone(),
        task_role_arn: input.task_role_arn.clone(),
        health_check_path: input.health_check_path.clone(),
        network_configuration: input.network_configuration.clone(),
        primary_container: input.primary_container.clone(),
        scaling_target: input.scaling_target.clone(),
        created_at: Some(ctx.now),
        ..ExpressGatewayServiceConfiguration::default()
    });
    check_configuration(&configuration)?;
    let cluster_ident = input
        .cluster
        .clone()
        .unwrap_or_else(|| DEFAULT_CLUSTER.to_owned());
    // ECS creates the default cluster for an Express service that needs it.
    if cluster_ident == DEFAULT_CLUSTER
        && clusters::require_active(&ctx, Some(DEFAULT_CLUSTER)).is_err()
    {
        clusters::create(
            ctx.clone(),
            CreateClusterRequest {
                cluster_name: Some(DEFAULT_CLUSTER.to_owned()),
                ..CreateClusterRequest::default()
            },
        )
        .await?;
    }
    let cluster = clusters::require_active(&ctx, Some(&cluster_ident))?;
    if ctx
        .store
        .services()
        .get((cluster.as_str(), name.as_str()))?
        .is_some_and(|r| r.value.service.status.as_deref() != Some(INACTIVE))
    {
        return Err(ApiError::invalid_parameter(
            "Creation of service was not idempotent.",
        ));
    }
    let td_arn = register(&ctx, &cluster, &name, &configuration).await?;
    let scope = ClusterScope {
        region: &ctx.region,
        cluster: &cluster,
    };
    let host = express::host(&scope, &name);
    let state = ExpressState {
        infrastructure_role_arn: input.infrastructure_role_arn.clone().unwrap_or_default(),
        host,
        configurations: vec![ExpressConfiguration {
            configuration: configuration.clone(),
            task_definition_arn: td_arn.clone(),
        }],
    };
    let min = min_tasks(&configuration);
    services::create_with(
        ctx.clone(),
        CreateServiceRequest {
            cluster: Some(cluster.clone()),
            service_name: Some(name.clone()),
            task_definition: Some(td_arn),
            desired_count: Some(min),
            launch_type: Some(LaunchType::Fargate),
            network_configuration: Some(network(&configuration)),
            propagate_tags: Some(PropagateTags::Service),
            enable_ecs_managed_tags: Some(true),
            tags: input.tags.clone(),
            ..CreateServiceRequest::default()
        },
        Some(state),
    )
    .await?;
    let (_, _, stored) =
        stored(&ctx, &ctx.arns.service(&cluster, &name))?.ok_or_else(service_not_found)?;
    Ok(CreateExpressGatewayServiceResponse {
        service: Some(present(&stored, input.tags.clone())),
    })
}

/// The endpoint of a service's host.
fn ingress_paths(state: &ExpressState) -> Vec<IngressPathSummary> {
    vec![IngressPathSummary {
        access_type: Some(AccessType::Public),
        endpoint: Some(format!("http://{}/", state.host)),
    }]
}

fn status(state: &ServiceState) -> ExpressGatewayServiceStatus {
    let code = match state.service.status.as_deref() {
        Some(ACTIVE) => ExpressGatewayServiceStatusCode::Active,
        Some(DRAINING) => ExpressGatewayServiceStatusCode::Draining,
        _ => ExpressGatewayServiceStatusCode::Inactive,
    };
    ExpressGatewayServiceStatus {
        status_code: Some(code),
        status_reason: None,
    }
}

/// A configuration as ECS shows it: with its service revision and endpoint.
fn shown(
    state: &ServiceState,
    express: &ExpressState,
    c: &ExpressConfiguration,
) -> ExpressGatewayServiceConfiguration {
    let revision = state
        .history
        .iter()
        .find(|e| e.revision.task_definition.as_deref() == Some(c.task_definition_arn.as_str()))
        .and_then(|e| e.revision.service_revision_arn.clone());
    ExpressGatewayServiceConfiguration {
        service_revision_arn: revision,
        ingress_paths: Some(ingress_paths(express)),
        ..c.configuration.clone()
    }
}

fn present(
    state: &ServiceState,
    tags: Option<Vec<kubecs_api_models::Tag>>,
) -> ECSExpressGatewayService {
    let express = state.express.clone().unwrap_or_default();
    let service = &state.service;
    // The configurations its ECS deployments still run (PRIMARY and ACTIVE).
    let running: Vec<&str> = service
        .deployments
        .iter()
        .flatten()
        .filter_map(|d| d.task_definition.as_deref())
        .collect();
    let active = express
        .configurations
        .iter()
        .filter(|c| running.contains(&c.task_definition_arn.as_str()))
        .map(|c| shown(state, &express, c))
        .collect();
    ECSExpressGatewayService {
        service_arn: service.service_arn.clone(),
        service_name: service.service_name.clone(),
        cluster: service.cluster_arn.clone(),
        infrastructure_role_arn: Some(express.infrastructure_role_arn.clone()),
        status: Some(status(state)),
        current_deployment: state
            .history
            .first()
            .and_then(|e| e.deployment.service_deployment_arn.clone()),
        active_configurations: Some(active),
        created_at: service.created_at,
        updated_at: state
            .history
            .first()
            .and_then(|e| e.deployment.created_at)
            .or(service.created_at),
        tags,
    }
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeExpressGatewayServiceRequest,
) -> Result<DescribeExpressGatewayServiceResponse, ApiError> {
    let arn = input.service_arn.as_deref().unwrap_or_default();
    let (_, _, state) = stored(&ctx, arn)?.ok_or_else(|| resource_not_found(arn))?;
    let wants_tags = input
        .include
        .iter()
        .flatten()
        .any(|i| *i == ExpressGatewayServiceInclude::Tags);
    let tags = if wants_tags {
        Some(tags::of(&ctx, arn)?)
    } else {
        None
    };
    Ok(DescribeExpressGatewayServiceResponse {
        service: Some(present(&state, tags)),
    })
}

/// `given`'s members over `current` (a given primary container's members over the
/// current container's).
fn merged(
    current: &ExpressGatewayServiceConfiguration,
    input: &UpdateExpressGatewayServiceRequest,
    now: kubecs_api_models::Timestamp,
) -> ExpressGatewayServiceConfiguration {
    let container = match (&current.primary_container, &input.primary_container) {
        (Some(old), Some(new)) => Some(ExpressGatewayContainer {
            image: new.image.clone().or_else(|| old.image.clone()),
            container_port: new.container_port.or(old.container_port),
            command: new.command.clone().or_else(|| old.command.clone()),
            environment: new.environment.clone().or_else(|| old.environment.clone()),
            secrets: new.secrets.clone().or_else(|| old.secrets.clone()),
            repository_credentials: new
                .repository_credentials
                .clone()
                .or_else(|| old.repository_credentials.clone()),
            aws_logs_configuration: new
                .aws_logs_configuration
                .clone()
                .or_else(|| old.aws_logs_configuration.clone()),
        }),
        (old, new) => new.clone().or_else(|| old.clone()),
    };
    with_defaults(ExpressGatewayServiceConfiguration {
        cpu: input.cpu.clone().or_else(|| current.cpu.clone()),
        memory: input.memory.clone().or_else(|| current.memory.clone()),
        execution_role_arn: input
            .execution_role_arn
            .clone()
            .or_else(|| current.execution_role_arn.clone()),
        task_role_arn: input
            .task_role_arn
            .clone()
            .or_else(|| current.task_role_arn.clone()),
        health_check_path: input
            .health_check_path
            .clone()
            .or_else(|| current.health_check_path.clone()),
        network_configuration: input
            .network_configuration
            .clone()
            .or_else(|| current.network_configuration.clone()),
        scaling_target: input
            .scaling_target
            .clone()
            .or_else(|| current.scaling_target.clone()),
        primary_container: container,
        created_at: Some(now),
        ..ExpressGatewayServiceConfiguration::default()
    })
}

fn require_active(state: &ServiceState) -> Result<(), ApiError> {
    if state.service.status.as_deref() == Some(ACTIVE) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::ServiceNotActiveException,
            format!(
                "Cannot perform this operation on a service in {} status.",
                state.service.status.as_deref().unwrap_or(INACTIVE)
            ),
        ))
    }
}

pub async fn update(
    ctx: Ctx,
    input: UpdateExpressGatewayServiceRequest,
) -> Result<UpdateExpressGatewayServiceResponse, ApiError> {
    let arn = input.service_arn.clone().unwrap_or_default();
    let (cluster, name, state) = stored(&ctx, &arn)?.ok_or_else(service_not_found)?;
    require_active(&state)?;
    let express = state.express.clone().unwrap_or_default();
    let current = express
        .configurations
        .first()
        .map(|c| c.configuration.clone())
        .unwrap_or_default();
    let configuration = merged(&current, &input, ctx.now);
    check_configuration(&configuration)?;
    let td_arn = register(&ctx, &cluster, &name, &configuration).await?;
    let min = min_tasks(&configuration);
    let entry = ExpressConfiguration {
        configuration: configuration.clone(),
        task_definition_arn: td_arn.clone(),
    };
    services::update_with(
        ctx.clone(),
        UpdateServiceRequest {
            cluster: Some(cluster.clone()),
            service: Some(name.clone()),
            task_definition: Some(td_arn),
            desired_count: Some(min),
            network_configuration: Some(network(&configuration)),
            ..UpdateServiceRequest::default()
        },
        move |state| {
            let express = state.express.as_mut().ok_or_else(service_not_found)?;
            express.configurations.insert(0, entry);
            express.configurations.truncate(HISTORY);
            Ok(())
        },
    )
    .await?;
    let (_, _, state) = stored(&ctx, &arn)?.ok_or_else(service_not_found)?;
    let express = state.express.clone().unwrap_or_default();
    let target = express
        .configurations
        .first()
        .map(|c| shown(&state, &express, c));
    Ok(UpdateExpressGatewayServiceResponse {
        service: Some(UpdatedExpressGatewayService {
            service_arn: state.service.service_arn.clone(),
            service_name: state.service.service_name.clone(),
            cluster: state.service.cluster_arn.clone(),
            status: Some(status(&state)),
            target_configuration: target,
            created_at: state.service.created_at,
            updated_at: Some(ctx.now),
        }),
    })
}

pub async fn delete(
    ctx: Ctx,
    input: DeleteExpressGatewayServiceRequest,
) -> Result<DeleteExpressGatewayServiceResponse, ApiError> {
    let arn = input.service_arn.clone().unwrap_or_default();
    let (cluster, name, state) = stored(&ctx, &arn)?.ok_or_else(service_not_found)?;
    require_active(&state)?;
    services::delete(
        ctx.clone(),
        DeleteServiceRequest {
            cluster: Some(cluster),
            service: Some(name),
            force: Some(true),
        },
    )
    .await?;
    let (_, _, state) = stored(&ctx, &arn)?.ok_or_else(service_not_found)?;
    Ok(DeleteExpressGatewayServiceResponse {
        service: Some(present(&state, None)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_derived_from_the_image() {
        let name = name_from_image("public.ecr.aws/nginx/nginx:1.27");
        assert!(
            name.starts_with("nginx-") && name.len() == "nginx-".len() + 4,
            "{name}"
        );
        assert!(name_from_image("@@@").starts_with("express-"));
    }

    #[test]
    fn an_update_keeps_what_it_does_not_set() {
        let now = kubecs_api_models::Timestamp::now();
        let current = with_defaults(ExpressGatewayServiceConfiguration {
            cpu: Some("512".to_owned()),
            primary_container: Some(ExpressGatewayContainer {
                image: Some("web:1".to_owned()),
                container_port: Some(8080),
                command: Some(vec!["serve".to_owned()]),
                ..ExpressGatewayContainer::default()
            }),
            ..ExpressGatewayServiceConfiguration::default()
        });
        let update = UpdateExpressGatewayServiceRequest {
            memory: Some("1024".to_owned()),
            primary_container: Some(ExpressGatewayContainer {
                image: Some("web:2".to_owned()),
                ..ExpressGatewayContainer::default()
            }),
            ..UpdateExpressGatewayServiceRequest::default()
        };
        let next = merged(&current, &update, now);
        assert_eq!(next.cpu.as_deref(), Some("512"));
        assert_eq!(next.memory.as_deref(), Some("1024"));
        let container = next.primary_container.unwrap();
        assert_eq!(container.image.as_deref(), Some("web:2"));
        assert_eq!(container.container_port, Some(8080));
        assert_eq!(container.command, Some(vec!["serve".to_owned()]));
        assert_eq!(next.health_check_path.as_deref(), Some("/ping"));
    }
}
