#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // rust-clippy#13981

use std::collections::BTreeMap;

use iamconform_bexpr::{
    CheckError, Data, Error, EvalError, Evaluator, FieldKind, Schema, Span, Value, check, parse,
};

fn schema() -> Schema {
    Schema::new([
        ("entity_name", FieldKind::String),
        ("entity_id", FieldKind::String),
        ("account_id", FieldKind::String),
        ("entity_path", FieldKind::String),
        ("entity_tags", FieldKind::StringMap),
    ])
}

fn identity(tags: Option<&[(&str, &str)]>) -> Data {
    let mut d = Data::new();
    d.insert("entity_name".into(), Value::String("my-role".into()));
    d.insert("entity_id".into(), Value::String("AAAsomeuniqueid".into()));
    d.insert("account_id".into(), Value::String("1234567890".into()));
    d.insert(
        "entity_path".into(),
        Value::String(if tags.is_some() { "some/path" } else { "" }.into()),
    );
    let map = tags.map(|t| {
        t.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>()
    });
    d.insert("entity_tags".into(), Value::Map(map));
    d
}

fn eval(src: &str, data: &Data) -> bool {
    Evaluator::new(src, &schema())
        .unwrap_or_else(|e| panic!("{src:?}: {e}"))
        .evaluate(data)
        .unwrap()
}

fn check_err(src: &str) -> String {
    match Evaluator::new(src, &schema()) {
        Ok(_) => panic!("{src:?} unexpectedly valid"),
        Err(Error::Check(e)) => e.to_string(),
        Err(Error::Parse(e)) => panic!("{src:?}: parse error {e}"),
    }
}

const ECS_TAGS: &[(&str, &str)] = &[
    ("consul.hashicorp.com.gateway-kind", "api-gateway"),
    ("consul.hashicorp.com.namespace", "ns1"),
];

// consul-ecs controller selectors (spec §3.2).
#[test]
fn consul_ecs_selectors() {
    let gw = r#"entity_tags["consul.hashicorp.com.gateway-kind"] == "api-gateway""#;
    let ns = r#"entity_tags["consul.hashicorp.com.namespace"] != """#;
    let on = identity(Some(ECS_TAGS));
    assert!(eval(gw, &on));
    assert!(eval(ns, &on));
    let other = identity(Some(&[
        ("consul.hashicorp.com.gateway-kind", "mesh-gateway"),
        ("consul.hashicorp.com.namespace", ""),
    ]));
    assert!(!eval(gw, &other));
    assert!(!eval(ns, &other));
    // Details off: nil map ⇒ `==` false, `!=` true.
    let off = identity(None);
    assert!(!eval(gw, &off));
    assert!(eval(ns, &off));
}

