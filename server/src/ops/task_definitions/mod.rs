//! Task definitions: RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
//! ListTaskDefinitionFamilies, DeregisterTaskDefinition and DeleteTaskDefinitions.
//!
//! A revision is stored whole (the `TaskDefinition` wire shape) under (family, revision);
//! the store allocates revision numbers atomically and never reuses one. Tags given at
//! registration live in the shared tags table under the revision's ARN, where
//! TagResource/ListTagsForResource find them.
//!
//! Lifecycle, as ECS's API reference describes it: ACTIVE -> (Deregister) INACTIVE ->
//! (DeleteTaskDefinitions) DELETE_IN_PROGRESS. Every state stays describable by
//! `family:revision`; a bare family means its latest ACTIVE revision.

mod derive;
mod limits;
mod validate;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::tags;
use kubecs_api_models::{
    DeleteTaskDefinitionsRequest, DeleteTaskDefinitionsResponse, DeregisterTaskDefinitionRequest,
    DeregisterTaskDefinitionResponse, DescribeTaskDefinitionRequest,
    DescribeTaskDefinitionResponse, Failure, ListTaskDefinitionFamiliesRequest,
    ListTaskDefinitionFamiliesResponse, ListTaskDefinitionsRequest, ListTaskDefinitionsResponse,
    Operation, RegisterTaskDefinitionRequest, RegisterTaskDefinitionResponse, SortOrder, Tag,
    TaskDefinition, TaskDefinitionFamilyStatus, TaskDefinitionField, TaskDefinitionRef,
    TaskDefinitionStatus,
};
use kubecs_storage::{FamilyStatus, Order, PageToken, Write};

/// Token kinds: a token of one listing is refused by the other.
const LIST_KIND: &str = "ListTaskDefinitions";
const FAMILIES_KIND: &str = "ListTaskDefinitionFamilies";
/// ECS: list pages hold 1 to 100 (default 100); DeleteTaskDefinitions takes up to 10.
const MAX_PAGE: i32 = 100;
const MAX_DELETE: usize = 10;

/// The operations this module implements.
pub const OPERATIONS: &[Operation] = &[
    Operation::RegisterTaskDefinition,
    Operation::DescribeTaskDefinition,
    Operation::ListTaskDefinitions,
    Operation::ListTaskDefinitionFamilies,
    Operation::DeregisterTaskDefinition,
    Operation::DeleteTaskDefinitions,
];

/// What kubecs does with each, for the README's compatibility table.
pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::RegisterTaskDefinition => "Whole definition stored and returned with ECS's defaults, `compatibilities` and common `requiresAttributes`; ECS's validation (names, containers, memory, Fargate sizes and awsvpc, port mappings, tags) and limits (64 KiB per definition, 10 containers, 255-character images); cpu/memory accepted as units or \"1 vCPU\"/\"2 GB\"; revisions atomic and never reused.",
        Operation::DescribeTaskDefinition => "By family (latest ACTIVE), `family:revision` or ARN, any status; `include: [\"TAGS\"]`.",
        Operation::ListTaskDefinitions => "By family then revision, `sort`, exact `familyPrefix`, `status`; paginated (`maxResults` 1-100, opaque validated `nextToken`).",
        Operation::ListTaskDefinitionFamilies => "`familyPrefix` as a prefix, `status` ACTIVE/INACTIVE/ALL (default ALL); paginated.",
        Operation::DeregisterTaskDefinition => "The revision becomes INACTIVE with `deregisteredAt`; still describable.",
        Operation::DeleteTaskDefinitions => "Up to 10; INACTIVE revisions become DELETE_IN_PROGRESS; ACTIVE and unknown ones reported in `failures`.",
        _ => return None,
    })
}

/// ECS's answer for a reference that names no revision (moto PR #5910 quotes it from
/// `aws ecs describe-task-definition`; terraform's aws provider shows the same).
fn unable_to_describe() -> ApiError {
    ApiError::client("Unable to describe task definition.")
}

/// DeleteTaskDefinitions' failure reasons. ECS's exact wording is not in its reference;
/// these are the sentences another ECS emulator reports, kept for familiarity.
const REASON_MISSING: &str =
    "The specified task definition does not exist. Specify a valid account, family, revision and try again.";
const REASON_ACTIVE: &str =
    "The specified task definition is still in ACTIVE status. Please deregister the target and try again.";

