//! A task definition as a pod template: one pod per ECS task, every container in it.
//!
//! The pod-wide members of ECS container definitions are merged here:
//! - `links` make the linked name (and its alias) resolve to 127.0.0.1 through
//!   `hostAliases`: the containers of a pod share one network namespace, so what Docker's
//!   bridge links reached on another container's IP is on localhost.
//! - `extraHosts` are `hostAliases` too; `dnsServers` and `dnsSearchDomains` are the pod's
//!   `dnsConfig` (dnsPolicy `None` only when servers are given, so that the search domains
//!   alone keep cluster DNS).
//! - a container `hostname` is the pod's hostname (containers that disagree are refused);
//!   `systemControls` are the pod's sysctls; `stopTimeout` is the pod's grace period (the
//!   longest, ECS's 30 s by default); `dockerLabels` are pod annotations named
//!   `<container>.docker-label.ecs.kubecs.io/<key>`, the key sanitized and hashed when it is
//!   not a valid annotation name; `repositoryCredentials` are image pull Secrets.
//!
//! The pod never gets Kubernetes's service environment variables nor a service account
//! token: ECS tasks have neither.

use std::collections::BTreeMap;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    HostAlias, LocalObjectReference, PodDNSConfig, PodSecurityContext, PodSpec, PodTemplateSpec,
    Sysctl,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kubecs_api_models::{
    CPUArchitecture, ContainerDefinition, IpcMode, NetworkMode, PidMode, TaskDefinition,
};

use super::container::{convert_container, Network};
use super::names::{
    container_name, is_dns1123_label, is_dns1123_subdomain, is_qualified_name_part, label_value,
    sanitize, short_hash, DOCKER_LABEL_DOMAIN, FAMILY_ANNOTATION, FAMILY_LABEL, MANAGED_BY,
    MANAGED_BY_LABEL, REVISION_LABEL, TASK_DEFINITION_ARN_ANNOTATION,
};
use super::order::{link_target, start_order};
use super::references::pull_secret;
use super::resources::container_resources;
use super::validate::{check_structure, Unsupported};
use super::volumes::task_volumes;

/// ECS's default time between SIGTERM and SIGKILL, seconds.
pub const DEFAULT_STOP_TIMEOUT: i64 = 30;
/// Kubernetes 1.20 allows at most this many DNS servers.
const MAX_DNS_SERVERS: usize = 3;
/// Kubernetes 1.20 allows at most this many search domains.
const MAX_SEARCH_DOMAINS: usize = 6;

/// The pod template of a task definition: labels family, revision and managed-by;
/// annotations with the task definition's ARN and exact family.
pub fn pod_template(td: &TaskDefinition) -> Result<PodTemplateSpec, Unsupported> {
    check_structure(td)?;
    let containers = td.container_definitions.as_deref().unwrap_or_default();
    let network = match td.network_mode {
        Some(NetworkMode::Host) => Network::Host,
        Some(NetworkMode::Awsvpc) => Network::Awsvpc,
        _ => Network::Bridge,
    };
    let order = start_order(containers)?;
    let mut resources = container_resources(td)?;
    let mut annotations = BTreeMap::new();
    let mut volumes = task_volumes(td);
    let mut convert = |i: usize, init: bool| {
        let c = &containers[i];
        let k8s_name = container_name(c.name.as_deref().unwrap_or_default());
        let converted = convert_container(td, c, &k8s_name, network, resources[i].take(), init)?;
        volumes.extend(converted.volumes);
        annotations.extend(converted.annotations);
        annotations.extend(docker_label_annotations(c, &k8s_name));
        Ok::<_, Unsupported>(converted.container)
    };
    let init_containers = order
        .init
        .iter()
        .map(|&i| convert(i, true))
        .collect::<Result<Vec<_>, _>>()?;
    let app_containers = order
        .app
        .iter()
        .map(|&i| convert(i, false))
        .collect::<Result<Vec<_>, _>>()?;

    let (dns_policy, dns_config) = dns(containers, network)?;
    let spec = PodSpec {
        containers: app_containers,
        init_containers: (!init_containers.is_empty()).then_some(init_containers),
        volumes: (!volumes.is_empty()).then_some(volumes),
        host_aliases: host_aliases(containers, network)?,
        dns_policy: Some(dns_policy.to_owned()),
        dns_config,
        hostname: hostname(containers)?,
        host_network: (network == Network::Host).then_some(true),
        host_pid: (td.pid_mode == Some(PidMode::Host)).then_some(true),
        host_ipc: (td.ipc_mode == Some(IpcMode::Host)).then_some(true),
        share_process_namespace: (td.pid_mode == Some(PidMode::Task)).then_some(true),
        security_context: sysctls(containers)?.map(|sysctls| PodSecurityContext {
            sysctls: Some(sysctls),
            ..PodSecurityContext::default()
        }),
        image_pull_secrets: pull_secrets(containers)?,
        termination_grace_period_seconds: Some(grace_period(containers)),
        node_selector: architecture(td),
        enable_service_links: Some(false),
        automount_service_account_token: Some(false),
        ..PodSpec::default()
    };

    let family = td.family.as_deref().unwrap_or_default();
    let mut labels = BTreeMap::from([
        (FAMILY_LABEL.to_owned(), label_value(family)),
        (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
    ]);
    if let Some(revision) = td.revision {
        labels.insert(REVISION_LABEL.to_owned(), revision.to_string());
    }
    annotations.insert(FAMILY_ANNOTATION.to_owned(), family.to_owned());
    if let Some(arn) = &td.task_definition_arn {
        annotations.insert(TASK_DEFINITION_ARN_ANNOTATION.to_owned(), arn.clone());
    }
    Ok(PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        }),
        spec: Some(spec),
    })
}

