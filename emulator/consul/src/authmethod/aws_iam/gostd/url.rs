//! Go's `net/url`: `url.Parse` (with its error texts, e.g. `parse "://x": missing protocol
//! scheme`), `Hostname()`, `EscapedPath()`, `String()`, `Redacted()`, `JoinPath` and
//! `QueryUnescape`.

use super::{lossy_utf8_vec, quote, quote_bytes};

/// A parsed URL with Go's field meanings (`host` keeps the port; `path` is unescaped).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct GoUrl {
    pub(crate) scheme: String,
    pub(crate) opaque: String,
    /// Raw userinfo (`user` or `user:password`), unescaped.
    pub(crate) user: Option<(String, Option<String>)>,
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) raw_path: String,
    pub(crate) omit_host: bool,
    pub(crate) force_query: bool,
    pub(crate) raw_query: String,
    pub(crate) fragment: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    Zone,
    UserPassword,
    QueryComponent,
    Fragment,
}

fn unhex(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

/// Go's `shouldEscape`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if matches!(mode, Mode::Host | Mode::Zone)
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => c == b'?',
            Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::QueryComponent => true,
            Mode::Fragment => false,
            Mode::Host | Mode::Zone => true,
        },
        _ => {
            if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
                return false;
            }
            true
        }
    }
}

/// Go's `unescape`.
fn unescape(s: &str, mode: Mode) -> Result<String, String> {
    let b = s.as_bytes();
    let mut i = 0usize;
    let mut has_escape = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'%' => {
                has_escape = true;
                let ok = matches!((b.get(i + 1), b.get(i + 2)), (Some(x), Some(y)) if x.is_ascii_hexdigit() && y.is_ascii_hexdigit());
                if !ok {
                    let end = (i + 3).min(b.len());
                    return Err(format!(
                        "invalid URL escape {}",
                        quote_bytes(b.get(i..end).unwrap_or_default())
                    ));
                }
                let hi = b.get(i + 1).copied().map(unhex).unwrap_or(0);
                if mode == Mode::Host && hi < 8 && b.get(i..i + 3) != Some(b"%25") {
                    return Err(format!(
                        "invalid URL escape {}",
                        quote_bytes(b.get(i..i + 3).unwrap_or_default())
                    ));
                }
                if mode == Mode::Zone {
                    let v = (hi << 4) | b.get(i + 2).copied().map(unhex).unwrap_or(0);
                    if b.get(i..i + 3) != Some(b"%25") && v != b' ' && should_escape(v, Mode::Host)
                    {
                        return Err(format!(
                            "invalid URL escape {}",
                            quote_bytes(b.get(i..i + 3).unwrap_or_default())
                        ));
                    }
                }
                i += 3;
            }
            b'+' => i += 1,
            _ => {
                if matches!(mode, Mode::Host | Mode::Zone) && c < 0x80 && should_escape(c, mode) {
                    return Err(format!(
                        "invalid character {} in host name",
                        quote(&char::from(c).to_string())
                    ));
                }
                i += 1;
            }
        }
    }
    let needs_decode = has_escape || (mode == Mode::QueryComponent && s.contains('+'));
    if !needs_decode {
        return Ok(s.to_owned());
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        match c {
            b'%' => {
                let hi = b.get(i + 1).copied().map(unhex).unwrap_or(0);
                let lo = b.get(i + 2).copied().map(unhex).unwrap_or(0);
                out.push((hi << 4) | lo);
                i += 3;
            }
            b'+' if mode == Mode::QueryComponent => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    // Go strings hold arbitrary bytes; ours hold UTF-8, so invalid sequences become U+FFFD.
    Ok(lossy_utf8_vec(out))
}

/// Go's `url.QueryUnescape`.
pub(crate) fn unescape_query_component(s: &str) -> Result<String, String> {
    unescape(s, Mode::QueryComponent)
}

fn escape(s: &str, mode: Mode) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if should_escape(c, mode) {
            out.push_str(&format!("%{c:02X}"));
        } else {
            out.push(char::from(c));
        }
    }
    out
}

