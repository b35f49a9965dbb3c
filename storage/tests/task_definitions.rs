//! Task-definition revisions: atomic allocation, no reuse, listings and families.
// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{open, task_definitions, TestError, Thing};
use kubecs_storage::{
    FamilyStatus, KeyPrefix, Order, PageToken, Store, StoreError, TaskDefinitions, Write,
};

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
                td.register_revision("web", move |rev| {
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

/// Concurrent registrations share log syncs: one that refuses, among others waiting for
/// the same sync, writes nothing, takes no number and fails alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_registrations_among_concurrent_ones_fail_alone_and_take_no_number() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    let tasks: Vec<_> = (0..96u64)
        .map(|i| {
            let td = td.clone();
            let family = ["a", "b", "c"][(i % 3) as usize];
            tokio::spawn(async move {
                let outcome = td
                    .register_revision(family, move |rev| {
                        if i % 4 == 0 {
                            Err(TestError::Refused("every fourth"))
                        } else {
                            Ok(Thing::active(u64::from(rev)))
                        }
                    })
                    .await;
                (family, i, outcome)
            })
        })
        .collect();
    let mut revisions: std::collections::BTreeMap<&str, BTreeSet<u32>> = Default::default();
    for task in tasks {
        let (family, i, outcome) = task.await.unwrap();
        match outcome {
            Ok((rev, record)) => {
                assert_ne!(i % 4, 0, "a refused registration was stored");
                assert_eq!(record.value.count, u64::from(rev));
                assert!(revisions.entry(family).or_default().insert(rev));
            }
            Err(e) => {
                assert_eq!(i % 4, 0, "registration {i} failed: {e:?}");
                assert!(matches!(e, TestError::Refused(_)), "{e:?}");
            }
        }
    }
    for family in ["a", "b", "c"] {
        // 32 attempts per family, 8 refused: numbers 1..=24 with no gap.
        assert_eq!(revisions[family], (1..=24).collect(), "{family}");
        let meta = td.family(family).unwrap().unwrap().value;
        assert_eq!(
            (meta.last_revision, meta.revisions, meta.active_revisions),
            (24, 24, 24),
            "{family}"
        );
        for rev in 1..=24 {
            assert!(td.get(family, rev).unwrap().is_some(), "{family}:{rev}");
        }
        assert_eq!(td.get(family, 25).unwrap(), None);
    }
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
            out.extend(page.items);
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
    let revs: Vec<u32> = web_desc.items.iter().map(|k| k.1).collect();
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
        .page(Some("web"), Order::Ascending, None, 10, |s| s == "ACTIVE")
        .unwrap();
    assert_eq!(active.items, [("web".to_string(), 1)]);

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

// The status index: ListTaskDefinitions pages come from it, so every way a revision comes,
// changes and goes must move it in step with the records.

const STATUSES: [&str; 3] = ["ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"];
const LIST_KIND: &str = "ListTaskDefinitions";

fn thing(status: &str) -> Thing {
    Thing {
        status: status.into(),
        count: 0,
    }
}

fn key(family: &str, revision: u32) -> (String, u32) {
    (family.to_string(), revision)
}

async fn register(td: &TaskDefinitions<Thing>, family: &str, status: &str) -> u32 {
    let value = thing(status);
    td.register_revision(family, move |_| Ok::<_, TestError>(value.clone()))
        .await
        .unwrap()
        .0
}

async fn put(td: &TaskDefinitions<Thing>, family: &str, revision: u32, status: &str) {
    let value = thing(status);
    td.update_revision(family, revision, |current| {
        assert!(current.is_some(), "{family}:{revision} is stored");
        Ok::<_, TestError>((Write::Put(value.clone()), ()))
    })
    .await
    .unwrap();
}

async fn delete(td: &TaskDefinitions<Thing>, family: &str, revision: u32) {
    td.update_revision(family, revision, |_| {
        Ok::<_, TestError>((Write::<Thing>::Delete, ()))
    })
    .await
    .unwrap();
}

/// Follows tokens to the end of a listing, `limit` per page; `status` None lists all.
fn list_all(
    td: &TaskDefinitions<Thing>,
    family: Option<&str>,
    order: Order,
    limit: usize,
    status: Option<&str>,
) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = td
            .page(family, order, token.as_ref(), limit, |s| {
                status.is_none_or(|wanted| s == wanted)
            })
            .unwrap();
        assert!(page.items.len() <= limit);
        out.extend(page.items);
        match page.next_token {
            Some(next) => token = Some(next),
            None => return out,
        }
    }
}

