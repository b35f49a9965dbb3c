//! Task definitions: RegisterTaskDefinition, DescribeTaskDefinition, ListTaskDefinitions,
//! ListTaskDefinitionFamilies, DeregisterTaskDefinition and DeleteTaskDefinitions.
//!
//! Not implemented yet: `OPERATIONS` is empty, so the dispatcher answers
//! UnsupportedFeatureException before these are reached.

use crate::context::Ctx;
use crate::dispatch::unsupported;
use crate::error::ApiError;
use kubecs_api_models::*;

/// The operations this module implements.
pub const OPERATIONS: &[Operation] = &[];

/// What kubecs does with each, for the README's compatibility table.
pub fn note(_operation: Operation) -> Option<&'static str> {
    None
}

pub async fn register(
    _ctx: Ctx,
    _input: RegisterTaskDefinitionRequest,
) -> Result<RegisterTaskDefinitionResponse, ApiError> {
    Err(unsupported(Operation::RegisterTaskDefinition))
}

pub async fn describe(
    _ctx: Ctx,
    _input: DescribeTaskDefinitionRequest,
) -> Result<DescribeTaskDefinitionResponse, ApiError> {
    Err(unsupported(Operation::DescribeTaskDefinition))
}

pub async fn list(
    _ctx: Ctx,
    _input: ListTaskDefinitionsRequest,
) -> Result<ListTaskDefinitionsResponse, ApiError> {
    Err(unsupported(Operation::ListTaskDefinitions))
}

pub async fn list_families(
    _ctx: Ctx,
    _input: ListTaskDefinitionFamiliesRequest,
) -> Result<ListTaskDefinitionFamiliesResponse, ApiError> {
    Err(unsupported(Operation::ListTaskDefinitionFamilies))
}

pub async fn deregister(
    _ctx: Ctx,
    _input: DeregisterTaskDefinitionRequest,
) -> Result<DeregisterTaskDefinitionResponse, ApiError> {
    Err(unsupported(Operation::DeregisterTaskDefinition))
}

pub async fn delete(
    _ctx: Ctx,
    _input: DeleteTaskDefinitionsRequest,
) -> Result<DeleteTaskDefinitionsResponse, ApiError> {
    Err(unsupported(Operation::DeleteTaskDefinitions))
}
