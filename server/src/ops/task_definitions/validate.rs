//! RegisterTaskDefinition's validation: ECS's rules and, where we could find them, ECS's
//! exact error codes and messages; and the task-size strings ("1 vCPU", "2 GB") turned into
//! the numbers ECS stores.
//!
//! Sources for the messages (real ECS answers quoted in public issue threads):
//! - "Family contains invalid characters." — aws/amazon-ecs-cli#37, #542 (ClientException).
//! - "Family can not be blank." — aws-actions/amazon-ecs-deploy-task-definition#630.
//! - "Container list cannot be empty." — awsdocs/aws-cloudformation-user-guide#454.
//! - "Container.name should not be null or empty." — awsdocs/aws-cloudformation-user-guide#612.
//! - "Container.name contains invalid characters." — ansible/ansible#22860.
//! - "Container names must be unique within a Task Definition." — Shippable/support#2946.
//! - "Task definition doesn't have any essential container." — eagletmt/hako#68.
//! - "Invalid setting for container '<name>'. At least one of 'memory' or
//!   'memoryReservation' must be specified." — sil-org/ecs-deploy#59.
//! - "The 'memory' setting for container '<name>' is greater than for the task." —
//!   pulumi/pulumi-awsx#1220.
//! - "Fargate requires that 'cpu' (or 'memory') be defined at the task level." —
//!   mongodb/terraform-aws-ecs-task-definition#38, aws/amazon-ecs-cli#982.
//! - "No Fargate configuration exists for given values: 512 CPU, 512 memory. See the Amazon
//!   ECS documentation for the valid values." — aws-games/cloud-game-development-toolkit#737.
//! - "Fargate only supports network mode ‘awsvpc’." (typographic quotes, as ECS sends them)
//!   — aws/amazon-ecs-cli#1145.
//! - "When networkMode=awsvpc, the host ports and container ports in port mappings must
//!   match." — aws/amazon-ecs-cli#1014, pulumi/pulumi-awsx#935.
//! - "Invalid 'containerPort' setting for container '<name>'." — aws/aws-cli#7288.
//! - "TCP host port '3000' is mapped multiple times in task." — aws/amazon-ecs-agent#1220.
//! - "Invalid 'cpu' setting for task." is an InvalidParameterException in ECS
//!   (oranmoshai/ecsServiceRestart#2); 'memory' is answered the same way by analogy.
//!
//! Messages we could not find ECS's wording for say so where they are built. The size and
//! count limits (64 KiB, 10 containers, 255-character images, ...) are in `limits`.

use crate::error::ApiError;
use crate::ops::names::{is_name_char, MAX_NAME};
use kubecs_api_models::{
    Compatibility, ContainerDefinition, NetworkMode, PortMapping, RegisterTaskDefinitionRequest,
    TransportProtocol,
};
use std::collections::HashSet;

/// EC2 task-level CPU bounds (task definition parameters: "between 128 CPU units (0.125
/// vCPUs) and 196608 CPU units (192 vCPUs)").
const EC2_TASK_CPU: std::ops::RangeInclusive<u32> = 128..=196_608;

/// The task size after normalisation: CPU units and MiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskSize {
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
}

/// The family rule.
pub fn check_family(family: &str) -> Result<(), ApiError> {
    if family.is_empty() {
        return Err(ApiError::client("Family can not be blank."));
    }
    if family.len() > MAX_NAME {
        // ECS's wording for an over-long family is not documented; ours.
        return Err(ApiError::client(format!(
            "Family must be at most {MAX_NAME} characters long."
        )));
    }
    if !family.bytes().all(is_name_char) {
        return Err(ApiError::client("Family contains invalid characters."));
    }
    Ok(())
}

