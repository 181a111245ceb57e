//! Server configuration and the shared state every handler sees.

use std::path::PathBuf;
use std::sync::Arc;

use iamconform_secret::Secret;

use crate::audit::AuditLog;
use crate::authmethod::aws_iam;
use crate::clock::Clock;
use crate::error::ConsulError;
use crate::persist::PersistError;
use crate::store::{Store, StoreOptions};

/// Configuration of one embedded Consul.
#[derive(Debug, Clone)]
pub struct ConsulConfig {
    /// Consul Enterprise behaviour (namespaces, partitions, audit). Off = Consul CE.
    pub enterprise: bool,
    /// Datacenter name (`dc1`).
    pub datacenter: String,
    /// When set, the store starts bootstrapped with a management token of this SecretID
    /// (like `acl.tokens.initial_management`).
    pub initial_management_token: Option<Secret<String>>,
    /// Where the aws-iam validator sends STS/IAM requests.
    pub outbound: aws_iam::Outbound,
    /// Audit log (enterprise only).
    pub audit: Option<AuditConfig>,
    /// Newest Consul's binder rejects bind names whose variables held upper case instead of
    /// lower-casing them silently; off by default (the behaviour of released versions).
    pub reject_uppercase_bind_vars: bool,
    /// The emulator's clock (shared with the harness so it can shift time).
    pub clock: Clock,
    /// Keep the ACL state in this directory (`state.json`): restored on start, saved before
    /// every write is acknowledged. `None` = memory only.
    pub state_dir: Option<PathBuf>,
}

impl Default for ConsulConfig {
    fn default() -> Self {
        Self {
            enterprise: false,
            datacenter: "dc1".to_string(),
            initial_management_token: None,
            outbound: aws_iam::Outbound::default(),
            audit: None,
            reject_uppercase_bind_vars: false,
            clock: Clock::new(),
            state_dir: None,
        }
    }
}

/// Audit sink configuration (a JSON-lines file).
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// File to append to.
    pub path: PathBuf,
}

/// Errors of starting the server.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The audit log could not be opened.
    #[error("cannot open audit log {path}: {source}")]
    Audit {
        /// The configured path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The state directory could not be opened, or its file not restored or saved.
    #[error(transparent)]
    State(#[from] PersistError),
    /// The initial management token could not be saved.
    #[error("cannot create the initial management token: {0}")]
    InitialManagement(ConsulError),
    /// The listener could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Shared state of one Consul: a few `Arc`s, cheap to clone into every handler.
#[derive(Debug, Clone)]
pub struct ConsulState {
    /// The ACL state store.
    pub store: Arc<Store>,
    /// The configuration.
    pub config: Arc<ConsulConfig>,
    /// The audit log, when enabled (enterprise + configured).
    pub audit: Option<Arc<AuditLog>>,
}

impl ConsulState {
    /// Builds the state: the store (fresh, or restored from [`ConsulConfig::state_dir`]),
    /// bootstrapped with the initial management token when one is configured, and, in
    /// enterprise mode, the audit log.
    ///
    /// With a restored store the initial management token is created only when no token has
    /// its SecretID (as Consul's leader does on every start), so restarting with the same
    /// token neither duplicates nor replaces anything.
    pub fn new(config: ConsulConfig) -> Result<Self, StartError> {
        let opts = StoreOptions {
            enterprise: config.enterprise,
            datacenter: config.datacenter.clone(),
            outbound: config.outbound.clone(),
            reject_uppercase_bind_vars: config.reject_uppercase_bind_vars,
        };
        let store = match &config.state_dir {
            Some(dir) => Store::open(opts, config.clock.clone(), dir)?,
            None => Store::new(opts, config.clock.clone()),
        };
        if let Some(secret) = &config.initial_management_token {
            store
                .set_initial_management(secret.clone())
                .map_err(StartError::InitialManagement)?;
        }
        let audit = match (&config.audit, config.enterprise) {
            (Some(a), true) => Some(Arc::new(AuditLog::open(&a.path).map_err(|source| {
                StartError::Audit {
                    path: a.path.clone(),
                    source,
                }
            })?)),
            _ => None,
        };
        Ok(Self {
            store: Arc::new(store),
            config: Arc::new(config),
            audit,
        })
    }

    /// The clock shared with the store.
    pub fn clock(&self) -> &Clock {
        self.store.clock()
    }
}
