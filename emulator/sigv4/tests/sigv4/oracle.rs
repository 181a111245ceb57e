//! aws-sigv4 (smithy-rs) as an independent signer: whatever it signs must verify, and any
//! single-byte change to a signed part must not.

use std::collections::HashMap;
use std::time::{Duration as StdDuration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use iamconform_sigv4::{KeyRecord, Policy, verify};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use time::OffsetDateTime;

use crate::helpers::{OwnedRequest, basic_time, record};

const AKID: &str = "ASIAORACLE0000000001";
const SECRET: &str = "oracleSecretKey/0123456789+abcdefghijkl";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLE/oracle+token==";
const DATE: &str = "20260127T001427Z";

/// Everything but RFC 3986 unreserved characters, as SDKs encode query values.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, Clone)]
struct Input {
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    token: bool,
    presign: bool,
    content_sha_header: bool,
    region: &'static str,
    service: &'static str,
    host: &'static str,
}

fn now() -> OffsetDateTime {
    basic_time(DATE)
}

fn input() -> impl Strategy<Value = Input> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
        "(/[A-Za-z0-9_~-]{1,6}(%[0-9A-F]{2})?){0,3}/?",
        prop::collection::vec(("[A-Za-z0-9_-]{1,6}", "[A-Za-z0-9_.~ /:=-]{0,8}"), 0..4),
        prop::collection::vec(
            (
                prop::sample::select(vec!["x-test-a", "x-test-b", "content-type"]),
                "[A-Za-z0-9][A-Za-z0-9 ,;=/]{0,10}",
            ),
            0..4,
        ),
        prop::collection::vec(any::<u8>(), 0..48),
        (any::<bool>(), any::<bool>(), any::<bool>()),
        prop::sample::select(vec!["us-east-1", "eu-west-2"]),
        prop::sample::select(vec!["sts", "iam"]),
        prop::sample::select(vec![
            "sts.amazonaws.com",
            "127.0.0.1:8443",
            "iam.amazonaws.com",
        ]),
    )
        .prop_map(
            |(method, path, query, headers, body, (token, presign, sha), region, service, host)| {
                Input {
                    method,
                    path: if path.is_empty() {
                        "/".to_owned()
                    } else {
                        path
                    },
                    query,
                    headers,
                    body,
                    token,
                    presign,
                    content_sha_header: sha && !presign,
                    region,
                    service,
                    host,
                }
            },
        )
}

/// Signs `input` with aws-sigv4 and returns the request as it goes on the wire.
fn sign_with_oracle(input: &Input) -> OwnedRequest {
    let query: String = input
        .query
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
        .collect::<Vec<_>>()
        .join("&");
    let uri = if query.is_empty() {
        format!("https://{}{}", input.host, input.path)
    } else {
        format!("https://{}{}?{query}", input.host, input.path)
    };
    let mut headers: Vec<(&str, String)> = vec![("host", input.host.to_owned())];
    headers.extend(input.headers.iter().map(|(n, v)| (*n, v.clone())));

    let creds = Credentials::new(
        AKID,
        SECRET,
        input.token.then(|| TOKEN.to_owned()),
        None,
        "oracle",
    );
    let identity: Identity = creds.into();
    let mut settings = SigningSettings::default();
    if input.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(StdDuration::from_secs(900));
    }
    if input.content_sha_header {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    let time =
        SystemTime::UNIX_EPOCH + StdDuration::from_secs(now().unix_timestamp().try_into().unwrap());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(input.region)
        .name(input.service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        input.method,
        uri,
        headers.iter().map(|(n, v)| (*n, v.as_str())),
        SignableBody::Bytes(&input.body),
    )
    .unwrap();
    let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();
    let (new_headers, new_params) = instructions.into_parts();

    let mut wire_query = query;
    for (name, value) in new_params {
        if !wire_query.is_empty() {
            wire_query.push('&');
        }
        wire_query.push_str(&format!(
            "{name}={}",
            utf8_percent_encode(&value, QUERY_VALUE)
        ));
    }
    let mut wire_headers: Vec<(String, Vec<u8>)> = headers
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.as_bytes().to_vec()))
        .collect();
    for h in new_headers {
        wire_headers.push((h.name().to_owned(), h.value().as_bytes().to_vec()));
    }
    OwnedRequest {
        method: input.method.to_owned(),
        path: input.path.clone(),
        query: wire_query,
        headers: wire_headers,
        body: input.body.clone(),
    }
}

fn creds() -> HashMap<String, KeyRecord> {
    HashMap::from([(AKID.to_owned(), record(SECRET, Some(TOKEN)))])
}

fn creds_for(input: &Input) -> HashMap<String, KeyRecord> {
    // Without a token the same key is a long-term key.
    if input.token {
        creds()
    } else {
        HashMap::from([(AKID.to_owned(), record(SECRET, None))])
    }
}

