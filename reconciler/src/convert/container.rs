//! One ECS container definition as one Kubernetes container.
//!
//! `entryPoint` is the container's `command` and `command` its `args` (Docker's
//! ENTRYPOINT and CMD, which Kubernetes calls command and args). Pod-wide members of a
//! container definition (links, extraHosts, DNS, hostname, sysctls, docker labels,
//! repository credentials) are gathered by the pod converter.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar,
    EnvVarSource, ResourceRequirements, SELinuxOptions, SecurityContext, Volume,
};
use kubecs_api_models::{
    ContainerDefinition, EnvironmentFileType, TaskDefinition, TransportProtocol,
};

use super::names::is_iana_svc_name;
use super::probe::readiness_probe;
use super::references::{env_file_config_map, secret_key_ref};
use super::validate::Unsupported;
use super::volumes::{memory_volumes, task_volume_mounts};

/// The image pull policy kubecs sets: ECS pulls an image that the instance does not have
/// (its default `ECS_IMAGE_PULL_BEHAVIOR`), not on every start.
pub const IMAGE_PULL_POLICY: &str = "IfNotPresent";

/// The annotation key prefix Kubernetes 1.20 reads a container's AppArmor profile from.
pub const APPARMOR_ANNOTATION_PREFIX: &str = "container.apparmor.security.beta.kubernetes.io/";

/// How the task's network is set up, which decides what a host port means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Docker's bridge (ECS's default on Linux): a host port > 0 is published on the node.
    Bridge,
    /// The node's network: every container port is a host port.
    Host,
    /// A network interface per task (the pod's own IP): host ports mean nothing.
    Awsvpc,
}

/// A converted container and what it adds to the pod.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConvertedContainer {
    /// The container.
    pub container: Container,
    /// Pod volumes only this container uses (tmpfs, `/dev/shm`).
    pub volumes: Vec<Volume>,
    /// Pod annotations for this container (AppArmor).
    pub annotations: BTreeMap<String, String>,
}

/// Converts a container definition. `init` drops what init containers may not have (a
/// readiness probe).
pub fn convert_container(
    td: &TaskDefinition,
    c: &ContainerDefinition,
    k8s_name: &str,
    network: Network,
    resources: Option<ResourceRequirements>,
    init: bool,
) -> Result<ConvertedContainer, Unsupported> {
    let name = c.name.as_deref().unwrap_or_default();
    refuse_unmappable(c, name)?;
    let (volumes, memory_mounts) = memory_volumes(c, k8s_name)?;
    let mut mounts = task_volume_mounts(td, c)?;
    for mount in memory_mounts {
        if mounts.iter().any(|m| m.mount_path == mount.mount_path) {
            return Err(Unsupported::container(
                name,
                "linuxParameters",
                format!("'{}' is mounted twice.", mount.mount_path),
            ));
        }
        mounts.push(mount);
    }
    let (security_context, annotations) = security(c, name, k8s_name)?;
    let probe = match (&c.health_check, init) {
        (Some(check), false) => readiness_probe(name, check)?,
        _ => None,
    };
    let container = Container {
        name: k8s_name.to_owned(),
        image: c.image.clone(),
        image_pull_policy: Some(IMAGE_PULL_POLICY.to_owned()),
        command: c.entry_point.clone().filter(|v| !v.is_empty()),
        args: c.command.clone().filter(|v| !v.is_empty()),
        working_dir: c.working_directory.clone().filter(|w| !w.is_empty()),
        env: non_empty(env(c, name)?),
        env_from: non_empty(env_from(c, name)?),
        ports: non_empty(ports(c, name, network)?),
        resources,
        readiness_probe: probe,
        security_context,
        stdin: c.interactive.filter(|i| *i),
        tty: c.pseudo_terminal.filter(|t| *t),
        volume_mounts: non_empty(mounts),
        ..Container::default()
    };
    Ok(ConvertedContainer {
        container,
        volumes,
        annotations,
    })
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// Members that no Kubernetes 1.20 pod can honour.
fn refuse_unmappable(c: &ContainerDefinition, name: &str) -> Result<(), Unsupported> {
    if c.disable_networking == Some(true) {
        return Err(Unsupported::container(
            name,
            "disableNetworking",
            "every container of a Kubernetes pod shares the pod's network.",
        ));
    }
    if c.credential_specs.as_ref().is_some_and(|s| !s.is_empty()) {
        return Err(Unsupported::container(
            name,
            "credentialSpecs",
            "Active Directory credential specs are not supported by kubecs.",
        ));
    }
    let devices = c
        .linux_parameters
        .as_ref()
        .and_then(|l| l.devices.as_ref())
        .is_some_and(|d| !d.is_empty());
    if devices {
        return Err(Unsupported::container(
            name,
            "linuxParameters.devices",
            "host devices cannot be passed to a Kubernetes container.",
        ));
    }
    Ok(())
}

/// `environment` in order, then `secrets` (each from its Secret).
fn env(c: &ContainerDefinition, name: &str) -> Result<Vec<EnvVar>, Unsupported> {
    let mut env: Vec<EnvVar> = c
        .environment
        .iter()
        .flatten()
        .filter_map(|kv| {
            kv.name.as_ref().map(|n| EnvVar {
                name: n.clone(),
                value: kv.value.clone(),
                value_from: None,
            })
        })
        .collect();
    if let Some(bad) = c
        .environment
        .iter()
        .flatten()
        .filter_map(|kv| kv.name.as_deref())
        .chain(c.secrets.iter().flatten().filter_map(|s| s.name.as_deref()))
        .find(|n| !is_env_var_name(n))
    {
        return Err(Unsupported::container(
            name,
            "environment",
            format!("'{bad}' is not an environment variable name Kubernetes accepts (letters, digits, '_', '-', '.'; not starting with a digit)."),
        ));
    }
    for secret in c.secrets.iter().flatten() {
        let var = secret.name.as_deref().unwrap_or_default();
        let Some(from) = secret.value_from.as_deref() else {
            return Err(Unsupported::container(
                name,
                "secrets.valueFrom",
                format!("the secret '{var}' has no valueFrom."),
            ));
        };
        env.push(EnvVar {
            name: var.to_owned(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(secret_key_ref(name, from)?),
                ..EnvVarSource::default()
            }),
        });
    }
    Ok(env)
}

