//! The request as the verifier sees it: raw method, path, query, headers and body.
//!
//! [`SignedRequest`] borrows everything from the HTTP layer; nothing is decoded or normalised
//! before verification, because the canonical request must be rebuilt from the bytes the
//! client signed.

use std::borrow::Cow;

/// A request as received, before any decoding: what SigV4 verification needs.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The method as sent, e.g. `POST`.
    pub method: &'a str,
    /// The raw path of the request-target, still percent-encoded, without the query.
    pub path: &'a str,
    /// The raw query string without the leading `?` (empty when absent).
    pub query: &'a str,
    /// Every header field in arrival order, duplicates included: (name as received, raw value).
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body bytes.
    pub body: &'a [u8],
}

impl<'a> SignedRequest<'a> {
    /// Every value of the header `name` (ASCII case-insensitive), in arrival order.
    pub fn header_values<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        let headers: &'a [(&'a str, &'a [u8])] = self.headers;
        headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The first value of the header `name`, if any.
    pub fn first_header(&self, name: &str) -> Option<&'a [u8]> {
        self.header_values(name).next()
    }
}

/// Header bytes as text. Header values are opaque bytes on the wire; like scratchstack we read
/// them as Latin-1, which never fails and keeps ASCII unchanged (so ASCII, the usual case, is
/// borrowed as it is).
pub(crate) fn latin1(bytes: &[u8]) -> Cow<'_, str> {
    if bytes.is_ascii()
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        return Cow::Borrowed(text);
    }
    Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())
}
