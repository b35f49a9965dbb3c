//! The ECS tables: which generated model shape each table holds and how it is keyed.
//!
//! Keys use names, not ARNs (handlers resolve an ARN or name to the name first), because
//! names are what ECS sorts its listings by and are shorter to store.

use kubecs_api_models::{
    status, Attribute, Cluster, ContainerInstance, KeyValuePair, LaunchType, Service, Setting, Tag,
    Task, TaskDefinition, TaskDefinitionStatus,
};
use serde::{Deserialize, Serialize};

use crate::feed::TableId;
use crate::region::Region;
use crate::table::Table;
use crate::task_definitions::{Revisioned, TaskDefinitions};

/// What kubecs keeps of one container instance of a cluster. A Kubernetes node is a
/// container instance of every cluster without any record; a record exists once the
/// instance was registered explicitly, given custom attributes, or asked to change state.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InstanceState {
    /// The instance as registered: its ARN, and for an instance bound to no node
    /// everything DescribeContainerInstances shows (status, resources, versions...).
    pub instance: ContainerInstance,
    /// The node it is, by name; `None` for a registration no node matched (its agent
    /// never connected, as ECS would say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Custom attributes (PutAttributes, RegisterContainerInstance).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// The status UpdateContainerInstancesState asked for (ACTIVE or DRAINING): the
    /// reconciler cordons or uncordons the node once per request (the record's
    /// generation), then records it as observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_status: Option<String>,
}

/// A capacity provider of the account, with the clusters it is associated with (kept in
/// the writes that associate it, so that deleting it can check them in its own write).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CapacityProviderState {
    pub provider: kubecs_api_models::CapacityProvider,
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub clusters: std::collections::BTreeSet<String>,
}

/// Where a standalone task (RunTask, StartTask) may run, decided by the API when the
/// task is started (as ECS places a task at RunTask) and read by the reconciler when it
/// creates the task's pod. Kept beside the task record, removed with it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskPlacement {
    /// The nodes the task may run on, by name (`memberOf` constraints, StartTask's
    /// container instances); `None`: any node. Empty: none matched, the task stays
    /// PENDING, as ECS leaves a task no instance satisfies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<String>>,
    /// Tasks with the same value run on different nodes (`distinctInstance`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distinct: Option<String>,
    /// The Auto Scaling group capacity providers whose nodes the task may run on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_providers: Option<Vec<String>>,
    /// The fields of the run's `spread` placement strategies (ECS's: `instanceId`,
    /// `attribute:ecs.availability-zone`, ...), balancing the tasks of its task group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spread: Vec<String>,
}

impl Revisioned for TaskDefinition {
    fn status(&self) -> &str {
        // Registration always sets a status; a value without one matches no status filter
        // (ECS's statuses are never empty).
        self.status
            .as_ref()
            .map_or("", TaskDefinitionStatus::as_str)
    }
}

/// A service's stored desired state: the ECS shape, plus what ECS keeps about a service
/// that its API never shows. Kept together in one record so that every write (the API's
/// and the reconciler's) carries both.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceState {
    /// The service as DescribeServices shows it (tags live in the tags table).
    pub service: Service,
    /// The `clientToken` of the CreateService that created it, for idempotent retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// What the reconciler remembers between observations (written with the observed
    /// status, never by the API).
    #[serde(default, skip_serializing_if = "ServiceMemory::is_empty")]
    pub memory: ServiceMemory,
    /// The service's deployments as ListServiceDeployments shows them, newest first
    /// (bounded): written when a deployment starts (API, or a rollback) and as its
    /// rollout ends (reconciler).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
    /// Tasks protected from scale-in (UpdateTaskProtection): task id -> when the
    /// protection expires. Desired state: the reconciler gives their pods a high
    /// deletion cost until then.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub protected: std::collections::BTreeMap<String, kubecs_api_models::Timestamp>,
    /// What an Express gateway service (CreateExpressGatewayService) adds to its service:
    /// the reconciler routes an Ingress to it, the Express operations describe it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub express: Option<ExpressState>,
}

