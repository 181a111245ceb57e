//! Bearer-token generation, as consul-awsauth `util.go GenerateLoginData` does it.
//!
//! Steps (spec consul-aws-iam §1.2–§1.4):
//! 1. With include-entity: a real, signed `sts:GetCallerIdentity` call to learn the caller ARN;
//!    `role`/`assumed-role` → `iam:GetRole RoleName=<name>`, `user` → `iam:GetUser UserName=<name>`.
//!    The IAM request gets the server-id header, is signed, and is captured, not sent.
//! 2. The STS `GetCallerIdentity` POST gets the four `X-Consul-Iam-Getentity-*` headers and the
//!    server-id header *before* signing, so all of them are signed; it is captured, not sent.
//! 3. The token is the JSON of [`BearerToken`](crate::token::BearerToken).
//!
//! Signing uses the `aws-sigv4` crate, which is independent of the project's own verifier.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{
    SessionTokenMode, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use iamconform_secret::Secret;

use crate::credentials::AwsCredentials;
use crate::endpoint::{self, Endpoint};
use crate::go_json;
use crate::mutant::Mutant;
use crate::token::{BearerToken, Encoding};
use crate::transport::{Network, TransportError};

/// The STS body (43 bytes).
pub const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// The `Content-Type` of both signed requests.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// The server-id header, Go-canonical (configured as `X-Consul-IAM-ServerID`).
pub const SERVER_ID_HEADER: &str = "X-Consul-Iam-Serverid";
/// The GetEntity method header, Go-canonical.
pub const GET_ENTITY_METHOD_HEADER: &str = "X-Consul-Iam-Getentity-Method";
/// The GetEntity URL header, Go-canonical.
pub const GET_ENTITY_URL_HEADER: &str = "X-Consul-Iam-Getentity-Url";
/// The GetEntity headers header, Go-canonical.
pub const GET_ENTITY_HEADERS_HEADER: &str = "X-Consul-Iam-Getentity-Headers";
/// The GetEntity body header, Go-canonical.
pub const GET_ENTITY_BODY_HEADER: &str = "X-Consul-Iam-Getentity-Body";
/// The `User-Agent` sent (never signed).
pub const USER_AGENT: &str = concat!("iamconform-login/", env!("CARGO_PKG_VERSION"));

/// Everything needed to build a bearer token.
#[derive(Clone, Debug)]
pub struct LoginInput {
    /// The credentials to sign with.
    pub credentials: AwsCredentials,
    /// The client region (STS signing region).
    pub region: String,
    /// STS endpoint override; `None` means `https://sts.<region>.amazonaws.com`.
    pub sts_endpoint: Option<String>,
    /// IAM endpoint override; `None` means `https://iam.amazonaws.com` signed for us-east-1.
    pub iam_endpoint: Option<String>,
    /// Embed a signed GetRole/GetUser (`-aws-include-entity`).
    pub include_entity: bool,
    /// Value of the server-id header; `None` or empty means no header.
    pub server_id_header_value: Option<String>,
    /// The signing time.
    pub now: SystemTime,
    /// Where the GetCallerIdentity call may connect.
    pub network: Network,
    /// A deliberate bug to commit, if any.
    pub mutant: Option<Mutant>,
}

impl LoginInput {
    /// An input with defaults: no overrides, no entity, no server id, the current time,
    /// loopback-only network, no mutant.
    pub fn new(credentials: AwsCredentials, region: &str) -> Self {
        Self {
            credentials,
            region: region.to_owned(),
            sts_endpoint: None,
            iam_endpoint: None,
            include_entity: false,
            server_id_header_value: None,
            now: SystemTime::now(),
            network: Network::default(),
            mutant: None,
        }
    }
}

