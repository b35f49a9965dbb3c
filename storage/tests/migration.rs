//! Upgrades: stores written by format-0 and format-1 code open in this build, migrated.
//!
//! `write_v0_store` and `write_v1_store` are the fixture generators: they write what the
//! format-0 prototype wrote (bare JSON values, no envelope, no family counters, no format
//! key) and what format-1 builds wrote (envelopes and counters, no status index), so the
//! fixtures are produced by code kept in the repository instead of opaque binary
//! directories.

// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use kubecs_api_models::{Cluster, TaskDefinition, TaskDefinitionStatus};
use kubecs_storage::{Key, Order, Store, StoreError, TaskDefinitions, Write, FORMAT_VERSION};
use serde_json::json;

fn td(family: &str, revision: i32, status: TaskDefinitionStatus) -> TaskDefinition {
    TaskDefinition {
        family: Some(family.into()),
        revision: Some(revision),
        status: Some(status),
        ..TaskDefinition::default()
    }
}

/// Registers the next revision of `web`, ACTIVE; returns its number.
async fn register_active_web(tds: &TaskDefinitions<TaskDefinition>) -> u32 {
    let (revision, _) = tds
        .register_revision("web", |rev| {
            Ok::<_, StoreError>(td("web", rev as i32, TaskDefinitionStatus::Active))
        })
        .await
        .unwrap();
    revision
}

/// The format-0 writer. `half_migrated` also leaves one value already wrapped, as a
/// migration killed half-way would.
fn write_v0_store(dir: &Path, half_migrated: bool) {
    let db = sled::open(dir.join("sled")).unwrap();
    let clusters = db.open_tree("clusters").unwrap();
    let cluster = Cluster {
        cluster_name: Some("default".into()),
        status: Some("ACTIVE".into()),
        ..Cluster::default()
    };
    clusters
        .insert(
            "default".to_string().encode(),
            serde_json::to_vec(&cluster).unwrap(),
        )
        .unwrap();
    let revisions = db.open_tree("task_definitions").unwrap();
    for (rev, status) in [
        (1, TaskDefinitionStatus::Active),
        (2, TaskDefinitionStatus::Inactive),
        (3, TaskDefinitionStatus::Active),
    ] {
        let value = serde_json::to_value(td("web", rev, status)).unwrap();
        let stored = if half_migrated && rev == 1 {
            serde_json::json!({"schema_version": 1, "generation": 1, "observed_generation": 0, "value": value})
        } else {
            value
        };
        revisions
            .insert(
                ("web".to_string(), rev as u32).encode(),
                serde_json::to_vec(&stored).unwrap(),
            )
            .unwrap();
    }
    db.flush().unwrap();
}

#[tokio::test]
async fn a_format_0_store_opens_migrated_and_keeps_allocating_after_its_revisions() {
    let dir = tempfile::tempdir().unwrap();
    write_v0_store(dir.path(), false);

    let store = Store::open(dir.path()).unwrap();
    let cluster = store.clusters().get("default").unwrap().unwrap();
    assert_eq!(cluster.generation, 1);
    assert_eq!(cluster.value.cluster_name.as_deref(), Some("default"));

    let tds = store.task_definitions();
    let family = tds.family("web").unwrap().unwrap().value;
    assert_eq!(
        (
            family.last_revision,
            family.revisions,
            family.active_revisions
        ),
        (3, 3, 2)
    );
    assert_eq!(register_active_web(&tds).await, 4);
    // The status index was built too (0 → 1 → 2), and the new revision joined it.
    assert_eq!(list(&tds, Order::Ascending, "ACTIVE"), [1, 3, 4]);
    assert_eq!(list(&tds, Order::Descending, "INACTIVE"), [2]);
    drop(tds);
    drop(store);

    // The format key was written: a second open is not a migration and changes nothing.
    let db = sled::open(dir.path().join("sled")).unwrap();
    let version = db
        .open_tree("meta")
        .unwrap()
        .get("format_version")
        .unwrap()
        .unwrap();
    assert_eq!(version.as_ref(), FORMAT_VERSION.to_be_bytes());
    drop(db);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store
            .task_definitions()
            .get("web", 2)
            .unwrap()
            .unwrap()
            .value,
        td("web", 2, TaskDefinitionStatus::Inactive)
    );
}

/// The revision numbers of `web` with `status`, one per page so tokens are followed.
fn list(tds: &TaskDefinitions<TaskDefinition>, order: Order, status: &str) -> Vec<u32> {
    list_family(tds, Some("web"), order, status)
}

fn list_family(
    tds: &TaskDefinitions<TaskDefinition>,
    family: Option<&str>,
    order: Order,
    status: &str,
) -> Vec<u32> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = tds
            .page(family, order, token.as_ref(), 1, |s| s == status)
            .unwrap();
        out.extend(page.items.into_iter().map(|(_, rev)| rev));
        token = page.next_token;
        if token.is_none() {
            return out;
        }
    }
}

fn stored_format(dir: &Path) -> Vec<u8> {
    let db = sled::open(dir.join("sled")).unwrap();
    let version = db.open_tree("meta").unwrap().get("format_version").unwrap();
    version.unwrap().to_vec()
}

