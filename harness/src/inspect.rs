//! `iamconform inspect`: decode a bearer token and explain it, without any AWS access.
//!
//! A token copied from a failing client's debug log says almost everything about why a login
//! fails: the STS request it carries, the embedded IAM request, the SigV4 parameters, and which
//! of Consul's structural checks it breaks. [`inspect`] is a pure function from the token text,
//! an auth-method [`AwsIamConfig`] and the current time to an [`Inspection`]: the decoded
//! requests ([`RequestView`], secrets redacted) and every [`Finding`].
//!
//! Consul stops at its first failing check; `inspect` runs every check so one look shows every
//! problem. Consul findings come in spec order (consul-aws-iam §2.3 steps 3–12, then the
//! server-ID checks of §2.5 for the STS request, step 14, and the IAM request, step 18) with
//! Consul's exact texts (the [`LoginError`] texts of the Consul emulator). AWS findings (what
//! STS or IAM would reject when Consul replays the request: region/host mismatch, wrong signing
//! service, stale date, a session token not sent) follow. [`consul_first_error`] runs the
//! Consul emulator's own validator offline as an oracle for the first Consul failure.
//!
//! What it cannot see: the signature itself (no secret key is at hand), so a wrong secret, a
//! signed `host` that differs from the URL, or a body changed after signing are invisible.

use std::fmt::Write as _;
use std::time::SystemTime;

use iamconform_consul::authmethod::aws_iam::{AwsIamConfig, LoginError, Outbound, Validator};
use iamconform_login::{BearerToken, canonical_header_key};
use serde::Serialize;
use time::OffsetDateTime;
use time::macros::format_description;

/// The largest clock difference AWS accepts between `X-Amz-Date` and its own clock.
/// Spec: aws-sts-iam-sigv4 §1.10 (15 minutes).
pub const MAX_SKEW_SECS: i64 = 15 * 60;

/// Where the diagnosis documentation lives; finding ids are anchors in it.
pub const DOCS: &str = "docs/diagnosis.md";

/// Consul's spelling of the server-ID header (`consul-awsauth`).
const SERVER_ID_HEADER: &str = "X-Consul-IAM-ServerID";
/// Consul's spellings of the four GetEntity headers, in the order Consul reads them.
const ENTITY_HEADERS: [&str; 4] = [
    "X-Consul-IAM-GetEntity-Method",
    "X-Consul-IAM-GetEntity-URL",
    "X-Consul-IAM-GetEntity-Headers",
    "X-Consul-IAM-GetEntity-Body",
];
/// The `X-Amz-*` headers Consul always allows in the STS request (§2.3 step 7).
const ALLOWED_AMZ_HEADERS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Content-Sha256",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
];

/// What `inspect` found in a token.
///
/// JSON output of `iamconform inspect --json` is this type serialised: `version` (1), `decoded`,
/// `decode_error`, `sts` and `entity` (each a [`RequestView`] or null), `findings` (each a
/// [`Finding`]) and `consul_verdict` (the first error of Consul's validator run offline, or null).
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// Format version of the JSON output.
    pub version: u32,
    /// Whether the outer token decoded.
    pub decoded: bool,
    /// Why it did not, when it did not.
    pub decode_error: Option<String>,
    /// The signed STS request.
    pub sts: Option<RequestView>,
    /// The embedded IAM request, when the token carries one (in any header spelling).
    pub entity: Option<RequestView>,
    /// Every problem, Consul checks first (in Consul's order), then AWS checks.
    pub findings: Vec<Finding>,
    /// Consul's own answer, filled by the caller from [`consul_first_error`].
    pub consul_verdict: Option<String>,
}

/// One signed request, with secrets redacted.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    /// HTTP method.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Host of the URL (what AWS sees in `Host`).
    pub host: String,
    /// Raw query string (empty for a correct client).
    pub query: String,
    /// Headers in token order; the signature and session tokens are redacted.
    pub headers: Vec<(String, Vec<String>)>,
    /// Body text.
    pub body: String,
    /// The SigV4 parameters, when the request carries an `Authorization` header.
    pub sigv4: Option<SigV4View>,
}

