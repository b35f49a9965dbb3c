//! `dependsOn` (and `links`) as what Kubernetes 1.20 can do: init containers and start
//! order.
//!
//! - A container that another must see COMPLETE or SUCCESS before it starts runs to its
//!   end before anything else: it becomes an *init container*. ECS allows these conditions
//!   only on non-essential containers, and so does kubecs. Kubernetes retries a failing init
//!   container until it exits 0, so COMPLETE (any exit code) is met as SUCCESS, and every
//!   app container waits for it, not only its dependents.
//! - START and HEALTHY become *start order*: the kubelet starts a pod's containers one by
//!   one in list order, so a container is listed after those it depends on or links to.
//!   Kubernetes 1.20 cannot wait for a container to be healthy before starting the next;
//!   HEALTHY is met as START (it still needs a health check on its target, as in ECS).
//! - An init container can depend only on other init containers (app containers start
//!   after all of them). Cycles are refused.
//!
//! Containers keep their task-definition order wherever no dependency says otherwise.

use std::collections::BTreeMap;

use kubecs_api_models::{ContainerCondition, ContainerDefinition};

use super::validate::Unsupported;

/// Which containers are init containers and which app containers, each in start order, as
/// indices into the task definition's container definitions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StartOrder {
    /// Init containers, in the order they run.
    pub init: Vec<usize>,
    /// App containers, in the order they start.
    pub app: Vec<usize>,
}

/// The link target's container name: `name` or `name:alias`.
pub fn link_target(link: &str) -> &str {
    link.split_once(':').map_or(link, |(name, _)| name)
}

/// Works out the start order of a task's containers.
pub fn start_order(containers: &[ContainerDefinition]) -> Result<StartOrder, Unsupported> {
    let index: BTreeMap<&str, usize> = containers
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_deref().unwrap_or_default(), i))
        .collect();
    let essential = |i: usize| containers[i].essential != Some(false);
    let name = |i: usize| containers[i].name.as_deref().unwrap_or_default();

    // Edges: (dependent, dependency, is a dependsOn rather than a link).
    let mut edges = Vec::new();
    let mut init = vec![false; containers.len()];
    for (i, c) in containers.iter().enumerate() {
        for dep in c.depends_on.iter().flatten() {
            let target = dep.container_name.as_deref().unwrap_or_default();
            let Some(&t) = index.get(target) else {
                return Err(Unsupported::container(
                    name(i),
                    "dependsOn",
                    format!("there is no container named '{target}' in the task definition."),
                ));
            };
            match &dep.condition {
                Some(ContainerCondition::Complete | ContainerCondition::Success) => {
                    if essential(t) {
                        return Err(Unsupported::container(
                            name(i),
                            "dependsOn",
                            format!(
                                "the COMPLETE and SUCCESS conditions can't be set on an essential container ('{target}')."
                            ),
                        ));
                    }
                    init[t] = true;
                }
                Some(ContainerCondition::Healthy) => {
                    let checked = containers[t]
                        .health_check
                        .as_ref()
                        .and_then(|h| h.command.as_ref())
                        .and_then(|c| c.first())
                        .is_some_and(|kind| kind != "NONE");
                    if !checked {
                        return Err(Unsupported::container(
                            name(i),
                            "dependsOn",
                            format!("the HEALTHY condition needs a health check on container '{target}'."),
                        ));
                    }
                }
                Some(ContainerCondition::Start) => {}
                other => {
                    return Err(Unsupported::container(
                        name(i),
                        "dependsOn",
                        format!(
                            "'{}' is not a condition (START, COMPLETE, SUCCESS, HEALTHY).",
                            other.as_ref().map_or("", |c| c.as_str())
                        ),
                    ))
                }
            }
            if t == i {
                return Err(Unsupported::container(
                    name(i),
                    "dependsOn",
                    "a container cannot depend on itself.",
                ));
            }
            edges.push((i, t, true));
        }
        for link in c.links.iter().flatten() {
            let target = link_target(link);
            let Some(&t) = index.get(target) else {
                return Err(Unsupported::container(
                    name(i),
                    "links",
                    format!("there is no container named '{target}' in the task definition."),
                ));
            };
            if t != i {
                edges.push((i, t, false));
            }
        }
    }
    for &(i, t, depends) in &edges {
        if init[i] && !init[t] && depends {
            return Err(Unsupported::container(
                name(i),
                "dependsOn",
                format!(
                    "it must complete before other containers start, so it cannot wait for container '{}', which Kubernetes starts after it.",
                    name(t)
                ),
            ));
        }
    }
    let group = |wanted: bool| -> Result<Vec<usize>, Unsupported> {
        let members: Vec<usize> = (0..containers.len())
            .filter(|&i| init[i] == wanted)
            .collect();
        let within: Vec<(usize, usize)> = edges
            .iter()
            .filter(|(i, t, _)| init[*i] == wanted && init[*t] == wanted)
            .map(|&(i, t, _)| (i, t))
            .collect();
        sort(&members, &within).ok_or_else(|| {
            Unsupported::task(
                "containerDefinitions",
                "the containers' dependsOn and links form a cycle.",
            )
        })
    };
    Ok(StartOrder {
        init: group(true)?,
        app: group(false)?,
    })
}

