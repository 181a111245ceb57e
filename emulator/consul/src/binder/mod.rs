//! The binder: which binding rules match a verified identity, and what they bind.
//!
//! Spec: consul-aws-iam §3.5; Consul `agent/consul/auth/binder.go`. Pure and synchronous: the
//! store hands in the method's rules, the projected identity and a lookup for roles and
//! policies; the result is a [`Bindings`] the store turns into a token.

use std::collections::BTreeMap;
use std::sync::Arc;

use iamconform_bexpr::{Evaluator, Schema};

use crate::authmethod::AuthIdentity;
use crate::gojson::go_quote;
use crate::store::types::{
    BindingRule, NamespaceRule, NodeIdentity, ServiceIdentity, TemplateVariables, TemplatedPolicy,
};
use crate::store::validate;

mod templates;

pub use templates::{TEMPLATES, Template};

/// Bind types Consul knows (`structs.BindingRuleBindType*`).
pub const BIND_TYPES: [&str; 5] = ["service", "node", "role", "policy", "templated-policy"];

/// What a login binds to its token.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bindings {
    /// Role IDs.
    pub roles: Vec<String>,
    /// Policy IDs.
    pub policies: Vec<String>,
    /// Service identities.
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities.
    pub node_identities: Vec<NodeIdentity>,
    /// Templated policies.
    pub templated_policies: Vec<TemplatedPolicy>,
}

impl Bindings {
    /// No privileges at all (Consul's `Bindings.None`): the login is denied.
    pub fn is_none(&self) -> bool {
        self.roles.is_empty()
            && self.policies.is_empty()
            && self.service_identities.is_empty()
            && self.node_identities.is_empty()
            && self.templated_policies.is_empty()
    }
}

/// Errors of binding; their `Display` is Consul's text (HTTP 500 at login).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BindError {
    /// HIL failed (`error interpreting template: …`).
    #[error("error interpreting template: {0}")]
    Template(String),
    /// The computed name is invalid for the bind type.
    #[error("invalid bind name: {}", go_quote(.0))]
    InvalidName(String),
    /// Newest Consul: a variable held upper-case letters that lower-casing would hide.
    #[error(
        "invalid bind name: the projected variables contain uppercase characters (interpolated as {} before lowercasing), but bind names for this type must be lowercase; ensure the bound service or node name is lowercase",
        go_quote(.0)
    )]
    Uppercase(String),
    /// `templated-policy` with an unknown template.
    #[error("Bind name for templated-policy bind type does not match existing template name: {0}")]
    UnknownTemplate(String),
    /// `BindVars.Name` failed to interpolate.
    #[error("failed to interpret templated policy variables: {0}")]
    TemplateVars(String),
    /// The computed template variables do not satisfy the template's schema.
    #[error("templated policy failed validation: {0}")]
    TemplateValidation(String),
    /// `BindNamespace` failed to interpolate (enterprise).
    // UNVERIFIED: enterprise source is not public; the text follows the bind-name wording.
    #[error("cannot compute namespace name from BindNamespace: {0}")]
    Namespace(String),
}

/// Lookups the binder needs from the store.
pub trait BindTargets {
    /// The ID of the role with this name in this namespace.
    fn role_id_by_name(&self, name: &str, namespace: &str) -> Option<String>;
    /// The ID of the policy with this name in this namespace.
    fn policy_id_by_name(&self, name: &str, namespace: &str) -> Option<String>;
}

/// Server facts and behaviour switches.
#[derive(Debug, Clone)]
pub struct BindOptions {
    /// Datacenter for node identities.
    pub datacenter: String,
    /// Reject names whose variables held upper case (newest Consul) instead of silently
    /// lower-casing them (every released version the spec describes).
    pub reject_uppercase: bool,
}

/// Whether a selector matches; an empty selector matches all, and a selector that fails to
/// compile or evaluate does not match (Consul `doesSelectorMatch`).
pub fn selector_matches(selector: &str, identity: &AuthIdentity, schema: &Schema) -> bool {
    CompiledSelector::lenient(selector, schema).matches(identity)
}

/// A selector parsed and checked once, when its rule is written or restored, so logins only
/// evaluate it (Consul re-parses on every login; the outcome is the same, the cost is not).
/// Derived state: never saved, rebuilt from the selector text.
#[derive(Debug, Clone)]
pub enum CompiledSelector {
    /// The empty selector: matches every identity.
    All,
    /// A valid selector.
    Compiled(Arc<Evaluator>),
    /// A selector that does not compile (only reachable through an edited state file, since
    /// writes reject it): matches nothing, as `doesSelectorMatch` does.
    Invalid,
}

