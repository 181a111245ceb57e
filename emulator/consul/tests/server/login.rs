use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn service_token_carries_the_service_identity_from_the_role_tag() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let meta = json!({"consul.hashicorp.com/task-id": "abcdef", "consul.hashicorp.com/cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/c"});
    let r = login(&app, "iam-ecs-service-token", "AKIDWEB", meta).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tok = r.json();
    assert_eq!(tok["ServiceIdentities"], json!([{"ServiceName": "web"}]));
    assert_eq!(tok["AuthMethod"], "iam-ecs-service-token");
    assert_eq!(tok["Local"], true);
    assert!(tok.get("Roles").is_none());
    assert_eq!(
        tok["Description"],
        r#"token created via login: {"consul.hashicorp.com/cluster":"arn:aws:ecs:us-east-1:123456789012:cluster/c","consul.hashicorp.com/task-id":"abcdef"}"#
    );
    // Go escapes the description's inner JSON again when it renders the token.
    assert!(
        r.body.contains(
            r#""Description":"token created via login: {\"consul.hashicorp.com/cluster\""#
        )
    );
    let secret = tok["SecretID"].as_str().unwrap();
    let me = call(&app, "GET", "/v1/acl/token/self", Some(secret), None).await;
    assert_eq!(me.json()["AccessorID"], tok["AccessorID"]);
    // The validator reached STS and IAM once each.
    assert_eq!(stub.calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn client_token_gets_the_client_role() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let r = login(&app, "iam-ecs-client-token", "AKIDWEB", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tok = r.json();
    assert_eq!(tok["Roles"][0]["Name"], "consul-ecs-client-role");
    assert_eq!(tok["Description"], "token created via login");
}

#[tokio::test]
async fn gateway_role_rules_use_index_selectors_and_missing_roles_are_ignored() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let r = login(&app, "iam-ecs-service-token", "AKIDAPIGW", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json().get("Roles").is_none(),
        "the gateway role does not exist yet"
    );
    let c = call(
        &app,
        "PUT",
        "/v1/acl/role",
        Some(MGMT),
        Some(r#"{"Name":"consul-ecs-api-gateway-role"}"#.into()),
    )
    .await;
    assert_eq!(c.status, 200);
    let tok = login(&app, "iam-ecs-service-token", "AKIDAPIGW", json!({}))
        .await
        .json();
    assert_eq!(tok["Roles"][0]["Name"], "consul-ecs-api-gateway-role");
    assert_eq!(
        tok["ServiceIdentities"],
        json!([{"ServiceName": "api-gateway"}])
    );
    // A plain service does not match the gateway selectors.
    assert!(
        login(&app, "iam-ecs-service-token", "AKIDWEB", json!({}))
            .await
            .json()
            .get("Roles")
            .is_none()
    );
}

#[tokio::test]
async fn a_role_without_the_service_tag_fails_the_whole_login() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let r = login(&app, "iam-ecs-service-token", "AKIDNOTAG", json!({})).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "invalid bind name: \"\"")
    );
}

#[tokio::test]
async fn untrusted_principals_and_bad_tokens_are_500_with_the_validator_text() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let r = login(&app, "iam-ecs-service-token", "AKIDOTHER", json!({})).await;
    assert_eq!(r.status, 500);
    assert_eq!(
        r.body,
        "IAM principal arn:aws:iam::123456789012:role/other/outsider is not trusted"
    );
    let body = json!({"AuthMethod": "iam-ecs-service-token", "BearerToken": "{}"}).to_string();
    let r = call(&app, "POST", "/v1/acl/login", None, Some(body)).await;
    assert_eq!(r.status, 500);
    assert!(
        r.body.contains("unexpected end of JSON input"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn nothing_bound_is_permission_denied() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let m = json!({"Name": "bare", "Type": "aws-iam", "Config": {"BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"], "EnableIAMEntityDetails": true}});
    assert_eq!(
        call(
            &app,
            "PUT",
            "/v1/acl/auth-method",
            Some(MGMT),
            Some(m.to_string())
        )
        .await
        .status,
        200
    );
    let r = login(&app, "bare", "AKIDWEB", json!({})).await;
    assert_eq!((r.status, r.body.as_str()), (403, "Permission denied"));
}

