//! What kubecs keeps of the ECS Daemons API: daemon task definitions (revisions like task
//! definitions, in tables of their own) and daemons with their revisions and deployments.

use kubecs_api_models::{
    DaemonDeployment, DaemonDeploymentConfiguration, DaemonRevision, DaemonStatus,
    DaemonTaskDefinition, DaemonTaskDefinitionStatus, Timestamp,
};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ecs::TaskCounts;
use crate::feed::TableId;
use crate::region::Region;
use crate::table::Table;
use crate::task_definitions::{RevisionTables, Revisioned, TaskDefinitions};

impl Revisioned for DaemonTaskDefinition {
    fn status(&self) -> &str {
        self.status
            .as_ref()
            .map_or("", DaemonTaskDefinitionStatus::as_str)
    }
}

/// One daemon: its identity and status, the revisions its deployments deployed and the
/// deployments (both newest first, bounded), and the reconciler's count of its running
/// tasks. The API writes the desired part (a new revision and deployment per
/// CreateDaemon, UpdateDaemon and DeleteDaemon); the reconciler writes `running`,
/// `task_records` and the deployments' progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonState {
    pub daemon_arn: String,
    pub cluster_arn: String,
    pub status: DaemonStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The `clientToken` of the CreateDaemon that created it, for idempotent retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    pub revisions: Vec<DaemonRevisionState>,
    pub deployments: Vec<DaemonDeployment>,
    /// Running tasks by (revision ARN, capacity provider ARN), as last observed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub running: Vec<RunningCount>,
    /// The reconciler's memory: a digest of each task record it wrote, by task id, so
    /// that unchanged records are not written again and a task whose pod is gone is
    /// marked STOPPED.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub task_records: BTreeMap<String, u64>,
    /// Tasks placed and not yet running, as last observed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pending_count: i32,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// A daemon revision, with what it deploys beyond the `DaemonRevision` shape.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DaemonRevisionState {
    pub revision: DaemonRevision,
    pub capacity_provider_arns: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_configuration: Option<DaemonDeploymentConfiguration>,
}

/// Running tasks of one revision on the nodes of one capacity provider.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunningCount {
    pub revision_arn: String,
    pub capacity_provider_arn: String,
    pub count: i32,
}

impl DaemonState {
    /// The newest deployment (the one `deploymentArn` names).
    pub fn current_deployment(&self) -> Option<&DaemonDeployment> {
        self.deployments.first()
    }

    /// Its share of its cluster's task counts: its running and pending tasks, on EC2
    /// (the nodes of Auto Scaling group providers).
    pub fn task_counts(&self) -> TaskCounts {
        TaskCounts {
            kind: "EC2",
            running: self.running.iter().map(|c| i64::from(c.count.max(0))).sum(),
            pending: i64::from(self.pending_count.max(0)),
        }
    }

    /// The newest revision (what an ACTIVE daemon runs, or is rolling out).
    pub fn current_revision(&self) -> Option<&DaemonRevisionState> {
        self.revisions.first()
    }
}

impl Region {
    /// Daemon task definitions keyed by (family, revision).
    pub fn daemon_task_definitions(&self) -> TaskDefinitions<DaemonTaskDefinition> {
        TaskDefinitions::new(self.clone(), RevisionTables::DAEMON_TASK_DEFINITIONS)
    }

    /// Daemons keyed by (cluster name, daemon name).
    pub fn daemons(&self) -> Table<(String, String), DaemonState> {
        self.table(TableId::Daemons)
    }
}
