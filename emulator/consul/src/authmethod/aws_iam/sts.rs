//! The only outbound HTTP of the emulator: replaying the client's signed STS/IAM requests, as
//! consul-awsauth's `buildHttpRequest` and `submitRequest` do (go-retryablehttp retry policy,
//! redirects not followed, `Content-Type` checked before the status).
//!
//! Where requests may go is decided by [`Outbound`]: every `*.amazonaws.com(.cn)` host is sent to
//! the AWS emulator (keeping the signed `Host` header), loopback targets are allowed, and
//! anything else is refused, so nothing ever leaves the machine by accident.
//!
//! Spec: consul-aws-iam §2.4.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::gostd::json::HeaderList;
use super::gostd::url::{self, GoUrl};
use super::gostd::{canonical_header_key, is_token_byte, quote};
use super::login::LoginError;
use super::token::SignedRequest;

/// go-retryablehttp's `RetryWaitMax` as consul-awsauth sets it.
const RETRY_WAIT_MAX: Duration = Duration::from_secs(30);
/// Bound on one attempt (connect, headers, body). Consul has none; a harness must not hang.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound on a response body read from STS/IAM.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// Go's default `User-Agent` when the token has none.
const GO_USER_AGENT: &str = "Go-http-client/1.1";

/// How login reaches STS and IAM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// Where every `*.amazonaws.com` / `*.amazonaws.com.cn` target is sent instead (e.g.
    /// `http://127.0.0.1:4566`), over plain HTTP, keeping the signed `Host` header. `None`:
    /// such targets are refused unless `allow_non_loopback` (and then need plain HTTP).
    pub aws_endpoint: Option<String>,
    /// Allow plain-HTTP targets that are not loopback. Default `false`: any other non-loopback
    /// target is refused with a clear error.
    pub allow_non_loopback: bool,
    /// go-retryablehttp `RetryWaitMin` (500 ms in Consul); tests may lower it.
    pub retry_wait_min: Duration,
}

impl Default for Outbound {
    fn default() -> Self {
        Outbound {
            aws_endpoint: None,
            allow_non_loopback: false,
            retry_wait_min: Duration::from_millis(500),
        }
    }
}

/// A request ready to be replayed: the target URL after endpoint substitution, the signed host,
/// canonicalised headers (Go's `Header.Add`), method and body from the token.
#[derive(Clone)]
pub(crate) struct ForwardRequest {
    pub(crate) method: String,
    pub(crate) url: GoUrl,
    /// The `Host` header: the host of the token's URL (what was signed).
    pub(crate) host: String,
    /// Canonical keys, values merged in token order.
    pub(crate) headers: HeaderList,
    /// Shared with each attempt's request body, so a retry needs no copy.
    pub(crate) body: Bytes,
}

impl std::fmt::Debug for ForwardRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardRequest")
            .field("method", &self.method)
            .field("url", &self.url.redacted())
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

/// consul-awsauth `buildHttpRequest`: base = configured endpoint, else the token's URL; target
/// path = base path joined with the token URL's path; the token's query appended. Takes the
/// token's request by value: its header values and body move into the forward request
/// instead of being copied (they hold the session token and signatures, kilobytes per login).
pub(crate) fn build_forward_request(
    req: SignedRequest,
    endpoint: &str,
) -> Result<ForwardRequest, LoginError> {
    let base = if endpoint.is_empty() {
        req.url.clone()
    } else {
        url::parse(endpoint).map_err(LoginError::BuildRequest)?
    };
    // UNVERIFIED: the join takes the token URL's unescaped path (Go `JoinPath(parsedUrl.Path)`).
    let mut target = base.join_path(&req.url.path);
    target.raw_query = req.url.raw_query.clone();
    target.force_query = false;
    // Go's `http.NewRequest`: empty method means GET; otherwise it must be an HTTP token.
    let method = if req.method.is_empty() {
        "GET".to_owned()
    } else {
        req.method
    };
    if !method.bytes().all(is_token_byte) {
        return Err(LoginError::BuildRequest(format!(
            "net/http: invalid method {}",
            quote(&method)
        )));
    }
    let mut headers: HeaderList = Vec::with_capacity(req.headers.len());
    for (k, values) in req.headers {
        let key = canonical_header_key(&k);
        match headers.iter_mut().find(|(k2, _)| *k2 == key) {
            Some((_, vs)) => vs.extend(values),
            None => headers.push((key, values)),
        }
    }
    Ok(ForwardRequest {
        method,
        url: target,
        host: req.url.host,
        headers,
        body: Bytes::from(req.body),
    })
}

