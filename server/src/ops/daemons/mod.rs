//! The ECS Daemons API: daemons (CreateDaemon, UpdateDaemon, DeleteDaemon, DescribeDaemon,
//! ListDaemons), their deployments and revisions (`deployments`), and daemon task
//! definitions (`task_definitions`).
//!
//! A daemon runs one task on every node of its capacity providers (nodes labelled
//! `ecs.kubecs.io/capacity-provider=<name>`), as a DaemonSet the reconciler applies.
//! Every CreateDaemon and UpdateDaemon records a new revision (what to run, where) and a
//! deployment rolling it out (PENDING, IN_PROGRESS, SUCCESSFUL; STOPPED when a newer one
//! replaces it); DeleteDaemon makes the daemon DELETE_IN_PROGRESS with a deployment that
//! removes its tasks, after which the daemon is gone (DaemonNotFoundException).

pub mod deployments;
pub mod task_definitions;

use kubecs_api_models::{
    CreateDaemonRequest, CreateDaemonResponse, DaemonCapacityProvider, DaemonContainerImage,
    DaemonDeployment, DaemonDeploymentAlarms, DaemonDeploymentCapacityProvider,
    DaemonDeploymentConfiguration, DaemonDeploymentRevisionDetail,
    DaemonDeploymentRollbackMonitorsStatus, DaemonDeploymentStatus, DaemonDetail, DaemonRevision,
    DaemonRevisionDetail, DaemonStatus, DaemonSummary, DaemonTaskDefinition,
    DaemonTaskDefinitionStatus, DeleteDaemonRequest, DeleteDaemonResponse, DescribeDaemonRequest,
    DescribeDaemonResponse, ErrorCode, ListDaemonsRequest, ListDaemonsResponse, Operation,
    UpdateDaemonRequest, UpdateDaemonResponse,
};
use kubecs_reconciler::convert::names::BUILT_IN_CAPACITY_PROVIDERS;
use kubecs_storage::{DaemonRevisionState, DaemonState, Tx, Write};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{capacity_providers, clusters, names, paging, tags};

pub const OPERATIONS: &[Operation] = &[
    Operation::CreateDaemon,
    Operation::UpdateDaemon,
    Operation::DeleteDaemon,
    Operation::DescribeDaemon,
    Operation::ListDaemons,
    Operation::DescribeDaemonDeployments,
    Operation::ListDaemonDeployments,
    Operation::DescribeDaemonRevisions,
    Operation::RegisterDaemonTaskDefinition,
    Operation::DescribeDaemonTaskDefinition,
    Operation::DeleteDaemonTaskDefinition,
    Operation::ListDaemonTaskDefinitions,
];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::CreateDaemon => "A DaemonSet running the daemon task definition on every node of its capacity providers (Auto Scaling group providers associated with the cluster, whose nodes carry `ecs.kubecs.io/capacity-provider=<name>`; Fargate is refused); `drainPercent` is the share of nodes updated at a time; `clientToken`, tags. Its first revision and deployment are recorded.",
        Operation::UpdateDaemon => "A new revision and deployment (the DaemonSet rolls out, even for the same task definition); a deployment still in progress is STOPPED. Once as many of the new revision's tasks failed as ECS's circuit-breaker threshold, the daemon rolls back to the revision before (ROLLBACK_IN_PROGRESS, then ROLLBACK_SUCCESSFUL).",
        Operation::DeleteDaemon => "DELETE_IN_PROGRESS with a deployment that removes the DaemonSet; once its pods are gone the daemon is gone (DaemonNotFoundException).",
        Operation::DescribeDaemon => "Status, latest deployment, and each revision with running tasks counted per capacity provider from the pods.",
        Operation::ListDaemons => "The cluster's daemons (the default cluster when none is named), by name, optionally of given capacity providers; paginated.",
        Operation::DescribeDaemonDeployments => "Status and reason, start and end, target and source revisions with instance counts per capacity provider, the circuit breaker (failed tasks against ECS's threshold) and its rollback to the revision before; up to 20. Alarms are not watched (`DISABLED`).",
        Operation::ListDaemonDeployments => "The daemon's last 20 deployments, newest first; `status` and `createdAt` filters; paginated (20 by default).",
        Operation::DescribeDaemonRevisions => "Task definition, container images, tag settings of each revision; up to 20.",
        Operation::RegisterDaemonTaskDefinition => "Checked as the task definition it runs as (names, containers, sizes), and refused when Kubernetes cannot run it; revisions atomic and never reused; tags.",
        Operation::DescribeDaemonTaskDefinition => "By family (latest ACTIVE), `family:revision` or ARN, any status.",
        Operation::DeleteDaemonTaskDefinition => "The revision becomes DELETED at once; daemons running it keep it, new deployments cannot use it.",
        Operation::ListDaemonTaskDefinitions => "`family`, `familyPrefix`, `status` (ACTIVE by default), `revision: LAST_REGISTERED`, `sort`; paginated.",
        _ => return None,
    })
}

