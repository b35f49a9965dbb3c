//! Clusters: CreateCluster, DescribeClusters, ListClusters, DeleteCluster, UpdateCluster
//! and UpdateClusterSettings.
//!
//! A cluster is stored whole (the `Cluster` wire shape) keyed by name. Deleting one marks
//! it INACTIVE; it stays describable, and creating the name again replaces it.

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{account_settings, capacity_providers, names, tags};
use kubecs_api_models::status::{ACTIVE, INACTIVE};
use kubecs_api_models::Operation;
use kubecs_api_models::{
    Cluster, ClusterField, ClusterServiceConnectDefaults, ClusterServiceConnectDefaultsRequest,
    ClusterSetting, ClusterSettingName, CreateClusterRequest, CreateClusterResponse,
    DeleteClusterRequest, DeleteClusterResponse, DescribeClustersRequest, DescribeClustersResponse,
    ErrorCode, Failure, KeyValuePair, ListClustersRequest, ListClustersResponse, Tag,
    UpdateClusterRequest, UpdateClusterResponse, UpdateClusterSettingsRequest,
    UpdateClusterSettingsResponse,
};
use kubecs_storage::{
    has_live_services, statistic, KeyPrefix, Order, PageToken, Table, Tx, Write, CLUSTER_STATISTICS,
};

const DEFAULT_CLUSTER: &str = "default";
/// The token kind of ListClusters: a token from another listing is refused.
const LIST_KIND: &str = "ListClusters";
/// ECS: DescribeClusters takes up to 100 clusters; ListClusters pages hold 1 to 100.
const MAX_DESCRIBE: usize = 100;
const MAX_PAGE: i32 = 100;
const CONTAINER_INSIGHTS_VALUES: &[&str] = &["enabled", "disabled", "enhanced"];

/// The operations this module implements.
pub const OPERATIONS: &[Operation] = &[
    Operation::CreateCluster,
    Operation::DeleteCluster,
    Operation::DescribeClusters,
    Operation::ListClusters,
    Operation::UpdateCluster,
    Operation::UpdateClusterSettings,
];

/// What kubecs does with each, for the README's compatibility table.
pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::CreateCluster => "Idempotent for an ACTIVE name; tags, settings, configuration and service-connect defaults stored; capacity providers (FARGATE, FARGATE_SPOT and the account's ACTIVE ones) and a default strategy with ECS's rules.",
        Operation::DescribeClusters => "Names or ARNs, up to 100; unknown ones in `failures` as MISSING; `include` honoured; INACTIVE clusters stay describable.",
        Operation::ListClusters => "ACTIVE clusters, paginated (`maxResults` 1-100, opaque validated `nextToken`).",
        Operation::DeleteCluster => "Marks the cluster INACTIVE; refused while it has ACTIVE or DRAINING services or tasks (checked in the same atomic write).",
        Operation::UpdateCluster => "Settings, configuration and service-connect defaults.",
        Operation::UpdateClusterSettings => "Settings are merged by name; containerInsights values checked.",
        _ => return None,
    })
}

fn clusters(ctx: &Ctx) -> Table<String, Cluster> {
    ctx.store.clusters()
}

fn is_active(cluster: &Cluster) -> bool {
    cluster.status.as_deref() == Some(ACTIVE)
}

pub(crate) fn not_found() -> ApiError {
    ApiError::new(ErrorCode::ClusterNotFoundException, "Cluster not found.")
}

/// ECS's cluster-name rule, with the message ECS gives for it.
fn check_name(name: &str) -> Result<(), ApiError> {
    if names::is_valid(name) {
        Ok(())
    } else {
        Err(ApiError::invalid_parameter(format!(
            "Cluster must match ^[a-zA-Z0-9\\-_]{{1,255}}$, but was {name}"
        )))
    }
}

/// The cluster name a `cluster` parameter (name or ARN, default `default`) refers to;
/// `None` for an ARN of another region or account.
fn resolve<'a>(ctx: &Ctx, ident: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    let name = ctx.arns.cluster_name(ident.unwrap_or(DEFAULT_CLUSTER))?;
    if let Some(name) = name {
        check_name(name)?;
    }
    Ok(name)
}

/// The name of the ACTIVE cluster a `cluster` parameter (name, ARN, or absent for
/// `default`) refers to; `ClusterNotFoundException` otherwise.
pub fn require_active(ctx: &Ctx, ident: Option<&str>) -> Result<String, ApiError> {
    let name = resolve(ctx, ident)?.ok_or_else(not_found)?;
    // Every service request starts here; decoding the cluster record each time was ~7%
    // of DescribeServices' CPU, so whether it is ACTIVE is kept per stored version.
    let active = clusters(ctx).get_derived(name, &ctx.caches.cluster_active, |record| {
        Ok::<_, ApiError>(is_active(&record.value))
    })?;
    match active.as_deref() {
        Some(true) => Ok(name.to_owned()),
        _ => Err(not_found()),
    }
}