/// An Express gateway service's own settings, beside the ECS service it runs as.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExpressState {
    pub infrastructure_role_arn: String,
    /// The host its Ingress routes (and its endpoint names).
    pub host: String,
    /// Its configurations, newest first (one per Create and Update, bounded), each with
    /// the task definition it registered.
    pub configurations: Vec<ExpressConfiguration>,
}

/// One configuration of an Express gateway service.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ExpressConfiguration {
    pub configuration: kubecs_api_models::ExpressGatewayServiceConfiguration,
    pub task_definition_arn: String,
}

/// One service deployment: what it is and how it went, the service revision it deploys,
/// and the ECS deployments (the `deployments` ids) that carried it out: its own, then a
/// rollback's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub deployment: kubecs_api_models::ServiceDeployment,
    pub revision: kubecs_api_models::ServiceRevision,
    pub ecs_deployments: Vec<String>,
}

/// The reconciler's memory of a service: what ECS keeps internally to word its events and
/// to roll back, which the `Service` shape does not show.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceMemory {
    /// Task ids (pods) seen for the service, so that an observation can tell which
    /// started and which stopped since the last one.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub known_tasks: std::collections::BTreeSet<String>,
    /// The newest deployment that completed: its id and task definition ARN, the target
    /// of a circuit-breaker rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_completed: Option<CompletedDeployment>,
    /// Whether the last observation found the service in a steady state (ECS says so in
    /// an event on entering it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub steady: bool,
    /// Failures already counted into a deployment's `failedTasks`, by task id, for the
    /// pods still present: container restarts and failed starts only ever add the
    /// difference, so a count that drops (an expired Kubernetes event) or a pod that
    /// goes never takes a failure back.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub task_failures: std::collections::BTreeMap<String, i32>,
    /// Placement-failure messages already reported, with when: ECS omits a duplicate
    /// until its cause is resolved (the message no longer applies) or six hours pass.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub placement_failures: std::collections::BTreeMap<String, kubecs_api_models::Timestamp>,
    /// The task records written for the service's pods, by task id, with a digest of
    /// each: an unchanged task is not written again, and a task no longer among the pods
    /// has its record stopped.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub task_records: std::collections::BTreeMap<String, u64>,
}

/// A deployment that reached COMPLETED.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CompletedDeployment {
    pub id: String,
    pub task_definition: String,
}

impl ServiceMemory {
    pub fn is_empty(&self) -> bool {
        *self == ServiceMemory::default()
    }
}

/// The cluster statistics ECS reports (DescribeClusters `include: STATISTICS`), in its
/// order. The stored cluster keeps them current: the API counts services as they enter
/// and leave ACTIVE and DRAINING, in the same write; the reconciler counts tasks.
pub const CLUSTER_STATISTICS: [&str; 8] = [
    "runningEC2TasksCount",
    "runningFargateTasksCount",
    "pendingEC2TasksCount",
    "pendingFargateTasksCount",
    "activeEC2ServiceCount",
    "activeFargateServiceCount",
    "drainingEC2ServiceCount",
    "drainingFargateServiceCount",
];

/// Whether ECS counts a service (or task) under Fargate: launch type FARGATE, or a
/// capacity provider strategy of FARGATE/FARGATE_SPOT; everything else counts as EC2.
pub fn is_fargate(launch_type: Option<&LaunchType>, providers: &[String]) -> bool {
    match launch_type {
        Some(launch_type) => *launch_type == LaunchType::Fargate,
        None => providers
            .iter()
            .any(|p| p == "FARGATE" || p == "FARGATE_SPOT"),
    }
}

