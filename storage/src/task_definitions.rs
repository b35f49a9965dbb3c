//! Task-definition families and revisions.
//!
//! Three trees change together in one write (one log record): `task_definition_families`
//! (family → [`Family`], holding the revision counter), `task_definitions`
//! ((family, revision) → value) and `task_definition_status` ((family, revision) → the
//! revision's status, an index). The counter only ever grows, so a revision number is
//! never handed out twice, even after its revision is deleted; writes are decided one at
//! a time on the newest state, so concurrent registrations each get the next number.
//!
//! The status index exists for ListTaskDefinitions: a page filters by status and answers
//! keys only, so it walks the index (~25 bytes an entry) instead of decoding whole
//! revisions (~1.5 KB of JSON each), which in a store larger than the page cache also
//! means reading them back from the log. Because it is written in the same records as the
//! revisions it can never disagree with them, not even after a crash.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::feed::TableId;
use crate::key::{printable, KeyPrefix};
use crate::record::{self, Record, Write};
use crate::region::Region;
use crate::table::{decode_key, walk_page, KeyPage, Order, Page, Table};
use crate::token::PageToken;
use crate::transaction::Tx;

/// The status a revision counts as ACTIVE with (ECS's wire value).
pub(crate) const ACTIVE: &str = "ACTIVE";

/// A value stored as a task-definition revision: the store must know its status to keep
/// the status index (ListTaskDefinitions' status filter) and the family's counts
/// (ListTaskDefinitionFamilies' status filter) right.
pub trait Revisioned: Serialize + DeserializeOwned {
    /// The revision's status as its wire string (`ACTIVE`, `INACTIVE`,
    /// `DELETE_IN_PROGRESS`); the empty string for a value without one.
    ///
    /// It must be the value's serialized `status` field: the format migration that builds
    /// the index from an older store reads that field from the stored JSON, without the
    /// Rust type.
    fn status(&self) -> &str;

    /// Whether the revision counts as ACTIVE for its family; derived from `status` so the
    /// index and the family counts cannot disagree.
    fn is_active(&self) -> bool {
        self.status() == ACTIVE
    }
}

/// The stored form of a status index entry: the status string's UTF-8 bytes, bare.
///
/// Not a [`Record`] envelope, on purpose: an entry has no generation of its own (the
/// revision record holds it), its shape is versioned by the store format (a change means a
/// migration step that rebuilds it, as the 1 → 2 step builds it), and the envelope's JSON
/// (`{"schema_version":1,"generation":1,...,"value":"ACTIVE"}`, ~80 bytes) would triple
/// the entry and cost a JSON parse per entry a page examines (up to 1,000 for a short
/// page), where this costs a UTF-8 check. Measured with the envelope instead, the
/// listing was slower per page, used more memory and took more disk (bench/JOURNAL.md).
pub(crate) fn encode_status(status: &str) -> &[u8] {
    status.as_bytes()
}

/// Reads an index entry written by [`encode_status`].
pub(crate) fn decode_status<'a>(
    table: TableId,
    key: &[u8],
    bytes: &'a [u8],
) -> Result<&'a str, StoreError> {
    std::str::from_utf8(bytes).map_err(|e| StoreError::Corrupt {
        table: table.tree_name(),
        key: printable(key),
        reason: e.to_string(),
    })
}

/// Bookkeeping of one family.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// The highest revision ever allocated; never decreases.
    pub last_revision: u32,
    /// Revisions currently stored (deleted ones are not counted).
    pub revisions: u32,
    /// Stored revisions that are ACTIVE.
    pub active_revisions: u32,
}

/// ListTaskDefinitionFamilies' `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FamilyStatus {
    /// Families with at least one ACTIVE revision.
    Active,
    /// Families with revisions but none ACTIVE.
    Inactive,
    /// Every family that still has a revision stored. ECS's default: "By default, both
    /// ACTIVE and INACTIVE task definition families are listed" (API reference).
    #[default]
    All,
}

