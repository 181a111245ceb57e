//! Wrapper extractors whose rejections speak Consul's texts, and the JSON reply type.

use axum::body::Body;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use iamconform_secret::Secret;
use serde::de::DeserializeOwned;

use super::decode::{self, Shape};
use crate::config::ConsulState;
use crate::error::ConsulError;
use crate::gojson;
use crate::store::{Caller, Scope};

/// Largest request body the emulator reads (bytes).
pub const MAX_BODY: usize = 1024 * 1024;
/// Largest single query value or token the emulator accepts (bytes).
const MAX_TOKEN: usize = 4096;

/// The decoded query string (Go `url.Values` semantics: first value wins for `Get`).
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// The first value of `key` (`""` when absent), like Go's `Query().Get`.
    pub fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The first non-empty value of `key`.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        Some(self.get(key)).filter(|v| !v.is_empty())
    }

    /// Whether `key` is present at all (`?pretty`).
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ConsulError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::parse(parts.uri.query()))
    }
}

/// The request's ACL token, found in Consul's order: `?token=`, `X-Consul-Token`,
/// `Authorization: Bearer <token>`. None means the agent's default (anonymous) token.
#[derive(Debug, Clone)]
pub struct RequestToken(pub Option<Secret<String>>);

impl RequestToken {
    /// Extracts the token from request parts.
    pub fn from_parts(parts: &Parts) -> Self {
        Self(find_token(&Params::parse(parts.uri.query()), &parts.headers).map(Secret::new))
    }

    /// The caller for store operations.
    pub fn caller(&self) -> Caller {
        Caller::Token(self.0.clone())
    }
}

fn find_token(params: &Params, headers: &HeaderMap) -> Option<String> {
    if let Some(t) = params.non_empty("token") {
        return Some(t.chars().take(MAX_TOKEN).collect());
    }
    if let Some(t) = headers
        .get("x-consul-token")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    {
        return Some(t.chars().take(MAX_TOKEN).collect());
    }
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?;
    let parts: Vec<&str> = auth.split(' ').collect();
    // Consul: "<Scheme> <Value>" with exactly one space; the scheme must be Bearer.
    let [scheme, value] = parts.as_slice() else {
        return None;
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        let v = value.trim();
        return (!v.is_empty()).then(|| v.chars().take(MAX_TOKEN).collect());
    }
    None
}

impl<S: Send + Sync> FromRequestParts<S> for RequestToken {
    type Rejection = ConsulError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// The request's enterprise scope (`?ns=`, `X-Consul-Namespace`, `?partition=`,
/// `X-Consul-Partition`); in CE any of them is a 400 (`agent/http_ce.go`). Also rejects a
/// `?dc=` naming another datacenter.
#[derive(Debug, Clone, Default)]
pub struct EntScope(pub Scope);

impl<S> FromRequestParts<S> for EntScope
where
    ConsulState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ConsulError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = ConsulState::from_ref(state);
        let params = Params::parse(parts.uri.query());
        scope_from(&params, &parts.headers, &state).map(EntScope)
    }
}

/// Consul's `parseEntMeta` (CE: rejections; ENT: query over header).
pub fn scope_from(
    params: &Params,
    headers: &HeaderMap,
    state: &ConsulState,
) -> Result<Scope, ConsulError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
    };
    if let Some(dc) = params.non_empty("dc")
        && dc != state.config.datacenter
    {
        return Err(ConsulError::plain("No path to datacenter"));
    }
    if !state.config.enterprise {
        if header("X-Consul-Namespace").is_some() {
            return Err(ConsulError::bad_request(
                "Invalid header: \"X-Consul-Namespace\" - Namespaces are a Consul Enterprise feature",
            ));
        }
        if params.non_empty("ns").is_some() {
            return Err(ConsulError::bad_request(
                "Invalid query parameter: \"ns\" - Namespaces are a Consul Enterprise feature",
            ));
        }
        if header("X-Consul-Partition").is_some() {
            return Err(ConsulError::bad_request(
                "Invalid header: \"X-Consul-Partition\" - Partitions are a Consul Enterprise feature",
            ));
        }
        if params.non_empty("partition").is_some() {
            return Err(ConsulError::bad_request(
                "Invalid query parameter: \"partition\" - Partitions are a Consul Enterprise feature",
            ));
        }
        return Ok(Scope::default());
    }
    Ok(Scope {
        namespace: params
            .non_empty("ns")
            .or_else(|| header("X-Consul-Namespace"))
            .map(str::to_string),
        partition: params
            .non_empty("partition")
            .or_else(|| header("X-Consul-Partition"))
            .map(str::to_string),
    })
}

