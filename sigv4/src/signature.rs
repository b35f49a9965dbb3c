//! A SigV4 signature: 32 bytes, shown as 64 lower-case hex digits. It deliberately has no
//! `PartialEq`: the only comparison offered is [`Signature::ct_eq`], in constant time, so a
//! verifier cannot leak through timing how many leading bytes of a forged signature matched.

use std::fmt;

use subtle::ConstantTimeEq;

/// A computed or presented signature.
#[derive(Clone, Copy)]
pub struct Signature([u8; 32]);

impl Signature {
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses exactly 64 lower-case hex digits, the only form SigV4 produces; anything else
    /// (upper case included, so one signature has one spelling) is not a signature.
    pub fn from_hex(s: &str) -> Option<Self> {
        if !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    /// Lower-case hex, as it appears in `Authorization` and `X-Amz-Signature`.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &Signature) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_bad_hex_is_refused() {
        let h = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
        let s = Signature::from_hex(h).unwrap();
        assert_eq!(s.to_hex(), h);
        assert!(Signature::from_hex(&h.to_uppercase()).is_none());
        assert!(Signature::from_hex(&h[..62]).is_none());
        assert!(Signature::from_hex(&format!("{h}00")).is_none());
        assert!(Signature::from_hex(&h.replace('5', "g")).is_none());
    }

    #[test]
    fn comparison_is_exact() {
        let a = Signature::from_bytes([1; 32]);
        let mut other = [1; 32];
        other[31] = 2;
        assert!(a.ct_eq(&Signature::from_bytes([1; 32])));
        assert!(!a.ct_eq(&Signature::from_bytes(other)));
    }
}
