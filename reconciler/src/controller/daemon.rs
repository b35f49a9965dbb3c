//! Reconciling a DAEMON service: its DaemonSet and Services applied, and its observed
//! status written back: `desiredCount` is the number of nodes that should run a task
//! (the DaemonSet's `desiredNumberScheduled`, as ECS counts container instances), the
//! running and pending counts come from its pods, and its PRIMARY deployment is
//! COMPLETED once every node runs the current task definition.

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use kubecs_api_models::{DeploymentRolloutState, TaskDefinition, Timestamp};
use kubecs_storage::{Record, Region, ServiceState};

use super::apply::{apply, is_current, stamp};
use super::cluster::ensure_namespace;
use super::service::{apply_services, write_observed, Place};
use super::{Context, Next, ReconcileError};
use crate::convert::workload::owned_by;
use crate::convert::{daemon_set, ClusterScope};
use crate::observe::tasks::{state as task_state, TaskState};

pub(super) async fn run(
    ctx: &Context,
    store: &Region,
    scope: &ClusterScope<'_>,
    at: &Place,
    record: &Record<ServiceState>,
    td: &TaskDefinition,
) -> Result<Next, ReconcileError> {
    let service = &record.value.service;
    let (mut set, mut services) = match daemon_set(scope, service, td) {
        Ok(objects) => objects,
        Err(unsupported) => {
            tracing::warn!(service = %service.service_arn.as_deref().unwrap_or_default(), reason = %unsupported, "kubecs cannot run this DAEMON service");
            ctx.metrics.unsupported.inc();
            return Ok(Next::Done);
        }
    };
    ensure_namespace(ctx, scope, service.cluster_arn.as_deref()).await?;
    let sets: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &at.namespace);
    let hash = stamp(&mut set)?;
    let seen = ctx
        .caches
        .daemon_sets
        .get(&ObjectRef::new(&at.deployment).within(&at.namespace));
    let uid = match seen.as_deref() {
        Some(seen) if is_current(Some(seen), &hash) => seen.uid(),
        _ => apply(&sets, &set).await?.uid(),
    };
    if let Some(uid) = &uid {
        let owner = owned_by("DaemonSet", &at.deployment, uid);
        for object in &mut services {
            object.metadata.owner_references = Some(vec![owner.clone()]);
        }
    }
    apply_services(ctx, at, &mut services).await?;
    write_status(ctx, store, scope.cluster, at, record).await
}

async fn write_status(
    ctx: &Context,
    store: &Region,
    cluster: &str,
    at: &Place,
    record: &Record<ServiceState>,
) -> Result<Next, ReconcileError> {
    let set = ctx
        .caches
        .daemon_sets
        .get(&ObjectRef::new(&at.deployment).within(&at.namespace));
    let status = set
        .as_ref()
        .and_then(|s| s.status.clone())
        .unwrap_or_default();
    let pods: Vec<Pod> = ctx
        .caches
        .of_service(&ctx.caches.pods, &at.namespace, &at.label);
    let states: Vec<TaskState> = pods.iter().map(task_state).collect();
    let count = |s: TaskState| states.iter().filter(|t| **t == s).count() as i32;
    let (running, pending) = (count(TaskState::Running), count(TaskState::Pending));
    let desired = status.desired_number_scheduled;
    let now = Timestamp::now();
    let mut next = record.value.clone();
    let service = &mut next.service;
    service.desired_count = Some(desired);
    service.running_count = Some(running);
    service.pending_count = Some(pending);
    let current_generation = set
        .as_ref()
        .and_then(|s| s.metadata.generation)
        .is_some_and(|g| status.observed_generation == Some(g));
    let done = current_generation
        && status.updated_number_scheduled == Some(desired)
        && running == desired
        && pending == 0;
    if let Some(primary) = service.deployments.iter_mut().flatten().next() {
        primary.desired_count = Some(desired);
        primary.running_count = Some(running);
        primary.pending_count = Some(pending);
        if done && primary.rollout_state != Some(DeploymentRolloutState::Completed) {
            primary.rollout_state = Some(DeploymentRolloutState::Completed);
            primary.rollout_state_reason = Some(format!(
                "ECS deployment {} completed.",
                primary.id.as_deref().unwrap_or_default()
            ));
            primary.updated_at = Some(now);
        }
    }
    crate::history::follow(&mut next, now);
    write_observed(ctx, store, cluster, record, next, &pods, now).await
}
