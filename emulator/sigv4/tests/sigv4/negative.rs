use std::collections::HashMap;

use iamconform_sigv4::{
    AuthLocation, KeyRecord, Mismatch, Policy, RegionRule, SigV4Error, Verified, verify,
};
use time::{Duration, OffsetDateTime};

use crate::helpers::{OwnedRequest, Signer, basic_time, record};

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const ASIA: &str = "ASIAIOSFODNN7EXAMPLE";
const ASIA_SECRET: &str = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY";
const TOKEN: &str = "FwoGZXIvYXdzEXAMPLE//////////wEaDEXAMPLETOKEN+abc/def==";
const DATE: &str = "20260127T001427Z";
const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

fn now() -> OffsetDateTime {
    basic_time(DATE)
}

fn creds() -> HashMap<String, KeyRecord> {
    let mut temp = record(ASIA_SECRET, Some(TOKEN));
    temp.expires = Some(now() + Duration::hours(1));
    HashMap::from([
        (AKID.to_owned(), record(SECRET, None)),
        (ASIA.to_owned(), temp),
    ])
}

fn signer() -> Signer {
    Signer {
        akid: AKID.to_owned(),
        secret: SECRET.to_owned(),
        region: "us-east-1".to_owned(),
        service: "sts".to_owned(),
        amz_date: DATE.to_owned(),
        token: None,
    }
}

fn temp_signer() -> Signer {
    Signer {
        akid: ASIA.to_owned(),
        secret: ASIA_SECRET.to_owned(),
        token: Some(TOKEN.to_owned()),
        ..signer()
    }
}

fn unsigned_post() -> OwnedRequest {
    OwnedRequest {
        method: "POST".to_owned(),
        path: "/".to_owned(),
        query: String::new(),
        headers: vec![
            ("Host".to_owned(), b"sts.us-east-1.amazonaws.com".to_vec()),
            (
                "Content-Type".to_owned(),
                b"application/x-www-form-urlencoded; charset=utf-8".to_vec(),
            ),
            ("User-Agent".to_owned(), b"test/1.0".to_vec()),
        ],
        body: b"Action=GetCallerIdentity&Version=2011-06-15".to_vec(),
    }
}

const SIGNED: &[&str] = &["content-type", "host", "x-amz-date"];

fn signed_post() -> OwnedRequest {
    let mut req = unsigned_post();
    signer().sign_header(&mut req, SIGNED);
    req
}

fn presigned_get() -> OwnedRequest {
    let mut req = OwnedRequest {
        method: "GET".to_owned(),
        query: "Action=GetCallerIdentity&Version=2011-06-15".to_owned(),
        body: Vec::new(),
        headers: vec![("Host".to_owned(), b"sts.amazonaws.com".to_vec())],
        ..unsigned_post()
    };
    signer().sign_query(&mut req, &["host"]);
    req
}

fn run_with(
    req: &OwnedRequest,
    policy: &Policy,
    at: OffsetDateTime,
) -> Result<Verified, SigV4Error> {
    let headers = req.header_refs();
    verify(&req.signed(&headers), policy, at, &creds())
}

fn run(req: &OwnedRequest) -> Result<Verified, SigV4Error> {
    run_with(req, &Policy::default(), now())
}

fn set_header(req: &mut OwnedRequest, name: &str, value: &str) {
    for (n, v) in &mut req.headers {
        if n.eq_ignore_ascii_case(name) {
            *v = value.as_bytes().to_vec();
        }
    }
}

fn header(req: &OwnedRequest, name: &str) -> String {
    req.first_header(name).unwrap()
}

fn edit_auth(req: &mut OwnedRequest, from: &str, to: &str) {
    let auth = header(req, "authorization");
    assert!(auth.contains(from), "{auth} lacks {from}");
    set_header(req, "authorization", &auth.replacen(from, to, 1));
}

fn is_signature_mismatch(err: &SigV4Error) -> bool {
    matches!(err.mismatch(), Some(Mismatch::Signature { .. }))
}

#[test]
fn baselines_verify() {
    let v = run(&signed_post()).unwrap();
    assert_eq!(v.access_key_id, AKID);
    assert_eq!(v.scope.region, "us-east-1");
    assert_eq!(v.scope.service, "sts");
    assert_eq!(v.scope.date, "20260127");
    assert_eq!(v.signed_headers, SIGNED);
    assert_eq!(v.location, AuthLocation::Header);
    assert_eq!(v.amz_date, DATE);
    assert!(!v.session_token_present && !v.session_token_signed);

    let v = run(&presigned_get()).unwrap();
    assert_eq!(v.location, AuthLocation::Query);
    assert_eq!(v.signed_headers, ["host"]);
}

