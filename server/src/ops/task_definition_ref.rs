//! Task definition references as ECS accepts them: `family`, `family:revision`, or the
//! full ARN; and loading the record one refers to (the latest ACTIVE revision for a bare
//! family). Shared by task definitions, services and (later) tasks.

use crate::context::Ctx;
use crate::error::ApiError;
use kubecs_api_models::{TaskDefinition, TaskDefinitionStatus};
use kubecs_storage::Record;

/// A parsed reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinitionRef {
    pub family: String,
    /// `None`: the latest ACTIVE revision.
    pub revision: Option<u32>,
}

/// Parses `family`, `family:revision` or `arn:...:task-definition/family:revision`.
/// A malformed reference is a `ClientException`, as ECS answers it.
pub fn parse(ctx: &Ctx, ident: &str) -> Result<TaskDefinitionRef, ApiError> {
    let local = if ident.starts_with("arn:") {
        ctx.arns
            .resource_of(ident)
            .and_then(|r| r.strip_prefix("task-definition/"))
            .ok_or_else(|| ApiError::client(format!("Invalid task definition ARN: {ident}")))?
    } else {
        ident
    };
    let (family, revision) = match local.split_once(':') {
        Some((family, rev)) => {
            let revision = rev.parse::<u32>().ok().filter(|r| *r > 0).ok_or_else(|| {
                ApiError::client(format!("Invalid revision number. Number: {rev}"))
            })?;
            (family, Some(revision))
        }
        None if ident.starts_with("arn:") => {
            return Err(ApiError::client(format!(
                "Invalid task definition ARN: {ident}: the revision is missing"
            )))
        }
        None => (local, None),
    };
    if family.is_empty() {
        return Err(ApiError::client(
            "The task definition family cannot be empty.",
        ));
    }
    Ok(TaskDefinitionRef {
        family: family.to_owned(),
        revision,
    })
}

/// The revision a reference names: that revision (whatever its status), or the latest
/// ACTIVE one of the family. `None` when there is none.
pub fn load(
    ctx: &Ctx,
    reference: &TaskDefinitionRef,
) -> Result<Option<Record<TaskDefinition>>, ApiError> {
    let table = ctx.store.task_definitions();
    let record = match reference.revision {
        Some(revision) => table.get(&reference.family, revision)?,
        None => table
            .latest(&reference.family, |td| {
                td.status == Some(TaskDefinitionStatus::Active)
            })?
            .map(|(_, record)| record),
    };
    Ok(record)
}