/// Why a bearer token could not be built. The texts follow aws-sdk-go-v2 consul-awsauth where
/// the failure has a counterpart there.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// An endpoint URL is unusable.
    #[error("invalid endpoint: {0}")]
    Endpoint(#[source] TransportError),
    /// The GetCallerIdentity call could not be made.
    #[error(
        "failed to format signed entity request: failed to get caller identity: operation error STS: GetCallerIdentity, request send failed, Post {url:?}: {source}"
    )]
    CallerIdentitySend {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: TransportError,
    },
    /// STS answered with an error.
    #[error(
        "failed to format signed entity request: failed to get caller identity: operation error STS: GetCallerIdentity, https response error StatusCode: {status}, RequestID: {request_id}, api error {code}: {message}"
    )]
    CallerIdentityStatus {
        /// HTTP status.
        status: u16,
        /// `RequestId` of the error body.
        request_id: String,
        /// AWS error code.
        code: String,
        /// AWS error message.
        message: String,
    },
    /// STS answered 200 without a usable `Arn`.
    #[error(
        "failed to format signed entity request: failed to get caller identity: operation error STS: GetCallerIdentity, deserialization failed: {0}"
    )]
    CallerIdentityBody(String),
    /// The caller ARN did not parse.
    #[error("failed to format signed entity request: failed to parse ARN: {0}")]
    Arn(String),
    /// The caller is neither a role nor a user.
    #[error(
        "failed to format signed entity request: unsupported entity type {0}, expected role or user"
    )]
    EntityType(String),
    /// The signer refused the request.
    #[error("failed to sign request: {0}")]
    Signing(String),
}

/// A request being built: headers keep Go-canonical names in insertion order.
#[derive(Clone, Debug)]
struct Req {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Req {
    fn form_post(url: &str, body: String, content_length: usize) -> Self {
        Self {
            method: "POST".to_owned(),
            url: url.to_owned(),
            headers: vec![
                ("Content-Length".to_owned(), content_length.to_string()),
                ("Content-Type".to_owned(), FORM_CONTENT_TYPE.to_owned()),
                ("User-Agent".to_owned(), USER_AGENT.to_owned()),
            ],
            body,
        }
    }

    fn add(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// The Go `http.Header` view: values of equal names grouped.
    fn header_map(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (k, v) in &self.headers {
            match out.iter_mut().find(|(name, _)| name == k) {
                Some((_, values)) => values.push(v.clone()),
                None => out.push((k.clone(), vec![v.clone()])),
            }
        }
        out
    }
}

/// How one request is signed.
struct SignSpec<'a> {
    credentials: &'a AwsCredentials,
    region: &'a str,
    service: &'a str,
    time: SystemTime,
    host_override: Option<String>,
    drop_session_token: bool,
    session_token_unsigned: bool,
    corrupt_secret: bool,
}

fn sign_request(req: &mut Req, spec: &SignSpec<'_>) -> Result<(), TokenError> {
    let signing_err = |e: &dyn std::fmt::Display| TokenError::Signing(e.to_string());
    // aws-sigv4 panics on a URI without a host, so check first.
    crate::transport::parse_url(&req.url).map_err(TokenError::Endpoint)?;
    let mut secret = spec.credentials.secret_access_key.expose().clone();
    if spec.corrupt_secret {
        let last = secret.pop();
        secret.push(if last == Some('x') { 'y' } else { 'x' });
    }
    let token = if spec.drop_session_token {
        None
    } else {
        spec.credentials
            .session_token
            .as_ref()
            .map(|t| t.expose().clone())
    };
    let identity = aws_credential_types::Credentials::new(
        spec.credentials.access_key_id.clone(),
        secret,
        token,
        None,
        "iamconform-login",
    )
    .into();
    let mut settings = SigningSettings::default();
    if spec.session_token_unsigned {
        settings.session_token_mode = SessionTokenMode::Exclude;
    }
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(spec.region)
        .name(spec.service)
        .time(spec.time)
        .settings(settings)
        .build()
        .map_err(|e| signing_err(&e))?
        .into();
    let mut to_sign: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(host) = &spec.host_override {
        to_sign.push(("host", host.as_str()));
    }
    let signable = SignableRequest::new(
        &req.method,
        req.url.as_str(),
        to_sign.into_iter(),
        SignableBody::Bytes(req.body.as_bytes()),
    )
    .map_err(|e| signing_err(&e))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| signing_err(&e))?
        .into_parts();
    let mut added: Vec<(String, String)> = instructions
        .headers()
        .map(|(k, v)| (go_json::canonical_header_key(k), v.to_owned()))
        .collect();
    // Keep the Go SDK's order: X-Amz-Date, X-Amz-Security-Token, then Authorization.
    added.sort_by_key(|(k, _)| k == "Authorization");
    req.headers.extend(added);
    Ok(())
}

/// Builds the bearer token for `input`.
pub async fn generate_bearer_token(input: &LoginInput) -> Result<Secret<String>, TokenError> {
    let (token, encoding) = build_token(input).await?;
    Ok(Secret::new(token.render_with(encoding)))
}

fn is(input: &LoginInput, m: Mutant) -> bool {
    input.mutant == Some(m)
}

