//! Finding the authentication material: the Authorization header or the presigned query
//! (spec §1.2, AWS check-order steps 5–7), as [`AuthParams`].

use std::borrow::Cow;

use crate::canonical::{self, ALGORITHM, QueryParam};
use crate::error::{Mismatch, SigV4Error};
use crate::request::{SignedRequest, latin1};
use crate::scope::{self, Credential, CredentialRef};

/// Where the signature was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLocation {
    /// `Authorization: AWS4-HMAC-SHA256 …`.
    Header,
    /// Presigned: `X-Amz-*` query parameters.
    Query,
}

/// The authentication material of a request, as sent (query values percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthParams {
    /// Header or query form.
    pub location: AuthLocation,
    /// Always `AWS4-HMAC-SHA256` once parsing succeeded.
    pub algorithm: String,
    /// The `Credential` value as sent, `AKID/date/region/service/aws4_request`; its shape is
    /// checked later (step 12, [`AuthParams::credential_parts`]).
    pub credential: String,
    /// The SignedHeaders value as sent (`;`-separated).
    pub signed_headers: String,
    /// The signature as sent.
    pub signature: String,
    /// The request time as sent: `X-Amz-Date` (header or query), else the first `Date` header.
    pub amz_date: String,
    /// `X-Amz-Expires` of a presigned URL.
    pub expires: Option<String>,
}

impl AuthParams {
    /// The SignedHeaders names, in the order sent.
    pub fn signed_header_names(&self) -> Vec<&str> {
        self.signed_headers.split(';').collect()
    }

    /// The access key id: the Credential up to its first `/` (whatever the shape).
    pub fn access_key_id(&self) -> &str {
        self.credential
            .split_once('/')
            .map_or(self.credential.as_str(), |(k, _)| k)
    }

    /// Step 12: the Credential split into its five parts.
    pub fn credential_parts(&self) -> Result<Credential, SigV4Error> {
        scope::parse_credential(&self.credential)
    }
}

/// [`AuthParams`] borrowed from the request and its decoded query: what [`crate::verify`]
/// works with, so a verification copies none of the parameters.
#[derive(Debug)]
pub(crate) struct AuthParts<'a> {
    pub(crate) location: AuthLocation,
    pub(crate) algorithm: Cow<'a, str>,
    pub(crate) credential: Cow<'a, str>,
    pub(crate) signed_headers: Cow<'a, str>,
    pub(crate) signature: Cow<'a, str>,
    pub(crate) amz_date: Cow<'a, str>,
    pub(crate) expires: Option<Cow<'a, str>>,
}

impl<'a> AuthParts<'a> {
    /// The SignedHeaders names, in the order sent.
    pub(crate) fn signed_header_names(&self) -> Vec<&str> {
        self.signed_headers.split(';').collect()
    }

    /// Step 12: the Credential split into its five parts, borrowed.
    pub(crate) fn credential_parts(&self) -> Result<CredentialRef<'_>, SigV4Error> {
        scope::split_credential(&self.credential)
    }

    fn into_owned(self) -> AuthParams {
        AuthParams {
            location: self.location,
            algorithm: self.algorithm.into_owned(),
            credential: self.credential.into_owned(),
            signed_headers: self.signed_headers.into_owned(),
            signature: self.signature.into_owned(),
            amz_date: self.amz_date.into_owned(),
            expires: self.expires.map(Cow::into_owned),
        }
    }

    /// The same parts, owned: for a header that had to be decoded into a new string.
    fn into_static(self) -> AuthParts<'static> {
        let own = |c: Cow<'a, str>| Cow::Owned(c.into_owned());
        AuthParts {
            location: self.location,
            algorithm: own(self.algorithm),
            credential: own(self.credential),
            signed_headers: own(self.signed_headers),
            signature: own(self.signature),
            amz_date: own(self.amz_date),
            expires: self.expires.map(own),
        }
    }
}

/// Steps 4–7: parses the query (step 4) and finds the authentication material.
pub fn parse_auth(req: &SignedRequest<'_>) -> Result<AuthParams, SigV4Error> {
    let params = canonical::parse_query(req.query)?;
    parse_auth_with(req, &params).map(AuthParts::into_owned)
}

pub(crate) fn parse_auth_with<'a>(
    req: &SignedRequest<'a>,
    params: &'a [QueryParam],
) -> Result<AuthParts<'a>, SigV4Error> {
    // Step 5: exactly one of the two forms.
    let header = req.first_header("authorization");
    let query_algorithm = canonical::first_param(params, "X-Amz-Algorithm");
    match (header, query_algorithm) {
        (Some(_), Some(_)) => Err(SigV4Error::mismatch_of(Mismatch::BothAuthForms)),
        (None, None) => Err(SigV4Error::MissingAuthenticationToken),
        (Some(header), None) => parse_header_form(req, header),
        (None, Some(algorithm)) => parse_query_form(params, algorithm),
    }
}

/// Step 6: the Authorization header.
fn parse_header_form<'a>(
    req: &SignedRequest<'a>,
    header: &'a [u8],
) -> Result<AuthParts<'a>, SigV4Error> {
    match latin1(header) {
        Cow::Borrowed(whole) => parse_header_text(req, whole),
        Cow::Owned(whole) => parse_header_text(req, &whole).map(AuthParts::into_static),
    }
}

