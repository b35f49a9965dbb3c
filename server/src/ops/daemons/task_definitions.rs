//! Daemon task definitions: RegisterDaemonTaskDefinition, DescribeDaemonTaskDefinition,
//! DeleteDaemonTaskDefinition and ListDaemonTaskDefinitions.
//!
//! A daemon task definition is checked as the task definition it runs as (ECS's
//! container and size rules, then whether Kubernetes can run it), and stored whole under
//! (family, revision) in tables of its own; revision numbers are allocated atomically and
//! never reused. Deleting one makes it DELETED at once: daemons already running it keep
//! it, new deployments cannot use it.

use kubecs_api_models::{
    DaemonTaskDefinition, DaemonTaskDefinitionRevisionFilter, DaemonTaskDefinitionStatus,
    DaemonTaskDefinitionStatusFilter, DaemonTaskDefinitionSummary,
    DeleteDaemonTaskDefinitionRequest, DeleteDaemonTaskDefinitionResponse,
    DescribeDaemonTaskDefinitionRequest, DescribeDaemonTaskDefinitionResponse,
    ListDaemonTaskDefinitionsRequest, ListDaemonTaskDefinitionsResponse,
    RegisterDaemonTaskDefinitionRequest, RegisterDaemonTaskDefinitionResponse, SortOrder,
};
use kubecs_reconciler::convert::ecs_daemon::{as_registration, check_ecs_daemon};
use kubecs_storage::{Committed, KeyPrefix, Reader, Record, Write};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{paging, tags, task_definitions};

const LIST_KIND: &str = "ListDaemonTaskDefinitions";
/// ECS: list pages hold 1 to 100, 100 by default.
const MAX_PAGE: i32 = 100;

fn not_found(ident: &str) -> ApiError {
    ApiError::client(format!("Daemon task definition not found: {ident}."))
}

/// A daemon task definition reference: `family`, `family:revision` or the ARN
/// (`...:daemon-task-definition/<family>:<revision>`) of this region and account.
pub fn parse_ref(ctx: &Ctx, ident: &str) -> Result<(String, Option<u32>), ApiError> {
    let local = if ident.starts_with("arn:") {
        ctx.arns
            .resource_of(ident)
            .and_then(|r| r.strip_prefix("daemon-task-definition/"))
            .ok_or_else(|| {
                ApiError::client(format!("Invalid daemon task definition ARN: {ident}"))
            })?
    } else {
        ident
    };
    match local.split_once(':') {
        Some((family, revision)) => {
            let revision = revision
                .parse::<u32>()
                .ok()
                .filter(|r| *r > 0)
                .ok_or_else(|| {
                    ApiError::client(format!("Invalid revision number. Number: {revision}"))
                })?;
            Ok((family.to_owned(), Some(revision)))
        }
        None if local.is_empty() => Err(ApiError::client(
            "A daemon task definition must be specified.",
        )),
        None => Ok((local.to_owned(), None)),
    }
}

/// The revision a reference names (a bare family: its latest ACTIVE revision), read as
/// `reader` sees the store.
pub fn find(
    reader: &impl Reader,
    ctx: &Ctx,
    ident: &str,
) -> Result<Record<DaemonTaskDefinition>, ApiError> {
    let (family, revision) = parse_ref(ctx, ident)?;
    let tables = ctx.store.daemon_task_definitions();
    let revision = match revision {
        Some(revision) => revision,
        None => tables
            .latest(&family, |td| {
                td.status == Some(DaemonTaskDefinitionStatus::Active)
            })?
            .map(|(revision, _)| revision)
            .ok_or_else(|| not_found(ident))?,
    };
    reader
        .read(tables.revisions(), (family.as_str(), revision))?
        .ok_or_else(|| not_found(ident))
}

pub async fn register(
    ctx: Ctx,
    input: RegisterDaemonTaskDefinitionRequest,
) -> Result<RegisterDaemonTaskDefinitionResponse, ApiError> {
    let as_task = as_registration(&input).map_err(|e| ApiError::client(e.to_string()))?;
    task_definitions::check_registration(&as_task)?;
    let family = input.family.clone().unwrap_or_default();
    let base = DaemonTaskDefinition {
        family: Some(family.clone()),
        container_definitions: input.container_definitions.clone(),
        cpu: input.cpu.clone(),
        memory: input.memory.clone(),
        task_role_arn: input.task_role_arn.clone(),
        execution_role_arn: input.execution_role_arn.clone(),
        volumes: input.volumes.clone(),
        ..DaemonTaskDefinition::default()
    };
    check_ecs_daemon(&base).map_err(|e| ApiError::new(e.error_code(), e.to_string()))?;
    let user_tags = input.tags.clone().unwrap_or_default();
    let table = ctx.store.daemon_task_definitions();
    let (revision, _) = ctx
        .store
        .transaction(|tx| {
            let registered = tx.register_revision(&table, &family, |revision| {
                Ok::<_, ApiError>(DaemonTaskDefinition {
                    daemon_task_definition_arn: Some(
                        ctx.arns.daemon_task_definition(&family, revision),
                    ),
                    revision: Some(i32::try_from(revision).unwrap_or(i32::MAX)),
                    status: Some(DaemonTaskDefinitionStatus::Active),
                    registered_at: Some(ctx.now),
                    registered_by: Some(ctx.caller.principal_arn.clone()),
                    ..base.clone()
                })
            })?;
            if !user_tags.is_empty() {
                let arn = ctx.arns.daemon_task_definition(&family, registered.0);
                tags::replace_in(&ctx, tx, &arn, user_tags.clone())?;
            }
            Ok::<_, ApiError>(registered)
        })
        .await?;
    Ok(RegisterDaemonTaskDefinitionResponse {
        daemon_task_definition_arn: Some(ctx.arns.daemon_task_definition(&family, revision)),
    })
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeDaemonTaskDefinitionRequest,
) -> Result<DescribeDaemonTaskDefinitionResponse, ApiError> {
    let ident = input.daemon_task_definition.as_deref().unwrap_or_default();
    let record = find(&Committed, &ctx, ident)?;
    Ok(DescribeDaemonTaskDefinitionResponse {
        daemon_task_definition: Some(record.value),
    })
}