/// A container's docker labels as pod annotations.
fn docker_label_annotations(c: &ContainerDefinition, k8s_name: &str) -> BTreeMap<String, String> {
    c.docker_labels
        .iter()
        .flatten()
        .map(|(key, value)| {
            let name = if is_qualified_name_part(key) {
                key.clone()
            } else {
                let hash = short_hash(&["docker-label", key]);
                match sanitize(key, 54) {
                    readable if readable.is_empty() => format!("label-{hash}"),
                    readable => format!("{readable}-{hash}"),
                }
            };
            (
                format!("{k8s_name}.{DOCKER_LABEL_DOMAIN}/{name}"),
                value.clone(),
            )
        })
        .collect()
}

/// A hostname as Kubernetes accepts it in `hostAliases` (lowercase; /etc/hosts lookups
/// ignore case).
fn alias_hostname(
    container: &str,
    setting: &'static str,
    hostname: &str,
) -> Result<String, Unsupported> {
    let lower = hostname.to_ascii_lowercase();
    if is_dns1123_subdomain(&lower) {
        Ok(lower)
    } else {
        Err(Unsupported::container(
            container,
            setting,
            format!("'{hostname}' is not a host name Kubernetes accepts (letters, digits, '-' and '.')."),
        ))
    }
}

/// `links` (to 127.0.0.1) and `extraHosts`, grouped by IP in order of appearance.
fn host_aliases(
    containers: &[ContainerDefinition],
    network: Network,
) -> Result<Option<Vec<HostAlias>>, Unsupported> {
    let mut aliases: Vec<HostAlias> = Vec::new();
    let mut add = |ip: &str, hostname: String| {
        let index = match aliases.iter().position(|a| a.ip == ip) {
            Some(i) => i,
            None => {
                aliases.push(HostAlias {
                    ip: ip.to_owned(),
                    hostnames: Some(Vec::new()),
                });
                aliases.len() - 1
            }
        };
        let hostnames = aliases[index].hostnames.get_or_insert_with(Vec::new);
        if !hostnames.contains(&hostname) {
            hostnames.push(hostname);
        }
    };
    for c in containers {
        let name = c.name.as_deref().unwrap_or_default();
        let links = c.links.as_deref().unwrap_or_default();
        let extra = c.extra_hosts.as_deref().unwrap_or_default();
        if network == Network::Host && (!links.is_empty() || !extra.is_empty()) {
            return Err(Unsupported::container(
                name,
                if links.is_empty() {
                    "extraHosts"
                } else {
                    "links"
                },
                "Kubernetes 1.20 cannot add host entries to a pod on the host network.",
            ));
        }
        for link in links {
            add(
                "127.0.0.1",
                alias_hostname(name, "links", link_target(link))?,
            );
            if let Some((_, alias)) = link.split_once(':') {
                add("127.0.0.1", alias_hostname(name, "links", alias)?);
            }
        }
        for host in extra {
            let ip = host.ip_address.as_deref().unwrap_or_default();
            if ip.parse::<IpAddr>().is_err() {
                return Err(Unsupported::container(
                    name,
                    "extraHosts.ipAddress",
                    format!("'{ip}' is not an IP address."),
                ));
            }
            let hostname = host.hostname.as_deref().unwrap_or_default();
            add(ip, alias_hostname(name, "extraHosts", hostname)?);
        }
    }
    Ok((!aliases.is_empty()).then_some(aliases))
}

