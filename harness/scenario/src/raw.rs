//! The serde mirror of a scenario file, exactly as written: the second stage of loading.
//!
//! These types define the file format: their doc comments become the descriptions in the JSON
//! Schema (`iamconform schema`), and `deny_unknown_fields` makes it closed. They are decoded only
//! through `decode.rs`, which reports every problem with its position; [`Sp`] records where a
//! value was written so the validator (`validate.rs`) can point at it.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

use crate::decode::SPANNED;
use crate::model::{Corruption, CredentialSource, EntityExpect, FaultService, LogoutVia};

/// A value with the position it was written at; transparent in the schema.
///
/// Required keys are `Option`s marked `#[schemars(required)]`: the validator reports a missing
/// one and carries on, where serde would stop the whole enclosing mapping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sp<T> {
    pub(crate) value: T,
    pub(crate) line: u32,
    pub(crate) col: u32,
    /// A problem was already reported in or under this value; later checks stay quiet about it.
    pub(crate) dirty: bool,
    /// This mapping or list lost an entry to a reported problem (unknown key, wrong type), so
    /// a required key that seems missing was most likely that entry.
    pub(crate) flawed: bool,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SpVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpVisitor<T> {
            type Value = Sp<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positioned value")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sp<T>, A::Error> {
                let missing = || de::Error::custom("internal: incomplete position record");
                let value = seq.next_element()?.ok_or_else(missing)?;
                let line = seq.next_element()?.ok_or_else(missing)?;
                let col = seq.next_element()?.ok_or_else(missing)?;
                let dirty = seq.next_element()?.ok_or_else(missing)?;
                let flawed = seq.next_element()?.ok_or_else(missing)?;
                Ok(Sp {
                    value,
                    line,
                    col,
                    dirty,
                    flawed,
                })
            }
        }

        d.deserialize_struct(
            SPANNED,
            &["value", "line", "col", "dirty", "flawed"],
            SpVisitor(PhantomData),
        )
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// `requires` in the schema: the known names, so editors complete them.
fn requirement_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "enum": crate::model::Requirement::NAMES },
        "uniqueItems": true,
    })
}

/// A step kind key that is present even when written without a value (`expect_no_secrets:`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// An iamconform scenario: Consul and AWS setup, then steps that run a client and check what
/// happened. One scenario per file.
#[derive(Debug, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "iamconform scenario")]
pub(crate) struct RawScenario {
    /// What the scenario proves, in one line; shown in reports and matched by `--filter`.
    #[schemars(required)]
    pub(crate) name: Option<Sp<String>>,
    /// Tags for filtering, e.g. `login`, `ecs`.
    #[serde(default)]
    pub(crate) tags: Vec<Sp<String>>,
    /// What the environment must offer: `enterprise` (Consul Enterprise features such as
    /// namespaces), `docker` (a container runtime). Unmet requirements skip the scenario.
    #[serde(default)]
    #[schemars(schema_with = "requirement_list")]
    pub(crate) requires: Vec<Sp<String>>,
    /// Identity overrides merged over `fixtures/identities.yaml`, in the same format (`accounts`
    /// → account ID → `roles`/`users`).
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, serde_json::Value>>")]
    pub(crate) identities: Option<Sp<serde_json::Value>>,
    /// Options of the AWS emulator.
    #[serde(default)]
    pub(crate) aws: RawAws,
    /// The Consul state to create before the first step, in Consul's own JSON field names.
    #[serde(default)]
    pub(crate) consul: RawConsul,
    /// The steps, run in order. Each is a mapping with exactly one step key (`login`, `logout`,
    /// `expect_token`, `api`, `clock`, `fault`, `replay`, `expect_audit`,
    /// `expect_no_secrets`) and, for `login`, `logout`, `replay` and `api`, an optional `expect`.
    #[schemars(required)]
    pub(crate) steps: Option<Sp<Vec<Sp<RawStep>>>>,
}

/// Options of the AWS emulator.
#[derive(Debug, Default, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Aws")]
pub(crate) struct RawAws {
    /// Reject credential scopes and hosts naming a region AWS does not have, instead of
    /// accepting any well-formed region name. Default false.
    #[serde(default)]
    pub(crate) strict_regions: bool,
}

