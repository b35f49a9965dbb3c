//! Services: CreateService, DescribeServices, ListServices, ListServicesByNamespace,
//! UpdateService and DeleteService.
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

pub async fn create(
    _ctx: Ctx,
    _input: CreateServiceRequest,
) -> Result<CreateServiceResponse, ApiError> {
    Err(unsupported(Operation::CreateService))
}

pub async fn describe(
    _ctx: Ctx,
    _input: DescribeServicesRequest,
) -> Result<DescribeServicesResponse, ApiError> {
    Err(unsupported(Operation::DescribeServices))
}

pub async fn list(
    _ctx: Ctx,
    _input: ListServicesRequest,
) -> Result<ListServicesResponse, ApiError> {
    Err(unsupported(Operation::ListServices))
}

pub async fn list_by_namespace(
    _ctx: Ctx,
    _input: ListServicesByNamespaceRequest,
) -> Result<ListServicesByNamespaceResponse, ApiError> {
    Err(unsupported(Operation::ListServicesByNamespace))
}

pub async fn update(
    _ctx: Ctx,
    _input: UpdateServiceRequest,
) -> Result<UpdateServiceResponse, ApiError> {
    Err(unsupported(Operation::UpdateService))
}

pub async fn delete(
    _ctx: Ctx,
    _input: DeleteServiceRequest,
) -> Result<DeleteServiceResponse, ApiError> {
    Err(unsupported(Operation::DeleteService))
}