/// [`require_active`] inside a write: the cluster is read as the write sees it, so a
/// DeleteCluster decided meanwhile cannot slip between the check and the write.
pub fn require_active_in(
    tx: &Tx<'_, '_>,
    ctx: &Ctx,
    ident: Option<&str>,
) -> Result<String, ApiError> {
    let name = resolve(ctx, ident)?.ok_or_else(not_found)?;
    match tx.get(&clusters(ctx), name)? {
        Some(record) if is_active(&record.value) => Ok(name.to_owned()),
        _ => Err(not_found()),
    }
}

/// Counts `service` moving between statuses in its cluster's counts and statistics
/// (`kubecs_storage::count_service_move`); part of the write that moves it.
pub fn count_service_move_in(
    tx: &mut Tx<'_, '_>,
    ctx: &Ctx,
    cluster: &str,
    service: &kubecs_api_models::Service,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(), ApiError> {
    tx.update(&clusters(ctx), cluster, |current| {
        let Some(record) = current else {
            return Ok::<_, ApiError>((Write::Keep, ()));
        };
        let mut cluster = record.value.clone();
        kubecs_storage::count_service_move(&mut cluster, service, from, to);
        Ok((Write::Put(cluster), ()))
    })
}

/// Merges `updates` into `settings` by name, checking each value.
fn merge_settings(
    settings: &mut Vec<ClusterSetting>,
    updates: &[ClusterSetting],
) -> Result<(), ApiError> {
    for update in updates {
        let (Some(name), Some(value)) = (&update.name, &update.value) else {
            return Err(ApiError::invalid_parameter(
                "Cluster settings must have a name and a value.",
            ));
        };
        if *name == ClusterSettingName::ContainerInsights
            && !CONTAINER_INSIGHTS_VALUES.contains(&value.as_str())
        {
            return Err(ApiError::invalid_parameter(format!(
                "containerInsights should be one of [{}], but was {value}",
                CONTAINER_INSIGHTS_VALUES.join(",")
            )));
        }
        match settings.iter_mut().find(|s| s.name.as_ref() == Some(name)) {
            Some(existing) => existing.value = Some(value.clone()),
            None => settings.push(update.clone()),
        }
    }
    Ok(())
}

fn default_settings() -> Vec<ClusterSetting> {
    vec![ClusterSetting {
        name: Some(ClusterSettingName::ContainerInsights),
        value: Some("disabled".to_owned()),
    }]
}

fn connect_defaults(
    request: Option<&ClusterServiceConnectDefaultsRequest>,
) -> Option<ClusterServiceConnectDefaults> {
    request.map(|r| ClusterServiceConnectDefaults {
        namespace: r.namespace.clone(),
    })
}

/// What a cluster looks like in a response: counts and lists always present, settings,
/// configuration, tags, statistics and attachments only when asked for (`include`).
fn present(cluster: &Cluster, include: &[ClusterField], tags: Vec<Tag>) -> Cluster {
    let wants = |field: ClusterField| include.contains(&field);
    let mut out = cluster.clone();
    out.tags = Some(tags);
    if !wants(ClusterField::Settings) {
        out.settings = None;
    }
    if !wants(ClusterField::Configurations) {
        out.configuration = None;
    }
    if !wants(ClusterField::Tags) {
        out.tags = Some(Vec::new());
    }
    if !wants(ClusterField::Attachments) {
        out.attachments = None;
        out.attachments_status = None;
    }
    out.statistics = Some(if wants(ClusterField::Statistics) {
        statistics(cluster)
    } else {
        Vec::new()
    });
    out
}

/// Create, update and delete answer with everything ECS knows about the cluster.
pub(crate) fn present_full(ctx: &Ctx, cluster: &Cluster) -> Result<Cluster, ApiError> {
    Ok(present(
        cluster,
        &[
            ClusterField::Settings,
            ClusterField::Configurations,
            ClusterField::Tags,
        ],
        tags_of(ctx, cluster)?,
    ))
}

/// A cluster's tags, from the tags table (keyed by ARN, shared by every resource type).
fn tags_of(ctx: &Ctx, cluster: &Cluster) -> Result<Vec<Tag>, ApiError> {
    match cluster.cluster_arn.as_deref() {
        Some(arn) => tags::of(ctx, arn),
        None => Ok(Vec::new()),
    }
}

/// The STATISTICS of ECS, by launch type, from the counters the stored cluster keeps
/// (services as they change status; tasks from the reconciler).
fn statistics(cluster: &Cluster) -> Vec<KeyValuePair> {
    CLUSTER_STATISTICS
        .iter()
        .map(|name| KeyValuePair {
            name: Some((*name).to_owned()),
            value: Some(statistic(cluster, name).to_string()),
        })
        .collect()
}

pub async fn create(
    ctx: Ctx,
    input: CreateClusterRequest,
) -> Result<CreateClusterResponse, ApiError> {
    let name = input
        .cluster_name
        .clone()
        .unwrap_or_else(|| DEFAULT_CLUSTER.to_owned());
    check_name(&name)?;
    tags::check(input.tags.as_ref())?;
    let providers = input.capacity_providers.clone().unwrap_or_default();
    capacity_providers::check_strategy(
        input
            .default_capacity_provider_strategy
            .as_deref()
            .unwrap_or_default(),
        &providers,
    )?;
    let mut settings = default_settings();
    // The account setting `containerInsights` (the caller's, else the account's) is the
    // default of a new cluster.
    let insights = account_settings::effective(
        &ctx,
        &ctx.caller.principal_arn,
        &kubecs_api_models::SettingName::ContainerInsights,
    )?;
    merge_settings(
        &mut settings,
        &[ClusterSetting {
            name: Some(ClusterSettingName::ContainerInsights),
            value: insights.value,
        }],
    )?;
    merge_settings(&mut settings, input.settings.as_deref().unwrap_or_default())?;
    let fresh = Cluster {
        cluster_arn: Some(ctx.arns.cluster(&name)),
        cluster_name: Some(name.clone()),
        status: Some(ACTIVE.to_owned()),
        registered_container_instances_count: Some(0),
        running_tasks_count: Some(0),
        pending_tasks_count: Some(0),
        active_services_count: Some(0),
        statistics: Some(Vec::new()),
        settings: Some(settings),
        configuration: input.configuration.clone(),
        capacity_providers: Some(input.capacity_providers.clone().unwrap_or_default()),
        default_capacity_provider_strategy: Some(
            input
                .default_capacity_provider_strategy
                .clone()
                .unwrap_or_default(),
        ),
        service_connect_defaults: connect_defaults(input.service_connect_defaults.as_ref()),
        ..Cluster::default()
    };
    // An ACTIVE cluster of that name is returned as it is (CreateCluster is idempotent in
    // ECS); an INACTIVE one is replaced. The cluster and its tags are one write.
    let table = clusters(&ctx);
    let cluster = ctx
        .store
        .transaction(|tx| {
            let (cluster, created) = tx.update(&table, &name, |current| match current {
                Some(record) if is_active(&record.value) => {
                    Ok::<_, ApiError>((Write::Keep, (record.value.clone(), false)))
                }
                _ => Ok((Write::Put(fresh.clone()), (fresh.clone(), true))),
            })?;
            if created {
                capacity_providers::associate(tx, &ctx, &name, &[], &providers)?;
                // A new cluster (perhaps replacing an INACTIVE one of the same ARN) starts
                // with exactly the tags it was created with.
                let tags = input.tags.clone().unwrap_or_default();
                tags::replace_in(&ctx, tx, &ctx.arns.cluster(&name), tags)?;
            }
            Ok::<_, ApiError>(cluster)
        })
        .await?;
    Ok(CreateClusterResponse {
        cluster: Some(present_full(&ctx, &cluster)?),
    })
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeClustersRequest,
) -> Result<DescribeClustersResponse, ApiError> {
    let default = vec![DEFAULT_CLUSTER.to_owned()];
    let idents = input.clusters.as_ref().unwrap_or(&default);
    if idents.len() > MAX_DESCRIBE {
        return Err(ApiError::invalid_parameter(format!(
            "clusters can have at most {MAX_DESCRIBE} elements."
        )));
    }
    let include = input.include.as_deref().unwrap_or_default();
    let table = clusters(&ctx);
    // Every node is a container instance of every cluster, besides the instances
    // registered in it explicitly.
    let nodes = i32::try_from(ctx.nodes.count()).unwrap_or(i32::MAX);
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for ident in idents {
        let record = match resolve(&ctx, Some(ident))? {
            Some(name) => table.get(name)?,
            None => None,
        };
        match record {
            Some(record) => {
                let tags = if include.contains(&ClusterField::Tags) {
                    tags_of(&ctx, &record.value)?
                } else {
                    Vec::new()
                };
                let mut cluster = present(&record.value, include, tags);
                if is_active(&record.value) {
                    let registered = cluster.registered_container_instances_count.unwrap_or(0);
                    cluster.registered_container_instances_count = Some(registered + nodes);
                }
                found.push(cluster);
            }
            None => failures.push(Failure {
                arn: Some(if ident.starts_with("arn:") {
                    ident.clone()
                } else {
                    ctx.arns.cluster(ident)
                }),
                reason: Some("MISSING".to_owned()),
                detail: None,
            }),
        }
    }
    Ok(DescribeClustersResponse {
        clusters: Some(found),
        failures: Some(failures),
    })
}

pub async fn list(ctx: Ctx, input: ListClustersRequest) -> Result<ListClustersResponse, ApiError> {
    let limit = input.max_results.unwrap_or(MAX_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_parameter(format!(
            "maxResults must be between 1 and {MAX_PAGE}."
        )));
    }
    let token = input
        .next_token
        .as_deref()
        .map(|t| PageToken::parse(LIST_KIND, t))
        .transpose()?;
    let page = clusters(&ctx).page_where(
        &KeyPrefix::all(),
        token.as_ref(),
        limit as usize,
        Order::Ascending,
        |_, record| is_active(&record.value),
    )?;
    Ok(ListClustersResponse {
        cluster_arns: Some(
            page.items
                .iter()
                .map(|(name, _)| ctx.arns.cluster(name))
                .collect(),
        ),
        next_token: page.next_token.map(|t| t.encode(LIST_KIND)),
    })
}