/// The SigV4 parameters of a request (never the signature).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SigV4View {
    /// The algorithm, `AWS4-HMAC-SHA256`.
    pub algorithm: String,
    /// The access key id.
    pub access_key_id: String,
    /// Credential scope date, `yyyymmdd`.
    pub scope_date: String,
    /// Credential scope region.
    pub region: String,
    /// Credential scope service.
    pub service: String,
    /// The `SignedHeaders` list.
    pub signed_headers: Vec<String>,
    /// `X-Amz-Date`.
    pub amz_date: Option<String>,
    /// Seconds between `X-Amz-Date` and the inspection time (negative: in the future).
    pub age_secs: Option<i64>,
    /// Whether `X-Amz-Security-Token` is present.
    pub session_token_present: bool,
    /// Whether `x-amz-security-token` is among the signed headers.
    pub session_token_signed: bool,
}

/// Who rejects what a finding describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Consul's structural checks (before anything is sent to AWS).
    Consul,
    /// STS or IAM, when Consul replays the request.
    Aws,
}

/// One problem.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// Stable id; also the anchor in `docs/diagnosis.md`.
    pub id: &'static str,
    /// Who rejects it.
    pub source: Source,
    /// The spec step, e.g. `§2.3 step 7`.
    pub step: &'static str,
    /// Consul's exact error text for Consul findings; a description for AWS findings.
    pub message: String,
    /// What it means and how to fix it.
    pub explanation: String,
}

impl Finding {
    /// The documentation link for this finding.
    pub fn doc_link(&self) -> String {
        format!("{DOCS}#{}", self.id)
    }
}

/// Decodes `token` and runs every check for an auth method with `config` at time `now`.
pub fn inspect(token: &str, config: &AwsIamConfig, now: SystemTime) -> Inspection {
    let token = token.trim();
    let mut out = Inspection {
        version: 1,
        decoded: false,
        decode_error: None,
        sts: None,
        entity: None,
        findings: Vec::new(),
        consul_verdict: None,
    };
    let decoded = match BearerToken::parse(token) {
        Ok(t) => t,
        Err(e) => {
            out.decode_error = Some(e.to_string());
            out.findings.push(Finding {
                id: "token-undecodable",
                source: Source::Consul,
                step: "§2.3 steps 1-2",
                message: format!("invalid token: {e}"),
                explanation: "the token is not the JSON object of four standard (padded) base64 \
                              fields that consul login writes; Consul rejects it before looking \
                              at the request"
                    .to_owned(),
            });
            return out;
        }
    };
    out.decoded = true;
    let now = OffsetDateTime::from(now);
    let sts = view(
        &decoded.method,
        &decoded.url,
        &decoded.headers,
        &decoded.body,
        now,
    );
    let entity = embedded_entity(&decoded.headers)
        .map(|e| view(&e.method, &e.url, &e.headers, e.body.as_bytes(), now));
    let mut f = Vec::new();
    consul_sts_checks(&decoded, &sts, config, &mut f);
    if config.enable_iam_entity_details {
        consul_entity_checks(&decoded, config, &mut f);
    }
    if !config.server_id_header_value.is_empty() {
        server_id_check(
            &decoded.headers,
            &sts.query,
            config,
            "STS",
            "§2.5 (step 14)",
            &mut f,
        );
        if config.enable_iam_entity_details
            && let Some(e) = embedded_entity(&decoded.headers).filter(|e| e.canonical)
        {
            let query = split_url(&e.url).map(|u| u.query).unwrap_or_default();
            server_id_check(&e.headers, &query, config, "IAM", "§2.5 (step 18)", &mut f);
        }
    }
    non_canonical_spellings(&decoded.headers, &mut f);
    aws_checks(&sts, "sts", &mut f);
    if let Some(e) = &entity {
        aws_checks(e, "iam", &mut f);
    }
    out.sts = Some(sts);
    out.entity = entity;
    out.findings = f;
    out
}

/// The first error Consul's validator (the Consul emulator's) gives for this token, run offline:
/// `None` when the token passes every check Consul makes before sending it to STS
/// ([`Validator::check_token`], which contacts nothing).
pub fn consul_first_error(token: &str, config: &AwsIamConfig) -> Option<String> {
    Validator::new(config.clone(), Outbound::default())
        .check_token(token.trim())
        .err()
        .map(|e| e.to_string())
}

/// An absolute URL split the way Go's `url.Parse` sees the parts Consul uses.
struct UrlParts {
    host: String,
    hostname: String,
    query: String,
}

fn split_url(url: &str) -> Option<UrlParts> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty() {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or_default();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = rest.get(..end).unwrap_or_default().to_owned();
    if host.is_empty() {
        return None;
    }
    let query = rest
        .split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or_default();
    let hostname = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default().to_owned()
    } else {
        host.split(':').next().unwrap_or_default().to_owned()
    };
    Some(UrlParts {
        host,
        hostname,
        query,
    })
}

