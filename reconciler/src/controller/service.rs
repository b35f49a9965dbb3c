//! Reconciling one ECS service: an ACTIVE service's Deployment and Services applied from
//! its PRIMARY deployment's task definition (objects it no longer needs removed); a
//! DRAINING one's objects deleted and, once its pods are gone, the service made INACTIVE;
//! a missing or INACTIVE one's objects deleted. Every pass ends by writing what
//! Kubernetes shows back as the service's observed status.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Pod, Service as KubeService};
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use kubecs_api_models::status::{ACTIVE, DRAINING};
use kubecs_api_models::{task_definition_of, TaskDefinitionRef, Timestamp};
use kubecs_api_models::{
    DeploymentControllerType, PropagateTags, SchedulingStrategy, Service, Tag, Task as EcsTask,
    TaskStopCode,
};
use kubecs_storage::{
    count_tasks_in, Observed, Record, Region, ServiceState, StoreError, TaskCounts, Tx, Write,
};

use super::apply::{apply, delete, is_current, stamp};
use super::cluster::ensure_namespace;
use super::{Context, Next, ReconcileError};
use crate::convert::names::label_value;
use crate::convert::{self, namespace_name, primary_deployment, workload_name, ClusterScope};
use crate::observe::records::{self, TaskWrites};
use crate::observe::{observe, Snapshot};

/// How often a draining service is looked at while its pods go.
const DRAIN_POLL: Duration = Duration::from_secs(1);

pub async fn reconcile(
    ctx: &Context,
    region: &str,
    cluster: &str,
    name: &str,
) -> Result<Next, ReconcileError> {
    let store = ctx.store.region(region);
    let scope = ClusterScope { region, cluster };
    let at = Place {
        namespace: namespace_name(&scope),
        label: label_value(name),
        deployment: workload_name(name),
    };
    let record = store
        .services()
        .get((cluster.to_owned(), name.to_owned()))?;
    let Some(record) = record else {
        remove(ctx, &at).await?;
        return Ok(Next::Done);
    };
    match record.value.service.status.as_deref() {
        Some(ACTIVE) => run(ctx, &store, &scope, &at, &record).await,
        Some(DRAINING) => drain(ctx, &store, &scope, &at, &record).await,
        _ => {
            remove(ctx, &at).await?;
            Ok(Next::Done)
        }
    }
}

/// Where a service's objects are.
pub(super) struct Place {
    pub(super) namespace: String,
    /// Its `ecs.kubecs.io/service` label value.
    pub(super) label: String,
    /// Its Deployment's name.
    pub(super) deployment: String,
}

/// The family and revision of a task definition ARN (`...:task-definition/web:3`).
pub(super) fn task_definition_ref(arn: &str) -> Option<TaskDefinitionRef> {
    let (family, revision) = task_definition_of(arn)?;
    Some(TaskDefinitionRef {
        family: family.to_owned(),
        revision: Some(revision),
    })
}

