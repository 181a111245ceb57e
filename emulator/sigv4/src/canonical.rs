//! The canonical request, one pure function per grammar part (spec §1.7), and the string to
//! sign (§1.8).
//!
//! ```text
//! CanonicalRequest = Method '\n' CanonicalURI '\n' CanonicalQuery '\n'
//!                    CanonicalHeaders '\n' SignedHeaders '\n' HashedPayload
//! ```
//! The request is bytes (header values are opaque), so the canonical request is `Vec<u8>`.

use sha2::{Digest, Sha256};

use crate::auth_params::AuthLocation;
use crate::error::SigV4Error;
use crate::request::SignedRequest;

/// The only algorithm SigV4 knows.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Shown instead of a session token wherever a canonical request is rendered for people.
pub const REDACTED: &str = "<redacted>";
/// The session-token header (lowercase) and query parameter names.
pub(crate) const TOKEN_HEADER: &str = "x-amz-security-token";
pub(crate) const TOKEN_PARAM: &str = "X-Amz-Security-Token";

/// Whether to hide the session token (for rendering) or keep it (for hashing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Redaction {
    Keep,
    HideToken,
}

/// One query parameter, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryParam {
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// Step 1: the path must be absolute (or empty) and every `%` must start a two-hex-digit escape.
pub(crate) fn check_path(path: &str) -> Result<(), SigV4Error> {
    if !path.is_empty() && !path.starts_with('/') {
        return Err(SigV4Error::InvalidURIPath {
            message: format!("Path is not absolute: {path}"),
        });
    }
    // The canonical URI re-encodes the raw path without decoding it, so a bad escape would
    // not change the signature; AWS still rejects it up front (spec §1.10 step 1).
    if let Err(message) = percent_decode(path.as_bytes()) {
        return Err(SigV4Error::InvalidURIPath { message });
    }
    Ok(())
}

/// `<CanonicalURI>`: the raw path, normalised if asked (non-S3), then percent-encoded once more.
pub fn canonical_uri(path: &str, normalize: bool) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let normalized;
    let path = if normalize {
        normalized = normalize_path(path);
        normalized.as_str()
    } else {
        path
    };
    uri_encode(path.as_bytes(), true)
}

/// Removes `.` segments, resolves `..`, collapses runs of `/` and keeps a trailing `/`, like
/// botocore's `normalize_url_path` (spec §1.7.2).
fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            // UNVERIFIED: `..` above the root is clamped, as botocore's posixpath.normpath
            // does; scratchstack rejects it with InvalidURIPath (spec §1.7.2).
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(path.len());
    out.push('/');
    out.push_str(&segments.join("/"));
    if out.len() > 1 && path.ends_with('/') {
        out.push('/');
    }
    out
}

/// Step 4: splits the raw query on `&` (skipping empty pieces) and at the first `=`, and
/// percent-decodes both halves. A raw `+` stays a `+`.
// UNVERIFIED: what AWS does with a raw `+` (spec §1.7.3); SDKs never send one.
pub(crate) fn parse_query(query: &str) -> Result<Vec<QueryParam>, SigV4Error> {
    let mut params = Vec::new();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
        let malformed = |message| SigV4Error::MalformedQueryString { message };
        params.push(QueryParam {
            key: percent_decode(key.as_bytes()).map_err(malformed)?,
            value: percent_decode(value.as_bytes()).map_err(malformed)?,
        });
    }
    Ok(params)
}

/// The first value of query parameter `key` (spec §1.2, 7c: the first one wins).
pub(crate) fn first_param<'p>(params: &'p [QueryParam], key: &str) -> Option<&'p [u8]> {
    params
        .iter()
        .find(|p| p.key == key.as_bytes())
        .map(|p| p.value.as_slice())
}