/// A cluster statistic's value (0 when absent).
pub fn statistic(cluster: &Cluster, name: &str) -> i64 {
    cluster
        .statistics
        .iter()
        .flatten()
        .find(|kv| kv.name.as_deref() == Some(name))
        .and_then(|kv| kv.value.as_deref())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Adds `delta` to a cluster statistic (never below 0).
pub fn add_statistic(cluster: &mut Cluster, name: &str, delta: i64) {
    let value = (statistic(cluster, name) + delta).max(0).to_string();
    let stats = cluster.statistics.get_or_insert_with(Vec::new);
    match stats.iter_mut().find(|kv| kv.name.as_deref() == Some(name)) {
        Some(kv) => kv.value = Some(value),
        None => stats.push(KeyValuePair {
            name: Some(name.to_owned()),
            value: Some(value),
        }),
    }
}

/// How ECS's cluster statistics name the launch type of a service's tasks: `Fargate`
/// or `EC2`.
pub fn launch_kind(service: &Service) -> &'static str {
    let providers: Vec<String> = service
        .capacity_provider_strategy
        .iter()
        .flatten()
        .filter_map(|item| item.capacity_provider.clone())
        .collect();
    if is_fargate(service.launch_type.as_ref(), &providers) {
        "Fargate"
    } else {
        "EC2"
    }
}

/// Counts `service` moving from status `from` to status `to` (`None`: absent) in its
/// cluster's `activeServicesCount` and service statistics. Call it in the write that
/// changes the service's status.
pub fn count_service_move(
    cluster: &mut Cluster,
    service: &Service,
    from: Option<&str>,
    to: Option<&str>,
) {
    let kind = launch_kind(service);
    for (state, delta) in [(from, -1), (to, 1)] {
        match state {
            Some(status::ACTIVE) => {
                let count = i64::from(cluster.active_services_count.unwrap_or(0)) + delta;
                cluster.active_services_count =
                    Some(i32::try_from(count.max(0)).unwrap_or(i32::MAX));
                add_statistic(cluster, &format!("active{kind}ServiceCount"), delta);
            }
            Some(status::DRAINING) => {
                add_statistic(cluster, &format!("draining{kind}ServiceCount"), delta);
            }
            _ => {}
        }
    }
}

/// A service's share of its cluster's task counts: the reconciler's observed running
/// and pending counts, under the service's launch type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskCounts {
    pub kind: &'static str,
    pub running: i64,
    pub pending: i64,
}

impl TaskCounts {
    pub fn of(service: &Service) -> Self {
        TaskCounts {
            kind: launch_kind(service),
            running: i64::from(service.running_count.unwrap_or(0).max(0)),
            pending: i64::from(service.pending_count.unwrap_or(0).max(0)),
        }
    }

    /// A standalone task's share (RunTask, StartTask): one pending task while it is
    /// PROVISIONING, PENDING or ACTIVATING, one running task while RUNNING.
    pub fn of_task(task: &Task) -> Self {
        let status = task.last_status.as_deref();
        let providers: Vec<String> = task.capacity_provider_name.iter().cloned().collect();
        TaskCounts {
            kind: if is_fargate(task.launch_type.as_ref(), &providers) {
                "Fargate"
            } else {
                "EC2"
            },
            running: i64::from(status == Some("RUNNING")),
            pending: i64::from(matches!(
                status,
                Some("PROVISIONING" | "PENDING" | "ACTIVATING")
            )),
        }
    }
}

/// Moves a service's share of its cluster's `runningTasksCount`, `pendingTasksCount`
/// and task statistics from `before` to `after`. Call it in the write that changes the
/// service's observed counts, so that the cluster always agrees with its services.
pub fn count_tasks_move(cluster: &mut Cluster, before: TaskCounts, after: TaskCounts) {
    let add = |count: Option<i32>, delta: i64| {
        Some(i32::try_from((i64::from(count.unwrap_or(0)) + delta).max(0)).unwrap_or(i32::MAX))
    };
    for (counts, sign) in [(before, -1), (after, 1)] {
        cluster.running_tasks_count = add(cluster.running_tasks_count, sign * counts.running);
        cluster.pending_tasks_count = add(cluster.pending_tasks_count, sign * counts.pending);
        add_statistic(
            cluster,
            &format!("running{}TasksCount", counts.kind),
            sign * counts.running,
        );
        add_statistic(
            cluster,
            &format!("pending{}TasksCount", counts.kind),
            sign * counts.pending,
        );
    }
}

