//! Tasks: ListTasks and DescribeTasks, from the task records the reconciler writes for
//! the pods of each service (kubecs_reconciler::observe::records): a pod is a task, with
//! the state ECS would show, and a stopped task stays listed and describable for an
//! hour. The API reads the store only; it never asks Kubernetes.

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{clusters, names, services, tags};
use kubecs_api_models::status::INACTIVE;
use kubecs_api_models::{
    DescribeTasksRequest, DescribeTasksResponse, DesiredStatus, ErrorCode, Failure,
    ListTasksRequest, ListTasksResponse, Operation, Task, TaskField,
};
use kubecs_storage::{KeyPrefix, Order};

pub const OPERATIONS: &[Operation] = &[Operation::DescribeTasks, Operation::ListTasks];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::ListTasks => "The tasks of services, one per pod; stopped ones for an hour; filters `serviceName`, `family`, `startedBy`, `desiredStatus` and `launchType`; paginated (default and at most 100). No task is on a container instance yet (`containerInstance` matches none).",
        Operation::DescribeTasks => "Tasks of services as the reconciler last saw their pods: status, health, times, stop code and reason, containers with exit codes and host ports; up to 100 per call; unknown ids in `failures` as MISSING; `include: [\"TAGS\"]`. No `containerInstanceArn`, `availabilityZone`, task-level cpu/memory yet.",
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
    // Tasks run on no container instance and no daemon yet: those filters match none.
    if input.container_instance.is_some() || input.daemon_name.is_some() {
        return Ok(ListTasksResponse {
            task_arns: Some(Vec::new()),
            next_token: None,
        });
    }
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
                && group
                    .as_ref()
                    .is_none_or(|g| task.group.as_ref() == Some(g))
                && input
                    .family
                    .as_deref()
                    .is_none_or(|f| family_of(task) == Some(f))
                && input
                    .started_by
                    .as_ref()
                    .is_none_or(|s| task.started_by.as_ref() == Some(s))
                && input
                    .launch_type
                    .as_ref()
                    .is_none_or(|l| task.launch_type.as_ref() == Some(l))
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

/// The family of a task's task definition ARN (`...:task-definition/<family>:<n>`).
fn family_of(task: &Task) -> Option<&str> {
    let arn = task.task_definition_arn.as_deref()?;
    let (_, tail) = arn.split_once(":task-definition/")?;
    Some(tail.rsplit_once(':').map_or(tail, |(family, _)| family))
}
