use std::collections::HashMap;

use iamconform_secret::Secret;
use iamconform_sigv4::{
    AuthLocation, KeyRecord, SignedRequest, canonical_request, derive_signing_key, sign,
    string_to_sign,
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use time::OffsetDateTime;

/// A request parsed from a test-suite file, owning its parts.
#[derive(Debug, Clone)]
pub(crate) struct OwnedRequest {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(String, Vec<u8>)>,
    pub(crate) body: Vec<u8>,
}

impl OwnedRequest {
    /// Parses raw HTTP/1.1 text as the suite writes it: the request-target is taken as raw
    /// bytes (it may hold spaces or UTF-8), ` HTTP/1.1` is optional, obsolete folded header
    /// lines are unfolded with a single space, and the body is everything after the first
    /// empty line.
    pub(crate) fn parse(text: &str) -> Self {
        let (head, body) = match text.split_once("\n\n") {
            Some((h, b)) => (h, b),
            None => (text, ""),
        };
        let mut lines = head.split('\n');
        let request_line = lines.next().unwrap();
        let (method, rest) = request_line.split_once(' ').unwrap();
        let target = match rest.rfind(" HTTP/") {
            Some(i) => &rest[..i],
            None => rest,
        };
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            if line.starts_with(' ') || line.starts_with('\t') {
                let last = headers
                    .last_mut()
                    .expect("continuation line without a header");
                last.1.push(b' ');
                last.1.extend_from_slice(line.trim().as_bytes());
                continue;
            }
            let (name, value) = line.split_once(':').unwrap();
            headers.push((name.to_owned(), value.as_bytes().to_vec()));
        }
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    pub(crate) fn header_refs(&self) -> Vec<(&str, &[u8])> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect()
    }

    pub(crate) fn signed<'a>(&'a self, headers: &'a [(&'a str, &'a [u8])]) -> SignedRequest<'a> {
        SignedRequest {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers,
            body: &self.body,
        }
    }

    pub(crate) fn first_header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap().trim().to_owned())
    }
}

pub(crate) fn record(secret: &str, token: Option<&str>) -> KeyRecord {
    KeyRecord {
        secret_access_key: Secret::new(secret.to_owned()),
        session_token: token.map(|t| Secret::new(t.to_owned())),
        expires: None,
    }
}

pub(crate) fn store(akid: &str, record: KeyRecord) -> HashMap<String, KeyRecord> {
    HashMap::from([(akid.to_owned(), record)])
}

/// `20150830T123600Z` → a UTC time.
pub(crate) fn basic_time(s: &str) -> OffsetDateTime {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    time::PrimitiveDateTime::parse(s, format)
        .unwrap()
        .assume_utc()
}

/// Signs test requests with the crate's own building blocks (the aws-sigv4 oracle tests cover
/// the blocks independently).
#[derive(Debug, Clone)]
pub(crate) struct Signer {
    pub(crate) akid: String,
    pub(crate) secret: String,
    pub(crate) region: String,
    pub(crate) service: String,
    pub(crate) amz_date: String,
    pub(crate) token: Option<String>,
}

impl Signer {
    fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            &self.amz_date[..8],
            self.region,
            self.service
        )
    }

    fn signature(&self, req: &OwnedRequest, signed: &[&str], location: AuthLocation) -> String {
        let headers = req.header_refs();
        let creq = canonical_request(&req.signed(&headers), signed, true, location).unwrap();
        let sts = string_to_sign(&self.amz_date, &self.scope(), &creq);
        let key = derive_signing_key(
            &self.secret,
            &self.amz_date[..8],
            &self.region,
            &self.service,
        );
        sign(&key, &sts)
    }

    /// Adds X-Amz-Date (and the token, signed if listed in `signed`) and an Authorization header.
    pub(crate) fn sign_header(&self, req: &mut OwnedRequest, signed: &[&str]) {
        req.headers
            .push(("X-Amz-Date".to_owned(), self.amz_date.as_bytes().to_vec()));
        if let Some(token) = &self.token {
            req.headers
                .push(("X-Amz-Security-Token".to_owned(), token.as_bytes().to_vec()));
        }
        let signature = self.signature(req, signed, AuthLocation::Header);
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={signature}",
            self.akid,
            self.scope(),
            signed.join(";")
        );
        req.headers
            .push(("Authorization".to_owned(), authorization.into_bytes()));
    }

    /// Adds the presigned `X-Amz-*` parameters and the signature to the query.
    pub(crate) fn sign_query(&self, req: &mut OwnedRequest, signed: &[&str]) {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let mut query = req.query.clone();
        let mut add = |k: &str, v: &str| {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(k);
            query.push('=');
            query.push_str(&enc(v));
        };
        add("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
        add(
            "X-Amz-Credential",
            &format!("{}/{}", self.akid, self.scope()),
        );
        add("X-Amz-Date", &self.amz_date);
        add("X-Amz-Expires", "900");
        add("X-Amz-SignedHeaders", &signed.join(";"));
        if let Some(token) = &self.token {
            add("X-Amz-Security-Token", token);
        }
        req.query = query;
        let signature = self.signature(req, signed, AuthLocation::Query);
        req.query.push_str("&X-Amz-Signature=");
        req.query.push_str(&signature);
    }
}
