//! The auth method's `Config`: decoding as Consul's `authmethod.ParseConfig` does (mapstructure
//! with `ErrorUnused` and `WeaklyTypedInput`, case-insensitive key names), then the checks of
//! consul-awsauth's `Config.Validate` in order, with the newest (lower-case) texts.
//!
//! Spec: consul-aws-iam §2.1, §2.2; corpus `consul-awsauth-verdicts.jsonl` (`stage: config`).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::arn::sdk_arn_service;
use super::gostd::{quote, url};

/// The `Config` of an `aws-iam` auth method (Consul's `awsauth.Config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwsIamConfig {
    /// Trusted principals (exact, or with one trailing `*` when details are enabled).
    #[serde(rename = "BoundIAMPrincipalARNs", default)]
    pub bound_iam_principal_arns: Vec<String>,
    /// Require an embedded, signed `iam:GetRole`/`iam:GetUser` and use its path and tags.
    #[serde(rename = "EnableIAMEntityDetails", default)]
    pub enable_iam_entity_details: bool,
    /// Tag keys exposed to binding rules.
    #[serde(rename = "IAMEntityTags", default)]
    pub iam_entity_tags: Vec<String>,
    /// Required value of the signed `X-Consul-IAM-ServerID` header (empty: not required).
    #[serde(rename = "ServerIDHeaderValue", default)]
    pub server_id_header_value: String,
    /// Retries of the STS/IAM calls (go-retryablehttp `RetryMax`).
    #[serde(rename = "MaxRetries", default)]
    pub max_retries: i64,
    /// Where `iam:GetRole`/`iam:GetUser` is sent instead of the token's URL.
    #[serde(rename = "IAMEndpoint", default)]
    pub iam_endpoint: String,
    /// Where `sts:GetCallerIdentity` is sent instead of the token's URL.
    #[serde(rename = "STSEndpoint", default)]
    pub sts_endpoint: String,
    /// Extra `X-Amz-*` headers allowed in the STS request (compared verbatim).
    #[serde(rename = "AllowedSTSHeaderValues", default)]
    pub allowed_sts_header_values: Vec<String>,
}

