//! The Kubernetes Services of an ECS service: how other tasks and the outside reach it.
//!
//! - One ClusterIP Service named like the Deployment ([`workload_name`]) exposing every
//!   container port of the task (init containers aside), each port with its protocol
//!   written out, so that other services in the cluster reach it by a stable name.
//! - One Service of type LoadBalancer per `loadBalancers` entry, exposing that entry's
//!   `containerPort` of `containerName` on the same port number (the listener of an ECS
//!   load balancer is configured on the load balancer, not in ECS).
//! - For Service Connect (the PRIMARY deployment's `serviceConnectConfiguration`), one
//!   ClusterIP Service per name: the `discoveryName` (or `portName`) on the container port,
//!   and each client alias's `dnsName` on the alias's `port`. A dotted `dnsName`
//!   (`api.internal`) gives the Service its first label (`api`); these names are the ones
//!   clients use, so they are kept verbatim and must be DNS-1035 labels.
//! - `serviceRegistries` name Cloud Map services by ARN only; their tasks are reached
//!   through the ClusterIP Service (Cloud Map is not part of kubecs).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service as KubeService, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kubecs_api_models::{ServiceConnectConfiguration, TaskDefinition};

use super::container::protocol;
use super::names::{
    is_dns1035_label, is_dns1123_label, load_balancer_service_name, workload_name,
    LOAD_BALANCER_NAME_ANNOTATION, SERVICE_CONNECT_NAME_ANNOTATION, TARGET_GROUP_ARN_ANNOTATION,
};
use super::order::start_order;
use super::validate::Unsupported;

/// A port a task exposes: an app container's port mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposedPort {
    /// The ECS container name.
    pub container: String,
    /// The container port.
    pub port: i32,
    /// `TCP` or `UDP`.
    pub protocol: &'static str,
    /// The port mapping's name, if any.
    pub name: Option<String>,
    /// The port mapping's `appProtocol` (`http`, `http2`, `grpc`), if any.
    pub app_protocol: Option<String>,
}

/// The ports of the task's app containers, in container-definition order.
pub fn exposed_ports(td: &TaskDefinition) -> Result<Vec<ExposedPort>, Unsupported> {
    let containers = td.container_definitions.as_deref().unwrap_or_default();
    let order = start_order(containers)?;
    let mut out = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        if order.init.contains(&i) {
            continue;
        }
        let name = c.name.clone().unwrap_or_default();
        for pm in c.port_mappings.iter().flatten() {
            let Some(port) = pm.container_port else {
                continue;
            };
            out.push(ExposedPort {
                container: name.clone(),
                port,
                protocol: protocol(&name, pm.protocol.as_ref())?,
                name: pm.name.clone(),
                app_protocol: pm.app_protocol.as_ref().map(|p| p.as_str().to_owned()),
            });
        }
    }
    Ok(out)
}

/// What every Service of an ECS service shares.
pub struct ServiceMeta<'a> {
    /// The namespace.
    pub namespace: &'a str,
    /// The ECS service's labels.
    pub labels: &'a BTreeMap<String, String>,
    /// The ECS service's annotations (ARNs).
    pub annotations: &'a BTreeMap<String, String>,
    /// The pod selector.
    pub selector: &'a BTreeMap<String, String>,
}

impl ServiceMeta<'_> {
    fn service(
        &self,
        name: String,
        type_: &str,
        ports: Vec<ServicePort>,
        extra: BTreeMap<String, String>,
    ) -> KubeService {
        let mut annotations = self.annotations.clone();
        annotations.extend(extra);
        KubeService {
            metadata: ObjectMeta {
                name: Some(name),
                namespace: Some(self.namespace.to_owned()),
                labels: Some(self.labels.clone()),
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            spec: Some(ServiceSpec {
                type_: Some(type_.to_owned()),
                selector: Some(self.selector.clone()),
                ports: Some(ports),
                ..ServiceSpec::default()
            }),
            ..KubeService::default()
        }
    }
}

/// A Service port: `port` forwarding to `target` (a container port), protocol written out.
fn service_port(
    name: String,
    port: i32,
    target: i32,
    protocol: &str,
    app_protocol: Option<String>,
) -> ServicePort {
    ServicePort {
        name: Some(name),
        port,
        target_port: Some(IntOrString::Int(target)),
        protocol: Some(protocol.to_owned()),
        app_protocol,
        ..ServicePort::default()
    }
}

/// The fallback port name: `tcp-80`.
fn port_label(protocol: &str, port: i32) -> String {
    format!("{}-{port}", protocol.to_ascii_lowercase())
}

/// The ClusterIP Service exposing every port of the task, or none if it has no ports.
pub fn cluster_ip_service(
    meta: &ServiceMeta<'_>,
    service_name: &str,
    ports: &[ExposedPort],
) -> Option<KubeService> {
    let mut out: Vec<ServicePort> = Vec::new();
    for p in ports {
        let taken = |n: &str| out.iter().any(|s| s.name.as_deref() == Some(n));
        if out
            .iter()
            .any(|s| s.port == p.port && s.protocol.as_deref() == Some(p.protocol))
        {
            continue;
        }
        let mut name = p
            .name
            .clone()
            .filter(|n| is_dns1123_label(n) && !taken(n))
            .unwrap_or_else(|| port_label(p.protocol, p.port));
        let mut n = 2;
        while taken(&name) {
            name = format!("{}-{n}", port_label(p.protocol, p.port));
            n += 1;
        }
        out.push(service_port(
            name,
            p.port,
            p.port,
            p.protocol,
            p.app_protocol.clone(),
        ));
    }
    (!out.is_empty()).then(|| {
        meta.service(
            workload_name(service_name),
            "ClusterIP",
            out,
            BTreeMap::new(),
        )
    })
}