fn policy() -> Policy {
    Policy::default()
}

/// A different byte of the same class, so the change is never a canonical no-op (hex case in
/// an escape, whitespace that trimming removes).
fn mutate(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'8' | b'a'..=b'y' | b'A'..=b'Y' => Some(b + 1),
        b'9' => Some(b'0'),
        b'z' => Some(b'a'),
        b'Z' => Some(b'A'),
        _ => None,
    }
}

fn mutable_positions(bytes: &[u8]) -> Vec<usize> {
    (0..bytes.len())
        .filter(|&i| mutate(bytes[i]).is_some())
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Part {
    Method,
    Path,
    Query,
    SignedHeader,
    Body,
}

fn run(
    req: &OwnedRequest,
    input: &Input,
) -> Result<iamconform_sigv4::Verified, iamconform_sigv4::SigV4Error> {
    let headers = req.header_refs();
    verify(&req.signed(&headers), &policy(), now(), &creds_for(input))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn aws_sigv4_signed_requests_verify(input in input()) {
        let req = sign_with_oracle(&input);
        let verified = run(&req, &input);
        prop_assert!(verified.is_ok(), "{:?}\n{:?}", req, verified.err().map(|e| e.message()));
        let verified = verified.unwrap();
        prop_assert_eq!(verified.access_key_id.as_str(), AKID);
        prop_assert_eq!(verified.scope.region.as_str(), input.region);
        prop_assert_eq!(verified.scope.service.as_str(), input.service);
        prop_assert_eq!(verified.session_token_present, input.token);
        prop_assert_eq!(verified.session_token_signed, input.token);
    }

    #[test]
    fn any_single_byte_change_to_a_signed_part_is_rejected(
        input in input(),
        part in prop::sample::select(vec![Part::Method, Part::Path, Part::Query, Part::SignedHeader, Part::Body]),
        pick in any::<prop::sample::Index>(),
    ) {
        let original = sign_with_oracle(&input);
        let mut req = original.clone();
        let target: Option<&mut Vec<u8>> = match part {
            Part::Method | Part::Path | Part::Query => None,
            // The payload hash header is trusted as sent, so the body is signed only without it.
            Part::Body if input.content_sha_header => return Ok(()),
            Part::Body => Some(&mut req.body),
            Part::SignedHeader => {
                // In header form this includes the Authorization header and its signature.
                let i = pick.index(req.headers.len());
                Some(&mut req.headers[i].1)
            }
        };
        let mutated = match target {
            Some(bytes) => mutate_at(bytes, pick),
            None => {
                let text = match part {
                    Part::Method => &mut req.method,
                    Part::Path => &mut req.path,
                    _ => &mut req.query,
                };
                let mut bytes = std::mem::take(text).into_bytes();
                let ok = mutate_at(&mut bytes, pick);
                *text = String::from_utf8(bytes).unwrap();
                ok
            }
        };
        prop_assume!(mutated);
        let result = run(&req, &input);
        prop_assert!(result.is_err(), "{:?} mutated to {:?} still verifies", original, req);
    }
}

fn mutate_at(bytes: &mut [u8], pick: prop::sample::Index) -> bool {
    let positions = mutable_positions(bytes);
    if positions.is_empty() {
        return false;
    }
    let i = positions[pick.index(positions.len())];
    bytes[i] = mutate(bytes[i]).unwrap();
    true
}

#[test]
fn oracle_reproduces_the_suite_signature() {
    // aws-sigv4 and the suite agree on get-vanilla (spec §2), and the verifier accepts it.
    let identity: Identity = Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "suite",
    )
    .into();
    let at = basic_time("20150830T123600Z");
    let time =
        SystemTime::UNIX_EPOCH + StdDuration::from_secs(at.unix_timestamp().try_into().unwrap());
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("service")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let signable = SignableRequest::new(
        "GET",
        "https://example.amazonaws.com/",
        std::iter::empty(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, signature) = sign(signable, &params).unwrap().into_parts();
    assert_eq!(
        signature,
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    );

    let mut headers = vec![("Host".to_owned(), b"example.amazonaws.com".to_vec())];
    let (new_headers, _) = instructions.into_parts();
    for h in new_headers {
        headers.push((h.name().to_owned(), h.value().as_bytes().to_vec()));
    }
    let req = OwnedRequest {
        method: "GET".to_owned(),
        path: "/".to_owned(),
        query: String::new(),
        headers,
        body: Vec::new(),
    };
    let refs = req.header_refs();
    let creds = HashMap::from([(
        "AKIDEXAMPLE".to_owned(),
        record("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
    )]);
    verify(&req.signed(&refs), &policy(), at, &creds).unwrap();
}
