//! Serving an [`AwsState`] on a loopback socket with graceful shutdown.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::router;
use crate::state::AwsState;

/// `127.0.0.1:0`: loopback, any free port.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A running emulator. Dropping it without [`RunningAws::shutdown`] stops accepting
/// connections too (the shutdown sender is dropped), but does not wait.
#[derive(Debug)]
pub struct RunningAws {
    /// The bound address.
    pub addr: SocketAddr,
    /// The served state.
    pub state: AwsState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl RunningAws {
    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
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

impl Drop for RunningAws {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `addr` (use [`DEFAULT_ADDR`] for loopback on any port) and serves `state` on a
/// spawned task. Must be called inside a tokio runtime.
pub async fn bind(state: AwsState, addr: SocketAddr) -> io::Result<RunningAws> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    state.set_base_url(format!("http://{addr}"));
    let (tx, rx) = oneshot::channel::<()>();
    let app = router(state.clone());
    let task = tokio::spawn(serve(listener, app, async move {
        let _ = rx.await;
    }));
    tracing::info!(%addr, "aws emulator listening");
    Ok(RunningAws {
        addr,
        state,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
