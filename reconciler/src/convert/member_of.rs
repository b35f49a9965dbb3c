//! A service's `memberOf` placement constraints as required node affinity.
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
//! An expression that reads anything else (custom attributes, which kubecs keeps and not
//! the nodes; `ec2InstanceId`; task counts; `task:group`; wildcards; ordering) has no
//! node-label form: it is kept as the service's and not applied. Each constraint is
//! mapped, or not, on its own; a task definition's `memberOf` constraints apply as the
//! service's.

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm};
use kubecs_api_models::cluster_query::{self, Expr, Op};
use kubecs_api_models::{
    PlacementConstraintType, Service, TaskDefinition, TaskDefinitionPlacementConstraintType,
};

use super::placement::spread_key;

/// More terms than this is an expression no person writes; it is not mapped.
const MAX_TERMS: usize = 32;

/// A conjunction of requirements; a list of them is their disjunction.
type Terms = Vec<Vec<NodeSelectorRequirement>>;

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

/// The node selector terms (ORed) that every mappable expression of `expressions`
/// allows, each term with `also` added; `None` when no expression maps and `also` is
/// empty (the pods may run on any node).
pub fn node_selector_terms<'a>(
    expressions: impl IntoIterator<Item = &'a str>,
    also: Option<NodeSelectorRequirement>,
) -> Option<Vec<NodeSelectorTerm>> {
    let mut terms: Terms = vec![also.into_iter().collect()];
    let mut mapped = false;
    for expression in expressions {
        let Some(allowed) = mappable(expression) else {
            continue;
        };
        let Some(both) = product(&terms, &allowed) else {
            continue;
        };
        terms = both;
        mapped = true;
    }
    if !mapped && terms.iter().all(Vec::is_empty) {
        return None;
    }
    Some(
        terms
            .into_iter()
            .map(|requirements| NodeSelectorTerm {
                match_expressions: Some(requirements),
                ..NodeSelectorTerm::default()
            })
            .collect(),
    )
}

/// The terms of `expression`, if it reads only node labels.
pub fn mappable(expression: &str) -> Option<Terms> {
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
fn product(a: &Terms, b: &Terms) -> Option<Terms> {
    if a.len() * b.len() > MAX_TERMS {
        return None;
    }
    Some(
        a.iter()
            .flat_map(|x| b.iter().map(move |y| x.iter().chain(y).cloned().collect()))
            .collect(),
    )
}

/// One comparison as a requirement on a node label.
fn requirement(
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
    let values: Vec<String> = values.iter().map(|v| label_value(key, v)).collect();
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
fn label_value(key: &str, value: &str) -> String {
    match (key, value) {
        ("kubernetes.io/arch", "x86_64") => "amd64".to_owned(),
        _ => value.to_owned(),
    }
}

/// A valid Kubernetes label value: at most 63 characters, alphanumerics with `-`, `_` or
/// `.` inside.
fn is_label_value(value: &str) -> bool {
    let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    value.len() <= 63
        && ends(value.chars().next())
        && ends(value.chars().last())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
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

    fn terms_of(expressions: &[&str]) -> Option<Terms> {
        node_selector_terms(expressions.iter().copied(), None).map(|terms| {
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
        let terms = node_selector_terms(
            [
                "attribute:ecs.os-type == linux",
                "attribute:ecs.instance-type == a1 or attribute:ecs.instance-type == b2",
            ],
            Some(provider.clone()),
        )
        .unwrap();
        let terms: Terms = terms
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
            "task:group == service:web",
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
        let only = node_selector_terms([], Some(provider.clone())).unwrap();
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
}
