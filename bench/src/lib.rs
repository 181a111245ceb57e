//! Fixtures for iamconform's criterion micro-benchmarks (`cargo bench -p iamconform-bench`).
//!
//! The numbers, the machine and the command are recorded in `docs/performance.md`. The
//! benchmarks themselves live in `benches/micro.rs`; this library holds the inputs they share
//! so the tests below can check the inputs are what they claim to be (a benchmark of a
//! request that fails verification early would measure the wrong thing). No test here
//! measures time.
//!
//! The main input is [`get_caller_identity`]: an STS `GetCallerIdentity` POST as `consul
//! login -type aws-iam` sends it, signed by the `aws-sigv4` crate (smithy-rs), an independent
//! signer, with a temporary credential and its session token. The aws-iam benchmarks use
//! [`aws_iam_login`]: a bearer token from the reference client and the Consul emulator's
//! validator replaying to the AWS emulator on loopback.
#![warn(missing_docs)]

mod login;

pub use login::{AwsIamLogin, SERVER_ID, WEB_TASK_KEY, aws_iam_login};

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use iamconform_bexpr::{Data, FieldKind, Schema, Value};
use iamconform_secret::Secret;
use iamconform_sigv4::{KeyRecord, SignedRequest};
use time::OffsetDateTime;
use time::macros::datetime;

/// Access key id of the benchmark credential (a fake temporary key).
pub const ACCESS_KEY_ID: &str = "ASIAEXAMPLEBENCH0001";
/// Its secret access key (fake).
pub const SECRET_ACCESS_KEY: &str = "benchSecretKey/0123456789+abcdefghijklmn";
/// Its session token (fake), about the size of a real STS session token.
pub const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLEbenchTOKEN/0123456789+abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ==";
/// The `GetCallerIdentity` body `consul login` sends.
pub const GET_CALLER_IDENTITY_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// The signing time of every benchmark request, and the verifier's `now`.
pub fn signing_time() -> OffsetDateTime {
    datetime!(2026-01-01 00:00:00 UTC)
}

/// A request owned in full; [`OwnedRequest::header_refs`] and [`OwnedRequest::signed`] lend
/// it out as the verifier's [`SignedRequest`].
#[derive(Debug, Clone)]
pub struct OwnedRequest {
    /// The method.
    pub method: String,
    /// The raw path.
    pub path: String,
    /// The raw query, without `?`.
    pub query: String,
    /// Header fields in wire order.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl OwnedRequest {
    /// The headers as borrowed pairs, for [`OwnedRequest::signed`].
    pub fn header_refs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect()
    }

    /// The request as the verifier sees it; `headers` comes from [`OwnedRequest::header_refs`].
    pub fn signed<'a>(&'a self, headers: &'a [(&'a str, &'a [u8])]) -> SignedRequest<'a> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers,
            body: &self.body,
        }
    }
}

/// Why a fixture could not be built.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The signer rejected the benchmark request.
    #[error("the aws-sigv4 signer rejected the benchmark request: {0}")]
    Sign(String),
    /// The aws-iam login fixture could not be set up (emulator, token or validator).
    #[error("the aws-iam login fixture could not be set up: {0}")]
    Login(String),
}

/// An STS `GetCallerIdentity` POST to `sts.amazonaws.com`, signed by `aws-sigv4` at
/// [`signing_time`] with the benchmark credential, including the session token and Consul's
/// `X-Consul-IAM-ServerID` header as `consul login -aws-server-id-header-value` adds it.
pub fn get_caller_identity() -> Result<OwnedRequest, FixtureError> {
    let body = GET_CALLER_IDENTITY_BODY.as_bytes();
    let content_length = body.len().to_string();
    let headers: Vec<(&str, &str)> = vec![
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        ),
        ("content-length", &content_length),
        ("host", "sts.amazonaws.com"),
        ("x-consul-iam-serverid", "consul.example.com"),
    ];
    let identity: Identity = Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        Some(SESSION_TOKEN.to_owned()),
        None,
        "bench",
    )
    .into();
    let unix = u64::try_from(signing_time().unix_timestamp())
        .map_err(|e| FixtureError::Sign(e.to_string()))?;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(SystemTime::UNIX_EPOCH + Duration::from_secs(unix))
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| FixtureError::Sign(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        "https://sts.amazonaws.com/",
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| FixtureError::Sign(e.to_string()))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| FixtureError::Sign(e.to_string()))?
        .into_parts();
    let (added, _query) = instructions.into_parts();
    let mut wire: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
        .collect();
    wire.extend(
        added
            .iter()
            .map(|h| (h.name().to_owned(), h.value().as_bytes().to_vec())),
    );
    Ok(OwnedRequest {
        method: "POST".to_owned(),
        path: "/".to_owned(),
        query: String::new(),
        headers: wire,
        body: body.to_vec(),
    })
}