/// Everything RegisterTaskDefinition checks before anything is stored. Returns the
/// normalised task size.
pub fn check_request(input: &RegisterTaskDefinitionRequest) -> Result<TaskSize, ApiError> {
    super::limits::check(input)?;
    let size = TaskSize {
        cpu: input.cpu.as_deref().map(parse_cpu).transpose()?,
        memory: input.memory.as_deref().map(parse_memory).transpose()?,
    };
    let containers = input.container_definitions.as_deref().unwrap_or_default();
    check_containers(containers)?;
    if requires(input, &Compatibility::Fargate) {
        check_fargate(input.network_mode.as_ref(), size)?;
    } else if let Some(cpu) = size.cpu {
        if !EC2_TASK_CPU.contains(&cpu) {
            return Err(invalid_cpu());
        }
    }
    for container in containers {
        check_memory(container, size)?;
        check_port_mappings(container, input.network_mode.as_ref())?;
    }
    check_host_ports_unique(containers, input.network_mode.as_ref())?;
    Ok(size)
}

/// Whether `requiresCompatibilities` lists `which`.
pub fn requires(input: &RegisterTaskDefinitionRequest, which: &Compatibility) -> bool {
    input
        .requires_compatibilities
        .as_deref()
        .unwrap_or_default()
        .contains(which)
}

fn check_containers(containers: &[ContainerDefinition]) -> Result<(), ApiError> {
    if containers.is_empty() {
        return Err(ApiError::client("Container list cannot be empty."));
    }
    let mut names = HashSet::new();
    for container in containers {
        let name = container.name.as_deref().unwrap_or_default();
        if name.is_empty() {
            return Err(ApiError::client(
                "Container.name should not be null or empty.",
            ));
        }
        if name.len() > MAX_NAME || !name.bytes().all(is_name_char) {
            return Err(ApiError::client(
                "Container.name contains invalid characters.",
            ));
        }
        if !names.insert(name) {
            return Err(ApiError::client(
                "Container names must be unique within a Task Definition.",
            ));
        }
        // Real ECS: aws/aws-cli#5924, aws-actions/amazon-ecs-render-task-definition#87.
        if container.image.as_deref().unwrap_or_default().is_empty() {
            return Err(ApiError::client(
                "Container.image should not be null or empty.",
            ));
        }
    }
    // `essential` defaults to true (ContainerDefinition.essential).
    if !containers.iter().any(|c| c.essential.unwrap_or(true)) {
        return Err(ApiError::client(
            "Task definition doesn't have any essential container.",
        ));
    }
    Ok(())
}

fn check_fargate(network_mode: Option<&NetworkMode>, size: TaskSize) -> Result<(), ApiError> {
    if network_mode != Some(&NetworkMode::Awsvpc) {
        return Err(ApiError::client(
            "Fargate only supports network mode \u{2018}awsvpc\u{2019}.",
        ));
    }
    let Some(cpu) = size.cpu else {
        return Err(ApiError::client(
            "Fargate requires that 'cpu' be defined at the task level.",
        ));
    };
    let Some(memory) = size.memory else {
        return Err(ApiError::client(
            "Fargate requires that 'memory' be defined at the task level.",
        ));
    };
    if !is_fargate_size(cpu, memory) {
        return Err(ApiError::client(format!(
            "No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. See the Amazon ECS documentation for the valid values."
        )));
    }
    Ok(())
}

/// The Fargate task sizes (Linux), from the ECS developer guide's "Task CPU and memory"
/// table: CPU units to the memory values (MiB) allowed with them.
pub fn is_fargate_size(cpu: u32, memory: u32) -> bool {
    let in_steps = |from: u32, to: u32, step: u32| {
        (from..=to).contains(&memory) && (memory - from).is_multiple_of(step)
    };
    match cpu {
        256 => matches!(memory, 512 | 1024 | 2048),
        512 => in_steps(1024, 4096, 1024),
        1024 => in_steps(2048, 8192, 1024),
        2048 => in_steps(4096, 16_384, 1024),
        4096 => in_steps(8192, 30_720, 1024),
        8192 => in_steps(16_384, 61_440, 4096),
        16_384 => in_steps(32_768, 122_880, 8192),
        _ => false,
    }
}

