//! Services: CreateService, DescribeServices, ListServices, ListServicesByNamespace,
//! UpdateService and DeleteService.
//!
//! The API writes desired state (the `Service` shape with its deployments, inside a
//! `ServiceState` record); every change bumps the record's generation, which the
//! reconciler acts on. Deleting a service marks it DRAINING; the reconciler removes its
//! workload and marks it INACTIVE (`kubecs_reconciler::drain::finish_drain`).

mod deployment;
mod limits;
mod wire;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{capacity_providers, clusters, names, tags};
use kubecs_api_models::status::{ACTIVE, DRAINING};
use kubecs_api_models::{
    CreateServiceRequest, CreateServiceResponse, DeleteServiceRequest, DeleteServiceResponse,
    DeploymentController, DeploymentControllerType, DescribeServicesRequest, ErrorCode, Failure,
    LaunchType, ListServicesByNamespaceRequest, ListServicesByNamespaceResponse,
    ListServicesRequest, ListServicesResponse, LoadBalancer, NetworkMode, Operation, PropagateTags,
    SchedulingStrategy, Service, ServiceField, TaskDefinition, TaskDefinitionStatus,
    UpdateServiceRequest, UpdateServiceResponse,
};
use kubecs_reconciler::history;
use kubecs_storage::{KeyPrefix, Order, PageToken, ServiceState, Tx, Write};
use wire::{DescribedServices, WireService};

/// The operations this module implements.
pub const OPERATIONS: &[Operation] = &[
    Operation::CreateService,
    Operation::DeleteService,
    Operation::DescribeServices,
    Operation::ListServices,
    Operation::ListServicesByNamespace,
    Operation::UpdateService,
];

/// What kubecs does with each, for the README's compatibility table.
pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::CreateService => "Desired state stored with a PRIMARY deployment; idempotent with `clientToken`; ECS's validation of the task definition, counts, launch type, deployment configuration and load balancers; ECS's list and length limits (load balancers, subnets, placement, `clientToken`, ...); `memberOf` expressions parsed and refused as ECS does; a REPLICA service Kubernetes cannot run is refused with ECS's error. The reconciler runs it as a Deployment (placement: see \"On Kubernetes\") and reports its counts, deployments and events; DAEMON services run as DaemonSets (one task per node).",
        Operation::DescribeServices => "Running/pending counts, deployments (rollout state, counts) and events from what runs on Kubernetes; up to 10 per call; unknown names in `failures` as MISSING; INACTIVE services stay describable; `include: [\"TAGS\"]`.",
        Operation::ListServices => "ACTIVE services of a cluster, filtered by launch type and scheduling strategy; paginated (default 10, at most 100).",
        Operation::ListServicesByNamespace => "Services whose Service Connect configuration names the namespace; paginated.",
        Operation::UpdateService => "A new task definition, `forceNewDeployment`, load balancers, Service Connect or new launch settings start a deployment; scaling alone does not; CreateService's limits apply, and a new deployment Kubernetes cannot run is refused.",
        Operation::DeleteService => "Refused above 0 tasks unless `force`; the service becomes DRAINING, then INACTIVE once the reconciler has removed its workload.",
        _ => return None,
    })
}

const LIST_KIND: &str = "ListServices";
const NAMESPACE_LIST_KIND: &str = "ListServicesByNamespace";
/// ECS: DescribeServices takes up to 10 services; list pages hold 1-100, 10 by default.
const MAX_DESCRIBE: usize = 10;
const MAX_PAGE: i32 = 100;
const DEFAULT_PAGE: i32 = 10;

pub(crate) fn not_found() -> ApiError {
    ApiError::new(ErrorCode::ServiceNotFoundException, "Service not found.")
}

pub(crate) fn not_active() -> ApiError {
    ApiError::new(
        ErrorCode::ServiceNotActiveException,
        "Service was not ACTIVE.",
    )
}

