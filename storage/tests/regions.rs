//! Every region has its own data: the same names in two regions are two records, pages and
//! scans stay in their region, and the change feed says which region changed.

// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestError, Thing};
use kubecs_storage::{KeyPrefix, TableId, Write};

#[tokio::test]
async fn the_same_names_in_two_regions_are_separate_records() {
    let (_dir, store) = common::open();
    let mut feed = store.subscribe();
    for (region, count) in [("us-east-1", 1), ("eu-west-1", 2), ("us-east-10", 3)] {
        let clusters = store
            .region(region)
            .table::<String, Thing>(TableId::Clusters);
        for name in ["a", "b"] {
            clusters
                .update(name, |_| {
                    Ok::<_, TestError>((Write::Put(Thing::active(count)), ()))
                })
                .await
                .unwrap();
        }
        let notice = feed.try_recv().unwrap();
        assert_eq!(notice.region(), region);
        assert_eq!(notice.key::<String>().unwrap(), "a");
        feed.try_recv().unwrap();
    }
    let east = store
        .region("us-east-1")
        .table::<String, Thing>(TableId::Clusters);
    let west = store
        .region("eu-west-1")
        .table::<String, Thing>(TableId::Clusters);
    assert_eq!(east.get("a").unwrap().unwrap().value.count, 1);
    assert_eq!(west.get("a").unwrap().unwrap().value.count, 2);
    // A page and a scan see their region only ("us-east-1" is a prefix of "us-east-10").
    let page = east.page(&KeyPrefix::all(), None, 10).unwrap();
    let names: Vec<String> = page.items.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(page.items.iter().all(|(_, r)| r.value.count == 1));
    assert_eq!(east.scan_all().count(), 2);
    assert_eq!(east.count(), 2);
    // A token from one region's page resumes in that region only.
    let first = east.page(&KeyPrefix::all(), None, 1).unwrap();
    let token = first.next_token.unwrap();
    let rest = east.page(&KeyPrefix::all(), Some(&token), 10).unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].0, "b");
    assert_eq!(
        store.regions().unwrap(),
        ["eu-west-1", "us-east-1", "us-east-10"]
    );
    // Deleting in one region leaves the other alone.
    west.update("a", |_| Ok::<_, TestError>((Write::Delete, ())))
        .await
        .unwrap();
    assert!(west.get("a").unwrap().is_none());
    assert!(east.get("a").unwrap().is_some());
}

#[tokio::test]
async fn task_definition_families_count_revisions_per_region() {
    let (_dir, store) = common::open();
    let east = store.region("us-east-1").task_definitions_of::<Thing>();
    let west = store.region("eu-west-1").task_definitions_of::<Thing>();
    for _ in 0..3 {
        east.register_revision("web", |_| Ok::<_, TestError>(Thing::active(0)))
            .await
            .unwrap();
    }
    let (revision, _) = west
        .register_revision("web", |_| Ok::<_, TestError>(Thing::active(0)))
        .await
        .unwrap();
    assert_eq!(revision, 1, "each region numbers its own revisions");
    let listed = |tds: &kubecs_storage::TaskDefinitions<Thing>| -> Vec<u32> {
        tds.page(
            Some("web"),
            kubecs_storage::Order::Ascending,
            None,
            100,
            |_| true,
        )
        .unwrap()
        .items
        .into_iter()
        .map(|(_, r)| r)
        .collect()
    };
    assert_eq!(listed(&east), [1, 2, 3]);
    assert_eq!(listed(&west), [1]);
    assert_eq!(east.latest("web", |_| true).unwrap().unwrap().0, 3);
}
