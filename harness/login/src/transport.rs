//! Outbound HTTP, restricted to loopback.
//!
//! Every connection the client makes goes through [`Network`]: Consul, the STS call behind
//! `-aws-include-entity`, the ECS credentials endpoint. It connects only to loopback IP
//! literals (and `localhost`, taken as 127.0.0.1). Hosts under `amazonaws.com` go to the address
//! in `IAMCONFORM_AWS_ENDPOINT` (plain HTTP) with the `Host` header kept as signed; without that
//! variable they are refused, so nothing ever reaches the Internet. There is no TLS: an `https`
//! URL that is not redirected is refused with a clear error.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::Env;

/// Environment variable that redirects every `*.amazonaws.com` connection.
pub const AWS_ENDPOINT_ENV: &str = "IAMCONFORM_AWS_ENDPOINT";
/// Largest response body read.
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Where connections may go.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    aws_redirect: Option<SocketAddr>,
}

/// A connection the client refused to make, or one that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The URL could not be parsed.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// An AWS host without `IAMCONFORM_AWS_ENDPOINT`.
    #[error(
        "refusing to contact {host}: the reference client never leaves the machine; set {AWS_ENDPOINT_ENV}=http://127.0.0.1:PORT to send *.amazonaws.com requests to a local AWS emulator"
    )]
    AwsHostNotRedirected {
        /// The host.
        host: String,
    },
    /// A host that is neither loopback nor an AWS host.
    #[error(
        "refusing to contact non-loopback host {host}: the reference client only talks to 127.0.0.1, ::1 or localhost"
    )]
    NotLoopback {
        /// The host.
        host: String,
    },
    /// `https` on a loopback host: the client has no TLS.
    #[error(
        "cannot use https for {host}: the reference client has no TLS; use http:// on loopback"
    )]
    TlsUnsupported {
        /// The host.
        host: String,
    },
    /// `IAMCONFORM_AWS_ENDPOINT` is not an `http://` loopback address.
    #[error("{AWS_ENDPOINT_ENV} must be http://<loopback ip>:<port>, got {0:?}")]
    BadRedirect(String),
    /// Connecting or exchanging the request failed.
    #[error("{0}")]
    Io(String),
    /// The response body exceeded [`MAX_RESPONSE_BODY`].
    #[error("response body larger than {MAX_RESPONSE_BODY} bytes")]
    BodyTooLarge,
    /// No answer within the timeout.
    #[error("request timed out after {}s", REQUEST_TIMEOUT.as_secs())]
    Timeout,
}

/// A response read in full.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
}

/// The parts of a URL the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts {
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `host[:port]`, port only when not the scheme default (as signers and Go write it).
    pub(crate) authority: String,
    pub(crate) path_and_query: String,
}

pub(crate) fn parse_url(url: &str) -> Result<UrlParts, TransportError> {
    let bad = |reason: &str| TransportError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| bad("no scheme"))?
        .to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(bad("scheme must be http or https")),
    };
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = uri.port_u16().unwrap_or(default_port);
    let authority = if port == default_port {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    };
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    Ok(UrlParts {
        scheme,
        host: host.to_owned(),
        port,
        authority,
        path_and_query,
    })
}

