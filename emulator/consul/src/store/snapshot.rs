//! The store's tables as one versioned JSON document, and back.
//!
//! [`render`] turns the tables into the bytes of the state file (see `crate::persist` for the
//! file itself); [`restore`] parses them back and rebuilds what the store derives from an
//! auth method's `Config` (the parsed config and the validator) by running the same
//! construction as `PUT /v1/acl/auth-method`. Derived state is never written.
//!
//! Format 1, one JSON object:
//!
//! ```json
//! {
//!   "format": 1,
//!   "enterprise": false,
//!   "datacenter": "dc1",
//!   "index": 57,
//!   "bootstrap_index": 2,
//!   "initial_management": "<AccessorID of the initial management token>",
//!   "policies": [{"id": "…", "name": "…", "description": "", "rules": "…", "datacenters": [],
//!                 "hash": "<base64>", "create_index": 1, "modify_index": 1,
//!                 "ent": {"namespace": "default", "partition": "default"}}],
//!   "roles": [ … ],
//!   "tokens": [{"accessor_id": "…", "secret_id": "<in clear>", …,
//!               "expiration_time": "2026-11-27T18:00:00.123456789Z", "create_time": "…"}],
//!   "auth_methods": [{"name": "…", "type": "aws-iam", "config": { … as given … }, …}],
//!   "binding_rules": [ … ],
//!   "namespaces": [ … ],
//!   "partitions": [{"name": "default", "description": "…", "create_index": 1, "modify_index": 1}]
//! }
//! ```
//!
//! Field names are the stored types' Rust field names; times are RFC 3339 in UTC with
//! nanoseconds; hashes are base64. Every object is rejected when it carries a field this
//! version does not know: a file this version cannot read faithfully is an error, never a
//! partial restore.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize, Serializer};

use super::types::{AuthMethod, BindingRule, Namespace, Policy, Role, Token};
use super::{MethodEntry, RuleEntry, StoreOptions, Tables};
use crate::authmethod::aws_iam;
use crate::binder;

/// The only format this version writes and reads.
pub const FORMAT: u64 = 1;

/// The document as written: borrowed views of the tables, so writing copies nothing.
#[derive(Serialize)]
struct Out<'a> {
    format: u64,
    enterprise: bool,
    datacenter: &'a str,
    index: u64,
    bootstrap_index: Option<u64>,
    initial_management: Option<&'a str>,
    #[serde(serialize_with = "values")]
    policies: &'a BTreeMap<String, Policy>,
    #[serde(serialize_with = "values")]
    roles: &'a BTreeMap<String, Role>,
    #[serde(serialize_with = "values")]
    tokens: &'a BTreeMap<String, Token>,
    #[serde(serialize_with = "methods")]
    auth_methods: &'a BTreeMap<(String, String), MethodEntry>,
    #[serde(serialize_with = "rules")]
    binding_rules: &'a BTreeMap<String, RuleEntry>,
    #[serde(serialize_with = "values")]
    namespaces: &'a BTreeMap<String, Namespace>,
    partitions: Vec<PartitionRecord>,
}

/// The document as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct In {
    // Checked through `Header` before the whole document is read.
    #[serde(rename = "format")]
    _format: u64,
    enterprise: bool,
    datacenter: String,
    index: u64,
    bootstrap_index: Option<u64>,
    initial_management: Option<String>,
    policies: Vec<Policy>,
    roles: Vec<Role>,
    tokens: Vec<Token>,
    auth_methods: Vec<AuthMethod>,
    binding_rules: Vec<BindingRule>,
    namespaces: Vec<Namespace>,
    partitions: Vec<PartitionRecord>,
}

