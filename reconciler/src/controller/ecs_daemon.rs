//! Reconciling a daemon of the ECS Daemons API: an ACTIVE daemon's DaemonSet applied from
//! its newest revision, and its deployment followed (PENDING, IN_PROGRESS, SUCCESSFUL
//! once every node of its capacity providers runs that revision); a DELETE_IN_PROGRESS
//! one's DaemonSet deleted and, once its pods are gone, the daemon removed with its tags.
//! Every pass writes the running tasks per revision and capacity provider back, the
//! daemon's task records (ListTasks' `daemonName`, DescribeTasks) and its share of the
//! cluster's task counts.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use kubecs_api_models::{
    DaemonDeploymentStatus, DaemonPropagateTags, DaemonStatus, Tag, Timestamp,
};
use kubecs_storage::{
    count_tasks_in, DaemonState, Observed, Record, Region, RunningCount, StoreError, TaskCounts,
    Tx, Write,
};

use super::apply::{apply, delete, is_current, stamp};
use super::cluster::ensure_namespace;
use super::service::{write_tasks, Place};
use super::{Context, Next, ReconcileError};
use crate::convert::ecs_daemon::{
    as_task_definition, capacity_provider_name, ecs_daemon_set, service_name, DaemonSpec,
    DAEMON_REVISION_ANNOTATION,
};
use crate::convert::names::{label_value, CAPACITY_PROVIDER_LABEL};
use crate::convert::{namespace_name, workload_name, ClusterScope};
use crate::observe::records::{self, DaemonTasks, TaskWrites};
use crate::observe::tasks::{failures, state as task_state, TaskState};

/// How often a daemon is looked at while a deployment or a deletion is under way (its
/// pods' and DaemonSet's changes queue it too).
const WHILE_MOVING: Duration = Duration::from_secs(2);

