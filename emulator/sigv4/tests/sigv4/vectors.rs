use std::fs;
use std::path::{Path, PathBuf};

use iamconform_sigv4::{
    AuthLocation, CredentialLookup, Policy, canonical_request, derive_signing_key, parse_auth,
    sign, string_to_sign, verify,
};
use time::OffsetDateTime;

use crate::helpers::{OwnedRequest, basic_time, record, store};

const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

/// Signed requests the suite gets wrong, each with the reason (tests/vectors/SOURCE.md).
/// They must be *rejected* as written; they do not count as passed.
const KNOWN_BAD: &[(&str, &str)] = &[
    (
        "legacy-botocore/get-vanilla-with-session-token/get-vanilla-with-session-token.sreq",
        "SOURCE.md quirk 1: the .sreq carries get-vanilla's signature (5fa00f…); the .authz file has the right one (07ec16…)",
    ),
    (
        "v4-aws-c-auth/post-sts-header-after/query-signed-request.txt",
        "SOURCE.md quirk 2: omit_session_token, the token was added to the URL after signing; STS and every SDK include it in the canonical query",
    ),
];

/// Expected files that are only partly consistent with their signed request: compare only
/// the listed canonical-request lines (0-based).
const PARTIAL_EXPECTATIONS: &[(&str, &[usize], &str)] = &[(
    "v4-smithy-rs-extra/double-encode-path/header-canonical-request.txt",
    &[0, 1],
    "SOURCE.md quirk 5: the expected canonical request carries another date and host than the signed request; only its canonical-URI line is consistent",
)];

struct Case {
    /// Path of the signed-request file, relative to tests/vectors.
    name: String,
    signed_request: PathBuf,
    canonical_request: Option<PathBuf>,
    string_to_sign: Option<PathBuf>,
    signature: Option<PathBuf>,
    akid: String,
    secret: String,
    token: Option<String>,
    time: OffsetDateTime,
    normalize: bool,
    location: AuthLocation,
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn existing(p: PathBuf) -> Option<PathBuf> {
    p.exists().then_some(p)
}

fn crt_cases(root: &Path, folder: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut dirs: Vec<_> = fs::read_dir(root.join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let case = dir.file_name().unwrap().to_str().unwrap().to_owned();
        let (akid, secret, token, time, normalize) = match dir.join("context.json") {
            ctx if ctx.exists() => {
                let ctx: serde_json::Value =
                    serde_json::from_str(&fs::read_to_string(ctx).unwrap()).unwrap();
                let creds = &ctx["credentials"];
                (
                    creds["access_key_id"].as_str().unwrap().to_owned(),
                    creds["secret_access_key"].as_str().unwrap().to_owned(),
                    creds["token"].as_str().map(str::to_owned),
                    OffsetDateTime::parse(
                        ctx["timestamp"].as_str().unwrap(),
                        &time::format_description::well_known::Rfc3339,
                    )
                    .unwrap(),
                    ctx["normalize"].as_bool().unwrap(),
                )
            }
            // The smithy-rs extras have no context.json; parameters from SOURCE.md.
            _ => match case.as_str() {
                "double-url-encode" => (
                    AKID.to_owned(),
                    SECRET.to_owned(),
                    None,
                    basic_time("20210511T154045Z"),
                    true,
                ),
                "double-encode-path" => (
                    "ANOTREAL".to_owned(),
                    "notrealrnrELgWzOk3IfjzDKtFBhDby".to_owned(),
                    None,
                    basic_time("20150830T123600Z"),
                    true,
                ),
                other => panic!("no parameters for {other}"),
            },
        };
        for (prefix, location) in [
            ("header", AuthLocation::Header),
            ("query", AuthLocation::Query),
        ] {
            let Some(signed_request) = existing(dir.join(format!("{prefix}-signed-request.txt")))
            else {
                continue;
            };
            cases.push(Case {
                name: format!("{folder}/{case}/{prefix}-signed-request.txt"),
                signed_request,
                canonical_request: existing(dir.join(format!("{prefix}-canonical-request.txt"))),
                string_to_sign: existing(dir.join(format!("{prefix}-string-to-sign.txt"))),
                signature: existing(dir.join(format!("{prefix}-signature.txt"))),
                akid: akid.clone(),
                secret: secret.clone(),
                token: token.clone(),
                time,
                normalize,
                location,
            });
        }
    }
    cases
}

fn legacy_cases(root: &Path) -> Vec<Case> {
    let mut sreqs = Vec::new();
    let mut stack = vec![root.join("legacy-botocore")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "sreq") {
                sreqs.push(p);
            }
        }
    }
    sreqs.sort();
    sreqs
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
            let text = fs::read_to_string(&p).unwrap();
            // The legacy suite has no context file; its token is the one the request carries.
            let token = OwnedRequest::parse(&text).first_header("x-amz-security-token");
            Case {
                name,
                canonical_request: existing(p.with_extension("creq")),
                string_to_sign: existing(p.with_extension("sts")),
                signature: None,
                signed_request: p,
                akid: AKID.to_owned(),
                secret: SECRET.to_owned(),
                token,
                time: basic_time("20150830T123600Z"),
                normalize: true,
                location: AuthLocation::Header,
            }
        })
        .collect()
}

