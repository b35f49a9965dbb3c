//! A standalone task (RunTask) as a pod: the task definition with the run's overrides,
//! as a pod that is never restarted (a task that stops stays stopped), named after the
//! task id in its cluster's namespace.
//!
//! Overrides (`TaskOverride`): per container `command` (replaces the command, i.e. the
//! container's args), `environment` (replaces variables of the same name, adds the
//! others), `cpu`, `memory` and `memoryReservation`; task-level `cpu` and `memory`. The
//! other override members (environment files, resource requirements, roles, ephemeral
//! storage, inference accelerators) are not applied.
//!
//! Placement (`TaskPlacement`, decided when the task was started): the nodes the task
//! may run on become a required node affinity on their names (no node: a term nothing
//! matches, so the pod stays Pending as ECS leaves a task no instance satisfies); a
//! `distinctInstance` group becomes a label and a required pod anti-affinity on
//! `kubernetes.io/hostname` against the same label; a `spread` strategy on a node field
//! is a topology spread constraint over the pods of the task's group, as ECS spreads
//! the tasks of a task group (`super::placement`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
    PodAffinityTerm, PodAntiAffinity,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kubecs_api_models::{
    KeyValuePair, PlacementStrategy, PlacementStrategyType, TaskDefinition, TaskOverride,
};
use kubecs_storage::TaskPlacement;

use super::names::{cluster_labels, namespace_name, ClusterScope};
use super::placement::spread_constraints;
use super::pod::pod_template;
use super::validate::Unsupported;

/// Label and annotation: the id of the standalone task a pod runs.
pub const TASK_LABEL: &str = "ecs.kubecs.io/task";
/// Label: the `distinctInstance` group of a standalone task.
pub const DISTINCT_LABEL: &str = "ecs.kubecs.io/distinct";
/// Label: the task group of a standalone task (`family:<family>` unless RunTask named
/// one), as a label value: the pods a `spread` strategy balances.
pub const TASK_GROUP_LABEL: &str = "ecs.kubecs.io/task-group";
/// A node label no node has: the node affinity of a task no container instance matched.
const NO_INSTANCE_LABEL: &str = "ecs.kubecs.io/no-container-instance-matched";

/// Annotation: the ARN of the standalone task a pod runs.
pub const TASK_ARN_ANNOTATION: &str = "ecs.kubecs.io/task-arn";

/// The pod name of standalone task `task_id` (32 hex digits).
pub fn pod_name(task_id: &str) -> String {
    format!("ecs-task-{task_id}")
}

/// The task definition as this run changes it, or ECS's error for an override that names
/// no container of it.
pub fn with_overrides(
    td: &TaskDefinition,
    overrides: Option<&TaskOverride>,
) -> Result<TaskDefinition, Unsupported> {
    let mut td = td.clone();
    let Some(overrides) = overrides else {
        return Ok(td);
    };
    if let Some(cpu) = &overrides.cpu {
        td.cpu = Some(cpu.clone());
    }
    if let Some(memory) = &overrides.memory {
        td.memory = Some(memory.clone());
    }
    let containers = td.container_definitions.get_or_insert_with(Vec::new);
    for change in overrides.container_overrides.iter().flatten() {
        let name = change.name.as_deref().unwrap_or_default();
        let Some(container) = containers
            .iter_mut()
            .find(|c| c.name.as_deref() == Some(name))
        else {
            return Err(Unsupported::Parameter {
                message: format!(
                    "Override for container named {name} is not a container in the TaskDefinition."
                ),
            });
        };
        if let Some(command) = &change.command {
            container.command = Some(command.clone());
        }
        if let Some(variables) = &change.environment {
            let mut merged: BTreeMap<String, KeyValuePair> = container
                .environment
                .iter()
                .flatten()
                .chain(variables)
                .map(|kv| (kv.name.clone().unwrap_or_default(), kv.clone()))
                .collect();
            container.environment = Some(std::mem::take(&mut merged).into_values().collect());
        }
        if change.cpu.is_some() {
            container.cpu = change.cpu;
        }
        if change.memory.is_some() {
            container.memory = change.memory;
        }
        if change.memory_reservation.is_some() {
            container.memory_reservation = change.memory_reservation;
        }
    }
    Ok(td)
}