/// A stable topological sort: each step takes the lowest-indexed member whose
/// dependencies are all placed. `None` on a cycle.
fn sort(members: &[usize], edges: &[(usize, usize)]) -> Option<Vec<usize>> {
    let mut placed: Vec<usize> = Vec::with_capacity(members.len());
    while placed.len() < members.len() {
        let next = members.iter().copied().find(|&m| {
            !placed.contains(&m) && edges.iter().all(|&(i, t)| i != m || placed.contains(&t))
        })?;
        placed.push(next);
    }
    Some(placed)
}

#[cfg(test)]
mod tests {
    use kubecs_api_models::{ContainerDependency, HealthCheck};

    use super::*;
    use crate::convert::testing::container;

    fn depends(
        mut c: ContainerDefinition,
        on: &str,
        condition: ContainerCondition,
    ) -> ContainerDefinition {
        c.depends_on
            .get_or_insert_with(Vec::new)
            .push(ContainerDependency {
                container_name: Some(on.into()),
                condition: Some(condition),
            });
        c
    }

    fn non_essential(c: ContainerDefinition) -> ContainerDefinition {
        ContainerDefinition {
            essential: Some(false),
            ..c
        }
    }

    #[test]
    fn without_dependencies_the_order_is_the_task_definitions() {
        let order = start_order(&[container("a"), container("b")]).unwrap();
        assert_eq!(
            order,
            StartOrder {
                init: vec![],
                app: vec![0, 1]
            }
        );
    }

    #[test]
    fn a_non_essential_container_others_wait_to_complete_becomes_an_init_container() {
        let order = start_order(&[
            depends(container("app"), "migrate", ContainerCondition::Success),
            non_essential(container("migrate")),
        ])
        .unwrap();
        assert_eq!(
            order,
            StartOrder {
                init: vec![1],
                app: vec![0]
            }
        );
    }

    #[test]
    fn complete_and_success_on_an_essential_container_are_refused() {
        let err = start_order(&[
            depends(container("app"), "migrate", ContainerCondition::Complete),
            container("migrate"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("essential"), "{err}");
    }

    #[test]
    fn start_puts_the_dependency_first() {
        let order = start_order(&[
            depends(container("app"), "proxy", ContainerCondition::Start),
            container("proxy"),
        ])
        .unwrap();
        assert_eq!(order.app, vec![1, 0]);
    }

    #[test]
    fn healthy_needs_a_health_check_on_its_target() {
        let unchecked = [
            depends(container("app"), "db", ContainerCondition::Healthy),
            container("db"),
        ];
        assert!(start_order(&unchecked).is_err());
        let checked = [
            depends(container("app"), "db", ContainerCondition::Healthy),
            ContainerDefinition {
                health_check: Some(HealthCheck {
                    command: Some(vec!["CMD".into(), "true".into()]),
                    ..HealthCheck::default()
                }),
                ..container("db")
            },
        ];
        assert_eq!(start_order(&checked).unwrap().app, vec![1, 0]);
    }

    #[test]
    fn links_order_the_linked_container_first() {
        let order = start_order(&[
            ContainerDefinition {
                links: Some(vec!["mysql:db".into()]),
                ..container("wordpress")
            },
            container("mysql"),
        ])
        .unwrap();
        assert_eq!(order.app, vec![1, 0]);
    }

    #[test]
    fn an_unknown_dependency_or_link_is_refused() {
        assert!(
            start_order(&[depends(container("a"), "ghost", ContainerCondition::Start)]).is_err()
        );
        assert!(start_order(&[ContainerDefinition {
            links: Some(vec!["ghost".into()]),
            ..container("a")
        }])
        .is_err());
    }

    #[test]
    fn a_cycle_is_refused() {
        let err = start_order(&[
            depends(container("a"), "b", ContainerCondition::Start),
            depends(container("b"), "a", ContainerCondition::Start),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("cycle"), "{err}");
    }

    #[test]
    fn an_init_container_cannot_wait_for_an_app_container() {
        assert!(start_order(&[
            depends(container("app"), "init", ContainerCondition::Success),
            non_essential(depends(container("init"), "app", ContainerCondition::Start)),
        ])
        .is_err());
    }

    #[test]
    fn init_containers_run_in_dependency_order() {
        let order = start_order(&[
            depends(container("app"), "second", ContainerCondition::Success),
            non_essential(depends(
                container("second"),
                "first",
                ContainerCondition::Success,
            )),
            non_essential(container("first")),
        ])
        .unwrap();
        assert_eq!(
            order,
            StartOrder {
                init: vec![2, 1],
                app: vec![0]
            }
        );
    }
}
