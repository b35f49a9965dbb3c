//! The write-ahead log seen from the store's API: when writes become visible, checkpoints
//! and a clean close. (Recovery after `kill -9` is `crash.rs`; the log's format and replay
//! rules are unit-tested in `src/wal.rs`.)
// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{clusters, task_definitions, TestError, Thing};
use kubecs_storage::{Batch, Store, StoreOptions, Table, Write};

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

/// Puts `Thing::active(count)` at `key` as part of `batch`.
fn put_in(table: &Table<String, Thing>, batch: &mut Batch, key: &str, count: u64) {
    table
        .update_in(batch, key, |_| {
            Ok::<_, TestError>((Write::Put(Thing::active(count)), ()))
        })
        .unwrap();
}

/// Readers see a write once it is durable, not before: a batch's write is logged at once
/// but synced only when the batch commits, so until then `get` does not return it, while
/// a later write in the batch already decides on it.
#[tokio::test]
async fn a_write_becomes_visible_to_readers_when_it_is_durable() {
    let (_dir, store) = common::open();
    let table = clusters(&store);
    let mut batch = store.batch();
    put_in(&table, &mut batch, "c", 1);
    assert_eq!(
        table.get("c").unwrap(),
        None,
        "visible before it is durable"
    );
    let seen = table
        .update_in(&mut batch, "c", |current| {
            Ok::<_, TestError>((Write::Keep, current.map(|r| r.value.count)))
        })
        .unwrap();
    assert_eq!(seen, Some(1));
    batch.commit().await.unwrap();
    assert_eq!(table.get("c").unwrap().unwrap().value, Thing::active(1));
}

/// A batch dropped after a write (a later step of its request failed) still gets its
/// write synced and visible, without waiting for some other writer.
#[tokio::test]
async fn an_abandoned_batch_still_reaches_the_disk() {
    let (_dir, store) = common::open();
    let table = clusters(&store);
    let mut batch = store.batch();
    put_in(&table, &mut batch, "c", 1);
    drop(batch);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while table.get("c").unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "never synced");
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
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
    assert!(db.open_tree("clusters").unwrap().len() == 1);
}

static IDLE_CALLS: AtomicUsize = AtomicUsize::new(0);

fn count_idle_call() {
    IDLE_CALLS.fetch_add(1, Ordering::SeqCst);
}

/// `on_idle` runs once after writes stop, not while nothing was written, and again only
/// after the next write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idle_hook_runs_once_per_idle_spell_after_writes() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        on_idle: Some(count_idle_call),
        ..StoreOptions::default()
    };
    let store = Store::open_with(dir.path(), &options).unwrap();
    // A fresh store has committed nothing: no idle call.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(IDLE_CALLS.load(Ordering::SeqCst), 0);

    let until = |calls: usize| async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        while IDLE_CALLS.load(Ordering::SeqCst) < calls {
            assert!(
                Instant::now() < deadline,
                "on_idle never ran a {calls}th time"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    for round in 1..=2 {
        for i in 0..20 {
            clusters(&store)
                .update(format!("c{round}-{i}"), |_| {
                    Ok::<_, TestError>((Write::Put(Thing::active(i)), ()))
                })
                .await
                .unwrap();
        }
        until(round).await;
        // Idle on: no further call without a write.
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(IDLE_CALLS.load(Ordering::SeqCst), round);
    }
}
