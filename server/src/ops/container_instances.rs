//! Container instances: every Kubernetes node is a container instance of every ECS
//! cluster (its id derived from the node's name, see
//! `kubecs_reconciler::observe::nodes`), described from the reconciler's copy of the
//! nodes and their pods. A RegisterContainerInstance whose instance id matches a node's
//! binds to that node; any other registration is kept as an instance whose agent never
//! connected (no capacity, nothing placed on it). UpdateContainerInstancesState is
//! stored and applied to the node by the reconciler (DRAINING cordons it and moves the
//! services' tasks off; ACTIVE uncordons it). Custom attributes live in the store.

use std::collections::{BTreeMap, BTreeSet};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::cluster_query::{self, Subject};
use crate::ops::{clusters, services, tags};
use kubecs_api_models::status::{ACTIVE, DRAINING};
use kubecs_api_models::{
    Attribute, ContainerInstance, ContainerInstanceField, ContainerInstanceStatus,
    DeleteAttributesRequest, DeleteAttributesResponse, DeregisterContainerInstanceRequest,
    DeregisterContainerInstanceResponse, DescribeContainerInstancesRequest,
    DescribeContainerInstancesResponse, ErrorCode, Failure, ListAttributesRequest,
    ListAttributesResponse, ListContainerInstancesRequest, ListContainerInstancesResponse,
    Operation, PutAttributesRequest, PutAttributesResponse, RegisterContainerInstanceRequest,
    RegisterContainerInstanceResponse, Resource, TargetType, UpdateContainerInstancesStateRequest,
    UpdateContainerInstancesStateResponse, VersionInfo,
};
use kubecs_reconciler::convert::{namespace_name, ClusterScope};
use kubecs_reconciler::observe::nodes::NodeFacts;
use kubecs_storage::{InstanceState, PageToken, Record, Write};

pub const OPERATIONS: &[Operation] = &[
    Operation::ListContainerInstances,
    Operation::DescribeContainerInstances,
    Operation::UpdateContainerInstancesState,
    Operation::RegisterContainerInstance,
    Operation::DeregisterContainerInstance,
    Operation::PutAttributes,
    Operation::DeleteAttributes,
    Operation::ListAttributes,
];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::ListContainerInstances => "Every Kubernetes node is a container instance of every cluster, plus instances registered explicitly; `status` and `filter` (the cluster query language: attributes, ec2InstanceId, agentConnected, task counts, task:group) and pagination.",
        Operation::DescribeContainerInstances => "A node as ECS shows an instance: `ec2InstanceId` from its provider id (else its name), ACTIVE or DRAINING (cordoned), `agentConnected` (node Ready), CPU (cores x 1024) and MEMORY (MiB) registered (allocatable) and remaining (minus the requests of every pod on it), host ports in use, task counts, attributes from its labels plus custom ones; `include: [\"TAGS\"]`. No instance health details.",
        Operation::UpdateContainerInstancesState => "DRAINING cordons the node and moves the services' tasks off it within their minimum healthy and maximum percents; ACTIVE uncordons it. A node is one instance of every cluster, so its state is the same in all of them.",
        Operation::RegisterContainerInstance => "Instances join through Kubernetes: a registration whose instance identity document names a node's instance id binds to that node; any other is recorded as an instance whose agent never connected (no capacity, nothing placed on it).",
        Operation::DeregisterContainerInstance => "Removes a registration; a node with running tasks of the cluster is refused unless `force`, and stays an instance while it is a node.",
        Operation::PutAttributes | Operation::DeleteAttributes => "Custom attributes of container instances (up to 10 each), usable in `filter` expressions.",
        Operation::ListAttributes => "Attributes of the cluster's container instances, those from node labels and custom ones; `attributeName`/`attributeValue` filters; paginated.",
        _ => return None,
    })
}

/// ECS's limits.
const MAX_DESCRIBE: usize = 100;
const MAX_UPDATE: usize = 10;
const MAX_ATTRIBUTES_PER_CALL: usize = 10;
const MAX_CUSTOM_ATTRIBUTES: usize = 10;
const MAX_ATTRIBUTE_TEXT: usize = 128;
const LIST_KIND: &str = "ListContainerInstances";
const ATTRIBUTES_KIND: &str = "ListAttributes";

