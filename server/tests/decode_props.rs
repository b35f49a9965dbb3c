//! Property tests of the request decoder: arbitrary bytes and arbitrary JSON, for every
//! operation, through `dispatch::check_input` (the JSON decoding and model validation
//! `dispatch` runs before any handler), and a few through the whole router. Nothing
//! panics, and whatever is refused is refused as an AWS error from the table: a known
//! `__type`, its status, the same name in `x-amzn-ErrorType`, and a message.

#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns

mod support;

use axum::response::IntoResponse;
use http_body_util::BodyExt;
use kubecs_api_models::{ErrorCode, Operation};
use kubecs_server::dispatch::check_input;
use kubecs_server::ops::is_implemented;
use proptest::prelude::*;
use serde_json::{Map, Value};
use support::{signed_request, TestServer};

/// Member names the model uses, so that random objects often hit a real member with
/// the wrong type, a wrong value or a right one.
const MEMBERS: &[&str] = &[
    "cluster",
    "clusterName",
    "clusters",
    "service",
    "serviceName",
    "services",
    "taskDefinition",
    "family",
    "containerDefinitions",
    "name",
    "image",
    "memory",
    "cpu",
    "desiredCount",
    "launchType",
    "include",
    "maxResults",
    "nextToken",
    "settings",
    "tags",
    "key",
    "value",
    "resourceArn",
    "tagKeys",
    "status",
    "sort",
    "familyPrefix",
    "force",
    "networkMode",
    "portMappings",
    "containerPort",
    "deploymentConfiguration",
    "namespace",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        prop_oneof![
            "[a-zA-Z0-9_:/-]{0,20}",
            Just("SETTINGS".to_owned()),
            Just("TAGS".to_owned()),
            Just("FARGATE".to_owned()),
            Just("ACTIVE".to_owned()),
            any::<String>(),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(MEMBERS).prop_map(str::to_owned),
                        "[a-z]{1,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A request body: an object of (mostly) model members, occasionally anything at all.
fn json_body() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::vec(
            (prop::sample::select(MEMBERS).prop_map(str::to_owned), json_value()),
            0..6
        )
        .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        1 => json_value(),
    ]
}

/// One store for all the router cases: opening one per case would dominate the run.
static SERVER: std::sync::OnceLock<TestServer> = std::sync::OnceLock::new();

/// What a refused input must look like, as the client would get it.
fn assert_aws_error(
    operation: Operation,
    err: kubecs_server::error::ApiError,
) -> Result<(), TestCaseError> {
    let expected: &[ErrorCode] = if is_implemented(operation) {
        &[
            ErrorCode::SerializationException,
            ErrorCode::InvalidParameterException,
        ]
    } else {
        &[ErrorCode::UnsupportedFeatureException]
    };
    prop_assert!(expected.contains(&err.code), "{operation}: {err}");
    prop_assert!(!err.message.is_empty());
    let code = err.code;
    let response = err.into_response();
    prop_assert_eq!(response.status().as_u16(), code.http_status());
    prop_assert_eq!(&response.headers()["x-amzn-errortype"], code.wire_name());
    let body = futures_body(response);
    let json: Value =
        serde_json::from_slice(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(json["__type"].as_str(), Some(code.wire_name()));
    Ok(())
}

/// The bytes of an error response (already in memory: no runtime needed).
fn futures_body(response: axum::response::Response) -> bytes::Bytes {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async { response.into_body().collect().await.unwrap().to_bytes() })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_decoded_or_refused_as_aws_errors_for_every_operation(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..256),
            "\\PC{0,64}".prop_map(String::into_bytes),
            "[{}\\[\\]\":,0-9a-z ]{0,48}".prop_map(String::into_bytes),
        ],
    ) {
        for operation in Operation::ALL {
            if let Err(err) = check_input(operation, &body) {
                assert_aws_error(operation, err)?;
            }
        }
    }

    #[test]
    fn arbitrary_json_is_decoded_or_refused_as_aws_errors_for_every_operation(body in json_body()) {
        let bytes = serde_json::to_vec(&body).unwrap();
        for operation in Operation::ALL {
            if let Err(err) = check_input(operation, &bytes) {
                assert_aws_error(operation, err)?;
            }
        }
    }
}

proptest! {
    // Each case is a signed request through the router, sometimes a store write.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn arbitrary_requests_through_the_router_answer_json_with_a_known_type(
        operation in prop_oneof![
            prop::sample::select(Operation::ALL.to_vec()).prop_map(|op| op.name().to_owned()),
            "[A-Za-z]{0,12}",
        ],
        body in prop_oneof![
            json_body().prop_map(|v| serde_json::to_vec(&v).unwrap()),
            prop::collection::vec(any::<u8>(), 0..64),
        ],
        content_type in prop_oneof![
            Just("application/x-amz-json-1.1"),
            Just("application/json"),
            Just("text/plain"),
        ],
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let server = SERVER.get_or_init(TestServer::new);
        let answer = runtime.block_on(server.send(signed_request(
            &operation,
            body,
            &[("content-type", content_type)],
        )));
        prop_assert!(answer.headers.contains_key("x-amzn-requestid"));
        prop_assert!(answer.body.is_object(), "{}", answer.text);
        if !answer.status.is_success() {
            let code = ErrorCode::from_wire_name(answer.error_type());
            prop_assert!(code.is_some(), "{}", answer.text);
            let code = code.unwrap();
            prop_assert_eq!(answer.status.as_u16(), code.http_status());
            prop_assert_eq!(&answer.headers["x-amzn-errortype"], code.wire_name());
            prop_assert!(!answer.message().is_empty(), "{}", answer.text);
        }
    }
}