/// A transport failure of one attempt, with go-retryablehttp's retry decision.
#[derive(Debug)]
struct AttemptError {
    message: String,
    retryable: bool,
}

fn refuse(message: String) -> AttemptError {
    AttemptError {
        message,
        retryable: false,
    }
}

fn is_aws_host(host: &str) -> bool {
    let h = host.trim_end_matches('.').as_bytes();
    let ends_with = |suffix: &str| {
        h.len()
            .checked_sub(suffix.len())
            .and_then(|start| h.get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix.as_bytes()))
    };
    ends_with(".amazonaws.com") || ends_with(".amazonaws.com.cn")
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Where an attempt goes: `http://<authority><prefix>`, and whether that is the configured
/// AWS emulator (an AWS host redirected by [`Outbound::aws_endpoint`]).
struct Route {
    base: String,
    to_aws_emulator: bool,
}

/// `http://<authority><prefix>` of an AWS emulator endpoint ([`Outbound::aws_endpoint`]), or
/// why it cannot be used.
fn emulator_base(endpoint: &str) -> Result<String, String> {
    let e = url::parse(endpoint).map_err(|e| format!("invalid AWS emulator endpoint: {e}"))?;
    if e.scheme != "http" || e.host.is_empty() {
        return Err(format!(
            "AWS emulator endpoint {} must be a plain http:// URL",
            quote(endpoint)
        ));
    }
    let prefix = e.escaped_path();
    Ok(format!("http://{}{}", e.host, prefix.trim_end_matches('/')))
}

/// Decides where a target is actually sent. `cached_base` is [`emulator_base`] of
/// `outbound.aws_endpoint` when the caller has it already.
fn route(
    outbound: &Outbound,
    target: &GoUrl,
    cached_base: Option<&Result<String, String>>,
) -> Result<Route, AttemptError> {
    if target.scheme != "http" && target.scheme != "https" {
        return Err(refuse(format!(
            "unsupported protocol scheme {}",
            quote(&target.scheme)
        )));
    }
    let host = target.hostname();
    if is_aws_host(host) {
        let Some(endpoint) = &outbound.aws_endpoint else {
            return Err(refuse(format!(
                "refusing to send to AWS host {}: no AWS emulator endpoint is configured \
                 (iamconform never contacts real AWS)",
                quote(host)
            )));
        };
        let base = match cached_base {
            Some(base) => base.clone(),
            None => emulator_base(endpoint),
        }
        .map_err(refuse)?;
        return Ok(Route {
            base,
            to_aws_emulator: true,
        });
    }
    if !is_loopback(host) && !outbound.allow_non_loopback {
        return Err(refuse(format!(
            "refusing to connect to non-loopback host {}: iamconform sends nothing off this \
             machine (point STSEndpoint/IAMEndpoint at a loopback emulator, or set \
             Outbound.aws_endpoint)",
            quote(host)
        )));
    }
    if target.scheme == "https" {
        return Err(refuse(format!(
            "https to {} is not supported: the embedded outbound client has no TLS (use http:// \
             for loopback emulators)",
            quote(&target.host)
        )));
    }
    let port = if target.port().is_empty() {
        "80"
    } else {
        target.port()
    };
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(Route {
        base: format!("http://{authority}"),
        to_aws_emulator: false,
    })
}

/// The headers Go's `Request.Write` takes from elsewhere than `req.Header`.
fn excluded_header(key: &str) -> bool {
    matches!(
        key,
        "Host" | "Content-Length" | "Transfer-Encoding" | "Trailer" | "User-Agent"
    )
}

