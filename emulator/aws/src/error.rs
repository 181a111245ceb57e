//! [`AwsError`]: every error the STS/IAM endpoint answers with, rendered once as AWS's XML.
//!
//! Spec: aws-sts-iam-sigv4 §3.5. The body is `ErrorResponse/Error/{Type,Code,Message}` plus
//! `RequestId`, with `Content-Type: text/xml` and `x-amzn-RequestId`, in the namespace of the
//! service that answered.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use iamconform_sigv4::SigV4Error;

use crate::Service;
use crate::xml;

/// The `x-amzn-RequestId` header name.
pub const REQUEST_ID_HEADER: &str = "x-amzn-RequestId";

/// What went wrong, named after the AWS error code it becomes.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AwsErrorKind {
    /// Signature verification failed (codes from the verifier).
    #[error("{0}")]
    SigV4(#[from] SigV4Error),
    /// A form body or query with a bad escape or bad UTF-8.
    #[error("{0}")]
    MalformedQueryString(String),
    /// No `Action` parameter.
    #[error("Missing Action")]
    MissingAction,
    /// The action is not known for the version.
    #[error("Could not find operation {action} for version {version}")]
    InvalidAction {
        /// The `Action` sent.
        action: String,
        /// The `Version` sent (or the service's own version when absent).
        version: String,
    },
    /// The caller's identity policy does not allow the action.
    #[error("{0}")]
    AccessDenied(String),
    /// The named role or user does not exist.
    #[error("{0}")]
    NoSuchEntity(String),
    /// A parameter is missing or invalid.
    #[error("{0}")]
    ValidationError(String),
    /// A method other than GET or POST.
    #[error("The requested HTTP method is not allowed for this resource.")]
    MethodNotAllowed,
    /// The body is larger than the limit.
    #[error("Request body exceeds the maximum allowed size of {0} bytes")]
    RequestEntityTooLarge(usize),
    /// The header section is larger than the limit.
    #[error("Request header section exceeds the maximum allowed size of {0} bytes")]
    RequestHeaderSectionTooLarge(usize),
    /// The body could not be read.
    #[error("The request body could not be read")]
    IncompleteBody,
    /// An injected fault with this HTTP status.
    #[error("{}", fault_code_message(*.0).1)]
    Fault(u16),
    /// A bug in the emulator.
    #[error("internal error in iamconform ({0}); please file a bug")]
    Internal(&'static str),
}

/// The code and message of an injected fault status.
// UNVERIFIED: AWS's texts for these server-side errors (spec §3.5 lists Throttling as
// UNVERIFIED; the others use AWS's common-errors wording).
fn fault_code_message(status: u16) -> (&'static str, &'static str) {
    match status {
        429 | 400 => ("Throttling", "Rate exceeded"),
        500 => (
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        ),
        s if s >= 500 => (
            "ServiceUnavailable",
            "The request has failed due to a temporary failure of the server.",
        ),
        _ => ("Throttling", "Rate exceeded"),
    }
}

impl AwsErrorKind {
    /// The AWS error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SigV4(e) => e.code(),
            Self::MalformedQueryString(_) => "MalformedQueryString",
            // UNVERIFIED: the code AWS query services send without an Action.
            Self::MissingAction => "MissingAction",
            Self::InvalidAction { .. } => "InvalidAction",
            Self::AccessDenied(_) => "AccessDenied",
            Self::NoSuchEntity(_) => "NoSuchEntity",
            Self::ValidationError(_) => "ValidationError",
            // UNVERIFIED: AWS redirects unsupported methods (spec §1.10 step 2).
            Self::MethodNotAllowed => "MethodNotAllowed",
            // UNVERIFIED: AWS's code for oversized requests.
            Self::RequestEntityTooLarge(_) => "RequestEntityTooLarge",
            Self::RequestHeaderSectionTooLarge(_) => "RequestHeaderSectionTooLarge",
            Self::IncompleteBody => "IncompleteBody",
            Self::Fault(s) => fault_code_message(*s).0,
            Self::Internal(_) => "InternalFailure",
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::SigV4(e) => e.status(),
            Self::MalformedQueryString(_)
            | Self::MissingAction
            | Self::InvalidAction { .. }
            | Self::ValidationError(_)
            | Self::IncompleteBody => 400,
            Self::AccessDenied(_) => 403,
            Self::NoSuchEntity(_) => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestEntityTooLarge(_) => 413,
            Self::RequestHeaderSectionTooLarge(_) => 431,
            Self::Fault(s) => *s,
            Self::Internal(_) => 500,
        }
    }

    /// The message sent in `<Message>`.
    pub fn message(&self) -> String {
        match self {
            Self::SigV4(e) => e.message(),
            other => other.to_string(),
        }
    }

    /// Which check failed, for the journal.
    pub fn check(&self) -> &'static str {
        use iamconform_sigv4::{InvalidClientToken, Mismatch};
        match self {
            Self::SigV4(e) => match e {
                SigV4Error::MissingAuthenticationToken => "auth_present",
                SigV4Error::IncompleteSignature { .. } => "auth_parse",
                SigV4Error::MalformedQueryString { .. } => "query",
                SigV4Error::InvalidURIPath { .. } => "path",
                SigV4Error::ExpiredToken => "session_token_expired",
                SigV4Error::InvalidClientTokenId(InvalidClientToken::TokenInvalid) => {
                    "session_token"
                }
                SigV4Error::InvalidClientTokenId(InvalidClientToken::UnknownAccessKey) => {
                    "access_key"
                }
                SigV4Error::SignatureDoesNotMatch(m) => match m.as_ref() {
                    Mismatch::BothAuthForms => "auth_parse",
                    Mismatch::HostNotSigned | Mismatch::SessionTokenNotSigned => "signed_headers",
                    Mismatch::Expired { .. } | Mismatch::NotYetCurrent { .. } => "skew",
                    Mismatch::Scope { .. } => "scope",
                    Mismatch::Signature { .. } => "signature",
                },
            },
            Self::MalformedQueryString(_) => "query",
            Self::MissingAction | Self::InvalidAction { .. } => "action",
            Self::AccessDenied(_) => "authorization",
            Self::NoSuchEntity(_) => "entity",
            Self::ValidationError(_) => "parameters",
            Self::MethodNotAllowed => "method",
            Self::RequestEntityTooLarge(_) | Self::IncompleteBody => "body",
            Self::RequestHeaderSectionTooLarge(_) => "headers",
            Self::Fault(_) => "fault",
            Self::Internal(_) => "internal",
        }
    }
}

/// An error answer: the kind plus what the response needs to be rendered.
#[derive(Debug, Clone)]
pub struct AwsError {
    /// What went wrong.
    pub kind: AwsErrorKind,
    /// The service whose namespace the body uses.
    pub service: Service,
    /// The request id sent in the body and the header.
    pub request_id: String,
}

impl AwsError {
    /// An error of `kind` answered by `service`.
    pub fn new(kind: impl Into<AwsErrorKind>, service: Service, request_id: &str) -> Self {
        Self {
            kind: kind.into(),
            service,
            request_id: request_id.to_owned(),
        }
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let status = self.kind.status();
        let body = xml::render_error(
            self.service.namespace(),
            status < 500,
            self.kind.code(),
            &self.kind.message(),
            &self.request_id,
        );
        xml_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
            &self.request_id,
        )
    }
}

/// A `text/xml` response with the request-id header.
pub(crate) fn xml_response(status: StatusCode, body: String, request_id: &str) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    // Spec §0.5: Consul compares the whole header value, so no charset.
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert(REQUEST_ID_HEADER, v);
    }
    resp
}