fn loopback_ip(host: &str) -> Option<IpAddr> {
    if host.eq_ignore_ascii_case("localhost") {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().ok().filter(IpAddr::is_loopback)
}

fn is_aws_host(host: &str) -> bool {
    let h = host.to_ascii_lowercase();
    h == "amazonaws.com"
        || h.ends_with(".amazonaws.com")
        || h.ends_with(".amazonaws.com.cn")
        || h.ends_with(".api.aws")
}

impl Network {
    /// Loopback only, AWS hosts refused.
    pub fn loopback_only() -> Self {
        Self::default()
    }

    /// Loopback, with `*.amazonaws.com` sent to `addr` (which must be loopback).
    pub fn with_aws_redirect(addr: SocketAddr) -> Result<Self, TransportError> {
        if !addr.ip().is_loopback() {
            return Err(TransportError::BadRedirect(addr.to_string()));
        }
        Ok(Self {
            aws_redirect: Some(addr),
        })
    }

    /// Reads `IAMCONFORM_AWS_ENDPOINT`.
    pub fn from_env(env: &dyn Env) -> Result<Self, TransportError> {
        let Some(value) = env.non_empty(AWS_ENDPOINT_ENV) else {
            return Ok(Self::loopback_only());
        };
        let bad = || TransportError::BadRedirect(value.clone());
        let parts = parse_url(&value).map_err(|_| bad())?;
        if parts.scheme != "http" {
            return Err(bad());
        }
        let ip = loopback_ip(&parts.host).ok_or_else(bad)?;
        Self::with_aws_redirect(SocketAddr::new(ip, parts.port))
    }

    /// The redirect target of AWS hosts, if any.
    pub fn aws_redirect(&self) -> Option<SocketAddr> {
        self.aws_redirect
    }

    /// Where a connection to `parts` really goes.
    pub(crate) fn connect_addr(&self, parts: &UrlParts) -> Result<SocketAddr, TransportError> {
        if let Some(ip) = loopback_ip(&parts.host) {
            if parts.scheme == "https" {
                return Err(TransportError::TlsUnsupported {
                    host: parts.host.clone(),
                });
            }
            return Ok(SocketAddr::new(ip, parts.port));
        }
        if is_aws_host(&parts.host) {
            return self
                .aws_redirect
                .ok_or_else(|| TransportError::AwsHostNotRedirected {
                    host: parts.host.clone(),
                });
        }
        Err(TransportError::NotLoopback {
            host: parts.host.clone(),
        })
    }

    /// Sends one request and reads the whole response. `headers` are sent as given; `Host` is
    /// the URL's authority unless `headers` name one.
    pub(crate) async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<Response, TransportError> {
        let parts = parse_url(url)?;
        let addr = self.connect_addr(&parts)?;
        let target = format!("http://{addr}{}", parts.path_and_query);
        let io = |e: &dyn std::fmt::Display| TransportError::Io(e.to_string());
        let mut builder = http::Request::builder()
            .method(method)
            .uri(&target)
            .header(http::header::HOST, &parts.authority);
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("host")
                && let Some(h) = builder.headers_mut()
            {
                h.remove(http::header::HOST);
            }
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| io(&e))?;
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build(HttpConnector::new());
        let exchange = async {
            let response = client.request(request).await.map_err(|e| {
                let mut msg = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    msg = s.to_string();
                    src = s.source();
                }
                if msg.contains("refused") {
                    TransportError::Io(format!("dial tcp {addr}: connect: connection refused"))
                } else {
                    TransportError::Io(format!("dial tcp {addr}: {msg}"))
                }
            })?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_RESPONSE_BODY)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        TransportError::BodyTooLarge
                    } else {
                        TransportError::Io(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Response { status, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| TransportError::Timeout)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MapEnv;

    fn parts(url: &str) -> UrlParts {
        parse_url(url).unwrap()
    }

    #[test]
    fn loopback_hosts_connect_directly() {
        let n = Network::loopback_only();
        assert_eq!(
            n.connect_addr(&parts("http://127.0.0.1:8500/x")).unwrap(),
            "127.0.0.1:8500".parse().unwrap()
        );
        assert_eq!(
            n.connect_addr(&parts("http://localhost:1/")).unwrap(),
            "127.0.0.1:1".parse().unwrap()
        );
        assert_eq!(
            n.connect_addr(&parts("http://[::1]:9/")).unwrap(),
            "[::1]:9".parse().unwrap()
        );
    }

    #[test]
    fn other_hosts_are_refused() {
        let n = Network::loopback_only();
        assert!(matches!(
            n.connect_addr(&parts("http://169.254.170.2/creds")),
            Err(TransportError::NotLoopback { .. })
        ));
        assert!(matches!(
            n.connect_addr(&parts("https://sts.us-east-1.amazonaws.com/")),
            Err(TransportError::AwsHostNotRedirected { .. })
        ));
        assert!(matches!(
            n.connect_addr(&parts("https://127.0.0.1:1/")),
            Err(TransportError::TlsUnsupported { .. })
        ));
        assert!(matches!(
            n.connect_addr(&parts("http://example.com/")),
            Err(TransportError::NotLoopback { .. })
        ));
    }

    #[test]
    fn aws_hosts_follow_the_redirect() {
        let n = Network::from_env(&MapEnv::new().with(AWS_ENDPOINT_ENV, "http://127.0.0.1:4566"))
            .unwrap();
        assert_eq!(
            n.connect_addr(&parts("https://iam.amazonaws.com/"))
                .unwrap(),
            "127.0.0.1:4566".parse().unwrap()
        );
        assert!(matches!(
            n.connect_addr(&parts("http://10.0.0.1/")),
            Err(TransportError::NotLoopback { .. })
        ));
    }

    #[test]
    fn redirect_must_be_plain_http_loopback() {
        for bad in [
            "http://10.1.2.3:1",
            "https://127.0.0.1:1",
            "127.0.0.1:1",
            "http://example.com:1",
        ] {
            assert!(
                matches!(
                    Network::from_env(&MapEnv::new().with(AWS_ENDPOINT_ENV, bad)),
                    Err(TransportError::BadRedirect(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn authority_drops_default_ports() {
        assert_eq!(
            parts("https://sts.amazonaws.com:443/").authority,
            "sts.amazonaws.com"
        );
        assert_eq!(parts("http://127.0.0.1:80/sts/").authority, "127.0.0.1");
        assert_eq!(parts("http://127.0.0.1:81/sts/").authority, "127.0.0.1:81");
        assert_eq!(parts("http://h").path_and_query, "/");
    }
}