fn signing_time(input: &LoginInput) -> SystemTime {
    let skew = Duration::from_secs(16 * 60);
    let t = if is(input, Mutant::DateStale16m) {
        input.now.checked_sub(skew)
    } else if is(input, Mutant::DateFuture16m) {
        input.now.checked_add(skew)
    } else {
        Some(input.now)
    };
    t.unwrap_or(input.now)
}

fn base_spec<'a>(input: &'a LoginInput, region: &'a str, service: &'a str) -> SignSpec<'a> {
    SignSpec {
        credentials: &input.credentials,
        region,
        service,
        time: signing_time(input),
        host_override: None,
        drop_session_token: is(input, Mutant::SessionTokenDropped),
        session_token_unsigned: is(input, Mutant::SessionTokenUnsigned),
        corrupt_secret: is(input, Mutant::WrongSecret),
    }
}

async fn build_token(input: &LoginInput) -> Result<(BearerToken, Encoding), TokenError> {
    let sts = endpoint::sts_endpoint(input.sts_endpoint.as_deref(), &input.region)
        .map_err(TokenError::Endpoint)?;
    let server_id = input
        .server_id_header_value
        .as_deref()
        .filter(|v| !v.is_empty())
        .filter(|_| !is(input, Mutant::ServerIdOmitted))
        .map(|v| {
            if is(input, Mutant::ServerIdWrongValue) {
                format!("{v}-wrong")
            } else {
                v.to_owned()
            }
        });

    let entity = if input.include_entity {
        Some(entity_request(input, &sts, server_id.as_deref()).await?)
    } else {
        None
    };

    let mut url = sts.url.clone();
    if is(input, Mutant::StsUrlQuery) {
        url.push_str("?Action=GetCallerIdentity&Version=2011-06-15");
    }
    let body = if is(input, Mutant::BodyActionMisspelt) {
        STS_BODY.replace("GetCallerIdentity", "GetCallerIdentty")
    } else if is(input, Mutant::BodyExtraField) {
        format!("{STS_BODY}&DurationSeconds=900")
    } else {
        STS_BODY.to_owned()
    };
    let content_length = if is(input, Mutant::ContentLengthWrong) {
        body.len().saturating_add(1)
    } else {
        body.len()
    };
    let mut req = Req::form_post(&url, body, content_length);
    if is(input, Mutant::MethodGet) {
        req.method = "GET".to_owned();
    }
    if let Some(e) = &entity {
        let names = if is(input, Mutant::EntityHeadersAwsSpelling) {
            [
                "X-Consul-IAM-GetEntity-Method",
                "X-Consul-IAM-GetEntity-URL",
                "X-Consul-IAM-GetEntity-Headers",
                "X-Consul-IAM-GetEntity-Body",
            ]
        } else if is(input, Mutant::EntityHeadersLowercase) {
            [
                "x-consul-iam-getentity-method",
                "x-consul-iam-getentity-url",
                "x-consul-iam-getentity-headers",
                "x-consul-iam-getentity-body",
            ]
        } else {
            [
                GET_ENTITY_METHOD_HEADER,
                GET_ENTITY_URL_HEADER,
                GET_ENTITY_HEADERS_HEADER,
                GET_ENTITY_BODY_HEADER,
            ]
        };
        let [m, u, h, b] = names;
        req.add(m, &e.method);
        req.add(u, &e.url);
        req.add(h, &go_json::header_map(&e.header_map()));
        req.add(b, &e.body);
    }
    let server_id_after_signing = is(input, Mutant::ServerIdUnsigned);
    if let Some(sid) = &server_id
        && !server_id_after_signing
    {
        req.add(SERVER_ID_HEADER, sid);
    }

    let region = if is(input, Mutant::SigningRegionWrong) {
        if input.region == "us-west-2" {
            "us-east-1"
        } else {
            "us-west-2"
        }
    } else {
        input.region.as_str()
    };
    let service = if is(input, Mutant::SigningServiceWrong) {
        "iam"
    } else {
        "sts"
    };
    let mut spec = base_spec(input, region, service);
    if is(input, Mutant::HostMismatch) {
        let host = crate::transport::parse_url(&sts.url)
            .map_err(TokenError::Endpoint)?
            .host;
        spec.host_override = Some(if host == "sts.amazonaws.com" {
            "sts.us-east-1.amazonaws.com".to_owned()
        } else {
            "sts.amazonaws.com".to_owned()
        });
    }
    sign_request(&mut req, &spec)?;
    if let Some(sid) = &server_id
        && server_id_after_signing
    {
        req.add(SERVER_ID_HEADER, sid);
    }

    let token = BearerToken {
        method: req.method.clone(),
        url: req.url.clone(),
        headers: req.header_map(),
        body: req.body.clone().into_bytes(),
    };
    let encoding = if is(input, Mutant::Base64UrlEncoding) {
        Encoding::UrlSafeNoPad
    } else if is(input, Mutant::HeadersJsonNotBase64) {
        Encoding::HeadersRawJson
    } else {
        Encoding::Standard
    };
    Ok((token, encoding))
}