/// The Consul state to create before the first step. Objects are written in Consul's own JSON
/// field names (as in the Consul HTTP API docs) and validated by Consul when created.
#[derive(Debug, Default, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Consul")]
pub(crate) struct RawConsul {
    /// A preset applied before the objects below: a name (`fixtures/<name>.yaml`, e.g.
    /// `consul-ecs`) or a path relative to this file (contains `/` or ends in `.yaml`).
    #[serde(default)]
    pub(crate) preset: Option<Sp<String>>,
    /// Run with Consul Enterprise features. Default: true when `requires` names `enterprise`.
    #[serde(default)]
    pub(crate) enterprise: Option<Sp<bool>>,
    /// Enable the audit log, which `expect_audit` steps read. Default false.
    #[serde(default)]
    pub(crate) audit: bool,
    /// ACL policies, as `PUT /v1/acl/policy` bodies (`Name`, `Rules`, …).
    #[serde(default)]
    #[schemars(with = "Vec<BTreeMap<String, serde_json::Value>>")]
    pub(crate) policies: Vec<Sp<serde_json::Value>>,
    /// ACL roles, as `PUT /v1/acl/role` bodies (`Name`, `Policies`, `ServiceIdentities`, …).
    #[serde(default)]
    #[schemars(with = "Vec<BTreeMap<String, serde_json::Value>>")]
    pub(crate) roles: Vec<Sp<serde_json::Value>>,
    /// Namespaces, as `PUT /v1/namespace` bodies (Enterprise).
    #[serde(default)]
    #[schemars(with = "Vec<BTreeMap<String, serde_json::Value>>")]
    pub(crate) namespaces: Vec<Sp<serde_json::Value>>,
    /// Auth methods, as `PUT /v1/acl/auth-method` bodies (`Name`, `Type: aws-iam`, `Config`, …).
    #[serde(default)]
    #[schemars(with = "Vec<BTreeMap<String, serde_json::Value>>")]
    pub(crate) auth_methods: Vec<Sp<serde_json::Value>>,
    /// Binding rules, as `PUT /v1/acl/binding-rule` bodies (`AuthMethod`, `Selector`,
    /// `BindType`, `BindName`, …).
    #[serde(default)]
    #[schemars(with = "Vec<BTreeMap<String, serde_json::Value>>")]
    pub(crate) binding_rules: Vec<Sp<serde_json::Value>>,
}

/// One step: exactly one step key, plus `expect` for the kinds that take it.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    #[serde(default, deserialize_with = "present")]
    pub(crate) login: Option<Sp<RawLogin>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) logout: Option<Sp<RawLogout>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) expect_token: Option<Sp<RawExpectToken>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) api: Option<Sp<RawApi>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) clock: Option<Sp<RawClock>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) fault: Option<Sp<RawFault>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) replay: Option<Sp<RawReplay>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) expect_audit: Option<Sp<RawExpectAudit>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) expect_no_secrets: Option<Sp<RawExpectNoSecrets>>,
    #[serde(default)]
    pub(crate) expect: Option<Sp<RawExpect>>,
}

