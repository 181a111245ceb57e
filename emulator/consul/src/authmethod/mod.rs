//! Auth-method validators. Only `aws-iam` is implemented; it is the type this emulator exists for.
//!
//! The contract between a validator and the rest of the server (binder, login endpoint) is
//! [`AuthIdentity`]: the trusted attributes as selector data (for binding-rule selectors) and as
//! interpolation variables (for bind names), the same projection Consul's
//! `agent/consul/authmethod/awsauth/aws.go` makes.

use std::collections::BTreeMap;

pub mod aws_iam;

/// A verified identity, projected for binding.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthIdentity {
    /// Selector fields (`entity_name`, `entity_id`, `account_id`, `entity_path`, `entity_tags`).
    pub selectable: iamconform_bexpr::Data,
    /// HIL variables for bind names (`entity_name`, …, `entity_tags.<key>` when details are on).
    pub vars: BTreeMap<String, String>,
}
