//! Serving an [`AwsState`] on a loopback socket with graceful shutdown, through
//! [`iamconform_serve`]'s accept loop (header and body read deadlines, a connection cap).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use iamconform_serve::{ServeOptions, Server};
use tokio::net::TcpListener;

use crate::service;
use crate::state::AwsState;

/// `127.0.0.1:0`: loopback, any free port.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// A running emulator. Dropping it without [`RunningAws::shutdown`] stops accepting
/// connections too, but does not wait.
#[derive(Debug)]
pub struct RunningAws {
    /// The bound address.
    pub addr: SocketAddr,
    /// The served state.
    pub state: AwsState,
    server: Server,
}

impl RunningAws {
    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(self) -> io::Result<()> {
        self.server.shutdown().await
    }

    /// [`bind`] with explicit connection limits (read deadlines, connection cap) instead of
    /// [`ServeOptions::default`].
    pub async fn bind_with(
        state: AwsState,
        addr: SocketAddr,
        options: ServeOptions,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        state.set_base_url(format!("http://{addr}"));
        let server = Server::spawn_service(listener, service(state.clone()), options);
        tracing::info!(%addr, "aws emulator listening");
        Ok(Self {
            addr,
            state,
            server,
        })
    }
}

/// Binds `addr` (use [`DEFAULT_ADDR`] for loopback on any port) and serves `state` on a
/// spawned task with the default limits. Must be called inside a tokio runtime.
pub async fn bind(state: AwsState, addr: SocketAddr) -> io::Result<RunningAws> {
    RunningAws::bind_with(state, addr, ServeOptions::default()).await
}

/// Serves `app` on `listener` with the default limits until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    iamconform_serve::serve(listener, app, ServeOptions::default(), shutdown).await
}
