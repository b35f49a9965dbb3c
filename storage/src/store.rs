//! `Store`: one open data directory — its lock, the sled database, the group-commit
//! flusher and the change feed. Tables are typed views handed out by accessor methods.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::combine::Combiner;
use crate::durability::GroupCommit;
use crate::error::{OpenError, StoreError};
use crate::feed::{Change, ChangeReceiver, TableId, FEED_CAPACITY};
use crate::key::Key;
use crate::lock::{self, DirLock};
use crate::migrate;
use crate::table::Table;
use crate::task_definitions::{Revisioned, TaskDefinitions};

/// Subdirectory of the data directory that sled owns; our lock file sits beside it.
pub(crate) const SLED_DIR: &str = "sled";

/// Tuning knobs; the defaults meet the targets in BENCH.md.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Bytes of sled page cache. sled's default (1 GiB) is far above our 100 MB resident
    /// target; the working set of desired state is small and hot.
    pub cache_capacity: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_capacity: 32 * 1024 * 1024,
        }
    }
}

/// An open store. Cheap to clone; all clones share one database and one flusher.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    // Field order is drop order: stop the flusher (it flushes what is pending) before the
    // database handle goes, and release the directory lock last.
    commit: GroupCommit,
    /// One tree per `TableId`, in `TableId::ALL` order (indexed by the discriminant).
    trees: Vec<sled::Tree>,
    /// One combiner per kind of combined operation (see `combine`), made on first use.
    combiners: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    db: sled::Db,
    feed: broadcast::Sender<Change>,
    dir: PathBuf,
    _lock: DirLock,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir` with default options.
    pub fn open(dir: &Path) -> Result<Store, OpenError> {
        Store::open_with(dir, &StoreOptions::default())
    }

    /// Opens the store in `dir`: takes the directory lock, opens sled, migrates an older
    /// format, and starts the flusher.
    pub fn open_with(dir: &Path, options: &StoreOptions) -> Result<Store, OpenError> {
        let io = |source| OpenError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock = DirLock::acquire(dir)?;
        let sled_err = |source| OpenError::Sled {
            dir: dir.to_path_buf(),
            source,
        };
        lock::wait_for_sled_release(&dir.join(SLED_DIR));
        let db = sled::Config::new()
            .path(dir.join(SLED_DIR))
            .cache_capacity(options.cache_capacity)
            .open()
            .map_err(sled_err)?;
        migrate::run(&db, dir)?;
        let trees = TableId::ALL
            .iter()
            .map(|&id| db.open_tree(id.tree_name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(sled_err)?;
        let commit = GroupCommit::start(db.clone()).map_err(io)?;
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        Ok(Store {
            inner: Arc::new(Inner {
                commit,
                trees,
                combiners: Mutex::default(),
                db,
                feed,
                dir: dir.to_path_buf(),
                _lock: lock,
            }),
        })
    }

    /// The data directory this store was opened on.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Makes everything written so far durable (for shutdown; writes already wait for
    /// their own flush).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.inner.commit.wait_durable().await
    }

    /// Subscribes to the change feed. Subscribe *before* the start-up `scan_all` so no
    /// change falls between the scan and the first notice.
    pub fn subscribe(&self) -> ChangeReceiver {
        self.inner.feed.subscribe()
    }

    /// Total bytes sled uses on disk (for metrics and the benchmark).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.inner.db.size_on_disk()?)
    }

    pub(crate) fn tree(&self, id: TableId) -> sled::Tree {
        // `open_with` opens every TableId in `TableId::ALL` order, whose positions are the
        // discriminants (a unit test pins that), so the index is always in range.
        self.inner.trees[id as usize].clone()
    }

    /// How many fsyncs the group-commit flusher has done since open.
    pub fn flush_count(&self) -> u64 {
        self.inner.commit.flushes()
    }

    /// A typed view of any table with types of the caller's choosing. Prefer the named
    /// accessors (`clusters()`, `services()`, ...), which fix the types; this one exists
    /// for tools and tests of the generic machinery. A wrong `V` yields `Corrupt` errors
    /// on read, never a wrong value.
    pub fn table<K: Key, V>(&self, id: TableId) -> Table<K, V> {
        Table::new(self.clone(), id, self.tree(id))
    }

    /// Waits until the writes just applied are durable, then announces them.
    /// Task-definition tables with revision values of the caller's choosing (see
    /// [`Store::table`]).
    pub fn task_definitions_of<V: Revisioned>(&self) -> TaskDefinitions<V> {
        TaskDefinitions::new(self.clone())
    }

    /// This store's combiner for `Op`s, made by `make` on first use.
    pub(crate) fn combiner<Op, Out>(
        &self,
        make: impl FnOnce() -> Combiner<Op, Out>,
    ) -> Arc<Combiner<Op, Out>>
    where
        Op: Send + 'static,
        Out: Send + 'static,
    {
        let mut combiners = self
            .inner
            .combiners
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let id = TypeId::of::<Combiner<Op, Out>>();
        if let Some(existing) = combiners.get(&id) {
            // Keyed by the type, so the downcast always succeeds.
            if let Ok(combiner) = Arc::clone(existing).downcast::<Combiner<Op, Out>>() {
                return combiner;
            }
        }
        let combiner = Arc::new(make());
        combiners.insert(id, Arc::clone(&combiner) as Arc<dyn Any + Send + Sync>);
        combiner
    }

    pub(crate) async fn commit(&self, changes: Vec<Change>) -> Result<(), StoreError> {
        self.inner.commit.wait_durable().await?;
        for change in changes {
            // No subscriber is fine: the reconciler resyncs from `scan_all` at start-up.
            let _ = self.inner.feed.send(change);
        }
        Ok(())
    }
}
