//! Tests of the service converter: Deployment, rolling update, Services, refusals, and the
//! JSON a Kubernetes 1.20 API server receives.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Service as KubeService;
use kubecs_api_models::{
    ContainerDefinition, DeploymentController, ErrorCode, HealthCheck, LoadBalancer,
    PlacementConstraint, PortMapping, ServiceConnectClientAlias, ServiceConnectConfiguration,
    ServiceConnectService, TransportProtocol,
};
use serde_json::Value;

use super::super::names::{load_balancer_service_name, MANAGED_BY_LABEL, SERVICE_LABEL};
use super::super::validate::check_service;
use super::*;

const SCOPE: ClusterScope<'static> = ClusterScope {
    region: "us-east-1",
    cluster: "default",
};

fn port(port: i32, name: Option<&str>) -> PortMapping {
    PortMapping {
        container_port: Some(port),
        name: name.map(str::to_owned),
        ..PortMapping::default()
    }
}

fn task() -> TaskDefinition {
    TaskDefinition {
        family: Some("web".into()),
        revision: Some(7),
        task_definition_arn: Some(
            "arn:aws:ecs:us-east-1:000000000000:task-definition/web:7".into(),
        ),
        container_definitions: Some(vec![
            ContainerDefinition {
                name: Some("app".into()),
                image: Some("nginx".into()),
                port_mappings: Some(vec![
                    port(80, Some("http")),
                    PortMapping {
                        container_port: Some(53),
                        protocol: Some(TransportProtocol::Udp),
                        ..PortMapping::default()
                    },
                ]),
                health_check: Some(HealthCheck {
                    command: Some(vec!["CMD-SHELL".into(), "curl -f localhost".into()]),
                    ..HealthCheck::default()
                }),
                memory: Some(256),
                cpu: Some(128),
                ..ContainerDefinition::default()
            },
            ContainerDefinition {
                name: Some("metrics".into()),
                image: Some("exporter".into()),
                essential: Some(false),
                port_mappings: Some(vec![port(9100, None)]),
                ..ContainerDefinition::default()
            },
        ]),
        ..TaskDefinition::default()
    }
}

fn service() -> Service {
    Service {
        service_name: Some("Web_Frontend".into()),
        service_arn: Some("arn:aws:ecs:us-east-1:000000000000:service/default/Web_Frontend".into()),
        cluster_arn: Some("arn:aws:ecs:us-east-1:000000000000:cluster/default".into()),
        desired_count: Some(3),
        deployments: Some(vec![
            EcsDeployment {
                id: Some("ecs-svc/1111111111111111111".into()),
                status: Some("ACTIVE".into()),
                ..EcsDeployment::default()
            },
            EcsDeployment {
                id: Some("ecs-svc/2222222222222222222".into()),
                status: Some("PRIMARY".into()),
                ..EcsDeployment::default()
            },
        ]),
        ..Service::default()
    }
}

fn convert(service: &Service) -> Workload {
    workload(&SCOPE, service, &task()).unwrap()
}

fn spec(w: &Workload) -> DeploymentSpec {
    w.deployment.spec.clone().unwrap()
}

fn named<'a>(w: &'a Workload, name: &str) -> &'a KubeService {
    w.services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Service {name}"))
}

#[test]
fn the_deployment_is_named_for_the_service_in_the_clusters_namespace() {
    let w = convert(&service());
    assert_eq!(w.namespace, namespace_name(&SCOPE));
    assert_eq!(
        w.deployment.metadata.namespace.as_deref(),
        Some(w.namespace.as_str())
    );
    assert_eq!(
        w.deployment.metadata.name,
        Some(workload_name("Web_Frontend"))
    );
}

#[test]
fn replicas_are_the_desired_count() {
    assert_eq!(spec(&convert(&service())).replicas, Some(3));
    let none = Service {
        desired_count: None,
        ..service()
    };
    assert_eq!(spec(&convert(&none)).replicas, Some(0));
}

#[test]
fn the_selector_matches_the_template_labels() {
    let spec = spec(&convert(&service()));
    let selector = spec.selector.match_labels.unwrap();
    assert_eq!(selector[SERVICE_LABEL], "Web_Frontend");
    assert_eq!(selector[MANAGED_BY_LABEL], "kubecs");
    let labels = spec.template.metadata.unwrap().labels.unwrap();
    for (k, v) in &selector {
        assert_eq!(&labels[k], v);
    }
    assert_eq!(labels[FAMILY_LABEL], "web");
    assert_eq!(labels[REVISION_LABEL], "7");
    assert_eq!(labels["ecs.kubecs.io/cluster"], "default");
    assert_eq!(labels["ecs.kubecs.io/region"], "us-east-1");
}

