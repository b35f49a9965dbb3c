//! Order-preserving key encoding: keys sort in sled exactly as their typed tuples sort.
//!
//! A string component is written with every `0x00` escaped as `0x00 0xFF` and terminated
//! by `0x00 0x01`; since the terminator sorts below every escaped or ordinary byte, "a"
//! sorts before "a-b", and `("a", x)` before `("ab", y)`, as tuples should. A `u32` is
//! written big-endian in 4 bytes so revision 10 sorts after revision 9. The escaped bytes
//! of a string without its terminator are a byte prefix of every string starting with it,
//! which is what makes `familyPrefix` a sled range scan.

use std::fmt;

/// A typed key stored in a table.
pub trait Key: Sized + Send + Sync + 'static {
    fn encode_into(&self, out: &mut Vec<u8>);
    /// Reads one key from the front of `input`, advancing it.
    fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError>;

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes a whole stored key; trailing bytes are an error.
    fn decode(mut input: &[u8]) -> Result<Self, KeyError> {
        let key = Self::decode_from(&mut input)?;
        if input.is_empty() {
            Ok(key)
        } else {
            Err(KeyError("trailing bytes after key"))
        }
    }
}

/// Something that can be encoded as a key of type `K` without building a `K`, so callers
/// write `clusters.get("default")` and `services.get(("default", "web"))`.
pub trait AsKey<K> {
    fn encode_key_into(&self, out: &mut Vec<u8>);

    fn encode_key(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_key_into(&mut out);
        out
    }
}

/// A stored key did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed key: {0}")]
pub struct KeyError(&'static str);

const ESCAPE: u8 = 0x00;
const ESCAPED_NUL: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;

fn escape_into(s: &str, out: &mut Vec<u8>) {
    for &b in s.as_bytes() {
        out.push(b);
        if b == ESCAPE {
            out.push(ESCAPED_NUL);
        }
    }
}

impl Key for String {
    fn encode_into(&self, out: &mut Vec<u8>) {
        escape_into(self, out);
        out.extend_from_slice(&[ESCAPE, TERMINATOR]);
    }

    fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
        let mut bytes = Vec::new();
        let mut i = 0;
        loop {
            match input.get(i) {
                None => return Err(KeyError("unterminated string")),
                Some(&ESCAPE) => match input.get(i + 1) {
                    Some(&ESCAPED_NUL) => {
                        bytes.push(0);
                        i += 2;
                    }
                    Some(&TERMINATOR) => {
                        *input = &input[i + 2..];
                        return String::from_utf8(bytes).map_err(|_| KeyError("not UTF-8"));
                    }
                    _ => return Err(KeyError("bad escape")),
                },
                Some(&b) => {
                    bytes.push(b);
                    i += 1;
                }
            }
        }
    }
}

impl Key for u32 {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }

    fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
        let (head, rest) = input
            .split_first_chunk::<4>()
            .ok_or(KeyError("short u32"))?;
        *input = rest;
        Ok(u32::from_be_bytes(*head))
    }
}

impl<A: Key, B: Key> Key for (A, B) {
    fn encode_into(&self, out: &mut Vec<u8>) {
        self.0.encode_into(out);
        self.1.encode_into(out);
    }

    fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
        let a = A::decode_from(input)?;
        let b = B::decode_from(input)?;
        Ok((a, b))
    }
}

impl<T: AsRef<str> + ?Sized> AsKey<String> for T {
    fn encode_key_into(&self, out: &mut Vec<u8>) {
        escape_into(self.as_ref(), out);
        out.extend_from_slice(&[ESCAPE, TERMINATOR]);
    }
}

impl AsKey<u32> for u32 {
    fn encode_key_into(&self, out: &mut Vec<u8>) {
        self.encode_into(out);
    }
}

impl<A, B, X: AsKey<A>, Y: AsKey<B>> AsKey<(A, B)> for (X, Y) {
    fn encode_key_into(&self, out: &mut Vec<u8>) {
        self.0.encode_key_into(out);
        self.1.encode_key_into(out);
    }
}

/// A byte prefix of encoded keys selecting a contiguous range of a table.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct KeyPrefix(Vec<u8>);

