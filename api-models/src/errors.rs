//! Every error kubecs answers with: its wire `__type` and HTTP status, in one table.
//!
//! - The ECS model's error shapes (`MODEL_ERRORS`, checked by a test to be all here):
//!   client faults are HTTP 400 and `ServerException` is HTTP 500. ECS's model carries
//!   no `httpError` traits, and AWS JSON 1.1 services answer client faults with 400
//!   (AWS ECS API Reference, "Errors" section of each operation, and "Common Errors").
//! - Protocol errors of the AWS JSON 1.1 front end: `UnknownOperationException` and
//!   `SerializationException` (400), as botocore and the SDKs expect them.
//! - Authentication errors: `MissingAuthenticationTokenException`,
//!   `IncompleteSignatureException`, `InvalidSignatureException` and
//!   `UnrecognizedClientException`, all HTTP 400 as ECS and its coral JSON siblings answer
//!   them (403 is API Gateway's and the query protocol's); the evidence is listed in
//!   `kubecs-sigv4`'s `error` module.
//! - HTTP-level errors with no ECS equivalent get a descriptive `__type` and the HTTP
//!   status that says what happened (413, 405, 415, 404, 408).

use aws_smithy_json::serialize::JsonObjectWriter;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $status:literal ),* $(,)?) => {
        /// An error code kubecs can answer with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every error code.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The wire name: `__type` in the body and `x-amzn-ErrorType`.
            pub const fn wire_name(self) -> &'static str {
                match self { $( ErrorCode::$variant => stringify!($variant), )* }
            }

            /// The HTTP status real ECS answers with.
            pub const fn http_status(self) -> u16 {
                match self { $( ErrorCode::$variant => $status, )* }
            }
        }
    };
}

error_codes! {
    // The ECS model's errors.
    /// You don't have authorization to perform the requested action.
    AccessDeniedException = 400,
    /// Too many attributes on a resource.
    AttributeLimitExceededException = 400,
    /// The account is blocked.
    BlockedException = 400,
    /// A client action is invalid (for example an identifier that does not exist).
    ClientException = 400,
    /// The cluster has capacity providers attached.
    ClusterContainsCapacityProviderException = 400,
    /// The cluster has registered container instances.
    ClusterContainsContainerInstancesException = 400,
    /// The cluster has ACTIVE or DRAINING services.
    ClusterContainsServicesException = 400,
    /// The cluster has running tasks.
    ClusterContainsTasksException = 400,
    /// The cluster was not found.
    ClusterNotFoundException = 400,
    /// The request conflicts with the resource's state.
    ConflictException = 400,
    /// The daemon is not active.
    DaemonNotActiveException = 400,
    /// The daemon was not found.
    DaemonNotFoundException = 400,
    /// A parameter is not valid.
    InvalidParameterException = 400,
    /// A limit was exceeded.
    LimitExceededException = 400,
    /// The container instance has no agent version information.
    MissingVersionException = 400,
    /// The namespace was not found.
    NamespaceNotFoundException = 400,
    /// No agent update is available.
    NoUpdateAvailableException = 400,
    /// The task definition is incompatible with the platform.
    PlatformTaskDefinitionIncompatibilityException = 400,
    /// The platform version is unknown.
    PlatformUnknownException = 400,
    /// The resource is in use.
    ResourceInUseException = 400,
    /// The resource was not found.
    ResourceNotFoundException = 400,
    /// A server-side fault.
    ServerException = 500,
    /// The service deployment was not found.
    ServiceDeploymentNotFoundException = 400,
    /// The service is not ACTIVE.
    ServiceNotActiveException = 400,
    /// The service was not found.
    ServiceNotFoundException = 400,
    /// The execute-command target is not connected.
    TargetNotConnectedException = 400,
    /// The target was not found.
    TargetNotFoundException = 400,
    /// The task set was not found.
    TaskSetNotFoundException = 400,
    /// The feature (here: the operation) is not supported.
    UnsupportedFeatureException = 400,
    /// An update is already in progress.
    UpdateInProgressException = 400,

    // The AWS JSON 1.1 protocol.
    /// `X-Amz-Target` names no operation of the service.
    UnknownOperationException = 400,
    /// The body is not JSON, or a member has the wrong JSON type.
    SerializationException = 400,

    // Authentication (SigV4).
    /// No Authorization header or signature query parameters.
    MissingAuthenticationTokenException = 400,
    /// The Authorization header or signature parameters are malformed or incomplete.
    IncompleteSignatureException = 400,
    /// The signature does not match, or the request time is outside the allowed skew.
    InvalidSignatureException = 400,
    /// The access key or security token is not known.
    UnrecognizedClientException = 400,

    // HTTP-level errors.
    /// The request body is larger than kubecs accepts.
    RequestEntityTooLargeException = 413,
    /// The HTTP method is not POST.
    MethodNotAllowedException = 405,
    /// The Content-Type is not the AWS JSON 1.1 type.
    UnsupportedMediaTypeException = 415,
    /// The path is not `/`.
    NotFoundException = 404,
    /// The request took longer than kubecs allows.
    RequestTimeoutException = 408,
}

impl ErrorCode {
    /// The code with this wire name.
    pub fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.wire_name() == name)
    }

    /// Whether the fault is the server's (5xx): its message must say nothing internal.
    pub const fn is_server_fault(self) -> bool {
        self.http_status() >= 500
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// The AWS JSON error body: `{"__type":"<Code>","message":"<text>"}`. Written with
/// aws-smithy-json, the SDKs' own JSON writer, so escaping matches what they parse.
pub fn error_body(code: ErrorCode, message: &str) -> String {
    let mut out = String::with_capacity(64 + message.len());
    let mut obj = JsonObjectWriter::new(&mut out);
    obj.key("__type").string(code.wire_name());
    obj.key("message").string(message);
    obj.finish();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MODEL_ERRORS;

    #[test]
    fn every_error_the_model_declares_is_in_the_table() {
        for name in MODEL_ERRORS {
            let code = ErrorCode::from_wire_name(name)
                .unwrap_or_else(|| panic!("{name} is missing from ErrorCode"));
            let expected = if *name == "ServerException" { 500 } else { 400 };
            assert_eq!(code.http_status(), expected, "{name}");
        }
    }

    #[test]
    fn wire_names_are_unique() {
        let mut names: Vec<_> = ErrorCode::ALL.iter().map(|c| c.wire_name()).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    #[test]
    fn error_body_escapes_the_message() {
        let body = error_body(ErrorCode::ClientException, "bad \"name\"\n");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["__type"], "ClientException");
        assert_eq!(v["message"], "bad \"name\"\n");
    }
}
