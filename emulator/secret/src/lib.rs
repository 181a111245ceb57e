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
        self.0.as_ref().ct_eq(other.0.as_ref()).into()
    }

    /// Compares the secret with a plain value in constant time (for equal lengths).
    pub fn ct_eq_bytes(&self, other: &[u8]) -> bool {
        self.0.as_ref().ct_eq(other).into()
    }
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
}
