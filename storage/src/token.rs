//! Opaque, tamper-evident page tokens (`nextToken`).
//!
//! A token is the URL-safe base64 of `[version] ++ last key ++ check`, where `check` is a
//! truncated SHA-256 over a domain string, the list kind (e.g. "ListServices") and the
//! key. Resuming strictly after the last key returned keeps tokens valid and stable while
//! other writes happen: no offsets to shift, no server-side cursor to expire.
//!
//! Why a checksum and not a secret-keyed MAC: a token only names a position in a listing
//! the caller may read from the start anyway, so a forged token grants nothing; the check
//! exists to reject garbage, truncation and tokens from another list with a clear error,
//! and `PageToken::parse` needs no store to do that.
//!
//! ECS answers a bad `nextToken` with `InvalidParameterException` (400): its API reference
//! lists only ClientException, InvalidParameterException and ServerException for the List
//! operations (e.g. API_ListClusters "Errors"), and emulators matching ECS do the same
//! (faiscadev/fakecloud PR #1591 "reject invalid pagination token ... return
//! InvalidParameterException ..., matching ECS"). The server maps `InvalidPageToken` to it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

const VERSION: u8 = 1;
const CHECK_LEN: usize = 12;
const DOMAIN: &[u8] = b"kubecs-page-token\0";
/// Longest token accepted; keys are short (names, ARNs), so anything longer is garbage.
const MAX_TOKEN_LEN: usize = 4096;

/// Where the next page starts: strictly after `last_key` in the listing's order.
#[derive(Clone, PartialEq, Eq)]
pub struct PageToken {
    last_key: Vec<u8>,
}

/// Why a client's `nextToken` was rejected; the server answers InvalidParameterException.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPageToken {
    #[error("the nextToken is too long")]
    TooLong,
    #[error("the nextToken is not a token this service issued")]
    Malformed,
    #[error("the nextToken was not issued for this list or was altered")]
    Mismatch,
}

impl PageToken {
    /// The position strictly after `last_key`: for a listing kept outside the store,
    /// whose keys the caller chooses.
    pub fn after(last_key: Vec<u8>) -> PageToken {
        PageToken { last_key }
    }

    /// The last key returned before this position.
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// The string to send as `nextToken` for a listing of this `kind`.
    pub fn encode(&self, kind: &str) -> String {
        let mut bytes = Vec::with_capacity(1 + self.last_key.len() + CHECK_LEN);
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.last_key);
        bytes.extend_from_slice(&check(kind, &self.last_key));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Parses a client's `nextToken` for a listing of this `kind`.
    pub fn parse(kind: &str, token: &str) -> Result<PageToken, InvalidPageToken> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(InvalidPageToken::TooLong);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| InvalidPageToken::Malformed)?;
        let (&version, rest) = bytes.split_first().ok_or(InvalidPageToken::Malformed)?;
        if version != VERSION || rest.len() < CHECK_LEN {
            return Err(InvalidPageToken::Malformed);
        }
        let (key, got) = rest.split_at(rest.len() - CHECK_LEN);
        if got != check(kind, key) {
            return Err(InvalidPageToken::Mismatch);
        }
        Ok(PageToken {
            last_key: key.to_vec(),
        })
    }
}

impl std::fmt::Debug for PageToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PageToken({})", crate::key::printable(&self.last_key))
    }
}

fn check(kind: &str, key: &[u8]) -> [u8; CHECK_LEN] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(kind.as_bytes());
    h.update([0, VERSION]);
    h.update(key);
    let digest = h.finalize();
    let mut out = [0; CHECK_LEN];
    out.copy_from_slice(&digest[..CHECK_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_for_its_own_kind() {
        let t = PageToken::after(b"family\0\x01\0\0\0\x07".to_vec());
        let s = t.encode("ListTaskDefinitions");
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(PageToken::parse("ListTaskDefinitions", &s), Ok(t));
    }

    #[test]
    fn a_token_of_another_list_is_rejected() {
        let s = PageToken::after(b"web".to_vec()).encode("ListServices");
        assert_eq!(
            PageToken::parse("ListClusters", &s),
            Err(InvalidPageToken::Mismatch)
        );
    }

    #[test]
    fn tampered_and_garbage_tokens_are_rejected() {
        let s = PageToken::after(b"cluster-a".to_vec()).encode("ListClusters");
        let mut bytes = URL_SAFE_NO_PAD.decode(&s).unwrap();
        bytes[3] ^= 1;
        let tampered = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(
            PageToken::parse("ListClusters", &tampered),
            Err(InvalidPageToken::Mismatch)
        );
        for garbage in [
            "",
            "!!!",
            "AA",
            &s[..s.len() - 2],
            "x".repeat(5000).as_str(),
        ] {
            assert!(
                PageToken::parse("ListClusters", garbage).is_err(),
                "{garbage}"
            );
        }
    }
}
