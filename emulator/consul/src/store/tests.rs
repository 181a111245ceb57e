use std::collections::BTreeMap;

use iamconform_bexpr::Value as BValue;
use serde_json::json;

use super::*;
use crate::error::PermissionDenied;

fn store() -> Store {
    store_with(false)
}

fn store_with(enterprise: bool) -> Store {
    Store::new(
        StoreOptions {
            enterprise,
            datacenter: "dc1".into(),
            outbound: aws_iam::Outbound::default(),
            reject_uppercase_bind_vars: false,
        },
        Clock::new(),
    )
}

fn internal() -> Caller {
    Caller::Internal
}

fn scope() -> Scope {
    Scope::default()
}

fn method(s: &Store, name: &str, extra: serde_json::Value) -> Value {
    let mut config = json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"], "EnableIAMEntityDetails": true, "IAMEntityTags": ["service-name"]});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    s.auth_method_set(
        &internal(),
        &scope(),
        AuthMethodInput {
            name: name.into(),
            type_: "aws-iam".into(),
            config: Some(config),
            ..Default::default()
        },
    )
    .unwrap()
}

fn rule(
    s: &Store,
    method: &str,
    bind_type: &str,
    bind_name: &str,
    selector: &str,
) -> Result<Value, ConsulError> {
    s.binding_rule_set(
        &internal(),
        &scope(),
        BindingRuleInput {
            auth_method: method.into(),
            bind_type: bind_type.into(),
            bind_name: bind_name.into(),
            selector: selector.into(),
            ..Default::default()
        },
    )
}

fn identity(name: &str, tags: &[(&str, &str)]) -> AuthIdentity {
    let mut vars = BTreeMap::from([
        ("entity_name".to_string(), name.to_string()),
        ("entity_id".to_string(), "AROAEXAMPLE".to_string()),
        ("account_id".to_string(), "123456789012".to_string()),
        ("entity_path".to_string(), "/consul-ecs/".to_string()),
    ]);
    let mut tag_map = BTreeMap::new();
    for (k, v) in tags {
        vars.insert(format!("entity_tags.{k}"), v.to_string());
        tag_map.insert(k.to_string(), v.to_string());
    }
    let mut data = iamconform_bexpr::Data::new();
    data.insert("entity_name".into(), BValue::String(name.into()));
    data.insert("entity_id".into(), BValue::String("AROAEXAMPLE".into()));
    data.insert("account_id".into(), BValue::String("123456789012".into()));
    data.insert("entity_path".into(), BValue::String("/consul-ecs/".into()));
    data.insert("entity_tags".into(), BValue::Map(Some(tag_map)));
    AuthIdentity {
        selectable: data,
        vars,
    }
}

fn login(s: &Store, method: &str, id: &AuthIdentity) -> Result<Value, ConsulError> {
    let m = s.login_method(&scope(), method)?;
    s.login_finish(&m, id, "token created via login".into())
}

fn secret_of(v: &Value) -> Secret<String> {
    Secret::new(v["SecretID"].as_str().unwrap().to_string())
}

#[test]
fn builtin_policy_and_anonymous_token_exist() {
    let s = store();
    let p = s
        .policy_get(&internal(), &scope(), Key::Id(GLOBAL_MANAGEMENT_ID))
        .unwrap();
    assert_eq!(p["Name"], "global-management");
    let t = s
        .token_get(&internal(), &scope(), ANONYMOUS_TOKEN_ID)
        .unwrap();
    assert_eq!(t["SecretID"], "anonymous");
    assert_eq!(t["Description"], "Anonymous Token");
}

#[test]
fn bootstrap_happens_once() {
    let s = store();
    let v = s.bootstrap(None).unwrap();
    assert_eq!(v["ID"], v["SecretID"]);
    assert_eq!(v["Description"], "Bootstrap Token (Global Management)");
    assert_eq!(
        v["Policies"],
        json!([{"ID": GLOBAL_MANAGEMENT_ID, "Name": "global-management"}])
    );
    assert_eq!(v["Local"], false);
    let e = s.bootstrap(None).unwrap_err();
    assert_eq!(e.status(), 403);
    assert!(
        e.to_string()
            .starts_with("Permission denied: ACL bootstrap no longer allowed (reset index: ")
    );
}

#[test]
fn initial_management_token_ends_bootstrap_and_manages() {
    let s = store();
    let secret = Secret::new("3c6c8bd4-8c9c-4d3e-9c3a-0d8a0e4e4a11".to_string());
    s.set_initial_management(secret.clone()).unwrap();
    assert!(s.bootstrap(None).is_err());
    let caller = Caller::Token(Some(secret));
    assert!(s.policy_list(&caller, &scope()).is_ok());
}

#[test]
fn anonymous_and_unknown_tokens_are_denied_with_consul_texts() {
    let s = store();
    let e = s.policy_list(&Caller::Token(None), &scope()).unwrap_err();
    assert!(matches!(
        e,
        ConsulError::PermissionDenied(PermissionDenied::Lacks { .. })
    ));
    assert!(
        e.to_string()
            .starts_with("Permission denied: anonymous token lacks permission 'acl:read'.")
    );
    let e = s
        .policy_list(&Caller::Token(Some(Secret::new("nope".into()))), &scope())
        .unwrap_err();
    assert_eq!(e.to_string(), "ACL not found");
    assert_eq!(e.status(), 403);
}

