//! Capacity providers: FARGATE and FARGATE_SPOT are built in; Auto Scaling group providers
//! are created, described, updated and deleted with ECS's validation, and associated with
//! clusters (CreateCluster, PutClusterCapacityProviders).
//!
//! On Kubernetes a capacity provider is the set of nodes labelled
//! `ecs.kubecs.io/capacity-provider=<name>` (see `kubecs_reconciler::convert::names`):
//! a service or task whose capacity provider strategy names Auto Scaling group providers
//! runs only on their nodes; FARGATE and FARGATE_SPOT run on any node. The Auto Scaling
//! group itself, managed scaling and termination protection are kept and shown: scaling
//! the nodes is the Kubernetes cluster's business.

use std::collections::BTreeSet;

use kubecs_api_models::{
    AutoScalingGroupProvider, CapacityProvider, CapacityProviderField, CapacityProviderStatus,
    CapacityProviderStrategyItem, CapacityProviderType, CapacityProviderUpdateStatus,
    CreateCapacityProviderRequest, CreateCapacityProviderResponse, DeleteCapacityProviderRequest,
    DeleteCapacityProviderResponse, DescribeCapacityProvidersRequest,
    DescribeCapacityProvidersResponse, ErrorCode, Failure, ManagedDraining, ManagedScaling,
    ManagedScalingStatus, ManagedTerminationProtection, Operation,
    PutClusterCapacityProvidersRequest, PutClusterCapacityProvidersResponse,
    UpdateCapacityProviderRequest, UpdateCapacityProviderResponse,
};
use kubecs_reconciler::convert::names::{capacity_provider_requirement, CAPACITY_PROVIDER_LABEL};
use kubecs_storage::{CapacityProviderState, Tx, Write};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{clusters, names, paging, tags};

pub const OPERATIONS: &[Operation] = &[
    Operation::CreateCapacityProvider,
    Operation::DescribeCapacityProviders,
    Operation::UpdateCapacityProvider,
    Operation::DeleteCapacityProvider,
    Operation::PutClusterCapacityProviders,
];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::CreateCapacityProvider => "Auto Scaling group providers, stored with ECS's validation and defaults; their tasks run on the nodes labelled `ecs.kubecs.io/capacity-provider=<name>`. Managed instances providers are refused (they need ECS Managed Instances).",
        Operation::DescribeCapacityProviders => "FARGATE and FARGATE_SPOT (built in, any node) and the account's providers; `include: [\"TAGS\"]`; paginated.",
        Operation::UpdateCapacityProvider => "Managed scaling, termination protection and draining settings, stored (the nodes scale as the Kubernetes cluster does).",
        Operation::DeleteCapacityProvider => "INACTIVE; refused while a cluster is associated with it.",
        Operation::PutClusterCapacityProviders => "The cluster's providers and default strategy, with ECS's rules (a strategy uses associated providers, Fargate or Auto Scaling group ones, one base). Services and tasks without a launch type or strategy use the default strategy.",
        _ => return None,
    })
}

use kubecs_reconciler::convert::names::BUILT_IN_CAPACITY_PROVIDERS as BUILT_IN;
/// ECS: DescribeCapacityProviders pages hold 1 to 10 providers.
const MAX_PAGE: i32 = 10;
const LIST_KIND: &str = "DescribeCapacityProviders";
/// ECS's managed scaling defaults.
const TARGET_CAPACITY: i32 = 100;
const MIN_STEP: i32 = 1;
const MAX_STEP: i32 = 10_000;
const WARMUP: i32 = 300;

fn arn(ctx: &Ctx, name: &str) -> String {
    ctx.arns.capacity_provider(name)
}

/// The provider name a parameter (a name or an ARN) refers to.
fn name_of<'a>(ctx: &Ctx, ident: &'a str) -> &'a str {
    ctx.arns
        .resource_of(ident)
        .and_then(|r| r.strip_prefix("capacity-provider/"))
        .unwrap_or(ident)
}

fn built_in(ctx: &Ctx, name: &str) -> CapacityProvider {
    CapacityProvider {
        capacity_provider_arn: Some(arn(ctx, name)),
        name: Some(name.to_owned()),
        status: Some(CapacityProviderStatus::Active),
        r#type: Some(if name == "FARGATE" {
            CapacityProviderType::Fargate
        } else {
            CapacityProviderType::FargateSpot
        }),
        tags: Some(Vec::new()),
        ..CapacityProvider::default()
    }
}

fn not_found(name: &str) -> ApiError {
    ApiError::invalid_parameter(format!(
        "The specified capacity provider does not exist. Specify a valid name or ARN and try again. Capacity provider: {name}"
    ))
}

