//! The ECS task records of a service's pods: what ListTasks and DescribeTasks show. The
//! reconciler writes them with the service's observed status; a task whose pod is gone
//! keeps its last record, STOPPED, for at least an hour (as ECS keeps stopped tasks).
//!
//! - `lastStatus`: PENDING while placed and starting, ACTIVATING while running but not
//!   Ready (ECS's state between the containers starting and the task taking traffic),
//!   RUNNING when Ready, DEACTIVATING while being deleted, STOPPED once finished or gone.
//!   A pod never placed is no task, as ECS shows no task for a failed placement.
//! - `desiredStatus`: RUNNING, or STOPPED once the pod is being deleted or has finished.
//! - `startedBy` is the ECS deployment id and `group` is `service:<name>`, as for the
//!   tasks of an ECS service; `taskDefinitionArn` is the pod's family and revision.
//! - Containers: one per pod container (init containers are not ECS containers), with
//!   the state, exit code and reason the kubelet reports; `networkBindings` for host
//!   ports.
//! - `containerInstanceArn` is the pod's node as a container instance of the task's
//!   cluster ([`super::nodes`]); `availabilityZone` the node's zone label, when it has one.
//! - Not known on Kubernetes and left out: `pullStartedAt`/`pullStoppedAt`, task-level
//!   `cpu`/`memory` of a service's task (its task definition has them), `attachments`
//!   (bridge networking has none).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kubecs_api_models::{
    Container, ContainerOverride, HealthStatus, LaunchType, NetworkBinding, Service,
    Task as EcsTask, TaskOverride, TaskStopCode, Timestamp, TransportProtocol,
};

use super::tasks::{deployment_of_pod, state, task_arn, task_id, TaskState};
use crate::convert::names::{FAMILY_LABEL, REVISION_LABEL};

/// The record of one placed pod of `service`; `None` for a pod never placed or without
/// a UID.
pub fn of_pod(pod: &Pod, service: &Service, zones: &Zones) -> Option<EcsTask> {
    let owner = EcsTask {
        cluster_arn: service.cluster_arn.clone(),
        task_definition_arn: task_definition_arn(pod, service),
        group: service
            .service_name
            .as_ref()
            .map(|n| format!("service:{n}")),
        started_by: deployment_of_pod(pod).map(str::to_owned),
        launch_type: Some(service.launch_type.clone().unwrap_or(LaunchType::Ec2)),
        enable_execute_command: service.enable_execute_command.or(Some(false)),
        ..EcsTask::default()
    };
    of_owned_pod(pod, service.service_arn.as_deref()?, owner, zones)
}

/// The record of one placed pod of a daemon of the ECS Daemons API. ECS documents no
/// `group` or `startedBy` for daemon tasks; kubecs uses `daemon:<name>` (as a service's
/// tasks have `service:<name>`, and ListTasks' `daemonName` filters on it) and the id of
/// the newest deployment of the pod's revision. `taskDefinitionArn` is the revision's
/// daemon task definition, and `capacityProviderName` the provider of the pod's node.
pub fn of_daemon_pod(pod: &Pod, daemon: &DaemonTasks<'_>, zones: &Zones) -> Option<EcsTask> {
    let revision = pod
        .metadata
        .annotations
        .as_ref()?
        .get(daemon.revision_annotation)?;
    let owner = EcsTask {
        cluster_arn: Some(daemon.cluster_arn.to_owned()),
        task_definition_arn: daemon.task_definition_of(revision),
        group: Some(format!("daemon:{}", daemon.name)),
        started_by: daemon.deployment_of(revision),
        launch_type: Some(LaunchType::Ec2),
        capacity_provider_name: daemon.provider_of(pod),
        enable_execute_command: Some(daemon.enable_execute_command),
        ..EcsTask::default()
    };
    of_owned_pod(pod, daemon.daemon_arn, owner, zones)
}

/// Whether a task belongs to a scheduler (a service or a daemon, by its `group`): its
/// pod is its workload's, named by Kubernetes and replaced when deleted, and its record
/// is written by its workload's reconcile. Otherwise it is a standalone task (RunTask).
pub fn is_scheduled(task: &EcsTask) -> bool {
    task.group
        .as_deref()
        .is_some_and(|g| g.starts_with("service:") || g.starts_with("daemon:"))
}

