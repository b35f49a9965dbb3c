//! AWS Signature Version 4 for kubecs: canonical request, string to sign, signing-key
//! derivation and constant-time verification. Pure functions, no I/O (apart from the
//! convenience [`StaticCredentials::load_file`]), so the server's verifier and the benchmark's
//! signer share one implementation.
//!
//! - [`Verifier::verify`] checks a request and yields the [`Caller`] or an [`AuthError`]
//!   carrying AWS's exact code, status and message.
//! - [`sign`] / [`presign`] produce what a client adds to a request, byte-identical to the
//!   AWS SDKs.
//! - [`canonical`] exposes the building blocks, pinned by the AWS SigV4 test suite.

pub mod canonical;
pub mod credentials;
pub mod datetime;
mod encode;
pub mod error;
pub mod key;
pub mod parse;
mod request;
mod sign;
mod signature;
mod verify;

pub use credentials::{
    Credential, CredentialsFileError, CredentialsProvider, Secret, StaticCredentials,
    DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCOUNT_ID, DEFAULT_SECRET_ACCESS_KEY,
};
pub use datetime::AmzDate;
pub use encode::uri_encode;
pub use error::{AuthError, AuthErrorCode, Reason};
pub use key::{KeyCache, SigningKey};
pub use request::RequestParts;
pub use sign::{presign, sign, SignError, Signed, SigningParams};
pub use signature::Signature;
pub use verify::{is_region_name, Caller, Regions, Verifier, VerifyConfig, DEFAULT_MAX_SKEW};