/// ECS's service-name rule: up to 255 letters, digits, hyphens and underscores.
fn check_name(name: &str) -> Result<(), ApiError> {
    if names::is_valid(name) {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "Service name must match ^[a-zA-Z0-9\\-_]{{1,255}}$, but was {name}"
        )))
    }
}

/// The service name a `service` parameter refers to (see [`names::in_cluster`]).
pub(crate) fn service_name<'a>(
    ctx: &Ctx,
    cluster: &str,
    ident: &'a str,
) -> Result<Option<&'a str>, ApiError> {
    names::in_cluster(ctx, "service", cluster, ident)
}

/// The (cluster, service name) an UpdateService or DeleteService request refers to, in
/// the write that changes it: the cluster must be ACTIVE, and a service ARN of another
/// cluster names nothing here.
pub(crate) fn locate_in(
    tx: &Tx<'_, '_>,
    ctx: &Ctx,
    cluster: Option<&str>,
    service: Option<&str>,
) -> Result<(String, String), ApiError> {
    let cluster = clusters::require_active_in(tx, ctx, cluster)?;
    let name = service_name(ctx, &cluster, service.unwrap_or_default())?
        .ok_or_else(not_found)?
        .to_owned();
    Ok((cluster, name))
}

/// The stored state of the service a request names in an ACTIVE cluster (outside any
/// write: for reads), with the cluster's name.
pub(crate) fn stored(
    ctx: &Ctx,
    cluster: Option<&str>,
    service: Option<&str>,
) -> Result<(String, ServiceState), ApiError> {
    let cluster = clusters::require_active(ctx, cluster)?;
    let name = service_name(ctx, &cluster, service.unwrap_or_default())?
        .ok_or_else(not_found)?
        .to_owned();
    let state = ctx
        .store
        .services()
        .get((cluster.as_str(), name.as_str()))?
        .ok_or_else(not_found)?
        .value;
    Ok((cluster, state))
}

/// The task definition a service may use, read in the write that uses it: it must exist
/// and be ACTIVE (a deregistration decided meanwhile is seen).
pub(crate) fn active_task_definition_in(
    tx: &Tx<'_, '_>,
    ctx: &Ctx,
    ident: &str,
) -> Result<TaskDefinition, ApiError> {
    let reference = ctx.arns.task_definition_ref(ident)?;
    let revisions = ctx.store.task_definitions();
    let record = match reference.revision {
        Some(revision) => tx.get(revisions.revisions(), (reference.family.as_str(), revision))?,
        // The latest ACTIVE revision is found outside the write, then read again in it.
        None => match revisions.by_reference(&reference)? {
            Some(latest) => {
                let revision = latest
                    .value
                    .revision
                    .and_then(|r| u32::try_from(r).ok())
                    .unwrap_or_default();
                tx.get(revisions.revisions(), (reference.family.as_str(), revision))?
            }
            None => None,
        },
    }
    .ok_or_else(|| ApiError::client("TaskDefinition not found."))?;
    if record.value.status != Some(TaskDefinitionStatus::Active) {
        return Err(ApiError::invalid_parameter("TaskDefinition is inactive"));
    }
    Ok(record.value)
}

/// The task definition a stored service runs (its revision may be INACTIVE: ECS keeps
/// running deregistered revisions), read in the write; `None` when the service or the
/// revision is not stored.
fn running_task_definition_in(
    tx: &Tx<'_, '_>,
    ctx: &Ctx,
    cluster: &str,
    name: &str,
) -> Result<Option<TaskDefinition>, ApiError> {
    let Some(service) = tx.get(&ctx.store.services(), (cluster, name))? else {
        return Ok(None);
    };
    let Some(arn) = service.value.service.task_definition.as_deref() else {
        return Ok(None);
    };
    let reference = ctx.arns.task_definition_ref(arn)?;
    let Some(revision) = reference.revision else {
        return Ok(None);
    };
    let revisions = ctx.store.task_definitions();
    let record = tx.get(revisions.revisions(), (reference.family.as_str(), revision))?;
    Ok(record.map(|r| r.value))
}

