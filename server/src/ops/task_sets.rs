//! Task sets, for services with the EXTERNAL deployment controller: CreateTaskSet,
//! DescribeTaskSets, UpdateTaskSet, DeleteTaskSet and UpdateServicePrimaryTaskSet. Each
//! task set is kept in the service's `taskSets` and runs as its own Kubernetes
//! Deployment of `computedDesiredCount` pods (the service's desired count times its
//! scale, rounded up); the service's counts are the sum of its task sets'.

use kubecs_api_models::status::ACTIVE;
use kubecs_api_models::{
    CreateTaskSetRequest, CreateTaskSetResponse, DeleteTaskSetRequest, DeleteTaskSetResponse,
    DeploymentControllerType, DescribeTaskSetsRequest, DescribeTaskSetsResponse, ErrorCode,
    Failure, LaunchType, Operation, Scale, ScaleUnit, Service, StabilityStatus, TaskSet,
    TaskSetField, UpdateServicePrimaryTaskSetRequest, UpdateServicePrimaryTaskSetResponse,
    UpdateTaskSetRequest, UpdateTaskSetResponse,
};
use kubecs_reconciler::convert;
use kubecs_storage::{ServiceState, Write};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{capacity_providers, services, tags};

pub const OPERATIONS: &[Operation] = &[
    Operation::CreateTaskSet,
    Operation::DescribeTaskSets,
    Operation::UpdateTaskSet,
    Operation::DeleteTaskSet,
    Operation::UpdateServicePrimaryTaskSet,
];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::CreateTaskSet => "For EXTERNAL services: a task set of a task definition and a scale, run as its own Deployment (the first one is PRIMARY); `externalId`, launch settings and tags kept. Its load balancers and service registries are stored, not mapped: the external controller routes traffic.",
        Operation::DescribeTaskSets => "The service's task sets with their running and pending counts and stability (STEADY_STATE once all run); `include: [\"TAGS\"]`.",
        Operation::UpdateTaskSet => "A new scale (percent of the service's desired count, rounded up): the Deployment scales.",
        Operation::DeleteTaskSet => "DRAINING: its Deployment goes and the task set leaves once its pods have; the PRIMARY one only with `force`.",
        Operation::UpdateServicePrimaryTaskSet => "The task set becomes PRIMARY, the previous one ACTIVE.",
        _ => return None,
    })
}

const PRIMARY: &str = "PRIMARY";
const DRAINING: &str = "DRAINING";

fn external_only() -> ApiError {
    ApiError::invalid_parameter(
        "Task sets are only supported for services with the EXTERNAL deployment controller.",
    )
}

fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::TaskSetNotFoundException,
        "The specified task set does not exist.",
    )
}

/// `computedDesiredCount`: the service's desired count times the scale, rounded up.
pub fn computed(desired: i32, scale: Option<&Scale>) -> i32 {
    let percent = scale.and_then(|s| s.value).unwrap_or(100.0);
    (f64::from(desired) * percent / 100.0).ceil() as i32
}

fn check_scale(scale: Option<&Scale>) -> Result<(), ApiError> {
    let Some(scale) = scale else { return Ok(()) };
    if scale
        .unit
        .as_ref()
        .is_some_and(|u| *u != ScaleUnit::Percent)
    {
        return Err(ApiError::invalid_parameter(
            "The scale unit must be PERCENT.",
        ));
    }
    if !(0.0..=100.0).contains(&scale.value.unwrap_or(100.0)) {
        return Err(ApiError::invalid_parameter(
            "The scale value must be between 0 and 100.",
        ));
    }
    Ok(())
}

/// The task set a parameter (an id or an ARN) names in `service`.
fn position(service: &Service, ident: &str) -> Option<usize> {
    service
        .task_sets
        .iter()
        .flatten()
        .position(|t| t.id.as_deref() == Some(ident) || t.task_set_arn.as_deref() == Some(ident))
}