#[test]
fn acl_read_token_can_read_but_not_write_and_sees_redacted_secrets() {
    let s = store();
    s.policy_set(
        &internal(),
        &scope(),
        PolicyInput {
            name: "reader".into(),
            rules: "acl = \"read\"".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let tok = s
        .token_create(
            &internal(),
            &scope(),
            TokenInput {
                policies: vec![Link {
                    id: String::new(),
                    name: "reader".into(),
                }],
                ..Default::default()
            },
        )
        .unwrap();
    let caller = Caller::Token(Some(secret_of(&tok)));
    let list = s
        .token_list(&caller, &scope(), &TokenFilter::default())
        .unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|t| t["SecretID"] == REDACTED)
    );
    let e = s
        .policy_set(
            &caller,
            &scope(),
            PolicyInput {
                name: "x".into(),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "Permission denied: token with AccessorID '{}' lacks permission 'acl:write'",
            tok["AccessorID"].as_str().unwrap()
        )
    );
}

#[test]
fn policy_validation_order_and_texts() {
    let s = store();
    let set = |p: PolicyInput| {
        s.policy_set(&internal(), &scope(), p)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        set(PolicyInput::default()),
        "Invalid Policy: no Name is set"
    );
    assert_eq!(
        set(PolicyInput {
            name: "a b".into(),
            ..Default::default()
        }),
        "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"
    );
    assert_eq!(
        set(PolicyInput {
            name: "ok".into(),
            id: "x".into(),
            ..Default::default()
        }),
        "Policy ID invalid UUID"
    );
    assert_eq!(
        set(PolicyInput {
            name: "ok".into(),
            rules: "acl = \"nope\"".into(),
            ..Default::default()
        }),
        "Invalid acl policy: \"nope\""
    );
    s.policy_set(
        &internal(),
        &scope(),
        PolicyInput {
            name: "dup".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        set(PolicyInput {
            name: "dup".into(),
            ..Default::default()
        }),
        "Invalid Policy: A Policy with Name \"dup\" already exists"
    );
    assert_eq!(
        s.policy_delete(&internal(), GLOBAL_MANAGEMENT_ID)
            .unwrap_err()
            .to_string(),
        "Delete operation not permitted on the builtin global-management policy"
    );
}

#[test]
fn indexes_increase_and_create_index_is_kept_on_update() {
    let s = store();
    let a = s
        .policy_set(
            &internal(),
            &scope(),
            PolicyInput {
                name: "p".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let id = a["ID"].as_str().unwrap().to_string();
    let b = s
        .policy_set(
            &internal(),
            &scope(),
            PolicyInput {
                id: id.clone(),
                name: "p".into(),
                description: "d".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(a["CreateIndex"], b["CreateIndex"]);
    assert!(b["ModifyIndex"].as_u64().unwrap() > a["ModifyIndex"].as_u64().unwrap());
    assert_ne!(a["Hash"], b["Hash"]);
}

#[test]
fn roles_link_policies_by_name_and_drop_deleted_links_on_read() {
    let s = store();
    let p = s
        .policy_set(
            &internal(),
            &scope(),
            PolicyInput {
                name: "p1".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let r = s
        .role_set(
            &internal(),
            &scope(),
            RoleInput {
                name: "r1".into(),
                policies: vec![Link {
                    id: String::new(),
                    name: "p1".into(),
                }],
                service_identities: vec![ServiceIdentity {
                    service_name: "web".into(),
                    datacenters: vec![],
                }],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r["Policies"], json!([{"ID": p["ID"], "Name": "p1"}]));
    s.policy_delete(&internal(), p["ID"].as_str().unwrap())
        .unwrap();
    let r = s.role_get(&internal(), &scope(), Key::Name("r1")).unwrap();
    assert!(r.get("Policies").is_none());
    let e = s
        .role_set(
            &internal(),
            &scope(),
            RoleInput {
                name: "r2".into(),
                policies: vec![Link {
                    id: String::new(),
                    name: "gone".into(),
                }],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(e.to_string(), "No such ACL policy with name \"gone\"");
    let e = s
        .role_set(
            &internal(),
            &scope(),
            RoleInput {
                name: "r3".into(),
                service_identities: vec![ServiceIdentity {
                    service_name: "Web".into(),
                    datacenters: vec![],
                }],
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Service identity \"Web\" has an invalid name. Only lowercase alphanumeric characters, '-' and '_' are allowed"
    );
    assert_eq!(
        s.role_get(&internal(), &scope(), Key::Name("missing"))
            .unwrap_err(),
        ConsulError::NotFound("Requested role does not exist: ACL not found".into())
    );
}

#[test]
fn token_create_checks_follow_the_token_writer() {
    let s = store();
    let create = |t: TokenInput| {
        s.token_create(&internal(), &scope(), t)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        create(TokenInput {
            accessor_id: "bad".into(),
            ..Default::default()
        }),
        "Invalid Token: AccessorID - not a valid UUID"
    );
    assert_eq!(
        create(TokenInput {
            accessor_id: "00000000-0000-0000-0000-000000000099".into(),
            ..Default::default()
        }),
        "Invalid Token: AccessorID - UUIDs with the prefix \"00000000-0000-0000-0000-0000000000\" are reserved"
    );
    assert_eq!(
        create(TokenInput {
            expiration_ttl: -1_000_000_000,
            ..Default::default()
        }),
        "Token Expiration TTL '-1s' should be > 0"
    );
    assert_eq!(
        create(TokenInput {
            expiration_ttl: 48 * 3_600_000_000_000,
            ..Default::default()
        }),
        "ExpirationTime cannot be more than 24h0m0s in the future (was 48h0m0s)"
    );
    assert_eq!(
        create(TokenInput {
            expiration_ttl: 1_000_000_000,
            ..Default::default()
        }),
        "ExpirationTime cannot be less than 1m0s in the future (was 1s)"
    );
    assert_eq!(
        create(TokenInput {
            auth_method: "x".into(),
            ..Default::default()
        }),
        "AuthMethod field is disallowed outside of login"
    );
    assert_eq!(
        create(TokenInput {
            roles: vec![Link {
                id: String::new(),
                name: "nope".into()
            }],
            ..Default::default()
        }),
        "No such ACL role with name \"nope\""
    );
    let ok = s
        .token_create(
            &internal(),
            &scope(),
            TokenInput {
                description: "d".into(),
                expiration_ttl: 600_000_000_000,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(ok["ExpirationTime"].is_string());
    let accessor = ok["AccessorID"].as_str().unwrap();
    assert_eq!(
        create(TokenInput {
            accessor_id: accessor.into(),
            ..Default::default()
        }),
        "Invalid Token: AccessorID is already in use"
    );
}

#[test]
fn token_update_and_delete_rules() {
    let s = store();
    let t = s
        .token_create(
            &internal(),
            &scope(),
            TokenInput {
                description: "a".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let accessor = t["AccessorID"].as_str().unwrap().to_string();
    let u = s
        .token_update(
            &internal(),
            &scope(),
            TokenInput {
                accessor_id: accessor.clone(),
                description: "b".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(u["Description"], "b");
    assert_eq!(u["CreateTime"], t["CreateTime"]);
    assert_eq!(u["SecretID"], t["SecretID"]);
    let e = s
        .token_update(
            &internal(),
            &scope(),
            TokenInput {
                accessor_id: accessor.clone(),
                local: true,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("Cannot toggle local mode of {accessor}")
    );
    assert_eq!(
        s.token_delete(&internal(), ANONYMOUS_TOKEN_ID)
            .unwrap_err()
            .to_string(),
        "Delete operation not permitted on the anonymous token"
    );
    assert_eq!(
        s.token_delete(&internal(), "x").unwrap_err().to_string(),
        "Accessor ID is missing or an invalid UUID"
    );
    let own = Caller::Token(Some(secret_of(&s.bootstrap(None).unwrap())));
    let mine = s.token_self(&own).unwrap();
    assert_eq!(
        s.token_delete(&own, mine["AccessorID"].as_str().unwrap())
            .unwrap_err()
            .to_string(),
        "Deletion of the request's authorization token is not permitted"
    );
    s.token_delete(&own, &accessor).unwrap();
    assert!(!s.token_exists(&accessor));
    // Deleting a missing token is not an error.
    s.token_delete(&own, &accessor).unwrap();
}

#[test]
fn auth_method_checks_in_order() {
    let s = store();
    let set = |m: AuthMethodInput| {
        s.auth_method_set(&internal(), &scope(), m)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        set(AuthMethodInput::default()),
        "Invalid Auth Method: no Name is set"
    );
    assert_eq!(
        set(AuthMethodInput {
            name: "a.b".into(),
            ..Default::default()
        }),
        "Invalid Auth Method: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"
    );
    assert_eq!(
        set(AuthMethodInput {
            name: "m".into(),
            type_: "nope".into(),
            ..Default::default()
        }),
        "Invalid Auth Method: Type should be one of: [aws-iam jwt kubernetes oidc]"
    );
    assert_eq!(
        set(AuthMethodInput {
            name: "m".into(),
            type_: "aws-iam".into(),
            token_locality: "x".into(),
            ..Default::default()
        }),
        "Invalid Auth Method: TokenLocality should be one of 'local' or 'global'"
    );
    assert_eq!(
        set(AuthMethodInput {
            name: "m".into(),
            type_: "aws-iam".into(),
            max_token_ttl: 48 * 3_600_000_000_000,
            ..Default::default()
        }),
        "MaxTokenTTL 48h0m0s cannot be more than 24h0m0s"
    );
    assert_eq!(
        set(AuthMethodInput {
            name: "m".into(),
            type_: "aws-iam".into(),
            max_token_ttl: 1_000_000_000,
            ..Default::default()
        }),
        "MaxTokenTTL 1s cannot be less than 1m0s"
    );
    let e = set(AuthMethodInput {
        name: "m".into(),
        type_: "aws-iam".into(),
        ..Default::default()
    });
    assert!(e.starts_with("Invalid Auth Method: "), "{e}");
    assert!(e.contains("BoundIAMPrincipalARNs"), "{e}");
    method(&s, "m", json!({}));
    assert_eq!(
        set(AuthMethodInput {
            name: "m".into(),
            type_: "jwt".into(),
            ..Default::default()
        }),
        "the Type field of an Auth Method is immutable"
    );
}

#[test]
fn auth_method_echoes_config_sorted_and_ttl_as_go_duration() {
    let s = store();
    let v = s
        .auth_method_set(
            &internal(),
            &scope(),
            AuthMethodInput {
                name: "m".into(),
                type_: "aws-iam".into(),
                max_token_ttl: 300_000_000_000,
                config: Some(json!({"EnableIAMEntityDetails": true, "BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/x/*"]})),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(v["MaxTokenTTL"], "5m0s");
    let keys: Vec<&String> = v["Config"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["BoundIAMPrincipalARNs", "EnableIAMEntityDetails"]);
    let list = s.auth_method_list(&internal(), &scope()).unwrap();
    assert!(list[0].get("Config").is_none());
}

#[test]
fn binding_rule_checks_in_order() {
    let s = store();
    method(&s, "m", json!({}));
    let err =
        |m: &str, t: &str, n: &str, sel: &str| rule(&s, m, t, n, sel).unwrap_err().to_string();
    assert_eq!(
        err("", "service", "x", ""),
        "Invalid Binding Rule: no AuthMethod is set"
    );
    assert_eq!(
        err("nope", "service", "x", ""),
        "cannot find auth method with name \"nope\""
    );
    assert!(
        err("m", "service", "x", "entity_tags.service-name == \"x\"")
            .starts_with("invalid Binding Rule: Selector is invalid: ")
    );
    assert_eq!(
        err("m", "", "x", ""),
        "Invalid Binding Rule: no BindType is set"
    );
    assert_eq!(
        err("m", "service", "", ""),
        "Invalid Binding Rule: no BindName is set"
    );
    assert_eq!(
        err("m", "bogus", "x", ""),
        "Invalid Binding Rule: unknown BindType \"bogus\""
    );
    assert_eq!(
        err("m", "service", "Web", ""),
        "Invalid Binding Rule: invalid BindName: failed to validate bindType \"service\": invalid bind name: \"Web\""
    );
    assert!(
        err("m", "service", "${entity_tags.nope}", "").starts_with(
            "Invalid Binding Rule: invalid BindName: failed to validate bindType \"service\": error interpreting template: "
        )
    );
    // Selector errors come before a missing BindType (spec §3.4 order).
    assert!(
        err("m", "", "", "bad selector ((")
            .starts_with("invalid Binding Rule: Selector is invalid: ")
    );
    let ok = rule(
        &s,
        "m",
        "service",
        "${entity_tags.service-name}",
        "entity_tags[\"service-name\"] != \"\"",
    )
    .unwrap();
    let id = ok["ID"].as_str().unwrap().to_string();
    let e = s
        .binding_rule_set(
            &internal(),
            &scope(),
            BindingRuleInput {
                id: id.clone(),
                auth_method: "other".into(),
                bind_type: "service".into(),
                bind_name: "x".into(),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "the AuthMethod field of an Binding Rule is immutable"
    );
    // AuthMethod may be omitted on update.
    let u = s
        .binding_rule_set(
            &internal(),
            &scope(),
            BindingRuleInput {
                id,
                bind_type: "node".into(),
                bind_name: "n1".into(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(u["AuthMethod"], "m");
}

#[test]
fn login_binds_service_with_lowercased_vars_and_sets_expiry_and_locality() {
    let s = store();
    s.auth_method_set(
        &internal(),
        &scope(),
        AuthMethodInput {
            name: "m".into(),
            type_: "aws-iam".into(),
            max_token_ttl: 300_000_000_000,
            token_locality: "global".into(),
            config: Some(json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"], "EnableIAMEntityDetails": true, "IAMEntityTags": ["service-name"]})),
            ..Default::default()
        },
    )
    .unwrap();
    rule(
        &s,
        "m",
        "service",
        "${entity_tags.service-name}-${entity_id}",
        "",
    )
    .unwrap();
    let tok = login(&s, "m", &identity("web-task", &[("service-name", "Web")])).unwrap();
    assert_eq!(
        tok["ServiceIdentities"],
        json!([{"ServiceName": "web-aroaexample"}])
    );
    assert_eq!(tok["Local"], false);
    assert_eq!(tok["AuthMethod"], "m");
    let created = gojson::parse_time(tok["CreateTime"].as_str().unwrap()).unwrap();
    let expires = gojson::parse_time(tok["ExpirationTime"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, Duration::minutes(5));
    // The token stops working once the clock passes the expiry.
    let caller = Caller::Token(Some(secret_of(&tok)));
    assert!(s.token_self(&caller).is_ok());
    s.clock().advance(Duration::minutes(6));
    assert_eq!(
        s.token_self(&caller).unwrap_err(),
        ConsulError::AclNotFound(None)
    );
    assert_eq!(
        s.logout(&secret_of(&tok)).unwrap_err(),
        ConsulError::AclNotFound(None)
    );
    assert!(s.login_token_accessors().is_empty());
}

/// Sets the rule `id` (update) with a new selector and bind name.
fn update_rule(s: &Store, id: &str, bind_name: &str, selector: &str) {
    s.binding_rule_set(
        &internal(),
        &scope(),
        BindingRuleInput {
            id: id.into(),
            bind_type: "service".into(),
            bind_name: bind_name.into(),
            selector: selector.into(),
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn compiled_selectors_follow_rule_updates_and_deletes() {
    let s = store();
    method(&s, "m", json!({}));
    let r = rule(&s, "m", "service", "web", "entity_name == \"web-task\"").unwrap();
    let id = r["ID"].as_str().unwrap().to_string();
    let web = identity("web-task", &[]);
    let api = identity("api-task", &[]);
    let names = |tok: Value| tok["ServiceIdentities"].clone();
    assert_eq!(
        names(login(&s, "m", &web).unwrap()),
        json!([{"ServiceName": "web"}])
    );
    assert!(matches!(
        login(&s, "m", &api),
        Err(ConsulError::PermissionDenied(_))
    ));
    // The new selector is compiled with the update: the old one no longer applies.
    update_rule(&s, &id, "api", "entity_name == \"api-task\"");
    assert!(matches!(
        login(&s, "m", &web),
        Err(ConsulError::PermissionDenied(_))
    ));
    assert_eq!(
        names(login(&s, "m", &api).unwrap()),
        json!([{"ServiceName": "api"}])
    );
    // A rejected update keeps the rule and its compiled selector as they were.
    let bad = s.binding_rule_set(
        &internal(),
        &scope(),
        BindingRuleInput {
            id: id.clone(),
            bind_type: "service".into(),
            bind_name: "x".into(),
            selector: "entity_name ==".into(),
            ..Default::default()
        },
    );
    assert!(
        bad.unwrap_err()
            .to_string()
            .starts_with("invalid Binding Rule: Selector is invalid: ")
    );
    assert_eq!(
        names(login(&s, "m", &api).unwrap()),
        json!([{"ServiceName": "api"}])
    );
    // An empty selector matches everyone.
    update_rule(&s, &id, "any", "");
    assert_eq!(
        names(login(&s, "m", &web).unwrap()),
        json!([{"ServiceName": "any"}])
    );
    s.binding_rule_delete(&internal(), &id).unwrap();
    assert!(matches!(
        login(&s, "m", &web),
        Err(ConsulError::PermissionDenied(_))
    ));
}

#[test]
fn login_tokens_are_local_by_default_and_nothing_bound_is_denied() {
    let s = store();
    method(&s, "m", json!({}));
    assert_eq!(
        login(&s, "m", &identity("web", &[])).unwrap_err(),
        ConsulError::permission_denied()
    );
    rule(&s, "m", "role", "missing-role", "").unwrap();
    // A role that does not exist is ignored, so still nothing is bound.
    assert_eq!(
        login(&s, "m", &identity("web", &[]))
            .unwrap_err()
            .to_string(),
        "Permission denied"
    );
    rule(&s, "m", "node", "${entity_name}", "").unwrap();
    let tok = login(&s, "m", &identity("Node-1", &[])).unwrap();
    assert_eq!(
        tok["NodeIdentities"],
        json!([{"NodeName": "node-1", "Datacenter": "dc1"}])
    );
    assert_eq!(tok["Local"], true);
    assert!(tok.get("ExpirationTime").is_none());
}

#[test]
fn login_with_unknown_method_is_acl_not_found() {
    let s = store();
    let e = s.login_method(&scope(), "nope").unwrap_err();
    assert_eq!(
        e.to_string(),
        "ACL not found: auth method \"nope\" not found"
    );
    assert_eq!(e.status(), 403);
}

#[test]
fn invalid_bind_name_fails_the_whole_login() {
    let s = store();
    method(&s, "m", json!({}));
    rule(&s, "m", "role", "consul-ecs-client-role", "").unwrap();
    rule(&s, "m", "service", "${entity_tags.service-name}", "").unwrap();
    // The tag is absent: the service name is empty, so the whole login fails.
    let e = login(&s, "m", &identity("web", &[("service-name", "")])).unwrap_err();
    assert_eq!(e.to_string(), "invalid bind name: \"\"");
    assert_eq!(e.status(), 500);
}

#[test]
fn logout_semantics() {
    let s = store();
    method(&s, "m", json!({}));
    rule(&s, "m", "service", "web", "").unwrap();
    let tok = login(&s, "m", &identity("web", &[])).unwrap();
    let plain = s
        .token_create(&internal(), &scope(), TokenInput::default())
        .unwrap();
    assert_eq!(
        s.logout(&secret_of(&plain)).unwrap_err().to_string(),
        "Permission denied: token wasn't created via login"
    );
    assert_eq!(
        s.logout(&Secret::new("nope".into()))
            .unwrap_err()
            .to_string(),
        "ACL not found"
    );
    s.logout(&secret_of(&tok)).unwrap();
    assert!(!s.token_exists(tok["AccessorID"].as_str().unwrap()));
}

#[test]
fn deleting_an_auth_method_deletes_its_rules_and_tokens() {
    let s = store();
    method(&s, "m", json!({}));
    method(&s, "other", json!({}));
    rule(&s, "m", "service", "web", "").unwrap();
    rule(&s, "other", "service", "api", "").unwrap();
    let a = login(&s, "m", &identity("x", &[])).unwrap();
    let b = login(&s, "other", &identity("x", &[])).unwrap();
    s.auth_method_delete(&internal(), &scope(), "m").unwrap();
    assert!(!s.token_exists(a["AccessorID"].as_str().unwrap()));
    assert!(s.token_exists(b["AccessorID"].as_str().unwrap()));
    let rules = s.binding_rule_list(&internal(), &scope(), None).unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 1);
    assert_eq!(rules[0]["AuthMethod"], "other");
    // Deleting again is fine.
    s.auth_method_delete(&internal(), &scope(), "m").unwrap();
}

#[test]
fn token_list_filters() {
    let s = store();
    method(&s, "m", json!({}));
    rule(&s, "m", "service", "web", "").unwrap();
    login(&s, "m", &identity("x", &[])).unwrap();
    s.token_create(&internal(), &scope(), TokenInput::default())
        .unwrap();
    let f = TokenFilter {
        auth_method: Some("m".into()),
        ..Default::default()
    };
    assert_eq!(
        s.token_list(&internal(), &scope(), &f)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let f = TokenFilter {
        service_name: Some("web".into()),
        ..Default::default()
    };
    assert_eq!(
        s.token_list(&internal(), &scope(), &f)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let f = TokenFilter {
        service_name: Some("api".into()),
        ..Default::default()
    };
    assert_eq!(
        s.token_list(&internal(), &scope(), &f)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn enterprise_namespace_rules_pick_the_token_namespace_and_roles_resolve_there() {
    let s = store_with(true);
    s.namespace_set(
        &internal(),
        NamespaceInput {
            name: "team-a".into(),
            ..Default::default()
        },
    )
    .unwrap();
    let ns_a = Scope {
        namespace: Some("team-a".into()),
        partition: None,
    };
    s.role_set(
        &internal(),
        &ns_a,
        RoleInput {
            name: "gw".into(),
            ..Default::default()
        },
    )
    .unwrap();
    s.auth_method_set(
        &internal(),
        &scope(),
        AuthMethodInput {
            name: "m".into(),
            type_: "aws-iam".into(),
            config: Some(json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"], "EnableIAMEntityDetails": true, "IAMEntityTags": ["ns"]})),
            namespace_rules: vec![
                NamespaceRule { selector: "entity_tags[\"ns\"] != \"\"".into(), bind_namespace: "${entity_tags.ns}".into() },
                NamespaceRule { selector: String::new(), bind_namespace: "never-reached".into() },
            ],
            ..Default::default()
        },
    )
    .unwrap();
    rule(&s, "m", "role", "gw", "").unwrap();
    let tok = login(&s, "m", &identity("x", &[("ns", "Team-A")])).unwrap();
    assert_eq!(tok["Namespace"], "team-a");
    assert_eq!(tok["Partition"], "default");
    assert_eq!(tok["Roles"][0]["Name"], "gw");
    assert_eq!(tok["AuthMethodNamespace"], "default");
    // The second rule matches everything else and names a namespace that does not exist.
    let e = login(&s, "m", &identity("x", &[("ns", "")])).unwrap_err();
    assert_eq!(e.to_string(), "namespace \"never-reached\" does not exist");
}

#[test]
fn policies_for_other_datacenters_do_not_apply() {
    let s = store();
    s.policy_set(
        &internal(),
        &scope(),
        PolicyInput {
            name: "elsewhere".into(),
            rules: "acl = \"write\"".into(),
            datacenters: vec!["dc2".into()],
            ..Default::default()
        },
    )
    .unwrap();
    let tok = s
        .token_create(
            &internal(),
            &scope(),
            TokenInput {
                policies: vec![Link {
                    id: String::new(),
                    name: "elsewhere".into(),
                }],
                ..Default::default()
            },
        )
        .unwrap();
    let caller = Caller::Token(Some(secret_of(&tok)));
    assert_eq!(s.policy_list(&caller, &scope()).unwrap_err().status(), 403);
}

/// The durable store: snapshot round trip, restore checks and failed saves.
mod durable {
    use std::path::Path;

    use super::*;
    use crate::persist::STATE_FILE;

    fn opts(enterprise: bool) -> StoreOptions {
        StoreOptions {
            enterprise,
            datacenter: "dc1".into(),
            outbound: aws_iam::Outbound::default(),
            reject_uppercase_bind_vars: false,
        }
    }

    fn open(dir: &Path, enterprise: bool) -> Store {
        Store::open(opts(enterprise), Clock::new(), dir).unwrap()
    }

    fn open_err(dir: &Path, enterprise: bool) -> String {
        Store::open(opts(enterprise), Clock::new(), dir)
            .unwrap_err()
            .to_string()
    }

    /// Every table as the API renders it, secrets included.
    fn everything(s: &Store) -> Vec<Value> {
        let c = internal();
        let all = Scope {
            namespace: Some("*".into()),
            partition: None,
        };
        let methods = s.auth_method_list(&c, &all).unwrap();
        let full: Vec<Value> = methods
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let ns = Scope {
                    namespace: m["Namespace"].as_str().map(str::to_string),
                    partition: None,
                };
                s.auth_method_get(&c, &ns, m["Name"].as_str().unwrap())
                    .unwrap()
            })
            .collect();
        vec![
            s.policy_list(&c, &all).unwrap(),
            s.role_list(&c, &all, None).unwrap(),
            s.token_list(&c, &all, &TokenFilter::default()).unwrap(),
            Value::Array(full),
            s.binding_rule_list(&c, &all, None).unwrap(),
            s.namespace_list(&c).unwrap(),
            s.partition_list(&c).unwrap(),
            json!(s.index()),
        ]
    }

    fn populate(s: &Store) -> (Secret<String>, Value, Value) {
        let management = Secret::new("6f0b5b8e-3c1d-4b7a-9a0e-2d5f4c3b2a10".to_string());
        s.set_initial_management(management.clone()).unwrap();
        s.partition_set(&internal(), "part-b", "second partition")
            .unwrap();
        s.namespace_set(
            &internal(),
            NamespaceInput {
                name: "team-a".into(),
                description: "team A".into(),
                meta: BTreeMap::from([("owner".to_string(), "a".to_string())]),
                acls: Some(json!({"PolicyDefaults": [], "RoleDefaults": []})),
                ..Default::default()
            },
        )
        .unwrap();
        let ns_a = Scope {
            namespace: Some("team-a".into()),
            partition: None,
        };
        s.policy_set(
            &internal(),
            &ns_a,
            PolicyInput {
                name: "read-kv".into(),
                rules: "key_prefix \"\" { policy = \"read\" }".into(),
                datacenters: vec!["dc1".into()],
                ..Default::default()
            },
        )
        .unwrap();
        s.role_set(
            &internal(),
            &ns_a,
            RoleInput {
                name: "gw".into(),
                policies: vec![Link {
                    id: String::new(),
                    name: "read-kv".into(),
                }],
                service_identities: vec![ServiceIdentity {
                    service_name: "web".into(),
                    datacenters: vec![],
                }],
                node_identities: vec![NodeIdentity {
                    node_name: "n1".into(),
                    datacenter: "dc1".into(),
                }],
                ..Default::default()
            },
        )
        .unwrap();
        s.token_create(
            &internal(),
            &scope(),
            TokenInput {
                description: "expires".into(),
                expiration_ttl: 600_000_000_000,
                templated_policies: vec![TemplatedPolicy {
                    template_name: "builtin/service".into(),
                    template_variables: Some(TemplateVariables { name: "api".into() }),
                    datacenters: vec![],
                }],
                ..Default::default()
            },
        )
        .unwrap();
        s.auth_method_set(
            &internal(),
            &scope(),
            AuthMethodInput {
                name: "m".into(),
                type_: "aws-iam".into(),
                display_name: "AWS".into(),
                max_token_ttl: 900_000_000_000,
                token_locality: "global".into(),
                config: Some(json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"], "EnableIAMEntityDetails": true, "IAMEntityTags": ["ns", "service-name"], "MaxRetries": 2})),
                namespace_rules: vec![NamespaceRule {
                    selector: "entity_tags[\"ns\"] != \"\"".into(),
                    bind_namespace: "${entity_tags.ns}".into(),
                }],
                ..Default::default()
            },
        )
        .unwrap();
        rule(s, "m", "service", "${entity_tags.service-name}", "").unwrap();
        let kept = login(
            s,
            "m",
            &identity("web", &[("ns", ""), ("service-name", "web")]),
        )
        .unwrap();
        let gone = login(
            s,
            "m",
            &identity("web", &[("ns", ""), ("service-name", "web")]),
        )
        .unwrap();
        s.logout(&secret_of(&gone)).unwrap();
        (management, kept, gone)
    }

    #[test]
    fn every_object_kind_survives_a_restart_with_its_secrets_and_indexes() {
        let tmp = tempfile::tempdir().unwrap();
        let (management, kept, gone, before) = {
            let s = open(tmp.path(), true);
            assert!(!s.restored());
            let (m, k, g) = populate(&s);
            (m, k, g, everything(&s))
        };
        let file = std::fs::read_to_string(tmp.path().join(STATE_FILE)).unwrap();
        assert!(file.starts_with("{\"format\":1,"), "{file}");
        assert!(file.contains(management.expose().as_str()));

        let s = open(tmp.path(), true);
        assert!(s.restored());
        assert_eq!(everything(&s), before);
        // SecretIDs resolve: the management token manages, the login token reads itself.
        assert_eq!(s.initial_management_secret().unwrap(), management);
        let caller = Caller::Token(Some(management.clone()));
        s.policy_list(&caller, &scope()).unwrap();
        let me = s
            .token_self(&Caller::Token(Some(secret_of(&kept))))
            .unwrap();
        assert_eq!(me["AccessorID"], kept["AccessorID"]);
        assert_eq!(me["ExpirationTime"], kept["ExpirationTime"]);
        // The method's namespace-rule selectors are rebuilt too: a matching rule still picks
        // the token's namespace (here one that does not exist).
        let e = login(
            &s,
            "m",
            &identity("web", &[("ns", "nowhere"), ("service-name", "web")]),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "namespace \"nowhere\" does not exist");
        // The logged-out token stays gone.
        assert!(!s.token_exists(gone["AccessorID"].as_str().unwrap()));
        assert_eq!(
            s.logout(&secret_of(&gone)).unwrap_err(),
            ConsulError::AclNotFound(None)
        );
        // Restarting with the same initial management token neither duplicates nor replaces it.
        let tokens_before = s
            .token_list(&internal(), &scope(), &TokenFilter::default())
            .unwrap();
        s.set_initial_management(management.clone()).unwrap();
        assert_eq!(
            s.token_list(&internal(), &scope(), &TokenFilter::default())
                .unwrap(),
            tokens_before
        );
    }

    #[test]
    fn validators_are_rebuilt_so_logins_work_after_a_restart_and_the_index_continues() {
        let tmp = tempfile::tempdir().unwrap();
        let index = {
            let s = open(tmp.path(), false);
            s.auth_method_set(
                &internal(),
                &scope(),
                AuthMethodInput {
                    name: "m".into(),
                    type_: "aws-iam".into(),
                    config: Some(json!({"BoundIAMPrincipalARNs": ["arn:aws:iam::123456789012:role/consul-ecs/*"], "EnableIAMEntityDetails": true, "IAMEntityTags": ["service-name"], "ServerIDHeaderValue": "consul.example.com"})),
                    ..Default::default()
                },
            )
            .unwrap();
            rule(&s, "m", "service", "${entity_tags.service-name}", "").unwrap();
            s.index()
        };
        // A restart may point the validators at another AWS endpoint (serve's port changes).
        let mut o = opts(false);
        o.outbound.aws_endpoint = Some("http://127.0.0.1:1".into());
        let s = Store::open(o, Clock::new(), tmp.path()).unwrap();
        let m = s.login_method(&scope(), "m").unwrap();
        assert_eq!(
            m.validator.config().server_id_header_value,
            "consul.example.com"
        );
        assert_eq!(
            m.validator.config(),
            m.config.as_ref(),
            "the validator is built from the restored config"
        );
        let tok = s
            .login_finish(
                &m,
                &identity("web", &[("service-name", "web")]),
                "token created via login".into(),
            )
            .unwrap();
        assert_eq!(tok["ServiceIdentities"][0]["ServiceName"], "web");
        assert!(tok["CreateIndex"].as_u64().unwrap() > index);
        assert_eq!(s.index(), index + 1);
    }

    #[test]
    fn compiled_selectors_are_rebuilt_on_restore_and_follow_later_updates() {
        let tmp = tempfile::tempdir().unwrap();
        let web = identity("web-task", &[]);
        let api = identity("api-task", &[]);
        let id = {
            let s = open(tmp.path(), false);
            method(&s, "m", json!({}));
            let r = rule(&s, "m", "service", "web", "entity_name == \"web-task\"").unwrap();
            rule(&s, "m", "service", "all", "").unwrap();
            r["ID"].as_str().unwrap().to_string()
        };
        let file = std::fs::read_to_string(tmp.path().join(STATE_FILE)).unwrap();
        assert!(
            !file.contains("Compiled") && !file.contains("compiled"),
            "{file}"
        );
        let s = open(tmp.path(), false);
        let services = |tok: Value| {
            let mut v: Vec<String> = tok["ServiceIdentities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["ServiceName"].as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        };
        assert_eq!(services(login(&s, "m", &web).unwrap()), ["all", "web"]);
        assert_eq!(services(login(&s, "m", &api).unwrap()), ["all"]);
        update_rule(&s, &id, "api", "entity_name == \"api-task\"");
        assert_eq!(services(login(&s, "m", &web).unwrap()), ["all"]);
        assert_eq!(services(login(&s, "m", &api).unwrap()), ["all", "api"]);
        // And once more through a restart after the update.
        drop(s);
        let s = open(tmp.path(), false);
        assert_eq!(services(login(&s, "m", &web).unwrap()), ["all"]);
        assert_eq!(services(login(&s, "m", &api).unwrap()), ["all", "api"]);
    }

    #[test]
    fn restored_tokens_expire_at_their_original_time() {
        let tmp = tempfile::tempdir().unwrap();
        let (accessor, exp) = {
            let s = open(tmp.path(), false);
            let t = s
                .token_create(
                    &internal(),
                    &scope(),
                    TokenInput {
                        expiration_ttl: 120_000_000_000,
                        ..Default::default()
                    },
                )
                .unwrap();
            (
                t["AccessorID"].as_str().unwrap().to_string(),
                t["ExpirationTime"].clone(),
            )
        };
        let clock = Clock::new();
        let s = Store::open(opts(false), clock.clone(), tmp.path()).unwrap();
        let t = s.token_get(&internal(), &scope(), &accessor).unwrap();
        assert_eq!(t["ExpirationTime"], exp);
        clock.advance(Duration::minutes(3));
        assert!(!s.token_exists(&accessor));
    }

    #[test]
    fn a_failed_save_refuses_the_write_with_a_500_and_rolls_back() {
        let tmp = tempfile::tempdir().unwrap();
        let s = open(tmp.path(), false);
        let index = s.index();
        let policies = s.policy_list(&internal(), &scope()).unwrap();
        // A directory where the temporary file goes makes every save fail, even for root.
        std::fs::create_dir(tmp.path().join("state.json.tmp")).unwrap();
        let e = s
            .policy_set(
                &internal(),
                &scope(),
                PolicyInput {
                    name: "p".into(),
                    ..Default::default()
                },
            )
            .unwrap_err();
        assert_eq!(e.status(), 500, "{e}");
        let text = e.to_string();
        assert!(text.contains("could not be saved"), "{text}");
        assert!(
            text.contains(&tmp.path().join(STATE_FILE).display().to_string()),
            "{text}"
        );
        assert!(text.contains("os error"), "{text}");
        // Memory matches the file: nothing of the refused write is visible.
        assert_eq!(s.index(), index);
        assert_eq!(s.policy_list(&internal(), &scope()).unwrap(), policies);
        // Once the disk recovers, writes work again and the index continues.
        std::fs::remove_dir(tmp.path().join("state.json.tmp")).unwrap();
        let p = s
            .policy_set(
                &internal(),
                &scope(),
                PolicyInput {
                    name: "p".into(),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(p["CreateIndex"], index + 1);
        drop(s);
        let s = open(tmp.path(), false);
        assert_eq!(s.index(), index + 1);
    }

    #[test]
    fn a_damaged_or_foreign_file_is_an_error_naming_the_file_and_never_an_empty_start() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(STATE_FILE);
        let shown = path.display().to_string();
        drop(open(tmp.path(), false));
        let good = std::fs::read_to_string(&path).unwrap();

        std::fs::write(&path, &good[..good.len() / 2]).unwrap();
        let e = open_err(tmp.path(), false);
        assert!(
            e.starts_with(&format!(
                "state file {shown}: cannot restore: not a valid state document: "
            )),
            "{e}"
        );
        assert!(!e.contains('\n'));

        std::fs::write(&path, good.replacen("\"format\":1", "\"format\":2", 1)).unwrap();
        let e = open_err(tmp.path(), false);
        assert!(
            e.ends_with("unknown format 2 (this iamconform reads format 1)"),
            "{e}"
        );

        std::fs::write(&path, &good).unwrap();
        let e = open_err(tmp.path(), true);
        assert!(
            e.contains("holds Consul CE state but this server runs as Consul Enterprise"),
            "{e}"
        );

        // A value of the wrong type is reported without quoting it (it could be a secret).
        let secret = "f00dfeed-0000-4000-8000-00000000beef";
        let bad = good.replacen("\"index\":1", &format!("\"index\":\"{secret}\""), 1);
        std::fs::write(&path, bad).unwrap();
        let e = open_err(tmp.path(), false);
        assert!(e.contains("invalid type"), "{e}");
        assert!(!e.contains(secret), "{e}");

        // The file was left as it was: a failed start never overwrites state.
        assert!(std::fs::read_to_string(&path).unwrap().contains(secret));
    }

    #[test]
    fn the_store_debug_output_names_the_file_not_the_secrets() {
        let tmp = tempfile::tempdir().unwrap();
        let s = open(tmp.path(), false);
        s.set_initial_management(Secret::new("0e3b4c1a-4f1e-4f8e-8a2b-9c0d1e2f3a4b".into()))
            .unwrap();
        let text = format!("{s:?}");
        assert!(text.contains("state.json"), "{text}");
        assert!(!text.contains("0e3b4c1a"), "{text}");
    }
}
