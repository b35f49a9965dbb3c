//! CreateService's and UpdateService's documented count and length limits, beyond what
//! the model's constraints already refuse (tags: at most 50, keys 1-128 and values 0-256
//! characters, checked generically before the handler runs) and the service-name rule.
//!
//! ECS answers a list that is too long with `InvalidParameterException: <member> can have
//! at most <n> items.`, the member named in words: "load balancers can have at most 5
//! items." (hashicorp/terraform#25306), "subnets can have at most 16 items."
//! (opensearch-project/opensearch-migrations#1430), "services can have at most 10 items."
//! (DescribeServices). The other lists are answered in the same form, by analogy.
//!
//! Limits and where they are documented (API reference unless said otherwise):
//! - `clientToken`: "Up to 36 ASCII characters in the range of 33-126 (inclusive)";
//! - `loadBalancers`: 5 ("Target groups per service", Amazon ECS service quotas);
//! - `awsvpcConfiguration`: "a limit of 16 subnets", "a limit of 5 security groups";
//! - `placementConstraints`: "a maximum of 10 constraints for each task"; a constraint's
//!   `expression`: "a maximum length of 2000 characters";
//! - `placementStrategy`: "a maximum of 5 strategy rules for each service";
//! - `serviceRegistries`: "Each service may be associated with one service registry";
//! - `capacityProviderStrategy`: "a maximum of 20 capacity providers";
//! - Service Connect: "The maximum number of client aliases that you can have in this list
//!   is 1"; `discoveryName` "up to 64 characters"; `dnsName` "up to 127 characters".

use crate::error::ApiError;
use kubecs_api_models::{
    CapacityProviderStrategyItem, LoadBalancer, NetworkConfiguration, PlacementConstraint,
    PlacementStrategy, ServiceConnectConfiguration, ServiceRegistry,
};

pub const MAX_CLIENT_TOKEN: usize = 36;
pub const MAX_LOAD_BALANCERS: usize = 5;
pub const MAX_SUBNETS: usize = 16;
pub const MAX_SECURITY_GROUPS: usize = 5;
pub const MAX_PLACEMENT_CONSTRAINTS: usize = 10;
pub const MAX_CONSTRAINT_EXPRESSION: usize = 2000;
pub const MAX_PLACEMENT_STRATEGY: usize = 5;
pub const MAX_SERVICE_REGISTRIES: usize = 1;
pub const MAX_CAPACITY_PROVIDERS: usize = 20;
pub const MAX_CLIENT_ALIASES: usize = 1;
pub const MAX_DISCOVERY_NAME: usize = 64;
pub const MAX_DNS_NAME: usize = 127;

/// The members with limits that CreateService and UpdateService share.
pub struct Limited<'a> {
    pub load_balancers: Option<&'a [LoadBalancer]>,
    pub network_configuration: Option<&'a NetworkConfiguration>,
    pub placement_constraints: Option<&'a [PlacementConstraint]>,
    pub placement_strategy: Option<&'a [PlacementStrategy]>,
    pub service_registries: Option<&'a [ServiceRegistry]>,
    pub capacity_provider_strategy: Option<&'a [CapacityProviderStrategyItem]>,
    pub service_connect_configuration: Option<&'a ServiceConnectConfiguration>,
}

/// The [`Limited`] members of a CreateService or UpdateService request.
macro_rules! limited {
    ($input:expr) => {
        $crate::ops::services::limits::Limited {
            load_balancers: $input.load_balancers.as_deref(),
            network_configuration: $input.network_configuration.as_ref(),
            placement_constraints: $input.placement_constraints.as_deref(),
            placement_strategy: $input.placement_strategy.as_deref(),
            service_registries: $input.service_registries.as_deref(),
            capacity_provider_strategy: $input.capacity_provider_strategy.as_deref(),
            service_connect_configuration: $input.service_connect_configuration.as_ref(),
        }
    };
}
pub(crate) use limited;

/// ECS's answer to a list longer than `max`; `words` names the member as ECS does.
fn at_most<T>(words: &str, list: Option<&[T]>, max: usize) -> Result<(), ApiError> {
    if list.map_or(0, <[T]>::len) > max {
        return Err(ApiError::invalid_parameter(format!(
            "{words} can have at most {max} items."
        )));
    }
    Ok(())
}

/// A string longer than `max` characters; the wording is ours (ECS's is not public).
fn at_most_chars(member: &str, value: Option<&str>, max: usize) -> Result<(), ApiError> {
    if value.is_some_and(|v| v.chars().count() > max) {
        return Err(ApiError::invalid_parameter(format!(
            "{member} can have at most {max} characters."
        )));
    }
    Ok(())
}

/// CreateService's `clientToken`. The wording is ours, from the API reference's sentence.
pub fn check_client_token(token: Option<&str>) -> Result<(), ApiError> {
    let Some(token) = token else { return Ok(()) };
    if token.len() > MAX_CLIENT_TOKEN || !token.bytes().all(|b| (33..=126).contains(&b)) {
        return Err(ApiError::invalid_parameter(format!(
            "Invalid clientToken: up to {MAX_CLIENT_TOKEN} ASCII characters in the range of 33-126 (inclusive) are allowed."
        )));
    }
    Ok(())
}

/// Every limit of the shared members.
pub fn check(members: &Limited<'_>) -> Result<(), ApiError> {
    at_most("load balancers", members.load_balancers, MAX_LOAD_BALANCERS)?;
    if let Some(awsvpc) = members
        .network_configuration
        .and_then(|n| n.awsvpc_configuration.as_ref())
    {
        at_most("subnets", awsvpc.subnets.as_deref(), MAX_SUBNETS)?;
        at_most(
            "security groups",
            awsvpc.security_groups.as_deref(),
            MAX_SECURITY_GROUPS,
        )?;
    }
    at_most(
        "placement constraints",
        members.placement_constraints,
        MAX_PLACEMENT_CONSTRAINTS,
    )?;
    for constraint in members.placement_constraints.into_iter().flatten() {
        at_most_chars(
            "A placement constraint expression",
            constraint.expression.as_deref(),
            MAX_CONSTRAINT_EXPRESSION,
        )?;
    }
    at_most(
        "placement strategy",
        members.placement_strategy,
        MAX_PLACEMENT_STRATEGY,
    )?;
    at_most(
        "service registries",
        members.service_registries,
        MAX_SERVICE_REGISTRIES,
    )?;
    at_most(
        "capacity provider strategy",
        members.capacity_provider_strategy,
        MAX_CAPACITY_PROVIDERS,
    )?;
    let connect_services = members
        .service_connect_configuration
        .and_then(|c| c.services.as_deref())
        .unwrap_or_default();
    for service in connect_services {
        at_most(
            "client aliases",
            service.client_aliases.as_deref(),
            MAX_CLIENT_ALIASES,
        )?;
        at_most_chars(
            "discoveryName",
            service.discovery_name.as_deref(),
            MAX_DISCOVERY_NAME,
        )?;
        for alias in service.client_aliases.iter().flatten() {
            at_most_chars("dnsName", alias.dns_name.as_deref(), MAX_DNS_NAME)?;
        }
    }
    Ok(())
}