fn check_memory(container: &ContainerDefinition, size: TaskSize) -> Result<(), ApiError> {
    let name = container.name.as_deref().unwrap_or_default();
    // Real ECS answers "Invalid 'memory' setting for container '<name>'." to a memory of 0
    // (ansible/ansible#67647); a non-positive reservation is refused the same way.
    for (member, value) in [
        ("memory", container.memory),
        ("memoryReservation", container.memory_reservation),
    ] {
        if value.is_some_and(|v| v <= 0) {
            return Err(ApiError::client(format!(
                "Invalid '{member}' setting for container '{name}'."
            )));
        }
    }
    if container.memory.is_none() && container.memory_reservation.is_none() && size.memory.is_none()
    {
        return Err(ApiError::client(format!(
            "Invalid setting for container '{name}'. At least one of 'memory' or 'memoryReservation' must be specified."
        )));
    }
    if let (Some(memory), Some(reservation)) = (container.memory, container.memory_reservation) {
        if reservation > memory {
            // ECS documents the rule ("memory must be greater than or equal to
            // memoryReservation"); its exact message is not public, so this is ours.
            return Err(ApiError::client(format!(
                "Invalid setting for container '{name}'. 'memoryReservation' must be less than or equal to 'memory'."
            )));
        }
    }
    if let (Some(memory), Some(task)) = (container.memory, size.memory) {
        if i64::from(memory) > i64::from(task) {
            return Err(ApiError::client(format!(
                "The 'memory' setting for container '{name}' is greater than for the task."
            )));
        }
    }
    Ok(())
}

fn check_port_mappings(
    container: &ContainerDefinition,
    network_mode: Option<&NetworkMode>,
) -> Result<(), ApiError> {
    let name = container.name.as_deref().unwrap_or_default();
    for mapping in container.port_mappings.as_deref().unwrap_or_default() {
        let port_ok = match mapping.container_port {
            Some(port) => (1..=65_535).contains(&port),
            None => mapping.container_port_range.is_some(),
        };
        if !port_ok {
            return Err(ApiError::client(format!(
                "Invalid 'containerPort' setting for container '{name}'."
            )));
        }
        if let Some(host) = mapping.host_port {
            if !(0..=65_535).contains(&host) {
                // ECS's wording for an out-of-range host port is not public; ours.
                return Err(ApiError::client(format!(
                    "Invalid 'hostPort' setting for container '{name}'."
                )));
            }
        }
        if let Some(mode @ (NetworkMode::Awsvpc | NetworkMode::Host)) = network_mode {
            check_same_ports(mapping, mode)?;
        }
    }
    Ok(())
}

/// awsvpc and host: the host port is the container port (or left out, and filled in).
fn check_same_ports(mapping: &PortMapping, mode: &NetworkMode) -> Result<(), ApiError> {
    match (mapping.host_port, mapping.container_port) {
        (None, _) | (Some(0), _) => Ok(()),
        (Some(host), Some(container)) if host == container => Ok(()),
        // ECS's awsvpc message is quoted above; for host mode we use the same sentence
        // with the mode's name (its host-mode wording is not public).
        _ => Err(ApiError::client(format!(
            "When networkMode={}, the host ports and container ports in port mappings must match.",
            mode.as_str()
        ))),
    }
}

/// The same (protocol, host port) may be mapped only once in a task. A host port of 0 or
/// none is dynamic in bridge mode and never collides there.
fn check_host_ports_unique(
    containers: &[ContainerDefinition],
    network_mode: Option<&NetworkMode>,
) -> Result<(), ApiError> {
    let same_ports = matches!(network_mode, Some(NetworkMode::Awsvpc | NetworkMode::Host));
    let mut seen = HashSet::new();
    for mapping in containers
        .iter()
        .flat_map(|c| c.port_mappings.as_deref().unwrap_or_default())
    {
        let host = match mapping.host_port.filter(|p| *p != 0) {
            Some(port) => Some(port),
            None if same_ports => mapping.container_port,
            None => None,
        };
        let Some(host) = host else { continue };
        let protocol = mapping
            .protocol
            .as_ref()
            .unwrap_or(&TransportProtocol::Tcp)
            .as_str()
            .to_ascii_uppercase();
        if !seen.insert((protocol.clone(), host)) {
            return Err(ApiError::client(format!(
                "{protocol} host port '{host}' is mapped multiple times in task."
            )));
        }
    }
    Ok(())
}

fn invalid_cpu() -> ApiError {
    ApiError::invalid_parameter("Invalid 'cpu' setting for task.")
}

