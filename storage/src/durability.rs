//! Group commit through the write-ahead log: writers share `fdatasync`s, and no write is
//! acknowledged, or visible to readers, before it is on disk.
//!
//! A write runs its closure under the committer's lock against the store as it will be
//! once every earlier write is applied: sled, overlaid with the writes that are logged but
//! not yet applied (the *pending* ones). The closure's puts and removes become one log
//! record with the next LSN and join the pending overlay; the writer then waits for its
//! LSN, which asks for a sync (so a batch's writes, logged one by one and waited for
//! once, share one). A dedicated thread (so that no sync ever blocks a tokio worker)
//! takes every pending record at once, appends them to the log segment with one `write`
//! and one `fdatasync`, applies them to sled in LSN order, and only then acknowledges
//! them. So:
//! - a record is applied to sled only once it is durable in the log, and sled can never
//!   get ahead of the log on disk (`wal` explains recovery);
//! - readers, which read sled, see a write once it is durable, before its writer is
//!   answered; the keys of one write appear one after another within microseconds, in
//!   the order the write made them (a registration's revision before its status index
//!   entry, so a listed revision can always be described);
//! - writers decide on the newest state, pending writes included, one at a time, so two
//!   writes never conflict and nothing is retried.
//!
//! When writers keep arriving while a sync runs (the sign of concurrent load), the next
//! sync first *gathers*: it waits while new writers keep coming, in steps of
//! [`GATHER_IDLE`], for at most [`GATHER_MAX`]. A lone writer (no arrivals during the
//! previous sync) is synced at once, so sequential clients see no added latency.
//!
//! Every `StoreOptions::log_segment_bytes` of log the thread checkpoints: it flushes sled
//! (which then holds every applied record on disk), records the LSN, and starts a new
//! segment.
//!
//! Once the thread has had nothing to commit for [`IDLE_AFTER`] after committing, it calls
//! `StoreOptions::on_idle` (once per idle spell). The thread allocates sled's new nodes;
//! readers on other threads free the replaced ones into its heap, and an allocator that
//! tidies a heap only as its thread allocates keeps all that while the thread sleeps:
//! about 10 MiB of resident memory after the benchmark's large preload (BENCHMARKS.md,
//! fifth round).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sled::IVec;
use tokio::sync::watch;

use crate::error::StoreError;
use crate::feed::TableId;
use crate::store::StoreOptions;
use crate::wal::{self, Op, Segment};

/// While gathering, sync as soon as no writer arrived for this long.
const GATHER_IDLE: Duration = Duration::from_micros(100);
/// Never hold the first gathered writer back longer than this before syncing.
const GATHER_MAX: Duration = Duration::from_micros(500);
/// Time without a write after which the thread counts as idle (`StoreOptions::on_idle`).
/// Long against the gaps between writes under any load, so the hook never runs between
/// the writes of one burst.
const IDLE_AFTER: Duration = Duration::from_millis(100);

/// The outcome of the latest completed sync.
#[derive(Debug, Clone)]
struct Synced {
    /// Every LSN up to this one is durable and applied.
    lsn: u64,
    /// Set once the log could not be written or sled could not be updated. The store then
    /// refuses every write: a record missing from the middle of the log would make every
    /// later one unrecoverable.
    error: Option<Arc<str>>,
}

/// A write that is logged but not yet applied to sled.
#[derive(Debug)]
struct PendingValue {
    lsn: u64,
    value: Option<IVec>,
}

#[derive(Debug)]
struct State {
    /// The LSN the next record gets.
    next_lsn: u64,
    /// Encoded records not yet written to the log.
    bytes: Vec<u8>,
    /// Their ops, in LSN order, to apply to sled once the records are durable.
    ops: Vec<Op>,
    /// The newest pending value of each key that has one, for writers' reads: one map per
    /// `TableId` (indexed by discriminant), so a lookup borrows the key instead of
    /// building an owned one.
    overlay: Vec<HashMap<Vec<u8>, PendingValue>>,
    /// The highest LSN a writer waits for. Records are synced when someone waits for
    /// them, not when they are logged, so the writes of one batch share a sync.
    requested: u64,
    /// The highest LSN synced and applied.
    synced: u64,
    /// Set when the committer failed (see [`Synced::error`]).
    failed: Option<Arc<str>>,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// One sled tree per `TableId`, indexed by discriminant.
    trees: Vec<sled::Tree>,
    /// Log syncs performed, for metrics and for the tests that prove writers share them.
    syncs: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The store's writer side: see the module documentation.
pub(crate) struct Committer {
    shared: Arc<Shared>,
    done: watch::Receiver<Synced>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer").finish_non_exhaustive()
    }
}

/// A write in progress: reads see pending writes, and puts/removes are collected into
/// one log record.
pub(crate) struct WriteTx<'a> {
    state: &'a State,
    trees: &'a [sled::Tree],
    ops: Vec<Op>,
}