#[test]
fn any_single_change_to_a_signed_component_is_rejected() {
    type Edit = fn(&mut OwnedRequest);
    let header_cases: &[(&str, Edit)] = &[
        ("method", |r| r.method = "PUT".to_owned()),
        ("method case", |r| r.method = "post".to_owned()),
        ("path", |r| r.path = "/x".to_owned()),
        ("query added", |r| r.query = "a=b".to_owned()),
        ("signed header value", |r| {
            set_header(r, "content-type", "text/plain")
        }),
        ("host", |r| set_header(r, "host", "sts.amazonaws.com")),
        ("host port", |r| {
            set_header(r, "host", "sts.us-east-1.amazonaws.com:443")
        }),
        ("signed header added twice", |r| {
            r.headers.push(("Content-Type".to_owned(), b"x".to_vec()));
        }),
        ("body", |r| r.body.push(b'&')),
        ("date +1 s", |r| {
            set_header(r, "x-amz-date", "20260127T001428Z")
        }),
        ("scope region", |r| {
            edit_auth(r, "/us-east-1/", "/us-west-2/")
        }),
        ("scope service", |r| edit_auth(r, "/sts/", "/iam/")),
        ("signature flipped", |r| {
            let auth = header(r, "authorization");
            let last = auth.chars().last().unwrap();
            let flipped = if last == '0' { '1' } else { '0' };
            set_header(
                r,
                "authorization",
                &format!("{}{flipped}", &auth[..auth.len() - 1]),
            );
        }),
        ("signature uppercase", |r| {
            let auth = header(r, "authorization");
            let (head, sig) = auth.split_once("Signature=").unwrap();
            set_header(
                r,
                "authorization",
                &format!("{head}Signature={}", sig.to_uppercase()),
            );
        }),
        ("signed headers reordered", |r| {
            edit_auth(
                r,
                "content-type;host;x-amz-date",
                "host;content-type;x-amz-date",
            );
        }),
    ];
    for (name, edit) in header_cases {
        let mut req = signed_post();
        edit(&mut req);
        let err = run(&req).unwrap_err();
        assert!(is_signature_mismatch(&err), "{name}: {err:?}");
        assert_eq!(err.code(), "SignatureDoesNotMatch", "{name}");
        assert_eq!(err.status(), 403, "{name}");
        assert!(err.message().starts_with(MISMATCH), "{name}");
    }

    let query_cases: &[(&str, Edit)] = &[
        ("method", |r| r.method = "POST".to_owned()),
        ("action", |r| {
            r.query = r.query.replace("GetCallerIdentity", "GetSessionToken")
        }),
        ("host", |r| {
            set_header(r, "host", "sts.us-east-1.amazonaws.com")
        }),
        ("body", |r| r.body = b"x".to_vec()),
        ("expires", |r| {
            r.query = r.query.replace("X-Amz-Expires=900", "X-Amz-Expires=901")
        }),
        ("date", |r| {
            r.query = r
                .query
                .replace("X-Amz-Date=20260127T001427Z", "X-Amz-Date=20260127T001426Z")
        }),
        ("extra param", |r| r.query.push_str("&a=")),
    ];
    for (name, edit) in query_cases {
        let mut req = presigned_get();
        edit(&mut req);
        let err = run(&req).unwrap_err();
        assert!(is_signature_mismatch(&err), "query {name}: {err:?}");
    }
}

#[test]
fn unsigned_parts_may_change() {
    let mut req = signed_post();
    set_header(&mut req, "user-agent", "other/2.0");
    req.headers
        .push(("X-Forwarded-For".to_owned(), b"10.0.0.1".to_vec()));
    run(&req).unwrap();

    // Whitespace that canonicalisation removes is not part of the signature.
    let mut req = signed_post();
    set_header(
        &mut req,
        "content-type",
        "  application/x-www-form-urlencoded;   charset=utf-8 ",
    );
    run(&req).unwrap();

    // A query parameter order change keeps the canonical query.
    let mut req = presigned_get();
    req.query = req.query.replacen(
        "Action=GetCallerIdentity&Version=2011-06-15",
        "Version=2011-06-15&Action=GetCallerIdentity",
        1,
    );
    run(&req).unwrap();
}