impl CompiledSelector {
    /// Compiles `selector`, or returns the compile error (the write-time check).
    pub fn compile(selector: &str, schema: &Schema) -> Result<Self, iamconform_bexpr::Error> {
        if selector.is_empty() {
            return Ok(Self::All);
        }
        Evaluator::new(selector, schema).map(|e| Self::Compiled(Arc::new(e)))
    }

    /// Compiles `selector`; one that does not compile becomes [`CompiledSelector::Invalid`].
    pub fn lenient(selector: &str, schema: &Schema) -> Self {
        Self::compile(selector, schema).unwrap_or(Self::Invalid)
    }

    /// Whether the identity matches; an evaluation error does not match.
    pub fn matches(&self, identity: &AuthIdentity) -> bool {
        match self {
            Self::All => true,
            Self::Compiled(eval) => eval.evaluate(&identity.selectable).unwrap_or(false),
            Self::Invalid => false,
        }
    }
}

/// Enterprise: the namespace of the login token — the first matching namespace rule wins;
/// without a match the token lives in the auth method's namespace.
pub fn bind_namespace(
    rules: &[NamespaceRule],
    identity: &AuthIdentity,
    schema: &Schema,
    method_namespace: &str,
) -> Result<String, BindError> {
    let compiled: Vec<CompiledSelector> = rules
        .iter()
        .map(|r| CompiledSelector::lenient(&r.selector, schema))
        .collect();
    bind_namespace_compiled(rules.iter().zip(&compiled), identity, method_namespace)
}

/// [`bind_namespace`] over rules whose selectors were compiled beforehand (each paired with its
/// own rule's [`CompiledSelector`]), in the order given.
pub fn bind_namespace_compiled<'a>(
    rules: impl IntoIterator<Item = (&'a NamespaceRule, &'a CompiledSelector)>,
    identity: &AuthIdentity,
    method_namespace: &str,
) -> Result<String, BindError> {
    for (rule, selector) in rules {
        if selector.matches(identity) {
            // UNVERIFIED: whether BindNamespace lower-cases values; bind names do.
            return iamconform_hil::interpolate(&rule.bind_namespace, &identity.vars, true)
                .map_err(|e| BindError::Namespace(e.to_string()));
        }
    }
    Ok(method_namespace.to_string())
}

/// Binds every matching rule, in order (spec §3.5 step 3). Roles and policies that do not
/// exist in `namespace` are skipped silently; any invalid name fails the whole login.
pub fn bind(
    rules: &[BindingRule],
    identity: &AuthIdentity,
    schema: &Schema,
    namespace: &str,
    opts: &BindOptions,
    targets: &dyn BindTargets,
) -> Result<Bindings, BindError> {
    let compiled: Vec<CompiledSelector> = rules
        .iter()
        .map(|r| CompiledSelector::lenient(&r.selector, schema))
        .collect();
    bind_compiled(
        rules.iter().zip(&compiled),
        identity,
        namespace,
        opts,
        targets,
    )
}

/// [`bind`] over rules whose selectors were compiled beforehand (each paired with its own
/// rule's [`CompiledSelector`]), in the order given.
pub fn bind_compiled<'a>(
    rules: impl IntoIterator<Item = (&'a BindingRule, &'a CompiledSelector)>,
    identity: &AuthIdentity,
    namespace: &str,
    opts: &BindOptions,
    targets: &dyn BindTargets,
) -> Result<Bindings, BindError> {
    let mut out = Bindings::default();
    // Step 2: keep the rules whose selectors match (all of them before any name is computed,
    // as Consul does, so which error a login reports does not depend on evaluation order).
    let matching: Vec<&BindingRule> = rules
        .into_iter()
        .filter(|(_, sel)| sel.matches(identity))
        .map(|(r, _)| r)
        .collect();
    // Step 3: compute the bound names in rule order.
    for rule in matching {
        match rule.bind_type.as_str() {
            "service" => {
                let name = compute_bind_name(
                    &rule.bind_name,
                    &identity.vars,
                    validate::is_valid_service_identity_name,
                    opts.reject_uppercase,
                )?;
                out.service_identities.push(ServiceIdentity {
                    service_name: name,
                    datacenters: Vec::new(),
                });
            }
            "node" => {
                let name = compute_bind_name(
                    &rule.bind_name,
                    &identity.vars,
                    validate::is_valid_node_identity_name,
                    opts.reject_uppercase,
                )?;
                out.node_identities.push(NodeIdentity {
                    node_name: name,
                    datacenter: opts.datacenter.clone(),
                });
            }
            "templated-policy" => {
                let tp = generate_templated_policy(
                    &rule.bind_name,
                    rule.bind_vars.as_ref(),
                    &identity.vars,
                    opts.reject_uppercase,
                )?;
                out.templated_policies.push(tp);
            }
            // Consul validates policy bind names with the role-name rule at login (a quirk).
            "policy" => {
                let name = compute_bind_name(
                    &rule.bind_name,
                    &identity.vars,
                    validate::is_valid_role_name,
                    opts.reject_uppercase,
                )?;
                if let Some(id) = targets.policy_id_by_name(&name, namespace) {
                    out.policies.push(id);
                }
            }
            "role" => {
                let name = compute_bind_name(
                    &rule.bind_name,
                    &identity.vars,
                    validate::is_valid_role_name,
                    opts.reject_uppercase,
                )?;
                if let Some(id) = targets.role_id_by_name(&name, namespace) {
                    out.roles.push(id);
                }
            }
            // Rules are validated on write, so an unknown type cannot be stored.
            _ => {}
        }
    }
    Ok(out)
}

