//! The reconciler: turns ECS desired state kept in `kubecs-storage` into Kubernetes
//! objects and writes what really runs back as ECS observed status.
//!
//! Nothing lives here yet; the Kubernetes side arrives with the reconciler issue. The
//! crate exists so the dependency order (api-models <- storage <- reconciler <- server)
//! is fixed from the start.