/// What a daemon's task records are made of, beyond its pods.
pub struct DaemonTasks<'a> {
    pub name: &'a str,
    /// `arn:aws:ecs:<region>:<account>:daemon/<cluster>/<name>`.
    pub daemon_arn: &'a str,
    pub cluster_arn: &'a str,
    /// The pod annotation naming the daemon revision a pod runs.
    pub revision_annotation: &'a str,
    /// (revision ARN, daemon task definition ARN), per revision.
    pub task_definitions: Vec<(String, String)>,
    /// (target revision ARN, deployment id), newest first.
    pub deployments: Vec<(String, String)>,
    /// Capacity provider name per node name.
    pub providers: BTreeMap<String, String>,
    pub enable_execute_command: bool,
}

impl DaemonTasks<'_> {
    fn task_definition_of(&self, revision: &str) -> Option<String> {
        self.task_definitions
            .iter()
            .find(|(r, _)| r == revision)
            .map(|(_, td)| td.clone())
    }

    fn deployment_of(&self, revision: &str) -> Option<String> {
        self.deployments
            .iter()
            .find(|(r, _)| r == revision)
            .map(|(_, id)| id.clone())
    }

    fn provider_of(&self, pod: &Pod) -> Option<String> {
        let node = pod.spec.as_ref()?.node_name.as_deref()?;
        self.providers.get(node).cloned()
    }
}

/// The record of a placed pod, from `owner` (cluster, group, task definition... of the
/// service or daemon it belongs to); its task ARN is in the account, region and cluster
/// of `owner_arn` (a service's or a daemon's).
fn of_owned_pod(pod: &Pod, owner_arn: &str, owner: EcsTask, zones: &Zones) -> Option<EcsTask> {
    if state(pod) == TaskState::Unplaced {
        return None;
    }
    let id = task_id(pod)?;
    let arn = task_arn(owner_arn, &id)?;
    let names: Vec<String> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| c.name.clone())
        .collect();
    let identity = EcsTask {
        task_arn: Some(arn),
        overrides: Some(TaskOverride {
            container_overrides: Some(
                names
                    .into_iter()
                    .map(|name| ContainerOverride {
                        name: Some(name),
                        ..ContainerOverride::default()
                    })
                    .collect(),
            ),
            inference_accelerator_overrides: Some(Vec::new()),
            ..TaskOverride::default()
        }),
        attachments: Some(Vec::new()),
        ..owner
    };
    Some(observed(&identity, pod, zones))
}

/// The zone of each node that has one, by node name.
pub type Zones = BTreeMap<String, String>;

