//! Go standard-library behaviours the validator reproduces: Consul's texts embed Go's own error
//! messages (`encoding/json`, `encoding/base64`, `net/url`, `strconv`), and Go's decoders decide
//! what a bearer token means (case-insensitive JSON keys, canonical header keys, `;` in forms).
//!
//! Each submodule is a small, independent re-implementation of one Go behaviour, written from the
//! documented semantics; none of Go's code is copied.

pub(crate) mod base64;
pub(crate) mod json;
pub(crate) mod query;
pub(crate) mod url;

/// `String::from_utf8_lossy(bytes).into_owned()`: invalid UTF-8 becomes U+FFFD, as Go's
/// `string` conversions and decoders print it. Valid input (the usual case) is only validated
/// and copied: `str::from_utf8` checks ASCII a word at a time, while the lossy decoder walks
/// every byte (docs/performance.md, "Full logins").
pub(crate) fn lossy_utf8(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// [`lossy_utf8`] for an owned buffer: valid UTF-8 is taken over without a copy.
pub(crate) fn lossy_utf8_vec(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Go's `strconv.Quote`, as `%q` prints strings in error messages.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_quoted_char(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.Quote` over raw bytes: invalid UTF-8 bytes print as `\xNN`.
pub(crate) fn quote_bytes(b: &[u8]) -> String {
    let mut out = String::from("\"");
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_quoted_char(&mut out, c, '"');
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out.push('"');
    out
}

fn push_quoted_char(out: &mut String, c: char, delim: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == delim => {
            out.push('\\');
            out.push(c);
        }
        c if is_go_printable(c) => out.push(c),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Approximates Go's `unicode.IsPrint`: graphic characters plus the ASCII space. Go excludes
/// every other space and format character; controls, non-ASCII whitespace and the common
/// format characters are excluded here too.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e000}'..='\u{f8ff}'
    )
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-amz-date` → `X-Amz-Date`; keys with bytes that are
/// not HTTP token characters are returned unchanged.
pub(crate) fn canonical_header_key(key: &str) -> String {
    let mut out = key.to_owned();
    if !key.bytes().all(is_token_byte) {
        return out;
    }
    // All ASCII from here, so every byte offset is a char boundary: lower-case the whole key,
    // then upper-case the first byte and each byte after a `-`.
    out.make_ascii_lowercase();
    let mut upper = true;
    for i in 0..key.len() {
        if upper && let Some(c) = out.get_mut(i..=i) {
            c.make_ascii_uppercase();
        }
        upper = key.as_bytes().get(i) == Some(&b'-');
    }
    out
}

/// HTTP token characters (RFC 7230 `tchar`), Go's `validHeaderFieldByte`.
pub(crate) fn is_token_byte(b: u8) -> bool {
    TOKEN_BYTES[usize::from(b)]
}

/// [`is_token_byte_slow`] as a table: header names are checked byte by byte on every login.
const TOKEN_BYTES: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = is_token_byte_slow(i as u8);
        i += 1;
    }
    t
};

const fn is_token_byte_slow(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_go() {
        assert_eq!(quote("a\"b"), r#""a\"b""#);
        assert_eq!(quote("  "), r#""  ""#);
        assert_eq!(quote("x\ny\u{1}"), r#""x\ny\x01""#);
        assert_eq!(quote("é"), "\"é\"");
        assert_eq!(quote_bytes(b"%\xff"), r#""%\xff""#);
    }

    #[test]
    fn lossy_utf8_replaces_invalid_bytes_like_from_utf8_lossy() {
        for input in [
            b"plain".as_slice(),
            b"",
            "é😀".as_bytes(),
            b"a\xffb",
            b"\xe2\x82",
            b"x\xed\xa0\x80y",
        ] {
            let want = String::from_utf8_lossy(input).into_owned();
            assert_eq!(lossy_utf8(input), want);
            assert_eq!(lossy_utf8_vec(input.to_vec()), want);
        }
    }

    #[test]
    fn token_byte_table_matches_the_definition() {
        for b in 0..=255u8 {
            assert_eq!(is_token_byte(b), is_token_byte_slow(b), "{b}");
        }
        assert!(is_token_byte(b'-') && is_token_byte(b'z') && !is_token_byte(b':'));
    }

    #[test]
    fn canonical_header_keys() {
        assert_eq!(canonical_header_key("x-amz-date"), "X-Amz-Date");
        assert_eq!(
            canonical_header_key("X-Consul-IAM-ServerID"),
            "X-Consul-Iam-Serverid"
        );
        assert_eq!(canonical_header_key("bad key"), "bad key");
        assert_eq!(canonical_header_key("content-type"), "Content-Type");
        assert_eq!(canonical_header_key("-a--b-"), "-A--B-");
        assert_eq!(canonical_header_key(""), "");
        assert_eq!(canonical_header_key("x-é"), "x-é");
    }
}
