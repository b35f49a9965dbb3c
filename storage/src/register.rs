//! Registering a task-definition revision: one write (one log record) that allocates the
//! family's next number and stores the revision, its status index entry and the family's
//! counts together.

use crate::durability::WriteTx;
use crate::error::StoreError;
use crate::feed::TableId;
use crate::key::AsKey;
use crate::record::{self, Record, RECORD_SCHEMA_VERSION};
use crate::task_definitions::{encode_status, Family, Revisioned};

/// What a registration produced: revision, record, and the keys it wrote (revision,
/// family), for the change feed.
pub(crate) type Registered<V> = (u32, Record<V>, Vec<u8>, Vec<u8>);

/// Registers the next revision of `family` in `tx`. Everything that can fail is checked
/// before the first write, so a refused registration writes nothing and takes no number.
/// Reads see pending writes, so two registrations of one family get consecutive numbers.
pub(crate) fn register<V, E>(
    tx: &mut WriteTx<'_>,
    family: &str,
    build: impl FnOnce(u32) -> Result<V, E>,
) -> Result<Registered<V>, E>
where
    V: Revisioned,
    E: From<StoreError>,
{
    let family_key = AsKey::<String>::encode_key(family);
    let families_table = TableId::TaskDefinitionFamilies.tree_name();
    let old = tx
        .get(TableId::TaskDefinitionFamilies, &family_key)?
        .map(|bytes| record::decode::<Family>(families_table, &family_key, &bytes))
        .transpose()?;
    let generation = old.as_ref().map_or(0, |r| r.generation);
    let mut meta = old.map(|r| r.value).unwrap_or_default();
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
    let record_bytes = record::encode(TableId::TaskDefinitions.tree_name(), &record)?;
    let meta_bytes = record::encode(families_table, &meta)?;
    let revision_key = AsKey::<(String, u32)>::encode_key(&(family, revision));
    tx.put(TableId::TaskDefinitions, &revision_key, record_bytes);
    tx.put(
        TableId::TaskDefinitionStatus,
        &revision_key,
        encode_status(record.value.status()),
    );
    tx.put(TableId::TaskDefinitionFamilies, &family_key, meta_bytes);
    Ok((revision, record, revision_key, family_key))
}