#[test]
fn the_deployment_is_annotated_with_the_arns_and_exact_name() {
    let annotations = convert(&service()).deployment.metadata.annotations.unwrap();
    assert_eq!(
        annotations[SERVICE_ARN_ANNOTATION],
        "arn:aws:ecs:us-east-1:000000000000:service/default/Web_Frontend"
    );
    assert_eq!(
        annotations[CLUSTER_ARN_ANNOTATION],
        "arn:aws:ecs:us-east-1:000000000000:cluster/default"
    );
    assert_eq!(
        annotations[TASK_DEFINITION_ARN_ANNOTATION],
        "arn:aws:ecs:us-east-1:000000000000:task-definition/web:7"
    );
    assert_eq!(annotations[SERVICE_NAME_ANNOTATION], "Web_Frontend");
}

#[test]
fn the_template_names_the_primary_ecs_deployment() {
    let template = spec(&convert(&service())).template;
    let annotations = template.metadata.unwrap().annotations.unwrap();
    assert_eq!(
        annotations[DEPLOYMENT_ID_ANNOTATION],
        "ecs-svc/2222222222222222222"
    );
}

#[test]
fn history_and_progress_deadline_are_written_out() {
    let spec = spec(&convert(&service()));
    assert_eq!(spec.revision_history_limit, Some(3));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    assert_eq!(spec.min_ready_seconds, None);
}

#[test]
fn ecs_defaults_allow_doubling_and_no_task_down() {
    let strategy = spec(&convert(&service())).strategy.unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let rolling = strategy.rolling_update.unwrap();
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(3)));
    assert_eq!(
        rolling.max_unavailable,
        Some(IntOrString::String("0%".into()))
    );
}

#[test]
fn a_surge_percentage_rounds_down_as_ecs_does() {
    let config = DeploymentConfiguration {
        maximum_percent: Some(150),
        minimum_healthy_percent: Some(50),
        ..DeploymentConfiguration::default()
    };
    let rolling = rolling_update(Some(&config), 3);
    // ECS: at most floor(4.5) = 4 tasks, at least ceil(1.5) = 2 running.
    assert_eq!(rolling.max_surge, Some(IntOrString::Int(1)));
    assert_eq!(
        rolling.max_unavailable,
        Some(IntOrString::String("50%".into()))
    );
}

