#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981
//! End to end: bearer tokens signed for real AWS hosts (`sts.us-east-1.amazonaws.com`,
//! `iam.amazonaws.com`) with the shipped fake credentials, validated by the aws-iam validator
//! against the real AWS emulator (`iamconform-aws`), reached through `Outbound::aws_endpoint`.
//! The emulator verifies the SigV4 signatures, so these tests prove that the replayed request
//! keeps exactly what was signed (method, path, `Host`, headers, body).
//!
//! The crate has no SigV4 signer among its dependencies, so this file carries a minimal one
//! (SHA-256, HMAC, SigV4 header signing) used only as a test client; the emulator is the judge.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use iamconform_aws::{AwsConfig, AwsState, IdentityStore, RunningAws};
use iamconform_consul::authmethod::aws_iam::{Outbound, Validator, parse_config};
use serde_json::{Value, json};

const KEY_ID: &str = "ASIAEXAMPLEWEBTASK01";
const SECRET: &str = "eHMsvKYEIlu7euAf+tdg5J8ee8EvXGtJ0r6EKnIm";
const SERVER_ID: &str = "consul.e2e.example";
const STS_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

fn session_token() -> String {
    // The fixture's session token for KEY_ID, read from the shipped fixtures.
    let yaml = iamconform_aws::SHIPPED_FIXTURES;
    let idx = yaml.find(KEY_ID).unwrap();
    let line = yaml[idx..]
        .lines()
        .find(|l| l.trim_start().starts_with("session_token:"))
        .unwrap();
    line.split_once(':')
        .unwrap()
        .1
        .trim()
        .trim_matches('"')
        .to_owned()
}