// Spec §7.7 selectors.
#[test]
fn consul_login_selectors() {
    let d = identity(Some(&[]));
    assert!(eval(
        r#"entity_name=="my-role" and entity_id=="AAAsomeuniqueid" and account_id=="1234567890""#,
        &d
    ));
    assert!(!eval(
        r#"entity_name=="my-role" and entity_id=="aaasomeuniqueid" and account_id=="1234567890""#,
        &d
    ));
    assert!(eval(r#"entity_path=="some/path""#, &d));
    assert!(!eval(r#"entity_path=="some/path""#, &identity(None)));
    assert!(eval("account_id == 1234567890", &d));
}

// Spec §3.1 edge case: nil map vs. configured-but-absent tag.
#[test]
fn nil_map_vs_empty_value() {
    let off = identity(None);
    let on_absent = identity(Some(&[("x", "")]));
    assert!(!eval(r#"entity_tags.x == """#, &off));
    assert!(eval(r#"entity_tags.x != """#, &off));
    assert!(eval(r#"entity_tags.x == """#, &on_absent));
    assert!(!eval(r#"entity_tags.x != """#, &on_absent));
}

#[test]
fn missing_key_dispositions() {
    let d = identity(Some(&[("env", "prod")]));
    let off = identity(None);
    for data in [&d, &off] {
        assert!(!eval(r#"entity_tags.missing == "a""#, data));
        assert!(eval(r#"entity_tags.missing != "a""#, data));
        assert!(!eval(r#"entity_tags.missing contains "a""#, data));
        assert!(eval(r#"entity_tags.missing not contains "a""#, data));
        assert!(!eval(r#""a" in entity_tags.missing"#, data));
        // UNVERIFIED pin: `matches` / `not matches` on an absent key take the default branch.
        assert!(eval(r#"entity_tags.missing matches "a""#, data));
        assert!(eval(r#"entity_tags.missing not matches "a""#, data));
    }
}

#[test]
fn map_operators() {
    let d = identity(Some(&[("env", "prod")]));
    let empty = identity(Some(&[]));
    let off = identity(None);
    assert!(eval("entity_tags is not empty", &d));
    assert!(!eval("entity_tags is empty", &d));
    assert!(eval("entity_tags is empty", &empty));
    assert!(eval("entity_tags is empty", &off));
    assert!(eval("\"env\" in entity_tags", &d));
    assert!(eval("env in entity_tags", &d));
    assert!(eval("entity_tags contains \"env\"", &d));
    assert!(!eval("\"prod\" in entity_tags", &d));
    assert!(eval("\"env\" not in entity_tags", &off));
    assert!(eval(r#"entity_tags["env"] == prod"#, &d));
    assert!(eval(r#"entity_tags.env matches "^pr""#, &d));
}

#[test]
fn string_operators() {
    let d = identity(Some(&[]));
    assert!(eval(r#"entity_name contains "role""#, &d));
    assert!(eval(r#""role" in entity_name"#, &d));
    assert!(eval(r#""x" not in entity_name"#, &d));
    assert!(eval(r#"entity_name not contains "x""#, &d));
    // Unanchored regex.
    assert!(eval(r#"entity_name matches "y-r""#, &d));
    assert!(!eval(r#"entity_name matches "^y-r""#, &d));
    assert!(eval(r#"entity_name not matches "^y-r""#, &d));
    // Case-sensitive.
    assert!(!eval(r#"entity_name == "My-Role""#, &d));
    assert!(!eval(r#"entity_id contains "aaa""#, &d));
    assert!(eval("entity_name == myrole or entity_name != myrole", &d));
}

#[test]
fn logic() {
    let d = identity(Some(&[]));
    assert!(eval(r#"not entity_name == "x""#, &d));
    assert!(eval(r#"not not entity_name == "my-role""#, &d));
    assert!(eval(
        r#"entity_name == "x" or entity_id == "AAAsomeuniqueid""#,
        &d
    ));
    assert!(!eval(
        r#"entity_name == "x" or entity_name == "y" and entity_id == "AAAsomeuniqueid""#,
        &d
    ));
    assert!(eval(
        r#"(entity_name == "x" or entity_name == "my-role") and entity_id == "AAAsomeuniqueid""#,
        &d
    ));
    assert!(eval(r#"(entity_name == "my-role")"#, &d));
}

#[test]
fn check_errors() {
    assert_eq!(check_err("foo == 1"), r#"Selector "foo" is not valid"#);
    assert_eq!(
        check_err("entity_name.x == 1"),
        r#"Selector "entity_name.x" is not valid"#
    );
    assert_eq!(
        check_err("entity_tags.a.b == 1"),
        r#"Selector "entity_tags.a.b" is not valid"#
    );
    assert_eq!(
        check_err("Entity_name == 1"),
        r#"Selector "Entity_name" is not valid"#
    );
    assert_eq!(
        check_err("entity_name is empty"),
        r#"Invalid match operator "Is Empty" for selector "entity_name""#
    );
    assert_eq!(
        check_err("entity_tags == x"),
        r#"Invalid match operator "Equal" for selector "entity_tags""#
    );
    assert_eq!(
        check_err("entity_tags matches x"),
        r#"Invalid match operator "Matches" for selector "entity_tags""#
    );
    assert_eq!(
        check_err(r#"entity_tags["a.b"] is not empty"#),
        r#"Invalid match operator "Is Not Empty" for selector "entity_tags.a.b""#
    );
    let re = check_err(r#"entity_name matches "(""#);
    assert!(
        re.starts_with(r#"Failed to compile regular expression "(": error parsing regexp: "#),
        "{re}"
    );
    // First error in source order.
    assert_eq!(
        check_err(r#"foo == 1 and entity_name is empty"#),
        r#"Selector "foo" is not valid"#
    );
    // check() on its own.
    let e = parse("bar == 1").unwrap();
    assert_eq!(
        check(&e, &schema()),
        Err(CheckError::InvalidSelector {
            selector: "bar".into(),
            span: Span { start: 0, end: 8 }
        })
    );
    // Spans point at the offending comparison.
    let e =
        parse(r#"entity_name == "x" and  entity_tags is empty or entity_name is empty"#).unwrap();
    let err = check(&e, &schema()).unwrap_err();
    assert_eq!(err.span(), Span { start: 48, end: 68 });
}

#[test]
fn parse_errors_surface_through_new() {
    let e = Evaluator::new("entity_tags.service-name == \"x\"", &schema()).unwrap_err();
    assert!(matches!(e, Error::Parse(_)));
    assert!(e.to_string().starts_with("1:20 (19): no match found"));
}

#[test]
fn data_mismatch_is_an_error() {
    let ev = Evaluator::new("entity_name == x", &schema()).unwrap();
    assert_eq!(
        ev.evaluate(&Data::new()),
        Err(EvalError::MissingField("entity_name".into()))
    );
    let mut d = Data::new();
    d.insert("entity_name".into(), Value::Map(None));
    assert_eq!(
        ev.evaluate(&d),
        Err(EvalError::KindMismatch("entity_name".into()))
    );
}
