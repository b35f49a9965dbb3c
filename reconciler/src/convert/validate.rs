//! What Kubernetes cannot run, said the way ECS says what it refuses.
//!
//! [`check_task_definition`] and [`check_service`] answer before anything is stored or
//! applied, so that CreateService/UpdateService can refuse a service kubecs could never
//! run with an ECS error ([`Unsupported::error_code`]) instead of accepting it and failing
//! later. They run the converter itself (discarding its output), so whatever the converter
//! refuses they refuse, and nothing else.
//!
//! The checks that look at a task definition as a whole (platform, network mode, container
//! and volume names, the kinds of volume) live here; a member that is parsed where it is
//! converted (user, secrets, health check, security options) is refused by its converter
//! with the same error type.

use std::collections::{BTreeMap, BTreeSet};

use kubecs_api_models::{
    CPUArchitecture, ErrorCode, IpcMode, NetworkMode, OSFamily, PidMode, Scope, Service,
    TaskDefinition,
};

use super::names::{container_name, volume_name, ClusterScope};

/// Why kubecs cannot run a task definition or service. The message reads like the ECS
/// error the API answers with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsupported {
    /// A platform other than Linux.
    #[error(
        "The operating system family {family} is not supported: kubecs runs Linux containers only."
    )]
    Platform {
        /// The task definition's `runtimePlatform.operatingSystemFamily`.
        family: String,
    },
    /// A network mode Kubernetes cannot honour.
    #[error("The network mode {mode} is not supported: {reason}")]
    NetworkMode {
        /// The task definition's `networkMode`.
        mode: String,
        /// Why not.
        reason: String,
    },
    /// A task-level member.
    #[error("Invalid setting for task definition. {setting}: {reason}")]
    Task {
        /// The member, as ECS names it.
        setting: &'static str,
        /// Why not.
        reason: String,
    },
    /// A member of one container definition.
    #[error("Invalid setting for container '{container}'. {setting}: {reason}")]
    Container {
        /// The container's ECS name.
        container: String,
        /// The member, as ECS names it.
        setting: &'static str,
        /// Why not.
        reason: String,
    },
    /// A volume.
    #[error("Invalid setting for volume '{volume}'. {reason}")]
    Volume {
        /// The volume's ECS name.
        volume: String,
        /// Why not.
        reason: String,
    },
    /// A parameter of the request that runs the task definition (RunTask's overrides).
    #[error("{message}")]
    Parameter {
        /// ECS's words.
        message: String,
    },
    /// A member of the service.
    #[error("Invalid parameter for service. {setting}: {reason}")]
    Service {
        /// The member, as ECS names it.
        setting: &'static str,
        /// Why not.
        reason: String,
    },
}

impl Unsupported {
    /// The ECS error to answer with: ClientException for what is wrong with the task
    /// definition (as RegisterTaskDefinition says it), InvalidParameterException for the
    /// service's own parameters.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Unsupported::Service { .. } | Unsupported::Parameter { .. } => {
                ErrorCode::InvalidParameterException
            }
            _ => ErrorCode::ClientException,
        }
    }

    pub(crate) fn container(
        container: &str,
        setting: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Unsupported::Container {
            container: container.to_owned(),
            setting,
            reason: reason.into(),
        }
    }

    pub(crate) fn task(setting: &'static str, reason: impl Into<String>) -> Self {
        Unsupported::Task {
            setting,
            reason: reason.into(),
        }
    }

    pub(crate) fn volume(volume: &str, reason: impl Into<String>) -> Self {
        Unsupported::Volume {
            volume: volume.to_owned(),
            reason: reason.into(),
        }
    }

    pub(crate) fn service(setting: &'static str, reason: impl Into<String>) -> Self {
        Unsupported::Service {
            setting,
            reason: reason.into(),
        }
    }
}

/// Whether kubecs can run this task definition as a Kubernetes pod.
pub fn check_task_definition(task_definition: &TaskDefinition) -> Result<(), Unsupported> {
    super::pod::pod_template(task_definition).map(drop)
}

/// Whether kubecs can run this service of this task definition: the task definition's
/// checks and the service's own (scheduling strategy, deployment controller and strategy,
/// load balancers, Service Connect names).
pub fn check_service(
    service: &Service,
    task_definition: &TaskDefinition,
) -> Result<(), Unsupported> {
    // Labels do not depend on anything that can be refused, so any scope will do.
    let scope = ClusterScope {
        region: "",
        cluster: "",
    };
    super::workload::workload(&scope, service, task_definition).map(drop)
}