/// One LoadBalancer Service per `loadBalancers` entry.
pub fn load_balancer_services(
    meta: &ServiceMeta<'_>,
    service_name: &str,
    load_balancers: &[kubecs_api_models::LoadBalancer],
    ports: &[ExposedPort],
) -> Result<Vec<KubeService>, Unsupported> {
    load_balancers
        .iter()
        .map(|lb| {
            let container = lb.container_name.as_deref().unwrap_or_default();
            let port = lb.container_port.unwrap_or(0);
            let Some(exposed) = ports.iter().find(|p| p.container == container && p.port == port) else {
                return Err(Unsupported::service(
                    "loadBalancers",
                    format!(
                        "The container {container} does not have a container port {port} defined in the task definition."
                    ),
                ));
            };
            let (target, annotation) = match (&lb.target_group_arn, &lb.load_balancer_name) {
                (Some(arn), _) => (arn.as_str(), TARGET_GROUP_ARN_ANNOTATION),
                (None, Some(name)) => (name.as_str(), LOAD_BALANCER_NAME_ANNOTATION),
                (None, None) => {
                    return Err(Unsupported::service(
                        "loadBalancers",
                        "a load balancer needs a targetGroupArn or a loadBalancerName.",
                    ))
                }
            };
            let name = load_balancer_service_name(service_name, target, container, port);
            let ports = vec![service_port(
                port_label(exposed.protocol, port),
                port,
                port,
                exposed.protocol,
                None,
            )];
            let extra = BTreeMap::from([(annotation.to_owned(), target.to_owned())]);
            Ok(meta.service(name, "LoadBalancer", ports, extra))
        })
        .collect()
}

/// The Service name for a Service Connect name: its first DNS label, which must be a
/// DNS-1035 label.
fn connect_name(setting: &'static str, name: &str) -> Result<String, Unsupported> {
    let first = name.split('.').next().unwrap_or_default();
    if is_dns1035_label(first) {
        Ok(first.to_owned())
    } else {
        Err(Unsupported::service(
            setting,
            format!(
                "'{name}' cannot be a Kubernetes Service name: kubecs needs its first label to be lowercase letters, digits and '-', starting with a letter, at most 63 characters."
            ),
        ))
    }
}

/// The Service Connect Services: one per discovery name and client alias name, ports of
/// the same name merged.
pub fn service_connect_services(
    meta: &ServiceMeta<'_>,
    config: &ServiceConnectConfiguration,
    ports: &[ExposedPort],
) -> Result<Vec<KubeService>, Unsupported> {
    if config.enabled != Some(true) {
        return Ok(Vec::new());
    }
    // Service name -> (exact names, ports).
    let mut wanted: BTreeMap<String, (Vec<String>, Vec<ServicePort>)> = BTreeMap::new();
    let mut add = |name: String, exact: &str, port: ServicePort| {
        let (names, ports) = wanted.entry(name).or_default();
        if !names.iter().any(|n| n == exact) {
            names.push(exact.to_owned());
        }
        if !ports
            .iter()
            .any(|p| p.port == port.port && p.protocol == port.protocol)
        {
            ports.push(port);
        }
    };
    for s in config.services.iter().flatten() {
        let port_name = s.port_name.as_deref().unwrap_or_default();
        let Some(exposed) = ports.iter().find(|p| p.name.as_deref() == Some(port_name)) else {
            return Err(Unsupported::service(
                "serviceConnectConfiguration.services.portName",
                format!("The port name {port_name} does not match any port mapping name in the task definition."),
            ));
        };
        let discovery = s.discovery_name.as_deref().unwrap_or(port_name);
        let target = exposed.port;
        add(
            connect_name(
                "serviceConnectConfiguration.services.discoveryName",
                discovery,
            )?,
            discovery,
            service_port(
                port_label(exposed.protocol, target),
                target,
                target,
                exposed.protocol,
                exposed.app_protocol.clone(),
            ),
        );
        for alias in s.client_aliases.iter().flatten() {
            let dns = alias.dns_name.as_deref().unwrap_or(discovery);
            let port = alias.port.unwrap_or(target);
            add(
                connect_name(
                    "serviceConnectConfiguration.services.clientAliases.dnsName",
                    dns,
                )?,
                dns,
                service_port(
                    port_label(exposed.protocol, port),
                    port,
                    target,
                    exposed.protocol,
                    exposed.app_protocol.clone(),
                ),
            );
        }
    }
    Ok(wanted
        .into_iter()
        .map(|(name, (exact, ports))| {
            let extra =
                BTreeMap::from([(SERVICE_CONNECT_NAME_ANNOTATION.to_owned(), exact.join(","))]);
            meta.service(name, "ClusterIP", ports, extra)
        })
        .collect())
}
