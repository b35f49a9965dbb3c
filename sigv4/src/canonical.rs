//! The canonical request and the string to sign, exactly as SigV4 defines them for non-S3
//! services: normalised and (double-)encoded path, sorted and re-encoded query, lower-cased
//! and whitespace-folded headers, the signed-header list and the payload hash.
//!
//! Every function here is pure; the signer and the verifier both build on them, so what one
//! produces the other checks byte for byte.

use sha2::{Digest, Sha256};

use crate::encode::{percent_decode, uri_encode_into};

/// The only algorithm SigV4 (as opposed to SigV4a) defines.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";

/// Lower-case hex SHA-256, the form the canonical request and `x-amz-content-sha256` use.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Removes `.` and `..` segments and collapses repeated slashes, as the AWS SDKs do for every
/// service but S3 (RFC 3986 §5.2.4 plus the slash rule AWS adds). The leading slash and a
/// trailing slash (when anything remains) are kept.
pub fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical URI of a request path *as sent on the wire* (still percent-encoded).
///
/// The path is normalised (when `normalize`) and then percent-encoded once more, byte by byte,
/// keeping `/`: this is the "double encoding" every AWS SDK applies for non-S3 services, so
/// a wire path `/a%3Db` is signed as `/a%253Db`.
pub fn canonical_uri(path: &str, normalize: bool) -> String {
    let normalized;
    let path = if normalize {
        normalized = normalize_path(path);
        normalized.as_str()
    } else if path.is_empty() {
        "/"
    } else {
        path
    };
    let mut out = String::with_capacity(path.len() + 8);
    uri_encode_into(&mut out, path.as_bytes(), true);
    out
}

/// The canonical query string of a raw query (without the `?`).
///
/// Each `key=value` pair is percent-decoded and re-encoded with SigV4's rules, then the pairs
/// are sorted by encoded key and, for equal keys, by encoded value. A pair without `=` gets
/// an empty value. Pairs whose decoded key equals `exclude` (the verifier passes
/// `X-Amz-Signature` for presigned requests) are left out.
pub fn canonical_query_string(query: &str, exclude: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let key = percent_decode(k);
        if exclude.is_some_and(|x| x.as_bytes() == key.as_slice()) {
            continue;
        }
        let mut ek = String::with_capacity(key.len());
        uri_encode_into(&mut ek, &key, false);
        let mut ev = String::new();
        uri_encode_into(&mut ev, &percent_decode(v), false);
        pairs.push((ek, ev));
    }
    join_sorted_pairs(pairs)
}

fn join_sorted_pairs(mut pairs: Vec<(String, String)>) -> String {
    pairs.sort_unstable();
    let mut out = String::with_capacity(pairs.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Appends a header value trimmed, with every run of whitespace (space, tab, CR, LF — the last
/// two only appear in obsolete folded headers) replaced by a single space.
pub(crate) fn push_folded_value(out: &mut Vec<u8>, value: &[u8]) {
    let mut pending_space = false;
    let mut started = false;
    for &b in value {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c') {
            pending_space = started;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            started = true;
        }
    }
}

/// The canonical headers block: for each name in `signed` (lower-case, in the given order),
/// `name:value\n`, where the values of every header with that name (compared without case)
/// are folded and joined with `,` in the order they appear. A signed header absent from the
/// request yields `name:` (and so, in practice, a signature mismatch).
pub fn canonical_headers<'h, I>(headers: I, signed: &[&str]) -> Vec<u8>
where
    I: IntoIterator<Item = (&'h str, &'h [u8])> + Clone,
{
    let mut out = Vec::with_capacity(64 * signed.len());
    for name in signed {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut first = true;
        for (n, v) in headers.clone() {
            if n.eq_ignore_ascii_case(name) {
                if !first {
                    out.push(b',');
                }
                push_folded_value(&mut out, v);
                first = false;
            }
        }
        out.push(b'\n');
    }
    out
}

/// Assembles the canonical request from its parts.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &[u8],
    signed_headers: &str,
    payload_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        method.len()
            + canonical_uri.len()
            + canonical_query.len()
            + canonical_headers.len()
            + signed_headers.len()
            + payload_hash.len()
            + 5,
    );
    out.extend_from_slice(method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_headers);
    out.push(b'\n');
    out.extend_from_slice(signed_headers.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// `date/region/service/aws4_request`.
pub fn credential_scope(date_stamp: &str, region: &str, service: &str) -> String {
    format!("{date_stamp}/{region}/{service}/{TERMINATOR}")
}

/// The string to sign: algorithm, request time (basic ISO-8601), scope and the hex SHA-256
/// of the canonical request, separated by newlines.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    let hash = sha256_hex(canonical_request);
    let mut out = String::with_capacity(ALGORITHM.len() + amz_date.len() + scope.len() + 67);
    out.push_str(ALGORITHM);
    out.push('\n');
    out.push_str(amz_date);
    out.push('\n');
    out.push_str(scope);
    out.push('\n');
    out.push_str(&hash);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_like_the_sdks_do() {
        for (input, expected) in [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            ("/./", "/"),
            ("/example/..", "/"),
            ("/example1/example2/../..", "/"),
            ("/./example", "/example"),
            ("//example//", "/example/"),
            ("/a/b/../c/./d/", "/a/c/d/"),
            ("/../../a", "/a"),
        ] {
            assert_eq!(normalize_path(input), expected, "{input:?}");
        }
    }

    #[test]
    fn the_wire_path_is_encoded_a_second_time() {
        assert_eq!(
            canonical_uri("/test/@connections/JBDvjfGEIAMCERw%3D", true),
            "/test/%40connections/JBDvjfGEIAMCERw%253D"
        );
        assert_eq!(canonical_uri("//example//", false), "//example//");
        assert_eq!(canonical_uri("", false), "/");
    }

    #[test]
    fn query_pairs_are_decoded_reencoded_and_sorted() {
        assert_eq!(
            canonical_query_string("Param2=value2&Param1=value1", None),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            canonical_query_string("b=2&a=%7e&a=1&c&A=0", None),
            "A=0&a=1&a=~&b=2&c="
        );
        assert_eq!(
            canonical_query_string("X-Amz-Signature=abc&x=%2f", Some("X-Amz-Signature")),
            "x=%2F"
        );
    }

    #[test]
    fn header_values_are_trimmed_folded_and_joined_in_order() {
        let headers: Vec<(&str, &[u8])> = vec![
            ("Host", b"example.amazonaws.com"),
            ("My-Header1", b"  a   b \t c  "),
            ("my-header1", b"second"),
            ("Unsigned", b"x"),
        ];
        let out = canonical_headers(headers.iter().copied(), &["host", "my-header1"]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "host:example.amazonaws.com\nmy-header1:a b c,second\n"
        );
    }
}
