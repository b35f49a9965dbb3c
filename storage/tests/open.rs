//! Opening a data directory: the one-process lock, persistence across reopen, and
//! refusing a format from the future.
// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{clusters, TestError, Thing};
use kubecs_storage::{OpenError, Store, Write};

#[test]
fn a_second_open_of_the_same_directory_fails_naming_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, OpenError::Locked { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert!(message.contains("already in use"), "{message}");
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
}

/// Writes are made durable by the store's committer thread; it must not keep the database
/// (and its lock) open once the last handle is dropped, or a restart in the same process
/// fails to open the directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_can_be_reopened_right_after_a_registration() {
    let dir = tempfile::tempdir().unwrap();
    for round in 0..50u32 {
        let store = Store::open(dir.path()).unwrap();
        let (revision, _) = store
            .region(common::REGION)
            .task_definitions_of::<Thing>()
            .register_revision("web", |_| Ok::<_, TestError>(Thing::active(0)))
            .await
            .unwrap();
        assert_eq!(revision, round + 1);
        drop(store);
    }
}

/// A dropped sled database can keep its files (and its lock on `sled/db`) a moment longer,
/// in its I/O threads; opening waits for that instead of failing. Here a lock of the
/// test's own stands in for those threads and is let go a little later.
#[test]
fn open_waits_for_a_lingering_lock_on_the_sled_files() {
    use fs2::FileExt;
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path()).unwrap());
    let sled_db = std::fs::File::open(dir.path().join("sled").join("db")).unwrap();
    sled_db.lock_exclusive().unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(200));
        FileExt::unlock(&sled_db).unwrap();
    });
    let reopened = Store::open(dir.path());
    releaser.join().unwrap();
    assert!(reopened.is_ok(), "{:?}", reopened.err());
}

#[test]
fn the_directory_can_be_opened_again_once_the_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let clone = store.clone();
    drop(store);
    assert!(
        Store::open(dir.path()).is_err(),
        "a clone still holds the lock"
    );
    drop(clone);
    Store::open(dir.path()).unwrap();
}

#[tokio::test]
async fn acknowledged_writes_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        clusters(&store)
            .update("default", |_| {
                Ok::<_, TestError>((Write::Put(Thing::active(7)), ()))
            })
            .await
            .unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let record = clusters(&store).get("default").unwrap().unwrap();
    assert_eq!(record.value, Thing::active(7));
}

#[test]
fn a_store_from_a_newer_kubecs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path().join("sled")).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("format_version", &99u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path()).unwrap_err();
    assert!(
        matches!(err, OpenError::TooNew { found: 99, .. }),
        "{err:?}"
    );
}

/// Handlers hold the store in axum state and await its futures on a multi-threaded
/// runtime: this only compiles if those types and futures are `Send`/`Sync`.
#[test]
fn the_store_its_tables_and_their_futures_can_cross_threads() {
    fn clone_send_sync<T: Clone + Send + Sync + 'static>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    clone_send_sync(&store);
    clone_send_sync(&store.region(common::REGION).clusters());
    clone_send_sync(&store.region(common::REGION).task_definitions());
    send(store.region(common::REGION).clusters().update("a", |_| {
        Ok::<_, TestError>((Write::<kubecs_api_models::Cluster>::Keep, ()))
    }));
    send(
        store
            .region(common::REGION)
            .task_definitions()
            .register_revision("web", |_| Ok::<_, TestError>(Default::default())),
    );
    send(
        store
            .region(common::REGION)
            .services()
            .compare_and_set_observed(("c", "s"), 1, |_| Ok::<_, TestError>(None)),
    );
    send(store.flush());
}
