//! The HTTP side of the AWS JSON 1.1 protocol: connections and their limits, middleware,
//! the API entry point, and the endpoints outside authentication.

pub mod api;
pub mod auth;
pub mod body;
pub mod connection;
pub mod health;
pub mod request_id;
