//! Group commit: writers share fsyncs, and none is acknowledged before its write is on
//! disk.
//!
//! A dedicated thread owns the flushing so that fsync never blocks a tokio worker. A
//! writer, after applying its write in memory, takes a ticket (a sequence number) and
//! waits until a flush that *started after* the ticket was issued has completed. The
//! thread snapshots the highest ticket before each `sled::Db::flush`, so every writer that
//! arrives while a flush is running is covered by the next one: with N concurrent writers
//! the number of fsyncs is about N / (writers per flush interval), not N.
//!
//! A flush is expensive in CPU, not only in time: sled seals its log buffer, wakes its
//! I/O thread pool (every idle pool thread, each time), writes and syncs, and the waiters
//! are woken. Profiles of kubecs under load showed ~15 context switches and two log
//! writes per request when each flush covered one or two writers, because a busy server
//! hands writers to the flusher one at a time. So when writers keep arriving while a
//! flush runs (the sign of concurrent load), the next flush first *gathers*: it waits
//! while new writers keep coming, in steps of [`GATHER_IDLE`], for at most
//! [`GATHER_MAX`]. A lone writer (no arrivals during the previous flush) is flushed at
//! once, so sequential clients see no added latency. Measured with `perf stat` on
//! kubecs-bench's UpdateService at concurrency 64 (commands in BENCHMARKS.md): 0.12-0.14
//! log writes and 1.8-2.0 context switches per request with these bounds, 0.33 and 3.8
//! without gathering. The bounds are small
//! because gathering adds up to [`GATHER_MAX`] to a write's latency at middling
//! concurrency.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::error::StoreError;

/// While gathering, flush as soon as no writer arrived for this long.
const GATHER_IDLE: Duration = Duration::from_micros(100);
/// Never hold the first gathered writer back longer than this before flushing.
const GATHER_MAX: Duration = Duration::from_micros(500);

/// The outcome of the latest completed flush.
#[derive(Debug, Clone)]
struct Flushed {
    /// Every ticket up to this one is covered.
    seq: u64,
    /// Set when that flush failed. A later successful flush clears it; that is correct
    /// because sled flushes everything dirty, including writes an earlier flush dropped.
    error: Option<Arc<str>>,
}

#[derive(Debug, Default)]
struct State {
    issued: u64,
    shutdown: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Flushes performed, for metrics and for the test that proves writers share them.
    flushes: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    done: watch::Receiver<Flushed>,
    thread: Option<JoinHandle<()>>,
}

impl GroupCommit {
    pub(crate) fn start(db: sled::Db) -> std::io::Result<GroupCommit> {
        let shared = Arc::new(Shared::default());
        let (tx, done) = watch::channel(Flushed {
            seq: 0,
            error: None,
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("kubecs-storage-flush".into())
            .spawn(move || flush_loop(&db, &thread_shared, &tx))?;
        Ok(GroupCommit {
            shared,
            done,
            thread: Some(thread),
        })
    }

    pub(crate) fn flushes(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }

    /// Returns once everything written before this call is durable.
    pub(crate) async fn wait_durable(&self) -> Result<(), StoreError> {
        let ticket = {
            let mut state = self
                .shared
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            state.issued += 1;
            state.issued
        };
        self.shared.wake.notify_one();
        let mut done = self.done.clone();
        let flushed = done
            .wait_for(|f| f.seq >= ticket)
            .await
            .map_err(|_| StoreError::Closed)?;
        match &flushed.error {
            Some(e) => Err(StoreError::Flush(Arc::clone(e))),
            None => Ok(()),
        }
    }
}

fn flush_loop(db: &sled::Db, shared: &Shared, done: &watch::Sender<Flushed>) {
    let mut completed = 0;
    // Whether writers arrived during the previous flush: concurrent load.
    let mut loaded = false;
    loop {
        {
            let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
            while state.issued == completed && !state.shutdown {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if state.issued == completed {
                // Shut down with nobody waiting; sled flushes once more when dropped.
                return;
            }
        }
        if loaded {
            gather(shared);
        }
        let target = shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .issued;
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        let error = db.flush().err().map(|e| {
            tracing::error!(error = %e, "kubecs-storage: flush to disk failed");
            Arc::<str>::from(e.to_string())
        });
        completed = target;
        done.send_replace(Flushed { seq: target, error });
        loaded = shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .issued
            > target;
    }
}

/// Waits while writers keep arriving (see the module comment). Sleeps rather than waiting
/// on the condvar so that arriving writers do not wake this thread one by one.
fn gather(shared: &Shared) {
    let started = Instant::now();
    let issued = || {
        let state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.issued, state.shutdown)
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

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .shutdown = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
