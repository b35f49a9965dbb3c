//! The ECS tables: which generated model shape each table holds and how it is keyed.
//!
//! Keys use names, not ARNs (handlers resolve an ARN or name to the name first), because
//! names are what ECS sorts its listings by and are shorter to store.

use kubecs_api_models::{
    Cluster, Service, Setting, Tag, Task, TaskDefinition, TaskDefinitionStatus,
};
use serde::{Deserialize, Serialize};

use crate::feed::TableId;
use crate::store::Store;
use crate::table::Table;
use crate::task_definitions::{Revisioned, TaskDefinitions};

impl Revisioned for TaskDefinition {
    fn status(&self) -> &str {
        // Registration always sets a status; a value without one matches no status filter
        // (ECS's statuses are never empty).
        self.status
            .as_ref()
            .map_or("", TaskDefinitionStatus::as_str)
    }
}

/// A service's stored desired state: the ECS shape, plus what ECS keeps about a service
/// that its API never shows. Kept together in one record so that every write (the API's
/// and the reconciler's) carries both.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceState {
    /// The service as DescribeServices shows it (tags live in the tags table).
    pub service: Service,
    /// The `clientToken` of the CreateService that created it, for idempotent retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Store {
    /// Clusters keyed by cluster name.
    pub fn clusters(&self) -> Table<String, Cluster> {
        self.table(TableId::Clusters)
    }

    /// Task-definition families and revisions keyed by (family, revision).
    pub fn task_definitions(&self) -> TaskDefinitions<TaskDefinition> {
        self.task_definitions_of()
    }

    /// Services keyed by (cluster name, service name), with their deployments and events
    /// inside the `Service` value; `generation`/`observed_generation` drive the reconciler.
    pub fn services(&self) -> Table<(String, String), ServiceState> {
        self.table(TableId::Services)
    }

    /// Tasks (running and recently stopped) keyed by (cluster name, task id).
    pub fn tasks(&self) -> Table<(String, String), Task> {
        self.table(TableId::Tasks)
    }

    /// The tags of each resource, keyed by resource ARN.
    pub fn tags(&self) -> Table<String, Vec<Tag>> {
        self.table(TableId::Tags)
    }

    /// Account settings keyed by (principal ARN, setting name); the account default uses
    /// the account's root ARN as principal.
    pub fn settings(&self) -> Table<(String, String), Setting> {
        self.table(TableId::Settings)
    }
}

#[cfg(test)]
mod tests {
    use kubecs_api_models::Cluster;

    use crate::{Record, StoreError, Write};

    #[tokio::test]
    async fn ecs_shapes_are_stored_in_their_wire_form_inside_the_envelope() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(dir.path()).unwrap();
        let cluster = Cluster {
            cluster_name: Some("default".into()),
            status: Some("ACTIVE".into()),
            ..Cluster::default()
        };
        let c = cluster.clone();
        store
            .clusters()
            .update("default", move |_| {
                Ok::<_, StoreError>((Write::Put(c.clone()), ()))
            })
            .await
            .unwrap();
        let raw = store
            .tree(crate::TableId::Clusters)
            .get(crate::AsKey::<String>::encode_key("default"))
            .unwrap()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        assert_eq!(json["value"]["clusterName"], "default");
        assert_eq!(json["generation"], 1);
        let record: Record<Cluster> = store.clusters().get("default").unwrap().unwrap();
        assert_eq!(record.value, cluster);
    }

    #[tokio::test]
    async fn a_task_definition_is_indexed_and_counted_by_its_ecs_status() {
        use crate::task_definitions::Revisioned;
        use kubecs_api_models::{TaskDefinition, TaskDefinitionStatus};
        let mut td = TaskDefinition {
            status: Some(TaskDefinitionStatus::Active),
            ..TaskDefinition::default()
        };
        assert!(td.is_active());
        assert_eq!(td.status(), "ACTIVE");
        td.status = Some(TaskDefinitionStatus::Inactive);
        assert!(!td.is_active());
        assert_eq!(td.status(), "INACTIVE");
        td.status = Some(TaskDefinitionStatus::DeleteInProgress);
        assert_eq!(td.status(), "DELETE_IN_PROGRESS");
        td.status = None;
        assert!(!td.is_active());
        assert_eq!(td.status(), "");
    }
}
