//! What ECS adds to a registered task definition: the defaults it fills in (as real
//! RegisterTaskDefinition responses show them: `cpu: 0`, `essential: true`, empty lists,
//! `protocol: tcp`, host ports in awsvpc/host mode), `compatibilities`, and
//! `requiresAttributes`.
//!
//! Where these rules come from: responses of real ECS recorded in getmoto/moto#3584 (the
//! defaults, and `compatibilities` ["EC2"] for a plain definition, ["EC2","FARGATE"] for an
//! awsvpc one with a Fargate task size); the ECS developer guide's "Amazon ECS Anywhere"
//! (EXTERNAL does not support awsvpc) and its container-instance attribute list (which
//! parameter needs which attribute). The attributes computed here are a documented subset,
//! listed in [`requires_attributes`].

use super::validate::{is_fargate_size, TaskSize};
use kubecs_api_models::{
    Attribute, Compatibility, ContainerDefinition, LogDriver, NetworkMode, PortMapping,
    RegisterTaskDefinitionRequest, TaskDefinition, TransportProtocol,
};
use std::collections::BTreeSet;

/// The stored task definition for `input`, before ECS's bookkeeping (ARN, revision,
/// status, registration time) is added.
pub fn task_definition(input: &RegisterTaskDefinitionRequest, size: TaskSize) -> TaskDefinition {
    let network_mode = input.network_mode.as_ref();
    let containers = input
        .container_definitions
        .iter()
        .flatten()
        .map(|c| with_container_defaults(c, network_mode))
        .collect();
    TaskDefinition {
        family: input.family.clone(),
        container_definitions: Some(containers),
        cpu: size.cpu.map(|c| c.to_string()),
        memory: size.memory.map(|m| m.to_string()),
        task_role_arn: input.task_role_arn.clone(),
        execution_role_arn: input.execution_role_arn.clone(),
        network_mode: input.network_mode.clone(),
        volumes: Some(input.volumes.clone().unwrap_or_default()),
        placement_constraints: Some(input.placement_constraints.clone().unwrap_or_default()),
        requires_compatibilities: input.requires_compatibilities.clone(),
        compatibilities: Some(compatibilities(input, size)),
        requires_attributes: Some(requires_attributes(input)),
        pid_mode: input.pid_mode.clone(),
        ipc_mode: input.ipc_mode.clone(),
        proxy_configuration: input.proxy_configuration.clone(),
        inference_accelerators: input.inference_accelerators.clone(),
        ephemeral_storage: input.ephemeral_storage.clone(),
        runtime_platform: input.runtime_platform.clone(),
        enable_fault_injection: input.enable_fault_injection,
        ..TaskDefinition::default()
    }
}

/// A container as ECS returns it: members the client left out that ECS always reports.
fn with_container_defaults(
    container: &ContainerDefinition,
    network_mode: Option<&NetworkMode>,
) -> ContainerDefinition {
    let mut out = container.clone();
    out.cpu.get_or_insert(0);
    out.essential.get_or_insert(true);
    out.environment.get_or_insert_with(Vec::new);
    out.mount_points.get_or_insert_with(Vec::new);
    out.volumes_from.get_or_insert_with(Vec::new);
    let mappings = out.port_mappings.get_or_insert_with(Vec::new);
    for mapping in mappings.iter_mut() {
        fill_port_mapping(mapping, network_mode);
    }
    out
}

/// ECS defaults the protocol to tcp and, in awsvpc and host mode, sets the host port to
/// the container port ("ECS happily makes this transformation", turnerlabs/
/// terraform-ecs-fargate#11; the API reference: "the hostPort can either be left blank or
/// set to the same value as the containerPort").
fn fill_port_mapping(mapping: &mut PortMapping, network_mode: Option<&NetworkMode>) {
    mapping.protocol.get_or_insert(TransportProtocol::Tcp);
    if matches!(network_mode, Some(NetworkMode::Awsvpc | NetworkMode::Host))
        && mapping.host_port.unwrap_or(0) == 0
        && mapping.container_port.is_some()
    {
        mapping.host_port = mapping.container_port;
    }
}

/// The launch types the definition can run on: EC2 always; EXTERNAL (ECS Anywhere) unless
/// it uses awsvpc; FARGATE when it is awsvpc with a Fargate task size and nothing Fargate
/// refuses (ipcMode, placement constraints); plus anything `requiresCompatibilities`
/// names (validation has already refused what those cannot run).
fn compatibilities(input: &RegisterTaskDefinitionRequest, size: TaskSize) -> Vec<Compatibility> {
    let awsvpc = input.network_mode == Some(NetworkMode::Awsvpc);
    let fargate = awsvpc
        && input.ipc_mode.is_none()
        && input
            .placement_constraints
            .as_deref()
            .unwrap_or_default()
            .is_empty()
        && matches!((size.cpu, size.memory), (Some(c), Some(m)) if is_fargate_size(c, m));
    let mut out = Vec::new();
    let mut add = |c: Compatibility| {
        if !out.contains(&c) {
            out.push(c);
        }
    };
    if !awsvpc {
        add(Compatibility::External);
    }
    add(Compatibility::Ec2);
    if fargate {
        add(Compatibility::Fargate);
    }
    for required in input.requires_compatibilities.iter().flatten() {
        add(required.clone());
    }
    out
}

