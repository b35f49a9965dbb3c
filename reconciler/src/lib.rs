//! The reconciler: turns ECS desired state kept in `kubecs-storage` into Kubernetes
//! objects and writes what really runs back as ECS observed status.
//!
//! - [`convert`]: the pure converter from ECS desired state to Kubernetes objects.
//! - [`observe`]: the pure observation of what runs, in ECS's shapes and words.
//! - [`controller`]: the control loop that applies the one and writes back the other.
//! - [`history`]: the service deployments and revisions ListServiceDeployments shows.
//! - [`evacuate`]: moving a service's tasks off draining container instances.
//! - [`daemon_deployment`]: a daemon's deployment followed, with its circuit breaker.
//! - [`deployment`], [`drain`], [`status`]: transitions of a service's stored state
//!   shared by the API and the loop.

pub mod controller;
pub mod convert;
pub mod daemon_deployment;
pub mod deployment;
pub mod drain;
pub mod evacuate;
pub mod history;
pub mod observe;
pub mod status;
