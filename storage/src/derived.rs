//! `DerivedCache`: values computed from stored records (e.g. a service's encoded wire
//! JSON), kept until the record they came from changes.
//!
//! Read paths that serve the same records again and again (DescribeServices) spent most
//! of their CPU decoding the stored JSON and encoding the answer. A cached entry remembers
//! the exact bytes it was derived from and is used only while the table still holds those
//! bytes, so the cache needs no invalidation protocol and cannot serve a stale value: any
//! write — the API's, the reconciler's, a migration's — changes the bytes (the generation
//! or the value inside them), and the next read derives afresh.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;
use crate::key::{AsKey, Key};
use crate::record::{self, Record};
use crate::table::Table;

/// A bounded map from key to (stored bytes, derived value). Share one per kind of derived
/// value across requests; it is safe to use from many threads.
pub struct DerivedCache<T> {
    capacity: usize,
    entries: Mutex<HashMap<Vec<u8>, Entry<T>>>,
}

struct Entry<T> {
    /// The record bytes `value` was derived from.
    source: sled::IVec,
    value: Arc<T>,
}

impl<T> std::fmt::Debug for DerivedCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DerivedCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

impl<T> DerivedCache<T> {
    /// A cache holding at most `capacity` entries (at least one). Memory is about
    /// `capacity` × (record size + derived size).
    pub fn new(capacity: usize) -> Self {
        DerivedCache {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, Entry<T>>> {
        // A panic while holding the lock cannot leave an entry half-updated (inserts and
        // removals are single map operations), so a poisoned map is still consistent.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lookup(&self, key: &[u8], current: &[u8]) -> Option<Arc<T>> {
        let entries = self.lock();
        let entry = entries.get(key)?;
        is_same_bytes(&entry.source, current).then(|| Arc::clone(&entry.value))
    }

    fn remember(&self, key: Vec<u8>, source: sled::IVec, value: Arc<T>) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            // Evict an arbitrary entry: the hot set of a read-heavy client (the same
            // services described again and again) re-enters at once, and anything smarter
            // costs bookkeeping on every hit.
            if let Some(victim) = entries.keys().next().cloned() {
                entries.remove(&victim);
            }
        }
        entries.insert(key, Entry { source, value });
    }
}

/// Whether `current` holds the bytes of `source`. sled hands out clones of the `IVec` it
/// holds, so an unchanged record usually comes back in the very allocation the cache
/// kept, and then the pointers settle it without reading the record twice (comparing
/// the records byte by byte on every DescribeServices showed in its profiles;
/// bench/JOURNAL.md). That is sound because the cache's own clone keeps the allocation
/// alive and unchanged: an `IVec` copies before any write while it is shared. Otherwise
/// the bytes are compared.
fn is_same_bytes(source: &sled::IVec, current: &[u8]) -> bool {
    let source: &[u8] = source.as_ref();
    source.len() == current.len()
        && (std::ptr::eq(source.as_ptr(), current.as_ptr()) || source == current)
}

impl<K: Key, V: Serialize + DeserializeOwned> Table<K, V> {
    /// The value `derive` makes of the record at `key`, from `cache` when the record is
    /// byte-for-byte the one it was derived from, otherwise derived now and remembered.
    /// `None` when there is no record.
    pub fn get_derived<Q, T, E, F>(
        &self,
        key: Q,
        cache: &DerivedCache<T>,
        derive: F,
    ) -> Result<Option<Arc<T>>, E>
    where
        Q: AsKey<K>,
        F: FnOnce(Record<V>) -> Result<T, E>,
        E: From<StoreError>,
    {
        let key = self.full_key(key);
        let Some(bytes) = self.tree().get(&key).map_err(StoreError::from)? else {
            return Ok(None);
        };
        if let Some(value) = cache.lookup(&key, &bytes) {
            return Ok(Some(value));
        }
        let record = record::decode(self.id().tree_name(), &key, &bytes)?;
        let value = Arc::new(derive(record)?);
        cache.remember(key, bytes, Arc::clone(&value));
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Store, StoreError, Write};
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn put(store: &Store, key: &str, value: &str) {
        let v = value.to_owned();
        store
            .region("r")
            .table::<String, String>(crate::TableId::Settings)
            .update(key, move |_| {
                Ok::<_, StoreError>((Write::Put(v.clone()), ()))
            })
            .await
            .unwrap();
    }