impl JsonSchema for RawStep {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Step".into()
    }

    /// One alternative per step kind, each closed, so editors flag a second step key or an
    /// `expect` on a kind that takes none.
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let client_expect = g.subschema_for::<RawClientExpect>();
        let outcome = g.subschema_for::<RawOutcome>();
        let api_expect = g.subschema_for::<RawApiExpect>();
        let kinds: Vec<(&str, Schema, Option<&Schema>, &str)> = vec![
            (
                "login",
                g.subschema_for::<RawLogin>(),
                Some(&client_expect),
                "Run the client's login command as an AWS identity.",
            ),
            (
                "logout",
                g.subschema_for::<RawLogout>(),
                Some(&outcome),
                "Log a saved token out.",
            ),
            (
                "expect_token",
                g.subschema_for::<RawExpectToken>(),
                None,
                "Check whether a saved token works (GET /v1/acl/token/self).",
            ),
            (
                "api",
                g.subschema_for::<RawApi>(),
                Some(&api_expect),
                "A raw Consul HTTP call, for setup or for checking config-time errors.",
            ),
            (
                "clock",
                g.subschema_for::<RawClock>(),
                None,
                "Shift the emulators' clock.",
            ),
            (
                "fault",
                g.subschema_for::<RawFault>(),
                None,
                "Make the emulated STS/IAM answer with an error status, or slowly, N times.",
            ),
            (
                "replay",
                g.subschema_for::<RawReplay>(),
                Some(&client_expect),
                "Re-send the bearer token captured from a saved login to /v1/acl/login.",
            ),
            (
                "expect_audit",
                g.subschema_for::<RawExpectAudit>(),
                None,
                "Check the audit log (needs consul.audit: true).",
            ),
            (
                "expect_no_secrets",
                g.subschema_for::<RawExpectNoSecrets>(),
                None,
                "Scan every output so far for the seeded secrets.",
            ),
        ];
        let one_of: Vec<serde_json::Value> = kinds
            .into_iter()
            .map(|(key, schema, expect, doc)| {
                let mut props = serde_json::Map::new();
                props.insert(key.to_owned(), schema.to_value());
                if let Some(e) = expect {
                    props.insert("expect".to_owned(), e.clone().to_value());
                }
                serde_json::json!({
                    "title": key,
                    "description": doc,
                    "type": "object",
                    "properties": props,
                    "required": [key],
                    "additionalProperties": false,
                })
            })
            .collect();
        json_schema!({
            "description": "One step: exactly one step key, plus `expect` for login, logout, replay and api.",
            "oneOf": one_of,
        })
    }
}

/// Run the client's login command.
#[derive(Debug, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Login")]
pub(crate) struct RawLogin {
    /// Whose AWS credentials the client gets: `ROLE/SESSION`, `USER` (its first access key) or
    /// `USER/ACCESS_KEY_ID`, from the identity fixtures.
    #[serde(rename = "as")]
    #[schemars(required)]
    pub(crate) as_: Option<Sp<String>>,
    /// The auth method to log in with (`-method`).
    #[schemars(required)]
    pub(crate) method: Option<Sp<String>>,
    /// Add the signed GetRole/GetUser request (`-aws-include-entity`). Default false.
    #[serde(default)]
    pub(crate) include_entity: bool,
    /// Value for `-aws-server-id-header-value`; no header when absent.
    #[serde(default)]
    pub(crate) server_id: Option<Sp<String>>,
    /// Region to sign for (`-aws-region`). Default `us-east-1`.
    #[serde(default)]
    pub(crate) region: Option<Sp<String>>,
    /// `-meta` key/value pairs.
    #[serde(default)]
    pub(crate) meta: BTreeMap<String, String>,
    /// Where the client finds its AWS credentials. Default `env`.
    #[serde(default)]
    pub(crate) credentials: CredentialSource,
    /// Hand the client credentials the AWS emulator does not accept, to check that the
    /// client surfaces AWS's error: `secret` (a wrong secret access key: SignatureDoesNotMatch),
    /// `access-key` (an access key id AWS does not know: InvalidClientTokenId). Default none.
    #[serde(default)]
    pub(crate) corrupt: Option<Corruption>,
    /// Where the STS request goes (`-aws-sts-endpoint`): `aws` (default: sign for the real
    /// regional host `sts.<region>.amazonaws.com`, as in production; the harness redirects it to
    /// the emulator), `emulator` (the AWS emulator's URL; the auth method then needs
    /// `STSEndpoint`) or a URL.
    #[serde(default)]
    pub(crate) sts_endpoint: Option<Sp<String>>,
    /// Where the IAM entity request is signed for (`-aws-iam-endpoint`): `emulator`, `aws`
    /// (default, `iam.amazonaws.com` as `consul login` does) or a URL.
    #[serde(default)]
    pub(crate) iam_endpoint: Option<Sp<String>>,
    /// Consul namespace to log in to (Enterprise).
    #[serde(default)]
    pub(crate) namespace: Option<Sp<String>>,
    /// Consul admin partition to log in to (Enterprise).
    #[serde(default)]
    pub(crate) partition: Option<Sp<String>>,
    /// Name for the token, used by later `logout`, `replay`, `expect_token` and `api` steps.
    /// Default `default`.
    #[serde(default)]
    pub(crate) save_as: Option<Sp<String>>,
}