/// Deployments and revisions kept per daemon (ECS shows recent ones).
const HISTORY: usize = 20;
const LIST_KIND: &str = "ListDaemons";
const MAX_PAGE: i32 = 100;
/// ECS: `clientToken` is up to 36 characters; `bakeTimeInMinutes` 0 to 1440.
const MAX_CLIENT_TOKEN: usize = 36;
const MAX_BAKE_MINUTES: i32 = 1440;

pub fn daemon_not_found(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::DaemonNotFoundException,
        format!("Daemon not found: {arn}."),
    )
}

fn not_active(arn: &str) -> ApiError {
    ApiError::new(
        ErrorCode::DaemonNotActiveException,
        format!("The daemon is not ACTIVE: {arn}."),
    )
}

/// The (cluster, daemon) a daemon ARN names (`arn:...:daemon/<cluster>/<name>`); `None`
/// for an ARN of another region or account (nothing of ours has it).
pub fn parse_arn<'a>(ctx: &Ctx, arn: &'a str) -> Result<Option<(&'a str, &'a str)>, ApiError> {
    let invalid = || ApiError::invalid_parameter(format!("Invalid daemon ARN: {arn}"));
    if !arn.starts_with("arn:") || !arn.contains(":daemon/") {
        return Err(invalid());
    }
    let Some(resource) = ctx.arns.resource_of(arn) else {
        return Ok(None);
    };
    let path = resource.strip_prefix("daemon/").ok_or_else(invalid)?;
    match path.split('/').collect::<Vec<_>>()[..] {
        [cluster, name] if !cluster.is_empty() && !name.is_empty() => Ok(Some((cluster, name))),
        _ => Err(invalid()),
    }
}

/// The stored daemon an ARN names, or DaemonNotFoundException.
pub fn stored(ctx: &Ctx, arn: &str) -> Result<(String, String, DaemonState), ApiError> {
    let (cluster, name) = parse_arn(ctx, arn)?.ok_or_else(|| daemon_not_found(arn))?;
    let record = ctx
        .store
        .daemons()
        .get((cluster, name))?
        .ok_or_else(|| daemon_not_found(arn))?;
    Ok((cluster.to_owned(), name.to_owned(), record.value))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if names::is_valid(name) {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(
            "Daemon name must be up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens.",
        ))
    }
}

fn check_configuration(config: Option<&DaemonDeploymentConfiguration>) -> Result<(), ApiError> {
    let Some(config) = config else {
        return Ok(());
    };
    if config
        .drain_percent
        .is_some_and(|p| !(0.0..=100.0).contains(&p))
    {
        return Err(ApiError::invalid_parameter(
            "drainPercent must be between 0 and 100.",
        ));
    }
    if config
        .bake_time_in_minutes
        .is_some_and(|m| !(0..=MAX_BAKE_MINUTES).contains(&m))
    {
        return Err(ApiError::invalid_parameter(format!(
            "bakeTimeInMinutes must be between 0 and {MAX_BAKE_MINUTES}."
        )));
    }
    Ok(())
}

