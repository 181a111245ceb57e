//! Presets: Consul objects to create before a scenario runs (`fixtures/consul-ecs.yaml`).
//!
//! A [`Setup`] lists objects with Consul's JSON field names (so a preset reads like the API
//! docs) under snake_case groups. [`ConsulState::apply_setup`] creates them in dependency
//! order — namespaces, policies, roles, auth methods, binding rules — through the very same
//! store operations as the HTTP API, so a preset cannot hold anything the API would reject.

use serde::{Deserialize, Serialize};

use crate::config::ConsulState;
use crate::error::ConsulError;
use crate::store::types::{
    AuthMethodInput, BindingRuleInput, NamespaceInput, PolicyInput, RoleInput,
};
use crate::store::{Caller, Scope};

/// Consul objects to create.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// Namespaces (enterprise only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<NamespaceInput>,
    /// Policies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyInput>,
    /// Roles (policy links by `ID` or `Name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleInput>,
    /// Auth methods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth_methods: Vec<AuthMethodInput>,
    /// Binding rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binding_rules: Vec<BindingRuleInput>,
}

/// Which preset object failed, and why (the Consul error the API would have returned).
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The preset text is not a valid [`Setup`].
    #[error("invalid preset: {0}")]
    Parse(String),
    /// An object was rejected.
    #[error("{object}: {source}")]
    Rejected {
        /// E.g. `auth method "iam-ecs-service-token"`.
        object: String,
        /// Consul's error.
        #[source]
        source: ConsulError,
    },
}

impl Setup {
    /// Parses a preset from YAML (or JSON, a YAML subset).
    pub fn from_yaml(text: &str) -> Result<Self, SetupError> {
        serde_saphyr::from_str(text).map_err(|e| SetupError::Parse(e.to_string()))
    }
}

fn ce_check(
    enterprise: bool,
    object: &str,
    ns: Option<&String>,
    partition: Option<&String>,
) -> Result<(), SetupError> {
    if enterprise {
        return Ok(());
    }
    // The same texts the HTTP API's body decoder gives in CE.
    let text = if ns.is_some() {
        Some("json: unknown field \"Namespace\" - Namespaces are a Consul Enterprise feature")
    } else if partition.is_some() {
        Some("json: unknown field \"Partition\"")
    } else {
        None
    };
    match text {
        Some(t) => Err(SetupError::Rejected {
            object: object.to_string(),
            source: ConsulError::bad_request(t),
        }),
        None => Ok(()),
    }
}

impl ConsulState {
    /// Creates every object of `setup`, stopping at the first rejection.
    pub fn apply_setup(&self, setup: &Setup) -> Result<(), SetupError> {
        let ent = self.config.enterprise;
        let caller = Caller::Internal;
        let reject =
            |object: String| move |source: ConsulError| SetupError::Rejected { object, source };
        for ns in &setup.namespaces {
            let object = format!("namespace {}", crate::gojson::go_quote(&ns.name));
            if !ent {
                return Err(SetupError::Rejected {
                    object,
                    source: ConsulError::bad_request("Namespaces are a Consul Enterprise feature"),
                });
            }
            self.store
                .namespace_set(&caller, ns.clone())
                .map_err(reject(object))?;
        }
        for p in &setup.policies {
            let object = format!("policy {}", crate::gojson::go_quote(&p.name));
            ce_check(ent, &object, p.namespace.as_ref(), p.partition.as_ref())?;
            self.store
                .policy_set(&caller, &Scope::default(), p.clone())
                .map_err(reject(object))?;
        }
        for r in &setup.roles {
            let object = format!("role {}", crate::gojson::go_quote(&r.name));
            ce_check(ent, &object, r.namespace.as_ref(), r.partition.as_ref())?;
            self.store
                .role_set(&caller, &Scope::default(), r.clone())
                .map_err(reject(object))?;
        }
        for m in &setup.auth_methods {
            let object = format!("auth method {}", crate::gojson::go_quote(&m.name));
            ce_check(ent, &object, m.namespace.as_ref(), m.partition.as_ref())?;
            self.store
                .auth_method_set(&caller, &Scope::default(), m.clone())
                .map_err(reject(object))?;
        }
        for (i, b) in setup.binding_rules.iter().enumerate() {
            let object = format!(
                "binding rule #{} (AuthMethod {}, BindType {}, BindName {})",
                i + 1,
                crate::gojson::go_quote(&b.auth_method),
                crate::gojson::go_quote(&b.bind_type),
                crate::gojson::go_quote(&b.bind_name)
            );
            ce_check(ent, &object, b.namespace.as_ref(), b.partition.as_ref())?;
            self.store
                .binding_rule_set(&caller, &Scope::default(), b.clone())
                .map_err(reject(object))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_durations_and_configs_decode() {
        let s = Setup::from_yaml(
            "auth_methods:\n  - Name: m\n    Type: aws-iam\n    MaxTokenTTL: 5m\n    TokenLocality: global\n    Config:\n      BoundIAMPrincipalARNs: [\"arn:aws:iam::123456789012:role/x\"]\n      MaxRetries: 3\n",
        )
        .unwrap();
        let m = &s.auth_methods[0];
        assert_eq!(m.max_token_ttl, 300_000_000_000);
        assert_eq!(m.token_locality, "global");
        assert_eq!(m.config.as_ref().unwrap()["MaxRetries"], 3);
        let s =
            Setup::from_yaml("auth_methods:\n  - Name: m\n    MaxTokenTTL: 60000000000\n").unwrap();
        assert_eq!(s.auth_methods[0].max_token_ttl, 60_000_000_000);
        let e =
            Setup::from_yaml("auth_methods:\n  - Name: m\n    MaxTokenTTL: soon\n").unwrap_err();
        assert!(
            e.to_string().contains("time: invalid duration \"soon\""),
            "{e}"
        );
    }

    #[test]
    fn shipped_presets_parse() {
        let ce = Setup::from_yaml(include_str!("../../../fixtures/consul-ecs.yaml")).unwrap();
        assert_eq!(ce.auth_methods.len(), 2);
        assert_eq!(ce.binding_rules.len(), 5);
        let ent =
            Setup::from_yaml(include_str!("../../../fixtures/consul-ecs-enterprise.yaml")).unwrap();
        assert_eq!(ent.auth_methods[1].namespace_rules.len(), 1);
    }
}
