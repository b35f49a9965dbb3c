//! SigV4's percent-encoding (RFC 3986 unreserved characters pass through, every other byte
//! becomes `%XX` with upper-case hex) and a lenient percent-decoder for incoming query strings.

/// Unreserved characters, which SigV4 never encodes.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `input` percent-encoded to `out`. `/` is kept when `keep_slash` (URI paths) and
/// encoded otherwise (query keys and values).
pub(crate) fn uri_encode_into(out: &mut String, input: &[u8], keep_slash: bool) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
    }
}

/// Percent-encodes `input` for a query key or value.
pub fn uri_encode(input: &str) -> String {
    let mut out = String::with_capacity(input.len() * 3);
    uri_encode_into(&mut out, input.as_bytes(), false);
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes. A `%` not followed by two hex digits is kept literally, and `+` is
/// kept as `+` (SigV4 clients encode spaces as `%20`; a literal `+` re-encodes as `%2B`,
/// which is what the SDKs sign for it).
pub(crate) fn percent_decode(input: &str) -> Vec<u8> {
    let b = input.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex_value(b[i + 1]), hex_value(b[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_characters_pass_and_everything_else_is_escaped_in_upper_case() {
        assert_eq!(uri_encode("-._~AZaz09"), "-._~AZaz09");
        assert_eq!(uri_encode("a b/c=d&e+f*"), "a%20b%2Fc%3Dd%26e%2Bf%2A");
        assert_eq!(uri_encode("ሴ"), "%E1%88%B4");
        let mut path = String::new();
        uri_encode_into(&mut path, b"/a b/%3D", true);
        assert_eq!(path, "/a%20b/%253D");
    }

    #[test]
    fn decoding_is_lenient_and_exact() {
        assert_eq!(percent_decode("a%20b%2fc"), b"a b/c");
        assert_eq!(percent_decode("%E1%88%B4"), "ሴ".as_bytes());
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%4"), b"%4");
        assert_eq!(percent_decode("%zz%41"), b"%zzA");
        assert_eq!(percent_decode("a+b"), b"a+b");
    }
}
