//! Login and logout end to end against loopback stubs; credentials from every source.

use std::sync::Arc;

use iamconform_login::{BearerToken, MapEnv};

use crate::support::*;

/// A stub Consul whose login checks the bearer token the way AWS would check the signature.
async fn verifying_consul(secret: &'static str) -> Stub {
    start(Arc::new(move |r: &Recorded| {
        if !r.uri.starts_with("/v1/acl/login") {
            return (404, "no".to_owned());
        }
        let Ok(body) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
            return (400, "Failed to decode request body".to_owned());
        };
        let Some(Ok(token)) = body["BearerToken"].as_str().map(BearerToken::parse) else {
            return (500, "bad token".to_owned());
        };
        if let Err(e) = verify_sigv4(&token, secret) {
            return (500, e);
        }
        (
            200,
            r#"{"AccessorID":"a-1","SecretID":"secret-1"}"#.to_owned(),
        )
    }))
    .await
}

#[tokio::test]
async fn login_writes_the_secret_id_and_nothing_else() {
    let sts = sts(ROLE_ARN).await;
    let consul = verifying_consul(SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("sub/token");
    let sts_url = format!("{}/sts", sts.url());
    let env = MapEnv::new()
        .with("CONSUL_HTTP_TOKEN", "must-not-be-sent")
        .with("CONSUL_HTTP_ADDR", &format!("http://{}", consul.addr));
    let o = login(
        &[
            "-method",
            "iam-ecs",
            "-type",
            "aws",
            "-token-sink-file",
            sink.to_str().unwrap(),
            "-aws-auto-bearer-token",
            "-aws-include-entity",
            "-aws-region",
            "us-east-1",
            "-aws-sts-endpoint",
            &sts_url,
            "-aws-server-id-header-value",
            "consul.example.com",
            "-aws-access-key-id",
            AKID,
            "-aws-secret-access-key",
            SECRET,
            "-aws-session-token",
            SESSION,
            "-meta",
            "b=2",
            "-meta=a=1",
            "-token",
            "also-not-sent",
            "-datacenter",
            "dc1",
        ],
        &env,
    )
    .await;
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
    assert_eq!(std::fs::read(&sink).unwrap(), b"secret-1");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&sink).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let calls = consul.requests();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.uri, "/v1/acl/login?dc=dc1");
    assert!(call.header("x-consul-token").is_none());
    let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert_eq!(body["AuthMethod"], "iam-ecs");
    assert_eq!(body["Meta"], serde_json::json!({"a": "1", "b": "2"}));
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["AuthMethod", "BearerToken", "Meta"]);
    let token = BearerToken::parse(body["BearerToken"].as_str().unwrap()).unwrap();
    assert_eq!(
        embedded(&token).unwrap().body_text(),
        "Action=GetRole&RoleName=web-task&Version=2010-05-08"
    );
}

#[tokio::test]
async fn login_without_meta_omits_it_and_sends_tenancy_query() {
    let consul = consul().await;
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("t");
    let env = MapEnv::new()
        .with("AWS_ACCESS_KEY_ID", "AKIAENV")
        .with("AWS_SECRET_ACCESS_KEY", SECRET)
        .with("AWS_DEFAULT_REGION", "eu-central-1");
    let o = login(
        &[
            "-method",
            "m",
            "-token-sink-file",
            sink.to_str().unwrap(),
            "-aws-auto-bearer-token",
            "-http-addr",
            &consul.addr.to_string(),
            "-namespace",
            "ns1",
            "-partition",
            "p1",
        ],
        &env,
    )
    .await;
    assert_eq!(o.code, 0, "{}", o.stderr);
    let call = &consul.requests()[0];
    assert_eq!(call.uri, "/v1/acl/login?ns=ns1&partition=p1");
    let body: serde_json::Value = serde_json::from_slice(&call.body).unwrap();
    assert!(body.get("Meta").is_none());
    let token = BearerToken::parse(body["BearerToken"].as_str().unwrap()).unwrap();
    assert_eq!(token.url, "https://sts.eu-central-1.amazonaws.com/");
    assert_eq!(scope(&token).0, "AKIAENV");
    verify_sigv4(&token, SECRET).unwrap();
}

#[tokio::test]
async fn consul_errors_are_rendered_like_the_go_api_client() {
    let consul = start(Arc::new(|_r: &Recorded| {
        (
            403,
            "ACL not found: auth method \"nope\" not found\n".to_owned(),
        )
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let bt = dir.path().join("bt");
    std::fs::write(&bt, "tok\n").unwrap();
    let sink = dir.path().join("sink");
    let o = login(
        &[
            "-method",
            "nope",
            "-token-sink-file",
            sink.to_str().unwrap(),
            "-bearer-token-file",
            bt.to_str().unwrap(),
            "-http-addr",
            &consul.url(),
        ],
        &MapEnv::new(),
    )
    .await;
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        "Error logging in: Unexpected response code: 403 (ACL not found: auth method \"nope\" not found)\n"
    );
    assert!(!sink.exists());
    // The file's bearer token is sent trimmed.
    let body: serde_json::Value = serde_json::from_slice(&consul.requests()[0].body).unwrap();
    assert_eq!(body["BearerToken"], "tok");
}

#[tokio::test]
async fn sink_failures_are_reported() {
    let consul = consul().await;
    let dir = tempfile::tempdir().unwrap();
    let bt = dir.path().join("bt");
    std::fs::write(&bt, "tok").unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let sink = blocker.join("token");
    let o = login(
        &[
            "-method",
            "m",
            "-token-sink-file",
            sink.to_str().unwrap(),
            "-bearer-token-file",
            bt.to_str().unwrap(),
            "-http-addr",
            &consul.url(),
        ],
        &MapEnv::new(),
    )
    .await;
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.starts_with(&format!(
            "Error writing token to file sink: mkdir {}",
            blocker.display()
        )),
        "{}",
        o.stderr
    );
}

#[tokio::test]
async fn connection_refused_reads_like_go() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let o = logout(
        &["-http-addr", &addr.to_string(), "-token", "x"],
        &MapEnv::new(),
    )
    .await;
    assert_eq!(o.code, 1);
    assert_eq!(
        o.stderr,
        format!(
            "Error destroying token: Post \"http://{addr}/v1/acl/logout\": dial tcp {addr}: connect: connection refused\n"
        )
    );
}

