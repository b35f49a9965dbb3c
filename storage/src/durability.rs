//! Group commit through the write-ahead log: writers share `fdatasync`s, and no write is
//! acknowledged, or visible to readers, before it is on disk.
//!
//! A write runs its closure under the committer's lock against the store as it will be
//! once every earlier write is applied: sled, overlaid with the writes that are logged but
//! not yet applied (the *pending* ones). The closure's puts and removes become one log
//! record with the next LSN and the store's digest after it (`digest`), and join the
//! pending overlay; the writer then waits for its LSN. A dedicated thread (so that no
//! sync ever blocks a tokio worker) takes every pending record at once, appends them to
//! the log segment with one `write` and one `fdatasync`, applies them to sled in LSN
//! order, and only then acknowledges them. So:
//! - a record is applied to sled only once it is durable in the log, and sled can never
//!   get ahead of the log on disk (`wal` explains recovery);
//! - readers, which read sled, see a write once it is durable, before its writer is
//!   answered;
//! - writers decide on the newest state, pending writes included, one at a time, so two
//!   writes never conflict and nothing is retried.
//!
//! Every `StoreOptions::log_segment_bytes` of log the thread checkpoints: it flushes sled
//! (which then holds every applied record on disk), records the LSN and digest, and
//! starts a new segment.
//!
//! Failures ([`Health`]):
//! - A `write` to the log that fails (no space left, a file size limit) appended nothing
//!   (`wal::Segment::append_durably`). Every pending write is then refused — the later
//!   ones were decided on top of the failed ones — the LSNs are handed out again under a
//!   new *epoch*, so a refused writer can never mistake a later write for its own, and
//!   the store is [`Health::Degraded`] until a log write succeeds. While degraded and
//!   idle, the thread retries once a second with an empty record, so the store recovers
//!   when space comes back even if no client writes. Before it reports Ok again it
//!   flushes sled, which keeps the first I/O error of its own background writes: if sled
//!   failed too, the store is [`Health::Failed`] at once.
//! - A failed `fdatasync`, a failed apply to sled or a failed checkpoint leaves the state
//!   on disk unknown: the store is [`Health::Failed`] and refuses writes for good; the
//!   process should exit and be restarted, which recovers from the log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use sled::IVec;
use tokio::sync::watch;

use crate::digest;
use crate::error::StoreError;
use crate::feed::TableId;
use crate::store::StoreOptions;
use crate::wal::{self, AppendError, Checkpoint, Op, Segment};

/// How often a degraded store retries the log when nobody writes.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Whether the store can take writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ok,
    /// The last write to the log failed (the reason, e.g. no space left on device);
    /// writes are refused until one succeeds again. Nothing acknowledged is lost.
    Degraded(Arc<str>),
    /// The log or sled failed in a way that leaves their state on disk unknown; writes
    /// are refused until the process restarts (which recovers from the log).
    Failed(Arc<str>),
}

/// The outcome of the latest completed sync, watched by writers.
#[derive(Debug, Clone)]
struct Synced {
    /// Every LSN up to this one, of this epoch, is durable and applied.
    lsn: u64,
    epoch: u64,
    health: Health,
}

/// What a writer waits for: its record's LSN in the epoch it was logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) lsn: u64,
    pub(crate) epoch: u64,
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
    /// Bumped whenever pending writes are refused and their LSNs handed out again.
    epoch: u64,
    /// The digest after the newest record, pending ones included.
    digest: u64,
    /// Encoded records not yet written to the log.
    bytes: Vec<u8>,
    /// Their ops, in LSN order, to apply to sled once the records are durable.
    ops: Vec<Op>,
    /// The newest pending value of each key that has one, for writers' reads: one map per
    /// `TableId` (indexed by discriminant).
    overlay: Vec<HashMap<Vec<u8>, PendingValue>>,
    /// The highest LSN a writer waits for. Records are synced when someone waits for
    /// them, not when they are logged.
    requested: u64,
    /// The highest LSN synced and applied, and the digest after it.
    synced: Checkpoint,
    health: Health,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Announces each completed sync (and every change of health) to waiting writers.
    done: watch::Sender<Synced>,
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