/// ECS's rules for a new provider's name.
fn check_name(name: &str) -> Result<(), ApiError> {
    if !names::is_valid(name) {
        return Err(ApiError::invalid_parameter(
            "The capacity provider name can have up to 255 letters, numbers, underscores and hyphens.",
        ));
    }
    let lower = name.to_ascii_lowercase();
    if ["aws", "ecs", "fargate"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        return Err(ApiError::invalid_parameter(
            "The capacity provider name cannot start with 'aws', 'ecs' or 'fargate'.",
        ));
    }
    Ok(())
}

/// Managed scaling with ECS's defaults and bounds.
fn managed_scaling(given: Option<&ManagedScaling>) -> Result<ManagedScaling, ApiError> {
    let scaling = ManagedScaling {
        status: Some(match given {
            Some(g) => g.status.clone().unwrap_or(ManagedScalingStatus::Enabled),
            None => ManagedScalingStatus::Disabled,
        }),
        target_capacity: Some(
            given
                .and_then(|g| g.target_capacity)
                .unwrap_or(TARGET_CAPACITY),
        ),
        minimum_scaling_step_size: Some(
            given
                .and_then(|g| g.minimum_scaling_step_size)
                .unwrap_or(MIN_STEP),
        ),
        maximum_scaling_step_size: Some(
            given
                .and_then(|g| g.maximum_scaling_step_size)
                .unwrap_or(MAX_STEP),
        ),
        instance_warmup_period: Some(
            given
                .and_then(|g| g.instance_warmup_period)
                .unwrap_or(WARMUP),
        ),
    };
    if !(1..=100).contains(&scaling.target_capacity.unwrap_or(TARGET_CAPACITY)) {
        return Err(ApiError::invalid_parameter(
            "The managed scaling target capacity must be between 1 and 100.",
        ));
    }
    if scaling.minimum_scaling_step_size > scaling.maximum_scaling_step_size {
        return Err(ApiError::invalid_parameter(
            "The minimum scaling step size cannot be greater than the maximum scaling step size.",
        ));
    }
    Ok(scaling)
}

fn check_termination_protection(provider: &AutoScalingGroupProvider) -> Result<(), ApiError> {
    let protected =
        provider.managed_termination_protection == Some(ManagedTerminationProtection::Enabled);
    let scaling = provider
        .managed_scaling
        .as_ref()
        .and_then(|s| s.status.clone())
        == Some(ManagedScalingStatus::Enabled);
    if protected && !scaling {
        return Err(ApiError::invalid_parameter(
            "Managed termination protection requires managed scaling to be enabled.",
        ));
    }
    Ok(())
}

pub async fn create(
    ctx: Ctx,
    input: CreateCapacityProviderRequest,
) -> Result<CreateCapacityProviderResponse, ApiError> {
    let name = input.name.clone().unwrap_or_default();
    check_name(&name)?;
    tags::check(input.tags.as_ref())?;
    if input.managed_instances_provider.is_some() || input.cluster.is_some() {
        return Err(ApiError::invalid_parameter(
            "Managed instances capacity providers need Amazon ECS Managed Instances; kubecs runs tasks on Kubernetes nodes. Create an Auto Scaling group provider and label its nodes instead.",
        ));
    }
    let given = input.auto_scaling_group_provider.as_ref().ok_or_else(|| {
        ApiError::invalid_parameter("autoScalingGroupProvider must be specified.")
    })?;
    let group = given.auto_scaling_group_arn.as_deref().unwrap_or_default();
    if !group.starts_with("arn:") || !group.contains(":autoscaling:") {
        return Err(ApiError::invalid_parameter(format!(
            "The Auto Scaling group ARN is not valid: {group}"
        )));
    }
    let provider = AutoScalingGroupProvider {
        auto_scaling_group_arn: Some(group.to_owned()),
        managed_scaling: Some(managed_scaling(given.managed_scaling.as_ref())?),
        managed_termination_protection: Some(
            given
                .managed_termination_protection
                .clone()
                .unwrap_or(ManagedTerminationProtection::Disabled),
        ),
        managed_draining: Some(
            given
                .managed_draining
                .clone()
                .unwrap_or(ManagedDraining::Enabled),
        ),
    };
    check_termination_protection(&provider)?;
    let created = CapacityProvider {
        capacity_provider_arn: Some(arn(&ctx, &name)),
        name: Some(name.clone()),
        status: Some(CapacityProviderStatus::Active),
        r#type: Some(CapacityProviderType::Ec2Autoscaling),
        auto_scaling_group_provider: Some(provider),
        ..CapacityProvider::default()
    };
    let table = ctx.store.capacity_providers();
    let user_tags = input.tags.clone().unwrap_or_default();
    ctx.store
        .transaction(|tx| {
            tx.update(&table, &name, |current| {
                if current.is_some_and(|c| c.value.provider.status == Some(CapacityProviderStatus::Active)) {
                    return Err(ApiError::client(format!(
                        "The specified capacity provider already exists. To change the configuration of an existing capacity provider, update the capacity provider. Capacity provider: {name}"
                    )));
                }
                Ok((
                    Write::Put(CapacityProviderState {
                        provider: created.clone(),
                        clusters: BTreeSet::new(),
                    }),
                    (),
                ))
            })?;
            tags::replace_in(&ctx, tx, &arn(&ctx, &name), user_tags.clone())
        })
        .await?;
    Ok(CreateCapacityProviderResponse {
        capacity_provider: Some(CapacityProvider {
            tags: Some(user_tags),
            ..created
        }),
    })
}

