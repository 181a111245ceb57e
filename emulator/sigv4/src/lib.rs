//! Pure AWS Signature Version 4 verification, as STS and IAM do it.
//!
//! [`verify`] rebuilds the canonical request from the request exactly as received
//! ([`SignedRequest`]: raw method, path, query, headers in arrival order, body bytes), checks
//! it in AWS's order (spec aws-sts-iam-sigv4 §1.10) and answers with a [`Verified`] or a
//! [`SigV4Error`] that carries AWS's code, HTTP status and exact message.
//!
//! What it checks: the path and query syntax, the Authorization header or the presigned
//! `X-Amz-*` query, that `host` is signed, the date format, the clock skew window, the
//! credential scope (region, service, terminator, date), the session token and its expiry,
//! the access key, and the signature (compared in constant time).
//!
//! What it does not: it does no I/O and reads no clock (`now` and the credential store are
//! parameters), does not decide which methods, content types or actions a service accepts,
//! and does not implement S3's variants (unnormalised paths aside, via [`Policy`]),
//! chunked payloads or SigV4a.
//!
//! ```
//! use iamconform_secret::Secret;
//! use iamconform_sigv4::{verify, KeyRecord, Policy, SignedRequest};
//! use std::collections::HashMap;
//!
//! let mut creds = HashMap::new();
//! creds.insert("AKIDEXAMPLE".to_owned(), KeyRecord {
//!     secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned()),
//!     session_token: None,
//!     expires: None,
//! });
//! let headers: &[(&str, &[u8])] = &[
//!     ("Host", b"example.amazonaws.com"),
//!     ("X-Amz-Date", b"20150830T123600Z"),
//!     ("Authorization", b"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
//! ];
//! let req = SignedRequest { method: "GET", path: "/", query: "", headers, body: b"" };
//! let now = time::macros::datetime!(2015-08-30 12:36:00 UTC);
//! let verified = verify(&req, &Policy::default(), now, &creds).unwrap();
//! assert_eq!(verified.access_key_id, "AKIDEXAMPLE");
//! assert_eq!(verified.scope.service, "service");
//!
//! let later = now + time::Duration::minutes(16);
//! let err = verify(&req, &Policy::default(), later, &creds).unwrap_err();
//! assert_eq!(err.code(), "SignatureDoesNotMatch");
//! assert_eq!(err.message(), "Signature expired: 20150830T123600Z is now earlier than \
//!     20150830T123700Z (20150830T125200Z - 15 min.)");
//! ```
#![warn(missing_docs)]

mod auth_params;
mod canonical;
mod error;
mod key;
mod request;
mod scope;
mod timestamp;
mod verify;

use std::borrow::Cow;
use std::collections::HashMap;

use iamconform_secret::Secret;
use time::OffsetDateTime;

pub use auth_params::{AuthLocation, AuthParams, parse_auth};
pub use canonical::{
    ALGORITHM, REDACTED, canonical_request, canonical_request_redacted, canonical_uri,
    payload_hash, string_to_sign, uri_encode,
};
pub use error::{InvalidClientToken, Mismatch, SigV4Error};
pub use key::{derive_signing_key, sign};
pub use request::SignedRequest;
pub use scope::{Credential, CredentialScope, TERMINATOR, is_well_formed_region};
pub use timestamp::render_basic;
pub use verify::{Verified, verify};

/// Which regions a credential scope may name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionRule {
    /// Any well-formed region name (the lenient default): `^[a-z]{2}(-[a-z0-9]+)+-\d+$`.
    AnyWellFormed,
    /// Exactly one of these regions (strict AWS mode).
    OneOf(Vec<String>),
}

/// What the verifier accepts. `Policy::default()` is the STS/IAM default.
#[derive(Debug, Clone)]
pub struct Policy {
    /// The service the scope must name (`sts`, `iam`); `None` accepts any.
    pub service: Option<String>,
    /// Which regions the scope may name.
    pub regions: RegionRule,
    /// Allowed clock skew each way (15 minutes for STS/IAM).
    pub max_skew: time::Duration,
    /// Put the canonical request and string-to-sign into `SignatureDoesNotMatch` messages.
    pub debug_in_message: bool,
    /// Normalise the path (`.`/`..`/`//`), as every non-S3 service does.
    pub normalize_path: bool,
    /// Strict: a session token must be listed in SignedHeaders (header form).
    pub require_signed_session_token: bool,
}

impl Default for Policy {
    /// Spec §1.3, §1.5, §1.9, §1.11: lenient regions, any service, ±15 minutes, debug text on.
    fn default() -> Self {
        Self {
            service: None,
            regions: RegionRule::AnyWellFormed,
            max_skew: time::Duration::minutes(15),
            debug_in_message: true,
            normalize_path: true,
            require_signed_session_token: false,
        }
    }
}

/// A credential known to the verifier.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    /// The secret access key.
    pub secret_access_key: Secret<String>,
    /// The session token issued with a temporary (`ASIA…`) key.
    pub session_token: Option<Secret<String>>,
    /// When a temporary credential expires.
    pub expires: Option<OffsetDateTime>,
}

/// Looks credentials up by access key id. Sync on purpose: the verifier does no I/O.
pub trait CredentialLookup {
    /// The record for `access_key_id`, or `None` when the key is unknown.
    fn lookup(&self, access_key_id: &str) -> Option<KeyRecord>;

    /// The record for `access_key_id`, lent when the implementor holds it: what [`verify`]
    /// calls, once per request. The default clones through [`CredentialLookup::lookup`];
    /// stores that keep their records override it to skip the copy of the secret, the
    /// session token and their allocations.
    fn lookup_ref(&self, access_key_id: &str) -> Option<Cow<'_, KeyRecord>> {
        self.lookup(access_key_id).map(Cow::Owned)
    }
}

impl CredentialLookup for HashMap<String, KeyRecord> {
    fn lookup(&self, access_key_id: &str) -> Option<KeyRecord> {
        self.get(access_key_id).cloned()
    }

    fn lookup_ref(&self, access_key_id: &str) -> Option<Cow<'_, KeyRecord>> {
        self.get(access_key_id).map(Cow::Borrowed)
    }
}

impl<F> CredentialLookup for F
where
    F: Fn(&str) -> Option<KeyRecord>,
{
    fn lookup(&self, access_key_id: &str) -> Option<KeyRecord> {
        self(access_key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_is_the_sts_iam_default() {
        let p = Policy::default();
        assert_eq!(p.service, None);
        assert_eq!(p.regions, RegionRule::AnyWellFormed);
        assert_eq!(p.max_skew, time::Duration::minutes(15));
        assert!(p.debug_in_message);
        assert!(p.normalize_path);
        assert!(!p.require_signed_session_token);
    }

    #[test]
    fn closures_and_maps_are_credential_lookups() {
        let f = |id: &str| {
            (id == "AKID").then(|| KeyRecord {
                secret_access_key: Secret::new("s".to_owned()),
                session_token: None,
                expires: None,
            })
        };
        assert!(f.lookup("AKID").is_some());
        assert!(f.lookup("other").is_none());
        assert!(matches!(f.lookup_ref("AKID"), Some(Cow::Owned(_))));
        assert!(f.lookup_ref("other").is_none());
        let mut map: HashMap<String, KeyRecord> = HashMap::new();
        assert!(map.lookup("AKID").is_none());
        assert!(map.lookup_ref("AKID").is_none());
        map.insert("AKID".to_owned(), f("AKID").unwrap());
        assert!(map.lookup("AKID").is_some());
        assert!(matches!(map.lookup_ref("AKID"), Some(Cow::Borrowed(_))));
    }
}