/// The non-empty pieces of `text` between the ASCII bytes that `is_sep` accepts (only ASCII
/// bytes are offered to it, so every boundary is a character boundary).
fn ascii_pieces(text: &str, is_sep: impl Fn(u8) -> bool) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let mut at = 0;
    let bytes = text.as_bytes();
    std::iter::from_fn(move || {
        while let Some(&b) = bytes.get(at) {
            let sep = b.is_ascii() && is_sep(b);
            at += 1;
            if sep {
                let piece = &text[start..at - 1];
                start = at;
                if !piece.is_empty() {
                    return Some(piece);
                }
            }
        }
        let piece = &text[start..];
        start = text.len();
        (!piece.is_empty()).then_some(piece)
    })
}

fn parse_header_text<'t>(
    req: &SignedRequest<'t>,
    whole: &'t str,
) -> Result<AuthParts<'t>, SigV4Error> {
    let text = whole.trim_start();
    // Byte scans instead of `char` patterns (this runs for every request): every separator is
    // ASCII, and no byte of a multi-byte UTF-8 character is ASCII, so the pieces are the same.
    let (algorithm, rest) = match text.bytes().position(|b| b.is_ascii_whitespace()) {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    };
    // Step 6a.
    if algorithm != ALGORITHM {
        return Err(SigV4Error::incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'."
        )));
    }
    // Step 6b: AWS splits on commas and on whitespace (spec §1.2, boto3#2280).
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for piece in ascii_pieces(rest, |b| b == b',' || b.is_ascii_whitespace()) {
        let Some((key, value)) = piece
            .bytes()
            .position(|b| b == b'=')
            .map(|i| (&piece[..i], &piece[i + 1..]))
        else {
            return Err(SigV4Error::incomplete(format!(
                "'{piece}' not a valid key=value pair (missing equal-sign) in Authorization header: '{whole}'."
            )));
        };
        // Step 6c: the last duplicate wins.
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed_headers = Some(value),
            "Signature" => signature = Some(value),
            _ => {}
        }
    }
    let date = req
        .first_header("x-amz-date")
        .or_else(|| req.first_header("date"))
        .map(|v| match latin1(v) {
            Cow::Borrowed(v) => Cow::Borrowed(v.trim()),
            Cow::Owned(v) => Cow::Owned(v.trim().to_owned()),
        });
    // Step 6d: one message for everything missing.
    let mut missing = Vec::new();
    if credential.is_none() {
        missing.push("Authorization header requires 'Credential' parameter.");
    }
    if signature.is_none() {
        missing.push("Authorization header requires 'Signature' parameter.");
    }
    if signed_headers.is_none() {
        missing.push("Authorization header requires 'SignedHeaders' parameter.");
    }
    if date.is_none() {
        missing.push(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        );
    }
    match (credential, signed_headers, signature, date) {
        (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) => {
            Ok(AuthParts {
                location: AuthLocation::Header,
                algorithm: Cow::Borrowed(algorithm),
                credential: Cow::Borrowed(credential),
                signed_headers: Cow::Borrowed(signed_headers),
                signature: Cow::Borrowed(signature),
                amz_date,
                expires: None,
            })
        }
        // UNVERIFIED: the exact tail for STS (spec §1.2, 6d).
        _ => Err(SigV4Error::incomplete(format!(
            "{} Authorization={algorithm}",
            missing.join(" ")
        ))),
    }
}

/// Step 7: the presigned query parameters (the first duplicate wins, 7c).
fn parse_query_form<'p>(
    params: &'p [QueryParam],
    algorithm: &[u8],
) -> Result<AuthParts<'p>, SigV4Error> {
    // Step 7a: AWS answers an unknown algorithm as if there were no authentication at all.
    if algorithm != ALGORITHM.as_bytes() {
        return Err(SigV4Error::MissingAuthenticationToken);
    }
    let get = |key| canonical::first_param(params, key).map(String::from_utf8_lossy);
    let credential = get("X-Amz-Credential");
    let signature = get("X-Amz-Signature");
    let signed_headers = get("X-Amz-SignedHeaders");
    let date = get("X-Amz-Date");
    // Step 7d.
    let mut missing = Vec::new();
    for (value, name) in [
        (&credential, "X-Amz-Credential"),
        (&signature, "X-Amz-Signature"),
        (&signed_headers, "X-Amz-SignedHeaders"),
        (&date, "X-Amz-Date"),
    ] {
        if value.is_none() {
            missing.push(format!(
                "AWS query-string parameters must include '{name}'."
            ));
        }
    }
    match (credential, signed_headers, signature, date) {
        (Some(credential), Some(signed_headers), Some(signature), Some(amz_date)) => {
            Ok(AuthParts {
                location: AuthLocation::Query,
                algorithm: Cow::Borrowed(ALGORITHM),
                credential,
                signed_headers,
                signature,
                amz_date,
                expires: get("X-Amz-Expires"),
            })
        }
        _ => Err(SigV4Error::incomplete(format!(
            "{} Re-examine the query-string parameters.",
            missing.join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::ascii_pieces;

    fn pieces(text: &str) -> Vec<&str> {
        ascii_pieces(text, |b| b == b',' || b.is_ascii_whitespace()).collect()
    }

    #[test]
    fn pieces_are_what_a_char_split_without_empties_gives() {
        for text in [
            "",
            ",",
            " , \t\n",
            "a",
            "Credential=A/b, SignedHeaders=host;x-amz-date, Signature=ff",
            ",,a,,b  c\tdé\u{a0}e,",
            "é,€ 𝄞",
        ] {
            let expected: Vec<&str> = text
                .split(|c: char| c == ',' || c.is_ascii_whitespace())
                .filter(|p| !p.is_empty())
                .collect();
            assert_eq!(pieces(text), expected, "{text:?}");
        }
    }
}
