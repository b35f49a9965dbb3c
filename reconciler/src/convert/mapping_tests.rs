//! Keeps reconciler/MAPPING.md complete: every member of the mapped ECS shapes is listed.
