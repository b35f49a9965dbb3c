//! Reconciling one task record. A standalone task (RunTask) gets its pod, created once
//! while the task is PROVISIONING and wanted RUNNING, deleted once StopTask wants it
//! STOPPED; its record follows the pod ([`records::observed`]) and becomes STOPPED when
//! the pod is gone. A service's task only has its pod deleted when StopTask asks (the
//! service's ReplicaSet replaces it); its record is written with the service's status.

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use kubecs_api_models::{Task as EcsTask, TaskStopCode, Timestamp};
use kubecs_storage::{count_tasks_in, Observed, Region, TaskCounts};

use super::apply::{apply, delete};
use super::cluster::ensure_namespace;
use super::{Context, Next, ReconcileError};
use crate::convert::task::{pod as task_pod, pod_name, with_overrides};
use crate::convert::{namespace_name, ClusterScope};
use crate::observe::records;
use crate::observe::tasks::task_id;

const RUNNING: &str = "RUNNING";
const PROVISIONING: &str = "PROVISIONING";

/// Whether a task record needs its own reconcile: a standalone task's always; a
/// service's or daemon's task (whose record its workload's reconcile writes on every
/// change of its pod) only while StopTask wants its pod gone.
pub fn wants_reconcile(task: &EcsTask) -> bool {
    !records::is_scheduled(task)
        || (task.stop_code == Some(TaskStopCode::UserInitiated)
            && task.last_status.as_deref() != Some("STOPPED"))
}

pub async fn reconcile(
    ctx: &Context,
    region: &str,
    cluster: &str,
    id: &str,
) -> Result<Next, ReconcileError> {
    let store = ctx.store.region(region);
    let scope = ClusterScope { region, cluster };
    let namespace = namespace_name(&scope);
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let record = store.tasks().get((cluster.to_owned(), id.to_owned()))?;
    let name = pod_name(id);
    let seen = ctx
        .caches
        .pods
        .get(&ObjectRef::new(&name).within(&namespace));
    let Some(record) = record else {
        // A pod of a task nobody knows (its record expired or the store was replaced).
        if seen.is_some_and(|p| p.metadata.deletion_timestamp.is_none()) {
            delete(&pods, &name).await?;
        }
        return Ok(Next::Done);
    };
    let task = &record.value;
    if records::is_scheduled(task) {
        stop_scheduled_task(ctx, &pods, &namespace, id, task).await?;
        return Ok(Next::Done);
    }

    let wants_running = task.desired_status.as_deref() == Some(RUNNING);
    let provisioning = task.last_status.as_deref() == Some(PROVISIONING);
    // An essential container that exited stops the task, as in ECS: its pod goes.
    let stopped_by_exit = match seen.as_deref() {
        Some(pod) if wants_running && pod.metadata.deletion_timestamp.is_none() => {
            essential_exit(&store, task, pod)?
        }
        _ => None,
    };
    let task = &match stopped_by_exit {
        Some(stopped) => {
            delete(&pods, &name).await?;
            stopped
        }
        None => task.clone(),
    };
    let wants_running = task.desired_status.as_deref() == Some(RUNNING);
    match seen.as_deref() {
        None if wants_running && provisioning => {
            create(ctx, &store, &scope, &pods, id, task).await?;
        }
        Some(pod) if !wants_running && pod.metadata.deletion_timestamp.is_none() => {
            delete(&pods, &name).await?;
        }
        _ => {}
    }

    let next = match seen.as_deref() {
        Some(pod) => records::observed(task, pod, &ctx.caches.zones()),
        // Created above, or being created: the watch brings the pod.
        None if wants_running && provisioning => return Ok(Next::Done),
        // Deleted (by StopTask, or by someone else): the task is over.
        None => records::stopped(task, Timestamp::now()),
    };
    if next == record.value {
        return Ok(Next::Done);
    }
    let key = (cluster.to_owned(), id.to_owned());
    let outcome = store
        .transaction(|tx| {
            let outcome =
                tx.set_observed(&store.tasks(), key.clone(), record.generation, |_| {
                    Ok::<_, kubecs_storage::StoreError>(Some(next.clone()))
                })?;
            // The cluster's task counts follow the task, in the same write.
            if matches!(outcome, Observed::Applied(_)) {
                let before = TaskCounts::of_task(&record.value);
                count_tasks_in(tx, &store, cluster, before, TaskCounts::of_task(&next))?;
            }
            Ok::<_, kubecs_storage::StoreError>(outcome)
        })
        .await?;
    match outcome {
        Observed::Stale { .. } => Ok(Next::After(std::time::Duration::ZERO)),
        _ => Ok(Next::Done),
    }
}

