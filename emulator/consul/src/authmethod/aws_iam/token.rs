//! The bearer token: decoding (phase A) and the structural checks of the signed STS request
//! (phase B) and of the embedded IAM request (phase C), in consul-awsauth's order
//! (`token.go`: `NewBearerToken`, `UnmarshalJSON`, `validate`).
//!
//! Spec: consul-aws-iam §1.1, §2.3 steps 1–12; corpus `consul-awsauth-verdicts.jsonl`.
//!
//! ```text
//! {"iam_http_request_method":"POST",
//!  "iam_request_url":"<base64 URL>",
//!  "iam_request_headers":"<base64 JSON of map[string][]string>",
//!  "iam_request_body":"<base64 form body>"}
//! ```

use std::fmt;

use super::config::AwsIamConfig;
use super::gostd::json::{self, HeaderList};
use super::gostd::query::{Values, format_string_slice, parse_query};
use super::gostd::url::{self, GoUrl};
use super::gostd::{base64, canonical_header_key, lossy_utf8, lossy_utf8_vec, quote};
use super::login::LoginError;

/// Consul's fixed header names (`agent/consul/authmethod/awsauth/aws.go`), as configured, i.e.
/// as they appear in error messages.
pub(crate) const SERVER_ID_HEADER: &str = "X-Consul-IAM-ServerID";
pub(crate) const GET_ENTITY_METHOD_HEADER: &str = "X-Consul-IAM-GetEntity-Method";
pub(crate) const GET_ENTITY_URL_HEADER: &str = "X-Consul-IAM-GetEntity-URL";
pub(crate) const GET_ENTITY_HEADERS_HEADER: &str = "X-Consul-IAM-GetEntity-Headers";
pub(crate) const GET_ENTITY_BODY_HEADER: &str = "X-Consul-IAM-GetEntity-Body";

/// Bearer tokens above this size are refused before decoding (our bound; Consul has none).
pub const MAX_BEARER_TOKEN_BYTES: usize = 1024 * 1024;

/// Field names of the outer token, as Go's struct tags spell them.
const TOKEN_FIELDS: [&str; 4] = [
    "iam_http_request_method",
    "iam_request_url",
    "iam_request_headers",
    "iam_request_body",
];

/// Go's `reflect` name of the anonymous struct the token decodes into (printed when the token is
/// valid JSON but not an object). UNVERIFIED: Go field names of the newest consul-awsauth.
const TOKEN_GO_TYPE: &str = "struct { Method string \"json:\\\"iam_http_request_method\\\"\"; UrlBase64 string \"json:\\\"iam_request_url\\\"\"; HeadersBase64 string \"json:\\\"iam_request_headers\\\"\"; BodyBase64 string \"json:\\\"iam_request_body\\\"\" }";

/// The STS allow-list of `X-Amz-*` headers (`defaultAllowedSTSRequestHeaders`).
const ALLOWED_AMZ_HEADERS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Content-Sha256",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
];

/// A signed HTTP request carried in the token.
#[derive(Clone)]
pub(crate) struct SignedRequest {
    pub(crate) method: String,
    pub(crate) url: GoUrl,
    /// Headers as decoded: keys not canonicalised (Go's `http.Header` from JSON).
    pub(crate) headers: HeaderList,
    pub(crate) body: Vec<u8>,
}