fn percent_decode(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut rest = raw;
    while let Some((&b, tail)) = rest.split_first() {
        if b != b'%' {
            out.push(b);
            rest = tail;
            continue;
        }
        match tail {
            [h, l, after @ ..] => match (hex_value(*h), hex_value(*l)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    rest = after;
                }
                _ => {
                    return Err(format!(
                        "Illegal hex character in escape % pattern: %{}{}",
                        char::from(*h),
                        char::from(*l)
                    ));
                }
            },
            _ => return Err("Incomplete trailing escape % sequence".to_owned()),
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// RFC 3986 percent-encoding with uppercase hex; only unreserved bytes (and `/` if asked)
/// stay as they are.
pub(crate) fn uri_encode(bytes: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// `<CanonicalQueryString>`: re-encoded pairs sorted by key then value. In query (presigned)
/// form `X-Amz-Signature` is left out; everything else stays, the session token included.
pub(crate) fn canonical_query(
    params: &[QueryParam],
    location: AuthLocation,
    redaction: Redaction,
) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|p| !(location == AuthLocation::Query && p.key == b"X-Amz-Signature"))
        .map(|p| {
            let value = if redaction == Redaction::HideToken && p.key == TOKEN_PARAM.as_bytes() {
                REDACTED.to_owned()
            } else {
                uri_encode(&p.value, false)
            };
            (uri_encode(&p.key, false), value)
        })
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// One header value as it enters the canonical request: obsolete line folds become spaces,
/// the ends are trimmed and runs of spaces collapse to one (even inside quotes).
pub(crate) fn canonical_header_value(raw: &[u8]) -> Vec<u8> {
    let is_blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = raw.iter().position(|b| !is_blank(b)).unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !is_blank(b))
        .map_or(start, |i| i + 1);
    let mut out = Vec::with_capacity(end.saturating_sub(start));
    for &b in raw.get(start..end).unwrap_or_default() {
        let b = if b == b'\r' || b == b'\n' { b' ' } else { b };
        if b == b' ' && out.last() == Some(&b' ') {
            continue;
        }
        out.push(b);
    }
    out
}

/// The values of a signed header. `host` falls back to the HTTP/2 `:authority` and back.
fn signed_header_values<'a>(req: &SignedRequest<'a>, name: &str) -> Vec<&'a [u8]> {
    let values: Vec<&[u8]> = req.header_values(name).collect();
    if !values.is_empty() {
        return values;
    }
    if name.eq_ignore_ascii_case("host") {
        req.header_values(":authority").collect()
    } else if name == ":authority" {
        req.header_values("host").collect()
    } else {
        values
    }
}

/// `<CanonicalHeaders>`: one `name:value\n` line per signed header, in SignedHeaders order;
/// duplicates joined with `,`; an absent header gives an empty value.
pub(crate) fn canonical_headers(
    req: &SignedRequest<'_>,
    signed_headers: &[&str],
    redaction: Redaction,
) -> Vec<u8> {
    let mut out = Vec::new();
    for name in signed_headers {
        let lower = name.to_ascii_lowercase();
        out.extend_from_slice(lower.as_bytes());
        out.push(b':');
        if redaction == Redaction::HideToken && lower == TOKEN_HEADER {
            out.extend_from_slice(REDACTED.as_bytes());
        } else {
            for (i, value) in signed_header_values(req, name).into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&canonical_header_value(value));
            }
        }
        out.push(b'\n');
    }
    out
}

/// `<HashedPayload>`: the `x-amz-content-sha256` header if sent, else SHA-256 of the body.
pub fn payload_hash(req: &SignedRequest<'_>) -> String {
    match req.first_header("x-amz-content-sha256") {
        Some(v) => String::from_utf8_lossy(&canonical_header_value(v)).into_owned(),
        None => crate::key::hex_lower(&Sha256::digest(req.body)),
    }
}

pub(crate) fn build(
    req: &SignedRequest<'_>,
    params: &[QueryParam],
    signed_headers: &[&str],
    normalize_path: bool,
    location: AuthLocation,
    redaction: Redaction,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + req.query.len());
    out.extend_from_slice(req.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.path, normalize_path).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(params, location, redaction).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&canonical_headers(req, signed_headers, redaction));
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash(req).as_bytes());
    out
}