impl FamilyStatus {
    fn accepts(self, family: &Family) -> bool {
        match self {
            FamilyStatus::Active => family.active_revisions > 0,
            FamilyStatus::Inactive => family.revisions > 0 && family.active_revisions == 0,
            FamilyStatus::All => family.revisions > 0,
        }
    }
}

/// The three tables a registry of revisions keeps (see the module documentation): task
/// definitions have theirs, daemon task definitions theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevisionTables {
    pub families: TableId,
    pub revisions: TableId,
    pub statuses: TableId,
}

impl RevisionTables {
    /// RegisterTaskDefinition's revisions.
    pub const TASK_DEFINITIONS: RevisionTables = RevisionTables {
        families: TableId::TaskDefinitionFamilies,
        revisions: TableId::TaskDefinitions,
        statuses: TableId::TaskDefinitionStatus,
    };
    /// RegisterDaemonTaskDefinition's revisions.
    pub const DAEMON_TASK_DEFINITIONS: RevisionTables = RevisionTables {
        families: TableId::DaemonTaskDefinitionFamilies,
        revisions: TableId::DaemonTaskDefinitions,
        statuses: TableId::DaemonTaskDefinitionStatus,
    };
}

/// The task-definition tables of a region over revision values `V`.
pub struct TaskDefinitions<V> {
    region: Region,
    ids: RevisionTables,
    families: Table<String, Family>,
    revisions: Table<(String, u32), V>,
    /// The status index (see the module documentation); raw values, so a bare tree.
    statuses: sled::Tree,
}

impl<V> Clone for TaskDefinitions<V> {
    fn clone(&self) -> Self {
        TaskDefinitions {
            region: self.region.clone(),
            ids: self.ids,
            families: self.families.clone(),
            revisions: self.revisions.clone(),
            statuses: self.statuses.clone(),
        }
    }
}

impl<V> std::fmt::Debug for TaskDefinitions<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskDefinitions")
    }
}

impl<V: Revisioned> TaskDefinitions<V> {
    pub(crate) fn new(region: Region, ids: RevisionTables) -> Self {
        TaskDefinitions {
            families: region.table(ids.families),
            revisions: region.table(ids.revisions),
            statuses: region.store().tree(ids.statuses),
            ids,
            region,
        }
    }

    /// Which tables these are.
    pub(crate) fn ids(&self) -> RevisionTables {
        self.ids
    }

    pub(crate) fn families_table(&self) -> &Table<String, Family> {
        &self.families
    }

    /// Registers the next revision of `family` in a transaction of its own (see
    /// [`Tx::register_revision`]). Returns the revision and its record once durable.
    pub async fn register_revision<F, E>(&self, family: &str, f: F) -> Result<(u32, Record<V>), E>
    where
        F: FnOnce(u32) -> Result<V, E>,
        E: From<StoreError>,
    {
        self.region
            .transaction(|tx| tx.register_revision(self, family, f))
            .await
    }

    /// Changes one revision in a transaction of its own (see [`Tx::update_revision`]).
    pub async fn update_revision<F, R, E>(&self, family: &str, revision: u32, f: F) -> Result<R, E>
    where
        F: FnOnce(Option<&Record<V>>) -> Result<(Write<V>, R), E>,
        E: From<StoreError>,
    {
        self.region
            .transaction(|tx| tx.update_revision(self, family, revision, f))
            .await
    }

    /// One revision.
    pub fn get(&self, family: &str, revision: u32) -> Result<Option<Record<V>>, StoreError> {
        self.revisions.get((family, revision))
    }

    /// The revision a reference names, as ECS resolves one: that revision whatever its
    /// status, or for a bare family the latest ACTIVE revision. `None` when there is none.
    pub fn by_reference(
        &self,
        reference: &kubecs_api_models::TaskDefinitionRef,
    ) -> Result<Option<Record<V>>, StoreError> {
        match reference.revision {
            Some(revision) => self.get(&reference.family, revision),
            None => Ok(self
                .latest(&reference.family, |value| value.is_active())?
                .map(|(_, record)| record)),
        }
    }

