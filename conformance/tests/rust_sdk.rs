//! The Rust AWS SDK (`aws-sdk-ecs`) against a running kubecs: clusters end to end, the
//! SDK's typed errors, pagination, SigV4 failures, and a restart.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types::{ClusterField, ClusterSetting, ClusterSettingName, Tag};
use aws_sdk_ecs::Client;
use kubecs_conformance::Kubecs;

fn client_with(kubecs: &Kubecs, key: &str, secret: &str, region: &str) -> Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new(key, secret, None, None, "conformance"))
        .endpoint_url(kubecs.endpoint())
        .http_client(http)
        .build();
    Client::from_conf(config)
}

fn client(kubecs: &Kubecs) -> Client {
    client_with(kubecs, "test", "test", "us-east-1")
}

#[tokio::test]
async fn clusters_can_be_created_described_listed_and_deleted_with_aws_sdk_ecs() {
    let kubecs = Kubecs::start().await.unwrap();
    let ecs = client(&kubecs);
    let created = ecs
        .create_cluster()
        .cluster_name("demo")
        .tags(Tag::builder().key("team").value("blue").build())
        .send()
        .await
        .unwrap();
    let cluster = created.cluster().unwrap();
    assert_eq!(
        cluster.cluster_arn(),
        Some("arn:aws:ecs:us-east-1:000000000000:cluster/demo")
    );
    assert_eq!(cluster.status(), Some("ACTIVE"));
    assert_eq!(cluster.active_services_count(), 0);
    assert_eq!(
        cluster.settings()[0].name(),
        Some(&ClusterSettingName::ContainerInsights)
    );

    let described = ecs
        .describe_clusters()
        .clusters("demo")
        .clusters("ghost")
        .include(ClusterField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(described.clusters().len(), 1);
    assert_eq!(described.clusters()[0].tags()[0].value(), Some("blue"));
    assert_eq!(described.failures()[0].reason(), Some("MISSING"));
    assert_eq!(
        described.failures()[0].arn(),
        Some("arn:aws:ecs:us-east-1:000000000000:cluster/ghost")
    );

    let listed = ecs.list_clusters().send().await.unwrap();
    assert_eq!(listed.cluster_arns().len(), 1);

    let deleted = ecs.delete_cluster().cluster("demo").send().await.unwrap();
    assert_eq!(deleted.cluster().unwrap().status(), Some("INACTIVE"));
    let again = ecs
        .delete_cluster()
        .cluster("demo")
        .send()
        .await
        .unwrap_err();
    assert!(again
        .as_service_error()
        .is_some_and(|e| e.is_cluster_not_found_exception()));
}

#[tokio::test]
async fn list_clusters_paginates_through_every_cluster_with_the_sdk_paginator() {
    let kubecs = Kubecs::start().await.unwrap();
    let ecs = client(&kubecs);
    for i in 0..7 {
        ecs.create_cluster()
            .cluster_name(format!("p{i}"))
            .send()
            .await
            .unwrap();
    }
    let pages: Vec<_> = ecs
        .list_clusters()
        .max_results(3)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    let arns: Vec<&str> = pages
        .iter()
        .flat_map(|p| p.cluster_arns().iter().map(String::as_str))
        .collect();
    let expected: Vec<String> = (0..7)
        .map(|i| format!("arn:aws:ecs:us-east-1:000000000000:cluster/p{i}"))
        .collect();
    assert_eq!(arns, expected);
}

#[tokio::test]
async fn service_errors_arrive_as_the_sdks_typed_errors() {
    let kubecs = Kubecs::start().await.unwrap();
    let ecs = client(&kubecs);
    let bad_name = ecs
        .create_cluster()
        .cluster_name("no spaces")
        .send()
        .await
        .unwrap_err();
    assert!(bad_name
        .as_service_error()
        .is_some_and(|e| e.is_invalid_parameter_exception()));
    let no_express = ecs
        .describe_express_gateway_service()
        .service_arn("arn:aws:ecs:us-east-1:000000000000:service/default/web")
        .send()
        .await
        .unwrap_err();
    assert!(no_express
        .as_service_error()
        .is_some_and(|e| e.is_resource_not_found_exception()));
    let no_daemon = ecs
        .describe_daemon()
        .daemon_arn("arn:aws:ecs:us-east-1:000000000000:daemon/default/agent")
        .send()
        .await
        .unwrap_err();
    assert!(no_daemon
        .as_service_error()
        .is_some_and(|e| e.is_daemon_not_found_exception()));
    let missing = ecs
        .update_cluster_settings()
        .cluster("nope")
        .settings(
            ClusterSetting::builder()
                .name(ClusterSettingName::ContainerInsights)
                .value("enabled")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert!(missing
        .as_service_error()
        .is_some_and(|e| e.is_cluster_not_found_exception()));
}

async fn auth_failure(kubecs: &Kubecs, ecs: &Client) -> (String, String) {
    let err = ecs
        .create_cluster()
        .cluster_name("forbidden")
        .send()
        .await
        .unwrap_err();
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(400), "{err:?}");
    let code = err.code().unwrap_or_default().to_owned();
    let message = err.message().unwrap_or_default().to_owned();
    // Nothing was written.
    let described = client(kubecs)
        .describe_clusters()
        .clusters("forbidden")
        .send()
        .await
        .unwrap();
    assert!(described.clusters().is_empty());
    (code, message)
}

#[tokio::test]
async fn requests_signed_wrongly_by_the_sdk_are_refused_with_aws_codes_and_change_nothing() {
    let kubecs = Kubecs::start().await.unwrap();
    let (code, message) =
        auth_failure(&kubecs, &client_with(&kubecs, "test", "wrong", "us-east-1")).await;
    assert_eq!(code, "InvalidSignatureException");
    assert!(message.starts_with("The request signature we calculated does not match"));
    let (code, _) = auth_failure(
        &kubecs,
        &client_with(&kubecs, "nobody", "test", "us-east-1"),
    )
    .await;
    assert_eq!(code, "UnrecognizedClientException");
    // A region outside `--regions` is refused as AWS refuses it.
    let dir = tempfile::tempdir().unwrap();
    let narrow = Kubecs::start_on(dir.path(), |config| {
        config.regions = vec!["us-east-1".into()];
    })
    .await
    .unwrap();
    let (code, message) =
        auth_failure(&narrow, &client_with(&narrow, "test", "test", "eu-west-1")).await;
    assert_eq!(code, "InvalidSignatureException");
    assert_eq!(
        message,
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    );
}

#[tokio::test]
async fn a_client_of_another_region_gets_that_region_s_own_resources() {
    let kubecs = Kubecs::start().await.unwrap();
    let west = client_with(&kubecs, "test", "test", "eu-west-1");
    let created = west
        .create_cluster()
        .cluster_name("west")
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.cluster().and_then(|c| c.cluster_arn()),
        Some("arn:aws:ecs:eu-west-1:000000000000:cluster/west")
    );
    let east = client(&kubecs)
        .describe_clusters()
        .clusters("west")
        .send()
        .await
        .unwrap();
    assert!(east.clusters().is_empty());
}

#[tokio::test]
async fn clusters_survive_a_restart_of_kubecs() {
    let kubecs = Kubecs::start().await.unwrap();
    client(&kubecs)
        .create_cluster()
        .cluster_name("kept")
        .send()
        .await
        .unwrap();
    let kubecs = kubecs.restart().await.unwrap();
    let described = client(&kubecs)
        .describe_clusters()
        .clusters("kept")
        .send()
        .await
        .unwrap();
    assert_eq!(described.clusters()[0].status(), Some("ACTIVE"));
}