/// What a Kubernetes Deployment controller makes of the strategy (its
/// `ResolveFenceposts`): percentages of surge round up, of unavailability down; if both
/// come to 0, one pod may be unavailable.
fn kubernetes_resolves(rolling: &RollingUpdateDeployment, desired: i64) -> (i64, i64) {
    let resolve = |v: &IntOrString, up: bool| match v {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(p) => {
            let pct: i64 = p.trim_end_matches('%').parse().unwrap();
            if up {
                (desired * pct + 99) / 100
            } else {
                desired * pct / 100
            }
        }
    };
    let surge = resolve(rolling.max_surge.as_ref().unwrap(), true);
    let mut unavailable = resolve(rolling.max_unavailable.as_ref().unwrap(), false);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

#[test]
fn kubernetes_keeps_ecs_minimum_and_maximum_at_every_count_and_percentage() {
    for desired in 0..=25i64 {
        for min in (0..=100).step_by(5) {
            for max in (min.max(5)..=200).step_by(5) {
                let config = DeploymentConfiguration {
                    maximum_percent: Some(max),
                    minimum_healthy_percent: Some(min),
                    ..DeploymentConfiguration::default()
                };
                let rolling = rolling_update(Some(&config), desired as i32);
                let zero = |v: &Option<IntOrString>| {
                    matches!(v, Some(IntOrString::Int(0)))
                        || v == &Some(IntOrString::String("0%".into()))
                };
                assert!(
                    !(zero(&rolling.max_surge) && zero(&rolling.max_unavailable)),
                    "Kubernetes refuses a strategy with both at 0 ({desired}, {min}, {max})"
                );
                let (surge, unavailable) = kubernetes_resolves(&rolling, desired);
                let ecs_min_running = (desired * i64::from(min) + 99) / 100;
                let ecs_max_total = desired * i64::from(max) / 100;
                assert_eq!(
                    desired - unavailable,
                    ecs_min_running,
                    "minimum at {desired}, {min}, {max}"
                );
                let stuck = ecs_max_total <= desired && ecs_min_running == desired;
                if stuck {
                    assert_eq!(
                        surge, 1,
                        "one extra task when ECS could not move ({desired}, {min}, {max})"
                    );
                } else {
                    assert_eq!(
                        desired + surge,
                        ecs_max_total.max(desired),
                        "maximum at {desired}, {min}, {max}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_cluster_ip_service_exposes_every_port_with_its_protocol() {
    let w = convert(&service());
    let svc = named(&w, &workload_name("Web_Frontend"));
    let spec = svc.spec.clone().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(spec.selector, Some(selector_labels("Web_Frontend")));
    let ports = spec.ports.unwrap();
    let summary: Vec<(Option<&str>, i32, Option<&str>)> = ports
        .iter()
        .map(|p| (p.name.as_deref(), p.port, p.protocol.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (Some("http"), 80, Some("TCP")),
            (Some("udp-53"), 53, Some("UDP")),
            (Some("tcp-9100"), 9100, Some("TCP")),
        ]
    );
    assert_eq!(ports[0].target_port, Some(IntOrString::Int(80)));
}

#[test]
fn a_task_without_ports_gets_no_cluster_ip_service() {
    let td = TaskDefinition {
        container_definitions: Some(vec![ContainerDefinition {
            name: Some("worker".into()),
            image: Some("busybox".into()),
            ..ContainerDefinition::default()
        }]),
        ..task()
    };
    let w = workload(&SCOPE, &service(), &td).unwrap();
    assert!(w.services.is_empty());
}

#[test]
fn each_load_balancer_gets_a_load_balancer_service_on_its_container_port() {
    let tg = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/abc";
    let svc = Service {
        load_balancers: Some(vec![LoadBalancer {
            target_group_arn: Some(tg.into()),
            container_name: Some("app".into()),
            container_port: Some(80),
            ..LoadBalancer::default()
        }]),
        ..service()
    };
    let w = convert(&svc);
    let lb = named(
        &w,
        &load_balancer_service_name("Web_Frontend", tg, "app", 80),
    );
    let spec = lb.spec.clone().unwrap();
    assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
    let ports = spec.ports.unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0].port, 80);
    assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
    assert_eq!(
        lb.metadata.annotations.as_ref().unwrap()["ecs.kubecs.io/target-group-arn"],
        tg
    );
}

#[test]
fn a_load_balancer_on_a_port_the_container_lacks_is_refused() {
    let svc = Service {
        load_balancers: Some(vec![LoadBalancer {
            load_balancer_name: Some("classic".into()),
            container_name: Some("app".into()),
            container_port: Some(8080),
            ..LoadBalancer::default()
        }]),
        ..service()
    };
    let err = check_service(&svc, &task()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Invalid parameter for service. loadBalancers: The container app does not have a container port 8080 defined in the task definition."
    );
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterException);
}

fn with_connect(config: ServiceConnectConfiguration) -> Service {
    let mut svc = service();
    for d in svc.deployments.iter_mut().flatten() {
        if d.status.as_deref() == Some("PRIMARY") {
            d.service_connect_configuration = Some(config.clone());
        }
    }
    svc
}

fn connect(discovery: Option<&str>, alias: Option<(&str, i32)>) -> ServiceConnectConfiguration {
    ServiceConnectConfiguration {
        enabled: Some(true),
        namespace: Some("internal".into()),
        services: Some(vec![ServiceConnectService {
            port_name: Some("http".into()),
            discovery_name: discovery.map(str::to_owned),
            client_aliases: alias.map(|(dns, port)| {
                vec![ServiceConnectClientAlias {
                    dns_name: Some(dns.into()),
                    port: Some(port),
                    ..ServiceConnectClientAlias::default()
                }]
            }),
            ..ServiceConnectService::default()
        }]),
        ..ServiceConnectConfiguration::default()
    }
}

#[test]
fn service_connect_names_become_services_that_clients_resolve() {
    let w = convert(&with_connect(connect(
        Some("frontend"),
        Some(("web.internal", 8080)),
    )));
    let discovery = named(&w, "frontend").spec.clone().unwrap();
    assert_eq!(discovery.ports.unwrap()[0].port, 80);
    let alias = named(&w, "web");
    let spec = alias.spec.clone().unwrap();
    let ports = spec.ports.unwrap();
    assert_eq!(ports[0].port, 8080);
    assert_eq!(ports[0].target_port, Some(IntOrString::Int(80)));
    assert_eq!(ports[0].protocol.as_deref(), Some("TCP"));
    assert_eq!(
        alias.metadata.annotations.as_ref().unwrap()["ecs.kubecs.io/service-connect-name"],
        "web.internal"
    );
}

#[test]
fn the_discovery_name_defaults_to_the_port_name() {
    let w = convert(&with_connect(connect(None, None)));
    assert!(w
        .services
        .iter()
        .any(|s| s.metadata.name.as_deref() == Some("http")));
}

#[test]
fn a_service_connect_name_kubernetes_cannot_use_is_refused() {
    let err = check_service(&with_connect(connect(Some("web_api"), None)), &task()).unwrap_err();
    assert!(
        err.to_string()
            .contains("'web_api' cannot be a Kubernetes Service name"),
        "{err}"
    );
}

#[test]
fn a_service_connect_port_name_missing_from_the_task_is_refused() {
    let mut config = connect(None, None);
    config.services.as_mut().unwrap()[0].port_name = Some("grpc".into());
    assert!(check_service(&with_connect(config), &task()).is_err());
}

#[test]
fn disabled_service_connect_adds_no_services() {
    let mut config = connect(Some("frontend"), None);
    config.enabled = Some(false);
    assert_eq!(convert(&with_connect(config)).services.len(), 1);
}

#[test]
fn daemon_services_and_other_deployment_controllers_are_refused() {
    let daemon = Service {
        scheduling_strategy: Some(SchedulingStrategy::Daemon),
        ..service()
    };
    assert!(check_service(&daemon, &task())
        .unwrap_err()
        .to_string()
        .contains("DAEMON"));
    let code_deploy = Service {
        deployment_controller: Some(DeploymentController {
            r#type: Some(DeploymentControllerType::CodeDeploy),
        }),
        ..service()
    };
    assert!(check_service(&code_deploy, &task())
        .unwrap_err()
        .to_string()
        .contains("CODE_DEPLOY"));
    let blue_green = Service {
        deployment_configuration: Some(DeploymentConfiguration {
            strategy: Some(DeploymentStrategy::BlueGreen),
            ..DeploymentConfiguration::default()
        }),
        ..service()
    };
    let err = check_service(&blue_green, &task()).unwrap_err();
    assert!(err.to_string().contains("BLUE_GREEN"), "{err}");
    assert_eq!(err.error_code(), ErrorCode::InvalidParameterException);
}

#[test]
fn a_task_definition_kubernetes_cannot_run_fails_the_service_check() {
    let td = TaskDefinition {
        network_mode: Some(kubecs_api_models::NetworkMode::None),
        ..task()
    };
    assert_eq!(
        check_service(&service(), &td).unwrap_err().error_code(),
        ErrorCode::ClientException
    );
    assert!(check_service(&service(), &task()).is_ok());
}

#[test]
fn distinct_instance_becomes_a_required_anti_affinity_on_the_hostname() {
    let svc = Service {
        placement_constraints: Some(vec![PlacementConstraint {
            r#type: Some(PlacementConstraintType::DistinctInstance),
            expression: None,
        }]),
        ..service()
    };
    let affinity = spec(&convert(&svc))
        .template
        .spec
        .unwrap()
        .affinity
        .unwrap();
    let terms = affinity
        .pod_anti_affinity
        .unwrap()
        .required_during_scheduling_ignored_during_execution
        .unwrap();
    assert_eq!(terms[0].topology_key, "kubernetes.io/hostname");
    assert_eq!(
        terms[0].label_selector.clone().unwrap().match_labels,
        Some(selector_labels("Web_Frontend"))
    );
}

#[test]
fn member_of_constraints_of_service_and_task_definition_are_required_node_affinity() {
    let svc = Service {
        capacity_provider_strategy: Some(vec![kubecs_api_models::CapacityProviderStrategyItem {
            capacity_provider: Some("web-nodes".to_owned()),
            weight: Some(1),
            base: None,
        }]),
        placement_constraints: Some(vec![
            PlacementConstraint {
                r#type: Some(PlacementConstraintType::MemberOf),
                expression: Some("attribute:ecs.os-type == linux".to_owned()),
            },
            // A custom attribute is kubecs's, not a node label's: kept, not applied.
            PlacementConstraint {
                r#type: Some(PlacementConstraintType::MemberOf),
                expression: Some("attribute:stack == prod".to_owned()),
            },
        ]),
        ..service()
    };
    let td = TaskDefinition {
        placement_constraints: Some(vec![kubecs_api_models::TaskDefinitionPlacementConstraint {
            r#type: Some(kubecs_api_models::TaskDefinitionPlacementConstraintType::MemberOf),
            expression: Some("attribute:ecs.cpu-architecture in [x86_64, arm64]".to_owned()),
        }]),
        ..task()
    };
    let workload = workload(&SCOPE, &svc, &td).unwrap();
    let terms = spec(&workload)
        .template
        .spec
        .unwrap()
        .affinity
        .unwrap()
        .node_affinity
        .unwrap()
        .required_during_scheduling_ignored_during_execution
        .unwrap()
        .node_selector_terms;
    assert_eq!(terms.len(), 1, "{terms:?}");
    let requirements: Vec<(String, String, Vec<String>)> = terms[0]
        .match_expressions
        .clone()
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.operator, r.values.unwrap_or_default()))
        .collect();
    let owned = |k: &str, o: &str, v: &[&str]| {
        (
            k.to_owned(),
            o.to_owned(),
            v.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        requirements,
        vec![
            owned("ecs.kubecs.io/capacity-provider", "In", &["web-nodes"]),
            owned("kubernetes.io/os", "In", &["linux"]),
            owned("kubernetes.io/arch", "In", &["amd64", "arm64"]),
        ]
    );
    // Without constraints or providers, no node affinity at all.
    assert!(spec(&convert(&service()))
        .template
        .spec
        .unwrap()
        .affinity
        .is_none_or(|a| a.node_affinity.is_none()));
}

#[test]
fn a_strategy_of_auto_scaling_group_providers_keeps_the_pods_on_their_nodes() {
    let item = |name: &str| kubecs_api_models::CapacityProviderStrategyItem {
        capacity_provider: Some(name.to_owned()),
        weight: Some(1),
        base: None,
    };
    let svc = Service {
        capacity_provider_strategy: Some(vec![item("web-nodes"), item("batch-nodes")]),
        placement_constraints: Some(vec![PlacementConstraint {
            r#type: Some(PlacementConstraintType::DistinctInstance),
            expression: None,
        }]),
        ..service()
    };
    let affinity = spec(&convert(&svc))
        .template
        .spec
        .unwrap()
        .affinity
        .unwrap();
    let term = &affinity
        .node_affinity
        .unwrap()
        .required_during_scheduling_ignored_during_execution
        .unwrap()
        .node_selector_terms[0];
    let requirement = &term.match_expressions.as_ref().unwrap()[0];
    assert_eq!(requirement.key, "ecs.kubecs.io/capacity-provider");
    assert_eq!(requirement.operator, "In");
    assert_eq!(
        requirement.values,
        Some(vec!["web-nodes".to_owned(), "batch-nodes".to_owned()])
    );
    assert!(
        affinity.pod_anti_affinity.is_some(),
        "both constraints apply"
    );

    // Fargate providers run anywhere.
    let fargate = Service {
        capacity_provider_strategy: Some(vec![item("FARGATE"), item("FARGATE_SPOT")]),
        ..service()
    };
    assert!(spec(&convert(&fargate))
        .template
        .spec
        .unwrap()
        .affinity
        .is_none());
}

#[test]
fn set_owner_makes_the_deployment_own_every_service() {
    let mut w = convert(&with_connect(connect(Some("frontend"), None)));
    w.set_owner("0d3c1e4a-uid");
    assert_eq!(w.services.len(), 2);
    for s in &w.services {
        let owner = &s.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.kind, "Deployment");
        assert_eq!(owner.api_version, "apps/v1");
        assert_eq!(owner.uid, "0d3c1e4a-uid");
        assert_eq!(Some(&owner.name), w.deployment.metadata.name.as_ref());
    }
}

/// Every path of object keys in a JSON value, array indices as `[]`.
/// Asserts that `object` sets no field outside `vetted` (the fields Kubernetes 1.20 has).
fn assert_only_vetted_fields(object: &Value, vetted: &[&str], kind: &str) {
    let mut found = BTreeSet::new();
    paths(object, "", &mut found);
    let allowed: BTreeSet<String> = vetted.iter().map(|s| (*s).to_owned()).collect();
    let unexpected: Vec<&String> = found.difference(&allowed).collect();
    assert!(
        unexpected.is_empty(),
        "{kind} fields not vetted for Kubernetes 1.20: {unexpected:#?}"
    );
}

fn paths(value: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                // Label, annotation, selector and resource maps have free-form keys.
                let free = [
                    "labels",
                    "annotations",
                    "matchLabels",
                    "selector",
                    "nodeSelector",
                    "requests",
                    "limits",
                ];
                if !free.contains(&k.as_str()) {
                    paths(v, &path, out);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// Every object in arrays named `ports`.
fn port_entries<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "ports" {
                    out.extend(v.as_array().into_iter().flatten());
                }
                port_entries(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| port_entries(i, out)),
        _ => {}
    }
}

/// The fields the converter may write, all present in Kubernetes 1.20's API.
const DEPLOYMENT_FIELDS_IN_1_20: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "spec",
    "spec.progressDeadlineSeconds",
    "spec.replicas",
    "spec.revisionHistoryLimit",
    "spec.selector",
    "spec.selector.matchLabels",
    "spec.strategy",
    "spec.strategy.rollingUpdate",
    "spec.strategy.rollingUpdate.maxSurge",
    "spec.strategy.rollingUpdate.maxUnavailable",
    "spec.strategy.type",
    "spec.template",
    "spec.template.metadata",
    "spec.template.metadata.annotations",
    "spec.template.metadata.labels",
    "spec.template.spec",
    "spec.template.spec.affinity",
    "spec.template.spec.affinity.podAntiAffinity",
    "spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution",
    "spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[].labelSelector",
    "spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[].labelSelector.matchLabels",
    "spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[].topologyKey",
    "spec.template.spec.automountServiceAccountToken",
    "spec.template.spec.containers",
    "spec.template.spec.containers[].args",
    "spec.template.spec.containers[].command",
    "spec.template.spec.containers[].env",
    "spec.template.spec.containers[].env[].name",
    "spec.template.spec.containers[].env[].value",
    "spec.template.spec.containers[].env[].valueFrom",
    "spec.template.spec.containers[].env[].valueFrom.secretKeyRef",
    "spec.template.spec.containers[].env[].valueFrom.secretKeyRef.key",
    "spec.template.spec.containers[].env[].valueFrom.secretKeyRef.name",
    "spec.template.spec.containers[].envFrom",
    "spec.template.spec.containers[].envFrom[].configMapRef",
    "spec.template.spec.containers[].envFrom[].configMapRef.name",
    "spec.template.spec.containers[].image",
    "spec.template.spec.containers[].imagePullPolicy",
    "spec.template.spec.containers[].name",
    "spec.template.spec.containers[].ports",
    "spec.template.spec.containers[].ports[].containerPort",
    "spec.template.spec.containers[].ports[].hostPort",
    "spec.template.spec.containers[].ports[].name",
    "spec.template.spec.containers[].ports[].protocol",
    "spec.template.spec.containers[].readinessProbe",
    "spec.template.spec.containers[].readinessProbe.exec",
    "spec.template.spec.containers[].readinessProbe.exec.command",
    "spec.template.spec.containers[].readinessProbe.failureThreshold",
    "spec.template.spec.containers[].readinessProbe.initialDelaySeconds",
    "spec.template.spec.containers[].readinessProbe.periodSeconds",
    "spec.template.spec.containers[].readinessProbe.timeoutSeconds",
    "spec.template.spec.containers[].resources",
    "spec.template.spec.containers[].resources.limits",
    "spec.template.spec.containers[].resources.requests",
    "spec.template.spec.containers[].securityContext",
    "spec.template.spec.containers[].securityContext.allowPrivilegeEscalation",
    "spec.template.spec.containers[].securityContext.capabilities",
    "spec.template.spec.containers[].securityContext.capabilities.add",
    "spec.template.spec.containers[].securityContext.capabilities.drop",
    "spec.template.spec.containers[].securityContext.privileged",
    "spec.template.spec.containers[].securityContext.readOnlyRootFilesystem",
    "spec.template.spec.containers[].securityContext.runAsGroup",
    "spec.template.spec.containers[].securityContext.runAsUser",
    "spec.template.spec.containers[].securityContext.seLinuxOptions",
    "spec.template.spec.containers[].securityContext.seLinuxOptions.type",
    "spec.template.spec.containers[].stdin",
    "spec.template.spec.containers[].tty",
    "spec.template.spec.containers[].volumeMounts",
    "spec.template.spec.containers[].volumeMounts[].mountPath",
    "spec.template.spec.containers[].volumeMounts[].name",
    "spec.template.spec.containers[].volumeMounts[].readOnly",
    "spec.template.spec.containers[].workingDir",
    "spec.template.spec.dnsConfig",
    "spec.template.spec.dnsConfig.nameservers",
    "spec.template.spec.dnsConfig.searches",
    "spec.template.spec.dnsPolicy",
    "spec.template.spec.enableServiceLinks",
    "spec.template.spec.hostAliases",
    "spec.template.spec.hostAliases[].hostnames",
    "spec.template.spec.hostAliases[].ip",
    "spec.template.spec.hostname",
    "spec.template.spec.imagePullSecrets",
    "spec.template.spec.imagePullSecrets[].name",
    "spec.template.spec.initContainers",
    "spec.template.spec.initContainers[].image",
    "spec.template.spec.initContainers[].imagePullPolicy",
    "spec.template.spec.initContainers[].name",
    "spec.template.spec.initContainers[].resources",
    "spec.template.spec.initContainers[].resources.limits",
    "spec.template.spec.nodeSelector",
    "spec.template.spec.securityContext",
    "spec.template.spec.securityContext.sysctls",
    "spec.template.spec.securityContext.sysctls[].name",
    "spec.template.spec.securityContext.sysctls[].value",
    "spec.template.spec.shareProcessNamespace",
    "spec.template.spec.terminationGracePeriodSeconds",
    "spec.template.spec.volumes",
    "spec.template.spec.volumes[].emptyDir",
    "spec.template.spec.volumes[].emptyDir.medium",
    "spec.template.spec.volumes[].emptyDir.sizeLimit",
    "spec.template.spec.volumes[].hostPath",
    "spec.template.spec.volumes[].hostPath.path",
    "spec.template.spec.volumes[].name",
];

