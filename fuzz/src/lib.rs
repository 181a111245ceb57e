//! Shared input decoding for the fuzz targets.
//!
//! The request targets read their input as an HTTP/1.1 request in text form — the format of
//! the AWS SigV4 test-suite's `*.req`/`*-signed-request.txt` files — so the seed corpus is
//! those files as they are, and crashes are readable. Anything that does not look like a
//! request still decodes to *some* request: the fuzzer is not held up by the framing.

/// A request split into the parts [`iamconform_sigv4::SignedRequest`] borrows.
#[derive(Debug, Default)]
pub struct RawRequest<'a> {
    /// The method: the request line up to its first space.
    pub method: &'a str,
    /// The path: the request-target up to `?`.
    pub path: &'a str,
    /// The query: the request-target after `?`.
    pub query: &'a str,
    /// Header fields in order; values with surrounding spaces and tabs removed, as an HTTP
    /// server hands them on. Continuation lines are separate entries with an empty name
    /// dropped, which keeps the parser trivial.
    pub headers: Vec<(&'a str, &'a [u8])>,
    /// Everything after the first empty line.
    pub body: &'a [u8],
}

/// Splits `data` as `METHOD target VERSION\nName: value\n…\n\nbody` (`\r\n` accepted).
pub fn split_request(data: &[u8]) -> RawRequest<'_> {
    let (head, body) = match find(data, b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => match find(data, b"\r\n\r\n") {
            Some(i) => (&data[..i], &data[i + 4..]),
            None => (data, &b""[..]),
        },
    };
    let mut lines = head.split(|b| *b == b'\n').map(trim_cr);
    let request_line = std::str::from_utf8(lines.next().unwrap_or_default()).unwrap_or("");
    let mut words = request_line.splitn(3, ' ');
    let method = words.next().unwrap_or("");
    let target = words.next().unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(&line[..colon]) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        headers.push((name, trim_ows(&line[colon + 1..])));
    }
    RawRequest {
        method,
        path,
        query,
        headers,
        body,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_test_suite_request() {
        let r = split_request(b"POST /a?b=c HTTP/1.1\nHost:example.com\nX: \t y \n\nbody");
        assert_eq!((r.method, r.path, r.query), ("POST", "/a", "b=c"));
        assert_eq!(
            r.headers,
            vec![("Host", &b"example.com"[..]), ("X", &b"y"[..])]
        );
        assert_eq!(r.body, b"body");
    }
}
