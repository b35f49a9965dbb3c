//! Store format versions and the migrations between them, run by `Store::open`.
//!
//! The format version lives under `format_version` in the `meta` tree (4 bytes,
//! big-endian). History:
//! - 0: the prototype layout. Values were bare JSON (no envelope, so no generation), and
//!   the next revision of a family was "highest stored + 1", which reused a number after
//!   the newest revision was deleted. A version-0 store has no `format_version` key.
//! - 1: every value in a [`Record`] envelope; families carry a revision counter that
//!   never decreases.
//! - 2: the `task_definition_status` index ((family, revision) → status), written in the
//!   same transactions as the revisions, so ListTaskDefinitions pages without reading
//!   revision records. A version-1 store has no such tree (or an empty one).
//! - 3: writes are made durable by kubecs's own write-ahead log (`wal/` beside `sled/`),
//!   and sled is only brought up to date with it in the background and at checkpoints. The
//!   data in sled is laid out as in format 2, but after a crash the newest acknowledged
//!   writes may be in the log only, so a build that does not replay the log must not open
//!   the store. The 2 → 3 step changes nothing: a format-2 store has no log to replay.
//! - 4: every region has its own data. Each table moves to the tree
//!   `regional/<table>` with keys that start with the region's name; log records and the
//!   checkpoint carry the store's digest (`digest`), which `Store::open` checks sled
//!   against. The 3 → 4 step replays the format-3 log onto the old trees, copies them
//!   into the new ones under `StoreOptions::legacy_region` (the one region a format-3
//!   kubecs served), starts a format-4 log at the same LSN with the digest of what it
//!   copied, and then drops the old trees.
//!
//! Each step is idempotent and the version is bumped (and flushed) only after its step is
//! durable, so a crash in the middle of a migration redoes the step on the next open.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::digest;
use crate::durability;
use crate::error::{OpenError, StoreError};
use crate::feed::TableId;
use crate::key::{printable, Key};
use crate::record::{self, Record, RECORD_SCHEMA_VERSION};
use crate::region::scope_of;
use crate::table::decode_key;
use crate::task_definitions::{self, Family};
use crate::wal::{self, Checkpoint, Layout};

/// The format this build writes.
pub const FORMAT_VERSION: u32 = 4;

/// What `prepare` left for `Store::open` to do.
#[derive(Debug)]
pub(crate) enum Prepared {
    /// A new, empty store: start the log.
    New,
    /// A store of this format whose log starts at this checkpoint: recover and verify it.
    Existing(Checkpoint),
}