fn build_http_request(
    base: &str,
    req: &ForwardRequest,
) -> Result<http::Request<Full<Bytes>>, AttemptError> {
    let uri = format!("{base}{}", req.url.request_uri());
    let mut builder = http::Request::builder()
        .method(req.method.as_str())
        .uri(uri.as_str());
    let headers = builder
        .headers_mut()
        .ok_or_else(|| refuse(format!("invalid request URI {}", quote(&uri))))?;
    let host = HeaderValue::from_str(&req.host).map_err(|_| AttemptError {
        message: "http: invalid Host header".to_owned(),
        retryable: true,
    })?;
    headers.insert(header::HOST, host);
    let ua = req
        .headers
        .iter()
        .find(|(k, _)| k == "User-Agent")
        .and_then(|(_, v)| v.first())
        .map_or(GO_USER_AGENT, String::as_str);
    let invalid_value = |k: &str| AttemptError {
        message: format!("net/http: invalid header field value for {}", quote(k)),
        retryable: true,
    };
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_bytes(ua.as_bytes()).map_err(|_| invalid_value("User-Agent"))?,
    );
    for (k, values) in &req.headers {
        if excluded_header(k) {
            continue;
        }
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| AttemptError {
            message: format!("net/http: invalid header field name {}", quote(k)),
            retryable: true,
        })?;
        for v in values {
            headers.append(
                name.clone(),
                HeaderValue::from_bytes(v.as_bytes()).map_err(|_| invalid_value(k))?,
            );
        }
    }
    builder
        .body(Full::new(req.body.clone()))
        .map_err(|e| refuse(format!("invalid request: {e}")))
}

fn render_client_error(e: &hyper_util::client::legacy::Error, authority: &str) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            let what = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => "connection reset by peer".to_owned(),
                _ => io.to_string(),
            };
            return if e.is_connect() {
                format!("dial tcp {authority}: connect: {what}")
            } else {
                what
            };
        }
        source = s.source();
    }
    let mut msg = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// A client of its own for one [`submit_with`] call (Consul's one connection per call).
fn unpooled_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .http1_title_case_headers(true)
        .build_http()
}

/// One attempt: send and receive the response head. `own_client` is the call's unpooled
/// client, built on first use: requests for the AWS emulator go over `emulator_client` and
/// need none.
async fn attempt(
    own_client: &mut Option<Client<HttpConnector, Full<Bytes>>>,
    emulator_client: Option<&EmulatorClient>,
    outbound: &Outbound,
    req: &ForwardRequest,
) -> Result<http::Response<hyper::body::Incoming>, AttemptError> {
    let route = route(
        outbound,
        &req.url,
        emulator_client.and_then(|c| c.aws_base.as_ref()),
    )?;
    let client = match emulator_client {
        Some(pooled) if route.to_aws_emulator => &pooled.client,
        _ => own_client.get_or_insert_with(unpooled_client),
    };
    let request = build_http_request(&route.base, req)?;
    let authority = request
        .uri()
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    match tokio::time::timeout(ATTEMPT_TIMEOUT, client.request(request)).await {
        Err(_) => Err(AttemptError {
            message: format!("request timed out after {}s", ATTEMPT_TIMEOUT.as_secs()),
            retryable: true,
        }),
        Ok(Err(e)) => Err(AttemptError {
            message: render_client_error(&e, &authority),
            retryable: true,
        }),
        Ok(Ok(resp)) => Ok(resp),
    }
}

/// go-retryablehttp `DefaultBackoff`: `min·2^n` capped at `max`; `Retry-After` (seconds) on 429
/// and 503 (capped too, unlike go-retryablehttp, so a response cannot stall the login).
fn backoff(
    min: Duration,
    n: u32,
    resp: Option<&http::Response<hyper::body::Incoming>>,
) -> Duration {
    if let Some(r) = resp
        && matches!(r.status().as_u16(), 429 | 503)
        && let Some(secs) = r
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Duration::from_secs(secs).min(RETRY_WAIT_MAX);
    }
    2u32.checked_pow(n)
        .and_then(|m| min.checked_mul(m))
        .map_or(RETRY_WAIT_MAX, |d| d.min(RETRY_WAIT_MAX))
}