/// Changes an EXTERNAL service in one write, answering what `change` returns.
async fn change<R>(
    ctx: &Ctx,
    cluster: Option<&str>,
    service: Option<&str>,
    change: impl Fn(&mut ServiceState, &str) -> Result<R, ApiError>,
) -> Result<R, ApiError> {
    let table = ctx.store.services();
    ctx.store
        .transaction(|tx| {
            let (cluster, name) = services::locate_in(tx, ctx, cluster, service)?;
            tx.update(&table, (cluster.as_str(), name.as_str()), |current| {
                let current = current.ok_or_else(services::not_found)?;
                let mut next = current.value.clone();
                if next.service.status.as_deref() != Some(ACTIVE) {
                    return Err(services::not_active());
                }
                let controller = next
                    .service
                    .deployment_controller
                    .as_ref()
                    .and_then(|c| c.r#type.clone());
                if controller != Some(DeploymentControllerType::External) {
                    return Err(external_only());
                }
                let answer = change(&mut next, &cluster)?;
                Ok((Write::Put(next), answer))
            })
        })
        .await
}

pub async fn create(
    ctx: Ctx,
    input: CreateTaskSetRequest,
) -> Result<CreateTaskSetResponse, ApiError> {
    check_scale(input.scale.as_ref())?;
    tags::check(input.tags.as_ref())?;
    if input.launch_type.is_some() && input.capacity_provider_strategy.is_some() {
        return Err(ApiError::invalid_parameter(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    let ident = input
        .task_definition
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("TaskDefinition cannot be empty."))?;
    let id = kubecs_reconciler::deployment::new_id();
    let now = ctx.now;
    let user_tags = input.tags.clone().unwrap_or_default();
    let table = ctx.store.services();
    let created = ctx
        .store
        .transaction(|tx| {
            let (cluster, name) =
                services::locate_in(tx, &ctx, input.cluster.as_deref(), input.service.as_deref())?;
            let td = services::active_task_definition_in(tx, &ctx, ident)?;
            if let Some(strategy) = input.capacity_provider_strategy.as_deref() {
                capacity_providers::strategy_in(tx, &ctx, &cluster, None, Some(strategy))?;
            }
            let created = tx.update(&table, (cluster.as_str(), name.as_str()), |current| {
                let current = current.ok_or_else(services::not_found)?;
                let mut next = current.value.clone();
                let service = &mut next.service;
                if service.status.as_deref() != Some(ACTIVE) {
                    return Err(services::not_active());
                }
                if service
                    .deployment_controller
                    .as_ref()
                    .and_then(|c| c.r#type.clone())
                    != Some(DeploymentControllerType::External)
                {
                    return Err(external_only());
                }
                let sets = service.task_sets.get_or_insert_with(Vec::new);
                let scale = input.scale.clone().unwrap_or(Scale {
                    value: Some(100.0),
                    unit: Some(ScaleUnit::Percent),
                });
                let service_arn = service.service_arn.clone().unwrap_or_default();
                let task_set = TaskSet {
                    id: Some(id.clone()),
                    task_set_arn: Some(
                        service_arn.replacen(":service/", ":task-set/", 1) + "/" + &id,
                    ),
                    service_arn: service.service_arn.clone(),
                    cluster_arn: service.cluster_arn.clone(),
                    external_id: input.external_id.clone(),
                    status: Some(if sets.is_empty() { PRIMARY } else { ACTIVE }.to_owned()),
                    task_definition: td.task_definition_arn.clone(),
                    computed_desired_count: Some(computed(
                        service.desired_count.unwrap_or(0),
                        Some(&scale),
                    )),
                    pending_count: Some(0),
                    running_count: Some(0),
                    created_at: Some(now),
                    updated_at: Some(now),
                    launch_type: if input.capacity_provider_strategy.is_some() {
                        None
                    } else {
                        Some(input.launch_type.clone().unwrap_or(LaunchType::Ec2))
                    },
                    capacity_provider_strategy: input.capacity_provider_strategy.clone(),
                    platform_version: input.platform_version.clone(),
                    network_configuration: input.network_configuration.clone(),
                    load_balancers: Some(input.load_balancers.clone().unwrap_or_default()),
                    service_registries: Some(input.service_registries.clone().unwrap_or_default()),
                    scale: Some(scale),
                    stability_status: Some(StabilityStatus::Stabilizing),
                    stability_status_at: Some(now),
                    ..TaskSet::default()
                };
                sets.push(task_set.clone());
                // What Kubernetes cannot run is refused now.
                convert::check_task_set(service, &task_set, &td)
                    .map_err(|e| ApiError::new(e.error_code(), e.to_string()))?;
                Ok((Write::Put(next), task_set))
            })?;
            let arn = created.task_set_arn.clone().unwrap_or_default();
            tags::replace_in(&ctx, tx, &arn, user_tags.clone())?;
            Ok::<_, ApiError>(created)
        })
        .await?;
    Ok(CreateTaskSetResponse {
        task_set: Some(TaskSet {
            tags: Some(user_tags),
            ..created
        }),
    })
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeTaskSetsRequest,
) -> Result<DescribeTaskSetsResponse, ApiError> {
    let (_, state) = services::stored(&ctx, input.cluster.as_deref(), input.service.as_deref())?;
    let include_tags = input
        .include
        .as_ref()
        .is_some_and(|i| i.contains(&TaskSetField::Tags));
    let all = state.service.task_sets.clone().unwrap_or_default();
    let mut found = Vec::new();
    let mut failures = Vec::new();
    match input.task_sets.as_ref().filter(|t| !t.is_empty()) {
        None => found = all,
        Some(idents) => {
            for ident in idents {
                match position(&state.service, ident) {
                    Some(i) => found.push(all[i].clone()),
                    None => failures.push(Failure {
                        arn: Some(ident.clone()),
                        reason: Some("MISSING".to_owned()),
                        detail: None,
                    }),
                }
            }
        }
    }
    if include_tags {
        for set in &mut found {
            set.tags = Some(tags::of(
                &ctx,
                set.task_set_arn.as_deref().unwrap_or_default(),
            )?);
        }
    }
    Ok(DescribeTaskSetsResponse {
        task_sets: Some(found),
        failures: Some(failures),
    })
}

pub async fn update(
    ctx: Ctx,
    input: UpdateTaskSetRequest,
) -> Result<UpdateTaskSetResponse, ApiError> {
    let scale = input
        .scale
        .clone()
        .ok_or_else(|| ApiError::invalid_parameter("scale must be specified."))?;
    check_scale(Some(&scale))?;
    let ident = input.task_set.clone().unwrap_or_default();
    let now = ctx.now;
    let task_set = change(
        &ctx,
        input.cluster.as_deref(),
        input.service.as_deref(),
        |state, _| {
            let service = &mut state.service;
            let i = position(service, &ident).ok_or_else(not_found)?;
            let desired = service.desired_count.unwrap_or(0);
            let set = &mut service.task_sets.get_or_insert_with(Vec::new)[i];
            set.computed_desired_count = Some(computed(desired, Some(&scale)));
            set.scale = Some(scale.clone());
            set.stability_status = Some(StabilityStatus::Stabilizing);
            set.stability_status_at = Some(now);
            set.updated_at = Some(now);
            Ok(set.clone())
        },
    )
    .await?;
    Ok(UpdateTaskSetResponse {
        task_set: Some(task_set),
    })
}

pub async fn delete(
    ctx: Ctx,
    input: DeleteTaskSetRequest,
) -> Result<DeleteTaskSetResponse, ApiError> {
    let ident = input.task_set.clone().unwrap_or_default();
    let force = input.force.unwrap_or(false);
    let now = ctx.now;
    let task_set = change(
        &ctx,
        input.cluster.as_deref(),
        input.service.as_deref(),
        |state, _| {
            let service = &mut state.service;
            let i = position(service, &ident).ok_or_else(not_found)?;
            let set = &mut service.task_sets.get_or_insert_with(Vec::new)[i];
            if set.status.as_deref() == Some(PRIMARY) && !force {
                return Err(ApiError::invalid_parameter(
                    "The primary task set cannot be deleted unless force is set.",
                ));
            }
            set.status = Some(DRAINING.to_owned());
            set.computed_desired_count = Some(0);
            set.updated_at = Some(now);
            Ok(set.clone())
        },
    )
    .await?;
    Ok(DeleteTaskSetResponse {
        task_set: Some(task_set),
    })
}

pub async fn update_primary(
    ctx: Ctx,
    input: UpdateServicePrimaryTaskSetRequest,
) -> Result<UpdateServicePrimaryTaskSetResponse, ApiError> {
    let ident = input.primary_task_set.clone().unwrap_or_default();
    let now = ctx.now;
    let task_set = change(
        &ctx,
        input.cluster.as_deref(),
        input.service.as_deref(),
        |state, _| {
            let service = &mut state.service;
            let i = position(service, &ident).ok_or_else(not_found)?;
            let sets = service.task_sets.get_or_insert_with(Vec::new);
            if sets[i].status.as_deref() == Some(DRAINING) {
                return Err(ApiError::invalid_parameter(
                    "A DRAINING task set cannot become the primary task set.",
                ));
            }
            for (j, set) in sets.iter_mut().enumerate() {
                let status = if j == i {
                    PRIMARY
                } else if set.status.as_deref() == Some(PRIMARY) {
                    ACTIVE
                } else {
                    continue;
                };
                set.status = Some(status.to_owned());
                set.updated_at = Some(now);
            }
            Ok(sets[i].clone())
        },
    )
    .await?;
    Ok(UpdateServicePrimaryTaskSetResponse {
        task_set: Some(task_set),
    })
}
