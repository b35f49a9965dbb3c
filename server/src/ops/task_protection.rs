//! Task scale-in protection: GetTaskProtection and UpdateTaskProtection for the tasks of
//! services (ECS refuses standalone tasks as TASK_NOT_VALID). The protection is the
//! service's desired state; the reconciler gives a protected task's pod the highest
//! `controller.kubernetes.io/pod-deletion-cost` until it expires, so that a scale-in
//! removes other pods first (Kubernetes 1.22 and later honour it; older API servers
//! ignore the annotation).

use kubecs_api_models::{
    Failure, GetTaskProtectionRequest, GetTaskProtectionResponse, Operation, ProtectedTask, Task,
    Timestamp, UpdateTaskProtectionRequest, UpdateTaskProtectionResponse,
};
use kubecs_storage::Write;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{clusters, names, services};

pub const OPERATIONS: &[Operation] = &[
    Operation::GetTaskProtection,
    Operation::UpdateTaskProtection,
];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::GetTaskProtection => "Whether each service task is protected and until when; standalone tasks are `TASK_NOT_VALID`, unknown ones `MISSING`.",
        Operation::UpdateTaskProtection => "Protects service tasks for `expiresInMinutes` (1 to 2880, default 120) or removes the protection: the task's pod gets the highest `controller.kubernetes.io/pod-deletion-cost` until then, so a scale-in stops other tasks first (honoured by Kubernetes 1.22 and later).",
        _ => return None,
    })
}

/// ECS: 10 tasks a call; protection for 1 minute to 48 hours, 2 hours by default.
const MAX_TASKS: usize = 10;
const DEFAULT_MINUTES: i32 = 120;
const MAX_MINUTES: i32 = 2880;

fn failure(arn: String, reason: &str) -> Failure {
    Failure {
        arn: Some(arn),
        reason: Some(reason.to_owned()),
        detail: None,
    }
}

/// The tasks a request names that can be protected (id and record), and the failures
/// ECS reports for the others.
type Resolved = (Vec<(String, Task)>, Vec<Failure>);

/// The tasks a request names: each task's record, or the failure ECS reports for it.
fn resolve(ctx: &Ctx, cluster: &str, idents: &[String]) -> Result<Resolved, ApiError> {
    if idents.is_empty() || idents.len() > MAX_TASKS {
        return Err(ApiError::invalid_parameter(format!(
            "tasks must have 1 to {MAX_TASKS} items."
        )));
    }
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for ident in idents {
        let arn = if ident.starts_with("arn:") {
            ident.clone()
        } else {
            ctx.arns.task(cluster, ident)
        };
        let task = match names::in_cluster(ctx, "task", cluster, ident)? {
            Some(id) => ctx
                .store
                .tasks()
                .get((cluster, id))?
                .map(|r| (id.to_owned(), r.value)),
            None => None,
        };
        match task {
            Some((_, task)) if task.desired_status.as_deref() == Some("STOPPED") => {
                failures.push(failure(arn, "TASK_NOT_VALID"))
            }
            Some((id, task)) if service_of(&task).is_some() => found.push((id, task)),
            Some(_) => failures.push(failure(arn, "TASK_NOT_VALID")),
            None => failures.push(failure(arn, "MISSING")),
        }
    }
    Ok((found, failures))
}

/// The service a task belongs to (its group `service:<name>`).
fn service_of(task: &Task) -> Option<&str> {
    task.group.as_deref()?.strip_prefix("service:")
}

fn protected(task: &Task, until: Option<Timestamp>, now: Timestamp) -> ProtectedTask {
    let until = until.filter(|t| t.epoch_millis() > now.epoch_millis());
    ProtectedTask {
        task_arn: task.task_arn.clone(),
        protection_enabled: Some(until.is_some()),
        expiration_date: until,
    }
}

pub async fn get(
    ctx: Ctx,
    input: GetTaskProtectionRequest,
) -> Result<GetTaskProtectionResponse, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let (found, failures) = resolve(&ctx, &cluster, input.tasks.as_deref().unwrap_or_default())?;
    let mut tasks = Vec::new();
    for (id, task) in found {
        let service = service_of(&task).unwrap_or_default();
        let until = ctx
            .store
            .services()
            .get((cluster.as_str(), service))?
            .and_then(|r| r.value.protected.get(&id).copied());
        tasks.push(protected(&task, until, ctx.now));
    }
    Ok(GetTaskProtectionResponse {
        protected_tasks: Some(tasks),
        failures: Some(failures),
    })
}

pub async fn update(
    ctx: Ctx,
    input: UpdateTaskProtectionRequest,
) -> Result<UpdateTaskProtectionResponse, ApiError> {
    let enable = input
        .protection_enabled
        .ok_or_else(|| ApiError::invalid_parameter("protectionEnabled must be specified."))?;
    let minutes = input.expires_in_minutes.unwrap_or(DEFAULT_MINUTES);
    if enable && !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(ApiError::invalid_parameter(format!(
            "expiresInMinutes must be between 1 and {MAX_MINUTES}."
        )));
    }
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let (found, failures) = resolve(&ctx, &cluster, input.tasks.as_deref().unwrap_or_default())?;
    let until = Timestamp::from_epoch_millis(ctx.now.epoch_millis() + i64::from(minutes) * 60_000);
    let table = ctx.store.services();
    let now = ctx.now;
    ctx.store
        .transaction(|tx| {
            for (id, task) in &found {
                let service = service_of(task).unwrap_or_default();
                tx.update(&table, (cluster.as_str(), service), |current| {
                    let Some(current) = current else {
                        return Err(services::not_found());
                    };
                    let mut next = current.value.clone();
                    // Expired protections go as the record changes anyway.
                    next.protected
                        .retain(|_, t| t.epoch_millis() > now.epoch_millis());
                    if enable {
                        next.protected.insert(id.clone(), until);
                    } else {
                        next.protected.remove(id);
                    }
                    Ok((Write::Put(next), ()))
                })?;
            }
            Ok::<_, ApiError>(())
        })
        .await?;
    Ok(UpdateTaskProtectionResponse {
        protected_tasks: Some(
            found
                .iter()
                .map(|(_, task)| protected(task, enable.then_some(until), now))
                .collect(),
        ),
        failures: Some(failures),
    })
}
