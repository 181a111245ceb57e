//! The validated scenario: what the runner executes.
//!
//! Produced from the raw serde mirror (`raw.rs`) by the loader, which guarantees the invariants
//! documented on each type (names are well formed, saved tokens are defined before use,
//! expectations fit their step). No I/O happens here: presets and identity overrides are kept as
//! given and resolved by the runner, which knows the fixture directory and backends.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// One scenario file, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// What the scenario proves, in one line; the name used in reports and `--filter`.
    pub name: String,
    /// Free-form tags for filtering, e.g. `login`, `ecs`; unique, no whitespace.
    pub tags: Vec<String>,
    /// What the environment must offer; an unmet requirement skips the scenario with the reason.
    /// Includes [`Requirement::Enterprise`] whenever `consul.enterprise` is true.
    pub requires: Vec<Requirement>,
    /// Identity overrides merged over `fixtures/identities.yaml` (same format: a mapping with
    /// `accounts`), as given; the AWS emulator validates the content.
    pub identities: Option<IdentityOverrides>,
    /// Options of the AWS emulator.
    pub aws: AwsOptions,
    /// The Consul state to create before the first step.
    pub consul: ConsulSetup,
    /// The steps, in order; never empty.
    pub steps: Vec<Step>,
}

/// Identity overrides as written (a JSON object). They may hold seeded secret keys and session
/// tokens, so `Debug` shows only the account IDs; hand the JSON to the AWS emulator's fixture
/// loader, which moves the secrets into `Secret`s.
#[derive(Clone, PartialEq)]
pub struct IdentityOverrides(serde_json::Map<String, serde_json::Value>);

impl IdentityOverrides {
    pub(crate) fn new(map: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(map)
    }

    /// The overrides as JSON, in the format of `fixtures/identities.yaml`.
    pub fn expose_json(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    /// The overrides as a JSON value, in the format of `fixtures/identities.yaml`.
    pub fn into_json(self) -> serde_json::Value {
        serde_json::Value::Object(self.0)
    }
}

impl fmt::Debug for IdentityOverrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let accounts: Vec<&String> = self
            .0
            .get("accounts")
            .and_then(serde_json::Value::as_object)
            .map(|a| a.keys().collect())
            .unwrap_or_default();
        f.debug_struct("IdentityOverrides")
            .field("accounts", &accounts)
            .finish_non_exhaustive()
    }
}

/// Something a scenario needs from where it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Requirement {
    /// Consul Enterprise features: namespaces, partitions.
    Enterprise,
    /// A container runtime, for scenarios that only make sense against real Consul images.
    Docker,
}

impl Requirement {
    /// Every requirement, in the order of their names in [`Requirement::NAMES`].
    pub const ALL: [Requirement; 2] = [Requirement::Enterprise, Requirement::Docker];
    /// The names scenario files use, in the order of [`Requirement::ALL`].
    pub const NAMES: [&'static str; 2] = ["enterprise", "docker"];

    /// The name scenario files use.
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Enterprise => "enterprise",
            Requirement::Docker => "docker",
        }
    }

    /// The requirement with this name, if any.
    pub fn from_name(name: &str) -> Option<Requirement> {
        Requirement::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Options of the AWS emulator for this scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AwsOptions {
    /// Reject credential scopes and hosts naming a region AWS does not have, instead of
    /// accepting any well-formed region name.
    pub strict_regions: bool,
}

/// The Consul state created before the first step. Objects use Consul's own JSON field names and
/// are kept as JSON; the Consul emulator (or real Consul) validates them when they are created.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConsulSetup {
    /// A preset applied first (before the objects below).
    pub preset: Option<Preset>,
    /// Run Consul with Enterprise features; true when `requires` names `enterprise` unless set.
    pub enterprise: bool,
    /// Set by an explicit `enterprise: false`: the scenario checks Consul CE's own behaviour
    /// (e.g. its refusal of namespaces), so a run against Enterprise (`--enterprise`) skips it.
    pub ce_only: bool,
    /// Enable the audit log (needed by `expect_audit` steps).
    pub audit: bool,
    /// ACL policies (`PUT /v1/acl/policy` bodies), created in order.
    pub policies: Vec<serde_json::Value>,
    /// ACL roles (`PUT /v1/acl/role` bodies), created after the policies.
    pub roles: Vec<serde_json::Value>,
    /// Namespaces (`PUT /v1/namespace` bodies), created before policies; Enterprise only.
    pub namespaces: Vec<serde_json::Value>,
    /// Auth methods (`PUT /v1/acl/auth-method` bodies), created after the roles.
    pub auth_methods: Vec<serde_json::Value>,
    /// Binding rules (`PUT /v1/acl/binding-rule` bodies), created last.
    pub binding_rules: Vec<serde_json::Value>,
}

