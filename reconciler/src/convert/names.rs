//! Kubernetes names, labels and annotations for ECS objects.
//!
//! ECS names allow what Kubernetes names do not (uppercase, underscores, 255 characters),
//! so every Kubernetes name here is derived, stable, and collision-free: the ECS value is
//! lowercased and sanitized for readability, and a short hash of the *exact* ECS value
//! keeps two values that sanitize alike apart. Labels carry the same values where they are
//! valid label values; the exact ECS values always travel in annotations.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};

/// The prefix of every label and annotation kubecs writes.
pub const PREFIX: &str = "ecs.kubecs.io/";
/// Label: the ECS region (as kubecs is configured).
pub const REGION_LABEL: &str = "ecs.kubecs.io/region";
/// Label: the ECS cluster name (see [`label_value`]).
pub const CLUSTER_LABEL: &str = "ecs.kubecs.io/cluster";
/// Label: the ECS service name (see [`label_value`]); part of every selector.
pub const SERVICE_LABEL: &str = "ecs.kubecs.io/service";
/// Label: the task definition family (see [`label_value`]).
pub const FAMILY_LABEL: &str = "ecs.kubecs.io/family";
/// Label: the task definition revision.
pub const REVISION_LABEL: &str = "ecs.kubecs.io/revision";
/// Label: the well-known managed-by label, always [`MANAGED_BY`].
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`] on everything kubecs creates.
pub const MANAGED_BY: &str = "kubecs";

/// Annotation: the exact ECS region.
pub const REGION_ANNOTATION: &str = "ecs.kubecs.io/region";
/// Annotation: the exact ECS cluster name.
pub const CLUSTER_NAME_ANNOTATION: &str = "ecs.kubecs.io/cluster-name";
/// Annotation: the ECS cluster ARN.
pub const CLUSTER_ARN_ANNOTATION: &str = "ecs.kubecs.io/cluster-arn";
/// Annotation: the exact ECS service name.
pub const SERVICE_NAME_ANNOTATION: &str = "ecs.kubecs.io/service-name";
/// Annotation: the ECS service ARN.
pub const SERVICE_ARN_ANNOTATION: &str = "ecs.kubecs.io/service-arn";
/// Annotation: the exact task definition family.
pub const FAMILY_ANNOTATION: &str = "ecs.kubecs.io/family";
/// Annotation: the ARN of the task definition the pods run.
pub const TASK_DEFINITION_ARN_ANNOTATION: &str = "ecs.kubecs.io/task-definition-arn";
/// Pod-template annotation: the id of the ECS deployment (`ecs-svc/...`) the pods belong
/// to. A new ECS deployment changes it, so Kubernetes rolls out a new ReplicaSet even
/// when the task definition is the same (forceNewDeployment), and each ReplicaSet names
/// its ECS deployment.
pub const DEPLOYMENT_ID_ANNOTATION: &str = "ecs.kubecs.io/deployment-id";
/// Annotation on a load-balancer Service: the ECS target group ARN.
pub const TARGET_GROUP_ARN_ANNOTATION: &str = "ecs.kubecs.io/target-group-arn";
/// Annotation on a load-balancer Service: the classic load balancer name.
pub const LOAD_BALANCER_NAME_ANNOTATION: &str = "ecs.kubecs.io/load-balancer-name";
/// Annotation on a Service Connect Service: the exact discovery name or client alias.
pub const SERVICE_CONNECT_NAME_ANNOTATION: &str = "ecs.kubecs.io/service-connect-name";
/// Pod-template annotations holding a container's docker labels are named
/// `<container>.docker-label.ecs.kubecs.io/<key>`.
/// Node label: the ECS capacity provider (an Auto Scaling group provider) a node belongs
/// to. Tasks of a capacity provider strategy run on the nodes of its providers.
pub const CAPACITY_PROVIDER_LABEL: &str = "ecs.kubecs.io/capacity-provider";
/// ECS's built-in capacity providers: their tasks run on any node.
pub const BUILT_IN_CAPACITY_PROVIDERS: &[&str] = &["FARGATE", "FARGATE_SPOT"];

/// The node requirement of a capacity provider strategy: the nodes labelled with one of
/// its Auto Scaling group providers; `None` when it names none (any node).
pub fn capacity_provider_requirement(
    strategy: &[kubecs_api_models::CapacityProviderStrategyItem],
) -> Option<k8s_openapi::api::core::v1::NodeSelectorRequirement> {
    let groups: Vec<String> = strategy
        .iter()
        .filter_map(|i| i.capacity_provider.clone())
        .filter(|p| !BUILT_IN_CAPACITY_PROVIDERS.contains(&p.as_str()))
        .collect();
    (!groups.is_empty()).then(|| k8s_openapi::api::core::v1::NodeSelectorRequirement {
        key: CAPACITY_PROVIDER_LABEL.to_owned(),
        operator: "In".to_owned(),
        values: Some(groups),
    })
}

pub const DOCKER_LABEL_DOMAIN: &str = "docker-label.ecs.kubecs.io";

/// Where an ECS cluster lives: kubecs's region and the cluster's exact name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterScope<'a> {
    /// The region kubecs answers for (`--region`).
    pub region: &'a str,
    /// The ECS cluster name, exactly as ECS has it.
    pub cluster: &'a str,
}

/// 8 hex digits of SHA-256 over the parts, each length-prefixed so that no two lists of
/// parts hash the same input.
pub(crate) fn short_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..4])
}

/// Lowercase; anything but `[a-z0-9]` becomes `-`; runs of `-` collapse; no `-` at either
/// end; at most `max` characters.
pub(crate) fn sanitize(value: &str, max: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max));
    for c in value.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// A DNS-1123 label: at most 63 of `[a-z0-9-]`, alphanumeric at both ends.
pub fn is_dns1123_label(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-')
}

/// A DNS-1035 label (what Service names must be): a DNS-1123 label starting with a letter.
pub fn is_dns1035_label(value: &str) -> bool {
    is_dns1123_label(value) && value.starts_with(|c: char| c.is_ascii_lowercase())
}

/// A DNS-1123 subdomain (Secret and ConfigMap names): at most 253 characters, dot-separated
/// DNS-1123 labels.
pub fn is_dns1123_subdomain(value: &str) -> bool {
    value.len() <= 253 && value.split('.').all(is_dns1123_label)
}

/// A valid label value: empty, or at most 63 of `[A-Za-z0-9-_.]`, alphanumeric at both ends.
pub fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_qualified_name_part(value)
}

/// The name part of a label or annotation key: 1-63 of `[A-Za-z0-9-_.]`, alphanumeric at
/// both ends.
pub fn is_qualified_name_part(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// An IANA service name, what a container port's name must be: 1-15 of `[a-z0-9-]` with a
/// letter, no `-` at either end and no `--`.
pub fn is_iana_svc_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 15
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && value.bytes().any(|b| b.is_ascii_lowercase())
        && !value.starts_with('-')
        && !value.ends_with('-')
        && !value.contains("--")
}

/// The Kubernetes namespace of an ECS cluster in a region: `ecs-<cluster>-<hash>`, with
/// the cluster name sanitized (at most 50 characters) and 8 hex digits of SHA-256 over the
/// exact (region, cluster) pair. Always a DNS-1123 label; stable; two pairs share it only
/// if both the sanitized name and the 32-bit hash agree.
pub fn namespace_name(scope: &ClusterScope<'_>) -> String {
    let hash = short_hash(&["namespace", scope.region, scope.cluster]);
    let readable = sanitize(scope.cluster, 50);
    if readable.is_empty() {
        format!("ecs-{hash}")
    } else {
        format!("ecs-{readable}-{hash}")
    }
}

/// The Namespace object of an ECS cluster: labelled with region, cluster and managed-by,
/// annotated with the exact region, cluster name and (when given) ARN.
pub fn namespace(scope: &ClusterScope<'_>, cluster_arn: Option<&str>) -> Namespace {
    let mut annotations = BTreeMap::from([
        (REGION_ANNOTATION.to_owned(), scope.region.to_owned()),
        (CLUSTER_NAME_ANNOTATION.to_owned(), scope.cluster.to_owned()),
    ]);
    if let Some(arn) = cluster_arn {
        annotations.insert(CLUSTER_ARN_ANNOTATION.to_owned(), arn.to_owned());
    }
    Namespace {
        metadata: ObjectMeta {
            name: Some(namespace_name(scope)),
            labels: Some(cluster_labels(scope)),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// `<readable>-<hash>` as a DNS-1035 label of at most 63 characters: the sanitized value
/// (prefixed with `svc-` when it would not start with a letter) cut to leave room for the
/// infix and the hash.
fn hashed_dns1035(value: &str, infix: &str, hash: &str) -> String {
    let room = 63 - infix.len() - 1 - hash.len();
    let mut readable = sanitize(value, room);
    if !readable.starts_with(|c: char| c.is_ascii_lowercase()) {
        readable = sanitize(&format!("svc-{readable}"), room);
    }
    format!("{readable}{infix}-{hash}")
}

/// The name of an ECS service's Deployment and of its ClusterIP Service (the same name):
/// `<service>-<hash>`, a DNS-1035 label of at most 63 characters, hashed over the exact
/// service name. The namespace already tells clusters apart.
pub fn workload_name(service_name: &str) -> String {
    hashed_dns1035(service_name, "", &short_hash(&["service", service_name]))
}

/// The name of the LoadBalancer Service for one `loadBalancers` entry of an ECS service:
/// `<service>-lb-<hash>`, hashed over the service name and the entry's identity (target
/// group ARN or load balancer name, container name, container port), so that it stays the
/// same while the entry does, whatever its position in the list.
pub fn load_balancer_service_name(
    service_name: &str,
    target: &str,
    container_name: &str,
    container_port: i32,
) -> String {
    let port = container_port.to_string();
    hashed_dns1035(
        service_name,
        "-lb",
        &short_hash(&["load-balancer", service_name, target, container_name, &port]),
    )
}

/// A label value for an ECS value: the value itself when it is a valid label value (ECS
/// names are, unless longer than 63 characters or starting or ending with `_` or `-`);
/// otherwise up to 54 sanitized characters, a `.` and 8 hex digits of its hash. ECS
/// cluster, service and family names never contain `.`, so a hashed value never equals a
/// verbatim one.
pub fn label_value(value: &str) -> String {
    if is_label_value(value) {
        return value.to_owned();
    }
    let hash = short_hash(&["label", value]);
    let readable = sanitize(value, 54);
    if readable.is_empty() {
        format!("hashed.{hash}")
    } else {
        format!("{readable}.{hash}")
    }
}

/// The Kubernetes name of an ECS container: the name itself when it is a DNS-1123 label,
/// else lowercased with anything else turned into `-` (`Web_App` -> `web-app`). Names only
/// need to be unique within a pod, so there is no hash: validation refuses a task
/// definition whose names collide or sanitize to nothing.
pub fn container_name(ecs_name: &str) -> String {
    if is_dns1123_label(ecs_name) {
        ecs_name.to_owned()
    } else {
        sanitize(ecs_name, 63)
    }
}

/// The Kubernetes name of a task definition volume: the name itself when it is a DNS-1123
/// label, else `<sanitized>-<hash>`.
pub fn volume_name(ecs_name: &str) -> String {
    if is_dns1123_label(ecs_name) {
        return ecs_name.to_owned();
    }
    let hash = short_hash(&["volume", ecs_name]);
    let readable = sanitize(ecs_name, 54);
    if readable.is_empty() {
        format!("volume-{hash}")
    } else {
        format!("{readable}-{hash}")
    }
}

/// The name of a Secret or ConfigMap kubecs expects for an ECS reference (an SSM parameter
/// or Secrets Manager secret name, an S3 object of an environment file): the name itself
/// when it is a valid DNS-1123 subdomain (`db-password`), else `<sanitized>-<hash>`
/// (`/prod/DB` -> `prod-db-<hash>`).
pub fn reference_name(reference: &str) -> String {
    if is_dns1123_subdomain(reference) {
        return reference.to_owned();
    }
    let hash = short_hash(&["reference", reference]);
    let readable = sanitize(reference, 244);
    if readable.is_empty() {
        format!("ref-{hash}")
    } else {
        format!("{readable}-{hash}")
    }
}

/// Labels of everything of a cluster: region, cluster, managed-by.
pub fn cluster_labels(scope: &ClusterScope<'_>) -> BTreeMap<String, String> {
    BTreeMap::from([
        (REGION_LABEL.to_owned(), label_value(scope.region)),
        (CLUSTER_LABEL.to_owned(), label_value(scope.cluster)),
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
    ])
}

/// The selector of an ECS service's pods: service and managed-by. It never changes for a
/// service (a Deployment's selector is immutable), so it holds nothing that an update can
/// change.
pub fn selector_labels(service_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (SERVICE_LABEL.to_owned(), label_value(service_name)),
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
    ])
}

/// Labels of everything of an ECS service: the cluster's and the selector's.
pub fn service_labels(scope: &ClusterScope<'_>, service_name: &str) -> BTreeMap<String, String> {
    let mut labels = cluster_labels(scope);
    labels.extend(selector_labels(service_name));
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope<'a>(region: &'a str, cluster: &'a str) -> ClusterScope<'a> {
        ClusterScope { region, cluster }
    }

    #[test]
    fn a_namespace_name_is_readable_and_ends_in_a_hash() {
        let name = namespace_name(&scope("us-east-1", "default"));
        assert!(name.starts_with("ecs-default-"), "{name}");
        assert_eq!(name.len(), "ecs-default-".len() + 8);
        assert!(is_dns1123_label(&name));
    }

    #[test]
    fn a_namespace_name_is_stable() {
        assert_eq!(
            namespace_name(&scope("us-east-1", "prod")),
            namespace_name(&scope("us-east-1", "prod"))
        );
    }

    #[test]
    fn clusters_that_sanitize_alike_get_different_namespaces() {
        let names = [
            namespace_name(&scope("us-east-1", "My_App")),
            namespace_name(&scope("us-east-1", "my-app")),
            namespace_name(&scope("us-east-1", "MY-APP")),
            namespace_name(&scope("eu-west-1", "my-app")),
        ];
        for (i, a) in names.iter().enumerate() {
            assert!(a.starts_with("ecs-my-app-"), "{a}");
            for b in &names[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn the_same_cluster_in_two_regions_gets_two_namespaces() {
        assert_ne!(
            namespace_name(&scope("us-east-1", "prod")),
            namespace_name(&scope("us-west-2", "prod"))
        );
    }

    #[test]
    fn a_255_character_cluster_name_makes_a_valid_namespace() {
        let long = format!("A{}_", "b".repeat(253));
        let name = namespace_name(&scope("us-east-1", &long));
        assert!(name.len() <= 63, "{name}");
        assert!(is_dns1123_label(&name), "{name}");
    }

    #[test]
    fn a_cluster_name_of_only_underscores_still_makes_a_valid_namespace() {
        let name = namespace_name(&scope("us-east-1", "___"));
        assert!(is_dns1123_label(&name), "{name}");
        assert_eq!(name.len(), "ecs-".len() + 8);
    }

    #[test]
    fn the_namespace_object_carries_labels_and_the_exact_names() {
        let ns = namespace(
            &scope("us-east-1", "My_Cluster"),
            Some("arn:aws:ecs:us-east-1:000000000000:cluster/My_Cluster"),
        );
        let labels = ns.metadata.labels.unwrap();
        assert_eq!(labels[CLUSTER_LABEL], "My_Cluster");
        assert_eq!(labels[REGION_LABEL], "us-east-1");
        assert_eq!(labels[MANAGED_BY_LABEL], "kubecs");
        let annotations = ns.metadata.annotations.unwrap();
        assert_eq!(annotations[CLUSTER_NAME_ANNOTATION], "My_Cluster");
        assert_eq!(
            annotations[CLUSTER_ARN_ANNOTATION],
            "arn:aws:ecs:us-east-1:000000000000:cluster/My_Cluster"
        );
    }

    #[test]
    fn a_workload_name_is_a_dns1035_label_even_for_awkward_service_names() {
        for service in [
            "web",
            "Web_Frontend",
            "1st-service",
            "_",
            &"X".repeat(255),
            "a--b__c",
        ] {
            let name = workload_name(service);
            assert!(is_dns1035_label(&name), "{service} -> {name}");
        }
        assert!(workload_name("web").starts_with("web-"));
        assert!(workload_name("1st").starts_with("svc-1st-"));
    }

    #[test]
    fn services_that_differ_only_in_case_get_different_workload_names() {
        assert_ne!(workload_name("Web"), workload_name("web"));
        assert_ne!(workload_name("web_app"), workload_name("web-app"));
    }

    #[test]
    fn a_load_balancer_service_name_depends_on_the_entry_not_its_position() {
        let tg = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/1";
        let a = load_balancer_service_name("web", tg, "app", 80);
        assert_eq!(a, load_balancer_service_name("web", tg, "app", 80));
        assert_ne!(a, load_balancer_service_name("web", tg, "app", 8080));
        assert!(a.starts_with("web-lb-"), "{a}");
        let long = load_balancer_service_name(&"s".repeat(255), tg, "app", 80);
        assert!(is_dns1035_label(&long), "{long}");
    }

    #[test]
    fn a_valid_label_value_is_kept_verbatim() {
        assert_eq!(label_value("My_Service-1"), "My_Service-1");
        assert_eq!(label_value("us-east-1"), "us-east-1");
    }

    #[test]
    fn an_invalid_label_value_is_sanitized_and_hashed_with_a_dot() {
        for value in ["_web", "web-", &"a".repeat(64), "___"] {
            let label = label_value(value);
            assert!(is_label_value(&label), "{value} -> {label}");
            assert!(label.contains('.'), "{label}");
        }
        assert_ne!(label_value(&"a".repeat(64)), label_value(&"a".repeat(65)));
    }

    #[test]
    fn container_names_are_lowercased_with_underscores_as_hyphens() {
        assert_eq!(container_name("wordpress"), "wordpress");
        assert_eq!(container_name("Web_App"), "web-app");
        assert_eq!(container_name("___"), "");
    }

    #[test]
    fn volume_names_are_kept_when_valid_and_hashed_otherwise() {
        assert_eq!(volume_name("data"), "data");
        let hashed = volume_name("My_Data");
        assert!(hashed.starts_with("my-data-"), "{hashed}");
        assert!(is_dns1123_label(&hashed));
        assert!(is_dns1123_label(&volume_name(&"V".repeat(255))));
    }

    #[test]
    fn reference_names_are_kept_when_valid_and_hashed_otherwise() {
        assert_eq!(reference_name("db-password"), "db-password");
        assert_eq!(reference_name("db.password"), "db.password");
        let hashed = reference_name("/prod/DB_Password");
        assert!(hashed.starts_with("prod-db-password-"), "{hashed}");
        assert!(is_dns1123_subdomain(&hashed));
    }

    #[test]
    fn iana_service_names_follow_the_kubernetes_rules() {
        assert!(is_iana_svc_name("http"));
        assert!(is_iana_svc_name("web-80"));
        assert!(!is_iana_svc_name("80"));
        assert!(!is_iana_svc_name("a--b"));
        assert!(!is_iana_svc_name("sixteen-chars-xx"));
        assert!(!is_iana_svc_name("web_http"));
    }

    #[test]
    fn the_selector_holds_only_what_never_changes() {
        let selector = selector_labels("web");
        assert_eq!(selector.len(), 2);
        assert_eq!(selector[SERVICE_LABEL], "web");
        assert_eq!(selector[MANAGED_BY_LABEL], MANAGED_BY);
    }
}
