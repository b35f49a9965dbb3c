//! Group commit through the write-ahead log: writers share `fdatasync`s, and no write is
//! acknowledged, or visible to readers, before it is on disk.
//!
//! A write runs its closure under the committer's lock against the store as it will be
//! once every earlier write is applied: sled, overlaid with the writes that are logged but
//! not yet applied (the *pending* ones). The closure's puts and removes become one log
//! record with the next LSN and join the pending overlay; the writer then waits for its
//! LSN, which asks for a sync (so a batch's writes, logged one by one and waited for
//! once, share one). A sync takes every pending record at once, appends them to the log
//! segment with one `write` and one `fdatasync`, applies them to sled in LSN order, and
//! only then acknowledges them. So:
//! - a record is applied to sled only once it is durable in the log, and sled can never
//!   get ahead of the log on disk (`wal` explains recovery);
//! - readers, which read sled, see a write once it is durable, before its writer is
//!   answered; the keys of one write appear one after another within microseconds, in
//!   the order the write made them (a registration's revision before its status index
//!   entry, so a listed revision can always be described);
//! - writers decide on the newest state, pending writes included, one at a time, so two
//!   writes never conflict and nothing is retried.
//!
//! Who syncs: a dedicated thread, so that tokio workers do not wait on the disk, except
//! for a *lone* writer. A writer whose write is the newest, with nobody else waiting, the
//! log free and no load at the previous sync, syncs on its own thread instead
//! (`Committer::sync_alone`): handing a write to the thread and being woken back costs
//! more CPU than the sync itself. Whoever syncs holds the log from taking the records
//! until they are applied, so syncs never overlap or reorder; acknowledgements only ever
//! move forward.
//!
//! When writers keep arriving while a sync runs (the sign of concurrent load), the
//! thread's next sync first *gathers*: it waits while new writers keep coming, in steps of
//! [`GATHER_IDLE`], for at most [`GATHER_MAX`]. A lone writer (no arrivals during the
//! previous sync) is synced at once, so sequential clients see no added latency.
//!
//! Every `StoreOptions::log_segment_bytes` of log, whoever synced checkpoints: it flushes
//! sled (which then holds every applied record on disk), records the LSN, and starts a new
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
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
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
    /// Whether writers arrived while the previous sync ran: the sign of concurrent load,
    /// on which the next sync gathers and no writer syncs alone.
    loaded: bool,
    /// Writers that asked the thread for a sync and wait for it, since the last sync took
    /// the pending records.
    waiters: u32,
    /// Whether the previous sync answered more than one waiting writer. Under concurrent
    /// load the writers answered by one sync come back together, so none of them counts
    /// as alone even if none arrived while that sync ran: each syncing alone would split
    /// every group commit in two.
    shared_sync: bool,
    /// The thread sleeps until woken, with `on_idle` already run: the next sync that a
    /// lone writer does wakes it, so that it runs `on_idle` again once writes stop.
    asleep: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// The log and what syncing needs. Whoever syncs (the thread, or a writer alone)
    /// holds it from taking the pending records until they are applied, so records reach
    /// the log and sled in LSN order. Lock order: `log`, then `state`.
    log: Mutex<Log>,
    /// Acknowledges synced LSNs to waiting writers.
    done: watch::Sender<Synced>,
    /// One sled tree per `TableId`, indexed by discriminant.
    trees: Vec<sled::Tree>,
    /// `StoreOptions::on_idle`.
    on_idle: Option<fn()>,
    /// Log syncs performed, for metrics and for the tests that prove writers share them.
    syncs: AtomicU64,
    /// Of those, the syncs a lone writer did itself.
    syncs_alone: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The log, for a sync. A sync that panicked took its records out of the pending ones
    /// without logging them: later records would follow a hole, so the store fails.
    fn lock_log(&self) -> Result<MutexGuard<'_, Log>, Arc<str>> {
        self.log
            .lock()
            .map_err(|_| fail(self, "a sync of the write-ahead log panicked"))
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