/// A Consul setup preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preset {
    /// A shipped preset, `fixtures/<name>.yaml`.
    Named(String),
    /// A file relative to the directory of the scenario file (the value contained a `/` or
    /// ended in `.yaml`/`.yml`).
    Path(PathBuf),
}

/// One step with the line it starts on (for reports).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based line of the step in its file.
    pub line: u32,
    /// What the step does and what it expects.
    pub kind: StepKind,
}

/// The kinds of step. Expectations live with the kinds they apply to, so a combination the
/// loader rejects (such as `status` on a login) cannot be represented.
#[derive(Debug, Clone, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a scenario has tens of steps; plain structs are easier to match than boxes"
)]
pub enum StepKind {
    /// Run the client's login command.
    Login {
        /// How to log in.
        login: Login,
        /// What must come of it.
        expect: ClientExpect,
    },
    /// Log a saved token out.
    Logout {
        /// Which token, and how.
        logout: Logout,
        /// What must come of it (`token` and `sent` do not apply).
        expect: Outcome,
    },
    /// Check whether a saved token works (`GET /v1/acl/token/self`).
    ExpectToken(ExpectToken),
    /// A raw Consul HTTP call, for setup or for checking config-time errors.
    Api {
        /// The request.
        api: ApiCall,
        /// What the response must look like.
        expect: ApiExpect,
    },
    /// Shift the emulators' clock.
    Clock(ClockShift),
    /// Make the emulated STS/IAM misbehave for the next requests.
    Fault(Fault),
    /// Re-send the bearer token captured from a saved login to `/v1/acl/login`.
    Replay {
        /// Which token, to which auth method.
        replay: Replay,
        /// What must come of it.
        expect: ClientExpect,
    },
    /// Check the audit log.
    ExpectAudit(ExpectAudit),
    /// Scan every output so far (client stdout/stderr, Consul and emulator logs, journals, audit
    /// log, token sink files) for the seeded secrets; finding any fails the step.
    ExpectNoSecrets,
}

impl StepKind {
    /// The key that introduces this kind of step in a file (`login`, `expect_token`, …).
    pub fn key(&self) -> &'static str {
        match self {
            StepKind::Login { .. } => "login",
            StepKind::Logout { .. } => "logout",
            StepKind::ExpectToken(_) => "expect_token",
            StepKind::Api { .. } => "api",
            StepKind::Clock(_) => "clock",
            StepKind::Fault(_) => "fault",
            StepKind::Replay { .. } => "replay",
            StepKind::ExpectAudit(_) => "expect_audit",
            StepKind::ExpectNoSecrets => "expect_no_secrets",
        }
    }

    /// Every step key, in the order of the variants.
    pub const KEYS: [&'static str; 9] = [
        "login",
        "logout",
        "expect_token",
        "api",
        "clock",
        "fault",
        "replay",
        "expect_audit",
        "expect_no_secrets",
    ];
}

/// A name under which a login's token (and its bearer token) is saved for later steps.
/// Lowercase letters, digits, `-` and `_`; never one of the reserved words `none`, `bogus`,
/// `management`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SavedName(pub String);

