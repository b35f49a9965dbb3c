//! Signing-key derivation (the HMAC chain `AWS4<secret>` → date → region → service →
//! `aws4_request`), the final HMAC, and a bounded, thread-safe cache of derived keys.
//!
//! A derived key is as good as the secret for one day, region and service, so it is zeroed on
//! drop and hidden from `Debug` like the secret itself.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::canonical::TERMINATOR;
use crate::signature::Signature;

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // `new_from_slice` accepts keys of any length for HMAC; the error arm is unreachable
    // but handled without a panic all the same.
    match HmacSha256::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// A derived SigV4 signing key, valid for one (date, region, service).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey([u8; 32]);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

impl SigningKey {
    /// Derives the key: `kDate = HMAC("AWS4" + secret, date)`, `kRegion = HMAC(kDate, region)`,
    /// `kService = HMAC(kRegion, service)`, `kSigning = HMAC(kService, "aws4_request")`.
    pub fn derive(secret_access_key: &[u8], date_stamp: &str, region: &str, service: &str) -> Self {
        let mut seed = Zeroizing::new(Vec::with_capacity(4 + secret_access_key.len()));
        seed.extend_from_slice(b"AWS4");
        seed.extend_from_slice(secret_access_key);
        // Each intermediate key is zeroed when it goes out of scope.
        let k_date = Zeroizing::new(hmac_sha256(&seed, date_stamp.as_bytes()));
        let k_region = Zeroizing::new(hmac_sha256(&*k_date, region.as_bytes()));
        let k_service = Zeroizing::new(hmac_sha256(&*k_region, service.as_bytes()));
        Self(hmac_sha256(&*k_service, TERMINATOR.as_bytes()))
    }

    /// Signs a string to sign.
    pub fn sign(&self, string_to_sign: &[u8]) -> Signature {
        Signature::from_bytes(hmac_sha256(&self.0, string_to_sign))
    }
}

/// How many derived keys the cache holds before it starts over. Keys roll over daily and a
/// deployment has few access keys, so a full cache means something unusual (many keys, or
/// someone cycling scopes); clearing keeps memory bounded without bookkeeping on the hot path.
pub const KEY_CACHE_CAPACITY: usize = 1024;

struct Entry {
    /// Which credential the key was derived from (see `Credential::serial`): a provider that
    /// swaps a secret under the same access key id must not be served a stale key.
    serial: u64,
    key: SigningKey,
}

/// Derived signing keys keyed by `access_key_id/date/region/service` — exactly the credential
/// value of a request minus `/aws4_request`, so a lookup borrows it without allocating.
///
/// Reads take a shared lock and copy 32 bytes out; writes happen once per key per day.
#[derive(Default)]
pub struct KeyCache {
    map: RwLock<HashMap<Box<str>, Entry>>,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("len", &self.len())
            .finish()
    }
}

impl KeyCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of cached keys.
    pub fn len(&self) -> usize {
        match self.map.read() {
            Ok(m) => m.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the key for `scope_key` (`akid/date/region/service`), deriving and caching it
    /// with `derive` on a miss or when the cached key came from another credential serial.
    pub fn get_or_derive(
        &self,
        scope_key: &str,
        serial: u64,
        derive: impl FnOnce() -> SigningKey,
    ) -> SigningKey {
        {
            // A poisoned lock only means another thread panicked mid-insert; the map itself is
            // still a valid map, so keep using it rather than failing every request.
            let map = match self.map.read() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Some(e) = map.get(scope_key) {
                if e.serial == serial {
                    return e.key.clone();
                }
            }
        }
        let key = derive();
        let mut map = match self.map.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        if map.len() >= KEY_CACHE_CAPACITY && !map.contains_key(scope_key) {
            map.clear();
        }
        map.insert(
            scope_key.into(),
            Entry {
                serial,
                key: key.clone(),
            },
        );
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    // The derived key for AWS's documentation example (secret
    // wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830, us-east-1, iam), from the SigV4
    // "Examples of how to derive a signing key" page of the AWS General Reference.
    #[test]
    fn the_documented_signing_key_is_derived() {
        let k = SigningKey::derive(
            b"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(k.0),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn keys_are_hidden_from_debug() {
        let k = SigningKey::derive(b"secret", "20150830", "us-east-1", "ecs");
        assert_eq!(format!("{k:?}"), "SigningKey(<redacted>)");
    }

    #[test]
    fn the_cache_derives_once_per_scope_and_rederives_for_a_new_serial() {
        let cache = KeyCache::new();
        let calls = Cell::new(0);
        let derive = || {
            calls.set(calls.get() + 1);
            SigningKey::derive(b"s", "20150830", "us-east-1", "ecs")
        };
        let a = cache.get_or_derive("AKID/20150830/us-east-1/ecs", 1, derive);
        let b = cache.get_or_derive("AKID/20150830/us-east-1/ecs", 1, derive);
        assert_eq!(calls.get(), 1);
        assert_eq!(a.0, b.0);
        cache.get_or_derive("AKID/20150830/us-east-1/ecs", 2, derive);
        assert_eq!(calls.get(), 2);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = KeyCache::new();
        for i in 0..(KEY_CACHE_CAPACITY * 2 + 3) {
            cache.get_or_derive(&format!("K{i}/20150830/us-east-1/ecs"), 1, || {
                SigningKey::derive(b"s", "20150830", "us-east-1", "ecs")
            });
            assert!(cache.len() <= KEY_CACHE_CAPACITY);
        }
    }
}
