//! Domain types of the ACL state store and the inputs that create them.
//!
//! Inputs (`*Input`) are what the HTTP API and presets send, with Consul's JSON field names
//! (`serde(rename)`); stored types are what the store keeps. Secrets stay in [`Secret`].

use std::collections::BTreeMap;

use iamconform_secret::Secret;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

/// A service identity (`{ServiceName, Datacenters}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceIdentity {
    /// The service name.
    #[serde(rename = "ServiceName", default)]
    pub service_name: String,
    /// Datacenters the identity is valid in (empty = all).
    #[serde(rename = "Datacenters", default, skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
}

/// A node identity (`{NodeName, Datacenter}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeIdentity {
    /// The node name.
    #[serde(rename = "NodeName", default)]
    pub node_name: String,
    /// The datacenter of the node.
    #[serde(rename = "Datacenter", default)]
    pub datacenter: String,
}

/// Variables of a templated policy (`{Name}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TemplateVariables {
    /// The `name` variable.
    // UNVERIFIED: Consul's struct tag may be `json:"name"`; decoding is case-insensitive and
    // output uses `Name` like the binding-rule API docs.
    #[serde(rename = "Name", default)]
    pub name: String,
}

/// A templated policy on a token or role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatedPolicy {
    /// `builtin/service`, `builtin/node`, …
    #[serde(rename = "TemplateName", default)]
    pub template_name: String,
    /// Variables, when the template takes any.
    #[serde(
        rename = "TemplateVariables",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub template_variables: Option<TemplateVariables>,
    /// Datacenters (empty = all).
    #[serde(rename = "Datacenters", default, skip_serializing_if = "Vec::is_empty")]
    pub datacenters: Vec<String>,
}

/// A link to a policy or role, by ID or by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The linked object's ID.
    #[serde(rename = "ID", default)]
    pub id: String,
    /// The linked object's name.
    #[serde(rename = "Name", default)]
    pub name: String,
}

/// A namespace rule of an auth method (enterprise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceRule {
    /// bexpr selector; empty matches every identity.
    #[serde(rename = "Selector", default)]
    pub selector: String,
    /// HIL template of the target namespace.
    #[serde(rename = "BindNamespace", default)]
    pub bind_namespace: String,
}

/// Namespace and partition of an object (always set; rendered only in enterprise mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntMeta {
    /// Namespace name.
    pub namespace: String,
    /// Partition name.
    pub partition: String,
}

impl Default for EntMeta {
    fn default() -> Self {
        Self {
            namespace: DEFAULT.to_string(),
            partition: DEFAULT.to_string(),
        }
    }
}

/// The name of the default namespace and partition.
pub const DEFAULT: &str = "default";

/// A stored ACL policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// UUID.
    pub id: String,
    /// Unique name within its namespace.
    pub name: String,
    /// Free text.
    pub description: String,
    /// HCL rules.
    pub rules: String,
    /// Datacenters (empty = all).
    pub datacenters: Vec<String>,
    /// BLAKE2b-256 of the policy contents.
    #[serde(with = "super::snapshot::base64_bytes")]
    pub hash: Vec<u8>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
    /// Namespace and partition.
    pub ent: EntMeta,
}

/// A stored ACL role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// UUID.
    pub id: String,
    /// Unique name within its namespace.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Linked policy IDs (names are filled in on read).
    pub policies: Vec<String>,
    /// Service identities.
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities.
    pub node_identities: Vec<NodeIdentity>,
    /// Templated policies.
    pub templated_policies: Vec<TemplatedPolicy>,
    /// BLAKE2b-256 of the role contents.
    #[serde(with = "super::snapshot::base64_bytes")]
    pub hash: Vec<u8>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
    /// Namespace and partition.
    pub ent: EntMeta,
}

/// A stored ACL token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// Public UUID.
    pub accessor_id: String,
    /// The secret (UUID); never logged. Serialising a token writes it in clear: only the
    /// state file (`store::snapshot`) serialises tokens.
    #[serde(with = "super::snapshot::secret_in_clear")]
    pub secret_id: Secret<String>,
    /// Free text.
    pub description: String,
    /// Linked policy IDs.
    pub policies: Vec<String>,
    /// Linked role IDs.
    pub roles: Vec<String>,
    /// Service identities.
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities.
    pub node_identities: Vec<NodeIdentity>,
    /// Templated policies.
    pub templated_policies: Vec<TemplatedPolicy>,
    /// Local to this datacenter.
    pub local: bool,
    /// The auth method that created it (login tokens only).
    pub auth_method: String,
    /// Namespace of that auth method (enterprise).
    pub auth_method_namespace: String,
    /// When it stops working.
    #[serde(with = "super::snapshot::opt_time")]
    pub expiration_time: Option<OffsetDateTime>,
    /// Creation time.
    #[serde(with = "super::snapshot::utc_time")]
    pub create_time: OffsetDateTime,
    /// BLAKE2b-256 of the token contents.
    #[serde(with = "super::snapshot::base64_bytes")]
    pub hash: Vec<u8>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
    /// Namespace and partition.
    pub ent: EntMeta,
}

