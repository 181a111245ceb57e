//! Hostile HTTP against the embedded Consul on a real loopback socket; the accept loop still
//! hands the peer address to the audit log.
//!
//! Timeouts around reads bound how long a failing test hangs; they are never the assertion.

use std::net::SocketAddr;
use std::time::Duration;

use iamconform_consul::{AuditConfig, ConsulConfig, ConsulState, RunningConsul};
use iamconform_serve::ServeOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(20);

async fn start(config: ConsulConfig) -> RunningConsul {
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(200),
        body_read_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let state = ConsulState::new(config).unwrap();
    RunningConsul::serve_with(state, SocketAddr::from(([127, 0, 0, 1], 0)), options)
        .await
        .unwrap()
}

/// Writes `bytes`, then reads until the server closes (bounded by [`BOUND`]); also returns
/// the client's own address.
async fn exchange(consul: &RunningConsul, bytes: &[u8]) -> (String, SocketAddr) {
    let mut stream = TcpStream::connect(consul.addr).await.unwrap();
    let local = stream.local_addr().unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut out))
        .await
        .expect("the server closed the connection")
        .unwrap();
    (String::from_utf8_lossy(&out).into_owned(), local)
}

#[tokio::test]
async fn consul_closes_a_connection_whose_request_head_never_ends() {
    let consul = start(ConsulConfig::default()).await;
    let (got, _) = exchange(
        &consul,
        b"PUT /v1/acl/login HTTP/1.1\r\nHost: c\r\nX-Consul-",
    )
    .await;
    assert_eq!(got, "");
    consul.shutdown().await.unwrap();
}

#[tokio::test]
async fn consul_answers_a_trickled_login_body_with_408_and_closes() {
    let consul = start(ConsulConfig::default()).await;
    let (got, _) = exchange(
        &consul,
        b"POST /v1/acl/login HTTP/1.1\r\nHost: c\r\nContent-Length: 4096\r\n\r\n{\"AuthMethod\":",
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    consul.shutdown().await.unwrap();
}

#[tokio::test]
async fn consul_refuses_too_many_header_fields_with_431() {
    let consul = start(ConsulConfig::default()).await;
    let mut req = String::from("GET /v1/status/leader HTTP/1.1\r\nHost: c\r\n");
    for i in 0..150 {
        req.push_str(&format!("X-Pad-{i}: v\r\n"));
    }
    req.push_str("\r\n");
    let (got, _) = exchange(&consul, req.as_bytes()).await;
    assert!(got.starts_with("HTTP/1.1 431"), "{got}");
    consul.shutdown().await.unwrap();
}

#[tokio::test]
async fn consul_audit_log_still_records_the_peer_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.json");
    let consul = start(ConsulConfig {
        enterprise: true,
        audit: Some(AuditConfig { path: path.clone() }),
        ..ConsulConfig::default()
    })
    .await;
    let (got, local) = exchange(
        &consul,
        b"GET /v1/status/leader HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    consul.shutdown().await.unwrap();
    let log = std::fs::read_to_string(&path).unwrap();
    assert!(
        log.contains(&format!("\"remote_addr\":\"{local}\"")),
        "{log}"
    );
}

#[tokio::test]
async fn consul_answers_a_body_cut_short_with_400_not_413() {
    let consul = start(ConsulConfig::default()).await;
    let mut stream = TcpStream::connect(consul.addr).await.unwrap();
    stream
        .write_all(
            b"PUT /v1/acl/policy HTTP/1.1\r\nHost: c\r\nContent-Length: 4096\r\n\r\n{\"Name\":",
        )
        .await
        .unwrap();
    // The client hangs up its sending side: the body can never be complete.
    stream.shutdown().await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut out))
        .await
        .expect("the server closed the connection")
        .unwrap();
    let got = String::from_utf8_lossy(&out);
    assert!(got.starts_with("HTTP/1.1 400"), "{got}");
    assert!(
        got.ends_with("Request decode failed: unexpected EOF"),
        "{got}"
    );
    consul.shutdown().await.unwrap();
}
