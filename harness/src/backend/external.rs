//! The `external` backend: a Consul server the user runs.

use iamconform_secret::Secret;

use super::{BackendError, ConsulInstance, Needs, reset};
use crate::http::ConsulHttp;

/// A user-run Consul server.
pub struct External {
    addr: String,
    token: Secret<String>,
}

impl External {
    /// `--consul-addr` and `--consul-token`.
    pub fn new(addr: String, token: Secret<String>) -> Self {
        let addr = if addr.starts_with("http://") || addr.starts_with("https://") {
            addr
        } else {
            format!("http://{addr}")
        };
        Self { addr, token }
    }

    pub(super) async fn acquire(&self, needs: &Needs) -> Result<ConsulInstance, BackendError> {
        if needs.audit {
            return Err(BackendError::Unavailable(
                "the external backend cannot read the server's audit log; run audit scenarios on the embedded or docker backend".into(),
            ));
        }
        let http = ConsulHttp::new(&self.addr);
        let me = http
            .send("GET", "/v1/acl/token/self", Some(&self.token), None)
            .await
            .map_err(|e| BackendError::Failed(format!("external Consul unreachable: {e}")))?;
        if me.status != 200 {
            return Err(BackendError::Failed(format!(
                "external Consul at {} refused the management token (GET /v1/acl/token/self answered {}: {}); pass a management token with --consul-token",
                self.addr,
                me.status,
                me.body.trim()
            )));
        }
        let baseline = reset::Baseline::capture(&http, &self.token, needs.enterprise).await?;
        Ok(ConsulInstance {
            http_addr: self.addr.clone(),
            management_token: self.token.clone(),
            inject_endpoints: true,
            consul_aws_url: None,
            audit_log: None,
            clock: None,
            guard: Box::new(()),
            baseline: Some(baseline),
        })
    }
}
