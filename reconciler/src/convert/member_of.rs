//! A service's `memberOf` placement constraints as required node and pod affinity.
//!
//! ECS evaluates a `memberOf` expression (the cluster query language) on the container
//! instances each time it places a task of the service, so an instance that comes to
//! match later takes tasks too. Node affinity is evaluated by the scheduler each time it
//! places a pod, so an expression that only reads node labels keeps exactly that meaning
//! as node affinity: the attributes kubecs derives from node labels
//! (`ecs.os-type`, `ecs.cpu-architecture`, `ecs.availability-zone`, `ecs.instance-type`,
//! the labels of [`super::placement::spread_key`]) become requirements on those labels.
//!
//! | expression | requirement |
//! |------------|-------------|
//! | `==`, `in`, `=~` without `*` | `In` |
//! | `!=`, `not_in`, `!~` without `*` | `NotIn` (a node without the label matches, as in ECS) |
//! | `exists`, `!exists` | `Exists`, `DoesNotExist` |
//! | `and`, `or`, `not` | the terms of the disjunctive normal form (terms are ORed) |
//!
//! `task:group == <group>` (or `in`) is a required pod affinity on
//! `kubernetes.io/hostname` with the pods of the group, `!=` (`not_in`, `not`) a required
//! pod anti-affinity: a service's pods carry its service label, a standalone task's pod
//! its task group label. Pod affinity terms are ANDed, so an expression that reads
//! `task:group` maps only as a conjunction (one term of its normal form).
//!
//! An expression that reads anything else (custom attributes, which kubecs keeps and not
//! the nodes; `ec2InstanceId`; task counts; a daemon's group; wildcards; ordering) has no
//! Kubernetes form: it is kept as the service's and not applied. Each constraint is
//! mapped, or not, on its own; a task definition's `memberOf` constraints apply as the
//! service's.

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, PodAffinityTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kubecs_api_models::cluster_query::{self, Expr, Op};
use kubecs_api_models::{
    PlacementConstraintType, Service, TaskDefinition, TaskDefinitionPlacementConstraintType,
};

use super::names::{is_label_value, label_value, SERVICE_LABEL};
use super::placement::spread_key;
use super::task::TASK_GROUP_LABEL;

/// More terms than this is an expression no person writes; it is not mapped.
const MAX_TERMS: usize = 32;

/// One comparison of an expression, as Kubernetes can require it.
#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    /// On the node's labels.
    Node(NodeSelectorRequirement),
    /// On the task groups of the pods on the node (`task:group`): a pod of one of the
    /// groups selected by `key In values` must be there (`with`) or must not (`!with`).
    Group {
        with: bool,
        key: String,
        values: Vec<String>,
    },
}

/// A conjunction of requirements; a list of them is their disjunction.
type Terms = Vec<Vec<Requirement>>;

/// Where the pods of a service may run, from its `memberOf` constraints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberOf {
    /// Node selector terms (ORed); `None`: any node.
    pub nodes: Option<Vec<NodeSelectorTerm>>,
    /// Pod affinity terms (ANDed): a pod of these groups must be on the node.
    pub with: Vec<PodAffinityTerm>,
    /// Pod anti-affinity terms (ANDed): no pod of these groups may be on the node.
    pub without: Vec<PodAffinityTerm>,
}

