//! A wrapper for secrets: AWS secret keys, session tokens, Consul SecretIDs and bearer tokens.
//!
//! iamconform's rule is that no secret ever reaches a log, a journal, a report or an audit
//! record. Holding secrets in [`Secret`] makes that the default: its `Debug` prints
//! `<redacted>`, it has no `Display` and no `Serialize`, and the only way to the value is
//! [`Secret::expose`], which is easy to grep for.
//!
//! ```
//! use iamconform_secret::Secret;
//! let key = Secret::new(String::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"));
//! assert_eq!(format!("{key:?}"), "<redacted>");
//! assert!(key.ct_eq(&Secret::new(String::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))));
//! ```
#![warn(missing_docs)]

use std::fmt;

use subtle::ConstantTimeEq;

/// A secret value whose `Debug` output is redacted.
#[derive(Clone, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Gives access to the secret value. Every call site is a place where a secret leaves
    /// its wrapper; keep them few and never pass the result to a logger.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Consumes the wrapper and returns the secret value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: AsRef<[u8]>> Secret<T> {
    /// Compares two secrets in constant time (for equal lengths).
    pub fn ct_eq(&self, other: &Self) -> bool {
        ct_eq_slices(self.0.as_ref(), other.0.as_ref())
    }

    /// Compares the secret with a plain value in constant time (for equal lengths).
    pub fn ct_eq_bytes(&self, other: &[u8]) -> bool {
        ct_eq_slices(self.0.as_ref(), other)
    }
}

/// Compares two byte strings in constant time (for equal lengths), as [`Secret::ct_eq_bytes`]
/// does: for values that are not secrets themselves but must not leak how much of them
/// matched, such as a signature compared with the one the server computed.
pub fn ct_eq_bytes(a: &[u8], b: &[u8]) -> bool {
    ct_eq_slices(a, b)
}

/// Equality whose time depends only on the lengths: every byte of both slices is read and
/// the differences are OR-ed together with no branch on them; only the final verdict goes
/// through `subtle`. Word by word, because `subtle`'s slice comparison puts an optimisation
/// barrier on every byte (about 9,000 instructions for a 1 KB session token, on every
/// verified request). The accumulator passes through [`std::hint::black_box`] once per word
/// so the compiler cannot stop early once it has seen a difference.
fn ct_eq_slices(a: &[u8], b: &[u8]) -> bool {
    // Lengths are not secret: `subtle` answers unequal lengths at once too.
    if a.len() != b.len() {
        return false;
    }
    let (a_words, a_tail) = a.as_chunks::<8>();
    let (b_words, b_tail) = b.as_chunks::<8>();
    let mut diff = 0u64;
    for (x, y) in a_words.iter().zip(b_words) {
        diff = std::hint::black_box(diff | (u64::from_ne_bytes(*x) ^ u64::from_ne_bytes(*y)));
    }
    for (x, y) in a_tail.iter().zip(b_tail) {
        diff |= u64::from(x ^ y);
    }
    diff.ct_eq(&0).into()
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: AsRef<[u8]>> PartialEq for Secret<T> {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other)
    }
}

impl<T: AsRef<[u8]>> Eq for Secret<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&s)), "Some(<redacted>)");
    }

    #[test]
    fn equality_compares_values() {
        let a = Secret::new("abc".to_string());
        assert_eq!(a, Secret::new("abc".to_string()));
        assert_ne!(a, Secret::new("abd".to_string()));
        assert_ne!(a, Secret::new("ab".to_string()));
        assert!(a.ct_eq_bytes(b"abc"));
    }

    #[test]
    fn comparison_finds_any_single_byte_difference_at_every_length() {
        // Lengths around and across the 8-byte words: empty, a tail only, whole words,
        // words plus a tail, and a session token's size.
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1031] {
            let value: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let secret = Secret::new(value.clone());
            assert!(secret.ct_eq_bytes(&value), "len {len}");
            assert!(secret.ct_eq(&Secret::new(value.clone())), "len {len}");
            for at in 0..len {
                for bit in [0x01, 0x80] {
                    let mut other = value.clone();
                    other[at] ^= bit;
                    assert!(!secret.ct_eq_bytes(&other), "len {len}, byte {at}");
                    assert!(!secret.ct_eq(&Secret::new(other)), "len {len}, byte {at}");
                }
            }
        }
    }

    #[test]
    fn the_free_function_compares_like_the_method() {
        assert!(ct_eq_bytes(b"0123456789abcdef0", b"0123456789abcdef0"));
        assert!(!ct_eq_bytes(b"0123456789abcdef0", b"0123456789abcdef1"));
        assert!(!ct_eq_bytes(b"0123456789abcdef", b"0123456789abcdef0"));
        assert!(ct_eq_bytes(b"", b""));
    }

    #[test]
    fn different_lengths_are_unequal() {
        let s = Secret::new(b"0123456789abcdef".to_vec());
        assert!(!s.ct_eq_bytes(b"0123456789abcde"));
        assert!(!s.ct_eq_bytes(b"0123456789abcdef0"));
        assert!(!s.ct_eq_bytes(b""));
        assert!(!Secret::new(Vec::new()).ct_eq_bytes(b"0"));
        assert!(Secret::new(Vec::new()).ct_eq_bytes(b""));
        // A prefix of whole words is not equality.
        assert!(!s.ct_eq_bytes(b"01234567"));
    }
}