const REMOTE_API_1_18: &str = "com.amazonaws.ecs.capability.docker-remote-api.1.18";
const REMOTE_API_1_19: &str = "com.amazonaws.ecs.capability.docker-remote-api.1.19";
const REMOTE_API_1_21: &str = "com.amazonaws.ecs.capability.docker-remote-api.1.21";

/// The container-instance attributes the definition needs, as ECS computes them (sorted
/// by name; ECS's own order is not significant). Computed:
/// - awsvpc: `ecs.capability.task-eni` and docker-remote-api.1.18 (networkMode);
/// - a `logConfiguration`: `com.amazonaws.ecs.capability.logging-driver.<driver>` and
///   docker-remote-api.1.18 (awslogs: 1.19), plus `ecs.capability.execution-role-awslogs`
///   when awslogs is used with an execution role;
/// - `dockerLabels` or `ulimits`: docker-remote-api.1.18; `memoryReservation`: 1.21;
/// - `taskRoleArn`: `com.amazonaws.ecs.capability.task-iam-role`;
/// - an ECR image: `com.amazonaws.ecs.capability.ecr-auth`, and with an execution role
///   `ecs.capability.execution-role-ecr-pull`;
/// - `secrets` from Secrets Manager / SSM: `ecs.capability.secrets.asm.environment-variables`
///   / `ecs.capability.secrets.ssm.environment-variables`;
/// - `repositoryCredentials`: `com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager`;
/// - `healthCheck`: `ecs.capability.container-health-check`; `dependsOn`:
///   `ecs.capability.container-ordering`.
pub fn requires_attributes(input: &RegisterTaskDefinitionRequest) -> Vec<Attribute> {
    let mut names = BTreeSet::new();
    let execution_role = input.execution_role_arn.is_some();
    if input.network_mode == Some(NetworkMode::Awsvpc) {
        names.insert("ecs.capability.task-eni".to_owned());
        names.insert(REMOTE_API_1_18.to_owned());
    }
    if input.task_role_arn.is_some() {
        names.insert("com.amazonaws.ecs.capability.task-iam-role".to_owned());
    }
    for container in input.container_definitions.iter().flatten() {
        container_attributes(container, execution_role, &mut names);
    }
    names
        .into_iter()
        .map(|name| Attribute {
            name: Some(name),
            ..Attribute::default()
        })
        .collect()
}

fn container_attributes(
    container: &ContainerDefinition,
    execution_role: bool,
    names: &mut BTreeSet<String>,
) {
    let mut add = |name: &str| {
        names.insert(name.to_owned());
    };
    if let Some(driver) = container
        .log_configuration
        .as_ref()
        .and_then(|l| l.log_driver.as_ref())
    {
        add(&format!(
            "com.amazonaws.ecs.capability.logging-driver.{}",
            driver.as_str()
        ));
        if *driver == LogDriver::Awslogs {
            add(REMOTE_API_1_19);
            if execution_role {
                add("ecs.capability.execution-role-awslogs");
            }
        } else {
            add(REMOTE_API_1_18);
        }
    }
    if container.docker_labels.is_some() || container.ulimits.is_some() {
        add(REMOTE_API_1_18);
    }
    if container.memory_reservation.is_some() {
        add(REMOTE_API_1_21);
    }
    if container
        .image
        .as_deref()
        .is_some_and(|i| i.contains(".dkr.ecr."))
    {
        add("com.amazonaws.ecs.capability.ecr-auth");
        if execution_role {
            add("ecs.capability.execution-role-ecr-pull");
        }
    }
    for secret in container.secrets.iter().flatten() {
        let from = secret.value_from.as_deref().unwrap_or_default();
        if from.contains(":secretsmanager:") {
            add("ecs.capability.secrets.asm.environment-variables");
        } else {
            add("ecs.capability.secrets.ssm.environment-variables");
        }
    }
    if container.repository_credentials.is_some() {
        add("com.amazonaws.ecs.capability.private-registry-authentication.secretsmanager");
    }
    if container.health_check.is_some() {
        add("ecs.capability.container-health-check");
    }
    if container.depends_on.is_some() {
        add("ecs.capability.container-ordering");
    }
}