/// One container instance of a cluster: a node (with the record kubecs keeps of it, if
/// any) or a registration bound to no node.
pub(crate) struct Instance {
    pub(crate) id: String,
    pub(crate) node: Option<NodeFacts>,
    record: Option<Record<InstanceState>>,
}

/// Every container instance of `cluster`, sorted by id.
pub(crate) fn all(ctx: &Ctx, cluster: &str) -> Result<Vec<Instance>, ApiError> {
    let mut records: BTreeMap<String, Record<InstanceState>> = BTreeMap::new();
    for entry in ctx
        .store
        .container_instances()
        .scan_prefix(&kubecs_storage::KeyPrefix::first(cluster))
    {
        let ((_, id), record) = entry?;
        records.insert(id, record);
    }
    let mut instances: Vec<Instance> = ctx
        .nodes
        .facts()
        .into_iter()
        .map(|node| Instance {
            id: node.id.clone(),
            record: records.remove(&node.id),
            node: Some(node),
        })
        .collect();
    // Registrations no node matched; a record of a node that is gone goes with it.
    instances.extend(
        records
            .into_iter()
            .filter(|(_, r)| r.value.node.is_none())
            .map(|(id, record)| Instance {
                id,
                node: None,
                record: Some(record),
            }),
    );
    instances.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(instances)
}

/// The instance `ident` (an id or a container-instance ARN) names in `cluster`.
pub(crate) fn find(ctx: &Ctx, cluster: &str, ident: &str) -> Result<Option<Instance>, ApiError> {
    let Some(id) = crate::ops::names::in_cluster(ctx, "container-instance", cluster, ident)? else {
        return Ok(None);
    };
    Ok(all(ctx, cluster)?.into_iter().find(|i| i.id == id))
}

