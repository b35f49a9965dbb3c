//! Tags: TagResource, UntagResource and ListTagsForResource, and the tag rules shared by
//! every operation that accepts `tags`.
//!
//! Every resource's tags live in one table keyed by the resource's ARN, so these
//! operations work the same for clusters, services, task definitions and tasks, and a
//! resource's own record never has to be rewritten to tag it.

use crate::context::Ctx;
use crate::error::ApiError;
use kubecs_api_models::status;
use kubecs_api_models::{
    ErrorCode, ListTagsForResourceRequest, ListTagsForResourceResponse, Operation, Tag,
    TagResourceRequest, TagResourceResponse, TaskDefinitionStatus, UntagResourceRequest,
    UntagResourceResponse,
};
use kubecs_storage::{Committed, Reader, Tx, Write};

/// The operations this module implements.
pub const OPERATIONS: &[Operation] = &[
    Operation::ListTagsForResource,
    Operation::TagResource,
    Operation::UntagResource,
];

/// ECS allows 50 user tags per resource.
const MAX_TAGS: usize = 50;

/// What kubecs does with each, for the README's compatibility table.
pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::TagResource => "Clusters, services, task definitions, tasks, container instances, capacity providers, daemons and daemon task definitions; at most 50 tags; the `aws:` prefix is reserved.",
        Operation::UntagResource => "Removes the given keys; unknown keys are ignored.",
        Operation::ListTagsForResource => "Tags of any resource kubecs hands out an ARN for.",
        _ => return None,
    })
}

/// ECS's rules beyond the model's lengths and count: a key is required, and the `aws:`
/// prefix (any case) is reserved for AWS's own tags.
pub fn check(tags: Option<&Vec<Tag>>) -> Result<(), ApiError> {
    for tag in tags.into_iter().flatten() {
        let key = tag.key.as_deref().unwrap_or_default();
        if key.is_empty() {
            return Err(ApiError::invalid_parameter("Tag keys must not be empty."));
        }
        // `get`, not indexing: a key like "abcé" has no character boundary at byte 4.
        if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            return Err(ApiError::invalid_parameter(format!(
                "Tag key '{key}' is invalid: the aws: prefix is reserved for AWS use."
            )));
        }
    }
    Ok(())
}

/// `tags` with `updates` applied by key: a key already there gets the new value, a new
/// key is appended, and a key repeated in `updates` keeps its last value.
fn merge(mut tags: Vec<Tag>, updates: &[Tag]) -> Vec<Tag> {
    for tag in updates {
        match tags.iter_mut().find(|t| t.key == tag.key) {
            Some(existing) => existing.value = tag.value.clone(),
            None => tags.push(tag.clone()),
        }
    }
    tags
}

/// Sets a resource's tags to exactly `tags` (none: the entry is removed). Used when a
/// resource is created, so a re-created name does not inherit its predecessor's tags;
/// part of the creating request's transaction.
pub fn replace_in(
    ctx: &Ctx,
    tx: &mut Tx<'_, '_>,
    arn: &str,
    tags: Vec<Tag>,
) -> Result<(), ApiError> {
    let tags = merge(Vec::new(), &tags);
    tx.update(&ctx.store.tags(), arn, |_| {
        let write = if tags.is_empty() {
            Write::Delete
        } else {
            Write::Put(tags.clone())
        };
        Ok::<_, ApiError>((write, ()))
    })
}

/// The tags of the resource `arn`, which must exist.
pub fn of(ctx: &Ctx, arn: &str) -> Result<Vec<Tag>, ApiError> {
    Ok(ctx
        .store
        .tags()
        .get(arn)?
        .map(|r| r.value)
        .unwrap_or_default())
}

/// Checks that `arn` names a resource kubecs has, with ECS's error when it does not:
/// a missing cluster is ClusterNotFoundException; another missing resource is
/// `missing_code` — ResourceNotFoundException for TagResource and UntagResource, whose
/// model declares it, InvalidParameterException for ListTagsForResource, whose model
/// does not (the SDKs could not even name a ResourceNotFoundException there).
fn ensure_exists(
    reader: &impl Reader,
    ctx: &Ctx,
    arn: &str,
    missing_code: ErrorCode,
) -> Result<(), ApiError> {
    let invalid = || ApiError::invalid_parameter(format!("The ARN provided is invalid: {arn}"));
    let missing = || ApiError::new(missing_code, "The specified resource could not be found.");
    let resource = ctx.arns.resource_of(arn).ok_or_else(invalid)?;
    let (kind, rest) = resource.split_once('/').ok_or_else(invalid)?;
    match kind {
        "cluster" => match reader.read(&ctx.store.clusters(), rest)? {
            Some(r) if r.value.status.as_deref() == Some(status::ACTIVE) => Ok(()),
            _ => Err(ApiError::new(
                ErrorCode::ClusterNotFoundException,
                "Cluster not found.",
            )),
        },
        "service" => {
            let (cluster, name) = rest.split_once('/').ok_or_else(invalid)?;
            match reader.read(&ctx.store.services(), (cluster, name))? {
                Some(r) if r.value.service.status.as_deref() != Some(status::INACTIVE) => Ok(()),
                _ => Err(missing()),
            }
        }
        "task-definition" => {
            // An ARN always names a revision (the parse refuses one without).
            let reference = ctx.arns.task_definition_ref(arn)?;
            let revision = reference.revision.ok_or_else(invalid)?;
            let revisions = ctx.store.task_definitions();
            match reader.read(revisions.revisions(), (reference.family.as_str(), revision))? {
                Some(r) if r.value.status != Some(TaskDefinitionStatus::DeleteInProgress) => Ok(()),
                _ => Err(missing()),
            }
        }
        "task" => {
            let (cluster, id) = rest.split_once('/').ok_or_else(invalid)?;
            match reader.read(&ctx.store.tasks(), (cluster, id))? {
                Some(_) => Ok(()),
                None => Err(missing()),
            }
        }
        "capacity-provider" => match reader.read(&ctx.store.capacity_providers(), rest)? {
            Some(_) => Ok(()),
            None if kubecs_reconciler::convert::names::BUILT_IN_CAPACITY_PROVIDERS
                .contains(&rest) =>
            {
                Ok(())
            }
            None => Err(missing()),
        },
        "daemon" => {
            let (cluster, name) = rest.split_once('/').ok_or_else(invalid)?;
            match reader.read(&ctx.store.daemons(), (cluster, name))? {
                Some(_) => Ok(()),
                None => Err(missing()),
            }
        }
        "daemon-task-definition" => {
            let (family, revision) = rest.rsplit_once(':').ok_or_else(invalid)?;
            let revision: u32 = revision.parse().map_err(|_| invalid())?;
            let tables = ctx.store.daemon_task_definitions();
            match reader.read(tables.revisions(), (family, revision))? {
                Some(_) => Ok(()),
                None => Err(missing()),
            }
        }
        // A registration, or a node (an instance of every cluster).
        "container-instance" => {
            let (cluster, id) = rest.split_once('/').ok_or_else(invalid)?;
            let registered = reader
                .read(&ctx.store.container_instances(), (cluster, id))?
                .is_some();
            if registered || ctx.nodes.has_instance(id) {
                Ok(())
            } else {
                Err(missing())
            }
        }
        _ => Err(invalid()),
    }
}