async fn run(
    ctx: &Context,
    store: &Region,
    scope: &ClusterScope<'_>,
    at: &Place,
    record: &Record<ServiceState>,
) -> Result<Next, ReconcileError> {
    let service = &record.value.service;
    let external = service
        .deployment_controller
        .as_ref()
        .and_then(|c| c.r#type.as_ref())
        == Some(&DeploymentControllerType::External);
    if external {
        return super::task_sets::run(ctx, store, scope, at, record).await;
    }
    let arn = primary_deployment(service)
        .and_then(|d| d.task_definition.clone())
        .or_else(|| service.task_definition.clone())
        .unwrap_or_default();
    let task_definition = match task_definition_ref(&arn) {
        Some(reference) => store.task_definitions().by_reference(&reference)?,
        None => None,
    };
    let Some(task_definition) = task_definition else {
        // The API refuses a service without its task definition, and revisions are
        // never deleted while referenced: this is a record from an older kubecs.
        tracing::warn!(service = %service.service_arn.as_deref().unwrap_or_default(), task_definition = %arn, "the service's task definition is not stored; nothing to run");
        return Ok(Next::Done);
    };
    if service.scheduling_strategy == Some(SchedulingStrategy::Daemon) {
        return super::daemon::run(ctx, store, scope, at, record, &task_definition.value).await;
    }
    let mut workload = match convert::workload(scope, service, &task_definition.value) {
        Ok(workload) => workload,
        Err(unsupported) => {
            // The API refuses what the converter cannot run at CreateService and
            // UpdateService; a service stored before that check stays as it is.
            tracing::warn!(service = %service.service_arn.as_deref().unwrap_or_default(), reason = %unsupported, "kubecs cannot run this service on Kubernetes");
            ctx.metrics.unsupported.inc();
            return write_status(ctx, store, scope.cluster, at, record).await;
        }
    };
    ensure_namespace(ctx, scope, service.cluster_arn.as_deref()).await?;

    // Tasks on container instances being drained move elsewhere (see `evacuate`).
    let pods = ctx
        .caches
        .of_service(&ctx.caches.pods, &at.namespace, &at.label);
    let evacuation = crate::evacuate::plan(service, &pods, &ctx.caches.draining_nodes());
    if evacuation.surge > 0 {
        if let Some(spec) = workload.deployment.spec.as_mut() {
            spec.replicas = Some(spec.replicas.unwrap_or(0) + evacuation.surge);
        }
    }

    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &at.namespace);
    let hash = stamp(&mut workload.deployment)?;
    let seen = ctx
        .caches
        .deployments
        .get(&ObjectRef::new(&at.deployment).within(&at.namespace));
    let uid = match seen.as_deref() {
        Some(seen) if is_current(Some(seen), &hash) => seen.uid(),
        _ => apply(&deployments, &workload.deployment).await?.uid(),
    };
    if let Some(uid) = &uid {
        workload.set_owner(uid);
    }

    apply_services(ctx, at, &mut workload.services).await?;
    if let Some(express) = &record.value.express {
        let name = service.service_name.as_deref().unwrap_or_default();
        super::express::route(ctx, scope, at, name, express, uid.as_deref()).await?;
    }
    let pod_api: Api<Pod> = Api::namespaced(ctx.client.clone(), &at.namespace);
    for name in &evacuation.stop {
        delete(&pod_api, name).await?;
    }
    let protection_ends = protect(&pod_api, &pods, &record.value).await?;
    let next = write_status(ctx, store, scope.cluster, at, record).await?;
    Ok(match (next, protection_ends) {
        (Next::After(a), Some(b)) => Next::After(a.min(b)),
        (Next::Done, Some(b)) => Next::After(b),
        (next, None) => next,
    })
}

/// Applies a service's Kubernetes Services (those not already as wanted) and deletes
/// those of its label it no longer has.
pub(super) async fn apply_services(
    ctx: &Context,
    at: &Place,
    objects: &mut [KubeService],
) -> Result<(), ReconcileError> {
    let services: Api<KubeService> = Api::namespaced(ctx.client.clone(), &at.namespace);
    let mut wanted = BTreeSet::new();
    for object in objects {
        let hash = stamp(object)?;
        let name = object.name_any();
        let seen = ctx
            .caches
            .services
            .get(&ObjectRef::new(&name).within(&at.namespace));
        if !is_current(seen.as_deref(), &hash) {
            apply(&services, &*object).await?;
        }
        wanted.insert(name);
    }
    for old in ctx
        .caches
        .of_service(&ctx.caches.services, &at.namespace, &at.label)
    {
        let name = old.name_any();
        if !wanted.contains(&name) {
            delete(&services, &name).await?;
        }
    }
    Ok(())
}