/// Each load balancer must name a container of the task definition and one of that
/// container's container ports.
fn check_load_balancers(lbs: &[LoadBalancer], td: &TaskDefinition) -> Result<(), ApiError> {
    for lb in lbs {
        let name = lb.container_name.as_deref().unwrap_or_default();
        let container = td
            .container_definitions
            .iter()
            .flatten()
            .find(|c| c.name.as_deref() == Some(name))
            .ok_or_else(|| {
                ApiError::invalid_parameter(format!(
                    "The container {name} does not exist in the task definition."
                ))
            })?;
        let port = lb.container_port.unwrap_or_default();
        let has_port = container
            .port_mappings
            .iter()
            .flatten()
            .any(|p| p.container_port == Some(port));
        if !has_port {
            return Err(ApiError::invalid_parameter(format!(
                "The container {name} did not have a container port {port} defined."
            )));
        }
    }
    Ok(())
}

/// Launch type against the task definition's compatibilities and network mode.
fn check_launch(service: &Service, td: &TaskDefinition) -> Result<(), ApiError> {
    if let Some(launch_type) = &service.launch_type {
        let compatible = td.compatibilities.as_ref().is_none_or(|c| {
            c.iter()
                .any(|compat| compat.as_str() == launch_type.as_str())
        });
        if !compatible {
            return Err(ApiError::invalid_parameter(format!(
                "Task definition does not support launch_type {launch_type}."
            )));
        }
    }
    if td.network_mode == Some(NetworkMode::Awsvpc) && service.network_configuration.is_none() {
        return Err(ApiError::invalid_parameter(
            "Network Configuration must be provided when networkMode 'awsvpc' is specified.",
        ));
    }
    Ok(())
}

/// A service as DescribeServices shows it; tags only when asked for.
fn present(ctx: &Ctx, mut service: Service, include_tags: bool) -> Result<Service, ApiError> {
    // Takes the stored service by value: DescribeServices presents up to 10 services of a
    // kilobyte or more each, and a profile showed the copies costing ~5% of its CPU.
    service.tags = if include_tags {
        Some(tags::of(
            ctx,
            service.service_arn.as_deref().unwrap_or_default(),
        )?)
    } else {
        None
    };
    Ok(service)
}

pub async fn create(
    ctx: Ctx,
    input: CreateServiceRequest,
) -> Result<CreateServiceResponse, ApiError> {
    create_with(ctx, input, None).await
}