/// Why a `Config` was refused. `Display` is Consul's text without the `Invalid Auth Method: `
/// prefix the caller adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// mapstructure refused the map (unknown keys, unconvertible values).
    Decode(String),
    /// `BoundIAMPrincipalARNs` is empty.
    NoBoundArns,
    /// A bound ARN has `*` but details are off.
    WildcardWithoutDetails,
    /// More than one `*`, or `*` not at the end.
    WildcardNotAtEnd,
    /// A bound ARN is not an `iam`/`sts` ARN.
    InvalidPrincipalArn(String),
    /// `IAMEntityTags` set but details are off.
    TagsWithoutDetails,
    /// `STSEndpoint` is not an absolute URL.
    InvalidStsEndpoint(String),
    /// `IAMEndpoint` is not an absolute URL.
    InvalidIamEndpoint(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Decode(e) => write!(f, "error decoding config: {e}"),
            ConfigError::NoBoundArns => {
                f.write_str("BoundIAMPrincipalARNs is required and must have at least 1 entry")
            }
            ConfigError::WildcardWithoutDetails => f.write_str(
                "must set EnableIAMEntityDetails=true to use wildcards in BoundIAMPrincipalARNs",
            ),
            ConfigError::WildcardNotAtEnd => f.write_str(
                "only one wildcard is allowed at the end of the bound IAM principal ARN",
            ),
            ConfigError::InvalidPrincipalArn(a) => write!(f, "invalid principal ARN: {}", quote(a)),
            ConfigError::TagsWithoutDetails => {
                f.write_str("must set EnableIAMEntityDetails=true to use IAMEntityTags")
            }
            ConfigError::InvalidStsEndpoint(e) => write!(f, "error STSEndpoint is invalid: {e}"),
            ConfigError::InvalidIamEndpoint(e) => write!(f, "error IAMEndpoint is invalid: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Decodes and validates an auth method `Config` as Consul does when the method is created or
/// updated. `null` counts as an empty map.
pub fn parse_config(raw: &Value) -> Result<AwsIamConfig, ConfigError> {
    let config = decode(raw).map_err(ConfigError::Decode)?;
    validate(&config)?;
    Ok(config)
}

/// Config validation in consul-awsauth's order.
pub(crate) fn validate(c: &AwsIamConfig) -> Result<(), ConfigError> {
    // Step 1: at least one bound principal.
    if c.bound_iam_principal_arns.is_empty() {
        return Err(ConfigError::NoBoundArns);
    }
    // Steps 2–3, per ARN: wildcard rules, then the SDK ARN parser and the service.
    for arn in &c.bound_iam_principal_arns {
        let stars = arn.matches('*').count();
        if stars > 0 {
            if !c.enable_iam_entity_details {
                return Err(ConfigError::WildcardWithoutDetails);
            }
            if stars != 1 || !arn.ends_with('*') {
                return Err(ConfigError::WildcardNotAtEnd);
            }
        }
        match sdk_arn_service(arn) {
            Some("iam" | "sts") => {}
            _ => return Err(ConfigError::InvalidPrincipalArn(arn.clone())),
        }
    }
    // Step 4: tags need details.
    if !c.iam_entity_tags.is_empty() && !c.enable_iam_entity_details {
        return Err(ConfigError::TagsWithoutDetails);
    }
    // Steps 5–6 (header names) cannot fail here: Consul always fills the fixed names.
    // Step 7: endpoints must be absolute URLs.
    if !c.sts_endpoint.is_empty() {
        url::parse_absolute(&c.sts_endpoint).map_err(ConfigError::InvalidStsEndpoint)?;
    }
    if !c.iam_endpoint.is_empty() {
        url::parse_absolute(&c.iam_endpoint).map_err(ConfigError::InvalidIamEndpoint)?;
    }
    Ok(())
}

/// The struct's fields in declaration order, as mapstructure walks them.
const FIELDS: [&str; 8] = [
    "BoundIAMPrincipalARNs",
    "EnableIAMEntityDetails",
    "IAMEntityTags",
    "ServerIDHeaderValue",
    "MaxRetries",
    "IAMEndpoint",
    "STSEndpoint",
    "AllowedSTSHeaderValues",
];

/// mapstructure-style decode. Errors are collected and rendered as mapstructure's `Error`.
fn decode(raw: &Value) -> Result<AwsIamConfig, String> {
    let mut c = AwsIamConfig::default();
    let map = match raw {
        Value::Null => return Ok(c),
        Value::Object(m) => m,
        other => return Err(format!("'' expected a map, got '{}'", go_kind(other))),
    };
    let mut errors: Vec<String> = Vec::new();
    let mut used = vec![false; map.len()];
    for field in FIELDS {
        // Exact key first, then the first case-insensitive match (mapstructure's EqualFold).
        let found = map
            .keys()
            .position(|k| k == field)
            .or_else(|| map.keys().position(|k| k.eq_ignore_ascii_case(field)));
        let Some(idx) = found else { continue };
        if let Some(u) = used.get_mut(idx) {
            *u = true;
        }
        let Some(value) = map.values().nth(idx) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        let result = match field {
            "BoundIAMPrincipalARNs" => {
                decode_string_slice(field, value).map(|v| c.bound_iam_principal_arns = v)
            }
            "IAMEntityTags" => decode_string_slice(field, value).map(|v| c.iam_entity_tags = v),
            "AllowedSTSHeaderValues" => {
                decode_string_slice(field, value).map(|v| c.allowed_sts_header_values = v)
            }
            "EnableIAMEntityDetails" => decode_bool(field, value)
                .map(|v| c.enable_iam_entity_details = v)
                .map_err(|e| vec![e]),
            "MaxRetries" => decode_int(field, value)
                .map(|v| c.max_retries = v)
                .map_err(|e| vec![e]),
            "ServerIDHeaderValue" => decode_string(field, value)
                .map(|v| c.server_id_header_value = v)
                .map_err(|e| vec![e]),
            "IAMEndpoint" => decode_string(field, value)
                .map(|v| c.iam_endpoint = v)
                .map_err(|e| vec![e]),
            "STSEndpoint" => decode_string(field, value)
                .map(|v| c.sts_endpoint = v)
                .map_err(|e| vec![e]),
            _ => Ok(()),
        };
        if let Err(mut e) = result {
            errors.append(&mut e);
        }
    }
    let mut unused: Vec<&str> = map
        .keys()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(k, _)| k.as_str())
        .collect();
    if !unused.is_empty() {
        unused.sort_unstable();
        errors.push(format!("'' has invalid keys: {}", unused.join(", ")));
    }
    if errors.is_empty() {
        return Ok(c);
    }
    let mut points: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    points.sort();
    Err(format!(
        "{} error(s) decoding:\n\n{}",
        errors.len(),
        points.join("\n")
    ))
}

/// Go's `reflect.Kind` name of a JSON value decoded into `interface{}`.
fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// Go's `reflect.Type` name of a JSON value decoded into `interface{}`.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `%v` of a JSON value decoded into `interface{}`.
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format_float(n.as_f64().unwrap_or_default(), true),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_value).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut pairs: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_value(v)))
                .collect();
            pairs.sort();
            format!("map[{}]", pairs.join(" "))
        }
    }
}