impl Instance {
    pub(crate) fn status(&self) -> &'static str {
        let requested = self
            .record
            .as_ref()
            .filter(|r| r.generation > r.observed_generation)
            .and_then(|r| r.value.requested_status.as_deref());
        match (requested, &self.node) {
            (Some(DRAINING), _) => DRAINING,
            (Some(_), _) => ACTIVE,
            (None, Some(node)) if node.cordoned => DRAINING,
            (None, Some(_)) => ACTIVE,
            (None, None) => match self
                .record
                .as_ref()
                .and_then(|r| r.value.instance.status.as_deref())
            {
                Some(DRAINING) => DRAINING,
                _ => ACTIVE,
            },
        }
    }

    /// The record kept of a node once it gets one (custom attributes, a state change).
    fn first_record(&self, ctx: &Ctx, cluster: &str) -> InstanceState {
        InstanceState {
            instance: ContainerInstance {
                container_instance_arn: Some(ctx.arns.container_instance(cluster, &self.id)),
                ..ContainerInstance::default()
            },
            node: self.node.as_ref().map(|n| n.name.clone()),
            ..InstanceState::default()
        }
    }

    /// The node's attributes and the custom ones, by name.
    fn attributes(&self) -> BTreeMap<String, Option<String>> {
        let mut all: BTreeMap<String, Option<String>> = self
            .node
            .iter()
            .flat_map(|n| n.attributes.iter())
            .map(|(k, v)| (k.clone(), Some(v.clone())))
            .collect();
        for attribute in self.record.iter().flat_map(|r| &r.value.attributes) {
            if let Some(name) = &attribute.name {
                all.insert(name.clone(), attribute.value.clone());
            }
        }
        all
    }

    /// kubecs's running and pending tasks of `namespace` on the instance.
    fn task_counts(&self, namespace: &str) -> (i32, i32) {
        self.node
            .as_ref()
            .and_then(|n| n.tasks.get(namespace).copied())
            .unwrap_or_default()
    }

    pub(crate) fn subject(
        &self,
        namespace: &str,
        groups: &BTreeMap<String, BTreeSet<String>>,
    ) -> Subject {
        let (running, pending) = self.task_counts(namespace);
        let wire = self.wire_basics();
        Subject {
            attributes: self
                .attributes()
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect(),
            ec2_instance_id: wire.ec2_instance_id,
            agent_connected: wire.agent_connected.unwrap_or(false),
            running_tasks_count: i64::from(running),
            pending_tasks_count: i64::from(pending),
            registered_at: wire.registered_at.map(|t| t.epoch_millis() / 1000),
            task_groups: groups.get(&self.id).cloned().unwrap_or_default(),
        }
    }

    /// What a registration recorded, or what the node shows.
    fn wire_basics(&self) -> ContainerInstance {
        match &self.node {
            Some(node) => ContainerInstance {
                ec2_instance_id: Some(node.ec2_instance_id.clone()),
                agent_connected: Some(node.ready),
                registered_at: node.registered_at,
                version_info: Some(VersionInfo {
                    agent_version: node
                        .kubelet_version
                        .as_ref()
                        .map(|v| format!("kubelet {v}")),
                    agent_hash: None,
                    docker_version: node.runtime_version.clone(),
                }),
                registered_resources: Some(resources(
                    node.cpu,
                    node.memory_mib,
                    &BTreeSet::new(),
                    &BTreeSet::new(),
                )),
                remaining_resources: Some(resources(
                    node.cpu - node.used_cpu,
                    node.memory_mib - node.used_memory_mib,
                    &node.tcp_ports,
                    &node.udp_ports,
                )),
                ..ContainerInstance::default()
            },
            None => self
                .record
                .as_ref()
                .map(|r| r.value.instance.clone())
                .unwrap_or_default(),
        }
    }

    /// The instance as DescribeContainerInstances shows it in `cluster`.
    fn wire(&self, ctx: &Ctx, cluster: &str, namespace: &str) -> ContainerInstance {
        let (running, pending) = self.task_counts(namespace);
        ContainerInstance {
            container_instance_arn: Some(ctx.arns.container_instance(cluster, &self.id)),
            status: Some(self.status().to_owned()),
            running_tasks_count: Some(running),
            pending_tasks_count: Some(pending),
            version: Some(self.record.as_ref().map_or(1, |r| r.generation as i64)),
            attributes: Some(
                self.attributes()
                    .into_iter()
                    .map(|(name, value)| Attribute {
                        name: Some(name),
                        value,
                        ..Attribute::default()
                    })
                    .collect(),
            ),
            attachments: Some(Vec::new()),
            ..self.wire_basics()
        }
    }
}

/// ECS's resource list: CPU, MEMORY, PORTS and PORTS_UDP.
fn resources(cpu: i64, memory: i64, tcp: &BTreeSet<i32>, udp: &BTreeSet<i32>) -> Vec<Resource> {
    let integer = |name: &str, value: i64| Resource {
        name: Some(name.to_owned()),
        r#type: Some("INTEGER".to_owned()),
        double_value: Some(0.0),
        long_value: Some(0),
        integer_value: Some(i32::try_from(value.max(0)).unwrap_or(i32::MAX)),
        string_set_value: None,
    };
    let ports = |name: &str, ports: &BTreeSet<i32>| Resource {
        name: Some(name.to_owned()),
        r#type: Some("STRINGSET".to_owned()),
        double_value: Some(0.0),
        long_value: Some(0),
        integer_value: Some(0),
        string_set_value: Some(ports.iter().map(i32::to_string).collect()),
    };
    vec![
        integer("CPU", cpu),
        integer("MEMORY", memory),
        ports("PORTS", tcp),
        ports("PORTS_UDP", udp),
    ]
}

pub(crate) fn namespace_of(ctx: &Ctx, cluster: &str) -> String {
    namespace_name(&ClusterScope {
        region: &ctx.region,
        cluster,
    })
}

