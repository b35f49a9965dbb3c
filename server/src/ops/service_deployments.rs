//! Service deployments and revisions: ListServiceDeployments, DescribeServiceDeployments,
//! DescribeServiceRevisions from the service's recorded history
//! (`kubecs_reconciler::history`); StopServiceDeployment rolls a deployment in progress
//! back to the last one that completed; ContinueServiceDeployment answers that no
//! lifecycle hook waits (kubecs runs none).

use kubecs_api_models::status::ACTIVE;
use kubecs_api_models::{
    ContinueServiceDeploymentRequest, ContinueServiceDeploymentResponse,
    DescribeServiceDeploymentsRequest, DescribeServiceDeploymentsResponse,
    DescribeServiceRevisionsRequest, DescribeServiceRevisionsResponse, ErrorCode, Failure,
    ListServiceDeploymentsRequest, ListServiceDeploymentsResponse, Operation,
    ServiceDeploymentBrief, ServiceDeploymentStatus, StopServiceDeploymentRequest,
    StopServiceDeploymentResponse, StopServiceDeploymentStopType,
};
use kubecs_reconciler::history;
use kubecs_storage::{HistoryEntry, ServiceState, Write};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{paging, services};

pub const OPERATIONS: &[Operation] = &[
    Operation::ListServiceDeployments,
    Operation::DescribeServiceDeployments,
    Operation::DescribeServiceRevisions,
    Operation::StopServiceDeployment,
    Operation::ContinueServiceDeployment,
];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::ListServiceDeployments => "The service's last 20 deployments, newest first, as they started (CreateService, UpdateService) and ended (the rollout completed, failed or was rolled back); `status` and `createdAt` filters; paginated.",
        Operation::DescribeServiceDeployments => "Source and target revisions with the task counts of their ECS deployments, status and reason, circuit-breaker rollback; up to 20.",
        Operation::DescribeServiceRevisions => "Each deployment's revision: task definition, launch settings, load balancers, service registries, Service Connect, container images; up to 20.",
        Operation::StopServiceDeployment => "`ROLLBACK` of a deployment in progress: a new deployment of the last completed revision's task definition (ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCESSFUL). `ABORT` is refused: a Kubernetes rollout stops by rolling back.",
        Operation::ContinueServiceDeployment => "kubecs runs no deployment lifecycle hooks, so no deployment waits at one: `InvalidParameterException` for a known deployment.",
        _ => return None,
    })
}

/// ECS: ListServiceDeployments pages hold 1 to 100; the Describe operations take 20.
const MAX_PAGE: i32 = 100;
const MAX_DESCRIBE: usize = 20;
const LIST_KIND: &str = "ListServiceDeployments";

pub async fn list(
    ctx: Ctx,
    input: ListServiceDeploymentsRequest,
) -> Result<ListServiceDeploymentsResponse, ApiError> {
    let (_, state) = services::stored(&ctx, input.cluster.as_deref(), input.service.as_deref())?;
    let statuses = input.status.clone().unwrap_or_default();
    let created = input.created_at.clone().unwrap_or_default();
    let briefs: Vec<(String, ServiceDeploymentBrief)> = state
        .history
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            let d = &e.deployment;
            let at = d.created_at.map(|t| t.epoch_millis()).unwrap_or_default();
            (statuses.is_empty() || d.status.as_ref().is_some_and(|s| statuses.contains(s)))
                && created.after.is_none_or(|a| at >= a.epoch_millis())
                && created.before.is_none_or(|b| at <= b.epoch_millis())
        })
        // Newest first; the key keeps that order across pages.
        .map(|(i, e)| (format!("{i:04}"), brief(e)))
        .collect();
    let (page, next_token) = paging::page(
        briefs,
        |(key, _)| key.clone(),
        input.max_results,
        input.next_token.as_deref(),
        MAX_PAGE,
        LIST_KIND,
    )?;
    Ok(ListServiceDeploymentsResponse {
        service_deployments: Some(page.into_iter().map(|(_, b)| b).collect()),
        next_token,
    })
}

fn brief(entry: &HistoryEntry) -> ServiceDeploymentBrief {
    let d = &entry.deployment;
    ServiceDeploymentBrief {
        service_deployment_arn: d.service_deployment_arn.clone(),
        service_arn: d.service_arn.clone(),
        cluster_arn: d.cluster_arn.clone(),
        created_at: d.created_at,
        started_at: d.started_at,
        finished_at: d.finished_at,
        status: d.status.clone(),
        status_reason: d.status_reason.clone(),
        target_service_revision_arn: entry.revision.service_revision_arn.clone(),
    }
}

