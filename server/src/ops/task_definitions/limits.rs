//! RegisterTaskDefinition's documented size and count limits, beyond what the model's
//! constraints already refuse (tags: at most 50, keys 1-128 and values 0-256 characters,
//! checked generically before the handler runs) and the name rules in `validate`
//! (family and container names: up to 255 letters, digits, hyphens and underscores).
//!
//! Limits and where they are documented:
//! - the whole task definition: 64 KiB ("Task definition max size", Amazon ECS service
//!   quotas, https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html);
//!   ECS answers `ClientException: Actual length: '66420'. Max allowed length is '65536'
//!   bytes.` (a CloudTrail record quoted in awsdocs/amazon-ecs-developer-guide#149);
//! - containers: 10 per task definition (same quotas page, "Containers per task
//!   definition"); ECS answers `ClientException: Too many containers.`
//!   (aws/amazon-ecs-cli#184, #951);
//! - `image`: 255 characters; for an image by digest (`repository@sha256:...`) the limit
//!   applies to the part before the `@` (API reference, ContainerDefinition.image); ECS
//!   answers `ClientException: Container.image should be 255 characters or less`
//!   (hashicorp/terraform-provider-aws#22629);
//! - volume `name`: up to 255 letters, digits, underscores and hyphens (API reference,
//!   Volume.name); ECS answers `ClientException: volume.name contains invalid
//!   characters.` to a bad one (aws/amazon-ecs-cli#277, openfresh/ecs-formation#22);
//! - `environmentFiles`: up to ten per container (API reference,
//!   ContainerDefinition.environmentFiles);
//! - a port mapping's `name`: up to 64 characters (API reference, PortMapping.name);
//! - `placementConstraints`: at most 10 (API reference,
//!   RegisterTaskDefinition.placementConstraints).
//!
//! Environment variables, `dockerLabels`, `command`, `entryPoint`, `hostname` and the
//! other free-form strings have no limit of their own in ECS's documentation: the 64 KiB
//! of the whole definition is what bounds them.

use crate::error::ApiError;
use crate::ops::names;
use kubecs_api_models::{ContainerDefinition, RegisterTaskDefinitionRequest};

/// "Task definition max size": 64 KiB, in bytes as ECS reports it.
pub const MAX_TASK_DEFINITION_BYTES: usize = 65_536;
/// "Containers per task definition".
pub const MAX_CONTAINERS: usize = 10;
/// ContainerDefinition.image: up to 255 characters (before an `@digest`).
pub const MAX_IMAGE: usize = 255;
/// ContainerDefinition.environmentFiles: "up to ten environment files".
pub const MAX_ENVIRONMENT_FILES: usize = 10;
/// PortMapping.name: "up to 64 characters".
pub const MAX_PORT_NAME: usize = 64;
/// RegisterTaskDefinition.placementConstraints: "a maximum of 10 constraints".
pub const MAX_PLACEMENT_CONSTRAINTS: usize = 10;

/// Every limit, the cheap per-member ones first (their messages say what to change),
/// then the size of the whole definition.
pub fn check(input: &RegisterTaskDefinitionRequest) -> Result<(), ApiError> {
    let containers = input.container_definitions.as_deref().unwrap_or_default();
    if containers.len() > MAX_CONTAINERS {
        return Err(ApiError::client("Too many containers."));
    }
    for container in containers {
        check_container(container)?;
    }
    for volume in input.volumes.iter().flatten() {
        // The model makes a volume's name optional; one that is given must follow
        // the naming rule.
        match volume.name.as_deref() {
            Some(name) if !name.is_empty() && !names::is_valid(name) => {
                // ECS's message for invalid characters; it is not known to word an
                // over-long name differently, so that gets the same answer.
                return Err(ApiError::client("volume.name contains invalid characters."));
            }
            _ => {}
        }
    }
    let constraints = input.placement_constraints.as_deref().unwrap_or_default();
    if constraints.len() > MAX_PLACEMENT_CONSTRAINTS {
        // ECS's wording is not public; ours.
        return Err(ApiError::client(format!(
            "Too many placement constraints: a task definition can have at most {MAX_PLACEMENT_CONSTRAINTS}."
        )));
    }
    check_size(input)
}