/// The pod of standalone task `task_id` (ARN `task_arn`) of the cluster `scope`,
/// running `td` (overrides applied).
pub fn pod(
    scope: &ClusterScope<'_>,
    td: &TaskDefinition,
    task_id: &str,
    task_arn: &str,
    group: Option<&str>,
    placement: Option<&TaskPlacement>,
) -> Result<Pod, Unsupported> {
    let template = pod_template(td)?;
    let meta = template.metadata.unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    labels.extend(cluster_labels(scope));
    labels.insert(TASK_LABEL.to_owned(), task_id.to_owned());
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(TASK_ARN_ANNOTATION.to_owned(), task_arn.to_owned());
    let mut spec = template.spec.unwrap_or_default();
    // A stopped task stays stopped: ECS never restarts a task's containers.
    spec.restart_policy = Some("Never".to_owned());
    let group = group.map(super::names::label_value);
    if let Some(group) = &group {
        labels.insert(TASK_GROUP_LABEL.to_owned(), group.clone());
    }
    if let Some(placement) = placement {
        if let Some(distinct) = &placement.distinct {
            labels.insert(
                DISTINCT_LABEL.to_owned(),
                super::names::label_value(distinct),
            );
        }
        spec.affinity = affinity(placement);
        let strategies: Vec<PlacementStrategy> = placement
            .spread
            .iter()
            .map(|field| PlacementStrategy {
                r#type: Some(PlacementStrategyType::Spread),
                field: Some(field.clone()),
            })
            .collect();
        if let Some(group) = group.filter(|_| !strategies.is_empty()) {
            let selector = BTreeMap::from([(TASK_GROUP_LABEL.to_owned(), group)]);
            let spread = spread_constraints(&strategies, &selector);
            spec.topology_spread_constraints = (!spread.is_empty()).then_some(spread);
        }
    }
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(task_id)),
            namespace: Some(namespace_name(scope)),
            labels: Some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    })
}

/// The affinity that keeps a task where its placement allows.
fn affinity(placement: &TaskPlacement) -> Option<Affinity> {
    // A capacity provider strategy's nodes, required in every term.
    let providers = placement
        .capacity_providers
        .as_ref()
        .map(|p| NodeSelectorRequirement {
            key: super::names::CAPACITY_PROVIDER_LABEL.to_owned(),
            operator: "In".to_owned(),
            values: Some(p.clone()),
        });
    let nodes = match (&placement.nodes, &providers) {
        (None, Some(_)) => Some(None),
        (Some(nodes), _) => Some(Some(nodes)),
        (None, None) => None,
    };
    let node_affinity = nodes.map(|nodes| {
        // One term per node, ORed: a `metadata.name` field selector takes one value.
        let terms = match nodes {
            None => vec![NodeSelectorTerm::default()],
            Some(nodes) => by_name(nodes),
        };
        let terms = terms
            .into_iter()
            .map(|mut term| {
                if let Some(requirement) = &providers {
                    term.match_expressions
                        .get_or_insert_with(Vec::new)
                        .push(requirement.clone());
                }
                term
            })
            .collect();
        NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: terms,
            }),
            ..NodeAffinity::default()
        }
    });
    let pod_anti_affinity = placement.distinct.as_ref().map(|group| PodAntiAffinity {
        required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    DISTINCT_LABEL.to_owned(),
                    super::names::label_value(group),
                )])),
                ..LabelSelector::default()
            }),
            topology_key: "kubernetes.io/hostname".to_owned(),
            ..PodAffinityTerm::default()
        }]),
        ..PodAntiAffinity::default()
    });
    if node_affinity.is_none() && pod_anti_affinity.is_none() {
        return None;
    }
    Some(Affinity {
        node_affinity,
        pod_anti_affinity,
        ..Affinity::default()
    })
}