/// Brings the store in `dir` to [`FORMAT_VERSION`] and tells what kind of open follows.
/// Refuses a sled without data next to a log that has a history, and a log without a
/// checkpoint next to a sled that has data: one of them was deleted or replaced.
pub(crate) fn prepare(
    db: &sled::Db,
    dir: &Path,
    wal_dir: &Path,
    legacy_region: &str,
) -> Result<Prepared, OpenError> {
    let sled_err = |e| OpenError::sled(dir, e);
    let damage = |e: wal::LogDamage| OpenError::damaged(dir, e.to_string());
    let checkpoint = wal::read_checkpoint(wal_dir).map_err(damage)?;
    let has_log = checkpoint.is_some()
        || !wal::segments(wal_dir)
            .map_err(|e| {
                damage(wal::LogDamage::Io {
                    path: wal_dir.to_path_buf(),
                    source: e,
                })
            })?
            .is_empty();
    let version = stored_version(db).map_err(|source| OpenError::Migration {
        dir: dir.to_path_buf(),
        from: 0,
        source,
    })?;
    let version = match version {
        Some(v) => v,
        None if is_empty(db).map_err(sled_err)? => {
            if has_log {
                return Err(OpenError::damaged(
                    dir,
                    format!(
                        "sled's files in {} are missing or empty, but the write-ahead log in {} holds the store's history",
                        dir.join(crate::store::SLED_DIR).display(),
                        wal_dir.display()
                    ),
                ));
            }
            set_version(db, FORMAT_VERSION).map_err(sled_err)?;
            return Ok(Prepared::New);
        }
        None => 0,
    };
    if version > FORMAT_VERSION {
        return Err(OpenError::TooNew {
            dir: dir.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version == FORMAT_VERSION {
        return match checkpoint {
            Some((checkpoint, Layout::Current)) => {
                drop_legacy_trees(db).map_err(sled_err)?;
                Ok(Prepared::Existing(checkpoint))
            }
            // A new store whose first open stopped before it started the log.
            None if !has_log && is_empty(db).map_err(sled_err)? => Ok(Prepared::New),
            _ => Err(OpenError::damaged(
                dir,
                wal::LogDamage::MissingCheckpoint {
                    path: wal_dir.join(wal::CHECKPOINT_FILE),
                }
                .to_string(),
            )),
        };
    }
    run_legacy_steps(db, dir, version)?;
    let fail = |source| OpenError::Migration {
        dir: dir.to_path_buf(),
        from: 3,
        source,
    };
    let checkpoint = match checkpoint {
        // An earlier open got as far as starting the format-4 log, then stopped.
        Some((checkpoint, Layout::Current)) => checkpoint,
        Some((checkpoint, Layout::V3)) => {
            let last = replay_v3(db, dir, wal_dir, checkpoint)?;
            to_regional(db, dir, wal_dir, legacy_region, last).map_err(fail)?
        }
        None if version == 3 => {
            return Err(OpenError::damaged(
                dir,
                wal::LogDamage::MissingCheckpoint {
                    path: wal_dir.join(wal::CHECKPOINT_FILE),
                }
                .to_string(),
            ))
        }
        // Formats before 3 had no log.
        None => to_regional(db, dir, wal_dir, legacy_region, 0).map_err(fail)?,
    };
    set_version(db, FORMAT_VERSION).map_err(|e| fail(e.into()))?;
    drop_legacy_trees(db).map_err(sled_err)?;
    Ok(Prepared::Existing(checkpoint))
}

/// The 0 → 1 → 2 → 3 steps, each bumping the version once durable.
fn run_legacy_steps(db: &sled::Db, dir: &Path, found: u32) -> Result<(), OpenError> {
    for from in found..3 {
        tracing::info!(dir = %dir.display(), from, to = from + 1, "migrating store format");
        let step = match from {
            0 => v0_to_v1,
            1 => v1_to_v2,
            _ => v2_to_v3,
        };
        let fail = |source| OpenError::Migration {
            dir: dir.to_path_buf(),
            from,
            source,
        };
        step(db).map_err(fail)?;
        db.flush().map_err(|e| fail(e.into()))?;
        set_version(db, from + 1).map_err(|e| fail(e.into()))?;
    }
    Ok(())
}

/// The format-3 trees, under their old names.
fn legacy_trees(db: &sled::Db) -> sled::Result<Vec<sled::Tree>> {
    TableId::ALL
        .iter()
        .map(|id| db.open_tree(id.tree_name()))
        .collect()
}

/// Replays a format-3 log onto the old trees; returns its last LSN.
fn replay_v3(
    db: &sled::Db,
    dir: &Path,
    wal_dir: &Path,
    checkpoint: Checkpoint,
) -> Result<u64, OpenError> {
    let trees = legacy_trees(db).map_err(|e| OpenError::sled(dir, e))?;
    let recovered = wal::recover(wal_dir, checkpoint, Layout::V3, |op| {
        durability::apply(&trees, op).map_err(std::io::Error::other)
    })
    .map_err(|damage| OpenError::damaged(dir, damage.to_string()))?;
    db.flush().map_err(|e| OpenError::sled(dir, e))?;
    Ok(recovered.last.lsn)
}

/// 3 → 4: copies every old tree into its regional tree under `region`, and starts the
/// format-4 log at `last_lsn` with the digest of the copy. Starts from empty regional
/// trees, so a re-run after a crash half-way copies again whole.
fn to_regional(
    db: &sled::Db,
    dir: &Path,
    wal_dir: &Path,
    region: &str,
    last_lsn: u64,
) -> Result<Checkpoint, StoreError> {
    tracing::info!(dir = %dir.display(), region, "migrating store format 3 to 4: the data becomes region {region}'s");
    let scope = scope_of(region);
    let mut trees = Vec::new();
    for id in TableId::ALL {
        let old = db.open_tree(id.tree_name())?;
        let new = db.open_tree(id.sled_tree())?;
        new.clear()?;
        let mut batch = sled::Batch::default();
        let mut pending = 0;
        for entry in old.iter() {
            let (key, value) = entry?;
            batch.insert([scope.as_slice(), &key].concat(), value);
            pending += 1;
            if pending == INDEX_BATCH {
                new.apply_batch(std::mem::take(&mut batch))?;
                pending = 0;
            }
        }
        new.apply_batch(batch)?;
        trees.push(new);
    }
    db.flush()?;
    let checkpoint = Checkpoint {
        lsn: last_lsn,
        digest: digest::scan(&trees)?,
    };
    wal::start(wal_dir, checkpoint).map_err(|e| StoreError::Unavailable(e.to_string().into()))?;
    Ok(checkpoint)
}

/// Drops the format-3 trees once the store is format 4.
fn drop_legacy_trees(db: &sled::Db) -> sled::Result<()> {
    for id in TableId::ALL {
        db.drop_tree(id.tree_name())?;
    }
    Ok(())
}

pub(crate) const META_TREE: &str = "meta";
pub(crate) const FORMAT_KEY: &[u8] = b"format_version";

fn stored_version(db: &sled::Db) -> Result<Option<u32>, StoreError> {
    let Some(bytes) = db.open_tree(META_TREE)?.get(FORMAT_KEY)? else {
        return Ok(None);
    };
    let bytes: [u8; 4] = bytes.as_ref().try_into().map_err(|_| StoreError::Corrupt {
        table: META_TREE,
        key: printable(FORMAT_KEY),
        reason: format!("expected 4 bytes, found {}", bytes.len()),
    })?;
    Ok(Some(u32::from_be_bytes(bytes)))
}

fn set_version(db: &sled::Db, version: u32) -> sled::Result<()> {
    db.open_tree(META_TREE)?
        .insert(FORMAT_KEY, &version.to_be_bytes())?;
    db.flush()?;
    Ok(())
}

/// Whether neither the old trees nor the regional ones hold anything.
fn is_empty(db: &sled::Db) -> sled::Result<bool> {
    for id in TableId::ALL {
        if !db.open_tree(id.tree_name())?.is_empty() || !db.open_tree(id.sled_tree())?.is_empty() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether a stored JSON value is already a version-1 envelope (a re-run after a crash).
fn is_envelope(v: &serde_json::Value) -> bool {
    v.get("schema_version").is_some_and(|s| s.is_u64())
        && v.get("generation").is_some_and(|g| g.is_u64())
        && v.get("value").is_some()
}

/// 0 → 1: wrap bare values in envelopes, then rebuild the family counters from the
/// revisions present (the best a version-0 store can tell us).
fn v0_to_v1(db: &sled::Db) -> Result<(), StoreError> {
    for id in TableId::ALL {
        // Families are rebuilt below; the status index holds no records (and is built by
        // the next step).
        if matches!(
            id,
            TableId::TaskDefinitionFamilies | TableId::TaskDefinitionStatus
        ) {
            continue;
        }
        let tree = db.open_tree(id.tree_name())?;
        let mut batch = sled::Batch::default();
        for entry in tree.iter() {
            let (key, bytes) = entry?;
            let value: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                    table: id.tree_name(),
                    key: printable(&key),
                    reason: e.to_string(),
                })?;
            if is_envelope(&value) {
                continue;
            }
            let wrapped = Record {
                schema_version: RECORD_SCHEMA_VERSION,
                generation: 1,
                observed_generation: 0,
                value,
            };
            batch.insert(key, record::encode(id.tree_name(), &wrapped)?);
        }
        tree.apply_batch(batch)?;
    }

    let revisions = db.open_tree(TableId::TaskDefinitions.tree_name())?;
    let mut families: BTreeMap<String, Family> = BTreeMap::new();
    for entry in revisions.iter() {
        let (key, bytes) = entry?;
        let (family, revision) = decode_key::<(String, u32)>(TableId::TaskDefinitions, &key)?;
        let record: Record<serde_json::Value> =
            record::decode(TableId::TaskDefinitions.tree_name(), &key, &bytes)?;
        let meta = families.entry(family).or_default();
        meta.last_revision = meta.last_revision.max(revision);
        meta.revisions += 1;
        // The stored value is the ECS wire form, whose status is the string "ACTIVE".
        if record.value.get("status").and_then(|s| s.as_str()) == Some(task_definitions::ACTIVE) {
            meta.active_revisions += 1;
        }
    }
    let family_tree = db.open_tree(TableId::TaskDefinitionFamilies.tree_name())?;
    let mut batch = sled::Batch::default();
    for (family, meta) in families {
        let record = Record {
            schema_version: RECORD_SCHEMA_VERSION,
            generation: 1,
            observed_generation: 0,
            value: meta,
        };
        batch.insert(
            family.encode(),
            record::encode(TableId::TaskDefinitionFamilies.tree_name(), &record)?,
        );
    }
    family_tree.apply_batch(batch)?;
    Ok(())
}

/// What the 1 → 2 step reads of a revision: only its `status` (serde skips the rest of
/// the JSON without building it). Kept as a JSON value, so a missing, null or non-string
/// status indexes as the empty string, as `Revisioned::status` has it for no status,
/// instead of failing the open.
#[derive(Deserialize)]
struct StatusOnly {
    #[serde(default)]
    status: Option<serde_json::Value>,
}

/// Index entries written per batch by the 1 → 2 step: bounds the batch's own memory
/// (~60 bytes an entry) however many revisions the store has. (The step's resident memory
/// is dominated by sled reading the whole revisions tree; bench/JOURNAL.md has figures.)
const INDEX_BATCH: usize = 10_000;

/// 1 → 2: build the status index from the revisions. Starts from an empty index, so a
/// re-run after a crash half-way (the version is still 1) rebuilds it whole; nothing else
/// writes while a store is being opened, so the revisions cannot move under it.
fn v1_to_v2(db: &sled::Db) -> Result<(), StoreError> {
    let revisions = db.open_tree(TableId::TaskDefinitions.tree_name())?;
    let index = db.open_tree(TableId::TaskDefinitionStatus.tree_name())?;
    index.clear()?;
    let mut batch = sled::Batch::default();
    let mut pending = 0;
    for entry in revisions.iter() {
        let (key, bytes) = entry?;
        // The key must be a revision key: the index shares it, and pages decode it.
        decode_key::<(String, u32)>(TableId::TaskDefinitions, &key)?;
        let record: Record<StatusOnly> =
            record::decode(TableId::TaskDefinitions.tree_name(), &key, &bytes)?;
        let status = record
            .value
            .status
            .as_ref()
            .and_then(|s| s.as_str())
            .unwrap_or("");
        batch.insert(key, task_definitions::encode_status(status));
        pending += 1;
        if pending == INDEX_BATCH {
            index.apply_batch(std::mem::take(&mut batch))?;
            pending = 0;
        }
    }
    index.apply_batch(batch)?;
    Ok(())
}

/// 2 → 3: nothing to convert (see the module documentation); the version bump is the
/// point, so that older builds refuse a store whose newest writes may be in the log only.
fn v2_to_v3(_: &sled::Db) -> Result<(), StoreError> {
    Ok(())
}
