//! Where a standalone task may run, decided when RunTask or StartTask starts it, as ECS
//! places a task then: a `memberOf` constraint (the request's and the task definition's)
//! is evaluated on the cluster's container instances now, and the task may run on the
//! nodes that satisfy every one; `distinctInstance` puts the tasks of one call on
//! different nodes; a `spread` strategy balances the tasks of the task group. The
//! reconciler turns the result into node affinity and topology spread
//! (`kubecs_reconciler::convert::task`).

use kubecs_api_models::{
    PlacementConstraint, PlacementConstraintType, PlacementStrategy, PlacementStrategyType,
};
use kubecs_storage::TaskPlacement;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::cluster_query;
use crate::ops::container_instances::{self, Instance};

/// ECS: at most 10 constraints per task, the task definition's included.
const MAX_CONSTRAINTS: usize = 10;

/// The placement of the tasks of one RunTask call (`None`: anywhere), given the request's
/// and the task definition's constraints and the request's strategies (of which `spread`
/// is kept; the reconciler applies it where the field is a node label).
pub fn of_run(
    ctx: &Ctx,
    cluster: &str,
    request: &[PlacementConstraint],
    task_definition: &[PlacementConstraint],
    strategies: &[PlacementStrategy],
) -> Result<Option<TaskPlacement>, ApiError> {
    let all: Vec<&PlacementConstraint> = request.iter().chain(task_definition).collect();
    if all.len() > MAX_CONSTRAINTS {
        return Err(ApiError::invalid_parameter(format!(
            "A task can have at most {MAX_CONSTRAINTS} placement constraints, its task definition's included."
        )));
    }
    let mut distinct = false;
    let mut expressions = Vec::new();
    for constraint in all {
        match parse(constraint)? {
            Some(expression) => expressions.push(expression),
            None => distinct = true,
        }
    }
    let spread: Vec<String> = strategies
        .iter()
        .filter(|s| s.r#type == Some(PlacementStrategyType::Spread))
        .filter_map(|s| s.field.clone())
        .collect();
    if !distinct && expressions.is_empty() && spread.is_empty() {
        return Ok(None);
    }
    let nodes = if expressions.is_empty() {
        None
    } else {
        let namespace = container_instances::namespace_of(ctx, cluster);
        let groups = container_instances::task_groups(ctx, cluster)?;
        Some(
            container_instances::all(ctx, cluster)?
                .iter()
                .filter(|i| {
                    let subject = i.subject(&namespace, &groups);
                    expressions.iter().all(|e| e.matches(&subject))
                })
                .filter_map(placeable)
                .collect(),
        )
    };
    Ok(Some(TaskPlacement {
        nodes,
        distinct: distinct.then(|| uuid::Uuid::new_v4().simple().to_string()),
        capacity_providers: None,
        spread,
    }))
}

/// Refuses, as ECS does, a service's constraint that is not a `distinctInstance` without
/// an expression or a `memberOf` with a valid one (the reconciler applies them).
pub fn check_service(constraints: &[PlacementConstraint]) -> Result<(), ApiError> {
    constraints.iter().try_for_each(|c| parse(c).map(drop))
}

/// A constraint's `memberOf` expression, or `None` for `distinctInstance`.
fn parse(constraint: &PlacementConstraint) -> Result<Option<cluster_query::Expr>, ApiError> {
    let expression = constraint
        .expression
        .as_deref()
        .filter(|e| !e.trim().is_empty());
    match (&constraint.r#type, expression) {
        (Some(PlacementConstraintType::DistinctInstance), None) => Ok(None),
        (Some(PlacementConstraintType::DistinctInstance), Some(_)) => {
            Err(ApiError::invalid_parameter(
                "The distinctInstance placement constraint takes no expression.",
            ))
        }
        (Some(PlacementConstraintType::MemberOf), Some(text)) => {
            cluster_query::parse(text, "expression").map(Some)
        }
        (Some(PlacementConstraintType::MemberOf), None) => Err(ApiError::invalid_parameter(
            "The memberOf placement constraint requires an expression.",
        )),
        _ => Err(ApiError::invalid_parameter(
            "A placement constraint type must be distinctInstance or memberOf.",
        )),
    }
}

/// The node of an instance a task can be placed on: a node (not an instance whose agent
/// never connected) that is ACTIVE.
fn placeable(instance: &Instance) -> Option<String> {
    let node = instance.node.as_ref()?;
    (instance.status() == "ACTIVE").then(|| node.name.clone())
}
