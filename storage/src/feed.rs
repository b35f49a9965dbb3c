//! The change feed: which table and key changed, for the reconciler's work queue.
//!
//! Notices carry keys, not values: the reconciler de-duplicates by key and reads the
//! current record when it gets to it, so it never acts on a stale copy. A notice is sent
//! only after the write is durable. The channel is bounded; a subscriber that falls behind
//! gets `RecvError::Lagged` and must do a full resync with `scan_all`, exactly as at
//! start-up, so nothing is lost, only coalesced.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::key::{Key, KeyError};

/// Capacity of the change channel: enough for bursts of API writes between two polls of
/// a busy reconciler, small enough to stay a few hundred KiB.
pub(crate) const FEED_CAPACITY: usize = 4096;

/// The tables of the store. The discriminants are written in the write-ahead log (`wal`):
/// a new table goes at the end, and none is ever reordered or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableId {
    Clusters,
    TaskDefinitionFamilies,
    TaskDefinitions,
    Services,
    Tasks,
    Tags,
    Settings,
    /// The status index of task-definition revisions: keyed like `TaskDefinitions`, each
    /// value the revision's bare status string (not a [`Record`](crate::Record), so a
    /// `Store::table` view of it reads as `Corrupt`). It is derived data kept in step with
    /// `TaskDefinitions` in the same writes, and never appears in the change
    /// feed: a change of it is always announced as a change of the revision.
    TaskDefinitionStatus,
    /// Container instances: explicit registrations, custom attributes and state changes
    /// asked for a node (see `InstanceState`).
    ContainerInstances,
    /// Where a standalone task may run (see `TaskPlacement`), beside its task record.
    TaskPlacements,
    /// Capacity providers of the account (see `CapacityProviderState`).
    CapacityProviders,
    /// Daemon task definitions, as `TaskDefinitionFamilies`, `TaskDefinitions` and
    /// `TaskDefinitionStatus` keep task definitions (see `RevisionTables`).
    DaemonTaskDefinitionFamilies,
    DaemonTaskDefinitions,
    DaemonTaskDefinitionStatus,
    /// Daemons of the ECS Daemons API (see `DaemonState`).
    Daemons,
}

impl TableId {
    pub const ALL: [TableId; 15] = [
        TableId::Clusters,
        TableId::TaskDefinitionFamilies,
        TableId::TaskDefinitions,
        TableId::Services,
        TableId::Tasks,
        TableId::Tags,
        TableId::Settings,
        TableId::TaskDefinitionStatus,
        TableId::ContainerInstances,
        TableId::TaskPlacements,
        TableId::CapacityProviders,
        TableId::DaemonTaskDefinitionFamilies,
        TableId::DaemonTaskDefinitions,
        TableId::DaemonTaskDefinitionStatus,
        TableId::Daemons,
    ];

    /// The sled tree holding this table in the current format: keys scoped by region
    /// (see `Region`). Format 3 and older kept one region's tables under
    /// [`TableId::tree_name`]; `migrate` moves them.
    pub(crate) fn sled_tree(self) -> String {
        format!("regional/{}", self.tree_name())
    }

    /// The table's name, used in errors (and the name of its tree in format 3 and older).
    pub fn tree_name(self) -> &'static str {
        match self {
            TableId::Clusters => "clusters",
            TableId::TaskDefinitionFamilies => "task_definition_families",
            TableId::TaskDefinitions => "task_definitions",
            TableId::Services => "services",
            TableId::Tasks => "tasks",
            TableId::Tags => "tags",
            TableId::Settings => "settings",
            TableId::TaskDefinitionStatus => "task_definition_status",
            TableId::ContainerInstances => "container_instances",
            TableId::TaskPlacements => "task_placements",
            TableId::CapacityProviders => "capacity_providers",
            TableId::DaemonTaskDefinitionFamilies => "daemon_task_definition_families",
            TableId::DaemonTaskDefinitions => "daemon_task_definitions",
            TableId::DaemonTaskDefinitionStatus => "daemon_task_definition_status",
            TableId::Daemons => "daemons",
        }
    }
}

/// One change: a key of a table of a region was written or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub table: TableId,
    region: Arc<str>,
    key: Vec<u8>,
}

impl Change {
    pub(crate) fn new(table: TableId, region: Arc<str>, key: Vec<u8>) -> Change {
        Change { table, region, key }
    }

    /// The region whose table changed (`Store::region` gives its tables).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The changed key (without the region), typed as the table's key: `String` for clusters and tags,
    /// `(String, String)` for services (cluster, name) and tasks (cluster, id),
    /// `(String, u32)` for task definitions.
    pub fn key<K: Key>(&self) -> Result<K, KeyError> {
        K::decode(&self.key)
    }

    pub fn raw_key(&self) -> &[u8] {
        &self.key
    }
}

/// Receives change notices; see the module documentation for `Lagged`.
pub type ChangeReceiver = broadcast::Receiver<Change>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_ids_are_listed_in_discriminant_order() {
        for (i, id) in TableId::ALL.iter().enumerate() {
            assert_eq!(*id as usize, i);
        }
    }
}
