//! The change feed and the start-up resync.
// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{clusters, open, services, task_definitions, TestError, Thing};
use kubecs_storage::{TableId, Write};

#[tokio::test]
async fn every_durable_change_is_announced_with_its_typed_key() {
    let (_dir, store) = open();
    let mut feed = store.subscribe();
    services(&store)
        .update(("default", "web"), |_| {
            Ok::<_, TestError>((Write::Put(Thing::active(1)), ()))
        })
        .await
        .unwrap();
    let change = feed.try_recv().unwrap();
    assert_eq!(change.table, TableId::Services);
    assert_eq!(
        change.key::<(String, String)>().unwrap(),
        ("default".to_string(), "web".to_string())
    );

    task_definitions(&store)
        .register_revision("web", |_| Ok::<_, TestError>(Thing::active(0)))
        .await
        .unwrap();
    let change = feed.try_recv().unwrap();
    assert_eq!(change.table, TableId::TaskDefinitions);
    assert_eq!(
        change.key::<(String, u32)>().unwrap(),
        ("web".to_string(), 1)
    );
}

#[tokio::test]
async fn a_write_that_changes_nothing_is_not_announced() {
    let (_dir, store) = open();
    let t = clusters(&store);
    t.update("a", |_| {
        Ok::<_, TestError>((Write::Put(Thing::active(1)), ()))
    })
    .await
    .unwrap();
    let mut feed = store.subscribe();
    t.update("a", |_| {
        Ok::<_, TestError>((Write::Put(Thing::active(1)), ()))
    })
    .await
    .unwrap();
    t.update("a", |_| Ok::<_, TestError>((Write::<Thing>::Keep, ())))
        .await
        .unwrap();
    assert!(feed.try_recv().is_err());
}
