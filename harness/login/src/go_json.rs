//! JSON text exactly as Go's `encoding/json` writes it.
//!
//! The bearer token and the header maps inside it are produced by Go's `json.Marshal` in the
//! real client. Go sorts map keys and HTML-escapes `<`, `>` and `&` (as `\u003c`, `\u003e`,
//! `\u0026`), which is visible inside tokens (the embedded IAM body `Action=GetRole&…`).
//! serde_json does neither, so the few shapes the client writes are rendered here by hand.

use std::fmt::Write as _;

/// Appends `s` as a Go-escaped JSON string literal (with quotes) to `out`.
pub(crate) fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Renders a Go `http.Header` (`map[string][]string`) as `json.Marshal` does: keys sorted
/// bytewise, values as arrays, no whitespace.
pub(crate) fn header_map(headers: &[(String, Vec<String>)]) -> String {
    let mut sorted: Vec<&(String, Vec<String>)> = headers.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::from("{");
    for (i, (name, values)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, name);
        out.push_str(":[");
        for (j, v) in values.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            push_string(&mut out, v);
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// Renders a `map[string]string` with sorted keys.
pub(crate) fn string_map(entries: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::from("{");
    for (i, (k, v)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(&mut out, k);
        out.push(':');
        push_string(&mut out, v);
    }
    out.push('}');
    out
}

/// Go's `http.CanonicalHeaderKey`: the first letter and every letter after a `-` upper-case, the
/// rest lower-case. Keys with characters outside the token set are returned unchanged, as Go does.
pub fn canonical_header_key(name: &str) -> String {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, everything else `%XX`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_html_escaped_like_go() {
        let mut s = String::new();
        push_string(&mut s, "Action=GetRole&RoleName=a<b>\"\\\n\u{1}");
        assert_eq!(
            s,
            r#""Action=GetRole\u0026RoleName=a\u003cb\u003e\"\\\n\u0001""#
        );
    }

    #[test]
    fn header_maps_sort_keys_bytewise() {
        let h = vec![
            ("X-Amz-Date".to_owned(), vec!["d".to_owned()]),
            ("Authorization".to_owned(), vec!["a".to_owned()]),
            (
                "Content-Length".to_owned(),
                vec!["43".to_owned(), "44".to_owned()],
            ),
        ];
        assert_eq!(
            header_map(&h),
            r#"{"Authorization":["a"],"Content-Length":["43","44"],"X-Amz-Date":["d"]}"#
        );
    }

    #[test]
    fn canonical_keys_follow_go() {
        assert_eq!(
            canonical_header_key("X-Consul-IAM-ServerID"),
            "X-Consul-Iam-Serverid"
        );
        assert_eq!(
            canonical_header_key("x-consul-iam-getentity-url"),
            "X-Consul-Iam-Getentity-Url"
        );
        assert_eq!(canonical_header_key("bad key"), "bad key");
    }

    #[test]
    fn query_escape_matches_go() {
        assert_eq!(query_escape("my-role"), "my-role");
        assert_eq!(query_escape("a+b=c,d@e f"), "a%2Bb%3Dc%2Cd%40e+f");
    }
}