/// Read first, alone, so an unknown format is named as such instead of as a field error.
#[derive(Deserialize)]
struct Header {
    format: Option<u64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionRecord {
    name: String,
    description: String,
    create_index: u64,
    modify_index: u64,
}

fn values<S: Serializer, V: Serialize>(
    map: &&BTreeMap<String, V>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(map.values())
}

/// The rules alone: their compiled selectors are derived state, rebuilt on restore.
fn rules<S: Serializer>(map: &&BTreeMap<String, RuleEntry>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(map.values().map(|e| &e.rule))
}

fn methods<S: Serializer>(
    map: &&BTreeMap<(String, String), MethodEntry>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(map.values().map(|e| &e.method))
}

/// Why a document could not be restored. Messages never quote values from the file, so a
/// secret in a damaged file cannot reach an error message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RestoreError {
    /// Not JSON, or JSON of the wrong shape.
    #[error("not a valid state document: {0}")]
    Corrupt(String),
    /// A `format` this version does not read.
    #[error("unknown format {found} (this iamconform reads format {FORMAT})")]
    UnknownFormat {
        /// The file's `format`.
        found: u64,
    },
    /// Written by a server in the other mode (Enterprise vs CE).
    #[error(
        "it holds Consul {file} state but this server runs as Consul {server}; start it in the same mode or use another state directory"
    )]
    ModeMismatch {
        /// `Enterprise` or `CE`: the file's mode.
        file: &'static str,
        /// The server's mode.
        server: &'static str,
    },
    /// Written for another datacenter.
    #[error("it holds the state of datacenter {file:?} but this server is datacenter {server:?}")]
    DatacenterMismatch {
        /// The file's datacenter.
        file: String,
        /// The server's datacenter.
        server: String,
    },
    /// Well-formed JSON whose contents contradict each other.
    #[error("inconsistent state: {0}")]
    Inconsistent(String),
}

/// The state file's bytes for these tables.
pub(super) fn render(t: &Tables, opts: &StoreOptions) -> Result<Vec<u8>, serde_json::Error> {
    let out = Out {
        format: FORMAT,
        enterprise: opts.enterprise,
        datacenter: &opts.datacenter,
        index: t.index,
        bootstrap_index: t.bootstrap_index,
        initial_management: t.initial_management.as_deref(),
        policies: &t.policies,
        roles: &t.roles,
        tokens: &t.tokens,
        auth_methods: &t.methods,
        binding_rules: &t.rules,
        namespaces: &t.namespaces,
        partitions: t
            .partitions
            .iter()
            .map(|(name, (description, c, m))| PartitionRecord {
                name: name.clone(),
                description: description.clone(),
                create_index: *c,
                modify_index: *m,
            })
            .collect(),
    };
    serde_json::to_vec(&out)
}