/// What Kubernetes 1.20 accepts as an environment variable name: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
fn is_env_var_name(name: &str) -> bool {
    let valid = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    !name.is_empty() && name.bytes().all(valid) && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// `environmentFiles`: every key of a ConfigMap each. Kubernetes lets `env` override
/// `envFrom`, as ECS lets `environment` override environment files.
fn env_from(c: &ContainerDefinition, name: &str) -> Result<Vec<EnvFromSource>, Unsupported> {
    c.environment_files
        .iter()
        .flatten()
        .map(|file| {
            if let Some(EnvironmentFileType::Unrecognized(kind)) = &file.r#type {
                return Err(Unsupported::container(
                    name,
                    "environmentFiles.type",
                    format!("'{kind}' is not an environment file type (s3)."),
                ));
            }
            Ok(EnvFromSource {
                config_map_ref: Some(ConfigMapEnvSource {
                    name: env_file_config_map(name, file.value.as_deref().unwrap_or_default())?,
                    optional: None,
                }),
                ..EnvFromSource::default()
            })
        })
        .collect()
}

/// The Kubernetes protocol of a port mapping: always written out, since the 1.20 API
/// server needs it for server-side apply.
pub fn protocol(
    container: &str,
    p: Option<&TransportProtocol>,
) -> Result<&'static str, Unsupported> {
    match p {
        None | Some(TransportProtocol::Tcp) => Ok("TCP"),
        Some(TransportProtocol::Udp) => Ok("UDP"),
        Some(TransportProtocol::Unrecognized(other)) => Err(Unsupported::container(
            container,
            "portMappings.protocol",
            format!("'{other}' is not a protocol (tcp, udp)."),
        )),
    }
}

/// `portMappings` as container ports. A mapping with only a `containerPortRange` adds no
/// port: every port of a pod is reachable on its IP, and Kubernetes 1.20 has no ranges.
fn ports(
    c: &ContainerDefinition,
    name: &str,
    network: Network,
) -> Result<Vec<ContainerPort>, Unsupported> {
    let mut out: Vec<ContainerPort> = Vec::new();
    let mut names = BTreeSet::new();
    for pm in c.port_mappings.iter().flatten() {
        let protocol = protocol(name, pm.protocol.as_ref())?;
        let Some(port) = pm.container_port else {
            if pm.container_port_range.is_some() {
                continue;
            }
            return Err(Unsupported::container(
                name,
                "portMappings.containerPort",
                "a port mapping needs a containerPort or a containerPortRange.",
            ));
        };
        let host_port = match network {
            Network::Bridge => pm.host_port.filter(|p| *p > 0),
            Network::Host => Some(port),
            Network::Awsvpc => None,
        };
        let port_name = pm
            .name
            .as_deref()
            .filter(|n| is_iana_svc_name(n) && !names.contains(*n))
            .map(str::to_owned);
        let entry = ContainerPort {
            container_port: port,
            host_port,
            name: port_name.clone(),
            protocol: Some(protocol.to_owned()),
            ..ContainerPort::default()
        };
        let duplicate = out.iter().any(|p| {
            p.container_port == port && p.protocol == entry.protocol && p.host_port == host_port
        });
        if !duplicate {
            names.extend(port_name);
            out.push(entry);
        }
    }
    Ok(out)
}