/// The capacity providers a daemon runs on, as ARNs, checked inside the write: each an
/// ACTIVE Auto Scaling group provider of the account associated with `cluster`, whose
/// nodes exist.
fn providers_in(
    tx: &Tx<'_, '_>,
    ctx: &Ctx,
    cluster: &str,
    given: &[String],
) -> Result<Vec<String>, ApiError> {
    if given.is_empty() {
        return Err(ApiError::invalid_parameter(
            "capacityProviderArns must contain at least one capacity provider.",
        ));
    }
    let associated = tx
        .get(&ctx.store.clusters(), cluster)?
        .and_then(|r| r.value.capacity_providers)
        .unwrap_or_default();
    let mut arns = Vec::new();
    let mut strategy = Vec::new();
    for ident in given {
        let name = match ident.strip_prefix("arn:") {
            Some(_) => ctx
                .arns
                .resource_of(ident)
                .and_then(|r| r.strip_prefix("capacity-provider/"))
                .ok_or_else(|| {
                    ApiError::invalid_parameter(format!("Invalid capacity provider ARN: {ident}"))
                })?,
            None => ident.as_str(),
        };
        if BUILT_IN_CAPACITY_PROVIDERS.contains(&name) {
            return Err(ApiError::invalid_parameter(format!(
                "Daemons run on the container instances of a capacity provider; {name} runs tasks on Fargate, which has none."
            )));
        }
        let exists = tx
            .get(&ctx.store.capacity_providers(), name)?
            .is_some_and(|r| {
                r.value.provider.status == Some(kubecs_api_models::CapacityProviderStatus::Active)
            });
        if !exists {
            return Err(ApiError::invalid_parameter(format!(
                "The specified capacity provider does not exist: {ident}."
            )));
        }
        if !associated.iter().any(|a| a == name) {
            return Err(ApiError::invalid_parameter(format!(
                "The specified capacity provider {name} is not associated with the cluster. Associate it with PutClusterCapacityProviders first."
            )));
        }
        arns.push(ctx.arns.capacity_provider(name));
        strategy.push(kubecs_api_models::CapacityProviderStrategyItem {
            capacity_provider: Some(name.to_owned()),
            ..Default::default()
        });
    }
    capacity_providers::check_nodes(ctx, &strategy)?;
    arns.dedup();
    Ok(arns)
}

/// A daemon task definition a new deployment may use: ACTIVE, read inside the write.
fn task_definition_in(
    tx: &Tx<'_, '_>,
    ctx: &Ctx,
    ident: &str,
) -> Result<DaemonTaskDefinition, ApiError> {
    let record = task_definitions::find(tx, ctx, ident)?;
    if record.value.status != Some(DaemonTaskDefinitionStatus::Active) {
        return Err(ApiError::client(format!(
            "The daemon task definition is not ACTIVE: {ident}."
        )));
    }
    Ok(record.value)
}

/// `ecs-daemon`-style ids: 16 letters and digits for deployments, 19 digits for
/// revisions, as ECS's examples show them.
fn deployment_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut n = uuid::Uuid::new_v4().as_u128();
    (0..16)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u128) as usize] as char;
            n /= ALPHABET.len() as u128;
            c
        })
        .collect()
}

fn revision_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 10_000_000_000_000_000_000u128;
    format!("{n:019}")
}

/// What a request asks a daemon to run: the fields of a new revision.
struct Wanted<'a> {
    task_definition: &'a DaemonTaskDefinition,
    providers: Vec<String>,
    configuration: Option<DaemonDeploymentConfiguration>,
    propagate_tags: Option<kubecs_api_models::DaemonPropagateTags>,
    managed_tags: Option<bool>,
    execute_command: Option<bool>,
}

fn revision_detail(arn: Option<String>, providers: &[String]) -> DaemonDeploymentRevisionDetail {
    DaemonDeploymentRevisionDetail {
        arn,
        capacity_providers: Some(
            providers
                .iter()
                .map(|p| DaemonDeploymentCapacityProvider {
                    arn: Some(p.clone()),
                    running_instance_count: Some(0),
                    draining_instance_count: Some(0),
                })
                .collect(),
        ),
        total_running_instance_count: Some(0),
        total_draining_instance_count: Some(0),
    }
}

