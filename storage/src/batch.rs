//! `Batch`: writes to several tables that are acknowledged together.
//!
//! A request that changes more than one record (CreateService: the service, its tags and
//! the cluster's active-service count) used to wait for a sync after each write, one
//! after another. In a batch each write is logged at once — later writes, this batch's
//! and others', decide on it — and [`Batch::commit`] waits for the sync that covers them
//! all. Each write is its own log record, so the batch is not atomic as a whole: after a
//! crash any prefix of its writes may have survived, but none is acknowledged before all
//! are on disk. Readers see the writes once they are durable, which may be before the
//! commit returns. Dropping a batch without committing does not undo its writes; they
//! become durable with the next sync.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;
use crate::feed::Change;
use crate::key::{AsKey, Key};
use crate::record::{self, Record, Write};
use crate::store::Store;
use crate::table::Table;

/// Writes applied now and acknowledged by [`Batch::commit`].
#[derive(Debug)]
#[must_use = "a batch's writes are acknowledged only by `commit`"]
pub struct Batch {
    store: Store,
    /// The LSN to wait for: the newest of the batch's writes (or of what they saw).
    lsn: u64,
    changes: Vec<Change>,
}

impl Store {
    /// An empty batch on this store.
    pub fn batch(&self) -> Batch {
        Batch {
            store: self.clone(),
            lsn: 0,
            changes: Vec::new(),
        }
    }
}

impl Batch {
    /// Returns once every write applied through this batch — and whatever their closures
    /// saw — is durable, then announces the changed keys on the change feed.
    pub async fn commit(mut self) -> Result<(), StoreError> {
        // Taken, so that dropping the emptied batch does not ask for another sync.
        let lsn = std::mem::take(&mut self.lsn);
        let changes = std::mem::take(&mut self.changes);
        self.store.commit(lsn, changes).await
    }
}

impl Drop for Batch {
    /// A batch abandoned after some writes (a later step of the request failed): its
    /// writes are logged and must not wait for somebody else's sync to become durable
    /// and visible.
    fn drop(&mut self) {
        if self.lsn != 0 {
            self.store.request_sync(self.lsn);
        }
    }
}

impl<K: Key, V: Serialize + DeserializeOwned> Table<K, V> {
    /// [`Table::update`] as part of `batch`: logged now, acknowledged by
    /// `batch.commit()`.
    pub fn update_in<Q, F, R, E>(&self, batch: &mut Batch, key: Q, f: F) -> Result<R, E>
    where
        Q: AsKey<K>,
        F: FnOnce(Option<&Record<V>>) -> Result<(Write<V>, R), E>,
        E: From<StoreError>,
    {
        let key = key.encode_key();
        let (id, name) = (self.id(), self.id().tree_name());
        let (result, lsn) = self.store().write(|tx| -> Result<_, E> {
            let old_bytes = tx.get(id, &key)?;
            let old = old_bytes
                .as_ref()
                .map(|b| record::decode::<V>(name, &key, b))
                .transpose()?;
            let (write, result) = f(old.as_ref())?;
            let old_pair = old_bytes.as_deref().zip(old.as_ref());
            match record::apply(name, old_pair, write)? {
                None => return Ok((result, false)),
                Some(None) => tx.remove(id, &key),
                Some(Some(new)) => tx.put(id, &key, new),
            }
            Ok((result, true))
        })?;
        batch.lsn = batch.lsn.max(lsn);
        let (result, changed) = result;
        if changed {
            batch.changes.push(Change::new(id, key));
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Store, StoreError, TableId, Write};

    #[tokio::test]
    async fn a_batch_is_visible_at_once_flushed_once_and_announced_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut feed = store.subscribe();
        let settings = store.table::<String, String>(TableId::Settings);
        let tags = store.table::<String, Vec<String>>(TableId::Tags);
        let flushes_before = store.flush_count();
        let mut batch = store.batch();
        settings
            .update_in(&mut batch, "a", |_| {
                Ok::<_, StoreError>((Write::Put("one".to_owned()), ()))
            })
            .unwrap();
        tags.update_in(&mut batch, "arn", |_| {
            Ok::<_, StoreError>((Write::Put(vec!["t".to_owned()]), ()))
        })
        .unwrap();
        // A later write of the batch decides on an earlier one before either is durable.
        let seen = settings
            .update_in(&mut batch, "a", |current| {
                Ok::<_, StoreError>((Write::Keep, current.map(|r| r.value.clone())))
            })
            .unwrap();
        assert_eq!(seen.as_deref(), Some("one"));
        assert!(feed.try_recv().is_err(), "nothing announced before commit");
        batch.commit().await.unwrap();
        assert_eq!(settings.get("a").unwrap().unwrap().value, "one");
        assert_eq!(store.flush_count() - flushes_before, 1, "one sync for both");
        let announced = [feed.try_recv().unwrap(), feed.try_recv().unwrap()];
        assert_eq!(announced[0].table, TableId::Settings);
        assert_eq!(announced[1].table, TableId::Tags);
    }

    #[tokio::test]
    async fn a_write_that_changes_nothing_is_not_announced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let settings = store.table::<String, String>(TableId::Settings);
        settings
            .update("a", |_| {
                Ok::<_, StoreError>((Write::Put("x".to_owned()), ()))
            })
            .await
            .unwrap();
        let mut feed = store.subscribe();
        let mut batch = store.batch();
        settings
            .update_in(&mut batch, "a", |_| {
                Ok::<_, StoreError>((Write::Put("x".to_owned()), ()))
            })
            .unwrap();
        settings
            .update_in(&mut batch, "b", |_| Ok::<_, StoreError>((Write::Keep, ())))
            .unwrap();
        batch.commit().await.unwrap();
        assert!(feed.try_recv().is_err());
    }
}
