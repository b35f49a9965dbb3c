//! The work queue: keyed, de-duplicated, one reconcile of a key at a time, with capped
//! exponential backoff per key.
//!
//! A key added while queued is not queued twice; a key added while being reconciled is
//! queued again once that reconcile is done (so a change seen mid-reconcile is never
//! lost, and two workers never hold one key). Backoff counts a key's consecutive failures
//! and is forgotten on its first success.
//!
//! Two lanes in one order: [`WorkQueue::add`] queues at the back (desired state that
//! changed: the apply work), [`WorkQueue::add_urgent`] at the front (Kubernetes showed a
//! change: something to report). During a burst of new services the back holds hundreds
//! of applies; a pod that became Ready must not wait behind all of them to be reported,
//! and reporting it is cheap (the objects are current, only the status is written).

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

/// First retry delay after a failure.
pub const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// Longest retry delay.
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);

pub struct WorkQueue<K> {
    inner: Mutex<Inner<K>>,
    ready: Notify,
}

struct Inner<K> {
    order: VecDeque<K>,
    queued: HashSet<K>,
    running: HashSet<K>,
    again: HashSet<K>,
    failures: HashMap<K, u32>,
    closed: bool,
}

impl<K: Clone + Eq + Hash + Send + 'static> WorkQueue<K> {
    pub fn new() -> Arc<Self> {
        Arc::new(WorkQueue {
            inner: Mutex::new(Inner {
                order: VecDeque::new(),
                queued: HashSet::new(),
                running: HashSet::new(),
                again: HashSet::new(),
                failures: HashMap::new(),
                closed: false,
            }),
            ready: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<K>> {
        // The queue's invariants hold between statements: a panic elsewhere cannot
        // leave it half-updated, so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `key` at the back (see the module documentation).
    pub fn add(&self, key: K) {
        self.enqueue(key, false);
    }

    /// Queues `key` at the front, moving it there if it is already queued (see the module
    /// documentation).
    pub fn add_urgent(&self, key: K) {
        self.enqueue(key, true);
    }

    fn enqueue(&self, key: K, urgent: bool) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        if inner.running.contains(&key) {
            inner.again.insert(key);
            return;
        }
        let new = inner.queued.insert(key.clone());
        if urgent {
            if !new {
                if let Some(at) = inner.order.iter().position(|k| *k == key) {
                    inner.order.remove(at);
                }
            }
            inner.order.push_front(key);
        } else if new {
            inner.order.push_back(key);
        } else {
            return;
        }
        drop(inner);
        self.ready.notify_one();
    }

    /// Queues `key` after `delay`.
    pub fn add_after(self: &Arc<Self>, key: K, delay: Duration) {
        let queue = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            queue.add(key);
        });
    }

    /// The next key to reconcile, waiting for one; `None` once the queue is closed.
    pub async fn next(&self) -> Option<K> {
        loop {
            let notified = self.ready.notified();
            {
                let mut inner = self.lock();
                if inner.closed {
                    return None;
                }
                if let Some(key) = inner.order.pop_front() {
                    inner.queued.remove(&key);
                    inner.running.insert(key.clone());
                    return Some(key);
                }
            }
            notified.await;
        }
    }

    /// Marks the reconcile of `key` finished; re-queues it if it was added meanwhile.
    pub fn done(&self, key: &K) {
        let mut inner = self.lock();
        inner.running.remove(key);
        if inner.again.remove(key) && !inner.closed && inner.queued.insert(key.clone()) {
            inner.order.push_back(key.clone());
            drop(inner);
            self.ready.notify_one();
        }
    }

    /// Counts a failure of `key` and returns how long to wait before retrying it:
    /// [`BACKOFF_BASE`] doubled per consecutive failure, at most [`BACKOFF_CAP`].
    pub fn failed(&self, key: &K) -> Duration {
        let mut inner = self.lock();
        let failures = inner.failures.entry(key.clone()).or_insert(0);
        let delay = BACKOFF_BASE.saturating_mul(1u32 << (*failures).min(16));
        *failures = failures.saturating_add(1);
        delay.min(BACKOFF_CAP)
    }

    /// Forgets `key`'s failures (it succeeded).
    pub fn succeeded(&self, key: &K) {
        self.lock().failures.remove(key);
    }

    /// Keys waiting to be reconciled.
    pub fn depth(&self) -> usize {
        self.lock().order.len()
    }

    /// Stops handing out keys: every `next` returns `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_queued_once_and_handed_to_one_worker_at_a_time() {
        let queue = WorkQueue::new();
        queue.add("a");
        queue.add("a");
        queue.add("b");
        assert_eq!(queue.depth(), 2);
        assert_eq!(queue.next().await, Some("a"));
        // Added while running: not handed out again until done.
        queue.add("a");
        assert_eq!(queue.next().await, Some("b"));
        assert_eq!(queue.depth(), 0);
        queue.done(&"a");
        assert_eq!(queue.depth(), 1);
        assert_eq!(queue.next().await, Some("a"));
        queue.done(&"a");
        queue.done(&"b");
        assert_eq!(queue.depth(), 0);
    }

    #[tokio::test]
    async fn urgent_keys_go_first_even_when_already_queued() {
        let queue = WorkQueue::new();
        for key in ["a", "b", "c"] {
            queue.add(key);
        }
        queue.add_urgent("c");
        queue.add_urgent("d");
        assert_eq!(queue.depth(), 4);
        let mut order = Vec::new();
        while queue.depth() > 0 {
            order.push(queue.next().await.unwrap());
        }
        assert_eq!(order, ["d", "c", "a", "b"]);
        // Running: queued again once done, not handed out twice.
        queue.add_urgent("d");
        assert_eq!(queue.depth(), 0);
        queue.done(&"d");
        assert_eq!(queue.next().await, Some("d"));
    }

    #[tokio::test]
    async fn backoff_doubles_up_to_the_cap_and_is_forgotten_on_success() {
        let queue = WorkQueue::new();
        assert_eq!(queue.failed(&1), BACKOFF_BASE);
        assert_eq!(queue.failed(&1), BACKOFF_BASE * 2);
        assert_eq!(queue.failed(&1), BACKOFF_BASE * 4);
        for _ in 0..20 {
            queue.failed(&1);
        }
        assert_eq!(queue.failed(&1), BACKOFF_CAP);
        queue.succeeded(&1);
        assert_eq!(queue.failed(&1), BACKOFF_BASE);
    }

    #[tokio::test]
    async fn a_closed_queue_wakes_its_workers_with_none() {
        let queue: Arc<WorkQueue<u8>> = WorkQueue::new();
        let waiting = tokio::spawn({
            let queue = Arc::clone(&queue);
            async move { queue.next().await }
        });
        tokio::task::yield_now().await;
        queue.close();
        assert_eq!(waiting.await.unwrap(), None);
    }
}