/// The groups of the cluster's live tasks on each instance, by instance id (for
/// `task:group` expressions).
pub(crate) fn task_groups(
    ctx: &Ctx,
    cluster: &str,
) -> Result<BTreeMap<String, BTreeSet<String>>, ApiError> {
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for entry in ctx
        .store
        .tasks()
        .scan_prefix(&kubecs_storage::KeyPrefix::first(cluster))
    {
        let (_, record) = entry?;
        let task = record.value;
        if task.desired_status.as_deref() != Some("RUNNING") {
            continue;
        }
        if let (Some(instance), Some(group)) = (task.container_instance_arn, task.group) {
            if let Some(id) = instance.rsplit('/').next() {
                groups.entry(id.to_owned()).or_default().insert(group);
            }
        }
    }
    Ok(groups)
}

pub async fn list(
    ctx: Ctx,
    input: ListContainerInstancesRequest,
) -> Result<ListContainerInstancesResponse, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let (limit, token) =
        services::page_params(input.max_results, input.next_token.as_deref(), LIST_KIND)?;
    let filter = input
        .filter
        .as_deref()
        .filter(|f| !f.trim().is_empty())
        .map(|f| cluster_query::parse(f, "filter"))
        .transpose()?;
    let namespace = namespace_of(&ctx, &cluster);
    let groups = match &filter {
        Some(_) => task_groups(&ctx, &cluster)?,
        None => BTreeMap::new(),
    };
    let after = token.as_ref().map(|t| t.last_key().to_vec());
    let mut arns = Vec::new();
    let mut last = None;
    let mut more = false;
    for instance in all(&ctx, &cluster)? {
        if after
            .as_deref()
            .is_some_and(|a| instance.id.as_bytes() <= a)
        {
            continue;
        }
        // Without a status filter ECS lists every instance that is not INACTIVE.
        let status_matches = input
            .status
            .as_ref()
            .is_none_or(|s| s.as_str() == instance.status());
        if !status_matches
            || filter
                .as_ref()
                .is_some_and(|f| !f.matches(&instance.subject(&namespace, &groups)))
        {
            continue;
        }
        if arns.len() == limit {
            more = true;
            break;
        }
        arns.push(ctx.arns.container_instance(&cluster, &instance.id));
        last = Some(instance.id);
    }
    Ok(ListContainerInstancesResponse {
        container_instance_arns: Some(arns),
        next_token: last
            .filter(|_| more)
            .map(|id| PageToken::after(id.into_bytes()).encode(LIST_KIND)),
    })
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeContainerInstancesRequest,
) -> Result<DescribeContainerInstancesResponse, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let idents = input.container_instances.unwrap_or_default();
    if idents.is_empty() {
        return Err(ApiError::invalid_parameter(
            "Container instances cannot be empty.",
        ));
    }
    if idents.len() > MAX_DESCRIBE {
        return Err(ApiError::invalid_parameter(format!(
            "containerInstances can have at most {MAX_DESCRIBE} items."
        )));
    }
    let include_tags = input
        .include
        .as_ref()
        .is_some_and(|i| i.contains(&ContainerInstanceField::Tags));
    let namespace = namespace_of(&ctx, &cluster);
    let instances = all(&ctx, &cluster)?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for ident in &idents {
        let id = crate::ops::names::in_cluster(&ctx, "container-instance", &cluster, ident)?;
        match id.and_then(|id| instances.iter().find(|i| i.id == id)) {
            Some(instance) => {
                let mut wire = instance.wire(&ctx, &cluster, &namespace);
                if include_tags {
                    let arn = wire.container_instance_arn.clone().unwrap_or_default();
                    wire.tags = Some(tags::of(&ctx, &arn)?);
                }
                found.push(wire);
            }
            None => failures.push(missing(&ctx, &cluster, ident)),
        }
    }
    Ok(DescribeContainerInstancesResponse {
        container_instances: Some(found),
        failures: Some(failures),
    })
}

fn missing(ctx: &Ctx, cluster: &str, ident: &str) -> Failure {
    Failure {
        arn: Some(if ident.starts_with("arn:") {
            ident.to_owned()
        } else {
            ctx.arns.container_instance(cluster, ident)
        }),
        reason: Some("MISSING".to_owned()),
        detail: None,
    }
}