impl KeyPrefix {
    /// The whole table.
    pub fn all() -> KeyPrefix {
        KeyPrefix(Vec::new())
    }

    /// Keys whose first component is exactly `component` (the services of one cluster).
    pub fn first(component: &str) -> KeyPrefix {
        KeyPrefix(AsKey::<String>::encode_key(component))
    }

    /// Keys whose first component starts with `prefix` (ECS's `familyPrefix`).
    pub fn starts_with(prefix: &str) -> KeyPrefix {
        let mut out = Vec::new();
        escape_into(prefix, &mut out);
        KeyPrefix(out)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// This prefix inside a region's `scope` (the stored keys' first bytes).
    pub(crate) fn within(&self, scope: &[u8]) -> KeyPrefix {
        KeyPrefix([scope, &self.0].concat())
    }

    /// The smallest byte string above every key with this prefix, or `None` when the
    /// range is unbounded above (empty prefix, or all `0xFF`).
    pub(crate) fn upper_bound(&self) -> Option<Vec<u8>> {
        let mut end = self.0.clone();
        while let Some(last) = end.pop() {
            if last < u8::MAX {
                end.push(last + 1);
                return Some(end);
            }
        }
        None
    }
}

impl fmt::Debug for KeyPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPrefix({})", printable(&self.0))
    }
}

/// A key rendered for error messages and logs.
pub(crate) fn printable(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<K: Key>(k: K) -> Vec<u8> {
        k.encode()
    }

    #[test]
    fn string_keys_sort_like_strings_including_prefixes_and_nul() {
        let mut words = vec!["a", "a-b", "ab", "", "a\0", "a\0b", "b", "\u{ff}"];
        let mut encoded: Vec<Vec<u8>> = words.iter().map(|w| enc(w.to_string())).collect();
        words.sort();
        encoded.sort();
        let decoded: Vec<String> = encoded.iter().map(|e| String::decode(e).unwrap()).collect();
        assert_eq!(decoded, words);
    }

    #[test]
    fn tuple_keys_sort_by_first_component_then_second() {
        let mut keys = vec![
            ("ab".to_string(), 1u32),
            ("a".to_string(), 10),
            ("a".to_string(), 9),
            ("a".to_string(), 256),
        ];
        let mut encoded: Vec<Vec<u8>> = keys.iter().map(|k| k.encode()).collect();
        keys.sort();
        encoded.sort();
        let decoded: Vec<(String, u32)> = encoded
            .iter()
            .map(|e| <(String, u32)>::decode(e).unwrap())
            .collect();
        assert_eq!(decoded, keys);
    }

    #[test]
    fn borrowed_keys_encode_like_owned_keys() {
        assert_eq!(
            AsKey::<(String, u32)>::encode_key(&("web", 3u32)),
            ("web".to_string(), 3u32).encode()
        );
    }

    #[test]
    fn starts_with_prefix_selects_exactly_the_matching_first_components() {
        let p = KeyPrefix::starts_with("web");
        for (k, expected) in [
            ("web", true),
            ("webapp", true),
            ("we", false),
            ("wfb", false),
        ] {
            let e = (k.to_string(), 1u32).encode();
            assert_eq!(e.starts_with(p.as_bytes()), expected, "{k}");
        }
        let exact = KeyPrefix::first("web");
        assert!(("web".to_string(), 1u32)
            .encode()
            .starts_with(exact.as_bytes()));
        assert!(!("webapp".to_string(), 1u32)
            .encode()
            .starts_with(exact.as_bytes()));
    }

    #[test]
    fn malformed_keys_are_rejected() {
        assert!(String::decode(b"abc").is_err());
        assert!(String::decode(b"a\0\x07").is_err());
        assert!(u32::decode(b"\0\0").is_err());
        assert!(String::decode(b"a\0\x01extra").is_err());
    }

    #[test]
    fn upper_bound_carries_over_ff_bytes() {
        assert_eq!(KeyPrefix(vec![1, 0xFF]).upper_bound(), Some(vec![2]));
        assert_eq!(KeyPrefix(vec![0xFF]).upper_bound(), None);
        assert_eq!(KeyPrefix::all().upper_bound(), None);
    }
}
