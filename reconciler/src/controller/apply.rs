//! Writing to Kubernetes: server-side apply with kubecs's one field manager, skipped when
//! the object in the local copy already carries the hash of what would be applied; and
//! deletes that treat "already gone" as done.

use std::fmt::Debug;

use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The field manager of every kubecs write.
pub const FIELD_MANAGER: &str = "kubecs";

/// The hash of the applied configuration, on every object kubecs applies.
pub const APPLIED_HASH_ANNOTATION: &str = "ecs.kubecs.io/applied-hash";

/// Puts the hash of `object` (as it stands, without an earlier hash) in its annotations
/// and returns it.
pub fn stamp<K: Resource + Serialize>(object: &mut K) -> Result<String, serde_json::Error> {
    let annotations = object
        .meta_mut()
        .annotations
        .get_or_insert_with(Default::default);
    annotations.remove(APPLIED_HASH_ANNOTATION);
    let hash = hex::encode(&Sha256::digest(serde_json::to_vec(&*object)?)[..12]);
    object
        .meta_mut()
        .annotations
        .get_or_insert_with(Default::default)
        .insert(APPLIED_HASH_ANNOTATION.to_owned(), hash.clone());
    Ok(hash)
}

/// Whether the object as last seen was applied from the same configuration and is not
/// being deleted.
pub fn is_current<K: ResourceExt>(seen: Option<&K>, hash: &str) -> bool {
    seen.is_some_and(|o| {
        o.meta().deletion_timestamp.is_none()
            && o.annotations()
                .get(APPLIED_HASH_ANNOTATION)
                .map(String::as_str)
                == Some(hash)
    })
}

/// Server-side apply, taking ownership of fields another manager set (kubecs's
/// objects are kubecs's).
pub async fn apply<K>(api: &Api<K>, object: &K) -> Result<K, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(object)).await
}

/// Deletes `name` in the background (Kubernetes collects its children); an object
/// already gone is fine.
pub async fn delete<K>(api: &Api<K>, name: &str) -> Result<(), kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(err) => Err(err),
    }
}