/// Checks every listing the index answers against the revision records themselves: each
/// status filter and none, both orders, the whole table and each family, pages of 1, 2
/// and 100. A missing, extra or stale index entry fails it.
fn assert_index_matches_records(td: &TaskDefinitions<Thing>) {
    let records: Vec<((String, u32), String)> = td
        .revisions()
        .scan_all()
        .map(|r| {
            let (k, record) = r.unwrap();
            (k, record.value.status)
        })
        .collect();
    let families: BTreeSet<&str> = records.iter().map(|((f, _), _)| f.as_str()).collect();
    let statuses = STATUSES.map(Some).into_iter().chain([None]);
    for status in statuses {
        for family in families.iter().copied().map(Some).chain([None]) {
            let expected: Vec<(String, u32)> = records
                .iter()
                .filter(|((f, _), s)| {
                    family.is_none_or(|w| f == w) && status.is_none_or(|w| s == w)
                })
                .map(|(k, _)| k.clone())
                .collect();
            for limit in [1, 2, 100] {
                let asc = list_all(td, family, Order::Ascending, limit, status);
                assert_eq!(asc, expected, "{family:?} {status:?} ascending by {limit}");
                let mut desc = list_all(td, family, Order::Descending, limit, status);
                desc.reverse();
                assert_eq!(
                    desc, expected,
                    "{family:?} {status:?} descending by {limit}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_status_index_follows_register_deregister_and_delete() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    for (family, revisions) in [("web", 5), ("api", 3)] {
        for _ in 0..revisions {
            register(&td, family, "ACTIVE").await;
        }
        assert_index_matches_records(&td);
    }
    put(&td, "web", 2, "INACTIVE").await;
    assert_index_matches_records(&td);
    put(&td, "web", 4, "INACTIVE").await;
    put(&td, "web", 4, "DELETE_IN_PROGRESS").await;
    assert_index_matches_records(&td);
    delete(&td, "web", 5).await;
    put(&td, "api", 1, "INACTIVE").await;
    delete(&td, "api", 1).await;
    assert_index_matches_records(&td);

    let by_status = |status, order| list_all(&td, None, order, 2, Some(status));
    let active = [key("api", 2), key("api", 3), key("web", 1), key("web", 3)];
    assert_eq!(by_status("ACTIVE", Order::Ascending), active);
    let mut reversed = active.to_vec();
    reversed.reverse();
    assert_eq!(by_status("ACTIVE", Order::Descending), reversed);
    assert_eq!(by_status("INACTIVE", Order::Ascending), [key("web", 2)]);
    assert_eq!(by_status("INACTIVE", Order::Descending), [key("web", 2)]);
    for order in [Order::Ascending, Order::Descending] {
        assert_eq!(by_status("DELETE_IN_PROGRESS", order), [key("web", 4)]);
    }

    // A new revision is listed at once, under its family, after the deleted number.
    assert_eq!(register(&td, "web", "ACTIVE").await, 6);
    assert_eq!(
        list_all(&td, Some("web"), Order::Descending, 1, Some("ACTIVE")),
        [key("web", 6), key("web", 3), key("web", 1)]
    );
    assert_index_matches_records(&td);
}

#[tokio::test]
async fn refused_failed_and_unchanged_writes_leave_the_index_alone() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    register(&td, "web", "ACTIVE").await;
    register(&td, "web", "INACTIVE").await;
    let before = list_all(&td, None, Order::Ascending, 10, None);

    let refused = td
        .update_revision("web", 1, |_| {
            Err::<(Write<Thing>, ()), _>(TestError::Refused("no"))
        })
        .await;
    assert!(refused.is_err());
    let unallocated = td
        .update_revision("web", 9, |_| {
            Ok::<_, TestError>((Write::Put(thing("ACTIVE")), ()))
        })
        .await;
    assert!(unallocated.is_err());
    let failed = td
        .register_revision("web", |_| Err::<Thing, _>(TestError::Refused("no")))
        .await;
    assert!(failed.is_err());
    delete(&td, "web", 7).await; // never allocated: nothing to delete
    td.update_revision("web", 2, |_| Ok::<_, TestError>((Write::<Thing>::Keep, ())))
        .await
        .unwrap();
    put(&td, "web", 1, "ACTIVE").await; // the value it already has

    assert_eq!(list_all(&td, None, Order::Ascending, 10, None), before);
    assert_eq!(
        list_all(&td, None, Order::Ascending, 10, Some("ACTIVE")),
        [key("web", 1)]
    );
    assert_index_matches_records(&td);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_registrations_and_status_changes_keep_the_index_in_step() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    let families = ["a", "b", "c", "d"];
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let td = td.clone();
            let family = families[i % families.len()];
            tokio::spawn(async move {
                let revision = register(&td, family, "ACTIVE").await;
                // Each task moves its own revision on, concurrently with the others'
                // registrations and changes in the same family (all of which conflict on
                // the family record and are retried by sled).
                if revision % 2 == 0 {
                    put(&td, family, revision, "INACTIVE").await;
                    if revision % 5 == 0 {
                        put(&td, family, revision, "DELETE_IN_PROGRESS").await;
                    }
                }
                if revision % 3 == 0 {
                    delete(&td, family, revision).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_index_matches_records(&td);
    // And the records are what the tasks meant, so the check above was not vacuous.
    let expected_status = |revision: u32| match revision {
        r if r % 3 == 0 => None,
        r if r % 10 == 0 => Some("DELETE_IN_PROGRESS"),
        r if r % 2 == 0 => Some("INACTIVE"),
        _ => Some("ACTIVE"),
    };
    for status in STATUSES {
        let expected: Vec<(String, u32)> = families
            .iter()
            .flat_map(|f| (1..=16).map(move |r| key(f, r)))
            .filter(|(_, r)| expected_status(*r) == Some(status))
            .collect();
        assert_eq!(
            list_all(&td, None, Order::Ascending, 7, Some(status)),
            expected,
            "{status}"
        );
    }
}

#[tokio::test]
async fn a_filter_that_matches_rarely_answers_short_pages_with_tokens() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    for _ in 0..1500 {
        register(&td, "bulk", "INACTIVE").await;
    }
    register(&td, "bulk", "ACTIVE").await;
    let active = |s: &str| s == "ACTIVE";

    // Ascending: the first page examines its budget (1,000 entries), finds nothing and
    // says where to go on; the second finds the match and ends the listing.
    let first = td.page(None, Order::Ascending, None, 10, active).unwrap();
    assert!(first.items.is_empty());
    let token = first.next_token.expect("a short page carries a token");
    let second = td
        .page(None, Order::Ascending, Some(&token), 10, active)
        .unwrap();
    assert_eq!(second.items, [key("bulk", 1501)]);
    assert_eq!(second.next_token, None);

    // Descending: the match comes first; the budget still ends the page with a token.
    let first = td.page(None, Order::Descending, None, 10, active).unwrap();
    assert_eq!(first.items, [key("bulk", 1501)]);
    let token = first.next_token.expect("budget reached: more may follow");
    let second = td
        .page(None, Order::Descending, Some(&token), 10, active)
        .unwrap();
    assert!(second.items.is_empty());
    assert_eq!(second.next_token, None);
}

#[tokio::test]
async fn tokens_are_those_the_revisions_table_gave_so_old_tokens_resume() {
    let (_dir, store) = open();
    let td = task_definitions(&store);
    for (family, status) in [("api", "ACTIVE"), ("web", "INACTIVE"), ("web", "ACTIVE")] {
        for _ in 0..3 {
            register(&td, family, status).await;
        }
    }
    // The listing before the index: a filtered page of the revisions table.
    let table = |after: Option<&PageToken>| {
        td.revisions()
            .page_where(&KeyPrefix::all(), after, 2, Order::Ascending, |_, r| {
                r.value.status == "ACTIVE"
            })
            .unwrap()
    };
    let index = |after: Option<&PageToken>| {
        td.page(None, Order::Ascending, after, 2, |s| s == "ACTIVE")
            .unwrap()
    };
    let mut table_token = None;
    let mut index_token = None;
    loop {
        let old = table(table_token.as_ref());
        let new = index(index_token.as_ref());
        let old_keys: Vec<(String, u32)> = old.items.into_iter().map(|(k, _)| k).collect();
        assert_eq!(new.items, old_keys);
        let encoded = |t: &Option<PageToken>| t.as_ref().map(|t| t.encode(LIST_KIND));
        assert_eq!(encoded(&new.next_token), encoded(&old.next_token));
        let Some(old_token) = old.next_token else {
            break;
        };
        // A client holding a token issued by the old code resumes the new listing.
        let wire = old_token.encode(LIST_KIND);
        index_token = Some(PageToken::parse(LIST_KIND, &wire).unwrap());
        table_token = Some(old_token);
    }
}

#[tokio::test]
async fn listing_reads_only_the_index_never_the_revision_records() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let td = task_definitions(&store);
        for status in ["ACTIVE", "INACTIVE", "ACTIVE"] {
            register(&td, "web", status).await;
        }
        register(&td, "api", "DELETE_IN_PROGRESS").await;
    }
    {
        // The index holds bare statuses under the revision keys (read with sled itself).
        let db = sled::open(dir.path().join("sled")).unwrap();
        let index = db.open_tree("regional/task_definition_status").unwrap();
        let entries: Vec<(Vec<u8>, Vec<u8>)> = index
            .iter()
            .map(|e| {
                let (k, v) = e.unwrap();
                (k.to_vec(), v.to_vec())
            })
            .collect();
        let revisions = db.open_tree("regional/task_definitions").unwrap();
        let keys: Vec<Vec<u8>> = revisions
            .iter()
            .keys()
            .map(|k| k.unwrap().to_vec())
            .collect();
        assert_eq!(
            entries.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
            keys
        );
        let values: Vec<&[u8]> = entries.iter().map(|(_, v)| v.as_slice()).collect();
        let expected: [&[u8]; 4] = [b"DELETE_IN_PROGRESS", b"ACTIVE", b"INACTIVE", b"ACTIVE"];
        assert_eq!(values, expected);
    }
    {
        // Every revision record is overwritten with a value of another type (through the
        // store, so its digest stays true), which does not decode as a revision; the
        // index is left as it was.
        let store = Store::open(dir.path()).unwrap();
        let raw = common::region(&store)
            .table::<(String, u32), serde_json::Value>(kubecs_storage::TableId::TaskDefinitions);
        for (family, revision) in [("web", 1), ("web", 2), ("web", 3), ("api", 1)] {
            raw.update((family, revision), |_| {
                Ok::<_, StoreError>((Write::Put(serde_json::json!("{not a record")), ()))
            })
            .await
            .unwrap();
        }
    }
    let store = Store::open(dir.path()).unwrap();
    let td = task_definitions(&store);
    assert!(matches!(td.get("web", 1), Err(StoreError::Corrupt { .. })));
    for order in [Order::Ascending, Order::Descending] {
        let mut active = list_all(&td, None, order, 1, Some("ACTIVE"));
        if order == Order::Descending {
            active.reverse();
        }
        assert_eq!(active, [key("web", 1), key("web", 3)]);
    }
    assert_eq!(
        list_all(&td, Some("web"), Order::Ascending, 10, Some("INACTIVE")),
        [key("web", 2)]
    );
    assert_eq!(
        list_all(&td, None, Order::Descending, 10, Some("DELETE_IN_PROGRESS")),
        [key("api", 1)]
    );
}