impl Token {
    /// Whether the token has expired at `now`.
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expiration_time.is_some_and(|t| t <= now)
    }
}

/// A stored auth method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthMethod {
    /// Unique name within its namespace.
    pub name: String,
    /// `aws-iam`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Display name.
    pub display_name: String,
    /// Free text.
    pub description: String,
    /// Lifetime of login tokens in nanoseconds (0 = none).
    pub max_token_ttl: i64,
    /// `""`, `local` or `global`.
    pub token_locality: String,
    /// The method's `Config`, echoed as given.
    pub config: serde_json::Value,
    /// Namespace rules (enterprise).
    pub namespace_rules: Vec<NamespaceRule>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
    /// Namespace and partition.
    pub ent: EntMeta,
}

/// A stored binding rule.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingRule {
    /// UUID.
    pub id: String,
    /// Free text.
    pub description: String,
    /// Name of the auth method it belongs to.
    pub auth_method: String,
    /// bexpr selector (empty = all).
    pub selector: String,
    /// `service`, `node`, `role`, `policy`, `templated-policy`.
    pub bind_type: String,
    /// HIL template of the bound name.
    pub bind_name: String,
    /// Variables for `templated-policy`.
    pub bind_vars: Option<TemplateVariables>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
    /// Namespace and partition.
    pub ent: EntMeta,
}

/// A stored namespace (enterprise).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Free-form metadata.
    pub meta: BTreeMap<String, String>,
    /// `ACLs` block as given (`PolicyDefaults`, `RoleDefaults`).
    pub acls: Option<serde_json::Value>,
    /// The partition it lives in.
    pub partition: String,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// Input of `PUT /v1/acl/policy`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    /// ID (update only).
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Name.
    #[serde(rename = "Name", default)]
    pub name: String,
    /// Description.
    #[serde(rename = "Description", default)]
    pub description: String,
    /// HCL rules.
    #[serde(rename = "Rules", default)]
    pub rules: String,
    /// Datacenters.
    #[serde(rename = "Datacenters", default)]
    pub datacenters: Vec<String>,
    /// Namespace (enterprise).
    #[serde(rename = "Namespace", default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Partition (enterprise).
    #[serde(rename = "Partition", default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// Input of `PUT /v1/acl/role`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    /// ID (update only).
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Name.
    #[serde(rename = "Name", default)]
    pub name: String,
    /// Description.
    #[serde(rename = "Description", default)]
    pub description: String,
    /// Policy links by ID or name.
    #[serde(rename = "Policies", default)]
    pub policies: Vec<Link>,
    /// Service identities.
    #[serde(rename = "ServiceIdentities", default)]
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities.
    #[serde(rename = "NodeIdentities", default)]
    pub node_identities: Vec<NodeIdentity>,
    /// Templated policies.
    #[serde(rename = "TemplatedPolicies", default)]
    pub templated_policies: Vec<TemplatedPolicy>,
    /// Namespace (enterprise).
    #[serde(rename = "Namespace", default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Partition (enterprise).
    #[serde(rename = "Partition", default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// Input of `PUT /v1/acl/token`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    /// AccessorID (optional on create; URL wins on update).
    #[serde(rename = "AccessorID", default)]
    pub accessor_id: String,
    /// SecretID (optional on create).
    #[serde(rename = "SecretID", default)]
    pub secret_id: Option<WrappedSecret>,
    /// Description.
    #[serde(rename = "Description", default)]
    pub description: String,
    /// Policy links.
    #[serde(rename = "Policies", default)]
    pub policies: Vec<Link>,
    /// Role links.
    #[serde(rename = "Roles", default)]
    pub roles: Vec<Link>,
    /// Service identities.
    #[serde(rename = "ServiceIdentities", default)]
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities.
    #[serde(rename = "NodeIdentities", default)]
    pub node_identities: Vec<NodeIdentity>,
    /// Templated policies.
    #[serde(rename = "TemplatedPolicies", default)]
    pub templated_policies: Vec<TemplatedPolicy>,
    /// Local token.
    #[serde(rename = "Local", default)]
    pub local: bool,
    /// Only allowed on login tokens (rejected otherwise).
    #[serde(rename = "AuthMethod", default)]
    pub auth_method: String,
    /// Absolute expiry.
    #[serde(rename = "ExpirationTime", default, deserialize_with = "de_opt_time")]
    pub expiration_time: Option<OffsetDateTime>,
    /// Relative expiry in nanoseconds.
    #[serde(rename = "ExpirationTTL", default, deserialize_with = "de_duration")]
    pub expiration_ttl: i64,
    /// Legacy field; rejected when set.
    #[serde(rename = "Rules", default)]
    pub rules: String,
    /// Legacy field; rejected when set.
    #[serde(rename = "Type", default)]
    pub type_: String,
    /// Ignored on input (Consul computes it).
    #[serde(rename = "Hash", default)]
    pub hash: Option<serde_json::Value>,
    /// Ignored on input.
    #[serde(rename = "CreateTime", default)]
    pub create_time: Option<serde_json::Value>,
    /// Ignored on input.
    #[serde(rename = "CreateIndex", default)]
    pub create_index: Option<serde_json::Value>,
    /// Ignored on input.
    #[serde(rename = "ModifyIndex", default)]
    pub modify_index: Option<serde_json::Value>,
    /// Namespace (enterprise).
    #[serde(rename = "Namespace", default)]
    pub namespace: Option<String>,
    /// Partition (enterprise).
    #[serde(rename = "Partition", default)]
    pub partition: Option<String>,
}