pub async fn delete(
    ctx: Ctx,
    input: DeleteClusterRequest,
) -> Result<DeleteClusterResponse, ApiError> {
    let name = resolve(&ctx, input.cluster.as_deref())?.ok_or_else(not_found)?;
    // Emptiness is decided inside the write that marks the cluster INACTIVE: on the
    // cluster's own counters (CreateService counts a service in the same write that
    // creates it), and on the daemons table. A racing CreateService or CreateDaemon is
    // either seen here (and DeleteCluster refused) or sees the cluster INACTIVE (and is
    // refused itself).
    let daemons = ctx.store.daemons();
    let daemons_of = kubecs_storage::KeyPrefix::first(name);
    let table = clusters(&ctx);
    let cluster = ctx
        .store
        .transaction(|tx| {
            let has_daemons = tx.any_under(&daemons, &daemons_of)?;
            let cluster = tx.update(&table, name, |current| {
                let Some(record) = current.filter(|r| is_active(&r.value)) else {
                    return Err(not_found());
                };
                // Daemons first: their tasks count as the cluster's too.
                if has_daemons {
                    return Err(ApiError::new(
                        ErrorCode::ClusterContainsServicesException,
                        "The Cluster cannot be deleted while Daemons are active.",
                    ));
                }
                ensure_empty(&record.value)?;
                let mut cluster = record.value.clone();
                cluster.status = Some(INACTIVE.to_owned());
                Ok((Write::Put(cluster.clone()), cluster))
            })?;
            // Its capacity providers are free to be deleted.
            let providers = cluster.capacity_providers.clone().unwrap_or_default();
            capacity_providers::associate(tx, &ctx, name, &providers, &[])?;
            Ok::<_, ApiError>(cluster)
        })
        .await?;
    Ok(DeleteClusterResponse {
        cluster: Some(present_full(&ctx, &cluster)?),
    })
}

