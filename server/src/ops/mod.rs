//! Handlers, one module per resource family. Each takes the request context and the
//! typed (already validated) request, and returns the typed response or an `ApiError`.

pub mod clusters;
pub mod tags;
