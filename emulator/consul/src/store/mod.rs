//! The ACL state store: policies, roles, tokens, auth methods, binding rules, namespaces.
//!
//! [`Store`] holds every table behind one mutex (never held across an `.await`) with a
//! raft-like index that every write bumps. Each operation runs Consul's checks in Consul's
//! order — ACL permission first, then the RPC handler's validation (`agent/consul/
//! acl_endpoint.go`, `auth/token_writer.go`) — and returns the object as Consul's JSON.
//! Login is split in two: [`Store::login_method`] hands out the auth method's validator
//! (the async part runs without the lock), [`Store::login_finish`] binds and writes the
//! token atomically.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use blake2::Digest;
use iamconform_secret::Secret;
use serde_json::{Value, json};
use time::Duration;

use crate::authmethod::{AuthIdentity, aws_iam};
use crate::binder::{self, BindOptions, BindTargets, Bindings};
use crate::clock::Clock;
use crate::error::{ANONYMOUS_TOKEN_ID, ConsulError};
use crate::gojson::{self, go_quote};
use crate::persist::{PersistError, PersistErrorKind, StateDir};

pub mod acl;
pub mod snapshot;
pub mod types;
pub mod validate;

use acl::{Authorizer, Level, Resource};
use types::*;

/// The built-in `global-management` policy ID.
pub const GLOBAL_MANAGEMENT_ID: &str = "00000000-0000-0000-0000-000000000001";
/// The built-in `global-management` policy name.
pub const GLOBAL_MANAGEMENT_NAME: &str = "global-management";
/// Rules of `global-management`.
// UNVERIFIED: Consul's exact rules text (its content grants everything; only the text differs).
const GLOBAL_MANAGEMENT_RULES: &str = "\nacl = \"write\"\nagent_prefix \"\" {\n\tpolicy = \"write\"\n}\nevent_prefix \"\" {\n\tpolicy = \"write\"\n}\nkey_prefix \"\" {\n\tpolicy = \"write\"\n}\nkeyring = \"write\"\nnode_prefix \"\" {\n\tpolicy = \"write\"\n}\noperator = \"write\"\nmesh = \"write\"\npeering = \"write\"\nquery_prefix \"\" {\n\tpolicy = \"write\"\n}\nservice_prefix \"\" {\n\tpolicy = \"write\"\n\tintentions = \"write\"\n}\nsession_prefix \"\" {\n\tpolicy = \"write\"\n}";
/// Lower bound of token lifetimes (Consul's `acl.token_min_expiration_ttl` default).
const MIN_TTL: Duration = Duration::minutes(1);
/// Upper bound of token lifetimes (Consul's `acl.token_max_expiration_ttl` default).
const MAX_TTL: Duration = Duration::hours(24);
/// Consul's `aclfilter.RedactedToken`.
pub const REDACTED: &str = "<hidden>";

/// Who is making a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An HTTP request with this token (`None` = anonymous).
    Token(Option<Secret<String>>),
    /// The emulator itself (presets, the harness): may do everything.
    Internal,
}

/// Enterprise scope of a request (`?ns=`, headers, body fields).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Explicit namespace, when the request names one.
    pub namespace: Option<String>,
    /// Explicit partition, when the request names one.
    pub partition: Option<String>,
}

/// How a read names its object.
#[derive(Debug, Clone, Copy)]
pub enum Key<'a> {
    /// By ID.
    Id(&'a str),
    /// By name.
    Name(&'a str),
}

/// Filters of `GET /v1/acl/tokens`.
#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    /// Policy ID.
    pub policy: Option<String>,
    /// Role ID.
    pub role: Option<String>,
    /// Auth method name.
    pub auth_method: Option<String>,
    /// Service identity name.
    pub service_name: Option<String>,
}

/// Options of the store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Enterprise mode (namespaces, partitions).
    pub enterprise: bool,
    /// Datacenter name.
    pub datacenter: String,
    /// Outbound settings handed to every aws-iam validator.
    pub outbound: aws_iam::Outbound,
    /// Reject upper-case bind variables (newest Consul) instead of lower-casing silently.
    pub reject_uppercase_bind_vars: bool,
}

#[derive(Clone)]
struct MethodEntry {
    method: AuthMethod,
    config: Arc<aws_iam::AwsIamConfig>,
    validator: Arc<aws_iam::Validator>,
    /// The selector of each of `method.namespace_rules`, in order, compiled when the method
    /// was written or restored (like [`RuleEntry::selector`]).
    namespace_selectors: Vec<binder::CompiledSelector>,
}

/// A binding rule and its selector, compiled when the rule was written or restored.
#[derive(Clone)]
struct RuleEntry {
    rule: BindingRule,
    selector: binder::CompiledSelector,
}

#[derive(Default, Clone)]
struct Tables {
    index: u64,
    bootstrap_index: Option<u64>,
    /// AccessorID of the token `set_initial_management` created last.
    initial_management: Option<String>,
    policies: BTreeMap<String, Policy>,
    roles: BTreeMap<String, Role>,
    tokens: BTreeMap<String, Token>,
    methods: BTreeMap<(String, String), MethodEntry>,
    rules: BTreeMap<String, RuleEntry>,
    namespaces: BTreeMap<String, Namespace>,
    partitions: BTreeMap<String, (String, u64, u64)>,
}

/// The state store.
pub struct Store {
    tables: Mutex<Tables>,
    clock: Clock,
    opts: StoreOptions,
    /// Where every acknowledged write is saved before it is acknowledged (`None` = memory only).
    state: Option<StateDir>,
    /// Whether the tables came from the state directory.
    restored: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("opts", &self.opts)
            .field("state", &self.state.as_ref().map(StateDir::path))
            .finish_non_exhaustive()
    }
}

/// What the async part of a login needs.
#[derive(Clone)]
pub struct LoginMethod {
    /// The auth method's name.
    pub name: String,
    /// The auth method's namespace.
    pub namespace: String,
    /// Its parsed config.
    pub config: Arc<aws_iam::AwsIamConfig>,
    /// Its validator.
    pub validator: Arc<aws_iam::Validator>,
}

