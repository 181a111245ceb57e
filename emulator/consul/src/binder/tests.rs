use std::collections::BTreeMap;

use iamconform_bexpr::{Data, FieldKind, Value};

use super::*;
use crate::store::types::EntMeta;

fn schema() -> Schema {
    Schema::new([
        ("entity_name", FieldKind::String),
        ("entity_id", FieldKind::String),
        ("account_id", FieldKind::String),
        ("entity_path", FieldKind::String),
        ("entity_tags", FieldKind::StringMap),
    ])
}

fn ident(name: &str, tags: &[(&str, &str)]) -> AuthIdentity {
    let mut vars = BTreeMap::from([
        ("entity_name".to_string(), name.to_string()),
        ("entity_id".to_string(), "AROAEXAMPLE".to_string()),
        ("account_id".to_string(), "123456789012".to_string()),
    ]);
    let mut tag_map = BTreeMap::new();
    for (k, v) in tags {
        vars.insert(format!("entity_tags.{k}"), v.to_string());
        tag_map.insert(k.to_string(), v.to_string());
    }
    let mut data = Data::new();
    data.insert("entity_name".into(), Value::String(name.into()));
    data.insert("entity_id".into(), Value::String("AROAEXAMPLE".into()));
    data.insert("account_id".into(), Value::String("123456789012".into()));
    data.insert("entity_path".into(), Value::String(String::new()));
    data.insert("entity_tags".into(), Value::Map(Some(tag_map)));
    AuthIdentity {
        selectable: data,
        vars,
    }
}

fn rule(bind_type: &str, bind_name: &str, selector: &str) -> BindingRule {
    BindingRule {
        id: String::new(),
        description: String::new(),
        auth_method: "m".into(),
        selector: selector.into(),
        bind_type: bind_type.into(),
        bind_name: bind_name.into(),
        bind_vars: None,
        create_index: 0,
        modify_index: 0,
        ent: EntMeta::default(),
    }
}

struct Targets;

impl BindTargets for Targets {
    fn role_id_by_name(&self, name: &str, namespace: &str) -> Option<String> {
        (name == "consul-ecs-client-role" && namespace == "default").then(|| "role-id".to_string())
    }
    fn policy_id_by_name(&self, name: &str, _: &str) -> Option<String> {
        (name == "p1").then(|| "policy-id".to_string())
    }
}

fn opts() -> BindOptions {
    BindOptions {
        datacenter: "dc1".into(),
        reject_uppercase: false,
    }
}

fn run(rules: &[BindingRule], id: &AuthIdentity) -> Result<Bindings, BindError> {
    bind(rules, id, &schema(), "default", &opts(), &Targets)
}

#[test]
fn empty_selector_matches_and_selectors_filter() {
    let rules = [
        rule("service", "always", ""),
        rule("service", "web-only", "entity_name == \"web\""),
        rule(
            "service",
            "tagged",
            "entity_tags[\"kind\"] == \"api-gateway\"",
        ),
    ];
    let b = run(&rules, &ident("web", &[("kind", "api-gateway")])).unwrap();
    let names: Vec<_> = b
        .service_identities
        .iter()
        .map(|s| s.service_name.as_str())
        .collect();
    assert_eq!(names, ["always", "web-only", "tagged"]);
    let b = run(&rules, &ident("api", &[("kind", "mesh-gateway")])).unwrap();
    let names: Vec<_> = b
        .service_identities
        .iter()
        .map(|s| s.service_name.as_str())
        .collect();
    assert_eq!(names, ["always"]);
}

#[test]
fn selector_errors_are_a_silent_non_match() {
    let rules = [
        rule("service", "x", "this is not ( a selector"),
        rule("service", "y", "nope == \"x\""),
    ];
    let b = run(&rules, &ident("web", &[])).unwrap();
    assert!(b.is_none());
}

#[test]
fn variables_are_lowercased_literal_text_is_not() {
    let rules = [rule(
        "service",
        "${entity_name}-${entity_id}-${account_id}",
        "",
    )];
    let b = run(&rules, &ident("My-Role", &[])).unwrap();
    assert_eq!(
        b.service_identities[0].service_name,
        "my-role-aroaexample-123456789012"
    );
    // Literal upper case is checked as written, so it is invalid for a service.
    let e = run(
        &[rule("service", "Web-${entity_name}", "")],
        &ident("x", &[]),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "invalid bind name: \"Web-x\"");
}