/// Go's float formatting: `strconv.FormatFloat(f, 'f', -1, 64)` for weak string conversion, or
/// `%v` (`'g'` with the shortest representation and large exponents) when `v_format`.
fn format_float(f: f64, v_format: bool) -> String {
    if v_format && f != 0.0 && (f.abs() >= 1e21 || f.abs() < 1e-4) {
        let s = format!("{f:e}");
        // Rust prints `1e21`; Go prints `1e+21`.
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e:0>2}"),
            Some((m, e)) => format!("{m}e-{:0>2}", e.trim_start_matches('-')),
            None => s,
        };
    }
    let s = format!("{f}");
    if s == "-0" { "0".to_owned() } else { s }
}

fn unconvertible(name: &str, want: &str, v: &Value) -> String {
    format!(
        "'{name}' expected type '{want}', got unconvertible type '{}', value: '{}'",
        go_type(v),
        go_value(v)
    )
}

fn decode_string(name: &str, v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        // WeaklyTypedInput: bools become "1"/"0", numbers their decimal text.
        Value::Bool(b) => Ok(if *b { "1" } else { "0" }.to_owned()),
        Value::Number(n) => Ok(format_float(n.as_f64().unwrap_or_default(), false)),
        other => Err(unconvertible(name, "string", other)),
    }
}

fn decode_bool(name: &str, v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => Ok(n.as_f64().unwrap_or_default() != 0.0),
        Value::String(s) => match s.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" | "" => Ok(false),
            _ => Err(format!(
                "cannot parse '{name}' as bool: strconv.ParseBool: parsing {}: invalid syntax",
                quote(s)
            )),
        },
        other => Err(unconvertible(name, "bool", other)),
    }
}

fn decode_int(name: &str, v: &Value) -> Result<i64, String> {
    match v {
        // JSON numbers arrive as float64; mapstructure truncates them.
        Value::Number(n) => Ok(n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or_default() as i64)),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::String(s) => {
            let text = if s.is_empty() { "0" } else { s.as_str() };
            parse_go_int(text).map_err(|e| {
                format!(
                    "cannot parse '{name}' as int: strconv.ParseInt: parsing {}: {e}",
                    quote(text)
                )
            })
        }
        other => Err(unconvertible(name, "int", other)),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: optional sign, `0x`/`0o`/`0b`/leading-`0` prefixes,
/// underscores only between digits after a prefix.
fn parse_go_int(s: &str) -> Result<i64, &'static str> {
    const SYNTAX: &str = "invalid syntax";
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    if body.is_empty() {
        return Err(SYNTAX);
    }
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_owned(), true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_owned(), true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_owned(), true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower.get(1..).unwrap_or_default().to_owned(), true)
    } else {
        (10, lower.clone(), false)
    };
    if digits.contains('_') {
        let ok = prefixed && !digits.ends_with('_') && !digits.contains("__");
        if !ok {
            return Err(SYNTAX);
        }
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if clean.is_empty() || !clean.chars().all(|c| c.is_digit(radix)) {
        return Err(SYNTAX);
    }
    let magnitude = u128::from_str_radix(&clean, radix).map_err(|_| "value out of range")?;
    let magnitude = i128::try_from(magnitude).map_err(|_| "value out of range")?;
    let value = if neg { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| "value out of range")
}