/// The raw request body, bounded by [`MAX_BODY`].
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ConsulError;
    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let body: Body = req.into_body();
        axum::body::to_bytes(body, MAX_BODY)
            .await
            .map(RawBody)
            .map_err(|e| {
                let source = std::error::Error::source(&e);
                if source.is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) {
                    ConsulError::PayloadTooLarge
                } else if source.is_some_and(|s| s.is::<iamconform_serve::BodyTimeout>()) {
                    // The connection's deadline passed; the client itself gets a 408.
                    ConsulError::bad_request(format!(
                        "Request decode failed: {}",
                        iamconform_serve::BODY_TIMEOUT_TEXT
                    ))
                } else {
                    // UNVERIFIED: Consul's JSON decoder reports a body cut short as
                    // `unexpected EOF`, under the endpoint's own prefix; one prefix here.
                    ConsulError::bad_request("Request decode failed: unexpected EOF")
                }
            })
    }
}

impl RawBody {
    /// Decodes the body as Consul would, prefixing errors like the endpoint does
    /// (`Policy decoding failed: …`) as a 400.
    pub(crate) fn decode<T: DeserializeOwned + Default>(
        &self,
        shape: &Shape,
        prefix: &str,
        enterprise: bool,
    ) -> Result<T, ConsulError> {
        decode::decode(&self.0, shape, enterprise)
            .map_err(|e| ConsulError::bad_request(format!("{prefix}: {e}")))
    }
}

/// A JSON success reply rendered like Go (`?pretty` honoured).
#[derive(Debug)]
pub struct Reply {
    value: serde_json::Value,
    pretty: bool,
    index: Option<u64>,
}

impl Reply {
    /// A reply; `params` decides `?pretty`.
    pub fn new(value: serde_json::Value, params: &Params) -> Self {
        Self {
            value,
            pretty: params.has("pretty"),
            index: None,
        }
    }

    /// Adds Consul's query meta headers (`X-Consul-Index`, …) for reads.
    pub fn with_index(mut self, index: u64) -> Self {
        self.index = Some(index);
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        match gojson::to_vec(&self.value, self.pretty) {
            Ok(body) => {
                let mut resp = (StatusCode::OK, body).into_response();
                let h = resp.headers_mut();
                h.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                if let Some(idx) = self.index {
                    if let Ok(v) = HeaderValue::from_str(&idx.to_string()) {
                        h.insert("X-Consul-Index", v);
                    }
                    h.insert("X-Consul-Knownleader", HeaderValue::from_static("true"));
                    h.insert("X-Consul-Lastcontact", HeaderValue::from_static("0"));
                }
                resp
            }
            Err(_) => ConsulError::plain("failed to encode response").into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn token_order_is_query_header_bearer() {
        let h = headers(&[("X-Consul-Token", "hdr"), ("Authorization", "Bearer bear")]);
        assert_eq!(
            find_token(&Params::parse(Some("token=q")), &h).as_deref(),
            Some("q")
        );
        assert_eq!(find_token(&Params::parse(None), &h).as_deref(), Some("hdr"));
        let h = headers(&[("Authorization", "bearer bear")]);
        assert_eq!(
            find_token(&Params::parse(None), &h).as_deref(),
            Some("bear")
        );
        let h = headers(&[("Authorization", "Basic abc")]);
        assert_eq!(find_token(&Params::parse(None), &h), None);
        assert_eq!(
            find_token(&Params::parse(Some("token=")), &HeaderMap::new()),
            None
        );
    }
}