/// Go's `validEncoded(s, encodePath)`: RFC 3986 pchars, `[`/`]` and `%`.
fn valid_encoded(s: &str) -> bool {
    s.bytes().all(|c| {
        matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'['
                | b']'
                | b'%'
        ) || !should_escape(c, Mode::Path)
    })
}

fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let Some(close) = host.rfind(']') else {
            return Err("missing ']' in host".to_owned());
        };
        let colon_port = host.get(close + 1..).unwrap_or_default();
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", quote(colon_port)));
        }
        if let Some(zone) = host.get(..close).and_then(|h| h.find("%25")) {
            let h1 = unescape(host.get(..zone).unwrap_or_default(), Mode::Host)?;
            let h2 = unescape(host.get(zone..close).unwrap_or_default(), Mode::Zone)?;
            let h3 = unescape(host.get(close..).unwrap_or_default(), Mode::Host)?;
            return Ok(h1 + &h2 + &h3);
        }
    } else if let Some(colon) = host.rfind(':') {
        let colon_port = host.get(colon..).unwrap_or_default();
        if !valid_optional_port(colon_port) {
            return Err(format!("invalid port {} after host", quote(colon_port)));
        }
    }
    unescape(host, Mode::Host)
}

fn valid_userinfo(s: &str) -> bool {
    s.bytes().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b':'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
                    | b'@'
            )
    })
}

type Authority = (Option<(String, Option<String>)>, String);

fn parse_authority(authority: &str) -> Result<Authority, String> {
    let at = authority.rfind('@');
    let host = match at {
        None => parse_host(authority)?,
        Some(i) => parse_host(authority.get(i + 1..).unwrap_or_default())?,
    };
    let Some(i) = at else { return Ok((None, host)) };
    let userinfo = authority.get(..i).unwrap_or_default();
    if !valid_userinfo(userinfo) {
        return Err("net/url: invalid userinfo".to_owned());
    }
    let user = match userinfo.split_once(':') {
        None => (unescape(userinfo, Mode::UserPassword)?, None),
        Some((u, p)) => (
            unescape(u, Mode::UserPassword)?,
            Some(unescape(p, Mode::UserPassword)?),
        ),
    };
    Ok((Some(user), host))
}

fn get_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".to_owned());
                }
                return Ok((
                    raw.get(..i).unwrap_or_default(),
                    raw.get(i + 1..).unwrap_or_default(),
                ));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn parse_inner(raw: &str) -> Result<GoUrl, String> {
    if raw.bytes().any(|b| b < b' ' || b == 0x7f) {
        return Err("net/url: invalid control character in URL".to_owned());
    }
    let mut u = GoUrl::default();
    if raw == "*" {
        u.path = "*".to_owned();
        return Ok(u);
    }
    let (scheme, rest) = get_scheme(raw)?;
    u.scheme = scheme.to_ascii_lowercase();
    let mut rest = rest.to_owned();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        u.force_query = true;
        rest.pop();
    } else if let Some((r, q)) = rest.clone().split_once('?') {
        rest = r.to_owned();
        u.raw_query = q.to_owned();
    }
    if !rest.starts_with('/') {
        if !u.scheme.is_empty() {
            u.opaque = rest;
            return Ok(u);
        }
        let segment = rest.split('/').next().unwrap_or_default();
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".to_owned());
        }
    }
    if (!u.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = rest.get(2..).unwrap_or_default().to_owned();
        let (authority, path) = match after.find('/') {
            Some(i) => (
                after.get(..i).unwrap_or_default().to_owned(),
                after.get(i..).unwrap_or_default().to_owned(),
            ),
            None => (after, String::new()),
        };
        let (user, host) = parse_authority(&authority)?;
        u.user = user;
        u.host = host;
        rest = path;
    } else if !u.scheme.is_empty() && rest.starts_with('/') {
        u.omit_host = true;
    }
    u.set_path(&rest)?;
    Ok(u)
}

/// Go's `url.Parse`, with Go's error text (`parse "<url>": <reason>`).
pub(crate) fn parse(raw: &str) -> Result<GoUrl, String> {
    let (without_frag, frag) = match raw.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (raw, None),
    };
    let mut u =
        parse_inner(without_frag).map_err(|e| format!("parse {}: {e}", quote(without_frag)))?;
    if let Some(f) = frag {
        u.fragment =
            unescape(f, Mode::Fragment).map_err(|e| format!("parse {}: {e}", quote(raw)))?;
    }
    Ok(u)
}

