//! Finishing a deleted service's drain: once its workload is gone, the service becomes
//! INACTIVE and its cluster stops counting it as draining, in one write, so that the
//! cluster can be deleted and the name reused the moment the service is INACTIVE.

use kubecs_api_models::status::{DRAINING, INACTIVE};
use kubecs_storage::{count_service_move, Observed, Region, ServiceState, StoreError, Write};

use crate::status::complete_drain;

/// Marks the DRAINING service `(cluster, name)` INACTIVE for `generation` (the desired
/// state the reconciler acted on). A service whose desire moved on (`Stale`), that is
/// gone, or that is not DRAINING is left as it is.
pub async fn finish_drain(
    region: &Region,
    cluster: &str,
    name: &str,
    generation: u64,
) -> Result<Observed<ServiceState>, StoreError> {
    let (services, clusters) = (region.services(), region.clusters());
    region
        .transaction(|tx| {
            let mut drained = None;
            let outcome = tx.set_observed(&services, (cluster, name), generation, |state| {
                if state.service.status.as_deref() != Some(DRAINING) {
                    return Ok::<_, StoreError>(None);
                }
                let mut next = state.clone();
                next.service = complete_drain(&state.service);
                drained = Some(state.service.clone());
                Ok(Some(next))
            })?;
            if let Some(service) = drained {
                tx.update(&clusters, cluster, |current| {
                    let Some(record) = current else {
                        return Ok::<_, StoreError>((Write::Keep, ()));
                    };
                    let mut cluster = record.value.clone();
                    count_service_move(&mut cluster, &service, Some(DRAINING), Some(INACTIVE));
                    Ok((Write::Put(cluster), ()))
                })?;
            }
            Ok(outcome)
        })
        .await
}