#[test]
fn wrong_signature_message_carries_canonical_request_and_string_to_sign() {
    let mut req = signed_post();
    req.body = b"Action=GetCallerIdentity&Version=2011-06-16".to_vec();
    let err = run(&req).unwrap_err();
    let creq = "POST\n/\n\ncontent-type:application/x-www-form-urlencoded; charset=utf-8\nhost:sts.us-east-1.amazonaws.com\nx-amz-date:20260127T001427Z\n\ncontent-type;host;x-amz-date\n".to_owned()
        + &hex_sha256(&req.body);
    assert_eq!(err.canonical_request(), Some(creq.as_str()));
    let sts = format!(
        "AWS4-HMAC-SHA256\n{DATE}\n20260127/us-east-1/sts/aws4_request\n{}",
        hex_sha256(creq.as_bytes())
    );
    assert_eq!(err.string_to_sign(), Some(sts.as_str()));
    let expected = format!(
        "{MISMATCH}\n\nThe Canonical String for this request should have been\n'{creq}'\n\nThe String-to-Sign should have been\n'{sts}'\n"
    );
    assert_eq!(err.message(), expected);
    assert_eq!(err.to_string(), expected);

    let quiet = Policy {
        debug_in_message: false,
        ..Policy::default()
    };
    let err = run_with(&req, &quiet, now()).unwrap_err();
    assert_eq!(err.message(), MISMATCH);
    assert_eq!(err.canonical_request(), Some(creq.as_str()));
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn session_token_is_redacted_in_every_rendering() {
    let mut req = unsigned_post();
    temp_signer().sign_header(
        &mut req,
        &["content-type", "host", "x-amz-date", "x-amz-security-token"],
    );
    assert!(run(&req).unwrap().session_token_signed);
    req.body.push(b'x');
    let err = run(&req).unwrap_err();
    let creq = err.canonical_request().unwrap();
    assert!(
        creq.contains("\nx-amz-security-token:<redacted>\n"),
        "{creq}"
    );
    for rendering in [
        err.message(),
        err.to_string(),
        format!("{err:?}"),
        creq.to_owned(),
    ] {
        assert!(!rendering.contains(TOKEN), "{rendering}");
        assert!(!rendering.contains("EXAMPLETOKEN"), "{rendering}");
    }

    let mut req = OwnedRequest {
        method: "GET".to_owned(),
        body: Vec::new(),
        ..unsigned_post()
    };
    temp_signer().sign_query(&mut req, &["host"]);
    let v = run(&req).unwrap();
    assert!(v.session_token_present && v.session_token_signed);
    req.method = "POST".to_owned();
    let err = run(&req).unwrap_err();
    assert!(
        err.canonical_request()
            .unwrap()
            .contains("&X-Amz-Security-Token=<redacted>&")
    );
    for rendering in [err.message(), format!("{err:?}")] {
        assert!(!rendering.contains("EXAMPLETOKEN"), "{rendering}");
    }
}

#[test]
fn session_token_semantics() {
    let signed_with_token = &["content-type", "host", "x-amz-date", "x-amz-security-token"];
    let invalid = "The security token included in the request is invalid";
    let unknown = "The security token included in the request is invalid.";

    // Temporary key without its token: step 15 wording.
    let mut req = unsigned_post();
    Signer {
        token: None,
        ..temp_signer()
    }
    .sign_header(&mut req, SIGNED);
    let err = run(&req).unwrap_err();
    assert_eq!(
        (err.code(), err.message().as_str()),
        ("InvalidClientTokenId", unknown)
    );
    assert_eq!(err.status(), 403);

    // Wrong token: step 14b wording.
    let mut req = unsigned_post();
    Signer {
        token: Some("bogus".to_owned()),
        ..temp_signer()
    }
    .sign_header(&mut req, signed_with_token);
    let err = run(&req).unwrap_err();
    assert_eq!(
        (err.code(), err.message().as_str()),
        ("InvalidClientTokenId", invalid)
    );

    // Long-term key with a token: 14b.
    let mut req = unsigned_post();
    Signer {
        token: Some(TOKEN.to_owned()),
        ..signer()
    }
    .sign_header(&mut req, signed_with_token);
    let err = run(&req).unwrap_err();
    assert_eq!(
        (err.code(), err.message().as_str()),
        ("InvalidClientTokenId", invalid)
    );

    // Unknown key with a token: the token is checked first (14b before 15).
    let mut req = unsigned_post();
    Signer {
        akid: "ASIAUNKNOWN000000000".to_owned(),
        ..temp_signer()
    }
    .sign_header(&mut req, signed_with_token);
    let err = run(&req).unwrap_err();
    assert_eq!(err.message(), invalid);

    // Expired: 14c.
    let later = now() + Duration::hours(1);
    let late_signer = Signer {
        amz_date: "20260127T011427Z".to_owned(),
        ..temp_signer()
    };
    let mut late = unsigned_post();
    late_signer.sign_header(&mut late, signed_with_token);
    let err = run_with(&late, &Policy::default(), later).unwrap_err();
    assert_eq!(
        (err.code(), err.message().as_str()),
        (
            "ExpiredToken",
            "The security token included in the request is expired"
        )
    );
    assert_eq!(err.status(), 403);
    // One second earlier it is still valid.
    let mut early = unsigned_post();
    Signer {
        amz_date: "20260127T011426Z".to_owned(),
        ..temp_signer()
    }
    .sign_header(&mut early, signed_with_token);
    run_with(&early, &Policy::default(), later - Duration::seconds(1)).unwrap();

    // Token sent but not signed: accepted (lenient), rejected in strict mode.
    let mut req = unsigned_post();
    temp_signer().sign_header(&mut req, SIGNED);
    let v = run(&req).unwrap();
    assert!(v.session_token_present && !v.session_token_signed);
    let strict = Policy {
        require_signed_session_token: true,
        ..Policy::default()
    };
    let err = run_with(&req, &strict, now()).unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(
        err.message(),
        "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."
    );

    // Unknown long-term key.
    let mut req = unsigned_post();
    Signer {
        akid: "AKIAUNKNOWN000000000".to_owned(),
        ..signer()
    }
    .sign_header(&mut req, SIGNED);
    let err = run(&req).unwrap_err();
    assert_eq!(
        (err.code(), err.message().as_str()),
        ("InvalidClientTokenId", unknown)
    );
}

#[test]
fn clock_skew_edges_are_fifteen_minutes_each_way() {
    let req = signed_post();
    let policy = Policy::default();
    let t = now();
    run_with(&req, &policy, t + Duration::minutes(15)).unwrap();
    run_with(&req, &policy, t - Duration::minutes(15)).unwrap();

    let err = run_with(
        &req,
        &policy,
        t + Duration::minutes(15) + Duration::seconds(1),
    )
    .unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(err.status(), 403);
    assert_eq!(
        err.message(),
        "Signature expired: 20260127T001427Z is now earlier than 20260127T001428Z (20260127T002928Z - 15 min.)"
    );

    let err = run_with(
        &req,
        &policy,
        t - Duration::minutes(15) - Duration::seconds(1),
    )
    .unwrap_err();
    assert_eq!(
        err.message(),
        "Signature not yet current: 20260127T001427Z is still later than 20260127T001426Z (20260126T235926Z + 15 min.)"
    );

    // Minutes are rendered from the policy.
    let five = Policy {
        max_skew: Duration::minutes(5),
        ..Policy::default()
    };
    let err = run_with(&req, &five, t + Duration::minutes(6)).unwrap_err();
    assert_eq!(
        err.message(),
        "Signature expired: 20260127T001427Z is now earlier than 20260127T001527Z (20260127T002027Z - 5 min.)"
    );

    // Presigned URLs use the same window, whatever X-Amz-Expires says.
    let req = presigned_get();
    run_with(&req, &policy, t + Duration::minutes(15)).unwrap();
    let err = run_with(&req, &policy, t + Duration::minutes(16)).unwrap_err();
    assert!(err.message().starts_with("Signature expired: "));
}

#[test]
fn scope_checks_join_their_messages() {
    let strict = Policy {
        service: Some("sts".to_owned()),
        regions: RegionRule::OneOf(vec!["us-east-1".to_owned()]),
        ..Policy::default()
    };
    let mut req = signed_post();
    edit_auth(
        &mut req,
        "20260127/us-east-1/sts/aws4_request",
        "20260126/ap-southeast-2/iam/aws4_requesx",
    );
    let err = run_with(&req, &strict, now()).unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(
        err.message(),
        "Credential should be scoped to a valid region, not 'ap-southeast-2'. \
         Credential should be scoped to correct service: 'sts'. \
         Credential should be scoped with a valid terminator: 'aws4_request', not 'aws4_requesx'. \
         Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260126' != '20260127', from '20260127T001427Z'."
    );

    // Each alone.
    let cases: &[(&str, &str, &str)] = &[
        (
            "/us-east-1/",
            "/ap-southeast-2/",
            "Credential should be scoped to a valid region, not 'ap-southeast-2'. ",
        ),
        (
            "/sts/",
            "/iam/",
            "Credential should be scoped to correct service: 'sts'. ",
        ),
        (
            "aws4_request",
            "aws5_request",
            "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ",
        ),
        (
            "/20260127/",
            "/20260128/",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260128' != '20260127', from '20260127T001427Z'.",
        ),
    ];
    for (from, to, message) in cases {
        let mut req = signed_post();
        edit_auth(&mut req, from, to);
        let err = run_with(&req, &strict, now()).unwrap_err();
        assert_eq!(err.message(), *message, "{to}");
    }

    // The lenient default accepts any well-formed region but not a malformed one.
    let mut req = unsigned_post();
    Signer {
        region: "eu-central-2".to_owned(),
        ..signer()
    }
    .sign_header(&mut req, SIGNED);
    run(&req).unwrap();
    let mut req = unsigned_post();
    Signer {
        region: "moon".to_owned(),
        ..signer()
    }
    .sign_header(&mut req, SIGNED);
    assert_eq!(
        run(&req).unwrap_err().message(),
        "Credential should be scoped to a valid region, not 'moon'. "
    );
}

#[test]
fn authorization_header_parse_errors_are_exact() {
    let auth_value = |req: &OwnedRequest| header(req, "authorization");
    let base = signed_post();
    let good = auth_value(&base);
    let with_auth = |value: &str| {
        let mut r = base.clone();
        set_header(&mut r, "authorization", value);
        r
    };

    let err = run(&with_auth(&good.replacen(
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA512",
        1,
    )))
    .unwrap_err();
    assert_eq!((err.code(), err.status()), ("IncompleteSignature", 400));
    assert_eq!(
        err.message(),
        "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512'."
    );

    let broken = good.replacen("Credential=", "Credential= ", 1);
    let err = run(&with_auth(&broken)).unwrap_err();
    let akid_part = format!("{AKID}/20260127/us-east-1/sts/aws4_request");
    assert_eq!(
        err.message(),
        format!(
            "'{akid_part}' not a valid key=value pair (missing equal-sign) in Authorization header: '{broken}'."
        )
    );

    let err = run(&with_auth("AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date")).unwrap_err();
    assert_eq!(
        err.message(),
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256"
    );
    let mut no_date = with_auth("AWS4-HMAC-SHA256 ");
    no_date
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"));
    let err = run(&no_date).unwrap_err();
    assert_eq!(
        err.message(),
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256"
    );

    // Without X-Amz-Date the Date header is used, and must be ISO-8601 basic.
    let mut dated = base.clone();
    dated
        .headers
        .retain(|(n, _)| !n.eq_ignore_ascii_case("x-amz-date"));
    dated
        .headers
        .push(("Date".to_owned(), b"Tue, 27 Jan 2026 00:14:27 GMT".to_vec()));
    let err = run(&dated).unwrap_err();
    assert_eq!(
        err.message(),
        "Date must be in ISO-8601 'basic format'. Got 'Tue, 27 Jan 2026 00:14:27 GMT'. See http://en.wikipedia.org/wiki/ISO_8601"
    );

    let err = run(&with_auth(&good.replacen("/sts/aws4_request", "/sts", 1))).unwrap_err();
    assert_eq!(
        err.message(),
        format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{AKID}/20260127/us-east-1/sts'"
        )
    );

    // 6c: a repeated key, the last wins.
    let twice = format!("{good}, Signature=0000");
    assert!(is_signature_mismatch(&run(&with_auth(&twice)).unwrap_err()));
    let twice = good.replacen("Signature=", "Signature=0000, Signature=", 1);
    run(&with_auth(&twice)).unwrap();

    // Without spaces after the commas, as some signers write it.
    run(&with_auth(&good.replace(", ", ","))).unwrap();

    // Only the first Authorization header counts.
    let mut two = base.clone();
    two.headers
        .push(("Authorization".to_owned(), b"garbage".to_vec()));
    run(&two).unwrap();

    // Host must be signed.
    let mut req = unsigned_post();
    signer().sign_header(&mut req, &["content-type", "x-amz-date"]);
    let err = run(&req).unwrap_err();
    assert_eq!(
        err.message(),
        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    );
}

