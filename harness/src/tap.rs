//! A recording pass-through proxy in front of the Consul backend.
//!
//! The client under test talks to the tap, the tap forwards every request unchanged to the
//! backend and keeps what the harness needs afterwards, whatever the backend is: the bearer
//! token of each `POST /v1/acl/login` (for `replay` steps and for the secret scan), and the
//! SecretID of each token a login returned (so reports can be scrubbed of it). Everything it
//! keeps is a [`Secret`]; nothing is logged.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use iamconform_secret::Secret;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Requests larger than this are refused by the tap (Consul's own limits are lower).
const MAX_BODY: usize = 4 << 20;

/// One login that went through the tap.
#[derive(Debug, Clone)]
pub struct CapturedLogin {
    /// The `AuthMethod` the client asked for.
    pub auth_method: String,
    /// The bearer token as sent.
    pub bearer_token: Secret<String>,
    /// The HTTP status Consul answered.
    pub status: u16,
}

#[derive(Debug, Default)]
struct TapLog {
    logins: Vec<CapturedLogin>,
    secrets: Vec<Secret<String>>,
}

/// A running tap.
pub struct ConsulTap {
    addr: SocketAddr,
    log: Arc<Mutex<TapLog>>,
    stop: watch::Sender<bool>,
}

impl ConsulTap {
    /// Starts a tap on 127.0.0.1 forwarding to `upstream` (e.g. `http://127.0.0.1:8500`).
    pub async fn start(upstream: String) -> std::io::Result<ConsulTap> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let log = Arc::new(Mutex::new(TapLog::default()));
        let (stop, mut stopped) = watch::channel(false);
        let client: Client<HttpConnector, Full<Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let upstream: Arc<str> = upstream.trim_end_matches('/').into();
        let state = log.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stopped.changed() => break,
                };
                let Ok((stream, _)) = accepted else { continue };
                let client = client.clone();
                let upstream = upstream.clone();
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        forward(req, client.clone(), upstream.clone(), state.clone())
                    });
                    // A client that hangs up mid-request only ends its own connection.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(ConsulTap { addr, log, stop })
    }

    /// The address clients should use, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every login seen so far, oldest first.
    pub fn logins(&self) -> Vec<CapturedLogin> {
        self.log
            .lock()
            .map(|l| l.logins.clone())
            .unwrap_or_default()
    }

    /// Every secret seen so far (bearer tokens and returned SecretIDs), for scrubbing outputs.
    pub fn secrets(&self) -> Vec<Secret<String>> {
        self.log
            .lock()
            .map(|l| l.secrets.clone())
            .unwrap_or_default()
    }
}

impl Drop for ConsulTap {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn forward(
    req: Request<Incoming>,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: Arc<str>,
    log: Arc<Mutex<TapLog>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "iamconform tap: request body too large or broken",
            ));
        }
    };
    let is_login = parts.method == hyper::Method::POST && parts.uri.path() == "/v1/acl/login";
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = format!("{upstream}{path_and_query}");
    let mut builder = Request::builder().method(parts.method.clone()).uri(uri);
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST {
            builder = builder.header(name, value);
        }
    }
    let Ok(out) = builder.body(Full::new(body.clone())) else {
        return Ok(plain(
            StatusCode::BAD_REQUEST,
            "iamconform tap: cannot forward this request",
        ));
    };
    let resp = match client.request(out).await {
        Ok(r) => r,
        Err(e) => {
            return Ok(plain(
                StatusCode::BAD_GATEWAY,
                &format!("iamconform tap: Consul backend unreachable: {e}"),
            ));
        }
    };
    let (rparts, rbody) = resp.into_parts();
    let rbody = match Limited::new(rbody, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(plain(
                StatusCode::BAD_GATEWAY,
                "iamconform tap: backend response too large",
            ));
        }
    };
    if is_login {
        record_login(&log, &body, rparts.status.as_u16(), &rbody);
    }
    let mut response = Response::from_parts(rparts, Full::new(rbody));
    response
        .headers_mut()
        .remove(hyper::header::TRANSFER_ENCODING);
    Ok(response)
}

fn record_login(log: &Mutex<TapLog>, request: &[u8], status: u16, response: &[u8]) {
    let Ok(mut log) = log.lock() else { return };
    if let Ok(serde_json::Value::Object(req)) = serde_json::from_slice(request) {
        let field = |name: &str| {
            req.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_string)
        };
        if let Some(token) = field("BearerToken") {
            log.secrets.push(Secret::new(token.clone()));
            log.logins.push(CapturedLogin {
                auth_method: field("AuthMethod").unwrap_or_default(),
                bearer_token: Secret::new(token),
                status,
            });
        }
    }
    if let Ok(serde_json::Value::Object(resp)) = serde_json::from_slice(response)
        && let Some(secret) = resp.get("SecretID").and_then(|v| v.as_str())
    {
        log.secrets.push(Secret::new(secret.to_string()));
    }
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text.to_string())));
    *r.status_mut() = status;
    r
}
