//! What every handler gets besides its typed request: the store as the request's region
//! sees it, who is calling, where we are (region, account, ARNs), the request id and the
//! time the request arrived.

use kubecs_api_models::{ArnBuilder, Timestamp};
use kubecs_sigv4::Caller;
use kubecs_storage::{DerivedCache, Region};
use serde_json::value::RawValue;
use std::sync::Arc;

/// The time source; fixed in tests that compare timestamps.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    Fixed(Timestamp),
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(t) => *t,
        }
    }
}

/// Per-request context handed to handlers.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The tables of the region the request was signed for.
    pub store: Region,
    pub region: Arc<str>,
    pub arns: Arc<ArnBuilder>,
    pub caller: Caller,
    pub request_id: Arc<str>,
    pub now: Timestamp,
    pub caches: Arc<Caches>,
    /// The cluster's nodes (container instances), as the reconciler's copies show them.
    pub nodes: kubecs_reconciler::controller::NodeView,
}

/// Values derived from stored records, shared by all requests (see
/// `kubecs_storage::DerivedCache`: an entry is used only while its record is unchanged).
#[derive(Debug)]
pub struct Caches {
    /// Each service as DescribeServices shows it without tags, as encoded JSON.
    pub service_wire: DerivedCache<Box<RawValue>>,
    /// Whether each cluster is ACTIVE, the check every service request makes.
    pub cluster_active: DerivedCache<bool>,
}

/// Services whose encoded form is kept: DescribeServices' hot set. About 2.5 KB each
/// (stored record plus wire JSON), so ~10 MB at most.
const SERVICE_WIRE_ENTRIES: usize = 4096;
/// Clusters whose status is kept (a cluster record is well under a kilobyte).
const CLUSTER_ENTRIES: usize = 1024;

impl Default for Caches {
    fn default() -> Self {
        Caches {
            service_wire: DerivedCache::new(SERVICE_WIRE_ENTRIES),
            cluster_active: DerivedCache::new(CLUSTER_ENTRIES),
        }
    }
}
