//! `Table<K, V>`: a typed view of one sled tree within one region — point reads, atomic
//! read-modify-write, the reconciler's compare-and-set, and key-ordered pages.
//!
//! The key type is a parameter next to the value type so that a table's key shape
//! (cluster name; (cluster, service); (family, revision)) is checked by the compiler
//! rather than by convention. Every stored key starts with the region's encoded name (its
//! *scope*, see `Region`); a table adds it on the way in and strips it on the way out, so
//! keys, pages and page tokens above this module never carry it.

use std::marker::PhantomData;
use std::ops::Bound;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::StoreError;
use crate::feed::TableId;
use crate::key::{printable, AsKey, Key, KeyPrefix};
use crate::record::{self, Record, Write};
use crate::region::Region;
use crate::token::PageToken;

/// Listing direction by key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    Ascending,
    Descending,
}

/// One page of a listing, in key order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<K, V> {
    pub items: Vec<(K, Record<V>)>,
    /// Present when more entries may follow; encode it with the list kind.
    pub next_token: Option<PageToken>,
}

/// One page of a listing that needs only keys (ListTaskDefinitions answers ARNs, which
/// the key alone gives), in listing order.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPage<K> {
    pub items: Vec<K>,
    /// Present when more entries may follow; encode it with the list kind.
    pub next_token: Option<PageToken>,
}

/// Outcome of `compare_and_set_observed`.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed<V> {
    /// Written: `observed_generation` is now the expected generation.
    Applied(Record<V>),
    /// Refused: the desired state moved on to `generation` since the reconciler read it.
    Stale { generation: u64 },
    /// Refused: the record is gone.
    Missing,
}

/// How many entries a filtered page may examine before it returns what it has with a
/// token (ECS allows short pages). This keeps a page's cost bounded by the page size even
/// when the filter matches nothing.
fn scan_budget(limit: usize) -> usize {
    limit.saturating_mul(10).max(1000)
}

/// A typed table of one region; cheap to clone.
pub struct Table<K, V> {
    region: Region,
    id: TableId,
    tree: sled::Tree,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for Table<K, V> {
    fn clone(&self) -> Self {
        Table {
            region: self.region.clone(),
            id: self.id,
            tree: self.tree.clone(),
            _types: PhantomData,
        }
    }
}

impl<K, V> std::fmt::Debug for Table<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Table({})", self.id.tree_name())
    }
}

impl<K, V> Table<K, V> {
    pub(crate) fn new(region: Region, id: TableId, tree: sled::Tree) -> Self {
        Table {
            region,
            id,
            tree,
            _types: PhantomData,
        }
    }

    /// The stored key of `key`: the region's scope, then the key.
    pub(crate) fn full_key<Q: AsKey<K>>(&self, key: Q) -> Vec<u8> {
        let mut out = self.region.scope().to_vec();
        key.encode_key_into(&mut out);
        out
    }

    /// The key without the region's scope.
    pub(crate) fn strip<'a>(&self, full: &'a [u8]) -> &'a [u8] {
        full.get(self.region.scope().len()..).unwrap_or_default()
    }
}

impl<K: Key, V: Serialize + DeserializeOwned> Table<K, V> {
    pub fn id(&self) -> TableId {
        self.id
    }

    fn name(&self) -> &'static str {
        self.id.tree_name()
    }

    pub(crate) fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    pub(crate) fn region(&self) -> &Region {
        &self.region
    }

    /// The record at `key`, if any, as of the last durable write: a write becomes
    /// visible here once it is on disk, just before its writer is answered.
    pub fn get<Q: AsKey<K>>(&self, key: Q) -> Result<Option<Record<V>>, StoreError> {
        let key = self.full_key(key);
        self.tree
            .get(&key)?
            .map(|bytes| record::decode(self.name(), &key, &bytes))
            .transpose()
    }

    /// Atomically reads the record at `key`, lets `f` decide, and applies its `Write`:
    /// a [`Region::transaction`] of one update (see [`Tx::update`]). Returns once the
    /// write — and whatever `f` saw — is durable.
    pub async fn update<Q, F, R, E>(&self, key: Q, f: F) -> Result<R, E>
    where
        Q: AsKey<K>,
        F: FnOnce(Option<&Record<V>>) -> Result<(Write<V>, R), E>,
        E: From<StoreError>,
    {
        self.region.transaction(|tx| tx.update(self, key, f)).await
    }

    /// The reconciler's write: records that it acted on `expected_generation`, and lets
    /// `f` update observed status in the value (`None` keeps the value). Refused without
    /// calling `f` if the generation moved on, so a slow reconciler never overwrites a
    /// newer desire. Never bumps `generation`.
    pub async fn compare_and_set_observed<Q, F, E>(
        &self,
        key: Q,
        expected_generation: u64,
        f: F,
    ) -> Result<Observed<V>, E>
    where
        Q: AsKey<K>,
        F: FnOnce(&V) -> Result<Option<V>, E>,
        E: From<StoreError>,
    {
        self.region
            .transaction(|tx| tx.set_observed(self, key, expected_generation, f))
            .await
    }

    /// Up to `limit` records with keys under `prefix`, ascending, resuming after `after`.
    pub fn page(
        &self,
        prefix: &KeyPrefix,
        after: Option<&PageToken>,
        limit: usize,
    ) -> Result<Page<K, V>, StoreError> {
        self.page_where(prefix, after, limit, Order::Ascending, |_, _| true)
    }

    /// A page in either order, keeping only records `filter` accepts. A filtered page may
    /// hold fewer than `limit` items yet carry a token (see [`scan_budget`]). A `limit` of
    /// 0 is treated as 1; callers enforce ECS's `maxResults` bounds and defaults.
    pub fn page_where<F>(
        &self,
        prefix: &KeyPrefix,
        after: Option<&PageToken>,
        limit: usize,
        order: Order,
        mut filter: F,
    ) -> Result<Page<K, V>, StoreError>
    where
        F: FnMut(&K, &Record<V>) -> bool,
    {
        let (items, next_token) = walk_page(
            &self.tree,
            self.region.scope(),
            prefix,
            after,
            limit,
            order,
            |key_bytes, value| {
                let key = decode_key(self.id, self.strip(key_bytes))?;
                let record = record::decode(self.name(), key_bytes, value)?;
                Ok(filter(&key, &record).then_some((key, record)))
            },
        )?;
        Ok(Page { items, next_token })
    }

    /// Every record of the region, in key order: the reconciler's full resync.
    pub fn scan_all(&self) -> impl Iterator<Item = Result<(K, Record<V>), StoreError>> + '_ {
        self.tree
            .scan_prefix(self.region.scope())
            .map(move |entry| {
                let (k, v) = entry?;
                let key = decode_key(self.id, self.strip(&k))?;
                Ok((key, record::decode(self.name(), &k, &v)?))
            })
    }

    /// Every record with a key under `prefix`, in key order: for small listings kept
    /// whole (a cluster's container instance records).
    pub fn scan_prefix(
        &self,
        prefix: &KeyPrefix,
    ) -> impl Iterator<Item = Result<(K, Record<V>), StoreError>> + '_ {
        self.tree
            .scan_prefix(prefix.within(self.region.scope()).as_bytes())
            .map(move |entry| {
                let (k, v) = entry?;
                let key = decode_key(self.id, self.strip(&k))?;
                Ok((key, record::decode(self.name(), &k, &v)?))
            })
    }

    /// Number of records in the region (walks the table; for tests and tools, not
    /// request paths).
    pub fn count(&self) -> usize {
        self.tree.scan_prefix(self.region.scope()).count()
    }
}