/// The log segment and what a sync needs besides the shared state.
struct Log {
    db: sled::Db,
    wal_dir: PathBuf,
    segment: Segment,
    /// Checkpoint once the segment is this long.
    segment_bytes: u64,
    /// The buffers of the previous sync, emptied, to swap in for the pending ones: these
    /// keep their capacity instead of being allocated anew (and grown by doubling) for
    /// every sync by the writers and freed by whoever synced.
    bytes: Vec<u8>,
    ops: Vec<Op>,
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
                loaded: false,
                waiters: 0,
                shared_sync: false,
                asleep: false,
            }),
            wake: Condvar::new(),
            log: Mutex::new(Log {
                db,
                wal_dir: wal_dir.to_path_buf(),
                segment,
                segment_bytes: options.log_segment_bytes,
                bytes: Vec::new(),
                ops: Vec::new(),
            }),
            done: watch::Sender::new(Synced {
                lsn: next_lsn - 1,
                error: None,
            }),
            trees,
            on_idle: options.on_idle,
            syncs: AtomicU64::new(0),
            syncs_alone: AtomicU64::new(0),
        });
        let done = shared.done.subscribe();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("kubecs-storage-commit".into())
            .spawn(move || commit_loop(&thread_shared))?;
        Ok(Committer {
            shared,
            done,
            thread: Some(thread),
        })
    }

    pub(crate) fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Of [`Committer::syncs`], those a lone writer did on its own thread.
    #[cfg(test)]
    pub(crate) fn syncs_alone(&self) -> u64 {
        self.shared.syncs_alone.load(Ordering::Relaxed)
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
        if let Some(synced) = self.sync_alone(lsn) {
            return synced;
        }
        self.request_sync_for(lsn, 1);
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

    /// Syncs the write with `lsn` on the caller's thread when it is the newest write,
    /// nobody else waits, the log is free and the last sync saw no load (one writer
    /// answered, none arriving while it ran); returns
    /// `None` (the caller waits for the thread) otherwise. Handing a lone write to the
    /// thread and back costs two thread wake-ups, more CPU than the sync itself on this
    /// kind of machine (BENCHMARKS.md, fifth round). The caller's thread blocks for one
    /// `write` + `fdatasync` + sled inserts instead (and, every `log_segment_bytes`, a
    /// checkpoint); only a writer with nothing to wait behind ever does that.
    fn sync_alone(&self, lsn: u64) -> Option<Result<(), StoreError>> {
        if self.done.borrow().lsn >= lsn {
            return None;
        }
        let log = match self.shared.log.try_lock() {
            Ok(log) => log,
            Err(TryLockError::WouldBlock) => return None,
            Err(TryLockError::Poisoned(_)) => {
                let error = fail(&self.shared, "a sync of the write-ahead log panicked");
                return Some(Err(StoreError::Flush(error)));
            }
        };
        {
            let state = self.shared.lock();
            // Earlier pending records nobody waits for yet (the caller's own batch, or
            // writers about to wait) are synced along; their writers then find them done.
            let alone = state.synced < lsn
                && state.next_lsn == lsn + 1
                && state.requested <= state.synced
                && !state.loaded
                && !state.shared_sync
                && !state.shutdown
                && state.failed.is_none();
            if !alone {
                return None;
            }
        }
        self.shared.syncs_alone.fetch_add(1, Ordering::Relaxed);
        Some(sync_pending(&self.shared, log, 1).map_err(StoreError::Flush))
    }

    /// Asks for a sync of everything up to `lsn`, without waiting for it.
    pub(crate) fn request_sync(&self, lsn: u64) {
        self.request_sync_for(lsn, 0);
    }

    /// [`Committer::request_sync`] on behalf of `waiters` writers that will wait for it.
    fn request_sync_for(&self, lsn: u64, waiters: u32) {
        if self.done.borrow().lsn >= lsn {
            return;
        }
        let mut state = self.shared.lock();
        state.waiters += waiters;
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

fn commit_loop(shared: &Shared) {
    // The synced LSN when `on_idle` last ran: it runs again once writes moved it on and
    // then stopped for `IDLE_AFTER`, whichever thread synced them.
    let mut idle_at = shared.lock().synced;
    loop {
        {
            let idle = |state: &State| {
                (state.requested <= state.synced || state.bytes.is_empty()) && !state.shutdown
            };
            let mut state = shared.lock();
            while idle(&state) {
                match shared.on_idle.filter(|_| state.synced != idle_at) {
                    Some(on_idle) => {
                        let before = state.synced;
                        let (guard, wait) = shared
                            .wake
                            .wait_timeout(state, IDLE_AFTER)
                            .unwrap_or_else(PoisonError::into_inner);
                        state = guard;
                        if wait.timed_out() && idle(&state) && state.synced == before {
                            idle_at = state.synced;
                            drop(state);
                            on_idle();
                            state = shared.lock();
                        }
                    }
                    None => {
                        state.asleep = shared.on_idle.is_some();
                        state = shared
                            .wake
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner);
                        state.asleep = false;
                    }
                }
            }
            if state.bytes.is_empty() {
                if state.failed.is_some() {
                    return; // No checkpoint past records that were never logged.
                }
                break; // Shut down with nothing pending.
            }
            if state.loaded {
                drop(state);
                gather(shared);
            }
        }
        let Ok(log) = shared.lock_log() else {
            return;
        };
        {
            let state = shared.lock();
            if state.failed.is_some() {
                return; // A lone writer's sync failed: nothing may follow the hole.
            }
            if state.bytes.is_empty() {
                continue; // A lone writer synced them while this thread waited for the log.
            }
        }
        if sync_pending(shared, log, 0).is_err() {
            return;
        }
    }
    // A clean shutdown leaves sled complete on disk and nothing to replay.
    let Ok(mut log) = shared.lock_log() else {
        return;
    };
    let last = shared.lock().next_lsn - 1;
    if let Err(error) = checkpoint(&mut log, last) {
        tracing::warn!(%error, "kubecs-storage: checkpoint at shutdown failed; the log will be replayed at the next open");
    }
}

/// Syncs every pending record: appends them to the log with one `write` and one
/// `fdatasync`, applies them to sled, acknowledges them, and checkpoints when the segment
/// is full. The caller holds the log, and is one of the writers it answers when `caller`
/// is 1 (a lone writer), none when 0 (the thread). On failure the store is failed (see
/// [`fail`]) and the error returned.
fn sync_pending(
    shared: &Shared,
    mut log: MutexGuard<'_, Log>,
    caller: u32,
) -> Result<(), Arc<str>> {
    let mut bytes = std::mem::take(&mut log.bytes);
    let mut ops = std::mem::take(&mut log.ops);
    let (waiters, last) = {
        let mut state = shared.lock();
        std::mem::swap(&mut state.bytes, &mut bytes);
        std::mem::swap(&mut state.ops, &mut ops);
        (
            std::mem::take(&mut state.waiters) + caller,
            state.next_lsn - 1,
        )
    };
    shared.syncs.fetch_add(1, Ordering::Relaxed);
    let synced = sync_and_apply(&mut log, &shared.trees, &bytes, &ops);
    // Emptied now, not at the next sync: the ops hold the values.
    bytes.clear();
    ops.clear();
    log.bytes = bytes;
    log.ops = ops;
    if let Err(error) = synced {
        return Err(fail(shared, &error));
    }
    let mut state = shared.lock();
    for pending in &mut state.overlay {
        pending.retain(|_, pending| pending.lsn > last);
    }
    state.synced = last;
    state.loaded = !state.bytes.is_empty();
    state.shared_sync = waiters > 1;
    let wake_thread = std::mem::take(&mut state.asleep);
    drop(state);
    // Free the log before answering, so that an answered writer that writes again at
    // once finds it free and may sync alone; keep it through a checkpoint that is due.
    let checkpoint_due = log.segment.len() >= log.segment_bytes;
    let log = checkpoint_due.then_some(log);
    // Monotonic: once the log is free, a later sync may answer before this one does.
    shared.done.send_if_modified(|synced| {
        let newer = last > synced.lsn;
        if newer {
            synced.lsn = last;
        }
        newer
    });
    if wake_thread {
        shared.wake.notify_one();
    }
    if let Some(mut log) = log {
        if let Err(error) = checkpoint(&mut log, last) {
            return Err(fail(shared, &error));
        }
    }
    Ok(())
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

fn fail(shared: &Shared, error: &str) -> Arc<str> {
    tracing::error!(
        error,
        "kubecs-storage: the write-ahead log failed; refusing writes"
    );
    let error = Arc::<str>::from(error);
    shared.lock().failed = Some(Arc::clone(&error));
    shared
        .done
        .send_modify(|s| s.error = Some(Arc::clone(&error)));
    error
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::{Store, StoreError, Table, TableId, Write};

    fn settings(store: &Store) -> Table<String, String> {
        store.table::<String, String>(TableId::Settings)
    }

    async fn put(settings: &Table<String, String>, key: &str, value: &str) {
        settings
            .update(key, |_| {
                Ok::<_, StoreError>((Write::Put(value.to_owned()), ()))
            })
            .await
            .unwrap();
    }

    /// A lone writer syncs its own write instead of handing it to the committer thread
    /// and waiting to be handed it back, and the write is durable and visible on return.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lone_writer_syncs_its_own_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let table = settings(&store);
        for i in 0..10 {
            let (key, value) = (format!("k{i}"), format!("v{i}"));
            put(&table, &key, &value).await;
            assert_eq!(table.get(key.as_str()).unwrap().unwrap().value, value);
        }
        assert_eq!(store.flush_count(), 10);
        assert_eq!(store.committer().syncs_alone(), 10);
        drop(table);
        drop(store);
        // Durable: the log was synced by the writers themselves and checkpointed at close.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(settings(&store).get("k9").unwrap().unwrap().value, "v9");
    }

    /// Writers answered together by one sync come back together: the first of them to
    /// write again must not sync alone (that would split the next group commit in two),
    /// while writers one after another do.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    // The test holds the log on purpose while writers queue: they only `try_lock` it, and
    // the committer thread that blocks on it is not a tokio worker.
    #[allow(clippy::await_holding_lock)]
    async fn after_a_shared_sync_the_next_writer_is_not_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let table = settings(&store);
        let committer = store.committer();
        // Hold the log so that four writers all wait for the thread, then let it go.
        let held = committer.shared.lock_log().unwrap();
        let writers: Vec<_> = (0..4)
            .map(|i| {
                let table = table.clone();
                tokio::spawn(async move { put(&table, &format!("w{i}"), "v").await })
            })
            .collect();
        while committer.shared.lock().waiters < 4 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(held);
        for writer in writers {
            writer.await.unwrap();
        }
        let alone = committer.syncs_alone();
        put(&table, "after-shared", "v").await;
        assert_eq!(
            committer.syncs_alone(),
            alone,
            "synced alone after a shared sync"
        );
        // The thread may still hold the log for a moment after answering, so the first
        // writer after its sync may be handed to it too; from then on each is alone.
        for i in 0..3 {
            put(&table, &format!("lone{i}"), "v").await;
        }
        assert!(
            committer.syncs_alone() >= alone + 2,
            "lone writers were not synced alone"
        );
    }
}
