//! Task-definition revisions: atomic allocation, no reuse, listings and families.
// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{open, task_definitions, TestError, Thing};
use kubecs_storage::{FamilyStatus, Order, Write};

fn inactive() -> Thing {
    Thing {
        status: "INACTIVE".into(),
        count: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_registrations_get_revisions_one_to_sixty_four() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let td = td.clone();
            tokio::spawn(async move {
                td.register_revision("web", |rev| {
                    Ok::<_, TestError>(Thing::active(u64::from(rev) * 1000 + i))
                })
                .await
                .unwrap()
            })
        })
        .collect();
    let mut revisions = BTreeSet::new();
    for task in tasks {
        let (rev, record) = task.await.unwrap();
        // The value was built with the revision it was stored under.
        assert_eq!(record.value.count / 1000, u64::from(rev));
        assert!(revisions.insert(rev), "revision {rev} handed out twice");
    }
    assert_eq!(revisions, (1..=64).collect());
    let family = td.family("web").unwrap().unwrap().value;
    assert_eq!(
        (
            family.last_revision,
            family.revisions,
            family.active_revisions
        ),
        (64, 64, 64)
    );
}

#[tokio::test]
async fn a_deleted_revision_number_is_never_reused() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    for _ in 0..3 {
        td.register_revision("web", |_| Ok::<_, TestError>(Thing::active(0)))
            .await
            .unwrap();
    }
    td.update_revision("web", 3, |_| Ok::<_, TestError>((Write::Delete, ())))
        .await
        .unwrap();
    assert_eq!(td.get("web", 3).unwrap(), None);
    let (rev, _) = td
        .register_revision("web", |_| Ok::<_, TestError>(Thing::active(0)))
        .await
        .unwrap();
    assert_eq!(rev, 4);
}

#[tokio::test]
async fn update_revision_cannot_create_an_unallocated_revision() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    let result = td
        .update_revision("web", 5, |_| {
            Ok::<_, TestError>((Write::Put(Thing::active(0)), ()))
        })
        .await;
    assert!(result.is_err());
    assert_eq!(td.get("web", 5).unwrap(), None);
}

#[tokio::test]
async fn revisions_list_by_family_then_numeric_revision_both_ways() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    for family in ["web", "api"] {
        for _ in 0..11 {
            td.register_revision(family, |_| Ok::<_, TestError>(Thing::active(0)))
                .await
                .unwrap();
        }
    }
    let all = |order| {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let page = td.page(None, order, token.as_ref(), 5, |_| true).unwrap();
            out.extend(page.items.into_iter().map(|(k, _)| k));
            token = page.next_token;
            if token.is_none() {
                return out;
            }
        }
    };
    let asc = all(Order::Ascending);
    let expected: Vec<(String, u32)> = ["api", "web"]
        .iter()
        .flat_map(|f| (1..=11).map(move |r| (f.to_string(), r)))
        .collect();
    assert_eq!(asc, expected);
    let mut desc = all(Order::Descending);
    desc.reverse();
    assert_eq!(desc, expected);

    let web_desc = td
        .page(Some("web"), Order::Descending, None, 3, |_| true)
        .unwrap();
    let revs: Vec<u32> = web_desc.items.iter().map(|(k, _)| k.1).collect();
    assert_eq!(revs, [11, 10, 9]);
}

#[tokio::test]
async fn deregistering_updates_the_status_filters_of_revisions_and_families() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    for family in ["web", "webapp", "api"] {
        for _ in 0..2 {
            td.register_revision(family, |_| Ok::<_, TestError>(Thing::active(0)))
                .await
                .unwrap();
        }
    }
    for rev in [1, 2] {
        td.update_revision("webapp", rev, |_| {
            Ok::<_, TestError>((Write::Put(inactive()), ()))
        })
        .await
        .unwrap();
    }
    td.update_revision("web", 2, |_| {
        Ok::<_, TestError>((Write::Put(inactive()), ()))
    })
    .await
    .unwrap();

    let active = td
        .page(Some("web"), Order::Ascending, None, 10, |v| {
            v.status == "ACTIVE"
        })
        .unwrap();
    assert_eq!(active.items.len(), 1);
    assert_eq!(active.items[0].0 .1, 1);

    let latest = td.latest("web", |v| v.status == "ACTIVE").unwrap().unwrap();
    assert_eq!(latest.0, 1);

    let names = |status, prefix| {
        td.families(prefix, status, None, 10)
            .unwrap()
            .items
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(FamilyStatus::Active, None), ["api", "web"]);
    assert_eq!(names(FamilyStatus::Inactive, None), ["webapp"]);
    assert_eq!(names(FamilyStatus::All, Some("web")), ["web", "webapp"]);
}
