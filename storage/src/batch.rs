//! `Batch`: writes to several tables that are acknowledged together.
//!
//! A request that changes more than one record (CreateService: the service, its tags and
//! the cluster's active-service count) used to wait for a flush after each write, one
//! after another. In a batch each write is applied at once — visible to readers, exactly
//! as with [`Table::update`] — and [`Batch::commit`] waits for one flush that covers them
//! all. It does not make the writes atomic together (sled's atomic batches cost two extra
//! log writes each): after a crash any prefix of them may have survived, as before, but
//! none is acknowledged before all are on disk. Dropping a batch without committing does
//! not undo its writes; they become durable with the next flush.

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
    changes: Vec<Change>,
}

impl Store {
    /// An empty batch on this store.
    pub fn batch(&self) -> Batch {
        Batch {
            store: self.clone(),
            changes: Vec::new(),
        }
    }
}

impl Batch {
    /// Returns once every write applied through this batch — and whatever their closures
    /// saw — is durable, then announces the changed keys on the change feed.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.store.commit(self.changes).await
    }
}

impl<K: Key, V: Serialize + DeserializeOwned> Table<K, V> {
    /// [`Table::update`] as part of `batch`: applied now, acknowledged by
    /// `batch.commit()`. `f` may run several times (compare-and-swap retries) and must
    /// be pure.
    pub fn update_in<Q, F, R, E>(&self, batch: &mut Batch, key: Q, mut f: F) -> Result<R, E>
    where
        Q: AsKey<K>,
        F: FnMut(Option<&Record<V>>) -> Result<(Write<V>, R), E>,
        E: From<StoreError>,
    {
        let key = key.encode_key();
        let name = self.id().tree_name();
        loop {
            let old_bytes = self.tree().get(&key).map_err(StoreError::from)?;
            let old = old_bytes
                .as_ref()
                .map(|b| record::decode::<V>(name, &key, b))
                .transpose()?;
            let (write, result) = f(old.as_ref())?;
            let old_pair = old_bytes.as_deref().zip(old.as_ref());
            let Some(new) = record::apply(name, old_pair, write)? else {
                return Ok(result);
            };
            match self
                .tree()
                .compare_and_swap(&key, old_bytes, new)
                .map_err(StoreError::from)?
            {
                Ok(()) => {
                    batch.changes.push(Change::new(self.id(), key));
                    return Ok(result);
                }
                Err(_) => continue, // Someone else wrote in between: decide again.
            }
        }
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
        // Readers see applied writes before the commit, as with `update`.
        assert_eq!(settings.get("a").unwrap().unwrap().value, "one");
        assert!(feed.try_recv().is_err(), "nothing announced before commit");
        batch.commit().await.unwrap();
        assert_eq!(
            store.flush_count() - flushes_before,
            1,
            "one flush for both"
        );
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