pub async fn register(
    ctx: Ctx,
    input: RegisterTaskDefinitionRequest,
) -> Result<RegisterTaskDefinitionResponse, ApiError> {
    let family = input.family.clone().unwrap_or_default();
    validate::check_family(&family)?;
    tags::check(input.tags.as_ref())?;
    let size = validate::check_request(&input)?;
    let base = derive::task_definition(&input, size);
    let tags = input.tags.unwrap_or_default();
    let table = ctx.store.task_definitions();
    // The revision and its tags are one write: a crash never leaves one without the other.
    let record = ctx
        .store
        .transaction(|tx| {
            let (revision, record) = tx.register_revision(&table, &family, |revision| {
                Ok::<_, ApiError>(TaskDefinition {
                    task_definition_arn: Some(ctx.arns.task_definition(&family, revision)),
                    revision: Some(i32::try_from(revision).unwrap_or(i32::MAX)),
                    status: Some(TaskDefinitionStatus::Active),
                    registered_at: Some(ctx.now),
                    registered_by: Some(ctx.caller.principal_arn.clone()),
                    ..base
                })
            })?;
            // A fresh revision has no tags yet, so this only ever creates the entry.
            if !tags.is_empty() {
                let arn = ctx.arns.task_definition(&family, revision);
                tags::replace_in(&ctx, tx, &arn, tags.clone())?;
            }
            Ok::<_, ApiError>(record)
        })
        .await?;
    Ok(RegisterTaskDefinitionResponse {
        task_definition: Some(record.value),
        tags: Some(tags),
    })
}

/// ECS's checks of a registration, and the revision it would store (without its ARN,
/// revision, status and registration). Daemon task definitions are checked as the task
/// definitions they run as.
pub fn check_registration(
    input: &RegisterTaskDefinitionRequest,
) -> Result<TaskDefinition, ApiError> {
    validate::check_family(input.family.as_deref().unwrap_or_default())?;
    tags::check(input.tags.as_ref())?;
    let size = validate::check_request(input)?;
    Ok(derive::task_definition(input, size))
}

/// The tags stored for `arn`.
fn tags_of(ctx: &Ctx, arn: &str) -> Result<Vec<Tag>, ApiError> {
    Ok(ctx
        .store
        .tags()
        .get(arn)?
        .map(|record| record.value)
        .unwrap_or_default())
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeTaskDefinitionRequest,
) -> Result<DescribeTaskDefinitionResponse, ApiError> {
    let ident = input.task_definition.as_deref().unwrap_or_default();
    let reference = ctx.arns.task_definition_ref(ident)?;
    let record = ctx
        .store
        .task_definitions()
        .by_reference(&reference)?
        .ok_or_else(unable_to_describe)?;
    let wants_tags = input
        .include
        .as_deref()
        .unwrap_or_default()
        .contains(&TaskDefinitionField::Tags);
    let tags = if wants_tags {
        let arn = record
            .value
            .task_definition_arn
            .as_deref()
            .unwrap_or_default();
        Some(tags_of(&ctx, arn)?)
    } else {
        None
    };
    Ok(DescribeTaskDefinitionResponse {
        task_definition: Some(record.value),
        tags,
    })
}

fn page_limit(max_results: Option<i32>) -> Result<usize, ApiError> {
    let limit = max_results.unwrap_or(MAX_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_parameter(format!(
            "maxResults must be between 1 and {MAX_PAGE}."
        )));
    }
    usize::try_from(limit).map_err(|e| ApiError::internal(&e))
}

fn page_token(kind: &str, token: Option<&str>) -> Result<Option<PageToken>, ApiError> {
    Ok(token.map(|t| PageToken::parse(kind, t)).transpose()?)
}

/// ListTaskDefinitions. `familyPrefix` is "the full family name" (API reference:
/// "Specifying a familyPrefix limits the listed task definitions to task definition
/// revisions that belong to that family"), not a prefix.
pub async fn list(
    ctx: Ctx,
    input: ListTaskDefinitionsRequest,
) -> Result<ListTaskDefinitionsResponse, ApiError> {
    let limit = page_limit(input.max_results)?;
    let token = page_token(LIST_KIND, input.next_token.as_deref())?;
    let order = match input.sort {
        Some(SortOrder::Desc) => Order::Descending,
        _ => Order::Ascending,
    };
    // "By default, only ACTIVE task definitions are listed."
    let status = input.status.unwrap_or(TaskDefinitionStatus::Active);
    // The store filters on its status index (the revisions' wire status strings) and
    // answers keys only: an ARN needs nothing else, so no revision is read.
    let page = ctx.store.task_definitions().page(
        input.family_prefix.as_deref(),
        order,
        token.as_ref(),
        limit,
        |stored| stored == status.as_str(),
    )?;
    Ok(ListTaskDefinitionsResponse {
        task_definition_arns: Some(
            page.items
                .iter()
                .map(|(family, revision)| ctx.arns.task_definition(family, *revision))
                .collect(),
        ),
        next_token: page.next_token.map(|t| t.encode(LIST_KIND)),
    })
}

/// ListTaskDefinitionFamilies: `familyPrefix` is a real prefix here ("only task definition
/// family names that begin with the familyPrefix string are returned"); `status` defaults
/// to both ACTIVE and INACTIVE families.
pub async fn list_families(
    ctx: Ctx,
    input: ListTaskDefinitionFamiliesRequest,
) -> Result<ListTaskDefinitionFamiliesResponse, ApiError> {
    let limit = page_limit(input.max_results)?;
    let token = page_token(FAMILIES_KIND, input.next_token.as_deref())?;
    let status = match input.status {
        Some(TaskDefinitionFamilyStatus::Active) => FamilyStatus::Active,
        Some(TaskDefinitionFamilyStatus::Inactive) => FamilyStatus::Inactive,
        _ => FamilyStatus::All,
    };
    let page = ctx.store.task_definitions().families(
        input.family_prefix.as_deref(),
        status,
        token.as_ref(),
        limit,
    )?;
    Ok(ListTaskDefinitionFamiliesResponse {
        families: Some(page.items.into_iter().map(|(name, _)| name).collect()),
        next_token: page.next_token.map(|t| t.encode(FAMILIES_KIND)),
    })
}