fn invalid_memory() -> ApiError {
    ApiError::invalid_parameter("Invalid 'memory' setting for task.")
}

/// Task CPU: CPU units ("1024") or vCPUs ("1 vCPU", "0.25 vcpu"). ECS converts it "to an
/// integer indicating the CPU units when the task definition is registered" (task
/// definition parameters, "Task size").
pub fn parse_cpu(text: &str) -> Result<u32, ApiError> {
    parse_unit(text, &["vcpu"], 1024).ok_or_else(invalid_cpu)
}

/// Task memory: MiB ("2048") or GB ("2 GB", "0.5GB"); converted "to an integer indicating
/// the MiB when the task definition is registered".
pub fn parse_memory(text: &str) -> Result<u32, ApiError> {
    parse_unit(text, &["gb", "gib"], 1024)
        .or_else(|| parse_unit(text, &["mb", "mib"], 1))
        .ok_or_else(invalid_memory)
}

/// A plain positive integer, or a number followed by one of `suffixes` (any case, spaces
/// allowed) scaled by `scale`; the result must be a positive whole number.
fn parse_unit(text: &str, suffixes: &[&str], scale: u32) -> Option<u32> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    if let Some(number) = suffixes.iter().find_map(|s| lower.strip_suffix(s)) {
        return scaled(number.trim(), scale);
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u32>().ok().filter(|v| *v > 0);
    }
    None
}

/// `number * scale` when it is a whole number of units (e.g. "0.25" vCPU = 256).
fn scaled(number: &str, scale: u32) -> Option<u32> {
    let valid = !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && number.bytes().filter(|b| *b == b'.').count() <= 1;
    if !valid {
        return None;
    }
    let value = number.parse::<f64>().ok()? * f64::from(scale);
    let rounded = value.round();
    let whole = (value - rounded).abs() < 1e-9 && rounded >= 1.0 && rounded <= f64::from(u32::MAX);
    // Checked just above: a whole number within u32's range.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    whole.then_some(rounded as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_sizes_are_read_in_units_or_as_vcpu_and_gb() {
        assert_eq!(parse_cpu("1024").unwrap(), 1024);
        assert_eq!(parse_cpu("1 vCPU").unwrap(), 1024);
        assert_eq!(parse_cpu("0.25 vcpu").unwrap(), 256);
        assert_eq!(parse_cpu("2vCPU").unwrap(), 2048);
        assert_eq!(parse_memory("2 GB").unwrap(), 2048);
        assert_eq!(parse_memory("0.5GB").unwrap(), 512);
        assert_eq!(parse_memory("512").unwrap(), 512);
        assert_eq!(parse_memory("512 MiB").unwrap(), 512);
        for bad in [
            "",
            "abc",
            "-1",
            "0",
            "1.5",
            "0.0001 vCPU",
            "1..2 vCPU",
            "1 GB x",
        ] {
            assert!(parse_cpu(bad).is_err(), "{bad:?}");
        }
        assert!(parse_memory("1 TB").is_err());
    }

    #[test]
    fn the_fargate_table_accepts_exactly_its_combinations() {
        assert!(is_fargate_size(256, 512));
        assert!(is_fargate_size(256, 2048));
        assert!(!is_fargate_size(256, 3072));
        assert!(is_fargate_size(512, 4096));
        assert!(!is_fargate_size(512, 512));
        assert!(is_fargate_size(4096, 30_720));
        assert!(!is_fargate_size(4096, 31_744));
        assert!(is_fargate_size(8192, 20_480));
        assert!(!is_fargate_size(8192, 17_408));
        assert!(is_fargate_size(16_384, 122_880));
        assert!(!is_fargate_size(16_384, 36_864));
        assert!(!is_fargate_size(128, 512));
    }

    #[test]
    fn family_names_follow_ecs_rules() {
        assert!(check_family("web-app_2").is_ok());
        assert!(check_family(&"a".repeat(255)).is_ok());
        assert!(check_family(&"a".repeat(256)).is_err());
        assert!(check_family("a.b").is_err());
        assert!(check_family("").is_err());
    }
}
