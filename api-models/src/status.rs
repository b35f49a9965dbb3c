//! The status names ECS uses on the wire, where the model types them as plain strings
//! (clusters, services and deployments): one place for the API and the reconciler.

/// `Cluster.status` and `Service.status`: in use.
pub const ACTIVE: &str = "ACTIVE";
/// `Service.status`: deleted, its tasks being stopped.
pub const DRAINING: &str = "DRAINING";
/// `Cluster.status`, `Service.status`: deleted; still describable.
pub const INACTIVE: &str = "INACTIVE";

/// `Deployment.status`: the deployment the service is moving to.
pub const DEPLOYMENT_PRIMARY: &str = "PRIMARY";
/// `Deployment.status`: an earlier deployment still running tasks.
pub const DEPLOYMENT_ACTIVE: &str = "ACTIVE";
/// `Deployment.status`: a deployment that no longer runs tasks.
pub const DEPLOYMENT_INACTIVE: &str = "INACTIVE";