/// [`count_tasks_move`] on the stored `cluster`, within the write `tx` (nothing when
/// the counts do not move or the cluster is gone).
pub fn count_tasks_in(
    tx: &mut crate::Tx<'_, '_>,
    region: &Region,
    cluster: &str,
    before: TaskCounts,
    after: TaskCounts,
) -> Result<(), crate::StoreError> {
    if before == after {
        return Ok(());
    }
    tx.update(&region.clusters(), cluster, |current| {
        let Some(current) = current else {
            return Ok((crate::Write::Keep, ()));
        };
        let mut next = current.value.clone();
        count_tasks_move(&mut next, before, after);
        Ok((crate::Write::Put(next), ()))
    })
}

/// Whether a cluster still has services that are ACTIVE or DRAINING (ECS refuses to
/// delete it then).
pub fn has_live_services(cluster: &Cluster) -> bool {
    cluster.active_services_count.unwrap_or(0) > 0
        || statistic(cluster, "drainingEC2ServiceCount") > 0
        || statistic(cluster, "drainingFargateServiceCount") > 0
}

impl Region {
    /// Clusters keyed by cluster name.
    pub fn clusters(&self) -> Table<String, Cluster> {
        self.table(TableId::Clusters)
    }

    /// Task-definition families and revisions keyed by (family, revision).
    pub fn task_definitions(&self) -> TaskDefinitions<TaskDefinition> {
        self.task_definitions_of()
    }

    /// Services keyed by (cluster name, service name), with their deployments and events
    /// inside the `Service` value; `generation`/`observed_generation` drive the reconciler.
    pub fn services(&self) -> Table<(String, String), ServiceState> {
        self.table(TableId::Services)
    }

    /// Tasks (running and recently stopped) keyed by (cluster name, task id).
    pub fn tasks(&self) -> Table<(String, String), Task> {
        self.table(TableId::Tasks)
    }

    /// The tags of each resource, keyed by resource ARN.
    pub fn tags(&self) -> Table<String, Vec<Tag>> {
        self.table(TableId::Tags)
    }

    /// Container instances keyed by (cluster name, container instance id).
    pub fn container_instances(&self) -> Table<(String, String), InstanceState> {
        self.table(TableId::ContainerInstances)
    }

    /// Capacity providers keyed by name (the built-in FARGATE and FARGATE_SPOT are not
    /// stored).
    pub fn capacity_providers(&self) -> Table<String, CapacityProviderState> {
        self.table(TableId::CapacityProviders)
    }

    /// Placements of standalone tasks keyed by (cluster name, task id).
    pub fn task_placements(&self) -> Table<(String, String), TaskPlacement> {
        self.table(TableId::TaskPlacements)
    }

    /// Account settings keyed by (principal ARN, setting name); the account default uses
    /// the account's root ARN as principal.
    pub fn settings(&self) -> Table<(String, String), Setting> {
        self.table(TableId::Settings)
    }
}

#[cfg(test)]
mod tests {
    use kubecs_api_models::Cluster;

    #[test]
    fn services_are_counted_by_launch_type_as_they_move_between_statuses() {
        use super::*;
        let mut cluster = Cluster::default();
        let ec2 = Service {
            launch_type: Some(LaunchType::Ec2),
            ..Service::default()
        };
        let fargate = Service {
            capacity_provider_strategy: Some(vec![
                kubecs_api_models::CapacityProviderStrategyItem {
                    capacity_provider: Some("FARGATE_SPOT".into()),
                    ..Default::default()
                },
            ]),
            ..Service::default()
        };
        count_service_move(&mut cluster, &ec2, None, Some(status::ACTIVE));
        count_service_move(&mut cluster, &fargate, None, Some(status::ACTIVE));
        assert_eq!(cluster.active_services_count, Some(2));
        assert_eq!(statistic(&cluster, "activeEC2ServiceCount"), 1);
        assert_eq!(statistic(&cluster, "activeFargateServiceCount"), 1);
        count_service_move(
            &mut cluster,
            &fargate,
            Some(status::ACTIVE),
            Some(status::DRAINING),
        );
        assert_eq!(cluster.active_services_count, Some(1));
        assert_eq!(statistic(&cluster, "drainingFargateServiceCount"), 1);
        assert!(has_live_services(&cluster));
        count_service_move(
            &mut cluster,
            &ec2,
            Some(status::ACTIVE),
            Some(status::DRAINING),
        );
        count_service_move(
            &mut cluster,
            &ec2,
            Some(status::DRAINING),
            Some(status::INACTIVE),
        );
        count_service_move(
            &mut cluster,
            &fargate,
            Some(status::DRAINING),
            Some(status::INACTIVE),
        );
        assert!(!has_live_services(&cluster));
        assert_eq!(statistic(&cluster, "drainingEC2ServiceCount"), 0);
    }