pub async fn update_state(
    ctx: Ctx,
    input: UpdateContainerInstancesStateRequest,
) -> Result<UpdateContainerInstancesStateResponse, ApiError> {
    let idents = input.container_instances.clone().unwrap_or_default();
    if idents.is_empty() {
        return Err(ApiError::invalid_parameter(
            "Container instances cannot be empty.",
        ));
    }
    if idents.len() > MAX_UPDATE {
        return Err(ApiError::invalid_parameter(format!(
            "containerInstances can have at most {MAX_UPDATE} items."
        )));
    }
    let status = match input.status {
        Some(ContainerInstanceStatus::Active) => ACTIVE,
        Some(ContainerInstanceStatus::Draining) => DRAINING,
        _ => {
            return Err(ApiError::invalid_parameter(
                "Container instance status can only be updated to ACTIVE or DRAINING.",
            ))
        }
    };
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let namespace = namespace_of(&ctx, &cluster);
    let table = ctx.store.container_instances();
    let mut failures = Vec::new();
    let mut targets = Vec::new();
    for ident in &idents {
        match find(&ctx, &cluster, ident)? {
            Some(instance) => targets.push(instance),
            None => failures.push(missing(&ctx, &cluster, ident)),
        }
    }
    let written = ctx
        .store
        .transaction(|tx| {
            let cluster = clusters::require_active_in(tx, &ctx, Some(&cluster))?;
            let mut written = Vec::new();
            for instance in &targets {
                let record = tx.update(
                    &table,
                    (cluster.as_str(), instance.id.as_str()),
                    |current| {
                        let mut next = current
                            .map(|c| c.value.clone())
                            .unwrap_or_else(|| instance.first_record(&ctx, &cluster));
                        next.requested_status = Some(status.to_owned());
                        if next.node.is_none() {
                            next.instance.status = Some(status.to_owned());
                        }
                        // Every request is applied once, even one asking for the state the
                        // record already asked for: the node may have changed since.
                        next.instance.version = Some(next.instance.version.unwrap_or(1) + 1);
                        Ok::<_, ApiError>((Write::Put(next.clone()), next))
                    },
                )?;
                written.push(record);
            }
            Ok::<_, ApiError>(written)
        })
        .await?;
    let instances = targets
        .into_iter()
        .zip(written)
        .map(|(instance, value)| {
            let generation = instance.record.as_ref().map_or(1, |r| r.generation + 1);
            let updated = Instance {
                record: Some(Record {
                    schema_version: kubecs_storage::RECORD_SCHEMA_VERSION,
                    generation,
                    observed_generation: generation - 1,
                    value,
                }),
                ..instance
            };
            updated.wire(&ctx, &cluster, &namespace)
        })
        .collect();
    Ok(UpdateContainerInstancesStateResponse {
        container_instances: Some(instances),
        failures: Some(failures),
    })
}

/// The `instanceId` of an EC2 instance identity document (JSON).
fn instance_id_of(document: &str) -> Result<Option<String>, ApiError> {
    let parsed: serde_json::Value = serde_json::from_str(document).map_err(|_| {
        ApiError::invalid_parameter("The instance identity document is not valid JSON.")
    })?;
    Ok(parsed
        .get("instanceId")
        .and_then(|v| v.as_str())
        .map(str::to_owned))
}

