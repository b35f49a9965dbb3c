//! Builders the converter's tests share.

use kubecs_api_models::{ContainerDefinition, TaskDefinition};

/// A container with a name and an image, nothing else.
pub fn container(name: &str) -> ContainerDefinition {
    ContainerDefinition {
        name: Some(name.into()),
        image: Some("busybox".into()),
        ..ContainerDefinition::default()
    }
}

/// Revision 3 of family `app`, with these containers.
pub fn task(containers: Vec<ContainerDefinition>) -> TaskDefinition {
    TaskDefinition {
        family: Some("app".into()),
        revision: Some(3),
        task_definition_arn: Some(
            "arn:aws:ecs:us-east-1:000000000000:task-definition/app:3".into(),
        ),
        container_definitions: Some(containers),
        ..TaskDefinition::default()
    }
}