/// The Service fields the converter may write, all present in Kubernetes 1.20's API.
const SERVICE_FIELDS_IN_1_20: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.ownerReferences",
    "metadata.ownerReferences[].apiVersion",
    "metadata.ownerReferences[].kind",
    "metadata.ownerReferences[].name",
    "metadata.ownerReferences[].uid",
    "spec",
    "spec.ports",
    "spec.ports[].appProtocol",
    "spec.ports[].name",
    "spec.ports[].port",
    "spec.ports[].protocol",
    "spec.ports[].targetPort",
    "spec.selector",
    "spec.type",
];

/// A task definition and service that use nearly every member kubecs maps.
fn everything() -> (Service, TaskDefinition) {
    let td: TaskDefinition = serde_json::from_str(
        r#"{
        "family": "everything",
        "revision": 1,
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/everything:1",
        "cpu": "1 vCPU",
        "memory": "2 GB",
        "pidMode": "task",
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "volumes": [
            {"name": "logs", "host": {"sourcePath": "/var/log/app"}},
            {"name": "scratch"}
        ],
        "containerDefinitions": [
            {
                "name": "app",
                "image": "nginx",
                "entryPoint": ["/docker-entrypoint.sh"],
                "command": ["nginx", "-g", "daemon off;"],
                "cpu": 512,
                "memory": 1024,
                "memoryReservation": 512,
                "environment": [{"name": "MODE", "value": "prod"}],
                "secrets": [{"name": "TOKEN", "valueFrom": "/prod/token"}],
                "environmentFiles": [{"type": "s3", "value": "arn:aws:s3:::bucket/app.env"}],
                "portMappings": [
                    {"containerPort": 80, "hostPort": 8080, "name": "http", "appProtocol": "http"},
                    {"containerPort": 53, "protocol": "udp"}
                ],
                "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost"], "startPeriod": 10},
                "links": ["db:database"],
                "extraHosts": [{"hostname": "api.example", "ipAddress": "10.1.2.3"}],
                "dnsServers": ["10.0.0.2"],
                "dnsSearchDomains": ["corp.example"],
                "hostname": "app",
                "user": "1000:1000",
                "workingDirectory": "/srv",
                "privileged": false,
                "readonlyRootFilesystem": true,
                "interactive": true,
                "pseudoTerminal": true,
                "dockerSecurityOptions": ["no-new-privileges", "label:type:container_t"],
                "linuxParameters": {
                    "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
                    "tmpfs": [{"containerPath": "/run", "size": 64}],
                    "sharedMemorySize": 128
                },
                "mountPoints": [
                    {"sourceVolume": "logs", "containerPath": "/var/log/nginx"},
                    {"sourceVolume": "scratch", "containerPath": "/tmp", "readOnly": true}
                ],
                "systemControls": [{"namespace": "net.core.somaxconn", "value": "1024"}],
                "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:000000000000:secret:registry"},
                "dockerLabels": {"com.example.team": "web"},
                "stopTimeout": 45,
                "dependsOn": [
                    {"containerName": "db", "condition": "HEALTHY"},
                    {"containerName": "migrate", "condition": "SUCCESS"}
                ]
            },
            {
                "name": "db",
                "image": "postgres",
                "healthCheck": {"command": ["CMD", "pg_isready"]},
                "volumesFrom": [{"sourceContainer": "app", "readOnly": true}]
            },
            {"name": "migrate", "image": "migrate", "essential": false}
        ]
    }"#,
    )
    .unwrap();
    let service = Service {
        load_balancers: Some(vec![LoadBalancer {
            target_group_arn: Some(
                "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/abc".into(),
            ),
            container_name: Some("app".into()),
            container_port: Some(80),
            ..LoadBalancer::default()
        }]),
        placement_constraints: Some(vec![PlacementConstraint {
            r#type: Some(PlacementConstraintType::DistinctInstance),
            expression: None,
        }]),
        ..with_connect(connect(Some("frontend"), Some(("web.internal", 8080))))
    };
    (service, td)
}

