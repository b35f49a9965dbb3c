//! Small value types and helpers shared by the integration tests, so the generic
//! machinery is tested independently of the generated ECS shapes.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use kubecs_storage::{Region, Revisioned, Store, StoreError, Table, TableId, TaskDefinitions};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thing {
    pub status: String,
    pub count: u64,
}

impl Thing {
    pub fn active(count: u64) -> Thing {
        Thing {
            status: "ACTIVE".into(),
            count,
        }
    }
}

impl Revisioned for Thing {
    fn status(&self) -> &str {
        &self.status
    }
}

/// An error type of the kind handlers use: a store error or a refusal.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("refused: {0}")]
    Refused(&'static str),
}

pub fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

/// The region the tests write to unless they test regions.
pub const REGION: &str = "us-east-1";

pub fn region(store: &Store) -> Region {
    store.region(REGION)
}

pub fn clusters(store: &Store) -> Table<String, Thing> {
    region(store).table(TableId::Clusters)
}

pub fn services(store: &Store) -> Table<(String, String), Thing> {
    region(store).table(TableId::Services)
}

pub fn task_definitions(store: &Store) -> TaskDefinitions<Thing> {
    region(store).task_definitions_of()
}