/// CreateService, with the settings of the Express gateway service it is (if it is one)
/// stored in the same write.
pub async fn create_with(
    ctx: Ctx,
    input: CreateServiceRequest,
    express: Option<kubecs_storage::ExpressState>,
) -> Result<CreateServiceResponse, ApiError> {
    let name = input.service_name.clone().unwrap_or_default();
    check_name(&name)?;
    tags::check(input.tags.as_ref())?;
    limits::check_client_token(input.client_token.as_deref())?;
    limits::check(&limits::limited!(input))?;
    crate::ops::placement::check_service(
        input.placement_constraints.as_deref().unwrap_or_default(),
    )?;
    let strategy = input
        .scheduling_strategy
        .clone()
        .unwrap_or(SchedulingStrategy::Replica);
    let controller = input
        .deployment_controller
        .clone()
        .unwrap_or(DeploymentController {
            r#type: Some(DeploymentControllerType::Ecs),
        });
    if input.launch_type.is_some() && input.capacity_provider_strategy.is_some() {
        return Err(ApiError::invalid_parameter(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    let desired_count = match strategy {
        SchedulingStrategy::Daemon => {
            if input.launch_type == Some(LaunchType::Fargate) {
                return Err(ApiError::invalid_parameter(
                    "The daemon scheduling strategy does not support a launch type of FARGATE.",
                ));
            }
            0
        }
        _ => input.desired_count.ok_or_else(|| {
            ApiError::invalid_parameter(
                "desiredCount is required for services with the REPLICA scheduling strategy.",
            )
        })?,
    };
    if desired_count < 0 {
        return Err(ApiError::invalid_parameter(format!(
            "desiredCount must be 0 or more, but was {desired_count}."
        )));
    }
    let external = controller.r#type == Some(DeploymentControllerType::External);
    if input.task_definition.is_none() && !external {
        return Err(ApiError::invalid_parameter(
            "A task definition must be specified unless the deployment controller is EXTERNAL.",
        ));
    }
    let config = deployment::with_defaults(input.deployment_configuration.as_ref(), &strategy);
    deployment::check(&config)?;
    let launch_type = match (&input.launch_type, &input.capacity_provider_strategy) {
        (Some(lt), _) => Some(lt.clone()),
        (None, Some(_)) => None,
        (None, None) => Some(LaunchType::Ec2),
    };
    let platform_version = input
        .platform_version
        .clone()
        .or_else(|| (launch_type == Some(LaunchType::Fargate)).then(|| "LATEST".to_owned()));
    let services = ctx.store.services();
    let token = input.client_token.clone();
    // Everything is decided and written in one atomic write: the cluster is ACTIVE, the
    // task definition is ACTIVE, the name is free (or this is a retry of the same
    // create); then the service, its tags and the cluster's counts.
    let service = ctx
        .store
        .transaction(|tx| {
            let cluster = clusters::require_active_in(tx, &ctx, input.cluster.as_deref())?;
            let td = input
                .task_definition
                .as_deref()
                .map(|ident| active_task_definition_in(tx, &ctx, ident))
                .transpose()?;
            let capacity_strategy = capacity_providers::strategy_in(
                tx,
                &ctx,
                &cluster,
                input.launch_type.as_ref(),
                input.capacity_provider_strategy.as_deref(),
            )?;
            let mut service = Service {
                service_arn: Some(ctx.arns.service(&cluster, &name)),
                service_name: Some(name.clone()),
                cluster_arn: Some(ctx.arns.cluster(&cluster)),
                load_balancers: Some(input.load_balancers.clone().unwrap_or_default()),
                service_registries: Some(input.service_registries.clone().unwrap_or_default()),
                status: Some(ACTIVE.to_owned()),
                desired_count: Some(desired_count),
                running_count: Some(0),
                pending_count: Some(0),
                launch_type: if capacity_strategy.is_some() {
                    None
                } else {
                    launch_type.clone()
                },
                capacity_provider_strategy: capacity_strategy,
                platform_version: platform_version.clone(),
                task_definition: td.as_ref().and_then(|t| t.task_definition_arn.clone()),
                deployment_configuration: Some(config.clone()),
                role_arn: input.role.as_deref().map(|role| role_arn(&ctx, role)),
                events: Some(Vec::new()),
                created_at: Some(ctx.now),
                created_by: Some(ctx.caller.principal_arn.clone()),
                placement_constraints: Some(
                    input.placement_constraints.clone().unwrap_or_default(),
                ),
                placement_strategy: Some(input.placement_strategy.clone().unwrap_or_default()),
                network_configuration: input.network_configuration.clone(),
                health_check_grace_period_seconds: input.health_check_grace_period_seconds,
                scheduling_strategy: Some(strategy.clone()),
                deployment_controller: Some(controller.clone()),
                enable_ecs_managed_tags: Some(input.enable_ecs_managed_tags.unwrap_or(false)),
                propagate_tags: Some(input.propagate_tags.clone().unwrap_or(PropagateTags::None)),
                enable_execute_command: Some(input.enable_execute_command.unwrap_or(false)),
                availability_zone_rebalancing: input.availability_zone_rebalancing.clone(),
                ..Service::default()
            };
            if let Some(td) = &td {
                check_launch(&service, td)?;
                check_load_balancers(input.load_balancers.as_deref().unwrap_or_default(), td)?;
            }
            if !external {
                let mut primary = deployment::primary(&service, ctx.now);
                primary.service_connect_configuration = input.service_connect_configuration.clone();
                service.deployments = Some(vec![primary]);
                if let Some(td) = &td {
                    runnable(&service, td)?;
                }
            }
            let mut fresh = ServiceState {
                service,
                client_token: token.clone(),
                express: express.clone(),
                ..ServiceState::default()
            };
            history::started(&mut fresh, td.as_ref(), ctx.now);
            let (service, previous) =
                tx.update(&services, (cluster.as_str(), name.as_str()), |current| {
                    let existing = current.map(|r| &r.value);
                    let previous = existing.and_then(|s| s.service.status.clone());
                    match previous.as_deref() {
                        Some(ACTIVE) => {
                            let same_token = token.is_some()
                                && existing.and_then(|s| s.client_token.as_ref()) == token.as_ref();
                            if same_token {
                                let first = existing.map(|s| s.service.clone()).unwrap_or_default();
                                Ok((Write::Keep, (first, None)))
                            } else {
                                Err(ApiError::invalid_parameter(
                                    "Creation of service was not idempotent.",
                                ))
                            }
                        }
                        Some(DRAINING) => Err(ApiError::invalid_parameter(
                            "Unable to Start a service that is still Draining.",
                        )),
                        _ => Ok((
                            Write::Put(fresh.clone()),
                            (fresh.service.clone(), Some(previous)),
                        )),
                    }
                })?;
            if let Some(previous) = previous {
                let arn = ctx.arns.service(&cluster, &name);
                tags::replace_in(&ctx, tx, &arn, input.tags.clone().unwrap_or_default())?;
                clusters::count_service_move_in(
                    tx,
                    &ctx,
                    &cluster,
                    &service,
                    previous.as_deref(),
                    Some(ACTIVE),
                )?;
            }
            Ok::<_, ApiError>(service)
        })
        .await?;
    Ok(CreateServiceResponse {
        service: Some(present(&ctx, service, true)?),
    })
}

/// The IAM role ARN ECS stores for a `role` parameter: a bare name (`ecsServiceRole`) is
/// the account's role of that name, a path or ARN is kept as given.
fn role_arn(ctx: &Ctx, role: &str) -> String {
    if role.starts_with("arn:") {
        return role.to_owned();
    }
    let partition = kubecs_api_models::arn::partition(&ctx.region);
    let path = role.trim_start_matches('/');
    format!("arn:{partition}:iam::{}:role/{path}", ctx.caller.account_id)
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeServicesRequest,
) -> Result<DescribedServices, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let idents = input.services.unwrap_or_default();
    if idents.is_empty() {
        return Err(ApiError::invalid_parameter("Services cannot be empty."));
    }
    if idents.len() > MAX_DESCRIBE {
        return Err(ApiError::invalid_parameter(format!(
            "services can have at most {MAX_DESCRIBE} items."
        )));
    }
    let include_tags = input
        .include
        .as_ref()
        .is_some_and(|i| i.contains(&ServiceField::Tags));
    let mut services = Vec::new();
    let mut failures = Vec::new();
    for ident in &idents {
        let found = match service_name(&ctx, &cluster, ident)? {
            Some(name) => ctx
                .store
                .services()
                .get_derived(
                    (cluster.as_str(), name),
                    &ctx.caches.service_wire,
                    |record| wire::encode(record.value.service),
                )?
                .map(|plain| (name, plain)),
            None => None,
        };
        match found {
            Some((name, plain)) if include_tags => {
                let tags = tags::of(&ctx, &ctx.arns.service(&cluster, name))?;
                services.push(WireService::tagged(&plain, &tags)?);
            }
            Some((_, plain)) => services.push(WireService::Plain(plain)),
            None => failures.push(Failure {
                arn: Some(if ident.starts_with("arn:") {
                    ident.clone()
                } else {
                    ctx.arns.service(&cluster, ident)
                }),
                reason: Some("MISSING".to_owned()),
                detail: None,
            }),
        }
    }
    Ok(DescribedServices { services, failures })
}

/// `maxResults` within ECS's bounds, and the page token if one was sent.
pub(crate) fn page_params(
    max_results: Option<i32>,
    next_token: Option<&str>,
    kind: &str,
) -> Result<(usize, Option<PageToken>), ApiError> {
    let limit = max_results.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_parameter(format!(
            "maxResults must be between 1 and {MAX_PAGE}."
        )));
    }
    let token = next_token.map(|t| PageToken::parse(kind, t)).transpose()?;
    Ok((limit as usize, token))
}