pub async fn reconcile(
    ctx: &Context,
    region: &str,
    cluster: &str,
    name: &str,
) -> Result<Next, ReconcileError> {
    let store = ctx.store.region(region);
    let scope = ClusterScope { region, cluster };
    // A daemon's objects are where those of the DAEMON service `daemon/<name>` would be.
    let at = Place {
        namespace: namespace_name(&scope),
        label: label_value(&service_name(name)),
        deployment: workload_name(&service_name(name)),
    };
    let sets: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &at.namespace);
    let Some(record) = store.daemons().get((cluster, name))? else {
        delete(&sets, &at.deployment).await?;
        return Ok(Next::Done);
    };
    // A daemon whose cluster is gone goes with it. (DeleteCluster refuses while daemons
    // exist, and CreateDaemon refuses an INACTIVE cluster, each inside its write: this
    // only cleans up after a store written by an older kubecs.)
    let cluster_active = store
        .clusters()
        .get(cluster)?
        .is_some_and(|c| c.value.status.as_deref() == Some(kubecs_api_models::status::ACTIVE));
    if record.value.status != DaemonStatus::Active || !cluster_active {
        return remove(ctx, &store, &at, &sets, (cluster, name), &record).await;
    }
    let state = &record.value;
    let Some(revision) = state.current_revision() else {
        return Ok(Next::Done);
    };
    let td_arn = revision
        .revision
        .daemon_task_definition_arn
        .clone()
        .unwrap_or_default();
    let stored = match td_arn
        .split_once(":daemon-task-definition/")
        .and_then(|(_, r)| r.rsplit_once(':'))
        .and_then(|(family, rev)| Some((family, rev.parse::<u32>().ok()?)))
    {
        Some((family, rev)) => store.daemon_task_definitions().get(family, rev)?,
        None => None,
    };
    let Some(td) = stored.and_then(|r| as_task_definition(&r.value).ok()) else {
        tracing::warn!(daemon = %state.daemon_arn, task_definition = %td_arn, "the daemon's task definition is not stored; nothing to run");
        return Ok(Next::Done);
    };
    let providers: Vec<String> = revision
        .capacity_provider_arns
        .iter()
        .map(|arn| capacity_provider_name(arn).to_owned())
        .collect();
    let revision_arn = revision
        .revision
        .daemon_revision_arn
        .clone()
        .unwrap_or_default();
    let spec = DaemonSpec {
        name,
        daemon_arn: &state.daemon_arn,
        cluster_arn: &state.cluster_arn,
        revision_arn: &revision_arn,
        capacity_providers: &providers,
        drain_percent: revision
            .deployment_configuration
            .as_ref()
            .and_then(|c| c.drain_percent),
    };
    let mut set = match ecs_daemon_set(&scope, &spec, &td) {
        Ok(set) => set,
        Err(unsupported) => {
            // RegisterDaemonTaskDefinition refuses what the converter cannot run.
            tracing::warn!(daemon = %state.daemon_arn, reason = %unsupported, "kubecs cannot run this daemon");
            ctx.metrics.unsupported.inc();
            return Ok(Next::Done);
        }
    };
    ensure_namespace(ctx, &scope, Some(&state.cluster_arn)).await?;
    let hash = stamp(&mut set)?;
    let seen = ctx
        .caches
        .daemon_sets
        .get(&ObjectRef::new(&at.deployment).within(&at.namespace));
    if !is_current(seen.as_deref(), &hash) {
        apply(&sets, &set).await?;
    }
    let set = ctx
        .caches
        .daemon_sets
        .get(&ObjectRef::new(&at.deployment).within(&at.namespace));
    let pods = ctx
        .caches
        .of_service(&ctx.caches.pods, &at.namespace, &at.label);
    let on_provider = node_providers(ctx, &pods);
    let running = running_counts(&pods, &on_provider, state);
    let mut next = state.clone();
    next.running = running;
    next.pending_count = pending_count(&pods);
    let done = rolled_out(set.as_deref(), &pods, &revision_arn);
    let events = ctx.caches.events_in(&at.namespace);
    let failed = pods
        .iter()
        .filter(|p| of_revision(p, &revision_arn))
        .map(|p| failures(p, &events))
        .fold(0, i32::saturating_add);
    let desired = set
        .as_ref()
        .and_then(|s| s.status.as_ref())
        .map_or(0, |s| s.desired_number_scheduled);
    let now = Timestamp::now();
    crate::daemon_deployment::follow(&mut next, done, failed, desired, now);
    let tasks = task_records(ctx, name, &mut next, &pods, on_provider);
    // A rollback changed the revision to run: apply it at once.
    let rolled_back = next
        .current_revision()
        .map(|r| &r.revision.daemon_revision_arn)
        != state
            .current_revision()
            .map(|r| &r.revision.daemon_revision_arn);
    let moving = next.deployments.first().is_some_and(|d| {
        matches!(
            d.status,
            Some(DaemonDeploymentStatus::InProgress | DaemonDeploymentStatus::RollbackInProgress)
        )
    });
    write(&store, (cluster, name), &record, next, &tasks, now).await?;
    Ok(if rolled_back {
        Next::After(Duration::ZERO)
    } else if moving && !done {
        Next::After(WHILE_MOVING)
    } else {
        Next::Done
    })
}