fn view(
    method: &str,
    url: &str,
    headers: &[(String, Vec<String>)],
    body: &[u8],
    now: OffsetDateTime,
) -> RequestView {
    let parts = split_url(url);
    let redacted = headers
        .iter()
        .map(|(k, vs)| (k.clone(), vs.iter().map(|v| redact(k, v)).collect()))
        .collect();
    RequestView {
        method: method.to_owned(),
        url: url.to_owned(),
        host: parts.as_ref().map(|p| p.host.clone()).unwrap_or_default(),
        query: parts.map(|p| p.query).unwrap_or_default(),
        headers: redacted,
        body: String::from_utf8_lossy(body).into_owned(),
        sigv4: sigv4(headers, now),
    }
}

/// A header value fit to print: no signature, no session token, and the embedded IAM headers
/// (which hold both) summarised.
fn redact(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("X-Amz-Security-Token") {
        let head: String = value.chars().take(4).collect();
        return format!("{head}… ({} characters, redacted)", value.chars().count());
    }
    if name.eq_ignore_ascii_case("Authorization") {
        return match value.find("Signature=") {
            Some(pos) => format!(
                "{}Signature=<redacted>",
                value.get(..pos).unwrap_or_default()
            ),
            None => value.to_owned(),
        };
    }
    if name.eq_ignore_ascii_case("X-Consul-IAM-GetEntity-Headers") {
        return "<the embedded IAM request's headers, shown below>".to_owned();
    }
    value.to_owned()
}

/// Values of `name` under any spelling (case-insensitive), as the forwarded request merges them.
fn values_ci<'a>(headers: &'a [(String, Vec<String>)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.iter().map(String::as_str))
        .collect()
}

/// Values of `name` as Go's `Header.Values` finds them in a decoded map: the lookup key is
/// canonicalised, the stored keys are not.
fn values_canonical<'a>(headers: &'a [(String, Vec<String>)], name: &str) -> Option<&'a [String]> {
    let key = canonical_header_key(name);
    headers
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_slice())
}

fn sigv4(headers: &[(String, Vec<String>)], now: OffsetDateTime) -> Option<SigV4View> {
    let authz = values_ci(headers, "Authorization").join(",");
    if authz.is_empty() {
        return None;
    }
    let (algorithm, params) = authz.split_once(' ').unwrap_or((authz.as_str(), ""));
    let mut credential = "";
    let mut signed = "";
    for part in params.split(',') {
        let part = part.trim();
        if let Some(c) = part.strip_prefix("Credential=") {
            credential = c;
        } else if let Some(s) = part.strip_prefix("SignedHeaders=") {
            signed = s;
        }
    }
    let mut scope = credential.split('/');
    let mut next = || scope.next().unwrap_or_default().to_owned();
    let (access_key_id, scope_date, region, service) = (next(), next(), next(), next());
    let signed_headers: Vec<String> = signed
        .split(';')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let amz_date = values_ci(headers, "X-Amz-Date")
        .first()
        .map(|d| (*d).to_owned());
    let age_secs = amz_date
        .as_deref()
        .and_then(parse_amz_date)
        .map(|t| (now - t).whole_seconds());
    Some(SigV4View {
        algorithm: algorithm.to_owned(),
        access_key_id,
        scope_date,
        region,
        service,
        session_token_signed: signed_headers.iter().any(|h| h == "x-amz-security-token"),
        signed_headers,
        amz_date,
        age_secs,
        session_token_present: !values_ci(headers, "X-Amz-Security-Token").is_empty(),
    })
}

fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, format)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// The embedded IAM request as the four GetEntity headers describe it.
struct Entity {
    method: String,
    url: String,
    headers: Vec<(String, Vec<String>)>,
    body: String,
    /// Whether all four were found under the spelling Consul looks up.
    canonical: bool,
}

fn embedded_entity(headers: &[(String, Vec<String>)]) -> Option<Entity> {
    let get = |name: &str| values_ci(headers, name).first().map(|v| (*v).to_owned());
    let [m, u, h, b] = ENTITY_HEADERS;
    let url = get(u)?;
    let headers_json = get(h).unwrap_or_default();
    let inner =
        iamconform_login::token::parse_header_json(headers_json.as_bytes()).unwrap_or_default();
    Some(Entity {
        method: get(m).unwrap_or_default(),
        url,
        headers: inner,
        body: get(b).unwrap_or_default(),
        canonical: ENTITY_HEADERS
            .iter()
            .all(|n| values_canonical(headers, n).is_some_and(|v| v.len() == 1)),
    })
}

