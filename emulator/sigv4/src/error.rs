//! [`SigV4Error`]: every way verification fails, named after the AWS error code it becomes.
//!
//! Texts are AWS's, copied from the spec (aws-sts-iam-sigv4 §1.2–§1.9) and kept as constants.
//! `code()`, `status()` and `message()` are the one place the wire mapping lives.

use thiserror::Error;

/// Base text of every signature mismatch (spec §1.9).
pub(crate) const SIGNATURE_MISMATCH_BASE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
/// `MissingAuthenticationToken` text (spec §1.2).
pub(crate) const MISSING_AUTHENTICATION_TOKEN: &str = "Request is missing Authentication Token";
/// Step 14b text: a token that is malformed, unknown or not for this key. No trailing period.
pub(crate) const TOKEN_INVALID: &str = "The security token included in the request is invalid";
/// Step 15 text: an unknown access key. With a trailing period.
pub(crate) const ACCESS_KEY_UNKNOWN: &str =
    "The security token included in the request is invalid.";
/// Step 14c text. No trailing period.
pub(crate) const TOKEN_EXPIRED: &str = "The security token included in the request is expired";
/// Step 8 text.
pub(crate) const HOST_NOT_SIGNED: &str =
    "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.";
/// Strict-mode text for an unsigned session token, modelled on [`HOST_NOT_SIGNED`].
// UNVERIFIED: AWS services that want the token signed have no documented text for this.
pub(crate) const SESSION_TOKEN_NOT_SIGNED: &str =
    "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.";

/// A verification failure. Variants are the AWS error codes; render with [`SigV4Error::code`],
/// [`SigV4Error::status`] and [`SigV4Error::message`] (also `Display`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SigV4Error {
    /// No Authorization header and no `X-Amz-Algorithm` query parameter, or a presigned URL
    /// with an unsupported algorithm (spec §1.2, 7a).
    #[error("{}", self.message())]
    MissingAuthenticationToken,
    /// The authentication material is present but incomplete or malformed.
    #[error("{}", self.message())]
    IncompleteSignature {
        /// The exact AWS text.
        message: String,
    },
    /// A check that AWS reports as `SignatureDoesNotMatch` failed.
    #[error("{}", self.message())]
    SignatureDoesNotMatch(Box<Mismatch>),
    /// The session token or the access key is not valid.
    #[error("{}", self.message())]
    InvalidClientTokenId(InvalidClientToken),
    /// The session token has expired (step 14c).
    #[error("{}", self.message())]
    ExpiredToken,
    /// The query string has a bad percent-escape (step 4).
    #[error("{}", self.message())]
    MalformedQueryString {
        /// The exact text.
        message: String,
    },
    /// The path is not absolute or has a bad percent-escape (step 1).
    #[error("{}", self.message())]
    InvalidURIPath {
        /// The exact text.
        message: String,
    },
}

/// Why an `InvalidClientTokenId` was sent; the two AWS texts differ by a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidClientToken {
    /// Step 14b: a token was sent that is unknown, not the one issued with this key, or sent
    /// with a long-term key.
    TokenInvalid,
    /// Step 15: the access key is unknown, or a temporary key came without its token.
    UnknownAccessKey,
}

/// The reason for a `SignatureDoesNotMatch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Both an Authorization header and `X-Amz-Algorithm` in the query (step 5). AWS sends no
    /// message text.
    BothAuthForms,
    /// Neither `host` nor `:authority` is in SignedHeaders (step 8).
    HostNotSigned,
    /// Strict mode: the session token is not in SignedHeaders (step 8).
    SessionTokenNotSigned,
    /// The request time is before now minus the allowed skew (step 10).
    Expired {
        /// The request time, ISO-8601 basic.
        request: String,
        /// `now - skew`, ISO-8601 basic.
        limit: String,
        /// Server time, ISO-8601 basic.
        now: String,
        /// The allowed skew in whole minutes.
        minutes: i64,
    },
    /// The request time is after now plus the allowed skew (step 11).
    NotYetCurrent {
        /// The request time, ISO-8601 basic.
        request: String,
        /// `now + skew`, ISO-8601 basic.
        limit: String,
        /// Server time, ISO-8601 basic.
        now: String,
        /// The allowed skew in whole minutes.
        minutes: i64,
    },
    /// One or more credential-scope checks failed (step 13); the texts joined.
    Scope {
        /// The exact AWS text (sentences keep their trailing spaces).
        message: String,
    },
    /// The signature is wrong (step 16).
    Signature {
        /// The canonical request the server computed, session token redacted.
        canonical_request: String,
        /// The string to sign the server computed.
        string_to_sign: String,
        /// Whether the message carries the two values (policy `debug_in_message`).
        debug_in_message: bool,
    },
}