fn read(p: &Path) -> String {
    let text = fs::read_to_string(p).unwrap();
    // Only double-url-encode's string-to-sign ends with a newline.
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

/// Checks one case; `Err` describes the first difference.
fn check(case: &Case) -> Result<(), String> {
    let owned = OwnedRequest::parse(&fs::read_to_string(&case.signed_request).unwrap());
    let headers = owned.header_refs();
    let req = owned.signed(&headers);
    let creds = store(&case.akid, record(&case.secret, case.token.as_deref()));
    let policy = Policy {
        normalize_path: case.normalize,
        ..Policy::default()
    };

    let auth = parse_auth(&req).map_err(|e| format!("parse_auth: {e}"))?;
    if auth.location != case.location {
        return Err(format!("location {:?}", auth.location));
    }
    let names = auth.signed_header_names();
    let creq = canonical_request(&req, &names, case.normalize, auth.location).unwrap();
    let creq = String::from_utf8(creq).unwrap();
    if let Some(path) = &case.canonical_request {
        let expected = read(path);
        let rel = path.strip_prefix(vectors_dir()).unwrap().to_str().unwrap();
        match PARTIAL_EXPECTATIONS.iter().find(|(n, _, _)| *n == rel) {
            Some((_, lines, _)) => {
                for &i in *lines {
                    let got = creq.lines().nth(i);
                    let want = expected.lines().nth(i);
                    if got != want {
                        return Err(format!("canonical line {i}: {got:?} != {want:?}"));
                    }
                }
            }
            None if creq != expected => {
                return Err(format!("canonical request:\n{creq}\n!=\n{expected}"));
            }
            None => {}
        }
    }
    let credential = auth.credential_parts().unwrap();
    let sts = string_to_sign(&auth.amz_date, &credential.scope.render(), creq.as_bytes());
    if let Some(path) = &case.string_to_sign {
        let expected = read(path);
        if sts != expected {
            return Err(format!("string to sign:\n{sts}\n!=\n{expected}"));
        }
    }
    let key = derive_signing_key(
        &case.secret,
        &credential.scope.date,
        &credential.scope.region,
        &credential.scope.service,
    );
    let signature = sign(&key, &sts);
    if let Some(path) = &case.signature
        && signature != read(path)
    {
        return Err(format!("signature {signature} != {}", read(path)));
    }
    if signature != auth.signature {
        return Err(format!(
            "computed {signature}, request carries {}",
            auth.signature
        ));
    }
    let verified = verify(&req, &policy, case.time, &creds).map_err(|e| format!("verify: {e}"))?;
    if verified.access_key_id != case.akid || verified.location != case.location {
        return Err(format!("verified {verified:?}"));
    }
    if verified.session_token_present != case.token.is_some() {
        return Err(format!("token presence {verified:?}"));
    }
    Ok(())
}

#[test]
fn aws_sigv4_test_suite() {
    let root = vectors_dir();
    let mut cases = crt_cases(&root, "v4-aws-c-auth");
    assert_eq!(cases.len(), 76, "38 cases × header and query form");
    cases.extend(crt_cases(&root, "v4-smithy-rs-extra"));
    cases.extend(legacy_cases(&root));
    assert_eq!(cases.len(), 76 + 2 + 34);

    let mut passed = 0;
    let mut known_bad = 0;
    let mut failures = Vec::new();
    for case in &cases {
        let result = check(case);
        match KNOWN_BAD.iter().find(|(name, _)| *name == case.name) {
            Some((_, reason)) => {
                known_bad += 1;
                assert!(
                    result.is_err(),
                    "known-bad {} verified ({reason})",
                    case.name
                );
            }
            None => match result {
                Ok(()) => passed += 1,
                Err(e) => failures.push(format!("{}: {e}", case.name)),
            },
        }
    }
    println!("sigv4 test suite: {passed} passed, {known_bad} known-bad skipped");
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n\n"));
    assert_eq!(known_bad, KNOWN_BAD.len());
    assert_eq!(passed, 110);
}

#[test]
fn known_bad_legacy_session_token_sreq_is_a_signature_mismatch() {
    let root = vectors_dir();
    let dir = root.join("legacy-botocore/get-vanilla-with-session-token");
    let text = fs::read_to_string(dir.join("get-vanilla-with-session-token.sreq")).unwrap();
    let owned = OwnedRequest::parse(&text);
    let token = owned.first_header("x-amz-security-token");
    let headers = owned.header_refs();
    let creds = store(AKID, record(SECRET, token.as_deref()));
    let now = basic_time("20150830T123600Z");
    let err = verify(&owned.signed(&headers), &Policy::default(), now, &creds).unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert_eq!(
        err.canonical_request(),
        Some(
            read(&dir.join("get-vanilla-with-session-token.creq"))
                .replace(token.as_deref().unwrap(), "<redacted>")
                .as_str()
        )
    );

    // The .authz file carries the right signature.
    let authz = read(&dir.join("get-vanilla-with-session-token.authz"));
    let fixed = OwnedRequest {
        headers: owned
            .headers
            .iter()
            .map(|(n, v)| {
                if n.eq_ignore_ascii_case("authorization") {
                    (n.clone(), authz.as_bytes().to_vec())
                } else {
                    (n.clone(), v.clone())
                }
            })
            .collect(),
        ..owned.clone()
    };
    let headers = fixed.header_refs();
    verify(&fixed.signed(&headers), &Policy::default(), now, &creds).unwrap();
}

#[test]
fn known_bad_post_sts_header_after_query_verifies_only_without_the_token() {
    let dir = vectors_dir().join("v4-aws-c-auth/post-sts-header-after");
    let owned =
        OwnedRequest::parse(&fs::read_to_string(dir.join("query-signed-request.txt")).unwrap());
    let ctx: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("context.json")).unwrap()).unwrap();
    let token = ctx["credentials"]["token"].as_str().unwrap();
    let now = basic_time("20150830T123600Z");
    let headers = owned.header_refs();
    let with_token = store(AKID, record(SECRET, Some(token)));
    let err = verify(
        &owned.signed(&headers),
        &Policy::default(),
        now,
        &with_token,
    )
    .unwrap_err();
    assert_eq!(err.code(), "SignatureDoesNotMatch");
    assert!(
        err.canonical_request()
            .unwrap()
            .contains("X-Amz-Security-Token=<redacted>")
    );
    assert!(!err.message().contains(&token[..20]));

    // Leaving the token out of the query (what the signer did) verifies.
    let stripped = OwnedRequest {
        query: owned
            .query
            .split('&')
            .filter(|p| !p.starts_with("X-Amz-Security-Token="))
            .collect::<Vec<_>>()
            .join("&"),
        ..owned.clone()
    };
    let without_token = store(AKID, record(SECRET, None));
    let creds: &dyn CredentialLookup = &without_token;
    verify(&stripped.signed(&headers), &Policy::default(), now, creds).unwrap();
    let creq = canonical_request(
        &stripped.signed(&headers),
        &["host"],
        true,
        AuthLocation::Query,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(creq).unwrap(),
        read(&dir.join("query-canonical-request.txt"))
    );
}