#[tokio::test]
async fn bind_names_lowercase_variables() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let m = json!({"Name": "named", "Type": "aws-iam", "Config": {"BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"], "EnableIAMEntityDetails": true}});
    call(
        &app,
        "PUT",
        "/v1/acl/auth-method",
        Some(MGMT),
        Some(m.to_string()),
    )
    .await;
    let rule = json!({"AuthMethod": "named", "BindType": "service", "BindName": "${entity_name}-${entity_id}-${account_id}",
        "Selector": "entity_name==\"web-task\" and entity_path == \"/consul-ecs/\""});
    let r = call(
        &app,
        "PUT",
        "/v1/acl/binding-rule",
        Some(MGMT),
        Some(rule.to_string()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = login(&app, "named", "AKIDWEB", json!({})).await;
    assert_eq!(
        r.json()["ServiceIdentities"],
        json!([{"ServiceName": "web-task-aroaweb-123456789012"}])
    );
    // The selector does not match another role: nothing bound.
    let r = login(&app, "named", "AKIDAPIGW", json!({})).await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn max_token_ttl_expires_tokens_when_the_clock_moves() {
    let stub = start_stub().await;
    let (state, app) = consul_ecs(&stub).await;
    let update = json!({"MaxTokenTTL": "5m", "Config": {"BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"], "EnableIAMEntityDetails": true}});
    let r = call(
        &app,
        "PUT",
        "/v1/acl/auth-method/iam-ecs-client-token",
        Some(MGMT),
        Some(update.to_string()),
    )
    .await;
    assert_eq!(r.json()["MaxTokenTTL"], "5m0s");
    let tok = login(&app, "iam-ecs-client-token", "AKIDWEB", json!({}))
        .await
        .json();
    assert!(tok["ExpirationTime"].is_string());
    let secret = tok["SecretID"].as_str().unwrap();
    assert_eq!(
        call(&app, "GET", "/v1/acl/token/self", Some(secret), None)
            .await
            .status,
        200
    );
    state.clock().advance(time::Duration::minutes(6));
    let r = call(&app, "GET", "/v1/acl/token/self", Some(secret), None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    let list = call(
        &app,
        "GET",
        "/v1/acl/tokens?authmethod=iam-ecs-client-token",
        Some(MGMT),
        None,
    )
    .await;
    assert_eq!(list.json(), json!([]));
    let r = call(&app, "POST", "/v1/acl/logout", Some(secret), None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
}

#[tokio::test]
async fn logout_deletes_the_token() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let tok = login(&app, "iam-ecs-service-token", "AKIDWEB", json!({}))
        .await
        .json();
    let secret = tok["SecretID"].as_str().unwrap();
    let r = call(&app, "POST", "/v1/acl/logout", Some(secret), None).await;
    assert_eq!((r.status, r.body.as_str()), (200, "true"));
    let r = call(&app, "GET", "/v1/acl/token/self", Some(secret), None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
    let r = call(&app, "POST", "/v1/acl/logout", Some(secret), None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "ACL not found"));
}

#[tokio::test]
async fn the_same_bearer_token_can_be_replayed() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let a = login(&app, "iam-ecs-service-token", "AKIDWEB", json!({}))
        .await
        .json();
    let b = login(&app, "iam-ecs-service-token", "AKIDWEB", json!({}))
        .await
        .json();
    assert_ne!(a["AccessorID"], b["AccessorID"]);
}

#[tokio::test]
async fn deleting_the_auth_method_deletes_its_login_tokens() {
    let stub = start_stub().await;
    let (_state, app) = consul_ecs(&stub).await;
    let svc = login(&app, "iam-ecs-service-token", "AKIDWEB", json!({}))
        .await
        .json();
    let cli = login(&app, "iam-ecs-client-token", "AKIDWEB", json!({}))
        .await
        .json();
    assert_eq!(
        call(
            &app,
            "DELETE",
            "/v1/acl/auth-method/iam-ecs-service-token",
            Some(MGMT),
            None
        )
        .await
        .body,
        "true"
    );
    let r = call(
        &app,
        "GET",
        "/v1/acl/token/self",
        Some(svc["SecretID"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(r.status, 403);
    let r = call(
        &app,
        "GET",
        "/v1/acl/token/self",
        Some(cli["SecretID"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    let rules = call(
        &app,
        "GET",
        "/v1/acl/binding-rules?authmethod=iam-ecs-service-token",
        Some(MGMT),
        None,
    )
    .await;
    assert_eq!(rules.json(), json!([]));
    let r = login(&app, "iam-ecs-service-token", "AKIDWEB", json!({})).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            403,
            "ACL not found: auth method \"iam-ecs-service-token\" not found"
        )
    );
}

#[tokio::test]
async fn enterprise_namespace_rule_puts_the_token_in_the_tagged_namespace() {
    let stub = start_stub().await;
    let state = iamconform_consul::ConsulState::new(config(&stub, true)).unwrap();
    let setup = iamconform_consul::Setup::from_yaml(include_str!(
        "../../../../fixtures/consul-ecs-enterprise.yaml"
    ))
    .unwrap();
    state.apply_setup(&setup).unwrap();
    let app = iamconform_consul::router(state);
    let tok = login(&app, "iam-ecs-service-token", "AKIDNS", json!({})).await;
    assert_eq!(tok.status, 200, "{}", tok.body);
    let tok = tok.json();
    assert_eq!(tok["Namespace"], "team-a");
    assert_eq!(
        tok["ServiceIdentities"],
        json!([{"ServiceName": "billing"}])
    );
    let tok = login(&app, "iam-ecs-service-token", "AKIDWEB", json!({}))
        .await
        .json();
    assert_eq!(tok["Namespace"], "default");
    let list = call(&app, "GET", "/v1/acl/tokens?ns=team-a", Some(MGMT), None)
        .await
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
}