pub async fn list(ctx: Ctx, input: ListServicesRequest) -> Result<ListServicesResponse, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let (limit, token) = page_params(input.max_results, input.next_token.as_deref(), LIST_KIND)?;
    let page = ctx.store.services().page_where(
        &KeyPrefix::first(&cluster),
        token.as_ref(),
        limit,
        Order::Ascending,
        |_, r| {
            let s = &r.value.service;
            s.status.as_deref() == Some(ACTIVE)
                && input
                    .launch_type
                    .as_ref()
                    .is_none_or(|lt| s.launch_type.as_ref() == Some(lt))
                && input
                    .scheduling_strategy
                    .as_ref()
                    .is_none_or(|st| s.scheduling_strategy.as_ref() == Some(st))
        },
    )?;
    Ok(ListServicesResponse {
        service_arns: Some(
            page.items
                .iter()
                .filter_map(|(_, r)| r.value.service.service_arn.clone())
                .collect(),
        ),
        next_token: page.next_token.map(|t| t.encode(LIST_KIND)),
    })
}

pub async fn list_by_namespace(
    ctx: Ctx,
    input: ListServicesByNamespaceRequest,
) -> Result<ListServicesByNamespaceResponse, ApiError> {
    let namespace = input.namespace.clone().unwrap_or_default();
    let (limit, token) = page_params(
        input.max_results,
        input.next_token.as_deref(),
        NAMESPACE_LIST_KIND,
    )?;
    let page = ctx.store.services().page_where(
        &KeyPrefix::all(),
        token.as_ref(),
        limit,
        Order::Ascending,
        |_, r| {
            let s = &r.value.service;
            s.status.as_deref() == Some(ACTIVE)
                && s.deployments.iter().flatten().any(|d| {
                    d.service_connect_configuration
                        .as_ref()
                        .and_then(|c| c.namespace.as_deref())
                        == Some(namespace.as_str())
                })
        },
    )?;
    Ok(ListServicesByNamespaceResponse {
        service_arns: Some(
            page.items
                .iter()
                .filter_map(|(_, r)| r.value.service.service_arn.clone())
                .collect(),
        ),
        next_token: page.next_token.map(|t| t.encode(NAMESPACE_LIST_KIND)),
    })
}

