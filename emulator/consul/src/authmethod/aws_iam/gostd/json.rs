//! The two decodes of Go's `encoding/json` the bearer token goes through: the outer object into a
//! struct of four strings, and a header map into `http.Header` (`map[string][]string`).
//!
//! Go first scans the whole input for syntax errors (reporting `unexpected end of JSON input`,
//! `invalid character 'x' looking for beginning of value`, …), then decodes, remembering the first
//! type error (`json: cannot unmarshal number into Go struct field .x of type string`) while it
//! carries on. Both halves are iterative, so nesting depth costs no stack.

use std::fmt;

use super::{lossy_utf8, lossy_utf8_vec};

/// Go's maximum nesting depth (`encoding/json` scanner).
const MAX_DEPTH: usize = 10_000;

/// A Go `encoding/json` error, rendered as Go renders it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError(pub(crate) String);

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_owned(),
        b'"' => "'\"'".to_owned(),
        _ => {
            let q = super::quote(&char::from(c).to_string());
            format!(
                "'{}'",
                q.get(1..q.len().saturating_sub(1)).unwrap_or_default()
            )
        }
    }
}

fn syntax(c: u8, context: &str) -> JsonError {
    JsonError(format!("invalid character {} {context}", quote_char(c)))
}

fn eof() -> JsonError {
    JsonError("unexpected end of JSON input".to_owned())
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

/// Go's `checkValid`: the syntax scan run before any decoding.
pub(crate) fn check_valid(data: &[u8]) -> Result<(), JsonError> {
    let mut stack: Vec<Container> = Vec::new();
    let mut i = 0usize;
    // Parse one value, then handle what follows it according to the container stack.
    'value: loop {
        // Step: beginning of a value.
        let c = loop {
            match data.get(i) {
                None => return Err(eof()),
                Some(&c) if is_space(c) => i += 1,
                Some(&c) => break c,
            }
        };
        i += 1;
        match c {
            b'{' | b'[' => {
                if stack.len() >= MAX_DEPTH {
                    return Err(JsonError("exceeded max depth".to_owned()));
                }
                let kind = if c == b'{' {
                    Container::Object
                } else {
                    Container::Array
                };
                stack.push(kind);
                // Empty container, or first key / element.
                let next = loop {
                    match data.get(i) {
                        None => return Err(eof()),
                        Some(&c) if is_space(c) => i += 1,
                        Some(&c) => break c,
                    }
                };
                match (kind, next) {
                    (Container::Object, b'}') | (Container::Array, b']') => {
                        i += 1;
                        stack.pop();
                    }
                    (Container::Object, b'"') => {
                        i += 1;
                        i = scan_string(data, i)?;
                        expect_colon(data, &mut i)?;
                        continue 'value;
                    }
                    (Container::Object, c) => {
                        return Err(syntax(c, "looking for beginning of object key string"));
                    }
                    (Container::Array, _) => continue 'value,
                }
            }
            b'"' => i = scan_string(data, i)?,
            b'-' | b'0'..=b'9' => i = scan_number(data, i - 1)?,
            b't' => i = scan_literal(data, i, b"rue", "true")?,
            b'f' => i = scan_literal(data, i, b"alse", "false")?,
            b'n' => i = scan_literal(data, i, b"ull", "null")?,
            c => return Err(syntax(c, "looking for beginning of value")),
        }
        // Step: after a complete value.
        loop {
            let Some(&top) = stack.last() else {
                // Top level: only whitespace may follow.
                while let Some(&c) = data.get(i) {
                    if !is_space(c) {
                        return Err(syntax(c, "after top-level value"));
                    }
                    i += 1;
                }
                return Ok(());
            };
            let c = loop {
                match data.get(i) {
                    None => return Err(eof()),
                    Some(&c) if is_space(c) => i += 1,
                    Some(&c) => break c,
                }
            };
            i += 1;
            match (top, c) {
                (Container::Object, b',') => {
                    let c = loop {
                        match data.get(i) {
                            None => return Err(eof()),
                            Some(&c) if is_space(c) => i += 1,
                            Some(&c) => break c,
                        }
                    };
                    if c != b'"' {
                        return Err(syntax(c, "looking for beginning of object key string"));
                    }
                    i = scan_string(data, i + 1)?;
                    expect_colon(data, &mut i)?;
                    continue 'value;
                }
                (Container::Object, b'}') | (Container::Array, b']') => {
                    stack.pop();
                }
                (Container::Array, b',') => continue 'value,
                (Container::Object, c) => return Err(syntax(c, "after object key:value pair")),
                (Container::Array, c) => return Err(syntax(c, "after array element")),
            }
        }
    }
}

