//! Login validation: the token checks (phases A–C, [`super::token`]), then phase D — replay the
//! STS request (and the embedded IAM request), derive the identity and decide trust — in
//! consul-awsauth's order (`auth.go ValidateLogin`), with its texts.
//!
//! Spec: consul-aws-iam §2.3 steps 13–19, §2.5, §2.7; corpus `consul-awsauth-responses.jsonl`.

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;

use super::arn::{ArnError, parse_arn};
use super::config::AwsIamConfig;
use super::gostd::json::HeaderList;
use super::gostd::quote;
use super::gostd::url::GoUrl;
use super::identity::Identity;
use super::responses::{parse_get_caller_identity, parse_iam_entity};
use super::sts::{EmulatorClient, ForwardRequest, Outbound, build_forward_request, submit_with};
use super::token::{
    BearerToken, EntityRequestType, SERVER_ID_HEADER, SignedRequest, parse_bearer_token,
};

/// Why a login was refused. `Display` is Consul's exact text (HTTP 500 body).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoginError {
    /// Phase A: the token does not decode (JSON, base64, headers JSON, URL).
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// Step 3.
    #[error("iam_http_request_method must be POST")]
    MethodNotPost,
    /// Step 4.
    #[error("invalid STS hostname: {}", quote(.0))]
    InvalidStsHostname(String),
    /// Step 5: the form-parse or body-rule error.
    #[error("iam_request_body error: {0}")]
    StsBody(String),
    /// Step 6: the raw query found.
    #[error("URL query parameters are not allowed for security reasons: found {}", quote(.0))]
    StsQuery(String),
    /// Step 7: the canonical header name.
    #[error("invalid request header: {0}")]
    InvalidRequestHeader(String),
    /// Step 8: a required header is absent (or a server-id header missing/empty).
    #[error("missing header {}", quote(.0))]
    MissingHeader(&'static str),
    /// Step 8: more than one value.
    #[error("invalid value for header {} (expected 1 item)", quote(.0))]
    HeaderNotSingle(&'static str),
    /// Step 8: the embedded headers are not JSON (Go's raw error).
    #[error("{0}")]
    EntityHeadersJson(String),
    /// Step 9: the embedded URL does not parse (raw).
    #[error("{0}")]
    EntityUrl(String),
    /// Step 10.
    #[error("invalid IAM hostname: {}", quote(.0))]
    InvalidIamHostname(String),
    /// Step 11: form-parse or body-rule error.
    #[error("iam_request_headers[X-Consul-IAM-GetEntity-Body] error: {0}")]
    IamBody(String),
    /// Step 11: not exactly GetRole+RoleName or GetUser+UserName.
    #[error("iam_request_headers[\"X-Consul-IAM-GetEntity-Body\"] error: invalid request body {}", quote(.0))]
    IamBodyInvalid(String),
    /// Step 12.
    #[error("URL query parameters are not allowed for IAM entity requests: found {}", quote(.0))]
    IamQuery(String),
    /// Step 13/18: the forward request cannot be built (raw Go error).
    #[error("{0}")]
    BuildRequest(String),
    /// §2.5 step 2.
    #[error("expected {} but got {}", quote(.expected), quote(.got))]
    ServerIdMismatch {
        /// Configured value.
        expected: String,
        /// Value in the request (all values joined with `,`).
        got: String,
    },
    /// §2.5 step 3: no `SignedHeaders=` in `Authorization`.
    #[error("server id header wasn't signed")]
    ServerIdNoSignedHeaders,
    /// §2.5 step 3: `x-consul-iam-serverid` not among the signed headers.
    #[error("header wasn't signed")]
    ServerIdNotSigned,
    /// §2.5 step 4.
    #[error("URL query parameters are not allowed for header validation: found {}", quote(.0))]
    ServerIdQuery(String),
    /// §2.5 step 4.
    #[error("missing Authorization header")]
    MissingAuthorization,
    /// §2.4: transport failure or retries exhausted (go-retryablehttp's text).
    #[error("error making request: {0}")]
    Request(String),
    /// §2.4: `Content-Type` is not exactly `text/xml`.
    #[error("response body is invalid")]
    ResponseInvalid,
    /// The response body could not be read (raw).
    #[error("{0}")]
    ReadBody(String),
    /// §2.4: non-200 status with the body.
    #[error("received error code {status}: {body}")]
    ErrorStatus {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
    /// §2.4 check 4: any STS parse failure.
    #[error("error parsing STS response")]
    ParseSts,
    /// §2.4 check 4.
    #[error("received {0} identities in STS response but expected 1")]
    StsIdentityCount(usize),
    /// §2.4 check 5.
    #[error("error parsing IAM response: {0}")]
    ParseIam(String),
    /// Step 16: the caller ARN (raw).
    #[error(transparent)]
    Arn(#[from] ArnError),
    /// Step 18.
    #[error("unique id mismatch in login token")]
    UniqueIdMismatch,
    /// Step 19.
    #[error("IAM principal {0} is not trusted")]
    NotTrusted(String),
    /// An invariant of this implementation failed; please file a bug.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// A bearer token that passed every check Consul makes before contacting AWS
/// ([`Validator::check_token`]); holds the STS request ready to replay.
#[derive(Clone)]
pub struct CheckedToken {
    sts: ForwardRequest,
    entity: Option<(SignedRequest, EntityRequestType)>,
}

impl fmt::Debug for CheckedToken {
    // The requests carry signatures and session tokens: only where they go is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckedToken")
            .field("sts_host", &self.sts.host)
            .field("entity", &self.entity.as_ref().map(|(_, kind)| kind))
            .finish_non_exhaustive()
    }
}

/// Validates `aws-iam` logins for one auth method.
#[derive(Debug, Clone)]
pub struct Validator {
    config: AwsIamConfig,
    outbound: Outbound,
    /// Pooled connections to the AWS emulator, shared by clones (see [`EmulatorClient`]).
    emulator_client: EmulatorClient,
}

impl Validator {
    /// A validator for an already validated config (see [`super::parse_config`]).
    pub fn new(config: AwsIamConfig, outbound: Outbound) -> Validator {
        let emulator_client = EmulatorClient::new(&outbound);
        Validator {
            config,
            outbound,
            emulator_client,
        }
    }

    /// The method's config.
    pub fn config(&self) -> &AwsIamConfig {
        &self.config
    }

    /// Validates a bearer token as Consul's `ValidateLogin` does; on success returns what STS
    /// (and IAM) proved. The same as [`Validator::check_token`], then the replay.
    pub async fn validate_login(&self, bearer_token: &str) -> Result<Identity, LoginError> {
        let checked = self.check_token(bearer_token)?;
        self.replay(checked).await
    }

    /// Every check Consul makes before it contacts AWS, in its order: the token decodes and
    /// passes phases A–C, the STS request to replay is built (step 13) and, with a server-id
    /// value configured, carries it signed (step 14). Contacts nothing; the first failure is
    /// the error [`Validator::validate_login`] would return for this token.
    pub fn check_token(&self, bearer_token: &str) -> Result<CheckedToken, LoginError> {
        let c = &self.config;
        // Phases A–C.
        let BearerToken { sts, entity } = parse_bearer_token(bearer_token, c)?;
        // Step 13: the STS forward request.
        let sts = build_forward_request(sts, &c.sts_endpoint)?;
        // Step 14: the server-id header of the STS request.
        if !c.server_id_header_value.is_empty() {
            check_server_id(&sts.headers, &sts.url, &c.server_id_header_value)?;
        }
        Ok(CheckedToken { sts, entity })
    }

    /// Steps 15–19 for a token this validator checked.
    async fn replay(&self, checked: CheckedToken) -> Result<Identity, LoginError> {
        let c = &self.config;
        let CheckedToken {
            sts: sts_req,
            entity: entity_request,
        } = checked;
        // Step 15: ask STS.
        let body = submit_with(
            Some(&self.emulator_client),
            &self.outbound,
            c.max_retries,
            &sts_req,
        )
        .await?;
        let caller = parse_get_caller_identity(&body)?;
        tracing::debug!(arn = %caller.arn, "iamauth login attempt");
        // Step 16: the caller ARN.
        let entity = parse_arn(&caller.arn)?;
        // Step 17: the identity from STS.
        let mut identity = Identity {
            entity_name: entity.friendly_name.clone(),
            entity_id: caller
                .user_id
                .split(':')
                .next()
                .unwrap_or_default()
                .to_owned(),
            account_id: caller.account.clone(),
            entity_path: String::new(),
            entity_tags: None,
        };
        let mut client_arn = entity.canonical_arn();
        // Step 18: with details, the embedded IAM request.
        if c.enable_iam_entity_details {
            let Some((iam, kind)) = entity_request else {
                return Err(LoginError::Internal(
                    "entity request missing with details enabled",
                ));
            };
            let iam_req = build_forward_request(iam, &c.iam_endpoint)?;
            if !c.server_id_header_value.is_empty() {
                check_server_id(&iam_req.headers, &iam_req.url, &c.server_id_header_value)?;
            }
            let body = submit_with(
                Some(&self.emulator_client),
                &self.outbound,
                c.max_retries,
                &iam_req,
            )
            .await?;
            let details = parse_iam_entity(&body, kind)?;
            // Only STS proves who the caller is: IAM's answer must be about the same entity.
            if details.id != identity.entity_id {
                return Err(LoginError::UniqueIdMismatch);
            }
            client_arn = details.arn;
            identity.entity_path = details.path;
            identity.entity_tags = Some(details.tags.into_iter().collect::<BTreeMap<_, _>>());
        }
        // Step 19: trust.
        if !is_trusted(c, &client_arn) {
            return Err(LoginError::NotTrusted(client_arn));
        }
        Ok(identity)
    }
}

/// §2.7: exact membership; with details, a trailing-`*` bound ARN matches by prefix.
fn is_trusted(c: &AwsIamConfig, client_arn: &str) -> bool {
    if c.bound_iam_principal_arns.iter().any(|a| a == client_arn) {
        return true;
    }
    c.enable_iam_entity_details
        && c.bound_iam_principal_arns.iter().any(|a| {
            a.len() >= 2
                && a.strip_suffix('*')
                    .is_some_and(|prefix| client_arn.starts_with(prefix))
        })
}

/// §2.5, consul-awsauth `validateHeaderValueWithRequest`, on the forwarded (canonicalised)
/// headers.
fn check_server_id(headers: &HeaderList, url: &GoUrl, expected: &str) -> Result<(), LoginError> {
    // Step 1: case-insensitive name; all values joined with `,`.
    let provided = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(SERVER_ID_HEADER))
        .map(|(_, v)| v.join(","))
        .unwrap_or_default();
    if provided.is_empty() {
        return Err(LoginError::MissingHeader(SERVER_ID_HEADER));
    }
    // Step 2: exact, case-sensitive value.
    if provided != expected {
        return Err(LoginError::ServerIdMismatch {
            expected: expected.to_owned(),
            got: provided,
        });
    }
    // Step 3: the header must be signed.
    if let Some((_, values)) = headers.iter().find(|(k, _)| k == "Authorization") {
        let authz = values.join(",");
        let Some(signed) = signed_headers(&authz) else {
            return Err(LoginError::ServerIdNoSignedHeaders);
        };
        let wanted = SERVER_ID_HEADER.to_ascii_lowercase();
        if signed.split(';').any(|h| h == wanted) {
            return Ok(());
        }
        return Err(LoginError::ServerIdNotSigned);
    }
    // Step 4: no Authorization header (a presigned query is never accepted).
    if !url.raw_query.is_empty() {
        return Err(LoginError::ServerIdQuery(url.raw_query.clone()));
    }
    Err(LoginError::MissingAuthorization)
}

/// The capture of Go's regexp `.*SignedHeaders=([^,]+)` on the joined `Authorization` values:
/// the leftmost match begins at the start of the first line with a usable `SignedHeaders=`;
/// the greedy `.*` picks that line's last usable occurrence; the capture runs to the next `,`
/// (it may cross lines, as `[^,]` matches `\n`).
fn signed_headers(authz: &str) -> Option<&str> {
    let marker = "SignedHeaders=";
    let mut line_start = 0usize;
    for line in authz.split('\n') {
        let line_end = line_start + line.len();
        let mut best = None;
        for (pos, _) in line.match_indices(marker) {
            let value_start = line_start + pos + marker.len();
            let rest = authz.get(value_start..).unwrap_or_default();
            let value = rest.split(',').next().unwrap_or_default();
            if !value.is_empty() {
                best = Some(value);
            }
        }
        if best.is_some() {
            return best;
        }
        line_start = line_end + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::authmethod::aws_iam::gostd::url;
    use crate::authmethod::aws_iam::sts::test_helpers::{Reply, Stub};
    use crate::authmethod::aws_iam::token::test_helpers::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderList {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
            .collect()
    }

    /// consul-awsauth `TestValidateHeaderValueWithRequest`.
    #[test]
    fn server_id_table() {
        let u = url::parse("https://sts.amazonaws.com/").unwrap();
        let ok = h(&[
            ("X-Consul-Iam-Serverid", "v"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host;x-consul-iam-serverid, Signature=y",
            ),
        ]);
        assert_eq!(check_server_id(&ok, &u, "v"), Ok(()));
        let lower = h(&[
            ("x-consul-iam-serverid", "v"),
            ("Authorization", "SignedHeaders=x-consul-iam-serverid"),
        ]);
        assert_eq!(check_server_id(&lower, &u, "v"), Ok(()));
        let e = |headers: &HeaderList, u: &GoUrl| {
            check_server_id(headers, u, "v").unwrap_err().to_string()
        };
        assert_eq!(
            e(&h(&[("Authorization", "SignedHeaders=host")]), &u),
            "missing header \"X-Consul-IAM-ServerID\""
        );
        assert_eq!(
            e(&h(&[("X-Consul-Iam-Serverid", "")]), &u),
            "missing header \"X-Consul-IAM-ServerID\""
        );
        assert_eq!(
            e(&h(&[("X-Consul-Iam-Serverid", "w")]), &u),
            "expected \"v\" but got \"w\""
        );
        let two = vec![(
            "X-Consul-Iam-Serverid".to_owned(),
            vec!["v".to_owned(), "v".to_owned()],
        )];
        assert_eq!(e(&two, &u), "expected \"v\" but got \"v,v\"");
        assert_eq!(
            e(
                &h(&[
                    ("X-Consul-Iam-Serverid", "v"),
                    ("Authorization", "SignedHeaders=host;other-header")
                ]),
                &u
            ),
            "header wasn't signed"
        );
        assert_eq!(
            e(
                &h(&[
                    ("X-Consul-Iam-Serverid", "v"),
                    ("Authorization", "AWS4 Credential=x")
                ]),
                &u
            ),
            "server id header wasn't signed"
        );
        assert_eq!(
            e(&h(&[("X-Consul-Iam-Serverid", "v")]), &u),
            "missing Authorization header"
        );
        let q = url::parse(
            "https://sts.amazonaws.com/?X-Amz-SignedHeaders=host%3Bx-consul-iam-serverid",
        )
        .unwrap();
        assert_eq!(
            e(&h(&[("X-Consul-Iam-Serverid", "v")]), &q),
            "URL query parameters are not allowed for header validation: found \"X-Amz-SignedHeaders=host%3Bx-consul-iam-serverid\""
        );
    }

    #[test]
    fn signed_headers_regex_semantics() {
        assert_eq!(
            signed_headers("a, SignedHeaders=x;y, Signature=z"),
            Some("x;y")
        );
        assert_eq!(
            signed_headers("SignedHeaders=a, SignedHeaders=b, S=1"),
            Some("b")
        );
        assert_eq!(
            signed_headers("SignedHeaders=a, SignedHeaders=,"),
            Some("a")
        );
        assert_eq!(signed_headers("SignedHeaders=,"), None);
        assert_eq!(signed_headers("x\nSignedHeaders=q"), Some("q"));
    }

    /// The HTTP layer awaits logins inside axum handlers: the future must be `Send`.
    #[test]
    fn validate_login_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let v = Validator::new(AwsIamConfig::default(), Outbound::default());
        let fut = v.validate_login("{}");
        assert_send(&fut);
    }

    #[test]
    fn trust_rules() {
        let c = AwsIamConfig {
            bound_iam_principal_arns: vec![
                "arn:aws:iam::1:role/a".into(),
                "arn:aws:iam::1:role/ecs/*".into(),
            ],
            ..AwsIamConfig::default()
        };
        assert!(is_trusted(&c, "arn:aws:iam::1:role/a"));
        assert!(!is_trusted(&c, "arn:aws:iam::1:role/ecs/x"));
        let d = AwsIamConfig {
            enable_iam_entity_details: true,
            ..c
        };
        assert!(is_trusted(&d, "arn:aws:iam::1:role/ecs/x"));
        assert!(!is_trusted(&d, "arn:aws:iam::1:role/other/x"));
        assert!(!is_trusted(&d, "arn:aws:iam::1:role/A"));
    }

    const STS_OK: &str = "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::1:assumed-role/r/s</Arn><UserId>AROAX:s</UserId><Account>1</Account></GetCallerIdentityResult></GetCallerIdentityResponse>";

    fn config(stub: &Stub) -> AwsIamConfig {
        AwsIamConfig {
            bound_iam_principal_arns: vec!["arn:aws:iam::1:role/r".into()],
            server_id_header_value: "sid".into(),
            sts_endpoint: stub.url.clone(),
            iam_endpoint: stub.url.clone(),
            ..AwsIamConfig::default()
        }
    }

    #[tokio::test]
    async fn login_without_details() {
        let stub = Stub::start(vec![Reply::xml(200, STS_OK)]).await;
        let v = Validator::new(config(&stub), Outbound::default());
        let t = token(
            "POST",
            "https://sts.amazonaws.com/",
            &sts_headers("sid"),
            STS_BODY,
        );
        let id = v.validate_login(&t).await.unwrap();
        assert_eq!(id.entity_name, "r");
        assert_eq!(id.entity_id, "AROAX");
        assert_eq!(id.account_id, "1");
        assert_eq!(id.entity_tags, None);
    }

    #[tokio::test]
    async fn login_with_details_and_check_order() {
        let role = "<GetRoleResponse><GetRoleResult><Role><Path>/p/</Path><RoleId>AROAX</RoleId><Arn>arn:aws:iam::1:role/p/r</Arn><Tags><member><Key>k</Key><Value>v</Value></member></Tags></Role></GetRoleResult></GetRoleResponse>";
        let stub = Stub::start(vec![Reply::xml(200, STS_OK), Reply::xml(200, role)]).await;
        let c = AwsIamConfig {
            enable_iam_entity_details: true,
            bound_iam_principal_arns: vec!["arn:aws:iam::1:role/p/*".into()],
            ..config(&stub)
        };
        let v = Validator::new(c.clone(), Outbound::default());
        let headers = entity_headers(
            "sid",
            "https://iam.amazonaws.com/",
            "Action=GetRole&RoleName=r",
        );
        let t = token("POST", "https://sts.amazonaws.com/", &headers, STS_BODY);
        let id = v.validate_login(&t).await.unwrap();
        assert_eq!(id.entity_path, "/p/");
        assert_eq!(
            id.entity_tags,
            Some(BTreeMap::from([("k".to_owned(), "v".to_owned())]))
        );
        assert_eq!(stub.seen().len(), 2);

        // Two faults (wrong server id and a host STS would refuse): the server-id check runs
        // before anything is sent.
        let stub2 = Stub::start(vec![Reply::xml(200, STS_OK)]).await;
        let v = Validator::new(config(&stub2), Outbound::default());
        let t = token(
            "POST",
            "https://sts.amazonaws.com/",
            &sts_headers("other"),
            "Action=GetCallerIdentity",
        );
        assert_eq!(
            v.validate_login(&t).await.unwrap_err().to_string(),
            "expected \"sid\" but got \"other\""
        );
        assert!(stub2.seen().is_empty());

        // Token checks come before the server-id check.
        let t = token(
            "POST",
            "https://sts.amazonaws.com/",
            &json!({"X-Amz-Foo": ["1"]}),
            STS_BODY,
        );
        assert_eq!(
            v.validate_login(&t).await.unwrap_err().to_string(),
            "invalid request header: X-Amz-Foo"
        );
    }
}
