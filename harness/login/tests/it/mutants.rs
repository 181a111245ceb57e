//! Every mutant changes the token or the Consul calls in the way its table row says.

use base64::Engine as _;
use iamconform_login::{BearerToken, MapEnv, Mutant, generate_bearer_token};

use crate::support::*;
use crate::token::input_for;

/// Generates a correct token and a mutated one with the same input (include-entity, temporary
/// credentials, server id, fixed time).
async fn pair(m: Mutant) -> (BearerToken, String) {
    let sts = sts(ROLE_ARN).await;
    let base = input_for(Some(&sts));
    let good = generate_bearer_token(&base).await.unwrap();
    let mut input = base;
    input.mutant = Some(m);
    let bad = generate_bearer_token(&input).await.unwrap();
    assert_ne!(good.expose(), bad.expose(), "{m} changed nothing");
    (BearerToken::parse(good.expose()).unwrap(), bad.into_inner())
}

async fn mutated(m: Mutant) -> (BearerToken, BearerToken) {
    let (good, bad) = pair(m).await;
    (good, BearerToken::parse(&bad).unwrap())
}

fn signed(t: &BearerToken, name: &str) -> bool {
    t.signed_headers().iter().any(|h| h == name)
}

fn has_key(t: &BearerToken, key: &str) -> bool {
    t.headers.iter().any(|(k, _)| k == key)
}