/// Log a saved token out.
#[derive(Debug, Default, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Logout")]
pub(crate) struct RawLogout {
    /// A saved token name (default `default`), `none` (no token) or `bogus` (a random UUID).
    #[serde(default)]
    pub(crate) token: Option<Sp<String>>,
    /// `client` (default: the client's logout command) or `api` (a raw POST /v1/acl/logout).
    #[serde(default)]
    pub(crate) via: LogoutVia,
}

/// Check whether a saved token works.
#[derive(Debug, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ExpectToken")]
pub(crate) struct RawExpectToken {
    /// The saved token name. Default `default`.
    #[serde(default)]
    pub(crate) token: Option<Sp<String>>,
    /// Whether GET /v1/acl/token/self with the token must succeed.
    #[schemars(required)]
    pub(crate) works: Option<bool>,
}

/// A raw Consul HTTP call.
#[derive(Debug, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Api")]
pub(crate) struct RawApi {
    /// HTTP method: GET, PUT, POST, DELETE, HEAD or PATCH.
    #[schemars(required)]
    pub(crate) method: Option<Sp<String>>,
    /// Path with optional query, e.g. `/v1/acl/binding-rule`.
    #[schemars(required)]
    pub(crate) path: Option<Sp<String>>,
    /// JSON body (any YAML value), in Consul's field names.
    #[serde(default)]
    pub(crate) body: Option<serde_json::Value>,
    /// `X-Consul-Token`: `management` (default), `none`, `bogus` or a saved token name.
    #[serde(default)]
    pub(crate) token: Option<Sp<String>>,
}

/// Shift the emulators' clock.
#[derive(Debug, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Clock")]
pub(crate) struct RawClock {
    /// Go-style duration: `90s`, `16m`, `1h30m`; negative moves the clock back (`-20m`).
    #[schemars(regex(pattern = r"^[-+]?(0|([0-9]*(\.[0-9]*)?(ns|us|µs|μs|ms|s|m|h))+)$"))]
    #[schemars(required)]
    pub(crate) advance: Option<Sp<String>>,
}

/// Make the emulated STS/IAM answer with an error status, or slowly, for the next requests.
#[derive(Debug, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Fault")]
pub(crate) struct RawFault {
    /// `sts`, `iam` or `any`.
    #[schemars(required)]
    pub(crate) service: Option<FaultService>,
    /// Answer with this HTTP status (400–599) in AWS's error format. Exclusive with `delay`.
    #[serde(default)]
    pub(crate) status: Option<Sp<u16>>,
    /// Answer normally after this Go-style duration (`2s`). Exclusive with `status`.
    #[serde(default)]
    pub(crate) delay: Option<Sp<String>>,
    /// For how many requests. Default 1.
    #[serde(default)]
    pub(crate) count: Option<Sp<u32>>,
}

/// Re-send the bearer token captured from a saved login.
#[derive(Debug, Default, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Replay")]
pub(crate) struct RawReplay {
    /// The saved login whose bearer token is re-sent. Default `default`.
    #[serde(default)]
    pub(crate) token: Option<Sp<String>>,
    /// The auth method to send it to. Default: the method of that login.
    #[serde(default)]
    pub(crate) method: Option<Sp<String>>,
}

/// Check the audit log.
#[derive(Debug, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ExpectAudit")]
pub(crate) struct RawExpectAudit {
    /// Entries that must each match at least one audit record, e.g.
    /// `{stage: OperationComplete, endpoint: /v1/acl/login, method: POST, status: "200"}`.
    #[schemars(required, with = "Vec<BTreeMap<String, serde_json::Value>>")]
    pub(crate) contains: Option<Vec<Sp<serde_json::Value>>>,
}

