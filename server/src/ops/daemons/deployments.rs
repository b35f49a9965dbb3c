//! Daemon deployments and revisions: DescribeDaemonDeployments, ListDaemonDeployments and
//! DescribeDaemonRevisions, from what each daemon records (its last 20 of each).

use kubecs_api_models::{
    DaemonDeploymentSummary, DescribeDaemonDeploymentsRequest, DescribeDaemonDeploymentsResponse,
    DescribeDaemonRevisionsRequest, DescribeDaemonRevisionsResponse, ListDaemonDeploymentsRequest,
    ListDaemonDeploymentsResponse,
};
use kubecs_storage::DaemonState;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::paging;
use crate::ops::service_deployments::describe_each;

/// ECS: ListDaemonDeployments pages of 1 to 100, 20 by default.
const MAX_PAGE: i32 = 100;
const DEFAULT_PAGE: i32 = 20;
const LIST_KIND: &str = "ListDaemonDeployments";

/// The daemon an ARN of `kind` (`daemon-deployment`, `daemon-revision`) belongs to:
/// `arn:...:<kind>/<cluster>/<daemon>/<id>`.
fn daemon_of(ctx: &Ctx, kind: &str, arn: &str) -> Result<Option<DaemonState>, ApiError> {
    let Some(path) = ctx
        .arns
        .resource_of(arn)
        .and_then(|r| r.strip_prefix(kind))
        .and_then(|r| r.strip_prefix('/'))
    else {
        return Ok(None);
    };
    let mut parts = path.splitn(3, '/');
    let (Some(cluster), Some(daemon), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None);
    };
    Ok(ctx.store.daemons().get((cluster, daemon))?.map(|r| r.value))
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeDaemonDeploymentsRequest,
) -> Result<DescribeDaemonDeploymentsResponse, ApiError> {
    let arns = input.daemon_deployment_arns.unwrap_or_default();
    let (found, failures) = describe_each(&arns, "daemonDeploymentArns", |arn| {
        Ok(
            daemon_of(&ctx, "daemon-deployment", arn)?.and_then(|state| {
                state
                    .deployments
                    .into_iter()
                    .find(|d| d.daemon_deployment_arn.as_deref() == Some(arn))
            }),
        )
    })?;
    Ok(DescribeDaemonDeploymentsResponse {
        daemon_deployments: Some(found),
        failures: Some(failures),
    })
}

pub async fn describe_revisions(
    ctx: Ctx,
    input: DescribeDaemonRevisionsRequest,
) -> Result<DescribeDaemonRevisionsResponse, ApiError> {
    let arns = input.daemon_revision_arns.unwrap_or_default();
    let (found, failures) = describe_each(&arns, "daemonRevisionArns", |arn| {
        Ok(daemon_of(&ctx, "daemon-revision", arn)?.and_then(|state| {
            state
                .revisions
                .into_iter()
                .find(|r| r.revision.daemon_revision_arn.as_deref() == Some(arn))
                .map(|r| r.revision)
        }))
    })?;
    Ok(DescribeDaemonRevisionsResponse {
        daemon_revisions: Some(found),
        failures: Some(failures),
    })
}

pub async fn list(
    ctx: Ctx,
    input: ListDaemonDeploymentsRequest,
) -> Result<ListDaemonDeploymentsResponse, ApiError> {
    let arn = input.daemon_arn.as_deref().unwrap_or_default();
    let (_, _, state) = super::stored(&ctx, arn)?;
    let statuses = input.status.clone().unwrap_or_default();
    let created = input.created_at.clone().unwrap_or_default();
    let summaries: Vec<(String, DaemonDeploymentSummary)> = state
        .deployments
        .iter()
        .filter(|d| {
            let at = d.created_at.map(|t| t.epoch_millis()).unwrap_or_default();
            (statuses.is_empty() || d.status.as_ref().is_some_and(|s| statuses.contains(s)))
                && created.after.is_none_or(|a| at >= a.epoch_millis())
                && created.before.is_none_or(|b| at <= b.epoch_millis())
        })
        .enumerate()
        // Newest first; the position keeps that order across pages.
        .map(|(i, d)| {
            (
                format!("{i:04}"),
                DaemonDeploymentSummary {
                    daemon_deployment_arn: d.daemon_deployment_arn.clone(),
                    daemon_arn: Some(state.daemon_arn.clone()),
                    cluster_arn: d.cluster_arn.clone(),
                    created_at: d.created_at,
                    started_at: d.started_at,
                    finished_at: d.finished_at,
                    stopped_at: d.stopped_at,
                    status: d.status.clone(),
                    status_reason: d.status_reason.clone(),
                    target_daemon_revision_arn: d
                        .target_daemon_revision
                        .as_ref()
                        .and_then(|t| t.arn.clone()),
                },
            )
        })
        .collect();
    let (page, next_token) = paging::page(
        summaries,
        |(key, _)| key.clone(),
        Some(input.max_results.unwrap_or(DEFAULT_PAGE)),
        input.next_token.as_deref(),
        MAX_PAGE,
        LIST_KIND,
    )?;
    Ok(ListDaemonDeploymentsResponse {
        daemon_deployments: Some(page.into_iter().map(|(_, s)| s).collect()),
        next_token,
    })
}
