//! The one error type of the Consul emulator, named after what goes on the wire.
//!
//! Consul renders errors as plain-text bodies; the status comes from the kind of error
//! (spec consul-aws-iam §4.1, `agent/http.go`). Variants here carry the exact body text;
//! `http::error` maps each variant to its status in one exhaustive match.

use std::fmt;

/// Consul's `acl.ErrNotFound` text.
pub const ACL_NOT_FOUND: &str = "ACL not found";
/// Consul's `acl.ErrPermissionDenied` text.
pub const PERMISSION_DENIED: &str = "Permission denied";
/// The anonymous token's accessor ID.
pub const ANONYMOUS_TOKEN_ID: &str = "00000000-0000-0000-0000-000000000002";

/// An error as Consul's HTTP API reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsulError {
    /// 400: malformed request (`HTTPError{StatusCode: 400}`).
    #[error("{0}")]
    BadRequest(String),
    /// 401: `Supplied token does not exist` on logout without a token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a `PermissionDeniedError`.
    #[error("{0}")]
    PermissionDenied(PermissionDenied),
    /// 403: `ACL not found`, optionally with a cause (`ACL not found: auth method "x" not found`).
    #[error("{}", render_not_found(.0.as_deref()))]
    AclNotFound(Option<String>),
    /// 404 with a body (`Requested policy does not exist: ACL not found`).
    #[error("{0}")]
    NotFound(String),
    /// 405 with an `Allow` header.
    #[error("method {method} not allowed")]
    MethodNotAllowed {
        /// The request method.
        method: String,
        /// The `Allow` header value.
        allow: String,
    },
    /// 413: the request body exceeds the emulator's limit.
    #[error("Request body too large")]
    PayloadTooLarge,
    /// An untyped Go error: 500, or 403 when the text contains `Permission denied` or
    /// `ACL not found` (Consul's substring rule).
    #[error("{0}")]
    Plain(String),
}

fn render_not_found(cause: Option<&str>) -> String {
    match cause {
        Some(c) => format!("{ACL_NOT_FOUND}: {c}"),
        None => ACL_NOT_FOUND.to_string(),
    }
}

impl ConsulError {
    /// A plain (500) error with the given text.
    pub fn plain(text: impl Into<String>) -> Self {
        Self::Plain(text.into())
    }

    /// A 400 error with the given text.
    pub fn bad_request(text: impl Into<String>) -> Self {
        Self::BadRequest(text.into())
    }

    /// `Permission denied` without a cause.
    pub fn permission_denied() -> Self {
        Self::PermissionDenied(PermissionDenied::Bare)
    }

    /// `Permission denied: <cause>`.
    pub fn permission_denied_cause(cause: impl Into<String>) -> Self {
        Self::PermissionDenied(PermissionDenied::Cause(cause.into()))
    }

    /// The HTTP status Consul sends for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::PermissionDenied(_) | Self::AclNotFound(_) => 403,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed { .. } => 405,
            Self::PayloadTooLarge => 413,
            Self::Plain(text) => {
                if text.contains(PERMISSION_DENIED) || text.contains(ACL_NOT_FOUND) {
                    403
                } else {
                    500
                }
            }
        }
    }
}

/// Consul's `acl.PermissionDeniedError` renderings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionDenied {
    /// `Permission denied`.
    Bare,
    /// `Permission denied: <cause>`.
    Cause(String),
    /// `Permission denied: token with AccessorID '<id>' lacks permission '<resource>:<level>'`.
    Lacks {
        /// The accessor ID of the request's token.
        accessor: String,
        /// `acl`, `operator`, …
        resource: &'static str,
        /// `read` or `write`.
        level: &'static str,
    },
}

impl fmt::Display for PermissionDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bare => f.write_str(PERMISSION_DENIED),
            Self::Cause(c) => write!(f, "{PERMISSION_DENIED}: {c}"),
            Self::Lacks {
                accessor,
                resource,
                level,
            } if accessor == ANONYMOUS_TOKEN_ID => write!(
                f,
                "{PERMISSION_DENIED}: anonymous token lacks permission '{resource}:{level}'. \
                 The anonymous token is used implicitly when a request does not specify a token."
            ),
            Self::Lacks {
                accessor,
                resource,
                level,
            } => write!(
                f,
                "{PERMISSION_DENIED}: token with AccessorID '{accessor}' lacks permission '{resource}:{level}'"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_errors_follow_the_substring_rule() {
        assert_eq!(
            ConsulError::plain("IAM principal x is not trusted").status(),
            500
        );
        assert_eq!(
            ConsulError::plain("Permission denied: token wasn't created via login").status(),
            403
        );
        assert_eq!(ConsulError::plain("x: ACL not found").status(), 403);
    }

    #[test]
    fn renders_consul_texts() {
        assert_eq!(ConsulError::AclNotFound(None).to_string(), "ACL not found");
        assert_eq!(
            ConsulError::AclNotFound(Some("auth method \"x\" not found".into())).to_string(),
            "ACL not found: auth method \"x\" not found"
        );
        let e = ConsulError::PermissionDenied(PermissionDenied::Lacks {
            accessor: "abc".into(),
            resource: "acl",
            level: "write",
        });
        assert_eq!(
            e.to_string(),
            "Permission denied: token with AccessorID 'abc' lacks permission 'acl:write'"
        );
        let e = ConsulError::PermissionDenied(PermissionDenied::Lacks {
            accessor: ANONYMOUS_TOKEN_ID.into(),
            resource: "acl",
            level: "read",
        });
        assert!(
            e.to_string()
                .starts_with("Permission denied: anonymous token lacks permission 'acl:read'. ")
        );
    }
}
