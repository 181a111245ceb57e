//! [`AwsState`]: the shared state of one emulator instance (one per scenario), and
//! [`AwsConfig`], its settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use iamconform_sigv4::{Policy, RegionRule};

use crate::Service;
use crate::clock::Clock;
use crate::ecs::GrantRecord;
use crate::faults::Faults;
use crate::journal::{DEFAULT_JOURNAL_CAPACITY, Journal};
use crate::store::{FixtureError, IdentityStore};

/// Default body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// Default limit of the whole header section (names + values): 64 KiB.
pub const DEFAULT_HEADER_LIMIT: usize = 64 * 1024;

/// Which credential-scope regions are accepted (spec §1.11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegionMode {
    /// Any well-formed region (default): clients with a custom endpoint sign with their own
    /// region, even for IAM.
    #[default]
    Lenient,
    /// As AWS: IAM only `us-east-1`; `sts.amazonaws.com` only `us-east-1`;
    /// `sts.<r>.amazonaws.com` only `<r>`; any other host the `strict_default_regions`.
    Aws,
}

/// Settings of an emulator instance.
#[derive(Debug, Clone)]
pub struct AwsConfig {
    /// The region policy.
    pub region_mode: RegionMode,
    /// In [`RegionMode::Aws`], the regions STS accepts when the Host is not an AWS STS host.
    pub strict_default_regions: Vec<String>,
    /// Put the canonical request and string-to-sign into `SignatureDoesNotMatch` messages.
    pub debug_in_message: bool,
    /// Require the session token to be in SignedHeaders.
    pub require_signed_session_token: bool,
    /// Allowed clock skew each way.
    pub max_skew: time::Duration,
    /// Largest accepted body in bytes.
    pub body_limit: usize,
    /// Largest accepted header section in bytes.
    pub header_limit: usize,
    /// Journal ring capacity.
    pub journal_capacity: usize,
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            region_mode: RegionMode::Lenient,
            strict_default_regions: vec!["us-east-1".to_owned()],
            debug_in_message: true,
            require_signed_session_token: false,
            max_skew: time::Duration::minutes(15),
            body_limit: DEFAULT_BODY_LIMIT,
            header_limit: DEFAULT_HEADER_LIMIT,
            journal_capacity: DEFAULT_JOURNAL_CAPACITY,
        }
    }
}

impl AwsConfig {
    /// The verification policy for a request routed to `service` (None: unknown) with `host`.
    pub fn policy(&self, service: Option<Service>, host: Option<&str>) -> Policy {
        let regions = match (self.region_mode, service) {
            (RegionMode::Lenient, _) | (RegionMode::Aws, None) => RegionRule::AnyWellFormed,
            // Spec §1.11: iam.amazonaws.com signs us-east-1.
            (RegionMode::Aws, Some(Service::Iam)) => RegionRule::OneOf(vec!["us-east-1".into()]),
            (RegionMode::Aws, Some(Service::Sts)) => {
                let host = host.map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase());
                match host.as_deref() {
                    Some("sts.amazonaws.com") => RegionRule::OneOf(vec!["us-east-1".into()]),
                    Some(h) => match h
                        .strip_prefix("sts.")
                        .and_then(|r| r.strip_suffix(".amazonaws.com"))
                    {
                        Some(region) if !region.contains('.') => {
                            // UNVERIFIED: regional endpoints demanding their own region.
                            RegionRule::OneOf(vec![region.to_owned()])
                        }
                        _ => RegionRule::OneOf(self.strict_default_regions.clone()),
                    },
                    None => RegionRule::OneOf(self.strict_default_regions.clone()),
                }
            }
        };
        Policy {
            service: service.map(|s| s.signing_name().to_owned()),
            regions,
            max_skew: self.max_skew,
            debug_in_message: self.debug_in_message,
            normalize_path: true,
            require_signed_session_token: self.require_signed_session_token,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) config: AwsConfig,
    store: RwLock<Arc<IdentityStore>>,
    clock: Clock,
    journal: Journal,
    faults: Faults,
    pub(crate) grants: Mutex<HashMap<String, GrantRecord>>,
    base_url: RwLock<Option<String>>,
}

/// The state of one emulator instance. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct AwsState {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for AwsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsState")
            .field("config", &self.inner.config)
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl AwsState {
    /// A state serving `store` with `config`.
    pub fn new(store: IdentityStore, config: AwsConfig) -> Self {
        let journal = Journal::with_capacity(config.journal_capacity);
        Self {
            inner: Arc::new(Inner {
                config,
                store: RwLock::new(Arc::new(store)),
                clock: Clock::new(),
                journal,
                faults: Faults::default(),
                grants: Mutex::new(HashMap::new()),
                base_url: RwLock::new(None),
            }),
        }
    }

    /// A state over the fixture file at `path`.
    pub fn from_fixture_file(
        path: &std::path::Path,
        config: AwsConfig,
    ) -> Result<Self, FixtureError> {
        Ok(Self::new(IdentityStore::load(path)?, config))
    }

    /// The settings.
    pub fn config(&self) -> &AwsConfig {
        &self.inner.config
    }

    /// The current identity store (a cheap `Arc` clone).
    pub fn store(&self) -> Arc<IdentityStore> {
        self.inner
            .store
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the identity store.
    pub fn set_store(&self, store: IdentityStore) {
        *self.inner.store.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(store);
    }

    /// Layers fixture-format `yaml` over the current store (roles/users with the same account
    /// and name are replaced); `file` names the text in errors. On error nothing changes.
    pub fn merge_identities(&self, file: &str, yaml: &str) -> Result<(), FixtureError> {
        let mut guard = self.inner.store.write().unwrap_or_else(|e| e.into_inner());
        let merged = guard.merged(file, yaml)?;
        *guard = Arc::new(merged);
        Ok(())
    }

    /// The clock every check uses.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The request journal.
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// The fault queue.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// `http://127.0.0.1:PORT` once the state is served on a socket.
    pub fn base_url(&self) -> Option<String> {
        self.inner
            .base_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records where the state is served (done by [`crate::bind`]).
    pub fn set_base_url(&self, url: String) {
        *self
            .inner
            .base_url
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(url);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_policy_follows_host() {
        let c = AwsConfig {
            region_mode: RegionMode::Aws,
            ..AwsConfig::default()
        };
        let p = c.policy(Some(Service::Sts), Some("sts.eu-west-1.amazonaws.com"));
        assert_eq!(p.regions, RegionRule::OneOf(vec!["eu-west-1".into()]));
        let p = c.policy(Some(Service::Sts), Some("sts.amazonaws.com:443"));
        assert_eq!(p.regions, RegionRule::OneOf(vec!["us-east-1".into()]));
        let p = c.policy(Some(Service::Iam), Some("127.0.0.1:9"));
        assert_eq!(p.regions, RegionRule::OneOf(vec!["us-east-1".into()]));
        assert_eq!(p.service.as_deref(), Some("iam"));
        let p = AwsConfig::default().policy(Some(Service::Iam), None);
        assert_eq!(p.regions, RegionRule::AnyWellFormed);
    }
}