impl SavedName {
    /// The name used when a login has no `save_as` and a step names no token.
    pub const DEFAULT: &'static str = "default";
    /// Words that mean something else where a token is named.
    pub const RESERVED: [&'static str; 3] = ["none", "bogus", "management"];

    /// The name as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SavedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which token a step uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRef {
    /// A token saved by an earlier login.
    Saved(SavedName),
    /// No token at all (`none`).
    None,
    /// A random UUID that is no token (`bogus`).
    Bogus,
    /// The backend's management token (`management`); only for `api` steps.
    Management,
}

/// How to log in.
#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    /// Whose AWS credentials the client gets (`as:`).
    pub identity: LoginAs,
    /// The auth method name (`-method`).
    pub method: String,
    /// Whether the client adds the signed GetRole/GetUser request (`-aws-include-entity`).
    pub include_entity: bool,
    /// The value of `-aws-server-id-header-value`, if any.
    pub server_id: Option<String>,
    /// The region to sign for (`-aws-region`); default `us-east-1`.
    pub region: String,
    /// `-meta` pairs.
    pub meta: BTreeMap<String, String>,
    /// Where the client finds its AWS credentials.
    pub credentials: CredentialSource,
    /// Credentials deliberately broken before the client gets them.
    pub corrupt: Option<Corruption>,
    /// Where the client sends/signs its STS request for (`-aws-sts-endpoint`); default `aws`
    /// (sign for `sts.<region>.amazonaws.com`, as in production).
    pub sts_endpoint: Endpoint,
    /// Same for the IAM entity request (`-aws-iam-endpoint`); default `aws`.
    pub iam_endpoint: Endpoint,
    /// Consul namespace to log in to (Enterprise).
    pub namespace: Option<String>,
    /// Consul admin partition to log in to (Enterprise).
    pub partition: Option<String>,
    /// Name under which the token and its bearer token are saved; default `default`.
    pub save_as: SavedName,
}

/// The identity a login uses: `NAME` or `NAME/QUALIFIER`. For a role the qualifier is a session
/// name; for a user it is an access key ID (a user without one uses its first access key). The
/// runner resolves the name against the identity fixtures; the loader only checks the syntax
/// (IAM name characters `A-Za-z0-9+=,.@_-`, at most 128 each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAs {
    /// The role or user name.
    pub name: String,
    /// The session name (role) or access key ID (user).
    pub qualifier: Option<String>,
}

impl fmt::Display for LoginAs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.qualifier {
            Some(q) => write!(f, "{}/{q}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Where the client finds its AWS credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CredentialSource {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` in the environment.
    #[default]
    Env,
    /// `-aws-access-key-id`, `-aws-secret-access-key`, `-aws-session-token` flags.
    Flags,
    /// A shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`).
    SharedFile,
    /// The ECS container credentials endpoint (`AWS_CONTAINER_CREDENTIALS_FULL_URI`).
    Ecs,
}

/// A deliberate fault in the credentials the client is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Corruption {
    /// The secret access key is wrong (the emulator answers SignatureDoesNotMatch).
    Secret,
    /// The access key id is unknown (the emulator answers InvalidClientTokenId).
    AccessKey,
}

/// Where a client sends an AWS request it signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// The AWS emulator's own URL.
    Emulator,
    /// The real AWS host (`sts.<region>.amazonaws.com`, `iam.amazonaws.com`); the harness
    /// redirects it to the emulator, keeping the signed Host.
    Aws,
    /// This URL (`http://` or `https://`).
    Url(String),
}

/// The expected result of running a client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Whether the command must succeed; false whenever `error` is set.
    pub ok: bool,
    /// A substring (case-insensitive) of the client's error output.
    pub error: Option<String>,
}

impl Default for Outcome {
    fn default() -> Self {
        Self {
            ok: true,
            error: None,
        }
    }
}

/// What must come of a login or replay.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientExpect {
    /// Success or failure.
    pub outcome: Outcome,
    /// Subset match on the token JSON; only when `outcome.ok`.
    pub token: Option<TokenExpect>,
    /// Facts about the STS request Consul forwarded, from the AWS journal.
    pub sent: Option<SentExpect>,
}