/// Step 1: learn the caller, then build and sign the GetRole/GetUser request.
async fn entity_request(
    input: &LoginInput,
    sts: &Endpoint,
    server_id: Option<&str>,
) -> Result<Req, TokenError> {
    let arn = caller_arn(input, sts).await?;
    let parsed = parse_arn(&arn).map_err(TokenError::Arn)?;
    let (action, param) = match parsed.kind.as_str() {
        "role" | "assumed-role" if is(input, Mutant::EntityGetUserForRole) => {
            ("GetUser", "UserName")
        }
        "role" | "assumed-role" => ("GetRole", "RoleName"),
        "user" => ("GetUser", "UserName"),
        other => return Err(TokenError::EntityType(other.to_owned())),
    };
    let name = if is(input, Mutant::EntityWrongRoleName) {
        parsed.last_segment.as_str()
    } else {
        parsed.friendly_name.as_str()
    };
    // Go's url.Values.Encode sorts the keys: Action, RoleName/UserName, Version.
    let body = format!(
        "Action={action}&{param}={}&Version=2010-05-08",
        go_json::query_escape(name)
    );
    let iam = endpoint::iam_endpoint(input.iam_endpoint.as_deref(), &input.region)
        .map_err(TokenError::Endpoint)?;
    let len = body.len();
    let mut req = Req::form_post(&iam.url, body, len);
    if let Some(sid) = server_id
        && !is(input, Mutant::EntityServerIdMissing)
    {
        req.add(SERVER_ID_HEADER, sid);
    }
    if !is(input, Mutant::EntityUnsigned) {
        sign_request(&mut req, &base_spec(input, &iam.signing_region, "iam"))?;
    }
    Ok(req)
}

/// A real, correctly signed GetCallerIdentity call; returns the caller ARN.
async fn caller_arn(input: &LoginInput, sts: &Endpoint) -> Result<String, TokenError> {
    let mut req = Req::form_post(&sts.url, STS_BODY.to_owned(), STS_BODY.len());
    let spec = SignSpec {
        credentials: &input.credentials,
        region: &sts.signing_region,
        service: "sts",
        time: input.now,
        host_override: None,
        drop_session_token: false,
        session_token_unsigned: false,
        corrupt_secret: false,
    };
    sign_request(&mut req, &spec)?;
    let response = input
        .network
        .send(&req.method, &req.url, &req.headers, req.body.into_bytes())
        .await
        .map_err(|source| TokenError::CallerIdentitySend {
            url: sts.url.clone(),
            source,
        })?;
    let text = String::from_utf8_lossy(&response.body);
    if response.status != 200 {
        return Err(TokenError::CallerIdentityStatus {
            status: response.status,
            request_id: xml_text(&text, "RequestId").unwrap_or_default(),
            code: xml_text(&text, "Code").unwrap_or_default(),
            message: xml_text(&text, "Message").unwrap_or_default(),
        });
    }
    xml_text(&text, "Arn")
        .filter(|a| !a.is_empty())
        .ok_or_else(|| TokenError::CallerIdentityBody("no Arn in the response".to_owned()))
}

