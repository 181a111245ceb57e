//! The `embedded` backend: the Consul emulator in-process, one fresh server per scenario.
//!
//! The server maps every `*.amazonaws.com` host to the scenario's AWS emulator (keeping the
//! signed `Host`), so auth methods need no `STSEndpoint`/`IAMEndpoint`, exactly as in
//! production where Consul talks to the real AWS hosts.

use std::sync::Arc;

use iamconform_consul::authmethod::aws_iam::Outbound;
use iamconform_consul::{AuditConfig, ConsulConfig, RunningConsul};
use iamconform_secret::Secret;

use super::{BackendError, ConsulInstance, Needs};

/// Starts a Consul emulator per scenario.
#[derive(Debug, Default)]
pub struct Embedded {}

impl Embedded {
    /// The embedded backend.
    pub fn new() -> Self {
        Self {}
    }

    pub(super) async fn acquire(&self, needs: &Needs) -> Result<ConsulInstance, BackendError> {
        let management = Secret::new(uuid::Uuid::new_v4().to_string());
        let audit_dir = if needs.audit {
            Some(tempfile::tempdir().map_err(|e| {
                BackendError::Failed(format!("cannot create the audit log directory: {e}"))
            })?)
        } else {
            None
        };
        let audit_path = audit_dir.as_ref().map(|d| d.path().join("audit.json"));
        if needs.audit && !needs.enterprise {
            return Err(BackendError::Unavailable(
                "the audit log is a Consul Enterprise feature: add `requires: [enterprise]` or run with --enterprise".into(),
            ));
        }
        let config = ConsulConfig {
            enterprise: needs.enterprise,
            initial_management_token: Some(management.clone()),
            outbound: Outbound {
                aws_endpoint: Some(needs.aws_url.clone()),
                ..Outbound::default()
            },
            audit: audit_path.clone().map(|path| AuditConfig { path }),
            ..ConsulConfig::default()
        };
        let consul = RunningConsul::start(config)
            .await
            .map_err(|e| BackendError::Failed(format!("cannot start the embedded Consul: {e}")))?;
        let clock = consul.state.clock().clone();
        let url = consul.url();
        Ok(ConsulInstance {
            http_addr: url,
            management_token: management,
            inject_endpoints: false,
            consul_aws_url: None,
            audit_log: audit_path,
            clock: Some(Box::new(move |offset| clock.set_offset(offset))),
            guard: Box::new(Arc::new((consul, audit_dir))),
            baseline: None,
        })
    }
}