/// A subset match on the token as Consul returns it (Consul field names). Every key given must
/// match: objects match as subsets, arrays element-wise in order with the same length, scalars
/// exactly; the string `present` means the field exists and is not null, `absent` that it does
/// not exist (or is null). See [`crate::json_subset`].
pub type TokenExpect = serde_json::Map<String, serde_json::Value>;

/// Facts from the AWS journal about the STS request Consul forwarded for this login.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SentExpect {
    /// Region in the credential scope.
    pub region: Option<String>,
    /// Service in the credential scope (`sts`).
    pub service: Option<String>,
    /// The signed `Host` header.
    pub host: Option<String>,
    /// Headers that must / must not be among the SignedHeaders (lowercase).
    pub signed_headers: SignedHeadersExpect,
    /// Whether the `X-Consul-IAM-ServerID` header is present and signed.
    pub server_id_signed: Option<bool>,
    /// Which IAM entity request was embedded.
    pub entity: Option<EntityExpect>,
    /// The AWS emulator's verdict on the request.
    pub verdict: Option<Verdict>,
}

/// Headers that must or must not be signed; names are lowercase.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignedHeadersExpect {
    /// Each must be in SignedHeaders.
    pub include: Vec<String>,
    /// None may be in SignedHeaders.
    pub exclude: Vec<String>,
}

/// The IAM request embedded in the bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum EntityExpect {
    /// `iam:GetRole`.
    GetRole,
    /// `iam:GetUser`.
    GetUser,
    /// No entity request.
    #[serde(rename = "none")]
    None,
}

/// The AWS emulator's verdict on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signature valid, request answered.
    Accepted,
    /// Rejected with this AWS error code, e.g. `SignatureDoesNotMatch`.
    Error(String),
}

/// How to log out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    /// The token: saved, `none` or `bogus`; default `default`.
    pub token: TokenRef,
    /// Through the client's logout command or a raw HTTP call.
    pub via: LogoutVia,
}

/// How a logout is performed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogoutVia {
    /// The client's logout command.
    #[default]
    Client,
    /// `POST /v1/acl/logout` from the harness.
    Api,
}

/// Checks whether a saved token works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectToken {
    /// The saved token.
    pub token: SavedName,
    /// Whether `GET /v1/acl/token/self` with it must succeed.
    pub works: bool,
}

/// A raw Consul HTTP call.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiCall {
    /// HTTP method, uppercase: GET, PUT, POST, DELETE, HEAD or PATCH.
    pub method: String,
    /// Path and optional query, starting with `/`.
    pub path: String,
    /// JSON body, if any.
    pub body: Option<serde_json::Value>,
    /// `X-Consul-Token`: saved, `management` (default), `none` or `bogus`.
    pub token: TokenRef,
}

/// What a raw Consul call must return.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApiExpect {
    /// Exact status; when absent, any 2xx passes.
    pub status: Option<u16>,
    /// Substring (case-insensitive) of the response body.
    pub body_contains: Option<String>,
    /// Subset match of the JSON body (same rules as [`TokenExpect`]).
    pub json: Option<serde_json::Value>,
}

/// Shifts the emulators' clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockShift {
    /// How far; negative moves the clock back.
    pub advance: time::Duration,
}

/// Makes the emulated STS/IAM misbehave for the next `count` requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// Which service.
    pub service: FaultService,
    /// What happens.
    pub action: FaultAction,
    /// For how many requests; at least 1.
    pub count: u32,
}

/// The service a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FaultService {
    /// STS requests only.
    Sts,
    /// IAM requests only.
    Iam,
    /// Any request to the AWS emulator.
    Any,
}

/// What a faulted request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// An error response with this status (400–599), in AWS's error format.
    Status(u16),
    /// The normal answer, after this (positive) delay.
    Delay(time::Duration),
}

/// Re-sends a captured bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The saved login whose bearer token is replayed.
    pub token: SavedName,
    /// The auth method to send it to; default the method of the original login.
    pub method: Option<String>,
}

/// Audit log expectations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpectAudit {
    /// Each must subset-match at least one audit entry (flattened field names such as `stage`,
    /// `endpoint`, `method`, `status`).
    pub contains: Vec<serde_json::Map<String, serde_json::Value>>,
}