pub async fn delete(
    ctx: Ctx,
    input: DeleteDaemonTaskDefinitionRequest,
) -> Result<DeleteDaemonTaskDefinitionResponse, ApiError> {
    let ident = input.daemon_task_definition.as_deref().unwrap_or_default();
    let (family, revision) = match parse_ref(&ctx, ident)? {
        (family, Some(revision)) => (family, revision),
        (_, None) => {
            return Err(ApiError::client(format!(
                "Invalid daemon task definition: {ident}: a revision is required (family:revision or the full ARN)."
            )))
        }
    };
    let now = ctx.now;
    let arn = ctx
        .store
        .daemon_task_definitions()
        .update_revision(&family, revision, |current| {
            let Some(record) = current else {
                return Err(not_found(ident));
            };
            let mut td = record.value.clone();
            if td.status != Some(DaemonTaskDefinitionStatus::Active) {
                return Err(ApiError::client(format!(
                    "The daemon task definition is already being deleted or deleted: {ident}."
                )));
            }
            td.status = Some(DaemonTaskDefinitionStatus::Deleted);
            td.delete_requested_at = Some(now);
            let arn = td.daemon_task_definition_arn.clone();
            Ok((Write::Put(td), arn))
        })
        .await?;
    Ok(DeleteDaemonTaskDefinitionResponse {
        daemon_task_definition_arn: arn,
    })
}

fn summary(td: &DaemonTaskDefinition) -> DaemonTaskDefinitionSummary {
    DaemonTaskDefinitionSummary {
        arn: td.daemon_task_definition_arn.clone(),
        registered_at: td.registered_at,
        registered_by: td.registered_by.clone(),
        delete_requested_at: td.delete_requested_at,
        status: td.status.clone(),
    }
}

/// ListDaemonTaskDefinitions: `family` exact, `familyPrefix` a prefix; `status` ACTIVE
/// by default (ALL includes DELETED); `revision: LAST_REGISTERED` keeps each family's
/// newest revision that passes the status filter; by family then revision, `sort`.
pub async fn list(
    ctx: Ctx,
    input: ListDaemonTaskDefinitionsRequest,
) -> Result<ListDaemonTaskDefinitionsResponse, ApiError> {
    let status = input
        .status
        .clone()
        .unwrap_or(DaemonTaskDefinitionStatusFilter::Active);
    let wanted = |td: &DaemonTaskDefinition| match &status {
        DaemonTaskDefinitionStatusFilter::All => true,
        filter => td.status.as_ref().map(|s| s.as_str()) == Some(filter.as_str()),
    };
    // Only the revisions under the family (or the family prefix) asked for are read.
    let under = match (input.family.as_deref(), input.family_prefix.as_deref()) {
        (Some(family), _) => KeyPrefix::first(family),
        (None, Some(prefix)) => KeyPrefix::starts_with(prefix),
        (None, None) => KeyPrefix::all(),
    };
    let mut found: Vec<DaemonTaskDefinition> = Vec::new();
    for entry in ctx
        .store
        .daemon_task_definitions()
        .revisions()
        .scan_prefix(&under)
    {
        let ((family, _), record) = entry?;
        let family_matches = input.family.as_deref().is_none_or(|f| f == family)
            && input
                .family_prefix
                .as_deref()
                .is_none_or(|p| family.starts_with(p));
        if family_matches && wanted(&record.value) {
            found.push(record.value);
        }
    }
    if input.revision == Some(DaemonTaskDefinitionRevisionFilter::LastRegistered) {
        // Scanned in (family, revision) order: the last of each family is its newest.
        let mut last: Vec<DaemonTaskDefinition> = Vec::new();
        for td in found {
            match last.last_mut() {
                Some(prev) if prev.family == td.family => *prev = td,
                _ => last.push(td),
            }
        }
        found = last;
    }
    if input.sort == Some(SortOrder::Desc) {
        found.reverse();
    }
    // Positions keep the order across pages.
    let numbered: Vec<(String, DaemonTaskDefinitionSummary)> = found
        .iter()
        .enumerate()
        .map(|(i, td)| (format!("{i:010}"), summary(td)))
        .collect();
    let (page, next_token) = paging::page(
        numbered,
        |(key, _)| key.clone(),
        input.max_results,
        input.next_token.as_deref(),
        MAX_PAGE,
        LIST_KIND,
    )?;
    Ok(ListDaemonTaskDefinitionsResponse {
        daemon_task_definitions: Some(page.into_iter().map(|(_, s)| s).collect()),
        next_token,
    })
}