/// A stored key of `table`, typed; a key that does not decode is corruption.
pub(crate) fn decode_key<K: Key>(table: TableId, bytes: &[u8]) -> Result<K, StoreError> {
    K::decode(bytes).map_err(|e| StoreError::Corrupt {
        table: table.tree_name(),
        key: printable(bytes),
        reason: e.to_string(),
    })
}

/// The walk behind every page, over any tree whose keys are listing keys: up to `limit`
/// items that `examine` makes of the entries (`None` skips an entry; it gets the stored
/// key, scope included), in `order`, resuming strictly after `after`, all within `scope`.
/// Returns the items and the token for the next page (which holds keys without the
/// scope).
///
/// It is separate from [`Table::page_where`] so that an index tree (whose values are not
/// records) pages with exactly the same token, budget and short-page rules as the table
/// it indexes — a token from one resumes the other, as their keys are the same.
pub(crate) fn walk_page<T, F>(
    tree: &sled::Tree,
    scope: &[u8],
    prefix: &KeyPrefix,
    after: Option<&PageToken>,
    limit: usize,
    order: Order,
    mut examine: F,
) -> Result<(Vec<T>, Option<PageToken>), StoreError>
where
    F: FnMut(&[u8], &[u8]) -> Result<Option<T>, StoreError>,
{
    let prefix = prefix.within(scope);
    let after = after.map(|token| PageToken::after([scope, token.last_key()].concat()));
    let Some((lower, upper)) = range(&prefix, after.as_ref(), order) else {
        return Ok((Vec::new(), None));
    };
    let token =
        |full: sled::IVec| PageToken::after(full.get(scope.len()..).unwrap_or_default().to_vec());
    let range = tree.range::<Vec<u8>, _>((lower, upper));
    let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = match order {
        Order::Ascending => Box::new(range),
        Order::Descending => Box::new(range.rev()),
    };
    let limit = limit.max(1);
    let budget = scan_budget(limit);
    let mut items = Vec::with_capacity(limit.min(1024));
    let mut last_item: Option<sled::IVec> = None;
    let mut last_examined: Option<sled::IVec> = None;
    for (scanned, entry) in entries.enumerate() {
        let (key_bytes, value_bytes) = entry?;
        if scanned == budget {
            let resume = last_examined.map(token);
            return Ok((items, resume));
        }
        if let Some(item) = examine(&key_bytes, &value_bytes)? {
            if items.len() == limit {
                // A further match exists, so the client gets a token.
                let resume = last_item.map(token);
                return Ok((items, resume));
            }
            items.push(item);
            last_item = Some(key_bytes.clone());
        }
        last_examined = Some(key_bytes);
    }
    Ok((items, None))
}

type Range = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The sled range for a page, or `None` when the token lies past the end of the prefix
/// (e.g. the client changed `familyPrefix` between calls): an empty last page.
fn range(prefix: &KeyPrefix, after: Option<&PageToken>, order: Order) -> Option<Range> {
    let start = prefix.as_bytes().to_vec();
    let end = prefix.upper_bound();
    let mut lower = Bound::Included(start.clone());
    let mut upper = end.clone().map_or(Bound::Unbounded, Bound::Excluded);
    if let Some(token) = after {
        let last = token.last_key();
        match order {
            Order::Ascending => {
                if end.as_deref().is_some_and(|e| last >= e) {
                    return None;
                }
                if last >= start.as_slice() {
                    lower = Bound::Excluded(last.to_vec());
                }
            }
            Order::Descending => {
                if last <= start.as_slice() {
                    return None;
                }
                if end.as_deref().is_none_or(|e| last < e) {
                    upper = Bound::Excluded(last.to_vec());
                }
            }
        }
    }
    Some((lower, upper))
}
