//! The identity store: accounts, roles, users and their credentials, loaded from the
//! `fixtures/identities.yaml` format (see `shared/DESIGN.md`, "Identity fixtures").
//!
//! [`IdentityStore`] is immutable once built; scenarios layer overrides on top with
//! [`IdentityStore::merged`], which returns a new store. The store answers two questions on
//! the hot path: which secret belongs to an access key ([`CredentialLookup`]) and which
//! principal the key speaks for ([`IdentityStore::principal_for_key`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use iamconform_secret::Secret;
use iamconform_sigv4::{CredentialLookup, KeyRecord};
use serde::Deserialize;
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest fixture file read, so a wrong path cannot make us read a huge file.
const MAX_FIXTURE_BYTES: u64 = 16 * 1024 * 1024;

/// The creation date reported for identities whose fixture names none.
const DEFAULT_CREATE_DATE: &str = "2024-01-01T00:00:00Z";

/// The trust policy reported for roles whose fixture names none: an ECS task role.
const DEFAULT_ASSUME_ROLE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// A fixture file that could not be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file could not be read.
    #[error("cannot read identity fixtures {file}: {source}")]
    Io {
        /// The file name.
        file: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid; `line`/`column` are 1-based (0 when unknown).
    #[error("{file}:{line}:{column}: {message}\n  help: {help}")]
    Invalid {
        /// The file name (or `<inline>` for in-memory text).
        file: String,
        /// 1-based line of the offending node.
        line: u64,
        /// 1-based column of the offending node.
        column: u64,
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Any text as an account id, for unit tests of code that only carries it.
    #[cfg(test)]
    pub(crate) fn for_tests(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An IAM role.
#[derive(Debug, Clone)]
pub struct Role {
    /// The owning account.
    pub account: AccountId,
    /// The role name.
    pub name: String,
    /// The IAM path, `/` or `/a/b/`.
    pub path: String,
    /// The unique id, `AROA…`.
    pub id: String,
    /// `arn:aws:iam::<acct>:role/<path-without-leading-slash><name>`.
    pub arn: String,
    /// Tags in fixture order.
    pub tags: Vec<(String, String)>,
    /// IAM actions this role's sessions may call.
    pub allow: Vec<String>,
    /// `CreateDate`, ISO-8601 with whole seconds.
    pub create_date: String,
    /// `MaxSessionDuration` in seconds.
    pub max_session_duration: u32,
    /// The trust policy as JSON text (rendered URL-encoded).
    pub assume_role_policy: String,
}

/// An IAM user.
#[derive(Debug, Clone)]
pub struct User {
    /// The owning account.
    pub account: AccountId,
    /// The user name.
    pub name: String,
    /// The IAM path.
    pub path: String,
    /// The unique id, `AIDA…`.
    pub id: String,
    /// `arn:aws:iam::<acct>:user/<path-without-leading-slash><name>`.
    pub arn: String,
    /// Tags in fixture order.
    pub tags: Vec<(String, String)>,
    /// IAM actions this user may call.
    pub allow: Vec<String>,
    /// `CreateDate`, ISO-8601 with whole seconds.
    pub create_date: String,
}

/// The identity an access key speaks for.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A session of an assumed role (`ASIA…` keys).
    AssumedRole {
        /// The role.
        role: Arc<Role>,
        /// The role session name.
        session: String,
    },
    /// An IAM user (`AKIA…` keys).
    User(Arc<User>),
}

impl Principal {
    /// The ARN GetCallerIdentity reports: `arn:aws:sts::<acct>:assumed-role/<role>/<session>`
    /// (no role path) or the user's ARN with its path.
    // Spec: aws-sts-iam-sigv4 §3.3.
    pub fn caller_arn(&self) -> String {
        match self {
            // Joined by hand: this runs on every verified request, and `format!` showed in
            // profiles.
            Self::AssumedRole { role, session } => concat(&[
                "arn:aws:sts::",
                role.account.as_str(),
                ":assumed-role/",
                &role.name,
                "/",
                session,
            ]),
            Self::User(user) => user.arn.clone(),
        }
    }

    /// The `UserId` GetCallerIdentity reports: `<RoleId>:<session>` or the user's id.
    pub fn caller_user_id(&self) -> String {
        match self {
            Self::AssumedRole { role, session } => concat(&[&role.id, ":", session]),
            Self::User(user) => user.id.clone(),
        }
    }

    /// The owning account.
    pub fn account(&self) -> &AccountId {
        match self {
            Self::AssumedRole { role, .. } => &role.account,
            Self::User(user) => &user.account,
        }
    }

    /// Whether the principal's identity policy allows `action` (e.g. `iam:GetRole`).
    pub fn allows(&self, action: &str) -> bool {
        let allow = match self {
            Self::AssumedRole { role, .. } => &role.allow,
            Self::User(user) => &user.allow,
        };
        allow
            .iter()
            .any(|a| a == "*" || a == "iam:*" || a == action)
    }
}

/// An access key as stored: for the harness, which hands credentials to clients and scrubs
/// every secret from its reports.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    /// The access key id.
    pub access_key_id: String,
    /// Whom it speaks for.
    pub principal: Principal,
    /// The secret access key.
    pub secret_access_key: Secret<String>,
    /// The session token of a temporary credential.
    pub session_token: Option<Secret<String>>,
}

/// A role session's credentials as stored (used by the ECS endpoint).
#[derive(Debug, Clone)]
pub struct SessionCredentials {
    /// The role.
    pub role: Arc<Role>,
    /// The session name.
    pub session: String,
    /// `ASIA…`.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret<String>,
    /// The session token.
    pub session_token: Secret<String>,
    /// Expiry.
    pub expires: OffsetDateTime,
}

#[derive(Debug, Clone)]
struct KeyEntry {
    record: KeyRecord,
    principal: Principal,
}

/// All identities of all accounts, indexed for the request path.
#[derive(Debug, Clone, Default)]
pub struct IdentityStore {
    roles: BTreeMap<(AccountId, String), Arc<Role>>,
    users: BTreeMap<(AccountId, String), Arc<User>>,
    keys: HashMap<String, KeyEntry>,
    /// The parsed source, kept so overrides can be merged at the fixture level.
    source: Fixtures,
}

impl IdentityStore {
    /// Reads and validates a fixture file.
    pub fn load(path: &Path) -> Result<Self, FixtureError> {
        let file = path.display().to_string();
        let io = |source| FixtureError::Io {
            file: file.clone(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.len() > MAX_FIXTURE_BYTES {
            return Err(invalid::<()>(
                &file,
                None,
                format!(
                    "the file is {} bytes, more than the limit of {MAX_FIXTURE_BYTES}",
                    meta.len()
                ),
                "split the fixtures or point at the right file",
            ));
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::from_yaml(&file, &text)
    }

    /// Parses and validates fixture text; `file` names it in errors.
    pub fn from_yaml(file: &str, text: &str) -> Result<Self, FixtureError> {
        Self::build(parse_fixtures(file, text)?, file)
    }

    /// A new store with `overrides` layered on top: roles and users of the same account and
    /// name are replaced, others added; then the whole result is validated again (so an
    /// override that reuses another identity's access key is rejected).
    pub fn merged(&self, file: &str, overrides: &str) -> Result<Self, FixtureError> {
        let extra = parse_fixtures(file, overrides)?;
        let mut merged = self.source.clone();
        for (account_id, account) in extra.accounts {
            let target = merged
                .accounts
                .entry(account_id)
                .or_insert_with(|| RawAccount {
                    roles: Vec::new(),
                    users: Vec::new(),
                });
            for role in account.roles {
                target.roles.retain(|r| r.name.value != role.name.value);
                target.roles.push(role);
            }
            for user in account.users {
                target.users.retain(|u| u.name.value != user.name.value);
                target.users.push(user);
            }
        }
        Self::build(merged, file)
    }

    fn build(source: Fixtures, file: &str) -> Result<Self, FixtureError> {
        let mut store = Self::default();
        let mut key_sites: HashMap<String, Spanned<String>> = HashMap::new();
        let mut check_key = |key: &Spanned<String>| -> Result<(), FixtureError> {
            if let Some(first) = key_sites.get(&key.value) {
                return Err(invalid(
                    file,
                    Some(key),
                    format!(
                        "duplicate access key id {} (first used at line {})",
                        key.value,
                        first.referenced.line()
                    ),
                    "every access key id must be unique across all accounts; pick another id",
                ));
            }
            key_sites.insert(key.value.clone(), key.clone());
            Ok(())
        };
        for (account_key, account) in &source.accounts {
            let account_id = check_account_id(file, account_key)?;
            for raw in &account.roles {
                let role = Arc::new(build_role(file, &account_id, raw)?);
                if store
                    .roles
                    .insert((account_id.clone(), role.name.clone()), role.clone())
                    .is_some()
                {
                    return Err(invalid(
                        file,
                        Some(&raw.name),
                        format!("duplicate role {} in account {account_id}", role.name),
                        "role names are unique per account; rename or remove one",
                    ));
                }
                for session in &raw.sessions {
                    check_name(file, &session.name, "session name", 2, 64)?;
                    check_access_key_id(file, &session.access_key_id, "ASIA")?;
                    check_key(&session.access_key_id)?;
                    check_secret(file, &session.secret_access_key, "secret_access_key")?;
                    check_secret(file, &session.session_token, "session_token")?;
                    let expires = parse_time(file, &session.expires)?;
                    store.keys.insert(
                        session.access_key_id.value.clone(),
                        KeyEntry {
                            record: KeyRecord {
                                secret_access_key: Secret::new(
                                    session.secret_access_key.value.clone(),
                                ),
                                session_token: Some(Secret::new(
                                    session.session_token.value.clone(),
                                )),
                                expires: Some(expires),
                            },
                            principal: Principal::AssumedRole {
                                role: role.clone(),
                                session: session.name.value.clone(),
                            },
                        },
                    );
                }
            }
            for raw in &account.users {
                let user = Arc::new(build_user(file, &account_id, raw)?);
                if store
                    .users
                    .insert((account_id.clone(), user.name.clone()), user.clone())
                    .is_some()
                {
                    return Err(invalid(
                        file,
                        Some(&raw.name),
                        format!("duplicate user {} in account {account_id}", user.name),
                        "user names are unique per account; rename or remove one",
                    ));
                }
                for key in &raw.access_keys {
                    check_access_key_id(file, &key.access_key_id, "AKIA")?;
                    check_key(&key.access_key_id)?;
                    check_secret(file, &key.secret_access_key, "secret_access_key")?;
                    store.keys.insert(
                        key.access_key_id.value.clone(),
                        KeyEntry {
                            record: KeyRecord {
                                secret_access_key: Secret::new(key.secret_access_key.value.clone()),
                                session_token: None,
                                expires: None,
                            },
                            principal: Principal::User(user.clone()),
                        },
                    );
                }
            }
        }
        store.source = source;
        Ok(store)
    }

    /// The principal an access key speaks for.
    pub fn principal_for_key(&self, access_key_id: &str) -> Option<&Principal> {
        self.keys.get(access_key_id).map(|e| &e.principal)
    }

    /// A role by account and name.
    pub fn role(&self, account: &AccountId, name: &str) -> Option<&Arc<Role>> {
        self.roles.get(&(account.clone(), name.to_owned()))
    }

    /// A user by account and name.
    pub fn user(&self, account: &AccountId, name: &str) -> Option<&Arc<User>> {
        self.users.get(&(account.clone(), name.to_owned()))
    }

    /// A role by account id text and name.
    pub fn find_role(&self, account: &str, name: &str) -> Option<&Arc<Role>> {
        self.role(&AccountId(account.to_owned()), name)
    }

    /// Every role, ordered by account and name.
    pub fn roles(&self) -> impl Iterator<Item = &Arc<Role>> {
        self.roles.values()
    }

    /// Every user, ordered by account and name.
    pub fn users(&self) -> impl Iterator<Item = &Arc<User>> {
        self.users.values()
    }

    /// Every access key with its principal and secrets, ordered by principal (account, then
    /// role or user name) and then key id, so "the first key of a user" is well defined.
    pub fn credentials(&self) -> Vec<StoredCredential> {
        let mut all: Vec<StoredCredential> = self
            .keys
            .iter()
            .map(|(akid, entry)| StoredCredential {
                access_key_id: akid.clone(),
                principal: entry.principal.clone(),
                secret_access_key: entry.record.secret_access_key.clone(),
                session_token: entry.record.session_token.clone(),
            })
            .collect();
        all.sort_by(|a, b| {
            let key = |c: &StoredCredential| match &c.principal {
                Principal::AssumedRole { role, session } => (
                    role.account.clone(),
                    role.name.clone(),
                    session.clone(),
                    c.access_key_id.clone(),
                ),
                Principal::User(user) => (
                    user.account.clone(),
                    user.name.clone(),
                    String::new(),
                    c.access_key_id.clone(),
                ),
            };
            key(a).cmp(&key(b))
        });
        all
    }

    /// The credentials of a role session, e.g. to hand out over the ECS endpoint.
    pub fn session(&self, account: &str, role: &str, session: &str) -> Option<SessionCredentials> {
        self.keys
            .iter()
            .find_map(|(akid, entry)| match &entry.principal {
                Principal::AssumedRole {
                    role: r,
                    session: s,
                } if r.account.as_str() == account && r.name == role && s == session => {
                    Some(SessionCredentials {
                        role: r.clone(),
                        session: s.clone(),
                        access_key_id: akid.clone(),
                        secret_access_key: entry.record.secret_access_key.clone(),
                        session_token: entry.record.session_token.clone()?,
                        expires: entry.record.expires?,
                    })
                }
                _ => None,
            })
    }
}

impl CredentialLookup for IdentityStore {
    fn lookup(&self, access_key_id: &str) -> Option<KeyRecord> {
        self.keys.get(access_key_id).map(|e| e.record.clone())
    }

    fn lookup_ref(&self, access_key_id: &str) -> Option<std::borrow::Cow<'_, KeyRecord>> {
        self.keys
            .get(access_key_id)
            .map(|e| std::borrow::Cow::Borrowed(&e.record))
    }
}

/// The parts joined, in one allocation.
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// Derives a stable unique id: `prefix` + 17 characters of base32 (`A–Z`, `2–7`) from the
/// SHA-256 of the ARN, so ids survive restarts and match between GetCallerIdentity and
/// GetRole/GetUser.
pub fn derive_unique_id(prefix: &str, arn: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let digest = Sha256::digest(arn.as_bytes());
    let mut id = String::with_capacity(21);
    id.push_str(prefix);
    for byte in digest.iter().take(17) {
        id.push(char::from(ALPHABET[usize::from(byte & 31)]));
    }
    id
}

// ---- raw fixture format ------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixtures {
    #[serde(default)]
    accounts: BTreeMap<String, RawAccount>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    #[serde(default)]
    roles: Vec<RawRole>,
    #[serde(default)]
    users: Vec<RawUser>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRole {
    name: Spanned<String>,
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    id: Option<Spanned<String>>,
    #[serde(default)]
    tags: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    create_date: Option<Spanned<String>>,
    #[serde(default)]
    max_session_duration: Option<Spanned<u32>>,
    #[serde(default)]
    assume_role_policy: Option<Spanned<String>>,
    #[serde(default)]
    sessions: Vec<RawSession>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSession {
    name: Spanned<String>,
    access_key_id: Spanned<String>,
    secret_access_key: Spanned<String>,
    session_token: Spanned<String>,
    expires: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    name: Spanned<String>,
    #[serde(default)]
    path: Option<Spanned<String>>,
    #[serde(default)]
    id: Option<Spanned<String>>,
    #[serde(default)]
    tags: Option<Spanned<BTreeMap<String, String>>>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    create_date: Option<Spanned<String>>,
    #[serde(default)]
    access_keys: Vec<RawAccessKey>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccessKey {
    access_key_id: Spanned<String>,
    secret_access_key: Spanned<String>,
}

fn parse_fixtures(file: &str, text: &str) -> Result<Fixtures, FixtureError> {
    // serde-saphyr rejects duplicate mapping keys by default.
    serde_saphyr::from_str::<Fixtures>(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let message = tidy_parse_message(&e.without_snippet().to_string());
        let help = if message.contains("unknown field") {
            "remove the field or fix its spelling (see fixtures/identities.yaml for the format)"
        } else if message.contains("missing field") {
            "add the missing field"
        } else if message.contains("duplicate") {
            "remove one of the duplicate keys"
        } else {
            "fix the YAML at this position (see fixtures/identities.yaml for the format)"
        };
        FixtureError::Invalid {
            file: file.to_owned(),
            line,
            column,
            message,
            help: help.to_owned(),
        }
    })
}

/// Drops the parts of serde-saphyr's text that repeat our prefix or address the programmer.
fn tidy_parse_message(message: &str) -> String {
    let mut m = message.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    if let Some(i) = m.rfind(" at line ")
        && m.get(i + 9..).is_some_and(|tail| {
            tail.bytes()
                .all(|b| b.is_ascii_digit() || b == b',' || b == b' ' || b.is_ascii_lowercase())
        })
    {
        m.truncate(i);
    }
    m
}

fn invalid<T>(file: &str, at: Option<&Spanned<T>>, message: String, help: &str) -> FixtureError {
    let (line, column) = at
        .map(|s| (s.referenced.line(), s.referenced.column()))
        .unwrap_or((0, 0));
    FixtureError::Invalid {
        file: file.to_owned(),
        line,
        column,
        message,
        help: help.to_owned(),
    }
}

fn check_account_id(file: &str, account: &str) -> Result<AccountId, FixtureError> {
    if account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) {
        Ok(AccountId(account.to_owned()))
    } else {
        Err(invalid::<()>(
            file,
            None,
            format!("account id {account:?} is not 12 digits"),
            "AWS account ids are exactly 12 digits; quote them in YAML, e.g. \"123456789012\"",
        ))
    }
}

/// IAM names: 1–64 characters from `[\w+=,.@-]` (session names: 2–64).
fn check_name(
    file: &str,
    name: &Spanned<String>,
    what: &str,
    min: usize,
    max: usize,
) -> Result<(), FixtureError> {
    let v = &name.value;
    let ok_chars = v
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b));
    if ok_chars && (min..=max).contains(&v.len()) {
        Ok(())
    } else {
        Err(invalid(
            file,
            Some(name),
            format!("{what} {v:?} is not valid"),
            &format!("use {min} to {max} characters from letters, digits and _+=,.@-"),
        ))
    }
}

/// IAM paths: `/` or `/segments/` of printable ASCII, at most 512 characters.
fn check_path(file: &str, path: Option<&Spanned<String>>) -> Result<String, FixtureError> {
    let Some(path) = path else {
        return Ok("/".to_owned());
    };
    let v = &path.value;
    let printable = v.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if v.starts_with('/') && v.ends_with('/') && v.len() <= 512 && printable && !v.contains("//") {
        Ok(v.clone())
    } else {
        Err(invalid(
            file,
            Some(path),
            format!("path {v:?} is not a valid IAM path"),
            "a path is \"/\" or starts and ends with \"/\", e.g. \"/consul-ecs/\"",
        ))
    }
}

fn check_unique_id(
    file: &str,
    id: Option<&Spanned<String>>,
    prefix: &str,
    arn: &str,
) -> Result<String, FixtureError> {
    let Some(id) = id else {
        return Ok(derive_unique_id(prefix, arn));
    };
    let v = &id.value;
    let ok = v.len() == 21
        && v.starts_with(prefix)
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(v.clone())
    } else {
        Err(invalid(
            file,
            Some(id),
            format!("id {v:?} is not a valid unique id"),
            &format!(
                "use {prefix} followed by 17 uppercase letters or digits (21 characters), or omit the id to derive one"
            ),
        ))
    }
}

