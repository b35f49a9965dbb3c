//! Tasks: RunTask and StartTask ([`start`]), StopTask, ListTasks and DescribeTasks. A task is a pod: the reconciler
//! writes the record of each pod of a service (kubecs_reconciler::observe::records) and
//! keeps a standalone task's record (written here by RunTask) in step with its pod, which
//! it creates, and deletes once StopTask asks; a stopped task stays listed and
//! describable for an hour. The API reads and writes the store only; it never asks
//! Kubernetes.

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{clusters, names, services, tags};
use kubecs_api_models::status::INACTIVE;
use kubecs_api_models::{
    task_definition_of, DescribeTasksRequest, DescribeTasksResponse, DesiredStatus, ErrorCode,
    Failure, ListTasksRequest, ListTasksResponse, Operation, StopTaskRequest, StopTaskResponse,
    TaskField, TaskStopCode,
};
use kubecs_storage::{KeyPrefix, Order, Write};

mod start;
pub use start::{run, start};

pub const OPERATIONS: &[Operation] = &[
    Operation::DescribeTasks,
    Operation::ListTasks,
    Operation::RunTask,
    Operation::StartTask,
    Operation::StopTask,
];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::ListTasks => "The tasks of services and daemons, one per pod; stopped ones for an hour; filters `serviceName`, `daemonName`, `family`, `startedBy`, `desiredStatus`, `launchType` and `containerInstance` (the task's node); paginated (default and at most 100).",
        Operation::RunTask => "1 to 10 pods (never restarted) of the task definition with `overrides` (container command, environment, cpu, memory; task cpu and memory), `startedBy`, `group` (default `family:<family>`), tags (`propagateTags` TASK_DEFINITION, `enableECSManagedTags`) and `clientToken`; answers at once with PROVISIONING tasks. Placement constraints: `memberOf` (the request's and the task definition's) chooses the nodes that satisfy it now, `distinctInstance` puts the tasks on different nodes. A capacity provider strategy of Auto Scaling group providers runs the tasks on their nodes. Placement strategies: `spread` over the instance or a platform attribute balances the task group's tasks (`binpack`, `random` and custom attributes are kept unapplied). What Kubernetes cannot run is refused.",
        Operation::StartTask => "One pod per container instance named, bound to that node; an instance whose agent never connected is a failure (`AGENT`), an unknown one `MISSING`. Otherwise as RunTask.",
        Operation::StopTask => "Deletes the task's pod (with the task definition's stop timeout as grace period); the task is STOPPED with stopCode UserInitiated and the reason given. A service's or daemon's task is replaced by its service or daemon.",
        Operation::DescribeTasks => "Tasks of services and daemons as the reconciler last saw their pods: status, health, times, stop code and reason, containers with exit codes and host ports; up to 100 per call; unknown ids in `failures` as MISSING; `include: [\"TAGS\"]`; `containerInstanceArn` (the node) and `availabilityZone` (its zone label). A service task has no task-level cpu/memory.",
        _ => return None,
    })
}

/// The token kind of ListTasks: a token from another listing is refused.
const LIST_KIND: &str = "ListTasks";
/// ECS: ListTasks pages hold 1 to 100 tasks, 100 by default; DescribeTasks takes up to 100.
const DEFAULT_PAGE: i32 = 100;
const MAX_DESCRIBE: usize = 100;