pub async fn register(
    ctx: Ctx,
    input: RegisterContainerInstanceRequest,
) -> Result<RegisterContainerInstanceResponse, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    tags::check(input.tags.as_ref())?;
    let attributes = input.attributes.clone().unwrap_or_default();
    check_attributes(&attributes, false)?;
    let ec2_instance_id = input
        .instance_identity_document
        .as_deref()
        .map(instance_id_of)
        .transpose()?
        .flatten();
    let node = ctx.nodes.facts().into_iter().find(|n| {
        ec2_instance_id
            .as_deref()
            .is_some_and(|id| id == n.ec2_instance_id || Some(id) == n.provider_id.as_deref())
    });
    let id = match (&node, input.container_instance_arn.as_deref()) {
        (Some(node), _) => node.id.clone(),
        // A re-registration keeps its instance.
        (None, Some(arn)) => {
            crate::ops::names::in_cluster(&ctx, "container-instance", &cluster, arn)?
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::invalid_parameter(
                        "The container instance ARN is not of this cluster.",
                    )
                })?
        }
        (None, None) => uuid::Uuid::new_v4().simple().to_string(),
    };
    let arn = ctx.arns.container_instance(&cluster, &id);
    let total = input.total_resources.clone().unwrap_or_default();
    let now = ctx.now;
    let table = ctx.store.container_instances();
    let namespace = namespace_of(&ctx, &cluster);
    ctx.store
        .transaction(|tx| {
            let cluster = clusters::require_active_in(tx, &ctx, Some(&cluster))?;
            let counted = tx.update(&table, (cluster.as_str(), id.as_str()), |current| {
                let was_counted = current.is_some_and(|c| c.value.node.is_none());
                let counted = i32::from(node.is_none()) - i32::from(was_counted);
                let mut next = current.map(|c| c.value.clone()).unwrap_or_default();
                next.node = node.as_ref().map(|n| n.name.clone());
                next.instance = ContainerInstance {
                    container_instance_arn: Some(arn.clone()),
                    ec2_instance_id: ec2_instance_id.clone(),
                    status: Some(ACTIVE.to_owned()),
                    // Its agent never connects: kubecs places nothing on it.
                    agent_connected: Some(false),
                    registered_at: Some(now),
                    registered_resources: Some(total.clone()),
                    remaining_resources: Some(total.clone()),
                    version_info: input.version_info.clone(),
                    version: Some(1),
                    ..ContainerInstance::default()
                };
                merge_attributes(&mut next.attributes, &attributes)?;
                Ok::<_, ApiError>((Write::Put(next), counted))
            })?;
            clusters::count_registrations(tx, &ctx, &cluster, counted)?;
            tags::replace_in(&ctx, tx, &arn, input.tags.clone().unwrap_or_default())?;
            Ok::<_, ApiError>(())
        })
        .await?;
    let instance = find(&ctx, &cluster, &id)?
        .ok_or_else(|| ApiError::internal(&"a registered container instance is not found"))?;
    let mut wire = instance.wire(&ctx, &cluster, &namespace);
    wire.tags = input.tags.clone();
    Ok(RegisterContainerInstanceResponse {
        container_instance: Some(wire),
    })
}

pub async fn deregister(
    ctx: Ctx,
    input: DeregisterContainerInstanceRequest,
) -> Result<DeregisterContainerInstanceResponse, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let ident = input
        .container_instance
        .as_deref()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("Container instance cannot be empty."))?;
    let not_found =
        || ApiError::invalid_parameter("The referenced container instance was not found.");
    let instance = find(&ctx, &cluster, ident)?.ok_or_else(not_found)?;
    let namespace = namespace_of(&ctx, &cluster);
    let (running, pending) = instance.task_counts(&namespace);
    if running + pending > 0 && !input.force.unwrap_or(false) {
        return Err(ApiError::invalid_parameter(
            "Found running tasks on the instance. Use force parameter to force deregistration.",
        ));
    }
    let mut wire = instance.wire(&ctx, &cluster, &namespace);
    wire.status = Some("INACTIVE".to_owned());
    let table = ctx.store.container_instances();
    let arn = ctx.arns.container_instance(&cluster, &instance.id);
    ctx.store
        .transaction(|tx| {
            let counted = tx.update(
                &table,
                (cluster.as_str(), instance.id.as_str()),
                |current| {
                    let counted = current.is_some_and(|c| c.value.node.is_none());
                    Ok::<_, ApiError>((Write::Delete, counted))
                },
            )?;
            if counted {
                clusters::count_registrations(tx, &ctx, &cluster, -1)?;
            }
            tags::replace_in(&ctx, tx, &arn, Vec::new())
        })
        .await?;
    Ok(DeregisterContainerInstanceResponse {
        container_instance: Some(wire),
    })
}