/// go-retryablehttp `DefaultRetryPolicy` on a response: 429, 5xx except 501 (and status 0).
fn retryable_status(status: u16) -> bool {
    status == 429 || status == 0 || (status >= 500 && status != 501)
}

/// Keep-alive connections to the AWS emulator, shared by every login of one [`Validator`]
/// (`super::login::Validator`).
///
/// Consul's client (go-cleanhttp, `DisableKeepAlives: true`) opens a new connection for every
/// call, and so does [`submit`] for every target but one: requests for AWS hosts that
/// [`Outbound::aws_endpoint`] redirects to iamconform's own AWS emulator reuse connections
/// from this pool. The bytes of each request are the same either way (hyper sends no
/// `Connection` header in either case), and so are the emulator's answers; what differs is
/// only how many TCP connections the emulator accepts, which no client under test can see.
/// Opening and closing two connections per login was the largest single cost of a login
/// (docs/performance.md). Other loopback targets (a test's own STS stub, which may close
/// connections as it likes) keep Consul's one-connection-per-call pattern.
#[derive(Clone, Debug)]
pub(crate) struct EmulatorClient {
    client: Client<HttpConnector, Full<Bytes>>,
    /// [`emulator_base`] of the [`Outbound`] this client was made for (`None` without an
    /// AWS emulator endpoint), worked out once instead of on every request.
    aws_base: Option<Result<String, String>>,
}

/// Idle connections kept per emulator address: enough for the login concurrency of the load
/// benchmark, bounded so a burst can't pin file descriptors forever.
const EMULATOR_POOL_IDLE: usize = 64;

impl EmulatorClient {
    /// A pool for requests routed by `outbound`; use it only with that same `outbound`.
    pub(crate) fn new(outbound: &Outbound) -> Self {
        EmulatorClient {
            client: Client::builder(TokioExecutor::new())
                .http1_title_case_headers(true)
                .pool_max_idle_per_host(EMULATOR_POOL_IDLE)
                .build_http(),
            aws_base: outbound.aws_endpoint.as_deref().map(emulator_base),
        }
    }
}

/// consul-awsauth `submitRequest`: replays the request with retries, then requires
/// `Content-Type: text/xml` (exactly, checked first) and status 200. Returns the body.
/// Every call opens its own connections (see [`submit_with`] for the pooled variant).
#[cfg(test)]
pub(crate) async fn submit(
    outbound: &Outbound,
    max_retries: i64,
    req: &ForwardRequest,
) -> Result<Vec<u8>, LoginError> {
    submit_with(None, outbound, max_retries, req).await
}