/// Scan every output so far for the seeded secrets. Takes no keys: write `{}`.
#[derive(Debug, Default, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ExpectNoSecrets")]
pub(crate) struct RawExpectNoSecrets {}

/// Every expectation key of every kind, decoded together so a misplaced key gets a precise
/// message ("`status` applies only to api steps") rather than "unknown key".
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    #[serde(default)]
    pub(crate) ok: Option<Sp<bool>>,
    #[serde(default)]
    pub(crate) error: Option<Sp<String>>,
    #[serde(default)]
    pub(crate) token: Option<Sp<serde_json::Value>>,
    #[serde(default)]
    pub(crate) sent: Option<Sp<RawSent>>,
    #[serde(default)]
    pub(crate) status: Option<Sp<u16>>,
    #[serde(default)]
    pub(crate) body_contains: Option<Sp<String>>,
    #[serde(default)]
    pub(crate) json: Option<Sp<serde_json::Value>>,
}

/// Expectations of a login or replay.
#[allow(dead_code, reason = "schema only; files decode through RawExpect")]
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ClientExpect")]
pub(crate) struct RawClientExpect {
    /// Whether the command must succeed. Default true, or false when `error` is set.
    ok: Option<bool>,
    /// A substring (case-insensitive) of the client's error output; implies `ok: false`.
    error: Option<String>,
    /// Subset match on the token JSON in Consul's field names (`ServiceIdentities`, `Roles`,
    /// `Policies`, `NodeIdentities`, `Namespace`, `Description`, `Local`, `ExpirationTime`, …);
    /// the string `present` or `absent` checks only whether a field is there.
    token: Option<BTreeMap<String, serde_json::Value>>,
    /// Facts from the AWS journal about the STS request Consul forwarded.
    sent: Option<RawSent>,
}

/// Expectations of a logout.
#[allow(dead_code, reason = "schema only; files decode through RawExpect")]
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Outcome")]
pub(crate) struct RawOutcome {
    /// Whether the command must succeed. Default true, or false when `error` is set.
    ok: Option<bool>,
    /// A substring (case-insensitive) of the client's error output; implies `ok: false`.
    error: Option<String>,
}

/// Expectations of a raw Consul call.
#[allow(dead_code, reason = "schema only; files decode through RawExpect")]
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ApiExpect")]
pub(crate) struct RawApiExpect {
    /// Exact HTTP status. Default: any 2xx.
    status: Option<u16>,
    /// A substring (case-insensitive) of the response body.
    body_contains: Option<String>,
    /// Subset match on the JSON response body.
    json: Option<serde_json::Value>,
}

/// Facts from the AWS journal about the STS request Consul forwarded for this login.
#[derive(Debug, Default, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Sent")]
pub(crate) struct RawSent {
    /// Region in the credential scope, e.g. `us-east-1`.
    #[serde(default)]
    pub(crate) region: Option<String>,
    /// Service in the credential scope, e.g. `sts`.
    #[serde(default)]
    pub(crate) service: Option<String>,
    /// The signed Host header, e.g. `sts.us-east-1.amazonaws.com`.
    #[serde(default)]
    pub(crate) host: Option<String>,
    /// Header names that must (`include`) or must not (`exclude`) be signed.
    #[serde(default)]
    pub(crate) signed_headers: RawSignedHeaders,
    /// Whether the X-Consul-IAM-ServerID header is present and signed.
    #[serde(default)]
    pub(crate) server_id_signed: Option<bool>,
    /// The IAM request embedded in the bearer token: `GetRole`, `GetUser` or `none`.
    #[serde(default)]
    pub(crate) entity: Option<EntityExpect>,
    /// The AWS emulator's verdict: `accepted` or an AWS error code (`SignatureDoesNotMatch`).
    #[serde(default)]
    pub(crate) verdict: Option<Sp<String>>,
}

/// Header names that must or must not be among the SignedHeaders (case-insensitive).
#[derive(Debug, Default, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SignedHeaders")]
pub(crate) struct RawSignedHeaders {
    /// Each must be signed.
    #[serde(default)]
    pub(crate) include: Vec<String>,
    /// None may be signed.
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
}