impl SigV4Error {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingAuthenticationToken => "MissingAuthenticationToken",
            Self::IncompleteSignature { .. } => "IncompleteSignature",
            Self::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            Self::InvalidClientTokenId(_) => "InvalidClientTokenId",
            Self::ExpiredToken => "ExpiredToken",
            Self::MalformedQueryString { .. } => "MalformedQueryString",
            Self::InvalidURIPath { .. } => "InvalidURIPath",
        }
    }

    /// The HTTP status AWS answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::MissingAuthenticationToken
            | Self::SignatureDoesNotMatch(_)
            | Self::InvalidClientTokenId(_)
            | Self::ExpiredToken => 403,
            // UNVERIFIED for STS: scratchstack and a JSON service show 400 (spec §1.10).
            Self::IncompleteSignature { .. } => 400,
            // UNVERIFIED: spec §1.7 step 3.2 and §1.10 step 4.
            Self::MalformedQueryString { .. } => 400,
            // UNVERIFIED: AWS sends a bare 400 here (spec §1.10 step 1).
            Self::InvalidURIPath { .. } => 400,
        }
    }

    /// The exact message text AWS puts in `<Message>`.
    pub fn message(&self) -> String {
        match self {
            Self::MissingAuthenticationToken => MISSING_AUTHENTICATION_TOKEN.to_owned(),
            Self::IncompleteSignature { message }
            | Self::MalformedQueryString { message }
            | Self::InvalidURIPath { message } => message.clone(),
            Self::SignatureDoesNotMatch(mismatch) => mismatch.message(),
            Self::InvalidClientTokenId(InvalidClientToken::TokenInvalid) => {
                TOKEN_INVALID.to_owned()
            }
            Self::InvalidClientTokenId(InvalidClientToken::UnknownAccessKey) => {
                ACCESS_KEY_UNKNOWN.to_owned()
            }
            Self::ExpiredToken => TOKEN_EXPIRED.to_owned(),
        }
    }

    /// The canonical request the server computed (token redacted), for a wrong signature.
    pub fn canonical_request(&self) -> Option<&str> {
        match self {
            Self::SignatureDoesNotMatch(m) => match m.as_ref() {
                Mismatch::Signature {
                    canonical_request, ..
                } => Some(canonical_request),
                _ => None,
            },
            _ => None,
        }
    }

    /// The string to sign the server computed, for a wrong signature.
    pub fn string_to_sign(&self) -> Option<&str> {
        match self {
            Self::SignatureDoesNotMatch(m) => match m.as_ref() {
                Mismatch::Signature { string_to_sign, .. } => Some(string_to_sign),
                _ => None,
            },
            _ => None,
        }
    }

    /// The mismatch reason, when the code is `SignatureDoesNotMatch`.
    pub fn mismatch(&self) -> Option<&Mismatch> {
        match self {
            Self::SignatureDoesNotMatch(m) => Some(m),
            _ => None,
        }
    }

    pub(crate) fn incomplete(message: impl Into<String>) -> Self {
        Self::IncompleteSignature {
            message: message.into(),
        }
    }

    pub(crate) fn mismatch_of(m: Mismatch) -> Self {
        Self::SignatureDoesNotMatch(Box::new(m))
    }
}

impl Mismatch {
    /// The exact message text.
    pub fn message(&self) -> String {
        match self {
            // Spec §1.2: AWS answers this case without a message.
            Self::BothAuthForms => String::new(),
            Self::HostNotSigned => HOST_NOT_SIGNED.to_owned(),
            Self::SessionTokenNotSigned => SESSION_TOKEN_NOT_SIGNED.to_owned(),
            Self::Expired {
                request,
                limit,
                now,
                minutes,
            } => format!(
                "Signature expired: {request} is now earlier than {limit} ({now} - {minutes} min.)"
            ),
            Self::NotYetCurrent {
                request,
                limit,
                now,
                minutes,
            } => format!(
                "Signature not yet current: {request} is still later than {limit} ({now} + {minutes} min.)"
            ),
            Self::Scope { message } => message.clone(),
            Self::Signature {
                canonical_request,
                string_to_sign,
                debug_in_message,
            } => {
                if *debug_in_message {
                    // Spec §1.9; layout as in AWS's JSON and XML bodies, trailing newline included.
                    format!(
                        "{SIGNATURE_MISMATCH_BASE}\n\nThe Canonical String for this request should have been\n'{canonical_request}'\n\nThe String-to-Sign should have been\n'{string_to_sign}'\n"
                    )
                } else {
                    SIGNATURE_MISMATCH_BASE.to_owned()
                }
            }
        }
    }
}