/// Records a new deployment on `state`: of a new revision when `wanted` is given, else
/// of the daemon's removal. A deployment still in progress is stopped by it.
fn deploy(
    ctx: &Ctx,
    cluster: &str,
    name: &str,
    state: &mut DaemonState,
    wanted: Option<Wanted<'_>>,
) {
    let now = ctx.now;
    let id = deployment_id();
    let deployment_arn = ctx.arns.daemon_deployment(cluster, name, &id);
    for old in &mut state.deployments {
        if matches!(
            old.status,
            Some(DaemonDeploymentStatus::Pending | DaemonDeploymentStatus::InProgress)
        ) {
            old.status = Some(DaemonDeploymentStatus::Stopped);
            old.status_reason = Some(format!("Stopped by a newer deployment: {deployment_arn}."));
            old.stopped_at = Some(now);
            old.finished_at = Some(now);
        }
    }
    let source = state.current_revision().map(|r| {
        revision_detail(
            r.revision.daemon_revision_arn.clone(),
            &r.capacity_provider_arns,
        )
    });
    let (target, configuration) = match wanted {
        Some(wanted) => {
            let revision_arn = ctx.arns.daemon_revision(cluster, name, &revision_id());
            let images = wanted
                .task_definition
                .container_definitions
                .iter()
                .flatten()
                .map(|c| DaemonContainerImage {
                    container_name: c.name.clone(),
                    image: c.image.clone(),
                    image_digest: None,
                })
                .collect();
            state.revisions.insert(
                0,
                DaemonRevisionState {
                    revision: DaemonRevision {
                        daemon_revision_arn: Some(revision_arn.clone()),
                        daemon_arn: Some(state.daemon_arn.clone()),
                        cluster_arn: Some(state.cluster_arn.clone()),
                        daemon_task_definition_arn: wanted
                            .task_definition
                            .daemon_task_definition_arn
                            .clone(),
                        created_at: Some(now),
                        container_images: Some(images),
                        propagate_tags: wanted.propagate_tags,
                        enable_ecs_managed_tags: wanted.managed_tags,
                        enable_execute_command: wanted.execute_command,
                    },
                    capacity_provider_arns: wanted.providers.clone(),
                    deployment_configuration: wanted.configuration.clone(),
                },
            );
            state.revisions.truncate(HISTORY);
            (
                Some(revision_detail(Some(revision_arn), &wanted.providers)),
                wanted.configuration,
            )
        }
        None => (None, None),
    };
    let alarms = configuration
        .as_ref()
        .and_then(|c| c.alarms.as_ref())
        .filter(|a| a.enable == Some(true))
        .map(|a| DaemonDeploymentAlarms {
            alarm_names: a.alarm_names.clone(),
            // kubecs watches no CloudWatch alarms.
            status: Some(DaemonDeploymentRollbackMonitorsStatus::Disabled),
            triggered_alarm_names: None,
        });
    state.deployments.insert(
        0,
        DaemonDeployment {
            daemon_deployment_arn: Some(deployment_arn),
            cluster_arn: Some(state.cluster_arn.clone()),
            created_at: Some(now),
            status: Some(DaemonDeploymentStatus::Pending),
            deployment_configuration: configuration,
            alarms,
            target_daemon_revision: target,
            source_daemon_revisions: source.map(|s| vec![s]),
            ..DaemonDeployment::default()
        },
    );
    state.deployments.truncate(HISTORY);
    state.updated_at = now;
}

pub async fn create(
    ctx: Ctx,
    input: CreateDaemonRequest,
) -> Result<CreateDaemonResponse, ApiError> {
    let name = input.daemon_name.clone().unwrap_or_default();
    check_name(&name)?;
    tags::check(input.tags.as_ref())?;
    check_configuration(input.deployment_configuration.as_ref())?;
    if input
        .client_token
        .as_ref()
        .is_some_and(|t| t.is_empty() || t.len() > MAX_CLIENT_TOKEN)
    {
        return Err(ApiError::invalid_parameter(format!(
            "clientToken must be 1 to {MAX_CLIENT_TOKEN} characters."
        )));
    }
    let td_ident = input.daemon_task_definition_arn.clone().unwrap_or_default();
    let given_providers = input.capacity_provider_arns.clone().unwrap_or_default();
    let user_tags = input.tags.clone().unwrap_or_default();
    let table = ctx.store.daemons();
    let state = ctx
        .store
        .transaction(|tx| {
            let cluster = clusters::require_active_in(tx, &ctx, input.cluster_arn.as_deref())?;
            let daemon_arn = ctx.arns.daemon(&cluster, &name);
            if let Some(existing) = tx.get(&table, (cluster.as_str(), name.as_str()))? {
                let same_token = input.client_token.is_some()
                    && existing.value.client_token == input.client_token;
                return if same_token {
                    Ok(existing.value)
                } else if existing.value.status == DaemonStatus::DeleteInProgress {
                    Err(ApiError::invalid_parameter(format!(
                        "The daemon {name} is being deleted; create it again once it is gone."
                    )))
                } else {
                    Err(ApiError::invalid_parameter(
                        "Creation of daemon was not idempotent.",
                    ))
                };
            }
            let td = task_definition_in(tx, &ctx, &td_ident)?;
            let providers = providers_in(tx, &ctx, &cluster, &given_providers)?;
            let mut state = DaemonState {
                daemon_arn: daemon_arn.clone(),
                cluster_arn: ctx.arns.cluster(&cluster),
                status: DaemonStatus::Active,
                created_at: ctx.now,
                updated_at: ctx.now,
                client_token: input.client_token.clone(),
                revisions: Vec::new(),
                deployments: Vec::new(),
                running: Vec::new(),
                task_records: Default::default(),
                pending_count: 0,
            };
            deploy(
                &ctx,
                &cluster,
                &name,
                &mut state,
                Some(Wanted {
                    task_definition: &td,
                    providers,
                    configuration: input.deployment_configuration.clone(),
                    propagate_tags: input.propagate_tags.clone(),
                    managed_tags: input.enable_ecs_managed_tags,
                    execute_command: input.enable_execute_command,
                }),
            );
            let key = (cluster.clone(), name.clone());
            let value = state.clone();
            tx.update(&table, key, |_| Ok::<_, ApiError>((Write::Put(value), ())))?;
            if !user_tags.is_empty() {
                tags::replace_in(&ctx, tx, &daemon_arn, user_tags.clone())?;
            }
            Ok(state)
        })
        .await?;
    Ok(CreateDaemonResponse {
        daemon_arn: Some(state.daemon_arn.clone()),
        status: Some(state.status.clone()),
        created_at: Some(state.created_at),
        deployment_arn: state
            .current_deployment()
            .and_then(|d| d.daemon_deployment_arn.clone()),
    })
}