/// Interpolates a bind name with lower-cased variables and validates the result
/// (Consul `computeBindName`).
pub fn compute_bind_name(
    template: &str,
    vars: &BTreeMap<String, String>,
    valid: fn(&str) -> bool,
    reject_uppercase: bool,
) -> Result<String, BindError> {
    let computed = iamconform_hil::interpolate(template, vars, true)
        .map_err(|e| BindError::Template(e.to_string()))?;
    if !valid(&computed) {
        return Err(BindError::InvalidName(computed));
    }
    if reject_uppercase
        && template.contains("${")
        && let Ok(original) = iamconform_hil::interpolate(template, vars, false)
        && original != computed
    {
        return Err(BindError::Uppercase(original));
    }
    Ok(computed)
}

/// Builds a templated policy from a rule (Consul `generateTemplatedPolicies`).
pub fn generate_templated_policy(
    bind_name: &str,
    bind_vars: Option<&TemplateVariables>,
    vars: &BTreeMap<String, String>,
    reject_uppercase: bool,
) -> Result<TemplatedPolicy, BindError> {
    let Some(template) = templates::lookup(bind_name) else {
        return Err(BindError::UnknownTemplate(bind_name.to_string()));
    };
    let computed = match bind_vars {
        None => None,
        Some(v) if v.name.is_empty() => Some(TemplateVariables::default()),
        Some(v) => {
            let name = iamconform_hil::interpolate(&v.name, vars, true)
                .map_err(|e| BindError::TemplateVars(e.to_string()))?;
            if reject_uppercase
                && v.name.contains("${")
                && let Ok(original) = iamconform_hil::interpolate(&v.name, vars, false)
                && original != name
            {
                return Err(BindError::TemplateVars(format!(
                    "invalid bind variable: the projected variables contain uppercase characters (interpolated as {} before lowercasing), but bind variables for this type must be lowercase; ensure the bound resource name is lowercase",
                    go_quote(&original)
                )));
            }
            Some(TemplateVariables { name })
        }
    };
    template
        .validate(computed.as_ref())
        .map_err(BindError::TemplateValidation)?;
    Ok(TemplatedPolicy {
        template_name: bind_name.to_string(),
        template_variables: computed,
        datacenters: Vec::new(),
    })
}

/// Binding-rule write check (Consul `IsValidBindingRule`): the name template must produce a
/// valid name when every available variable is the literal `fake`.
pub fn check_binding_rule(
    bind_type: &str,
    bind_name: &str,
    bind_vars: Option<&TemplateVariables>,
    available: &[String],
) -> Result<(), String> {
    let fake: BTreeMap<String, String> = available
        .iter()
        .map(|v| (v.clone(), "fake".to_string()))
        .collect();
    let result = match bind_type {
        "service" => compute_bind_name(
            bind_name,
            &fake,
            validate::is_valid_service_identity_name,
            false,
        )
        .map(drop),
        "node" => compute_bind_name(
            bind_name,
            &fake,
            validate::is_valid_node_identity_name,
            false,
        )
        .map(drop),
        "templated-policy" => {
            generate_templated_policy(bind_name, bind_vars, &fake, false).map(drop)
        }
        "role" => {
            compute_bind_name(bind_name, &fake, validate::is_valid_role_name, false).map(drop)
        }
        "policy" => {
            compute_bind_name(bind_name, &fake, validate::is_valid_policy_name, false).map(drop)
        }
        other => {
            return Err(format!(
                "invalid Binding Rule: unknown BindType {}",
                go_quote(other)
            ));
        }
    };
    result.map_err(|e| format!("failed to validate bindType {}: {e}", go_quote(bind_type)))
}

#[cfg(test)]
mod tests;