/// `record` (who the task is: ARNs, group, startedBy, overrides...) with what `pod`
/// shows now: statuses, health, times, stop code and reason, containers. A stop the
/// user asked for (StopTask) keeps its code and reason.
pub fn observed(record: &EcsTask, pod: &Pod, zones: &Zones) -> EcsTask {
    let task_state = state(pod);
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    let container_instance_arn = node
        .zip(record.task_arn.as_deref())
        .and_then(|(node, task)| container_instance_arn(task, node))
        .or_else(|| record.container_instance_arn.clone());
    let availability_zone = node
        .and_then(|n| zones.get(n).cloned())
        .or_else(|| record.availability_zone.clone());
    let arn = record.task_arn.clone().unwrap_or_default();
    let status = pod.status.as_ref();
    let ready = condition_since(pod, "Ready");
    let has_health_check = pod
        .spec
        .as_ref()
        .is_some_and(|s| s.containers.iter().any(|c| c.readiness_probe.is_some()));
    let health = |ready: bool| match (has_health_check, ready) {
        (false, _) => HealthStatus::Unknown,
        (true, true) => HealthStatus::Healthy,
        (true, false) => HealthStatus::Unhealthy,
    };
    let (last_status, desired_status) = match task_state {
        TaskState::Unplaced => ("PROVISIONING", "RUNNING"),
        TaskState::Pending => {
            let phase = status.and_then(|s| s.phase.as_deref());
            let started = phase == Some("Running");
            (if started { "ACTIVATING" } else { "PENDING" }, "RUNNING")
        }
        TaskState::Running => ("RUNNING", "RUNNING"),
        TaskState::Stopping => ("DEACTIVATING", "STOPPED"),
        TaskState::Stopped => ("STOPPED", "STOPPED"),
    };
    let statuses = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let containers: Vec<Container> = pod
        .spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| {
            let seen = statuses.iter().find(|s| s.name == c.name);
            let (last, exit_code, reason) = container_state(seen);
            Container {
                container_arn: Some(container_arn(&arn, &c.name)),
                task_arn: Some(arn.clone()),
                name: Some(c.name.clone()),
                image: c.image.clone(),
                last_status: Some(last.to_owned()),
                exit_code,
                reason,
                health_status: Some(health(seen.is_some_and(|s| s.ready))),
                network_bindings: Some(
                    c.ports
                        .iter()
                        .flatten()
                        .filter_map(|p| {
                            Some(NetworkBinding {
                                bind_ip: Some("0.0.0.0".to_owned()),
                                container_port: Some(p.container_port),
                                host_port: Some(p.host_port?),
                                protocol: Some(if p.protocol.as_deref() == Some("UDP") {
                                    TransportProtocol::Udp
                                } else {
                                    TransportProtocol::Tcp
                                }),
                                ..NetworkBinding::default()
                            })
                        })
                        .collect(),
                ),
                ..Container::default()
            }
        })
        .collect();
    // When the containers report no finish time (a pod failed before they started, or
    // ended by its deadline), the pod's last condition change is when it stopped.
    let stopped_at = (task_state == TaskState::Stopped)
        .then(|| latest_finish(statuses).or_else(|| last_condition_change(pod)))
        .flatten()
        .or(record
            .stopped_at
            .filter(|_| task_state == TaskState::Stopped));
    let stopping_at = pod.metadata.deletion_timestamp.as_ref().map(|t| {
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
        Timestamp::from_epoch_millis(t.0.as_millisecond() - grace * 1000)
    });
    let (stop_code, stopped_reason) = match task_state {
        TaskState::Stopped => {
            let failed = status.and_then(|s| s.phase.as_deref()) == Some("Failed");
            let exited = containers
                .iter()
                .find(|c| c.exit_code.is_some_and(|e| e != 0));
            match (failed, exited) {
                (true, Some(c)) => (
                    Some(TaskStopCode::EssentialContainerExited),
                    Some(format!(
                        "Essential container in task exited: {} exited with code {}",
                        c.name.as_deref().unwrap_or_default(),
                        c.exit_code.unwrap_or_default()
                    )),
                ),
                (true, None) => (
                    Some(TaskStopCode::TaskFailedToStart),
                    status.and_then(|s| s.message.clone()),
                ),
                (false, _) => (
                    Some(TaskStopCode::EssentialContainerExited),
                    Some("Essential container in task exited".to_owned()),
                ),
            }
        }
        TaskState::Stopping => scaled_in(pod),
        _ => (None, None),
    };
    // A stop the user asked for (StopTask), or kubecs decided (an essential container
    // exited), keeps its code and reason.
    let user_stop = record.stop_code == Some(TaskStopCode::UserInitiated)
        || (record.stop_code == Some(TaskStopCode::EssentialContainerExited)
            && record.desired_status.as_deref() == Some("STOPPED"));
    let (stop_code, stopped_reason) = if user_stop {
        (record.stop_code.clone(), record.stopped_reason.clone())
    } else {
        (stop_code, stopped_reason)
    };
    EcsTask {
        last_status: Some(last_status.to_owned()),
        desired_status: Some(if user_stop { "STOPPED" } else { desired_status }.to_owned()),
        health_status: Some(health(ready.is_some())),
        created_at: record.created_at.or_else(|| {
            pod.metadata
                .creation_timestamp
                .as_ref()
                .map(|t| Timestamp::from_epoch_millis(t.0.as_millisecond()))
        }),
        started_at: ready.or(record.started_at),
        stopping_at: stopping_at.or(record.stopping_at),
        stopped_at,
        execution_stopped_at: stopped_at,
        stop_code,
        stopped_reason,
        containers: Some(containers),
        container_instance_arn,
        availability_zone,
        ..record.clone()
    }
}

/// The ARN of the node named `node` as a container instance of the cluster of the task
/// `task_arn` (`arn:aws:ecs:<region>:<account>:container-instance/<cluster>/<id>`).
pub fn container_instance_arn(task_arn: &str, node: &str) -> Option<String> {
    let (prefix, rest) = task_arn.split_once(":task/")?;
    let (cluster, _) = rest.split_once('/')?;
    Some(format!(
        "{prefix}:container-instance/{cluster}/{}",
        super::nodes::instance_id(node)
    ))
}