/// Changes an ACTIVE daemon in one write: `change` records its new deployment.
async fn change_active(
    ctx: &Ctx,
    arn: &str,
    change: impl FnOnce(&mut Tx<'_, '_>, &str, &str, &mut DaemonState) -> Result<(), ApiError>,
) -> Result<DaemonState, ApiError> {
    let (cluster, name) = parse_arn(ctx, arn)?.ok_or_else(|| daemon_not_found(arn))?;
    let table = ctx.store.daemons();
    ctx.store
        .transaction(|tx| {
            clusters::require_active_in(tx, ctx, Some(cluster))?;
            let mut state = tx
                .get(&table, (cluster, name))?
                .ok_or_else(|| daemon_not_found(arn))?
                .value;
            if state.status != DaemonStatus::Active {
                return Err(not_active(arn));
            }
            change(tx, cluster, name, &mut state)?;
            let value = state.clone();
            tx.update(&table, (cluster, name), |_| {
                Ok::<_, ApiError>((Write::Put(value), ()))
            })?;
            Ok(state)
        })
        .await
}

pub async fn update(
    ctx: Ctx,
    input: UpdateDaemonRequest,
) -> Result<UpdateDaemonResponse, ApiError> {
    let arn = input.daemon_arn.clone().unwrap_or_default();
    check_configuration(input.deployment_configuration.as_ref())?;
    let td_ident = input.daemon_task_definition_arn.clone().unwrap_or_default();
    let given_providers = input.capacity_provider_arns.clone().unwrap_or_default();
    let state = change_active(&ctx, &arn, |tx, cluster, name, state| {
        let td = task_definition_in(tx, &ctx, &td_ident)?;
        let providers = providers_in(tx, &ctx, cluster, &given_providers)?;
        deploy(
            &ctx,
            cluster,
            name,
            state,
            Some(Wanted {
                task_definition: &td,
                providers,
                configuration: input.deployment_configuration.clone(),
                propagate_tags: input.propagate_tags.clone(),
                managed_tags: input.enable_ecs_managed_tags,
                execute_command: input.enable_execute_command,
            }),
        );
        Ok(())
    })
    .await?;
    Ok(UpdateDaemonResponse {
        daemon_arn: Some(state.daemon_arn.clone()),
        status: Some(state.status.clone()),
        created_at: Some(state.created_at),
        updated_at: Some(state.updated_at),
        deployment_arn: state
            .current_deployment()
            .and_then(|d| d.daemon_deployment_arn.clone()),
    })
}

pub async fn delete(
    ctx: Ctx,
    input: DeleteDaemonRequest,
) -> Result<DeleteDaemonResponse, ApiError> {
    let arn = input.daemon_arn.clone().unwrap_or_default();
    let state = change_active(&ctx, &arn, |_, cluster, name, state| {
        deploy(&ctx, cluster, name, state, None);
        state.status = DaemonStatus::DeleteInProgress;
        Ok(())
    })
    .await?;
    Ok(DeleteDaemonResponse {
        daemon_arn: Some(state.daemon_arn.clone()),
        status: Some(state.status.clone()),
        created_at: Some(state.created_at),
        updated_at: Some(state.updated_at),
        deployment_arn: state
            .current_deployment()
            .and_then(|d| d.daemon_deployment_arn.clone()),
    })
}

