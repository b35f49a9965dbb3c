//! `Store`: one open data directory — its lock, the sled database, the write-ahead log
//! and its committer, and the change feed. The tables live in regions ([`Store::region`]).
//!
//! Opening is where damage is caught (`wal` and `digest` explain the checks): the log is
//! replayed strictly, then a scan of sled must give the digest of the log's last record.
//! Any disagreement refuses to start with [`OpenError::Damaged`], before anything is
//! written over the damage; only a torn tail of the newest log segment (a crash while
//! writing it, never acknowledged) is cut off.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::digest;
use crate::durability::{self, Committer, Health, Ticket, WriteTx};
use crate::error::{OpenError, StoreError};
use crate::feed::{Change, ChangeReceiver, TableId, FEED_CAPACITY};
use crate::key::{Key, KeyPrefix};
use crate::lock::{self, DirLock};
use crate::migrate;
use crate::region::Region;
use crate::wal::{self, Checkpoint, Layout};

/// Subdirectory of the data directory that sled owns; our lock file sits beside it.
pub(crate) const SLED_DIR: &str = "sled";

/// Tuning knobs and what the store cannot know by itself.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Bytes of sled page cache. sled's default (1 GiB) is far above our 100 MB resident
    /// target; the working set of desired state is small and hot.
    pub cache_capacity: u64,
    /// Bytes of write-ahead log after which the committer checkpoints (flushes sled) and
    /// starts a new segment: bounds the log on disk and the replay after a crash.
    pub log_segment_bytes: u64,
    /// The region whose data a store of format 3 or older holds: those formats had one
    /// region per store, the one kubecs was started with.
    pub legacy_region: String,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_capacity: 32 * 1024 * 1024,
            log_segment_bytes: 16 * 1024 * 1024,
            legacy_region: "us-east-1".to_owned(),
        }
    }
}

/// An open store. Cheap to clone; all clones share one database and one committer.
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
    /// format, replays the write-ahead log onto sled, checks sled against the log's
    /// digest, and starts the committer. Damage anywhere is [`OpenError::Damaged`], and
    /// leaves the files as they were (but for a torn log tail, which is cut).
    pub fn open_with(dir: &Path, options: &StoreOptions) -> Result<Store, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::Io {
            dir: dir.to_path_buf(),
            source,
        })?;
        let lock = DirLock::acquire(dir)?;
        lock::wait_for_sled_release(&dir.join(SLED_DIR));
        // sled panics on some kinds of damage to its files; that is damage, not a bug of
        // ours, and must end in a clear error rather than a backtrace.
        let opened =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| open_files(dir, options)))
                .unwrap_or_else(|panic| {
                    let detail = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic without a message".to_owned());
                    Err(OpenError::damaged(
                        dir,
                        format!(
                            "sled failed while reading its files in {} ({detail})",
                            dir.join(SLED_DIR).display()
                        ),
                    ))
                });
        let (db, trees, commit) = opened?;
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

    /// The tables of `region` (`us-east-1`).
    pub fn region(&self, region: &str) -> Region {
        Region::new(self.clone(), region)
    }

    /// The regions that hold anything, in order.
    pub fn regions(&self) -> Result<Vec<String>, StoreError> {
        let mut found = BTreeSet::new();
        for tree in &self.inner.trees {
            let mut from: Vec<u8> = Vec::new();
            while let Some(entry) = tree.range(from.clone()..).next() {
                let (key, _) = entry?;
                let mut rest: &[u8] = &key;
                let region = String::decode_from(&mut rest).map_err(|e| StoreError::Corrupt {
                    table: "regions",
                    key: crate::key::printable(&key),
                    reason: e.to_string(),
                })?;
                let Some(next) = KeyPrefix::first(&region).upper_bound() else {
                    break;
                };
                found.insert(region);
                from = next;
            }
        }
        Ok(found.into_iter().collect())
    }

    /// Returns once everything written so far is durable (for shutdown; writes already
    /// wait for their own).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let last = self.inner.commit.last();
        self.inner.commit.wait_durable(last).await
    }

    /// Whether the store takes writes now (for readiness).
    pub fn health(&self) -> Health {
        self.inner.commit.health()
    }

    /// Resolves, with the reason, once the store has failed for good (see [`Health`]):
    /// the process should then exit, so that a supervisor restarts it and the log is
    /// recovered.
    pub async fn failed(&self) -> Arc<str> {
        self.inner.commit.failed().await
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
        // `open_files` opens every TableId in `TableId::ALL` order, whose positions are
        // the discriminants (a unit test pins that), so the index is always in range.
        self.inner.trees[id as usize].clone()
    }

    /// How many syncs of the write-ahead log the committer has done since open: durable
    /// writes that shared a sync count once.
    pub fn flush_count(&self) -> u64 {
        self.inner.commit.syncs()
    }

    /// Runs `f` as one write: see [`Committer::write`]. Acknowledge it only after
    /// [`Store::commit`] with the returned ticket.
    pub(crate) fn write<R, E>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>,
    ) -> Result<(R, Ticket), E>
    where
        E: From<StoreError>,
    {
        self.inner.commit.write(f)
    }

    /// Waits until the write of `ticket` (and every earlier one) is durable, then
    /// announces `changes`.
    pub(crate) async fn commit(
        &self,
        ticket: Ticket,
        changes: Vec<Change>,
    ) -> Result<(), StoreError> {
        self.inner.commit.wait_durable(ticket).await?;
        for change in changes {
            // No subscriber is fine: the reconciler resyncs from `scan_all` at start-up.
            let _ = self.inner.feed.send(change);
        }
        Ok(())
    }
}