impl WriteTx<'_> {
    /// The value at `key` as this write must see it: its own earlier ops, then pending
    /// writes, then sled.
    pub(crate) fn get(&self, table: TableId, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        if let Some(op) = self
            .ops
            .iter()
            .rev()
            .find(|op| op.table == table && op.key == key)
        {
            return Ok(op.value.clone());
        }
        if let Some(pending) = self.state.overlay[table as usize].get(key) {
            return Ok(pending.value.clone());
        }
        Ok(self.trees[table as usize].get(key)?)
    }

    pub(crate) fn put(&mut self, table: TableId, key: &[u8], value: impl Into<IVec>) {
        self.ops.push(Op {
            table,
            key: key.to_vec(),
            value: Some(value.into()),
        });
    }

    pub(crate) fn remove(&mut self, table: TableId, key: &[u8]) {
        self.ops.push(Op {
            table,
            key: key.to_vec(),
            value: None,
        });
    }
}

/// What the thread needs besides the shared state.
struct Log {
    db: sled::Db,
    wal_dir: PathBuf,
    segment: Segment,
    /// Checkpoint once the segment is this long.
    segment_bytes: u64,
    /// `StoreOptions::on_idle`.
    on_idle: Option<fn()>,
}

impl Committer {
    /// Starts the committer over `trees` (one per `TableId`, in order), appending to
    /// `segment`, whose first record will be `next_lsn`, checkpointing every
    /// `options.log_segment_bytes` of log.
    pub(crate) fn start(
        db: sled::Db,
        trees: Vec<sled::Tree>,
        wal_dir: &Path,
        segment: Segment,
        next_lsn: u64,
        options: &StoreOptions,
    ) -> std::io::Result<Committer> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_lsn,
                bytes: Vec::new(),
                ops: Vec::new(),
                overlay: TableId::ALL.iter().map(|_| HashMap::new()).collect(),
                requested: next_lsn - 1,
                synced: next_lsn - 1,
                failed: None,
                shutdown: false,
            }),
            wake: Condvar::new(),
            trees,
            syncs: AtomicU64::new(0),
        });
        let (tx, done) = watch::channel(Synced {
            lsn: next_lsn - 1,
            error: None,
        });
        let thread_shared = Arc::clone(&shared);
        let mut log = Log {
            db,
            wal_dir: wal_dir.to_path_buf(),
            segment,
            segment_bytes: options.log_segment_bytes,
            on_idle: options.on_idle,
        };
        let thread = std::thread::Builder::new()
            .name("kubecs-storage-commit".into())
            .spawn(move || commit_loop(&mut log, &thread_shared, &tx))?;
        Ok(Committer {
            shared,
            done,
            thread: Some(thread),
        })
    }

    pub(crate) fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Runs `f` as one write (see the module documentation) and logs what it put and
    /// removed. Returns `f`'s result and the LSN to wait on with
    /// [`Committer::wait_durable`] before acknowledging it: the write's own, or, when it
    /// changed nothing, the newest pending one, since `f` may have decided on what a
    /// pending write did. When `f` fails, nothing is written.
    ///
    /// `f` runs under the committer's lock, so it must be quick and must not wait.
    pub(crate) fn write<R, E>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>,
    ) -> Result<(R, u64), E>
    where
        E: From<StoreError>,
    {
        let mut state = self.shared.lock();
        if let Some(error) = &state.failed {
            return Err(E::from(StoreError::Flush(Arc::clone(error))));
        }
        if state.shutdown {
            return Err(E::from(StoreError::Closed));
        }
        let mut tx = WriteTx {
            state: &state,
            trees: &self.shared.trees,
            ops: Vec::new(),
        };
        let result = f(&mut tx)?;
        let ops = tx.ops;
        if ops.is_empty() {
            return Ok((result, state.next_lsn - 1));
        }
        let lsn = state.next_lsn;
        state.next_lsn += 1;
        wal::encode_record(lsn, &ops, &mut state.bytes);
        for op in &ops {
            state.overlay[op.table as usize].insert(
                op.key.clone(),
                PendingValue {
                    lsn,
                    value: op.value.clone(),
                },
            );
        }
        state.ops.extend(ops);
        Ok((result, lsn))
    }

    /// Returns once the write with `lsn`, and every one before it, is durable and
    /// visible to readers.
    pub(crate) async fn wait_durable(&self, lsn: u64) -> Result<(), StoreError> {
        self.request_sync(lsn);
        let mut done = self.done.clone();
        let synced = done
            .wait_for(|s| s.lsn >= lsn || s.error.is_some())
            .await
            .map_err(|_| StoreError::Closed)?;
        match &synced.error {
            Some(e) if synced.lsn < lsn => Err(StoreError::Flush(Arc::clone(e))),
            _ => Ok(()),
        }
    }

    /// Asks for a sync of everything up to `lsn`, without waiting for it.
    pub(crate) fn request_sync(&self, lsn: u64) {
        if self.done.borrow().lsn >= lsn {
            return;
        }
        let mut state = self.shared.lock();
        if lsn > state.requested {
            state.requested = lsn;
            drop(state);
            self.shared.wake.notify_one();
        }
    }

    /// The LSN of the newest write so far (durable or not).
    pub(crate) fn last_lsn(&self) -> u64 {
        self.shared.lock().next_lsn - 1
    }
}

