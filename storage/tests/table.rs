//! Table semantics: get/update/compare-and-set, generations, pages and tokens.
// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{clusters, open, services, TestError, Thing};
use kubecs_storage::{KeyPrefix, Observed, Order, PageToken, Write};

async fn put(table: &kubecs_storage::Table<String, Thing>, key: &str, count: u64) {
    table
        .update(key, |_| {
            Ok::<_, TestError>((Write::Put(Thing::active(count)), ()))
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn create_if_absent_writes_once_and_reports_the_existing_record_after() {
    let (_dir, store) = open();
    let t = clusters(&store);
    let create = |count| {
        let t = t.clone();
        async move {
            t.update("default", |old| {
                Ok::<_, TestError>(match old {
                    Some(r) => (Write::Keep, r.value.count),
                    None => (Write::Put(Thing::active(count)), count),
                })
            })
            .await
            .unwrap()
        }
    };
    assert_eq!(create(1).await, 1);
    assert_eq!(create(2).await, 1);
    let record = t.get("default").unwrap().unwrap();
    assert_eq!(record.value, Thing::active(1));
    assert_eq!(record.generation, 1);
    assert_eq!(record.observed_generation, 0);
}

#[tokio::test]
async fn put_bumps_generation_only_when_the_value_changes() {
    let (_dir, store) = open();
    let t = clusters(&store);
    put(&t, "a", 1).await;
    put(&t, "a", 1).await;
    assert_eq!(t.get("a").unwrap().unwrap().generation, 1);
    put(&t, "a", 2).await;
    assert_eq!(t.get("a").unwrap().unwrap().generation, 2);
}

#[tokio::test]
async fn a_refusal_from_the_closure_writes_nothing() {
    let (_dir, store) = open();
    let t = clusters(&store);
    put(&t, "a", 1).await;
    let err = t
        .update("a", |_| {
            Err::<(Write<Thing>, ()), _>(TestError::Refused("not ACTIVE"))
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TestError::Refused(_)));
    assert_eq!(t.get("a").unwrap().unwrap().value.count, 1);
}

#[tokio::test]
async fn delete_removes_the_record() {
    let (_dir, store) = open();
    let t = clusters(&store);
    put(&t, "a", 1).await;
    t.update("a", |_| Ok::<_, TestError>((Write::Delete, ())))
        .await
        .unwrap();
    assert_eq!(t.get("a").unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_modify_writes_lose_no_update() {
    let (_dir, store) = open();
    let t = clusters(&store);
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move {
                t.update("counter", |old| {
                    let next = old.map_or(0, |r| r.value.count) + 1;
                    Ok::<_, TestError>((Write::Put(Thing::active(next)), next))
                })
                .await
                .unwrap()
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for task in tasks {
        seen.insert(task.await.unwrap());
    }
    assert_eq!(seen, (1..=64).collect());
    let record = t.get("counter").unwrap().unwrap();
    assert_eq!((record.value.count, record.generation), (64, 64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_share_flushes() {
    let (_dir, store) = open();
    let t = clusters(&store);
    let before = store.flush_count();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let t = t.clone();
            tokio::spawn(async move { put(&t, &format!("c{i}"), 1).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let flushes = store.flush_count() - before;
    assert!(flushes >= 1);
    assert!(flushes < 32, "64 writers needed {flushes} flushes");
}

#[tokio::test]
async fn compare_and_set_observed_refuses_a_stale_generation() {
    let (_dir, store) = open();
    let t = services(&store);
    let key = ("default", "web");
    t.update(key, |_| {
        Ok::<_, TestError>((Write::Put(Thing::active(1)), ()))
    })
    .await
    .unwrap();
    // The reconciler reads generation 1; meanwhile the API changes the desired state.
    t.update(key, |_| {
        Ok::<_, TestError>((Write::Put(Thing::active(2)), ()))
    })
    .await
    .unwrap();
    let stale = t
        .compare_and_set_observed(key, 1, |_| Ok::<_, TestError>(None))
        .await
        .unwrap();
    assert_eq!(stale, Observed::Stale { generation: 2 });

    let applied = t
        .compare_and_set_observed(key, 2, |v| {
            Ok::<_, TestError>(Some(Thing {
                status: "RUNNING".into(),
                count: v.count,
            }))
        })
        .await
        .unwrap();
    let Observed::Applied(record) = applied else {
        panic!("expected Applied, got {applied:?}")
    };
    assert_eq!((record.generation, record.observed_generation), (2, 2));
    assert_eq!(t.get(key).unwrap().unwrap(), record);

    // A later desired-state change keeps observed_generation and bumps generation.
    t.update(key, |_| {
        Ok::<_, TestError>((Write::Put(Thing::active(3)), ()))
    })
    .await
    .unwrap();
    let r = t.get(key).unwrap().unwrap();
    assert_eq!((r.generation, r.observed_generation), (3, 2));

    let missing = t
        .compare_and_set_observed(("default", "gone"), 1, |_| Ok::<_, TestError>(None))
        .await
        .unwrap();
    assert_eq!(missing, Observed::Missing);
}

async fn fill(t: &kubecs_storage::Table<String, Thing>, n: usize) {
    for i in 0..n {
        put(t, &format!("c{i:03}"), i as u64).await;
    }
}

fn names(page: &kubecs_storage::Page<String, Thing>) -> Vec<String> {
    page.items.iter().map(|(k, _)| k.clone()).collect()
}

#[tokio::test]
async fn pages_walk_the_table_in_key_order_through_encoded_tokens() {
    let (_dir, store) = open();
    let t = clusters(&store);
    fill(&t, 25).await;
    let mut all = Vec::new();
    let mut token: Option<PageToken> = None;
    let mut pages = 0;
    loop {
        let page = t.page(&KeyPrefix::all(), token.as_ref(), 10).unwrap();
        pages += 1;
        all.extend(names(&page));
        match page.next_token {
            // Round-trip through the client, as the server will.
            Some(next) => {
                token =
                    Some(PageToken::parse("ListClusters", &next.encode("ListClusters")).unwrap())
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..25).map(|i| format!("c{i:03}")).collect();
    assert_eq!(all, expected);
}

#[tokio::test]
async fn an_exactly_full_last_page_has_no_token() {
    let (_dir, store) = open();
    let t = clusters(&store);
    fill(&t, 10).await;
    let page = t.page(&KeyPrefix::all(), None, 10).unwrap();
    assert_eq!(page.items.len(), 10);
    assert_eq!(page.next_token, None);
}

#[tokio::test]
async fn a_token_stays_valid_while_other_writes_happen() {
    let (_dir, store) = open();
    let t = clusters(&store);
    fill(&t, 20).await;
    let first = t.page(&KeyPrefix::all(), None, 5).unwrap();
    assert_eq!(names(&first).last().unwrap(), "c004");
    let token = first.next_token.unwrap();
    // Delete the last key returned and one already listed, insert before and after.
    for key in ["c004", "c001"] {
        t.update(key, |_| Ok::<_, TestError>((Write::Delete, ())))
            .await
            .unwrap();
    }
    put(&t, "c000a", 0).await;
    put(&t, "c0045", 0).await;
    let second = t.page(&KeyPrefix::all(), Some(&token), 3).unwrap();
    assert_eq!(names(&second), ["c0045", "c005", "c006"]);
}

#[tokio::test]
async fn pages_respect_the_prefix_and_the_order() {
    let (_dir, store) = open();
    let t = services(&store);
    for (cluster, name) in [
        ("a", "s1"),
        ("a", "s2"),
        ("a", "s3"),
        ("ab", "s0"),
        ("b", "s9"),
    ] {
        t.update((cluster, name), |_| {
            Ok::<_, TestError>((Write::Put(Thing::active(0)), ()))
        })
        .await
        .unwrap();
    }
    let keys = |p: &kubecs_storage::Page<(String, String), Thing>| {
        p.items.iter().map(|(k, _)| k.1.clone()).collect::<Vec<_>>()
    };
    let in_a = KeyPrefix::first("a");
    let p = t.page(&in_a, None, 10).unwrap();
    assert_eq!(keys(&p), ["s1", "s2", "s3"]);
    let d1 = t
        .page_where(&in_a, None, 2, Order::Descending, |_, _| true)
        .unwrap();
    assert_eq!(keys(&d1), ["s3", "s2"]);
    let d2 = t
        .page_where(
            &in_a,
            d1.next_token.as_ref(),
            2,
            Order::Descending,
            |_, _| true,
        )
        .unwrap();
    assert_eq!(keys(&d2), ["s1"]);
    assert_eq!(d2.next_token, None);
    let starts_a = KeyPrefix::starts_with("a");
    assert_eq!(t.page(&starts_a, None, 10).unwrap().items.len(), 4);
}

#[tokio::test]
async fn a_filtered_page_costs_a_bounded_scan_and_resumes_where_it_stopped() {
    let (_dir, store) = open();
    let t = clusters(&store);
    // 1,500 non-matching records then 3 matching ones.
    for i in 0..1500 {
        put(&t, &format!("a{i:05}"), 0).await;
    }
    for i in 0..3 {
        put(&t, &format!("b{i}"), 1).await;
    }
    let only_ones = |_: &String, r: &kubecs_storage::Record<Thing>| r.value.count == 1;
    let first = t
        .page_where(&KeyPrefix::all(), None, 2, Order::Ascending, only_ones)
        .unwrap();
    assert!(first.items.is_empty(), "scan budget exceeded, short page");
    let token = first.next_token.expect("more to scan");
    let second = t
        .page_where(
            &KeyPrefix::all(),
            Some(&token),
            2,
            Order::Ascending,
            only_ones,
        )
        .unwrap();
    assert_eq!(names(&second), ["b0", "b1"]);
    let third = t
        .page_where(
            &KeyPrefix::all(),
            second.next_token.as_ref(),
            2,
            Order::Ascending,
            only_ones,
        )
        .unwrap();
    assert_eq!(names(&third), ["b2"]);
    assert_eq!(third.next_token, None);
}

#[tokio::test]
async fn scan_all_returns_every_record_in_order() {
    let (_dir, store) = open();
    let t = clusters(&store);
    fill(&t, 7).await;
    let all: Vec<String> = t.scan_all().map(|r| r.unwrap().0).collect();
    assert_eq!(all.len(), 7);
    assert!(all.windows(2).all(|w| w[0] < w[1]));
}