/// The whole-task checks that come before conversion.
pub(crate) fn check_structure(td: &TaskDefinition) -> Result<(), Unsupported> {
    if let Some(family) = td
        .runtime_platform
        .as_ref()
        .and_then(|p| p.operating_system_family.as_ref())
    {
        if *family != OSFamily::Linux {
            return Err(Unsupported::Platform {
                family: family.as_str().to_owned(),
            });
        }
    }
    if let Some(CPUArchitecture::Unrecognized(arch)) = td
        .runtime_platform
        .as_ref()
        .and_then(|p| p.cpu_architecture.as_ref())
    {
        return Err(Unsupported::task(
            "runtimePlatform.cpuArchitecture",
            format!("'{arch}' is not a CPU architecture (X86_64, ARM64)."),
        ));
    }
    match &td.network_mode {
        None | Some(NetworkMode::Bridge | NetworkMode::Host | NetworkMode::Awsvpc) => {}
        Some(NetworkMode::None) => {
            return Err(Unsupported::NetworkMode {
                mode: "none".to_owned(),
                reason: "every Kubernetes pod has a network interface.".to_owned(),
            })
        }
        Some(other) => {
            return Err(Unsupported::NetworkMode {
                mode: other.as_str().to_owned(),
                reason: "kubecs supports bridge, host and awsvpc.".to_owned(),
            })
        }
    }
    if let Some(IpcMode::Unrecognized(mode)) = &td.ipc_mode {
        return Err(Unsupported::task(
            "ipcMode",
            format!("'{mode}' is not host, task or none."),
        ));
    }
    if let Some(PidMode::Unrecognized(mode)) = &td.pid_mode {
        return Err(Unsupported::task(
            "pidMode",
            format!("'{mode}' is not host or task."),
        ));
    }
    if td.proxy_configuration.is_some() {
        return Err(Unsupported::task(
            "proxyConfiguration",
            "App Mesh proxy configuration is not supported by kubecs.",
        ));
    }
    if td
        .inference_accelerators
        .as_ref()
        .is_some_and(|a| !a.is_empty())
    {
        return Err(Unsupported::task(
            "inferenceAccelerators",
            "Elastic Inference accelerators are not supported by kubecs.",
        ));
    }
    let containers = td.container_definitions.as_deref().unwrap_or_default();
    if containers.is_empty() {
        return Err(Unsupported::task(
            "containerDefinitions",
            "at least one container definition is required.",
        ));
    }
    check_container_names(td)?;
    check_volumes(td)?;
    Ok(())
}

/// Every container has a name, an image, and a Kubernetes name of its own.
fn check_container_names(td: &TaskDefinition) -> Result<(), Unsupported> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for c in td.container_definitions.iter().flatten() {
        let Some(name) = c.name.as_deref().filter(|n| !n.is_empty()) else {
            return Err(Unsupported::task(
                "containerDefinitions",
                "Container.name should not be null or empty.",
            ));
        };
        let k8s = container_name(name);
        if k8s.is_empty() {
            return Err(Unsupported::container(
                name,
                "name",
                "a Kubernetes container name needs at least one letter or digit.",
            ));
        }
        if let Some(other) = seen.insert(k8s.clone(), name) {
            return Err(Unsupported::container(
                name,
                "name",
                format!(
                    "it and container '{other}' both become the Kubernetes container name '{k8s}'."
                ),
            ));
        }
        if c.image.as_deref().is_none_or(str::is_empty) {
            return Err(Unsupported::container(
                name,
                "image",
                "Container.image should not be null or empty.",
            ));
        }
    }
    Ok(())
}

/// Every volume is of a kind kubecs maps, with a Kubernetes name of its own.
fn check_volumes(td: &TaskDefinition) -> Result<(), Unsupported> {
    let mut seen = BTreeSet::new();
    for v in td.volumes.iter().flatten() {
        let name = v.name.as_deref().unwrap_or_default();
        if name.is_empty() {
            return Err(Unsupported::task(
                "volumes",
                "Volume.name should not be null or empty.",
            ));
        }
        if !seen.insert(volume_name(name)) {
            return Err(Unsupported::volume(name, "the volume name is used twice."));
        }
        if v.fsx_windows_file_server_volume_configuration.is_some() {
            return Err(Unsupported::volume(
                name,
                "FSx for Windows File Server volumes need Windows containers, which kubecs does not run.",
            ));
        }
        if v.efs_volume_configuration.is_some() {
            return Err(Unsupported::volume(
                name,
                "EFS volumes are not supported by kubecs; use a host volume or a task-scoped Docker volume.",
            ));
        }
        if v.s3files_volume_configuration.is_some() {
            return Err(Unsupported::volume(
                name,
                "S3 Files volumes are not supported by kubecs.",
            ));
        }
        if v.configured_at_launch == Some(true) {
            return Err(Unsupported::volume(
                name,
                "volumes configured at launch are not supported by kubecs.",
            ));
        }
        if let Some(docker) = &v.docker_volume_configuration {
            if let Some(Scope::Unrecognized(scope)) = &docker.scope {
                return Err(Unsupported::volume(
                    name,
                    format!("'{scope}' is not a Docker volume scope (task or shared)."),
                ));
            }
            if docker.scope == Some(Scope::Shared) {
                return Err(Unsupported::volume(
                    name,
                    "Docker volumes with scope 'shared' outlive the task, which a Kubernetes emptyDir does not; kubecs supports scope 'task'.",
                ));
            }
            if docker.driver.as_deref().is_some_and(|d| d != "local") {
                return Err(Unsupported::volume(
                    name,
                    "only the 'local' Docker volume driver is supported by kubecs.",
                ));
            }
            if docker.driver_opts.as_ref().is_some_and(|o| !o.is_empty()) {
                return Err(Unsupported::volume(
                    name,
                    "Docker volume driverOpts are not supported by kubecs.",
                ));
            }
        }
    }
    Ok(())
}
