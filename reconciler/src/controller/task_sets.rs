//! Reconciling an EXTERNAL service: one Deployment per task set
//! (`convert::task_set`), Deployments of task sets gone removed, and the task sets'
//! observed counts and stability written back, with the service's counts their sum.
//! A DRAINING task set leaves the service once its pods are gone.

use std::collections::BTreeSet;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use kubecs_api_models::{StabilityStatus, Timestamp};
use kubecs_storage::{Record, Region, ServiceState};

use super::apply::{apply, delete, is_current, stamp};
use super::cluster::ensure_namespace;
use super::service::{task_definition_ref, write_observed, Place};
use super::{Context, Next, ReconcileError};
use crate::convert::task_set::{task_set_deployment, task_set_label, TASK_SET_LABEL};
use crate::convert::ClusterScope;
use crate::observe::tasks::{state as task_state, TaskState};

const DRAINING: &str = "DRAINING";

pub(super) async fn run(
    ctx: &Context,
    store: &Region,
    scope: &ClusterScope<'_>,
    at: &Place,
    record: &Record<ServiceState>,
) -> Result<Next, ReconcileError> {
    let service = &record.value.service;
    ensure_namespace(ctx, scope, service.cluster_arn.as_deref()).await?;
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &at.namespace);
    let mut wanted = BTreeSet::new();
    for task_set in service.task_sets.iter().flatten() {
        if task_set.status.as_deref() == Some(DRAINING) {
            continue;
        }
        let td = match task_set
            .task_definition
            .as_deref()
            .and_then(task_definition_ref)
        {
            Some(reference) => store.task_definitions().by_reference(&reference)?,
            None => None,
        };
        let Some(td) = td else { continue };
        let mut deployment = match task_set_deployment(scope, service, task_set, &td.value) {
            Ok(deployment) => deployment,
            Err(unsupported) => {
                // The API refuses what cannot run at CreateTaskSet.
                tracing::warn!(task_set = %task_set.task_set_arn.as_deref().unwrap_or_default(), reason = %unsupported, "kubecs cannot run this task set");
                continue;
            }
        };
        let name = deployment.name_any();
        let hash = stamp(&mut deployment)?;
        let seen = ctx
            .caches
            .deployments
            .get(&ObjectRef::new(&name).within(&at.namespace));
        if !is_current(seen.as_deref(), &hash) {
            apply(&deployments, &deployment).await?;
        }
        wanted.insert(name);
    }
    for old in ctx
        .caches
        .of_service(&ctx.caches.deployments, &at.namespace, &at.label)
    {
        let name = old.name_any();
        if !wanted.contains(&name) && old.metadata.deletion_timestamp.is_none() {
            delete(&deployments, &name).await?;
        }
    }
    write_status(ctx, store, scope.cluster, at, record).await
}

/// The task sets' counts and stability from their pods, the service's counts their sum,
/// DRAINING task sets without pods removed; and the tasks' records.
async fn write_status(
    ctx: &Context,
    store: &Region,
    cluster: &str,
    at: &Place,
    record: &Record<ServiceState>,
) -> Result<Next, ReconcileError> {
    let pods: Vec<Pod> = ctx
        .caches
        .of_service(&ctx.caches.pods, &at.namespace, &at.label);
    let now = Timestamp::now();
    let mut next = record.value.clone();
    let (mut running, mut pending) = (0, 0);
    let mut sets = next.service.task_sets.clone().unwrap_or_default();
    sets.retain_mut(|set| {
        let label = task_set_label(set.id.as_deref().unwrap_or_default());
        let states: Vec<TaskState> = pods
            .iter()
            .filter(|p| p.labels().get(TASK_SET_LABEL) == Some(&label))
            .map(task_state)
            .collect();
        let count = |s: TaskState| states.iter().filter(|t| **t == s).count() as i32;
        let (r, p) = (count(TaskState::Running), count(TaskState::Pending));
        if set.status.as_deref() == Some(DRAINING) && states.iter().all(|s| !s.is_present()) {
            return false;
        }
        running += r;
        pending += p;
        let steady = r == set.computed_desired_count.unwrap_or(0) && p == 0;
        let stability = if steady {
            StabilityStatus::SteadyState
        } else {
            StabilityStatus::Stabilizing
        };
        if set.stability_status.as_ref() != Some(&stability) {
            set.stability_status = Some(stability);
            set.stability_status_at = Some(now);
        }
        set.running_count = Some(r);
        set.pending_count = Some(p);
        true
    });
    next.service.task_sets = Some(sets);
    next.service.running_count = Some(running);
    next.service.pending_count = Some(pending);
    write_observed(ctx, store, cluster, record, next, &pods, now).await
}