fn commit_loop(log: &mut Log, shared: &Shared, done: &watch::Sender<Synced>) {
    // Whether writers arrived during the previous sync: concurrent load.
    let mut loaded = false;
    // The buffers of the previous round, swapped back in empty: the pending buffers keep
    // their capacity instead of being allocated anew (and grown by doubling) every round
    // by the writers and freed here, on another thread.
    let mut bytes = Vec::new();
    let mut ops = Vec::new();
    // Whether the thread committed anything since it last called `on_idle`.
    let mut worked = false;
    loop {
        {
            let idle = |state: &State| {
                (state.requested <= state.synced || state.bytes.is_empty()) && !state.shutdown
            };
            let mut state = shared.lock();
            while idle(&state) {
                match log.on_idle.filter(|_| worked) {
                    Some(on_idle) => {
                        let (guard, wait) = shared
                            .wake
                            .wait_timeout(state, IDLE_AFTER)
                            .unwrap_or_else(PoisonError::into_inner);
                        state = guard;
                        if wait.timed_out() && idle(&state) {
                            drop(state);
                            on_idle();
                            worked = false;
                            state = shared.lock();
                        }
                    }
                    None => {
                        state = shared
                            .wake
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                    }
                }
            }
            if state.bytes.is_empty() {
                break; // Shut down with nothing pending.
            }
        }
        worked = true;
        if loaded {
            gather(shared);
        }
        bytes.clear();
        ops.clear();
        let last = {
            let mut state = shared.lock();
            std::mem::swap(&mut state.bytes, &mut bytes);
            std::mem::swap(&mut state.ops, &mut ops);
            state.next_lsn - 1
        };
        shared.syncs.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = sync_and_apply(log, &shared.trees, &bytes, &ops) {
            fail(shared, done, &error);
            return;
        }
        let mut state = shared.lock();
        for pending in &mut state.overlay {
            pending.retain(|_, pending| pending.lsn > last);
        }
        state.synced = last;
        loaded = !state.bytes.is_empty();
        drop(state);
        done.send_replace(Synced {
            lsn: last,
            error: None,
        });
        if log.segment.len() >= log.segment_bytes {
            if let Err(error) = checkpoint(log, last) {
                fail(shared, done, &error);
                return;
            }
        }
    }
    // A clean shutdown leaves sled complete on disk and nothing to replay.
    let last = shared.lock().next_lsn - 1;
    if let Err(error) = checkpoint(log, last) {
        tracing::warn!(%error, "kubecs-storage: checkpoint at shutdown failed; the log will be replayed at the next open");
    }
}

fn sync_and_apply(
    log: &mut Log,
    trees: &[sled::Tree],
    bytes: &[u8],
    ops: &[Op],
) -> Result<(), String> {
    log.segment
        .append_durably(bytes)
        .map_err(|e| format!("writing the log {}: {e}", log.segment.path().display()))?;
    for op in ops {
        apply(trees, op).map_err(|e| format!("applying a logged write to sled: {e}"))?;
    }
    Ok(())
}

/// Applies one logged op to sled.
pub(crate) fn apply(trees: &[sled::Tree], op: &Op) -> sled::Result<()> {
    let tree = &trees[op.table as usize];
    match &op.value {
        Some(value) => tree.insert(&op.key, value.clone()).map(drop),
        None => tree.remove(&op.key).map(drop),
    }
}

/// Makes sled hold everything up to `lsn` on disk, records that, and starts a new segment.
fn checkpoint(log: &mut Log, lsn: u64) -> Result<(), String> {
    log.db
        .flush()
        .map_err(|e| format!("flushing sled at a checkpoint: {e}"))?;
    log.segment = wal::restart(&log.wal_dir, lsn)
        .map_err(|e| format!("checkpointing the log in {}: {e}", log.wal_dir.display()))?;
    Ok(())
}

fn fail(shared: &Shared, done: &watch::Sender<Synced>, error: &str) {
    tracing::error!(
        error,
        "kubecs-storage: the write-ahead log failed; refusing writes"
    );
    let error = Arc::<str>::from(error);
    shared.lock().failed = Some(Arc::clone(&error));
    done.send_modify(|s| s.error = Some(error));
}

/// Waits while writers keep arriving (see the module comment). Sleeps rather than waiting
/// on the condvar so that arriving writers do not wake this thread one by one.
fn gather(shared: &Shared) {
    let started = Instant::now();
    let issued = || {
        let state = shared.lock();
        (state.next_lsn, state.shutdown)
    };
    let (mut seen, _) = issued();
    while started.elapsed() + GATHER_IDLE <= GATHER_MAX {
        std::thread::sleep(GATHER_IDLE);
        let (now, shutdown) = issued();
        if now == seen || shutdown {
            return;
        }
        seen = now;
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
