#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // rust-clippy#13981
//! Hostile and ordinary clients against [`iamconform_serve::serve`] over real loopback sockets.
//!
//! Timeouts around reads bound how long a failing test hangs; they are never the assertion.
//! Every "the server cut it off" test would otherwise wait for a client that never finishes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::routing::{get, post};
use iamconform_serve::{BODY_TIMEOUT_TEXT, ServeOptions, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// The bound on any single wait: far above what the server needs, far below forever.
const BOUND: Duration = Duration::from_secs(20);

/// Short deadlines so the hostile tests finish quickly, long enough that a client writing
/// its request at once is never cut off even on a loaded machine.
fn short() -> ServeOptions {
    ServeOptions {
        header_read_timeout: Duration::from_millis(500),
        body_read_timeout: Duration::from_millis(500),
        ..ServeOptions::default()
    }
}

#[derive(Clone, Default)]
struct Gate {
    entered: Arc<Notify>,
    release: Arc<Notify>,
    saw_a_closed: Arc<AtomicBool>,
    a_closed: Arc<AtomicBool>,
}

fn app(gate: Gate) -> Router {
    Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/slow",
            get(|State(g): State<Gate>| async move {
                g.entered.notify_one();
                g.release.notified().await;
                "finished"
            }),
        )
        .route(
            "/order",
            get(|State(g): State<Gate>| async move {
                g.saw_a_closed
                    .store(g.a_closed.load(Ordering::SeqCst), Ordering::SeqCst);
                "ordered"
            }),
        )
        .with_state(gate)
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(options: ServeOptions, gate: Gate) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app(gate), options, async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            stop: Some(tx),
            task,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(BOUND, self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

/// Everything until the server closes; fails if it does not close within [`BOUND`].
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server did not close the connection");
    String::from_utf8_lossy(&out).into_owned()
}

/// One response (head + `Content-Length` body) from a connection that stays open.
async fn read_response(stream: &mut TcpStream) -> (u16, String) {
    tokio::time::timeout(BOUND, async {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        while !buf.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).await.unwrap();
            assert_eq!(n, 1, "connection closed mid-head: {buf:?}");
            buf.push(byte[0]);
        }
        let head = String::from_utf8(buf).unwrap();
        let status: u16 = head[9..12].parse().unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().unwrap())
            })
            .unwrap_or(0);
        let mut body = vec![0u8; len];
        stream.read_exact(&mut body).await.unwrap();
        (status, String::from_utf8(body).unwrap())
    })
    .await
    .expect("a response within the bound")
}

async fn get_on(stream: &mut TcpStream, path: &str) -> (u16, String) {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .await
        .unwrap();
    read_response(stream).await
}

#[tokio::test]
async fn a_half_sent_request_head_gets_the_connection_closed() {
    let server = Server::start(short(), Gate::default()).await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .await
        .unwrap();
    let got = read_until_closed(&mut stream).await;
    // hyper closes without a response when the head deadline passes.
    assert!(got.is_empty() || got.starts_with("HTTP/1.1 408"), "{got}");
    server.stop().await;
}