/// ECS's rules for attribute names and values.
fn check_attributes(attributes: &[Attribute], need_target: bool) -> Result<(), ApiError> {
    if attributes.is_empty() && need_target {
        return Err(ApiError::invalid_parameter("Attributes cannot be empty."));
    }
    if attributes.len() > MAX_ATTRIBUTES_PER_CALL {
        return Err(ApiError::invalid_parameter(format!(
            "attributes can have at most {MAX_ATTRIBUTES_PER_CALL} items."
        )));
    }
    for attribute in attributes {
        let name = attribute.name.as_deref().unwrap_or_default();
        let name_ok = (1..=MAX_ATTRIBUTE_TEXT).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./@:".contains(&b));
        if !name_ok {
            return Err(ApiError::invalid_parameter(format!(
                "Attribute name '{name}' is not valid: up to 128 letters, numbers, hyphens, underscores, periods, at signs, forward slashes and colons."
            )));
        }
        if let Some(value) = attribute.value.as_deref() {
            let value_ok = (1..=MAX_ATTRIBUTE_TEXT).contains(&value.len())
                && value.trim() == value
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./@:\\ ".contains(&b));
            if !value_ok {
                return Err(ApiError::invalid_parameter(format!(
                    "Attribute value '{value}' of '{name}' is not valid: up to 128 letters, numbers, hyphens, underscores, periods, at signs, slashes, colons and inner spaces."
                )));
            }
        }
        if attribute
            .target_type
            .as_ref()
            .is_some_and(|t| *t != TargetType::ContainerInstance)
        {
            return Err(ApiError::invalid_parameter(
                "The target type of an attribute must be container-instance.",
            ));
        }
        if need_target && attribute.target_id.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::invalid_parameter(format!(
                "Attribute '{name}' has no targetId."
            )));
        }
    }
    Ok(())
}

/// Adds or replaces `new` in `attributes`, within ECS's limit of custom attributes.
fn merge_attributes(attributes: &mut Vec<Attribute>, new: &[Attribute]) -> Result<(), ApiError> {
    for attribute in new {
        let stored = Attribute {
            name: attribute.name.clone(),
            value: attribute.value.clone(),
            ..Attribute::default()
        };
        match attributes.iter_mut().find(|a| a.name == attribute.name) {
            Some(existing) => *existing = stored,
            None => attributes.push(stored),
        }
    }
    if attributes.len() > MAX_CUSTOM_ATTRIBUTES {
        return Err(ApiError::new(
            ErrorCode::AttributeLimitExceededException,
            format!("You can apply up to {MAX_CUSTOM_ATTRIBUTES} custom attributes to a resource."),
        ));
    }
    Ok(())
}

/// The attributes of a request grouped by the instance they target.
fn by_target(
    ctx: &Ctx,
    cluster: &str,
    attributes: &[Attribute],
) -> Result<BTreeMap<String, (Instance, Vec<Attribute>)>, ApiError> {
    let mut targets: BTreeMap<String, (Instance, Vec<Attribute>)> = BTreeMap::new();
    for attribute in attributes {
        let ident = attribute.target_id.as_deref().unwrap_or_default();
        let instance = find(ctx, cluster, ident)?.ok_or_else(|| {
            ApiError::new(
                ErrorCode::TargetNotFoundException,
                format!("Could not find {ident}."),
            )
        })?;
        targets
            .entry(instance.id.clone())
            .or_insert_with(|| (instance, Vec::new()))
            .1
            .push(attribute.clone());
    }
    Ok(targets)
}

/// An attribute as the attribute operations answer it: with its target.
fn targeted(ctx: &Ctx, cluster: &str, id: &str, name: String, value: Option<String>) -> Attribute {
    Attribute {
        name: Some(name),
        value,
        target_type: Some(TargetType::ContainerInstance),
        target_id: Some(ctx.arns.container_instance(cluster, id)),
    }
}

/// Attributes as PutAttributes and DeleteAttributes answer them: with their target type.
fn answered(attributes: Vec<Attribute>) -> Vec<Attribute> {
    attributes
        .into_iter()
        .map(|a| Attribute {
            target_type: Some(TargetType::ContainerInstance),
            ..a
        })
        .collect()
}

