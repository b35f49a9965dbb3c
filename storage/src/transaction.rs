//! `Tx`: the typed operations of one atomic write ([`Region::transaction`]). Each reads
//! the newest state — this write's own earlier changes, then writes logged but not yet
//! durable, then sled — and records its changes in the write's one log record.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::durability::WriteTx;
use crate::error::StoreError;
use crate::feed::Change;
use crate::key::{AsKey, Key, KeyPrefix};
use crate::record::{self, Record, Write};
use crate::region::Region;
use crate::table::{Observed, Table};

/// Point reads, from inside a transaction ([`Tx`], which sees the newest state) or outside
/// one ([`Committed`], what is durable), so that a check can be written once and run
/// inside the write it decides.
pub trait Reader {
    fn read<K, V, Q>(&self, table: &Table<K, V>, key: Q) -> Result<Option<Record<V>>, StoreError>
    where
        K: Key,
        V: Serialize + DeserializeOwned,
        Q: AsKey<K>;
}

/// Reads what is durable (`Table::get`).
#[derive(Debug, Clone, Copy)]
pub struct Committed;

impl Reader for Committed {
    fn read<K, V, Q>(&self, table: &Table<K, V>, key: Q) -> Result<Option<Record<V>>, StoreError>
    where
        K: Key,
        V: Serialize + DeserializeOwned,
        Q: AsKey<K>,
    {
        table.get(key)
    }
}

impl Reader for Tx<'_, '_> {
    fn read<K, V, Q>(&self, table: &Table<K, V>, key: Q) -> Result<Option<Record<V>>, StoreError>
    where
        K: Key,
        V: Serialize + DeserializeOwned,
        Q: AsKey<K>,
    {
        self.get(table, key)
    }
}

/// One atomic write in progress; see [`Region::transaction`].
pub struct Tx<'a, 'b> {
    write: &'a mut WriteTx<'b>,
    region: &'a Region,
    changes: Vec<Change>,
}

impl<'a, 'b> Tx<'a, 'b> {
    pub(crate) fn new(write: &'a mut WriteTx<'b>, region: &'a Region) -> Self {
        Tx {
            write,
            region,
            changes: Vec::new(),
        }
    }

    pub(crate) fn into_changes(self) -> Vec<Change> {
        self.changes
    }

    pub(crate) fn raw(&mut self) -> &mut WriteTx<'b> {
        self.write
    }

    /// Notes that `key` (without scope) of `table` changed, for the change feed.
    pub(crate) fn changed(&mut self, table: crate::TableId, key: Vec<u8>) {
        let change = Change::new(table, self.region.name_arc().clone(), key);
        if !self.changes.contains(&change) {
            self.changes.push(change);
        }
    }

    fn check_region<K: Key, V: Serialize + DeserializeOwned>(
        &self,
        table: &Table<K, V>,
    ) -> Result<(), StoreError> {
        if table.region().scope() == self.region.scope() {
            Ok(())
        } else {
            Err(StoreError::WrongRegion {
                table: table.region().name().to_owned(),
                transaction: self.region.name().to_owned(),
            })
        }
    }

    /// The record at `key` as this write sees it.
    pub fn get<K, V, Q>(&self, table: &Table<K, V>, key: Q) -> Result<Option<Record<V>>, StoreError>
    where
        K: Key,
        V: Serialize + DeserializeOwned,
        Q: AsKey<K>,
    {
        self.check_region(table)?;
        let key = table.full_key(key);
        self.write
            .get(table.id(), &key)?
            .map(|bytes| record::decode(table.id().tree_name(), &key, &bytes))
            .transpose()
    }

    /// Whether `table` holds any record under `prefix` as this write sees it, so that a
    /// write can be refused on what another table holds (a cluster with daemons).
    pub fn any_under<K, V>(
        &self,
        table: &Table<K, V>,
        prefix: &KeyPrefix,
    ) -> Result<bool, StoreError>
    where
        K: Key,
        V: Serialize + DeserializeOwned,
    {
        self.check_region(table)?;
        let prefix = prefix.within(table.region().scope());
        self.write.any_under(table.id(), prefix.as_bytes())
    }

    /// Reads the record at `key`, lets `f` decide, and applies its `Write`. `Put` bumps
    /// `generation` unless the value is unchanged, and keeps `observed_generation`.
    pub fn update<K, V, Q, F, R, E>(&mut self, table: &Table<K, V>, key: Q, f: F) -> Result<R, E>
    where
        K: Key,
        V: Serialize + DeserializeOwned,
        Q: AsKey<K>,
        F: FnOnce(Option<&Record<V>>) -> Result<(Write<V>, R), E>,
        E: From<StoreError>,
    {
        self.check_region(table)?;
        let (id, name) = (table.id(), table.id().tree_name());
        let key = table.full_key(key);
        let old_bytes = self.write.get(id, &key)?;
        let old = old_bytes
            .as_ref()
            .map(|b| record::decode::<V>(name, &key, b))
            .transpose()?;
        let (write, result) = f(old.as_ref())?;
        let old_pair = old_bytes.as_deref().zip(old.as_ref());
        match record::apply(name, old_pair, write)? {
            None => return Ok(result),
            Some(None) => self.write.remove(id, &key),
            Some(Some(new)) => self.write.put(id, &key, new),
        }
        self.changed(id, table.strip(&key).to_vec());
        Ok(result)
    }

    /// The reconciler's write: see [`Table::compare_and_set_observed`].
    pub fn set_observed<K, V, Q, F, E>(
        &mut self,
        table: &Table<K, V>,
        key: Q,
        expected_generation: u64,
        f: F,
    ) -> Result<Observed<V>, E>
    where
        K: Key,
        V: Serialize + DeserializeOwned,
        Q: AsKey<K>,
        F: FnOnce(&V) -> Result<Option<V>, E>,
        E: From<StoreError>,
    {
        self.check_region(table)?;
        let (id, name) = (table.id(), table.id().tree_name());
        let key = table.full_key(key);
        let Some(old_bytes) = self.write.get(id, &key)? else {
            return Ok(Observed::Missing);
        };
        let mut record = record::decode::<V>(name, &key, &old_bytes)?;
        if record.generation != expected_generation {
            return Ok(Observed::Stale {
                generation: record.generation,
            });
        }
        if let Some(value) = f(&record.value)? {
            record.value = value;
        }
        record.observed_generation = expected_generation;
        record.schema_version = record::RECORD_SCHEMA_VERSION;
        self.write.put(id, &key, record::encode(name, &record)?);
        self.changed(id, table.strip(&key).to_vec());
        Ok(Observed::Applied(record))
    }
}
