#![allow(clippy::unwrap_used, clippy::expect_used)] // rust-clippy#13981
//! The STS/IAM/ECS service driven without a socket (`oneshot`), plus one real-socket test.

mod support;

use std::time::Duration;

use axum::body::Body;
use iamconform_aws::{
    AuthLocation, AwsConfig, Fault, FaultResponse, FaultService, RegionMode, Verdict,
};
use support::*;

fn expect_error(a: &Answer, status: u16, code: &str) {
    assert_eq!(a.status, status, "{a:?}");
    assert_eq!(a.code(), code, "{a:?}");
    assert_eq!(a.content_type.as_deref(), Some("text/xml"));
    assert!(a.body.starts_with("<ErrorResponse xmlns=\""), "{}", a.body);
    assert_eq!(a.xml("RequestId"), a.request_id);
}

#[tokio::test]
async fn sts_post_with_long_term_key_returns_the_user() {
    let state = state();
    let a = send_wire(&state, &sign_request(&Spec::sts_post(creds(USER_KEY)))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.content_type.as_deref(), Some("text/xml"));
    let rid = a.request_id.clone().unwrap();
    assert_eq!(rid.len(), 36);
    let expected = format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <GetCallerIdentityResult>\n    <Arn>arn:aws:iam::123456789012:user/ci-user</Arn>\n    <UserId>AIDAEXAMPLECIUSER0001</UserId>\n    <Account>123456789012</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{rid}</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n"
    );
    assert_eq!(a.body, expected);
}

#[tokio::test]
async fn sts_get_with_session_credentials_returns_the_assumed_role() {
    let state = state();
    let spec = Spec::sts_post(creds(WEB_KEY))
        .get(&[("Action", "GetCallerIdentity"), ("Version", "2011-06-15")]);
    let a = send_wire(&state, &sign_request(&spec)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.xml("Arn").unwrap(),
        "arn:aws:sts::123456789012:assumed-role/web-task/task-1"
    );
    assert_eq!(a.xml("UserId").unwrap(), "AROAEXAMPLEWEBTASK001:task-1");
    let e = state.journal().last().unwrap();
    assert_eq!(e.verdict, Verdict::Accepted);
    assert_eq!(e.session_token_signed, Some(true));
    assert_eq!(e.auth_location, Some(AuthLocation::Header));
}

