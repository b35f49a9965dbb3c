//! Kubernetes nodes as ECS container instances: what DescribeContainerInstances shows of
//! a node, computed from the node and the pods placed on it.
//!
//! - Every node is a container instance of every ECS cluster. Its id is derived from the
//!   node's name (32 hex digits, the form of ECS's ids), so it is the same in every
//!   cluster and region and across restarts of kubecs.
//! - `ec2InstanceId`: the last segment of the node's provider id
//!   (`aws:///us-east-1a/i-0abc...` gives `i-0abc...`), else the node's name.
//! - `status`: DRAINING while the node is cordoned, else ACTIVE; `agentConnected`: the
//!   node is Ready.
//! - Resources, in ECS's units: `CPU` is allocatable cores x 1024, `MEMORY` allocatable
//!   MiB; `PORTS`/`PORTS_UDP` the host ports in use. Remaining = allocatable minus the
//!   requests of every pod on the node that has not finished (kubecs's or not), as the
//!   scheduler counts them.
//! - Attributes from the node's standard labels: `ecs.os-type`, `ecs.cpu-architecture`,
//!   `ecs.availability-zone`, `ecs.instance-type`.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kubecs_api_models::Timestamp;

use super::tasks::{state, TaskState};
use crate::convert::names::{CAPACITY_PROVIDER_LABEL, MANAGED_BY, MANAGED_BY_LABEL};

/// The annotation kubecs puts on a node it cordoned for UpdateContainerInstancesState
/// DRAINING: the service tasks on such a node are moved off (a node cordoned by someone
/// else only takes no new tasks).
pub const DRAINING_ANNOTATION: &str = "ecs.kubecs.io/draining";

/// Zone labels, newest first.
const ZONE_LABELS: [&str; 2] = [
    "topology.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/zone",
];
const INSTANCE_TYPE_LABELS: [&str; 2] = [
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
];

/// A node as ECS shows a container instance.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeFacts {
    /// The node's name.
    pub name: String,
    /// The container instance id ([`instance_id`]).
    pub id: String,
    /// The node's provider id, if it has one.
    pub provider_id: Option<String>,
    pub ec2_instance_id: String,
    /// The node's Ready condition is True.
    pub ready: bool,
    /// The node is cordoned (`spec.unschedulable`).
    pub cordoned: bool,
    /// kubecs cordoned it for a DRAINING request ([`DRAINING_ANNOTATION`]).
    pub draining: bool,
    pub registered_at: Option<Timestamp>,
    /// Allocatable CPU in ECS units (1024 per core) and memory in MiB.
    pub cpu: i64,
    pub memory_mib: i64,
    /// The requests of the pods on the node, in the same units (CPU rounded up).
    pub used_cpu: i64,
    pub used_memory_mib: i64,
    /// Host ports in use.
    pub tcp_ports: BTreeSet<i32>,
    pub udp_ports: BTreeSet<i32>,
    /// ECS attributes from the node's labels (name, value), sorted by name.
    pub attributes: Vec<(String, String)>,
    pub zone: Option<String>,
    /// The capacity provider it belongs to (`CAPACITY_PROVIDER_LABEL`).
    pub capacity_provider: Option<String>,
    pub kubelet_version: Option<String>,
    pub runtime_version: Option<String>,
    /// kubecs's tasks on the node by namespace (an ECS cluster's): (running, pending).
    pub tasks: BTreeMap<String, (i32, i32)>,
}

/// The container instance id of the node named `name`: 32 hex digits from the name, the
/// same wherever and whenever it is computed.
pub fn instance_id(name: &str) -> String {
    super::records::stable_id(&format!("node/{name}"))
}

