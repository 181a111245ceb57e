#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981
//! Hostile HTTP against the AWS emulator on a real loopback socket: slow heads and bodies are
//! cut off, malformed heads are refused, and ordinary requests still work on the same server.
//!
//! Timeouts around reads bound how long a failing test hangs; they are never the assertion.

use std::time::Duration;

use iamconform_aws::{AwsConfig, AwsState, DEFAULT_ADDR, IdentityStore, RunningAws};
use iamconform_serve::ServeOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOUND: Duration = Duration::from_secs(20);

async fn start() -> RunningAws {
    let state = AwsState::new(IdentityStore::shipped().unwrap(), AwsConfig::default());
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(200),
        body_read_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    RunningAws::bind_with(state, DEFAULT_ADDR, options)
        .await
        .unwrap()
}

/// Writes `bytes`, then reads until the server closes (bounded by [`BOUND`]).
async fn exchange(running: &RunningAws, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(running.addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(BOUND, stream.read_to_end(&mut out))
        .await
        .expect("the server closed the connection")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn aws_closes_a_connection_whose_request_head_never_ends() {
    let running = start().await;
    let got = exchange(
        &running,
        b"POST / HTTP/1.1\r\nHost: sts.amazonaws.com\r\nAuthoriz",
    )
    .await;
    assert_eq!(got, "");
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn aws_answers_a_stalled_body_with_408_and_closes() {
    let running = start().await;
    let got = exchange(
        &running,
        b"POST / HTTP/1.1\r\nHost: sts.amazonaws.com\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 43\r\n\r\nAction=GetCallerIdentity",
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn aws_refuses_a_malformed_request_line_and_keeps_serving() {
    let running = start().await;
    let got = exchange(&running, b"GET\x00/ HTTP/1.1\r\n\r\n").await;
    assert!(got.starts_with("HTTP/1.1 400"), "{got}");
    // An unsigned request still reaches the emulator and gets AWS's XML error.
    let got = exchange(
        &running,
        b"GET /?Action=GetCallerIdentity&Version=2011-06-15 HTTP/1.1\r\nHost: sts.amazonaws.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(got.starts_with("HTTP/1.1 403"), "{got}");
    assert!(got.contains("<ErrorResponse"), "{got}");
    running.shutdown().await.unwrap();
}
