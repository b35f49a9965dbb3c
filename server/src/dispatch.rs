//! From operation to handler: one boring table, the JSON decoding and model validation
//! every handler relies on, the answer for operations kubecs does not implement, and the
//! resources a request names, for the access log.

use crate::context::Ctx;
use crate::error::{ApiError, AMZ_JSON_1_1};
use crate::ops::{
    self, account_settings, agent, capacity_providers, clusters, container_instances, daemons,
    express, service_deployments, services, tags, task_definitions, task_protection, task_sets,
    tasks,
};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kubecs_api_models::{ops as model_ops, validate, ErrorCode, Operation, OperationShape};
use std::future::Future;

/// Every implemented operation and its handler: the one table that [`dispatch`] and
/// [`check_input`] are both generated from (`$then` is the macro that receives it).
macro_rules! routes {
    ($then:ident) => {
        $then! {
            CreateCluster => clusters::create,
            DeleteCluster => clusters::delete,
            DescribeClusters => clusters::describe,
            ListClusters => clusters::list,
            UpdateCluster => clusters::update,
            UpdateClusterSettings => clusters::update_settings,
            RegisterTaskDefinition => task_definitions::register,
            DescribeTaskDefinition => task_definitions::describe,
            ListTaskDefinitions => task_definitions::list,
            ListTaskDefinitionFamilies => task_definitions::list_families,
            DeregisterTaskDefinition => task_definitions::deregister,
            DeleteTaskDefinitions => task_definitions::delete,
            CreateService => services::create,
            DescribeServices => services::describe,
            ListServices => services::list,
            ListServicesByNamespace => services::list_by_namespace,
            UpdateService => services::update,
            DeleteService => services::delete,
            TagResource => tags::tag_resource,
            UntagResource => tags::untag_resource,
            ListTagsForResource => tags::list_tags_for_resource,
            ListTasks => tasks::list,
            DescribeTasks => tasks::describe,
            RunTask => tasks::run,
            StopTask => tasks::stop,
            StartTask => tasks::start,
            ListContainerInstances => container_instances::list,
            DescribeContainerInstances => container_instances::describe,
            UpdateContainerInstancesState => container_instances::update_state,
            RegisterContainerInstance => container_instances::register,
            DeregisterContainerInstance => container_instances::deregister,
            PutAttributes => container_instances::put_attributes,
            DeleteAttributes => container_instances::delete_attributes,
            ListAttributes => container_instances::list_attributes,
            PutAccountSetting => account_settings::put_setting,
            PutAccountSettingDefault => account_settings::put_default,
            DeleteAccountSetting => account_settings::delete,
            ListAccountSettings => account_settings::list,
            DiscoverPollEndpoint => agent::discover_poll_endpoint,
            SubmitTaskStateChange => agent::submit_task_state_change,
            SubmitContainerStateChange => agent::submit_container_state_change,
            SubmitAttachmentStateChanges => agent::submit_attachment_state_changes,
            UpdateContainerAgent => agent::update_container_agent,
            ExecuteCommand => agent::execute_command,
            CreateCapacityProvider => capacity_providers::create,
            DescribeCapacityProviders => capacity_providers::describe,
            UpdateCapacityProvider => capacity_providers::update,
            DeleteCapacityProvider => capacity_providers::delete,
            PutClusterCapacityProviders => capacity_providers::put_cluster_providers,
            ListServiceDeployments => service_deployments::list,
            DescribeServiceDeployments => service_deployments::describe,
            DescribeServiceRevisions => service_deployments::describe_revisions,
            StopServiceDeployment => service_deployments::stop,
            ContinueServiceDeployment => service_deployments::continue_deployment,
            GetTaskProtection => task_protection::get,
            UpdateTaskProtection => task_protection::update,
            CreateTaskSet => task_sets::create,
            DescribeTaskSets => task_sets::describe,
            UpdateTaskSet => task_sets::update,
            DeleteTaskSet => task_sets::delete,
            UpdateServicePrimaryTaskSet => task_sets::update_primary,
            CreateDaemon => daemons::create,
            UpdateDaemon => daemons::update,
            DeleteDaemon => daemons::delete,
            DescribeDaemon => daemons::describe,
            ListDaemons => daemons::list,
            DescribeDaemonDeployments => daemons::deployments::describe,
            ListDaemonDeployments => daemons::deployments::list,
            DescribeDaemonRevisions => daemons::deployments::describe_revisions,
            RegisterDaemonTaskDefinition => daemons::task_definitions::register,
            DescribeDaemonTaskDefinition => daemons::task_definitions::describe,
            DeleteDaemonTaskDefinition => daemons::task_definitions::delete,
            ListDaemonTaskDefinitions => daemons::task_definitions::list,
            CreateExpressGatewayService => express::create,
            DescribeExpressGatewayService => express::describe,
            UpdateExpressGatewayService => express::update,
            DeleteExpressGatewayService => express::delete,
        }
    };
}