/// What ECS would show of `node`, with `pods` the pods placed on it (others are ignored).
pub fn facts<'a>(node: &Node, pods: impl IntoIterator<Item = &'a Pod>) -> NodeFacts {
    let name = node.metadata.name.clone().unwrap_or_default();
    let labels = node.metadata.labels.clone().unwrap_or_default();
    let label = |keys: &[&str]| keys.iter().find_map(|k| labels.get(*k).cloned());
    let spec = node.spec.as_ref();
    let status = node.status.as_ref();
    let provider_id = spec.and_then(|s| s.provider_id.clone());
    let ec2_instance_id = provider_id
        .as_deref()
        .and_then(|p| p.rsplit('/').next())
        .filter(|id| !id.is_empty())
        .map_or_else(|| name.clone(), str::to_owned);
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let allocatable = status.and_then(|s| s.allocatable.as_ref());
    let cpu = allocatable
        .and_then(|a| a.get("cpu"))
        .and_then(millicores)
        .map_or(0, |m| m * 1024 / 1000);
    let memory_mib = allocatable
        .and_then(|a| a.get("memory"))
        .and_then(bytes)
        .map_or(0, |b| b / (1024 * 1024));
    let mut facts = NodeFacts {
        name: name.clone(),
        id: instance_id(&name),
        provider_id,
        ec2_instance_id,
        ready,
        cordoned: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        draining: node
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.get(DRAINING_ANNOTATION).is_some_and(|v| v == "true")),
        registered_at: node
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| Timestamp::from_epoch_millis(t.0.as_millisecond())),
        cpu,
        memory_mib,
        zone: label(&ZONE_LABELS),
        capacity_provider: label(&[CAPACITY_PROVIDER_LABEL]),
        kubelet_version: status
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.kubelet_version.clone()),
        runtime_version: status
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.container_runtime_version.clone()),
        ..NodeFacts::default()
    };
    let mut attributes = BTreeMap::new();
    if let Some(os) = labels.get("kubernetes.io/os") {
        attributes.insert("ecs.os-type", os.clone());
    }
    if let Some(arch) = labels.get("kubernetes.io/arch") {
        let arch = match arch.as_str() {
            "amd64" => "x86_64",
            other => other,
        };
        attributes.insert("ecs.cpu-architecture", arch.to_owned());
    }
    if let Some(zone) = &facts.zone {
        attributes.insert("ecs.availability-zone", zone.clone());
    }
    if let Some(kind) = label(&INSTANCE_TYPE_LABELS) {
        attributes.insert("ecs.instance-type", kind);
    }
    facts.attributes = attributes
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();

    let (mut used_milli, mut used_bytes) = (0i64, 0i64);
    for pod in pods {
        let on_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(&name);
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if !on_node || matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        let (milli, bytes) = requests(pod);
        used_milli += milli;
        used_bytes += bytes;
        for port in pod
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .flat_map(|c| c.ports.iter().flatten())
        {
            if let Some(host) = port.host_port.filter(|p| *p > 0) {
                if port.protocol.as_deref() == Some("UDP") {
                    facts.udp_ports.insert(host);
                } else {
                    facts.tcp_ports.insert(host);
                }
            }
        }
        let managed = pod
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.get(MANAGED_BY_LABEL).is_some_and(|v| v == MANAGED_BY));
        if let (true, Some(namespace)) = (managed, pod.metadata.namespace.as_ref()) {
            let counts = facts.tasks.entry(namespace.clone()).or_default();
            match state(pod) {
                TaskState::Running => counts.0 += 1,
                TaskState::Pending => counts.1 += 1,
                _ => {}
            }
        }
    }
    facts.used_cpu = (used_milli * 1024 + 999) / 1000;
    facts.used_memory_mib = (used_bytes + 1024 * 1024 - 1) / (1024 * 1024);
    facts
}

/// The scheduler's view of a pod's requests: the sum over its containers, or the largest
/// init container's if that is more, plus the pod's overhead.
fn requests(pod: &Pod) -> (i64, i64) {
    let Some(spec) = pod.spec.as_ref() else {
        return (0, 0);
    };
    let of = |resources: Option<&k8s_openapi::api::core::v1::ResourceRequirements>| {
        let requests = resources.and_then(|r| r.requests.as_ref());
        (
            requests
                .and_then(|r| r.get("cpu"))
                .and_then(millicores)
                .unwrap_or(0),
            requests
                .and_then(|r| r.get("memory"))
                .and_then(bytes)
                .unwrap_or(0),
        )
    };
    let (mut cpu, mut memory) = spec
        .containers
        .iter()
        .map(|c| of(c.resources.as_ref()))
        .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
    for init in spec.init_containers.iter().flatten() {
        let (c, m) = of(init.resources.as_ref());
        cpu = cpu.max(c);
        memory = memory.max(m);
    }
    if let Some(overhead) = spec.overhead.as_ref() {
        cpu += overhead.get("cpu").and_then(millicores).unwrap_or(0);
        memory += overhead.get("memory").and_then(bytes).unwrap_or(0);
    }
    (cpu, memory)
}