#[test]
fn the_json_sent_to_kubernetes_has_only_1_20_fields_explicit_protocols_and_exec_probes() {
    let (service, td) = everything();
    let mut w = workload(&SCOPE, &service, &td).unwrap();
    w.set_owner("uid-1");
    assert_eq!(
        w.services.len(),
        4,
        "cluster IP, load balancer, discovery name, client alias"
    );

    let deployment = serde_json::to_value(&w.deployment).unwrap();
    assert_only_vetted_fields(&deployment, DEPLOYMENT_FIELDS_IN_1_20, "Deployment");

    for service in &w.services {
        let json = serde_json::to_value(service).unwrap();
        assert_only_vetted_fields(&json, SERVICE_FIELDS_IN_1_20, "Service");
        let mut ports = Vec::new();
        port_entries(&json, &mut ports);
        assert!(!ports.is_empty());
        for p in ports {
            assert!(matches!(p["protocol"].as_str(), Some("TCP" | "UDP")), "{p}");
        }
    }

    let mut ports = Vec::new();
    port_entries(&deployment, &mut ports);
    assert_eq!(ports.len(), 2);
    for p in ports {
        assert!(matches!(p["protocol"].as_str(), Some("TCP" | "UDP")), "{p}");
    }
    let text = deployment.to_string();
    for probe_kind in [
        "httpGet",
        "tcpSocket",
        "grpc",
        "livenessProbe",
        "startupProbe",
    ] {
        assert!(!text.contains(probe_kind), "{probe_kind} in {text}");
    }
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let probes: Vec<&Value> = containers
        .iter()
        .map(|c| &c["readinessProbe"])
        .filter(|p| !p.is_null())
        .collect();
    assert_eq!(probes.len(), 2);
    for probe in probes {
        assert!(probe["exec"]["command"].is_array(), "{probe}");
    }
}

