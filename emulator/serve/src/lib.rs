//! The HTTP/1 accept loop both emulators serve with: `axum::serve` plus the limits a hostile
//! client needs.
//!
//! What it adds over `axum::serve` (which has no timer, so no read deadlines):
//! - a **header read deadline** ([`ServeOptions::header_read_timeout`]): a client that opens a
//!   connection and trickles, or never finishes, its request head — or leaves a keep-alive
//!   connection idle — is disconnected when it passes (hyper's own timer, no response sent);
//! - a **body read deadline** ([`ServeOptions::body_read_timeout`]) for the whole body, counted
//!   from the arrival of the head: a handler reading a body that is not complete in time gets
//!   an error and the client gets `408 Request Timeout` with `Connection: close`;
//! - a **connection cap** ([`ServeOptions::max_connections`]): past it the loop stops
//!   accepting, so further clients wait in the kernel's backlog instead of costing a task;
//! - hyper's head limits, kept at their defaults: more than [`DEFAULT_MAX_HEADERS`] header
//!   fields or a head larger than hyper's buffer (about 400 KiB) gets `431`, a malformed request
//!   line `400`, both followed by a close.
//!
//! What it keeps: graceful shutdown (stop accepting, let in-flight requests finish, close idle
//! keep-alive connections, wait for every connection) and `ConnectInfo<SocketAddr>` in every
//! request's extensions, so routers may extract the peer address.
//!
//! What it does not do: HTTP/2, TLS, a deadline on writing responses (a client that never
//! reads its response keeps its connection, and holds up graceful shutdown, until it goes
//! away; on loopback only the test's own clients can do that).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use iamconform_serve::{ServeOptions, serve};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
//! let (tx, rx) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(serve(listener, app, ServeOptions::default(), async move {
//!     let _ = rx.await;
//! }));
//! let _ = tx.send(());
//! server.await.map_err(std::io::Error::other)?
//! # }
//! ```
#![warn(missing_docs)]

mod body;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower::{Service, ServiceExt};

pub use body::BodyTimeout;
use body::{DeadlineBody, TimedOut};

/// Default [`ServeOptions::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ServeOptions::body_read_timeout`]: bodies are at most a few MiB and come over
/// loopback, so this is generous.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`ServeOptions::max_connections`]: well above the harness's 1,000-client
/// concurrency test. The cap bounds tasks and buffers; descriptors are the process's limit.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default [`ServeOptions::max_headers`], hyper's own default.
pub const DEFAULT_MAX_HEADERS: usize = 100;

/// The text of the `408` sent when a body misses its deadline.
pub const BODY_TIMEOUT_TEXT: &str = "request body not received in time";

/// Limits of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// How long a client has to send a complete request head, counted from when the server
    /// starts waiting for it (a new connection, or the end of the previous response on a
    /// keep-alive connection). Past it the connection is closed without a response.
    pub header_read_timeout: Duration,
    /// How long a client has to send the whole body, counted from the arrival of the head.
    pub body_read_timeout: Duration,
    /// Connections served at once; more wait to be accepted. Zero is treated as one.
    pub max_connections: usize,
    /// Header fields per request; more get `431`.
    pub max_headers: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_headers: DEFAULT_MAX_HEADERS,
        }
    }
}

/// A server running [`serve`] on a spawned task until [`Server::shutdown`]. Dropping it stops
/// accepting too (the shutdown signal fires), but does not wait for in-flight requests.
#[derive(Debug)]
pub struct Server {
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

/// What [`serve_service`] can serve: a cloneable request handler that always answers. An
/// [`axum::Router`] is one; so is a service that answers its hot path without routing.
pub trait HttpService:
    Service<hyper::Request<Body>, Response = Response, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + 'static
{
}

impl<S> HttpService for S where
    S: Service<
            hyper::Request<Body>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

impl Server {
    /// Spawns [`serve`] for `app` on `listener`. Must be called inside a tokio runtime.
    pub fn spawn(listener: TcpListener, app: Router, options: ServeOptions) -> Server {
        Self::spawn_service(listener, app, options)
    }

    /// [`Server::spawn`] for any [`HttpService`], e.g. one that dispatches its hot path
    /// without a router.
    pub fn spawn_service<S: HttpService>(
        listener: TcpListener,
        app: S,
        options: ServeOptions,
    ) -> Server {
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_service(listener, app, options, async move {
            let _ = rx.await;
        }));
        Server {
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets
/// in-flight requests finish and waits for every connection to close.
///
/// Accept errors are retried (after a second's pause for errors such as running out of
/// descriptors), so today this only returns `Ok`; the `Result` matches `axum::serve` and leaves
/// room for listener failures. Per-connection errors (timeouts, malformed requests, resets) are
/// logged at debug level and end that connection.
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_service(listener, app, options, shutdown).await
}

/// [`serve`] for any [`HttpService`]: the same accept loop, limits and shutdown.
pub async fn serve_service<S, F>(
    listener: TcpListener,
    app: S,
    options: ServeOptions,
    shutdown: F,
) -> io::Result<()>
where
    S: HttpService,
    F: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    // Every connection task watches this; sending on it starts their graceful shutdown.
    let (close_tx, close_rx) = watch::channel(());
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // The permit is taken before accepting so that, at the cap, clients queue in the
        // backlog rather than being accepted and dropped.
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                // The semaphore is never closed; stopping is the only sensible reading.
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(pair) => pair,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning, as
                // `axum::serve` does, but stay responsive to shutdown.
                tracing::error!(error = %e, "accept failed");
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        // Reap finished connections so the set does not grow with the server's lifetime.
        while connections.try_join_next().is_some() {}
        connections.spawn(serve_connection(
            stream,
            remote,
            app.clone(),
            options,
            close_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    close_tx.send_replace(());
    while let Some(joined) = connections.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "connection task failed");
        }
    }
    Ok(())
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn serve_connection<S: HttpService>(
    stream: TcpStream,
    remote: SocketAddr,
    app: S,
    options: ServeOptions,
    mut close: watch::Receiver<()>,
    _permit: OwnedSemaphorePermit,
) {
    // Small request/response exchanges: Nagle would only add latency.
    let _ = stream.set_nodelay(true);
    let body_timeout = options.body_read_timeout;
    let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
        handle(app.clone(), remote, body_timeout, req)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    // hyper's limit without the setting is the same 100, but with the setting it fills a
    // 100-slot array twice per request head (`smallvec![uninit; n]`); only set it to differ.
    if options.max_headers != DEFAULT_MAX_HEADERS {
        builder.max_headers(options.max_headers);
    }
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        // A closed channel means the server is gone: shut down gracefully too.
        _ = close.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Timeouts, malformed heads and resets are the client's doing: not worth more.
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}

async fn handle<S: HttpService>(
    app: S,
    remote: SocketAddr,
    body_timeout: Duration,
    mut req: hyper::Request<Incoming>,
) -> Result<Response, Infallible> {
    req.extensions_mut().insert(ConnectInfo(remote));
    let timed_out = TimedOut::default();
    let req = req.map(|body| Body::new(DeadlineBody::new(body, body_timeout, timed_out.clone())));
    let response = app.oneshot(req).await;
    if timed_out.get() {
        // The handler saw a body error and answered for it (as a 400 or 413); the client
        // deserves to know it was too slow, and the rest of its body must not be read as
        // a next request.
        tracing::debug!(%remote, "request body read deadline passed");
        return Ok(body_timeout_response());
    }
    response
}

fn body_timeout_response() -> Response {
    let mut response = (StatusCode::REQUEST_TIMEOUT, BODY_TIMEOUT_TEXT).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