/// The deletion cost of a pod protected from scale-in (UpdateTaskProtection): the
/// highest, so that a ReplicaSet scaling in deletes every other pod first.
const PROTECTED_COST: &str = "2147483647";
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Gives the pods of protected tasks the highest deletion cost, and takes it back from
/// the others; returns how long until the next protection expires.
async fn protect(
    pods: &Api<Pod>,
    seen: &[Pod],
    state: &ServiceState,
) -> Result<Option<Duration>, ReconcileError> {
    let now = Timestamp::now().epoch_millis();
    let mut next_end: Option<i64> = None;
    for pod in seen {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let until = crate::observe::task_id(pod)
            .and_then(|id| state.protected.get(&id).copied())
            .map(|t| t.epoch_millis())
            .filter(|t| *t > now);
        if let Some(t) = until {
            next_end = Some(next_end.map_or(t, |n| n.min(t)));
        }
        let has = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DELETION_COST))
            .is_some_and(|v| v == PROTECTED_COST);
        let value = match (until.is_some(), has) {
            (true, false) => Some(PROTECTED_COST),
            (false, true) => None,
            _ => continue,
        };
        let patch = serde_json::json!({"metadata": {"annotations": {DELETION_COST: value}}});
        match pods
            .patch(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(next_end.map(|t| Duration::from_millis(u64::try_from(t - now).unwrap_or(0))))
}

/// A deleted service: its objects go, its counts follow its pods, and once nothing is
/// left it becomes INACTIVE.
async fn drain(
    ctx: &Context,
    store: &Region,
    scope: &ClusterScope<'_>,
    at: &Place,
    record: &Record<ServiceState>,
) -> Result<Next, ReconcileError> {
    remove(ctx, at).await?;
    if let Next::After(delay) = write_status(ctx, store, scope.cluster, at, record).await? {
        return Ok(Next::After(delay));
    }
    let caches = &ctx.caches;
    let left = !caches
        .of_service(&caches.pods, &at.namespace, &at.label)
        .is_empty()
        || !caches
            .of_service(&caches.replica_sets, &at.namespace, &at.label)
            .is_empty()
        || !caches
            .of_service(&caches.deployments, &at.namespace, &at.label)
            .is_empty()
        || !caches
            .of_service(&caches.daemon_sets, &at.namespace, &at.label)
            .is_empty();
    if left {
        return Ok(Next::After(DRAIN_POLL));
    }
    let name = record
        .value
        .service
        .service_name
        .as_deref()
        .unwrap_or_default();
    match crate::drain::finish_drain(store, scope.cluster, name, record.generation).await? {
        Observed::Stale { .. } => Ok(Next::After(Duration::ZERO)),
        _ => Ok(Next::Done),
    }
}

/// Deletes a service's Deployment or DaemonSet (their pods are collected) and Services.
async fn remove(ctx: &Context, at: &Place) -> Result<(), ReconcileError> {
    let caches = &ctx.caches;
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &at.namespace);
    for d in caches.of_service(&caches.deployments, &at.namespace, &at.label) {
        if d.metadata.deletion_timestamp.is_none() {
            delete(&deployments, &d.name_any()).await?;
        }
    }
    let daemon_sets: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), &at.namespace);
    for d in caches.of_service(&caches.daemon_sets, &at.namespace, &at.label) {
        if d.metadata.deletion_timestamp.is_none() {
            delete(&daemon_sets, &d.name_any()).await?;
        }
    }
    let services: Api<KubeService> = Api::namespaced(ctx.client.clone(), &at.namespace);
    for s in caches.of_service(&caches.services, &at.namespace, &at.label) {
        if s.metadata.deletion_timestamp.is_none() {
            delete(&services, &s.name_any()).await?;
        }
    }
    Ok(())
}

