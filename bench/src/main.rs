//! `kubecs-bench`: measures kubecs against moto's ECS endpoint with the same SigV4-signed
//! requests in the same run.

fn main() {}
