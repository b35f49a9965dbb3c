//! The Rust AWS SDK (`aws-sdk-ecs`) against a running kubecs: task definitions, services
//! and tags end to end, with the SDK's typed errors, paginators and idempotency.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentRolloutState, PortMapping, ServiceField, Tag,
};
use aws_sdk_ecs::Client;
use kubecs_conformance::Kubecs;

const ARN: &str = "arn:aws:ecs:us-east-1:000000000000";

fn client(kubecs: &Kubecs) -> Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "conformance"))
        .endpoint_url(kubecs.endpoint())
        .http_client(http)
        .build();
    Client::from_conf(config)
}

async fn register(ecs: &Client, family: &str, image: &str) -> String {
    let out = ecs
        .register_task_definition()
        .family(family)
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image(image)
                .memory(128)
                .port_mappings(PortMapping::builder().container_port(80).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.task_definition()
        .unwrap()
        .task_definition_arn()
        .unwrap()
        .to_owned()
}

async fn ready(kubecs: &Kubecs) -> Client {
    let ecs = client(kubecs);
    ecs.create_cluster().send().await.unwrap();
    ecs
}

#[tokio::test]
async fn a_service_is_created_described_scaled_rolled_and_deleted_with_aws_sdk_ecs() {
    let kubecs = Kubecs::start().await.unwrap();
    let ecs = ready(&kubecs).await;
    let v1 = register(&ecs, "web", "nginx:1").await;
    assert_eq!(v1, format!("{ARN}:task-definition/web:1"));

    let created = ecs
        .create_service()
        .service_name("api")
        .task_definition("web")
        .desired_count(2)
        .client_token("token-1")
        .tags(Tag::builder().key("team").value("blue").build())
        .send()
        .await
        .unwrap();
    let service = created.service().unwrap();
    assert_eq!(
        service.service_arn(),
        Some(format!("{ARN}:service/default/api").as_str())
    );
    assert_eq!(service.status(), Some("ACTIVE"));
    assert_eq!(service.desired_count(), 2);
    assert_eq!(service.task_definition(), Some(v1.as_str()));
    let primary = &service.deployments()[0];
    assert_eq!(primary.status(), Some("PRIMARY"));
    assert_eq!(
        primary.rollout_state(),
        Some(&DeploymentRolloutState::InProgress)
    );
    assert!(primary.created_at().is_some());
    let first_deployment = primary.id().unwrap().to_owned();

    // The same clientToken returns the first result; another token is refused.
    let again = ecs
        .create_service()
        .service_name("api")
        .task_definition("web")
        .desired_count(2)
        .client_token("token-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.service().unwrap().deployments()[0].id(),
        Some(first_deployment.as_str())
    );
    let other = ecs
        .create_service()
        .service_name("api")
        .task_definition("web")
        .desired_count(2)
        .client_token("token-2")
        .send()
        .await
        .unwrap_err();
    assert!(other
        .as_service_error()
        .is_some_and(|e| e.is_invalid_parameter_exception()));

    let described = ecs
        .describe_services()
        .services("api")
        .services("ghost")
        .include(ServiceField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(described.services()[0].tags()[0].key(), Some("team"));
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));

    let scaled = ecs
        .update_service()
        .service("api")
        .desired_count(3)
        .send()
        .await
        .unwrap();
    let scaled = scaled.service().unwrap();
    assert_eq!(scaled.deployments().len(), 1);
    assert_eq!(scaled.deployments()[0].desired_count(), 3);

    let v2 = register(&ecs, "web", "nginx:2").await;
    let rolled = ecs
        .update_service()
        .service("api")
        .task_definition(&v2)
        .send()
        .await
        .unwrap();
    let deployments = rolled.service().unwrap().deployments();
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[0].task_definition(), Some(v2.as_str()));
    assert_eq!(deployments[1].status(), Some("ACTIVE"));

    let refused = ecs
        .delete_service()
        .service("api")
        .send()
        .await
        .unwrap_err();
    assert!(refused
        .as_service_error()
        .is_some_and(|e| e.is_invalid_parameter_exception()));
    let deleted = ecs
        .delete_service()
        .service("api")
        .force(true)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.service().unwrap().status(), Some("DRAINING"));
    let not_active = ecs
        .update_service()
        .service("api")
        .desired_count(1)
        .send()
        .await
        .unwrap_err();
    assert!(not_active
        .as_service_error()
        .is_some_and(|e| e.is_service_not_active_exception()));
    let missing = ecs
        .update_service()
        .service("ghost")
        .desired_count(1)
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .as_service_error()
        .is_some_and(|e| e.is_service_not_found_exception()));
}

#[tokio::test]
async fn list_services_and_task_definitions_paginate_with_the_sdk_paginators() {
    let kubecs = Kubecs::start().await.unwrap();
    let ecs = ready(&kubecs).await;
    for i in 0..5 {
        register(&ecs, "pag", &format!("img:{i}")).await;
    }
    for i in 0..12 {
        ecs.create_service()
            .service_name(format!("s{i:02}"))
            .task_definition("pag")
            .desired_count(0)
            .send()
            .await
            .unwrap();
    }
    let services: Vec<String> = ecs
        .list_services()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(services.len(), 12);
    assert_eq!(services[11], format!("{ARN}:service/default/s11"));
    let revisions: Vec<String> = ecs
        .list_task_definitions()
        .family_prefix("pag")
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let expected: Vec<String> = (1..=5)
        .map(|r| format!("{ARN}:task-definition/pag:{r}"))
        .collect();
    assert_eq!(revisions, expected);
}

#[tokio::test]
async fn tags_are_added_listed_and_removed_on_every_kind_of_resource() {
    let kubecs = Kubecs::start().await.unwrap();
    let ecs = ready(&kubecs).await;
    let td = register(&ecs, "tagged", "nginx").await;
    ecs.create_service()
        .service_name("svc")
        .task_definition("tagged")
        .desired_count(0)
        .send()
        .await
        .unwrap();
    for arn in [
        format!("{ARN}:cluster/default"),
        format!("{ARN}:service/default/svc"),
        td,
    ] {
        ecs.tag_resource()
            .resource_arn(&arn)
            .tags(Tag::builder().key("a").value("1").build())
            .tags(Tag::builder().key("b").value("2").build())
            .send()
            .await
            .unwrap();
        ecs.untag_resource()
            .resource_arn(&arn)
            .tag_keys("a")
            .send()
            .await
            .unwrap();
        let listed = ecs
            .list_tags_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap();
        let keys: Vec<_> = listed.tags().iter().filter_map(|t| t.key()).collect();
        assert_eq!(keys, ["b"], "{arn}");
    }
    let missing = ecs
        .tag_resource()
        .resource_arn(format!("{ARN}:service/default/ghost"))
        .tags(Tag::builder().key("a").value("1").build())
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .as_service_error()
        .is_some_and(|e| e.is_resource_not_found_exception()));
    let missing = ecs
        .list_tags_for_resource()
        .resource_arn(format!("{ARN}:service/default/ghost"))
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .as_service_error()
        .is_some_and(|e| e.is_invalid_parameter_exception()));
}
