//! RunTask and StartTask: new standalone tasks, PROVISIONING, written with their tags,
//! their placement and the cluster's pending count in one write. The reconciler creates
//! their pods.
//!
//! - `clientToken` (RunTask): the task ids are derived from the cluster and the token, so
//!   a retry finds the tasks the first call started and answers with them.
//! - Tags: the request's, the task definition's with `propagateTags: TASK_DEFINITION`,
//!   and `aws:ecs:clusterName` with `enableECSManagedTags`.
//! - Placement ([`placement`]): RunTask's constraints; StartTask binds each task to the
//!   node of its container instance.

use kubecs_api_models::{
    CapacityProviderStrategyItem, Container, Failure, LaunchType, PlacementConstraint,
    PlacementConstraintType, PropagateTags, RunTaskRequest, RunTaskResponse, StartTaskRequest,
    StartTaskResponse, Tag, Task, TaskDefinition, TaskOverride, Timestamp,
};
use kubecs_reconciler::convert;
use kubecs_reconciler::observe::records;
use kubecs_storage::{count_tasks_in, TaskCounts, TaskPlacement, Write};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{capacity_providers, clusters, container_instances, placement, services, tags};
use kubecs_reconciler::convert::names::BUILT_IN_CAPACITY_PROVIDERS;

/// ECS: RunTask starts 1 to 10 tasks; StartTask takes up to 10 container instances.
const MAX_RUN: i32 = 10;
const MAX_INSTANCES: usize = 10;
/// ECS's longest `startedBy` and `clientToken`.
const MAX_STARTED_BY: usize = 128;
const MAX_CLIENT_TOKEN: usize = 64;
/// The tag ECS manages on a task of a cluster.
const CLUSTER_NAME_TAG: &str = "aws:ecs:clusterName";

/// What RunTask and StartTask share: the tasks of one call.
struct Launch<'a> {
    cluster: &'a str,
    task_definition: &'a str,
    overrides: Option<&'a TaskOverride>,
    started_by: Option<&'a str>,
    group: Option<&'a str>,
    tags: &'a [Tag],
    launch_type: LaunchType,
    /// RunTask's launch type or capacity provider strategy, as given (the cluster's
    /// default strategy applies when neither is).
    given_launch_type: Option<&'a LaunchType>,
    capacity_provider_strategy: Option<&'a [CapacityProviderStrategyItem]>,
    enable_execute_command: bool,
    propagate_tags: Option<&'a PropagateTags>,
    managed_tags: bool,
    client_token: Option<&'a str>,
    /// One per task: where it may run, and its container instance when it is known.
    slots: Vec<Slot>,
}

struct Slot {
    placement: Option<TaskPlacement>,
    instance_arn: Option<String>,
}

