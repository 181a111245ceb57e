//! ACL enforcement: what a request's token may do.
//!
//! The emulator enforces the two resources its API needs: `acl` (every `/v1/acl/*` endpoint)
//! and `operator` (namespaces). A token holding the built-in `global-management` policy may
//! do everything; otherwise each policy's `Rules` are parsed as HCL and the top-level
//! `acl = "…"` / `operator = "…"` attributes combined the way Consul merges policies: `deny`
//! wins over `write`, `write` over `read`. No rule means deny (the ECS setup runs with
//! `default_policy = "deny"`).

use crate::error::{ConsulError, PermissionDenied};

/// Access levels, ordered by strength (`Deny` is handled separately: it always wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Level {
    /// No rule.
    #[default]
    None,
    /// `read`.
    Read,
    /// `write`.
    Write,
    /// `deny`.
    Deny,
}

impl Level {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "read" | "list" => Some(Self::Read),
            "write" => Some(Self::Write),
            "deny" => Some(Self::Deny),
            _ => None,
        }
    }

    fn merge(self, other: Self) -> Self {
        // Consul's policy merger: deny takes precedence, then the stronger grant.
        if self == Self::Deny || other == Self::Deny {
            Self::Deny
        } else {
            self.max(other)
        }
    }

    fn allows(self, wanted: Level) -> bool {
        self != Self::Deny && self >= wanted
    }
}

/// Resources the emulator checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `acl`.
    Acl,
    /// `operator`.
    Operator,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Self::Acl => "acl",
            Self::Operator => "operator",
        }
    }
}

/// The permissions of a resolved token.
#[derive(Debug, Clone)]
pub struct Authorizer {
    /// The token's accessor ID (for denial texts).
    pub accessor_id: String,
    /// Holds `global-management`.
    pub management: bool,
    acl: Level,
    operator: Level,
    /// The token's namespace (enterprise default for requests).
    pub namespace: String,
}

impl Authorizer {
    /// An authorizer that may do everything (presets, the harness).
    pub fn internal() -> Self {
        Self {
            accessor_id: "internal".to_string(),
            management: true,
            acl: Level::Write,
            operator: Level::Write,
            namespace: super::types::DEFAULT.to_string(),
        }
    }

    /// Builds an authorizer from the `Rules` of the token's policies.
    pub fn from_rules<'a>(
        accessor_id: &str,
        management: bool,
        namespace: &str,
        rules: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut acl = Level::None;
        let mut operator = Level::None;
        for r in rules {
            let parsed = parse_rules(r).unwrap_or_default();
            acl = acl.merge(parsed.acl);
            operator = operator.merge(parsed.operator);
        }
        Self {
            accessor_id: accessor_id.to_string(),
            management,
            acl,
            operator,
            namespace: namespace.to_string(),
        }
    }

    /// Whether `resource:level` is allowed.
    pub fn allowed(&self, resource: Resource, level: Level) -> bool {
        if self.management {
            return true;
        }
        let have = match resource {
            Resource::Acl => self.acl,
            Resource::Operator => self.operator,
        };
        have.allows(level)
    }

    /// `Ok` when `resource:level` is allowed, else Consul's denial text.
    pub fn require(&self, resource: Resource, level: Level) -> Result<(), ConsulError> {
        if self.allowed(resource, level) {
            return Ok(());
        }
        Err(ConsulError::PermissionDenied(PermissionDenied::Lacks {
            accessor: self.accessor_id.clone(),
            resource: resource.name(),
            level: if level == Level::Write {
                "write"
            } else {
                "read"
            },
        }))
    }
}

/// The top-level grants of one policy.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ParsedRules {
    acl: LevelOrNone,
    operator: LevelOrNone,
}

type LevelOrNone = Level;