impl fmt::Debug for SignedRequest {
    // Headers carry signatures and session tokens: never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("method", &self.method)
            .field("url", &self.url.redacted())
            .field(
                "headers",
                &format_args!("<{} redacted>", self.headers.len()),
            )
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Which IAM call the embedded request makes; decides how the IAM response is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntityRequestType {
    GetRole,
    GetUser,
}

/// A bearer token that passed phases A–C.
#[derive(Debug, Clone)]
pub(crate) struct BearerToken {
    pub(crate) sts: SignedRequest,
    /// The embedded `iam:GetRole`/`iam:GetUser` request (only with `EnableIAMEntityDetails`).
    pub(crate) entity: Option<(SignedRequest, EntityRequestType)>,
}

fn invalid_token(e: impl fmt::Display) -> LoginError {
    LoginError::InvalidToken(e.to_string())
}

/// Parses and checks a bearer token (phases A–C).
pub(crate) fn parse_bearer_token(
    token: &str,
    config: &AwsIamConfig,
) -> Result<BearerToken, LoginError> {
    if token.len() > MAX_BEARER_TOKEN_BYTES {
        return Err(invalid_token(format_args!(
            "bearer token exceeds {MAX_BEARER_TOKEN_BYTES} bytes"
        )));
    }
    let sts = decode_outer(token)?;
    // Phase B.
    // Step 3: the method must be exactly POST.
    if sts.method != "POST" {
        return Err(LoginError::MethodNotPost);
    }
    // Step 4: STS host allow-list, unless an STS endpoint is configured.
    if config.sts_endpoint.is_empty() {
        let host = sts.url.hostname();
        if !(host.ends_with(".amazonaws.com")
            && (host.starts_with("sts.") || host.starts_with("sts-fips.")))
        {
            return Err(LoginError::InvalidStsHostname(host.to_owned()));
        }
    }
    // Step 5: the body is GetCallerIdentity and nothing else.
    let sts_body = lossy_utf8(&sts.body);
    parse_request_body(
        &sts_body,
        &[("Action", &["GetCallerIdentity"]), ("Version", &[])],
    )
    .map_err(LoginError::StsBody)?;
    // Step 6: no query string (parameters there would override the body at AWS).
    if !sts.url.raw_query.is_empty() {
        return Err(LoginError::StsQuery(sts.url.raw_query.clone()));
    }
    // Step 7: X-Amz-* header allow-list (canonical names; config entries compared verbatim).
    for (key, _) in &sts.headers {
        // Only a name beginning `x-amz-` in any case can canonicalise to `X-Amz-…` (a name
        // that is not canonicalised is kept as is): skip the others without building it.
        if !key
            .get(..6)
            .is_some_and(|p| p.eq_ignore_ascii_case("x-amz-"))
        {
            continue;
        }
        let h = canonical_header_key(key);
        if h.starts_with("X-Amz-")
            && !ALLOWED_AMZ_HEADERS.contains(&h.as_str())
            && !config.allowed_sts_header_values.contains(&h)
        {
            return Err(LoginError::InvalidRequestHeader(h));
        }
    }
    if !config.enable_iam_entity_details {
        return Ok(BearerToken { sts, entity: None });
    }
    // Phase C.
    let entity = parse_entity_request(&sts, config)?;
    Ok(BearerToken {
        sts,
        entity: Some(entity),
    })
}

/// Phase A: the outer JSON, the three base64 fields, the headers JSON and the URL, in
/// `UnmarshalJSON`'s order; every error is prefixed `invalid token: `.
fn decode_outer(token: &str) -> Result<SignedRequest, LoginError> {
    // Step 1: outer JSON (syntax first, then the first type error). The decoder runs Go's
    // syntax scan itself, once; valid JSON `null` decodes to no fields and is refused next.
    let fields = json::decode_string_struct(token.as_bytes(), &TOKEN_FIELDS, "", TOKEN_GO_TYPE)
        .map_err(invalid_token)?;
    if token.trim_matches([' ', '\t', '\n', '\r']) == "null" {
        // UNVERIFIED: Go decodes `null` into a nil token and consul-awsauth then dereferences
        // it (a panic). We refuse it with our own words instead.
        return Err(invalid_token("bearer token is JSON null"));
    }
    let [method, url_b64, headers_b64, body_b64] =
        <[String; 4]>::try_from(fields).map_err(|_| LoginError::Internal("token field count"))?;
    // Step 2: base64 URL, base64 headers, headers JSON, base64 body, then the URL parse.
    let raw_url = base64::decode_std(url_b64.as_bytes()).map_err(invalid_token)?;
    let headers_json = base64::decode_std(headers_b64.as_bytes()).map_err(invalid_token)?;
    let headers = json::decode_header(&headers_json).map_err(invalid_token)?;
    let body = base64::decode_std(body_b64.as_bytes()).map_err(invalid_token)?;
    let raw_url = lossy_utf8_vec(raw_url);
    let url = url::parse_absolute(&raw_url).map_err(invalid_token)?;
    Ok(SignedRequest {
        method,
        url,
        headers,
        body,
    })
}

/// Go's `http.Header.Values(name)` on a decoded map: the lookup key is canonicalised, the stored
/// keys are not, so only canonically spelled keys are found.
fn header_values<'a>(headers: &'a HeaderList, name: &str) -> Option<&'a [String]> {
    let key = canonical_header_key(name);
    headers
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_slice())
}