/// The record of a task whose pod is gone: STOPPED at `now`, as the service scheduler
/// stopped it (its ReplicaSet scaled in, the service was deleted or scaled down).
pub fn stopped(record: &EcsTask, now: Timestamp) -> EcsTask {
    let mut next = record.clone();
    if next.last_status.as_deref() == Some("STOPPED") {
        return next;
    }
    next.last_status = Some("STOPPED".to_owned());
    next.desired_status = Some("STOPPED".to_owned());
    next.stopping_at = next.stopping_at.or(Some(now));
    next.stopped_at = Some(now);
    next.execution_stopped_at = Some(now);
    if next.stop_code.is_none() {
        next.stop_code = Some(TaskStopCode::ServiceSchedulerInitiated);
        next.stopped_reason = next
            .started_by
            .as_ref()
            .map(|d| format!("Scaling activity initiated by (deployment {d})"));
    }
    for container in next.containers.iter_mut().flatten() {
        container.last_status = Some("STOPPED".to_owned());
    }
    next
}

/// 32 hex digits (the form of ECS's ids) derived from `seed`: the same on every run and
/// every kubecs version.
pub fn stable_id(seed: &str) -> String {
    let a = fnv1a(seed.bytes(), FNV_OFFSET);
    let b = fnv1a(seed.bytes().rev(), FNV_OFFSET.rotate_left(32));
    format!("{a:016x}{b:016x}")
}