/// The `memberOf` expressions of a service's constraints and its task definition's.
pub fn expressions<'a>(service: &'a Service, td: &'a TaskDefinition) -> Vec<&'a str> {
    let of_service = service
        .placement_constraints
        .iter()
        .flatten()
        .filter(|c| c.r#type == Some(PlacementConstraintType::MemberOf))
        .filter_map(|c| c.expression.as_deref());
    let of_td = td
        .placement_constraints
        .iter()
        .flatten()
        .filter(|c| c.r#type == Some(TaskDefinitionPlacementConstraintType::MemberOf))
        .filter_map(|c| c.expression.as_deref());
    of_service.chain(of_td).collect()
}

/// Where every mappable expression of `expressions` allows the pods to run, each node
/// term with `also` added. An expression that reads `task:group` maps only when it is a
/// conjunction (one term): pod affinity is ANDed, never ORed.
pub fn member_of<'a>(
    expressions: impl IntoIterator<Item = &'a str>,
    also: Option<NodeSelectorRequirement>,
) -> MemberOf {
    let mut terms: Vec<Vec<NodeSelectorRequirement>> = vec![also.into_iter().collect()];
    let mut out = MemberOf::default();
    for expression in expressions {
        let Some((nodes, groups)) = mappable(expression).and_then(split) else {
            continue;
        };
        let Some(both) = product(&terms, &nodes) else {
            continue;
        };
        terms = both;
        for (with, term) in groups {
            if with {
                out.with.push(term);
            } else {
                out.without.push(term);
            }
        }
    }
    // Every term holds `also` and the node part of each mapped expression, so either all
    // are empty (any node: no node affinity, as an empty term would match no node) or none.
    if terms.iter().any(|t| !t.is_empty()) {
        out.nodes = Some(
            terms
                .into_iter()
                .map(|requirements| NodeSelectorTerm {
                    match_expressions: Some(requirements),
                    ..NodeSelectorTerm::default()
                })
                .collect(),
        );
    }
    out
}

/// Node affinity requirement terms and pod (anti-)affinity terms (`true`: affinity).
type Split = (
    Vec<Vec<NodeSelectorRequirement>>,
    Vec<(bool, PodAffinityTerm)>,
);

/// An expression's node terms and its task-group requirements as pod affinity terms;
/// `None` when it reads task groups in more than one term (they cannot be ORed).
fn split(terms: Terms) -> Option<Split> {
    let single = terms.len() == 1;
    let mut nodes = Vec::new();
    let mut groups = Vec::new();
    for term in terms {
        let mut node_term = Vec::new();
        for requirement in term {
            match requirement {
                Requirement::Node(node) => node_term.push(node),
                Requirement::Group { with, key, values } if single => {
                    groups.push((with, on_hosts_running(key, values)));
                }
                Requirement::Group { .. } => return None,
            }
        }
        nodes.push(node_term);
    }
    Some((nodes, groups))
}

/// A pod affinity term: the nodes that run a pod labelled `key` with one of `values`.
fn on_hosts_running(key: String, values: Vec<String>) -> PodAffinityTerm {
    PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key,
                operator: "In".to_owned(),
                values: Some(values),
            }]),
            ..LabelSelector::default()
        }),
        topology_key: "kubernetes.io/hostname".to_owned(),
        ..PodAffinityTerm::default()
    }
}

/// The terms of `expression`, if it reads only node labels and task groups.
fn mappable(expression: &str) -> Option<Terms> {
    dnf(&cluster_query::parse(expression).ok()?, false)
}

/// The disjunctive normal form of `expr` (negated if `negated`).
fn dnf(expr: &Expr, negated: bool) -> Option<Terms> {
    match (expr, negated) {
        (Expr::Not(inner), _) => dnf(inner, !negated),
        (Expr::And(a, b), false) | (Expr::Or(a, b), true) => {
            product(&dnf(a, negated)?, &dnf(b, negated)?)
        }
        (Expr::Or(a, b), false) | (Expr::And(a, b), true) => {
            let mut terms = dnf(a, negated)?;
            terms.extend(dnf(b, negated)?);
            (terms.len() <= MAX_TERMS).then_some(terms)
        }
        (
            Expr::Compare {
                subject,
                op,
                values,
            },
            _,
        ) => Some(vec![vec![requirement(subject, *op, values, negated)?]]),
    }
}