/// Runs `operation` on a raw JSON body. Operations no family implements answer
/// `UnsupportedFeatureException` naming them.
pub async fn dispatch(operation: Operation, ctx: Ctx, body: &[u8]) -> Result<Response, ApiError> {
    if !ops::is_implemented(operation) {
        return Err(unsupported(operation));
    }
    macro_rules! run {
        ($($op:ident => $handler:path),* $(,)?) => {
            match operation {
                $(Operation::$op => call::<model_ops::$op, _, _, _>(ctx, body, $handler).await,)*
                // Every operation of today's model has a handler; a newer model's may not.
                #[allow(unreachable_patterns)]
                other => Err(unsupported(other)),
            }
        };
    }
    routes!(run)
}

/// What [`dispatch`] would make of `body` before running the handler: the decoded and
/// validated input, or the error the client would get. For property tests, and a dry run
/// of a request without touching the store.
pub fn check_input(operation: Operation, body: &[u8]) -> Result<(), ApiError> {
    if !ops::is_implemented(operation) {
        return Err(unsupported(operation));
    }
    macro_rules! check {
        ($($op:ident => $handler:path),* $(,)?) => {
            match operation {
                $(Operation::$op => decode_valid::<model_ops::$op>(body).map(drop),)*
                #[allow(unreachable_patterns)]
                other => Err(unsupported(other)),
            }
        };
    }
    routes!(check)
}

/// The answer for an operation of the model that kubecs does not implement (yet).
pub fn unsupported(operation: Operation) -> ApiError {
    ApiError::new(
        ErrorCode::UnsupportedFeatureException,
        format!("kubecs does not support the {operation} operation yet."),
    )
}

/// Decodes the body into the operation's input, checks the model's constraints, runs the
/// handler and encodes its output. Handlers return the model's output shape, except where
/// a hand-written type encodes to the same JSON more cheaply (DescribeServices splices
/// cached service JSON); those types are tested against the model's shape.
async fn call<O, F, Fut, R>(ctx: Ctx, body: &[u8], handler: F) -> Result<Response, ApiError>
where
    O: OperationShape,
    F: FnOnce(Ctx, O::Input) -> Fut,
    Fut: Future<Output = Result<R, ApiError>>,
    R: serde::Serialize,
{
    let input = decode_valid::<O>(body)?;
    let output = handler(ctx, input).await?;
    let json = serde_json::to_vec(&output).map_err(|e| ApiError::internal(&e))?;
    Ok(([(header::CONTENT_TYPE, AMZ_JSON_1_1)], json).into_response())
}

/// JSON body to the operation's input, checked against the model's constraints.
fn decode_valid<O: OperationShape>(body: &[u8]) -> Result<O::Input, ApiError> {
    let input: O::Input = decode(body)?;
    validate(&input)?;
    Ok(input)
}

/// JSON body to input shape. An empty body is `{}`; unknown members are ignored (newer
/// clients send members an older model lacks); anything but a JSON object, and any member
/// of the wrong JSON type, is a `SerializationException` naming the member.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let trimmed = body.trim_ascii();
    let json: &[u8] = if trimmed.is_empty() { b"{}" } else { trimmed };
    if json.first() != Some(&b'{') {
        return Err(ApiError::new(
            ErrorCode::SerializationException,
            "The request body must be a JSON object.",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("The request body is not valid JSON: {inner}.")
        } else if path.is_empty() || path == "." {
            format!("The request body does not match the operation's input: {inner}.")
        } else {
            format!("Member '{path}' has the wrong type: {inner}.")
        };
        ApiError::new(ErrorCode::SerializationException, message)
    })?;
    de.end().map_err(|err| {
        ApiError::new(
            ErrorCode::SerializationException,
            format!("The request body is not valid JSON: {err}."),
        )
    })?;
    Ok(value)
}

/// The members that name what a request is about, as ECS spells them, in the order the
/// access log shows them. Read generically from the body, whatever the operation.
#[derive(Default, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Named {
    cluster: Option<String>,
    cluster_name: Option<String>,
    clusters: Option<Vec<String>>,
    service: Option<String>,
    service_name: Option<String>,
    services: Option<Vec<String>>,
    task_definition: Option<String>,
    task_definitions: Option<Vec<String>>,
    family: Option<String>,
    resource_arn: Option<String>,
}

/// Longest value, and most list entries, a log line shows: a body may name 100 clusters.
const LOGGED_VALUE_CHARS: usize = 256;
const LOGGED_LIST_ENTRIES: usize = 10;