pub async fn describe(
    ctx: Ctx,
    input: DescribeCapacityProvidersRequest,
) -> Result<DescribeCapacityProvidersResponse, ApiError> {
    let include_tags = input
        .include
        .as_ref()
        .is_some_and(|i| i.contains(&CapacityProviderField::Tags));
    let with_tags = |mut p: CapacityProvider| -> Result<CapacityProvider, ApiError> {
        if include_tags {
            let arn = p.capacity_provider_arn.clone().unwrap_or_default();
            p.tags = Some(tags::of(&ctx, &arn)?);
        } else if p.tags.as_ref().is_some_and(Vec::is_empty) {
            p.tags = None;
        }
        Ok(p)
    };
    let table = ctx.store.capacity_providers();
    if let Some(idents) = input.capacity_providers.as_ref().filter(|i| !i.is_empty()) {
        let mut found = Vec::new();
        let mut failures = Vec::new();
        for ident in idents {
            let name = name_of(&ctx, ident);
            let provider = if BUILT_IN.contains(&name) {
                Some(built_in(&ctx, name))
            } else {
                table.get(name)?.map(|r| r.value.provider)
            };
            match provider {
                Some(p) => found.push(with_tags(p)?),
                None => failures.push(Failure {
                    arn: Some(if ident.starts_with("arn:") {
                        ident.clone()
                    } else {
                        arn(&ctx, ident)
                    }),
                    reason: Some("MISSING".to_owned()),
                    detail: None,
                }),
            }
        }
        return Ok(DescribeCapacityProvidersResponse {
            capacity_providers: Some(found),
            failures: Some(failures),
            next_token: None,
        });
    }
    let mut all: Vec<CapacityProvider> = BUILT_IN.iter().map(|n| built_in(&ctx, n)).collect();
    for entry in table.scan_all() {
        let (_, record) = entry?;
        all.push(record.value.provider);
    }
    let key = |p: &CapacityProvider| p.name.clone().unwrap_or_default();
    all.sort_by_key(key);
    let (page, next_token) = paging::page(
        all,
        key,
        input.max_results,
        input.next_token.as_deref(),
        MAX_PAGE,
        LIST_KIND,
    )?;
    Ok(DescribeCapacityProvidersResponse {
        capacity_providers: Some(page.into_iter().map(with_tags).collect::<Result<_, _>>()?),
        failures: Some(Vec::new()),
        next_token,
    })
}

/// The stored, ACTIVE provider a request names (built-in ones cannot be changed).
fn stored_name(ctx: &Ctx, ident: Option<&str>) -> Result<String, ApiError> {
    let ident = ident
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("The capacity provider must be specified."))?;
    let name = name_of(ctx, ident);
    if BUILT_IN.contains(&name) {
        return Err(ApiError::invalid_parameter(format!(
            "The {name} capacity provider is managed by Amazon ECS and cannot be changed."
        )));
    }
    Ok(name.to_owned())
}

