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
    let cluster = store
        .region("us-east-1")
        .clusters()
        .get("default")
        .unwrap()
        .unwrap();
    assert_eq!(cluster.generation, 1);
    assert_eq!(cluster.value.cluster_name.as_deref(), Some("default"));

    let tds = store.region("us-east-1").task_definitions();
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
            .region("us-east-1")
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
        let tds = store.region("us-east-1").task_definitions();
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
    assert_eq!(FORMAT_VERSION, 4);
    // Reopened: no migration runs again, and the index is as the writes left it.
    let store = Store::open(dir.path()).unwrap();
    let tds = store.region("us-east-1").task_definitions();
    assert_eq!(list(&tds, Order::Descending, "ACTIVE"), [6, 3]);
    assert_eq!(list(&tds, Order::Ascending, "INACTIVE"), [1, 2]);
}

#[test]
fn a_migration_to_format_2_interrupted_half_way_is_redone_from_scratch() {
    let dir = tempfile::tempdir().unwrap();
    write_v1_store(dir.path(), true);
    let store = Store::open(dir.path()).unwrap();
    assert_v1_fixture_lists_correctly(&store.region("us-east-1").task_definitions());
    drop(store);
    assert_eq!(stored_format(dir.path()), FORMAT_VERSION.to_be_bytes());
}

#[test]
fn a_migration_interrupted_half_way_is_redone_without_wrapping_twice() {
    let dir = tempfile::tempdir().unwrap();
    write_v0_store(dir.path(), true);
    let store = Store::open(dir.path()).unwrap();
    let tds = store.region("us-east-1").task_definitions();
    for rev in 1..=3 {
        let record = tds.get("web", rev).unwrap().unwrap();
        assert_eq!(record.value.revision, Some(rev as i32));
        assert_eq!(record.generation, 1);
    }
    assert_eq!(list(&tds, Order::Ascending, "ACTIVE"), [1, 3]);
}

/// One format-3 log record: `[len][crc][lsn][op count]` then per op `[tree][0 = put]
/// [key len][key][value len][value]` (format 3 had no digest; puts only here).
fn v3_record(lsn: u64, ops: &[(u8, Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut payload = lsn.to_le_bytes().to_vec();
    payload.extend_from_slice(&(ops.len() as u32).to_le_bytes());
    for (tree, key, value) in ops {
        payload.push(*tree);
        payload.push(0);
        payload.extend_from_slice(&(key.len() as u32).to_le_bytes());
        payload.extend_from_slice(key);
        payload.extend_from_slice(&(value.len() as u32).to_le_bytes());
        payload.extend_from_slice(value);
    }
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&crc32fast_hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

/// CRC-32 (IEEE), as the log uses; written out so the fixture needs no extra crate.
fn crc32fast_hash(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The format-3 writer: revisions web:1-2 in sled (checkpointed at LSN 2), web:3 only in
/// the log (acknowledged, not yet checkpointed), as a kill -9 leaves it.
fn write_v3_store(dir: &Path) {
    let v1_store_then_index = || {
        let db = sled::open(dir.join("sled")).unwrap();
        let revisions = db.open_tree("task_definitions").unwrap();
        let index = db.open_tree("task_definition_status").unwrap();
        for rev in 1..=2u32 {
            let record = json!({"schema_version": 1, "generation": 1, "observed_generation": 0,
                "value": td("web", rev as i32, TaskDefinitionStatus::Active)});
            let key = ("web".to_string(), rev).encode();
            revisions
                .insert(&key, serde_json::to_vec(&record).unwrap())
                .unwrap();
            index.insert(&key, &b"ACTIVE"[..]).unwrap();
        }
        let family = json!({"schema_version": 1, "generation": 2, "observed_generation": 0,
            "value": {"last_revision": 2, "revisions": 2, "active_revisions": 2}});
        db.open_tree("task_definition_families")
            .unwrap()
            .insert(
                "web".to_string().encode(),
                serde_json::to_vec(&family).unwrap(),
            )
            .unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("format_version", &3u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    };
    v1_store_then_index();
    let wal = dir.join("wal");
    std::fs::create_dir_all(&wal).unwrap();
    let mut checkpoint = 2u64.to_le_bytes().to_vec();
    checkpoint.extend_from_slice(&crc32fast_hash(&2u64.to_le_bytes()).to_le_bytes());
    std::fs::write(wal.join("checkpoint"), checkpoint).unwrap();
    let key = ("web".to_string(), 3u32).encode();
    let record = json!({"schema_version": 1, "generation": 1, "observed_generation": 0,
        "value": td("web", 3, TaskDefinitionStatus::Active)});
    let family = json!({"schema_version": 1, "generation": 3, "observed_generation": 0,
        "value": {"last_revision": 3, "revisions": 3, "active_revisions": 3}});
    let log = v3_record(
        3,
        &[
            (2, key.clone(), serde_json::to_vec(&record).unwrap()),
            (7, key, b"ACTIVE".to_vec()),
            (
                1,
                "web".to_string().encode(),
                serde_json::to_vec(&family).unwrap(),
            ),
        ],
    );
    std::fs::write(wal.join(format!("{:020}.log", 3)), log).unwrap();
}

#[tokio::test]
async fn a_format_3_store_becomes_its_regions_data_with_nothing_from_its_log_lost() {
    let dir = tempfile::tempdir().unwrap();
    write_v3_store(dir.path());
    let options = kubecs_storage::StoreOptions {
        legacy_region: "eu-west-1".into(),
        ..kubecs_storage::StoreOptions::default()
    };
    {
        let store = Store::open_with(dir.path(), &options).unwrap();
        assert_eq!(store.regions().unwrap(), ["eu-west-1"]);
        let tds = store.region("eu-west-1").task_definitions();
        assert_eq!(list(&tds, Order::Ascending, "ACTIVE"), [1, 2, 3]);
        // The counter came over too: the next number is 4, never a reused one.
        assert_eq!(register_active_web(&tds).await, 4);
        // Another region starts empty.
        let other = store.region("us-east-1").task_definitions();
        assert!(list(&other, Order::Ascending, "ACTIVE").is_empty());
    }
    assert_eq!(stored_format(dir.path()), FORMAT_VERSION.to_be_bytes());
    // Reopened (the region option no longer matters): as the writes left it.
    let store = Store::open(dir.path()).unwrap();
    let tds = store.region("eu-west-1").task_definitions();
    assert_eq!(list(&tds, Order::Ascending, "ACTIVE"), [1, 2, 3, 4]);
    drop(tds);
    drop(store);
    // The format-3 trees are gone.
    let db = sled::open(dir.path().join("sled")).unwrap();
    let names: Vec<Vec<u8>> = db.tree_names().iter().map(|n| n.to_vec()).collect();
    assert!(!names.contains(&b"task_definitions".to_vec()));
    assert!(names.contains(&b"regional/task_definitions".to_vec()));
}
