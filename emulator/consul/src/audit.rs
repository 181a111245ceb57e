//! Enterprise audit log: two JSON lines per HTTP request, `OperationStart` and
//! `OperationComplete` (spec consul-aws-iam §5.2).
//!
//! Line format (one JSON object per line, keys in this order):
//!
//! ```text
//! {"created_at":"<RFC 3339>","event_type":"audit","payload":{
//!   "id":"<uuid>","version":"1","type":"HTTPEvent","timestamp":"<RFC 3339>",
//!   "auth":{"accessor_id":"…","description":"…","create_time":"…"},
//!   "request":{"operation":"GET","endpoint":"/v1/acl/token/self","remote_addr":"127.0.0.1:5000",
//!              "user_agent":"…","host":"…"},
//!   "stage":"OperationStart"}}
//! ```
//!
//! The complete line adds `"response":{"status":"200"}` (a string, as Consul writes it).
//! Choices where the docs are silent (UNVERIFIED, pinned by tests):
//! - both lines of one request share the same `id`, so consumers can pair them;
//! - `endpoint` is the path only — never the query string, which may hold `?token=`;
//! - `auth` describes the request's token; without a token it is the anonymous token, with
//!   an unknown or expired token it is `{}`; `/v1/acl/login` therefore shows the anonymous
//!   token (the bearer token is never written anywhere);
//! - no `query_params` and no `response.error` fields.
//!
//! Lines are written whole under a mutex, so concurrent requests never interleave.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use crate::config::ConsulState;
use crate::gojson;
use crate::http::extract::RequestToken;

/// An append-only JSON-lines audit file.
#[derive(Debug)]
pub struct AuditLog {
    file: Mutex<File>,
}

impl AuditLog {
    /// Opens (or creates) the file for appending.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            file: Mutex::new(file),
        })
    }

    /// Writes one event as one line.
    pub fn write(&self, event: &Value) {
        let Ok(mut line) = gojson::to_vec(event, false) else {
            return;
        };
        line.push(b'\n');
        let mut f = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = f.write_all(&line) {
            tracing::warn!(error = %e, "audit log write failed");
        }
    }
}

/// Axum middleware writing the two events around every request.
pub async fn middleware(State(state): State<ConsulState>, req: Request, next: Next) -> Response {
    let Some(log) = state.audit.clone() else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    let token = RequestToken::from_parts(&parts);
    let auth = match state.store.audit_identity(token.0.as_ref()) {
        Some((accessor_id, description, create_time)) => {
            json!({"accessor_id": accessor_id, "description": description, "create_time": create_time})
        }
        None => json!({}),
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let request = json!({
        "operation": parts.method.as_str(),
        "endpoint": parts.uri.path(),
        "remote_addr": remote,
        "user_agent": header("user-agent"),
        "host": header("host"),
    });
    let id = uuid::Uuid::new_v4().to_string();
    let event = |stage: &str, response: Option<Value>| {
        let now = gojson::format_time(state.clock().now());
        let mut payload = json!({
            "id": id,
            "version": "1",
            "type": "HTTPEvent",
            "timestamp": now,
            "auth": auth,
            "request": request,
            "stage": stage,
        });
        if let (Some(r), Some(m)) = (response, payload.as_object_mut()) {
            m.insert("response".into(), r);
        }
        json!({"created_at": now, "event_type": "audit", "payload": payload})
    };
    log.write(&event("OperationStart", None));
    let resp = next.run(Request::from_parts(parts, body)).await;
    log.write(&event(
        "OperationComplete",
        Some(json!({"status": resp.status().as_u16().to_string()})),
    ));
    resp
}
