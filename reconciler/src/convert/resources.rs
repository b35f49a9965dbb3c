//! CPU and memory: ECS units and MiB to Kubernetes quantities.
//!
//! - Container `cpu` (1024 units = 1 vCPU, a relative weight on ECS's EC2 launch type)
//!   becomes a CPU *request* of `ceil(units * 1000 / 1024)` millicores; kubecs sets no CPU
//!   limit, because ECS's container cpu is not one.
//! - Container `memory` (the hard limit, MiB) becomes the memory *limit*;
//!   `memoryReservation` (the soft limit) becomes the memory *request*. With only `memory`,
//!   Kubernetes takes the limit as the request, as ECS reserves `memory` for placement.
//! - Task-level `cpu` and `memory` are what the task reserves and may use in all. Kubernetes
//!   1.20 has no pod-level resources, so: the part of the task's cpu and memory that its
//!   containers do not reserve is added to the request of the first essential container
//!   (for memory: the first essential one without a hard limit of its own, or else the first
//!   without one); and every container without a hard memory limit gets the task's memory
//!   as its limit, since no container of an ECS task can use more than the task has.
//!
//! Quantities are written in the canonical form the API server stores (`1`, not `1000m`;
//! `1Gi`, not `1024Mi`), so that applying them again changes nothing.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kubecs_api_models::{ContainerDefinition, ResourceType, TaskDefinition};

use super::validate::Unsupported;

/// The Kubernetes extended resource an ECS GPU requirement asks for.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Millicores for ECS cpu units, rounded up so that a small share is never 0.
pub fn millicores(units: i64) -> i64 {
    (units * 1000 + 1023) / 1024
}

/// The canonical CPU quantity for millicores.
pub fn cpu_quantity(millicores: i64) -> Quantity {
    if millicores % 1000 == 0 {
        Quantity((millicores / 1000).to_string())
    } else {
        Quantity(format!("{millicores}m"))
    }
}

/// The canonical memory quantity for MiB.
pub fn memory_quantity(mib: i64) -> Quantity {
    if mib % (1024 * 1024) == 0 {
        Quantity(format!("{}Ti", mib / (1024 * 1024)))
    } else if mib % 1024 == 0 {
        Quantity(format!("{}Gi", mib / 1024))
    } else {
        Quantity(format!("{mib}Mi"))
    }
}

/// A task-level `cpu`: units (`"256"`) or vCPU (`"0.25 vCPU"`, `"1vcpu"`).
pub fn parse_task_cpu(value: &str) -> Result<i64, Unsupported> {
    parse_scaled(value, &["vcpu"]).ok_or_else(|| {
        Unsupported::task(
            "cpu",
            format!("'{value}' is neither CPU units nor a number of vCPU."),
        )
    })
}

/// A task-level `memory`: MiB (`"512"`) or GB (`"0.5 GB"`, `"2GB"`; ECS counts 1 GB as
/// 1024 MiB).
pub fn parse_task_memory(value: &str) -> Result<i64, Unsupported> {
    parse_scaled(value, &["gb"]).ok_or_else(|| {
        Unsupported::task(
            "memory",
            format!("'{value}' is neither MiB nor a number of GB."),
        )
    })
}

/// An integer, or a decimal with one of the suffixes, times 1024.
fn parse_scaled(value: &str, suffixes: &[&str]) -> Option<i64> {
    let lower = value.trim().to_ascii_lowercase();
    for suffix in suffixes {
        if let Some(number) = lower.strip_suffix(suffix) {
            let n: f64 = number.trim().parse().ok()?;
            let scaled = (n * 1024.0).round();
            return (n.is_finite() && scaled > 0.0 && scaled < 1e12).then_some(scaled as i64);
        }
    }
    lower.parse::<i64>().ok().filter(|n| *n > 0)
}

