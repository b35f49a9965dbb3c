//! Tags: TagResource, UntagResource and ListTagsForResource, and the tag rules shared by
//! every operation that accepts `tags`.
//!
//! The tagging operations are not implemented yet (`OPERATIONS` is empty).

use crate::context::Ctx;
use crate::dispatch::unsupported;
use crate::error::ApiError;
use kubecs_api_models::{
    ListTagsForResourceRequest, ListTagsForResourceResponse, Operation, Tag, TagResourceRequest,
    TagResourceResponse, UntagResourceRequest, UntagResourceResponse,
};

/// The operations this module implements.
pub const OPERATIONS: &[Operation] = &[];

/// What kubecs does with each, for the README's compatibility table.
pub fn note(_operation: Operation) -> Option<&'static str> {
    None
}

/// ECS's rules beyond the model's lengths and count: a key is required, and the `aws:`
/// prefix (any case) is reserved for AWS's own tags.
pub fn check(tags: Option<&Vec<Tag>>) -> Result<(), ApiError> {
    for tag in tags.into_iter().flatten() {
        let Some(key) = tag.key.as_deref() else {
            return Err(ApiError::invalid_parameter("Tag keys must not be empty."));
        };
        if key.is_empty() {
            return Err(ApiError::invalid_parameter("Tag keys must not be empty."));
        }
        if key.len() >= 4 && key[..4].eq_ignore_ascii_case("aws:") {
            return Err(ApiError::invalid_parameter(format!(
                "Tag key '{key}' is invalid: the aws: prefix is reserved for AWS use."
            )));
        }
    }
    Ok(())
}

pub async fn tag_resource(
    _ctx: Ctx,
    _input: TagResourceRequest,
) -> Result<TagResourceResponse, ApiError> {
    Err(unsupported(Operation::TagResource))
}

pub async fn untag_resource(
    _ctx: Ctx,
    _input: UntagResourceRequest,
) -> Result<UntagResourceResponse, ApiError> {
    Err(unsupported(Operation::UntagResource))
}

pub async fn list_tags_for_resource(
    _ctx: Ctx,
    _input: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, ApiError> {
    Err(unsupported(Operation::ListTagsForResource))
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
    fn the_aws_prefix_is_reserved_in_any_case() {
        assert!(check(Some(&vec![tag("team")])).is_ok());
        assert!(check(Some(&vec![tag("aws:x")])).is_err());
        assert!(check(Some(&vec![tag("AWS:x")])).is_err());
        assert!(check(Some(&vec![tag("")])).is_err());
        assert!(check(None).is_ok());
    }
}