/// A DELETE_IN_PROGRESS daemon: its DaemonSet goes (Kubernetes collects the pods); once
/// no pod is left, the daemon and its tags are removed.
async fn remove(
    ctx: &Context,
    store: &Region,
    at: &Place,
    sets: &Api<DaemonSet>,
    key: (&str, &str),
    record: &Record<DaemonState>,
) -> Result<Next, ReconcileError> {
    delete(sets, &at.deployment).await?;
    let pods = ctx
        .caches
        .of_service(&ctx.caches.pods, &at.namespace, &at.label);
    let now = Timestamp::now();
    let mut next = record.value.clone();
    let on_provider = node_providers(ctx, &pods);
    next.running = running_counts(&pods, &on_provider, &record.value);
    let tasks = task_records(ctx, key.1, &mut next, &pods, on_provider);
    if pods.is_empty() {
        // The daemon goes with its tags; its tasks' records stay, STOPPED.
        let table = store.daemons();
        let arn = record.value.daemon_arn.clone();
        let generation = record.generation;
        store
            .transaction(|tx| {
                let current = tx.get(&table, key)?;
                if let Some(current) = current.filter(|c| c.generation == generation) {
                    let zero = TaskCounts {
                        running: 0,
                        pending: 0,
                        ..current.value.task_counts()
                    };
                    count_tasks_in(tx, store, key.0, current.value.task_counts(), zero)?;
                    tx.update(&table, key, |_| Ok::<_, StoreError>((Write::Delete, ())))?;
                    tx.update(&store.tags(), arn.as_str(), |_| {
                        Ok::<_, StoreError>((Write::Delete, ()))
                    })?;
                    write_tasks(tx, store, key.0, &tasks, now, |_, _| Ok(Vec::new()))?;
                }
                Ok::<_, StoreError>(())
            })
            .await?;
        return Ok(Next::Done);
    }
    next.pending_count = pending_count(&pods);
    crate::daemon_deployment::follow(&mut next, false, 0, 0, now);
    write(store, key, record, next, &tasks, now).await?;
    Ok(Next::After(WHILE_MOVING))
}

/// Writes the observed part of a daemon when it changed, with its task records, in one
/// write; a daemon changed meanwhile by the API is left for the next pass (its change
/// queued it).
async fn write(
    store: &Region,
    key: (&str, &str),
    record: &Record<DaemonState>,
    next: DaemonState,
    tasks: &TaskWrites,
    now: Timestamp,
) -> Result<(), ReconcileError> {
    if next == record.value {
        return Ok(());
    }
    let daemons = store.daemons();
    store
        .transaction(|tx| {
            let mut before = None;
            let outcome = tx.set_observed(&daemons, key, record.generation, |current| {
                before = Some(current.task_counts());
                Ok::<_, StoreError>(Some(next.clone()))
            })?;
            if let (Observed::Applied(_), Some(before)) = (outcome, before) {
                write_tasks(tx, store, key.0, tasks, now, |tx, _| {
                    propagated_tags(tx, store, key.0, &next)
                })?;
                count_tasks_in(tx, store, key.0, before, next.task_counts())?;
            }
            Ok::<_, StoreError>(())
        })
        .await?;
    Ok(())
}

/// The task records of the daemon's pods that changed since the last pass (and the
/// tasks whose pods are gone); `state` remembers what was written.
fn task_records(
    ctx: &Context,
    name: &str,
    state: &mut DaemonState,
    pods: &[Pod],
    on_provider: BTreeMap<String, String>,
) -> TaskWrites {
    let owner = DaemonTasks {
        name,
        daemon_arn: &state.daemon_arn,
        cluster_arn: &state.cluster_arn,
        revision_annotation: DAEMON_REVISION_ANNOTATION,
        task_definitions: state
            .revisions
            .iter()
            .filter_map(|r| {
                let r = &r.revision;
                Some((
                    r.daemon_revision_arn.clone()?,
                    r.daemon_task_definition_arn.clone()?,
                ))
            })
            .collect(),
        deployments: state
            .deployments
            .iter()
            .filter_map(|d| {
                let target = d.target_daemon_revision.as_ref()?.arn.clone()?;
                let id = d.daemon_deployment_arn.as_deref()?.rsplit('/').next()?;
                Some((target, id.to_owned()))
            })
            .collect(),
        providers: on_provider,
        enable_execute_command: state
            .current_revision()
            .and_then(|r| r.revision.enable_execute_command)
            .unwrap_or(false),
    };
    let zones = ctx.caches.zones();
    let (writes, written) = records::changes(&state.task_records, pods, |pod| {
        records::of_daemon_pod(pod, &owner, &zones)
    });
    state.task_records = written;
    writes
}