/// [`submit`], sending requests for the AWS emulator over `emulator_client`'s pooled
/// connections when given.
pub(crate) async fn submit_with(
    emulator_client: Option<&EmulatorClient>,
    outbound: &Outbound,
    max_retries: i64,
    req: &ForwardRequest,
) -> Result<Vec<u8>, LoginError> {
    let mut own_client = None;
    let retry_max = u64::try_from(max_retries).unwrap_or(0);
    let mut attempts: u64 = 0;
    let outcome = loop {
        attempts += 1;
        let result = attempt(&mut own_client, emulator_client, outbound, req).await;
        let should_retry = match &result {
            Err(e) => e.retryable,
            Ok(r) => retryable_status(r.status().as_u16()),
        };
        if !should_retry {
            break result;
        }
        if retry_max < attempts {
            // Retries exhausted on a retryable outcome.
            break match result {
                Err(e) => Err(e),
                Ok(_) => Err(AttemptError {
                    message: String::new(),
                    retryable: true,
                }),
            };
        }
        let n = u32::try_from(attempts - 1).unwrap_or(u32::MAX);
        let wait = backoff(outbound.retry_wait_min, n, result.as_ref().ok());
        // The retried response (if any) is dropped, which discards its body.
        drop(result);
        tokio::time::sleep(wait).await;
    };
    let url = req.url.redacted();
    let response = outcome.map_err(|e| {
        let mut msg = format!("{} {url} giving up after {attempts} attempt(s)", req.method);
        if !e.message.is_empty() {
            let mut op = req.method.to_ascii_lowercase();
            if let Some(first) = op.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            msg.push_str(&format!(": {op} {}: {}", quote(&url), e.message));
        }
        LoginError::Request(msg)
    })?;
    // Step 2: the content type must be exactly `text/xml`, before the status is looked at.
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(HeaderValue::as_bytes);
    if content_type != Some(b"text/xml".as_slice()) {
        return Err(LoginError::ResponseInvalid);
    }
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES);
    let body = match tokio::time::timeout(ATTEMPT_TIMEOUT, body.collect()).await {
        Ok(Ok(collected)) => collected.to_bytes().to_vec(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(LoginError::ReadBody(format!(
                "response body exceeds {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        Ok(Err(e)) => return Err(LoginError::ReadBody(e.to_string())),
        Err(_) => {
            return Err(LoginError::ReadBody(
                "timed out reading the response body".to_owned(),
            ));
        }
    };
    // Step 3: any status but 200 is an error that shows the body.
    if status != 200 {
        return Err(LoginError::ErrorStatus {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    Ok(body)
}

#[cfg(test)]
pub(crate) mod test_helpers {
    //! A loopback stub server answering scripted responses and recording requests.

    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::Response;

    /// A recorded request.
    #[derive(Debug, Clone)]
    pub(crate) struct Seen {
        pub(crate) method: String,
        pub(crate) uri: String,
        pub(crate) headers: http::HeaderMap,
        pub(crate) body: Vec<u8>,
    }

    /// A scripted response.
    #[derive(Debug, Clone)]
    pub(crate) struct Reply {
        pub(crate) status: u16,
        pub(crate) content_type: Option<String>,
        pub(crate) body: String,
    }

    impl Reply {
        pub(crate) fn xml(status: u16, body: &str) -> Reply {
            Reply {
                status,
                content_type: Some("text/xml".into()),
                body: body.into(),
            }
        }
    }

    #[derive(Clone, Default)]
    struct StubState {
        seen: Arc<Mutex<Vec<Seen>>>,
        replies: Arc<Mutex<VecDeque<Reply>>>,
    }

    /// The stub: `url` is `http://127.0.0.1:<port>`.
    pub(crate) struct Stub {
        pub(crate) url: String,
        state: StubState,
    }

    impl Stub {
        /// Starts a stub answering `replies` in order (the last one repeats).
        pub(crate) async fn start(replies: Vec<Reply>) -> Stub {
            let state = StubState {
                seen: Arc::default(),
                replies: Arc::new(Mutex::new(replies.into())),
            };
            let app = Router::new().fallback(handle).with_state(state.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            Stub { url, state }
        }

        pub(crate) fn seen(&self) -> Vec<Seen> {
            self.state.seen.lock().unwrap().clone()
        }
    }

    async fn handle(State(state): State<StubState>, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let body = axum::body::to_bytes(body, 1 << 20)
            .await
            .unwrap_or_default()
            .to_vec();
        state.seen.lock().unwrap().push(Seen {
            method: parts.method.to_string(),
            uri: parts.uri.to_string(),
            headers: parts.headers,
            body,
        });
        let reply = {
            let mut q = state.replies.lock().unwrap();
            if q.len() > 1 {
                q.pop_front()
            } else {
                q.front().cloned()
            }
        }
        .unwrap_or(Reply {
            status: 404,
            content_type: None,
            body: String::new(),
        });
        let mut b = Response::builder().status(reply.status);
        if let Some(ct) = reply.content_type {
            b = b.header("Content-Type", ct);
        }
        b.body(Body::from(reply.body)).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::test_helpers::{Reply, Stub};
    use super::*;

    fn outbound() -> Outbound {
        Outbound {
            retry_wait_min: Duration::from_millis(1),
            ..Outbound::default()
        }
    }

    fn request(url: &str) -> ForwardRequest {
        let signed = SignedRequest {
            method: "POST".into(),
            url: url::parse("https://sts.amazonaws.com/").unwrap(),
            headers: vec![
                (
                    "content-type".into(),
                    vec!["application/x-www-form-urlencoded".into()],
                ),
                ("Content-Length".into(), vec!["999".into()]),
                ("Host".into(), vec!["evil".into()]),
            ],
            body: b"Action=GetCallerIdentity".to_vec(),
        };
        build_forward_request(signed, url).unwrap()
    }

    #[tokio::test]
    async fn forwards_with_signed_host_and_canonical_headers() {
        let stub = Stub::start(vec![Reply::xml(200, "<ok/>")]).await;
        let body = submit(&outbound(), 0, &request(&format!("{}/sts", stub.url)))
            .await
            .unwrap();
        assert_eq!(body, b"<ok/>");
        let seen = stub.seen();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "POST");
        // Path join: endpoint `/sts` + token path `/`.
        assert_eq!(seen[0].uri, "/sts/");
        assert_eq!(seen[0].headers["host"], "sts.amazonaws.com");
        assert_eq!(
            seen[0].headers["content-type"],
            "application/x-www-form-urlencoded"
        );
        // Content-Length is the real one, not the token's.
        assert_eq!(seen[0].headers["content-length"], "24");
        assert_eq!(seen[0].headers["user-agent"], GO_USER_AGENT);
        assert_eq!(seen[0].body, b"Action=GetCallerIdentity");
    }

    #[tokio::test]
    async fn header_values_may_carry_obs_text_but_not_controls() {
        let stub = Stub::start(vec![Reply::xml(200, "<ok/>")]).await;
        let mut req = request(&stub.url);
        req.headers.push(("X-Note".into(), vec!["café".into()]));
        submit(&outbound(), 0, &req).await.unwrap();
        assert_eq!(
            stub.seen()[0].headers["x-note"].as_bytes(),
            "café".as_bytes()
        );
        req.headers.push(("X-Bad".into(), vec!["a\nb".into()]));
        let e = submit(&outbound(), 0, &req).await.unwrap_err().to_string();
        assert!(
            e.ends_with("net/http: invalid header field value for \"X-Bad\""),
            "{e}"
        );
    }

    #[test]
    fn path_join_table() {
        let signed = |u: &str| SignedRequest {
            method: "POST".into(),
            url: url::parse(u).unwrap(),
            headers: vec![],
            body: vec![],
        };
        let t = |token: &str, endpoint: &str| {
            build_forward_request(signed(token), endpoint)
                .unwrap()
                .url
                .to_string()
        };
        assert_eq!(
            t("https://sts.amazonaws.com/", ""),
            "https://sts.amazonaws.com/"
        );
        assert_eq!(
            t("https://sts.amazonaws.com/", "http://127.0.0.1:9"),
            "http://127.0.0.1:9/"
        );
        assert_eq!(
            t("http://fake/sts/", "http://fake/sts"),
            "http://fake/sts/sts/"
        );
        assert_eq!(
            t(
                "https://sts.amazonaws.com/",
                "https://sts.us-east-1.amazonaws.com/"
            ),
            "https://sts.us-east-1.amazonaws.com/"
        );
        assert_eq!(
            t("https://sts.amazonaws.com/a/../b", "http://h/x"),
            "http://h/x/b"
        );
        let f =
            build_forward_request(signed("https://sts.amazonaws.com:443/"), "http://h").unwrap();
        assert_eq!(f.host, "sts.amazonaws.com:443");
        let bad = SignedRequest {
            method: "GE T".into(),
            ..signed("https://iam.amazonaws.com/")
        };
        assert_eq!(
            build_forward_request(bad, "").unwrap_err().to_string(),
            "net/http: invalid method \"GE T\""
        );
    }

    #[tokio::test]
    async fn retries_500_then_succeeds() {
        let stub = Stub::start(vec![Reply::xml(500, "boom"), Reply::xml(200, "<ok/>")]).await;
        let body = submit(&outbound(), 1, &request(&stub.url)).await.unwrap();
        assert_eq!(body, b"<ok/>");
        assert_eq!(stub.seen().len(), 2);
    }

    #[tokio::test]
    async fn no_retries_gives_up_after_one_attempt() {
        let stub = Stub::start(vec![Reply::xml(500, "boom")]).await;
        let e = submit(&outbound(), 0, &request(&stub.url))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "error making request: POST {}/ giving up after 1 attempt(s)",
                stub.url
            )
        );
        let e = submit(&outbound(), 2, &request(&stub.url))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "error making request: POST {}/ giving up after 3 attempt(s)",
                stub.url
            )
        );
    }

    #[tokio::test]
    async fn retries_429_but_not_501() {
        let stub = Stub::start(vec![Reply::xml(429, "slow"), Reply::xml(200, "<ok/>")]).await;
        assert!(submit(&outbound(), 1, &request(&stub.url)).await.is_ok());
        assert_eq!(stub.seen().len(), 2);
        let stub = Stub::start(vec![Reply::xml(501, "nope"), Reply::xml(200, "<ok/>")]).await;
        let e = submit(&outbound(), 3, &request(&stub.url))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "received error code 501: nope");
        assert_eq!(stub.seen().len(), 1);
    }

    #[tokio::test]
    async fn content_type_is_checked_before_status() {
        let stub = Stub::start(vec![Reply {
            status: 403,
            content_type: Some("text/html".into()),
            body: "x".into(),
        }])
        .await;
        assert_eq!(
            submit(&outbound(), 0, &request(&stub.url))
                .await
                .unwrap_err()
                .to_string(),
            "response body is invalid"
        );
        let stub = Stub::start(vec![Reply {
            status: 200,
            content_type: Some("text/xml; charset=utf-8".into()),
            body: "x".into(),
        }])
        .await;
        assert_eq!(
            submit(&outbound(), 0, &request(&stub.url))
                .await
                .unwrap_err()
                .to_string(),
            "response body is invalid"
        );
        let stub = Stub::start(vec![Reply {
            status: 200,
            content_type: None,
            body: "x".into(),
        }])
        .await;
        assert_eq!(
            submit(&outbound(), 0, &request(&stub.url))
                .await
                .unwrap_err()
                .to_string(),
            "response body is invalid"
        );
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let stub = Stub::start(vec![Reply::xml(302, "<moved/>")]).await;
        let e = submit(&outbound(), 0, &request(&stub.url))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "received error code 302: <moved/>");
        assert_eq!(stub.seen().len(), 1);
    }

    #[tokio::test]
    async fn aws_hosts_go_to_the_emulator_endpoint() {
        let stub = Stub::start(vec![Reply::xml(200, "<ok/>")]).await;
        let out = Outbound {
            aws_endpoint: Some(stub.url.clone()),
            ..outbound()
        };
        submit(&out, 0, &request("")).await.unwrap();
        assert_eq!(stub.seen()[0].headers["host"], "sts.amazonaws.com");
        assert_eq!(stub.seen()[0].uri, "/");
    }

    #[tokio::test]
    async fn nothing_leaves_the_machine() {
        let e = submit(&outbound(), 3, &request(""))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("error making request: POST https://sts.amazonaws.com/ giving up after 1 attempt(s): Post \"https://sts.amazonaws.com/\": refusing to send to AWS host"), "{e}");
        let e = submit(&outbound(), 0, &request("http://192.0.2.1:80"))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("refusing to connect to non-loopback host \"192.0.2.1\""),
            "{e}"
        );
        let e = submit(&outbound(), 0, &request("https://127.0.0.1:1"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("no TLS"), "{e}");
        let e = submit(&outbound(), 0, &request("ftp://127.0.0.1:1"))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("unsupported protocol scheme \"ftp\""), "{e}");
    }

    #[tokio::test]
    async fn connection_errors_are_retried_then_reported() {
        // Bind then drop a listener to get a loopback port that refuses connections.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = submit(
            &outbound(),
            1,
            &request(&format!("http://127.0.0.1:{port}")),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "error making request: POST http://127.0.0.1:{port}/ giving up after 2 attempt(s): Post \"http://127.0.0.1:{port}/\": dial tcp 127.0.0.1:{port}: connect: connection refused"
            )
        );
    }

    #[tokio::test]
    async fn response_bodies_are_bounded() {
        let big = "x".repeat(MAX_RESPONSE_BYTES + 1);
        let stub = Stub::start(vec![Reply::xml(200, &big)]).await;
        let e = submit(&outbound(), 0, &request(&stub.url))
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("response body exceeds {MAX_RESPONSE_BYTES} bytes")
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let min = Duration::from_millis(500);
        assert_eq!(backoff(min, 0, None), Duration::from_millis(500));
        assert_eq!(backoff(min, 3, None), Duration::from_secs(4));
        assert_eq!(backoff(min, 10, None), RETRY_WAIT_MAX);
        assert_eq!(backoff(min, 100, None), RETRY_WAIT_MAX);
    }

    /// A raw HTTP/1.1 server that keeps connections open, records every request's bytes and
    /// counts the connections it accepted.
    async fn raw_keep_alive_server() -> (
        String,
        std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
        std::sync::Arc<std::sync::atomic::AtomicUsize>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (seen2, accepted2) = (seen.clone(), accepted.clone());
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                accepted2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    loop {
                        let mut chunk = [0u8; 4096];
                        let Ok(n) = conn.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse().unwrap());
                        if buf.len() < head_end + 4 + len {
                            continue;
                        }
                        let rest = buf.split_off(head_end + 4 + len);
                        seen.lock().unwrap().push(std::mem::replace(&mut buf, rest));
                        let body = "<ok/>";
                        let resp = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if conn.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, seen, accepted)
    }

    #[test]
    fn aws_hosts_are_recognised_in_any_case_with_trailing_dots() {
        for h in [
            "sts.amazonaws.com",
            "STS.AmazonAWS.com.",
            "iam.amazonaws.com.cn",
            "x.amazonaws.com.CN..",
        ] {
            assert!(is_aws_host(h), "{h}");
        }
        for h in [
            "amazonaws.com",
            "sts.amazonaws.co",
            "127.0.0.1",
            "",
            "é.amazonaws.com.é",
        ] {
            assert!(!is_aws_host(h), "{h}");
        }
    }

    #[tokio::test]
    async fn a_pooled_client_refuses_unusable_emulator_endpoints_like_a_fresh_one() {
        for endpoint in ["https://127.0.0.1:1", "http://", "::"] {
            let out = Outbound {
                aws_endpoint: Some(endpoint.into()),
                ..outbound()
            };
            let fresh = submit(&out, 0, &request("")).await.unwrap_err();
            let pooled = EmulatorClient::new(&out);
            let cached = submit_with(Some(&pooled), &out, 0, &request(""))
                .await
                .unwrap_err();
            assert_eq!(fresh, cached);
            assert!(
                fresh.to_string().contains("AWS emulator endpoint"),
                "{fresh}"
            );
        }
    }

    #[tokio::test]
    async fn emulator_requests_reuse_connections_and_keep_their_bytes() {
        let (url, seen, accepted) = raw_keep_alive_server().await;
        let out = Outbound {
            aws_endpoint: Some(url.clone()),
            ..outbound()
        };
        // Consul's pattern: a fresh client, one connection per call.
        submit(&out, 0, &request("")).await.unwrap();
        // The validator's pool: two calls, one connection.
        let pooled = EmulatorClient::new(&out);
        submit_with(Some(&pooled), &out, 0, &request(""))
            .await
            .unwrap();
        submit_with(Some(&pooled), &out, 0, &request(""))
            .await
            .unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], seen[1], "{}", String::from_utf8_lossy(&seen[0]));
        assert_eq!(seen[0], seen[2]);
        assert!(
            !String::from_utf8_lossy(&seen[0])
                .to_ascii_lowercase()
                .contains("connection:")
        );
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);

        // A target that is not the AWS emulator keeps one connection per call, pool or not.
        let (url, seen, accepted) = raw_keep_alive_server().await;
        submit_with(Some(&pooled), &outbound(), 0, &request(&url))
            .await
            .unwrap();
        submit_with(Some(&pooled), &outbound(), 0, &request(&url))
            .await
            .unwrap();
        assert_eq!(seen.lock().unwrap().len(), 2);
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
