//! kubecs's desired state in an embedded sled store, behind a typed API.
//!
//! - [`Store::open`] takes the data directory (one process per directory), migrates an
//!   older format, replays the write-ahead log, checks sled against it, and starts the
//!   group-commit committer; damaged files refuse to start ([`OpenError::Damaged`]).
//! - Every region has its own data ([`Store::region`] gives a [`Region`]).
//! - Tables ([`Table`], [`TaskDefinitions`]) are typed views of a region: `get`, atomic
//!   `update`, `compare_and_set_observed` for the reconciler, key-ordered `page`s with
//!   opaque [`PageToken`]s, and `scan_all` for resyncs.
//! - [`Region::transaction`] makes any number of changes, in any tables of a region, one
//!   atomic write, decided on the newest state.
//! - Every write returns only once it is on disk; [`Store::subscribe`] announces it.
//!   [`Store::health`] says whether writes are possible (see [`Health`]).
//!
//! Nothing outside this crate sees sled: the engine can change without touching handlers.

mod daemons;
pub use daemons::{DaemonRevisionState, DaemonState, RunningCount};
mod derived;
mod digest;
mod durability;
mod ecs;
pub use ecs::{
    add_statistic, count_service_move, count_tasks_in, count_tasks_move, has_live_services,
    is_fargate, launch_kind, statistic, CapacityProviderState, CompletedDeployment,
    ExpressConfiguration, ExpressState, HistoryEntry, InstanceState, ServiceMemory, ServiceState,
    TaskCounts, TaskPlacement, CLUSTER_STATISTICS,
};
mod error;
mod feed;
mod key;
mod lock;
mod migrate;
mod record;
mod region;
mod register;
mod store;
mod table;
mod task_definitions;
mod token;
mod transaction;
mod wal;

pub use derived::DerivedCache;
pub use durability::Health;
pub use error::{OpenError, StoreError};
pub use feed::{Change, ChangeReceiver, TableId};
pub use key::{AsKey, Key, KeyError, KeyPrefix};
pub use migrate::FORMAT_VERSION;
pub use record::{Record, Write, RECORD_SCHEMA_VERSION};
pub use region::Region;
pub use store::{Store, StoreOptions};
pub use table::{KeyPage, Observed, Order, Page, Table};
pub use task_definitions::{Family, FamilyStatus, RevisionTables, Revisioned, TaskDefinitions};
pub use token::{InvalidPageToken, PageToken};
pub use transaction::{Committed, Reader, Tx};