/// What the containers of a task get, in container-definition order.
pub fn container_resources(
    td: &TaskDefinition,
) -> Result<Vec<Option<ResourceRequirements>>, Unsupported> {
    let containers = td.container_definitions.as_deref().unwrap_or_default();
    let task_cpu = td.cpu.as_deref().map(parse_task_cpu).transpose()?;
    let task_memory = td.memory.as_deref().map(parse_task_memory).transpose()?;

    let mut cpu: Vec<i64> = containers
        .iter()
        .map(|c| i64::from(c.cpu.unwrap_or(0).max(0)))
        .collect();
    let limits: Vec<Option<i64>> = containers
        .iter()
        .map(|c| c.memory.filter(|m| *m > 0).map(i64::from))
        .collect();
    let mut requests: Vec<Option<i64>> = containers
        .iter()
        .zip(&limits)
        .map(|(c, limit)| {
            c.memory_reservation
                .filter(|m| *m > 0)
                .map(i64::from)
                .or(*limit)
        })
        .collect();

    if let Some(task_cpu) = task_cpu {
        let left = task_cpu - cpu.iter().sum::<i64>();
        if left > 0 {
            if let Some(i) = first_essential(containers, |_| true) {
                cpu[i] += left;
            }
        }
    }
    if let Some(task_memory) = task_memory {
        let left = task_memory - requests.iter().flatten().sum::<i64>();
        let unlimited = |i: usize| limits[i].is_none();
        if left > 0 {
            if let Some(i) = first_essential(containers, unlimited) {
                requests[i] = Some(requests[i].unwrap_or(0) + left);
            }
        }
    }

    containers
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut req = BTreeMap::new();
            let mut lim = BTreeMap::new();
            if cpu[i] > 0 {
                req.insert("cpu".to_owned(), cpu_quantity(millicores(cpu[i])));
            }
            if let Some(mib) = requests[i] {
                req.insert("memory".to_owned(), memory_quantity(mib));
            }
            if let Some(mib) = limits[i].or(task_memory) {
                lim.insert("memory".to_owned(), memory_quantity(mib));
            }
            if let Some(gpus) = gpus(c)? {
                lim.insert(GPU_RESOURCE.to_owned(), Quantity(gpus.to_string()));
            }
            Ok(
                (!req.is_empty() || !lim.is_empty()).then(|| ResourceRequirements {
                    requests: (!req.is_empty()).then_some(req),
                    limits: (!lim.is_empty()).then_some(lim),
                    ..ResourceRequirements::default()
                }),
            )
        })
        .collect()
}

/// The first essential container (ECS's default) that `fits`, else the first that does.
fn first_essential(
    containers: &[ContainerDefinition],
    fits: impl Fn(usize) -> bool,
) -> Option<usize> {
    let essential = |i: usize| containers[i].essential != Some(false);
    (0..containers.len())
        .find(|&i| essential(i) && fits(i))
        .or_else(|| (0..containers.len()).find(|&i| fits(i)))
}