pub async fn update(
    ctx: Ctx,
    input: UpdateCapacityProviderRequest,
) -> Result<UpdateCapacityProviderResponse, ApiError> {
    let name = stored_name(&ctx, input.name.as_deref())?;
    if input.managed_instances_provider.is_some() {
        return Err(ApiError::invalid_parameter(
            "Managed instances capacity providers need Amazon ECS Managed Instances.",
        ));
    }
    let change = input
        .auto_scaling_group_provider
        .clone()
        .unwrap_or_default();
    let updated = ctx
        .store
        .capacity_providers()
        .update(name.clone(), |current| {
            let current = current
                .filter(|c| c.value.provider.status == Some(CapacityProviderStatus::Active))
                .ok_or_else(|| not_found(&name))?;
            let mut next = current.value.clone();
            let provider = next
                .provider
                .auto_scaling_group_provider
                .get_or_insert_with(AutoScalingGroupProvider::default);
            if let Some(scaling) = &change.managed_scaling {
                provider.managed_scaling = Some(managed_scaling(Some(scaling))?);
            }
            if let Some(protection) = &change.managed_termination_protection {
                provider.managed_termination_protection = Some(protection.clone());
            }
            if let Some(draining) = &change.managed_draining {
                provider.managed_draining = Some(draining.clone());
            }
            check_termination_protection(provider)?;
            next.provider.update_status = Some(CapacityProviderUpdateStatus::UpdateComplete);
            Ok::<_, ApiError>((Write::Put(next.clone()), next.provider))
        })
        .await?;
    Ok(UpdateCapacityProviderResponse {
        capacity_provider: Some(updated),
    })
}

pub async fn delete(
    ctx: Ctx,
    input: DeleteCapacityProviderRequest,
) -> Result<DeleteCapacityProviderResponse, ApiError> {
    let name = stored_name(&ctx, input.capacity_provider.as_deref())?;
    let deleted = ctx
        .store
        .capacity_providers()
        .update(name.clone(), |current| {
            let current = current
                .filter(|c| c.value.provider.status == Some(CapacityProviderStatus::Active))
                .ok_or_else(|| not_found(&name))?;
            if let Some(cluster) = current.value.clusters.iter().next() {
                return Err(ApiError::new(
                    ErrorCode::ResourceInUseException,
                    format!(
                        "The specified capacity provider is in use and cannot be removed. Remove it from cluster {cluster} first."
                    ),
                ));
            }
            let mut next = current.value.clone();
            next.provider.status = Some(CapacityProviderStatus::Inactive);
            next.provider.update_status = Some(CapacityProviderUpdateStatus::DeleteComplete);
            Ok::<_, ApiError>((Write::Put(next.clone()), next.provider))
        })
        .await?;
    Ok(DeleteCapacityProviderResponse {
        capacity_provider: Some(deleted),
    })
}

/// ECS's rules for a capacity provider strategy over `providers` (the cluster's).
pub fn check_strategy(
    strategy: &[CapacityProviderStrategyItem],
    providers: &[String],
) -> Result<(), ApiError> {
    let mut bases = 0;
    let mut fargate = false;
    let mut groups = false;
    for item in strategy {
        let name = item.capacity_provider.as_deref().unwrap_or_default();
        if !providers.iter().any(|p| p == name) {
            return Err(ApiError::invalid_parameter(format!(
                "The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again. Capacity provider: {name}"
            )));
        }
        if !(0..=1000).contains(&item.weight.unwrap_or(0)) {
            return Err(ApiError::invalid_parameter(
                "A capacity provider weight must be between 0 and 1000.",
            ));
        }
        if !(0..=100_000).contains(&item.base.unwrap_or(0)) {
            return Err(ApiError::invalid_parameter(
                "A capacity provider base must be between 0 and 100000.",
            ));
        }
        bases += usize::from(item.base.unwrap_or(0) > 0);
        if BUILT_IN.contains(&name) {
            fargate = true;
        } else {
            groups = true;
        }
    }
    if bases > 1 {
        return Err(ApiError::invalid_parameter(
            "Only one capacity provider in a capacity provider strategy can have a base.",
        ));
    }
    if fargate && groups {
        return Err(ApiError::invalid_parameter(
            "A capacity provider strategy cannot contain both Fargate and Auto Scaling group capacity providers.",
        ));
    }
    Ok(())
}

/// Associates `cluster` with exactly `providers` (inside the write that sets them): each
/// must be built in or an ACTIVE provider; those no longer listed are released.
pub fn associate(
    tx: &mut Tx<'_, '_>,
    ctx: &Ctx,
    cluster: &str,
    before: &[String],
    providers: &[String],
) -> Result<(), ApiError> {
    let table = ctx.store.capacity_providers();
    for name in providers.iter().filter(|p| !BUILT_IN.contains(&p.as_str())) {
        tx.update(&table, name.as_str(), |current| {
            let current = current
                .filter(|c| c.value.provider.status == Some(CapacityProviderStatus::Active))
                .ok_or_else(|| not_found(name))?;
            let mut next = current.value.clone();
            next.clusters.insert(cluster.to_owned());
            Ok::<_, ApiError>((Write::Put(next), ()))
        })?;
    }
    for name in before.iter().filter(|p| !providers.contains(p)) {
        tx.update(&table, name.as_str(), |current| {
            let Some(current) = current else {
                return Ok::<_, ApiError>((Write::Keep, ()));
            };
            let mut next = current.value.clone();
            next.clusters.remove(cluster);
            Ok((Write::Put(next), ()))
        })?;
    }
    Ok(())
}

