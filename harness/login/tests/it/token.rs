//! Structure and signatures of generated bearer tokens.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use iamconform_login::{
    AwsCredentials, BearerToken, LoginInput, Network, TokenError, generate_bearer_token,
};
use iamconform_secret::Secret;

use crate::support::*;

fn fixed_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

pub(crate) async fn make(input: &LoginInput) -> BearerToken {
    let t = generate_bearer_token(input).await.unwrap();
    BearerToken::parse(t.expose()).unwrap()
}

pub(crate) fn input_for(sts: Option<&Stub>) -> LoginInput {
    let mut input = LoginInput::new(temp_creds(), "us-east-1");
    input.now = fixed_time();
    if let Some(s) = sts {
        input.sts_endpoint = Some(format!("{}/sts", s.url()));
        input.include_entity = true;
    }
    input.server_id_header_value = Some("consul.example.com".to_owned());
    input
}

#[tokio::test]
async fn plain_token_has_the_consul_awsauth_shape() {
    let mut input = input_for(None);
    input.server_id_header_value = None;
    let raw = generate_bearer_token(&input).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(raw.expose()).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "iam_http_request_method",
            "iam_request_body",
            "iam_request_headers",
            "iam_request_url"
        ]
    );
    assert_eq!(
        v["iam_request_body"],
        "QWN0aW9uPUdldENhbGxlcklkZW50aXR5JlZlcnNpb249MjAxMS0wNi0xNQ=="
    );
    // Standard, padded base64 everywhere.
    for k in ["iam_request_body", "iam_request_headers", "iam_request_url"] {
        base64::engine::general_purpose::STANDARD
            .decode(v[k].as_str().unwrap())
            .unwrap();
    }
    let t = BearerToken::parse(raw.expose()).unwrap();
    assert_eq!(t.method, "POST");
    assert_eq!(t.url, "https://sts.us-east-1.amazonaws.com/");
    assert_eq!(t.body_text(), "Action=GetCallerIdentity&Version=2011-06-15");
    let names: Vec<&str> = t.headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "Authorization",
            "Content-Length",
            "Content-Type",
            "User-Agent",
            "X-Amz-Date",
            "X-Amz-Security-Token"
        ]
    );
    assert_eq!(t.header("Content-Length"), Some("43"));
    assert_eq!(
        t.header("Content-Type"),
        Some("application/x-www-form-urlencoded; charset=utf-8")
    );
    assert_eq!(t.header("X-Amz-Date"), Some("20231114T221320Z"));
    assert_eq!(t.header("X-Amz-Security-Token"), Some(SESSION));
    assert_eq!(
        t.signed_headers(),
        [
            "content-length",
            "content-type",
            "host",
            "x-amz-date",
            "x-amz-security-token"
        ]
    );
    assert_eq!(
        scope(&t),
        (
            AKID.into(),
            "20231114".into(),
            "us-east-1".into(),
            "sts".into()
        )
    );
    verify_sigv4(&t, SECRET).unwrap();
}

#[tokio::test]
async fn server_id_header_is_canonical_and_signed() {
    let t = make(&input_for(None)).await;
    assert!(t.headers.iter().any(|(k, _)| k == "X-Consul-Iam-Serverid"));
    assert_eq!(
        t.header("X-Consul-Iam-Serverid"),
        Some("consul.example.com")
    );
    assert!(
        t.signed_headers()
            .contains(&"x-consul-iam-serverid".to_owned())
    );
    assert!(
        !t.headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("host"))
    );
    verify_sigv4(&t, SECRET).unwrap();
}

#[tokio::test]
async fn include_entity_embeds_a_signed_get_role() {
    let sts = sts(ROLE_ARN).await;
    let t = make(&input_for(Some(&sts))).await;
    assert_eq!(t.url, format!("{}/sts/", sts.url()));
    for name in [
        "X-Consul-Iam-Getentity-Method",
        "X-Consul-Iam-Getentity-Url",
        "X-Consul-Iam-Getentity-Headers",
        "X-Consul-Iam-Getentity-Body",
    ] {
        assert!(t.headers.iter().any(|(k, _)| k == name), "{name}");
        assert!(t.signed_headers().contains(&name.to_ascii_lowercase()));
    }
    verify_sigv4(&t, SECRET).unwrap();
    let iam = embedded(&t).unwrap();
    assert_eq!(iam.method, "POST");
    assert_eq!(iam.url, "https://iam.amazonaws.com/");
    assert_eq!(
        iam.body_text(),
        "Action=GetRole&RoleName=web-task&Version=2010-05-08"
    );
    // 43 bytes plus the 8-byte role name.
    assert_eq!(iam.header("Content-Length"), Some("51"));
    assert_eq!(
        iam.header("X-Consul-Iam-Serverid"),
        Some("consul.example.com")
    );
    assert_eq!(scope(&iam).2, "us-east-1");
    assert_eq!(scope(&iam).3, "iam");
    assert!(
        iam.signed_headers()
            .contains(&"x-consul-iam-serverid".to_owned())
    );
    assert!(
        iam.signed_headers()
            .contains(&"x-amz-security-token".to_owned())
    );
    verify_sigv4(&iam, SECRET).unwrap();

    // The real GetCallerIdentity call: correctly signed, without the Consul headers.
    let calls = sts.requests();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.uri, "/sts/");
    assert_eq!(
        call.body_text(),
        "Action=GetCallerIdentity&Version=2011-06-15"
    );
    assert!(call.header("x-consul-iam-serverid").is_none());
    assert_eq!(call.header("host"), Some(sts.addr.to_string().as_str()));
}