/// The canonical request for `req` (spec §1.7), exactly as hashed. It contains the session
/// token if one is signed: never log it; use [`canonical_request_redacted`] for people.
///
/// Fails like verification steps 1 and 4 on a bad path or query string.
pub fn canonical_request(
    req: &SignedRequest<'_>,
    signed_headers: &[&str],
    normalize_path: bool,
    location: AuthLocation,
) -> Result<Vec<u8>, SigV4Error> {
    check_path(req.path)?;
    let params = parse_query(req.query)?;
    Ok(build(
        req,
        &params,
        signed_headers,
        normalize_path,
        location,
        Redaction::Keep,
    ))
}

/// [`canonical_request`] as text with the session token replaced by `<redacted>`, safe for
/// journals and messages.
pub fn canonical_request_redacted(
    req: &SignedRequest<'_>,
    signed_headers: &[&str],
    normalize_path: bool,
    location: AuthLocation,
) -> Result<String, SigV4Error> {
    check_path(req.path)?;
    let params = parse_query(req.query)?;
    let bytes = build(
        req,
        &params,
        signed_headers,
        normalize_path,
        location,
        Redaction::HideToken,
    );
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The string to sign (spec §1.8): algorithm, request time, scope, hex SHA-256 of the
/// canonical request, joined by `\n`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        crate::key::hex_lower(&Sha256::digest(canonical_request))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_path_matches_the_suite_examples() {
        assert_eq!(normalize_path("//example//"), "/example/");
        assert_eq!(normalize_path("/example1/example2/../.."), "/");
        assert_eq!(normalize_path("/./"), "/");
        assert_eq!(normalize_path("/./example"), "/example");
        assert_eq!(normalize_path("//"), "/");
        assert_eq!(normalize_path("/example/.."), "/");
    }

    #[test]
    fn dot_dot_above_root_is_clamped() {
        // UNVERIFIED choice pinned (see normalize_path).
        assert_eq!(normalize_path("/../a"), "/a");
        assert_eq!(canonical_uri("/..", true), "/");
    }

    #[test]
    fn path_is_encoded_once_more() {
        assert_eq!(canonical_uri("/a%3Ab c", true), "/a%253Ab%20c");
        assert_eq!(canonical_uri("", true), "/");
        assert_eq!(canonical_uri("//a", false), "//a");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        assert_eq!(canonical_header_value(b"  \"a   b   c\"  "), b"\"a b c\"");
        assert_eq!(
            canonical_header_value(b"value1\r\n  value2\n\tvalue3"),
            b"value1 value2 \tvalue3"
        );
        assert_eq!(canonical_header_value(b"\t x \t"), b"x");
        assert_eq!(canonical_header_value(b""), b"");
    }

    #[test]
    fn query_pairs_sort_by_key_then_value() {
        let params = parse_query("b=2&a-b=1&a=2&a=1&c&&d=%2f+").unwrap();
        assert_eq!(
            canonical_query(&params, AuthLocation::Header, Redaction::Keep),
            "a=1&a=2&a-b=1&b=2&c=&d=%2F%2B"
        );
    }

    #[test]
    fn bad_escapes_are_malformed_query_strings() {
        let err = parse_query("a=%4").unwrap_err();
        assert_eq!(err.code(), "MalformedQueryString");
        assert_eq!(err.message(), "Incomplete trailing escape % sequence");
        let err = parse_query("a=%zz").unwrap_err();
        assert_eq!(
            err.message(),
            "Illegal hex character in escape % pattern: %zz"
        );
    }

    #[test]
    fn bad_paths_are_rejected() {
        assert_eq!(
            check_path("a/b").unwrap_err().message(),
            "Path is not absolute: a/b"
        );
        assert_eq!(check_path("/a%").unwrap_err().code(), "InvalidURIPath");
        assert!(check_path("").is_ok());
    }
}
