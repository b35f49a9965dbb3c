//! What the ECS container agent and ECS Exec use: kubecs runs no agent (the kubelet
//! reports what runs) and no Session Manager, so these answer ECS's own errors for a
//! cluster without agents, saying what to use instead.
//!
//! - DiscoverPollEndpoint: ClientException (no agent can connect to kubecs).
//! - SubmitTaskStateChange, SubmitContainerStateChange, SubmitAttachmentStateChanges:
//!   AccessDeniedException (only an agent may report state).
//! - UpdateContainerAgent: NoUpdateAvailableException for a container instance (a node
//!   is updated through Kubernetes).
//! - ExecuteCommand: ECS's checks (the task exists, runs, was started with
//!   `enableExecuteCommand`), then TargetNotConnectedException whose message is the
//!   `kubectl exec` command for the task's pod and container.

use kubecs_api_models::{
    DiscoverPollEndpointRequest, DiscoverPollEndpointResponse, ErrorCode, ExecuteCommandRequest,
    ExecuteCommandResponse, Operation, SubmitAttachmentStateChangesRequest,
    SubmitAttachmentStateChangesResponse, SubmitContainerStateChangeRequest,
    SubmitContainerStateChangeResponse, SubmitTaskStateChangeRequest,
    SubmitTaskStateChangeResponse, UpdateContainerAgentRequest, UpdateContainerAgentResponse,
};
use kubecs_reconciler::convert::task::pod_name;
use kubecs_reconciler::convert::{namespace_name, ClusterScope};
use kubecs_reconciler::observe::records;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::ops::{clusters, container_instances, names};

/// Operations answered with ECS's error for what has no counterpart here.
pub const NOT_APPLICABLE: &[Operation] = &[
    Operation::DiscoverPollEndpoint,
    Operation::SubmitTaskStateChange,
    Operation::SubmitContainerStateChange,
    Operation::SubmitAttachmentStateChanges,
    Operation::UpdateContainerAgent,
    Operation::ExecuteCommand,
];

pub fn note(operation: Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::DiscoverPollEndpoint => "No ECS container agent connects to kubecs (nodes are container instances through Kubernetes): `ClientException` saying so.",
        Operation::SubmitTaskStateChange | Operation::SubmitContainerStateChange | Operation::SubmitAttachmentStateChanges => "Only an ECS container agent reports state; on Kubernetes the kubelet does: `AccessDeniedException` saying so.",
        Operation::UpdateContainerAgent => "A node's kubelet is updated through Kubernetes: `NoUpdateAvailableException` for a container instance (ECS's answer when there is no agent update).",
        Operation::ExecuteCommand => "ECS Exec needs AWS Session Manager: after ECS's checks (task RUNNING, `enableExecuteCommand`), `TargetNotConnectedException` whose message is the `kubectl exec` command for the task's pod and container.",
        _ => return None,
    })
}

const NO_AGENT: &str = "kubecs runs no ECS container agent: Kubernetes nodes are its container instances and their kubelets report what runs.";

pub async fn discover_poll_endpoint(
    _ctx: Ctx,
    _input: DiscoverPollEndpointRequest,
) -> Result<DiscoverPollEndpointResponse, ApiError> {
    Err(ApiError::client(format!(
        "{NO_AGENT} There is no poll endpoint for an agent."
    )))
}

fn agents_only() -> ApiError {
    ApiError::new(
        ErrorCode::AccessDeniedException,
        format!("Only an ECS container agent may submit state changes. {NO_AGENT}"),
    )
}

pub async fn submit_task_state_change(
    _ctx: Ctx,
    _input: SubmitTaskStateChangeRequest,
) -> Result<SubmitTaskStateChangeResponse, ApiError> {
    Err(agents_only())
}

pub async fn submit_container_state_change(
    _ctx: Ctx,
    _input: SubmitContainerStateChangeRequest,
) -> Result<SubmitContainerStateChangeResponse, ApiError> {
    Err(agents_only())
}