#[tokio::test]
async fn embedded_headers_json_is_go_json_inside_the_header() {
    let sts = sts(ROLE_ARN).await;
    let raw = generate_bearer_token(&input_for(Some(&sts))).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(raw.expose()).unwrap();
    let headers_json = base64::engine::general_purpose::STANDARD
        .decode(v["iam_request_headers"].as_str().unwrap())
        .unwrap();
    let headers_json = String::from_utf8(headers_json).unwrap();
    // Go's encoder escapes & inside the embedded body.
    assert!(
        headers_json.contains(r"Action=GetRole\u0026RoleName=web-task\u0026Version=2010-05-08")
    );
    // The embedded header map is itself sorted Go JSON.
    let t = BearerToken::parse(raw.expose()).unwrap();
    let inner = t.header("X-Consul-Iam-Getentity-Headers").unwrap();
    assert!(inner.starts_with("{\"Authorization\":[\"AWS4-HMAC-SHA256 Credential="));
}

#[tokio::test]
async fn user_callers_get_get_user_and_custom_iam_endpoint_signs_client_region() {
    let sts = sts(USER_ARN).await;
    let mut input = input_for(Some(&sts));
    input.region = "eu-west-1".to_owned();
    input.iam_endpoint = Some("http://127.0.0.1:9/iam".to_owned());
    let t = make(&input).await;
    let iam = embedded(&t).unwrap();
    assert_eq!(
        iam.body_text(),
        "Action=GetUser&UserName=ci-user&Version=2010-05-08"
    );
    assert_eq!(iam.url, "http://127.0.0.1:9/iam/");
    assert_eq!(scope(&iam).2, "eu-west-1");
    assert_eq!(scope(&t).2, "eu-west-1");
    verify_sigv4(&iam, SECRET).unwrap();
}

#[tokio::test]
async fn static_credentials_have_no_session_token() {
    let mut input = input_for(None);
    input.credentials =
        AwsCredentials::from_flags("AKIAEXAMPLE", Secret::new(SECRET.to_owned()), None);
    let t = make(&input).await;
    assert!(t.header("X-Amz-Security-Token").is_none());
    assert!(
        !t.signed_headers()
            .contains(&"x-amz-security-token".to_owned())
    );
    verify_sigv4(&t, SECRET).unwrap();
}

#[tokio::test]
async fn aws_hosts_are_redirected_only_with_the_env_var() {
    // No override: the real call would go to sts.us-east-1.amazonaws.com — refused.
    let mut input = input_for(None);
    input.include_entity = true;
    let err = generate_bearer_token(&input).await.unwrap_err();
    assert!(matches!(err, TokenError::CallerIdentitySend { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("refusing to contact sts.us-east-1.amazonaws.com"),
        "{msg}"
    );
    assert!(msg.contains("IAMCONFORM_AWS_ENDPOINT"), "{msg}");

    // With the redirect: it reaches the stub, with the signed Host kept.
    let sts = sts(ROLE_ARN).await;
    input.network = Network::with_aws_redirect(sts.addr).unwrap();
    let t = make(&input).await;
    assert_eq!(t.url, "https://sts.us-east-1.amazonaws.com/");
    let calls = sts.requests();
    assert_eq!(calls[0].header("host"), Some("sts.us-east-1.amazonaws.com"));
    assert_eq!(calls[0].uri, "/");
}

#[tokio::test]
async fn sts_errors_surface_like_the_go_sdk() {
    let stub = start(std::sync::Arc::new(|_r: &Recorded| {
        (
            403,
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>bad sig</Message></Error><RequestId>req-9</RequestId></ErrorResponse>".to_owned(),
        )
    }))
    .await;
    let err = generate_bearer_token(&input_for(Some(&stub)))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "failed to format signed entity request: failed to get caller identity: operation error STS: GetCallerIdentity, https response error StatusCode: 403, RequestID: req-9, api error SignatureDoesNotMatch: bad sig"
    );
}

#[tokio::test]
async fn unsupported_entity_types_are_reported() {
    let stub = sts("arn:aws:iam::123456789012:root").await;
    let err = generate_bearer_token(&input_for(Some(&stub)))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "failed to format signed entity request: failed to parse ARN: unrecognized arn: \"root\" contains fewer than 2 slash-separated parts"
    );
}

#[tokio::test]
async fn secrets_never_appear_in_debug_output() {
    let input = input_for(None);
    let dbg = format!("{input:?}");
    assert!(!dbg.contains(SECRET));
    assert!(!dbg.contains(SESSION));
    let token = generate_bearer_token(&input).await.unwrap();
    assert_eq!(format!("{token:?}"), "<redacted>");
}

#[test]
fn a_real_go_client_token_round_trips_byte_for_byte() {
    // tests/it/vectors/SOURCE.md: a token written by consul-awsauth with aws-sdk-go v1.
    let vector = include_str!("vectors/consul_awsauth_with_role.json");
    let t = BearerToken::parse(vector).unwrap();
    assert_eq!(t.url, "http://127.0.0.1:63696/sts/");
    assert_eq!(
        t.signed_headers(),
        [
            "content-length",
            "content-type",
            "host",
            "x-amz-date",
            "x-consul-iam-getentity-body",
            "x-consul-iam-getentity-headers",
            "x-consul-iam-getentity-method",
            "x-consul-iam-getentity-url"
        ]
    );
    let iam = embedded(&t).unwrap();
    assert_eq!(
        iam.body_text(),
        "Action=GetRole&RoleName=my-role&Version=2010-05-08"
    );
    assert_eq!(iam.header("Content-Length"), Some("50"));
    assert_eq!(scope(&iam).2, "us-east-1");
    // Our Go-JSON rendering (key order, HTML escaping, base64) reproduces the Go bytes.
    assert_eq!(t.render(), vector);
}