impl std::fmt::Debug for LoginMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginMethod")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// AccessorIDs and SecretIDs. With uuid's `fast-rng` feature, v4 UUIDs come from rand's
/// thread-local cryptographic generator (ChaCha, seeded and reseeded from the OS) rather than
/// a `getrandom` system call each, which was two per login.
fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn hash_parts(parts: &[&str]) -> Vec<u8> {
    let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn dur(d: Duration) -> String {
    gojson::format_duration(i64::try_from(d.whole_nanoseconds()).unwrap_or(i64::MAX))
}

impl Store {
    /// A fresh in-memory store with the built-in policy and the anonymous token.
    pub fn new(opts: StoreOptions, clock: Clock) -> Self {
        let tables = fresh_tables(&clock);
        Self {
            tables: Mutex::new(tables),
            clock,
            opts,
            state: None,
            restored: false,
        }
    }

    /// A durable store kept in `dir` (see `crate::persist` and docs/reliability.md).
    ///
    /// When `dir` holds a state file, the tables are restored from it (validators rebuilt);
    /// otherwise the store starts fresh and its first state is saved at once, so an unusable
    /// directory is reported here rather than on the first write. A file that cannot be
    /// restored is an error: the store never starts empty over existing state.
    pub fn open(opts: StoreOptions, clock: Clock, dir: &Path) -> Result<Self, PersistError> {
        let state = StateDir::open(dir)?;
        let (tables, restored) = match state.load()? {
            Some(bytes) => {
                let tables = snapshot::restore(&bytes, &opts).map_err(|e| PersistError {
                    path: state.path().to_path_buf(),
                    kind: PersistErrorKind::Restore(e),
                })?;
                (tables, true)
            }
            None => {
                let tables = fresh_tables(&clock);
                let bytes = snapshot::render(&tables, &opts).map_err(|e| PersistError {
                    path: state.path().to_path_buf(),
                    kind: PersistErrorKind::Render(e.to_string()),
                })?;
                state.save(&bytes)?;
                (tables, false)
            }
        };
        Ok(Self {
            tables: Mutex::new(tables),
            clock,
            opts,
            state: Some(state),
            restored,
        })
    }

    /// Whether the tables were restored from a state file (not a first start).
    pub fn restored(&self) -> bool {
        self.restored
    }

    /// The state file, for a durable store.
    pub fn state_file(&self) -> Option<&Path> {
        self.state.as_ref().map(StateDir::path)
    }

    /// Runs one write under the table lock. For a durable store a write that bumped the
    /// index is saved before this returns, still under the lock (so saves follow index
    /// order); when saving fails the tables are rolled back to the last saved state and the
    /// write fails with a 500, so memory never holds what the file does not. A write that
    /// fails its own checks leaves nothing behind either.
    fn write<R>(
        &self,
        f: impl FnOnce(&mut Tables) -> Result<R, ConsulError>,
    ) -> Result<R, ConsulError> {
        let mut t = self.lock();
        let Some(state) = &self.state else {
            return f(&mut t);
        };
        let before = t.index;
        // The rollback copy: O(state) like the snapshot itself, and far cheaper than the fsync.
        let backup = t.clone();
        let out = f(&mut t);
        if t.index == before {
            return out;
        }
        let value = match out {
            Ok(v) => v,
            Err(e) => {
                *t = backup;
                return Err(e);
            }
        };
        let saved = snapshot::render(&t, &self.opts)
            .map_err(|e| PersistError {
                path: state.path().to_path_buf(),
                kind: PersistErrorKind::Render(e.to_string()),
            })
            .and_then(|bytes| state.save(&bytes));
        match saved {
            Ok(()) => Ok(value),
            Err(e) => {
                *t = backup;
                tracing::error!(error = %e, "a write was refused because the state could not be saved");
                Err(ConsulError::plain(format!(
                    "iamconform: the change was not applied because the ACL state could not be saved: {e}"
                )))
            }
        }
    }

    /// The SecretID of the token `set_initial_management` created last, while it exists.
    pub fn initial_management_secret(&self) -> Option<Secret<String>> {
        let t = self.lock();
        let accessor = t.initial_management.as_ref()?;
        t.tokens.get(accessor).map(|x| x.secret_id.clone())
    }
}

fn fresh_tables(clock: &Clock) -> Tables {
    let mut t = Tables::default();
    let idx = {
        t.index += 1;
        t.index
    };
    t.policies.insert(
        GLOBAL_MANAGEMENT_ID.to_string(),
        Policy {
            id: GLOBAL_MANAGEMENT_ID.to_string(),
            name: GLOBAL_MANAGEMENT_NAME.to_string(),
            description: "Builtin Policy that grants unlimited access".to_string(),
            rules: GLOBAL_MANAGEMENT_RULES.to_string(),
            datacenters: Vec::new(),
            hash: hash_parts(&[GLOBAL_MANAGEMENT_NAME, GLOBAL_MANAGEMENT_RULES]),
            create_index: idx,
            modify_index: idx,
            ent: EntMeta::default(),
        },
    );
    let now = clock.now();
    t.tokens.insert(
        ANONYMOUS_TOKEN_ID.to_string(),
        Token {
            accessor_id: ANONYMOUS_TOKEN_ID.to_string(),
            secret_id: Secret::new("anonymous".to_string()),
            description: "Anonymous Token".to_string(),
            policies: Vec::new(),
            roles: Vec::new(),
            service_identities: Vec::new(),
            node_identities: Vec::new(),
            templated_policies: Vec::new(),
            local: false,
            auth_method: String::new(),
            auth_method_namespace: String::new(),
            expiration_time: None,
            create_time: now,
            hash: hash_parts(&["Anonymous Token"]),
            create_index: idx,
            modify_index: idx,
            ent: EntMeta::default(),
        },
    );
    t.namespaces.insert(
        DEFAULT.to_string(),
        Namespace {
            name: DEFAULT.to_string(),
            description: "Builtin Default Namespace".to_string(),
            meta: BTreeMap::new(),
            acls: None,
            partition: DEFAULT.to_string(),
            create_index: idx,
            modify_index: idx,
        },
    );
    t.partitions.insert(
        DEFAULT.to_string(),
        ("Builtin Default Partition".to_string(), idx, idx),
    );
    t
}

impl Store {
    /// The store's options.
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// The store's clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave the tables half-written in a way that
        // matters more than stopping the emulator, so a poisoned lock is simply reused.
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    // ---------------------------------------------------------------- tokens: resolution

    fn resolve(&self, t: &Tables, caller: &Caller) -> Result<Authorizer, ConsulError> {
        let now = self.clock.now();
        let token = match caller {
            Caller::Internal => return Ok(Authorizer::internal()),
            Caller::Token(None) => t.tokens.get(ANONYMOUS_TOKEN_ID),
            Caller::Token(Some(secret)) => {
                let found = find_by_secret(t, secret.expose());
                match found {
                    Some(tok) if !tok.is_expired(now) => Some(tok),
                    _ => return Err(ConsulError::AclNotFound(None)),
                }
            }
        };
        let Some(token) = token else {
            return Err(ConsulError::AclNotFound(None));
        };
        let mut policy_ids: Vec<&str> = token.policies.iter().map(String::as_str).collect();
        for rid in &token.roles {
            if let Some(role) = t.roles.get(rid) {
                policy_ids.extend(role.policies.iter().map(String::as_str));
            }
        }
        let management = policy_ids.contains(&GLOBAL_MANAGEMENT_ID);
        let rules = policy_ids
            .iter()
            .filter_map(|id| t.policies.get(*id))
            // A policy limited to other datacenters does not apply here.
            .filter(|p| p.datacenters.is_empty() || p.datacenters.contains(&self.opts.datacenter))
            .map(|p| p.rules.as_str());
        Ok(Authorizer::from_rules(
            &token.accessor_id,
            management,
            &token.ent.namespace,
            rules,
        ))
    }

    /// Resolves a caller and requires `resource:level`.
    fn authorize(
        &self,
        t: &Tables,
        caller: &Caller,
        resource: Resource,
        level: Level,
    ) -> Result<Authorizer, ConsulError> {
        let authz = self.resolve(t, caller)?;
        authz.require(resource, level)?;
        Ok(authz)
    }

    /// The token behind a secret, for audit records: accessor, description, create time.
    pub fn audit_identity(
        &self,
        secret: Option<&Secret<String>>,
    ) -> Option<(String, String, String)> {
        let t = self.lock();
        let now = self.clock.now();
        let tok = match secret {
            None => t.tokens.get(ANONYMOUS_TOKEN_ID),
            Some(s) => find_by_secret(&t, s.expose()).filter(|tok| !tok.is_expired(now)),
        }?;
        Some((
            tok.accessor_id.clone(),
            tok.description.clone(),
            gojson::format_time(tok.create_time),
        ))
    }

    // ---------------------------------------------------------------- namespaces (ENT)

    fn scope_ent(
        &self,
        t: &Tables,
        scope: &Scope,
        authz: &Authorizer,
    ) -> Result<EntMeta, ConsulError> {
        if !self.opts.enterprise {
            return Ok(EntMeta::default());
        }
        let partition = scope
            .partition
            .clone()
            .unwrap_or_else(|| DEFAULT.to_string());
        if !t.partitions.contains_key(&partition) {
            // UNVERIFIED: enterprise text for an unknown partition.
            return Err(ConsulError::plain(format!(
                "Partition {} does not exist",
                go_quote(&partition)
            )));
        }
        let namespace = scope
            .namespace
            .clone()
            .unwrap_or_else(|| authz.namespace.clone());
        if namespace != "*" && !t.namespaces.contains_key(&namespace) {
            // UNVERIFIED: enterprise text for an unknown namespace.
            return Err(ConsulError::plain(format!(
                "Namespace {} does not exist",
                go_quote(&namespace)
            )));
        }
        Ok(EntMeta {
            namespace,
            partition,
        })
    }

    fn not_found(&self, kind: &str, ent: &EntMeta) -> ConsulError {
        // acl.ACLResourceNotExistError; CE never names a namespace.
        if self.opts.enterprise {
            ConsulError::NotFound(format!(
                "Requested {kind} not found in namespace {}: ACL not found",
                ent.namespace
            ))
        } else {
            ConsulError::NotFound(format!("Requested {kind} does not exist: ACL not found"))
        }
    }

    fn render_ent(&self, obj: &mut Value, ent: &EntMeta) {
        if self.opts.enterprise
            && let Some(map) = obj.as_object_mut()
        {
            map.insert("Namespace".into(), Value::String(ent.namespace.clone()));
            map.insert("Partition".into(), Value::String(ent.partition.clone()));
        }
    }

    // ---------------------------------------------------------------- bootstrap

    /// `PUT /v1/acl/bootstrap`.
    pub fn bootstrap(
        &self,
        bootstrap_secret: Option<Secret<String>>,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
            if let Some(reset) = t.bootstrap_index {
                return Err(ConsulError::permission_denied_cause(format!(
                    "ACL bootstrap no longer allowed (reset index: {reset})"
                )));
            }
            let secret = bootstrap_secret
                .filter(|s| !s.expose().is_empty())
                .unwrap_or_else(|| Secret::new(new_uuid()));
            let tok =
                self.insert_management_token(t, secret, "Bootstrap Token (Global Management)");
            let token_json = self.render_token(t, &tok, true);
            let mut out = serde_json::Map::new();
            out.insert("ID".into(), Value::String(tok.secret_id.expose().clone()));
            if let Value::Object(m) = token_json {
                out.extend(m);
            }
            Ok(Value::Object(out))
        })
    }

    /// Creates the initial management token (`acl.tokens.initial_management`), which also
    /// ends the bootstrap window. Like Consul's leader on every start, it does nothing when a
    /// token with this SecretID exists. Fails only when a durable store cannot save.
    pub fn set_initial_management(&self, secret: Secret<String>) -> Result<(), ConsulError> {
        self.write(|t| {
            if find_by_secret(t, secret.expose()).is_some() {
                return Ok(());
            }
            let tok = self.insert_management_token(t, secret, "Initial Management Token");
            t.initial_management = Some(tok.accessor_id);
            Ok(())
        })
    }

    fn insert_management_token(
        &self,
        t: &mut Tables,
        secret: Secret<String>,
        description: &str,
    ) -> Token {
        let idx = next_index(t);
        let tok = Token {
            accessor_id: new_uuid(),
            secret_id: secret,
            description: description.to_string(),
            policies: vec![GLOBAL_MANAGEMENT_ID.to_string()],
            roles: Vec::new(),
            service_identities: Vec::new(),
            node_identities: Vec::new(),
            templated_policies: Vec::new(),
            local: false,
            auth_method: String::new(),
            auth_method_namespace: String::new(),
            expiration_time: None,
            create_time: self.clock.now(),
            hash: hash_parts(&[description, GLOBAL_MANAGEMENT_ID]),
            create_index: idx,
            modify_index: idx,
            ent: EntMeta::default(),
        };
        t.tokens.insert(tok.accessor_id.clone(), tok.clone());
        t.bootstrap_index = Some(idx);
        tok
    }

    // ---------------------------------------------------------------- policies

    /// `PUT /v1/acl/policy` and `PUT /v1/acl/policy/:id` (Consul `ACL.PolicySet`).
    pub fn policy_set(
        &self,
        caller: &Caller,
        scope: &Scope,
        input: PolicyInput,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
        // Step 1: acl:write.
        let authz = self.authorize(t, caller, Resource::Acl, Level::Write)?;
        let ent = self.scope_ent(
            t,
            &merge_scope(scope, input.namespace.as_ref(), input.partition.as_ref()),
            &authz,
        )?;
        // Step 2: name.
        if input.name.is_empty() {
            return Err(ConsulError::plain("Invalid Policy: no Name is set"));
        }
        if !validate::is_valid_policy_name(&input.name) {
            return Err(ConsulError::plain(
                "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
            ));
        }
        // Step 3: ID and uniqueness.
        let id_match = if input.id.is_empty() {
            None
        } else {
            if !validate::is_uuid(&input.id) {
                return Err(ConsulError::plain("Policy ID invalid UUID"));
            }
            t.policies.get(&input.id).cloned()
        };
        let name_match = t
            .policies
            .values()
            .find(|p| p.name == input.name && p.ent.namespace == ent.namespace)
            .cloned();
        let id = if input.id.is_empty() {
            if name_match.is_some() {
                return Err(ConsulError::plain(format!(
                    "Invalid Policy: A Policy with Name {} already exists",
                    go_quote(&input.name)
                )));
            }
            new_uuid()
        } else {
            let Some(existing) = &id_match else {
                return Err(ConsulError::plain(format!(
                    "cannot find policy {}",
                    input.id
                )));
            };
            if existing.name != input.name && name_match.is_some() {
                return Err(ConsulError::plain(format!(
                    "Invalid Policy: A policy with name {} already exists",
                    go_quote(&input.name)
                )));
            }
            if input.id == GLOBAL_MANAGEMENT_ID {
                if !input.datacenters.is_empty() {
                    return Err(ConsulError::plain(
                        "Changing the Datacenters of the builtin global-management policy is not permitted",
                    ));
                }
                if input.rules != existing.rules {
                    return Err(ConsulError::plain(
                        "Changing the Rules for the builtin global-management policy is not permitted",
                    ));
                }
            }
            input.id.clone()
        };
        // Step 4: rules.
        acl::parse_rules(&input.rules).map_err(ConsulError::plain)?;
        let idx = next_index(t);
        let dcs = input.datacenters.join(",");
        let policy = Policy {
            hash: hash_parts(&[&input.name, &input.description, &input.rules, &dcs]),
            id: id.clone(),
            name: input.name,
            description: input.description,
            rules: input.rules,
            datacenters: input.datacenters,
            create_index: id_match.as_ref().map_or(idx, |p| p.create_index),
            modify_index: idx,
            ent,
        };
        t.policies.insert(id, policy.clone());
        Ok(self.render_policy(&policy))
        })
    }

    /// `GET /v1/acl/policy/:id`, `GET /v1/acl/policy/name/:name`.
    pub fn policy_get(
        &self,
        caller: &Caller,
        scope: &Scope,
        key: Key<'_>,
    ) -> Result<Value, ConsulError> {
        let t = self.lock();
        let authz = self.authorize(&t, caller, Resource::Acl, Level::Read)?;
        let ent = self.scope_ent(&t, scope, &authz)?;
        let found = match key {
            Key::Id(id) => t.policies.get(id),
            Key::Name(name) => t
                .policies
                .values()
                .find(|p| p.name == name && p.ent.namespace == ent.namespace),
        };
        found
            .map(|p| self.render_policy(p))
            .ok_or_else(|| self.not_found("policy", &ent))
    }

    /// `DELETE /v1/acl/policy/:id`.
    pub fn policy_delete(&self, caller: &Caller, id: &str) -> Result<(), ConsulError> {
        self.write(|t| {
            self.authorize(t, caller, Resource::Acl, Level::Write)?;
            if !t.policies.contains_key(id) {
                return Ok(());
            }
            if id == GLOBAL_MANAGEMENT_ID {
                return Err(ConsulError::plain(
                    "Delete operation not permitted on the builtin global-management policy",
                ));
            }
            next_index(t);
            t.policies.remove(id);
            Ok(())
        })
    }

    /// `GET /v1/acl/policies` (stubs).
    pub fn policy_list(&self, caller: &Caller, scope: &Scope) -> Result<Value, ConsulError> {
        let t = self.lock();
        let authz = self.authorize(&t, caller, Resource::Acl, Level::Read)?;
        let ent = self.scope_ent(&t, scope, &authz)?;
        let items = t
            .policies
            .values()
            .filter(|p| ns_matches(&ent, &p.ent))
            .map(|p| {
                let mut v = json!({
                    "ID": p.id, "Name": p.name, "Description": p.description,
                });
                if let Some(m) = v.as_object_mut() {
                    if !p.datacenters.is_empty() {
                        m.insert("Datacenters".into(), json!(p.datacenters));
                    }
                    m.insert("Hash".into(), json!(b64(&p.hash)));
                    m.insert("CreateIndex".into(), json!(p.create_index));
                    m.insert("ModifyIndex".into(), json!(p.modify_index));
                }
                self.render_ent(&mut v, &p.ent);
                v
            })
            .collect();
        Ok(Value::Array(items))
    }

    fn render_policy(&self, p: &Policy) -> Value {
        let mut v =
            json!({ "ID": p.id, "Name": p.name, "Description": p.description, "Rules": p.rules });
        if let Some(m) = v.as_object_mut() {
            if !p.datacenters.is_empty() {
                m.insert("Datacenters".into(), json!(p.datacenters));
            }
            m.insert("Hash".into(), json!(b64(&p.hash)));
            m.insert("CreateIndex".into(), json!(p.create_index));
            m.insert("ModifyIndex".into(), json!(p.modify_index));
        }
        self.render_ent(&mut v, &p.ent);
        v
    }

    // ---------------------------------------------------------------- roles

    /// `PUT /v1/acl/role` and `PUT /v1/acl/role/:id` (Consul `ACL.RoleSet`).
    pub fn role_set(
        &self,
        caller: &Caller,
        scope: &Scope,
        input: RoleInput,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
        let authz = self.authorize(t, caller, Resource::Acl, Level::Write)?;
        let ent = self.scope_ent(
            t,
            &merge_scope(scope, input.namespace.as_ref(), input.partition.as_ref()),
            &authz,
        )?;
        if input.name.is_empty() {
            return Err(ConsulError::plain("Invalid Role: no Name is set"));
        }
        if !validate::is_valid_role_name(&input.name) {
            return Err(ConsulError::plain(
                "Invalid Role: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
            ));
        }
        let name_match = t
            .roles
            .values()
            .find(|r| r.name == input.name && r.ent.namespace == ent.namespace)
            .cloned();
        let existing = if input.id.is_empty() {
            if name_match.is_some() {
                return Err(ConsulError::plain(format!(
                    "Invalid Role: A Role with Name {} already exists",
                    go_quote(&input.name)
                )));
            }
            None
        } else {
            if !validate::is_uuid(&input.id) {
                return Err(ConsulError::plain("Role ID invalid UUID"));
            }
            let Some(existing) = t.roles.get(&input.id).cloned() else {
                return Err(ConsulError::plain(format!("cannot find role {}", input.id)));
            };
            if existing.name != input.name && name_match.is_some() {
                return Err(ConsulError::plain(format!(
                    "Invalid Role: A role with name {} already exists",
                    go_quote(&input.name)
                )));
            }
            Some(existing)
        };
        let policies = normalize_policy_links(t, &input.policies, &ent.namespace)?;
        for s in &input.service_identities {
            if s.service_name.is_empty() {
                return Err(ConsulError::plain(
                    "Service identity is missing the service name field on this role",
                ));
            }
            if !validate::is_valid_service_identity_name(&s.service_name) {
                return Err(ConsulError::plain(format!(
                    "Service identity {} has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
                    go_quote(&s.service_name)
                )));
            }
        }
        for n in &input.node_identities {
            if n.node_name.is_empty() {
                return Err(ConsulError::plain(
                    "Node identity is missing the node name field on this role",
                ));
            }
            if !validate::is_valid_node_identity_name(&n.node_name) {
                return Err(ConsulError::plain(
                    "Node identity has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
                ));
            }
            if n.datacenter.is_empty() {
                return Err(ConsulError::plain(
                    "Node identity is missing the datacenter field on this role",
                ));
            }
        }
        check_templated_policies(&input.templated_policies)?;
        let idx = next_index(t);
        let id = existing.as_ref().map_or_else(new_uuid, |r| r.id.clone());
        let role = Role {
            hash: hash_parts(&[
                &input.name,
                &input.description,
                &policies.join(","),
                &format!("{:?}", input.service_identities),
                &format!("{:?}", input.node_identities),
            ]),
            id: id.clone(),
            name: input.name,
            description: input.description,
            policies,
            service_identities: dedup(input.service_identities),
            node_identities: dedup(input.node_identities),
            templated_policies: input.templated_policies,
            create_index: existing.as_ref().map_or(idx, |r| r.create_index),
            modify_index: idx,
            ent,
        };
        t.roles.insert(id, role.clone());
        Ok(self.render_role(t, &role))
        })
    }

    /// `GET /v1/acl/role/:id`, `GET /v1/acl/role/name/:name`.
    pub fn role_get(
        &self,
        caller: &Caller,
        scope: &Scope,
        key: Key<'_>,
    ) -> Result<Value, ConsulError> {
        let t = self.lock();
        let authz = self.authorize(&t, caller, Resource::Acl, Level::Read)?;
        let ent = self.scope_ent(&t, scope, &authz)?;
        let found = match key {
            Key::Id(id) => t.roles.get(id),
            Key::Name(name) => t
                .roles
                .values()
                .find(|r| r.name == name && r.ent.namespace == ent.namespace),
        };
        found
            .map(|r| self.render_role(&t, r))
            .ok_or_else(|| self.not_found("role", &ent))
    }

    /// `DELETE /v1/acl/role/:id`.
    pub fn role_delete(&self, caller: &Caller, id: &str) -> Result<(), ConsulError> {
        self.write(|t| {
            self.authorize(t, caller, Resource::Acl, Level::Write)?;
            if t.roles.remove(id).is_some() {
                next_index(t);
            }
            Ok(())
        })
    }

    /// `GET /v1/acl/roles?policy=`.
    pub fn role_list(
        &self,
        caller: &Caller,
        scope: &Scope,
        policy: Option<&str>,
    ) -> Result<Value, ConsulError> {
        let t = self.lock();
        let authz = self.authorize(&t, caller, Resource::Acl, Level::Read)?;
        let ent = self.scope_ent(&t, scope, &authz)?;
        let items = t
            .roles
            .values()
            .filter(|r| ns_matches(&ent, &r.ent))
            .filter(|r| policy.is_none_or(|p| r.policies.iter().any(|x| x == p)))
            .map(|r| self.render_role(&t, r))
            .collect();
        Ok(Value::Array(items))
    }

    fn render_role(&self, t: &Tables, r: &Role) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("ID".into(), json!(r.id));
        m.insert("Name".into(), json!(r.name));
        m.insert("Description".into(), json!(r.description));
        let links = policy_links(t, &r.policies);
        if !links.is_empty() {
            m.insert("Policies".into(), Value::Array(links));
        }
        if !r.service_identities.is_empty() {
            m.insert("ServiceIdentities".into(), json!(r.service_identities));
        }
        if !r.node_identities.is_empty() {
            m.insert("NodeIdentities".into(), json!(r.node_identities));
        }
        if !r.templated_policies.is_empty() {
            m.insert("TemplatedPolicies".into(), json!(r.templated_policies));
        }
        m.insert("Hash".into(), json!(b64(&r.hash)));
        m.insert("CreateIndex".into(), json!(r.create_index));
        m.insert("ModifyIndex".into(), json!(r.modify_index));
        let mut v = Value::Object(m);
        self.render_ent(&mut v, &r.ent);
        v
    }

    // ---------------------------------------------------------------- tokens

    /// `PUT /v1/acl/token` (Consul `TokenWriter.Create`, not from login).
    pub fn token_create(
        &self,
        caller: &Caller,
        scope: &Scope,
        input: TokenInput,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
            let authz = self.authorize(t, caller, Resource::Acl, Level::Write)?;
            let ent = self.scope_ent(
                t,
                &merge_scope(scope, input.namespace.as_ref(), input.partition.as_ref()),
                &authz,
            )?;
            // Step 1: AccessorID.
            let accessor_id = if input.accessor_id.is_empty() {
                new_uuid()
            } else {
                check_token_id(&input.accessor_id)
                    .map_err(|e| ConsulError::plain(format!("Invalid Token: AccessorID - {e}")))?;
                if id_in_use(t, &input.accessor_id) {
                    return Err(ConsulError::plain(
                        "Invalid Token: AccessorID is already in use",
                    ));
                }
                input.accessor_id.clone()
            };
            // Step 2: SecretID.
            let secret = match input
                .secret_id
                .as_ref()
                .map(|s| s.0.expose().as_str())
                .filter(|s| !s.is_empty())
            {
                None => new_uuid(),
                Some(s) => {
                    check_token_id(s).map_err(|e| {
                        ConsulError::plain(format!("Invalid Token: SecretID - {e}"))
                    })?;
                    if id_in_use(t, s) {
                        return Err(ConsulError::plain(
                            "Invalid Token: SecretID is already in use",
                        ));
                    }
                    s.to_string()
                }
            };
            // Step 3: expiry.
            let create_time = self.clock.now();
            let mut expiration_time = input.expiration_time;
            if input.expiration_ttl < 0 {
                return Err(ConsulError::plain(format!(
                    "Token Expiration TTL '{}' should be > 0",
                    gojson::format_duration(input.expiration_ttl)
                )));
            } else if input.expiration_ttl > 0 {
                if expiration_time.is_some() {
                    return Err(ConsulError::plain(
                        "Token Expiration TTL and Expiration Time cannot both be set",
                    ));
                }
                expiration_time = Some(create_time + Duration::nanoseconds(input.expiration_ttl));
            }
            if let Some(exp) = expiration_time {
                if exp < create_time {
                    return Err(ConsulError::plain(
                        "ExpirationTime cannot be before CreateTime",
                    ));
                }
                let expires_in = exp - create_time;
                if expires_in > MAX_TTL {
                    return Err(ConsulError::plain(format!(
                        "ExpirationTime cannot be more than {} in the future (was {})",
                        dur(MAX_TTL),
                        dur(expires_in)
                    )));
                }
                if expires_in < MIN_TTL {
                    return Err(ConsulError::plain(format!(
                        "ExpirationTime cannot be less than {} in the future (was {})",
                        dur(MIN_TTL),
                        dur(expires_in)
                    )));
                }
            }
            // Step 4: only logins may set AuthMethod.
            if !input.auth_method.is_empty() {
                return Err(ConsulError::plain(
                    "AuthMethod field is disallowed outside of login",
                ));
            }
            // Step 5: links and identities (TokenWriter.write).
            let spec = self.normalize_token_spec(t, &input, &ent.namespace)?;
            let idx = next_index(t);
            let tok = Token {
                hash: token_hash(&input.description, input.local, &spec),
                accessor_id: accessor_id.clone(),
                secret_id: Secret::new(secret),
                description: input.description,
                policies: spec.policies,
                roles: spec.roles,
                service_identities: spec.service_identities,
                node_identities: spec.node_identities,
                templated_policies: spec.templated_policies,
                local: input.local,
                auth_method: String::new(),
                auth_method_namespace: String::new(),
                expiration_time,
                create_time,
                create_index: idx,
                modify_index: idx,
                ent,
            };
            t.tokens.insert(accessor_id, tok.clone());
            Ok(self.render_token(t, &tok, true))
        })
    }

    /// `PUT /v1/acl/token/:accessor` (Consul `TokenWriter.Update`).
    pub fn token_update(
        &self,
        caller: &Caller,
        scope: &Scope,
        input: TokenInput,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
            let authz = self.authorize(t, caller, Resource::Acl, Level::Write)?;
            let ent = self.scope_ent(
                t,
                &merge_scope(scope, input.namespace.as_ref(), input.partition.as_ref()),
                &authz,
            )?;
            let now = self.clock.now();
            if !validate::is_uuid(&input.accessor_id) {
                return Err(ConsulError::plain("AccessorID is not a valid UUID"));
            }
            let Some(existing) = t
                .tokens
                .get(&input.accessor_id)
                .filter(|x| !x.is_expired(now))
                .cloned()
            else {
                return Err(ConsulError::plain(format!(
                    "Cannot find token {}",
                    go_quote(&input.accessor_id)
                )));
            };
            if let Some(s) = input
                .secret_id
                .as_ref()
                .map(|s| s.0.expose())
                .filter(|s| !s.is_empty())
                && !existing.secret_id.ct_eq_bytes(s.as_bytes())
            {
                return Err(ConsulError::plain(
                    "Changing a token's SecretID is not permitted",
                ));
            }
            if input.local != existing.local {
                return Err(ConsulError::plain(format!(
                    "Cannot toggle local mode of {}",
                    input.accessor_id
                )));
            }
            if !input.auth_method.is_empty() && input.auth_method != existing.auth_method {
                return Err(ConsulError::plain(format!(
                    "Cannot change AuthMethod of {}",
                    input.accessor_id
                )));
            }
            if input.expiration_ttl != 0 {
                return Err(ConsulError::plain(format!(
                    "Cannot change expiration time of {}",
                    input.accessor_id
                )));
            }
            if let Some(exp) = input.expiration_time
                && existing.expiration_time != Some(exp)
            {
                return Err(ConsulError::plain(format!(
                    "Cannot change expiration time of {}",
                    input.accessor_id
                )));
            }
            let spec = self.normalize_token_spec(t, &input, &ent.namespace)?;
            let idx = next_index(t);
            let tok = Token {
                hash: token_hash(&input.description, input.local, &spec),
                description: input.description,
                policies: spec.policies,
                roles: spec.roles,
                service_identities: spec.service_identities,
                node_identities: spec.node_identities,
                templated_policies: spec.templated_policies,
                modify_index: idx,
                ..existing
            };
            t.tokens.insert(tok.accessor_id.clone(), tok.clone());
            Ok(self.render_token(t, &tok, true))
        })
    }

    fn normalize_token_spec(
        &self,
        t: &Tables,
        input: &TokenInput,
        namespace: &str,
    ) -> Result<TokenSpec, ConsulError> {
        let mut roles: Vec<String> = Vec::new();
        for link in &input.roles {
            let id = if link.id.is_empty() {
                t.roles
                    .values()
                    .find(|r| r.name == link.name && r.ent.namespace == namespace)
                    .map(|r| r.id.clone())
                    .ok_or_else(|| {
                        ConsulError::plain(format!(
                            "No such ACL role with name {}",
                            go_quote(&link.name)
                        ))
                    })?
            } else {
                if !t.roles.contains_key(&link.id) {
                    return Err(ConsulError::plain(format!(
                        "No such ACL role with ID {}",
                        go_quote(&link.id)
                    )));
                }
                link.id.clone()
            };
            if !roles.contains(&id) {
                roles.push(id);
            }
        }
        let policies = normalize_policy_links(t, &input.policies, namespace)?;
        for s in &input.service_identities {
            if s.service_name.is_empty() {
                return Err(ConsulError::plain(
                    "Service identity is missing the service name field on this token",
                ));
            }
            if input.local && !s.datacenters.is_empty() {
                return Err(ConsulError::plain(format!(
                    "Service identity {} cannot specify a list of datacenters on a local token",
                    go_quote(&s.service_name)
                )));
            }
            if !validate::is_valid_service_identity_name(&s.service_name) {
                return Err(ConsulError::plain(format!(
                    "Service identity {} has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
                    go_quote(&s.service_name)
                )));
            }
        }
        for n in &input.node_identities {
            if n.node_name.is_empty() {
                return Err(ConsulError::plain(
                    "Node identity is missing the node name field on this token",
                ));
            }
            if n.datacenter.is_empty() {
                return Err(ConsulError::plain(
                    "Node identity is missing the datacenter field on this token",
                ));
            }
            if !validate::is_valid_node_identity_name(&n.node_name) {
                return Err(ConsulError::plain(
                    "Node identity has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed",
                ));
            }
        }
        if !input.rules.is_empty() {
            return Err(ConsulError::plain(
                "Rules cannot be specified for this token",
            ));
        }
        if !input.type_.is_empty() {
            return Err(ConsulError::plain(
                "Type cannot be specified for this token",
            ));
        }
        check_templated_policies(&input.templated_policies)?;
        Ok(TokenSpec {
            policies,
            roles,
            service_identities: dedup(input.service_identities.clone()),
            node_identities: dedup(input.node_identities.clone()),
            templated_policies: input.templated_policies.clone(),
        })
    }

    /// `PUT /v1/acl/token/:accessor/clone` (Consul `ACL.TokenClone`).
    pub fn token_clone(
        &self,
        caller: &Caller,
        accessor: &str,
        description: &str,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
            self.authorize(t, caller, Resource::Acl, Level::Write)?;
            let now = self.clock.now();
            let Some(src) = t
                .tokens
                .get(accessor)
                .filter(|x| !x.is_expired(now))
                .cloned()
            else {
                return Err(ConsulError::AclNotFound(None));
            };
            if !src.auth_method.is_empty() {
                return Err(ConsulError::plain(
                    "Cannot clone a token created from an auth method",
                ));
            }
            let idx = next_index(t);
            let description = if description.is_empty() {
                src.description.clone()
            } else {
                description.to_string()
            };
            let tok = Token {
                accessor_id: new_uuid(),
                secret_id: Secret::new(new_uuid()),
                hash: hash_parts(&[&description, &src.policies.join(","), &src.roles.join(",")]),
                description,
                create_time: now,
                create_index: idx,
                modify_index: idx,
                ..src
            };
            t.tokens.insert(tok.accessor_id.clone(), tok.clone());
            Ok(self.render_token(t, &tok, true))
        })
    }

    /// `GET /v1/acl/token/:accessor`.
    pub fn token_get(
        &self,
        caller: &Caller,
        scope: &Scope,
        accessor: &str,
    ) -> Result<Value, ConsulError> {
        let t = self.lock();
        let authz = self.authorize(&t, caller, Resource::Acl, Level::Read)?;
        let ent = self.scope_ent(&t, scope, &authz)?;
        let now = self.clock.now();
        let tok = t
            .tokens
            .get(accessor)
            .filter(|x| !x.is_expired(now))
            .ok_or_else(|| self.not_found("token", &ent))?;
        Ok(self.render_token(&t, tok, authz.allowed(Resource::Acl, Level::Write)))
    }

    /// `GET /v1/acl/token/self`: any valid token may read itself.
    pub fn token_self(&self, caller: &Caller) -> Result<Value, ConsulError> {
        let t = self.lock();
        let now = self.clock.now();
        let secret = match caller {
            Caller::Token(Some(s)) => s.expose().clone(),
            // No token: Consul looks up the agent's default user token, which the emulator
            // does not configure, so the lookup of "" finds nothing.
            Caller::Token(None) | Caller::Internal => return Err(ConsulError::AclNotFound(None)),
        };
        // UNVERIFIED: newest Consul may answer 404 `Supplied token does not exist` here (its
        // handler has that branch); the spec documents 403 `ACL not found`, kept here.
        let tok = find_by_secret(&t, &secret)
            .filter(|x| !x.is_expired(now))
            .ok_or(ConsulError::AclNotFound(None))?;
        Ok(self.render_token(&t, tok, true))
    }

    /// `DELETE /v1/acl/token/:accessor`.
    pub fn token_delete(&self, caller: &Caller, accessor: &str) -> Result<(), ConsulError> {
        self.write(|t| {
            self.authorize(t, caller, Resource::Acl, Level::Write)?;
            if !validate::is_uuid(accessor) {
                return Err(ConsulError::plain(
                    "Accessor ID is missing or an invalid UUID",
                ));
            }
            if accessor == ANONYMOUS_TOKEN_ID {
                return Err(ConsulError::plain(
                    "Delete operation not permitted on the anonymous token",
                ));
            }
            let Some(tok) = t.tokens.get(accessor) else {
                return Ok(());
            };
            if let Caller::Token(Some(s)) = caller
                && tok.secret_id.ct_eq(s)
            {
                return Err(ConsulError::plain(
                    "Deletion of the request's authorization token is not permitted",
                ));
            }
            t.tokens.remove(accessor);
            next_index(t);
            Ok(())
        })
    }

    /// `GET /v1/acl/tokens` (stubs; expired tokens are left out).
    pub fn token_list(
        &self,
        caller: &Caller,
        scope: &Scope,
        filter: &TokenFilter,
    ) -> Result<Value, ConsulError> {
        let t = self.lock();
        let authz = self.authorize(&t, caller, Resource::Acl, Level::Read)?;
        let ent = self.scope_ent(&t, scope, &authz)?;
        let now = self.clock.now();
        let show_secret = authz.allowed(Resource::Acl, Level::Write);
        let items = t
            .tokens
            .values()
            .filter(|x| !x.is_expired(now))
            .filter(|x| ns_matches(&ent, &x.ent))
            .filter(|x| {
                filter
                    .policy
                    .as_ref()
                    .is_none_or(|p| x.policies.contains(p))
            })
            .filter(|x| filter.role.as_ref().is_none_or(|r| x.roles.contains(r)))
            .filter(|x| {
                filter
                    .auth_method
                    .as_ref()
                    .is_none_or(|m| &x.auth_method == m)
            })
            .filter(|x| {
                filter
                    .service_name
                    .as_ref()
                    .is_none_or(|s| x.service_identities.iter().any(|i| &i.service_name == s))
            })
            .map(|x| self.render_token(&t, x, show_secret))
            .collect();
        Ok(Value::Array(items))
    }

    fn render_token(&self, t: &Tables, x: &Token, show_secret: bool) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("AccessorID".into(), json!(x.accessor_id));
        let secret = if show_secret {
            x.secret_id.expose().as_str()
        } else {
            REDACTED
        };
        m.insert("SecretID".into(), json!(secret));
        m.insert("Description".into(), json!(x.description));
        let policies = policy_links(t, &x.policies);
        if !policies.is_empty() {
            m.insert("Policies".into(), Value::Array(policies));
        }
        let roles: Vec<Value> = x
            .roles
            .iter()
            .filter_map(|id| t.roles.get(id))
            .map(|r| json!({"ID": r.id, "Name": r.name}))
            .collect();
        if !roles.is_empty() {
            m.insert("Roles".into(), Value::Array(roles));
        }
        if !x.service_identities.is_empty() {
            m.insert("ServiceIdentities".into(), json!(x.service_identities));
        }
        if !x.node_identities.is_empty() {
            m.insert("NodeIdentities".into(), json!(x.node_identities));
        }
        if !x.templated_policies.is_empty() {
            m.insert("TemplatedPolicies".into(), json!(x.templated_policies));
        }
        m.insert("Local".into(), json!(x.local));
        if !x.auth_method.is_empty() {
            m.insert("AuthMethod".into(), json!(x.auth_method));
            if self.opts.enterprise {
                // UNVERIFIED: JSON spelling of ACLAuthMethodEnterpriseMeta.
                m.insert("AuthMethodNamespace".into(), json!(x.auth_method_namespace));
            }
        }
        if let Some(exp) = x.expiration_time {
            m.insert("ExpirationTime".into(), json!(gojson::format_time(exp)));
        }
        m.insert(
            "CreateTime".into(),
            json!(gojson::format_time(x.create_time)),
        );
        m.insert("Hash".into(), json!(b64(&x.hash)));
        m.insert("CreateIndex".into(), json!(x.create_index));
        m.insert("ModifyIndex".into(), json!(x.modify_index));
        let mut v = Value::Object(m);
        self.render_ent(&mut v, &x.ent);
        v
    }

    /// Whether a token with this accessor exists and is not expired (harness checks).
    pub fn token_exists(&self, accessor: &str) -> bool {
        let now = self.clock.now();
        self.lock()
            .tokens
            .get(accessor)
            .is_some_and(|x| !x.is_expired(now))
    }

    /// Accessor IDs of live tokens created by logins (harness checks).
    pub fn login_token_accessors(&self) -> Vec<String> {
        let now = self.clock.now();
        self.lock()
            .tokens
            .values()
            .filter(|x| !x.auth_method.is_empty() && !x.is_expired(now))
            .map(|x| x.accessor_id.clone())
            .collect()
    }

    // ---------------------------------------------------------------- auth methods

    /// `PUT /v1/acl/auth-method[/:name]` (Consul `ACL.AuthMethodSet`).
    pub fn auth_method_set(
        &self,
        caller: &Caller,
        scope: &Scope,
        input: AuthMethodInput,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
        // Step 1: acl:write.
        let authz = self.authorize(t, caller, Resource::Acl, Level::Write)?;
        let ent = self.scope_ent(
            t,
            &merge_scope(scope, input.namespace.as_ref(), input.partition.as_ref()),
            &authz,
        )?;
        // Step 2: name.
        if input.name.is_empty() {
            return Err(ConsulError::plain("Invalid Auth Method: no Name is set"));
        }
        if !validate::is_valid_auth_method_name(&input.name) {
            return Err(ConsulError::plain(
                "Invalid Auth Method: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
            ));
        }
        // Step 3: enterprise namespace rules only on methods in the default namespace.
        if self.opts.enterprise && !input.namespace_rules.is_empty() && ent.namespace != DEFAULT {
            // UNVERIFIED: enterprise text.
            return Err(ConsulError::plain(
                "Invalid Auth Method: namespace rules may only be used with auth methods in the default namespace",
            ));
        }
        // Step 4: type.
        let key = (ent.namespace.clone(), input.name.clone());
        let existing = t.methods.get(&key).map(|e| e.method.clone());
        let type_ = match &existing {
            Some(ex) if input.type_.is_empty() => ex.type_.clone(),
            Some(ex) if ex.type_ != input.type_ => {
                return Err(ConsulError::plain(
                    "the Type field of an Auth Method is immutable",
                ));
            }
            _ => input.type_.clone(),
        };
        if existing.is_none() && !REGISTERED_TYPES.contains(&type_.as_str()) {
            return Err(ConsulError::plain(format!(
                "Invalid Auth Method: Type should be one of: [{}]",
                REGISTERED_TYPES.join(" ")
            )));
        }
        // Step 5: token locality.
        match input.token_locality.as_str() {
            "" | "local" | "global" => {}
            _ => {
                return Err(ConsulError::plain(
                    "Invalid Auth Method: TokenLocality should be one of 'local' or 'global'",
                ));
            }
        }
        // Step 6: MaxTokenTTL bounds.
        if input.max_token_ttl != 0 {
            let ttl = Duration::nanoseconds(input.max_token_ttl);
            if ttl > MAX_TTL {
                return Err(ConsulError::plain(format!(
                    "MaxTokenTTL {} cannot be more than {}",
                    dur(ttl),
                    dur(MAX_TTL)
                )));
            }
            if ttl < MIN_TTL {
                return Err(ConsulError::plain(format!(
                    "MaxTokenTTL {} cannot be less than {}",
                    dur(ttl),
                    dur(MIN_TTL)
                )));
            }
        }
        // Step 7: build the validator (config checks of the method type).
        if type_ != "aws-iam" {
            // The emulator only implements the method it exists for.
            return Err(ConsulError::plain(format!(
                "Invalid Auth Method: type {} is not implemented by iamconform",
                go_quote(&type_)
            )));
        }
        let config_value = input
            .config
            .clone()
            .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
        let config = aws_iam::parse_config(&config_value)
            .map_err(|e| ConsulError::plain(format!("Invalid Auth Method: {e}")))?;
        // Namespace-rule selectors must compile like binding-rule selectors; the compiled
        // ones are kept for logins.
        let schema = aws_iam::selector_schema();
        let mut namespace_selectors = Vec::with_capacity(input.namespace_rules.len());
        for rule in &input.namespace_rules {
            let compiled = binder::CompiledSelector::compile(&rule.selector, &schema).map_err(|e| {
                // UNVERIFIED: enterprise text.
                ConsulError::plain(format!(
                    "Invalid Auth Method: invalid namespace rule: Selector is invalid: {e}"
                ))
            })?;
            namespace_selectors.push(compiled);
        }
        let validator = aws_iam::Validator::new(config.clone(), self.opts.outbound.clone());
        let idx = next_index(t);
        let method = AuthMethod {
            name: input.name.clone(),
            type_,
            display_name: input.display_name,
            description: input.description,
            max_token_ttl: input.max_token_ttl,
            token_locality: input.token_locality,
            config: config_value,
            namespace_rules: input.namespace_rules,
            create_index: existing.as_ref().map_or(idx, |m| m.create_index),
            modify_index: idx,
            ent,
        };
        let rendered = self.render_method(&method, true);
        t.methods.insert(
            key,
            MethodEntry {
                method,
                config: Arc::new(config),
                validator: Arc::new(validator),
                namespace_selectors,
            },
        );
        Ok(rendered)
        })
    }

    /// `GET /v1/acl/auth-method/:name`.
    pub fn auth_method_get(
        &self,
        caller: &Caller,
        scope: &Scope,
        name: &str,
    ) -> Result<Value, ConsulError> {
        let t = self.lock();
        let authz = self.authorize(&t, caller, Resource::Acl, Level::Read)?;
        let ent = self.scope_ent(&t, scope, &authz)?;
        t.methods
            .get(&(ent.namespace.clone(), name.to_string()))
            .map(|e| self.render_method(&e.method, true))
            .ok_or_else(|| self.not_found("auth method", &ent))
    }

    /// `DELETE /v1/acl/auth-method/:name`: also deletes its binding rules and its tokens.
    pub fn auth_method_delete(
        &self,
        caller: &Caller,
        scope: &Scope,
        name: &str,
    ) -> Result<(), ConsulError> {
        self.write(|t| {
            let authz = self.authorize(t, caller, Resource::Acl, Level::Write)?;
            let ent = self.scope_ent(t, scope, &authz)?;
            if t.methods
                .remove(&(ent.namespace.clone(), name.to_string()))
                .is_none()
            {
                return Ok(());
            }
            t.rules.retain(|_, e| {
                !(e.rule.auth_method == name && e.rule.ent.namespace == ent.namespace)
            });
            t.tokens.retain(|_, x| {
                !(x.auth_method == name && x.auth_method_namespace == ent.namespace)
            });
            next_index(t);
            Ok(())
        })
    }

    /// `GET /v1/acl/auth-methods` (stubs without `Config`).
    pub fn auth_method_list(&self, caller: &Caller, scope: &Scope) -> Result<Value, ConsulError> {
        let t = self.lock();
        let authz = self.authorize(&t, caller, Resource::Acl, Level::Read)?;
        let ent = self.scope_ent(&t, scope, &authz)?;
        let items = t
            .methods
            .values()
            .filter(|e| ns_matches(&ent, &e.method.ent))
            .map(|e| self.render_method(&e.method, false))
            .collect();
        Ok(Value::Array(items))
    }

    fn render_method(&self, m: &AuthMethod, full: bool) -> Value {
        let mut o = serde_json::Map::new();
        o.insert("Name".into(), json!(m.name));
        o.insert("Type".into(), json!(m.type_));
        if !m.display_name.is_empty() {
            o.insert("DisplayName".into(), json!(m.display_name));
        }
        if !m.description.is_empty() {
            o.insert("Description".into(), json!(m.description));
        }
        if m.max_token_ttl != 0 {
            o.insert(
                "MaxTokenTTL".into(),
                json!(gojson::format_duration(m.max_token_ttl)),
            );
        }
        if !m.token_locality.is_empty() {
            o.insert("TokenLocality".into(), json!(m.token_locality));
        }
        if full {
            // Go prints map[string]interface{} with sorted keys.
            o.insert("Config".into(), gojson::sorted(&m.config));
            if !m.namespace_rules.is_empty() {
                o.insert("NamespaceRules".into(), json!(m.namespace_rules));
            }
        }
        o.insert("CreateIndex".into(), json!(m.create_index));
        o.insert("ModifyIndex".into(), json!(m.modify_index));
        let mut v = Value::Object(o);
        self.render_ent(&mut v, &m.ent);
        v
    }

    // ---------------------------------------------------------------- binding rules

    /// `PUT /v1/acl/binding-rule[/:id]` (Consul `ACL.BindingRuleSet`, spec §3.4).
    pub fn binding_rule_set(
        &self,
        caller: &Caller,
        scope: &Scope,
        input: BindingRuleInput,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
            // Step 1: acl:write.
            let authz = self.authorize(t, caller, Resource::Acl, Level::Write)?;
            let ent = self.scope_ent(
                t,
                &merge_scope(scope, input.namespace.as_ref(), input.partition.as_ref()),
                &authz,
            )?;
            let mut rule_auth_method = input.auth_method.clone();
            // Step 2: ID.
            let existing = if input.id.is_empty() {
                None
            } else {
                if !validate::is_uuid(&input.id) {
                    return Err(ConsulError::plain("Binding Rule ID invalid UUID"));
                }
                let Some(existing) = t.rules.get(&input.id).map(|e| e.rule.clone()) else {
                    return Err(ConsulError::plain(format!(
                        "cannot find binding rule {}",
                        input.id
                    )));
                };
                if rule_auth_method.is_empty() {
                    rule_auth_method = existing.auth_method.clone();
                } else if existing.auth_method != rule_auth_method {
                    return Err(ConsulError::plain(
                        "the AuthMethod field of an Binding Rule is immutable",
                    ));
                }
                Some(existing)
            };
            // Step 3: auth method.
            if rule_auth_method.is_empty() {
                return Err(ConsulError::plain(
                    "Invalid Binding Rule: no AuthMethod is set",
                ));
            }
            let Some(entry) = t
                .methods
                .get(&(ent.namespace.clone(), rule_auth_method.clone()))
            else {
                return Err(ConsulError::plain(format!(
                    "cannot find auth method with name {}",
                    go_quote(&rule_auth_method)
                )));
            };
            let blank = aws_iam::blank_identity(&entry.config);
            // Step 4: selector, compiled here once for every later login.
            let selector =
                binder::CompiledSelector::compile(&input.selector, &aws_iam::selector_schema())
                    .map_err(|e| {
                        ConsulError::plain(format!(
                            "invalid Binding Rule: Selector is invalid: {e}"
                        ))
                    })?;
            // Step 5: type and name present.
            if input.bind_type.is_empty() {
                return Err(ConsulError::plain(
                    "Invalid Binding Rule: no BindType is set",
                ));
            }
            if input.bind_name.is_empty() {
                return Err(ConsulError::plain(
                    "Invalid Binding Rule: no BindName is set",
                ));
            }
            // Step 6: known type.
            if !binder::BIND_TYPES.contains(&input.bind_type.as_str()) {
                return Err(ConsulError::plain(format!(
                    "Invalid Binding Rule: unknown BindType {}",
                    go_quote(&input.bind_type)
                )));
            }
            // Step 7: the name template must produce a valid name.
            let available: Vec<String> = blank.vars.keys().cloned().collect();
            // UNVERIFIED: the newest handler's outer wrapping; older ones used this prefix.
            binder::check_binding_rule(
                &input.bind_type,
                &input.bind_name,
                input.bind_vars.as_ref(),
                &available,
            )
            .map_err(|e| {
                ConsulError::plain(format!("Invalid Binding Rule: invalid BindName: {e}"))
            })?;
            let idx = next_index(t);
            let rule = BindingRule {
                id: existing.as_ref().map_or_else(new_uuid, |r| r.id.clone()),
                description: input.description,
                auth_method: rule_auth_method,
                selector: input.selector,
                bind_type: input.bind_type,
                bind_name: input.bind_name,
                bind_vars: input.bind_vars,
                create_index: existing.as_ref().map_or(idx, |r| r.create_index),
                modify_index: idx,
                ent,
            };
            let rendered = self.render_rule(&rule);
            t.rules
                .insert(rule.id.clone(), RuleEntry { rule, selector });
            Ok(rendered)
        })
    }

    /// `GET /v1/acl/binding-rule/:id`.
    pub fn binding_rule_get(
        &self,
        caller: &Caller,
        scope: &Scope,
        id: &str,
    ) -> Result<Value, ConsulError> {
        let t = self.lock();
        let authz = self.authorize(&t, caller, Resource::Acl, Level::Read)?;
        let ent = self.scope_ent(&t, scope, &authz)?;
        t.rules
            .get(id)
            .map(|e| self.render_rule(&e.rule))
            .ok_or_else(|| self.not_found("binding rule", &ent))
    }

    /// `DELETE /v1/acl/binding-rule/:id`.
    pub fn binding_rule_delete(&self, caller: &Caller, id: &str) -> Result<(), ConsulError> {
        self.write(|t| {
            self.authorize(t, caller, Resource::Acl, Level::Write)?;
            if t.rules.remove(id).is_some() {
                next_index(t);
            }
            Ok(())
        })
    }

    /// `GET /v1/acl/binding-rules?authmethod=`.
    pub fn binding_rule_list(
        &self,
        caller: &Caller,
        scope: &Scope,
        auth_method: Option<&str>,
    ) -> Result<Value, ConsulError> {
        let t = self.lock();
        let authz = self.authorize(&t, caller, Resource::Acl, Level::Read)?;
        let ent = self.scope_ent(&t, scope, &authz)?;
        let items = t
            .rules
            .values()
            .map(|e| &e.rule)
            .filter(|r| ns_matches(&ent, &r.ent))
            .filter(|r| auth_method.is_none_or(|m| r.auth_method == m))
            .map(|r| self.render_rule(r))
            .collect();
        Ok(Value::Array(items))
    }

    fn render_rule(&self, r: &BindingRule) -> Value {
        let mut o = serde_json::Map::new();
        o.insert("ID".into(), json!(r.id));
        o.insert("Description".into(), json!(r.description));
        o.insert("AuthMethod".into(), json!(r.auth_method));
        o.insert("Selector".into(), json!(r.selector));
        o.insert("BindType".into(), json!(r.bind_type));
        o.insert("BindName".into(), json!(r.bind_name));
        if let Some(v) = &r.bind_vars {
            o.insert("BindVars".into(), json!(v));
        }
        o.insert("CreateIndex".into(), json!(r.create_index));
        o.insert("ModifyIndex".into(), json!(r.modify_index));
        let mut v = Value::Object(o);
        self.render_ent(&mut v, &r.ent);
        v
    }

    // ---------------------------------------------------------------- namespaces (ENT)

    /// `PUT /v1/namespace[/:name]`.
    pub fn namespace_set(
        &self,
        caller: &Caller,
        input: NamespaceInput,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
            self.authorize(t, caller, Resource::Operator, Level::Write)?;
            if input.name.is_empty() {
                // UNVERIFIED: enterprise text.
                return Err(ConsulError::bad_request("Namespace name is required"));
            }
            if !validate::is_valid_namespace_name(&input.name) {
                // UNVERIFIED: enterprise text.
                return Err(ConsulError::plain(format!(
                    "Invalid Namespace name {}",
                    go_quote(&input.name)
                )));
            }
            let partition = input
                .partition
                .clone()
                .unwrap_or_else(|| DEFAULT.to_string());
            if !t.partitions.contains_key(&partition) {
                return Err(ConsulError::plain(format!(
                    "Partition {} does not exist",
                    go_quote(&partition)
                )));
            }
            let existing = t.namespaces.get(&input.name).cloned();
            let idx = next_index(t);
            let ns = Namespace {
                name: input.name.clone(),
                description: input.description,
                meta: input.meta,
                acls: input.acls,
                partition,
                create_index: existing.as_ref().map_or(idx, |n| n.create_index),
                modify_index: idx,
            };
            let out = render_namespace(&ns);
            t.namespaces.insert(input.name, ns);
            Ok(out)
        })
    }

    /// `GET /v1/namespace/:name`.
    pub fn namespace_get(&self, caller: &Caller, name: &str) -> Result<Value, ConsulError> {
        let t = self.lock();
        self.resolve(&t, caller)?;
        t.namespaces
            .get(name)
            .map(render_namespace)
            // UNVERIFIED: Consul Enterprise answers 404 with an empty body.
            .ok_or_else(|| ConsulError::NotFound(String::new()))
    }

    /// `DELETE /v1/namespace/:name`: removes the namespace and every ACL object in it.
    pub fn namespace_delete(&self, caller: &Caller, name: &str) -> Result<(), ConsulError> {
        self.write(|t| {
            self.authorize(t, caller, Resource::Operator, Level::Write)?;
            if name == DEFAULT {
                // UNVERIFIED: enterprise text.
                return Err(ConsulError::plain("Cannot delete the default namespace"));
            }
            if t.namespaces.remove(name).is_none() {
                return Ok(());
            }
            t.policies.retain(|_, p| p.ent.namespace != name);
            t.roles.retain(|_, r| r.ent.namespace != name);
            t.tokens.retain(|_, x| x.ent.namespace != name);
            t.methods.retain(|(ns, _), _| ns != name);
            t.rules.retain(|_, e| e.rule.ent.namespace != name);
            next_index(t);
            Ok(())
        })
    }

    /// `GET /v1/namespaces`.
    pub fn namespace_list(&self, caller: &Caller) -> Result<Value, ConsulError> {
        let t = self.lock();
        self.resolve(&t, caller)?;
        Ok(Value::Array(
            t.namespaces.values().map(render_namespace).collect(),
        ))
    }

    /// `PUT /v1/partition[/:name]` (enterprise): creates or updates an admin partition.
    pub fn partition_set(
        &self,
        caller: &Caller,
        name: &str,
        description: &str,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
        self.authorize(t, caller, Resource::Operator, Level::Write)?;
        if !validate::is_valid_namespace_name(name) {
            // UNVERIFIED: enterprise text.
            return Err(ConsulError::plain(format!(
                "Invalid Partition name {}",
                go_quote(name)
            )));
        }
        let idx = next_index(t);
        let create = t.partitions.get(name).map_or(idx, |p| p.1);
        t.partitions
            .insert(name.to_string(), (description.to_string(), create, idx));
        // Every partition has a default namespace.
        Ok(
            json!({"Name": name, "Description": description, "CreateIndex": create, "ModifyIndex": idx}),
        )
        })
    }

    /// `GET /v1/partitions` (enterprise).
    pub fn partition_list(&self, caller: &Caller) -> Result<Value, ConsulError> {
        let t = self.lock();
        self.resolve(&t, caller)?;
        Ok(Value::Array(
            t.partitions
                .iter()
                .map(|(n, (d, c, m))| json!({"Name": n, "Description": d, "CreateIndex": c, "ModifyIndex": m}))
                .collect(),
        ))
    }

    // ---------------------------------------------------------------- login / logout

    /// Login step 1 (spec §4.3): load the auth method, or 403 `ACL not found: auth method
    /// "<n>" not found`.
    pub fn login_method(&self, scope: &Scope, name: &str) -> Result<LoginMethod, ConsulError> {
        let t = self.lock();
        let ns = if self.opts.enterprise {
            scope
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT.to_string())
        } else {
            DEFAULT.to_string()
        };
        let entry = t
            .methods
            .get(&(ns.clone(), name.to_string()))
            .ok_or_else(|| {
                ConsulError::AclNotFound(Some(format!("auth method {} not found", go_quote(name))))
            })?;
        Ok(LoginMethod {
            name: name.to_string(),
            namespace: ns,
            config: Arc::clone(&entry.config),
            validator: Arc::clone(&entry.validator),
        })
    }

    /// Login steps 4–6 (spec §3.5, §3.6): bind the verified identity and write the token,
    /// atomically. `description` is the finished token description.
    pub fn login_finish(
        &self,
        method: &LoginMethod,
        identity: &AuthIdentity,
        description: String,
    ) -> Result<Value, ConsulError> {
        self.write(|t| {
            // The method may have been deleted or replaced while the validator ran.
            let Some(entry) = t
                .methods
                .get(&(method.namespace.clone(), method.name.clone()))
            else {
                return Err(ConsulError::AclNotFound(Some(format!(
                    "auth method {} not found",
                    go_quote(&method.name)
                ))));
            };
            let am = &entry.method;
            // Step 1 (ENT): the token's namespace.
            let namespace = if self.opts.enterprise {
                let ns = binder::bind_namespace_compiled(
                    am.namespace_rules.iter().zip(&entry.namespace_selectors),
                    identity,
                    &am.ent.namespace,
                )
                .map_err(|e| ConsulError::plain(e.to_string()))?;
                if !t.namespaces.contains_key(&ns) {
                    // UNVERIFIED: enterprise behaviour for a namespace rule naming a missing namespace.
                    return Err(ConsulError::plain(format!(
                        "namespace {} does not exist",
                        go_quote(&ns)
                    )));
                }
                ns
            } else {
                DEFAULT.to_string()
            };
            // Steps 2–3: matching rules, in listing order (by ID), with the selectors compiled
            // when the rules were written.
            let rules = t
                .rules
                .values()
                .filter(|e| {
                    e.rule.auth_method == am.name && e.rule.ent.namespace == am.ent.namespace
                })
                .map(|e| (&e.rule, &e.selector));
            let opts = BindOptions {
                datacenter: self.opts.datacenter.clone(),
                reject_uppercase: self.opts.reject_uppercase_bind_vars,
            };
            let bindings =
                binder::bind_compiled(rules, identity, &namespace, &opts, &TablesTargets(t))
                    .map_err(|e| ConsulError::plain(e.to_string()))?;
            // Step 4: nothing bound.
            if bindings.is_none() {
                return Err(ConsulError::permission_denied());
            }
            let max_token_ttl = am.max_token_ttl;
            let local = am.token_locality != "global";
            let auth_method = am.name.clone();
            let auth_method_namespace = am.ent.namespace.clone();
            let partition = am.ent.partition.clone();
            let now = self.clock.now();
            let expiration_time =
                (max_token_ttl > 0).then(|| now + Duration::nanoseconds(max_token_ttl));
            let spec = TokenSpec::from(bindings);
            let idx = next_index(t);
            let tok = Token {
                hash: token_hash(&description, local, &spec),
                accessor_id: new_uuid(),
                secret_id: Secret::new(new_uuid()),
                description,
                policies: spec.policies,
                roles: spec.roles,
                service_identities: spec.service_identities,
                node_identities: spec.node_identities,
                templated_policies: spec.templated_policies,
                local,
                auth_method,
                auth_method_namespace,
                expiration_time,
                create_time: now,
                create_index: idx,
                modify_index: idx,
                ent: EntMeta {
                    namespace,
                    partition,
                },
            };
            t.tokens.insert(tok.accessor_id.clone(), tok.clone());
            Ok(self.render_token(t, &tok, true))
        })
    }

    /// `POST /v1/acl/logout` (Consul `TokenWriter.Delete(fromLogout=true)`).
    pub fn logout(&self, secret: &Secret<String>) -> Result<(), ConsulError> {
        self.write(|t| {
            let now = self.clock.now();
            let Some(tok) = find_by_secret(t, secret.expose()).filter(|x| !x.is_expired(now))
            else {
                return Err(ConsulError::AclNotFound(None));
            };
            if tok.auth_method.is_empty() {
                return Err(ConsulError::permission_denied_cause(
                    "token wasn't created via login",
                ));
            }
            let accessor = tok.accessor_id.clone();
            t.tokens.remove(&accessor);
            next_index(t);
            Ok(())
        })
    }

    /// The current raft-like index.
    pub fn index(&self) -> u64 {
        self.lock().index
    }
}

