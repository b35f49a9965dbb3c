//! The nodes as the API sees them: a handle the API holds from startup and the loop
//! connects to its local copies once it has a cluster. Reading it never waits for
//! Kubernetes (the copies are in memory); without a cluster there are no nodes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

use super::caches::Caches;
use crate::observe::nodes::{facts, NodeFacts};

/// Shared between the API and the loop; cheap to clone.
#[derive(Clone, Default)]
pub struct NodeView {
    caches: Arc<RwLock<Option<Caches>>>,
}

impl std::fmt::Debug for NodeView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeView").finish_non_exhaustive()
    }
}

impl NodeView {
    /// Called by the loop once its copies exist.
    pub(crate) fn connect(&self, caches: &Caches) {
        if let Ok(mut slot) = self.caches.write() {
            *slot = Some(caches.clone());
        }
    }

    /// Every node as a container instance, sorted by instance id; empty without a
    /// cluster.
    pub fn facts(&self) -> Vec<NodeFacts> {
        let Some(caches) = self.caches.read().ok().and_then(|c| c.clone()) else {
            return Vec::new();
        };
        let pods = caches.all_pods.state();
        let mut by_node: HashMap<String, Vec<&Pod>> = HashMap::new();
        for pod in &pods {
            if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
                by_node.entry(node).or_default().push(&**pod);
            }
        }
        let mut all: Vec<NodeFacts> = caches
            .nodes
            .state()
            .iter()
            .map(|node| {
                let on_node = by_node.get(&node.name_any()).map(Vec::as_slice);
                facts(node, on_node.unwrap_or_default().iter().copied())
            })
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// How many nodes there are (without computing what runs on them).
    pub fn count(&self) -> usize {
        self.caches
            .read()
            .ok()
            .and_then(|c| c.as_ref().map(|c| c.nodes.state().len()))
            .unwrap_or(0)
    }

    /// Whether a node has the container instance id `id`.
    pub fn has_instance(&self, id: &str) -> bool {
        self.caches.read().ok().is_some_and(|c| {
            c.as_ref().is_some_and(|c| {
                c.nodes
                    .state()
                    .iter()
                    .any(|n| crate::observe::nodes::instance_id(&n.name_any()) == id)
            })
        })
    }

    /// Whether the loop has a cluster and has listed its nodes.
    pub fn is_connected(&self) -> bool {
        self.caches
            .read()
            .ok()
            .is_some_and(|c| c.as_ref().is_some_and(Caches::is_ready))
    }
}
