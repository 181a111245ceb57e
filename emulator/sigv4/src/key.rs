//! Signing-key derivation and the signature itself (spec §1.8).

use hmac::{Hmac, KeyInit, Mac};
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

/// The signature: lowercase hex of `HMAC(kSigning, string_to_sign)`.
pub fn sign(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex_lower(&hmac(signing_key, string_to_sign.as_bytes()))
}

/// Lowercase hex. Written out because `hex::encode` builds its string a char at a time, which
/// showed up as a tenth of a verification in profiles (docs/performance.md).
pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0x0f)]);
    }
    // Only ASCII hex digits were pushed.
    String::from_utf8(out).unwrap_or_default()
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