fn required_arn(arn: Option<&String>) -> Result<&str, ApiError> {
    arn.map(String::as_str)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("resourceArn must be specified."))
}

pub async fn tag_resource(
    ctx: Ctx,
    input: TagResourceRequest,
) -> Result<TagResourceResponse, ApiError> {
    let arn = required_arn(input.resource_arn.as_ref())?;
    let new_tags = input.tags.clone().unwrap_or_default();
    check(Some(&new_tags))?;
    let table = ctx.store.tags();
    // The resource is checked inside the write: a resource deleted meanwhile is not tagged.
    ctx.store
        .transaction(|tx| {
            ensure_exists(tx, &ctx, arn, ErrorCode::ResourceNotFoundException)?;
            tx.update(&table, arn, |current| {
                let tags = merge(
                    current.map(|r| r.value.clone()).unwrap_or_default(),
                    &new_tags,
                );
                if tags.len() > MAX_TAGS {
                    return Err(ApiError::invalid_parameter(format!(
                        "A resource can have at most {MAX_TAGS} tags; this request would give it {}.",
                        tags.len()
                    )));
                }
                Ok((Write::Put(tags), ()))
            })
        })
        .await?;
    Ok(TagResourceResponse::default())
}

pub async fn untag_resource(
    ctx: Ctx,
    input: UntagResourceRequest,
) -> Result<UntagResourceResponse, ApiError> {
    let arn = required_arn(input.resource_arn.as_ref())?;
    let keys = input.tag_keys.clone().unwrap_or_default();
    let table = ctx.store.tags();
    ctx.store
        .transaction(|tx| {
            ensure_exists(tx, &ctx, arn, ErrorCode::ResourceNotFoundException)?;
            tx.update(&table, arn, |current| {
                let Some(record) = current else {
                    return Ok::<_, ApiError>((Write::Keep, ()));
                };
                let tags: Vec<Tag> = record
                    .value
                    .iter()
                    .filter(|t| !t.key.as_ref().is_some_and(|k| keys.contains(k)))
                    .cloned()
                    .collect();
                let write = if tags.is_empty() {
                    Write::Delete
                } else {
                    Write::Put(tags)
                };
                Ok((write, ()))
            })
        })
        .await?;
    Ok(UntagResourceResponse::default())
}

pub async fn list_tags_for_resource(
    ctx: Ctx,
    input: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, ApiError> {
    let arn = required_arn(input.resource_arn.as_ref())?;
    ensure_exists(&Committed, &ctx, arn, ErrorCode::InvalidParameterException)?;
    Ok(ListTagsForResourceResponse {
        tags: Some(of(&ctx, arn)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str) -> Tag {
        Tag {
            key: Some(key.to_owned()),
            value: Some("v".to_owned()),
        }
    }

    #[test]
    fn merging_replaces_by_key_and_a_repeated_key_keeps_its_last_value() {
        let mut b = tag("b");
        b.value = Some("new".into());
        let merged = merge(vec![tag("a"), tag("b")], &[b.clone(), tag("c"), tag("c")]);
        assert_eq!(merged, vec![tag("a"), b, tag("c")]);
        let mut last = tag("x");
        last.value = Some("2".into());
        assert_eq!(merge(Vec::new(), &[tag("x"), last.clone()]), vec![last]);
    }

    #[test]
    fn the_aws_prefix_is_reserved_in_any_case() {
        assert!(check(Some(&vec![tag("team")])).is_ok());
        assert!(check(Some(&vec![tag("aws:x")])).is_err());
        assert!(check(Some(&vec![tag("AWS:x")])).is_err());
        assert!(check(Some(&vec![tag("")])).is_err());
        // A multi-byte character across byte 4 must not panic the request.
        assert!(check(Some(&vec![tag("abcé")])).is_ok());
        assert!(check(Some(&vec![tag("é")])).is_ok());
        assert!(check(None).is_ok());
    }
}