fn expect_colon(data: &[u8], i: &mut usize) -> Result<(), JsonError> {
    loop {
        match data.get(*i) {
            None => return Err(eof()),
            Some(&c) if is_space(c) => *i += 1,
            Some(b':') => {
                *i += 1;
                return Ok(());
            }
            Some(&c) => return Err(syntax(c, "after object key")),
        }
    }
}

/// Scans a string body starting just after the opening quote; returns the index after the
/// closing quote.
fn scan_string(data: &[u8], mut i: usize) -> Result<usize, JsonError> {
    loop {
        // Plain bytes need no decision; skipping a run of them in one tight loop matters for
        // bearer tokens, whose strings are kilobytes of base64 (docs/performance.md).
        let special = |c: u8| c == b'"' || c == b'\\' || c < 0x20;
        let rest = data.get(i..).unwrap_or_default();
        // Whole 16-byte chunks without a special byte first: a branch-free test per chunk
        // (vector code), then the exact position within the first chunk that has one.
        let clean = rest
            .chunks_exact(16)
            .take_while(|chunk| {
                // Bitwise, not short-circuit, so that the compiler can vectorise the chunk.
                !chunk.iter().fold(false, |seen, &c| {
                    seen | (c == b'"') | (c == b'\\') | (c < 0x20)
                })
            })
            .count()
            * 16;
        i += clean;
        let rest = rest.get(clean..).unwrap_or_default();
        i += rest.iter().position(|&c| special(c)).unwrap_or(rest.len());
        let Some(&c) = data.get(i) else {
            return Err(eof());
        };
        i += 1;
        match c {
            b'"' => return Ok(i),
            b'\\' => {
                let Some(&e) = data.get(i) else {
                    return Err(eof());
                };
                i += 1;
                match e {
                    b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => {}
                    b'u' => {
                        for _ in 0..4 {
                            let Some(&h) = data.get(i) else {
                                return Err(eof());
                            };
                            if !h.is_ascii_hexdigit() {
                                return Err(syntax(h, "in \\u hexadecimal character escape"));
                            }
                            i += 1;
                        }
                    }
                    e => return Err(syntax(e, "in string escape code")),
                }
            }
            c if c < 0x20 => return Err(syntax(c, "in string literal")),
            _ => {}
        }
    }
}

