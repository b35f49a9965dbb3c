//! kubecs's desired state in an embedded sled store, behind a typed API.
//!
//! - [`Store::open`] takes the data directory (one process per directory), migrates an
//!   older format, replays the write-ahead log and starts its group-commit committer.
//! - Tables ([`Table`], [`TaskDefinitions`]) are typed views: `get`, atomic `update`,
//!   `compare_and_set_observed` for the reconciler, key-ordered `page`s with opaque
//!   [`PageToken`]s, and `scan_all` for resyncs.
//! - Every write returns only once it is on disk; [`Store::subscribe`] announces it.
//!
//! Nothing outside this crate sees sled: the engine can change without touching handlers.

mod batch;
mod derived;
mod durability;
mod ecs;
pub use ecs::ServiceState;
mod error;
mod feed;
mod key;
mod lock;
mod migrate;
mod record;
mod register;
mod store;
mod table;
mod task_definitions;
mod token;
mod wal;

pub use batch::Batch;
pub use derived::DerivedCache;
pub use error::{OpenError, StoreError};
pub use feed::{Change, ChangeReceiver, TableId};
pub use key::{AsKey, Key, KeyError, KeyPrefix};
pub use migrate::FORMAT_VERSION;
pub use record::{Record, Write, RECORD_SCHEMA_VERSION};
pub use store::{Store, StoreOptions};
pub use table::{KeyPage, Observed, Order, Page, Table};
pub use task_definitions::{Family, FamilyStatus, Revisioned, TaskDefinitions};
pub use token::{InvalidPageToken, PageToken};
