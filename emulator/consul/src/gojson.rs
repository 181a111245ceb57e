//! Go-compatible renderings: JSON as `encoding/json` writes it, durations as `time.Duration`
//! prints them, times as RFC 3339 with nanoseconds.
//!
//! Consul answers with Go's encoder, which HTML-escapes `<`, `>`, `&` (and U+2028/U+2029)
//! inside strings and sorts map keys. Clients that compare bodies byte for byte (and the
//! token `Description` built from login `Meta`) see exactly those bytes, so the emulator
//! renders every JSON body through [`to_vec`].

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter, PrettyFormatter};
use time::OffsetDateTime;

/// A formatter that escapes like Go's `encoding/json` with `SetEscapeHTML(true)`.
struct GoFormatter<F> {
    inner: F,
}

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc: Option<&[u8]> = match c {
                '<' => Some(b"\\u003c"),
                '>' => Some(b"\\u003e"),
                '&' => Some(b"\\u0026"),
                '\u{2028}' => Some(b"\\u2028"),
                '\u{2029}' => Some(b"\\u2029"),
                _ => None,
            };
            if let Some(esc) = esc {
                writer.write_all(fragment.get(start..i).unwrap_or_default().as_bytes())?;
                writer.write_all(esc)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(fragment.get(start..).unwrap_or_default().as_bytes())
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        // Go writes control characters other than \n \r \t as \u00XX, never \b or \f.
        let s: &[u8] = match char_escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::Backspace => b"\\u0008",
            CharEscape::FormFeed => b"\\u000c",
            CharEscape::AsciiControl(byte) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let buf = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ];
                return writer.write_all(&buf);
            }
            // `CharEscape` is non-exhaustive upstream; solidus is never escaped by Go.
            #[allow(unreachable_patterns)]
            _ => b"\\u0000",
        };
        writer.write_all(s)
    }

    // Delegate the structural methods so pretty printing keeps its indentation.
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.inner.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.inner.end_object_value(w)
    }
}

/// Serialises `value` as Go's `json.Marshal` (compact) or `json.MarshalIndent(v, "", "    ")`
/// followed by a newline (pretty), which is what Consul does for `?pretty`.
pub(crate) fn to_vec<T: Serialize + ?Sized>(
    value: &T,
    pretty: bool,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    if pretty {
        let fmt = GoFormatter {
            inner: PrettyFormatter::with_indent(b"    "),
        };
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        value.serialize(&mut ser)?;
        out.push(b'\n');
    } else {
        let fmt = GoFormatter {
            inner: CompactFormatter,
        };
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        value.serialize(&mut ser)?;
    }
    Ok(out)
}

/// Go's `json.Marshal` of a string map, as text (keys sorted, HTML escaped).
pub(crate) fn marshal_string_map(map: &std::collections::BTreeMap<String, String>) -> String {
    // A BTreeMap is already sorted by byte order, which is Go's map key order.
    to_vec(map, false)
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_default()
}

