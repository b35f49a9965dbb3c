//! Conformance tests drive a running `kubecs` with real AWS clients (aws-sdk-ecs, boto3,
//! the aws CLI). The library part holds what the tests share: starting a server on a
//! free loopback port with a fresh data directory.