    /// The highest revision of `family` that `accept` takes (e.g. the latest ACTIVE one,
    /// for `DescribeTaskDefinition` given a bare family). Walks down from the newest.
    pub fn latest<F>(
        &self,
        family: &str,
        mut accept: F,
    ) -> Result<Option<(u32, Record<V>)>, StoreError>
    where
        F: FnMut(&V) -> bool,
    {
        for entry in self.revisions_of(family).rev() {
            let ((_, revision), record) = entry?;
            if accept(&record.value) {
                return Ok(Some((revision, record)));
            }
        }
        Ok(None)
    }

    fn revisions_of(
        &self,
        family: &str,
    ) -> impl DoubleEndedIterator<Item = Result<((String, u32), Record<V>), StoreError>> + '_ {
        let prefix = KeyPrefix::first(family).within(self.region.scope());
        let tree = self.revisions.tree();
        let range = match prefix.upper_bound() {
            Some(end) => tree.range(prefix.as_bytes().to_vec()..end),
            None => tree.range(prefix.as_bytes().to_vec()..),
        };
        range.map(|entry| {
            let (k, v) = entry?;
            let key = decode_key(self.ids.revisions, self.revisions.strip(&k))?;
            Ok((key, record::decode(self.ids.revisions.tree_name(), &k, &v)?))
        })
    }

    /// ListTaskDefinitions: revision keys ordered by family then revision number, both
    /// reversed for `Descending`; `family` restricts to one family (ECS's `familyPrefix`
    /// is documented as "the full family name"), `accept` is the status filter, given each
    /// revision's [`Revisioned::status`].
    ///
    /// Reads only the status index, never a revision record, so a page costs the same in a
    /// store of any size. Tokens are the same as a page of the revisions table would give
    /// (the index has the same keys), and follow [`Table::page_where`]'s rules: a filtered
    /// page may be short and still carry a token.
    pub fn page<F>(
        &self,
        family: Option<&str>,
        order: Order,
        after: Option<&PageToken>,
        limit: usize,
        mut accept: F,
    ) -> Result<KeyPage<(String, u32)>, StoreError>
    where
        F: FnMut(&str) -> bool,
    {
        let prefix = family.map_or_else(KeyPrefix::all, KeyPrefix::first);
        let statuses = self.ids.statuses;
        let (items, next_token) = walk_page(
            &self.statuses,
            self.region.scope(),
            &prefix,
            after,
            limit,
            order,
            |key, value| {
                if !accept(decode_status(statuses, key, value)?) {
                    return Ok(None);
                }
                decode_key(statuses, self.revisions.strip(key)).map(Some)
            },
        )?;
        Ok(KeyPage { items, next_token })
    }

    /// ListTaskDefinitionFamilies: family names in order, those starting with
    /// `family_prefix`, filtered by status.
    pub fn families(
        &self,
        family_prefix: Option<&str>,
        status: FamilyStatus,
        after: Option<&PageToken>,
        limit: usize,
    ) -> Result<Page<String, Family>, StoreError> {
        let prefix = family_prefix.map_or_else(KeyPrefix::all, KeyPrefix::starts_with);
        self.families
            .page_where(&prefix, after, limit, Order::Ascending, |_, r| {
                status.accepts(&r.value)
            })
    }

    /// A family's bookkeeping.
    pub fn family(&self, family: &str) -> Result<Option<Record<Family>>, StoreError> {
        self.families.get(family)
    }

    /// The revisions table, for `scan_all` and custom pages.
    pub fn revisions(&self) -> &Table<(String, u32), V> {
        &self.revisions
    }
}

impl Tx<'_, '_> {
    /// Announces a change of a revision and its family (stored keys, scope included) on
    /// the change feed; the status index is never announced on its own.
    pub(crate) fn announce_revision<V: Revisioned>(
        &mut self,
        tables: &TaskDefinitions<V>,
        revision_key: &[u8],
        family_key: &[u8],
    ) {
        let revision = tables.revisions().strip(revision_key).to_vec();
        let family = tables.families_table().strip(family_key).to_vec();
        self.changed(tables.ids().revisions, revision);
        self.changed(tables.ids().families, family);
    }

