//! The two Consul HTTP calls: `POST /v1/acl/login` and `POST /v1/acl/logout`.
//!
//! Behaves like the Go `api` client the CLI uses: address from `-http-addr`, else
//! `CONSUL_HTTP_ADDR`, else `127.0.0.1:8500`, with an optional `http://`/`https://` prefix;
//! `?dc=`, `?ns=`, `?partition=` from the flags; the token in `X-Consul-Token`; bodies as Go's
//! `json.Encoder` writes them; any non-200 answer as `Unexpected response code: <code> (<body>)`
//! with the body trimmed (`api/api.go generateUnexpectedResponseCodeError`).

use iamconform_secret::Secret;

use crate::go_json;
use crate::transport::{Network, TransportError};

/// Default agent address.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8500";

/// Why a Consul call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsulError {
    /// The address has an unknown scheme.
    #[error("Unknown protocol scheme: {0}")]
    Scheme(String),
    /// The request could not be sent.
    #[error("Post {url:?}: {source}")]
    Send {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: TransportError,
    },
    /// Consul answered with a status other than 200.
    #[error("Unexpected response code: {code} ({body})")]
    Status {
        /// The status.
        code: u16,
        /// The trimmed body.
        body: String,
    },
    /// The login answer is not a token.
    #[error("{0}")]
    Decode(String),
}

/// A Consul agent address and the request options of the HTTP flags.
#[derive(Clone, Debug)]
pub struct ConsulClient {
    base: String,
    network: Network,
    /// `-datacenter` (`?dc=`).
    pub datacenter: Option<String>,
    /// `-namespace` (`?ns=`).
    pub namespace: Option<String>,
    /// `-partition` (`?partition=`).
    pub partition: Option<String>,
}

impl ConsulClient {
    /// A client for `addr` (`host:port`, `http://host:port` or `https://host:port`).
    pub fn new(addr: &str, https: bool, network: Network) -> Result<Self, ConsulError> {
        let (scheme, rest) = match addr.split_once("://") {
            Some(("http", rest)) => (if https { "https" } else { "http" }, rest),
            Some(("https", rest)) => ("https", rest),
            Some((other, _)) => return Err(ConsulError::Scheme(other.to_owned())),
            None => (if https { "https" } else { "http" }, addr),
        };
        Ok(Self {
            base: format!("{scheme}://{}", rest.trim_end_matches('/')),
            network,
            datacenter: None,
            namespace: None,
            partition: None,
        })
    }

    fn url(&self, path: &str) -> String {
        let mut query = Vec::new();
        for (k, v) in [
            ("dc", &self.datacenter),
            ("ns", &self.namespace),
            ("partition", &self.partition),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                query.push(format!("{k}={}", go_json::query_escape(v)));
            }
        }
        if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{}", self.base, query.join("&"))
        }
    }

    async fn post(
        &self,
        path: &str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<bytes::Bytes, ConsulError> {
        let url = self.url(path);
        let response = self
            .network
            .send("POST", &url, &headers, body)
            .await
            .map_err(|source| ConsulError::Send { url, source })?;
        if response.status != 200 {
            return Err(ConsulError::Status {
                code: response.status,
                body: String::from_utf8_lossy(&response.body).trim().to_owned(),
            });
        }
        Ok(response.body)
    }

    /// `POST /v1/acl/login`; returns the SecretID of the new token. No ACL token is sent.
    pub async fn login(
        &self,
        auth_method: &str,
        bearer_token: &Secret<String>,
        meta: &[(String, String)],
    ) -> Result<Secret<String>, ConsulError> {
        let body = render_login_body(auth_method, bearer_token, meta);
        let answer = self
            .post("/v1/acl/login", Vec::new(), body.into_inner().into_bytes())
            .await?;
        let value: serde_json::Value =
            serde_json::from_slice(&answer).map_err(|e| ConsulError::Decode(e.to_string()))?;
        let serde_json::Value::Object(map) = value else {
            return Err(ConsulError::Decode(
                "json: cannot unmarshal non-object into Go value of type api.ACLToken".to_owned(),
            ));
        };
        // Go's decoder matches field names case-insensitively; a missing SecretID decodes as "".
        let secret = map
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("SecretID"))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_default()
            .to_owned();
        Ok(Secret::new(secret))
    }

    /// `POST /v1/acl/logout` with the token in `X-Consul-Token` (none when empty).
    pub async fn logout(&self, token: Option<&Secret<String>>) -> Result<(), ConsulError> {
        let mut headers = Vec::new();
        if let Some(t) = token.filter(|t| !t.expose().is_empty()) {
            headers.push(("X-Consul-Token".to_owned(), t.expose().clone()));
        }
        self.post("/v1/acl/logout", headers, Vec::new()).await?;
        Ok(())
    }
}

/// The login body as the Go api client encodes `ACLLoginParams` (with `json.Encoder`, so a
/// trailing newline; `Meta` omitted when empty). It holds the bearer token, hence the wrapper.
pub fn render_login_body(
    auth_method: &str,
    bearer_token: &Secret<String>,
    meta: &[(String, String)],
) -> Secret<String> {
    let mut out = String::from("{\"AuthMethod\":");
    go_json::push_string(&mut out, auth_method);
    out.push_str(",\"BearerToken\":");
    go_json::push_string(&mut out, bearer_token.expose());
    if !meta.is_empty() {
        out.push_str(",\"Meta\":");
        out.push_str(&go_json::string_map(meta));
    }
    out.push_str("}\n");
    Secret::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_take_an_optional_scheme() {
        let c = ConsulClient::new("127.0.0.1:8500", false, Network::default()).unwrap();
        assert_eq!(c.url("/v1/acl/login"), "http://127.0.0.1:8500/v1/acl/login");
        let c = ConsulClient::new("http://127.0.0.1:1/", false, Network::default()).unwrap();
        assert_eq!(c.url("/x"), "http://127.0.0.1:1/x");
        let c = ConsulClient::new("https://127.0.0.1:1", false, Network::default()).unwrap();
        assert_eq!(c.url("/x"), "https://127.0.0.1:1/x");
        assert_eq!(
            ConsulClient::new("ftp://x", false, Network::default())
                .unwrap_err()
                .to_string(),
            "Unknown protocol scheme: ftp"
        );
    }

    #[test]
    fn query_carries_dc_ns_partition_in_go_order() {
        let mut c = ConsulClient::new("127.0.0.1:1", false, Network::default()).unwrap();
        c.partition = Some("p".to_owned());
        c.datacenter = Some("dc 2".to_owned());
        c.namespace = Some("n".to_owned());
        assert_eq!(c.url("/x"), "http://127.0.0.1:1/x?dc=dc+2&ns=n&partition=p");
    }

    #[test]
    fn login_body_matches_the_go_encoder() {
        let t = Secret::new(r#"{"a":"b&c"}"#.to_owned());
        let body = render_login_body("m", &t, &[]);
        assert_eq!(
            body.expose(),
            "{\"AuthMethod\":\"m\",\"BearerToken\":\"{\\\"a\\\":\\\"b\\u0026c\\\"}\"}\n"
        );
        let meta = vec![
            ("z".to_owned(), "1".to_owned()),
            ("a".to_owned(), "2".to_owned()),
        ];
        let body = render_login_body("m", &t, &meta);
        assert!(
            body.expose()
                .ends_with(",\"Meta\":{\"a\":\"2\",\"z\":\"1\"}}\n")
        );
    }
}