    fn upper(
        store: &Store,
        cache: &DerivedCache<String>,
        key: &str,
        calls: &AtomicUsize,
    ) -> Option<String> {
        store
            .region("r")
            .table::<String, String>(crate::TableId::Settings)
            .get_derived(key, cache, |record| {
                calls.fetch_add(1, Ordering::Relaxed);
                Ok::<_, StoreError>(record.value.to_uppercase())
            })
            .unwrap()
            .map(|v| (*v).clone())
    }

    #[tokio::test]
    async fn a_derived_value_is_reused_until_the_record_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cache = DerivedCache::new(8);
        let calls = AtomicUsize::new(0);
        assert_eq!(upper(&store, &cache, "a", &calls), None);
        put(&store, "a", "one").await;
        assert_eq!(upper(&store, &cache, "a", &calls).as_deref(), Some("ONE"));
        assert_eq!(upper(&store, &cache, "a", &calls).as_deref(), Some("ONE"));
        assert_eq!(calls.load(Ordering::Relaxed), 1, "the second read is a hit");
        put(&store, "a", "two").await;
        assert_eq!(upper(&store, &cache, "a", &calls).as_deref(), Some("TWO"));
        assert_eq!(
            calls.load(Ordering::Relaxed),
            2,
            "a changed record is derived again"
        );
        store
            .region("r")
            .table::<String, String>(crate::TableId::Settings)
            .update("a", |_| Ok::<_, StoreError>((Write::<String>::Delete, ())))
            .await
            .unwrap();
        assert_eq!(
            upper(&store, &cache, "a", &calls),
            None,
            "a deleted record is gone"
        );
    }

    #[test]
    fn same_bytes_by_allocation_or_by_content() {
        let kept = sled::IVec::from(vec![7u8; 1300]);
        let clone = kept.clone();
        assert!(is_same_bytes(&kept, &clone), "the same allocation");
        let copy = vec![7u8; 1300];
        assert!(is_same_bytes(&kept, &copy), "equal bytes elsewhere");
        let mut changed = copy.clone();
        changed[1299] = 8;
        assert!(!is_same_bytes(&kept, &changed), "one byte differs");
        assert!(!is_same_bytes(&kept, &copy[..1299]), "a prefix");
        // Writing through a shared clone copies first, so the kept bytes never change.
        let mut written = kept.clone();
        written.as_mut()[0] = 9;
        assert!(!is_same_bytes(&kept, &written));
        assert_eq!(kept.as_ref(), &copy[..]);
    }

    /// The premise of the pointer check: an unchanged record comes back from sled in the
    /// allocation a previous read got (if this fails, hits fall back to comparing bytes).
    #[test]
    fn sled_returns_an_unchanged_record_in_the_same_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        db.insert("k", vec![1u8; 1300]).unwrap();
        let first = db.get("k").unwrap().unwrap();
        db.flush().unwrap();
        let again = db.get("k").unwrap().unwrap();
        assert_eq!(first.as_ptr(), again.as_ptr());
    }

    #[tokio::test]
    async fn the_cache_never_holds_more_than_its_capacity() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cache = DerivedCache::new(3);
        let calls = AtomicUsize::new(0);
        for i in 0..10 {
            let key = format!("k{i}");
            put(&store, &key, &format!("v{i}")).await;
            assert_eq!(upper(&store, &cache, &key, &calls), Some(format!("V{i}")));
            assert!(cache.len() <= 3, "{} entries", cache.len());
        }
        // Every key still reads correctly, evicted or not.
        for i in 0..10 {
            assert_eq!(
                upper(&store, &cache, &format!("k{i}"), &calls),
                Some(format!("V{i}"))
            );
        }
    }
}
