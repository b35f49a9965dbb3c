//! A service's placement strategies as topology spread constraints of its pods.
//!
//! ECS places each task by its strategies in order; `spread` balances the service's tasks
//! over the values of a field of the container instances. Kubernetes's
//! `topologySpreadConstraints` balance a Deployment's pods over the values of a node
//! label, so a `spread` on a field that is a node label becomes one, with a skew of 1 and
//! `ScheduleAnyway`: like ECS, a preference that never leaves a task unplaced (and a
//! node without the label is not excluded).
//!
//! | ECS field | node label |
//! |-----------|------------|
//! | `instanceId`, `host` | `kubernetes.io/hostname` |
//! | `attribute:ecs.availability-zone` | `topology.kubernetes.io/zone` |
//! | `attribute:ecs.instance-type` | `node.kubernetes.io/instance-type` |
//! | `attribute:ecs.os-type` | `kubernetes.io/os` |
//! | `attribute:ecs.cpu-architecture` | `kubernetes.io/arch` |
//!
//! Not mapped, kept as the service's: `spread` on a custom attribute (PutAttributes keeps
//! attributes in kubecs, not on the nodes), `binpack` (the scheduler's scoring profile is
//! the cluster's, not a pod's) and `random` (what the scheduler does without one).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::TopologySpreadConstraint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kubecs_api_models::{PlacementStrategy, PlacementStrategyType};

/// The node label a `spread` strategy's field balances over, if it is one.
pub fn spread_key(field: &str) -> Option<&'static str> {
    Some(match field.to_ascii_lowercase().as_str() {
        "instanceid" | "host" => "kubernetes.io/hostname",
        "attribute:ecs.availability-zone" => "topology.kubernetes.io/zone",
        "attribute:ecs.instance-type" => "node.kubernetes.io/instance-type",
        "attribute:ecs.os-type" => "kubernetes.io/os",
        "attribute:ecs.cpu-architecture" => "kubernetes.io/arch",
        _ => return None,
    })
}

/// One constraint per `spread` strategy on a mapped field (the first of each key), for
/// the pods `selector` selects.
pub fn spread_constraints(
    strategies: &[PlacementStrategy],
    selector: &BTreeMap<String, String>,
) -> Vec<TopologySpreadConstraint> {
    let mut keys: Vec<&'static str> = Vec::new();
    for strategy in strategies {
        if strategy.r#type != Some(PlacementStrategyType::Spread) {
            continue;
        }
        if let Some(key) = strategy.field.as_deref().and_then(spread_key) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    keys.into_iter()
        .map(|key| TopologySpreadConstraint {
            max_skew: 1,
            topology_key: key.to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: Some(LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            }),
            ..TopologySpreadConstraint::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy(kind: PlacementStrategyType, field: &str) -> PlacementStrategy {
        PlacementStrategy {
            r#type: Some(kind),
            field: Some(field.to_owned()),
        }
    }

    #[test]
    fn spread_on_node_fields_becomes_soft_topology_spread_in_order() {
        let selector = BTreeMap::from([("app".to_owned(), "web".to_owned())]);
        let constraints = spread_constraints(
            &[
                strategy(
                    PlacementStrategyType::Spread,
                    "attribute:ecs.availability-zone",
                ),
                strategy(PlacementStrategyType::Binpack, "memory"),
                strategy(PlacementStrategyType::Spread, "instanceId"),
                strategy(PlacementStrategyType::Spread, "host"),
                strategy(PlacementStrategyType::Spread, "attribute:stack"),
            ],
            &selector,
        );
        let keys: Vec<&str> = constraints
            .iter()
            .map(|c| c.topology_key.as_str())
            .collect();
        assert_eq!(
            keys,
            ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        );
        for c in &constraints {
            assert_eq!(c.max_skew, 1);
            assert_eq!(c.when_unsatisfiable, "ScheduleAnyway");
            assert_eq!(
                c.label_selector.as_ref().unwrap().match_labels.as_ref(),
                Some(&selector)
            );
        }
    }

    #[test]
    fn every_documented_field_has_its_label_and_others_none() {
        for (field, key) in [
            ("instanceId", "kubernetes.io/hostname"),
            ("host", "kubernetes.io/hostname"),
            (
                "attribute:ecs.availability-zone",
                "topology.kubernetes.io/zone",
            ),
            (
                "attribute:ecs.instance-type",
                "node.kubernetes.io/instance-type",
            ),
            ("attribute:ecs.os-type", "kubernetes.io/os"),
            ("attribute:ecs.cpu-architecture", "kubernetes.io/arch"),
        ] {
            assert_eq!(spread_key(field), Some(key), "{field}");
        }
        assert_eq!(spread_key("attribute:stack"), None);
        assert_eq!(spread_key("memory"), None);
        let random = [PlacementStrategy {
            r#type: Some(PlacementStrategyType::Random),
            field: None,
        }];
        assert!(spread_constraints(&random, &BTreeMap::new()).is_empty());
    }
}