/// Whether an update changes what tasks run, so that ECS starts a new deployment.
fn starts_deployment(input: &UpdateServiceRequest) -> bool {
    input.force_new_deployment == Some(true)
        || input.task_definition.is_some()
        || input.network_configuration.is_some()
        || input.capacity_provider_strategy.is_some()
        || input.platform_version.is_some()
        || input.load_balancers.is_some()
        || input.service_connect_configuration.is_some()
        || input.volume_configurations.is_some()
}

pub async fn update(
    ctx: Ctx,
    input: UpdateServiceRequest,
) -> Result<UpdateServiceResponse, ApiError> {
    update_with(ctx, input, |_| Ok(())).await
}

/// UpdateService, with `edit` changing the rest of the service's state in the same write
/// (an Express gateway service's configuration), after the update applied.
pub async fn update_with(
    ctx: Ctx,
    input: UpdateServiceRequest,
    edit: impl FnOnce(&mut ServiceState) -> Result<(), ApiError>,
) -> Result<UpdateServiceResponse, ApiError> {
    limits::check(&limits::limited!(input))?;
    crate::ops::placement::check_service(
        input.placement_constraints.as_deref().unwrap_or_default(),
    )?;
    if let Some(count) = input.desired_count {
        if count < 0 {
            return Err(ApiError::invalid_parameter(format!(
                "desiredCount must be 0 or more, but was {count}."
            )));
        }
    }
    let now = ctx.now;
    let services = ctx.store.services();
    let service = ctx
        .store
        .transaction(|tx| {
            let (cluster, name) =
                locate_in(tx, &ctx, input.cluster.as_deref(), input.service.as_deref())?;
            let td = input
                .task_definition
                .as_deref()
                .map(|ident| active_task_definition_in(tx, &ctx, ident))
                .transpose()?;
            // A new deployment without a new task definition (load balancers, Service
            // Connect, a forced one...) is checked with the one the service runs.
            let running_td = match (&td, starts_deployment(&input)) {
                (None, true) => running_task_definition_in(tx, &ctx, &cluster, &name)?,
                _ => None,
            };
            if let Some(strategy) = input.capacity_provider_strategy.as_deref() {
                capacity_providers::strategy_in(tx, &ctx, &cluster, None, Some(strategy))?;
            }
            tx.update(&services, (cluster.as_str(), name.as_str()), |current| {
                let Some(record) = current else {
                    return Err(not_found());
                };
                let mut state = record.value.clone();
                if state.service.status.as_deref() != Some(ACTIVE) {
                    return Err(not_active());
                }
                let service = &mut state.service;
                apply_update(service, &input, td.as_ref())?;
                if starts_deployment(&input) {
                    deployment::start_new(service, now);
                    if let (Some(primary), Some(connect)) = (
                        service.deployments.iter_mut().flatten().next(),
                        &input.service_connect_configuration,
                    ) {
                        primary.service_connect_configuration = Some(connect.clone());
                    }
                } else if input.desired_count.is_some() {
                    deployment::scale_primary(service, now);
                }
                // An EXTERNAL service's task sets follow its desired count.
                let desired = service.desired_count.unwrap_or(0);
                for set in service.task_sets.iter_mut().flatten() {
                    if set.status.as_deref() != Some("DRAINING") {
                        set.computed_desired_count =
                            Some(crate::ops::task_sets::computed(desired, set.scale.as_ref()));
                    }
                }
                if let Some(td) = td.as_ref().or(running_td.as_ref()) {
                    runnable(service, td)?;
                }
                if starts_deployment(&input) {
                    history::started(&mut state, td.as_ref().or(running_td.as_ref()), now);
                }
                edit(&mut state)?;
                Ok((Write::Put(state.clone()), state.service))
            })
        })
        .await?;
    Ok(UpdateServiceResponse {
        service: Some(present(&ctx, service, false)?),
    })
}

