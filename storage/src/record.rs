//! The envelope every stored value lives in, and its encoding.
//!
//! Records are JSON. The values are ECS wire shapes whose serde form *is* JSON with the
//! ECS names, so JSON costs no mapping layer, stays readable in a debugger, and lets a
//! migration rewrite old records as `serde_json::Value` without the old Rust types. The
//! price (size, parse time) is small next to an HTTP round trip.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::key::printable;

/// Schema version stamped on records written by this build. Bump it, and add a step in
/// `migrate`, whenever the stored form of a record changes incompatibly.
pub const RECORD_SCHEMA_VERSION: u32 = 1;

/// A stored value with its bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record<V> {
    /// Version of the record's stored form (see [`RECORD_SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Bumped by every `Put` that changes the value: the version of the desired state.
    pub generation: u64,
    /// The generation the reconciler last acted on; written only through
    /// `compare_and_set_observed`. Zero for tables nobody reconciles.
    #[serde(default)]
    pub observed_generation: u64,
    pub value: V,
}

/// What an update closure asks the store to do with the key.
#[derive(Debug, Clone, PartialEq)]
pub enum Write<V> {
    /// Leave the key as it is.
    Keep,
    /// Store this value (bumping the generation if it differs from the stored one).
    Put(V),
    /// Remove the key.
    Delete,
}

pub(crate) fn encode<V: Serialize>(
    table: &'static str,
    record: &Record<V>,
) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(|source| StoreError::Encode { table, source })
}

pub(crate) fn decode<V: DeserializeOwned>(
    table: &'static str,
    key: &[u8],
    bytes: &[u8],
) -> Result<Record<V>, StoreError> {
    let record: Record<V> = serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        table,
        key: printable(key),
        reason: e.to_string(),
    })?;
    if record.schema_version > RECORD_SCHEMA_VERSION {
        return Err(StoreError::Corrupt {
            table,
            key: printable(key),
            reason: format!(
                "record schema version {} is newer than this build's {RECORD_SCHEMA_VERSION}",
                record.schema_version
            ),
        });
    }
    Ok(record)
}

/// Applies a `Write` to the previous record: the new record's bytes, or `None` to delete.
/// A `Put` of an identical value keeps the previous bytes, so the generation only moves
/// on a real change of desired state and the reconciler is not woken for nothing.
pub(crate) fn apply<V: Serialize>(
    table: &'static str,
    old: Option<(&[u8], &Record<V>)>,
    write: Write<V>,
) -> Result<Option<Option<Vec<u8>>>, StoreError> {
    // Outer None: nothing to write. Some(None): delete. Some(Some(b)): store b.
    match write {
        Write::Keep => Ok(None),
        Write::Delete => Ok(old.map(|_| None)),
        Write::Put(value) => {
            let (generation, observed_generation) = old
                .map(|(_, r)| (r.generation, r.observed_generation))
                .unwrap_or((0, 0));
            let mut record = Record {
                schema_version: RECORD_SCHEMA_VERSION,
                generation,
                observed_generation,
                value,
            };
            if let Some((old_bytes, _)) = old {
                if encode(table, &record)? == old_bytes {
                    return Ok(None);
                }
            }
            record.generation += 1;
            Ok(Some(Some(encode(table, &record)?)))
        }
    }
}
