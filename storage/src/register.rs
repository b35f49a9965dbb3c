//! Registering task-definition revisions, many per sled transaction.
//!
//! A registration changes three trees atomically (the family's counter and counts, the
//! revision, its status index entry), which takes a sled transaction, and each sled
//! transaction costs two extra log writes and two wake-ups of sled's I/O thread pool (see
//! `combine`). Registrations waiting at the same time therefore go through the store's
//! [`Combiner`] and share one transaction. Each keeps its own outcome: a registration
//! whose closure refuses, or whose family is corrupt or out of numbers, writes nothing
//! and fails alone; only a storage error fails the whole batch.

use std::cell::RefCell;
use std::convert::Infallible;

use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use crate::combine::Runner;
use crate::error::StoreError;
use crate::feed::TableId;
use crate::key::AsKey;
use crate::record::{self, Record, RECORD_SCHEMA_VERSION};
use crate::task_definitions::{encode_status, Family, Revisioned};

/// One queued registration: the family, and the caller's closure that builds the value
/// from the allocated revision number (it may run again if sled retries the transaction).
pub(crate) struct Registration<V, E> {
    pub(crate) family: String,
    pub(crate) build: Box<dyn FnMut(u32) -> Result<V, E> + Send>,
}

/// What a registration produced: revision, record, and the keys it wrote (revision,
/// family), for the change feed.
pub(crate) type Registered<V, E> = Result<(u32, Record<V>, Vec<u8>, Vec<u8>), E>;

/// The batch runner over the families, revisions and status trees.
pub(crate) fn runner<V, E>(
    families: sled::Tree,
    revisions: sled::Tree,
    statuses: sled::Tree,
) -> Box<Runner<Registration<V, E>, Registered<V, E>>>
where
    V: Revisioned + Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    Box::new(move |batch| run(&families, &revisions, &statuses, batch))
}

fn run<V: Revisioned, E: From<StoreError>>(
    families: &sled::Tree,
    revisions: &sled::Tree,
    statuses: &sled::Tree,
    batch: Vec<Registration<V, E>>,
) -> Vec<Registered<V, E>> {
    let batch = RefCell::new(batch);
    let outcome = (families, revisions, statuses).transaction(|(fams, revs, stats)| {
        // Recomputed from scratch on every attempt: a retried transaction saw nothing.
        let mut batch = batch.borrow_mut();
        batch
            .iter_mut()
            .map(|registration| register_one(fams, revs, stats, registration))
            .collect::<Result<Vec<_>, _>>()
    });
    match outcome {
        Ok(outcomes) => outcomes,
        Err(TransactionError::Storage(e)) => batch
            .borrow()
            .iter()
            .map(|_| Err(E::from(StoreError::Sled(e.clone()))))
            .collect(),
        Err(TransactionError::Abort(never)) => match never {},
    }
}

/// Registers one revision inside the batch's transaction. Everything that can fail for
/// this registration alone is checked before its first write, so a failure leaves the
/// transaction as it found it. Reads see the batch's earlier writes, so two registrations
/// of one family get consecutive numbers.
fn register_one<V: Revisioned, E: From<StoreError>>(
    fams: &TransactionalTree,
    revs: &TransactionalTree,
    stats: &TransactionalTree,
    registration: &mut Registration<V, E>,
) -> Result<Registered<V, E>, ConflictableTransactionError<Infallible>> {
    let family = registration.family.as_str();
    let family_key = AsKey::<String>::encode_key(family);
    let families_table = TableId::TaskDefinitionFamilies.tree_name();
    let old = match fams.get(&family_key)? {
        Some(bytes) => match record::decode::<Family>(families_table, &family_key, &bytes) {
            Ok(record) => Some(record),
            Err(e) => return Ok(Err(E::from(e))),
        },
        None => None,
    };
    let generation = old.as_ref().map_or(0, |r| r.generation);
    let mut meta = old.map(|r| r.value).unwrap_or_default();
    let Some(revision) = meta.last_revision.checked_add(1) else {
        return Ok(Err(E::from(StoreError::RevisionsExhausted(
            family.to_owned(),
        ))));
    };
    let value = match (registration.build)(revision) {
        Ok(value) => value,
        Err(e) => return Ok(Err(e)),
    };
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
    let encoded = record::encode(TableId::TaskDefinitions.tree_name(), &record)
        .and_then(|revision| Ok((revision, record::encode(families_table, &meta)?)));
    let (record_bytes, meta_bytes) = match encoded {
        Ok(bytes) => bytes,
        Err(e) => return Ok(Err(E::from(e))),
    };
    let revision_key = AsKey::<(String, u32)>::encode_key(&(family, revision));
    revs.insert(revision_key.as_slice(), record_bytes)?;
    stats.insert(
        revision_key.as_slice(),
        encode_status(record.value.status()),
    )?;
    fams.insert(family_key.as_slice(), meta_bytes)?;
    Ok(Ok((revision, record, revision_key, family_key)))
}
