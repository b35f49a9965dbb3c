//! The write-ahead log seen from the store's API: atomic transactions, checkpoints and a
//! clean close. (Recovery after `kill -9` is `crash.rs`; the log's format and replay
//! rules are unit-tested in `src/wal.rs`.)
// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{clusters, services, task_definitions, TestError, Thing};
use kubecs_storage::{KeyPrefix, Store, StoreOptions, Write};

/// The log segments in the data directory `dir`, with their lengths.
fn segments(dir: &Path) -> Vec<(String, u64)> {
    let mut found: Vec<(String, u64)> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(Result::unwrap)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    found.sort();
    found
}

/// One transaction changes several tables as one write: its closure sees its own
/// changes, and after it returns all of them are there together (one log sync).
#[tokio::test]
async fn a_transaction_writes_several_tables_at_once() {
    let (_dir, store) = common::open();
    let (clusters, services) = (clusters(&store), services(&store));
    let syncs = store.flush_count();
    let seen = common::region(&store)
        .transaction(|tx| {
            tx.update(&clusters, "c", |_| {
                Ok::<_, TestError>((Write::Put(Thing::active(1)), ()))
            })?;
            tx.update(&services, ("c", "s"), |_| {
                Ok::<_, TestError>((Write::Put(Thing::active(2)), ()))
            })?;
            // A later step decides on an earlier one.
            Ok::<_, TestError>(tx.get(&clusters, "c")?.map(|r| r.value.count))
        })
        .await
        .unwrap();
    assert_eq!(seen, Some(1));
    assert_eq!(
        store.flush_count() - syncs,
        1,
        "one sync for the whole write"
    );
    assert_eq!(clusters.get("c").unwrap().unwrap().value, Thing::active(1));
    assert_eq!(
        services.get(("c", "s")).unwrap().unwrap().value,
        Thing::active(2)
    );
}

/// `any_under` answers for the state the write sees: what is stored, less what this write
/// removed, plus what it added; a prefix is a whole first component ("c" is not "cc").
#[tokio::test]
async fn a_transaction_sees_whether_a_table_holds_records_under_a_prefix() {
    let (_dir, store) = common::open();
    let services = services(&store);
    for key in [("c", "s"), ("cc", "s")] {
        services
            .update(key, |_| {
                Ok::<_, TestError>((Write::Put(Thing::active(1)), ()))
            })
            .await
            .unwrap();
    }
    let (c, d) = (KeyPrefix::first("c"), KeyPrefix::first("d"));
    let seen = common::region(&store)
        .transaction(|tx| {
            let stored = (tx.any_under(&services, &c)?, tx.any_under(&services, &d)?);
            tx.update(&services, ("c", "s"), |_| {
                Ok::<_, TestError>((Write::Delete, ()))
            })?;
            tx.update(&services, ("d", "s"), |_| {
                Ok::<_, TestError>((Write::Put(Thing::active(2)), ()))
            })?;
            let written = (tx.any_under(&services, &c)?, tx.any_under(&services, &d)?);
            Ok::<_, TestError>((stored, written))
        })
        .await
        .unwrap();
    assert_eq!(seen, ((true, false), (false, true)));
    // The next write sees the same as the last one left it.
    let after = common::region(&store)
        .transaction(|tx| {
            Ok::<_, TestError>((tx.any_under(&services, &c)?, tx.any_under(&services, &d)?))
        })
        .await
        .unwrap();
    assert_eq!(after, (false, true));
}

/// A transaction whose closure fails writes nothing, not even what it changed before
/// failing.
#[tokio::test]
async fn a_failed_transaction_writes_nothing() {
    let (_dir, store) = common::open();
    let (clusters, services) = (clusters(&store), services(&store));
    let result = common::region(&store)
        .transaction(|tx| {
            tx.update(&clusters, "c", |_| {
                Ok::<_, TestError>((Write::Put(Thing::active(1)), ()))
            })?;
            tx.update(&services, ("c", "s"), |_| {
                Err::<(Write<Thing>, ()), _>(TestError::Refused("no"))
            })
        })
        .await;
    assert!(matches!(result, Err(TestError::Refused("no"))));
    assert_eq!(clusters.get("c").unwrap(), None);
    // And the next write does not pick it up either.
    services
        .update(("c", "t"), |_| {
            Ok::<_, TestError>((Write::Put(Thing::active(3)), ()))
        })
        .await
        .unwrap();
    assert_eq!(clusters.get("c").unwrap(), None);
}

/// With small segments the log is checkpointed as it grows: old segments are deleted, and
/// every write is there after a reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_checkpointed_into_sled_and_old_segments_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        log_segment_bytes: 4096,
        ..StoreOptions::default()
    };
    let store = Store::open_with(dir.path(), &options).unwrap();
    let tds = task_definitions(&store);
    for i in 0..300u64 {
        tds.register_revision("web", move |_| Ok::<_, TestError>(Thing::active(i)))
            .await
            .unwrap();
    }
    // 300 records of ~150 bytes are ~11 segments' worth; all but the current one are gone.
    let open_segments = segments(dir.path());
    assert_eq!(open_segments.len(), 1, "{open_segments:?}");
    assert_ne!(
        open_segments[0].0,
        format!("{:020}.log", 1),
        "never rolled over"
    );
    drop(tds);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let tds = task_definitions(&store);
    for revision in 1..=300u32 {
        let record = tds.get("web", revision).unwrap().unwrap();
        assert_eq!(record.value.count, u64::from(revision - 1));
    }
}

/// Closing the store checkpoints: the next open has nothing to replay (one empty
/// segment), and the writes are in sled.
#[tokio::test]
async fn a_clean_close_leaves_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    clusters(&store)
        .update("c", |_| {
            Ok::<_, TestError>((Write::Put(Thing::active(7)), ()))
        })
        .await
        .unwrap();
    let written = segments(dir.path());
    assert_eq!(written.len(), 1);
    assert!(written[0].1 > 0, "the write is in the log: {written:?}");
    drop(store);
    let closed = segments(dir.path());
    assert_eq!(closed, vec![(format!("{:020}.log", 2), 0)]);
    // sled alone has the write (read with sled itself, no log replay).
    let db = sled::open(dir.path().join("sled")).unwrap();
    assert!(db.open_tree("regional/clusters").unwrap().len() == 1);
}