/// A stable digest of a record, so that an unchanged task is not written again (FNV-1a
/// over its JSON: the same on every run and every kubecs version).
pub fn digest(record: &EcsTask) -> u64 {
    fnv1a(serde_json::to_vec(record).unwrap_or_default(), FNV_OFFSET)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv1a(bytes: impl IntoIterator<Item = u8>, seed: u64) -> u64 {
    bytes.into_iter().fold(seed, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What an observation writes to the tasks table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskWrites {
    /// Records that are new or changed.
    pub put: Vec<EcsTask>,
    /// Ids of tasks whose pods are gone: their stored records become STOPPED.
    pub stop: Vec<String>,
}

/// The records to write for `pods` (`record_of` makes a pod's), given the digests of the
/// records `written` last
/// time (by task id); returns them with the digests to remember.
pub fn changes(
    written: &BTreeMap<String, u64>,
    pods: &[Pod],
    record_of: impl Fn(&Pod) -> Option<EcsTask>,
) -> (TaskWrites, BTreeMap<String, u64>) {
    let mut writes = TaskWrites::default();
    let mut now_written = BTreeMap::new();
    for pod in pods {
        let (Some(id), Some(record)) = (task_id(pod), record_of(pod)) else {
            continue;
        };
        let digest = digest(&record);
        if written.get(&id) != Some(&digest) {
            writes.put.push(record);
        }
        now_written.insert(id, digest);
    }
    writes.stop = written
        .keys()
        .filter(|id| !now_written.contains_key(*id))
        .cloned()
        .collect();
    (writes, now_written)
}

/// A pod being deleted by its ReplicaSet: ECS's words for a task the service scheduler
/// stops.
fn scaled_in(pod: &Pod) -> (Option<TaskStopCode>, Option<String>) {
    (
        Some(TaskStopCode::ServiceSchedulerInitiated),
        deployment_of_pod(pod).map(|d| format!("Scaling activity initiated by (deployment {d})")),
    )
}

/// When a pod condition last became True, if it is True.
fn condition_since(pod: &Pod, kind: &str) -> Option<Timestamp> {
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind && c.status == "True")?;
    let at = condition.last_transition_time.as_ref()?;
    Some(Timestamp::from_epoch_millis(at.0.as_millisecond()))
}

/// ECS's container state, exit code and reason for a container's status.
fn container_state(
    status: Option<&ContainerStatus>,
) -> (&'static str, Option<i32>, Option<String>) {
    let Some(state) = status.and_then(|s| s.state.as_ref()) else {
        return ("PENDING", None, None);
    };
    if let Some(done) = &state.terminated {
        let reason = done.message.clone().or_else(|| done.reason.clone());
        return ("STOPPED", Some(done.exit_code), reason);
    }
    if state.running.is_some() {
        return ("RUNNING", None, None);
    }
    let reason = state.waiting.as_ref().and_then(|w| w.reason.clone());
    ("PENDING", None, reason)
}

/// The newest transition time of the pod's conditions.
fn last_condition_change(pod: &Pod) -> Option<Timestamp> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .filter_map(|c| c.last_transition_time.as_ref())
        .map(|t| t.0.as_millisecond())
        .max()
        .map(Timestamp::from_epoch_millis)
}

/// When the last container of a finished pod stopped.
fn latest_finish(statuses: &[ContainerStatus]) -> Option<Timestamp> {
    statuses
        .iter()
        .filter_map(|s| s.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| t.0.as_millisecond())
        .max()
        .map(Timestamp::from_epoch_millis)
}

/// The pod's task definition ARN: the service's ARN prefix with the pod's family and
/// revision labels (an old deployment's pods keep their own revision).
fn task_definition_arn(pod: &Pod, service: &Service) -> Option<String> {
    let labels = pod.metadata.labels.as_ref()?;
    let (family, revision) = (labels.get(FAMILY_LABEL)?, labels.get(REVISION_LABEL)?);
    let current = service.task_definition.as_deref()?;
    let (prefix, _) = current.split_once(":task-definition/")?;
    Some(format!("{prefix}:task-definition/{family}:{revision}"))
}

/// A container's ARN: stable for the task and the container name, in ECS's form
/// (`arn:aws:ecs:<region>:<account>:container/<cluster>/<task id>/<uuid>`).
pub fn container_arn(task_arn: &str, name: &str) -> String {
    let (prefix, rest) = task_arn.split_once(":task/").unwrap_or((task_arn, ""));
    let hex = stable_id(&format!("{task_arn}/{name}"));
    format!(
        "{prefix}:container/{rest}/{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::testing::{pod, primary, service, task, Phase, INSUFFICIENT_CPU};
    use k8s_openapi::api::core::v1::{
        Container as PodContainer, ContainerPort, ContainerState, ContainerStateTerminated,
    };

    const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";

    fn web() -> Service {
        service(2, vec![primary("ecs-svc/1", TD, 2)]).service
    }

    /// Pod `n` of deployment ecs-svc/1, of web:1, with one container `app` on host port
    /// 8080.
    fn placed(n: u32, phase: Phase) -> Pod {
        let mut pod = pod(n, "ecs-svc/1", phase);
        pod.metadata.labels = Some(BTreeMap::from([
            (FAMILY_LABEL.to_owned(), "web".to_owned()),
            (REVISION_LABEL.to_owned(), "1".to_owned()),
        ]));
        if let Some(spec) = pod.spec.as_mut() {
            spec.containers = vec![PodContainer {
                name: "app".to_owned(),
                image: Some("nginx:1.27".to_owned()),
                ports: Some(vec![ContainerPort {
                    container_port: 80,
                    host_port: Some(8080),
                    protocol: Some("TCP".to_owned()),
                    ..ContainerPort::default()
                }]),
                ..PodContainer::default()
            }];
        }
        pod
    }

    #[test]
    fn a_ready_pod_is_a_running_task_of_its_service_and_deployment() {
        let record = of_pod(&placed(1, Phase::Running), &web(), &Zones::new()).unwrap();
        assert_eq!(
            record.task_arn.as_deref(),
            Some(format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{}", task(1)).as_str())
        );
        assert_eq!(record.group.as_deref(), Some("service:web"));
        assert_eq!(record.started_by.as_deref(), Some("ecs-svc/1"));
        // The pod's own revision, not the service's current one.
        assert_eq!(
            record.task_definition_arn.as_deref(),
            Some("arn:aws:ecs:us-east-1:123456789012:task-definition/web:1")
        );
        assert_eq!(record.last_status.as_deref(), Some("RUNNING"));
        assert_eq!(record.desired_status.as_deref(), Some("RUNNING"));
        assert_eq!(record.launch_type, Some(LaunchType::Ec2));
        let containers = record.containers.unwrap();
        assert_eq!(containers[0].name.as_deref(), Some("app"));
        let binding = &containers[0].network_bindings.as_ref().unwrap()[0];
        assert_eq!(
            (binding.container_port, binding.host_port),
            (Some(80), Some(8080))
        );
        let arn = containers[0].container_arn.as_deref().unwrap();
        assert!(arn.starts_with(&format!(
            "arn:aws:ecs:us-east-1:123456789012:container/prod/{}/",
            task(1)
        )));
        assert_eq!(
            arn,
            of_pod(&placed(1, Phase::Running), &web(), &Zones::new())
                .unwrap()
                .containers
                .unwrap()[0]
                .container_arn
                .as_deref()
                .unwrap()
        );
    }

    #[test]
    fn a_daemon_pod_is_a_task_of_its_daemon_revision_deployment_and_provider() {
        const REVISION: &str = "arn:aws:ecs:us-east-1:123456789012:daemon-revision/prod/agent/1";
        const ANNOTATION: &str = "test/daemon-revision";
        let mut pod = placed(1, Phase::Running);
        pod.metadata.annotations = Some(BTreeMap::from([(
            ANNOTATION.to_owned(),
            REVISION.to_owned(),
        )]));
        pod.spec.as_mut().unwrap().node_name = Some("node-a".to_owned());
        let daemon = DaemonTasks {
            name: "agent",
            daemon_arn: "arn:aws:ecs:us-east-1:123456789012:daemon/prod/agent",
            cluster_arn: "arn:aws:ecs:us-east-1:123456789012:cluster/prod",
            revision_annotation: ANNOTATION,
            task_definitions: vec![(
                REVISION.to_owned(),
                "arn:aws:ecs:us-east-1:123456789012:daemon-task-definition/agent:3".to_owned(),
            )],
            deployments: vec![
                ("other".to_owned(), "newer".to_owned()),
                (REVISION.to_owned(), "d1".to_owned()),
            ],
            providers: BTreeMap::from([("node-a".to_owned(), "edge".to_owned())]),
            enable_execute_command: true,
        };
        let record = of_daemon_pod(&pod, &daemon, &Zones::new()).unwrap();
        assert_eq!(
            record.task_arn,
            Some(format!(
                "arn:aws:ecs:us-east-1:123456789012:task/prod/{}",
                task(1)
            ))
        );
        assert_eq!(record.group.as_deref(), Some("daemon:agent"));
        assert!(is_scheduled(&record));
        assert_eq!(record.started_by.as_deref(), Some("d1"));
        assert_eq!(
            record.task_definition_arn.as_deref(),
            Some("arn:aws:ecs:us-east-1:123456789012:daemon-task-definition/agent:3")
        );
        assert_eq!(record.capacity_provider_name.as_deref(), Some("edge"));
        assert_eq!(record.enable_execute_command, Some(true));
        assert_eq!(record.last_status.as_deref(), Some("RUNNING"));
        assert!(record
            .container_instance_arn
            .unwrap()
            .contains(":container-instance/prod/"));
        // A pod without the revision annotation is not the daemon's.
        assert_eq!(
            of_daemon_pod(&placed(2, Phase::Running), &daemon, &Zones::new()),
            None
        );
        // A standalone task is nobody's.
        let standalone = EcsTask {
            group: Some("family:web".to_owned()),
            ..EcsTask::default()
        };
        assert!(!is_scheduled(&standalone));
    }

    #[test]
    fn a_task_is_on_its_node_as_a_container_instance_of_its_cluster() {
        let mut pod = placed(1, Phase::Running);
        pod.spec.as_mut().unwrap().node_name = Some("node-a".to_owned());
        let zones = Zones::from([("node-a".to_owned(), "us-east-1b".to_owned())]);
        let record = of_pod(&pod, &web(), &zones).unwrap();
        assert_eq!(
            record.container_instance_arn.as_deref(),
            Some(
                format!(
                    "arn:aws:ecs:us-east-1:123456789012:container-instance/prod/{}",
                    crate::observe::nodes::instance_id("node-a")
                )
                .as_str()
            )
        );
        assert_eq!(record.availability_zone.as_deref(), Some("us-east-1b"));
        let elsewhere = of_pod(&pod, &web(), &Zones::new()).unwrap();
        assert_eq!(elsewhere.availability_zone, None);
    }

    #[test]
    fn states_follow_the_pod() {
        let status = |phase| {
            of_pod(&placed(1, phase), &web(), &Zones::new())
                .map(|r| (r.last_status.unwrap(), r.desired_status.unwrap()))
        };
        assert_eq!(status(Phase::Unschedulable(INSUFFICIENT_CPU)), None);
        let pair = |a: &str, b: &str| Some((a.to_owned(), b.to_owned()));
        assert_eq!(status(Phase::Pending), pair("PENDING", "RUNNING"));
        assert_eq!(status(Phase::NotReady), pair("ACTIVATING", "RUNNING"));
        assert_eq!(status(Phase::Terminating), pair("DEACTIVATING", "STOPPED"));
        assert_eq!(status(Phase::Failed), pair("STOPPED", "STOPPED"));
        let stopping = of_pod(&placed(1, Phase::Terminating), &web(), &Zones::new()).unwrap();
        assert_eq!(
            stopping.stop_code,
            Some(TaskStopCode::ServiceSchedulerInitiated)
        );
        assert_eq!(
            stopping.stopped_reason.as_deref(),
            Some("Scaling activity initiated by (deployment ecs-svc/1)")
        );
    }

    #[test]
    fn a_stop_kubecs_decided_keeps_its_code_and_a_failed_pod_without_times_has_stopped_at() {
        let mut decided = of_pod(&placed(1, Phase::Running), &web(), &Zones::new()).unwrap();
        decided.desired_status = Some("STOPPED".to_owned());
        decided.stop_code = Some(TaskStopCode::EssentialContainerExited);
        decided.stopped_reason = Some("Essential container in task exited".to_owned());
        let seen = observed(&decided, &placed(1, Phase::Terminating), &Zones::new());
        assert_eq!(seen.stop_code, Some(TaskStopCode::EssentialContainerExited));
        assert_eq!(
            seen.stopped_reason.as_deref(),
            Some("Essential container in task exited")
        );
        assert_eq!(seen.desired_status.as_deref(), Some("STOPPED"));
        // No container finished (the pod failed before any ran): the pod's last
        // condition change is when the task stopped.
        let mut pod = placed(1, Phase::Failed);
        let at = k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap();
        for condition in pod.status.as_mut().unwrap().conditions.iter_mut().flatten() {
            condition.last_transition_time =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at));
        }
        let failed = of_pod(&pod, &web(), &Zones::new()).unwrap();
        assert_eq!(failed.last_status.as_deref(), Some("STOPPED"));
        assert_eq!(
            failed.stopped_at,
            Some(Timestamp::from_epoch_millis(1_700_000_000_000))
        );
    }

    #[test]
    fn an_exited_essential_container_is_named_with_its_exit_code() {
        let mut failed = placed(1, Phase::Failed);
        failed.status.as_mut().unwrap().container_statuses = Some(vec![ContainerStatus {
            name: "app".to_owned(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 3,
                    reason: Some("Error".to_owned()),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        }]);
        let record = of_pod(&failed, &web(), &Zones::new()).unwrap();
        assert_eq!(
            record.stop_code,
            Some(TaskStopCode::EssentialContainerExited)
        );
        assert_eq!(
            record.stopped_reason.as_deref(),
            Some("Essential container in task exited: app exited with code 3")
        );
        let container = &record.containers.unwrap()[0];
        assert_eq!(container.exit_code, Some(3));
        assert_eq!(container.last_status.as_deref(), Some("STOPPED"));
    }

    #[test]
    fn only_changed_records_are_written_and_gone_pods_are_stopped() {
        let service = web();
        let of = |pod: &Pod| of_pod(pod, &service, &Zones::new());
        let pods = [placed(1, Phase::Running), placed(2, Phase::Pending)];
        let (first, written) = changes(&BTreeMap::new(), &pods, of);
        assert_eq!(first.put.len(), 2);
        assert!(first.stop.is_empty());

        let (same, again) = changes(&written, &pods, of);
        assert_eq!(same, TaskWrites::default());
        assert_eq!(again, written);

        let (next, _) = changes(&written, &[placed(2, Phase::Running)], of);
        assert_eq!(next.put.len(), 1, "pod 2 changed");
        assert_eq!(next.stop, vec![task(1)]);

        let gone = stopped(&first.put[0], Timestamp::from_epoch_millis(5_000));
        assert_eq!(gone.last_status.as_deref(), Some("STOPPED"));
        assert_eq!(gone.desired_status.as_deref(), Some("STOPPED"));
        assert_eq!(gone.stopped_at, Some(Timestamp::from_epoch_millis(5_000)));
        assert_eq!(
            gone.stop_code,
            Some(TaskStopCode::ServiceSchedulerInitiated)
        );
        assert_eq!(stopped(&gone, Timestamp::from_epoch_millis(9_000)), gone);
    }
}