fn check_access_key_id(
    file: &str,
    key: &Spanned<String>,
    prefix: &str,
) -> Result<(), FixtureError> {
    let v = &key.value;
    let ok = v.len() == 20
        && v.starts_with(prefix)
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(invalid(
            file,
            Some(key),
            format!("access key id {v:?} is not valid here"),
            &format!(
                "use {prefix} followed by 16 uppercase letters or digits (ASIA for role sessions, AKIA for user keys)"
            ),
        ))
    }
}

fn check_secret(file: &str, secret: &Spanned<String>, what: &str) -> Result<(), FixtureError> {
    let v = &secret.value;
    if !v.is_empty() && v.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        Ok(())
    } else {
        // The value is a secret: never echo it.
        Err(invalid(
            file,
            Some(secret),
            format!("{what} is empty or contains whitespace or non-ASCII characters"),
            "use printable ASCII without spaces",
        ))
    }
}

fn check_allow(file: &str, allow: &[Spanned<String>]) -> Result<Vec<String>, FixtureError> {
    allow
        .iter()
        .map(|a| {
            let v = &a.value;
            let ok = v == "*"
                || v.split_once(':').is_some_and(|(svc, act)| {
                    !svc.is_empty()
                        && svc.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                        && !act.is_empty()
                        && act.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*')
                });
            if ok {
                Ok(v.clone())
            } else {
                Err(invalid(
                    file,
                    Some(a),
                    format!("action {v:?} is not an IAM action"),
                    "write actions as service:Action, e.g. iam:GetRole",
                ))
            }
        })
        .collect()
}

