//! Consul's built-in templated policies (`structs.GetACLTemplatedPolicyBase`).
//!
//! Only what binding needs: the names, whether a `name` variable is required, and its
//! pattern. UNVERIFIED: the template IDs beyond service/node and the exact schema error
//! texts (Consul renders gojsonschema results); the texts here keep gojsonschema's shape.

use crate::store::types::TemplateVariables;

/// One built-in template.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    /// `builtin/service`, …
    pub name: &'static str,
    /// Consul's template ID.
    pub id: &'static str,
    /// Whether the template takes (and requires) a `name` variable.
    pub needs_name: bool,
}

/// Service/node name pattern of the template schemas.
pub(crate) const NAME_PATTERN: &str = "^[a-z0-9]([a-z0-9\\-_]*[a-z0-9])?$";

/// The built-in templates.
pub const TEMPLATES: [Template; 7] = [
    Template {
        name: "builtin/service",
        id: "00000000-0000-0000-0000-000000000003",
        needs_name: true,
    },
    Template {
        name: "builtin/node",
        id: "00000000-0000-0000-0000-000000000004",
        needs_name: true,
    },
    Template {
        name: "builtin/dns",
        id: "00000000-0000-0000-0000-000000000005",
        needs_name: false,
    },
    Template {
        name: "builtin/nomad-server",
        id: "00000000-0000-0000-0000-000000000006",
        needs_name: false,
    },
    Template {
        name: "builtin/workload-identity",
        id: "00000000-0000-0000-0000-000000000007",
        needs_name: true,
    },
    Template {
        name: "builtin/api-gateway",
        id: "00000000-0000-0000-0000-000000000008",
        needs_name: true,
    },
    Template {
        name: "builtin/nomad-client",
        id: "00000000-0000-0000-0000-000000000009",
        needs_name: false,
    },
];

/// Finds a template by name.
pub(crate) fn lookup(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

impl Template {
    /// Validates variables against the template's schema.
    pub fn validate(&self, vars: Option<&TemplateVariables>) -> Result<(), String> {
        if !self.needs_name {
            return Ok(());
        }
        let name = vars.map(|v| v.name.as_str()).unwrap_or_default();
        if name.is_empty() {
            return Err("(root): name is required".to_string());
        }
        if !crate::store::validate::is_valid_service_identity_name(name) {
            return Err(format!("name: Does not match pattern '{NAME_PATTERN}'"));
        }
        Ok(())
    }
}