/// Tables from a state file's bytes, with every auth method's validator and every binding
/// rule's compiled selector rebuilt.
pub(super) fn restore(bytes: &[u8], opts: &StoreOptions) -> Result<Tables, RestoreError> {
    let header: Header = serde_json::from_slice(bytes).map_err(|e| corrupt(&e))?;
    match header.format {
        Some(FORMAT) => {}
        Some(found) => return Err(RestoreError::UnknownFormat { found }),
        None => return Err(RestoreError::Corrupt("missing field `format`".to_string())),
    }
    let doc: In = serde_json::from_slice(bytes).map_err(|e| corrupt(&e))?;
    if doc.enterprise != opts.enterprise {
        let mode = |ent: bool| if ent { "Enterprise" } else { "CE" };
        return Err(RestoreError::ModeMismatch {
            file: mode(doc.enterprise),
            server: mode(opts.enterprise),
        });
    }
    if doc.datacenter != opts.datacenter {
        return Err(RestoreError::DatacenterMismatch {
            file: doc.datacenter,
            server: opts.datacenter.clone(),
        });
    }
    let index = doc.index;
    let check = |kind: &str, key: &str, c: u64, m: u64| {
        if c > m || m > index {
            Err(RestoreError::Inconsistent(format!(
                "{kind} {key} has indexes {c}/{m} beyond the store index {index}"
            )))
        } else {
            Ok(())
        }
    };
    let mut t = Tables {
        index,
        bootstrap_index: doc.bootstrap_index,
        initial_management: doc.initial_management,
        ..Tables::default()
    };
    for p in doc.policies {
        check("policy", &p.id, p.create_index, p.modify_index)?;
        t.policies.insert(p.id.clone(), p);
    }
    for r in doc.roles {
        check("role", &r.id, r.create_index, r.modify_index)?;
        t.roles.insert(r.id.clone(), r);
    }
    for x in doc.tokens {
        check("token", &x.accessor_id, x.create_index, x.modify_index)?;
        t.tokens.insert(x.accessor_id.clone(), x);
    }
    let schema = aws_iam::selector_schema();
    for m in doc.auth_methods {
        check("auth method", &m.name, m.create_index, m.modify_index)?;
        // The same construction as `auth_method_set` step 7: the stored config passed it
        // once, so a failure here means the file was edited or this version checks more.
        let config = aws_iam::parse_config(&m.config).map_err(|e| {
            RestoreError::Inconsistent(format!(
                "auth method {} has a Config this version rejects: {e}",
                m.name
            ))
        })?;
        let validator = aws_iam::Validator::new(config.clone(), opts.outbound.clone());
        // Derived state, like the binding rules' selectors below; one that does not compile
        // (an edited file) matches nothing, as at login before.
        let namespace_selectors = m
            .namespace_rules
            .iter()
            .map(|r| binder::CompiledSelector::lenient(&r.selector, &schema))
            .collect();
        t.methods.insert(
            (m.ent.namespace.clone(), m.name.clone()),
            MethodEntry {
                method: m,
                config: Arc::new(config),
                validator: Arc::new(validator),
                namespace_selectors,
            },
        );
    }
    for r in doc.binding_rules {
        check("binding rule", &r.id, r.create_index, r.modify_index)?;
        // Lenient like a login of the original store: a selector that does not compile
        // (only possible in an edited file) matches nothing.
        let selector = binder::CompiledSelector::lenient(&r.selector, &schema);
        t.rules
            .insert(r.id.clone(), RuleEntry { rule: r, selector });
    }
    for n in doc.namespaces {
        check("namespace", &n.name, n.create_index, n.modify_index)?;
        t.namespaces.insert(n.name.clone(), n);
    }
    for p in doc.partitions {
        check("partition", &p.name, p.create_index, p.modify_index)?;
        t.partitions
            .insert(p.name, (p.description, p.create_index, p.modify_index));
    }
    if !t.tokens.contains_key(crate::error::ANONYMOUS_TOKEN_ID)
        || !t.policies.contains_key(super::GLOBAL_MANAGEMENT_ID)
        || !t.namespaces.contains_key(super::types::DEFAULT)
        || !t.partitions.contains_key(super::types::DEFAULT)
    {
        return Err(RestoreError::Inconsistent(
            "a builtin object (anonymous token, global-management policy, default namespace or partition) is missing".to_string(),
        ));
    }
    Ok(t)
}

/// serde_json's messages for a wrong value quote it (`invalid type: string "…"`); the quoted
/// part could be a SecretID, so it is cut out. Field names (in backticks) and positions stay.
fn corrupt(e: &serde_json::Error) -> RestoreError {
    let mut text = String::new();
    let mut in_quote = false;
    for c in e.to_string().chars() {
        if c == '"' {
            if !in_quote {
                text.push_str("\"…\"");
            }
            in_quote = !in_quote;
        } else if !in_quote {
            text.push(c);
        }
    }
    RestoreError::Corrupt(text)
}

/// `Secret<String>` as a plain JSON string: the one place a SecretID is written out.
pub(crate) mod secret_in_clear {
    use iamconform_secret::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Secret<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.expose())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret<String>, D::Error> {
        String::deserialize(d).map(Secret::new)
    }
}

/// Bytes as standard base64.
pub(crate) mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| serde::de::Error::custom("a hash is not valid base64"))
    }
}

/// A time as RFC 3339 in UTC with nanoseconds (exact round trip).
pub(crate) mod utc_time {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub(crate) fn serialize<S: Serializer>(v: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::gojson::format_time(*v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let s = String::deserialize(d)?;
        OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
            .map_err(|_| serde::de::Error::custom("a time is not RFC 3339"))
    }
}

/// An optional time; `null` when absent.
pub(crate) mod opt_time {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(t) => super::utc_time::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::utc_time")] OffsetDateTime);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}
