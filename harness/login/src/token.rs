//! The aws-iam bearer token: a JSON object carrying a signed `sts:GetCallerIdentity` request.
//!
//! Wire format (spec consul-aws-iam §1.1; consul-awsauth `util.go GenerateLoginData`,
//! `token.go UnmarshalJSON`): exactly four keys, written by Go's `json.Marshal` (sorted):
//!
//! ```json
//! {"iam_http_request_method":"POST",
//!  "iam_request_body":"<std base64 of the body>",
//!  "iam_request_headers":"<std base64 of the Go http.Header JSON>",
//!  "iam_request_url":"<std base64 of the absolute URL>"}
//! ```
//!
//! The header JSON maps canonical header names to arrays of values and never contains `Host`
//! (it is implied by the URL). [`BearerToken`] is the decoded form; [`BearerToken::parse`]
//! accepts what Consul's decoder accepts (key names case-insensitive, standard padded base64)
//! and [`BearerToken::render`] writes what the real client writes.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::go_json;

/// Largest bearer token [`BearerToken::parse`] accepts.
pub const MAX_TOKEN_LEN: usize = 256 * 1024;

/// Token JSON key of the HTTP method.
pub const KEY_METHOD: &str = "iam_http_request_method";
/// Token JSON key of the base64 URL.
pub const KEY_URL: &str = "iam_request_url";
/// Token JSON key of the base64 header JSON.
pub const KEY_HEADERS: &str = "iam_request_headers";
/// Token JSON key of the base64 body.
pub const KEY_BODY: &str = "iam_request_body";

/// A decoded bearer token.
///
/// Its `Debug` output redacts session tokens (`X-Amz-Security-Token`, also inside the embedded
/// GetEntity headers) and signatures: a token is a replayable credential for 15 minutes.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken {
    /// HTTP method of the signed STS request (always `POST` from a correct client).
    pub method: String,
    /// Absolute URL of the signed STS request.
    pub url: String,
    /// Header map in the order it appeared (render sorts it, as Go does).
    pub headers: Vec<(String, Vec<String>)>,
    /// Raw request body.
    pub body: Vec<u8>,
}

/// Why a bearer token could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenParseError {
    /// The token is larger than [`MAX_TOKEN_LEN`].
    #[error("bearer token is {0} bytes, more than the {MAX_TOKEN_LEN} accepted")]
    TooLarge(usize),
    /// The token is not a JSON object.
    #[error("bearer token is not a JSON object: {0}")]
    NotJsonObject(String),
    /// A required key is missing.
    #[error("bearer token has no {0:?} key")]
    MissingKey(&'static str),
    /// A key holds something other than a string.
    #[error("bearer token key {0:?} is not a JSON string")]
    NotAString(&'static str),
    /// A base64 field is not standard, padded base64.
    #[error("bearer token key {key:?} is not standard base64: {reason}")]
    Base64 {
        /// The key.
        key: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// The URL is not UTF-8.
    #[error("bearer token URL is not UTF-8")]
    UrlNotUtf8,
    /// The decoded headers are not a JSON object of string arrays.
    #[error("bearer token headers are not a JSON object of string arrays: {0}")]
    Headers(String),
}

impl BearerToken {
    /// Decodes a bearer token string.
    pub fn parse(token: &str) -> Result<Self, TokenParseError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenParseError::TooLarge(token.len()));
        }
        let value: serde_json::Value = serde_json::from_str(token)
            .map_err(|e| TokenParseError::NotJsonObject(e.to_string()))?;
        let serde_json::Value::Object(map) = value else {
            return Err(TokenParseError::NotJsonObject("not an object".to_owned()));
        };
        // Go's encoding/json matches keys case-insensitively; the last match wins.
        let field = |key: &'static str| -> Result<String, TokenParseError> {
            let mut found = None;
            for (k, v) in &map {
                if k.eq_ignore_ascii_case(key) {
                    found = Some(v);
                }
            }
            match found {
                None => Err(TokenParseError::MissingKey(key)),
                Some(serde_json::Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(TokenParseError::NotAString(key)),
            }
        };
        let b64 = |key: &'static str| -> Result<Vec<u8>, TokenParseError> {
            STANDARD
                .decode(field(key)?)
                .map_err(|e| TokenParseError::Base64 {
                    key,
                    reason: e.to_string(),
                })
        };
        let method = field(KEY_METHOD)?;
        let url = String::from_utf8(b64(KEY_URL)?).map_err(|_| TokenParseError::UrlNotUtf8)?;
        let headers = parse_header_json(&b64(KEY_HEADERS)?)?;
        let body = b64(KEY_BODY)?;
        Ok(Self {
            method,
            url,
            headers,
            body,
        })
    }

    /// Encodes the token as the real client does.
    pub fn render(&self) -> String {
        self.render_with(Encoding::Standard)
    }

    pub(crate) fn render_with(&self, encoding: Encoding) -> String {
        let headers_json = go_json::header_map(&self.headers);
        let enc = |bytes: &[u8]| match encoding {
            Encoding::Standard | Encoding::HeadersRawJson => STANDARD.encode(bytes),
            Encoding::UrlSafeNoPad => URL_SAFE_NO_PAD.encode(bytes),
        };
        let headers_field = match encoding {
            Encoding::HeadersRawJson => headers_json,
            Encoding::Standard | Encoding::UrlSafeNoPad => enc(headers_json.as_bytes()),
        };
        let mut out = String::from("{");
        for (i, (k, v)) in [
            (KEY_METHOD, self.method.clone()),
            (KEY_BODY, enc(&self.body)),
            (KEY_HEADERS, headers_field),
            (KEY_URL, enc(self.url.as_bytes())),
        ]
        .iter()
        .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            go_json::push_string(&mut out, k);
            out.push(':');
            go_json::push_string(&mut out, v);
        }
        out.push('}');
        out
    }

    /// The values of header `name` as Go's `Header.Values` finds them: the lookup key is
    /// canonicalised, the stored keys are not.
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        let key = go_json::canonical_header_key(name);
        self.headers
            .iter()
            .filter(|(k, _)| *k == key)
            .flat_map(|(_, v)| v.iter().map(String::as_str))
            .collect()
    }

    /// The first value of header `name` (Go `Header.Get`).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }

    /// The lower-case header names listed in `SignedHeaders=` of the `Authorization` header.
    pub fn signed_headers(&self) -> Vec<String> {
        signed_headers_of(self.header("Authorization").unwrap_or_default())
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, Vec<String>)> = self
            .headers
            .iter()
            .map(|(k, values)| {
                (
                    k.as_str(),
                    values.iter().map(|v| redact_value(k, v)).collect(),
                )
            })
            .collect();
        f.debug_struct("BearerToken")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body_text())
            .finish()
    }
}