pub async fn put_cluster_providers(
    ctx: Ctx,
    input: PutClusterCapacityProvidersRequest,
) -> Result<PutClusterCapacityProvidersResponse, ApiError> {
    let providers: Vec<String> = input
        .capacity_providers
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|p| name_of(&ctx, p).to_owned())
        .collect();
    let strategy = input
        .default_capacity_provider_strategy
        .clone()
        .unwrap_or_default();
    check_strategy(&strategy, &providers)?;
    let cluster = ctx
        .store
        .transaction(|tx| {
            let name = clusters::require_active_in(tx, &ctx, input.cluster.as_deref())?;
            let table = ctx.store.clusters();
            let current = tx
                .get(&table, name.as_str())?
                .ok_or_else(clusters::not_found)?;
            let before = current.value.capacity_providers.clone().unwrap_or_default();
            associate(tx, &ctx, &name, &before, &providers)?;
            let mut next = current.value.clone();
            next.capacity_providers = Some(providers.clone());
            next.default_capacity_provider_strategy = Some(strategy.clone());
            tx.update(&table, name.as_str(), |_| {
                Ok::<_, ApiError>((Write::Put(next.clone()), ()))
            })?;
            Ok::<_, ApiError>(next)
        })
        .await?;
    Ok(PutClusterCapacityProvidersResponse {
        cluster: Some(clusters::present_full(&ctx, &cluster)?),
    })
}

/// The capacity provider strategy a new service or task of `cluster` uses, read in the
/// write that creates it: none with a launch type; the one given, checked against the
/// cluster's providers; else the cluster's default strategy, if it has one. Its nodes
/// must exist (see [`check_nodes`]).
pub fn strategy_in(
    tx: &Tx<'_, '_>,
    ctx: &Ctx,
    cluster: &str,
    launch_type: Option<&kubecs_api_models::LaunchType>,
    given: Option<&[CapacityProviderStrategyItem]>,
) -> Result<Option<Vec<CapacityProviderStrategyItem>>, ApiError> {
    if launch_type.is_some() {
        return Ok(None);
    }
    let record = tx
        .get(&ctx.store.clusters(), cluster)?
        .ok_or_else(clusters::not_found)?;
    let providers = record.value.capacity_providers.unwrap_or_default();
    let strategy = match given {
        Some(strategy) => {
            check_strategy(strategy, &providers)?;
            strategy.to_vec()
        }
        None => record
            .value
            .default_capacity_provider_strategy
            .unwrap_or_default(),
    };
    if strategy.is_empty() {
        return Ok(None);
    }
    check_nodes(ctx, &strategy)?;
    Ok(Some(strategy))
}

/// The provider a task of `strategy` runs with: the one with a base, else the heaviest.
pub fn chosen(strategy: &[CapacityProviderStrategyItem]) -> String {
    strategy
        .iter()
        .max_by_key(|i| (i.base.unwrap_or(0) > 0, i.weight.unwrap_or(0)))
        .and_then(|i| i.capacity_provider.clone())
        .unwrap_or_default()
}

/// The Auto Scaling group providers of a strategy: the node label values its tasks may
/// run on (`None` when it has none: any node).
pub fn node_providers(strategy: &[CapacityProviderStrategyItem]) -> Option<Vec<String>> {
    capacity_provider_requirement(strategy).and_then(|r| r.values)
}

/// Refuses a strategy no node can serve, when the nodes are known: its Auto Scaling group
/// providers must label at least one node.
pub fn check_nodes(ctx: &Ctx, strategy: &[CapacityProviderStrategyItem]) -> Result<(), ApiError> {
    let Some(groups) = node_providers(strategy) else {
        return Ok(());
    };
    if !ctx.nodes.is_connected() {
        return Ok(());
    }
    let labelled = ctx.nodes.facts().iter().any(|n| {
        n.capacity_provider
            .as_ref()
            .is_some_and(|p| groups.contains(p))
    });
    if labelled {
        return Ok(());
    }
    Err(ApiError::invalid_parameter(format!(
        "No Kubernetes node can serve the capacity providers {}: label their nodes {CAPACITY_PROVIDER_LABEL}=<capacity provider name>.",
        groups.join(", ")
    )))
}