/// The GPUs a container asks for (`resourceRequirements` of type GPU).
fn gpus(c: &ContainerDefinition) -> Result<Option<u32>, Unsupported> {
    let name = c.name.as_deref().unwrap_or_default();
    let mut total = None;
    for r in c.resource_requirements.iter().flatten() {
        let value = r.value.as_deref().unwrap_or_default();
        match &r.r#type {
            Some(ResourceType::Gpu) => {
                let n: u32 = value.parse().map_err(|_| {
                    Unsupported::container(
                        name,
                        "resourceRequirements",
                        format!("the GPU count '{value}' is not a whole number."),
                    )
                })?;
                total = Some(total.unwrap_or(0) + n);
            }
            Some(ResourceType::InferenceAccelerator) => {
                return Err(Unsupported::container(
                    name,
                    "resourceRequirements",
                    "Elastic Inference accelerators are not supported by kubecs.",
                ))
            }
            other => {
                return Err(Unsupported::container(
                    name,
                    "resourceRequirements",
                    format!(
                        "'{}' is not a resource type kubecs supports (GPU).",
                        other.as_ref().map_or("", |t| t.as_str())
                    ),
                ))
            }
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use kubecs_api_models::ResourceRequirement;

    use super::*;
    use crate::convert::testing::{container, task};

    fn q(s: &str) -> Quantity {
        Quantity(s.into())
    }

    #[test]
    fn cpu_units_become_millicores_rounded_up() {
        assert_eq!(millicores(1024), 1000);
        assert_eq!(millicores(256), 250);
        assert_eq!(millicores(512), 500);
        assert_eq!(millicores(10), 10);
        assert_eq!(millicores(1), 1);
        assert_eq!(millicores(2048), 2000);
    }

    #[test]
    fn quantities_are_written_in_canonical_form() {
        assert_eq!(cpu_quantity(1000), q("1"));
        assert_eq!(cpu_quantity(250), q("250m"));
        assert_eq!(memory_quantity(512), q("512Mi"));
        assert_eq!(memory_quantity(2048), q("2Gi"));
        assert_eq!(memory_quantity(1024 * 1024), q("1Ti"));
    }

    #[test]
    fn task_cpu_is_read_as_units_or_vcpu() {
        assert_eq!(parse_task_cpu("256").unwrap(), 256);
        assert_eq!(parse_task_cpu("0.25 vCPU").unwrap(), 256);
        assert_eq!(parse_task_cpu("1vcpu").unwrap(), 1024);
        assert!(parse_task_cpu("lots").is_err());
        assert!(parse_task_cpu("0").is_err());
    }

    #[test]
    fn task_memory_is_read_as_mib_or_gb() {
        assert_eq!(parse_task_memory("512").unwrap(), 512);
        assert_eq!(parse_task_memory("0.5 GB").unwrap(), 512);
        assert_eq!(parse_task_memory("2GB").unwrap(), 2048);
        assert!(parse_task_memory("2 GiB").is_err());
    }

    #[test]
    fn container_cpu_becomes_a_cpu_request_and_no_limit() {
        let td = task(vec![ContainerDefinition {
            cpu: Some(512),
            ..container("a")
        }]);
        let r = container_resources(&td).unwrap()[0].clone().unwrap();
        assert_eq!(r.requests.unwrap()["cpu"], q("500m"));
        assert!(r.limits.is_none());
    }

    #[test]
    fn hard_memory_is_the_limit_and_the_reservation_the_request() {
        let td = task(vec![ContainerDefinition {
            memory: Some(1024),
            memory_reservation: Some(256),
            ..container("a")
        }]);
        let r = container_resources(&td).unwrap()[0].clone().unwrap();
        assert_eq!(r.requests.unwrap()["memory"], q("256Mi"));
        assert_eq!(r.limits.unwrap()["memory"], q("1Gi"));
    }

    #[test]
    fn hard_memory_alone_is_both_request_and_limit() {
        let td = task(vec![ContainerDefinition {
            memory: Some(500),
            ..container("a")
        }]);
        let r = container_resources(&td).unwrap()[0].clone().unwrap();
        assert_eq!(r.requests.unwrap()["memory"], q("500Mi"));
        assert_eq!(r.limits.unwrap()["memory"], q("500Mi"));
    }

    #[test]
    fn a_reservation_alone_is_a_request_without_a_limit() {
        let td = task(vec![ContainerDefinition {
            memory_reservation: Some(128),
            ..container("a")
        }]);
        let r = container_resources(&td).unwrap()[0].clone().unwrap();
        assert_eq!(r.requests.unwrap()["memory"], q("128Mi"));
        assert!(r.limits.is_none());
    }

    #[test]
    fn a_container_without_resources_gets_none() {
        let td = task(vec![container("a")]);
        assert_eq!(container_resources(&td).unwrap(), vec![None]);
    }

    #[test]
    fn task_resources_left_over_go_to_the_first_essential_container() {
        let td = TaskDefinition {
            cpu: Some("1024".into()),
            memory: Some("2GB".into()),
            ..task(vec![
                ContainerDefinition {
                    essential: Some(false),
                    cpu: Some(256),
                    memory_reservation: Some(512),
                    ..container("sidecar")
                },
                container("app"),
            ])
        };
        let r = container_resources(&td).unwrap();
        let sidecar = r[0].clone().unwrap();
        let app = r[1].clone().unwrap();
        assert_eq!(sidecar.requests.as_ref().unwrap()["cpu"], q("250m"));
        assert_eq!(sidecar.requests.unwrap()["memory"], q("512Mi"));
        assert_eq!(app.requests.as_ref().unwrap()["cpu"], q("750m"));
        assert_eq!(app.requests.unwrap()["memory"], q("1536Mi"));
        // Neither container has a hard limit of its own: the task's memory caps each.
        assert_eq!(sidecar.limits.unwrap()["memory"], q("2Gi"));
        assert_eq!(app.limits.unwrap()["memory"], q("2Gi"));
    }

    #[test]
    fn task_memory_is_not_added_beyond_a_containers_own_hard_limit() {
        let td = TaskDefinition {
            memory: Some("1024".into()),
            ..task(vec![
                ContainerDefinition {
                    memory: Some(256),
                    ..container("app")
                },
                ContainerDefinition {
                    essential: Some(false),
                    ..container("helper")
                },
            ])
        };
        let r = container_resources(&td).unwrap();
        let app = r[0].clone().unwrap();
        let helper = r[1].clone().unwrap();
        assert_eq!(app.requests.unwrap()["memory"], q("256Mi"));
        assert_eq!(app.limits.unwrap()["memory"], q("256Mi"));
        assert_eq!(helper.requests.unwrap()["memory"], q("768Mi"));
        assert_eq!(helper.limits.unwrap()["memory"], q("1Gi"));
    }

    #[test]
    fn a_gpu_requirement_becomes_an_nvidia_gpu_limit() {
        let td = task(vec![ContainerDefinition {
            resource_requirements: Some(vec![ResourceRequirement {
                r#type: Some(ResourceType::Gpu),
                value: Some("2".into()),
            }]),
            ..container("a")
        }]);
        let r = container_resources(&td).unwrap()[0].clone().unwrap();
        assert_eq!(r.limits.unwrap()[GPU_RESOURCE], q("2"));
    }

    #[test]
    fn an_inference_accelerator_requirement_is_refused() {
        let td = task(vec![ContainerDefinition {
            resource_requirements: Some(vec![ResourceRequirement {
                r#type: Some(ResourceType::InferenceAccelerator),
                value: Some("device_1".into()),
            }]),
            ..container("a")
        }]);
        assert!(container_resources(&td).is_err());
    }
}