pub async fn put_attributes(
    ctx: Ctx,
    input: PutAttributesRequest,
) -> Result<PutAttributesResponse, ApiError> {
    let attributes = input.attributes.clone().unwrap_or_default();
    change_attributes(
        &ctx,
        input.cluster.as_deref(),
        &attributes,
        merge_attributes,
    )
    .await?;
    Ok(PutAttributesResponse {
        attributes: Some(answered(attributes)),
    })
}

pub async fn delete_attributes(
    ctx: Ctx,
    input: DeleteAttributesRequest,
) -> Result<DeleteAttributesResponse, ApiError> {
    let attributes = input.attributes.clone().unwrap_or_default();
    change_attributes(&ctx, input.cluster.as_deref(), &attributes, |kept, gone| {
        kept.retain(|a| !gone.iter().any(|g| g.name == a.name));
        Ok(())
    })
    .await?;
    Ok(DeleteAttributesResponse {
        attributes: Some(answered(attributes)),
    })
}

/// Applies `change` to the custom attributes of every instance `attributes` target (with
/// the attributes aimed at it), in one write.
async fn change_attributes(
    ctx: &Ctx,
    cluster: Option<&str>,
    attributes: &[Attribute],
    change: impl Fn(&mut Vec<Attribute>, &[Attribute]) -> Result<(), ApiError>,
) -> Result<(), ApiError> {
    check_attributes(attributes, true)?;
    let cluster = clusters::require_active(ctx, cluster)?;
    let targets = by_target(ctx, &cluster, attributes)?;
    let table = ctx.store.container_instances();
    ctx.store
        .transaction(|tx| {
            let cluster = clusters::require_active_in(tx, ctx, Some(&cluster))?;
            for (id, (instance, aimed)) in &targets {
                tx.update(&table, (cluster.as_str(), id.as_str()), |current| {
                    let mut next = current
                        .map(|c| c.value.clone())
                        .unwrap_or_else(|| instance.first_record(ctx, &cluster));
                    change(&mut next.attributes, aimed)?;
                    if current.is_none() && next.attributes.is_empty() {
                        return Ok((Write::Keep, ()));
                    }
                    Ok::<_, ApiError>((Write::Put(next), ()))
                })?;
            }
            Ok::<_, ApiError>(())
        })
        .await
}

pub async fn list_attributes(
    ctx: Ctx,
    input: ListAttributesRequest,
) -> Result<ListAttributesResponse, ApiError> {
    if input.target_type != Some(TargetType::ContainerInstance) {
        return Err(ApiError::invalid_parameter(
            "targetType must be container-instance.",
        ));
    }
    if input.attribute_value.is_some() && input.attribute_name.is_none() {
        return Err(ApiError::invalid_parameter(
            "attributeName must be given with attributeValue.",
        ));
    }
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let (limit, token) = services::page_params(
        input.max_results,
        input.next_token.as_deref(),
        ATTRIBUTES_KIND,
    )?;
    let after = token.as_ref().map(|t| t.last_key().to_vec());
    let mut found = Vec::new();
    let mut last = None;
    let mut more = false;
    'instances: for instance in all(&ctx, &cluster)? {
        for (name, value) in instance.attributes() {
            let position = format!("{}\u{0}{name}", instance.id);
            if after.as_deref().is_some_and(|a| position.as_bytes() <= a) {
                continue;
            }
            let wanted = input.attribute_name.as_ref().is_none_or(|n| *n == name)
                && input
                    .attribute_value
                    .as_ref()
                    .is_none_or(|v| value.as_ref() == Some(v));
            if !wanted {
                continue;
            }
            if found.len() == limit {
                more = true;
                break 'instances;
            }
            found.push(targeted(&ctx, &cluster, &instance.id, name, value));
            last = Some(position);
        }
    }
    Ok(ListAttributesResponse {
        attributes: Some(found),
        next_token: last
            .filter(|_| more)
            .map(|p| PageToken::after(p.into_bytes()).encode(ATTRIBUTES_KIND)),
    })
}
