//! Handlers, one module per resource family. Each takes the request context and the
//! typed (already validated) request, and returns the typed response or an `ApiError`.
//! Each family lists the operations it implements (`OPERATIONS`) and what kubecs does
//! beyond ECS (`note`), from which the dispatcher and the README table are derived.

pub mod account_settings;
pub mod agent;
pub mod capacity_providers;
pub mod cluster_query;
pub mod clusters;
pub mod container_instances;
pub mod daemons;
pub mod express;
pub mod names;
pub mod paging;
pub mod placement;
pub mod service_deployments;
pub mod services;
pub mod tags;
pub mod task_definitions;
pub mod task_protection;
pub mod task_sets;
pub mod tasks;

use kubecs_api_models::Operation;

/// Every family's implemented operations.
const FAMILIES: &[&[Operation]] = &[
    clusters::OPERATIONS,
    task_definitions::OPERATIONS,
    services::OPERATIONS,
    tags::OPERATIONS,
    tasks::OPERATIONS,
    container_instances::OPERATIONS,
    account_settings::OPERATIONS,
    capacity_providers::OPERATIONS,
    service_deployments::OPERATIONS,
    task_protection::OPERATIONS,
    task_sets::OPERATIONS,
    daemons::OPERATIONS,
    express::OPERATIONS,
    agent::NOT_APPLICABLE,
];

/// Whether kubecs has a handler for `operation` (otherwise: UnsupportedFeatureException).
pub fn is_implemented(operation: Operation) -> bool {
    FAMILIES.iter().any(|ops| ops.contains(&operation))
}

/// Whether `operation` has no meaning on Kubernetes: its handler answers ECS's error,
/// saying why and what to use instead.
pub fn is_not_applicable(operation: Operation) -> bool {
    agent::NOT_APPLICABLE.contains(&operation)
}

/// What kubecs does with an implemented operation, for the README's table.
pub fn note(operation: Operation) -> &'static str {
    clusters::note(operation)
        .or_else(|| task_definitions::note(operation))
        .or_else(|| services::note(operation))
        .or_else(|| tags::note(operation))
        .or_else(|| tasks::note(operation))
        .or_else(|| container_instances::note(operation))
        .or_else(|| account_settings::note(operation))
        .or_else(|| capacity_providers::note(operation))
        .or_else(|| service_deployments::note(operation))
        .or_else(|| task_protection::note(operation))
        .or_else(|| task_sets::note(operation))
        .or_else(|| daemons::note(operation))
        .or_else(|| express::note(operation))
        .or_else(|| agent::note(operation))
        .unwrap_or("")
}
