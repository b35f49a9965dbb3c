//! The store's digest: one 64-bit number that summarises every key and value of every
//! table, so that `Store::open` can prove sled holds exactly what the log says was
//! acknowledged.
//!
//! It is the wrapping sum of a 64-bit hash of each entry (table, key, value). A sum does
//! not depend on order and can be kept up to date write by write: a write adds the hash of
//! each new entry and subtracts the hash of the entry it replaces. The committer does that
//! for every log record and writes the result into the record; at open, after the log is
//! replayed, a full scan of sled must give the digest of the last record. A scan that
//! disagrees means sled lost or changed entries behind the log's back: its files were
//! damaged, truncated or replaced (sled's own recovery drops everything after a damaged
//! message without a word).
//!
//! The hash is XXH3: fast enough that the scan costs about what reading the entries does,
//! and fixed by its specification, so a digest written by one build is read by the next.
//! It is a check against damage, not against an adversary who can write the data
//! directory.

use xxhash_rust::xxh3::Xxh3;

use crate::feed::TableId;

/// The hash of one entry.
pub(crate) fn entry(table: TableId, key: &[u8], value: &[u8]) -> u64 {
    let mut hasher = Xxh3::new();
    // Lengths first, so that no two (key, value) splits of the same bytes hash alike.
    hasher.update(&[table as u8]);
    hasher.update(&(key.len() as u64).to_le_bytes());
    hasher.update(key);
    hasher.update(value);
    hasher.digest()
}

/// The digest after replacing `old` with `new` at `key` (`None`: absent).
pub(crate) fn replace(
    digest: u64,
    table: TableId,
    key: &[u8],
    old: Option<&[u8]>,
    new: Option<&[u8]>,
) -> u64 {
    let without = old.map_or(digest, |v| digest.wrapping_sub(entry(table, key, v)));
    new.map_or(without, |v| without.wrapping_add(entry(table, key, v)))
}

/// The digest of everything in `trees` (one per `TableId`, in order), by a full scan.
pub(crate) fn scan(trees: &[sled::Tree]) -> sled::Result<u64> {
    let mut digest = 0u64;
    for (tree, &table) in trees.iter().zip(TableId::ALL.iter()) {
        for item in tree.iter() {
            let (key, value) = item?;
            digest = digest.wrapping_add(entry(table, &key, &value));
        }
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacing_an_entry_and_putting_it_back_restores_the_digest() {
        let start = entry(TableId::Clusters, b"a", b"1");
        let changed = replace(start, TableId::Clusters, b"a", Some(b"1"), Some(b"2"));
        assert_ne!(changed, start);
        assert_eq!(
            replace(changed, TableId::Clusters, b"a", Some(b"2"), Some(b"1")),
            start
        );
        assert_eq!(replace(start, TableId::Clusters, b"a", Some(b"1"), None), 0);
    }

    #[test]
    fn the_same_bytes_in_another_table_or_split_differently_hash_differently() {
        let a = entry(TableId::Clusters, b"ab", b"c");
        assert_ne!(a, entry(TableId::Services, b"ab", b"c"));
        assert_ne!(a, entry(TableId::Clusters, b"a", b"bc"));
    }

    #[test]
    fn the_hash_is_fixed_across_builds() {
        // A digest is written to disk by one build and checked by the next: pin one value.
        assert_eq!(entry(TableId::Clusters, b"k", b"v"), 0x1dd6_4246_a25d_663c);
    }
}