/// Parses policy rules as Consul's `acl.NewPolicyFromSource` does for the parts the emulator
/// enforces; every other block only has to be valid HCL.
pub(crate) fn parse_rules(rules: &str) -> Result<ParsedRules, String> {
    // Consul parses rules with HCL 1, which also reads JSON and accepts several blocks on
    // one line (`node_prefix "" { policy = "write" } service_prefix "" { … }`, as consul-ecs
    // writes them); hcl-rs speaks HCL 2, so HCL 1 input is first put one item per line.
    let top: Vec<(String, String)> = if rules.trim_start().starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(rules).map_err(|e| format!("Failed to parse ACL rules: {e}"))?;
        v.as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        let body: hcl::Body = hcl::from_str(rules)
            .or_else(|first| hcl::from_str(&hcl1_to_hcl2(rules)).map_err(|_| first))
            .map_err(|e| format!("Failed to parse ACL rules: {e}"))?;
        body.attributes()
            .map(|attr| {
                let value = match attr.expr() {
                    hcl::Expression::String(s) => s.clone(),
                    other => format!("{other}"),
                };
                (attr.key().to_string(), value)
            })
            .collect()
    };
    let mut out = ParsedRules::default();
    for (key, value) in top {
        if key != "acl" && key != "operator" {
            continue;
        }
        let Some(level) = Level::parse(&value) else {
            return Err(format!("Invalid {key} policy: \"{value}\""));
        };
        if key == "acl" {
            out.acl = level;
        } else {
            out.operator = level;
        }
    }
    Ok(out)
}

/// Puts HCL 1 input one item per line: a newline after every `{` and `}`, and in place of
/// commas between object items, outside strings and lists.
fn hcl1_to_hcl2(src: &str) -> String {
    let mut out = String::with_capacity(src.len() + 16);
    let mut in_string = false;
    let mut escaped = false;
    let mut list_depth = 0usize;
    for c in src.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '[' => {
                list_depth += 1;
                out.push(c);
            }
            ']' => {
                list_depth = list_depth.saturating_sub(1);
                out.push(c);
            }
            '{' => out.push_str("{\n"),
            '}' => out.push_str("\n}\n"),
            ',' if list_depth == 0 => out.push('\n'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_grant_and_deny() {
        let a = Authorizer::from_rules("x", false, "default", ["acl = \"read\""]);
        assert!(a.allowed(Resource::Acl, Level::Read));
        assert!(!a.allowed(Resource::Acl, Level::Write));
        let e = a.require(Resource::Acl, Level::Write).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Permission denied: token with AccessorID 'x' lacks permission 'acl:write'"
        );
        let a =
            Authorizer::from_rules("x", false, "default", ["acl = \"write\"", "acl = \"deny\""]);
        assert!(!a.allowed(Resource::Acl, Level::Read));
        let a = Authorizer::from_rules(
            "x",
            false,
            "default",
            ["node_prefix \"\" { policy = \"write\" }"],
        );
        assert!(!a.allowed(Resource::Acl, Level::Read));
    }

    #[test]
    fn hcl1_one_line_blocks_and_json_rules_parse() {
        let r = parse_rules(
            "node_prefix \"\" { policy = \"write\" } service_prefix \"\" { policy = \"read\" }",
        );
        assert!(r.is_ok(), "{r:?}");
        let r =
            parse_rules("acl = \"read\"\nnode \"x\" { policy = \"read\", intentions = \"deny\" }")
                .unwrap();
        assert_eq!(r.acl, Level::Read);
        let r =
            parse_rules(r#"{"acl": "write", "node_prefix": {"": {"policy": "read"}}}"#).unwrap();
        assert_eq!(r.acl, Level::Write);
    }

    #[test]
    fn rules_validation_texts() {
        assert!(parse_rules("acl = \"write\"\nnode_prefix \"\" {\n policy = \"read\"\n}").is_ok());
        assert_eq!(
            parse_rules("acl = \"bogus\"").unwrap_err(),
            "Invalid acl policy: \"bogus\""
        );
        assert!(
            parse_rules("acl = ")
                .unwrap_err()
                .starts_with("Failed to parse ACL rules: ")
        );
    }
}