pub async fn list(ctx: Ctx, input: ListTasksRequest) -> Result<ListTasksResponse, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let (limit, token) = services::page_params(
        Some(input.max_results.unwrap_or(DEFAULT_PAGE)),
        input.next_token.as_deref(),
        LIST_KIND,
    )?;
    let group = match input.service_name.as_deref() {
        Some(name) => {
            let service = ctx.store.services().get((cluster.as_str(), name))?;
            if service.is_none_or(|s| s.value.service.status.as_deref() == Some(INACTIVE)) {
                return Err(ApiError::new(
                    ErrorCode::ServiceNotFoundException,
                    "Service not found.",
                ));
            }
            Some(format!("service:{name}"))
        }
        None => None,
    };
    // The container instance (a node) by id or ARN.
    let instance = match input.container_instance.as_deref() {
        Some(ident) => match names::in_cluster(&ctx, "container-instance", &cluster, ident)? {
            Some(id) => Some(id.to_owned()),
            None => {
                return Ok(ListTasksResponse {
                    task_arns: Some(Vec::new()),
                    next_token: None,
                })
            }
        },
        None => None,
    };
    // A daemon's tasks have the group `daemon:<name>` (the reconciler's records); a
    // daemon that has none, or does not exist, lists none (the operation declares no
    // daemon error).
    let daemon_group = input.daemon_name.as_deref().map(|n| format!("daemon:{n}"));
    let desired = input
        .desired_status
        .clone()
        .unwrap_or(DesiredStatus::Running);
    let page = ctx.store.tasks().page_where(
        &KeyPrefix::first(&cluster),
        token.as_ref(),
        limit,
        Order::Ascending,
        |_, record| {
            let task = &record.value;
            task.desired_status.as_deref() == Some(desired.as_str())
                && [&group, &daemon_group]
                    .into_iter()
                    .flatten()
                    .all(|g| task.group.as_ref() == Some(g))
                && input.family.as_deref().is_none_or(|f| {
                    task.task_definition_arn
                        .as_deref()
                        .and_then(task_definition_of)
                        .is_some_and(|(family, _)| family == f)
                })
                && input
                    .started_by
                    .as_ref()
                    .is_none_or(|s| task.started_by.as_ref() == Some(s))
                && input
                    .launch_type
                    .as_ref()
                    .is_none_or(|l| task.launch_type.as_ref() == Some(l))
                && instance.as_ref().is_none_or(|id| {
                    task.container_instance_arn
                        .as_deref()
                        .and_then(|arn| arn.rsplit('/').next())
                        == Some(id.as_str())
                })
        },
    )?;
    Ok(ListTasksResponse {
        task_arns: Some(
            page.items
                .into_iter()
                .filter_map(|(_, r)| r.value.task_arn)
                .collect(),
        ),
        next_token: page.next_token.map(|t| t.encode(LIST_KIND)),
    })
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeTasksRequest,
) -> Result<DescribeTasksResponse, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let idents = input.tasks.unwrap_or_default();
    if idents.is_empty() {
        return Err(ApiError::invalid_parameter("Tasks cannot be empty."));
    }
    if idents.len() > MAX_DESCRIBE {
        return Err(ApiError::invalid_parameter(format!(
            "tasks can have at most {MAX_DESCRIBE} items."
        )));
    }
    let include_tags = input
        .include
        .as_ref()
        .is_some_and(|i| i.contains(&TaskField::Tags));
    let table = ctx.store.tasks();
    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for ident in &idents {
        let found = match names::in_cluster(&ctx, "task", &cluster, ident)? {
            Some(id) => table.get((cluster.as_str(), id))?.map(|r| r.value),
            None => None,
        };
        match found {
            Some(mut task) => {
                if include_tags {
                    let arn = task.task_arn.clone().unwrap_or_default();
                    task.tags = Some(tags::of(&ctx, &arn)?);
                }
                tasks.push(task);
            }
            None => failures.push(Failure {
                arn: Some(if ident.starts_with("arn:") {
                    ident.clone()
                } else {
                    ctx.arns.task(&cluster, ident)
                }),
                reason: Some("MISSING".to_owned()),
                detail: None,
            }),
        }
    }
    Ok(DescribeTasksResponse {
        tasks: Some(tasks),
        failures: Some(failures),
    })
}

/// ECS's longest StopTask `reason`.
const MAX_REASON: usize = 255;

pub async fn stop(ctx: Ctx, input: StopTaskRequest) -> Result<StopTaskResponse, ApiError> {
    let reason = input.reason.clone().unwrap_or_default();
    if reason.len() > MAX_REASON {
        return Err(ApiError::invalid_parameter(format!(
            "reason can be at most {MAX_REASON} characters."
        )));
    }
    let ident = input
        .task
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("Task cannot be empty."))?;
    let now = ctx.now;
    let table = ctx.store.tasks();
    let task = ctx
        .store
        .transaction(|tx| {
            let cluster = clusters::require_active_in(tx, &ctx, input.cluster.as_deref())?;
            let missing = || ApiError::invalid_parameter("The referenced task was not found.");
            let id = names::in_cluster(&ctx, "task", &cluster, ident)?.ok_or_else(missing)?;
            tx.update(&table, (cluster.as_str(), id), |current| {
                let current = current.ok_or_else(missing)?;
                let mut next = current.value.clone();
                if next.desired_status.as_deref() == Some("STOPPED") {
                    // Already on its way out: ECS answers with the task as it is.
                    return Ok::<_, ApiError>((Write::Keep, next));
                }
                next.desired_status = Some("STOPPED".to_owned());
                next.stop_code = Some(TaskStopCode::UserInitiated);
                next.stopped_reason = Some(if reason.is_empty() {
                    "Task stopped by user".to_owned()
                } else {
                    reason.clone()
                });
                next.stopping_at = Some(now);
                next.version = Some(next.version.unwrap_or(1) + 1);
                Ok((Write::Put(next.clone()), next))
            })
        })
        .await?;
    Ok(StopTaskResponse { task: Some(task) })
}