/// consul-awsauth `getHeader`: exactly one value.
fn get_header<'a>(headers: &'a HeaderList, name: &'static str) -> Result<&'a str, LoginError> {
    match header_values(headers, name) {
        None | Some([]) => Err(LoginError::MissingHeader(name)),
        Some([one]) => Ok(one),
        Some(_) => Err(LoginError::HeaderNotSingle(name)),
    }
}

/// Phase C: the embedded IAM request, read from the STS request's headers.
fn parse_entity_request(
    sts: &SignedRequest,
    config: &AwsIamConfig,
) -> Result<(SignedRequest, EntityRequestType), LoginError> {
    // Step 8: the four headers, in this order; the headers JSON is decoded right away.
    let method = get_header(&sts.headers, GET_ENTITY_METHOD_HEADER)?.to_owned();
    let raw_url = get_header(&sts.headers, GET_ENTITY_URL_HEADER)?.to_owned();
    let headers_json = get_header(&sts.headers, GET_ENTITY_HEADERS_HEADER)?;
    let headers = json::decode_header(headers_json.as_bytes())
        .map_err(|e| LoginError::EntityHeadersJson(e.0))?;
    let body = get_header(&sts.headers, GET_ENTITY_BODY_HEADER)?.to_owned();
    // Step 9: the IAM URL.
    let url = url::parse_absolute(&raw_url).map_err(LoginError::EntityUrl)?;
    // Step 10: IAM host allow-list, unless an IAM endpoint is configured.
    if config.iam_endpoint.is_empty() {
        let host = url.hostname();
        if !(host.ends_with(".amazonaws.com")
            && (host.starts_with("iam.") || host.starts_with("iam-fips.")))
        {
            return Err(LoginError::InvalidIamHostname(host.to_owned()));
        }
    }
    // Step 11: the IAM body; the method is deliberately not checked (as in Consul).
    let values = parse_request_body(
        &body,
        &[
            ("Action", &["GetRole", "GetUser"]),
            ("RoleName", &[]),
            ("UserName", &[]),
            ("Version", &[]),
        ],
    )
    .map_err(LoginError::IamBody)?;
    let action = values
        .iter()
        .find(|(k, _)| k == "Action")
        .and_then(|(_, v)| v.first())
        .map(String::as_str)
        .unwrap_or_default();
    let has = |name: &str| values.iter().any(|(k, _)| k == name);
    let kind = match (action, has("RoleName"), has("UserName")) {
        ("GetUser", false, true) => EntityRequestType::GetUser,
        ("GetRole", true, false) => EntityRequestType::GetRole,
        _ => return Err(LoginError::IamBodyInvalid(body)),
    };
    // Step 12: no query string on the IAM URL.
    if !url.raw_query.is_empty() {
        return Err(LoginError::IamQuery(url.raw_query.clone()));
    }
    Ok((
        SignedRequest {
            method,
            url,
            headers,
            body: body.into_bytes(),
        },
        kind,
    ))
}

