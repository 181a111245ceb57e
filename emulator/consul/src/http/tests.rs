//! Router tests without a socket: every endpoint's success and error paths.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use http_body_util::BodyExt;
use iamconform_secret::Secret;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::config::{AuditConfig, ConsulConfig, ConsulState};

const MGMT: &str = "5c6ce0e2-9a2c-4c37-8a44-0c8a7f1d2b3e";

fn state(enterprise: bool) -> ConsulState {
    ConsulState::new(ConsulConfig {
        enterprise,
        initial_management_token: Some(Secret::new(MGMT.to_string())),
        ..ConsulConfig::default()
    })
    .unwrap()
}

fn app(enterprise: bool) -> Router {
    super::router(state(enterprise))
}

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Resp {
    call_h(app, method, uri, token, body, &[]).await
}

async fn call_h(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("X-Consul-Token", t);
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b
        .body(body.map_or_else(Body::empty, |s| Body::from(s.to_string())))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Resp {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

const METHOD: &str = r#"{"Name":"iam","Type":"aws-iam","Config":{"BoundIAMPrincipalARNs":["arn:aws:iam::123456789012:role/consul-ecs/*"],"EnableIAMEntityDetails":true,"IAMEntityTags":["service-name"]}}"#;

#[tokio::test]
async fn bootstrap_once_then_denied() {
    let app = super::router(ConsulState::new(ConsulConfig::default()).unwrap());
    let r = call(&app, "PUT", "/v1/acl/bootstrap", None, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["ID"], v["SecretID"]);
    assert_eq!(r.headers["content-type"], "application/json");
    let r = call(&app, "PUT", "/v1/acl/bootstrap", None, None).await;
    assert_eq!(r.status, 403);
    assert!(
        r.body
            .starts_with("Permission denied: ACL bootstrap no longer allowed (reset index: "),
        "{}",
        r.body
    );
    let r = call(
        &app,
        "PUT",
        "/v1/acl/bootstrap",
        None,
        Some(r#"{"Bogus":1}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Request decoding failed: json: unknown field \"Bogus\""
        )
    );
}

#[tokio::test]
async fn bootstrap_with_secret_uses_it() {
    let app = super::router(ConsulState::new(ConsulConfig::default()).unwrap());
    let secret = "8d6b3a3e-2c1f-4d7a-9a5e-3f2b1c0d9e8f";
    let r = call(
        &app,
        "PUT",
        "/v1/acl/bootstrap",
        None,
        Some(&format!(r#"{{"BootstrapSecret":"{secret}"}}"#)),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["SecretID"], secret);
    assert_eq!(
        call(&app, "GET", "/v1/acl/token/self", Some(secret), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn policy_crud_and_errors() {
    let app = app(false);
    let t = Some(MGMT);
    let r = call(
        &app,
        "PUT",
        "/v1/acl/policy",
        t,
        Some(r#"{"Name":"p1","Rules":"acl = \"read\"","Description":"d"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    let id = p["ID"].as_str().unwrap().to_string();
    assert_eq!(p["Name"], "p1");
    assert!(p["Hash"].is_string());
    let r = call(&app, "GET", &format!("/v1/acl/policy/{id}"), t, None).await;
    assert_eq!(r.json()["Name"], "p1");
    assert!(r.headers.contains_key("x-consul-index"));
    let r = call(&app, "GET", "/v1/acl/policy/name/p1", t, None).await;
    assert_eq!(r.json()["ID"], id.as_str());
    let r = call(&app, "GET", "/v1/acl/policies", t, None).await;
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(list[0].get("Rules").is_none());
    let r = call(
        &app,
        "PUT",
        &format!("/v1/acl/policy/{id}"),
        t,
        Some(r#"{"ID":"other","Name":"p1"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Policy ID in URL and payload do not match")
    );
    let r = call(
        &app,
        "PUT",
        &format!("/v1/acl/policy/{id}"),
        t,
        Some(r#"{"Name":"p2"}"#),
    )
    .await;
    assert_eq!(r.json()["Name"], "p2");
    let r = call(
        &app,
        "PUT",
        "/v1/acl/policy",
        t,
        Some(r#"{"ID":"x","Name":"p3"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Cannot specify the ID when creating a new policy")
    );
    let r = call(
        &app,
        "PUT",
        "/v1/acl/policy",
        t,
        Some(r#"{"Name":"p3","Foo":1}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Policy decoding failed: json: unknown field \"Foo\"")
    );
    let r = call(&app, "PUT", "/v1/acl/policy", t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Policy decoding failed: EOF")
    );
    let r = call(&app, "PUT", "/v1/acl/policy", t, Some(r#"{"Name":""}"#)).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "Invalid Policy: no Name is set")
    );
    let r = call(&app, "DELETE", &format!("/v1/acl/policy/{id}"), t, None).await;
    assert_eq!((r.status, r.body.as_str()), (200, "true"));
    let r = call(&app, "GET", &format!("/v1/acl/policy/{id}"), t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Requested policy does not exist: ACL not found")
    );
    let r = call(&app, "GET", "/v1/acl/policy/", t, None).await;
    assert_eq!((r.status, r.body.as_str()), (400, "Missing policy ID"));
}

#[tokio::test]
async fn permission_errors() {
    let app = app(false);
    let r = call(&app, "GET", "/v1/acl/policies", None, None).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        "Permission denied: anonymous token lacks permission 'acl:read'. The anonymous token is used implicitly when a request does not specify a token."
    );
    let r = call(
        &app,
        "GET",
        "/v1/acl/policies",
        Some("00000000-dead-beef-0000-000000000000"),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    // A delete with an unknown request token reads as "not found" (Consul's substring check).
    let r = call(
        &app,
        "DELETE",
        "/v1/acl/token/3b1e0f1a-1111-2222-3333-444444444444",
        Some("bogus"),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Cannot find token to delete")
    );
    // A read-only token may read but not write.
    let r = call(
        &app,
        "PUT",
        "/v1/acl/policy",
        Some(MGMT),
        Some(r#"{"Name":"ro","Rules":"acl = \"read\""}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        &app,
        "PUT",
        "/v1/acl/token",
        Some(MGMT),
        Some(r#"{"Policies":[{"Name":"ro"}]}"#),
    )
    .await;
    let tok = r.json();
    let secret = tok["SecretID"].as_str().unwrap();
    assert_eq!(
        call(&app, "GET", "/v1/acl/policies", Some(secret), None)
            .await
            .status,
        200
    );
    let r = call(
        &app,
        "PUT",
        "/v1/acl/policy",
        Some(secret),
        Some(r#"{"Name":"x"}"#),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body,
        format!(
            "Permission denied: token with AccessorID '{}' lacks permission 'acl:write'",
            tok["AccessorID"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn token_sources_in_consul_order() {
    let app = app(false);
    let r = call_h(
        &app,
        "GET",
        "/v1/acl/token/self",
        None,
        None,
        &[("Authorization", format!("Bearer {MGMT}").as_str())],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = call(
        &app,
        "GET",
        &format!("/v1/acl/token/self?token={MGMT}"),
        Some("bogus"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "?token= wins over the header");
    let r = call(&app, "GET", "/v1/acl/token/self", None, None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
}

#[tokio::test]
async fn role_crud() {
    let app = app(false);
    let t = Some(MGMT);
    call(&app, "PUT", "/v1/acl/policy", t, Some(r#"{"Name":"p1"}"#)).await;
    let r = call(
        &app,
        "PUT",
        "/v1/acl/role",
        t,
        Some(r#"{"Name":"r1","Policies":[{"Name":"p1"}],"NodeIdentities":[{"NodeName":"n1","Datacenter":"dc1"}]}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let role = r.json();
    let id = role["ID"].as_str().unwrap().to_string();
    assert_eq!(role["Policies"][0]["Name"], "p1");
    assert_eq!(
        call(&app, "GET", "/v1/acl/role/name/r1", t, None)
            .await
            .json()["ID"],
        id.as_str()
    );
    assert_eq!(
        call(&app, "GET", &format!("/v1/acl/role/{id}"), t, None)
            .await
            .json()["Name"],
        "r1"
    );
    assert_eq!(
        call(&app, "GET", "/v1/acl/roles", t, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let pid = role["Policies"][0]["ID"].as_str().unwrap();
    assert_eq!(
        call(&app, "GET", &format!("/v1/acl/roles?policy={pid}"), t, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = call(
        &app,
        "PUT",
        "/v1/acl/role",
        t,
        Some(r#"{"ID":"abc","Name":"r2"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Role ID in URL and payload do not match")
    );
    let r = call(
        &app,
        "PUT",
        "/v1/acl/role",
        t,
        Some(r#"{"Name":"r2","Policies":[{"ID":1}]}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Role decoding failed: json: cannot unmarshal number into Go struct field ACLRole.Policies.ID of type string"
        )
    );
    let r = call(
        &app,
        "PUT",
        &format!("/v1/acl/role/{id}"),
        t,
        Some(r#"{"Name":"r1-renamed"}"#),
    )
    .await;
    assert_eq!(r.json()["Name"], "r1-renamed");
    assert_eq!(
        call(&app, "DELETE", &format!("/v1/acl/role/{id}"), t, None)
            .await
            .body,
        "true"
    );
    let r = call(&app, "GET", "/v1/acl/role/name/r1", t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Requested role does not exist: ACL not found")
    );
}

#[tokio::test]
async fn token_crud_and_self() {
    let app = app(false);
    let t = Some(MGMT);
    let r = call(&app, "PUT", "/v1/acl/token", t, Some(r#"{"Description":"svc","ServiceIdentities":[{"ServiceName":"web"}],"ExpirationTTL":"10m"}"#)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tok = r.json();
    let accessor = tok["AccessorID"].as_str().unwrap().to_string();
    let secret = tok["SecretID"].as_str().unwrap().to_string();
    assert_eq!(tok["ServiceIdentities"], json!([{"ServiceName": "web"}]));
    assert_eq!(tok["Local"], false);
    assert!(tok["ExpirationTime"].is_string());
    let r = call(&app, "GET", &format!("/v1/acl/token/{accessor}"), t, None).await;
    assert_eq!(r.json()["Description"], "svc");
    let r = call(&app, "GET", "/v1/acl/token/self", Some(&secret), None).await;
    assert_eq!(r.json()["AccessorID"], accessor.as_str());
    let r = call(&app, "GET", "/v1/acl/tokens?servicename=web", t, None).await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = call(
        &app,
        "PUT",
        &format!("/v1/acl/token/{accessor}"),
        t,
        Some(r#"{"AccessorID":"other"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Token Accessor ID in URL and payload do not match")
    );
    let r = call(
        &app,
        "PUT",
        &format!("/v1/acl/token/{accessor}"),
        t,
        Some(r#"{"Description":"new"}"#),
    )
    .await;
    assert_eq!(r.json()["Description"], "new");
    let r = call(
        &app,
        "PUT",
        "/v1/acl/token",
        t,
        Some(r#"{"ExpirationTTL":"abc"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Token decoding failed: time: invalid duration \"abc\"")
    );
    assert_eq!(
        call(
            &app,
            "DELETE",
            &format!("/v1/acl/token/{accessor}"),
            t,
            None
        )
        .await
        .body,
        "true"
    );
    let r = call(&app, "GET", &format!("/v1/acl/token/{accessor}"), t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Requested token does not exist: ACL not found")
    );
    let r = call(&app, "GET", "/v1/acl/token/self", Some(&secret), None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    let r = call(&app, "GET", "/v1/acl/tokens?authmethod-ns=x", t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Invalid query parameter: \"authmethod-ns\" - Namespaces are a Consul Enterprise feature"
        )
    );
}

#[tokio::test]
async fn auth_method_and_binding_rule_crud() {
    let app = app(false);
    let t = Some(MGMT);
    let r = call(&app, "PUT", "/v1/acl/auth-method", t, Some(METHOD)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["Config"]["IAMEntityTags"], json!(["service-name"]));
    let r = call(
        &app,
        "PUT",
        "/v1/acl/auth-method/iam",
        t,
        Some(r#"{"Name":"other"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "AuthMethod Name in URL and payload do not match")
    );
    let r = call(&app, "PUT", "/v1/acl/auth-method/iam", t, Some(r#"{"MaxTokenTTL":"5m","Config":{"BoundIAMPrincipalARNs":["arn:aws:iam::123456789012:role/consul-ecs/*"],"EnableIAMEntityDetails":true,"IAMEntityTags":["service-name"]}}"#)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["MaxTokenTTL"], "5m0s");
    assert_eq!(r.json()["Type"], "aws-iam");
    let r = call(&app, "GET", "/v1/acl/auth-methods", t, None).await;
    let list = r.json();
    assert_eq!(list[0]["Name"], "iam");
    assert!(list[0].get("Config").is_none());
    let r = call(
        &app,
        "PUT",
        "/v1/acl/auth-method",
        t,
        Some(r#"{"Name":"bad","Type":"aws-iam","Config":{}}"#),
    )
    .await;
    assert_eq!(r.status, 500);
    assert!(r.body.starts_with("Invalid Auth Method: "), "{}", r.body);
    let r = call(&app, "GET", "/v1/acl/auth-method/nope", t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Requested auth method does not exist: ACL not found")
    );
    let r = call(&app, "GET", "/v1/acl/auth-method/", t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Missing auth method name")
    );

    let r = call(
        &app,
        "PUT",
        "/v1/acl/binding-rule",
        t,
        Some(
            r#"{"AuthMethod":"iam","BindType":"service","BindName":"${entity_tags.service-name}"}"#,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rule = r.json();
    let id = rule["ID"].as_str().unwrap().to_string();
    assert_eq!(rule["Selector"], "");
    assert_eq!(
        call(&app, "GET", &format!("/v1/acl/binding-rule/{id}"), t, None)
            .await
            .json()["BindType"],
        "service"
    );
    assert_eq!(
        call(&app, "GET", "/v1/acl/binding-rules?authmethod=iam", t, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        call(&app, "GET", "/v1/acl/binding-rules?authmethod=x", t, None)
            .await
            .json(),
        json!([])
    );
    let r = call(
        &app,
        "PUT",
        "/v1/acl/binding-rule",
        t,
        Some(r#"{"ID":"x","AuthMethod":"iam"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "BindingRule ID in URL and payload do not match")
    );
    let r = call(
        &app,
        "PUT",
        "/v1/acl/binding-rule",
        t,
        Some(r#"{"AuthMethod":"iam","BindType":"service","BindName":"Web"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            500,
            "Invalid Binding Rule: invalid BindName: failed to validate bindType \"service\": invalid bind name: \"Web\""
        )
    );
    let r = call(
        &app,
        "PUT",
        &format!("/v1/acl/binding-rule/{id}"),
        t,
        Some(r#"{"BindType":"node","BindName":"n"}"#),
    )
    .await;
    assert_eq!(r.json()["AuthMethod"], "iam");
    // Deleting the method deletes its rules.
    assert_eq!(
        call(&app, "DELETE", "/v1/acl/auth-method/iam", t, None)
            .await
            .body,
        "true"
    );
    let r = call(&app, "GET", &format!("/v1/acl/binding-rule/{id}"), t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (404, "Requested binding rule does not exist: ACL not found")
    );
    assert_eq!(
        call(
            &app,
            "DELETE",
            &format!("/v1/acl/binding-rule/{id}"),
            t,
            None
        )
        .await
        .body,
        "true"
    );
}

#[tokio::test]
async fn wrong_methods_get_405_with_allow() {
    let app = app(false);
    let r = call(&app, "GET", "/v1/acl/policy", Some(MGMT), None).await;
    assert_eq!((r.status, r.body.as_str()), (405, "method GET not allowed"));
    assert_eq!(r.headers["allow"], "OPTIONS,PUT");
    let r = call(&app, "GET", "/v1/acl/login", None, None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.headers["allow"], "OPTIONS,POST");
    let r = call(&app, "POST", "/v1/acl/token/self", None, None).await;
    assert_eq!(r.status, 405);
    let r = call(&app, "OPTIONS", "/v1/acl/token/abc", None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["allow"], "OPTIONS,GET,PUT,DELETE");
    assert_eq!(call(&app, "GET", "/v1/kv/x", None, None).await.status, 404);
}

#[tokio::test]
async fn ce_rejects_enterprise_inputs() {
    let app = app(false);
    let t = Some(MGMT);
    let r = call(&app, "GET", "/v1/acl/policies?ns=x", t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Invalid query parameter: \"ns\" - Namespaces are a Consul Enterprise feature"
        )
    );
    let r = call_h(
        &app,
        "GET",
        "/v1/acl/policies",
        t,
        None,
        &[("X-Consul-Namespace", "x")],
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Invalid header: \"X-Consul-Namespace\" - Namespaces are a Consul Enterprise feature"
        )
    );
    let r = call(&app, "GET", "/v1/acl/policies?partition=x", t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Invalid query parameter: \"partition\" - Partitions are a Consul Enterprise feature"
        )
    );
    let r = call_h(
        &app,
        "GET",
        "/v1/acl/roles",
        t,
        None,
        &[("X-Consul-Partition", "x")],
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Invalid header: \"X-Consul-Partition\" - Partitions are a Consul Enterprise feature"
        )
    );
    let r = call(
        &app,
        "PUT",
        "/v1/acl/policy",
        t,
        Some(r#"{"Name":"p","Namespace":"x"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Policy decoding failed: json: unknown field \"Namespace\" - Namespaces are a Consul Enterprise feature"
        )
    );
    let r = call(
        &app,
        "POST",
        "/v1/acl/login",
        None,
        Some(r#"{"AuthMethod":"x","BearerToken":"y","Partition":"p"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "Failed to decode request body: json: unknown field \"Partition\""
        )
    );
    // CE has no namespace endpoints.
    assert_eq!(
        call(&app, "GET", "/v1/namespaces", t, None).await.status,
        404
    );
    // Checks of the URL come before the body.
    let r = call(&app, "PUT", "/v1/acl/policy?ns=x", t, Some("{bad")).await;
    assert_eq!(r.status, 400);
    assert!(r.body.starts_with("Invalid query parameter"));
}

#[tokio::test]
async fn pretty_and_go_escaping() {
    let app = app(false);
    let r = call(
        &app,
        "PUT",
        "/v1/acl/policy?pretty",
        Some(MGMT),
        Some(r#"{"Name":"p","Description":"a<b>&c"}"#),
    )
    .await;
    assert!(r.body.starts_with("{\n    \"ID\": "), "{}", r.body);
    assert!(r.body.ends_with("}\n"));
    assert!(r.body.contains(r#""a\u003cb\u003e\u0026c""#));
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let app = app(false);
    let big = format!(
        r#"{{"Name":"p","Description":"{}"}}"#,
        "x".repeat(super::extract::MAX_BODY + 1)
    );
    let r = call(&app, "PUT", "/v1/acl/policy", Some(MGMT), Some(&big)).await;
    assert_eq!(r.status, 413);
}

#[tokio::test]
async fn login_and_logout_errors() {
    let app = app(false);
    let r = call(
        &app,
        "POST",
        "/v1/acl/login",
        None,
        Some(r#"{"AuthMethod":"nope","BearerToken":"x"}"#),
    )
    .await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "ACL not found: auth method \"nope\" not found")
    );
    let r = call(&app, "POST", "/v1/acl/login", None, Some("{")).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (400, "Failed to decode request body: unexpected EOF")
    );
    let r = call(
        &app,
        "POST",
        "/v1/acl/login",
        None,
        Some(r#"{"AuthMethod":"x","Meta":{"a":1}}"#),
    )
    .await;
    assert_eq!(r.status, 400);
    call(&app, "PUT", "/v1/acl/auth-method", Some(MGMT), Some(METHOD)).await;
    let r = call(
        &app,
        "POST",
        "/v1/acl/login",
        None,
        Some(r#"{"AuthMethod":"iam","BearerToken":"invalid"}"#),
    )
    .await;
    assert_eq!(r.status, 500);
    assert!(r.body.starts_with("invalid token"), "{}", r.body);
    let r = call(
        &app,
        "POST",
        "/v1/acl/login?dc=dc9",
        None,
        Some(r#"{"AuthMethod":"iam","BearerToken":"x"}"#),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (500, "No path to datacenter"));

    let r = call(&app, "POST", "/v1/acl/logout", None, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (401, "Supplied token does not exist")
    );
    let r = call(
        &app,
        "POST",
        "/v1/acl/logout",
        Some("3b1e0f1a-1111-2222-3333-444444444444"),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    let r = call(&app, "POST", "/v1/acl/logout", Some(MGMT), None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "Permission denied: token wasn't created via login")
    );
}

#[tokio::test]
async fn readiness_endpoints() {
    let app = app(false);
    let r = call(&app, "GET", "/v1/status/leader", None, None).await;
    assert_eq!((r.status, r.body.as_str()), (200, "\"127.0.0.1:8300\""));
    let r = call(&app, "GET", "/v1/agent/self", None, None).await;
    assert_eq!(r.json()["Config"]["Datacenter"], "dc1");
}

#[tokio::test]
async fn enterprise_namespaces_and_scoping() {
    let app = app(true);
    let t = Some(MGMT);
    let r = call(
        &app,
        "PUT",
        "/v1/namespace",
        t,
        Some(r#"{"Name":"team-a","Description":"A"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["Partition"], "default");
    assert_eq!(
        call(&app, "GET", "/v1/namespace/team-a", t, None)
            .await
            .json()["Description"],
        "A"
    );
    assert_eq!(
        call(&app, "GET", "/v1/namespaces", t, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        call(&app, "GET", "/v1/namespace/nope", t, None)
            .await
            .status,
        404
    );
    // Body Namespace wins over ?ns=, which wins over the header.
    let r = call_h(
        &app,
        "PUT",
        "/v1/acl/policy?ns=default",
        t,
        Some(r#"{"Name":"p","Namespace":"team-a"}"#),
        &[("X-Consul-Namespace", "default")],
    )
    .await;
    assert_eq!(r.json()["Namespace"], "team-a");
    let r = call_h(
        &app,
        "PUT",
        "/v1/acl/policy?ns=team-a",
        t,
        Some(r#"{"Name":"q"}"#),
        &[("X-Consul-Namespace", "default")],
    )
    .await;
    assert_eq!(r.json()["Namespace"], "team-a");
    let r = call(&app, "GET", "/v1/acl/policy/name/p", t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            404,
            "Requested policy not found in namespace default: ACL not found"
        )
    );
    assert_eq!(
        call(&app, "GET", "/v1/acl/policy/name/p?ns=team-a", t, None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&app, "GET", "/v1/acl/policies?ns=*", t, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let r = call(&app, "GET", "/v1/acl/policies?ns=nope", t, None).await;
    assert_eq!(r.status, 500);
    let r = call(&app, "GET", "/v1/acl/token/self", t, None).await;
    assert_eq!(r.json()["Namespace"], "default");
    // Admin partitions: create, list, then scope objects to one.
    let r = call(
        &app,
        "PUT",
        "/v1/partition",
        t,
        Some(r#"{"Name":"part-1"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        call(&app, "GET", "/v1/partitions", t, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = call(&app, "GET", "/v1/acl/policies?partition=nope", t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "Partition \"nope\" does not exist")
    );
    assert_eq!(
        call(&app, "GET", "/v1/acl/policies?partition=part-1", t, None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&app, "DELETE", "/v1/namespace/team-a", t, None)
            .await
            .body,
        "true"
    );
    assert_eq!(
        call(&app, "GET", "/v1/acl/policies?ns=*", t, None)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn audit_log_writes_two_lines_per_request_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let state = ConsulState::new(ConsulConfig {
        enterprise: true,
        initial_management_token: Some(Secret::new(MGMT.to_string())),
        audit: Some(AuditConfig { path: path.clone() }),
        ..ConsulConfig::default()
    })
    .unwrap();
    let app = super::router(state);
    call_h(
        &app,
        "GET",
        &format!("/v1/acl/token/self?token={MGMT}"),
        None,
        None,
        &[("User-Agent", "test/1")],
    )
    .await;
    call(
        &app,
        "POST",
        "/v1/acl/login",
        None,
        Some(r#"{"AuthMethod":"x","BearerToken":"super-secret-bearer"}"#),
    )
    .await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(MGMT));
    assert!(!text.contains("super-secret-bearer"));
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    let (start, done) = (&lines[0], &lines[1]);
    assert_eq!(start["event_type"], "audit");
    assert_eq!(start["payload"]["type"], "HTTPEvent");
    assert_eq!(start["payload"]["version"], "1");
    assert_eq!(start["payload"]["stage"], "OperationStart");
    assert_eq!(done["payload"]["stage"], "OperationComplete");
    assert_eq!(start["payload"]["id"], done["payload"]["id"]);
    assert_eq!(start["payload"]["request"]["operation"], "GET");
    assert_eq!(
        start["payload"]["request"]["endpoint"],
        "/v1/acl/token/self"
    );
    assert_eq!(start["payload"]["request"]["user_agent"], "test/1");
    assert_eq!(
        start["payload"]["auth"]["description"],
        "Initial Management Token"
    );
    assert!(start["payload"].get("response").is_none());
    assert_eq!(done["payload"]["response"]["status"], "200");
    assert_eq!(lines[3]["payload"]["response"]["status"], "403");
    assert_eq!(
        lines[2]["payload"]["auth"]["accessor_id"],
        "00000000-0000-0000-0000-000000000002"
    );
}

#[tokio::test]
async fn audit_is_enterprise_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let state = ConsulState::new(ConsulConfig {
        audit: Some(AuditConfig { path: path.clone() }),
        ..ConsulConfig::default()
    })
    .unwrap();
    assert!(state.audit.is_none());
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_lines_never_interleave_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let state = ConsulState::new(ConsulConfig {
        enterprise: true,
        initial_management_token: Some(Secret::new(MGMT.to_string())),
        audit: Some(AuditConfig { path: path.clone() }),
        ..ConsulConfig::default()
    })
    .unwrap();
    let app = super::router(state);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let body = format!(r#"{{"Name":"p{i}","Description":"{}"}}"#, "x".repeat(2000));
            call(&app, "PUT", "/v1/acl/policy", Some(MGMT), Some(&body))
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let mut ids = std::collections::BTreeMap::<String, usize>::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        *ids.entry(v["payload"]["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(ids.len(), 64);
    assert!(ids.values().all(|n| *n == 2));
}

#[tokio::test]
async fn missing_names_are_400() {
    let app = app(false);
    let r = call(&app, "GET", "/v1/acl/policy/name/", Some(MGMT), None).await;
    assert_eq!((r.status, r.body.as_str()), (400, "Missing policy Name"));
    let r = call(&app, "GET", "/v1/acl/role/name/", Some(MGMT), None).await;
    assert_eq!((r.status, r.body.as_str()), (400, "Missing role Name"));
}

#[tokio::test]
async fn anonymous_token_policy_update_like_consul_ecs() {
    // consul-ecs's controller gives the anonymous token a policy (spec §6.4).
    let app = app(false);
    let t = Some(MGMT);
    let r = call(
        &app,
        "PUT",
        "/v1/acl/policy",
        t,
        Some(r#"{"Name":"anonymous-token-policy","Rules":"acl = \"read\""}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let anon = "00000000-0000-0000-0000-000000000002";
    let body = r#"{"Policies":[{"Name":"anonymous-token-policy"}]}"#;
    let r = call(&app, "PUT", &format!("/v1/acl/token/{anon}"), t, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["Policies"][0]["Name"], "anonymous-token-policy");
    // Requests without a token now read with the anonymous token's policy.
    assert_eq!(
        call(&app, "GET", "/v1/acl/policies", None, None)
            .await
            .status,
        200
    );
    let r = call(&app, "DELETE", &format!("/v1/acl/token/{anon}"), t, None).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "Delete operation not permitted on the anonymous token")
    );
}

#[tokio::test]
async fn token_clone_copies_links_with_new_ids() {
    let app = app(false);
    let t = Some(MGMT);
    let src = call(
        &app,
        "PUT",
        "/v1/acl/token",
        t,
        Some(r#"{"Description":"a","ServiceIdentities":[{"ServiceName":"web"}]}"#),
    )
    .await
    .json();
    let id = src["AccessorID"].as_str().unwrap();
    let r = call(
        &app,
        "PUT",
        &format!("/v1/acl/token/{id}/clone"),
        t,
        Some(r#"{"Description":"b"}"#),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let c = r.json();
    assert_ne!(c["AccessorID"], src["AccessorID"]);
    assert_ne!(c["SecretID"], src["SecretID"]);
    assert_eq!(c["Description"], "b");
    assert_eq!(c["ServiceIdentities"], src["ServiceIdentities"]);
    let r = call(
        &app,
        "PUT",
        "/v1/acl/token/3b1e0f1a-1111-2222-3333-444444444444/clone",
        t,
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
}