#[test]
fn query_auth_parse_errors_are_exact() {
    let base = presigned_get();
    let without = |param: &str| {
        let mut r = base.clone();
        r.query = r
            .query
            .split('&')
            .filter(|p| !p.starts_with(&format!("{param}=")))
            .collect::<Vec<_>>()
            .join("&");
        r
    };
    let err = run(&without("X-Amz-Signature")).unwrap_err();
    assert_eq!(
        err.message(),
        "AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the query-string parameters."
    );
    let mut r = without("X-Amz-Credential");
    r.query = r
        .query
        .split('&')
        .filter(|p| {
            !p.starts_with("X-Amz-SignedHeaders=")
                && !p.starts_with("X-Amz-Date=")
                && !p.starts_with("X-Amz-Signature=")
        })
        .collect::<Vec<_>>()
        .join("&");
    let err = run(&r).unwrap_err();
    assert_eq!(
        err.message(),
        "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."
    );
    assert_eq!(err.code(), "IncompleteSignature");

    // X-Amz-Expires is optional.
    let r = without("X-Amz-Expires");
    assert!(is_signature_mismatch(&run(&r).unwrap_err()));

    // 7a: unknown algorithm reads as no authentication at all.
    let mut r = base.clone();
    r.query = r.query.replace(
        "X-Amz-Algorithm=AWS4%2DHMAC%2DSHA256",
        "X-Amz-Algorithm=AWS4-HMAC-SHA1",
    );
    let err = run(&r).unwrap_err();
    assert_eq!(
        (err.code(), err.status()),
        ("MissingAuthenticationToken", 403)
    );
    assert_eq!(err.message(), "Request is missing Authentication Token");

    // 7c: the first duplicate wins.
    let mut r = base.clone();
    r.query.push_str("&X-Amz-Signature=0000");
    // Every X-Amz-Signature is left out of the canonical query, so a second one changes nothing.
    run(&r).unwrap();
    let mut r = base.clone();
    r.query = format!("X-Amz-Date=20990101T000000Z&{}", r.query);
    let err = run(&r).unwrap_err();
    assert!(
        err.message()
            .starts_with("Signature not yet current: 20990101T000000Z"),
        "{}",
        err.message()
    );

    // No authentication at all.
    let err = run(&unsigned_post()).unwrap_err();
    assert_eq!(err.code(), "MissingAuthenticationToken");

    // Both forms.
    let mut r = base.clone();
    r.headers.push((
        "Authorization".to_owned(),
        header(&signed_post(), "authorization").into_bytes(),
    ));
    let err = run(&r).unwrap_err();
    assert_eq!(
        (err.code(), err.message().as_str()),
        ("SignatureDoesNotMatch", "")
    );
    assert_eq!(err.mismatch(), Some(&Mismatch::BothAuthForms));

    // Bad escapes.
    let mut r = base.clone();
    r.query.push_str("&a=%G1");
    let err = run(&r).unwrap_err();
    assert_eq!((err.code(), err.status()), ("MalformedQueryString", 400));
    assert_eq!(
        err.message(),
        "Illegal hex character in escape % pattern: %G1"
    );
}