pub async fn submit_attachment_state_changes(
    _ctx: Ctx,
    _input: SubmitAttachmentStateChangesRequest,
) -> Result<SubmitAttachmentStateChangesResponse, ApiError> {
    Err(agents_only())
}

pub async fn update_container_agent(
    ctx: Ctx,
    input: UpdateContainerAgentRequest,
) -> Result<UpdateContainerAgentResponse, ApiError> {
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let ident = input
        .container_instance
        .as_deref()
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("Container instance cannot be empty."))?;
    let instance = container_instances::find(&ctx, &cluster, ident)?.ok_or_else(|| {
        ApiError::invalid_parameter("The referenced container instance was not found.")
    })?;
    let what = match &instance.node {
        Some(node) => format!(
            "it is the Kubernetes node {}, updated through Kubernetes",
            node.name
        ),
        None => "its agent never connected".to_owned(),
    };
    Err(ApiError::new(
        ErrorCode::NoUpdateAvailableException,
        format!("There is no update available for the container agent of {ident}: {what}."),
    ))
}

pub async fn execute_command(
    ctx: Ctx,
    input: ExecuteCommandRequest,
) -> Result<ExecuteCommandResponse, ApiError> {
    let command = input
        .command
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("Command cannot be empty."))?;
    let ident = input
        .task
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::invalid_parameter("Task cannot be empty."))?;
    let cluster = clusters::require_active(&ctx, input.cluster.as_deref())?;
    let missing = || ApiError::invalid_parameter("The referenced task was not found.");
    let id = names::in_cluster(&ctx, "task", &cluster, ident)?.ok_or_else(missing)?;
    let task = ctx
        .store
        .tasks()
        .get((cluster.as_str(), id))?
        .ok_or_else(missing)?
        .value;
    if task.enable_execute_command != Some(true) {
        return Err(ApiError::invalid_parameter(
            "The execute command failed because execute command was not enabled when the task was run or the execute command agent isn't running. Wait and try again or run a new task with execute command enabled and try again.",
        ));
    }
    if task.last_status.as_deref() != Some("RUNNING") {
        return Err(ApiError::invalid_parameter(
            "The execute command failed because the task is not in the RUNNING state.",
        ));
    }
    let containers: Vec<&str> = task
        .containers
        .iter()
        .flatten()
        .filter_map(|c| c.name.as_deref())
        .collect();
    let container = match (input.container.as_deref(), containers.as_slice()) {
        (Some(name), _) if containers.contains(&name) => name,
        (Some(name), _) => {
            return Err(ApiError::invalid_parameter(format!(
                "The container {name} is not a container of the task."
            )))
        }
        (None, [only]) => only,
        (None, _) => {
            return Err(ApiError::invalid_parameter(
                "The task has more than one container: the container name must be specified.",
            ))
        }
    };
    let namespace = namespace_name(&ClusterScope {
        region: &ctx.region,
        cluster: &cluster,
    });
    // A service's or daemon's pod is named by its ReplicaSet or DaemonSet: found by its
    // UID (the task id).
    let pod = if records::is_scheduled(&task) {
        format!(
            "\"$(kubectl get pods -n {namespace} -o jsonpath='{{.items[?(@.metadata.uid==\"{}\")].metadata.name}}')\"",
            uid_of(id)
        )
    } else {
        pod_name(id)
    };
    let interactive = if input.interactive.unwrap_or(true) {
        " -it"
    } else {
        ""
    };
    Err(ApiError::new(
        ErrorCode::TargetNotConnectedException,
        format!(
            "kubecs cannot open an ECS Exec session (it needs AWS Session Manager). Run the command with kubectl instead: kubectl exec{interactive} -n {namespace} {pod} -c {container} -- {command}"
        ),
    ))
}

/// A pod UID from a task id (the UID without its dashes).
fn uid_of(id: &str) -> String {
    if id.len() != 32 {
        return id.to_owned();
    }
    format!(
        "{}-{}-{}-{}-{}",
        &id[0..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..32]
    )
}