/// The container's security context and the pod annotations its security options need.
fn security(
    c: &ContainerDefinition,
    name: &str,
    k8s_name: &str,
) -> Result<(Option<SecurityContext>, BTreeMap<String, String>), Unsupported> {
    let mut sc = SecurityContext {
        privileged: c.privileged,
        read_only_root_filesystem: c.readonly_root_filesystem,
        ..SecurityContext::default()
    };
    if let Some(user) = c.user.as_deref().filter(|u| !u.is_empty()) {
        let (uid, gid) = parse_user(user).ok_or_else(|| {
            Unsupported::container(
                name,
                "user",
                format!(
                    "'{user}' is not a numeric user: Kubernetes takes a uid or uid:gid (or root)."
                ),
            )
        })?;
        sc.run_as_user = Some(uid);
        sc.run_as_group = gid;
    }
    if let Some(caps) = c
        .linux_parameters
        .as_ref()
        .and_then(|l| l.capabilities.as_ref())
    {
        let add = caps.add.clone().filter(|a| !a.is_empty());
        let drop = caps.drop.clone().filter(|d| !d.is_empty());
        if add.is_some() || drop.is_some() {
            sc.capabilities = Some(Capabilities { add, drop });
        }
    }
    let mut annotations = BTreeMap::new();
    for option in c.docker_security_options.iter().flatten() {
        let (key, value) = option
            .split_once([':', '='])
            .unwrap_or((option.as_str(), ""));
        match (key, value) {
            ("no-new-privileges", "" | "true") => sc.allow_privilege_escalation = Some(false),
            ("no-new-privileges", "false") => {}
            ("apparmor", profile) if !profile.is_empty() => {
                let profile = match profile {
                    "unconfined" => "unconfined".to_owned(),
                    "docker-default" => "runtime/default".to_owned(),
                    other => format!("localhost/{other}"),
                };
                annotations.insert(format!("{APPARMOR_ANNOTATION_PREFIX}{k8s_name}"), profile);
            }
            ("label", label) => {
                let se = sc
                    .se_linux_options
                    .get_or_insert_with(SELinuxOptions::default);
                match label.split_once([':', '=']) {
                    Some(("user", v)) => se.user = Some(v.to_owned()),
                    Some(("role", v)) => se.role = Some(v.to_owned()),
                    Some(("type", v)) => se.type_ = Some(v.to_owned()),
                    Some(("level", v)) => se.level = Some(v.to_owned()),
                    _ => return Err(unsupported_option(name, option)),
                }
            }
            _ => return Err(unsupported_option(name, option)),
        }
    }
    if sc.allow_privilege_escalation == Some(false) {
        // Kubernetes refuses these combinations; Docker would let privilege win.
        let sys_admin = sc
            .capabilities
            .as_ref()
            .and_then(|c| c.add.as_ref())
            .is_some_and(|add| add.iter().any(|a| a == "SYS_ADMIN" || a == "CAP_SYS_ADMIN"));
        if sc.privileged == Some(true) || sys_admin {
            return Err(Unsupported::container(
                name,
                "dockerSecurityOptions",
                "no-new-privileges cannot be combined with privileged or the SYS_ADMIN capability on Kubernetes.",
            ));
        }
    }
    let empty = sc == SecurityContext::default();
    Ok(((!empty).then_some(sc), annotations))
}

fn unsupported_option(name: &str, option: &str) -> Unsupported {
    Unsupported::container(
        name,
        "dockerSecurityOptions",
        format!(
            "'{option}' is not supported by kubecs (no-new-privileges, apparmor:PROFILE, label:user|role|type|level:VALUE)."
        ),
    )
}

/// `uid`, `uid:gid`, or `root` for either: Kubernetes has no user names.
fn parse_user(user: &str) -> Option<(i64, Option<i64>)> {
    let id = |s: &str| -> Option<i64> {
        if s == "root" {
            Some(0)
        } else {
            s.parse::<i64>().ok().filter(|n| *n >= 0)
        }
    };
    match user.split_once(':') {
        Some((u, g)) => Some((id(u)?, Some(id(g)?))),
        None => Some((id(user)?, None)),
    }
}

#[cfg(test)]
#[path = "container_tests.rs"]
mod tests;
