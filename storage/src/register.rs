//! Registering a task-definition revision: one write (one log record) that allocates the
//! family's next number and stores the revision, its status index entry and the family's
//! counts together.

use crate::error::StoreError;
use crate::record::{self, Record, RECORD_SCHEMA_VERSION};
use crate::task_definitions::{encode_status, Family, Revisioned, TaskDefinitions};
use crate::transaction::Tx;

impl Tx<'_, '_> {
    /// Registers the next revision of `family`: `build` receives the allocated number and
    /// builds the value. Everything that can fail is checked before the first write, so a
    /// refused registration writes nothing and takes no number. Reads see pending writes,
    /// so two registrations of one family get consecutive numbers.
    pub fn register_revision<V, E>(
        &mut self,
        tables: &TaskDefinitions<V>,
        family: &str,
        build: impl FnOnce(u32) -> Result<V, E>,
    ) -> Result<(u32, Record<V>), E>
    where
        V: Revisioned,
        E: From<StoreError>,
    {
        let ids = tables.ids();
        let families = tables.families_table();
        let old = self.get(families, family)?;
        let generation = old.as_ref().map_or(0, |r| r.generation);
        let mut meta: Family = old.map(|r| r.value).unwrap_or_default();
        let Some(revision) = meta.last_revision.checked_add(1) else {
            return Err(E::from(StoreError::RevisionsExhausted(family.to_owned())));
        };
        let value = build(revision)?;
        meta.last_revision = revision;
        meta.revisions += 1;
        meta.active_revisions += u32::from(value.is_active());
        let record = Record {
            schema_version: RECORD_SCHEMA_VERSION,
            generation: 1,
            observed_generation: 0,
            value,
        };
        let meta = Record {
            schema_version: RECORD_SCHEMA_VERSION,
            generation: generation + 1,
            observed_generation: 0,
            value: meta,
        };
        let record_bytes = record::encode(ids.revisions.tree_name(), &record)?;
        let meta_bytes = record::encode(ids.families.tree_name(), &meta)?;
        let revisions = tables.revisions();
        let revision_key = revisions.full_key((family, revision));
        let family_key = families.full_key(family);
        let status = encode_status(record.value.status()).to_vec();
        let raw = self.raw();
        raw.put(ids.revisions, &revision_key, record_bytes);
        raw.put(ids.statuses, &revision_key, status);
        raw.put(ids.families, &family_key, meta_bytes);
        self.announce_revision(tables, &revision_key, &family_key);
        Ok((revision, record))
    }
}