    /// Atomically changes one revision (deregister: `Put` it INACTIVE; delete: `Delete`),
    /// keeping its status index entry and the family's counts in step. The revision
    /// counter is left alone, so a deleted revision's number is never reused.
    pub fn update_revision<V, F, R, E>(
        &mut self,
        tables: &TaskDefinitions<V>,
        family: &str,
        revision: u32,
        f: F,
    ) -> Result<R, E>
    where
        V: Revisioned,
        F: FnOnce(Option<&Record<V>>) -> Result<(Write<V>, R), E>,
        E: From<StoreError>,
    {
        let ids = tables.ids();
        let revisions = tables.revisions();
        let families = tables.families_table();
        let revision_key = revisions.full_key((family, revision));
        let family_key = families.full_key(family);
        let raw = self.raw();
        let old_bytes = raw.get(ids.revisions, &revision_key)?;
        let old = old_bytes
            .as_ref()
            .map(|b| record::decode::<V>(ids.revisions.tree_name(), &revision_key, b))
            .transpose()?;
        let (write, result) = f(old.as_ref())?;
        let was_active = old.as_ref().is_some_and(|r| r.value.is_active());
        // The status is taken before `apply` consumes the value; a Delete has none (it
        // removes the index entry).
        let (is_present, is_active, status) = match &write {
            Write::Keep => return Ok(result),
            Write::Delete => (false, false, Vec::new()),
            Write::Put(v) => (true, v.is_active(), encode_status(v.status()).to_vec()),
        };
        if is_present && old.is_none() {
            // Creating a revision that was never allocated (or putting back a deleted
            // one) would break the counter: a later registration would be handed the
            // number and overwrite it, and the family's counts would drift.
            return Err(E::from(StoreError::Corrupt {
                table: ids.revisions.tree_name(),
                key: printable(&revision_key),
                reason: "update_revision may not create revisions; use register_revision".into(),
            }));
        }
        let old_pair = old_bytes.as_deref().zip(old.as_ref());
        let new = record::apply(ids.revisions.tree_name(), old_pair, write)?;
        let families_table = ids.families.tree_name();
        let Some(mut meta) = raw
            .get(ids.families, &family_key)?
            .map(|b| record::decode::<Family>(families_table, &family_key, &b))
            .transpose()?
        else {
            if new.is_none() {
                return Ok(result);
            }
            // Only a stored revision gets here (a Put of a missing one was refused
            // above, a Delete of one changes nothing), and a revision can only exist
            // under a family record that counted it.
            return Err(E::from(StoreError::Corrupt {
                table: families_table,
                key: printable(&family_key),
                reason: "revision stored without its family".into(),
            }));
        };
        // The index entry moves with the record, in this write: removed with it,
        // rewritten with every new version of it.
        match new {
            None => return Ok(result),
            Some(None) => {
                raw.remove(ids.revisions, &revision_key);
                raw.remove(ids.statuses, &revision_key);
            }
            Some(Some(bytes)) => {
                raw.put(ids.revisions, &revision_key, bytes);
                raw.put(ids.statuses, &revision_key, status);
            }
        }
        let was_present = old.is_some();
        // Saturating: counts are only bookkeeping for list filters, and a miscount must
        // not turn into a panic on a request path.
        meta.value.revisions = meta
            .value
            .revisions
            .saturating_add(u32::from(is_present))
            .saturating_sub(u32::from(was_present));
        meta.value.active_revisions = meta
            .value
            .active_revisions
            .saturating_add(u32::from(is_active))
            .saturating_sub(u32::from(was_active));
        meta.generation += 1;
        raw.put(
            ids.families,
            &family_key,
            record::encode(families_table, &meta)?,
        );
        self.announce_revision(tables, &revision_key, &family_key);
        Ok(result)
    }
}
