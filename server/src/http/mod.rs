//! The HTTP side of the AWS JSON 1.1 protocol: middleware and the API entry point.

pub mod api;
pub mod auth;
pub mod body;
pub mod health;
pub mod request_id;