/// Observes the service's workload as the local copies show it and writes the observed
/// status (with the cluster's task counts, and a rollback the circuit breaker asks for)
/// in one write, unless nothing changed. `After(0)` when the desired state moved on meanwhile: reconcile again.
async fn write_status(
    ctx: &Context,
    store: &Region,
    cluster: &str,
    at: &Place,
    record: &Record<ServiceState>,
) -> Result<Next, ReconcileError> {
    let caches = &ctx.caches;
    let deployment = caches
        .deployments
        .get(&ObjectRef::new(&at.deployment).within(&at.namespace));
    let replica_sets = caches.of_service(&caches.replica_sets, &at.namespace, &at.label);
    let pods = caches.of_service(&caches.pods, &at.namespace, &at.label);
    let events = caches.events_in(&at.namespace);
    let zones = caches.zones();
    let snapshot = Snapshot {
        deployment: deployment.as_deref(),
        replica_sets: &replica_sets,
        pods: &pods,
        events: &events,
        zones: Some(&zones),
    };
    let now = Timestamp::now();
    let observation = observe(&record.value, &snapshot, now);
    if observation.state == record.value
        && observation.rollback.is_none()
        && record.observed_generation == record.generation
    {
        return Ok(Next::Done);
    }
    let services = store.services();
    let key = (
        cluster.to_owned(),
        record
            .value
            .service
            .service_name
            .clone()
            .unwrap_or_default(),
    );
    let outcome = store
        .transaction(|tx| {
            let state = observation.state.clone();
            let mut before = None;
            let outcome =
                tx.set_observed(&services, key.clone(), record.generation, |current| {
                    before = Some(TaskCounts::of(&current.service));
                    Ok::<_, kubecs_storage::StoreError>(Some(state))
                })?;
            if let Observed::Applied(_) = &outcome {
                let service = &observation.state.service;
                write_tasks(tx, store, cluster, &observation.tasks, now, |tx, task| {
                    propagated_tags(tx, store, cluster, service, task)
                })?;
            }
            if let (Observed::Applied(_), Some(before)) = (&outcome, before) {
                let after = TaskCounts::of(&observation.state.service);
                count_tasks_in(tx, store, cluster, before, after)?;
            }
            if let (Observed::Applied(_), Some(rollback)) = (&outcome, &observation.rollback) {
                tx.update(&services, key.clone(), |current| {
                    let Some(current) = current else {
                        return Ok::<_, kubecs_storage::StoreError>((Write::Keep, ()));
                    };
                    let mut next = current.value.clone();
                    next.service.task_definition = Some(rollback.task_definition.clone());
                    crate::deployment::start_new(&mut next.service, now);
                    crate::history::rolling_back(
                        &mut next,
                        &rollback.failed_deployment,
                        &rollback.to_deployment,
                        "The deployment circuit breaker rolled the deployment back: tasks failed to start.",
                        now,
                    );
                    Ok((Write::Put(next), ()))
                })?;
            }
            Ok::<_, kubecs_storage::StoreError>(outcome)
        })
        .await?;
    match outcome {
        Observed::Stale { .. } => Ok(Next::After(Duration::ZERO)),
        _ => Ok(Next::Done),
    }
}

/// Writes `next`, the observed state of a service run outside `observe` (DAEMON
/// services, EXTERNAL services' task sets), with its pods' task records and the
/// cluster's task counts, unless nothing changed.
pub(super) async fn write_observed(
    ctx: &Context,
    store: &Region,
    cluster: &str,
    record: &Record<ServiceState>,
    mut next: ServiceState,
    pods: &[Pod],
    now: Timestamp,
) -> Result<Next, ReconcileError> {
    let zones = ctx.caches.zones();
    let (writes, written) = records::changes(&next.memory.task_records, pods, |pod| {
        records::of_pod(pod, &next.service, &zones)
    });
    next.memory.task_records = written;
    if next == record.value && record.observed_generation == record.generation {
        return Ok(Next::Done);
    }
    let services = store.services();
    let name = next.service.service_name.clone().unwrap_or_default();
    let before = TaskCounts::of(&record.value.service);
    let after = TaskCounts::of(&next.service);
    let outcome = store
        .transaction(|tx| {
            let outcome = tx.set_observed(
                &services,
                (cluster, name.as_str()),
                record.generation,
                |_| Ok::<_, StoreError>(Some(next.clone())),
            )?;
            if let Observed::Applied(_) = &outcome {
                write_tasks(tx, store, cluster, &writes, now, |tx, task| {
                    propagated_tags(tx, store, cluster, &next.service, task)
                })?;
                count_tasks_in(tx, store, cluster, before, after)?;
            }
            Ok::<_, StoreError>(outcome)
        })
        .await?;
    Ok(match outcome {
        Observed::Stale { .. } => Next::After(Duration::ZERO),
        _ => Next::Done,
    })
}

