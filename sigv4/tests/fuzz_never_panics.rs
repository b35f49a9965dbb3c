//! Property tests: whatever arrives in the `Authorization` header, the query string, the
//! date headers or the path, the verifier answers with an error (or, for the untouched signed
//! request, success) and never panics.

// Test code: a failed unwrap is a failed test (clippy only exempts #[test] fns themselves).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use proptest::prelude::*;

/// Fragments that steer random headers into the parser's interesting corners.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("AWS4-HMAC-SHA256".to_owned()),
        Just(" ".to_owned()),
        Just(",".to_owned()),
        Just("=".to_owned()),
        Just("/".to_owned()),
        Just(";".to_owned()),
        Just("Credential=".to_owned()),
        Just("SignedHeaders=".to_owned()),
        Just("Signature=".to_owned()),
        Just("AKIAKUBECSEXAMPLE/20150830/us-east-1/ecs/aws4_request".to_owned()),
        Just("host;x-amz-date".to_owned()),
        Just("aws4_request".to_owned()),
        "[0-9a-f]{0,70}",
        "\\PC{0,12}",
        any::<String>(),
    ]
}

fn header_value() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..12).prop_map(|v| v.concat())
}

fn query_value() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("X-Amz-Algorithm".to_owned()),
        Just("X-Amz-Credential".to_owned()),
        Just("X-Amz-Date".to_owned()),
        Just("X-Amz-Expires".to_owned()),
        Just("X-Amz-SignedHeaders".to_owned()),
        Just("X-Amz-Signature".to_owned()),
        Just("X-Amz-Security-Token".to_owned()),
        "[A-Za-z%0-9=&+]{0,10}",
    ];
    let value = prop_oneof![
        Just("AWS4-HMAC-SHA256".to_owned()),
        Just("AKIAKUBECSEXAMPLE%2F20150830%2Fus-east-1%2Fecs%2Faws4_request".to_owned()),
        Just("20150830T123600Z".to_owned()),
        Just("host".to_owned()),
        "[0-9]{0,7}",
        "[%0-9a-fA-F]{0,8}",
        "\\PC{0,8}",
    ];
    prop::collection::vec((key, value), 0..9).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_authorization_headers_are_refused_without_panicking(value in header_value()) {
        let mut req = signed_request();
        let original = req.header("authorization").unwrap().to_owned();
        req.set_header("authorization", &value);
        let result = req.verify_with(&verifier(), t0());
        prop_assert!(result.is_err() || value == original);
        if let Err(e) = result {
            prop_assert_eq!(e.status(), 400);
            prop_assert!(e.code().ends_with("Exception"));
        }
    }

    #[test]
    fn random_presigned_queries_are_refused_without_panicking(query in query_value()) {
        let mut req = Owned::ecs();
        req.query = Some(query);
        let result = req.verify_with(&verifier(), t0());
        prop_assert!(result.is_err());
    }

    #[test]
    fn random_dates_and_paths_never_panic(
        date in "\\PC{0,20}",
        http_date in "\\PC{0,32}",
        path in "[/.a-z%0-9 ]{0,24}",
    ) {
        let mut req = signed_request();
        req.set_header("x-amz-date", &date);
        req.set_header("date", &http_date);
        req.path = path;
        let _ = req.verify_with(&verifier(), t0());
        req.headers.retain(|(n, _)| n != "x-amz-date");
        let _ = req.verify_with(&verifier(), t0());
    }

    #[test]
    fn flipping_any_byte_of_a_valid_authorization_header_is_refused(
        index in any::<prop::sample::Index>(),
        replacement in any::<u8>().prop_filter("printable", |b| b.is_ascii_graphic()),
    ) {
        let mut req = signed_request();
        let original = req.header("authorization").unwrap().to_owned();
        let mut bytes = original.clone().into_bytes();
        let i = index.index(bytes.len());
        prop_assume!(bytes[i] != replacement);
        // AWS separates components by commas and blanks alike, so ", " -> ",," is the same
        // header; every other change must be refused.
        prop_assume!(!(bytes[i] == b' ' && replacement == b','));
        bytes[i] = replacement;
        let value = String::from_utf8(bytes).unwrap();
        req.set_header("authorization", &value);
        prop_assert!(req.verify_with(&verifier(), t0()).is_err(), "{}", value);
    }

    #[test]
    fn raw_non_utf8_header_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let req = signed_request();
        let mut headers = req.header_refs();
        headers.retain(|(n, _)| *n != "authorization");
        headers.push(("Authorization", &bytes));
        headers.push(("X-Amz-Security-Token", &bytes));
        let v = verifier();
        let result = v.verify(
            &kubecs_sigv4::RequestParts {
                method: "POST",
                path: "/",
                query: None,
                headers: &headers,
                body: &req.body,
            },
            t0(),
        );
        prop_assert!(result.is_err());
    }
}

fn signed_request() -> Owned {
    aws_signed(Owned::ecs(), &AwsSign::default())
}