/// A reference that must name a revision (Deregister and Delete: "You must specify a
/// revision").
fn revision_ref(ctx: &Ctx, ident: &str) -> Result<(String, u32), ApiError> {
    let TaskDefinitionRef { family, revision } = ctx.arns.task_definition_ref(ident)?;
    match revision {
        Some(revision) => Ok((family, revision)),
        // ECS's wording for a missing revision is not public; ours.
        None => Err(ApiError::client(format!(
            "Invalid task definition: {ident}: a revision is required (family:revision or the full ARN)."
        ))),
    }
}

pub async fn deregister(
    ctx: Ctx,
    input: DeregisterTaskDefinitionRequest,
) -> Result<DeregisterTaskDefinitionResponse, ApiError> {
    let ident = input.task_definition.as_deref().unwrap_or_default();
    let (family, revision) = revision_ref(&ctx, ident)?;
    let now = ctx.now;
    let task_definition = ctx
        .store
        .task_definitions()
        .update_revision(&family, revision, |current| {
            let Some(record) = current else {
                return Err(ApiError::client(REASON_MISSING));
            };
            let mut td = record.value.clone();
            match td.status {
                Some(TaskDefinitionStatus::Active) => {
                    td.status = Some(TaskDefinitionStatus::Inactive);
                    td.deregistered_at = Some(now);
                    Ok((Write::Put(td.clone()), td))
                }
                // ECS refuses a second deregistration; "TaskDefinition is inactive" is the
                // message quoted for it in a public test fixture (not in ECS's reference).
                _ => Err(ApiError::client("TaskDefinition is inactive")),
            }
        })
        .await?;
    Ok(DeregisterTaskDefinitionResponse {
        task_definition: Some(task_definition),
    })
}

/// One revision's outcome in DeleteTaskDefinitions.
enum Deleted {
    Done(Box<TaskDefinition>),
    Failed(&'static str),
}

pub async fn delete(
    ctx: Ctx,
    input: DeleteTaskDefinitionsRequest,
) -> Result<DeleteTaskDefinitionsResponse, ApiError> {
    let idents = input.task_definitions.unwrap_or_default();
    if idents.is_empty() || idents.len() > MAX_DELETE {
        // The API reference's limit ("up to 10"); the wording is ours.
        return Err(ApiError::invalid_parameter(format!(
            "taskDefinitions must contain between 1 and {MAX_DELETE} task definitions."
        )));
    }
    let table = ctx.store.task_definitions();
    // Every revision of the request changes in one write.
    let outcomes = ctx
        .store
        .transaction(|tx| {
            let mut outcomes = Vec::new();
            for ident in &idents {
                outcomes.push(match revision_ref(&ctx, ident) {
                    Ok((family, revision)) => {
                        tx.update_revision(&table, &family, revision, |current| {
                            delete_one(current.map(|r| &r.value), ctx.now)
                        })?
                    }
                    Err(_) => Deleted::Failed(REASON_MISSING),
                });
            }
            Ok::<_, ApiError>(outcomes)
        })
        .await?;
    let mut deleted = Vec::new();
    let mut failures = Vec::new();
    for (ident, outcome) in idents.iter().zip(outcomes) {
        match outcome {
            Deleted::Done(td) => deleted.push(*td),
            Deleted::Failed(reason) => failures.push(Failure {
                arn: Some(ident.clone()),
                reason: Some(reason.to_owned()),
                detail: None,
            }),
        }
    }
    Ok(DeleteTaskDefinitionsResponse {
        task_definitions: Some(deleted),
        failures: Some(failures),
    })
}

/// INACTIVE -> DELETE_IN_PROGRESS; already DELETE_IN_PROGRESS is answered as it is.
fn delete_one(
    current: Option<&TaskDefinition>,
    now: kubecs_api_models::Timestamp,
) -> Result<(Write<TaskDefinition>, Deleted), ApiError> {
    let Some(current) = current else {
        return Ok((Write::Keep, Deleted::Failed(REASON_MISSING)));
    };
    let mut td = current.clone();
    match td.status {
        Some(TaskDefinitionStatus::Active) => Ok((Write::Keep, Deleted::Failed(REASON_ACTIVE))),
        Some(TaskDefinitionStatus::DeleteInProgress) => {
            Ok((Write::Keep, Deleted::Done(Box::new(td))))
        }
        _ => {
            td.status = Some(TaskDefinitionStatus::DeleteInProgress);
            td.delete_requested_at = Some(now);
            Ok((Write::Put(td.clone()), Deleted::Done(Box::new(td))))
        }
    }
}