/// Every term of `a` joined with every term of `b`.
fn product<T: Clone>(a: &[Vec<T>], b: &[Vec<T>]) -> Option<Vec<Vec<T>>> {
    if a.len() * b.len() > MAX_TERMS {
        return None;
    }
    Some(
        a.iter()
            .flat_map(|x| b.iter().map(move |y| x.iter().chain(y).cloned().collect()))
            .collect(),
    )
}

/// One comparison as a requirement on a node label or on task groups.
fn requirement(subject: &str, op: Op, values: &[String], negated: bool) -> Option<Requirement> {
    if subject == "task:group" {
        return group_requirement(op, values, negated);
    }
    node_requirement(subject, op, values, negated).map(Requirement::Node)
}

/// `task:group` compared with groups: the pods of a service (`service:<name>`) carry its
/// service label, a standalone task's its task-group label; a list mixing the two, a
/// daemon's group, `exists` and wildcards are not mapped.
fn group_requirement(op: Op, values: &[String], negated: bool) -> Option<Requirement> {
    let exact = values.iter().all(|v| !v.contains('*'));
    let with = match op {
        Op::Eq | Op::In => true,
        Op::Matches if exact => true,
        Op::Ne | Op::NotIn => false,
        Op::NotMatches if exact => false,
        _ => return None,
    } != negated;
    let services: Vec<&str> = values
        .iter()
        .filter_map(|v| v.strip_prefix("service:"))
        .collect();
    let (key, values): (&str, Vec<String>) = if services.len() == values.len() {
        (
            SERVICE_LABEL,
            services.into_iter().map(label_value).collect(),
        )
    } else if services.is_empty() && !values.iter().any(|v| v.starts_with("daemon:")) {
        (
            TASK_GROUP_LABEL,
            values.iter().map(|v| label_value(v)).collect(),
        )
    } else {
        return None;
    };
    (!values.is_empty()).then(|| Requirement::Group {
        with,
        key: key.to_owned(),
        values,
    })
}

/// One comparison as a requirement on a node label.
fn node_requirement(
    subject: &str,
    op: Op,
    values: &[String],
    negated: bool,
) -> Option<NodeSelectorRequirement> {
    let key = subject
        .strip_prefix("attribute:")
        .and_then(|_| spread_key(subject))?;
    let exact = |v: &String| !v.contains('*');
    let (operator, values) = match op {
        Op::Eq | Op::In => ("In", values),
        Op::Matches if values.iter().all(exact) => ("In", values),
        Op::Ne | Op::NotIn => ("NotIn", values),
        Op::NotMatches if values.iter().all(exact) => ("NotIn", values),
        Op::Exists => ("Exists", &[][..]),
        Op::NotExists => ("DoesNotExist", &[][..]),
        _ => return None,
    };
    let operator = match (operator, negated) {
        (_, false) => operator,
        ("In", true) => "NotIn",
        ("NotIn", true) => "In",
        ("Exists", true) => "DoesNotExist",
        (_, true) => "Exists",
    };
    let values: Vec<String> = values.iter().map(|v| node_label_value(key, v)).collect();
    let listed = matches!(operator, "In" | "NotIn");
    if listed && (values.is_empty() || !values.iter().all(|v| is_label_value(v))) {
        // `in []`, or a value no label can hold: Kubernetes would refuse the pod
        // template; keep the constraint unapplied rather than the service unapplied.
        return None;
    }
    Some(NodeSelectorRequirement {
        key: key.to_owned(),
        operator: operator.to_owned(),
        values: listed.then_some(values),
    })
}