fn check_tags(
    file: &str,
    tags: Option<&Spanned<BTreeMap<String, String>>>,
) -> Result<Vec<(String, String)>, FixtureError> {
    let Some(tags) = tags else {
        return Ok(Vec::new());
    };
    if tags.value.len() > 50 {
        return Err(invalid(
            file,
            Some(tags),
            format!("{} tags, more than IAM's limit of 50", tags.value.len()),
            "remove tags",
        ));
    }
    for (k, v) in &tags.value {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(invalid(
                file,
                Some(tags),
                format!("tag {k:?} is not valid"),
                "tag keys have 1–128 characters, values at most 256",
            ));
        }
    }
    Ok(tags
        .value
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

fn parse_time(file: &str, at: &Spanned<String>) -> Result<OffsetDateTime, FixtureError> {
    OffsetDateTime::parse(&at.value, &Rfc3339).map_err(|e| {
        invalid(
            file,
            Some(at),
            format!("time {:?} is not RFC 3339: {e}", at.value),
            "write times like 2099-01-01T00:00:00Z",
        )
    })
}

fn create_date(file: &str, at: Option<&Spanned<String>>) -> Result<String, FixtureError> {
    match at {
        None => Ok(DEFAULT_CREATE_DATE.to_owned()),
        Some(at) => {
            let t = parse_time(file, at)?;
            Ok(crate::xml::iso8601(t))
        }
    }
}

fn build_role(file: &str, account: &AccountId, raw: &RawRole) -> Result<Role, FixtureError> {
    check_name(file, &raw.name, "role name", 1, 64)?;
    let path = check_path(file, raw.path.as_ref())?;
    let name = raw.name.value.clone();
    let arn = format!("arn:aws:iam::{account}:role{path}{name}");
    let id = check_unique_id(file, raw.id.as_ref(), "AROA", &arn)?;
    let max_session_duration = match &raw.max_session_duration {
        None => 3600,
        Some(d) if (3600..=43200).contains(&d.value) => d.value,
        Some(d) => {
            return Err(invalid(
                file,
                Some(d),
                format!("max_session_duration {} is out of range", d.value),
                "use 3600 to 43200 seconds",
            ));
        }
    };
    let assume_role_policy = match &raw.assume_role_policy {
        None => DEFAULT_ASSUME_ROLE_POLICY.to_owned(),
        Some(p) => {
            if serde_json::from_str::<serde_json::Value>(&p.value).is_err() {
                return Err(invalid(
                    file,
                    Some(p),
                    "assume_role_policy is not JSON".to_owned(),
                    "write the trust policy as a JSON string",
                ));
            }
            p.value.clone()
        }
    };
    Ok(Role {
        account: account.clone(),
        name,
        path,
        id,
        arn,
        tags: check_tags(file, raw.tags.as_ref())?,
        allow: check_allow(file, &raw.allow)?,
        create_date: create_date(file, raw.create_date.as_ref())?,
        max_session_duration,
        assume_role_policy,
    })
}

fn build_user(file: &str, account: &AccountId, raw: &RawUser) -> Result<User, FixtureError> {
    check_name(file, &raw.name, "user name", 1, 64)?;
    let path = check_path(file, raw.path.as_ref())?;
    let name = raw.name.value.clone();
    let arn = format!("arn:aws:iam::{account}:user{path}{name}");
    let id = check_unique_id(file, raw.id.as_ref(), "AIDA", &arn)?;
    Ok(User {
        account: account.clone(),
        name,
        path,
        id,
        arn,
        tags: check_tags(file, raw.tags.as_ref())?,
        allow: check_allow(file, &raw.allow)?,
        create_date: create_date(file, raw.create_date.as_ref())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
accounts:
  "123456789012":
    roles:
      - name: web-task
        path: /consul-ecs/
        tags: { consul.hashicorp.com.service-name: web }
        allow: [iam:GetRole]
        sessions:
          - name: task-1
            access_key_id: ASIAEXAMPLEWEB000001
            secret_access_key: "abcdefghijabcdefghijabcdefghijabcdefghij"
            session_token: "tok"
            expires: 2099-01-01T00:00:00Z
    users:
      - name: ci-user
        id: AIDAEXAMPLECIUSER001X
        allow: [iam:GetUser]
        access_keys:
          - { access_key_id: AKIAEXAMPLECIUSER001, secret_access_key: "s3cr3t" }
"#;

    fn err_of(text: &str) -> (u64, u64, String) {
        match IdentityStore::from_yaml("f.yaml", text) {
            Err(FixtureError::Invalid {
                line,
                column,
                message,
                ..
            }) => (line, column, message),
            other => panic!("expected an invalid-fixture error, got {other:?}"),
        }
    }

    #[test]
    fn loads_roles_users_and_keys() {
        let store = IdentityStore::from_yaml("f.yaml", GOOD).unwrap();
        let p = store.principal_for_key("ASIAEXAMPLEWEB000001").unwrap();
        assert_eq!(
            p.caller_arn(),
            "arn:aws:sts::123456789012:assumed-role/web-task/task-1"
        );
        let role = store.find_role("123456789012", "web-task").unwrap();
        assert_eq!(
            role.arn,
            "arn:aws:iam::123456789012:role/consul-ecs/web-task"
        );
        assert!(role.id.starts_with("AROA") && role.id.len() == 21);
        assert_eq!(p.caller_user_id(), format!("{}:task-1", role.id));
        let rec = store.lookup("ASIAEXAMPLEWEB000001").unwrap();
        assert!(rec.session_token.is_some() && rec.expires.is_some());
        let rec = store.lookup("AKIAEXAMPLECIUSER001").unwrap();
        assert!(rec.session_token.is_none());
        let u = store.principal_for_key("AKIAEXAMPLECIUSER001").unwrap();
        assert_eq!(u.caller_user_id(), "AIDAEXAMPLECIUSER001X");
        assert!(u.allows("iam:GetUser") && !u.allows("iam:GetRole"));
    }

    #[test]
    fn derived_ids_are_stable_and_well_formed() {
        let a = derive_unique_id("AROA", "arn:aws:iam::1:role/x");
        assert_eq!(a, derive_unique_id("AROA", "arn:aws:iam::1:role/x"));
        assert_ne!(a, derive_unique_id("AROA", "arn:aws:iam::1:role/y"));
        assert_eq!(a.len(), 21);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
    }

    #[test]
    fn unknown_field_is_rejected_with_position() {
        let text =
            "accounts:\n  \"123456789012\":\n    roles:\n      - name: a\n        colour: red\n";
        let (line, _, message) = err_of(text);
        assert_eq!(line, 5, "{message}");
        assert!(
            message.starts_with("unknown field `colour`, expected one of name,"),
            "{message}"
        );
        assert!(!message.contains("at line"), "{message}");
    }

    #[test]
    fn duplicate_access_key_is_rejected_with_position() {
        let text = format!(
            "{GOOD}      - name: other\n        access_keys:\n          - {{ access_key_id: AKIAEXAMPLECIUSER001, secret_access_key: x }}\n"
        );
        let (line, column, message) = err_of(&text);
        assert!(message.contains("duplicate access key id"), "{message}");
        assert!(message.contains("line 20"), "{message}");
        assert_eq!((line, column), (23, 30));
    }

    #[test]
    fn bad_ids_paths_and_accounts_are_rejected() {
        let (line, _, m) = err_of(&GOOD.replace("AIDAEXAMPLECIUSER001X", "AROAEXAMPLECIUSER001X"));
        assert!(m.contains("not a valid unique id"), "{m}");
        assert_eq!(line, 17);
        let (line, _, m) = err_of(&GOOD.replace("/consul-ecs/", "consul-ecs"));
        assert!(m.contains("not a valid IAM path"), "{m}");
        assert_eq!(line, 6);
        let (_, _, m) = err_of(&GOOD.replace("123456789012", "1234"));
        assert!(m.contains("not 12 digits"), "{m}");
        let (_, _, m) = err_of(&GOOD.replace("ASIAEXAMPLEWEB000001", "AKIAEXAMPLEWEB000001"));
        assert!(m.contains("access key id"), "{m}");
        let (line, _, m) = err_of(&GOOD.replace("2099-01-01T00:00:00Z", "tomorrow"));
        assert!(m.contains("RFC 3339"), "{m}");
        assert_eq!(line, 14);
    }

    #[test]
    fn duplicate_yaml_keys_are_rejected() {
        let text =
            "accounts:\n  \"123456789012\":\n    roles: []\n  \"123456789012\":\n    users: []\n";
        let (line, column, message) = err_of(text);
        assert_eq!((line, column), (4, 3));
        assert_eq!(message, "duplicate mapping key: 123456789012");
    }

    #[test]
    fn error_display_names_file_line_and_help() {
        let e = IdentityStore::from_yaml("fixtures/x.yaml", &GOOD.replace("/consul-ecs/", "x"))
            .unwrap_err();
        let s = e.to_string();
        assert!(s.starts_with("fixtures/x.yaml:6:"), "{s}");
        assert!(s.contains("help:"), "{s}");
    }

    #[test]
    fn secrets_are_not_echoed_in_errors() {
        let text = GOOD.replace("s3cr3t", "has space");
        let e = IdentityStore::from_yaml("f.yaml", &text).unwrap_err();
        assert!(!e.to_string().contains("has space"));
    }

    #[test]
    fn merge_replaces_and_adds_identities() {
        let store = IdentityStore::from_yaml("f.yaml", GOOD).unwrap();
        let over = r#"
accounts:
  "123456789012":
    roles:
      - name: web-task
        tags: { consul.hashicorp.com.service-name: web2 }
  "210987654321":
    users:
      - name: other
"#;
        let merged = store.merged("override", over).unwrap();
        let role = merged.find_role("123456789012", "web-task").unwrap();
        assert_eq!(role.path, "/");
        assert_eq!(role.tags[0].1, "web2");
        assert!(merged.lookup("ASIAEXAMPLEWEB000001").is_none());
        assert!(merged.lookup("AKIAEXAMPLECIUSER001").is_some());
        assert_eq!(merged.users().count(), 2);
        // Reusing an existing key in an override is rejected.
        let clash = r#"
accounts:
  "210987654321":
    users:
      - name: other
        access_keys: [{ access_key_id: AKIAEXAMPLECIUSER001, secret_access_key: x }]
"#;
        assert!(store.merged("override", clash).is_err());
    }
}