/// Writes the observation's task records: new and changed ones (a new task gets the
/// tags `tags_of_new` gives it: what its service or daemon propagates), and the records
/// of tasks whose pods are gone, stopped.
pub(super) fn write_tasks(
    tx: &mut Tx<'_, '_>,
    store: &Region,
    cluster: &str,
    writes: &TaskWrites,
    now: Timestamp,
    tags_of_new: impl Fn(&Tx<'_, '_>, &EcsTask) -> Result<Vec<Tag>, StoreError>,
) -> Result<(), StoreError> {
    let table = &store.tasks();
    for record in &writes.put {
        let Some(id) = record
            .task_arn
            .as_deref()
            .and_then(|a| a.rsplit('/').next())
        else {
            continue;
        };
        if tx.get(table, (cluster, id))?.is_none() {
            let tags = tags_of_new(tx, record)?;
            if !tags.is_empty() {
                let arn = record.task_arn.clone().unwrap_or_default();
                tx.update(&store.tags(), arn, |_| {
                    Ok::<_, StoreError>((Write::Put(tags), ()))
                })?;
            }
        }
        tx.update(table, (cluster, id), |current| {
            let mut next = record.clone();
            // A StopTask of a service's task: its code and reason stay the user's.
            if let Some(current) =
                current.filter(|c| c.value.stop_code == Some(TaskStopCode::UserInitiated))
            {
                next.desired_status = Some("STOPPED".to_owned());
                next.stop_code = current.value.stop_code.clone();
                next.stopped_reason = current.value.stopped_reason.clone();
            }
            Ok::<_, StoreError>((Write::Put(next), ()))
        })?;
    }
    for id in &writes.stop {
        tx.update(table, (cluster, id.as_str()), |current| {
            Ok::<_, StoreError>(match current {
                Some(current) => (Write::Put(records::stopped(&current.value, now)), ()),
                None => (Write::Keep, ()),
            })
        })?;
    }
    Ok(())
}

/// The tags a new task of `service` gets: the service's or its task definition's
/// (`propagateTags`), and ECS's own (`enableECSManagedTags`).
fn propagated_tags(
    tx: &Tx<'_, '_>,
    store: &Region,
    cluster: &str,
    service: &Service,
    task: &EcsTask,
) -> Result<Vec<Tag>, StoreError> {
    let source = match service.propagate_tags {
        Some(PropagateTags::Service) => service.service_arn.as_deref(),
        Some(PropagateTags::TaskDefinition) => task.task_definition_arn.as_deref(),
        _ => None,
    };
    let mut tags = match source {
        Some(arn) => tx
            .get(&store.tags(), arn)?
            .map(|r| r.value)
            .unwrap_or_default(),
        None => Vec::new(),
    };
    if service.enable_ecs_managed_tags == Some(true) {
        tags.push(Tag {
            key: Some("aws:ecs:clusterName".to_owned()),
            value: Some(cluster.to_owned()),
        });
        tags.push(Tag {
            key: Some("aws:ecs:serviceName".to_owned()),
            value: service.service_name.clone(),
        });
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_definition_arns_give_their_family_and_revision() {
        let reference =
            task_definition_ref("arn:aws:ecs:us-east-1:000000000000:task-definition/web:12")
                .unwrap();
        assert_eq!(reference.family, "web");
        assert_eq!(reference.revision, Some(12));
        assert_eq!(
            task_definition_ref("arn:aws:ecs:us-east-1:0:task-definition/web"),
            None
        );
    }
}
