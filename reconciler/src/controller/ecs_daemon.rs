//! Reconciling a daemon of the ECS Daemons API: an ACTIVE daemon's DaemonSet applied from
//! its newest revision, and its deployment followed (PENDING, IN_PROGRESS, SUCCESSFUL
//! once every node of its capacity providers runs that revision); a DELETE_IN_PROGRESS
//! one's DaemonSet deleted and, once its pods are gone, the daemon removed with its tags.
//! Every pass writes the running tasks per revision and capacity provider back.

use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use kubecs_api_models::{DaemonDeploymentStatus, DaemonStatus, Timestamp};
use kubecs_storage::{DaemonState, Observed, Record, Region, RunningCount, Write};

use super::apply::{apply, delete, is_current, stamp};
use super::cluster::ensure_namespace;
use super::service::Place;
use super::{Context, Next, ReconcileError};
use crate::convert::ecs_daemon::{
    as_task_definition, capacity_provider_name, ecs_daemon_set, service_name, DaemonSpec,
    DAEMON_REVISION_ANNOTATION,
};
use crate::convert::names::{label_value, CAPACITY_PROVIDER_LABEL};
use crate::convert::{namespace_name, workload_name, ClusterScope};
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
    // A daemon whose cluster is gone goes with it (DeleteCluster refuses while daemons
    // exist; one created in the same moment can still win).
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
    let running = running_counts(ctx, &pods, state);
    let mut next = state.clone();
    next.running = running;
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
    crate::daemon_deployment::follow(&mut next, done, failed, desired, Timestamp::now());
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
    write(&store, (cluster, name), &record, next).await?;
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
    if pods.is_empty() {
        let table = store.daemons();
        let arn = record.value.daemon_arn.clone();
        let generation = record.generation;
        store
            .transaction(|tx| {
                let current = tx.get(&table, key)?;
                if current.is_some_and(|c| c.generation == generation) {
                    tx.update(&table, key, |_| {
                        Ok::<_, kubecs_storage::StoreError>((Write::Delete, ()))
                    })?;
                    tx.update(&store.tags(), arn.as_str(), |_| {
                        Ok::<_, kubecs_storage::StoreError>((Write::Delete, ()))
                    })?;
                }
                Ok::<_, kubecs_storage::StoreError>(())
            })
            .await?;
        return Ok(Next::Done);
    }
    let mut next = record.value.clone();
    next.running = running_counts(ctx, &pods, &record.value);
    crate::daemon_deployment::follow(&mut next, false, 0, 0, Timestamp::now());
    write(store, key, record, next).await?;
    Ok(Next::After(WHILE_MOVING))
}

/// Writes the observed part of a daemon when it changed; a daemon changed meanwhile by
/// the API is left for the next pass (its change queued it).
async fn write(
    store: &Region,
    key: (&str, &str),
    record: &Record<DaemonState>,
    next: DaemonState,
) -> Result<(), ReconcileError> {
    if next == record.value {
        return Ok(());
    }
    let _: Observed<DaemonState> = store
        .daemons()
        .compare_and_set_observed(key, record.generation, |_| {
            Ok::<_, kubecs_storage::StoreError>(Some(next))
        })
        .await?;
    Ok(())
}

/// Running tasks by revision and capacity provider: each Running pod counts for the
/// revision its template names, under the capacity provider its node is labelled with.
fn running_counts(ctx: &Context, pods: &[Pod], state: &DaemonState) -> Vec<RunningCount> {
    let mut counts: Vec<RunningCount> = Vec::new();
    for pod in pods.iter().filter(|p| task_state(p) == TaskState::Running) {
        let Some(revision) = pod.annotations().get(DAEMON_REVISION_ANNOTATION) else {
            continue;
        };
        let node: Option<std::sync::Arc<Node>> = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .and_then(|n| ctx.caches.nodes.get(&ObjectRef::new(n)));
        let provider_name = node
            .as_ref()
            .and_then(|n| n.labels().get(CAPACITY_PROVIDER_LABEL).cloned())
            .unwrap_or_default();
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