async fn check_token_mutant(m: Mutant) {
    use Mutant as M;
    let sid = "x-consul-iam-serverid";
    match m {
        M::ServerIdOmitted => {
            let (_, t) = mutated(m).await;
            assert!(t.header("X-Consul-Iam-Serverid").is_none());
            assert!(
                embedded(&t)
                    .unwrap()
                    .header("X-Consul-Iam-Serverid")
                    .is_none()
            );
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::ServerIdUnsigned => {
            let (_, t) = mutated(m).await;
            assert_eq!(
                t.header("X-Consul-Iam-Serverid"),
                Some("consul.example.com")
            );
            assert!(!signed(&t, sid));
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::ServerIdWrongValue => {
            let (_, t) = mutated(m).await;
            assert_eq!(
                t.header("X-Consul-Iam-Serverid"),
                Some("consul.example.com-wrong")
            );
            assert!(signed(&t, sid));
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::EntityHeadersAwsSpelling => {
            let (_, t) = mutated(m).await;
            assert!(has_key(&t, "X-Consul-IAM-GetEntity-Method"));
            assert!(has_key(&t, "X-Consul-IAM-GetEntity-URL"));
            // Go's Header.Values canonicalises only the lookup key: the server finds nothing.
            assert!(t.header("X-Consul-IAM-GetEntity-Method").is_none());
            assert!(signed(&t, "x-consul-iam-getentity-method"));
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::EntityHeadersLowercase => {
            let (_, t) = mutated(m).await;
            assert!(has_key(&t, "x-consul-iam-getentity-body"));
            assert!(t.header("X-Consul-Iam-Getentity-Body").is_none());
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::EntityWrongRoleName => {
            let (_, t) = mutated(m).await;
            assert_eq!(
                embedded(&t).unwrap().body_text(),
                "Action=GetRole&RoleName=task-1&Version=2010-05-08"
            );
        }
        M::EntityGetUserForRole => {
            let (_, t) = mutated(m).await;
            assert_eq!(
                embedded(&t).unwrap().body_text(),
                "Action=GetUser&UserName=web-task&Version=2010-05-08"
            );
        }
        M::EntityUnsigned => {
            let (_, t) = mutated(m).await;
            let iam = embedded(&t).unwrap();
            assert!(iam.header("Authorization").is_none());
            assert!(iam.header("X-Amz-Date").is_none());
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::EntityServerIdMissing => {
            let (_, t) = mutated(m).await;
            assert!(
                embedded(&t)
                    .unwrap()
                    .header("X-Consul-Iam-Serverid")
                    .is_none()
            );
            assert_eq!(
                t.header("X-Consul-Iam-Serverid"),
                Some("consul.example.com")
            );
            verify_sigv4(&embedded(&t).unwrap(), SECRET).unwrap();
        }
        M::SessionTokenDropped => {
            let (_, t) = mutated(m).await;
            assert!(t.header("X-Amz-Security-Token").is_none());
            assert!(!signed(&t, "x-amz-security-token"));
            assert!(
                embedded(&t)
                    .unwrap()
                    .header("X-Amz-Security-Token")
                    .is_none()
            );
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::SessionTokenUnsigned => {
            let (_, t) = mutated(m).await;
            assert_eq!(t.header("X-Amz-Security-Token"), Some(SESSION));
            assert!(!signed(&t, "x-amz-security-token"));
            assert!(!signed(&embedded(&t).unwrap(), "x-amz-security-token"));
        }
        M::SigningRegionWrong => {
            let (_, t) = mutated(m).await;
            assert_eq!(scope(&t).2, "us-west-2");
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::SigningServiceWrong => {
            let (_, t) = mutated(m).await;
            assert_eq!(scope(&t).3, "iam");
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::HostMismatch => {
            let (good, t) = mutated(m).await;
            assert_eq!(t.url, good.url);
            let err = verify_sigv4(&t, SECRET).unwrap_err();
            assert!(err.contains("signature mismatch"), "{err}");
        }
        M::DateStale16m | M::DateFuture16m => {
            let (_, t) = mutated(m).await;
            let want = if m == M::DateStale16m {
                "20231114T215720Z"
            } else {
                "20231114T222920Z"
            };
            assert_eq!(t.header("X-Amz-Date"), Some(want));
            assert_eq!(embedded(&t).unwrap().header("X-Amz-Date"), Some(want));
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::BodyActionMisspelt => {
            let (_, t) = mutated(m).await;
            assert_eq!(t.body_text(), "Action=GetCallerIdentty&Version=2011-06-15");
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::BodyExtraField => {
            let (_, t) = mutated(m).await;
            assert_eq!(
                t.body_text(),
                "Action=GetCallerIdentity&Version=2011-06-15&DurationSeconds=900"
            );
            assert_eq!(t.header("Content-Length"), Some("63"));
        }
        M::StsUrlQuery => {
            let (good, t) = mutated(m).await;
            assert_eq!(
                t.url,
                format!("{}?Action=GetCallerIdentity&Version=2011-06-15", good.url)
            );
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::MethodGet => {
            let (_, t) = mutated(m).await;
            assert_eq!(t.method, "GET");
            verify_sigv4(&t, SECRET).unwrap();
        }
        M::Base64UrlEncoding => {
            let (_, raw) = pair(m).await;
            assert!(BearerToken::parse(&raw).is_err());
            let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
            assert_eq!(
                v["iam_request_body"],
                "QWN0aW9uPUdldENhbGxlcklkZW50aXR5JlZlcnNpb249MjAxMS0wNi0xNQ"
            );
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(v["iam_request_headers"].as_str().unwrap())
                .unwrap();
        }
        M::HeadersJsonNotBase64 => {
            let (_, raw) = pair(m).await;
            assert!(BearerToken::parse(&raw).is_err());
            let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
            assert!(
                v["iam_request_headers"]
                    .as_str()
                    .unwrap()
                    .starts_with("{\"Authorization\":[")
            );
        }
        M::ContentLengthWrong => {
            let (_, t) = mutated(m).await;
            assert_eq!(t.header("Content-Length"), Some("44"));
            assert_eq!(t.body.len(), 43);
            assert!(signed(&t, "content-length"));
        }
        M::WrongSecret => {
            let (good, t) = mutated(m).await;
            verify_sigv4(&good, SECRET).unwrap();
            assert!(verify_sigv4(&t, SECRET).is_err());
            assert!(verify_sigv4(&embedded(&t).unwrap(), SECRET).is_err());
        }
        other => panic!("{other} is not a token mutant"),
    }
}

const TOKEN_MUTANTS: &[Mutant] = &[
    Mutant::ServerIdOmitted,
    Mutant::ServerIdUnsigned,
    Mutant::ServerIdWrongValue,
    Mutant::EntityHeadersAwsSpelling,
    Mutant::EntityHeadersLowercase,
    Mutant::EntityWrongRoleName,
    Mutant::EntityGetUserForRole,
    Mutant::EntityUnsigned,
    Mutant::EntityServerIdMissing,
    Mutant::SessionTokenDropped,
    Mutant::SessionTokenUnsigned,
    Mutant::SigningRegionWrong,
    Mutant::SigningServiceWrong,
    Mutant::HostMismatch,
    Mutant::DateStale16m,
    Mutant::DateFuture16m,
    Mutant::BodyActionMisspelt,
    Mutant::BodyExtraField,
    Mutant::StsUrlQuery,
    Mutant::MethodGet,
    Mutant::Base64UrlEncoding,
    Mutant::HeadersJsonNotBase64,
    Mutant::ContentLengthWrong,
    Mutant::WrongSecret,
];

const CLI_MUTANTS: &[Mutant] = &[
    Mutant::WrongAuthMethod,
    Mutant::MetaDropped,
    Mutant::TokenSinkTrailingNewline,
    Mutant::LogoutSkipped,
    Mutant::LogoutSkipSecond,
    Mutant::LogoutWrongToken,
];

#[test]
fn every_mutant_has_a_test() {
    let mut tested: Vec<&str> = TOKEN_MUTANTS
        .iter()
        .chain(CLI_MUTANTS)
        .map(|m| m.name())
        .collect();
    let mut all: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
    tested.sort_unstable();
    all.sort_unstable();
    assert_eq!(tested, all);
}

#[tokio::test]
async fn token_mutants_change_the_token_as_documented() {
    for m in TOKEN_MUTANTS {
        check_token_mutant(*m).await;
    }
}

#[tokio::test]
async fn the_real_caller_identity_call_stays_correct_under_mutants() {
    let sts = sts(ROLE_ARN).await;
    let mut input = input_for(Some(&sts));
    input.mutant = Some(Mutant::WrongSecret);
    generate_bearer_token(&input).await.unwrap();
    let call = &sts.requests()[0];
    let as_token = BearerToken {
        method: call.method.clone(),
        url: format!("{}{}", sts.url(), call.uri),
        headers: call
            .headers
            .iter()
            .map(|(k, v)| (iamconform_login::canonical_header_key(k), vec![v.clone()]))
            .collect(),
        body: call.body.clone(),
    };
    verify_sigv4(&as_token, SECRET).unwrap();
}

async fn login_with(mutant: &str, sink: &std::path::Path, consul: &Stub) -> Outcome {
    let bt = sink.with_extension("bt");
    std::fs::write(&bt, "bearer").unwrap();
    let env = MapEnv::new().with("IAMCONFORM_MUTANT", mutant);
    login(
        &[
            "-method",
            "iam",
            "-token-sink-file",
            sink.to_str().unwrap(),
            "-bearer-token-file",
            bt.to_str().unwrap(),
            "-http-addr",
            &consul.url(),
            "-meta",
            "k=v",
        ],
        &env,
    )
    .await
}

#[tokio::test]
async fn login_mutants_change_the_consul_call_or_sink() {
    let consul = consul().await;
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("sink");

    let o = login_with("wrong-auth-method", &sink, &consul).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let body: serde_json::Value =
        serde_json::from_slice(&consul.requests().last().unwrap().body).unwrap();
    assert_eq!(body["AuthMethod"], "iam-x");

    let o = login_with("meta-dropped", &sink, &consul).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let body: serde_json::Value =
        serde_json::from_slice(&consul.requests().last().unwrap().body).unwrap();
    assert!(body.get("Meta").is_none());

    let o = login_with("token-sink-trailing-newline", &sink, &consul).await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(std::fs::read_to_string(&sink).unwrap(), "secret-1\n");
}

#[tokio::test]
async fn logout_mutants_skip_or_corrupt_the_call() {
    let consul = consul().await;
    let dir = tempfile::tempdir().unwrap();
    let addr = consul.url();

    let env = MapEnv::new().with("IAMCONFORM_MUTANT", "logout-skipped");
    let o = logout(&["-http-addr", &addr, "-token", "secret-1"], &env).await;
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert!(consul.requests().is_empty());

    let env = MapEnv::new().with("IAMCONFORM_MUTANT", "logout-wrong-token");
    let o = logout(&["-http-addr", &addr, "-token", "secret-1"], &env).await;
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "Error destroying token: Unexpected response code: 403 (ACL not found)\n"
    );
    assert_eq!(
        consul.requests()[0].header("x-consul-token"),
        Some("secret-0")
    );

    let env = MapEnv::new()
        .with("IAMCONFORM_MUTANT", "logout-skip-second")
        .with("IAMCONFORM_MUTANT_STATE_DIR", dir.path().to_str().unwrap());
    let before = consul.requests().len();
    for _ in 0..3 {
        let o = logout(&["-http-addr", &addr, "-token", "secret-1"], &env).await;
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    assert_eq!(
        consul.requests().len() - before,
        2,
        "the second call is skipped"
    );

    // Without the state dir nothing is skipped.
    let env = MapEnv::new().with("IAMCONFORM_MUTANT", "logout-skip-second");
    let before = consul.requests().len();
    for _ in 0..2 {
        logout(&["-http-addr", &addr, "-token", "secret-1"], &env).await;
    }
    assert_eq!(consul.requests().len() - before, 2);
}