#[test]
fn errors_follow_aws_check_order() {
    let t = now();
    let late = t + Duration::hours(1);
    let p = Policy::default();
    let strict = Policy {
        service: Some("iam".to_owned()),
        ..Policy::default()
    };

    // Step 1 before everything.
    let mut r = signed_post();
    r.path = "x".to_owned();
    r.query = "%".to_owned();
    assert_eq!(run_with(&r, &p, late).unwrap_err().code(), "InvalidURIPath");

    // Step 4 before 5.
    let mut r = unsigned_post();
    r.query = "a=%".to_owned();
    assert_eq!(run(&r).unwrap_err().code(), "MalformedQueryString");

    // Step 5 (both forms) before 6 (incomplete header).
    let mut r = presigned_get();
    r.headers
        .push(("Authorization".to_owned(), b"AWS4-HMAC-SHA256 x".to_vec()));
    assert_eq!(
        run(&r).unwrap_err().mismatch(),
        Some(&Mismatch::BothAuthForms)
    );

    // Step 6 (missing Signature) before 9 (date format).
    let mut r = signed_post();
    set_header(&mut r, "x-amz-date", "yesterday");
    let auth = header(&r, "authorization");
    set_header(
        &mut r,
        "authorization",
        auth.split(", Signature=").next().unwrap(),
    );
    assert!(
        run(&r)
            .unwrap_err()
            .message()
            .starts_with("Authorization header requires 'Signature' parameter.")
    );

    // Step 8 (host) before 10 (expired).
    let mut r = unsigned_post();
    signer().sign_header(&mut r, &["content-type", "x-amz-date"]);
    assert_eq!(
        run_with(&r, &p, late).unwrap_err().mismatch(),
        Some(&Mismatch::HostNotSigned)
    );

    // Step 9 (date format) before 12 (credential shape).
    let mut r = signed_post();
    set_header(&mut r, "x-amz-date", "2026-01-27T00:14:27Z");
    edit_auth(&mut r, "/sts/aws4_request", "/sts");
    assert!(
        run(&r)
            .unwrap_err()
            .message()
            .starts_with("Date must be in ISO-8601")
    );

    // Step 10 (expired) before 12 (credential shape) and 13 (scope).
    let mut r = signed_post();
    edit_auth(&mut r, "/sts/aws4_request", "/sts");
    assert!(matches!(
        run_with(&r, &p, late).unwrap_err().mismatch(),
        Some(Mismatch::Expired { .. })
    ));
    let r = signed_post();
    assert!(matches!(
        run_with(&r, &strict, late).unwrap_err().mismatch(),
        Some(Mismatch::Expired { .. })
    ));

    // Step 12 (shape) before 15 (unknown key).
    let mut r = signed_post();
    edit_auth(&mut r, AKID, "AKIAUNKNOWN/x");
    assert_eq!(run(&r).unwrap_err().code(), "IncompleteSignature");

    // Step 13 (scope) before 15 (unknown key) and 16 (signature).
    let mut r = signed_post();
    edit_auth(&mut r, AKID, "AKIAUNKNOWN000000000");
    assert!(matches!(
        run_with(&r, &strict, t).unwrap_err().mismatch(),
        Some(Mismatch::Scope { .. })
    ));

    // Step 14 (token) before 15 (key) — see session_token_semantics; and 15 before 16.
    let mut r = signed_post();
    edit_auth(&mut r, AKID, "AKIAUNKNOWN000000000");
    r.body.push(b'x');
    assert_eq!(run(&r).unwrap_err().code(), "InvalidClientTokenId");

    // Step 14c (expired token) before 16 (signature).
    let mut r = unsigned_post();
    let s = Signer {
        amz_date: "20260127T011427Z".to_owned(),
        ..temp_signer()
    };
    s.sign_header(&mut r, SIGNED);
    r.body.push(b'x');
    assert_eq!(run_with(&r, &p, late).unwrap_err().code(), "ExpiredToken");
}

#[test]
fn payload_hash_header_and_http2_authority() {
    // x-amz-content-sha256 is used as sent, UNSIGNED-PAYLOAD included (lenient).
    let mut r = unsigned_post();
    r.headers.push((
        "X-Amz-Content-Sha256".to_owned(),
        b"UNSIGNED-PAYLOAD".to_vec(),
    ));
    signer().sign_header(
        &mut r,
        &["content-type", "host", "x-amz-content-sha256", "x-amz-date"],
    );
    r.body = b"anything".to_vec();
    run(&r).unwrap();

    // HTTP/2: no Host header, `host` is read from `:authority`.
    let mut r = unsigned_post();
    signer().sign_header(&mut r, SIGNED);
    for (n, _) in &mut r.headers {
        if n == "Host" {
            *n = ":authority".to_owned();
        }
    }
    run(&r).unwrap();
}

#[test]
fn obsolete_line_folds_read_as_one_space() {
    let mut r = unsigned_post();
    r.headers
        .push(("My-Header".to_owned(), b"value1 value2".to_vec()));
    signer().sign_header(&mut r, &["content-type", "host", "my-header", "x-amz-date"]);
    set_header(&mut r, "my-header", "value1\r\n   value2");
    run(&r).unwrap();
}