/// A header value with secrets replaced by `<redacted>`.
fn redact_value(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("X-Amz-Security-Token") {
        return "<redacted>".to_owned();
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
    if name.eq_ignore_ascii_case("X-Consul-Iam-Getentity-Headers") {
        if let Ok(inner) = parse_header_json(value.as_bytes()) {
            let redacted: Vec<(String, Vec<String>)> = inner
                .iter()
                .map(|(k, vs)| (k.clone(), vs.iter().map(|v| redact_value(k, v)).collect()))
                .collect();
            return go_json::header_map(&redacted);
        }
        return "<redacted>".to_owned();
    }
    value.to_owned()
}

/// The `SignedHeaders=` list of an `Authorization` header value.
pub fn signed_headers_of(authorization: &str) -> Vec<String> {
    authorization
        .split([',', ' '])
        .find_map(|part| part.trim().strip_prefix("SignedHeaders="))
        .map(|list| list.split(';').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Parses a Go `http.Header` JSON object, keeping key order.
pub fn parse_header_json(bytes: &[u8]) -> Result<Vec<(String, Vec<String>)>, TokenParseError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| TokenParseError::Headers(e.to_string()))?;
    let serde_json::Value::Object(map) = value else {
        return Err(TokenParseError::Headers("not an object".to_owned()));
    };
    let mut out = Vec::with_capacity(map.len());
    for (k, v) in map {
        let values = match v {
            serde_json::Value::Null => Vec::new(),
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::String(s) => Ok(s),
                    _ => Err(TokenParseError::Headers(format!(
                        "header {k:?} has a non-string value"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(TokenParseError::Headers(format!(
                    "header {k:?} is not an array"
                )));
            }
        };
        out.push((k, values));
    }
    Ok(out)
}

/// How [`BearerToken::render_with`] encodes the fields (the last two are mutants).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Standard,
    UrlSafeNoPad,
    HeadersRawJson,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BearerToken {
        BearerToken {
            method: "POST".to_owned(),
            url: "https://sts.amazonaws.com/".to_owned(),
            headers: vec![
                (
                    "Content-Type".to_owned(),
                    vec!["application/x-www-form-urlencoded; charset=utf-8".to_owned()],
                ),
                (
                    "Authorization".to_owned(),
                    vec![
                        "AWS4-HMAC-SHA256 Credential=AKID/20220322/us-east-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date, Signature=00".to_owned(),
                    ],
                ),
                (
                    "X-Consul-Iam-Getentity-Body".to_owned(),
                    vec!["Action=GetRole&RoleName=r&Version=2010-05-08".to_owned()],
                ),
            ],
            body: b"Action=GetCallerIdentity&Version=2011-06-15".to_vec(),
        }
    }

    #[test]
    fn render_then_parse_round_trips() {
        let t = sample();
        let s = t.render();
        assert!(s.starts_with(r#"{"iam_http_request_method":"POST","iam_request_body":"QWN0aW9uPUdldENhbGxlcklkZW50aXR5JlZlcnNpb249MjAxMS0wNi0xNQ==","#));
        let back = BearerToken::parse(&s).unwrap();
        assert_eq!(back.method, "POST");
        assert_eq!(back.url, t.url);
        assert_eq!(back.body, t.body);
        // Go sorts the keys.
        let names: Vec<&str> = back.headers.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "Authorization",
                "Content-Type",
                "X-Consul-Iam-Getentity-Body"
            ]
        );
    }

    #[test]
    fn headers_json_is_html_escaped_like_go() {
        let s = sample().render();
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        let raw = STANDARD.decode(v[KEY_HEADERS].as_str().unwrap()).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        assert!(raw.contains(r"Action=GetRole\u0026RoleName=r"));
    }

    #[test]
    fn parse_matches_keys_case_insensitively() {
        let s = sample()
            .render()
            .replace(KEY_METHOD, "IAM_HTTP_REQUEST_METHOD");
        assert_eq!(BearerToken::parse(&s).unwrap().method, "POST");
    }

    #[test]
    fn parse_rejects_unpadded_and_url_safe_base64() {
        let s = sample().render_with(Encoding::UrlSafeNoPad);
        assert!(matches!(
            BearerToken::parse(&s),
            Err(TokenParseError::Base64 { .. })
        ));
        let s = sample().render_with(Encoding::HeadersRawJson);
        assert!(matches!(
            BearerToken::parse(&s),
            Err(TokenParseError::Base64 {
                key: KEY_HEADERS,
                ..
            })
        ));
    }

    #[test]
    fn parse_errors_are_typed() {
        assert!(matches!(
            BearerToken::parse("[]"),
            Err(TokenParseError::NotJsonObject(_))
        ));
        assert_eq!(
            BearerToken::parse("{}"),
            Err(TokenParseError::MissingKey(KEY_METHOD))
        );
        assert_eq!(
            BearerToken::parse(r#"{"iam_http_request_method":1}"#),
            Err(TokenParseError::NotAString(KEY_METHOD))
        );
        let big = "x".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(
            BearerToken::parse(&big),
            Err(TokenParseError::TooLarge(_))
        ));
    }

    #[test]
    fn debug_redacts_session_tokens_and_signatures() {
        let mut t = sample();
        t.headers.push((
            "X-Amz-Security-Token".to_owned(),
            vec!["SESSIONSECRET".to_owned()],
        ));
        let inner = r#"{"Authorization":["AWS4-HMAC-SHA256 Credential=A/1/r/iam/aws4_request, SignedHeaders=host, Signature=abcdef"],"X-Amz-Security-Token":["SESSIONSECRET"]}"#;
        t.headers.push((
            "X-Consul-Iam-Getentity-Headers".to_owned(),
            vec![inner.to_owned()],
        ));
        let dbg = format!("{t:?}");
        assert!(!dbg.contains("SESSIONSECRET"), "{dbg}");
        assert!(!dbg.contains("abcdef"), "{dbg}");
        assert!(dbg.contains("Signature=<redacted>"), "{dbg}");
        assert!(dbg.contains("https://sts.amazonaws.com/"));
    }

    #[test]
    fn header_lookup_canonicalises_only_the_key() {
        let mut t = sample();
        t.headers.push((
            "X-Consul-IAM-GetEntity-Method".to_owned(),
            vec!["POST".to_owned()],
        ));
        assert_eq!(
            t.header("x-consul-iam-getentity-body").map(str::len),
            Some(44)
        );
        assert_eq!(t.header("X-Consul-IAM-GetEntity-Method"), None);
        assert_eq!(
            t.signed_headers(),
            ["content-length", "content-type", "host", "x-amz-date"]
        );
    }
}