#[test]
fn newest_consul_rejects_uppercase_variables_when_asked() {
    let strict = BindOptions {
        datacenter: "dc1".into(),
        reject_uppercase: true,
    };
    let e = bind(
        &[rule("service", "${entity_name}", "")],
        &ident("Web", &[]),
        &schema(),
        "default",
        &strict,
        &Targets,
    )
    .unwrap_err();
    assert!(e.to_string().starts_with(
        "invalid bind name: the projected variables contain uppercase characters (interpolated as \"Web\" before lowercasing)"
    ));
}

#[test]
fn invalid_names_fail_the_whole_binding() {
    let rules = [
        rule("role", "consul-ecs-client-role", ""),
        rule("service", "${entity_tags.path}", ""),
    ];
    let e = run(&rules, &ident("x", &[("path", "some/path")])).unwrap_err();
    assert_eq!(e, BindError::InvalidName("some/path".into()));
    let e = run(&[rule("service", "${entity_path}", "")], &ident("x", &[])).unwrap_err();
    assert!(matches!(e, BindError::Template(_)));
    assert!(e.to_string().starts_with("error interpreting template: "));
}

#[test]
fn missing_roles_and_policies_are_ignored() {
    let rules = [
        rule("role", "consul-ecs-client-role", ""),
        rule("role", "missing", ""),
        rule("policy", "p1", ""),
        rule("policy", "missing", ""),
    ];
    let b = run(&rules, &ident("x", &[])).unwrap();
    assert_eq!(b.roles, ["role-id"]);
    assert_eq!(b.policies, ["policy-id"]);
    let b = run(&[rule("role", "missing", "")], &ident("x", &[])).unwrap();
    assert!(b.is_none());
}

#[test]
fn node_identities_carry_the_datacenter() {
    let b = run(&[rule("node", "${entity_name}", "")], &ident("Node1", &[])).unwrap();
    assert_eq!(
        b.node_identities,
        [NodeIdentity {
            node_name: "node1".into(),
            datacenter: "dc1".into()
        }]
    );
}

#[test]
fn templated_policies() {
    let mut r = rule("templated-policy", "builtin/service", "");
    r.bind_vars = Some(TemplateVariables {
        name: "${entity_name}".into(),
    });
    let b = run(&[r.clone()], &ident("Web", &[])).unwrap();
    assert_eq!(b.templated_policies[0].template_name, "builtin/service");
    assert_eq!(
        b.templated_policies[0]
            .template_variables
            .as_ref()
            .unwrap()
            .name,
        "web"
    );
    r.bind_name = "builtin/nope".into();
    assert_eq!(
        run(&[r.clone()], &ident("Web", &[]))
            .unwrap_err()
            .to_string(),
        "Bind name for templated-policy bind type does not match existing template name: builtin/nope"
    );
    r.bind_name = "builtin/service".into();
    r.bind_vars = None;
    assert_eq!(
        run(&[r], &ident("Web", &[])).unwrap_err().to_string(),
        "templated policy failed validation: (root): name is required"
    );
}

#[test]
fn binding_rule_write_check_uses_fake_values() {
    let vars = [
        "entity_name".to_string(),
        "entity_tags.service-name".to_string(),
    ];
    assert!(check_binding_rule("service", "${entity_tags.service-name}", None, &vars).is_ok());
    assert!(check_binding_rule("role", "Role_${entity_name}", None, &vars).is_ok());
    assert_eq!(
        check_binding_rule("service", "Web", None, &vars).unwrap_err(),
        "failed to validate bindType \"service\": invalid bind name: \"Web\""
    );
    assert!(
        check_binding_rule("service", "${entity_path}", None, &vars)
            .unwrap_err()
            .starts_with("failed to validate bindType \"service\": error interpreting template: ")
    );
    assert_eq!(
        check_binding_rule("x", "y", None, &vars).unwrap_err(),
        "invalid Binding Rule: unknown BindType \"x\""
    );
}

#[test]
fn namespace_rules_first_match_wins() {
    let rules = [
        NamespaceRule {
            selector: "entity_tags[\"ns\"] != \"\"".into(),
            bind_namespace: "${entity_tags.ns}".into(),
        },
        NamespaceRule {
            selector: String::new(),
            bind_namespace: "fallback".into(),
        },
    ];
    assert_eq!(
        bind_namespace(
            &rules,
            &ident("x", &[("ns", "Team-A")]),
            &schema(),
            "default"
        )
        .unwrap(),
        "team-a"
    );
    assert_eq!(
        bind_namespace(&rules, &ident("x", &[("ns", "")]), &schema(), "default").unwrap(),
        "fallback"
    );
    assert_eq!(
        bind_namespace(&[], &ident("x", &[]), &schema(), "default").unwrap(),
        "default"
    );
}
