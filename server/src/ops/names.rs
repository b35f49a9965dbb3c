//! The naming rule ECS shares across resources: cluster, service and task-definition
//! family names, and container names, are letters, digits, hyphens and underscores, up to
//! 255 of them. Each caller words its own error, as ECS does. And how a parameter that
//! takes a name or an ARN of a resource inside a cluster is read.

use crate::context::Ctx;
use crate::error::ApiError;

/// The longest name ECS accepts.
pub const MAX_NAME: usize = 255;

/// Whether `b` may appear in an ECS name.
pub fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Whether `name` is a valid ECS name: 1 to 255 name characters.
pub fn is_valid(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len()) && name.bytes().all(is_name_char)
}

/// The name a parameter for a resource of `kind` (`service`, `task`) inside `cluster`
/// refers to: a name, or an ARN in the long (`<kind>/<cluster>/<name>`) or short
/// (`<kind>/<name>`) format. An ARN of another cluster, region or account refers to
/// nothing in this one; an ARN of another kind is refused as `Invalid <kind> ARN`.
pub fn in_cluster<'a>(
    ctx: &Ctx,
    kind: &str,
    cluster: &str,
    ident: &'a str,
) -> Result<Option<&'a str>, ApiError> {
    if !ident.starts_with("arn:") {
        return Ok(Some(ident));
    }
    let Some(resource) = ctx.arns.resource_of(ident) else {
        return Ok(None);
    };
    let Some(path) = resource
        .strip_prefix(kind)
        .and_then(|rest| rest.strip_prefix('/'))
    else {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid {kind} ARN: {ident}"
        )));
    };
    Ok(match path.split_once('/') {
        Some((c, name)) if c == cluster => Some(name),
        Some(_) => None,
        None => Some(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_letters_digits_hyphens_and_underscores_up_to_255() {
        assert!(is_valid("web-1_A"));
        assert!(is_valid(&"a".repeat(255)));
        for bad in ["", "a b", "a.b", "a/b", "é", &"a".repeat(256)] {
            assert!(!is_valid(bad), "{bad:?}");
        }
    }
}
