//! `Store`: one open data directory — its lock, the sled database, the write-ahead log
//! and its committer, and the change feed. Tables are typed views handed out by accessor
//! methods.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::durability::{self, Committer, WriteTx};
use crate::error::{OpenError, StoreError};
use crate::feed::{Change, ChangeReceiver, TableId, FEED_CAPACITY};
use crate::key::Key;
use crate::lock::{self, DirLock};
use crate::migrate;
use crate::table::Table;
use crate::task_definitions::{Revisioned, TaskDefinitions};
use crate::wal;

/// Subdirectory of the data directory that sled owns; our lock file sits beside it.
pub(crate) const SLED_DIR: &str = "sled";

/// Tuning knobs; the defaults meet the targets in BENCH.md.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Bytes of sled page cache. sled's default (1 GiB) is far above our 100 MB resident
    /// target; the working set of desired state is small and hot.
    pub cache_capacity: u64,
    /// Bytes of write-ahead log after which the committer checkpoints (flushes sled) and
    /// starts a new segment: bounds the log on disk and the replay after a crash.
    pub log_segment_bytes: u64,
    /// Called on the committer's thread once it has had no write to commit for a while
    /// after committing some (see `durability`), and not again before the next write.
    /// The kubecs binary returns that thread's freed memory to its allocator here: an
    /// allocator that frees lazily as a thread allocates (mimalloc) otherwise keeps what
    /// the idle thread freed, or was handed back by other threads, committed for as long
    /// as no write comes.
    pub on_idle: Option<fn()>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_capacity: 32 * 1024 * 1024,
            log_segment_bytes: 16 * 1024 * 1024,
            on_idle: None,
        }
    }
}

/// An open store. Cheap to clone; all clones share one database and one flusher.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    // Field order is drop order: stop the committer (it logs and applies what is pending,
    // then checkpoints) before the database handle goes, and release the directory lock
    // last.
    commit: Committer,
    /// One tree per `TableId`, in `TableId::ALL` order (indexed by the discriminant).
    trees: Vec<sled::Tree>,
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
    /// format, replays the write-ahead log onto sled, and starts the committer.
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
        let wal_dir = wal::dir_of(dir);
        let log_err = |source| OpenError::Log {
            dir: wal_dir.clone(),
            source,
        };
        let recovered = wal::recover(&wal_dir, |op| {
            durability::apply(&trees, op).map_err(std::io::Error::other)
        })
        .map_err(log_err)?;
        if recovered.replayed > 0 {
            tracing::info!(
                dir = %dir.display(),
                records = recovered.replayed,
                from = recovered.checkpoint,
                to = recovered.last_lsn,
                "replayed the write-ahead log"
            );
        }
        // sled holds the replayed records on disk before the checkpoint says so.
        db.flush().map_err(sled_err)?;
        let segment = wal::restart(&wal_dir, recovered.last_lsn).map_err(log_err)?;
        let commit = Committer::start(
            db.clone(),
            trees.clone(),
            &wal_dir,
            segment,
            recovered.last_lsn + 1,
            options,
        )
        .map_err(io)?;
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        Ok(Store {
            inner: Arc::new(Inner {
                commit,
                trees,
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

    /// Returns once everything written so far is durable (for shutdown; writes already
    /// wait for their own).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let last = self.inner.commit.last_lsn();
        self.inner.commit.wait_durable(last).await
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

    /// How many syncs of the write-ahead log the committer has done since open: durable
    /// writes that shared a sync count once.
    pub fn flush_count(&self) -> u64 {
        self.inner.commit.syncs()
    }

    /// A typed view of any table with types of the caller's choosing. Prefer the named
    /// accessors (`clusters()`, `services()`, ...), which fix the types; this one exists
    /// for tools and tests of the generic machinery. A wrong `V` yields `Corrupt` errors
    /// on read, never a wrong value.
    pub fn table<K: Key, V>(&self, id: TableId) -> Table<K, V> {
        Table::new(self.clone(), id, self.tree(id))
    }

    /// Task-definition tables with revision values of the caller's choosing (see
    /// [`Store::table`]).
    pub fn task_definitions_of<V: Revisioned>(&self) -> TaskDefinitions<V> {
        TaskDefinitions::new(self.clone())
    }

    /// Runs `f` as one write: see [`Committer::write`]. Acknowledge it only after
    /// [`Store::commit`] with the returned LSN.
    pub(crate) fn write<R, E>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>,
    ) -> Result<(R, u64), E>
    where
        E: From<StoreError>,
    {
        self.inner.commit.write(f)
    }

    /// Asks for the writes up to `lsn` to be synced, without waiting (see `Batch`'s drop).
    pub(crate) fn request_sync(&self, lsn: u64) {
        self.inner.commit.request_sync(lsn);
    }

    /// Waits until the write with `lsn` (and every earlier one) is durable, then
    /// announces `changes`.
    pub(crate) async fn commit(&self, lsn: u64, changes: Vec<Change>) -> Result<(), StoreError> {
        self.inner.commit.wait_durable(lsn).await?;
        for change in changes {
            // No subscriber is fine: the reconciler resyncs from `scan_all` at start-up.
            let _ = self.inner.feed.send(change);
        }
        Ok(())
    }
}
