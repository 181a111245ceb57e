//! Consul backends: where the Consul server of a scenario comes from.
//!
//! - `embedded` (default): the Consul emulator in-process, a fresh instance per scenario.
//! - `external`: a Consul you run (`--consul-addr`, `--consul-token`); scenarios run one at a
//!   time and everything a scenario created is deleted afterwards.
//! - `docker`, `local`: real Consul in containers or from a local binary.
//!
//! A backend that cannot run here answers [`BackendError::Unavailable`] with the reason, and
//! the runner skips the scenario with that reason instead of failing it.

pub mod docker;
pub mod embedded;
pub mod external;
pub mod local;
pub mod reset;

use std::path::PathBuf;

use iamconform_secret::Secret;

/// What a scenario needs from its Consul.
#[derive(Debug, Clone)]
pub struct Needs {
    /// Enterprise features (namespaces, partitions, audit).
    pub enterprise: bool,
    /// An audit log the harness can read.
    pub audit: bool,
    /// The AWS emulator of this scenario, as reachable from the harness (loopback URL).
    pub aws_url: String,
    /// The AWS emulator's socket address (its port is the same for every route to it).
    pub aws_addr: std::net::SocketAddr,
}

/// A Consul server leased to one scenario.
pub struct ConsulInstance {
    /// Its HTTP address, e.g. `http://127.0.0.1:8500`.
    pub http_addr: String,
    /// A management token.
    pub management_token: Secret<String>,
    /// Whether aws-iam auth methods must get `STSEndpoint`/`IAMEndpoint` pointing at the AWS
    /// emulator (real Consul cannot map AWS hosts to it the way the embedded one does).
    pub inject_endpoints: bool,
    /// The AWS emulator's URL as this Consul reaches it, when that is not the harness's
    /// loopback URL (a container on a bridge network goes through `host.docker.internal`).
    pub consul_aws_url: Option<String>,
    /// Where to read the audit log, when one is configured.
    pub audit_log: Option<PathBuf>,
    /// Shifts Consul's clock (token expiry), when the backend can.
    pub clock: Option<Box<dyn Fn(time::Duration) + Send + Sync>>,
    /// Keeps the server alive; dropping it stops an embedded server.
    pub guard: Box<dyn std::any::Any + Send + Sync>,
    /// State to restore on release (objects that existed before the scenario).
    pub baseline: Option<reset::Baseline>,
}

/// Why a backend cannot serve a scenario.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend cannot run here; the scenario is skipped with this reason.
    #[error("{0}")]
    Unavailable(String),
    /// The backend failed; the scenario fails with this message.
    #[error("{0}")]
    Failed(String),
}

/// The backend kinds of `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// The Consul emulator, in-process (default).
    Embedded,
    /// Real Consul in Docker containers (testcontainers).
    Docker,
    /// A Consul you run: `--consul-addr` and `--consul-token`.
    External,
    /// `consul agent -dev` from PATH or `--consul-bin`.
    Local,
}

impl BackendKind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Docker => "docker",
            Self::External => "external",
            Self::Local => "local",
        }
    }
}

/// A configured backend.
pub enum Backend {
    /// In-process emulator.
    Embedded(embedded::Embedded),
    /// A server run by the user.
    External(external::External),
    /// Real Consul in containers, one per worker.
    Docker(docker::Docker),
    /// `consul agent -dev` processes, one per worker.
    Local(local::Local),
    /// Not available in this build or on this machine, with the reason.
    Unavailable {
        /// The backend kind.
        kind: BackendKind,
        /// Why it cannot run.
        reason: String,
    },
}

impl Backend {
    /// The backend's kind.
    pub fn kind(&self) -> BackendKind {
        match self {
            Self::Embedded(_) => BackendKind::Embedded,
            Self::External(_) => BackendKind::External,
            Self::Docker(_) => BackendKind::Docker,
            Self::Local(_) => BackendKind::Local,
            Self::Unavailable { kind, .. } => *kind,
        }
    }

    /// Whether scenarios may run concurrently on this backend.
    ///
    /// Docker and local backends give each concurrent scenario its own server (one per
    /// worker); an external server is shared, so its scenarios run one at a time.
    pub fn parallel(&self) -> bool {
        !matches!(self, Self::External(_))
    }

    /// Leases a Consul for one scenario.
    pub async fn acquire(&self, needs: &Needs) -> Result<ConsulInstance, BackendError> {
        match self {
            Self::Embedded(b) => b.acquire(needs).await,
            Self::External(b) => b.acquire(needs).await,
            Self::Docker(b) => b.acquire(needs).await,
            Self::Local(b) => b.acquire(needs).await,
            Self::Unavailable { reason, .. } => Err(BackendError::Unavailable(reason.clone())),
        }
    }

    /// Where the scenario's AWS emulator must listen so this backend's Consul reaches it:
    /// loopback, except for containers on a bridge network (see [`docker::DockerNetwork`]).
    pub async fn aws_listen_ip(&self) -> Result<std::net::IpAddr, BackendError> {
        match self {
            Self::Docker(b) => b.aws_listen_ip().await,
            _ => Ok(std::net::Ipv4Addr::LOCALHOST.into()),
        }
    }

    /// Gives a Consul back after the scenario: deletes what the scenario created.
    pub async fn release(&self, instance: ConsulInstance) -> Result<(), BackendError> {
        match self {
            Self::Embedded(_) | Self::Unavailable { .. } => Ok(()),
            Self::External(_) => reset::restore(&instance).await,
            Self::Docker(b) => b.release(instance).await,
            Self::Local(b) => b.release(instance).await,
        }
    }

    /// Stops what the backend started (containers, agents); call once the run is over.
    pub async fn shutdown(&self) -> Result<(), BackendError> {
        match self {
            Self::Docker(b) => b.shutdown().await,
            Self::Local(b) => b.shutdown(),
            Self::Embedded(_) | Self::External(_) | Self::Unavailable { .. } => Ok(()),
        }
    }
}