#[tokio::test]
async fn ecs_container_credentials_sign_the_token() {
    let ecs = start(Arc::new(|r: &Recorded| {
        if r.header("authorization") != Some("ecs-auth-token") {
            return (401, r#"{"code":"AccessDenied","message":"bad token"}"#.to_owned());
        }
        (
            200,
            format!(
                r#"{{"RoleArn":"arn:aws:iam::123456789012:role/web-task","AccessKeyId":"{AKID}","SecretAccessKey":"{SECRET}","Token":"{SESSION}","Expiration":"2099-01-01T00:00:00Z"}}"#
            ),
        )
    }))
    .await;
    let consul = verifying_consul(SECRET).await;
    let dir = tempfile::tempdir().unwrap();
    let sink = dir.path().join("t");
    let token_file = dir.path().join("ecs-token");
    std::fs::write(&token_file, "ecs-auth-token\n").unwrap();
    let full_uri = format!("{}/v2/credentials/abc", ecs.url());
    let base = MapEnv::new()
        .with("AWS_REGION", "us-east-1")
        .with("AWS_CONTAINER_CREDENTIALS_FULL_URI", &full_uri);
    let argv = [
        "-method",
        "m",
        "-token-sink-file",
        sink.to_str().unwrap(),
        "-aws-auto-bearer-token",
        "-http-addr",
        &consul.url(),
    ];

    // The token file wins over the token variable.
    let env = base
        .clone()
        .with("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong")
        .with(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.to_str().unwrap(),
        );
    let o = login(&argv, &env).await;
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    let call = &ecs.requests()[0];
    assert_eq!(call.method, "GET");
    assert_eq!(call.uri, "/v2/credentials/abc");
    assert_eq!(call.header("accept"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&consul.requests()[0].body).unwrap();
    let token = BearerToken::parse(body["BearerToken"].as_str().unwrap()).unwrap();
    assert_eq!(scope(&token).0, AKID);
    assert_eq!(token.header("X-Amz-Security-Token"), Some(SESSION));

    // A rejected fetch is a credentials error.
    let env = base.with("AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong");
    let o = login(&argv, &env).await;
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.starts_with(&format!(
            "Error with aws-iam auth method: AWS credentials not found: failed to load credentials from the container endpoint {full_uri}: status 401"
        )),
        "{}",
        o.stderr
    );
}

#[tokio::test]
async fn logout_sends_the_token_from_each_source() {
    let consul = consul().await;
    let addr = consul.url();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tok");
    std::fs::write(&file, "secret-1\n").unwrap();
    let cases: Vec<(Vec<&str>, MapEnv)> = vec![
        (
            vec!["-http-addr", &addr, "-token", "secret-1"],
            MapEnv::new(),
        ),
        (
            vec!["-http-addr", &addr, "-token-file", file.to_str().unwrap()],
            MapEnv::new(),
        ),
        (
            vec!["-http-addr", &addr],
            MapEnv::new().with("CONSUL_HTTP_TOKEN", "secret-1"),
        ),
        (
            vec!["-http-addr", &addr, "-token", "stale"],
            MapEnv::new().with("CONSUL_HTTP_TOKEN_FILE", file.to_str().unwrap()),
        ),
        (
            vec![],
            MapEnv::new()
                .with("CONSUL_HTTP_ADDR", &addr)
                .with("CONSUL_HTTP_TOKEN", "secret-1"),
        ),
    ];
    for (argv, env) in cases {
        let o = logout(&argv, &env).await;
        assert_eq!(
            (o.code, o.stdout.as_str(), o.stderr.as_str()),
            (0, "", ""),
            "{argv:?}"
        );
    }
    for call in consul.requests() {
        assert_eq!(call.method, "POST");
        assert_eq!(call.uri, "/v1/acl/logout");
        assert_eq!(call.header("x-consul-token"), Some("secret-1"));
    }
}

#[tokio::test]
async fn logout_errors_match_consul_logout() {
    let consul = consul().await;
    let addr = consul.url();
    let o = logout(&["-http-addr", &addr], &MapEnv::new()).await;
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            1,
            "Error destroying token: Unexpected response code: 401 (Supplied token does not exist)\n"
        )
    );
    let o = logout(&["-http-addr", &addr, "-token", "deleted"], &MapEnv::new()).await;
    assert_eq!(
        o.stderr,
        "Error destroying token: Unexpected response code: 403 (ACL not found)\n"
    );
    let o = logout(
        &[
            "-http-addr",
            &addr,
            "-token-file",
            "/nonexistent-iamconform",
        ],
        &MapEnv::new(),
    )
    .await;
    assert_eq!(
        o.stderr,
        "Error connecting to Consul agent: Error loading token file /nonexistent-iamconform : open /nonexistent-iamconform: no such file or directory\n"
    );
    let o = logout(&["-http-addr", &addr, "stray"], &MapEnv::new()).await;
    assert_eq!(o.stderr, "Should have no non-flag arguments.\n");
    let o = logout(&["-method", "m"], &MapEnv::new()).await;
    assert!(
        o.stderr
            .starts_with("flag provided but not defined: -method\n")
    );
}
