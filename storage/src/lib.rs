//! kubecs's desired state in an embedded sled store, behind a typed API.
