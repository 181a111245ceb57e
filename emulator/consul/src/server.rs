//! A running embedded Consul on a loopback socket, served through [`iamconform_serve`]'s
//! accept loop (header and body read deadlines, a connection cap, `ConnectInfo`).

use std::net::{Ipv4Addr, SocketAddr};

use iamconform_serve::{ServeOptions, Server};
use tokio::net::TcpListener;

use crate::config::{ConsulConfig, ConsulState, StartError};
use crate::http::router;

/// A Consul serving HTTP until [`RunningConsul::shutdown`] (or drop, which stops accepting
/// without waiting).
#[derive(Debug)]
pub struct RunningConsul {
    /// The bound address.
    pub addr: SocketAddr,
    /// The shared state (store, clock, config).
    pub state: ConsulState,
    server: Server,
}

impl RunningConsul {
    /// Starts on `127.0.0.1:0`.
    pub async fn start(config: ConsulConfig) -> Result<Self, StartError> {
        Self::start_on(config, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await
    }

    /// Starts on `addr`.
    pub async fn start_on(config: ConsulConfig, addr: SocketAddr) -> Result<Self, StartError> {
        let state = ConsulState::new(config)?;
        Self::serve(state, addr).await
    }

    /// Serves an existing state (presets already applied) on `addr` with the default limits.
    pub async fn serve(state: ConsulState, addr: SocketAddr) -> Result<Self, StartError> {
        Self::serve_with(state, addr, ServeOptions::default()).await
    }

    /// [`RunningConsul::serve`] with explicit connection limits (read deadlines, connection
    /// cap). The limits are a parameter rather than part of [`ConsulConfig`] because they
    /// belong to the socket, not to the emulated Consul.
    pub async fn serve_with(
        state: ConsulState,
        addr: SocketAddr,
        options: ServeOptions,
    ) -> Result<Self, StartError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        // The accept loop puts `ConnectInfo<SocketAddr>` in every request, as
        // `into_make_service_with_connect_info` did.
        let server = Server::spawn(listener, router(state.clone()), options);
        Ok(Self {
            addr,
            state,
            server,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and waits for the server task.
    pub async fn shutdown(self) -> std::io::Result<()> {
        self.server.shutdown().await
    }
}
