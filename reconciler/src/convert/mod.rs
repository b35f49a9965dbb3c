//! The pure converter: ECS desired state (task definitions, services) to Kubernetes
//! objects. No I/O and no Kubernetes client: the control loop calls these functions and
//! applies what they return. `reconciler/MAPPING.md` lists every ECS member and where it
//! goes (a test keeps it complete).
//!
//! - [`names`]: namespaces, object names, labels and annotations.
//! - [`pod`]: a task definition as a pod template (with [`container`], [`resources`],
//!   [`probe`], [`volumes`], [`references`], [`order`]).
//! - [`workload`]: a service as a Deployment and its Services (with [`services`] and
//!   [`placement`]).
//! - [`task`]: a standalone task (RunTask) as a pod.
//! - [`validate`]: what Kubernetes cannot run, as ECS errors.

pub mod container;
pub mod daemon;
pub mod ecs_daemon;
pub mod express;
pub mod member_of;
pub mod names;
pub mod order;
pub mod placement;
pub mod pod;
pub mod probe;
pub mod references;
pub mod resources;
pub mod services;
pub mod task;
pub mod task_set;
pub mod validate;
pub mod volumes;
pub mod workload;

#[cfg(test)]
mod mapping_tests;
#[cfg(test)]
mod testing;

pub use daemon::{check_daemon, daemon_set};
pub use names::{namespace, namespace_name, workload_name, ClusterScope};
pub use pod::pod_template;
pub use task_set::{check_task_set, task_set_deployment};
pub use validate::{check_service, check_task_definition, Unsupported};
pub use workload::{primary_deployment, rolling_update, workload, Workload};