/// An attribute's value as its node label has it: `ecs.cpu-architecture` `x86_64` is
/// `kubernetes.io/arch` `amd64` (the reverse of what container instances show).
fn node_label_value(key: &str, value: &str) -> String {
    match (key, value) {
        ("kubernetes.io/arch", "x86_64") => "amd64".to_owned(),
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values: matches!(operator, "In" | "NotIn")
                .then(|| values.iter().map(|v| (*v).to_owned()).collect()),
        }
    }

    type NodeTerms = Vec<Vec<NodeSelectorRequirement>>;

    fn terms_of(expressions: &[&str]) -> Option<NodeTerms> {
        member_of(expressions.iter().copied(), None)
            .nodes
            .map(|terms| {
                terms
                    .into_iter()
                    .map(|t| t.match_expressions.unwrap_or_default())
                    .collect()
            })
    }

    const OS: &str = "kubernetes.io/os";
    const ARCH: &str = "kubernetes.io/arch";
    const ZONE: &str = "topology.kubernetes.io/zone";
    const TYPE: &str = "node.kubernetes.io/instance-type";

    #[test]
    fn comparisons_on_node_label_attributes_become_requirements_on_the_labels() {
        for (expression, requirement) in [
            (
                "attribute:ecs.instance-type == t2.micro",
                req(TYPE, "In", &["t2.micro"]),
            ),
            (
                "attribute:ecs.availability-zone in [us-east-1a, us-east-1b]",
                req(ZONE, "In", &["us-east-1a", "us-east-1b"]),
            ),
            (
                "attribute:ecs.os-type != windows",
                req(OS, "NotIn", &["windows"]),
            ),
            (
                "attribute:ecs.cpu-architecture == x86_64",
                req(ARCH, "In", &["amd64"]),
            ),
            (
                "attribute:ecs.cpu-architecture not_in [arm64]",
                req(ARCH, "NotIn", &["arm64"]),
            ),
            (
                "attribute:ecs.instance-type exists",
                req(TYPE, "Exists", &[]),
            ),
            (
                "attribute:ecs.availability-zone !exists",
                req(ZONE, "DoesNotExist", &[]),
            ),
            (
                "attribute:ecs.instance-type =~ m5.large",
                req(TYPE, "In", &["m5.large"]),
            ),
            (
                "not(attribute:ecs.os-type == linux)",
                req(OS, "NotIn", &["linux"]),
            ),
            (
                "!(attribute:ecs.os-type exists)",
                req(OS, "DoesNotExist", &[]),
            ),
        ] {
            assert_eq!(
                terms_of(&[expression]),
                Some(vec![vec![requirement]]),
                "{expression}"
            );
        }
    }

    #[test]
    fn and_or_and_not_become_the_disjunctive_normal_form() {
        let terms = terms_of(&[
            "attribute:ecs.os-type == linux and (attribute:ecs.instance-type == t3.small \
             or attribute:ecs.availability-zone == eu-west-1a)",
        ]);
        assert_eq!(
            terms,
            Some(vec![
                vec![req(OS, "In", &["linux"]), req(TYPE, "In", &["t3.small"])],
                vec![req(OS, "In", &["linux"]), req(ZONE, "In", &["eu-west-1a"])],
            ])
        );
        // De Morgan: not (a and b) = not a or not b.
        let terms = terms_of(&[
            "not (attribute:ecs.os-type == linux && attribute:ecs.instance-type exists)",
        ]);
        assert_eq!(
            terms,
            Some(vec![
                vec![req(OS, "NotIn", &["linux"])],
                vec![req(TYPE, "DoesNotExist", &[])],
            ])
        );
    }

    #[test]
    fn several_constraints_all_hold_and_the_extra_requirement_joins_every_term() {
        let provider = req("ecs.kubecs.io/capacity-provider", "In", &["spot"]);
        let terms = member_of(
            [
                "attribute:ecs.os-type == linux",
                "attribute:ecs.instance-type == a1 or attribute:ecs.instance-type == b2",
            ],
            Some(provider.clone()),
        )
        .nodes
        .unwrap();
        let terms: NodeTerms = terms
            .into_iter()
            .map(|t| t.match_expressions.unwrap())
            .collect();
        assert_eq!(
            terms,
            vec![
                vec![
                    provider.clone(),
                    req(OS, "In", &["linux"]),
                    req(TYPE, "In", &["a1"])
                ],
                vec![
                    provider,
                    req(OS, "In", &["linux"]),
                    req(TYPE, "In", &["b2"])
                ],
            ]
        );
    }

    #[test]
    fn expressions_that_read_more_than_node_labels_are_not_applied() {
        for expression in [
            "attribute:stack == prod",
            "attribute:ecs.os-type == linux and attribute:stack == prod",
            "ec2InstanceId == i-0abc",
            "task:group == service:web or attribute:ecs.os-type == linux",
            "task:group in [service:web, family:batch]",
            "task:group == daemon:agent",
            "task:group exists",
            "runningTasksCount == 0",
            "attribute:ecs.instance-type =~ t2.*",
            "attribute:ecs.instance-type > t2",
            "attribute:ecs.instance-type in []",
            "attribute:ecs.instance-type == 'not a label value'",
            "not a valid expression",
        ] {
            assert_eq!(terms_of(&[expression]), None, "{expression}");
        }
        // An unmapped constraint leaves the mapped ones applied.
        assert_eq!(
            terms_of(&["attribute:stack == prod", "attribute:ecs.os-type == linux"]),
            Some(vec![vec![req(OS, "In", &["linux"])]])
        );
        // Only a provider requirement: one term of it.
        let provider = req("ecs.kubecs.io/capacity-provider", "In", &["spot"]);
        let only = member_of([], Some(provider.clone())).nodes.unwrap();
        assert_eq!(only[0].match_expressions, Some(vec![provider]));
    }

    #[test]
    fn an_expression_with_too_many_terms_is_not_applied() {
        let clause = |i: usize| {
            format!("(attribute:ecs.os-type == a{i} or attribute:ecs.instance-type == b{i})")
        };
        let six: Vec<String> = (0..6).map(clause).collect();
        assert_eq!(terms_of(&[&six.join(" and ")]), None);
        let five: Vec<String> = (0..5).map(clause).collect();
        assert_eq!(terms_of(&[&five.join(" and ")]).unwrap().len(), 32);
    }

    fn selector(term: &PodAffinityTerm) -> (String, String, Vec<String>) {
        let requirement = &term
            .label_selector
            .as_ref()
            .unwrap()
            .match_expressions
            .as_ref()
            .unwrap()[0];
        assert_eq!(term.topology_key, "kubernetes.io/hostname");
        (
            requirement.key.clone(),
            requirement.operator.clone(),
            requirement.values.clone().unwrap(),
        )
    }

    #[test]
    fn task_groups_in_a_conjunction_become_pod_affinity_and_anti_affinity() {
        let placed = member_of(
            [
                "task:group == service:db and attribute:ecs.os-type == linux",
                "not(task:group in [family:batch, nightly])",
            ],
            None,
        );
        assert_eq!(
            placed.nodes,
            Some(vec![NodeSelectorTerm {
                match_expressions: Some(vec![req(OS, "In", &["linux"])]),
                ..NodeSelectorTerm::default()
            }])
        );
        assert_eq!(placed.with.len(), 1);
        assert_eq!(
            selector(&placed.with[0]),
            (
                SERVICE_LABEL.to_owned(),
                "In".to_owned(),
                vec!["db".to_owned()]
            )
        );
        assert_eq!(placed.without.len(), 1);
        assert_eq!(
            selector(&placed.without[0]),
            (
                TASK_GROUP_LABEL.to_owned(),
                "In".to_owned(),
                vec![label_value("family:batch"), label_value("nightly")]
            )
        );
        // Only a group: no node affinity.
        let placed = member_of(["task:group != service:noisy"], None);
        assert_eq!(placed.nodes, None);
        assert!(placed.with.is_empty());
        assert_eq!(selector(&placed.without[0]).2, vec!["noisy".to_owned()]);
    }
}