#[tokio::test]
async fn presigned_urls_verify_by_post_with_empty_body_and_by_get() {
    let state = state();
    // botocore's generate_presigned_url signs POST with the parameters in the URL.
    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.presign = true;
    spec.body.clear();
    spec.headers.clear();
    spec.query = vec![
        ("Action".into(), "GetCallerIdentity".into()),
        ("Version".into(), "2011-06-15".into()),
    ];
    let a = send_wire(&state, &sign_request(&spec)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let e = state.journal().last().unwrap();
    assert_eq!(e.auth_location, Some(AuthLocation::Query));
    assert_eq!(e.session_token_signed, Some(true));
    assert!(e.query_params.contains(&"X-Amz-Security-Token".to_owned()));

    spec.method = "GET";
    let a = send_wire(&state, &sign_request(&spec)).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // A POST-signed URL sent as GET is a (correct) mismatch: the method is never fixed up.
    spec.method = "POST";
    let mut wire = sign_request(&spec);
    wire.method = "GET".into();
    expect_error(
        &send_wire(&state, &wire).await,
        403,
        "SignatureDoesNotMatch",
    );
}

#[tokio::test]
async fn iam_get_role_returns_the_role_with_path_tags_and_encoded_policy() {
    let state = state();
    let spec = Spec::iam_post(
        creds(WEB_KEY),
        "Action=GetRole&RoleName=web-task&Version=2010-05-08",
    );
    let a = send_wire(&state, &sign_request(&spec)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.starts_with(
        "<GetRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <GetRoleResult>\n    <Role>\n"
    ));
    assert_eq!(a.xml("Path").unwrap(), "/consul-ecs/");
    assert_eq!(a.xml("RoleId").unwrap(), "AROAEXAMPLEWEBTASK001");
    assert_eq!(a.xml("RoleName").unwrap(), "web-task");
    assert_eq!(
        a.xml("Arn").unwrap(),
        "arn:aws:iam::123456789012:role/consul-ecs/web-task"
    );
    assert_eq!(a.xml("CreateDate").unwrap(), "2024-01-01T00:00:00Z");
    assert_eq!(a.xml("MaxSessionDuration").unwrap(), "3600");
    assert!(
        a.xml("AssumeRolePolicyDocument")
            .unwrap()
            .starts_with("%7B%22Version%22%3A%222012-10-17%22")
    );
    assert!(a.body.contains("<Tags>\n        <member>\n          <Key>consul.hashicorp.com.service-name</Key>\n          <Value>web</Value>\n        </member>\n      </Tags>"), "{}", a.body);
    assert_eq!(a.xml("RequestId"), a.request_id);
}

#[tokio::test]
async fn iam_get_user_defaults_to_the_calling_user() {
    let state = state();
    let a = send_wire(
        &state,
        &sign_request(&Spec::iam_post(
            creds(USER_KEY),
            "Action=GetUser&Version=2010-05-08",
        )),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.xml("UserName").unwrap(), "ci-user");
    assert_eq!(a.xml("UserId").unwrap(), "AIDAEXAMPLECIUSER0001");
    assert_eq!(
        a.xml("Arn").unwrap(),
        "arn:aws:iam::123456789012:user/ci-user"
    );

    let a = send_wire(
        &state,
        &sign_request(&Spec::iam_post(
            creds(USER_KEY),
            "Action=GetUser&UserName=deploy-bot&Version=2010-05-08",
        )),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.xml("Arn").unwrap(),
        "arn:aws:iam::123456789012:user/automation/deploy-bot"
    );
}

#[tokio::test]
async fn get_user_without_name_from_a_role_is_a_validation_error() {
    let state = state();
    let a = send_wire(
        &state,
        &sign_request(&Spec::iam_post(
            creds(WEB_KEY),
            "Action=GetUser&Version=2010-05-08",
        )),
    )
    .await;
    expect_error(&a, 400, "ValidationError");
    assert_eq!(
        a.message(),
        "Must specify userName when calling with non-User credentials"
    );
    assert!(a.body.contains("<Type>Sender</Type>"));
}

#[tokio::test]
async fn get_role_without_permission_is_access_denied_with_current_wording() {
    let state = state();
    let a = send_wire(
        &state,
        &sign_request(&Spec::iam_post(
            creds(RESTRICTED_KEY),
            "Action=GetRole&RoleName=restricted-task&Version=2010-05-08",
        )),
    )
    .await;
    expect_error(&a, 403, "AccessDenied");
    assert_eq!(
        a.message(),
        "User: arn:aws:sts::123456789012:assumed-role/restricted-task/task-1 is not authorized to perform: iam:GetRole on resource: role restricted-task because no identity-based policy allows the iam:GetRole action"
    );
    let a = send_wire(
        &state,
        &sign_request(&Spec::iam_post(
            creds(DEPLOY_KEY),
            "Action=GetUser&Version=2010-05-08",
        )),
    )
    .await;
    expect_error(&a, 403, "AccessDenied");
    assert!(
        a.message()
            .contains("iam:GetUser on resource: user deploy-bot")
    );
}

#[tokio::test]
async fn unknown_role_and_user_are_no_such_entity() {
    let state = state();
    let a = send_wire(
        &state,
        &sign_request(&Spec::iam_post(
            creds(WEB_KEY),
            "Action=GetRole&RoleName=nope&Version=2010-05-08",
        )),
    )
    .await;
    expect_error(&a, 404, "NoSuchEntity");
    assert_eq!(a.message(), "The role with name nope cannot be found.");
    let a = send_wire(
        &state,
        &sign_request(&Spec::iam_post(
            creds(USER_KEY),
            "Action=GetUser&UserName=nobody&Version=2010-05-08",
        )),
    )
    .await;
    expect_error(&a, 404, "NoSuchEntity");
    assert_eq!(a.message(), "The user with name nobody cannot be found.");
}

#[tokio::test]
async fn wrong_secret_is_a_mismatch_and_the_journal_shows_the_redacted_canonical_request() {
    let state = state();
    let mut c = creds(WEB_KEY);
    let token = c.token.clone().unwrap();
    c.secret = "wrongwrongwrongwrongwrongwrongwrongwrong".into();
    let spec = Spec::sts_post(c).header("x-consul-iam-serverid", "consul.example.com");
    let a = send_wire(&state, &sign_request(&spec)).await;
    expect_error(&a, 403, "SignatureDoesNotMatch");
    assert!(a.message().starts_with(
        "The request signature we calculated does not match the signature you provided."
    ));
    let e = state.journal().last().unwrap();
    let Verdict::Rejected { check, .. } = &e.verdict else {
        panic!("not rejected: {e:?}");
    };
    assert_eq!(check, "signature");
    let cr = e.canonical_request.clone().unwrap();
    assert!(cr.starts_with("POST\n/\n\n"), "{cr}");
    assert!(cr.contains("x-amz-security-token:<redacted>"), "{cr}");
    assert!(!cr.contains(&token));
    assert!(
        e.string_to_sign
            .as_deref()
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256\n")
    );
    assert_eq!(e.access_key_id.as_deref(), Some(WEB_KEY));
    let sid = e.server_id.clone().unwrap();
    assert_eq!(sid.value, "consul.example.com");
    assert!(sid.signed);
    // What the failed request's auth material shows is journalled too.
    assert_eq!(e.scope.as_ref().unwrap().service, "sts");
    assert_eq!(e.auth_location, Some(AuthLocation::Header));
    assert!(e.signed_headers.iter().any(|h| h == "x-amz-security-token"));
    assert_eq!(e.session_token_signed, Some(true));
    assert_eq!(e.action.as_deref(), Some("GetCallerIdentity"));
    assert!(e.header_names.iter().any(|h| h == "authorization"));
    // Nothing secret anywhere in the JSON journal, nor in the response.
    let json = serde_json::to_string(&state.journal().snapshot(0)).unwrap();
    assert!(!json.contains(&token));
    assert!(!a.body.contains(&token));
    assert!(!json.contains(&creds(WEB_KEY).secret));
}

#[tokio::test]
async fn unknown_key_expired_session_and_bad_token_get_aws_codes() {
    let state = state();
    let mut c = creds(USER_KEY);
    c.akid = "AKIAUNKNOWNKEY000001".into();
    let a = send_wire(&state, &sign_request(&Spec::sts_post(c))).await;
    expect_error(&a, 403, "InvalidClientTokenId");
    assert_eq!(
        a.message(),
        "The security token included in the request is invalid."
    );

    let a = send_wire(&state, &sign_request(&Spec::sts_post(creds(EXPIRED_KEY)))).await;
    expect_error(&a, 403, "ExpiredToken");
    assert_eq!(
        a.message(),
        "The security token included in the request is expired"
    );

    let mut c = creds(WEB_KEY);
    c.token = Some("not-the-token".into());
    let a = send_wire(&state, &sign_request(&Spec::sts_post(c))).await;
    expect_error(&a, 403, "InvalidClientTokenId");
    assert_eq!(
        a.message(),
        "The security token included in the request is invalid"
    );
}

#[tokio::test]
async fn skew_beyond_fifteen_minutes_is_rejected_via_the_clock_offset() {
    let state = state();
    let wire = sign_request(&Spec::sts_post(creds(WEB_KEY)));
    state.clock().set_offset_seconds(16 * 60);
    let a = send_wire(&state, &wire).await;
    expect_error(&a, 403, "SignatureDoesNotMatch");
    assert!(
        a.message().starts_with("Signature expired: "),
        "{}",
        a.message()
    );
    assert!(a.message().ends_with(" - 15 min.)"));
    state.clock().set_offset_seconds(-16 * 60);
    let a = send_wire(&state, &wire).await;
    expect_error(&a, 403, "SignatureDoesNotMatch");
    assert!(a.message().starts_with("Signature not yet current: "));
    state.clock().set_offset_seconds(14 * 60);
    assert_eq!(send_wire(&state, &wire).await.status, 200);
    let Verdict::Rejected { check, .. } = &state.journal().entries()[0].verdict else {
        panic!()
    };
    assert_eq!(check, "skew");
}

#[tokio::test]
async fn strict_region_mode_follows_aws_hosts() {
    let strict = state_with(AwsConfig {
        region_mode: RegionMode::Aws,
        ..AwsConfig::default()
    });
    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.host = "sts.us-west-2.amazonaws.com".into();
    let a = send_wire(&strict, &sign_request(&spec)).await;
    expect_error(&a, 403, "SignatureDoesNotMatch");
    assert_eq!(
        a.message(),
        "Credential should be scoped to a valid region, not 'us-east-1'. "
    );
    spec.region = "us-west-2".into();
    assert_eq!(send_wire(&strict, &sign_request(&spec)).await.status, 200);
    spec.host = "sts.amazonaws.com".into();
    expect_error(
        &send_wire(&strict, &sign_request(&spec)).await,
        403,
        "SignatureDoesNotMatch",
    );

    // IAM: only us-east-1 when strict; any well-formed region when lenient.
    let mut iam = Spec::iam_post(
        creds(WEB_KEY),
        "Action=GetRole&RoleName=web-task&Version=2010-05-08",
    );
    iam.region = "eu-west-1".into();
    let a = send_wire(&strict, &sign_request(&iam)).await;
    assert_eq!(
        a.message(),
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    );
    assert_eq!(send_wire(&state(), &sign_request(&iam)).await.status, 200);
}

#[tokio::test]
async fn version_routing_sets_the_expected_service() {
    let state = state();
    // An STS body signed for the iam service.
    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.service = "iam".into();
    let a = send_wire(&state, &sign_request(&spec)).await;
    expect_error(&a, 403, "SignatureDoesNotMatch");
    assert_eq!(
        a.message(),
        "Credential should be scoped to correct service: 'sts'. "
    );
    // Without Version the scope decides: an IAM-scoped GetRole still works.
    let spec = Spec::iam_post(creds(WEB_KEY), "Action=GetRole&RoleName=web-task");
    let a = send_wire(&state, &sign_request(&spec)).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn prefixes_route_and_a_doubled_prefix_gets_a_hint() {
    let state = state();
    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.path = "/sts/".into();
    let wire = sign_request(&spec);
    assert_eq!(send_wire(&state, &wire).await.status, 200);
    assert!(state.journal().last().unwrap().hint.is_none());

    let a = send_wire(&state, &wire.clone().with_path("/sts/sts/")).await;
    expect_error(&a, 403, "SignatureDoesNotMatch");
    let e = state.journal().last().unwrap();
    assert!(
        e.hint
            .unwrap()
            .contains("repeats the endpoint prefix /sts/")
    );
    assert_eq!(e.path, "/sts/sts/");

    // The /iam/ prefix pins IAM: a GetCallerIdentity there is an unknown operation.
    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.path = "/iam/".into();
    spec.service = "iam".into();
    spec.body = b"Action=GetCallerIdentity".to_vec();
    let a = send_wire(&state, &sign_request(&spec)).await;
    expect_error(&a, 400, "InvalidAction");
    assert_eq!(
        a.message(),
        "Could not find operation GetCallerIdentity for version 2010-05-08"
    );
}

#[tokio::test]
async fn unknown_and_missing_actions() {
    let state = state();
    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.body = b"Action=AssumeRole&Version=2011-06-15".to_vec();
    let a = send_wire(&state, &sign_request(&spec)).await;
    expect_error(&a, 400, "InvalidAction");
    assert_eq!(
        a.message(),
        "Could not find operation AssumeRole for version 2011-06-15"
    );
    assert!(
        a.body
            .contains("xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"")
    );
    spec.body = b"Version=2011-06-15".to_vec();
    expect_error(
        &send_wire(&state, &sign_request(&spec)).await,
        400,
        "MissingAction",
    );
}

#[tokio::test]
async fn bad_input_gets_aws_shaped_errors() {
    let state = state();
    // No authentication at all.
    let req = http::Request::post("/")
        .header("host", "sts.amazonaws.com")
        .header("content-type", FORM)
        .body(axum::body::Body::from(STS_BODY))
        .unwrap();
    let a = send(&state, req).await;
    expect_error(&a, 403, "MissingAuthenticationToken");
    assert_eq!(a.message(), "Request is missing Authentication Token");

    // A malformed Authorization header.
    let wire = sign_request(&Spec::sts_post(creds(WEB_KEY)))
        .set_header("authorization", "AWS4-HMAC-SHA256 Credential=x Signature");
    let a = send_wire(&state, &wire).await;
    expect_error(&a, 400, "IncompleteSignature");

    // Bad escapes and invalid UTF-8 in a form body.
    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.body = b"Action=GetCallerIdentity&Version=2011-06-15&x=%G1".to_vec();
    let a = send_wire(&state, &sign_request(&spec)).await;
    expect_error(&a, 400, "MalformedQueryString");
    assert_eq!(
        a.message(),
        "Illegal hex character in escape % pattern: %G1"
    );
    spec.body = b"Action=GetCallerIdentity&Version=2011-06-15&x=\xff\xfe".to_vec();
    expect_error(
        &send_wire(&state, &sign_request(&spec)).await,
        400,
        "MalformedQueryString",
    );
    spec.body = b"Action=GetCallerIdentity&x=%".to_vec();
    let a = send_wire(&state, &sign_request(&spec)).await;
    assert_eq!(a.message(), "Incomplete trailing escape % sequence");

    // Unsupported method.
    let mut wire = sign_request(&Spec::sts_post(creds(WEB_KEY)));
    wire.method = "PUT".into();
    expect_error(&send_wire(&state, &wire).await, 405, "MethodNotAllowed");
}

#[tokio::test]
async fn oversized_bodies_and_header_sections_are_refused() {
    let state = state();
    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.body = vec![b'a'; 1024 * 1024 + 1];
    let a = send_wire(&state, &sign_request(&spec)).await;
    expect_error(&a, 413, "RequestEntityTooLarge");

    // Without Content-Length the limit on the bytes read applies.
    let body = axum::body::Body::from(vec![b'a'; 1024 * 1024 + 10]);
    let req = http::Request::post("/")
        .header("host", "sts.amazonaws.com")
        .body(body)
        .unwrap();
    expect_error(&send(&state, req).await, 413, "RequestEntityTooLarge");

    // Nor when the bytes come in many frames.
    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.body = vec![b'a'; 1024 * 1024 + 1];
    let wire = sign_request(&spec);
    let a = send(&state, wire.to_request_in_frames(64 * 1024)).await;
    expect_error(&a, 413, "RequestEntityTooLarge");

    let big = "x".repeat(65 * 1024);
    let wire = sign_request(&Spec::sts_post(creds(WEB_KEY))).set_header("x-big", &big);
    let a = send_wire(&state, &wire).await;
    expect_error(&a, 431, "RequestHeaderSectionTooLarge");
    assert_eq!(state.journal().entries().len(), 4);
}

#[tokio::test]
async fn ecs_endpoint_hands_out_session_credentials_only_with_the_grant_token() {
    let state = state();
    let grant = state
        .issue_ecs_grant(ACCOUNT, "web-task", "task-1")
        .unwrap();
    assert_eq!(grant.full_uri, grant.path);
    assert_eq!(format!("{:?}", grant.authorization_token), "<redacted>");
    let get = |auth: Option<&str>| {
        let mut b = http::Request::get(grant.path.as_str()).header("accept", "application/json");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        b.body(Body::empty()).unwrap()
    };
    let a = send(&state, get(Some(grant.authorization_token.expose()))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let web = creds(WEB_KEY);
    assert_eq!(
        v["RoleArn"],
        "arn:aws:iam::123456789012:role/consul-ecs/web-task"
    );
    assert_eq!(v["AccessKeyId"], WEB_KEY);
    assert_eq!(v["SecretAccessKey"], web.secret.as_str());
    assert_eq!(v["Token"], web.token.unwrap().as_str());
    assert_eq!(v["Expiration"], "2099-01-01T00:00:00Z");

    let a = send(&state, get(Some("wrong"))).await;
    assert_eq!(a.status, 403);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["code"], "AccessDenied");
    assert!(v["message"].is_string());
    assert_eq!(send(&state, get(None)).await.status, 401);
    let unknown = http::Request::get("/v2/credentials/nope")
        .header("authorization", "x")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, unknown).await.status, 404);
    // Journaled, without the credentials.
    let json = serde_json::to_string(&state.journal().entries()).unwrap();
    assert!(!json.contains(&web.secret));
    assert!(!json.contains(grant.authorization_token.expose()));
    assert_eq!(state.journal().entries().len(), 4);
    assert!(state.issue_ecs_grant(ACCOUNT, "web-task", "nope").is_err());
}

#[tokio::test]
async fn faults_answer_with_aws_errors_then_stop() {
    let state = state();
    state.faults().push(Fault {
        service: FaultService::Sts,
        response: FaultResponse::Status(503),
        count: 1,
    });
    state.faults().push(Fault {
        service: FaultService::Any,
        response: FaultResponse::Delay(Duration::from_millis(1)),
        count: 1,
    });
    let wire = sign_request(&Spec::sts_post(creds(WEB_KEY)));
    let a = send_wire(&state, &wire).await;
    expect_error(&a, 503, "ServiceUnavailable");
    assert!(a.body.contains("<Type>Receiver</Type>"));
    assert_eq!(send_wire(&state, &wire).await.status, 200);
    assert_eq!(send_wire(&state, &wire).await.status, 200);
    let e = state.journal().entries();
    assert_eq!(e[0].fault.as_deref(), Some("status 503"));
    assert_eq!(e[1].fault.as_deref(), Some("delay 1ms"));
    assert_eq!(e[2].fault, None);

    // Over the admin API.
    let post = |body: &str| {
        http::Request::post("/_iamconform/faults")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };
    assert_eq!(
        send(&state, post(r#"{"service":"iam","status":429,"count":2}"#))
            .await
            .status,
        201
    );
    assert_eq!(send(&state, post(r#"{"service":"iam"}"#)).await.status, 400);
    let iam = sign_request(&Spec::iam_post(
        creds(WEB_KEY),
        "Action=GetRole&RoleName=web-task&Version=2010-05-08",
    ));
    expect_error(&send_wire(&state, &iam).await, 429, "Throttling");
    assert_eq!(send_wire(&state, &wire).await.status, 200);
    expect_error(&send_wire(&state, &iam).await, 429, "Throttling");
    assert_eq!(send_wire(&state, &iam).await.status, 200);
}

#[tokio::test]
async fn journal_records_consul_headers_and_is_served_as_json() {
    let state = state();
    let spec = Spec::sts_post(creds(WEB_KEY))
        .header("x-consul-iam-serverid", "consul.internal")
        .header("x-consul-iam-getentity-method", "POST")
        .header("x-consul-iam-getentity-url", "https://iam.amazonaws.com/")
        .header(
            "x-consul-iam-getentity-body",
            "Action=GetRole&RoleName=web-task&Version=2010-05-08",
        );
    let a = send_wire(&state, &sign_request(&spec)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(state.journal().wait_for_seq(1).await, 1);
    let e = state.journal().last().unwrap();
    assert_eq!(e.seq, 1);
    assert_eq!(e.action.as_deref(), Some("GetCallerIdentity"));
    assert_eq!(e.method, "POST");
    assert_eq!(e.host.as_deref(), Some("sts.us-east-1.amazonaws.com"));
    assert_eq!(e.scope.as_ref().unwrap().region, "us-east-1");
    assert_eq!(e.scope.as_ref().unwrap().service, "sts");
    assert_eq!(
        e.caller_arn.as_deref(),
        Some("arn:aws:sts::123456789012:assumed-role/web-task/task-1")
    );
    assert!(
        e.signed_headers
            .contains(&"x-consul-iam-serverid".to_owned())
    );
    assert!(e.server_id.unwrap().signed);
    assert_eq!(
        e.get_entity_headers,
        [
            "x-consul-iam-getentity-method",
            "x-consul-iam-getentity-url",
            "x-consul-iam-getentity-body"
        ]
    );
    assert_eq!(
        e.get_entity_body.as_deref(),
        Some("Action=GetRole&RoleName=web-task&Version=2010-05-08")
    );
    assert!(e.header_names.contains(&"authorization".to_owned()));
    assert_eq!(e.request_id, a.request_id.unwrap());

    let a = send(
        &state,
        http::Request::get("/_iamconform/journal?since=0")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["last_seq"], 1);
    assert_eq!(v["dropped"], 0);
    assert_eq!(v["capacity"], 100_000);
    assert_eq!(v["entries"][0]["verdict"]["outcome"], "accepted");
    assert_eq!(v["entries"][0]["auth_location"], "header");
    assert!(!a.body.contains(&creds(WEB_KEY).token.unwrap()));
    // The admin request itself is not journaled.
    assert_eq!(state.journal().last_seq(), 1);
}

#[tokio::test]
async fn clock_admin_endpoint_sets_the_offset() {
    let state = state();
    let a = send(
        &state,
        http::Request::put("/_iamconform/clock")
            .body(Body::from(r#"{"offset_seconds": -960}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(state.clock().offset_seconds(), -960);
    let a = send(
        &state,
        http::Request::get("/_iamconform/clock")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["offset_seconds"], -960);
    let a = send(
        &state,
        http::Request::put("/_iamconform/clock")
            .body(Body::from("nope"))
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn identities_can_be_overridden_at_run_time() {
    let state = state();
    let yaml = r#"
accounts:
  "123456789012":
    roles:
      - name: restricted-task
        path: /consul-ecs/
        allow: [iam:GetRole]
        sessions:
          - name: task-1
            access_key_id: ASIAEXAMPLERESTRICT1
            secret_access_key: "newsecretnewsecretnewsecretnewsecret0000"
            session_token: "newtoken"
            expires: 2099-01-01T00:00:00Z
"#;
    let a = send(
        &state,
        http::Request::post("/_iamconform/identities")
            .body(Body::from(yaml))
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let mut c = creds(RESTRICTED_KEY);
    c.secret = "newsecretnewsecretnewsecretnewsecret0000".into();
    c.token = Some("newtoken".into());
    let a = send_wire(
        &state,
        &sign_request(&Spec::iam_post(
            c,
            "Action=GetRole&RoleName=restricted-task&Version=2010-05-08",
        )),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let bad = send(
        &state,
        http::Request::post("/_iamconform/identities")
            .body(Body::from(
                "accounts:\n  \"123456789012\":\n    roles:\n      - nam: x\n",
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("<request body>:4:"), "{}", bad.body);
}

#[tokio::test]
async fn real_socket_serves_sts_and_ecs_and_shuts_down() {
    use http_body_util::BodyExt;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let running = iamconform_aws::bind(state(), iamconform_aws::DEFAULT_ADDR)
        .await
        .unwrap();
    assert!(running.addr.ip().is_loopback());
    let base = running.base_url();
    let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build_http();

    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.host = running.addr.to_string();
    let wire = sign_request(&spec);
    let mut req = wire.to_request();
    *req.uri_mut() = format!("{base}/").parse().unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/xml");
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("assumed-role/web-task/task-1"));

    let grant = running
        .state
        .issue_ecs_grant(ACCOUNT, "api-task", "task-1")
        .unwrap();
    assert_eq!(grant.full_uri, format!("{base}{}", grant.path));
    let req = http::Request::get(grant.full_uri.as_str())
        .header("authorization", grant.authorization_token.expose().as_str())
        .body(Body::empty())
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    drop(client);
    running.shutdown().await.unwrap();
}

#[tokio::test]
async fn checks_run_in_aws_order_when_several_fail() {
    let state = state();
    // Wrong secret and an unknown action: authentication comes first (steps 16 before 17).
    let mut c = creds(WEB_KEY);
    c.secret = "wrongwrongwrongwrongwrongwrongwrongwrong".into();
    let mut spec = Spec::sts_post(c);
    spec.body = b"Action=AssumeRole&Version=2011-06-15".to_vec();
    expect_error(
        &send_wire(&state, &sign_request(&spec)).await,
        403,
        "SignatureDoesNotMatch",
    );
    // Expired session and skewed clock: the skew (steps 10-11) is found before the token (14).
    state.clock().set_offset_seconds(20 * 60);
    let a = send_wire(&state, &sign_request(&Spec::sts_post(creds(EXPIRED_KEY)))).await;
    assert!(a.message().starts_with("Signature expired"), "{a:?}");
    state.clock().set_offset_seconds(0);
    // No permission and no such role: authorisation (18) before existence.
    let a = send_wire(
        &state,
        &sign_request(&Spec::iam_post(
            creds(RESTRICTED_KEY),
            "Action=GetRole&RoleName=nope&Version=2010-05-08",
        )),
    )
    .await;
    expect_error(&a, 403, "AccessDenied");
    // A malformed body is reported before authentication.
    let mut spec = Spec::sts_post(creds(WEB_KEY));
    spec.body = b"Action=GetCallerIdentity&x=%zz".to_vec();
    let wire = sign_request(&spec).set_header("authorization", "garbage");
    expect_error(&send_wire(&state, &wire).await, 400, "MalformedQueryString");
}

#[test]
fn shipped_fixtures_cover_the_ecs_setup() {
    let store = iamconform_aws::IdentityStore::shipped().unwrap();
    let role = |name: &str| store.find_role(ACCOUNT, name).unwrap().clone();
    let tag = |r: &iamconform_aws::Role, k: &str| {
        r.tags
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let web = role("web-task");
    assert_eq!(web.path, "/consul-ecs/");
    assert_eq!(
        tag(&web, "consul.hashicorp.com.service-name").as_deref(),
        Some("web")
    );
    let api = role("api-task");
    assert!(tag(&api, "consul.hashicorp.com.namespace").is_some());
    let gw = role("mesh-gateway-task");
    assert_eq!(
        tag(&gw, "consul.hashicorp.com.gateway-kind").as_deref(),
        Some("mesh-gateway")
    );
    assert!(store.find_role(ACCOUNT, "consul-ecs-client").is_some());
    assert!(role("restricted-task").allow.is_empty());
    assert!(tag(&role("untagged-task"), "consul.hashicorp.com.service-name").is_none());
    assert!(store.find_role("210987654321", "web-task").is_some());
    for akid in [WEB_KEY, USER_KEY, RESTRICTED_KEY, DEPLOY_KEY] {
        let c = creds(akid);
        assert_eq!(c.secret.len(), 40, "{akid}");
    }
    assert!(creds(WEB_KEY).token.unwrap().len() > 300);
}

#[tokio::test]
async fn a_body_in_several_frames_is_verified_whole() {
    let state = state();
    let wire = sign_request(&Spec::sts_post(creds(WEB_KEY)));
    for size in [1, 7, wire.body.len()] {
        let a = send(&state, wire.to_request_in_frames(size)).await;
        assert_eq!(a.status, 200, "frames of {size}: {}", a.body);
        assert!(a.xml("Arn").is_some(), "{}", a.body);
    }
}