/// consul-awsauth `parseRequestBody`: `Action` present and non-empty; only allowed keys; keys
/// with a value list must have exactly one listed value. Keys are checked in body order (Go's
/// map order is random, so with several faults Consul may name any of them).
fn parse_request_body(body: &str, allowed: &[(&str, &[&str])]) -> Result<Values, String> {
    let values = parse_query(body)?;
    let action_ok = values
        .iter()
        .find(|(k, _)| k == "Action")
        .and_then(|(_, v)| v.first())
        .is_some_and(|a| !a.is_empty());
    if !action_ok {
        return Err("missing field \"Action\"".to_owned());
    }
    for (k, v) in &values {
        let expected = allowed.iter().find(|(name, _)| name == k).map(|(_, e)| *e);
        let Some(expected) = expected else {
            return Err(format!("unexpected field {}", quote(k)));
        };
        if expected.is_empty() {
            continue;
        }
        let ok = matches!(v.as_slice(), [one] if expected.contains(&one.as_str()));
        if !ok {
            return Err(format!("unexpected value {k}={}", format_string_slice(v)));
        }
    }
    Ok(values)
}

#[cfg(test)]
pub(crate) mod test_helpers {
    //! Building bearer tokens for tests, the way `consul login` lays them out.

    use ::base64::Engine as _;
    use ::base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    /// Encodes a bearer token from its decoded parts.
    pub(crate) fn token(
        method: &str,
        url: &str,
        headers: &serde_json::Value,
        body: &str,
    ) -> String {
        json!({
            "iam_http_request_method": method,
            "iam_request_url": STANDARD.encode(url),
            "iam_request_headers": STANDARD.encode(headers.to_string()),
            "iam_request_body": STANDARD.encode(body),
        })
        .to_string()
    }

    pub(crate) const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
    pub(crate) const AUTH_SERVERID: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-consul-iam-serverid, Signature=00";

