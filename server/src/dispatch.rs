//! From operation to handler: one boring `match`, the JSON decoding and model validation
//! every handler relies on, and the answer for operations kubecs does not implement.

use crate::context::Ctx;
use crate::error::{ApiError, AMZ_JSON_1_1};
use crate::ops::{self, clusters, services, tags, task_definitions};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kubecs_api_models::{ops as model_ops, validate, ErrorCode, Operation, OperationShape};
use std::future::Future;

/// Runs `operation` on a raw JSON body. Operations no family implements answer
/// `UnsupportedFeatureException` naming them.
pub async fn dispatch(operation: Operation, ctx: Ctx, body: &[u8]) -> Result<Response, ApiError> {
    if !ops::is_implemented(operation) {
        return Err(unsupported(operation));
    }
    macro_rules! route {
        ($op:ident => $handler:path) => {
            call::<model_ops::$op, _, _, _>(ctx, body, $handler).await
        };
    }
    match operation {
        Operation::CreateCluster => route!(CreateCluster => clusters::create),
        Operation::DeleteCluster => route!(DeleteCluster => clusters::delete),
        Operation::DescribeClusters => route!(DescribeClusters => clusters::describe),
        Operation::ListClusters => route!(ListClusters => clusters::list),
        Operation::UpdateCluster => route!(UpdateCluster => clusters::update),
        Operation::UpdateClusterSettings => {
            route!(UpdateClusterSettings => clusters::update_settings)
        }
        Operation::RegisterTaskDefinition => {
            route!(RegisterTaskDefinition => task_definitions::register)
        }
        Operation::DescribeTaskDefinition => {
            route!(DescribeTaskDefinition => task_definitions::describe)
        }
        Operation::ListTaskDefinitions => route!(ListTaskDefinitions => task_definitions::list),
        Operation::ListTaskDefinitionFamilies => {
            route!(ListTaskDefinitionFamilies => task_definitions::list_families)
        }
        Operation::DeregisterTaskDefinition => {
            route!(DeregisterTaskDefinition => task_definitions::deregister)
        }
        Operation::DeleteTaskDefinitions => {
            route!(DeleteTaskDefinitions => task_definitions::delete)
        }
        Operation::CreateService => route!(CreateService => services::create),
        Operation::DescribeServices => route!(DescribeServices => services::describe),
        Operation::ListServices => route!(ListServices => services::list),
        Operation::ListServicesByNamespace => {
            route!(ListServicesByNamespace => services::list_by_namespace)
        }
        Operation::UpdateService => route!(UpdateService => services::update),
        Operation::DeleteService => route!(DeleteService => services::delete),
        Operation::TagResource => route!(TagResource => tags::tag_resource),
        Operation::UntagResource => route!(UntagResource => tags::untag_resource),
        Operation::ListTagsForResource => {
            route!(ListTagsForResource => tags::list_tags_for_resource)
        }
        other => Err(unsupported(other)),
    }
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
    let input: O::Input = decode(body)?;
    validate(&input)?;
    let output = handler(ctx, input).await?;
    let json = serde_json::to_vec(&output).map_err(|e| ApiError::internal(&e))?;
    Ok(([(header::CONTENT_TYPE, AMZ_JSON_1_1)], json).into_response())
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
    fn bodies_that_are_not_json_objects_are_serialization_errors() {
        serialization_message::<CreateClusterRequest>("not json");
        serialization_message::<CreateClusterRequest>("[]");
        serialization_message::<CreateClusterRequest>(r#"{"clusterName":"a"} trailing"#);
        serialization_message::<CreateClusterRequest>(r#"{"clusterName":"a""#);
    }
}