fn decode_string_slice(name: &str, v: &Value) -> Result<Vec<String>, Vec<String>> {
    let items: Vec<Value> = match v {
        Value::Array(a) => a.clone(),
        // WeaklyTypedInput: an empty map is an empty slice; any single value is lifted.
        Value::Object(m) if m.is_empty() => return Ok(Vec::new()),
        other => vec![other.clone()],
    };
    let mut out = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if item.is_null() {
            out.push(String::new());
            continue;
        }
        match decode_string(&format!("{name}[{i}]"), item) {
            Ok(s) => out.push(s),
            Err(e) => {
                out.push(String::new());
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn err(v: Value) -> String {
        parse_config(&v).unwrap_err().to_string()
    }

    const ROLE: &str = "arn:aws:iam::123456789012:role/r";

    #[test]
    fn decodes_weakly_and_case_insensitively() {
        let c = parse_config(&json!({
            "boundiamprincipalarns": ROLE,
            "MaxRetries": "3",
            "EnableIAMEntityDetails": "true",
            "IAMEntityTags": ["a", 5],
            "ServerIDHeaderValue": 12,
        }))
        .unwrap();
        assert_eq!(c.bound_iam_principal_arns, vec![ROLE.to_owned()]);
        assert_eq!(c.max_retries, 3);
        assert!(c.enable_iam_entity_details);
        assert_eq!(c.iam_entity_tags, vec!["a".to_owned(), "5".to_owned()]);
        assert_eq!(c.server_id_header_value, "12");
        assert_eq!(
            parse_config(&json!({"BoundIAMPrincipalARNs": [ROLE], "MaxRetries": 2.9}))
                .unwrap()
                .max_retries,
            2
        );
        assert_eq!(
            parse_config(&json!({"BoundIAMPrincipalARNs": [ROLE], "MaxRetries": "0x10"}))
                .unwrap()
                .max_retries,
            16
        );
        assert_eq!(parse_go_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(
            parse_go_int("9223372036854775808"),
            Err("value out of range")
        );
        assert_eq!(
            parse_go_int("170141183460469231731687303715884105728"),
            Err("value out of range")
        );
        assert_eq!(parse_go_int("0b101"), Ok(5));
        assert_eq!(parse_go_int("017"), Ok(15));
        assert_eq!(parse_go_int("0x_1f"), Ok(31));
        assert_eq!(parse_go_int("1_000"), Err("invalid syntax"));
        assert_eq!(parse_go_int("-"), Err("invalid syntax"));
    }

    #[test]
    fn decode_errors_read_like_mapstructure() {
        assert_eq!(
            err(json!({"BoundIAMPrincipalARNs": [ROLE], "extraField": 1})),
            "error decoding config: 1 error(s) decoding:\n\n* '' has invalid keys: extraField"
        );
        assert_eq!(
            err(json!({"BoundIAMPrincipalARNs": [ROLE], "MaxRetries": [1, 2]})),
            "error decoding config: 1 error(s) decoding:\n\n* 'MaxRetries' expected type 'int', got unconvertible type '[]interface {}', value: '[1 2]'"
        );
        assert_eq!(
            err(
                json!({"BoundIAMPrincipalARNs": [ROLE], "MaxRetries": "x", "STSRegion": "us-east-1"})
            ),
            "error decoding config: 2 error(s) decoding:\n\n* '' has invalid keys: STSRegion\n* cannot parse 'MaxRetries' as int: strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            err(json!("x")),
            "error decoding config: '' expected a map, got 'string'"
        );
    }

    #[test]
    fn validation_order_and_texts() {
        assert_eq!(
            err(json!({})),
            "BoundIAMPrincipalARNs is required and must have at least 1 entry"
        );
        assert_eq!(
            err(Value::Null),
            "BoundIAMPrincipalARNs is required and must have at least 1 entry"
        );
        // Two faults: the wildcard check runs before the ARN parse of the same entry.
        assert_eq!(
            err(json!({"BoundIAMPrincipalARNs": ["bad*"]})),
            "must set EnableIAMEntityDetails=true to use wildcards in BoundIAMPrincipalARNs"
        );
        // Two faults: ARNs are checked before tags, tags before endpoints.
        assert_eq!(
            err(
                json!({"BoundIAMPrincipalARNs": ["x"], "IAMEntityTags": ["t"], "STSEndpoint": "::"})
            ),
            "invalid principal ARN: \"x\""
        );
        assert_eq!(
            err(
                json!({"BoundIAMPrincipalARNs": [ROLE], "IAMEntityTags": ["t"], "STSEndpoint": "::"})
            ),
            "must set EnableIAMEntityDetails=true to use IAMEntityTags"
        );
        assert_eq!(
            err(
                json!({"BoundIAMPrincipalARNs": [ROLE], "STSEndpoint": "not a url", "IAMEndpoint": "::"})
            ),
            "error STSEndpoint is invalid: url is invalid: \"not a url\""
        );
        assert!(parse_config(&json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::1:*"], "EnableIAMEntityDetails": true, "STSEndpoint": "http://localhost:4566/sts"})).is_ok());
    }
}