    /// STS headers with a signed server-id header.
    pub(crate) fn sts_headers(server_id: &str) -> serde_json::Value {
        json!({
            "Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"],
            "X-Amz-Date": ["20260101T000000Z"],
            "X-Consul-Iam-Serverid": [server_id],
            "Authorization": [AUTH_SERVERID],
        })
    }

    /// STS headers carrying an embedded GetRole request.
    pub(crate) fn entity_headers(
        server_id: &str,
        iam_url: &str,
        iam_body: &str,
    ) -> serde_json::Value {
        let iam_headers = json!({
            "Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"],
            "X-Consul-Iam-Serverid": [server_id],
            "Authorization": ["AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-consul-iam-serverid, Signature=00"],
        });
        json!({
            "Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"],
            "X-Consul-Iam-Serverid": [server_id],
            "X-Consul-Iam-Getentity-Method": ["POST"],
            "X-Consul-Iam-Getentity-Url": [iam_url],
            "X-Consul-Iam-Getentity-Headers": [iam_headers.to_string()],
            "X-Consul-Iam-Getentity-Body": [iam_body],
            "Authorization": ["AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/sts/aws4_request, SignedHeaders=content-type;host;x-consul-iam-getentity-body;x-consul-iam-getentity-headers;x-consul-iam-getentity-method;x-consul-iam-getentity-url;x-consul-iam-serverid, Signature=00"],
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::test_helpers::*;
    use super::*;

    fn cfg() -> AwsIamConfig {
        AwsIamConfig {
            bound_iam_principal_arns: vec!["arn:aws:iam::1:role/r".into()],
            ..AwsIamConfig::default()
        }
    }

    fn details() -> AwsIamConfig {
        AwsIamConfig {
            enable_iam_entity_details: true,
            ..cfg()
        }
    }

    fn err(token: &str, config: &AwsIamConfig) -> String {
        parse_bearer_token(token, config).unwrap_err().to_string()
    }

    /// Spec §7.4: the v1 test vector (decoded), no entity.
    #[test]
    fn parses_valid_token_vector() {
        let headers = json!({
            "Authorization": ["AWS4-HMAC-SHA256 Credential=fake/20220322/us-east-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token, Signature=efc320b9"],
            "Content-Length": ["43"],
            "Content-Type": ["application/x-www-form-urlencoded; charset=utf-8"],
            "User-Agent": ["aws-sdk-go/1.42.34 (go1.17.5; darwin; amd64)"],
            "X-Amz-Date": ["20220322T211103Z"],
            "X-Amz-Security-Token": ["fake"],
        });
        let t = token("POST", "https://sts.amazonaws.com/", &headers, STS_BODY);
        let parsed = parse_bearer_token(&t, &cfg()).unwrap();
        assert_eq!(parsed.sts.method, "POST");
        assert_eq!(parsed.sts.url.to_string(), "https://sts.amazonaws.com/");
        assert_eq!(parsed.sts.body, STS_BODY.as_bytes());
        assert_eq!(parsed.sts.headers.len(), 6);
        assert!(parsed.entity.is_none());
        // The Debug form never shows header values.
        assert!(!format!("{parsed:?}").contains("efc320b9"));
    }

    /// Spec §7.4: the role vector (endpoint configured, so the host check is skipped).
    #[test]
    fn parses_token_with_role_vector() {
        let config = AwsIamConfig {
            sts_endpoint: "http://127.0.0.1:63696/sts".into(),
            ..details()
        };
        let body = "Action=GetRole&RoleName=my-role&Version=2010-05-08";
        let headers = entity_headers("server.id.example.com", "https://iam.amazonaws.com/", body);
        let t = token("POST", "http://127.0.0.1:63696/sts/", &headers, STS_BODY);
        let parsed = parse_bearer_token(&t, &config).unwrap();
        let (iam, kind) = parsed.entity.unwrap();
        assert_eq!(kind, EntityRequestType::GetRole);
        assert_eq!(iam.method, "POST");
        assert_eq!(iam.url.to_string(), "https://iam.amazonaws.com/");
        assert_eq!(iam.body, body.as_bytes());
        assert_eq!(iam.headers.len(), 3);
    }

    #[test]
    fn error_vectors() {
        let c = cfg();
        assert_eq!(err("{}", &c), "invalid token: unexpected end of JSON input");
        assert_eq!(err("{", &c), "invalid token: unexpected end of JSON input");
        assert_eq!(
            err("invalid", &c),
            "invalid token: invalid character 'i' looking for beginning of value"
        );
        assert_eq!(err("null", &c), "invalid token: bearer token is JSON null");
        assert!(err("\"x\"", &c).starts_with(
            "invalid token: json: cannot unmarshal string into Go value of type struct {"
        ));
        let h = sts_headers("x");
        let missing_url = json!({"iam_http_request_method": "POST", "iam_request_headers": base64_of(&h.to_string()), "iam_request_body": base64_of(STS_BODY)});
        assert_eq!(
            err(&missing_url.to_string(), &c),
            "invalid token: url is invalid: \"\""
        );
        let missing_method = json!({"iam_request_url": base64_of("https://sts.amazonaws.com/"), "iam_request_headers": base64_of(&h.to_string()), "iam_request_body": base64_of(STS_BODY)});
        assert_eq!(
            err(&missing_method.to_string(), &c),
            "iam_http_request_method must be POST"
        );
        let missing_body = token("POST", "https://sts.amazonaws.com/", &h, "");
        assert_eq!(
            err(&missing_body, &c),
            "iam_request_body error: missing field \"Action\""
        );
    }

    fn base64_of(s: &str) -> String {
        use ::base64::Engine as _;
        ::base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn sts_body_table() {
        let c = cfg();
        let h = sts_headers("x");
        let run = |body: &str| {
            parse_bearer_token(&token("POST", "https://sts.amazonaws.com/", &h, body), &c)
                .err()
                .map(|e| e.to_string())
        };
        assert_eq!(run("Action=GetCallerIdentity&Version=1234"), None);
        assert_eq!(run("Action=GetCallerIdentity"), None);
        for missing in ["Action=", "Version=1234", ""] {
            assert_eq!(
                run(missing).unwrap(),
                "iam_request_body error: missing field \"Action\"",
                "{missing}"
            );
        }
        assert_eq!(
            run("Action=GetRole").unwrap(),
            "iam_request_body error: unexpected value Action=[GetRole]"
        );
        assert_eq!(
            run("Action=GetRole&Action=GetUser").unwrap(),
            "iam_request_body error: unexpected value Action=[GetRole GetUser]"
        );
        assert_eq!(
            run("Action=GetCallerIdentity&Action=GetCallerIdentity").unwrap(),
            "iam_request_body error: unexpected value Action=[GetCallerIdentity GetCallerIdentity]"
        );
        assert_eq!(
            run("Action=GetCallerIdentity&Foo=bar").unwrap(),
            "iam_request_body error: unexpected field \"Foo\""
        );
        assert_eq!(
            run("Action=GetCallerIdentity&Version=%zz").unwrap(),
            "iam_request_body error: invalid URL escape \"%zz\""
        );
        assert_eq!(
            run("Action=GetCallerIdentity;Version=1").unwrap(),
            "iam_request_body error: invalid semicolon separator in query"
        );
    }

    #[test]
    fn iam_body_table() {
        let config = AwsIamConfig {
            iam_endpoint: "http://127.0.0.1:1".into(),
            ..details()
        };
        let run = |body: &str| {
            let h = entity_headers("x", "https://iam.amazonaws.com/", body);
            parse_bearer_token(
                &token("POST", "https://sts.amazonaws.com/", &h, STS_BODY),
                &config,
            )
            .err()
            .map(|e| e.to_string())
        };
        for ok in [
            "Action=GetRole&RoleName=my-role&Version=2010-05-08",
            "Action=GetRole&RoleName=my-role",
            "Action=GetUser&UserName=my-user&Version=2010-05-08",
            "Action=GetUser&UserName=my-user",
        ] {
            assert_eq!(run(ok), None, "{ok}");
        }
        assert_eq!(
            run("Action=GetCallerIdentity").unwrap(),
            "iam_request_headers[X-Consul-IAM-GetEntity-Body] error: unexpected value Action=[GetCallerIdentity]"
        );
        assert_eq!(
            run("Action=GetRole&UserName=x").unwrap(),
            "iam_request_headers[\"X-Consul-IAM-GetEntity-Body\"] error: invalid request body \"Action=GetRole&UserName=x\""
        );
        assert_eq!(
            run("Action=GetUser&RoleName=x").unwrap(),
            "iam_request_headers[\"X-Consul-IAM-GetEntity-Body\"] error: invalid request body \"Action=GetUser&RoleName=x\""
        );
        assert_eq!(
            run("Action=GetRole&RoleName=x&UserName=y").unwrap(),
            "iam_request_headers[\"X-Consul-IAM-GetEntity-Body\"] error: invalid request body \"Action=GetRole&RoleName=x&UserName=y\""
        );
    }

    /// Spec §2.3 steps 4 and 10 (consul-awsauth `TestValidateSTSHostname`/`TestValidateIAMHostname`).
    #[test]
    fn hostname_tables() {
        let c = cfg();
        let h = sts_headers("x");
        let sts = |url: &str| {
            parse_bearer_token(&token("POST", url, &h, STS_BODY), &c)
                .err()
                .map(|e| e.to_string())
        };
        for ok in [
            "sts.amazonaws.com",
            "sts.us-east-2.amazonaws.com",
            "sts-fips.us-west-1.amazonaws.com",
            "sts.us-gov-west-1.amazonaws.com",
            "sts.amazonaws.com:443",
        ] {
            assert_eq!(sts(&format!("https://{ok}/")), None, "{ok}");
        }
        for bad in [
            ".amazonaws.com",
            "iam.amazonaws.com",
            "stsamazonaws.com",
            "sts.notamazonaws.com",
            "sts.amazonaws.com.spoof",
            "sts.amazonaws.spoof.com",
            "xyz.sts.amazonaws.com",
            "sts.cn-north-1.amazonaws.com.cn",
            "STS.AMAZONAWS.COM",
        ] {
            assert_eq!(
                sts(&format!("https://{bad}/")).unwrap(),
                format!("invalid STS hostname: \"{bad}\"")
            );
        }
        assert_eq!(
            sts("https://127.0.0.1:4566/").unwrap(),
            "invalid STS hostname: \"127.0.0.1\""
        );

        let d = details();
        let iam = |host: &str| {
            let h = entity_headers(
                "x",
                &format!("https://{host}/"),
                "Action=GetRole&RoleName=r",
            );
            parse_bearer_token(
                &token("POST", "https://sts.amazonaws.com/", &h, STS_BODY),
                &d,
            )
            .err()
            .map(|e| e.to_string())
        };
        for ok in [
            "iam.amazonaws.com",
            "iam-fips.amazonaws.com",
            "iam.us-gov.amazonaws.com",
            "iam-fips.us-gov.amazonaws.com",
        ] {
            assert_eq!(iam(ok), None, "{ok}");
        }
        for bad in [
            "sts.amazonaws.com",
            "iamamazonaws.com",
            "iam.amazonaws.com.spoof",
            "evil.example.com",
        ] {
            assert_eq!(
                iam(bad).unwrap(),
                format!("invalid IAM hostname: \"{bad}\"")
            );
        }
    }

    /// Spec §7.4: query-string bypass vectors.
    #[test]
    fn query_strings_are_refused() {
        let c = cfg();
        let h = sts_headers("x");
        for q in [
            "Action=DecodeAuthorizationMessage",
            "Version=2020-06-15&Param=value",
            "foo=bar",
        ] {
            let t = token(
                "POST",
                &format!("https://sts.amazonaws.com/?{q}"),
                &h,
                STS_BODY,
            );
            assert_eq!(
                err(&t, &c),
                format!("URL query parameters are not allowed for security reasons: found \"{q}\"")
            );
        }
        let d = AwsIamConfig {
            iam_endpoint: "http://127.0.0.1:1".into(),
            ..details()
        };
        for q in [
            "Action=GetUser",
            "RoleName=malicious-role&Version=2020-06-15",
            "foo=bar&test=123",
        ] {
            let h = entity_headers(
                "x",
                &format!("https://iam.amazonaws.com/?{q}"),
                "Action=GetRole&RoleName=r",
            );
            let t = token("POST", "https://sts.amazonaws.com/", &h, STS_BODY);
            assert_eq!(
                err(&t, &d),
                format!(
                    "URL query parameters are not allowed for IAM entity requests: found \"{q}\""
                )
            );
        }
        // No query and `{}` headers is fine without server id or details.
        assert!(
            parse_bearer_token(
                &token("POST", "https://sts.amazonaws.com/", &json!({}), STS_BODY),
                &c
            )
            .is_ok()
        );
    }

    #[test]
    fn header_allow_list_canonicalises_token_keys_but_not_config() {
        let h = json!({"x-amz-foo": ["1"]});
        let t = token("POST", "https://sts.amazonaws.com/", &h, STS_BODY);
        assert_eq!(err(&t, &cfg()), "invalid request header: X-Amz-Foo");
        let lower = AwsIamConfig {
            allowed_sts_header_values: vec!["x-amz-foo".into()],
            ..cfg()
        };
        assert_eq!(err(&t, &lower), "invalid request header: X-Amz-Foo");
        let canon = AwsIamConfig {
            allowed_sts_header_values: vec!["X-Amz-Foo".into()],
            ..cfg()
        };
        assert!(parse_bearer_token(&t, &canon).is_ok());
        let sdk = json!({"Amz-Sdk-Request": ["attempt=1"], "User-Agent": ["x"], "X-Amz-Content-Sha256": ["UNSIGNED-PAYLOAD"]});
        assert!(
            parse_bearer_token(
                &token("POST", "https://sts.amazonaws.com/", &sdk, STS_BODY),
                &cfg()
            )
            .is_ok()
        );
    }

    #[test]
    fn entity_headers_need_canonical_spelling_and_one_value() {
        let d = AwsIamConfig {
            iam_endpoint: "http://127.0.0.1:1".into(),
            ..details()
        };
        let mut h = entity_headers(
            "x",
            "https://iam.amazonaws.com/",
            "Action=GetRole&RoleName=r",
        );
        let m = h.as_object_mut().unwrap();
        let v = m.remove("X-Consul-Iam-Getentity-Method").unwrap();
        m.insert("X-Consul-IAM-GetEntity-Method".into(), v);
        let t = token("POST", "https://sts.amazonaws.com/", &h, STS_BODY);
        assert_eq!(
            err(&t, &d),
            "missing header \"X-Consul-IAM-GetEntity-Method\""
        );
        let mut h = entity_headers(
            "x",
            "https://iam.amazonaws.com/",
            "Action=GetRole&RoleName=r",
        );
        h["X-Consul-Iam-Getentity-Url"] = json!(["a", "b"]);
        let t = token("POST", "https://sts.amazonaws.com/", &h, STS_BODY);
        assert_eq!(
            err(&t, &d),
            "invalid value for header \"X-Consul-IAM-GetEntity-URL\" (expected 1 item)"
        );
        let mut h = entity_headers(
            "x",
            "https://iam.amazonaws.com/",
            "Action=GetRole&RoleName=r",
        );
        h["X-Consul-Iam-Getentity-Headers"] = json!(["nope"]);
        let t = token("POST", "https://sts.amazonaws.com/", &h, STS_BODY);
        assert_eq!(
            err(&t, &d),
            "invalid character 'o' in literal null (expecting 'u')"
        );
    }

    /// Check order: inputs with two faults report the earlier check.
    #[test]
    fn check_order() {
        let c = cfg();
        let h = json!({"X-Amz-Foo": ["1"]});
        // Method before host before body before query before headers.
        assert_eq!(
            err(
                &token("GET", "https://evil.example/?a=b", &h, "Action=GetRole"),
                &c
            ),
            "iam_http_request_method must be POST"
        );
        assert_eq!(
            err(
                &token("POST", "https://evil.example/?a=b", &h, "Action=GetRole"),
                &c
            ),
            "invalid STS hostname: \"evil.example\""
        );
        assert_eq!(
            err(
                &token(
                    "POST",
                    "https://sts.amazonaws.com/?a=b",
                    &h,
                    "Action=GetRole"
                ),
                &c
            ),
            "iam_request_body error: unexpected value Action=[GetRole]"
        );
        assert_eq!(
            err(
                &token("POST", "https://sts.amazonaws.com/?a=b", &h, STS_BODY),
                &c
            ),
            "URL query parameters are not allowed for security reasons: found \"a=b\""
        );
        // Headers JSON is decoded before the URL is parsed.
        let t = json!({"iam_http_request_method": "POST", "iam_request_url": "", "iam_request_headers": "", "iam_request_body": ""});
        assert_eq!(
            err(&t.to_string(), &c),
            "invalid token: unexpected end of JSON input"
        );
        // Phase B before phase C.
        let d = details();
        assert_eq!(
            err(
                &token("POST", "https://sts.amazonaws.com/", &json!({}), "Action=x"),
                &d
            ),
            "iam_request_body error: unexpected value Action=[x]"
        );
        // Within phase C: the IAM host before the IAM body before the IAM query.
        let h = entity_headers("x", "https://evil.example/?q=1", "Action=GetRole");
        assert_eq!(
            err(
                &token("POST", "https://sts.amazonaws.com/", &h, STS_BODY),
                &d
            ),
            "invalid IAM hostname: \"evil.example\""
        );
        let h = entity_headers("x", "https://iam.amazonaws.com/?q=1", "Action=GetRole");
        assert_eq!(
            err(
                &token("POST", "https://sts.amazonaws.com/", &h, STS_BODY),
                &d
            ),
            "iam_request_headers[\"X-Consul-IAM-GetEntity-Body\"] error: invalid request body \"Action=GetRole\""
        );
    }
}
