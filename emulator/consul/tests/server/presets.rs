use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iamconform_consul::{ConsulState, RunningConsul, Setup, SetupError};
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn consul_ecs_preset_creates_the_documented_objects() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let methods = call(&app, "GET", "/v1/acl/auth-methods", Some(MGMT), None)
        .await
        .json();
    let names: Vec<&str> = methods
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["iam-ecs-client-token", "iam-ecs-service-token"]);
    let m = call(
        &app,
        "GET",
        "/v1/acl/auth-method/iam-ecs-service-token",
        Some(MGMT),
        None,
    )
    .await
    .json();
    assert_eq!(
        m["Config"]["BoundIAMPrincipalARNs"],
        json!(["arn:aws:iam::123456789012:role/consul-ecs/*"])
    );
    assert_eq!(m["Config"]["EnableIAMEntityDetails"], true);
    let rules = call(
        &app,
        "GET",
        "/v1/acl/binding-rules?authmethod=iam-ecs-service-token",
        Some(MGMT),
        None,
    )
    .await
    .json();
    assert_eq!(rules.as_array().unwrap().len(), 4);
    let role = call(
        &app,
        "GET",
        "/v1/acl/role/name/consul-ecs-client-role",
        Some(MGMT),
        None,
    )
    .await
    .json();
    assert_eq!(role["Policies"][0]["Name"], "consul-ecs-client-policy");
}

#[tokio::test]
async fn enterprise_preset_needs_enterprise_mode() {
    let stub = start_stub().await;
    let setup = Setup::from_yaml(include_str!(
        "../../../../fixtures/consul-ecs-enterprise.yaml"
    ))
    .unwrap();
    let ce = ConsulState::new(config(&stub, false)).unwrap();
    let e = ce.apply_setup(&setup).unwrap_err();
    assert_eq!(
        e.to_string(),
        "namespace \"team-a\": Namespaces are a Consul Enterprise feature"
    );
    let ent = ConsulState::new(config(&stub, true)).unwrap();
    ent.apply_setup(&setup).unwrap();
}

#[tokio::test]
async fn setup_errors_name_the_object_and_the_consul_error() {
    let stub = start_stub().await;
    let state = ConsulState::new(config(&stub, false)).unwrap();
    let setup = Setup::from_yaml(
        "auth_methods:\n  - Name: m\n    Type: aws-iam\n    Config: {BoundIAMPrincipalARNs: ['arn:aws:iam::123456789012:role/x']}\nbinding_rules:\n  - {AuthMethod: m, BindType: service, BindName: 'Web'}\n",
    )
    .unwrap();
    let e = state.apply_setup(&setup).unwrap_err();
    assert!(matches!(e, SetupError::Rejected { .. }));
    assert_eq!(
        e.to_string(),
        "binding rule #1 (AuthMethod \"m\", BindType \"service\", BindName \"Web\"): Invalid Binding Rule: invalid BindName: failed to validate bindType \"service\": invalid bind name: \"Web\""
    );
    let e = Setup::from_yaml("policies:\n  - Name: p\n    Bogus: 1\n").unwrap_err();
    assert!(matches!(e, SetupError::Parse(_)), "{e}");
    let e = Setup::from_yaml("unknown_group: []\n").unwrap_err();
    assert!(matches!(e, SetupError::Parse(_)), "{e}");
}

async fn post(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<bytes::Bytes>>,
    url: &str,
    token: Option<&str>,
    body: String,
) -> (u16, String) {
    let mut b = hyper::Request::builder().method("POST").uri(url);
    if let Some(t) = token {
        b = b.header("X-Consul-Token", t);
    }
    let resp = client
        .request(b.body(Full::new(bytes::Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn real_socket_login_and_logout() {
    let stub = start_stub().await;
    let consul = RunningConsul::start(config(&stub, false)).await.unwrap();
    assert!(consul.addr.ip().is_loopback());
    consul
        .state
        .apply_setup(
            &Setup::from_yaml(include_str!("../../../../fixtures/consul-ecs.yaml")).unwrap(),
        )
        .unwrap();
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<bytes::Bytes>>();
    let body = json!({"AuthMethod": "iam-ecs-service-token", "BearerToken": bearer("AKIDWEB")})
        .to_string();
    let (status, text) = post(
        &client,
        &format!("{}/v1/acl/login", consul.url()),
        None,
        body,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    let tok: Value = serde_json::from_str(&text).unwrap();
    let secret = tok["SecretID"].as_str().unwrap();
    let (status, text) = post(
        &client,
        &format!("{}/v1/acl/logout", consul.url()),
        Some(secret),
        String::new(),
    )
    .await;
    assert_eq!((status, text.as_str()), (200, "true"));
    consul.shutdown().await.unwrap();
}