pub async fn run(ctx: Ctx, input: RunTaskRequest) -> Result<RunTaskResponse, ApiError> {
    let count = input.count.unwrap_or(1);
    if !(1..=MAX_RUN).contains(&count) {
        return Err(ApiError::invalid_parameter(format!(
            "count must be between 1 and {MAX_RUN}, but was {count}."
        )));
    }
    if input
        .client_token
        .as_ref()
        .is_some_and(|t| t.is_empty() || t.len() > MAX_CLIENT_TOKEN)
    {
        return Err(ApiError::invalid_parameter(format!(
            "clientToken must be 1 to {MAX_CLIENT_TOKEN} characters."
        )));
    }
    if input.launch_type.is_some() && input.capacity_provider_strategy.is_some() {
        return Err(ApiError::invalid_parameter(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.",
        ));
    }
    let ident = required_task_definition(input.task_definition.as_deref())?;
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    // The task definition's constraints count with the request's (it is read again, and
    // checked ACTIVE, in the write).
    let td_constraints = ctx
        .store
        .task_definitions()
        .by_reference(&ctx.arns.task_definition_ref(ident)?)?
        .and_then(|r| r.value.placement_constraints)
        .unwrap_or_default()
        .into_iter()
        .map(|c| PlacementConstraint {
            // A task definition's constraints can only be memberOf.
            r#type: Some(PlacementConstraintType::MemberOf),
            expression: c.expression,
        })
        .collect::<Vec<_>>();
    let placement = placement::of_run(
        &ctx,
        &cluster,
        input.placement_constraints.as_deref().unwrap_or_default(),
        &td_constraints,
        input.placement_strategy.as_deref().unwrap_or_default(),
    )?;
    let launch = Launch {
        cluster: &cluster,
        task_definition: ident,
        overrides: input.overrides.as_ref(),
        started_by: input.started_by.as_deref(),
        group: input.group.as_deref(),
        tags: input.tags.as_deref().unwrap_or_default(),
        launch_type: input.launch_type.clone().unwrap_or(LaunchType::Ec2),
        given_launch_type: input.launch_type.as_ref(),
        capacity_provider_strategy: input.capacity_provider_strategy.as_deref(),
        enable_execute_command: input.enable_execute_command.unwrap_or(false),
        propagate_tags: input.propagate_tags.as_ref(),
        managed_tags: input.enable_ecs_managed_tags.unwrap_or(false),
        client_token: input.client_token.as_deref(),
        slots: (0..count)
            .map(|_| Slot {
                placement: placement.clone(),
                instance_arn: None,
            })
            .collect(),
    };
    Ok(RunTaskResponse {
        tasks: Some(launch.start(&ctx).await?),
        failures: Some(Vec::new()),
    })
}

pub async fn start(ctx: Ctx, input: StartTaskRequest) -> Result<StartTaskResponse, ApiError> {
    let idents = input.container_instances.clone().unwrap_or_default();
    if idents.is_empty() {
        return Err(ApiError::invalid_parameter(
            "Container instances cannot be empty.",
        ));
    }
    if idents.len() > MAX_INSTANCES {
        return Err(ApiError::invalid_parameter(format!(
            "containerInstances can have at most {MAX_INSTANCES} items."
        )));
    }
    let ident = required_task_definition(input.task_definition.as_deref())?;
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let mut slots = Vec::new();
    let mut failures = Vec::new();
    for instance_ident in &idents {
        let arn = |id: &str| ctx.arns.container_instance(&cluster, id);
        match container_instances::find(&ctx, &cluster, instance_ident)? {
            Some(instance) => match instance.node.as_ref() {
                Some(node) => slots.push(Slot {
                    placement: Some(TaskPlacement {
                        nodes: Some(vec![node.name.clone()]),
                        ..TaskPlacement::default()
                    }),
                    instance_arn: Some(arn(&instance.id)),
                }),
                // Registered, but no agent (no node) to run anything.
                None => failures.push(failure(arn(&instance.id), "AGENT")),
            },
            None => failures.push(failure(
                if instance_ident.starts_with("arn:") {
                    instance_ident.clone()
                } else {
                    arn(instance_ident)
                },
                "MISSING",
            )),
        }
    }
    let launch = Launch {
        cluster: &cluster,
        task_definition: ident,
        overrides: input.overrides.as_ref(),
        started_by: input.started_by.as_deref(),
        group: input.group.as_deref(),
        tags: input.tags.as_deref().unwrap_or_default(),
        launch_type: LaunchType::Ec2,
        // StartTask places on the instances named.
        given_launch_type: Some(&LaunchType::Ec2),
        capacity_provider_strategy: None,
        enable_execute_command: input.enable_execute_command.unwrap_or(false),
        propagate_tags: input.propagate_tags.as_ref(),
        managed_tags: input.enable_ecs_managed_tags.unwrap_or(false),
        client_token: None,
        slots,
    };
    let tasks = if launch.slots.is_empty() {
        Vec::new()
    } else {
        launch.start(&ctx).await?
    };
    Ok(StartTaskResponse {
        tasks: Some(tasks),
        failures: Some(failures),
    })
}