// ---- a minimal SigV4 signer (test client only) ----

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64) * 8;
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for (i, word) in w.iter_mut().take(16).enumerate() {
            *word = u32::from_be_bytes(chunk[4 * i..4 * i + 4].try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for (k, wi) in K.iter().zip(w.iter()) {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(*k)
                .wrapping_add(*wi);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, word) in h.iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.to_be_bytes());
    }
    out
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&sha256(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    inner.extend_from_slice(msg);
    let mut outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    outer.extend_from_slice(&sha256(&inner));
    sha256(&outer)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn test_signer_matches_known_vectors() {
    assert_eq!(
        hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(&sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    // RFC 4231 test case 2.
    assert_eq!(
        hex(&hmac(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

fn amz_now() -> (String, String) {
    let now = time::OffsetDateTime::now_utc();
    let date = format!(
        "{:04}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        now.hour(),
        now.minute(),
        now.second()
    );
    (date, stamp)
}

/// Signs a POST to `https://<host>/` with `headers` (lower-case names, single values) and returns
/// the header map as `consul login` emits it (Go-canonical names + Authorization).
fn sign(host: &str, region: &str, service: &str, headers: &[(&str, String)], body: &str) -> Value {
    let (date, stamp) = amz_now();
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    all.push(("host".into(), host.into()));
    all.push(("x-amz-date".into(), stamp.clone()));
    all.push(("x-amz-security-token".into(), session_token()));
    all.sort();
    let canonical_headers: String = all
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let canonical = format!(
        "POST\n/\n\n{canonical_headers}\n{signed}\n{}",
        hex(&sha256(body.as_bytes()))
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex(&sha256(canonical.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{SECRET}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, region.as_bytes());
    let k_service = hmac(&k_region, service.as_bytes());
    let k_signing = hmac(&k_service, b"aws4_request");
    let signature = hex(&hmac(&k_signing, to_sign.as_bytes()));
    let mut out = serde_json::Map::new();
    for (k, v) in all.iter().filter(|(k, _)| k != "host") {
        out.insert(canonical_key(k), json!([v]));
    }
    out.insert(
        "Authorization".into(),
        json!([format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/{scope}, SignedHeaders={signed}, Signature={signature}")]),
    );
    Value::Object(out)
}

fn canonical_key(k: &str) -> String {
    k.split('-')
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

fn bearer_token(include_entity: bool, server_id: &str) -> String {
    let sts_host = "sts.us-east-1.amazonaws.com";
    let mut headers = vec![
        ("content-type", FORM.to_owned()),
        ("x-consul-iam-serverid", server_id.to_owned()),
    ];
    if include_entity {
        let iam_body = "Action=GetRole&RoleName=web-task&Version=2010-05-08";
        let iam = sign(
            "iam.amazonaws.com",
            "us-east-1",
            "iam",
            &[
                ("content-type", FORM.to_owned()),
                ("x-consul-iam-serverid", server_id.to_owned()),
            ],
            iam_body,
        );
        headers.push(("x-consul-iam-getentity-method", "POST".into()));
        headers.push((
            "x-consul-iam-getentity-url",
            "https://iam.amazonaws.com/".into(),
        ));
        headers.push(("x-consul-iam-getentity-headers", iam.to_string()));
        headers.push(("x-consul-iam-getentity-body", iam_body.into()));
    }
    let sts = sign(sts_host, "us-east-1", "sts", &headers, STS_BODY);
    json!({
        "iam_http_request_method": "POST",
        "iam_request_url": STANDARD.encode(format!("https://{sts_host}/")),
        "iam_request_headers": STANDARD.encode(sts.to_string()),
        "iam_request_body": STANDARD.encode(STS_BODY),
    })
    .to_string()
}

async fn emulator() -> RunningAws {
    let store = IdentityStore::shipped().unwrap();
    iamconform_aws::bind(
        AwsState::new(store, AwsConfig::default()),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn outbound(aws: &RunningAws) -> Outbound {
    Outbound {
        aws_endpoint: Some(aws.base_url()),
        retry_wait_min: Duration::from_millis(1),
        ..Outbound::default()
    }
}

#[tokio::test]
async fn signed_login_without_entity_succeeds_against_the_emulator() {
    let aws = emulator().await;
    let config = parse_config(&json!({
        "BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/web-task"],
        "ServerIDHeaderValue": SERVER_ID,
    }))
    .unwrap();
    let v = Validator::new(config, outbound(&aws));
    let id = v
        .validate_login(&bearer_token(false, SERVER_ID))
        .await
        .unwrap();
    assert_eq!(id.entity_name, "web-task");
    assert_eq!(id.entity_id, "AROAEXAMPLEWEBTASK001");
    assert_eq!(id.account_id, "123456789012");
    assert_eq!(id.entity_tags, None);
    let entries = aws.state.journal().entries();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].host.as_deref(),
        Some("sts.us-east-1.amazonaws.com")
    );
    aws.shutdown().await.unwrap();
}

#[tokio::test]
async fn signed_login_with_entity_succeeds_against_the_emulator() {
    let aws = emulator().await;
    let config = parse_config(&json!({
        "BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"],
        "EnableIAMEntityDetails": true,
        "IAMEntityTags": ["consul.hashicorp.com.service-name"],
        "ServerIDHeaderValue": SERVER_ID,
    }))
    .unwrap();
    let v = Validator::new(config, outbound(&aws));
    let id = v
        .validate_login(&bearer_token(true, SERVER_ID))
        .await
        .unwrap();
    assert_eq!(id.entity_name, "web-task");
    assert_eq!(id.entity_path, "/consul-ecs/");
    assert_eq!(
        id.entity_tags
            .unwrap()
            .get("consul.hashicorp.com.service-name")
            .map(String::as_str),
        Some("web")
    );
    let hosts: Vec<_> = aws
        .state
        .journal()
        .entries()
        .into_iter()
        .map(|e| e.host)
        .collect();
    assert_eq!(
        hosts,
        vec![
            Some("sts.us-east-1.amazonaws.com".to_owned()),
            Some("iam.amazonaws.com".to_owned())
        ]
    );
    aws.shutdown().await.unwrap();
}

#[tokio::test]
async fn tampered_body_is_refused_by_the_emulator_and_passed_through() {
    let aws = emulator().await;
    let config = parse_config(
        &json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/web-task"]}),
    )
    .unwrap();
    let v = Validator::new(config, outbound(&aws));
    let token: Value = serde_json::from_str(&bearer_token(false, SERVER_ID)).unwrap();
    let mut token = token.as_object().unwrap().clone();
    // Same structure, different body: the signature no longer matches.
    token.insert(
        "iam_request_body".into(),
        json!(STANDARD.encode("Action=GetCallerIdentity&Version=2011-06-16")),
    );
    let err = v
        .validate_login(&Value::Object(token).to_string())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("received error code 403: <ErrorResponse"),
        "{err}"
    );
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    aws.shutdown().await.unwrap();
}