/// The tags a new task of the daemon gets: the daemon's (`propagateTags: DAEMON`) and
/// ECS's own (`enableECSManagedTags`), as its current revision says.
fn propagated_tags(
    tx: &Tx<'_, '_>,
    store: &Region,
    cluster: &str,
    state: &DaemonState,
) -> Result<Vec<Tag>, StoreError> {
    let Some(revision) = state.current_revision().map(|r| &r.revision) else {
        return Ok(Vec::new());
    };
    let mut tags = if revision.propagate_tags == Some(DaemonPropagateTags::Daemon) {
        tx.get(&store.tags(), state.daemon_arn.as_str())?
            .map(|r| r.value)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    if revision.enable_ecs_managed_tags == Some(true) {
        tags.push(Tag {
            key: Some("aws:ecs:clusterName".to_owned()),
            value: Some(cluster.to_owned()),
        });
    }
    Ok(tags)
}

/// The daemon's tasks placed and not yet running.
fn pending_count(pods: &[Pod]) -> i32 {
    let pending = pods.iter().filter(|p| task_state(p) == TaskState::Pending);
    i32::try_from(pending.count()).unwrap_or(i32::MAX)
}

/// The node a pod is placed on.
fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref()
}

/// The capacity provider (its node's label) of each node the pods are on, by node name.
fn node_providers(ctx: &Context, pods: &[Pod]) -> BTreeMap<String, String> {
    pods.iter()
        .filter_map(node_of)
        .filter_map(|name| {
            let node = ctx.caches.nodes.get(&ObjectRef::new(name))?;
            let provider = node.labels().get(CAPACITY_PROVIDER_LABEL)?.clone();
            Some((name.to_owned(), provider))
        })
        .collect()
}

/// Running tasks by revision and capacity provider: each Running pod counts for the
/// revision its template names, under the capacity provider its node is labelled with.
fn running_counts(
    pods: &[Pod],
    on_provider: &BTreeMap<String, String>,
    state: &DaemonState,
) -> Vec<RunningCount> {
    let mut counts: Vec<RunningCount> = Vec::new();
    for pod in pods.iter().filter(|p| task_state(p) == TaskState::Running) {
        let Some(revision) = pod.annotations().get(DAEMON_REVISION_ANNOTATION) else {
            continue;
        };
        let provider_name = node_of(pod)
            .and_then(|n| on_provider.get(n))
            .map_or("", String::as_str);
        let provider = state
            .revisions
            .iter()
            .find(|r| r.revision.daemon_revision_arn.as_deref() == Some(revision.as_str()))
            .and_then(|r| {
                r.capacity_provider_arns
                    .iter()
                    .find(|arn| capacity_provider_name(arn) == provider_name)
            })
            .cloned()
            .unwrap_or_default();
        match counts
            .iter_mut()
            .find(|c| c.revision_arn == *revision && c.capacity_provider_arn == provider)
        {
            Some(c) => c.count += 1,
            None => counts.push(RunningCount {
                revision_arn: revision.clone(),
                capacity_provider_arn: provider,
                count: 1,
            }),
        }
    }
    counts.sort_by(|a, b| {
        (&a.revision_arn, &a.capacity_provider_arn)
            .cmp(&(&b.revision_arn, &b.capacity_provider_arn))
    });
    counts
}

/// Whether every node the DaemonSet should run on runs the current revision, Running,
/// and no pod of another revision is left.
fn rolled_out(set: Option<&DaemonSet>, pods: &[Pod], revision_arn: &str) -> bool {
    let Some(set) = set else {
        return false;
    };
    let status = set.status.clone().unwrap_or_default();
    let current_generation = set
        .metadata
        .generation
        .is_some_and(|g| status.observed_generation == Some(g));
    let desired = status.desired_number_scheduled;
    let running = pods
        .iter()
        .filter(|p| of_revision(p, revision_arn))
        .filter(|p| task_state(p) == TaskState::Running)
        .count() as i32;
    let others = pods
        .iter()
        .filter(|p| !of_revision(p, revision_arn))
        .count();
    current_generation
        && status.updated_number_scheduled.unwrap_or(0) == desired
        && running == desired
        && others == 0
}

/// Whether a pod runs the daemon revision `arn`.
fn of_revision(pod: &Pod, arn: &str) -> bool {
    pod.annotations()
        .get(DAEMON_REVISION_ANNOTATION)
        .map(String::as_str)
        == Some(arn)
}
