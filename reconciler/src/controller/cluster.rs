//! Reconciling one ECS cluster: its namespace exists while the cluster is ACTIVE and is
//! deleted once the cluster is INACTIVE or gone (DeleteCluster only succeeds for a cluster
//! with no services left, so nothing of a service is in it by then).

use k8s_openapi::api::core::v1::Namespace;
use kube::runtime::reflector::ObjectRef;
use kube::Api;
use kubecs_api_models::status::ACTIVE;

use super::apply::{apply, delete, is_current, stamp};
use super::{Context, Next, ReconcileError};
use crate::convert::{namespace, namespace_name, ClusterScope};

pub async fn reconcile(ctx: &Context, region: &str, cluster: &str) -> Result<Next, ReconcileError> {
    let scope = ClusterScope { region, cluster };
    let record = ctx
        .store
        .region(region)
        .clusters()
        .get(cluster.to_owned())?;
    match record {
        Some(record) if record.value.status.as_deref() == Some(ACTIVE) => {
            ensure_namespace(ctx, &scope, record.value.cluster_arn.as_deref()).await?;
        }
        _ => {
            let name = namespace_name(&scope);
            let seen = ctx.caches.namespaces.get(&ObjectRef::new(&name));
            if seen.is_some_and(|ns| ns.metadata.deletion_timestamp.is_none()) {
                let api: Api<Namespace> = Api::all(ctx.client.clone());
                delete(&api, &name).await?;
            }
        }
    }
    Ok(Next::Done)
}

/// Applies the cluster's namespace unless the local copy shows it as applied.
pub async fn ensure_namespace(
    ctx: &Context,
    scope: &ClusterScope<'_>,
    cluster_arn: Option<&str>,
) -> Result<(), ReconcileError> {
    let mut desired = namespace(scope, cluster_arn);
    let hash = stamp(&mut desired)?;
    let name = namespace_name(scope);
    let seen = ctx.caches.namespaces.get(&ObjectRef::new(&name));
    if !is_current(seen.as_deref(), &hash) {
        let api: Api<Namespace> = Api::all(ctx.client.clone());
        apply(&api, &desired).await?;
    }
    Ok(())
}