/// Scans a number starting at its first byte; returns the index after it. A number ends at any
/// byte that cannot continue it (that byte is judged by the caller), or at the end of input.
fn scan_number(data: &[u8], mut i: usize) -> Result<usize, JsonError> {
    if data.get(i) == Some(&b'-') {
        i += 1;
        match data.get(i) {
            None => return Err(eof()),
            Some(b'0'..=b'9') => {}
            Some(&c) => return Err(syntax(c, "in numeric literal")),
        }
    }
    if data.get(i) == Some(&b'0') {
        i += 1;
    } else {
        while data.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if data.get(i) == Some(&b'.') {
        i += 1;
        match data.get(i) {
            None => return Err(eof()),
            Some(b'0'..=b'9') => {}
            Some(&c) => return Err(syntax(c, "after decimal point in numeric literal")),
        }
        while data.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    if matches!(data.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(data.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        match data.get(i) {
            None => return Err(eof()),
            Some(b'0'..=b'9') => {}
            Some(&c) => return Err(syntax(c, "in exponent of numeric literal")),
        }
        while data.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    Ok(i)
}

fn scan_literal(data: &[u8], mut i: usize, rest: &[u8], name: &str) -> Result<usize, JsonError> {
    for &want in rest {
        let Some(&c) = data.get(i) else {
            return Err(eof());
        };
        if c != want {
            let context = format!("in literal {name} (expecting {})", quote_char(want));
            return Err(syntax(c, &context));
        }
        i += 1;
    }
    Ok(i)
}

/// A value as the decoder sees it: strings decoded, everything else only classified.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shallow {
    Null,
    String(String),
    /// Go's name for the JSON kind in type errors: `number`, `bool`, `object`, `array`.
    Other(&'static str),
}

/// Iterates a syntactically valid JSON document (already passed [`check_valid`]).
struct Walker<'a> {
    data: &'a [u8],
    i: usize,
}

impl<'a> Walker<'a> {
    fn new(data: &'a [u8]) -> Self {
        Walker { data, i: 0 }
    }

    fn skip_space(&mut self) {
        while self.data.get(self.i).is_some_and(|&c| is_space(c)) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.data.get(self.i).copied()
    }

    fn bump(&mut self) {
        self.i += 1;
    }

    /// Reads a string starting at its opening quote.
    fn string(&mut self) -> String {
        self.bump();
        let start = self.i;
        // The scan already validated the string, so it cannot fail here.
        let end = scan_string(self.data, start).unwrap_or(self.data.len());
        self.i = end;
        unquote(
            self.data
                .get(start..end.saturating_sub(1))
                .unwrap_or_default(),
        )
    }

    /// Skips any value, iteratively.
    fn skip_value(&mut self) {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return,
                Some(b'"') => {
                    self.bump();
                    self.i = scan_string(self.data, self.i).unwrap_or(self.data.len());
                }
                Some(b'{' | b'[') => {
                    self.bump();
                    depth += 1;
                    continue;
                }
                Some(b'}' | b']') => {
                    self.bump();
                    depth = depth.saturating_sub(1);
                }
                Some(b',' | b':') => {
                    self.bump();
                    continue;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.i = scan_number(self.data, self.i).unwrap_or(self.data.len());
                }
                Some(b't' | b'n') => self.i += 4,
                Some(b'f') => self.i += 5,
                Some(_) => self.bump(),
            }
            if depth == 0 {
                return;
            }
        }
    }

    /// Reads a value: strings decoded, others skipped and classified.
    fn shallow(&mut self) -> Shallow {
        match self.peek() {
            Some(b'"') => Shallow::String(self.string()),
            Some(b'n') => {
                self.i += 4;
                Shallow::Null
            }
            Some(c) => {
                let kind = match c {
                    b'{' => "object",
                    b'[' => "array",
                    b't' | b'f' => "bool",
                    _ => "number",
                };
                self.skip_value();
                Shallow::Other(kind)
            }
            None => Shallow::Null,
        }
    }

    /// Iterates the members of an object at the cursor, calling `f(key, walker)`; `f` must
    /// consume the member's value.
    fn members(&mut self, mut f: impl FnMut(String, &mut Walker<'a>)) {
        self.bump(); // `{`
        loop {
            match self.peek() {
                Some(b'"') => {
                    let key = self.string();
                    self.skip_space();
                    self.bump(); // `:`
                    f(key, self);
                }
                Some(b',') => self.bump(),
                Some(b'}') => {
                    self.bump();
                    return;
                }
                _ => return,
            }
        }
    }
}

/// Decodes a JSON string body (without quotes) like Go: escapes resolved, unpaired surrogates
/// and invalid UTF-8 replaced by U+FFFD.
fn unquote(raw: &[u8]) -> String {
    // Without escapes the decoding is only the UTF-8 repair below.
    if !raw.contains(&b'\\') {
        return lossy_utf8(raw);
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0usize;
    while let Some(run) = raw.get(i..).filter(|run| !run.is_empty()) {
        // Copy the plain run up to the next escape in one go (header values embedded in the
        // token, such as the entity headers JSON, have an escaped quote every few bytes).
        let plain = run.iter().position(|&b| b == b'\\').unwrap_or(run.len());
        if plain > 0 {
            out.extend_from_slice(run.get(..plain).unwrap_or_default());
            i += plain;
            continue;
        }
        let e = raw.get(i + 1).copied().unwrap_or(b'\\');
        i += 2;
        let simple = match e {
            b'b' => Some('\x08'),
            b'f' => Some('\x0c'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'u' => None,
            other => Some(char::from(other)),
        };
        let ch = match simple {
            Some(ch) => ch,
            None => {
                let hi = hex4(raw.get(i..i + 4));
                i += 4;
                match hi {
                    Some(h @ 0xD800..=0xDBFF) => {
                        // A high surrogate needs a following `\uDC00`–`\uDFFF`.
                        let lo = if raw.get(i..i + 2) == Some(b"\\u") {
                            hex4(raw.get(i + 2..i + 6))
                        } else {
                            None
                        };
                        match lo {
                            Some(l @ 0xDC00..=0xDFFF) => {
                                i += 6;
                                let cp = 0x10000 + ((h - 0xD800) << 10) + (l - 0xDC00);
                                char::from_u32(cp).unwrap_or('\u{fffd}')
                            }
                            _ => '\u{fffd}',
                        }
                    }
                    Some(cp) => char::from_u32(cp).unwrap_or('\u{fffd}'),
                    None => '\u{fffd}',
                }
            }
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
    lossy_utf8_vec(out)
}

fn hex4(b: Option<&[u8]>) -> Option<u32> {
    let s = std::str::from_utf8(b?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Go's case folding for struct-field matching: ASCII case-insensitive, plus the two non-ASCII
/// runes that fold onto ASCII letters (KELVIN SIGN → k, LATIN SMALL LETTER LONG S → s).
fn fold_name(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{212a}' => 'k',
            '\u{17f}' => 's',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Decodes a JSON object into a Go struct whose fields are all `string` with the given JSON
/// names. `struct_name` is Go's type name (`""` for an anonymous struct); `value_type` is what Go
/// prints when the top-level value is not an object.
pub(crate) fn decode_string_struct(
    data: &[u8],
    fields: &[&str],
    struct_name: &str,
    value_type: &str,
) -> Result<Vec<String>, JsonError> {
    check_valid(data)?;
    let mut out = vec![String::new(); fields.len()];
    let mut w = Walker::new(data);
    match w.peek() {
        Some(b'{') => {}
        Some(b'n') => return Ok(out),
        _ => {
            let kind = match w.shallow() {
                Shallow::String(_) => "string",
                Shallow::Other(k) => k,
                Shallow::Null => "null",
            };
            return Err(JsonError(format!(
                "json: cannot unmarshal {kind} into Go value of type {value_type}"
            )));
        }
    }
    let mut first_err: Option<JsonError> = None;
    w.members(|key, w| {
        let idx = fields
            .iter()
            .position(|f| *f == key)
            .or_else(|| fields.iter().position(|f| fold_name(f) == fold_name(&key)));
        let value = w.shallow();
        let Some(idx) = idx else { return };
        let field = fields.get(idx).copied().unwrap_or_default();
        match value {
            Shallow::String(s) => {
                if let Some(slot) = out.get_mut(idx) {
                    *slot = s;
                }
            }
            Shallow::Null => {}
            Shallow::Other(kind) => {
                first_err.get_or_insert_with(|| {
                    JsonError(format!(
                        "json: cannot unmarshal {kind} into Go struct field {struct_name}.{field} of type string"
                    ))
                });
            }
        }
    });
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// A decoded Go `http.Header`: keys exactly as written (not canonicalised), in first-appearance
/// order; a repeated key keeps its first position and its last value, as Go's map assignment does.
pub(crate) type HeaderList = Vec<(String, Vec<String>)>;

/// Decodes JSON into Go's `http.Header`.
pub(crate) fn decode_header(data: &[u8]) -> Result<HeaderList, JsonError> {
    check_valid(data)?;
    let mut out: HeaderList = Vec::new();
    let mut w = Walker::new(data);
    match w.peek() {
        Some(b'{') => {}
        Some(b'n') => return Ok(out),
        _ => {
            let kind = match w.shallow() {
                Shallow::String(_) => "string",
                Shallow::Other(k) => k,
                Shallow::Null => "null",
            };
            return Err(JsonError(format!(
                "json: cannot unmarshal {kind} into Go value of type http.Header"
            )));
        }
    }
    let mut first_err: Option<JsonError> = None;
    w.members(|key, w| {
        let mut values = Vec::new();
        match w.peek() {
            Some(b'[') => {
                w.bump();
                loop {
                    match w.peek() {
                        Some(b']') => {
                            w.bump();
                            break;
                        }
                        Some(b',') => w.bump(),
                        None => break,
                        Some(_) => match w.shallow() {
                            Shallow::String(s) => values.push(s),
                            Shallow::Null => values.push(String::new()),
                            Shallow::Other(kind) => {
                                values.push(String::new());
                                first_err.get_or_insert_with(|| {
                                    JsonError(format!(
                                        "json: cannot unmarshal {kind} into Go struct field Header.{key} of type string"
                                    ))
                                });
                            }
                        },
                    }
                }
            }
            _ => match w.shallow() {
                Shallow::Null => {}
                Shallow::String(_) => {
                    first_err.get_or_insert_with(|| {
                        JsonError(format!(
                            "json: cannot unmarshal string into Go struct field Header.{key} of type []string"
                        ))
                    });
                }
                Shallow::Other(kind) => {
                    first_err.get_or_insert_with(|| {
                        JsonError(format!(
                            "json: cannot unmarshal {kind} into Go struct field Header.{key} of type []string"
                        ))
                    });
                }
            },
        }
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = values,
            None => out.push((key, values)),
        }
    });
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        check_valid(s.as_bytes()).unwrap_err().0
    }

    #[test]
    fn syntax_errors_match_go() {
        assert_eq!(err(""), "unexpected end of JSON input");
        assert_eq!(err("{"), "unexpected end of JSON input");
        assert_eq!(
            err("invalid"),
            "invalid character 'i' looking for beginning of value"
        );
        assert_eq!(
            err("nope"),
            "invalid character 'o' in literal null (expecting 'u')"
        );
        assert_eq!(err("{\"a\" 1}"), "invalid character '1' after object key");
        assert_eq!(
            err("{\"a\":1 2}"),
            "invalid character '2' after object key:value pair"
        );
        assert_eq!(err("[1 2]"), "invalid character '2' after array element");
        assert_eq!(
            err("{1}"),
            "invalid character '1' looking for beginning of object key string"
        );
        assert_eq!(err("{} x"), "invalid character 'x' after top-level value");
        assert_eq!(err("\"a\nb\""), "invalid character '\\n' in string literal");
        assert_eq!(
            err("\"\\x\""),
            "invalid character 'x' in string escape code"
        );
        assert_eq!(err("-x"), "invalid character 'x' in numeric literal");
        assert_eq!(
            err("1.x"),
            "invalid character 'x' after decimal point in numeric literal"
        );
        assert_eq!(
            err("{'a':1}"),
            "invalid character '\\'' looking for beginning of object key string"
        );
        assert!(check_valid(b" {\"a\": [1, -2.5e3, true, null, \"x\"]} ").is_ok());
        assert!(check_valid(b"12").is_ok());
    }

    #[test]
    fn struct_decode_is_case_insensitive_and_reports_first_type_error() {
        let fields = ["iam_http_request_method", "iam_request_url"];
        let got = decode_string_struct(
            br#"{"IAM_HTTP_REQUEST_METHOD":"POST","x":1}"#,
            &fields,
            "",
            "T",
        )
        .unwrap();
        assert_eq!(got, vec!["POST".to_owned(), String::new()]);
        let e = decode_string_struct(br#"{"iam_http_request_method":1}"#, &fields, "", "T")
            .unwrap_err();
        assert_eq!(
            e.0,
            "json: cannot unmarshal number into Go struct field .iam_http_request_method of type string"
        );
        let got = decode_string_struct(
            br#"{"iam_request_url":"a\u00e9\ud83d\ude00"}"#,
            &fields,
            "",
            "T",
        )
        .unwrap();
        assert_eq!(got[1], "aé😀");
    }

    #[test]
    fn header_decode_matches_go() {
        let h = decode_header(br#"{"A":["1","2"],"b":null,"A":["3"]}"#).unwrap();
        assert_eq!(
            h,
            vec![
                ("A".to_owned(), vec!["3".to_owned()]),
                ("b".to_owned(), vec![])
            ]
        );
        assert_eq!(
            decode_header(br#"{"Authorization": "x"}"#).unwrap_err().0,
            "json: cannot unmarshal string into Go struct field Header.Authorization of type []string"
        );
        assert_eq!(
            decode_header(b"").unwrap_err().0,
            "unexpected end of JSON input"
        );
        assert_eq!(
            decode_header(b"[]").unwrap_err().0,
            "json: cannot unmarshal array into Go value of type http.Header"
        );
        assert!(decode_header(b"null").unwrap().is_empty());
    }

    #[test]
    fn string_scan_finds_the_first_special_byte_at_any_offset() {
        // Every offset across and around the 16-byte chunks: a closing quote, an escape and a
        // control byte each end or interrupt the plain run exactly where they are.
        for len in 0..50 {
            let plain = "a".repeat(len);
            let closed = format!("{plain}\"rest");
            assert_eq!(scan_string(closed.as_bytes(), 0), Ok(len + 1), "{len}");
            let escaped = format!("{plain}\\\"x\"");
            assert_eq!(scan_string(escaped.as_bytes(), 0), Ok(len + 4), "{len}");
            let control = format!("{plain}\u{1}\"");
            assert_eq!(
                scan_string(control.as_bytes(), 0),
                Err(syntax(1, "in string literal")),
                "{len}"
            );
            assert_eq!(scan_string(plain.as_bytes(), 0), Err(eof()), "{len}");
        }
    }

    #[test]
    fn deep_nesting_is_bounded_without_recursion() {
        let deep = "[".repeat(20_000);
        assert_eq!(err(&deep), "exceeded max depth");
        let ok = format!("{{\"x\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        assert_eq!(
            decode_header(ok.as_bytes()).unwrap_err().0,
            "json: cannot unmarshal array into Go struct field Header.x of type string"
        );
    }
}