/// ECS refuses to delete a cluster that still has ACTIVE or DRAINING services, or tasks
/// that have not stopped.
fn ensure_empty(cluster: &Cluster) -> Result<(), ApiError> {
    if has_live_services(cluster) {
        return Err(ApiError::new(
            ErrorCode::ClusterContainsServicesException,
            "The Cluster cannot be deleted while Services are active.",
        ));
    }
    if cluster.running_tasks_count.unwrap_or(0) > 0 || cluster.pending_tasks_count.unwrap_or(0) > 0
    {
        return Err(ApiError::new(
            ErrorCode::ClusterContainsTasksException,
            "The Cluster cannot be deleted while Tasks are active.",
        ));
    }
    if cluster.registered_container_instances_count.unwrap_or(0) > 0 {
        return Err(ApiError::new(
            ErrorCode::ClusterContainsContainerInstancesException,
            "The Cluster cannot be deleted while Container Instances are active.",
        ));
    }
    Ok(())
}

/// Counts `change` more container instances registered explicitly (bound to no node) in
/// `cluster`, in the write that registers or deregisters them; DeleteCluster is refused
/// while any is left.
pub fn count_registrations(
    tx: &mut Tx<'_, '_>,
    ctx: &Ctx,
    cluster: &str,
    change: i32,
) -> Result<(), ApiError> {
    if change == 0 {
        return Ok(());
    }
    tx.update(&clusters(ctx), cluster, |current| {
        let Some(current) = current else {
            return Ok::<_, ApiError>((Write::Keep, ()));
        };
        let mut next = current.value.clone();
        let count = next.registered_container_instances_count.unwrap_or(0) + change;
        next.registered_container_instances_count = Some(count.max(0));
        Ok((Write::Put(next), ()))
    })
}

