//! Amazon ECS wire types, generated from the ECS service model that botocore ships.
//!
//! - [`shapes`]: one type per structure and string-enum shape (generated).
//! - [`Operation`] and [`ops`]: the model's operations (generated).
//! - [`Validate`]: the model's constraints (generated), reported as [`Violation`]s.
//! - [`ErrorCode`]: every error kubecs can answer with, its `__type` and HTTP status.
//! - [`Timestamp`]: epoch seconds on the wire, as the AWS JSON protocol wants.
//! - [`cluster_query`]: ECS's cluster query language (filters, `memberOf`).
//! - [`arn`]: ECS ARNs and "name or ARN" references; [`status`]: status names.
//!
//! serde only: no I/O, no async, no HTTP.

pub mod arn;
pub mod cluster_query;
mod enums;
mod errors;
pub mod status;
mod timestamp;
mod validate;

#[path = "generated/operations.rs"]
mod operations;
#[path = "generated/shapes.rs"]
pub mod shapes;
#[path = "generated/validate.rs"]
mod validate_impls;

pub use arn::{task_definition_of, ArnBuilder, ArnError, TaskDefinitionRef};
pub use errors::{error_body, ErrorCode};
pub use operations::{
    ops, Operation, API_VERSION, JSON_VERSION, MODEL_ERRORS, SIGNING_NAME, TARGET_PREFIX,
};
pub use shapes::*;
pub use timestamp::Timestamp;
pub use validate::{validate, Validate, Validator, Violation, ViolationKind};

/// Ties an operation's marker type (in [`ops`]) to its input and output shapes.
pub trait OperationShape {
    /// The operation.
    const OPERATION: Operation;
    /// The request shape.
    type Input: serde::de::DeserializeOwned + Validate + Send + 'static;
    /// The response shape.
    type Output: serde::Serialize + Send + 'static;
}