/// A CPU quantity in millicores, rounded up ("100m", "2", "0.5", "1500000n").
pub fn millicores(q: &Quantity) -> Option<i64> {
    let s = q.0.trim();
    let (number, scale) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let value: f64 = number.parse().ok()?;
    let milli = match scale {
        "" => value * 1000.0,
        "m" => value,
        "u" => value / 1000.0,
        "n" => value / 1_000_000.0,
        "k" => value * 1_000_000.0,
        _ => return None,
    };
    Some(milli.ceil() as i64)
}

/// A memory quantity in bytes ("128Mi", "1Gi", "1G", "1000", "1e6").
pub fn bytes(q: &Quantity) -> Option<i64> {
    let s = q.0.trim();
    const SUFFIXES: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("Pi", 1_125_899_906_842_624.0),
        ("Ei", 1_152_921_504_606_846_976.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = s.strip_suffix(suffix) {
            return Some((number.parse::<f64>().ok()? * factor).ceil() as i64);
        }
    }
    if let Some(number) = s.strip_suffix('m') {
        return Some((number.parse::<f64>().ok()? / 1000.0).ceil() as i64);
    }
    Some(s.parse::<f64>().ok()?.ceil() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Container, ContainerPort, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo, PodSpec,
        PodStatus, ResourceRequirements,
    };
    use kube::api::ObjectMeta;

    fn q(s: &str) -> Quantity {
        Quantity(s.to_owned())
    }

    fn node(name: &str) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                labels: Some(
                    [
                        ("kubernetes.io/os", "linux"),
                        ("kubernetes.io/arch", "amd64"),
                        ("topology.kubernetes.io/zone", "us-east-1a"),
                        ("node.kubernetes.io/instance-type", "m5.large"),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(NodeSpec {
                provider_id: Some("aws:///us-east-1a/i-0123456789abcdef0".to_owned()),
                ..NodeSpec::default()
            }),
            status: Some(NodeStatus {
                allocatable: Some(
                    [("cpu", q("2")), ("memory", q("3840Mi")), ("pods", q("110"))]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect(),
                ),
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".to_owned(),
                    status: "True".to_owned(),
                    ..NodeCondition::default()
                }]),
                node_info: Some(NodeSystemInfo {
                    kubelet_version: "v1.20.2".to_owned(),
                    container_runtime_version: "containerd://1.4.0".to_owned(),
                    ..NodeSystemInfo::default()
                }),
                ..NodeStatus::default()
            }),
        }
    }

    fn pod(node: &str, cpu: &str, memory: &str, host_port: Option<i32>, phase: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some("p".to_owned()),
                namespace: Some("ecs-us-east-1-default".to_owned()),
                uid: Some("0b7c6f3e-1d1a-4a47-9d55-0a8cf4c1a0b1".to_owned()),
                labels: Some(
                    [(MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned())]
                        .into_iter()
                        .collect(),
                ),
                ..ObjectMeta::default()
            },
            spec: Some(PodSpec {
                node_name: Some(node.to_owned()),
                containers: vec![Container {
                    name: "web".to_owned(),
                    resources: Some(ResourceRequirements {
                        requests: Some(
                            [("cpu", q(cpu)), ("memory", q(memory))]
                                .into_iter()
                                .map(|(k, v)| (k.to_owned(), v))
                                .collect(),
                        ),
                        ..ResourceRequirements::default()
                    }),
                    ports: host_port.map(|p| {
                        vec![ContainerPort {
                            container_port: 80,
                            host_port: Some(p),
                            protocol: Some("TCP".to_owned()),
                            ..ContainerPort::default()
                        }]
                    }),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.to_owned()),
                ..PodStatus::default()
            }),
        }
    }

    #[test]
    fn a_node_is_an_instance_with_its_allocatable_resources_and_labels() {
        let facts = facts(&node("n1"), []);
        assert_eq!(facts.name, "n1");
        assert_eq!(facts.id, instance_id("n1"));
        assert_eq!(facts.id.len(), 32);
        assert!(facts.id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(facts.ec2_instance_id, "i-0123456789abcdef0");
        assert!(facts.ready);
        assert!(!facts.cordoned);
        assert_eq!((facts.cpu, facts.memory_mib), (2048, 3840));
        assert_eq!((facts.used_cpu, facts.used_memory_mib), (0, 0));
        assert_eq!(
            facts.attributes,
            vec![
                ("ecs.availability-zone".to_owned(), "us-east-1a".to_owned()),
                ("ecs.cpu-architecture".to_owned(), "x86_64".to_owned()),
                ("ecs.instance-type".to_owned(), "m5.large".to_owned()),
                ("ecs.os-type".to_owned(), "linux".to_owned()),
            ]
        );
        assert_eq!(facts.kubelet_version.as_deref(), Some("v1.20.2"));
    }

    #[test]
    fn ids_differ_by_node_and_never_change() {
        assert_ne!(instance_id("n1"), instance_id("n2"));
        assert_eq!(instance_id("n1"), instance_id("n1"));
    }

    #[test]
    fn a_node_without_provider_id_is_known_by_its_name() {
        let mut n = node("hollow-1");
        n.spec = None;
        assert_eq!(facts(&n, []).ec2_instance_id, "hollow-1");
    }

    #[test]
    fn pods_on_the_node_use_its_resources_and_ports_until_they_finish() {
        let pods = [
            pod("n1", "250m", "512Mi", Some(8080), "Running"),
            pod("n1", "100m", "100M", None, "Pending"),
            pod("n1", "4", "1Gi", Some(9090), "Succeeded"),
            pod("n2", "1", "1Gi", Some(7070), "Running"),
        ];
        let facts = facts(&node("n1"), &pods);
        // 350 millicores is 358.4 ECS units, rounded up.
        assert_eq!(facts.used_cpu, 359);
        // 512 MiB + 100 MB (95.37 MiB) rounded up.
        assert_eq!(facts.used_memory_mib, 608);
        assert_eq!(facts.tcp_ports, BTreeSet::from([8080]));
        // Not Ready: pending; the Succeeded one counts as neither.
        assert_eq!(facts.tasks.get("ecs-us-east-1-default"), Some(&(0, 2)));
    }

    #[test]
    fn a_cordoned_node_is_draining_only_when_kubecs_drains_it() {
        let mut n = node("n1");
        n.spec.get_or_insert_with(NodeSpec::default).unschedulable = Some(true);
        let cordoned = facts(&n, []);
        assert!(cordoned.cordoned && !cordoned.draining);
        n.metadata.annotations = Some(
            [(DRAINING_ANNOTATION.to_owned(), "true".to_owned())]
                .into_iter()
                .collect(),
        );
        assert!(facts(&n, []).draining);
    }

    #[test]
    fn quantities_are_read_in_every_form_kubernetes_writes() {
        assert_eq!(millicores(&q("100m")), Some(100));
        assert_eq!(millicores(&q("2")), Some(2000));
        assert_eq!(millicores(&q("0.5")), Some(500));
        assert_eq!(millicores(&q("1500000n")), Some(2));
        assert_eq!(bytes(&q("128Mi")), Some(134_217_728));
        assert_eq!(bytes(&q("1G")), Some(1_000_000_000));
        assert_eq!(bytes(&q("1e6")), Some(1_000_000));
        assert_eq!(bytes(&q("3840Mi")), Some(3840 * 1_048_576));
        assert_eq!(millicores(&q("lots")), None);
    }
}