/// Everything `open_with` does with the files, under the directory lock.
fn open_files(
    dir: &Path,
    options: &StoreOptions,
) -> Result<(sled::Db, Vec<sled::Tree>, Committer), OpenError> {
    let db = sled::Config::new()
        .path(dir.join(SLED_DIR))
        .cache_capacity(options.cache_capacity)
        .open()
        .map_err(|e| OpenError::sled(dir, e))?;
    let wal_dir = wal::dir_of(dir);
    let version = migrate::prepare(&db, dir, &wal_dir, &options.legacy_region)?;
    let trees = TableId::ALL
        .iter()
        .map(|&id| db.open_tree(id.sled_tree()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| OpenError::sled(dir, e))?;
    let checkpoint = match version {
        migrate::Prepared::New => {
            let start = Checkpoint { lsn: 0, digest: 0 };
            let segment = wal::start(&wal_dir, start).map_err(|e| OpenError::Io {
                dir: wal_dir.clone(),
                source: e,
            })?;
            let commit =
                Committer::start(db.clone(), trees.clone(), &wal_dir, segment, start, options)
                    .map_err(|source| OpenError::Io {
                        dir: dir.to_path_buf(),
                        source,
                    })?;
            return Ok((db, trees, commit));
        }
        migrate::Prepared::Existing(checkpoint) => checkpoint,
    };
    let recovered = wal::recover(&wal_dir, checkpoint, Layout::Current, |op| {
        durability::apply(&trees, op).map_err(std::io::Error::other)
    })
    .map_err(|damage| OpenError::damaged(dir, damage.to_string()))?;
    if recovered.torn_bytes > 0 {
        tracing::warn!(
            dir = %dir.display(),
            bytes = recovered.torn_bytes,
            "cut a torn record off the end of the write-ahead log: the process died while writing it, before it was acknowledged"
        );
    }
    if recovered.replayed > 0 {
        tracing::info!(
            dir = %dir.display(),
            records = recovered.replayed,
            from = recovered.checkpoint.lsn,
            to = recovered.last.lsn,
            "replayed the write-ahead log"
        );
    }
    let found = digest::scan(&trees).map_err(|e| OpenError::sled(dir, e))?;
    if found != recovered.last.digest {
        return Err(OpenError::damaged(
            dir,
            format!(
                "sled's files in {} do not hold what the write-ahead log says was acknowledged (digest {found:016x}, expected {:016x} after record {}): they were damaged, truncated or replaced",
                dir.join(SLED_DIR).display(),
                recovered.last.digest,
                recovered.last.lsn,
            ),
        ));
    }
    // sled holds the replayed records on disk before the checkpoint says so.
    db.flush().map_err(|e| OpenError::sled(dir, e))?;
    let segment = wal::restart(&wal_dir, recovered.last).map_err(|source| OpenError::Io {
        dir: wal_dir.clone(),
        source,
    })?;
    let commit = Committer::start(
        db.clone(),
        trees.clone(),
        &wal_dir,
        segment,
        recovered.last,
        options,
    )
    .map_err(|source| OpenError::Io {
        dir: dir.to_path_buf(),
        source,
    })?;
    Ok((db, trees, commit))
}
