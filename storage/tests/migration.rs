//! Upgrades: a store written by format-0 code opens in this build, migrated.
//!
//! `write_v0_store` is the fixture generator: it writes what the format-0 prototype wrote
//! (bare JSON values, no envelope, no family counters, no format key), so the fixture is
//! produced by code kept in the repository instead of an opaque binary directory.

// Test helpers outside #[test] functions may panic too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use kubecs_api_models::{Cluster, TaskDefinition, TaskDefinitionStatus};
use kubecs_storage::{Key, Store, StoreError, FORMAT_VERSION};

fn td(family: &str, revision: i32, status: TaskDefinitionStatus) -> TaskDefinition {
    TaskDefinition {
        family: Some(family.into()),
        revision: Some(revision),
        status: Some(status),
        ..TaskDefinition::default()
    }
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
    let (next, _) = tds
        .register_revision("web", |rev| {
            Ok::<_, StoreError>(td("web", rev as i32, TaskDefinitionStatus::Active))
        })
        .await
        .unwrap();
    assert_eq!(next, 4);
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
}