/// Input of `PUT /v1/acl/auth-method`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthMethodInput {
    /// Name.
    #[serde(rename = "Name", default)]
    pub name: String,
    /// Type (`aws-iam`).
    #[serde(rename = "Type", default)]
    pub type_: String,
    /// Display name.
    #[serde(rename = "DisplayName", default)]
    pub display_name: String,
    /// Description.
    #[serde(rename = "Description", default)]
    pub description: String,
    /// Go duration string or nanoseconds.
    #[serde(rename = "MaxTokenTTL", default, deserialize_with = "de_duration")]
    pub max_token_ttl: i64,
    /// `local` or `global`.
    #[serde(rename = "TokenLocality", default)]
    pub token_locality: String,
    /// Method config, echoed as given.
    #[serde(rename = "Config", default)]
    pub config: Option<serde_json::Value>,
    /// Namespace rules (enterprise).
    #[serde(rename = "NamespaceRules", default)]
    pub namespace_rules: Vec<NamespaceRule>,
    /// Namespace (enterprise).
    #[serde(rename = "Namespace", default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Partition (enterprise).
    #[serde(rename = "Partition", default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// Input of `PUT /v1/acl/binding-rule`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingRuleInput {
    /// ID (update only).
    #[serde(rename = "ID", default)]
    pub id: String,
    /// Description.
    #[serde(rename = "Description", default)]
    pub description: String,
    /// Auth method name.
    #[serde(rename = "AuthMethod", default)]
    pub auth_method: String,
    /// bexpr selector.
    #[serde(rename = "Selector", default)]
    pub selector: String,
    /// Bind type.
    #[serde(rename = "BindType", default)]
    pub bind_type: String,
    /// Bind name template.
    #[serde(rename = "BindName", default)]
    pub bind_name: String,
    /// Templated-policy variables.
    #[serde(rename = "BindVars", default, skip_serializing_if = "Option::is_none")]
    pub bind_vars: Option<TemplateVariables>,
    /// Namespace (enterprise).
    #[serde(rename = "Namespace", default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Partition (enterprise).
    #[serde(rename = "Partition", default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// Input of `PUT /v1/namespace` (enterprise).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceInput {
    /// Name.
    #[serde(rename = "Name", default)]
    pub name: String,
    /// Description.
    #[serde(rename = "Description", default)]
    pub description: String,
    /// ACL defaults block, echoed.
    #[serde(rename = "ACLs", default, skip_serializing_if = "Option::is_none")]
    pub acls: Option<serde_json::Value>,
    /// Free-form metadata.
    #[serde(rename = "Meta", default)]
    pub meta: BTreeMap<String, String>,
    /// Partition.
    #[serde(rename = "Partition", default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
}

/// Accepts a Go duration string (`"5m"`) or a number of nanoseconds, like Consul's custom
/// `UnmarshalJSON` for `MaxTokenTTL` and `ExpirationTTL`.
pub(crate) fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        N(f64),
        Null(()),
    }
    match Raw::deserialize(d)? {
        Raw::S(s) => crate::gojson::parse_duration(&s).map_err(serde::de::Error::custom),
        #[expect(
            clippy::cast_possible_truncation,
            reason = "Go converts float64 to Duration the same way"
        )]
        Raw::N(n) => Ok(n as i64),
        Raw::Null(()) => Ok(0),
    }
}

fn de_opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    let s: Option<String> = Option::deserialize(d)?;
    match s {
        None => Ok(None),
        Some(s) => crate::gojson::parse_time(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

impl<'de> Deserialize<'de> for WrappedSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| WrappedSecret(Secret::new(s)))
    }
}

/// A secret string read from JSON without ever being held as a plain `String` field.
#[derive(Debug, Clone)]
pub struct WrappedSecret(pub Secret<String>);