/// The auth method types Consul registers (its error lists them sorted).
pub const REGISTERED_TYPES: [&str; 4] = ["aws-iam", "jwt", "kubernetes", "oidc"];

struct TablesTargets<'a>(&'a Tables);

impl BindTargets for TablesTargets<'_> {
    fn role_id_by_name(&self, name: &str, namespace: &str) -> Option<String> {
        self.0
            .roles
            .values()
            .find(|r| r.name == name && r.ent.namespace == namespace)
            .map(|r| r.id.clone())
    }
    fn policy_id_by_name(&self, name: &str, namespace: &str) -> Option<String> {
        self.0
            .policies
            .values()
            .find(|p| p.name == name && p.ent.namespace == namespace)
            .map(|p| p.id.clone())
    }
}

struct TokenSpec {
    policies: Vec<String>,
    roles: Vec<String>,
    service_identities: Vec<ServiceIdentity>,
    node_identities: Vec<NodeIdentity>,
    templated_policies: Vec<TemplatedPolicy>,
}

impl From<Bindings> for TokenSpec {
    fn from(b: Bindings) -> Self {
        Self {
            policies: dedup(b.policies),
            roles: dedup(b.roles),
            service_identities: dedup(b.service_identities),
            node_identities: dedup(b.node_identities),
            templated_policies: b.templated_policies,
        }
    }
}