/// awsauth's `parseUrl`: Go's `url.Parse` plus a scheme and a host, else `url is invalid: "<s>"`.
pub(crate) fn parse_absolute(raw: &str) -> Result<GoUrl, String> {
    let u = parse(raw)?;
    if u.scheme.is_empty() || u.host.is_empty() {
        return Err(format!("url is invalid: {}", quote(raw)));
    }
    Ok(u)
}

impl GoUrl {
    fn set_path(&mut self, p: &str) -> Result<(), String> {
        self.path = unescape(p, Mode::Path)?;
        self.raw_path = if escape(&self.path, Mode::Path) == p {
            String::new()
        } else {
            p.to_owned()
        };
        Ok(())
    }

    /// Go's `Hostname()`: the host without port and IPv6 brackets.
    pub(crate) fn hostname(&self) -> &str {
        let mut host = self.host.as_str();
        if let Some(colon) = host.rfind(':')
            && valid_optional_port(host.get(colon..).unwrap_or_default())
        {
            host = host.get(..colon).unwrap_or_default();
        }
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
    }

    /// Go's `Port()`.
    pub(crate) fn port(&self) -> &str {
        match self.host.rfind(':') {
            Some(colon) if valid_optional_port(self.host.get(colon..).unwrap_or_default()) => {
                self.host.get(colon + 1..).unwrap_or_default()
            }
            _ => "",
        }
    }

    /// Go's `EscapedPath()`.
    pub(crate) fn escaped_path(&self) -> String {
        if !self.raw_path.is_empty()
            && valid_encoded(&self.raw_path)
            && unescape(&self.raw_path, Mode::Path).ok().as_deref() == Some(self.path.as_str())
        {
            return self.raw_path.clone();
        }
        if self.path == "*" {
            return "*".to_owned();
        }
        escape(&self.path, Mode::Path)
    }

    /// Go's `RequestURI()`.
    pub(crate) fn request_uri(&self) -> String {
        let mut result = if self.opaque.is_empty() {
            let p = self.escaped_path();
            if p.is_empty() { "/".to_owned() } else { p }
        } else if self.opaque.starts_with("//") {
            format!("{}:{}", self.scheme, self.opaque)
        } else {
            self.opaque.clone()
        };
        if self.force_query || !self.raw_query.is_empty() {
            result.push('?');
            result.push_str(&self.raw_query);
        }
        result
    }

    fn render(&self, redact: bool) -> String {
        let mut buf = String::new();
        if !self.scheme.is_empty() {
            buf.push_str(&self.scheme);
            buf.push(':');
        }
        if !self.opaque.is_empty() {
            buf.push_str(&self.opaque);
        } else {
            let has_authority =
                !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some();
            let omitted = self.omit_host && self.host.is_empty() && self.user.is_none();
            if has_authority && !omitted {
                if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                    buf.push_str("//");
                }
                if let Some((name, password)) = &self.user {
                    buf.push_str(&escape(name, Mode::UserPassword));
                    if let Some(p) = password {
                        buf.push(':');
                        if redact {
                            buf.push_str("xxxxx");
                        } else {
                            buf.push_str(&escape(p, Mode::UserPassword));
                        }
                    }
                    buf.push('@');
                }
                buf.push_str(&escape(&self.host, Mode::Host));
            }
            let path = self.escaped_path();
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                buf.push('/');
            }
            if buf.is_empty() && path.split('/').next().unwrap_or_default().contains(':') {
                buf.push_str("./");
            }
            buf.push_str(&path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            buf.push('?');
            buf.push_str(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            buf.push('#');
            buf.push_str(&escape(&self.fragment, Mode::Fragment));
        }
        buf
    }

    /// Go's `Redacted()`: `String()` with any password replaced by `xxxxx`.
    pub(crate) fn redacted(&self) -> String {
        self.render(true)
    }