/// Whether Kubernetes can run `service` with `td` (the reconciler's converter decides:
/// a Deployment, or a DaemonSet for a DAEMON service); refused with the ECS error the
/// converter names otherwise.
fn runnable(service: &Service, td: &TaskDefinition) -> Result<(), ApiError> {
    if service.scheduling_strategy == Some(SchedulingStrategy::Daemon) {
        return kubecs_reconciler::convert::check_daemon(service, td)
            .map_err(|e| ApiError::new(e.error_code(), e.to_string()));
    }
    kubecs_reconciler::convert::check_service(service, td)
        .map_err(|unsupported| ApiError::new(unsupported.error_code(), unsupported.to_string()))
}

/// Applies the members an UpdateService request sets, with the same checks as create.
fn apply_update(
    service: &mut Service,
    input: &UpdateServiceRequest,
    td: Option<&TaskDefinition>,
) -> Result<(), ApiError> {
    if let Some(td) = td {
        service.task_definition = td.task_definition_arn.clone();
    }
    if let Some(count) = input.desired_count {
        if service.scheduling_strategy != Some(SchedulingStrategy::Daemon) {
            service.desired_count = Some(count);
        }
    }
    if let Some(config) = &input.deployment_configuration {
        let strategy = service
            .scheduling_strategy
            .clone()
            .unwrap_or(SchedulingStrategy::Replica);
        let current =
            deployment::with_defaults(service.deployment_configuration.as_ref(), &strategy);
        let merged = deployment::overlay(&current, config);
        deployment::check(&merged)?;
        service.deployment_configuration = Some(merged);
    }
    if let Some(v) = &input.network_configuration {
        service.network_configuration = Some(v.clone());
    }
    if let Some(v) = &input.capacity_provider_strategy {
        service.capacity_provider_strategy = Some(v.clone());
        service.launch_type = None;
    }
    if let Some(v) = &input.platform_version {
        service.platform_version = Some(v.clone());
    }
    if let Some(v) = &input.load_balancers {
        service.load_balancers = Some(v.clone());
    }
    if let Some(v) = &input.service_registries {
        service.service_registries = Some(v.clone());
    }
    if let Some(v) = &input.placement_constraints {
        service.placement_constraints = Some(v.clone());
    }
    if let Some(v) = &input.placement_strategy {
        service.placement_strategy = Some(v.clone());
    }
    if let Some(v) = input.health_check_grace_period_seconds {
        service.health_check_grace_period_seconds = Some(v);
    }
    if let Some(v) = input.enable_execute_command {
        service.enable_execute_command = Some(v);
    }
    if let Some(v) = input.enable_ecs_managed_tags {
        service.enable_ecs_managed_tags = Some(v);
    }
    if let Some(v) = &input.propagate_tags {
        service.propagate_tags = Some(v.clone());
    }
    if let Some(v) = &input.availability_zone_rebalancing {
        service.availability_zone_rebalancing = Some(v.clone());
    }
    // The task definition the service now runs must still fit its launch settings.
    if let Some(td) = td {
        check_launch(service, td)?;
        check_load_balancers(service.load_balancers.as_deref().unwrap_or_default(), td)?;
    }
    Ok(())
}