/// A credential store that knows the benchmark key (and nothing else).
pub fn credential_store() -> HashMap<String, KeyRecord> {
    HashMap::from([(
        ACCESS_KEY_ID.to_owned(),
        KeyRecord {
            secret_access_key: Secret::new(SECRET_ACCESS_KEY.to_owned()),
            session_token: Some(Secret::new(SESSION_TOKEN.to_owned())),
            expires: Some(datetime!(2026-01-01 01:00:00 UTC)),
        },
    )])
}

/// The binding-rule selectors consul-ecs creates (spec consul-aws-iam, "consul-ecs"): the
/// gateway-kind role rules and the namespace rule.
pub const CONSUL_ECS_SELECTORS: [&str; 4] = [
    r#"entity_tags["consul.hashicorp.com.gateway-kind"] == "api-gateway""#,
    r#"entity_tags["consul.hashicorp.com.gateway-kind"] == "terminating-gateway""#,
    r#"entity_tags["consul.hashicorp.com.gateway-kind"] == "mesh-gateway""#,
    r#"entity_tags["consul.hashicorp.com.namespace"] != """#,
];

/// The selector schema of the aws-iam auth method.
pub fn aws_iam_schema() -> Schema {
    Schema::new([
        ("entity_name", FieldKind::String),
        ("entity_id", FieldKind::String),
        ("account_id", FieldKind::String),
        ("entity_path", FieldKind::String),
        ("entity_tags", FieldKind::StringMap),
    ])
}

/// A mesh-gateway task role's identity, with the tags consul-ecs configures.
pub fn mesh_gateway_identity() -> Data {
    let tags = BTreeMap::from([
        (
            "consul.hashicorp.com.service-name".to_owned(),
            "mesh-gateway".to_owned(),
        ),
        (
            "consul.hashicorp.com.gateway-kind".to_owned(),
            "mesh-gateway".to_owned(),
        ),
        (
            "consul.hashicorp.com.namespace".to_owned(),
            "default".to_owned(),
        ),
    ]);
    Data::from([
        (
            "entity_name".to_owned(),
            Value::String("mesh-gateway-task".to_owned()),
        ),
        (
            "entity_id".to_owned(),
            Value::String("AROAEXAMPLEGATEWAY001".to_owned()),
        ),
        (
            "account_id".to_owned(),
            Value::String("123456789012".to_owned()),
        ),
        (
            "entity_path".to_owned(),
            Value::String("/consul-ecs/".to_owned()),
        ),
        ("entity_tags".to_owned(), Value::Map(Some(tags))),
    ])
}

/// The bind-name variables of the same identity (with `EnableIAMEntityDetails`).
pub fn mesh_gateway_vars() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("entity_name".to_owned(), "mesh-gateway-task".to_owned()),
        ("entity_id".to_owned(), "AROAEXAMPLEGATEWAY001".to_owned()),
        ("account_id".to_owned(), "123456789012".to_owned()),
        ("entity_path".to_owned(), "/consul-ecs/".to_owned()),
        (
            "entity_tags.consul.hashicorp.com.service-name".to_owned(),
            "mesh-gateway".to_owned(),
        ),
        (
            "entity_tags.consul.hashicorp.com.namespace".to_owned(),
            "default".to_owned(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use iamconform_bexpr::Evaluator;
    use iamconform_sigv4::{Policy, parse_auth, verify};

    use super::*;

    #[test]
    fn benchmark_request_verifies() {
        let req = get_caller_identity().unwrap();
        let headers = req.header_refs();
        let verified = verify(
            &req.signed(&headers),
            &Policy::default(),
            signing_time(),
            &credential_store(),
        )
        .unwrap();
        assert_eq!(verified.access_key_id, ACCESS_KEY_ID);
        assert!(verified.session_token_signed);
        let auth = parse_auth(&req.signed(&headers)).unwrap();
        assert!(auth.signed_headers.contains("x-consul-iam-serverid"));
    }

    #[test]
    fn mesh_gateway_matches_exactly_its_rules() {
        let schema = aws_iam_schema();
        let data = mesh_gateway_identity();
        let matched: Vec<bool> = CONSUL_ECS_SELECTORS
            .iter()
            .map(|s| Evaluator::new(s, &schema).unwrap().evaluate(&data).unwrap())
            .collect();
        assert_eq!(matched, [false, false, true, true]);
    }

    #[test]
    fn bind_names_interpolate() {
        let vars = mesh_gateway_vars();
        let name = iamconform_hil::interpolate(
            "${entity_tags.consul.hashicorp.com.service-name}",
            &vars,
            true,
        )
        .unwrap();
        assert_eq!(name, "mesh-gateway");
    }
}