#[tokio::test]
async fn a_connection_that_never_sends_anything_is_closed() {
    let server = Server::start(short(), Gate::default()).await;
    let mut stream = server.connect().await;
    assert_eq!(read_until_closed(&mut stream).await, "");
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_its_response() {
    let server = Server::start(short(), Gate::default()).await;
    let mut stream = server.connect().await;
    assert_eq!(get_on(&mut stream, "/").await, (200, "ok".to_owned()));
    assert_eq!(read_until_closed(&mut stream).await, "");
    server.stop().await;
}

#[tokio::test]
async fn a_trickled_body_is_cut_off_with_408() {
    let server = Server::start(short(), Gate::default()).await;
    let stream = server.connect().await;
    let (mut rd, wr) = stream.into_split();
    // A body announced as 1 MB and sent a byte at a time: finishing would take hours, and
    // every byte arrives well inside any per-frame idle timeout.
    let trickle = tokio::spawn(trickle_body(wr));
    let got = tokio::time::timeout(BOUND, async {
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .expect("the server cut the trickling client off");
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("connection: close"),
        "{got}"
    );
    assert!(got.ends_with(BODY_TIMEOUT_TEXT), "{got}");
    // The client sees its writes fail once the server has gone.
    trickle.abort();
    server.stop().await;
}

/// Sends a head announcing 1 MB, then one byte every 10 ms until the server goes away.
async fn trickle_body(mut wr: tokio::net::tcp::OwnedWriteHalf) -> std::io::Result<()> {
    wr.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
        .await?;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    loop {
        tick.tick().await;
        wr.write_all(b"x").await?;
    }
}

#[tokio::test]
async fn a_stalled_body_is_cut_off_with_408() {
    let server = Server::start(short(), Gate::default()).await;
    let mut stream = server.connect().await;
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let got = read_until_closed(&mut stream).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    server.stop().await;
}

#[tokio::test]
async fn ordinary_requests_share_a_keep_alive_connection() {
    let server = Server::start(ServeOptions::default(), Gate::default()).await;
    let mut stream = server.connect().await;
    assert_eq!(get_on(&mut stream, "/").await, (200, "ok".to_owned()));
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    assert_eq!(read_response(&mut stream).await, (200, "hello".to_owned()));
    let (status, peer) = get_on(&mut stream, "/peer").await;
    assert_eq!(status, 200);
    assert_eq!(peer, stream.local_addr().unwrap().to_string());
    server.stop().await;
}

#[tokio::test]
async fn a_malformed_request_line_gets_400_and_the_server_carries_on() {
    let server = Server::start(ServeOptions::default(), Gate::default()).await;
    let mut stream = server.connect().await;
    stream.write_all(b"NOT A REQUEST\r\n\r\n").await.unwrap();
    let got = read_until_closed(&mut stream).await;
    assert!(got.starts_with("HTTP/1.1 400"), "{got}");
    let mut again = server.connect().await;
    assert_eq!(get_on(&mut again, "/").await, (200, "ok".to_owned()));
    server.stop().await;
}

/// A GET with `fields` header fields in all (Host included), on a fresh connection: the
/// status line's code.
async fn status_with_header_fields(server: &Server, fields: usize) -> String {
    let mut stream = server.connect().await;
    let mut req = String::from("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for i in 2..fields {
        req.push_str(&format!("X-H{i}: v\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let got = read_until_closed(&mut stream).await;
    got.get(9..12).unwrap_or(&got).to_owned()
}

#[tokio::test]
async fn more_header_fields_than_the_default_100_get_431() {
    let server = Server::start(ServeOptions::default(), Gate::default()).await;
    assert_eq!(status_with_header_fields(&server, 100).await, "200");
    assert_eq!(status_with_header_fields(&server, 101).await, "431");
    assert_eq!(status_with_header_fields(&server, 200).await, "431");
    server.stop().await;
}

#[tokio::test]
async fn a_custom_header_field_limit_is_enforced() {
    for max_headers in [10, 150] {
        let options = ServeOptions {
            max_headers,
            ..ServeOptions::default()
        };
        let server = Server::start(options, Gate::default()).await;
        assert_eq!(status_with_header_fields(&server, max_headers).await, "200");
        assert_eq!(
            status_with_header_fields(&server, max_headers + 1).await,
            "431"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn an_oversized_head_gets_431_or_a_close() {
    let server = Server::start(ServeOptions::default(), Gate::default()).await;
    let stream = server.connect().await;
    let (mut rd, mut wr) = stream.into_split();
    // 1 MiB in one header value: past hyper's ~400 KiB head buffer. The server may close
    // before the client has written it all, so write errors are expected.
    let writer = tokio::spawn(async move {
        let _ = wr
            .write_all(
                format!(
                    "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
                    "a".repeat(1 << 20)
                )
                .as_bytes(),
            )
            .await;
    });
    let got = tokio::time::timeout(BOUND, async {
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
    .expect("the server rejected the oversized head");
    assert!(got.is_empty() || got.starts_with("HTTP/1.1 431"), "{got}");
    writer.abort();
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_lets_an_in_flight_request_finish() {
    let gate = Gate::default();
    let server = Server::start(ServeOptions::default(), gate.clone()).await;
    let addr = server.addr;
    let mut stream = server.connect().await;
    let mut idle = server.connect().await;
    assert_eq!(get_on(&mut idle, "/").await, (200, "ok".to_owned()));
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    tokio::time::timeout(BOUND, gate.entered.notified())
        .await
        .expect("the slow handler started");
    let Server { stop, task, .. } = server;
    let _ = stop.unwrap().send(());
    // The idle keep-alive connection is closed by the shutdown, not by its deadline
    // (the default deadline is long).
    assert_eq!(read_until_closed(&mut idle).await, "");
    assert!(!task.is_finished());
    gate.release.notify_one();
    let got = read_until_closed(&mut stream).await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.ends_with("finished"), "{got}");
    tokio::time::timeout(BOUND, task)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

#[tokio::test]
async fn past_the_connection_cap_clients_wait_to_be_accepted() {
    let gate = Gate::default();
    let options = ServeOptions {
        max_connections: 1,
        ..ServeOptions::default()
    };
    let server = Server::start(options, gate.clone()).await;
    let mut a = server.connect().await;
    assert_eq!(get_on(&mut a, "/").await, (200, "ok".to_owned()));
    // `b` connects (the kernel completes the handshake) but is not accepted while `a` lives.
    let mut b = server.connect().await;
    b.write_all(b"GET /order HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    // A round trip on `a` gives the server every chance to (wrongly) serve `b` meanwhile.
    assert_eq!(get_on(&mut a, "/").await, (200, "ok".to_owned()));
    gate.a_closed.store(true, Ordering::SeqCst);
    drop(a);
    assert_eq!(read_response(&mut b).await, (200, "ordered".to_owned()));
    assert!(
        gate.saw_a_closed.load(Ordering::SeqCst),
        "b was served while a held the only slot"
    );
    server.stop().await;
}