/// Returns `value` with every object's keys sorted, as Go prints a `map[string]interface{}`.
pub(crate) fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = serde_json::Map::new();
            for k in keys {
                if let Some(v) = map.get(k) {
                    out.insert(k.clone(), sorted(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Formats nanoseconds like Go's `time.Duration.String()` (`5m0s`, `1h0m0s`, `1.5s`, `300ms`).
pub fn format_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Sub-second durations use the largest unit that keeps an integer part.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&frac(u, div));
        out.push_str(unit);
    } else {
        let secs_total = u / 1_000_000_000;
        let sub = u % 1_000_000_000;
        let h = secs_total / 3600;
        let m = (secs_total % 3600) / 60;
        let s = secs_total % 60;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&frac(s * 1_000_000_000 + sub, 1_000_000_000));
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

fn frac(v: u64, div: u64) -> String {
    let int = v / div;
    let rem = v % div;
    if rem == 0 {
        return int.to_string();
    }
    let width = div.to_string().len() - 1;
    let digits = format!("{rem:0width$}");
    format!("{int}.{}", digits.trim_end_matches('0'))
}

/// Parses a Go duration string (`time.ParseDuration`): `300ms`, `1.5h`, `2h45m`, `-1s`.
/// The error text is Go's: `time: invalid duration "<s>"` (or `unknown unit`, `missing unit`).
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration \"{s}\"");
    let mut rest = s;
    let mut neg = false;
    if let Some(r) = rest.strip_prefix('-') {
        neg = true;
        rest = r;
    } else if let Some(r) = rest.strip_prefix('+') {
        rest = r;
    }
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
            .map_or(rest.len(), |(i, _)| i);
        let (num, after) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return Err(invalid());
        }
        let value: f64 = num.parse().map_err(|_| invalid())?;
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let (unit, next) = after.split_at(unit_len);
        let mult: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration \"{s}\"")),
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{s}\""
                ));
            }
        };
        total += value * mult;
        rest = next;
    }
    if total > i64::MAX as f64 {
        return Err(invalid());
    }
    #[expect(
        clippy::cast_possible_truncation,
        reason = "bounded by the check above"
    )]
    let n = total.round() as i64;
    Ok(if neg { -n } else { n })
}

/// Formats a time as Go's `time.RFC3339Nano` in UTC (trailing zeros of the fraction trimmed).
pub(crate) fn format_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let nanos = t.nanosecond();
    if nanos == 0 {
        format!("{base}Z")
    } else {
        let f = format!("{nanos:09}");
        format!("{base}.{}Z", f.trim_end_matches('0'))
    }
}

/// Parses an RFC 3339 time as Go's JSON decoder does for `time.Time`.
pub(crate) fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|_| {
        // UNVERIFIED: Go's exact parse error names the failing layout element; this keeps
        // its prefix and layout, which is what clients match on.
        format!("parsing time \"\\\"{s}\\\"\" as \"\\\"2006-01-02T15:04:05Z07:00\\\"\": cannot parse \"{s}\" as \"2006\"")
    })
}

/// Quotes a string like Go's `%q` (`strconv.Quote`).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_html_escaping() {
        let v = serde_json::json!({"a": "<x>&\u{2028}", "b": "\u{1}"});
        let s = String::from_utf8(to_vec(&v, false).unwrap()).unwrap();
        assert_eq!(s, r#"{"a":"\u003cx\u003e\u0026\u2028","b":"\u0001"}"#);
    }

    #[test]
    fn pretty_uses_four_spaces_and_newline() {
        let v = serde_json::json!({"a": [1]});
        let s = String::from_utf8(to_vec(&v, true).unwrap()).unwrap();
        assert_eq!(s, "{\n    \"a\": [\n        1\n    ]\n}\n");
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(format_duration(300_000_000_000), "5m0s");
        assert_eq!(format_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_duration(90_000_000_000), "1m30s");
        assert_eq!(format_duration(1_500_000_000), "1.5s");
        assert_eq!(format_duration(300_000_000), "300ms");
        assert_eq!(format_duration(86_400_000_000_000), "24h0m0s");
        assert_eq!(format_duration(0), "0s");
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("5m"), Ok(300_000_000_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_duration("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(
            parse_duration("abc"),
            Err("time: invalid duration \"abc\"".into())
        );
        assert_eq!(
            parse_duration("5"),
            Err("time: missing unit in duration \"5\"".into())
        );
        assert_eq!(
            parse_duration("5x"),
            Err("time: unknown unit \"x\" in duration \"5x\"".into())
        );
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\x01""#);
    }

    #[test]
    fn times_are_rfc3339_nano() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_120_000_000).unwrap();
        assert_eq!(format_time(t), "2023-11-14T22:13:20.12Z");
    }

    #[test]
    fn string_map_is_sorted_and_escaped() {
        let mut m = std::collections::BTreeMap::new();
        m.insert("b".to_string(), "x&y".to_string());
        m.insert("a".to_string(), "1".to_string());
        assert_eq!(marshal_string_map(&m), r#"{"a":"1","b":"x\u0026y"}"#);
    }
}