/// The service state and history entry an ARN of `kind` (`service-deployment`,
/// `service-revision`) names: `arn:...:<kind>/<cluster>/<service>/<id>`.
fn lookup(
    ctx: &Ctx,
    kind: &str,
    arn: &str,
) -> Result<Option<(String, ServiceState, usize)>, ApiError> {
    let Some(path) = ctx
        .arns
        .resource_of(arn)
        .and_then(|r| r.strip_prefix(kind))
        .and_then(|r| r.strip_prefix('/'))
    else {
        return Ok(None);
    };
    let mut parts = path.splitn(3, '/');
    let (Some(cluster), Some(service), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    let Some(record) = ctx.store.services().get((cluster, service))? else {
        return Ok(None);
    };
    let state = record.value;
    let found = state.history.iter().position(|e| match kind {
        "service-revision" => e.revision.service_revision_arn.as_deref() == Some(arn),
        _ => e.deployment.service_deployment_arn.as_deref() == Some(arn),
    });
    Ok(found.map(|i| (cluster.to_owned(), state, i)))
}

/// The failure a Describe reports for an ARN it does not know.
fn missing(arn: &str) -> Failure {
    Failure {
        arn: Some(arn.to_owned()),
        reason: Some("MISSING".to_owned()),
        detail: None,
    }
}

/// The 1 to 20 ARNs a Describe takes.
fn check_count(arns: &[String], what: &str) -> Result<(), ApiError> {
    if arns.is_empty() || arns.len() > MAX_DESCRIBE {
        return Err(ApiError::invalid_parameter(format!(
            "{what} must have 1 to {MAX_DESCRIBE} items."
        )));
    }
    Ok(())
}

/// What a Describe of the 1 to 20 ARNs in `member` answers: what `find` finds for each,
/// and a MISSING failure for the others.
pub(crate) fn describe_each<T>(
    arns: &[String],
    member: &str,
    mut find: impl FnMut(&str) -> Result<Option<T>, ApiError>,
) -> Result<(Vec<T>, Vec<Failure>), ApiError> {
    check_count(arns, member)?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for arn in arns {
        match find(arn)? {
            Some(item) => found.push(item),
            None => failures.push(missing(arn)),
        }
    }
    Ok((found, failures))
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeServiceDeploymentsRequest,
) -> Result<DescribeServiceDeploymentsResponse, ApiError> {
    let arns = input.service_deployment_arns.unwrap_or_default();
    let (found, failures) = describe_each(&arns, "serviceDeploymentArns", |arn| {
        Ok(lookup(&ctx, "service-deployment", arn)?
            .map(|(_, state, i)| history::with_counts(&state.history[i], &state)))
    })?;
    Ok(DescribeServiceDeploymentsResponse {
        service_deployments: Some(found),
        failures: Some(failures),
    })
}

pub async fn describe_revisions(
    ctx: Ctx,
    input: DescribeServiceRevisionsRequest,
) -> Result<DescribeServiceRevisionsResponse, ApiError> {
    let arns = input.service_revision_arns.unwrap_or_default();
    let (found, failures) = describe_each(&arns, "serviceRevisionArns", |arn| {
        Ok(lookup(&ctx, "service-revision", arn)?
            .map(|(_, mut state, i)| state.history.swap_remove(i).revision))
    })?;
    Ok(DescribeServiceRevisionsResponse {
        service_revisions: Some(found),
        failures: Some(failures),
    })
}

fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::ServiceDeploymentNotFoundException,
        "The service deployment does not exist.",
    )
}

pub async fn stop(
    ctx: Ctx,
    input: StopServiceDeploymentRequest,
) -> Result<StopServiceDeploymentResponse, ApiError> {
    let arn = input.service_deployment_arn.clone().unwrap_or_default();
    if input.stop_type == Some(StopServiceDeploymentStopType::Abort) {
        return Err(ApiError::invalid_parameter(
            "kubecs stops a service deployment by rolling it back: use stopType ROLLBACK.",
        ));
    }
    let (cluster, state, _) = lookup(&ctx, "service-deployment", &arn)?.ok_or_else(not_found)?;
    let name = state.service.service_name.clone().unwrap_or_default();
    let table = ctx.store.services();
    let now = ctx.now;
    table
        .update((cluster, name), |current| {
            let current = current.ok_or_else(not_found)?;
            let mut next = current.value.clone();
            if next.service.status.as_deref() != Some(ACTIVE) {
                return Err(services::not_active());
            }
            let entry = next
                .history
                .iter()
                .find(|e| e.deployment.service_deployment_arn.as_deref() == Some(arn.as_str()))
                .ok_or_else(not_found)?;
            if entry.deployment.status != Some(ServiceDeploymentStatus::InProgress) {
                return Err(ApiError::new(
                    ErrorCode::ConflictException,
                    "The service deployment is not in progress: only a deployment in progress can be stopped.",
                ));
            }
            let failed = entry.ecs_deployments.first().cloned().unwrap_or_default();
            let to = next.memory.last_completed.clone().ok_or_else(|| {
                ApiError::new(
                    ErrorCode::ConflictException,
                    "The service has no completed deployment to roll back to.",
                )
            })?;
            next.service.task_definition = Some(to.task_definition.clone());
            kubecs_reconciler::deployment::start_new(&mut next.service, now);
            history::rolling_back(
                &mut next,
                &failed,
                &to.id,
                "Rolled back by StopServiceDeployment.",
                now,
            );
            Ok((Write::Put(next), ()))
        })
        .await?;
    Ok(StopServiceDeploymentResponse {
        service_deployment_arn: Some(arn),
    })
}

pub async fn continue_deployment(
    ctx: Ctx,
    input: ContinueServiceDeploymentRequest,
) -> Result<ContinueServiceDeploymentResponse, ApiError> {
    let arn = input.service_deployment_arn.clone().unwrap_or_default();
    lookup(&ctx, "service-deployment", &arn)?.ok_or_else(not_found)?;
    Err(ApiError::invalid_parameter(
        "The service deployment is not waiting at a lifecycle hook: kubecs runs no deployment lifecycle hooks.",
    ))
}