/// The pod's DNS policy and configuration from every container's servers and search
/// domains.
fn dns(
    containers: &[ContainerDefinition],
    network: Network,
) -> Result<(&'static str, Option<PodDNSConfig>), Unsupported> {
    let mut servers: Vec<String> = Vec::new();
    let mut searches: Vec<String> = Vec::new();
    for c in containers {
        let name = c.name.as_deref().unwrap_or_default();
        for server in c.dns_servers.iter().flatten() {
            if server.parse::<IpAddr>().is_err() {
                return Err(Unsupported::container(
                    name,
                    "dnsServers",
                    format!("'{server}' is not an IP address."),
                ));
            }
            if !servers.contains(server) {
                servers.push(server.clone());
            }
        }
        for domain in c.dns_search_domains.iter().flatten() {
            let domain = alias_hostname(name, "dnsSearchDomains", domain)?;
            if !searches.contains(&domain) {
                searches.push(domain);
            }
        }
    }
    if servers.len() > MAX_DNS_SERVERS {
        return Err(Unsupported::task(
            "dnsServers",
            format!("the containers name {} DNS servers; a Kubernetes pod has at most {MAX_DNS_SERVERS}.", servers.len()),
        ));
    }
    if searches.len() > MAX_SEARCH_DOMAINS {
        return Err(Unsupported::task(
            "dnsSearchDomains",
            format!("the containers name {} search domains; a Kubernetes pod has at most {MAX_SEARCH_DOMAINS}.", searches.len()),
        ));
    }
    let policy = if !servers.is_empty() {
        "None"
    } else if network == Network::Host {
        "ClusterFirstWithHostNet"
    } else {
        "ClusterFirst"
    };
    let config = (!servers.is_empty() || !searches.is_empty()).then(|| PodDNSConfig {
        nameservers: (!servers.is_empty()).then_some(servers),
        searches: (!searches.is_empty()).then_some(searches),
        options: None,
    });
    Ok((policy, config))
}

/// The one hostname the containers ask for, if any.
fn hostname(containers: &[ContainerDefinition]) -> Result<Option<String>, Unsupported> {
    let mut found: Option<(&str, &str)> = None;
    for c in containers {
        let name = c.name.as_deref().unwrap_or_default();
        let Some(hostname) = c.hostname.as_deref().filter(|h| !h.is_empty()) else {
            continue;
        };
        if !is_dns1123_label(hostname) {
            return Err(Unsupported::container(
                name,
                "hostname",
                format!("'{hostname}' is not a Kubernetes pod hostname (one DNS label: lowercase letters, digits, '-')."),
            ));
        }
        match found {
            Some((other, theirs)) if theirs != hostname => {
                return Err(Unsupported::container(
                    name,
                    "hostname",
                    format!("it differs from container '{other}''s ('{theirs}'), and a Kubernetes pod has one hostname."),
                ))
            }
            _ => found = Some((name, hostname)),
        }
    }
    Ok(found.map(|(_, h)| h.to_owned()))
}

/// Every container's `systemControls`, merged; a name with two values is refused.
fn sysctls(containers: &[ContainerDefinition]) -> Result<Option<Vec<Sysctl>>, Unsupported> {
    let mut sysctls: Vec<Sysctl> = Vec::new();
    for c in containers {
        let name = c.name.as_deref().unwrap_or_default();
        for control in c.system_controls.iter().flatten() {
            let key = control.namespace.clone().unwrap_or_default();
            let value = control.value.clone().unwrap_or_default();
            match sysctls.iter().find(|s| s.name == key) {
                Some(existing) if existing.value != value => {
                    return Err(Unsupported::container(
                        name,
                        "systemControls",
                        format!(
                            "'{key}' is set to two values in the task; a Kubernetes pod has one."
                        ),
                    ))
                }
                Some(_) => {}
                None => sysctls.push(Sysctl { name: key, value }),
            }
        }
    }
    Ok((!sysctls.is_empty()).then_some(sysctls))
}

/// The pull Secrets of every container's `repositoryCredentials`.
fn pull_secrets(
    containers: &[ContainerDefinition],
) -> Result<Option<Vec<LocalObjectReference>>, Unsupported> {
    let mut secrets: Vec<LocalObjectReference> = Vec::new();
    for c in containers {
        let name = c.name.as_deref().unwrap_or_default();
        if let Some(parameter) = c
            .repository_credentials
            .as_ref()
            .and_then(|r| r.credentials_parameter.as_deref())
        {
            let secret = LocalObjectReference {
                name: pull_secret(name, parameter)?,
            };
            if !secrets.contains(&secret) {
                secrets.push(secret);
            }
        }
    }
    Ok((!secrets.is_empty()).then_some(secrets))
}

/// The longest `stopTimeout`, or ECS's default.
fn grace_period(containers: &[ContainerDefinition]) -> i64 {
    containers
        .iter()
        .map(|c| c.stop_timeout.map_or(DEFAULT_STOP_TIMEOUT, i64::from))
        .max()
        .unwrap_or(DEFAULT_STOP_TIMEOUT)
}

/// `runtimePlatform.cpuArchitecture` as a node selector on `kubernetes.io/arch`.
fn architecture(td: &TaskDefinition) -> Option<BTreeMap<String, String>> {
    let arch = match td.runtime_platform.as_ref()?.cpu_architecture.as_ref()? {
        CPUArchitecture::X8664 => "amd64",
        CPUArchitecture::Arm64 => "arm64",
        CPUArchitecture::Unrecognized(_) => return None,
    };
    Some(BTreeMap::from([(
        "kubernetes.io/arch".to_owned(),
        arch.to_owned(),
    )]))
}

#[cfg(test)]
#[path = "pod_tests.rs"]
mod tests;