/// The resources `body` names, for the access log: `cluster=demo services=web,api
/// taskDefinition=app:3`. `None` when it names none, or is not a JSON object with members
/// of the expected types (the decoder reports that to the client).
pub fn resources(body: &[u8]) -> Option<String> {
    let named: Named = serde_json::from_slice(body).ok()?;
    let mut out = String::new();
    let mut add = |key: &str, values: &[String]| {
        if values.is_empty() {
            return;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(key);
        out.push('=');
        for (i, value) in values.iter().take(LOGGED_LIST_ENTRIES).enumerate() {
            if i > 0 {
                out.push(',');
            }
            match value.char_indices().nth(LOGGED_VALUE_CHARS) {
                Some((cut, _)) => {
                    out.push_str(&value[..cut]);
                    out.push_str("...");
                }
                None => out.push_str(value),
            }
        }
        if values.len() > LOGGED_LIST_ENTRIES {
            out.push_str(&format!(",...(+{})", values.len() - LOGGED_LIST_ENTRIES));
        }
    };
    let one = |v: Option<String>| v.into_iter().collect::<Vec<_>>();
    add("cluster", &one(named.cluster));
    add("clusterName", &one(named.cluster_name));
    add("clusters", &named.clusters.unwrap_or_default());
    add("service", &one(named.service));
    add("serviceName", &one(named.service_name));
    add("services", &named.services.unwrap_or_default());
    add("taskDefinition", &one(named.task_definition));
    add(
        "taskDefinitions",
        &named.task_definitions.unwrap_or_default(),
    );
    add("family", &one(named.family));
    add("resourceArn", &one(named.resource_arn));
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubecs_api_models::{CreateClusterRequest, DescribeClustersRequest};

    fn serialization_message<T: serde::de::DeserializeOwned + std::fmt::Debug>(
        body: &str,
    ) -> String {
        let err = decode::<T>(body.as_bytes()).unwrap_err();
        assert_eq!(err.code, ErrorCode::SerializationException, "{body}");
        err.message
    }

    #[test]
    fn an_empty_body_is_an_empty_object_and_unknown_members_are_ignored() {
        let empty: CreateClusterRequest = decode(b"").unwrap();
        assert_eq!(empty, CreateClusterRequest::default());
        let unknown: CreateClusterRequest =
            decode(br#"{"clusterName":"a","someFutureMember":{"x":1}}"#).unwrap();
        assert_eq!(unknown.cluster_name.as_deref(), Some("a"));
    }

    #[test]
    fn a_member_of_the_wrong_type_is_named_in_the_serialization_error() {
        let message = serialization_message::<CreateClusterRequest>(r#"{"clusterName":5}"#);
        assert!(message.contains("clusterName"), "{message}");
        let message = serialization_message::<DescribeClustersRequest>(r#"{"clusters":"a"}"#);
        assert!(message.contains("clusters"), "{message}");
    }

    #[test]
    fn resources_are_named_in_a_fixed_order_with_long_lists_cut() {
        let body =
            br#"{"services":["a","b"],"cluster":"demo","taskDefinition":"app:3","desiredCount":2}"#;
        assert_eq!(
            resources(body).as_deref(),
            Some("cluster=demo services=a,b taskDefinition=app:3")
        );
        let many: Vec<String> = (0..12).map(|i| format!("c{i}")).collect();
        let body = serde_json::json!({ "clusters": many }).to_string();
        assert_eq!(
            resources(body.as_bytes()).as_deref(),
            Some("clusters=c0,c1,c2,c3,c4,c5,c6,c7,c8,c9,...(+2)")
        );
        let long = "x".repeat(300);
        let body = serde_json::json!({ "family": long }).to_string();
        let named = resources(body.as_bytes()).unwrap();
        assert_eq!(named.len(), "family=".len() + 256 + 3, "{named}");
    }

    #[test]
    fn bodies_naming_nothing_or_of_the_wrong_shape_name_no_resources() {
        assert_eq!(resources(b"{}"), None);
        assert_eq!(resources(b""), None);
        assert_eq!(resources(b"[1]"), None);
        assert_eq!(resources(br#"{"cluster":5}"#), None);
        assert_eq!(resources(br#"{"maxResults":5}"#), None);
    }

    #[test]
    fn bodies_that_are_not_json_objects_are_serialization_errors() {
        serialization_message::<CreateClusterRequest>("not json");
        serialization_message::<CreateClusterRequest>("[]");
        serialization_message::<CreateClusterRequest>(r#"{"clusterName":"a"} trailing"#);
        serialization_message::<CreateClusterRequest>(r#"{"clusterName":"a""#);
    }
}