/// The task, wanted STOPPED with ECS's code and reason, when an essential container of
/// its running pod has exited (a pod of several containers keeps running when one ends;
/// ECS stops the task).
fn essential_exit(
    store: &Region,
    task: &EcsTask,
    pod: &Pod,
) -> Result<Option<EcsTask>, ReconcileError> {
    let exited = crate::observe::tasks::exited_containers(pod);
    if exited.is_empty() {
        return Ok(None);
    }
    let reference = task
        .task_definition_arn
        .as_deref()
        .and_then(super::service::task_definition_ref);
    let Some(td) = reference
        .map(|r| store.task_definitions().by_reference(&r))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let essential = td.value.container_definitions.iter().flatten().any(|c| {
        c.essential.unwrap_or(true)
            && c.name
                .as_ref()
                .is_some_and(|n| exited.contains(&n.as_str()))
    });
    if !essential {
        return Ok(None);
    }
    let mut stopped = task.clone();
    stopped.desired_status = Some("STOPPED".to_owned());
    stopped.stop_code = Some(TaskStopCode::EssentialContainerExited);
    stopped.stopped_reason = Some("Essential container in task exited".to_owned());
    stopped.stopping_at = Some(Timestamp::now());
    Ok(Some(stopped))
}

/// Creates a standalone task's pod from its task definition and overrides.
async fn create(
    ctx: &Context,
    store: &Region,
    scope: &ClusterScope<'_>,
    pods: &Api<Pod>,
    id: &str,
    task: &EcsTask,
) -> Result<(), ReconcileError> {
    let arn = task.task_arn.as_deref().unwrap_or_default();
    let reference = task
        .task_definition_arn
        .as_deref()
        .and_then(super::service::task_definition_ref);
    let td = match reference {
        Some(reference) => store.task_definitions().by_reference(&reference)?,
        None => None,
    };
    let placement = store
        .task_placements()
        .get((scope.cluster, id))?
        .map(|r| r.value);
    let pod = td
        .ok_or_else(|| "its task definition is not stored".to_owned())
        .and_then(|td| {
            with_overrides(&td.value, task.overrides.as_ref())
                .and_then(|run| {
                    task_pod(
                        scope,
                        &run,
                        id,
                        arn,
                        task.group.as_deref(),
                        placement.as_ref(),
                    )
                })
                .map_err(|e| e.to_string())
        });
    match pod {
        Ok(pod) => {
            ensure_namespace(ctx, scope, task.cluster_arn.as_deref()).await?;
            apply(pods, &pod).await?;
        }
        Err(reason) => {
            // RunTask refuses what cannot run; a record from an older kubecs stays.
            tracing::warn!(task = %arn, %reason, "kubecs cannot run this task on Kubernetes");
            ctx.metrics.unsupported.inc();
        }
    }
    Ok(())
}

/// StopTask of a service's or daemon's task: its pod is deleted (its ReplicaSet or
/// DaemonSet starts another).
async fn stop_scheduled_task(
    ctx: &Context,
    pods: &Api<Pod>,
    namespace: &str,
    id: &str,
    task: &EcsTask,
) -> Result<(), ReconcileError> {
    if task.stop_code != Some(TaskStopCode::UserInitiated)
        || task.last_status.as_deref() == Some("STOPPED")
    {
        return Ok(());
    }
    let pod = ctx
        .caches
        .pods
        .find(|p| p.namespace().as_deref() == Some(namespace) && task_id(p).as_deref() == Some(id));
    if let Some(pod) = pod.filter(|p| p.metadata.deletion_timestamp.is_none()) {
        delete(pods, &pod.name_any()).await?;
    }
    Ok(())
}