/// Go's `url.ParseQuery`, keeping first-appearance key order.
fn parse_form(body: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for pair in body.split('&') {
        if pair.contains(';') {
            return Err("invalid semicolon separator in query".to_owned());
        }
        if pair.is_empty() {
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = unescape(k)?;
        let v = unescape(v)?;
        if k.is_empty() {
            continue;
        }
        match out.iter_mut().find(|(name, _)| *name == k) {
            Some((_, vs)) => vs.push(v),
            None => out.push((k, vec![v])),
        }
    }
    Ok(out)
}

/// Go's `url.QueryUnescape`.
fn unescape(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) if hex.is_some_and(|h| h.bytes().all(|c| c.is_ascii_hexdigit())) => {
                        out.push(v);
                        i += 3;
                    }
                    _ => {
                        let bad: String = s.get(i..).unwrap_or_default().chars().take(3).collect();
                        return Err(format!("invalid URL escape {bad:?}"));
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Go's `%v` of a `[]string`.
fn go_slice(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

/// consul-awsauth `parseRequestBody` (§2.3 step 5 and 11): the first rule broken, if any.
fn body_error(body: &str, allowed: &[(&str, &[&str])]) -> Option<String> {
    let values = match parse_form(body) {
        Ok(v) => v,
        Err(e) => return Some(e),
    };
    let action_ok = values
        .iter()
        .find(|(k, _)| k == "Action")
        .and_then(|(_, v)| v.first())
        .is_some_and(|a| !a.is_empty());
    if !action_ok {
        return Some("missing field \"Action\"".to_owned());
    }
    for (k, v) in &values {
        let Some((_, expected)) = allowed.iter().find(|(name, _)| name == k) else {
            return Some(format!("unexpected field {k:?}"));
        };
        if !expected.is_empty()
            && !matches!(v.as_slice(), [one] if expected.contains(&one.as_str()))
        {
            return Some(format!("unexpected value {k}={}", go_slice(v)));
        }
    }
    None
}

fn consul(id: &'static str, step: &'static str, e: LoginError, explanation: &str) -> Finding {
    Finding {
        id,
        source: Source::Consul,
        step,
        message: e.to_string(),
        explanation: explanation.to_owned(),
    }
}

fn consul_sts_checks(
    t: &BearerToken,
    sts: &RequestView,
    config: &AwsIamConfig,
    f: &mut Vec<Finding>,
) {
    // Step 3: the method.
    if t.method != "POST" {
        f.push(consul(
            "method-not-post",
            "§2.3 step 3",
            LoginError::MethodNotPost,
            &format!(
                "the STS request uses {:?}; GetCallerIdentity must be sent as a form POST",
                t.method
            ),
        ));
    }
    // Step 4: the STS host, unless an endpoint is configured.
    if config.sts_endpoint.is_empty() {
        let host = split_url(&t.url).map(|u| u.hostname).unwrap_or_default();
        if !(host.ends_with(".amazonaws.com")
            && (host.starts_with("sts.") || host.starts_with("sts-fips.")))
        {
            f.push(consul(
                "sts-host-not-allowed",
                "§2.3 step 4",
                LoginError::InvalidStsHostname(host),
                "without STSEndpoint on the auth method Consul only accepts sts.*.amazonaws.com \
                 hosts; sign for the real STS host, or set STSEndpoint on the auth method",
            ));
        }
    }
    // Step 5: the body.
    if let Some(e) = body_error(
        &String::from_utf8_lossy(&t.body),
        &[("Action", &["GetCallerIdentity"]), ("Version", &[])],
    ) {
        f.push(consul(
            "sts-body",
            "§2.3 step 5",
            LoginError::StsBody(e),
            "the STS body must be exactly Action=GetCallerIdentity&Version=2011-06-15 (no other \
             parameters)",
        ));
    }
    // Step 6: no query string.
    if !sts.query.is_empty() {
        f.push(consul(
            "url-query",
            "§2.3 step 6",
            LoginError::StsQuery(sts.query.clone()),
            "the STS URL must carry no query string; put the parameters in the POST body",
        ));
    }
    // Step 7: the X-Amz-* allow-list; Consul names one (map order), we name each.
    for (key, _) in &t.headers {
        let h = canonical_header_key(key);
        if h.starts_with("X-Amz-")
            && !ALLOWED_AMZ_HEADERS.contains(&h.as_str())
            && !config.allowed_sts_header_values.contains(&h)
        {
            f.push(consul(
                "header-not-allowed",
                "§2.3 step 7",
                LoginError::InvalidRequestHeader(h.clone()),
                &format!(
                    "{h} is not an X-Amz-* header Consul allows; drop it from the request or add \
                     {h:?} (exactly this spelling) to AllowedSTSHeaderValues"
                ),
            ));
        }
    }
}

fn consul_entity_checks(t: &BearerToken, config: &AwsIamConfig, f: &mut Vec<Finding>) {
    // Step 8: the four GetEntity headers, under the spelling Consul looks up.
    let mut found: Vec<Option<&str>> = Vec::new();
    for (i, name) in ENTITY_HEADERS.iter().enumerate() {
        let value = match values_canonical(&t.headers, name) {
            None | Some([]) => {
                let other = values_ci(&t.headers, name);
                let explanation = if other.is_empty() {
                    "the auth method has EnableIAMEntityDetails: the client must embed a signed \
                     GetRole/GetUser request (consul login -aws-include-entity)"
                        .to_owned()
                } else {
                    format!(
                        "the header is present but spelled differently; Consul decodes the header \
                         map as JSON and looks it up only as {:?} (Go's canonical form)",
                        canonical_header_key(name)
                    )
                };
                f.push(consul(
                    "entity-header-missing",
                    "§2.3 step 8",
                    LoginError::MissingHeader(ENTITY_HEADERS[i]),
                    &explanation,
                ));
                None
            }
            Some([one]) => Some(one.as_str()),
            Some(_) => {
                f.push(consul(
                    "entity-header-missing",
                    "§2.3 step 8",
                    LoginError::HeaderNotSingle(ENTITY_HEADERS[i]),
                    "each GetEntity header must have exactly one value",
                ));
                None
            }
        };
        found.push(value);
    }
    let [Some(_method), Some(url), Some(headers_json), Some(body)] = found.as_slice() else {
        return;
    };
    if let Err(e) = iamconform_login::token::parse_header_json(headers_json.as_bytes()) {
        f.push(Finding {
            id: "entity-header-missing",
            source: Source::Consul,
            step: "§2.3 step 8",
            message: e.to_string(),
            explanation: "X-Consul-IAM-GetEntity-Headers must hold the IAM request's headers as \
                          a JSON object of string arrays"
                .to_owned(),
        });
    }
    // Step 9: the IAM URL.
    let Some(parts) = split_url(url) else {
        f.push(Finding {
            id: "iam-host-not-allowed",
            source: Source::Consul,
            step: "§2.3 step 9",
            message: format!("url is invalid: {url:?}"),
            explanation: "X-Consul-IAM-GetEntity-URL must be an absolute URL".to_owned(),
        });
        return;
    };
    // Step 10: the IAM host, unless an endpoint is configured.
    if config.iam_endpoint.is_empty()
        && !(parts.hostname.ends_with(".amazonaws.com")
            && (parts.hostname.starts_with("iam.") || parts.hostname.starts_with("iam-fips.")))
    {
        f.push(consul(
            "iam-host-not-allowed",
            "§2.3 step 10",
            LoginError::InvalidIamHostname(parts.hostname.clone()),
            "without IAMEndpoint on the auth method Consul only accepts iam.amazonaws.com-style \
             hosts for the embedded request",
        ));
    }
    // Step 11: the IAM body.
    let allowed: &[(&str, &[&str])] = &[
        ("Action", &["GetRole", "GetUser"]),
        ("RoleName", &[]),
        ("UserName", &[]),
        ("Version", &[]),
    ];
    if let Some(e) = body_error(body, allowed) {
        f.push(consul(
            "iam-body",
            "§2.3 step 11",
            LoginError::IamBody(e),
            "the embedded body must be Action=GetRole&RoleName=… or Action=GetUser&UserName=…",
        ));
    } else {
        let values = parse_form(body).unwrap_or_default();
        let has = |n: &str| values.iter().any(|(k, _)| k == n);
        let action = values
            .iter()
            .find(|(k, _)| k == "Action")
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
            .unwrap_or_default();
        if !matches!(
            (action, has("RoleName"), has("UserName")),
            ("GetUser", false, true) | ("GetRole", true, false)
        ) {
            f.push(consul(
                "iam-body",
                "§2.3 step 11",
                LoginError::IamBodyInvalid((*body).to_owned()),
                "GetRole needs RoleName (and no UserName), GetUser needs UserName (and no RoleName)",
            ));
        }
    }
    // Step 12: no query string on the IAM URL.
    if !parts.query.is_empty() {
        f.push(consul(
            "url-query",
            "§2.3 step 12",
            LoginError::IamQuery(parts.query),
            "the embedded IAM URL must carry no query string",
        ));
    }
}

/// §2.5 on one request's headers (merged case-insensitively, as the forwarded request has them).
fn server_id_check(
    headers: &[(String, Vec<String>)],
    query: &str,
    config: &AwsIamConfig,
    which: &str,
    step: &'static str,
    f: &mut Vec<Finding>,
) {
    let expected = &config.server_id_header_value;
    // Step 1: present and non-empty.
    let provided = values_ci(headers, SERVER_ID_HEADER).join(",");
    if provided.is_empty() {
        f.push(consul(
            "server-id-missing",
            step,
            LoginError::MissingHeader(SERVER_ID_HEADER),
            &format!(
                "the auth method sets ServerIDHeaderValue {expected:?}: the {which} request must \
                 carry X-Consul-IAM-ServerID with that value, signed (consul login \
                 -aws-server-id-header-value)"
            ),
        ));
        return;
    }
    // Step 2: the exact value.
    if provided != *expected {
        f.push(consul(
            "server-id-wrong-value",
            step,
            LoginError::ServerIdMismatch {
                expected: expected.clone(),
                got: provided,
            },
            &format!("the {which} request's server-ID header differs from ServerIDHeaderValue (case-sensitive)"),
        ));
        return;
    }
    // Step 3: signed.
    let authz = values_ci(headers, "Authorization").join(",");
    if authz.is_empty() {
        // Step 4.
        let e = if query.is_empty() {
            LoginError::MissingAuthorization
        } else {
            LoginError::ServerIdQuery(query.to_owned())
        };
        f.push(consul(
            "server-id-unsigned",
            step,
            e,
            &format!("the {which} request has no Authorization header, so the server-ID header cannot be signed"),
        ));
        return;
    }
    let Some(pos) = authz.rfind("SignedHeaders=") else {
        f.push(consul(
            "server-id-unsigned",
            step,
            LoginError::ServerIdNoSignedHeaders,
            "the Authorization header has no SignedHeaders list",
        ));
        return;
    };
    let list = authz
        .get(pos + "SignedHeaders=".len()..)
        .unwrap_or_default()
        .split(',')
        .next()
        .unwrap_or_default();
    if !list.split(';').any(|h| h == "x-consul-iam-serverid") {
        f.push(consul(
            "server-id-unsigned",
            step,
            LoginError::ServerIdNotSigned,
            &format!(
                "x-consul-iam-serverid is not in the {which} request's SignedHeaders ({list}): add \
                 the header before signing, not after"
            ),
        ));
    }
}

/// Headers whose stored spelling is not Go's canonical form: Consul's lookups of the GetEntity
/// headers miss them.
fn non_canonical_spellings(headers: &[(String, Vec<String>)], f: &mut Vec<Finding>) {
    for (k, _) in headers {
        let canonical = canonical_header_key(k);
        if *k != canonical
            && k.to_ascii_lowercase()
                .starts_with("x-consul-iam-getentity-")
        {
            f.push(Finding {
                id: "non-canonical-header",
                source: Source::Consul,
                step: "§1.3",
                message: format!("header {k:?} is not in canonical form {canonical:?}"),
                explanation: "the header map is decoded as JSON, so names keep the client's \
                              spelling; Consul looks GetEntity headers up in Go's canonical form \
                              only"
                    .to_owned(),
            });
        }
    }
}

/// The region AWS serves at a `sts.`/`iam.` host, when the host says it.
pub(crate) fn host_region(hostname: &str, service: &str) -> Option<String> {
    let rest = hostname.strip_suffix(".amazonaws.com")?;
    let rest = rest
        .strip_prefix(&format!("{service}-fips"))
        .or_else(|| rest.strip_prefix(service))?;
    if rest.is_empty() {
        // The global endpoints sign for us-east-1 (IAM is global; sts.amazonaws.com is
        // us-east-1).
        return Some("us-east-1".to_owned());
    }
    let region = rest.strip_prefix('.')?;
    if service == "iam" {
        // iam.us-gov.amazonaws.com and the like are partition endpoints, not regions.
        return None;
    }
    Some(region.to_owned())
}

fn aws(id: &'static str, step: &'static str, message: String, explanation: &str) -> Finding {
    Finding {
        id,
        source: Source::Aws,
        step,
        message,
        explanation: explanation.to_owned(),
    }
}

fn aws_checks(r: &RequestView, service: &'static str, f: &mut Vec<Finding>) {
    let which = if service == "sts" { "STS" } else { "IAM" };
    let Some(s) = &r.sigv4 else {
        f.push(aws(
            "request-unsigned",
            "aws-sts-iam-sigv4 §1.10",
            format!("the {which} request has no Authorization header"),
            &format!("{which} answers MissingAuthenticationToken: sign the request with SigV4"),
        ));
        return;
    };
    let hostname = split_url(&r.url).map(|u| u.hostname).unwrap_or_default();
    if s.service != service {
        f.push(aws(
            "signing-service-wrong",
            "aws-sts-iam-sigv4 §1.10",
            format!(
                "the {which} request is signed for service {:?}, not {service:?}",
                s.service
            ),
            &format!("{which} answers SignatureDoesNotMatch (credential scope service)"),
        ));
    }
    if let Some(region) = host_region(&hostname, service)
        && region != s.region
    {
        f.push(aws(
            "region-host-mismatch",
            "aws-sts-iam-sigv4 §1.10",
            format!(
                "the client signed for region {} but sent the request to {hostname}",
                s.region
            ),
            &format!(
                "{hostname} serves region {region}; sign with the region of the endpoint \
                 (consul login -aws-region, or -aws-sts-endpoint to match)"
            ),
        ));
    }
    if let Some(age) = s.age_secs {
        if age > MAX_SKEW_SECS {
            f.push(aws(
                "date-stale",
                "aws-sts-iam-sigv4 §1.10",
                format!("X-Amz-Date is {} minutes old (more than 15)", age / 60),
                "AWS answers SignatureDoesNotMatch \"Signature expired\": the token was signed too \
                 long ago (tokens live 15 minutes) or the client's clock is behind",
            ));
        } else if age < -MAX_SKEW_SECS {
            f.push(aws(
                "date-future",
                "aws-sts-iam-sigv4 §1.10",
                format!(
                    "X-Amz-Date is {} minutes in the future (more than 15)",
                    -age / 60
                ),
                "AWS answers SignatureDoesNotMatch \"Signature not yet current\": the client's \
                 clock is ahead",
            ));
        }
    } else {
        f.push(aws(
            "date-missing",
            "aws-sts-iam-sigv4 §1.10",
            format!("the {which} request has no readable X-Amz-Date"),
            "AWS needs X-Amz-Date (yyyymmddThhmmssZ) on header-signed requests",
        ));
    }
    if let Some(d) = &s.amz_date
        && !d.starts_with(&s.scope_date)
    {
        f.push(aws(
            "scope-date-mismatch",
            "aws-sts-iam-sigv4 §1.10",
            format!(
                "the credential scope date {} is not the date of X-Amz-Date {d}",
                s.scope_date
            ),
            "AWS answers SignatureDoesNotMatch: the scope date must be X-Amz-Date's day",
        ));
    }
    if s.access_key_id.starts_with("ASIA") && !s.session_token_present {
        f.push(aws(
            "session-token-missing",
            "aws-sts-iam-sigv4 §1.10",
            format!(
                "{} is a temporary key but the {which} request carries no X-Amz-Security-Token",
                s.access_key_id
            ),
            &format!("{which} answers InvalidClientTokenId: send the session token of temporary credentials"),
        ));
    }
    if s.session_token_present && !s.session_token_signed {
        f.push(aws(
            "session-token-unsigned",
            "aws-sts-iam-sigv4 §1.10",
            format!("X-Amz-Security-Token of the {which} request is not among the signed headers"),
            "some AWS endpoints accept it (UNVERIFIED for STS), others answer \
             SignatureDoesNotMatch; sign the header",
        ));
    }
    if !s.signed_headers.iter().any(|h| h == "host") {
        f.push(aws(
            "host-unsigned",
            "aws-sts-iam-sigv4 §1.10",
            format!("host is not among the {which} request's signed headers"),
            "SigV4 requires the host header to be signed",
        ));
    }
    if let Some(cl) = values_ci(&r.headers, "Content-Length").first()
        && cl.trim().parse::<usize>().ok() != Some(r.body.len())
    {
        f.push(aws(
            "content-length-wrong",
            "aws-sts-iam-sigv4 §1.10",
            format!(
                "Content-Length {cl} differs from the body length {}",
                r.body.len()
            ),
            "the replayed request is cut or padded and AWS answers SignatureDoesNotMatch or \
             hangs; let the HTTP library set Content-Length",
        ));
    }
}

/// Renders an inspection for humans.
pub fn render_human(i: &Inspection) -> String {
    let mut s = String::new();
    if let Some(e) = &i.decode_error {
        let _ = writeln!(s, "the token does not decode: {e}");
    }
    for (title, r) in [("STS request", &i.sts), ("embedded IAM request", &i.entity)] {
        let Some(r) = r else { continue };
        let _ = writeln!(s, "{title}:");
        let _ = writeln!(s, "  {} {}", r.method, r.url);
        for (k, vs) in &r.headers {
            for v in vs {
                let _ = writeln!(s, "  {k}: {v}");
            }
        }
        let _ = writeln!(s, "  body: {}", r.body);
        if let Some(v) = &r.sigv4 {
            let _ = writeln!(
                s,
                "  SigV4: key {} scope {}/{}/{} signed headers {}",
                v.access_key_id,
                v.scope_date,
                v.region,
                v.service,
                v.signed_headers.join(";")
            );
            match (&v.amz_date, v.age_secs) {
                (Some(d), Some(age)) => {
                    let _ = writeln!(s, "  X-Amz-Date {d} ({})", render_age(age));
                }
                (Some(d), None) => {
                    let _ = writeln!(s, "  X-Amz-Date {d} (unreadable)");
                }
                _ => {}
            }
            let token = match (v.session_token_present, v.session_token_signed) {
                (false, _) => "none",
                (true, true) => "present, signed",
                (true, false) => "present, NOT signed",
            };
            let _ = writeln!(s, "  session token: {token}");
        }
    }
    if let Some(v) = &i.consul_verdict {
        let _ = writeln!(s, "Consul's validator (run offline) answers: {v}");
    }
    if i.findings.is_empty() {
        let _ = writeln!(
            s,
            "no problems found (the signature itself cannot be checked offline)"
        );
    } else {
        let _ = writeln!(s, "problems ({}):", i.findings.len());
        for f in &i.findings {
            let who = match f.source {
                Source::Consul => "Consul",
                Source::Aws => "AWS",
            };
            let _ = writeln!(s, "  [{who} {}] {}", f.step, f.message);
            let _ = writeln!(s, "      {}", f.explanation);
            let _ = writeln!(s, "      see {}", f.doc_link());
        }
    }
    s
}

fn render_age(age: i64) -> String {
    if age >= 0 {
        format!("{}m{}s ago", age / 60, age % 60)
    } else {
        format!("{}m{}s in the future", -age / 60, -age % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_parsing_follows_go() {
        assert_eq!(
            parse_form("Action=GetRole&RoleName=a+b%21").unwrap(),
            vec![
                ("Action".to_owned(), vec!["GetRole".to_owned()]),
                ("RoleName".to_owned(), vec!["a b!".to_owned()])
            ]
        );
        assert_eq!(
            parse_form("a=%zz").unwrap_err(),
            "invalid URL escape \"%zz\""
        );
        assert!(parse_form("a=1;b=2").is_err());
    }

    #[test]
    fn body_rules_give_consul_texts() {
        let sts: &[(&str, &[&str])] = &[("Action", &["GetCallerIdentity"]), ("Version", &[])];
        assert_eq!(
            body_error("Action=GetCallerIdentity&Version=2011-06-15", sts),
            None
        );
        assert_eq!(
            body_error("Version=1", sts).unwrap(),
            "missing field \"Action\""
        );
        assert_eq!(
            body_error("Action=GetRole&Action=GetUser", sts).unwrap(),
            "unexpected value Action=[GetRole GetUser]"
        );
        assert_eq!(
            body_error("Action=GetCallerIdentity&X=1", sts).unwrap(),
            "unexpected field \"X\""
        );
    }

    #[test]
    fn host_regions() {
        assert_eq!(
            host_region("sts.amazonaws.com", "sts").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            host_region("sts.eu-west-1.amazonaws.com", "sts").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            host_region("sts-fips.us-west-1.amazonaws.com", "sts").as_deref(),
            Some("us-west-1")
        );
        assert_eq!(
            host_region("iam.amazonaws.com", "iam").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(host_region("iam.us-gov.amazonaws.com", "iam"), None);
        assert_eq!(host_region("127.0.0.1", "sts"), None);
    }

    #[test]
    fn secrets_are_redacted() {
        let a = redact(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=A/1/r/s/aws4_request, SignedHeaders=host, Signature=abcdef",
        );
        assert!(!a.contains("abcdef"));
        let t = redact("X-Amz-Security-Token", "IQoJsecretsecret");
        assert!(!t.contains("secretsecret"));
    }
}