/// The revisions a daemon runs: those with running tasks, and the one it is rolling
/// out; each with its running tasks per capacity provider.
fn current_revisions(state: &DaemonState) -> Vec<DaemonRevisionDetail> {
    let rolling_out = match state.status {
        DaemonStatus::Active => state
            .current_revision()
            .and_then(|r| r.revision.daemon_revision_arn.as_deref()),
        _ => None,
    };
    state
        .revisions
        .iter()
        .filter(|r| {
            let arn = r
                .revision
                .daemon_revision_arn
                .as_deref()
                .unwrap_or_default();
            rolling_out == Some(arn)
                || state
                    .running
                    .iter()
                    .any(|c| c.revision_arn == arn && c.count > 0)
        })
        .map(|r| {
            let arn = r.revision.daemon_revision_arn.clone().unwrap_or_default();
            let count = |provider: &str| {
                state
                    .running
                    .iter()
                    .filter(|c| c.revision_arn == arn && c.capacity_provider_arn == provider)
                    .map(|c| c.count)
                    .sum::<i32>()
            };
            let providers: Vec<DaemonCapacityProvider> = r
                .capacity_provider_arns
                .iter()
                .map(|p| DaemonCapacityProvider {
                    arn: Some(p.clone()),
                    running_count: Some(count(p)),
                })
                .collect();
            DaemonRevisionDetail {
                total_running_count: Some(
                    state
                        .running
                        .iter()
                        .filter(|c| c.revision_arn == arn)
                        .map(|c| c.count)
                        .sum(),
                ),
                arn: Some(arn),
                capacity_providers: Some(providers),
            }
        })
        .collect()
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeDaemonRequest,
) -> Result<DescribeDaemonResponse, ApiError> {
    let arn = input.daemon_arn.as_deref().unwrap_or_default();
    let (_, _, state) = stored(&ctx, arn)?;
    Ok(DescribeDaemonResponse {
        daemon: Some(DaemonDetail {
            daemon_arn: Some(state.daemon_arn.clone()),
            cluster_arn: Some(state.cluster_arn.clone()),
            status: Some(state.status.clone()),
            created_at: Some(state.created_at),
            updated_at: Some(state.updated_at),
            deployment_arn: state
                .current_deployment()
                .and_then(|d| d.daemon_deployment_arn.clone()),
            current_revisions: Some(current_revisions(&state)),
        }),
    })
}

pub async fn list(ctx: Ctx, input: ListDaemonsRequest) -> Result<ListDaemonsResponse, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster_arn.as_deref())?;
    let filter: Vec<String> = input
        .capacity_provider_arns
        .iter()
        .flatten()
        .map(|p| match p.strip_prefix("arn:") {
            Some(_) => p.clone(),
            None => ctx.arns.capacity_provider(p),
        })
        .collect();
    let mut summaries: Vec<(String, DaemonSummary)> = Vec::new();
    let prefix = kubecs_storage::KeyPrefix::first(cluster.as_str());
    let mut after = None;
    loop {
        let page = ctx.store.daemons().page(&prefix, after.as_ref(), 1000)?;
        for ((_, name), record) in page.items {
            let state = record.value;
            let on_providers = filter.is_empty()
                || state
                    .current_revision()
                    .is_some_and(|r| r.capacity_provider_arns.iter().any(|p| filter.contains(p)));
            if on_providers {
                summaries.push((
                    name,
                    DaemonSummary {
                        daemon_arn: Some(state.daemon_arn.clone()),
                        status: Some(state.status.clone()),
                        created_at: Some(state.created_at),
                        updated_at: Some(state.updated_at),
                    },
                ));
            }
        }
        match page.next_token {
            Some(token) => after = Some(token),
            None => break,
        }
    }
    let (page, next_token) = paging::page(
        summaries,
        |(name, _)| name.clone(),
        input.max_results,
        input.next_token.as_deref(),
        MAX_PAGE,
        LIST_KIND,
    )?;
    Ok(ListDaemonsResponse {
        daemon_summaries_list: Some(page.into_iter().map(|(_, s)| s).collect()),
        next_token,
    })
}