    /// Go's `JoinPath(elem)` for one element: a cleaned join that keeps one trailing slash.
    pub(crate) fn join_path(&self, elem: &str) -> GoUrl {
        let base = self.escaped_path();
        let joined = if base.starts_with('/') {
            clean_join(&base, elem)
        } else {
            let j = clean_join(&format!("/{base}"), elem);
            j.get(1..).unwrap_or_default().to_owned()
        };
        let mut p = joined;
        if elem.ends_with('/') && !p.ends_with('/') {
            p.push('/');
        }
        let mut u = self.clone();
        if u.set_path(&p).is_err() {
            u.path = p;
            u.raw_path = String::new();
        }
        u
    }
}

impl std::fmt::Display for GoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// Go's `path.Join(a, b)`: joins non-empty elements with `/` and cleans the result.
fn clean_join(a: &str, b: &str) -> String {
    let parts: Vec<&str> = [a, b].into_iter().filter(|s| !s.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    clean(&parts.join("/"))
}

/// Go's `path.Clean`.
fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_owned();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let body = out.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_match_go() {
        assert_eq!(
            parse("://invalid-url").unwrap_err(),
            "parse \"://invalid-url\": missing protocol scheme"
        );
        assert_eq!(
            parse_absolute("not a url").unwrap_err(),
            "url is invalid: \"not a url\""
        );
        assert_eq!(parse_absolute("").unwrap_err(), "url is invalid: \"\"");
        assert_eq!(
            parse_absolute("sts.amazonaws.com/").unwrap_err(),
            "url is invalid: \"sts.amazonaws.com/\""
        );
        assert_eq!(
            parse("http://h:x/").unwrap_err(),
            "parse \"http://h:x/\": invalid port \":x\" after host"
        );
        assert_eq!(
            parse("http://a b/").unwrap_err(),
            "parse \"http://a b/\": invalid character \" \" in host name"
        );
        assert_eq!(
            parse("http://h/%zz").unwrap_err(),
            "parse \"http://h/%zz\": invalid URL escape \"%zz\""
        );
        assert_eq!(parse("a:b/c").map(|u| u.opaque).unwrap(), "b/c");
        assert_eq!(
            parse("1a:b").unwrap_err(),
            "parse \"1a:b\": first path segment in URL cannot contain colon"
        );
    }

    #[test]
    fn hostnames_and_strings() {
        let u = parse("https://sts.amazonaws.com:443/").unwrap();
        assert_eq!(u.hostname(), "sts.amazonaws.com");
        assert_eq!(u.host, "sts.amazonaws.com:443");
        assert_eq!(u.port(), "443");
        let u = parse("http://[::1]:80/x?y=1").unwrap();
        assert_eq!(u.hostname(), "::1");
        assert_eq!(u.raw_query, "y=1");
        assert_eq!(u.to_string(), "http://[::1]:80/x?y=1");
        // A raw path that is not validly encoded is re-escaped, as Go's EscapedPath does.
        let u = parse("http://h/a\"b%41").unwrap();
        assert_eq!(u.escaped_path(), "/a%22bA");
        assert_eq!(parse("http://h/a%2Fb").unwrap().escaped_path(), "/a%2Fb");
        let u = parse("http://user:pw@127.0.0.1:1/a%2Fb").unwrap();
        assert_eq!(u.redacted(), "http://user:xxxxx@127.0.0.1:1/a%2Fb");
        assert_eq!(u.request_uri(), "/a%2Fb");
    }

    #[test]
    fn join_path_like_go() {
        let j = |base: &str, p: &str| parse(base).unwrap().join_path(p).to_string();
        assert_eq!(j("http://127.0.0.1:1", "/"), "http://127.0.0.1:1/");
        assert_eq!(j("http://fake/sts", "/sts/"), "http://fake/sts/sts/");
        assert_eq!(
            j("https://sts.us-east-1.amazonaws.com/", "/"),
            "https://sts.us-east-1.amazonaws.com/"
        );
        assert_eq!(j("http://fake/sts/", "/"), "http://fake/sts/");
        assert_eq!(j("http://fake/a", "/../../b"), "http://fake/b");
        assert_eq!(j("http://fake", ""), "http://fake");
    }
}