/// A write in progress: reads see pending writes and this write's own, and puts/removes
/// are collected into one log record.
pub(crate) struct WriteTx<'a> {
    state: &'a State,
    trees: &'a [sled::Tree],
    /// This write's newest value per key, in first-write order.
    ops: Vec<Op>,
    index: HashMap<(TableId, Vec<u8>), usize>,
    /// Set when sled failed a read: sled keeps an I/O error (a full disk under its own
    /// files) and fails every later operation with it, so the store has failed.
    sled_error: std::cell::RefCell<Option<String>>,
}

impl WriteTx<'_> {
    /// The value at `key` as this write must see it: its own earlier ops, then pending
    /// writes, then sled.
    pub(crate) fn get(&self, table: TableId, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        if let Some(&i) = self.index.get(&(table, key.to_vec())) {
            return Ok(self.ops[i].value.clone());
        }
        self.committed(table, key)
    }

    /// The value at `key` before this write.
    fn committed(&self, table: TableId, key: &[u8]) -> Result<Option<IVec>, StoreError> {
        if let Some(pending) = self.state.overlay[table as usize].get(key) {
            return Ok(pending.value.clone());
        }
        self.trees[table as usize].get(key).map_err(|e| {
            *self.sled_error.borrow_mut() = Some(format!("reading sled: {e}"));
            StoreError::from(e)
        })
    }

    /// Whether any key under `prefix` holds a value as this write sees it: its own ops
    /// first, then pending writes, then sled (a key removed by either is not counted).
    pub(crate) fn any_under(&self, table: TableId, prefix: &[u8]) -> Result<bool, StoreError> {
        let own = |key: &[u8]| {
            self.index
                .get(&(table, key.to_vec()))
                .map(|&i| &self.ops[i])
        };
        if self
            .ops
            .iter()
            .any(|op| op.table == table && op.key.starts_with(prefix) && op.value.is_some())
        {
            return Ok(true);
        }
        let overlay = &self.state.overlay[table as usize];
        if overlay
            .iter()
            .any(|(key, p)| key.starts_with(prefix) && p.value.is_some() && own(key).is_none())
        {
            return Ok(true);
        }
        for entry in self.trees[table as usize].scan_prefix(prefix) {
            let (key, _) = entry.map_err(|e| {
                *self.sled_error.borrow_mut() = Some(format!("reading sled: {e}"));
                StoreError::from(e)
            })?;
            // Removed by this write or a pending one: look further.
            if own(&key).is_none() && !overlay.contains_key(&key[..]) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(crate) fn put(&mut self, table: TableId, key: &[u8], value: impl Into<IVec>) {
        self.set(table, key, Some(value.into()));
    }

    pub(crate) fn remove(&mut self, table: TableId, key: &[u8]) {
        self.set(table, key, None);
    }

    fn set(&mut self, table: TableId, key: &[u8], value: Option<IVec>) {
        match self.index.get(&(table, key.to_vec())) {
            Some(&i) => self.ops[i].value = value,
            None => {
                self.index.insert((table, key.to_vec()), self.ops.len());
                self.ops.push(Op {
                    table,
                    key: key.to_vec(),
                    value,
                });
            }
        }
    }

    /// The digest after this write's ops, from `digest` before it.
    fn digest_after(&self, mut digest: u64) -> Result<u64, StoreError> {
        for op in &self.ops {
            let old = self.committed(op.table, &op.key)?;
            digest = digest::replace(
                digest,
                op.table,
                &op.key,
                old.as_deref(),
                op.value.as_deref(),
            );
        }
        Ok(digest)
    }
}

/// What the thread needs besides the shared state.
struct Log {
    db: sled::Db,
    wal_dir: PathBuf,
    segment: Segment,
    /// Checkpoint once the segment is this long.
    segment_bytes: u64,
}

impl Committer {
    /// Starts the committer over `trees` (one per `TableId`, in order), appending to
    /// `segment`, whose first record will follow `last`, checkpointing every
    /// `options.log_segment_bytes` of log.
    pub(crate) fn start(
        db: sled::Db,
        trees: Vec<sled::Tree>,
        wal_dir: &Path,
        segment: Segment,
        last: Checkpoint,
        options: &StoreOptions,
    ) -> std::io::Result<Committer> {
        let (done_tx, done) = watch::channel(Synced {
            lsn: last.lsn,
            epoch: 0,
            health: Health::Ok,
        });
        let shared = Arc::new(Shared {
            done: done_tx,
            state: Mutex::new(State {
                next_lsn: last.lsn + 1,
                epoch: 0,
                digest: last.digest,
                bytes: Vec::new(),
                ops: Vec::new(),
                overlay: TableId::ALL.iter().map(|_| HashMap::new()).collect(),
                requested: last.lsn,
                synced: last,
                health: Health::Ok,
                shutdown: false,
            }),
            wake: Condvar::new(),
            trees,
            syncs: AtomicU64::new(0),
        });
        let thread_shared = Arc::clone(&shared);
        let mut log = Log {
            db,
            wal_dir: wal_dir.to_path_buf(),
            segment,
            segment_bytes: options.log_segment_bytes,
        };
        let thread = std::thread::Builder::new()
            .name("kubecs-storage-commit".into())
            .spawn(move || commit_loop(&mut log, &thread_shared))?;
        Ok(Committer {
            shared,
            done,
            thread: Some(thread),
        })
    }

    pub(crate) fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    pub(crate) fn health(&self) -> Health {
        self.done.borrow().health.clone()
    }

    /// Resolves once the store is [`Health::Failed`] (for the server, which exits then).
    pub(crate) async fn failed(&self) -> Arc<str> {
        let mut done = self.done.clone();
        let reason = match done
            .wait_for(|s| matches!(s.health, Health::Failed(_)))
            .await
            .as_deref()
            .map(|s| &s.health)
        {
            Ok(Health::Failed(reason)) => Some(Arc::clone(reason)),
            _ => None,
        };
        match reason {
            Some(reason) => reason,
            // The committer is gone: the store is being dropped.
            None => std::future::pending().await,
        }
    }

    /// Runs `f` as one write (see the module documentation) and logs what it put and
    /// removed as one record. Returns `f`'s result and the ticket to wait on with
    /// [`Committer::wait_durable`] before acknowledging it: the write's own, or, when it
    /// changed nothing, the newest pending one, since `f` may have decided on what a
    /// pending write did. When `f` fails, nothing is written.
    ///
    /// `f` runs under the committer's lock, so it must be quick and must not wait.
    pub(crate) fn write<R, E>(
        &self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>,
    ) -> Result<(R, Ticket), E>
    where
        E: From<StoreError>,
    {
        let mut state = self.shared.lock();
        match &state.health {
            Health::Ok => {}
            Health::Degraded(reason) => {
                return Err(E::from(StoreError::Unavailable(Arc::clone(reason))))
            }
            Health::Failed(reason) => return Err(E::from(StoreError::Failed(Arc::clone(reason)))),
        }
        if state.shutdown {
            return Err(E::from(StoreError::Closed));
        }
        let mut tx = WriteTx {
            state: &state,
            trees: &self.shared.trees,
            ops: Vec::new(),
            index: HashMap::new(),
            sled_error: std::cell::RefCell::new(None),
        };
        let result = f(&mut tx);
        if let Some(reason) = tx.sled_error.take() {
            drop(state);
            fail(&self.shared, &reason);
            return Err(E::from(StoreError::Failed(Arc::from(reason))));
        }
        let result = result?;
        if tx.ops.is_empty() {
            let ticket = Ticket {
                lsn: state.next_lsn - 1,
                epoch: state.epoch,
            };
            return Ok((result, ticket));
        }
        let digest = match tx.digest_after(state.digest) {
            Ok(digest) => digest,
            Err(e) => {
                let reason = tx.sled_error.take().unwrap_or_else(|| e.to_string());
                drop(state);
                fail(&self.shared, &reason);
                return Err(E::from(StoreError::Failed(Arc::from(reason))));
            }
        };
        let ops = tx.ops;
        let lsn = state.next_lsn;
        state.next_lsn += 1;
        state.digest = digest;
        wal::encode_record(lsn, digest, &ops, &mut state.bytes);
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
        let ticket = Ticket {
            lsn,
            epoch: state.epoch,
        };
        Ok((result, ticket))
    }

    /// Returns once the write of `ticket`, and every one before it, is durable and
    /// visible to readers; an error if it was refused.
    pub(crate) async fn wait_durable(&self, ticket: Ticket) -> Result<(), StoreError> {
        self.request_sync(ticket.lsn);
        let mut done = self.done.clone();
        let synced = done
            .wait_for(|s| {
                s.epoch != ticket.epoch
                    || s.lsn >= ticket.lsn
                    || matches!(s.health, Health::Failed(_))
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        if synced.epoch == ticket.epoch && synced.lsn >= ticket.lsn {
            return Ok(());
        }
        Err(match &synced.health {
            Health::Failed(reason) => StoreError::Failed(Arc::clone(reason)),
            Health::Degraded(reason) => StoreError::Unavailable(Arc::clone(reason)),
            // The epoch moved on and the store has recovered since: still refused.
            Health::Ok => StoreError::Unavailable(Arc::from("the log write failed")),
        })
    }

    /// Asks for a sync of everything up to `lsn`, without waiting for it.
    fn request_sync(&self, lsn: u64) {
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

    /// The ticket of the newest write so far (durable or not).
    pub(crate) fn last(&self) -> Ticket {
        let state = self.shared.lock();
        Ticket {
            lsn: state.next_lsn - 1,
            epoch: state.epoch,
        }
    }
}

fn commit_loop(log: &mut Log, shared: &Shared) {
    let done = &shared.done;
    // The buffers of the previous round, swapped back in empty, so the pending buffers
    // keep their capacity.
    let mut bytes = Vec::new();
    let mut ops = Vec::new();
    loop {
        let (last, digest, epoch) = {
            let idle = |state: &State| {
                (state.requested <= state.synced.lsn || state.bytes.is_empty()) && !state.shutdown
            };
            let mut state = shared.lock();
            while idle(&state) {
                if matches!(state.health, Health::Degraded(_)) {
                    let (guard, wait) = shared
                        .wake
                        .wait_timeout(state, RETRY_EVERY)
                        .unwrap_or_else(PoisonError::into_inner);
                    state = guard;
                    if wait.timed_out() && idle(&state) {
                        probe(&mut state);
                    }
                } else {
                    state = shared
                        .wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
            if state.bytes.is_empty() {
                break; // Shut down with nothing pending.
            }
            bytes.clear();
            ops.clear();
            std::mem::swap(&mut state.bytes, &mut bytes);
            std::mem::swap(&mut state.ops, &mut ops);
            (state.next_lsn - 1, state.digest, state.epoch)
        };
        shared.syncs.fetch_add(1, Ordering::Relaxed);
        match log.segment.append_durably(&bytes) {
            Ok(()) => {}
            Err(AppendError::Write(e)) => {
                let reason = format!("writing the log {}: {e}", log.segment.path().display());
                refuse_pending(shared, &reason);
                continue;
            }
            Err(AppendError::Sync(e)) => {
                let reason = format!("syncing the log {}: {e}", log.segment.path().display());
                fail(shared, &reason);
                return;
            }
        }
        if matches!(shared.lock().health, Health::Degraded(_)) {
            // sled writes in the background and latches its first I/O error: a full disk
            // that failed the log has often failed sled too. Find out now, on the first
            // successful log write (usually the idle retry's empty record), so the store
            // says it needs a restart instead of reporting Ok and failing the next write.
            if let Err(e) = log.db.flush() {
                fail(
                    shared,
                    &format!("sled failed while the log could not be written: {e}"),
                );
                return;
            }
        }
        for op in &ops {
            if let Err(e) = apply(&shared.trees, op) {
                fail(shared, &format!("applying a logged write to sled: {e}"));
                return;
            }
        }
        let synced = Checkpoint { lsn: last, digest };
        let health = {
            let mut state = shared.lock();
            for pending in &mut state.overlay {
                pending.retain(|_, pending| pending.lsn > last);
            }
            state.synced = synced;
            // A successful log write ends a degraded spell; a failure stays.
            if matches!(state.health, Health::Degraded(_)) {
                state.health = Health::Ok;
            }
            state.health.clone()
        };
        done.send_replace(Synced {
            lsn: last,
            epoch,
            health,
        });
        if log.segment.len() >= log.segment_bytes {
            if let Err(error) = checkpoint(log, synced) {
                fail(shared, &error);
                return;
            }
        }
    }
    // A clean shutdown leaves sled complete on disk and nothing to replay.
    let synced = shared.lock().synced;
    if let Err(error) = checkpoint(log, synced) {
        tracing::warn!(%error, "kubecs-storage: checkpoint at shutdown failed; the log will be replayed at the next open");
    }
}

/// Logs an empty record, so that a degraded store finds out whether the log can be
/// written again without waiting for a client's write.
fn probe(state: &mut State) {
    let lsn = state.next_lsn;
    state.next_lsn += 1;
    wal::encode_record(lsn, state.digest, &[], &mut state.bytes);
    state.requested = lsn;
}

/// A log write failed and appended nothing: refuses every pending write (see the module
/// documentation) and marks the store degraded.
fn refuse_pending(shared: &Shared, reason: &str) {
    tracing::error!(
        reason,
        "kubecs-storage: a write to the log failed; refusing writes until the log can be written"
    );
    let reason = Arc::<str>::from(reason);
    let (synced, epoch) = {
        let mut state = shared.lock();
        state.bytes.clear();
        state.ops.clear();
        for pending in &mut state.overlay {
            pending.clear();
        }
        state.next_lsn = state.synced.lsn + 1;
        state.digest = state.synced.digest;
        state.requested = state.synced.lsn;
        state.epoch += 1;
        state.health = Health::Degraded(Arc::clone(&reason));
        (state.synced.lsn, state.epoch)
    };
    shared.done.send_replace(Synced {
        lsn: synced,
        epoch,
        health: Health::Degraded(reason),
    });
}

/// Applies one logged op to sled.
pub(crate) fn apply(trees: &[sled::Tree], op: &Op) -> sled::Result<()> {
    let tree = &trees[op.table as usize];
    match &op.value {
        Some(value) => tree.insert(&op.key, value.clone()).map(drop),
        None => tree.remove(&op.key).map(drop),
    }
}

/// Makes sled hold everything up to `at` on disk, records that, and starts a new segment.
fn checkpoint(log: &mut Log, at: Checkpoint) -> Result<(), String> {
    log.db
        .flush()
        .map_err(|e| format!("flushing sled at a checkpoint: {e}"))?;
    log.segment = wal::restart(&log.wal_dir, at)
        .map_err(|e| format!("checkpointing the log in {}: {e}", log.wal_dir.display()))?;
    Ok(())
}

fn fail(shared: &Shared, reason: &str) {
    let reason = Arc::<str>::from(reason);
    {
        let mut state = shared.lock();
        if matches!(state.health, Health::Failed(_)) {
            return;
        }
        state.health = Health::Failed(Arc::clone(&reason));
    }
    tracing::error!(
        reason = &*reason,
        "kubecs-storage: the store failed; refusing writes until restarted"
    );
    shared
        .done
        .send_modify(|s| s.health = Health::Failed(reason));
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