pub async fn delete(
    ctx: Ctx,
    input: DeleteServiceRequest,
) -> Result<DeleteServiceResponse, ApiError> {
    let force = input.force == Some(true);
    let now = ctx.now;
    let services = ctx.store.services();
    // Deleting a service that is already DRAINING or INACTIVE answers it as it is: ECS
    // treats DeleteService as idempotent (aws/aws-sdk-js#4189 shows success on an
    // INACTIVE service), and its model has no ServiceNotActiveException for it.
    let service = ctx
        .store
        .transaction(|tx| {
            let (cluster, name) =
                locate_in(tx, &ctx, input.cluster.as_deref(), input.service.as_deref())?;
            let (service, drained_now) =
                tx.update(&services, (cluster.as_str(), name.as_str()), |current| {
                    let Some(record) = current else {
                        return Err(not_found());
                    };
                    let mut state = record.value.clone();
                    if state.service.status.as_deref() != Some(ACTIVE) {
                        return Ok((Write::Keep, (state.service, false)));
                    }
                    let service = &mut state.service;
                    let replica = service.scheduling_strategy != Some(SchedulingStrategy::Daemon);
                    if replica && service.desired_count.unwrap_or(0) > 0 && !force {
                        return Err(ApiError::invalid_parameter(
                            "The service cannot be stopped while it is scaled above 0.",
                        ));
                    }
                    service.status = Some(DRAINING.to_owned());
                    service.desired_count = Some(0);
                    deployment::scale_primary(service, now);
                    Ok((Write::Put(state.clone()), (state.service, true)))
                })?;
            if drained_now {
                clusters::count_service_move_in(
                    tx,
                    &ctx,
                    &cluster,
                    &service,
                    Some(ACTIVE),
                    Some(DRAINING),
                )?;
            }
            Ok::<_, ApiError>(service)
        })
        .await?;
    Ok(DeleteServiceResponse {
        service: Some(present(&ctx, service, false)?),
    })
}
