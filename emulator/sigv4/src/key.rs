//! Signing-key derivation and the signature itself (spec §1.8).

use std::sync::Mutex;

use hmac::{Hmac, KeyInit, Mac};
use iamconform_secret::Secret;
use sha2::Sha256;

use crate::scope::TERMINATOR;

#[expect(clippy::expect_used, reason = "HMAC accepts keys of any length")]
fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// `kSigning` for a secret access key and a scope: kDate → kRegion → kService → kSigning.
pub fn derive_signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut k_secret = Vec::with_capacity(secret.len() + 4);
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.as_bytes());
    let k_date = hmac(&k_secret, date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    hmac(&k_service, TERMINATOR.as_bytes())
}

/// How many derived keys [`cached_signing_key`] keeps. A test run or a benchmark uses a
/// handful of (secret, day, region, service) combinations; a bound keeps a long-running
/// server with many keys from growing without limit.
const KEY_CACHE_CAPACITY: usize = 64;

/// One derived key and what it was derived from. The secret is kept (in a [`Secret`], so it
/// is never printed) because it is the key's identity: two access keys with the same secret
/// share a signing key, and a key whose secret changes must not find the old entry.
struct CachedKey {
    secret: Secret<String>,
    date: String,
    region: String,
    service: String,
    signing_key: Secret<[u8; 32]>,
}

/// A small bounded cache of derived signing keys, replaced round robin when full.
struct KeyCache {
    entries: Vec<CachedKey>,
    next_victim: usize,
}

static KEY_CACHE: Mutex<KeyCache> = Mutex::new(KeyCache {
    entries: Vec::new(),
    next_victim: 0,
});

/// [`derive_signing_key`] through a bounded process-wide cache: the value is always exactly
/// what `derive_signing_key` returns for these inputs. Deriving costs four HMAC-SHA256 per
/// request; a client signs with the same key for a whole day.
pub(crate) fn cached_signing_key(
    secret: &Secret<String>,
    date: &str,
    region: &str,
    service: &str,
) -> [u8; 32] {
    let find = |cache: &KeyCache| {
        cache
            .entries
            .iter()
            .find(|e| {
                e.date == date
                    && e.region == region
                    && e.service == service
                    && e.secret.ct_eq(secret)
            })
            .map(|e| *e.signing_key.expose())
    };
    // A poisoned lock only means another thread panicked mid-update; the entries are still
    // whole values, but deriving afresh is always correct, so don't trust them.
    if let Ok(cache) = KEY_CACHE.lock()
        && let Some(key) = find(&cache)
    {
        return key;
    }
    let key = derive_signing_key(secret.expose(), date, region, service);
    if let Ok(mut cache) = KEY_CACHE.lock()
        && find(&cache).is_none()
    {
        let entry = CachedKey {
            secret: secret.clone(),
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signing_key: Secret::new(key),
        };
        if cache.entries.len() < KEY_CACHE_CAPACITY {
            cache.entries.push(entry);
        } else {
            let victim = cache.next_victim % KEY_CACHE_CAPACITY;
            if let Some(slot) = cache.entries.get_mut(victim) {
                *slot = entry;
            }
            cache.next_victim = (victim + 1) % KEY_CACHE_CAPACITY;
        }
    }
    key
}

/// The signature: lowercase hex of `HMAC(kSigning, string_to_sign)`.
pub fn sign(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex_lower(&hmac(signing_key, string_to_sign.as_bytes()))
}

/// Lowercase hex. Written out because `hex::encode` builds its string a char at a time, which
/// showed up as a tenth of a verification in profiles (docs/performance.md).
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    hex_lower_into(&mut out, bytes);
    // Only ASCII hex digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// [`hex_lower`], appended to `out`.
pub(crate) fn hex_lower_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.extend_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn hex_lower_matches_the_hex_crate() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_lower(&bytes), hex::encode(&bytes));
        assert_eq!(hex_lower(&[]), "");
    }

    #[test]
    fn cached_keys_are_exactly_the_derived_keys() {
        // More combinations than the cache holds, twice over, so hits, misses and evictions
        // all happen; two secrets share every scope so a hit can't cross secrets.
        let secrets = [
            Secret::new(SECRET.to_owned()),
            Secret::new("another-secret".to_owned()),
        ];
        for round in 0..2 {
            for day in 0..40 {
                let date = format!("201508{:02}", day % 31 + 1);
                let region = if day < 31 { "us-east-1" } else { "eu-west-2" };
                for secret in &secrets {
                    for service in ["sts", "iam"] {
                        assert_eq!(
                            cached_signing_key(secret, &date, region, service),
                            derive_signing_key(secret.expose(), &date, region, service),
                            "round {round} {date} {region} {service}"
                        );
                    }
                }
            }
        }
        let cache = KEY_CACHE.lock().unwrap();
        assert!(cache.entries.len() <= KEY_CACHE_CAPACITY);
    }

    #[test]
    fn signing_keys_match_the_spec_check_values() {
        // Spec §1.8.
        for (service, expected) in [
            (
                "iam",
                "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9",
            ),
            (
                "sts",
                "a9d028e9e96178f3ed6acfa66eff308447119de7ba1dd1dc7b666bbcb5686dfd",
            ),
            (
                "service",
                "938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75",
            ),
        ] {
            let key = derive_signing_key(SECRET, "20150830", "us-east-1", service);
            assert_eq!(hex::encode(key), expected, "{service}");
        }
    }
}