/// The format-1 writer: every value in its envelope, families with their counters, the
/// format key at 1, and no `task_definition_status` tree. `web` has revisions 1 ACTIVE,
/// 2 INACTIVE, 3 ACTIVE, 5 DELETE_IN_PROGRESS (4 was deleted); `api` has 1 ACTIVE.
///
/// `leftover_index` also leaves an index tree holding wrong entries, as a 1 → 2 migration
/// killed half-way (before the version was bumped) could: a stale status, an entry for
/// the deleted revision, and entries missing.
fn write_v1_store(dir: &Path, leftover_index: bool) {
    let db = sled::open(dir.join("sled")).unwrap();
    let envelope = |generation: u64, value: serde_json::Value| {
        serde_json::to_vec(&json!({
            "schema_version": 1,
            "generation": generation,
            "observed_generation": 0,
            "value": value,
        }))
        .unwrap()
    };
    let revisions = db.open_tree("task_definitions").unwrap();
    for (family, rev, status) in [
        ("web", 1, TaskDefinitionStatus::Active),
        ("web", 2, TaskDefinitionStatus::Inactive),
        ("web", 3, TaskDefinitionStatus::Active),
        ("web", 5, TaskDefinitionStatus::DeleteInProgress),
        ("api", 1, TaskDefinitionStatus::Active),
    ] {
        let value = serde_json::to_value(td(family, rev, status)).unwrap();
        revisions
            .insert(
                (family.to_string(), rev as u32).encode(),
                envelope(1, value),
            )
            .unwrap();
    }
    let families = db.open_tree("task_definition_families").unwrap();
    for (family, last, stored, active) in [("web", 5, 4, 2), ("api", 1, 1, 1)] {
        let counters =
            json!({"last_revision": last, "revisions": stored, "active_revisions": active});
        families
            .insert(family.to_string().encode(), envelope(last, counters))
            .unwrap();
    }
    if leftover_index {
        let index = db.open_tree("task_definition_status").unwrap();
        for (rev, status) in [(2u32, "ACTIVE"), (4, "ACTIVE")] {
            index
                .insert(("web".to_string(), rev).encode(), status.as_bytes())
                .unwrap();
        }
    }
    db.open_tree("meta")
        .unwrap()
        .insert("format_version", &1u32.to_be_bytes())
        .unwrap();
    db.flush().unwrap();
}

/// What a migrated format-1 store must list, whatever the index held before.
fn assert_v1_fixture_lists_correctly(tds: &TaskDefinitions<TaskDefinition>) {
    for (status, expected) in [
        ("ACTIVE", vec![1, 3]),
        ("INACTIVE", vec![2]),
        ("DELETE_IN_PROGRESS", vec![5]),
    ] {
        assert_eq!(list(tds, Order::Ascending, status), expected, "{status}");
        let mut desc = list(tds, Order::Descending, status);
        desc.reverse();
        assert_eq!(desc, expected, "{status} descending");
    }
    assert_eq!(
        list_family(tds, None, Order::Descending, "ACTIVE"),
        [3, 1, 1],
        "web:3, web:1, api:1"
    );
}

#[tokio::test]
async fn a_format_1_store_opens_with_its_status_index_built() {
    let dir = tempfile::tempdir().unwrap();
    write_v1_store(dir.path(), false);
    {
        let store = Store::open(dir.path()).unwrap();
        let tds = store.task_definitions();
        assert_v1_fixture_lists_correctly(&tds);
        // Records and counters are untouched by the step, and writes keep the index.
        assert_eq!(tds.get("web", 3).unwrap().unwrap().generation, 1);
        assert_eq!(register_active_web(&tds).await, 6);
        tds.update_revision("web", 1, |current| {
            let mut value = current.unwrap().value.clone();
            value.status = Some(TaskDefinitionStatus::Inactive);
            Ok::<_, StoreError>((Write::Put(value), ()))
        })
        .await
        .unwrap();
        assert_eq!(list(&tds, Order::Ascending, "ACTIVE"), [3, 6]);
        assert_eq!(list(&tds, Order::Ascending, "INACTIVE"), [1, 2]);
    }
    assert_eq!(stored_format(dir.path()), FORMAT_VERSION.to_be_bytes());
    assert_eq!(FORMAT_VERSION, 3);
    // Reopened: no migration runs again, and the index is as the writes left it.
    let store = Store::open(dir.path()).unwrap();
    let tds = store.task_definitions();
    assert_eq!(list(&tds, Order::Descending, "ACTIVE"), [6, 3]);
    assert_eq!(list(&tds, Order::Ascending, "INACTIVE"), [1, 2]);
}

#[test]
fn a_migration_to_format_2_interrupted_half_way_is_redone_from_scratch() {
    let dir = tempfile::tempdir().unwrap();
    write_v1_store(dir.path(), true);
    let store = Store::open(dir.path()).unwrap();
    assert_v1_fixture_lists_correctly(&store.task_definitions());
    drop(store);
    assert_eq!(stored_format(dir.path()), FORMAT_VERSION.to_be_bytes());
}

#[test]
fn a_migration_interrupted_half_way_is_redone_without_wrapping_twice() {
    let dir = tempfile::tempdir().unwrap();
    write_v0_store(dir.path(), true);
    let store = Store::open(dir.path()).unwrap();
    let tds = store.task_definitions();
    for rev in 1..=3 {
        let record = tds.get("web", rev).unwrap().unwrap();
        assert_eq!(record.value.revision, Some(rev as i32));
        assert_eq!(record.generation, 1);
    }
    assert_eq!(list(&tds, Order::Ascending, "ACTIVE"), [1, 3]);
}