fn token_hash(description: &str, local: bool, spec: &TokenSpec) -> Vec<u8> {
    hash_parts(&[
        description,
        if local { "local" } else { "global" },
        &spec.policies.join(","),
        &spec.roles.join(","),
        &format!("{:?}", spec.service_identities),
        &format!("{:?}", spec.node_identities),
        &format!("{:?}", spec.templated_policies),
    ])
}

fn next_index(t: &mut Tables) -> u64 {
    t.index += 1;
    t.index
}

fn find_by_secret<'a>(t: &'a Tables, secret: &str) -> Option<&'a Token> {
    t.tokens
        .values()
        .find(|x| x.secret_id.ct_eq_bytes(secret.as_bytes()))
}

fn id_in_use(t: &Tables, id: &str) -> bool {
    t.tokens.contains_key(id) || find_by_secret(t, id).is_some()
}

fn check_token_id(id: &str) -> Result<(), String> {
    if id.starts_with(validate::RESERVED_PREFIX) {
        return Err(format!(
            "UUIDs with the prefix {} are reserved",
            go_quote(validate::RESERVED_PREFIX)
        ));
    }
    if !validate::is_uuid(id) {
        return Err("not a valid UUID".to_string());
    }
    Ok(())
}

fn normalize_policy_links(
    t: &Tables,
    links: &[Link],
    namespace: &str,
) -> Result<Vec<String>, ConsulError> {
    let mut out: Vec<String> = Vec::new();
    for link in links {
        let id = if link.id.is_empty() {
            t.policies
                .values()
                .find(|p| {
                    p.name == link.name
                        && (p.ent.namespace == namespace || p.id == GLOBAL_MANAGEMENT_ID)
                })
                .map(|p| p.id.clone())
                .ok_or_else(|| {
                    ConsulError::plain(format!(
                        "No such ACL policy with name {}",
                        go_quote(&link.name)
                    ))
                })?
        } else {
            if !t.policies.contains_key(&link.id) {
                return Err(ConsulError::plain(format!(
                    "No such ACL policy with ID {}",
                    go_quote(&link.id)
                )));
            }
            link.id.clone()
        };
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

fn check_templated_policies(tps: &[TemplatedPolicy]) -> Result<(), ConsulError> {
    for tp in tps {
        let Some(template) = binder::TEMPLATES
            .iter()
            .find(|x| x.name == tp.template_name)
        else {
            // UNVERIFIED: Consul's text for an unknown template name on a token or role.
            return Err(ConsulError::plain(format!(
                "templated policy with name {} does not exist",
                go_quote(&tp.template_name)
            )));
        };
        template
            .validate(tp.template_variables.as_ref())
            .map_err(|e| ConsulError::plain(format!("templated policy failed validation: {e}")))?;
    }
    Ok(())
}

fn policy_links(t: &Tables, ids: &[String]) -> Vec<Value> {
    ids.iter()
        .filter_map(|id| t.policies.get(id))
        .map(|p| json!({"ID": p.id, "Name": p.name}))
        .collect()
}

fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn ns_matches(scope: &EntMeta, obj: &EntMeta) -> bool {
    scope.namespace == "*" || scope.namespace == obj.namespace
}

fn merge_scope(scope: &Scope, ns: Option<&String>, partition: Option<&String>) -> Scope {
    // The body's Namespace/Partition fields win over query and header (spec §5.1).
    Scope {
        namespace: ns
            .filter(|s| !s.is_empty())
            .cloned()
            .or_else(|| scope.namespace.clone()),
        partition: partition
            .filter(|s| !s.is_empty())
            .cloned()
            .or_else(|| scope.partition.clone()),
    }
}

fn render_namespace(ns: &Namespace) -> Value {
    let mut o = serde_json::Map::new();
    o.insert("Name".into(), json!(ns.name));
    o.insert("Description".into(), json!(ns.description));
    if let Some(acls) = &ns.acls {
        o.insert("ACLs".into(), acls.clone());
    }
    if !ns.meta.is_empty() {
        o.insert("Meta".into(), json!(ns.meta));
    }
    o.insert("Partition".into(), json!(ns.partition));
    o.insert("CreateIndex".into(), json!(ns.create_index));
    o.insert("ModifyIndex".into(), json!(ns.modify_index));
    Value::Object(o)
}

#[cfg(test)]
mod tests;