fn check_container(container: &ContainerDefinition) -> Result<(), ApiError> {
    let name = container.name.as_deref().unwrap_or_default();
    let image = container.image.as_deref().unwrap_or_default();
    let repository = image.split_once('@').map_or(image, |(before, _)| before);
    if repository.chars().count() > MAX_IMAGE {
        return Err(ApiError::client(
            "Container.image should be 255 characters or less",
        ));
    }
    let files = container.environment_files.as_deref().unwrap_or_default();
    if files.len() > MAX_ENVIRONMENT_FILES {
        // ECS's wording is not public; ours, in the form of its other container messages.
        return Err(ApiError::client(format!(
            "Invalid setting for container '{name}'. At most {MAX_ENVIRONMENT_FILES} 'environmentFiles' may be specified."
        )));
    }
    for mapping in container.port_mappings.iter().flatten() {
        if mapping
            .name
            .as_deref()
            .is_some_and(|n| n.chars().count() > MAX_PORT_NAME)
        {
            // ECS's wording is not public; ours.
            return Err(ApiError::client(format!(
                "Invalid port mapping name for container '{name}': it can have at most {MAX_PORT_NAME} characters."
            )));
        }
    }
    Ok(())
}

/// The 64 KiB limit. What is measured: the request's task-definition members (everything
/// but `tags`, which are stored apart from the definition) serialized as compact JSON, in
/// bytes — the closest public description of what ECS measures ("save your task
/// definition as a JSON file and check the size", awsdocs/amazon-ecs-developer-guide#43).
/// ECS's own count may differ by the few bytes of members it adds on registration.
fn check_size(input: &RegisterTaskDefinitionRequest) -> Result<(), ApiError> {
    let definition = RegisterTaskDefinitionRequest {
        tags: None,
        ..input.clone()
    };
    let mut counter = ByteCounter(0);
    serde_json::to_writer(&mut counter, &definition).map_err(|e| ApiError::internal(&e))?;
    let length = counter.0;
    if length > MAX_TASK_DEFINITION_BYTES {
        return Err(ApiError::client(format!(
            "Actual length: '{length}'. Max allowed length is '{MAX_TASK_DEFINITION_BYTES}' bytes."
        )));
    }
    Ok(())
}

/// Counts what is written, so the size is known without keeping the JSON.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubecs_api_models::{KeyValuePair, Tag};

    fn with_image(image: &str) -> RegisterTaskDefinitionRequest {
        RegisterTaskDefinitionRequest {
            family: Some("f".into()),
            container_definitions: Some(vec![ContainerDefinition {
                name: Some("c".into()),
                image: Some(image.into()),
                ..ContainerDefinition::default()
            }]),
            ..RegisterTaskDefinitionRequest::default()
        }
    }

    #[test]
    fn the_image_limit_counts_only_what_comes_before_a_digest() {
        assert!(check(&with_image(&"i".repeat(255))).is_ok());
        assert!(check(&with_image(&"i".repeat(256))).is_err());
        let digest = format!("{}@sha256:{}", "i".repeat(255), "a".repeat(64));
        assert!(check(&with_image(&digest)).is_ok());
    }

    #[test]
    fn the_size_is_the_compact_json_of_the_definition_without_its_tags() {
        let mut input = with_image("nginx");
        let base = serde_json::to_vec(&input).unwrap().len();
        input.tags = Some(vec![Tag {
            key: Some("k".into()),
            value: Some("v".repeat(256)),
        }]);
        // Pad an environment value so that the definition is exactly at the limit.
        let env = |value: String| {
            Some(vec![KeyValuePair {
                name: Some("E".into()),
                value: Some(value),
            }])
        };
        let containers = input.container_definitions.as_mut().unwrap();
        containers[0].environment = env(String::new());
        let overhead = serde_json::to_vec(&RegisterTaskDefinitionRequest {
            tags: None,
            ..input.clone()
        })
        .unwrap()
        .len();
        assert!(overhead > base);
        let fill = MAX_TASK_DEFINITION_BYTES - overhead;
        input.container_definitions.as_mut().unwrap()[0].environment = env("v".repeat(fill));
        assert!(check(&input).is_ok());
        input.container_definitions.as_mut().unwrap()[0].environment = env("v".repeat(fill + 1));
        let err = check(&input).unwrap_err();
        assert_eq!(
            err.message,
            "Actual length: '65537'. Max allowed length is '65536' bytes."
        );
    }
}