#[test]
fn the_wordpress_example_serializes_with_protocols() {
    let td: TaskDefinition = serde_json::from_value(serde_json::json!({
        "family": "hello_world",
        "containerDefinitions": [
            {"name": "wordpress", "links": ["mysql"], "image": "wordpress", "essential": true,
             "portMappings": [{"containerPort": 80, "hostPort": 80}], "memory": 500, "cpu": 10},
            {"environment": [{"name": "MYSQL_ROOT_PASSWORD", "value": "password"}],
             "name": "mysql", "image": "mysql", "cpu": 10, "memory": 500, "essential": true}
        ]
    }))
    .unwrap();
    let w = workload(&SCOPE, &service(), &td).unwrap();
    let json = serde_json::to_value(&w.deployment).unwrap();
    assert_eq!(json["kind"], "Deployment");
    assert_eq!(json["apiVersion"], "apps/v1");
    let spec = &json["spec"]["template"]["spec"];
    assert_eq!(spec["containers"].as_array().unwrap().len(), 2);
    assert_eq!(spec["hostAliases"][0]["ip"], "127.0.0.1");
    assert_eq!(spec["hostAliases"][0]["hostnames"][0], "mysql");
    assert_eq!(spec["containers"][1]["ports"][0]["protocol"], "TCP");
    let service = serde_json::to_value(&w.services[0]).unwrap();
    assert_eq!(service["spec"]["ports"][0]["protocol"], "TCP");
    assert_eq!(service["spec"]["ports"][0]["port"], 80);
}
