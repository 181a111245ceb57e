//! `ConsulError` on the wire: one exhaustive mapping to status, headers and plain-text body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ConsulError;

impl IntoResponse for ConsulError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.to_string();
        let mut resp = (status, body).into_response();
        // Consul writes error bodies with fmt.Fprint and lets Go sniff the type.
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        match &self {
            ConsulError::MethodNotAllowed { allow, .. } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    resp.headers_mut().insert(header::ALLOW, v);
                }
            }
            ConsulError::BadRequest(_)
            | ConsulError::Unauthorized(_)
            | ConsulError::PermissionDenied(_)
            | ConsulError::AclNotFound(_)
            | ConsulError::NotFound(_)
            | ConsulError::PayloadTooLarge
            | ConsulError::Plain(_) => {}
        }
        resp
    }
}
