//! The route of an Express gateway service: its Ingress applied where the cluster has an
//! ingress class (owned by the service's Deployment, so it goes with it), removed where
//! it has none. The classes are watched ([`super::caches::Caches::ingress_classes`]): a
//! class added or removed queues every service.

use k8s_openapi::api::networking::v1::Ingress;
use kube::Api;
use kubecs_storage::ExpressState;

use super::apply::{apply, delete};
use super::service::Place;
use super::{Context, ReconcileError};
use crate::convert::workload::owned_by;
use crate::convert::{express, ClusterScope};

/// ECS's default container port, for a configuration stored without one.
const DEFAULT_PORT: i32 = 80;

pub(super) async fn route(
    ctx: &Context,
    scope: &ClusterScope<'_>,
    at: &Place,
    service: &str,
    state: &ExpressState,
    deployment_uid: Option<&str>,
) -> Result<(), ReconcileError> {
    let ingresses: Api<Ingress> = Api::namespaced(ctx.client.clone(), &at.namespace);
    if ctx.caches.ingress_classes.state().is_empty() {
        return Ok(delete(&ingresses, &at.deployment).await?);
    }
    let port = state
        .configurations
        .first()
        .and_then(|c| c.configuration.primary_container.as_ref())
        .and_then(|c| c.container_port)
        .unwrap_or(DEFAULT_PORT);
    let mut ingress = express::ingress(scope, service, &state.host, port);
    if let Some(uid) = deployment_uid {
        ingress.metadata.owner_references = Some(vec![owned_by("Deployment", &at.deployment, uid)]);
    }
    apply(&ingresses, &ingress).await?;
    Ok(())
}