fn failure(arn: String, reason: &str) -> Failure {
    Failure {
        arn: Some(arn),
        reason: Some(reason.to_owned()),
        detail: None,
    }
}

fn required_task_definition(ident: Option<&str>) -> Result<&str, ApiError> {
    ident
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("TaskDefinition cannot be empty."))
}

impl Launch<'_> {
    /// Starts the tasks in one write; with a client token seen before, answers with the
    /// tasks it started instead.
    async fn start(self, ctx: &Ctx) -> Result<Vec<Task>, ApiError> {
        if self.started_by.is_some_and(|s| s.len() > MAX_STARTED_BY) {
            return Err(ApiError::invalid_parameter(format!(
                "startedBy can be at most {MAX_STARTED_BY} characters."
            )));
        }
        let user_tags = self.tags.to_vec();
        tags::check(Some(&user_tags))?;
        if self.propagate_tags == Some(&PropagateTags::Service) {
            return Err(ApiError::invalid_parameter(
                "propagateTags SERVICE is only valid for the tasks of a service.",
            ));
        }
        let now = ctx.now;
        let table = ctx.store.tasks();
        let placements = ctx.store.task_placements();
        let tag_table = ctx.store.tags();
        ctx.store
            .transaction(|tx| {
                let cluster = clusters::require_active_in(tx, ctx, Some(self.cluster))?;
                let td = services::active_task_definition_in(tx, ctx, self.task_definition)?;
                // What Kubernetes cannot run, overrides included, is refused now rather
                // than left PROVISIONING.
                let run = convert::task::with_overrides(&td, self.overrides)
                    .and_then(|run| convert::check_task_definition(&run).map(|()| run))
                    .map_err(|e| ApiError::new(e.error_code(), e.to_string()))?;
                let strategy = capacity_providers::strategy_in(
                    tx,
                    ctx,
                    &cluster,
                    self.given_launch_type,
                    self.capacity_provider_strategy,
                )?;
                let ids = self.ids(ctx, &cluster);
                if self.client_token.is_some() {
                    let earlier: Vec<Task> = ids
                        .iter()
                        .filter_map(|id| {
                            tx.get(&table, (cluster.as_str(), id.as_str())).transpose()
                        })
                        .map(|r| r.map(|r| r.value))
                        .collect::<Result<_, _>>()?;
                    if !earlier.is_empty() {
                        return Ok(earlier);
                    }
                }
                let mut task_tags = Vec::new();
                if self.propagate_tags == Some(&PropagateTags::TaskDefinition) {
                    let arn = td.task_definition_arn.as_deref().unwrap_or_default();
                    task_tags = tx
                        .get(&tag_table, arn)?
                        .map(|r| r.value)
                        .unwrap_or_default();
                }
                task_tags.extend(user_tags.iter().cloned());
                if self.managed_tags {
                    task_tags.push(Tag {
                        key: Some(CLUSTER_NAME_TAG.to_owned()),
                        value: Some(cluster.clone()),
                    });
                }
                let cluster_arn = ctx.arns.cluster(&cluster);
                let mut started = Vec::new();
                for (slot, id) in self.slots.iter().zip(&ids) {
                    let mut task =
                        self.provisioning(ctx, &td, &run, &cluster, &cluster_arn, id, now);
                    task.container_instance_arn = slot.instance_arn.clone();
                    let mut placement = slot.placement.clone();
                    if let Some(strategy) = &strategy {
                        let provider = capacity_providers::chosen(strategy);
                        let fargate = BUILT_IN_CAPACITY_PROVIDERS.contains(&provider.as_str());
                        task.launch_type = Some(if fargate {
                            LaunchType::Fargate
                        } else {
                            LaunchType::Ec2
                        });
                        task.capacity_provider_name = Some(provider);
                        if let Some(groups) = capacity_providers::node_providers(strategy) {
                            placement
                                .get_or_insert_with(TaskPlacement::default)
                                .capacity_providers = Some(groups);
                        }
                    }
                    let arn = task.task_arn.clone().unwrap_or_default();
                    let key = (cluster.as_str(), id.as_str());
                    // Tags live in the tags table (DescribeTasks shows them when asked);
                    // the answer carries them, as ECS's does.
                    tx.update(&table, key, |_| {
                        Ok::<_, ApiError>((Write::Put(task.clone()), ()))
                    })?;
                    if let Some(placement) = &placement {
                        tx.update(&placements, key, |_| {
                            Ok::<_, ApiError>((Write::Put(placement.clone()), ()))
                        })?;
                    }
                    tags::replace_in(ctx, tx, &arn, task_tags.clone())?;
                    let counts = TaskCounts::of_task(&task);
                    let none = TaskCounts {
                        running: 0,
                        pending: 0,
                        ..counts
                    };
                    count_tasks_in(tx, &ctx.store, &cluster, none, counts)?;
                    task.tags = Some(task_tags.clone());
                    started.push(task);
                }
                Ok::<_, ApiError>(started)
            })
            .await
    }

    /// The ids of the call's tasks: random, or derived from the client token.
    fn ids(&self, ctx: &Ctx, cluster: &str) -> Vec<String> {
        (0..self.slots.len())
            .map(|i| match self.client_token {
                Some(token) => {
                    records::stable_id(&format!("run-task/{}/{cluster}/{token}/{i}", ctx.region))
                }
                None => uuid::Uuid::new_v4().simple().to_string(),
            })
            .collect()
    }

    /// A task as RunTask answers it: PROVISIONING, wanted RUNNING, its containers PENDING.
    #[allow(clippy::too_many_arguments)]
    fn provisioning(
        &self,
        ctx: &Ctx,
        td: &TaskDefinition,
        run: &TaskDefinition,
        cluster: &str,
        cluster_arn: &str,
        id: &str,
        now: Timestamp,
    ) -> Task {
        let arn = ctx.arns.task(cluster, id);
        let containers = run
            .container_definitions
            .iter()
            .flatten()
            .map(|c| Container {
                container_arn: Some(records::container_arn(
                    &arn,
                    c.name.as_deref().unwrap_or_default(),
                )),
                task_arn: Some(arn.clone()),
                name: c.name.clone(),
                image: c.image.clone(),
                last_status: Some("PENDING".to_owned()),
                cpu: c.cpu.map(|cpu| cpu.to_string()),
                memory: c.memory.map(|m| m.to_string()),
                memory_reservation: c.memory_reservation.map(|m| m.to_string()),
                network_bindings: Some(Vec::new()),
                ..Container::default()
            })
            .collect();
        let mut overrides = self.overrides.cloned().unwrap_or_default();
        overrides.container_overrides.get_or_insert_with(Vec::new);
        overrides
            .inference_accelerator_overrides
            .get_or_insert_with(Vec::new);
        let family = td.family.as_deref().unwrap_or_default();
        Task {
            task_arn: Some(arn),
            cluster_arn: Some(cluster_arn.to_owned()),
            task_definition_arn: td.task_definition_arn.clone(),
            group: Some(
                self.group
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("family:{family}")),
            ),
            started_by: self.started_by.map(str::to_owned),
            last_status: Some("PROVISIONING".to_owned()),
            desired_status: Some("RUNNING".to_owned()),
            launch_type: Some(self.launch_type.clone()),
            cpu: run.cpu.clone(),
            memory: run.memory.clone(),
            created_at: Some(now),
            containers: Some(containers),
            overrides: Some(overrides),
            attachments: Some(Vec::new()),
            enable_execute_command: Some(self.enable_execute_command),
            version: Some(1),
            ..Task::default()
        }
    }
}
