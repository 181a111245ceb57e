//! The harness's own small HTTP client (plain HTTP to loopback Consul backends).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use iamconform_secret::Secret;

/// Responses larger than this are an error (no Consul answer in a scenario comes close).
const MAX_RESPONSE: usize = 16 << 20;

/// A response: status and body text.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body, decoded lossily as UTF-8.
    pub body: String,
}

impl HttpResponse {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// Talks to one Consul HTTP address.
#[derive(Clone)]
pub struct ConsulHttp {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

/// A request that could not be completed.
#[derive(Debug, thiserror::Error)]
#[error("{method} {url}: {message}")]
pub struct HttpError {
    method: String,
    url: String,
    message: String,
}

impl ConsulHttp {
    /// A client for `base` (e.g. `http://127.0.0.1:8500`).
    pub fn new(base: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Self {
            base: base.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout: Duration::from_secs(30),
        }
    }

    /// The base address.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request with an optional `X-Consul-Token` and JSON body.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&Secret<String>>,
        body: Option<&serde_json::Value>,
    ) -> Result<HttpResponse, HttpError> {
        let url = format!("{}{}", self.base, path);
        let err = |message: String| HttpError {
            method: method.to_string(),
            url: url.clone(),
            message,
        };
        let mut builder = hyper::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            builder = builder.header("X-Consul-Token", t.expose().as_str());
        }
        let bytes = match body {
            Some(b) => {
                builder = builder.header("Content-Type", "application/json");
                Bytes::from(serde_json::to_vec(b).map_err(|e| err(e.to_string()))?)
            }
            None => Bytes::new(),
        };
        let request = builder
            .body(Full::new(bytes))
            .map_err(|e| err(e.to_string()))?;
        let response = tokio::time::timeout(self.timeout, self.client.request(request))
            .await
            .map_err(|_| err(format!("no answer within {:?}", self.timeout)))?
            .map_err(|e| err(format!("connection failed: {e}")))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_RESPONSE)
            .collect()
            .await
            .map_err(|e| err(format!("reading the response: {e}")))?
            .to_bytes();
        Ok(HttpResponse {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }
}
