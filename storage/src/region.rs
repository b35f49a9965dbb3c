//! `Region`: the store as one AWS region sees it. ECS keeps every region apart — its own
//! clusters, task definitions, services, tasks, tags and settings — and so does kubecs:
//! every stored key starts with the region's name (the *scope*), added and stripped by the
//! tables, so that handlers and the reconciler work with plain names inside a region.

use std::sync::Arc;

use crate::error::StoreError;
use crate::feed::TableId;
use crate::key::{AsKey, Key};
use crate::store::Store;
use crate::table::Table;
use crate::task_definitions::{RevisionTables, Revisioned, TaskDefinitions};
use crate::transaction::Tx;

/// One region of a store; cheap to clone.
#[derive(Clone)]
pub struct Region {
    store: Store,
    name: Arc<str>,
    scope: Arc<[u8]>,
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The scope of `region`: its name encoded as a key component, so no region's scope is a
/// prefix of another's.
pub(crate) fn scope_of(region: &str) -> Vec<u8> {
    AsKey::<String>::encode_key(region)
}

impl Region {
    pub(crate) fn new(store: Store, name: &str) -> Region {
        Region {
            scope: Arc::from(scope_of(name)),
            name: Arc::from(name),
            store,
        }
    }

    /// The region's name (`us-east-1`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    pub(crate) fn scope(&self) -> &[u8] {
        &self.scope
    }

    /// The whole store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A typed view of any table with types of the caller's choosing. Prefer the named
    /// accessors (`clusters()`, `services()`, ...), which fix the types; this one exists
    /// for tools and tests of the generic machinery. A wrong `V` yields `Corrupt` errors
    /// on read, never a wrong value.
    pub fn table<K: Key, V>(&self, id: TableId) -> Table<K, V> {
        Table::new(self.clone(), id, self.store.tree(id))
    }

    /// Task-definition tables with revision values of the caller's choosing (see
    /// [`Region::table`]).
    pub fn task_definitions_of<V: Revisioned>(&self) -> TaskDefinitions<V> {
        TaskDefinitions::new(self.clone(), RevisionTables::TASK_DEFINITIONS)
    }

    /// Runs `f` as one atomic write: everything it changes through `tx`, in any tables of
    /// this region, becomes one log record, durable and visible together or not at all.
    /// `f` sees the newest state (writes not yet acknowledged included) and decides on it
    /// alone: it runs exactly once, under the store's write lock, so every check that
    /// decides the write happens inside it. It must be quick and must not wait. When `f`
    /// fails, nothing is written.
    ///
    /// Returns once the write — and whatever `f` saw, in case it was another writer's
    /// not-yet-acknowledged write — is durable; its changes are then announced on the
    /// change feed.
    pub async fn transaction<R, E>(
        &self,
        f: impl FnOnce(&mut Tx<'_, '_>) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let ((result, changes), ticket) = self.store.write(|write| {
            let mut tx = Tx::new(write, self);
            let result = f(&mut tx)?;
            Ok::<_, E>((result, tx.into_changes()))
        })?;
        self.store.commit(ticket, changes).await?;
        Ok(result)
    }
}
