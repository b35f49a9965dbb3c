//! Reconciling one container instance record: UpdateContainerInstancesState's request
//! applied to its node, once per request. DRAINING cordons the node and marks it
//! ([`DRAINING_ANNOTATION`]) so that the services move their tasks off it (see
//! `crate::evacuate`); ACTIVE uncordons it. A node cordoned or uncordoned by someone
//! else afterwards is left as they made it: the request is done once applied.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::Api;
use kubecs_api_models::status::DRAINING;
use kubecs_storage::Observed;

use super::{Context, Next, ReconcileError};
use crate::observe::nodes::DRAINING_ANNOTATION;

pub async fn reconcile(
    ctx: &Context,
    region: &str,
    cluster: &str,
    id: &str,
) -> Result<Next, ReconcileError> {
    let store = ctx.store.region(region);
    let table = store.container_instances();
    let Some(record) = table.get((cluster, id))? else {
        return Ok(Next::Done);
    };
    if record.observed_generation >= record.generation {
        return Ok(Next::Done);
    }
    let state = &record.value;
    if let (Some(node), Some(status)) = (&state.node, &state.requested_status) {
        let draining = status == DRAINING;
        let patch = serde_json::json!({
            "metadata": {"annotations": {DRAINING_ANNOTATION: draining.then_some("true")}},
            "spec": {"unschedulable": draining},
        });
        let nodes: Api<Node> = Api::all(ctx.client.clone());
        match nodes
            .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            // The node is gone: there is nothing left to cordon.
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
        // The tasks on the node: a draining node's are moved off by their services.
        for key in ctx.caches.keys_on_node(node) {
            ctx.queue.add(key);
        }
    }
    let outcome = store
        .transaction(|tx| {
            tx.set_observed(&table, (cluster, id), record.generation, |_| {
                Ok::<_, kubecs_storage::StoreError>(None)
            })
        })
        .await?;
    match outcome {
        Observed::Stale { .. } => Ok(Next::After(std::time::Duration::ZERO)),
        _ => Ok(Next::Done),
    }
}