/// Applies `change` to an ACTIVE cluster and answers with the result.
async fn modify_active(
    ctx: &Ctx,
    ident: Option<&str>,
    change: impl Fn(&mut Cluster) -> Result<(), ApiError>,
) -> Result<Cluster, ApiError> {
    let name = resolve(ctx, ident)?.ok_or_else(not_found)?;
    clusters(ctx)
        .update(name, |current| {
            let Some(record) = current.filter(|r| is_active(&r.value)) else {
                return Err(not_found());
            };
            let mut cluster = record.value.clone();
            change(&mut cluster)?;
            Ok((Write::Put(cluster.clone()), cluster))
        })
        .await
}

pub async fn update(
    ctx: Ctx,
    input: UpdateClusterRequest,
) -> Result<UpdateClusterResponse, ApiError> {
    let cluster = modify_active(&ctx, input.cluster.as_deref(), |cluster| {
        if let Some(updates) = &input.settings {
            merge_settings(cluster.settings.get_or_insert_with(Vec::new), updates)?;
        }
        if let Some(configuration) = &input.configuration {
            cluster.configuration = Some(configuration.clone());
        }
        if let Some(defaults) = &input.service_connect_defaults {
            cluster.service_connect_defaults = connect_defaults(Some(defaults));
        }
        Ok(())
    })
    .await?;
    Ok(UpdateClusterResponse {
        cluster: Some(present_full(&ctx, &cluster)?),
    })
}

pub async fn update_settings(
    ctx: Ctx,
    input: UpdateClusterSettingsRequest,
) -> Result<UpdateClusterSettingsResponse, ApiError> {
    let updates = input.settings.clone().unwrap_or_default();
    let cluster = modify_active(&ctx, input.cluster.as_deref(), |cluster| {
        merge_settings(cluster.settings.get_or_insert_with(Vec::new), &updates)
    })
    .await?;
    Ok(UpdateClusterSettingsResponse {
        cluster: Some(present_full(&ctx, &cluster)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_follow_the_ecs_rule() {
        assert!(check_name("demo-1_A").is_ok());
        assert!(check_name(&"a".repeat(255)).is_ok());
        for bad in ["", "has space", "dot.ted", "slash/", &"a".repeat(256)] {
            let err = check_name(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidParameterException, "{bad}");
        }
    }

    #[test]
    fn settings_merge_by_name_and_container_insights_values_are_checked() {
        let mut settings = default_settings();
        let enabled = ClusterSetting {
            name: Some(ClusterSettingName::ContainerInsights),
            value: Some("enabled".into()),
        };
        merge_settings(&mut settings, &[enabled]).unwrap();
        assert_eq!(settings.len(), 1);
        assert_eq!(settings[0].value.as_deref(), Some("enabled"));
        let bad = ClusterSetting {
            name: Some(ClusterSettingName::ContainerInsights),
            value: Some("sometimes".into()),
        };
        assert!(merge_settings(&mut settings, &[bad]).is_err());
    }

    #[test]
    fn describe_shows_settings_tags_and_statistics_only_when_included() {
        let cluster = Cluster {
            cluster_name: Some("c".into()),
            settings: Some(default_settings()),
            tags: Some(vec![kubecs_api_models::Tag {
                key: Some("k".into()),
                value: Some("v".into()),
            }]),
            ..Cluster::default()
        };
        let tags = cluster.tags.clone().unwrap_or_default();
        let plain = present(&cluster, &[], tags.clone());
        assert_eq!(plain.settings, None);
        assert_eq!(plain.tags, Some(vec![]));
        assert_eq!(plain.statistics, Some(vec![]));
        let all = present(
            &cluster,
            &[
                ClusterField::Settings,
                ClusterField::Tags,
                ClusterField::Statistics,
            ],
            tags,
        );
        assert_eq!(all.settings, cluster.settings);
        assert_eq!(all.tags, cluster.tags);
        assert_eq!(all.statistics.map(|s| s.len()), Some(8));
    }
}
