//! What every handler gets besides its typed request: the store, who is calling, where
//! we are (region, account, ARNs), the request id and the time the request arrived.

use crate::arn::ArnBuilder;
use kubecs_api_models::Timestamp;
use kubecs_sigv4::Caller;
use kubecs_storage::Store;
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
    pub store: Store,
    pub region: Arc<str>,
    pub arns: Arc<ArnBuilder>,
    pub caller: Caller,
    pub request_id: Arc<str>,
    pub now: Timestamp,
}