    #[test]
    fn task_counts_move_with_a_services_observed_counts_by_launch_type() {
        use super::*;
        let mut cluster = Cluster::default();
        let service = |launch_type, running, pending| Service {
            launch_type: Some(launch_type),
            running_count: Some(running),
            pending_count: Some(pending),
            ..Service::default()
        };
        let idle = TaskCounts::of(&service(LaunchType::Ec2, 0, 0));
        let starting = TaskCounts::of(&service(LaunchType::Ec2, 1, 2));
        let running = TaskCounts::of(&service(LaunchType::Ec2, 3, 0));
        count_tasks_move(&mut cluster, idle, starting);
        count_tasks_move(&mut cluster, starting, running);
        let fargate = TaskCounts::of(&service(LaunchType::Fargate, 2, 1));
        count_tasks_move(&mut cluster, idle, fargate);
        assert_eq!(cluster.running_tasks_count, Some(5));
        assert_eq!(cluster.pending_tasks_count, Some(1));
        assert_eq!(statistic(&cluster, "runningEC2TasksCount"), 3);
        assert_eq!(statistic(&cluster, "pendingEC2TasksCount"), 0);
        assert_eq!(statistic(&cluster, "runningFargateTasksCount"), 2);
        assert_eq!(statistic(&cluster, "pendingFargateTasksCount"), 1);
        count_tasks_move(&mut cluster, running, idle);
        count_tasks_move(&mut cluster, fargate, idle);
        assert_eq!(cluster.running_tasks_count, Some(0));
        assert_eq!(cluster.pending_tasks_count, Some(0));
        assert_eq!(statistic(&cluster, "runningFargateTasksCount"), 0);
    }

    use crate::{Record, StoreError, Write};

    #[tokio::test]
    async fn ecs_shapes_are_stored_in_their_wire_form_inside_the_envelope() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(dir.path()).unwrap();
        let region = store.region("us-east-1");
        let cluster = Cluster {
            cluster_name: Some("default".into()),
            status: Some("ACTIVE".into()),
            ..Cluster::default()
        };
        let c = cluster.clone();
        region
            .clusters()
            .update("default", move |_| {
                Ok::<_, StoreError>((Write::Put(c.clone()), ()))
            })
            .await
            .unwrap();
        let raw = store
            .tree(crate::TableId::Clusters)
            .get(
                [
                    region.scope(),
                    &crate::AsKey::<String>::encode_key("default"),
                ]
                .concat(),
            )
            .unwrap()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(json["value"]["clusterName"], "default");
        assert_eq!(json["generation"], 1);
        let record: Record<Cluster> = region.clusters().get("default").unwrap().unwrap();
        assert_eq!(record.value, cluster);
    }

    #[tokio::test]
    async fn a_task_definition_is_indexed_and_counted_by_its_ecs_status() {
        use crate::task_definitions::Revisioned;
        use kubecs_api_models::{TaskDefinition, TaskDefinitionStatus};
        let mut td = TaskDefinition {
            status: Some(TaskDefinitionStatus::Active),
            ..TaskDefinition::default()
        };
        assert!(td.is_active());
        assert_eq!(td.status(), "ACTIVE");
        td.status = Some(TaskDefinitionStatus::Inactive);
        assert!(!td.is_active());
        assert_eq!(td.status(), "INACTIVE");
        td.status = Some(TaskDefinitionStatus::DeleteInProgress);
        assert_eq!(td.status(), "DELETE_IN_PROGRESS");
        td.status = None;
        assert!(!td.is_active());
        assert_eq!(td.status(), "");
    }
}
