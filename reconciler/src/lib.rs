//! The reconciler: turns ECS desired state kept in `kubecs-storage` into Kubernetes
//! objects and writes what really runs back as ECS observed status.
//!
//! So far it holds the pure status transitions the control loop will apply (events,
//! finishing a drain) and the pure converter from ECS desired state to Kubernetes objects
//! ([`convert`]); the control loop arrives with the reconciler issue.

pub mod convert;
pub mod drain;
pub mod observe;
pub mod status;