/// The text of the first element whose local name is `name`.
pub(crate) fn xml_text(xml: &str, name: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = 0usize;
    let mut text = String::new();
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) => {
                if inside > 0 {
                    inside += 1;
                } else if e.local_name().as_ref() == name {
                    inside = 1;
                }
            }
            Event::Empty(e) if inside == 0 && e.local_name().as_ref() == name => {
                return Some(String::new());
            }
            Event::End(_) if inside > 0 => {
                inside -= 1;
                if inside == 0 {
                    return Some(text.trim().to_owned());
                }
            }
            Event::Text(t) if inside > 0 => text.push_str(&t.xml10_content()),
            Event::CData(t) if inside > 0 => {
                text.push_str(&t.into_inner());
            }
            Event::GeneralRef(r) if inside > 0 => match r.resolve_char_ref() {
                Ok(Some(c)) => text.push(c),
                _ => match r.xml10_content().as_ref() {
                    "amp" => text.push('&'),
                    "lt" => text.push('<'),
                    "gt" => text.push('>'),
                    "quot" => text.push('"'),
                    "apos" => text.push('\''),
                    _ => {}
                },
            },
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// An ARN as consul-awsauth `responses/arn.go ParseArn` splits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedArn {
    /// `role`, `assumed-role` or `user`.
    pub kind: String,
    /// The role or user name (for assumed roles: the role, not the session).
    pub friendly_name: String,
    /// The last `/` segment (the session name of an assumed role).
    pub last_segment: String,
}

/// Parses an IAM/STS ARN with consul-awsauth's rules and messages.
pub fn parse_arn(arn: &str) -> Result<ParsedArn, String> {
    let full: Vec<&str> = arn.split(':').collect();
    let [prefix, partition, service, _region, account, resource] = full.as_slice() else {
        return Err(format!(
            "unrecognized arn: contains {} colon-separated parts, expected 6",
            full.len()
        ));
    };
    if *prefix != "arn" {
        return Err("unrecognized arn: does not begin with \"arn:\"".to_owned());
    }
    if partition.is_empty() {
        return Err(format!(
            "unrecognized arn: {arn:?} is missing the partition"
        ));
    }
    if *service != "iam" && *service != "sts" {
        return Err(format!(
            "unrecognized service: {service}, not one of iam or sts"
        ));
    }
    if account.is_empty() {
        return Err(format!(
            "unrecognized arn: {arn:?} is missing the account number"
        ));
    }
    let parts: Vec<&str> = resource.split('/').collect();
    let (Some(kind), Some(last)) = (parts.first(), parts.last()) else {
        return Err(format!(
            "unrecognized arn: {resource:?} contains fewer than 2 slash-separated parts"
        ));
    };
    if parts.len() < 2 {
        return Err(format!(
            "unrecognized arn: {resource:?} contains fewer than 2 slash-separated parts"
        ));
    }
    let friendly = match *kind {
        "assumed-role" => match parts.get(1) {
            Some(role) if parts.len() >= 3 => *role,
            _ => {
                return Err(format!(
                    "unrecognized arn: {resource:?} contains fewer than 3 slash-separated parts"
                ));
            }
        },
        "user" | "role" => *last,
        other => return Err(format!("unrecognized principal type: {other:?}")),
    };
    if friendly.is_empty() {
        return Err(format!(
            "unrecognized arn: {arn:?} is missing the resource name"
        ));
    }
    Ok(ParsedArn {
        kind: (*kind).to_owned(),
        friendly_name: friendly.to_owned(),
        last_segment: (*last).to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_parse_like_consul_awsauth() {
        let a = parse_arn("arn:aws:sts::123456789012:assumed-role/web-task/task-1").unwrap();
        assert_eq!(
            (
                a.kind.as_str(),
                a.friendly_name.as_str(),
                a.last_segment.as_str()
            ),
            ("assumed-role", "web-task", "task-1")
        );
        let u = parse_arn("arn:aws:iam::123456789012:user/division/bob").unwrap();
        assert_eq!(u.friendly_name, "bob");
        assert_eq!(
            parse_arn("arn:aws:iam::1:root").unwrap_err(),
            "unrecognized arn: \"root\" contains fewer than 2 slash-separated parts"
        );
        assert_eq!(
            parse_arn("arn:aws:s3::1:x/y").unwrap_err(),
            "unrecognized service: s3, not one of iam or sts"
        );
        assert_eq!(
            parse_arn("arn:aws:sts::1:federated-user/x").unwrap_err(),
            "unrecognized principal type: \"federated-user\""
        );
        assert_eq!(
            parse_arn("a:b").unwrap_err(),
            "unrecognized arn: contains 2 colon-separated parts, expected 6"
        );
    }

    #[test]
    fn xml_text_reads_elements_and_entities() {
        let xml = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::1:user/a&amp;b</Arn>
  </GetCallerIdentityResult>
</GetCallerIdentityResponse>"#;
        assert_eq!(
            xml_text(xml, "Arn").as_deref(),
            Some("arn:aws:iam::1:user/a&b")
        );
        assert_eq!(xml_text(xml, "Missing"), None);
        assert_eq!(xml_text("<<<", "Arn"), None);
    }
}
