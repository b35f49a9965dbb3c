//! Property tests of the parsers on their own (the verifier as a whole is in
//! `fuzz_never_panics.rs`): the `Authorization` header and query-string finder, the
//! credential scope, and the two date forms. Whatever the bytes, they never panic, and
//! what they refuse they refuse with one of the four AWS codes, HTTP 400 and a message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kubecs_sigv4::parse::{find_auth, CredentialScope};
use kubecs_sigv4::{AmzDate, AuthError};
use proptest::prelude::*;

const CODES: [&str; 4] = [
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "UnrecognizedClientException",
];

fn assert_aws_error(e: &AuthError) -> Result<(), TestCaseError> {
    prop_assert!(CODES.contains(&e.code()), "{}", e.code());
    prop_assert_eq!(e.status(), 400);
    prop_assert!(!e.message().is_empty());
    Ok(())
}

/// Pieces that steer random input into the parsers' corners.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("AWS4-HMAC-SHA256 ".to_owned()),
        Just("Credential=".to_owned()),
        Just("SignedHeaders=".to_owned()),
        Just("Signature=".to_owned()),
        Just("X-Amz-Algorithm=AWS4-HMAC-SHA256&".to_owned()),
        Just("X-Amz-Credential=".to_owned()),
        Just("&X-Amz-Date=".to_owned()),
        Just("&X-Amz-Signature=".to_owned()),
        Just("&X-Amz-SignedHeaders=".to_owned()),
        Just("/".to_owned()),
        Just("%2F".to_owned()),
        Just("%".to_owned()),
        Just(",".to_owned()),
        Just(" ".to_owned()),
        Just("aws4_request".to_owned()),
        "[A-Za-z0-9=;&%/]{0,12}",
        "\\PC{0,8}",
    ]
}

fn steered() -> impl Strategy<Value = String> {
    prop::collection::vec(piece(), 0..10).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_authorization_bytes_and_query_are_parsed_or_refused_with_an_aws_error(
        header in prop::option::of(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..120),
            steered().prop_map(String::into_bytes),
        ]),
        query in prop::option::of(prop_oneof![steered(), any::<String>()]),
        has_date in any::<bool>(),
    ) {
        match find_auth(header.as_deref(), query.as_deref(), has_date) {
            Ok(params) => {
                // What is found is what a verifier goes on to check: never empty-handed
                // for the three parameters it needs.
                prop_assert!(header.is_some() || query.is_some());
                let _ = (&params.credential, &params.signed_headers, &params.signature);
            }
            Err(e) => assert_aws_error(&e)?,
        }
    }

    #[test]
    fn any_credential_is_split_into_exactly_its_five_parts_or_refused(
        credential in prop_oneof![steered(), any::<String>(), "[a-z0-9]{0,4}(/[a-z0-9_]{0,12}){0,6}"],
    ) {
        match CredentialScope::parse(&credential) {
            Ok(scope) => {
                let rebuilt = format!(
                    "{}/{}/{}/{}/aws4_request",
                    scope.access_key_id, scope.date, scope.region, scope.service
                );
                prop_assert_eq!(rebuilt, credential);
            }
            Err(e) => {
                assert_aws_error(&e)?;
                prop_assert_eq!(e.code(), "IncompleteSignatureException");
            }
        }
    }

    #[test]
    fn any_x_amz_date_is_parsed_exactly_or_refused(
        date in prop_oneof![
            "[0-9]{8}T[0-9]{6}Z",
            "[0-9]{4}(0[0-9]|1[0-3])(0[0-9]|[123][0-9])T(([01][0-9])|2[0-5])[0-6][0-9][0-6][0-9]Z",
            any::<String>(),
            "\\PC{16}",
        ],
    ) {
        if let Some(parsed) = AmzDate::parse_basic(&date) {
            // Only canonical, valid dates parse, and they print back as they came.
            prop_assert_eq!(parsed.format_basic(), date);
        }
    }

    #[test]
    fn any_http_date_is_parsed_exactly_or_refused(
        date in prop_oneof![
            "(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-3][0-9] (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec|Foo) [0-9]{4} [0-2][0-9]:[0-6][0-9]:[0-6][0-9] GMT",
            any::<String>(),
            "\\PC{29}",
        ],
    ) {
        if let Some(parsed) = AmzDate::parse_http(&date) {
            // The weekday is checked for shape only; everything else must round-trip.
            let basic = parsed.format_basic();
            prop_assert_eq!(AmzDate::parse_basic(&basic), Some(parsed));
            prop_assert_eq!(&basic[6..8], &date[5..7]);
            prop_assert_eq!(&basic[9..11], &date[17..19]);
        }
    }
}