/// One node selector term per node, ORed: a `metadata.name` field selector takes one
/// value. No node: a term nothing matches.
fn by_name(nodes: &[String]) -> Vec<NodeSelectorTerm> {
    if nodes.is_empty() {
        return vec![NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: NO_INSTANCE_LABEL.to_owned(),
                operator: "Exists".to_owned(),
                values: None,
            }]),
            ..NodeSelectorTerm::default()
        }];
    }
    nodes
        .iter()
        .map(|node| NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".to_owned(),
                operator: "In".to_owned(),
                values: Some(vec![node.clone()]),
            }]),
            ..NodeSelectorTerm::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubecs_api_models::{ContainerDefinition, ContainerOverride, ErrorCode};

    const PROD: ClusterScope<'static> = ClusterScope {
        region: "us-east-1",
        cluster: "prod",
    };

    fn migrate() -> TaskDefinition {
        TaskDefinition {
            family: Some("migrate".to_owned()),
            revision: Some(3),
            container_definitions: Some(vec![ContainerDefinition {
                name: Some("app".to_owned()),
                image: Some("app:1".to_owned()),
                memory: Some(64),
                command: Some(vec!["serve".to_owned()]),
                environment: Some(vec![
                    KeyValuePair {
                        name: Some("MODE".to_owned()),
                        value: Some("web".to_owned()),
                    },
                    KeyValuePair {
                        name: Some("KEEP".to_owned()),
                        value: Some("1".to_owned()),
                    },
                ]),
                ..ContainerDefinition::default()
            }]),
            ..TaskDefinition::default()
        }
    }

    fn run_override(name: &str) -> TaskOverride {
        TaskOverride {
            container_overrides: Some(vec![ContainerOverride {
                name: Some(name.to_owned()),
                command: Some(vec!["migrate".to_owned(), "--up".to_owned()]),
                environment: Some(vec![KeyValuePair {
                    name: Some("MODE".to_owned()),
                    value: Some("job".to_owned()),
                }]),
                memory: Some(128),
                ..ContainerOverride::default()
            }]),
            ..TaskOverride::default()
        }
    }

    #[test]
    fn overrides_replace_the_command_and_merge_the_environment() {
        let td = with_overrides(&migrate(), Some(&run_override("app"))).unwrap();
        let app = &td.container_definitions.unwrap()[0];
        assert_eq!(
            app.command,
            Some(vec!["migrate".to_owned(), "--up".to_owned()])
        );
        assert_eq!(app.memory, Some(128));
        let env: Vec<(String, String)> = app
            .environment
            .iter()
            .flatten()
            .map(|kv| (kv.name.clone().unwrap(), kv.value.clone().unwrap()))
            .collect();
        assert_eq!(
            env,
            [
                ("KEEP".to_owned(), "1".to_owned()),
                ("MODE".to_owned(), "job".to_owned())
            ]
        );
    }

    #[test]
    fn an_override_of_an_unknown_container_is_refused() {
        let refused = with_overrides(&migrate(), Some(&run_override("db"))).unwrap_err();
        assert_eq!(refused.error_code(), ErrorCode::InvalidParameterException);
    }

    #[test]
    fn the_pod_never_restarts_and_names_its_task() {
        let td = with_overrides(&migrate(), Some(&run_override("app"))).unwrap();
        let pod = pod(
            &PROD,
            &td,
            "0123456789abcdef0123456789abcdef",
            "arn:task",
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            pod.metadata.name.as_deref(),
            Some("ecs-task-0123456789abcdef0123456789abcdef")
        );
        assert_eq!(pod.metadata.namespace, Some(namespace_name(&PROD)));
        let labels = pod.metadata.labels.unwrap();
        assert_eq!(labels[TASK_LABEL], "0123456789abcdef0123456789abcdef");
        assert_eq!(labels["app.kubernetes.io/managed-by"], "kubecs");
        let spec = pod.spec.unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(
            spec.containers[0].args,
            Some(vec!["migrate".to_owned(), "--up".to_owned()])
        );
    }

    #[test]
    fn a_placement_becomes_node_affinity_and_anti_affinity() {
        let placement = TaskPlacement {
            nodes: Some(vec!["node-a".to_owned(), "node-b".to_owned()]),
            distinct: Some("run-1".to_owned()),
            ..TaskPlacement::default()
        };
        let pod = pod(
            &PROD,
            &migrate(),
            "0123456789abcdef0123456789abcdef",
            "arn:task",
            None,
            Some(&placement),
        )
        .unwrap();
        assert_eq!(pod.metadata.labels.unwrap()[DISTINCT_LABEL], "run-1");
        let affinity = pod.spec.unwrap().affinity.unwrap();
        let terms = affinity
            .node_affinity
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .unwrap()
            .node_selector_terms;
        let names: Vec<_> = terms
            .iter()
            .map(|t| t.match_fields.as_ref().unwrap()[0].values.clone().unwrap())
            .collect();
        assert_eq!(
            names,
            vec![vec!["node-a".to_owned()], vec!["node-b".to_owned()]]
        );
        let anti = &affinity
            .pod_anti_affinity
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .unwrap()[0];
        assert_eq!(anti.topology_key, "kubernetes.io/hostname");
        assert_eq!(
            anti.label_selector
                .as_ref()
                .unwrap()
                .match_labels
                .as_ref()
                .unwrap()[DISTINCT_LABEL],
            "run-1"
        );
    }

    #[test]
    fn no_matching_node_leaves_the_task_pending() {
        let placement = TaskPlacement {
            nodes: Some(Vec::new()),
            ..TaskPlacement::default()
        };
        let pod = pod(
            &PROD,
            &migrate(),
            "0123456789abcdef0123456789abcdef",
            "arn:task",
            None,
            Some(&placement),
        )
        .unwrap();
        let affinity = pod.spec.unwrap().affinity.unwrap();
        assert!(affinity.pod_anti_affinity.is_none());
        let term = &affinity
            .node_affinity
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .unwrap()
            .node_selector_terms[0];
        assert_eq!(
            term.match_expressions.as_ref().unwrap()[0].key,
            NO_INSTANCE_LABEL
        );
        assert_eq!(
            term.match_expressions.as_ref().unwrap()[0].operator,
            "Exists"
        );
    }

    #[test]
    fn spread_balances_the_pods_of_the_task_group_over_the_node_label() {
        let placement = TaskPlacement {
            spread: vec![
                "attribute:ecs.availability-zone".to_owned(),
                "attribute:stack".to_owned(),
                "instanceId".to_owned(),
            ],
            ..TaskPlacement::default()
        };
        let pod = pod(
            &PROD,
            &migrate(),
            "0123456789abcdef0123456789abcdef",
            "arn:task",
            Some("family:migrate"),
            Some(&placement),
        )
        .unwrap();
        let group = pod.metadata.labels.unwrap()[TASK_GROUP_LABEL].clone();
        assert_eq!(group, super::super::names::label_value("family:migrate"));
        let spread = pod.spec.unwrap().topology_spread_constraints.unwrap();
        let keys: Vec<&str> = spread.iter().map(|c| c.topology_key.as_str()).collect();
        // A custom attribute is not a node label: not applied.
        assert_eq!(
            keys,
            ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        );
        for constraint in &spread {
            assert_eq!(constraint.when_unsatisfiable, "ScheduleAnyway");
            assert_eq!(
                constraint.label_selector.as_ref().unwrap().match_labels,
                Some(BTreeMap::from([(
                    TASK_GROUP_LABEL.to_owned(),
                    group.clone()
                )]))
            );
        }
    }
}
