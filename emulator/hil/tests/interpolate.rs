#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // rust-clippy#13981

use std::collections::BTreeMap;

use iamconform_hil::{HilError, interpolate};

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn ok(t: &str, v: &BTreeMap<String, String>) -> String {
    interpolate(t, v, true).unwrap_or_else(|e| panic!("{t:?}: {e}"))
}

fn err(t: &str, v: &BTreeMap<String, String>) -> String {
    match interpolate(t, v, true) {
        Ok(s) => panic!("{t:?} unexpectedly gave {s:?}"),
        Err(e) => e.to_string(),
    }
}

fn identity() -> BTreeMap<String, String> {
    vars(&[
        ("entity_name", "my-role"),
        ("entity_id", "AAAsomeuniqueid"),
        ("account_id", "1234567890"),
        ("entity_path", "some/path"),
        ("entity_tags.env", "my-env"),
        ("entity_tags.service-name", "my-service"),
        ("entity_tags.user-group", "My-Group"),
        (
            "entity_tags.consul.hashicorp.com.service-name",
            "Svc-From-Tag",
        ),
    ])
}

// Spec §7.7 (TestLoginCommand_aws_iam).
#[test]
fn consul_login_vectors() {
    let v = identity();
    assert_eq!(
        ok("${entity_name}-${entity_id}-${account_id}", &v),
        "my-role-aaasomeuniqueid-1234567890"
    );
    assert_eq!(ok("${entity_name}", &v), "my-role");
    assert_eq!(
        ok("${entity_tags.env}-${entity_tags.service-name}", &v),
        "my-env-my-service"
    );
    assert_eq!(
        ok("${entity_name}-${entity_tags.user-group}", &v),
        "my-role-my-group"
    );
}

#[test]
fn dotted_tag_key_is_one_identifier() {
    assert_eq!(
        ok(
            "${entity_tags.consul.hashicorp.com.service-name}",
            &identity()
        ),
        "svc-from-tag"
    );
}

#[test]
fn lowercase_applies_to_values_only() {
    let v = identity();
    assert_eq!(
        ok("Prefix-${entity_id}-SUFFIX", &v),
        "Prefix-aaasomeuniqueid-SUFFIX"
    );
    assert_eq!(
        interpolate("Prefix-${entity_id}", &v, false).unwrap(),
        "Prefix-AAAsomeuniqueid"
    );
}

#[test]
fn no_interpolation_is_literal() {
    let v = identity();
    assert_eq!(ok("plain-Name", &v), "plain-Name");
    // Without `${` Consul skips HIL entirely, so `$$` is not unescaped.
    assert_eq!(ok("a$$b", &v), "a$$b");
    assert_eq!(ok("", &v), "");
    assert_eq!(ok("$", &v), "$");
}

#[test]
fn escapes() {
    let v = identity();
    assert_eq!(ok("$${entity_name}", &v), "${entity_name}");
    assert_eq!(ok("a$$b-${entity_name}", &v), "a$b-my-role");
    assert_eq!(ok("${\"lit\"}-${entity_name}", &v), "lit-my-role");
    assert_eq!(ok("${\"a\\\"b\\\\c\"}", &v), "a\"b\\c");
    assert_eq!(ok("${ entity_name }", &v), "my-role");
    assert_eq!(ok("${\"x-${entity_name}\"}", &v), "x-my-role");
}

#[test]
fn unknown_variables() {
    let v = vars(&[("entity_name", "r")]);
    assert_eq!(
        err("${entity_path}", &v),
        "1:3: unknown variable accessed: entity_path"
    );
    assert_eq!(
        err("abc-${entity_name}-${entity_tags.foo}", &v),
        "1:22: unknown variable accessed: entity_tags.foo"
    );
    assert_eq!(
        err("x\n${nope}", &v),
        "2:3: unknown variable accessed: nope"
    );
    // First unknown in source order wins.
    assert_eq!(err("${a}${b}", &v), "1:3: unknown variable accessed: a");
    assert!(matches!(
        interpolate("${zz}", &v, true),
        Err(HilError::UnknownVariable {
            line: 1,
            column: 3,
            ..
        })
    ));
}

#[test]
fn unknown_function() {
    let v = vars(&[("entity_name", "r")]);
    assert_eq!(
        err("${lower(entity_name)}", &v),
        "1:3: unknown function called: lower"
    );
    assert_eq!(
        err("${lower(nope)}", &v),
        "1:9: unknown variable accessed: nope"
    );
}

#[test]
fn malformed_templates() {
    let v = identity();
    assert_eq!(
        err("${", &v),
        "parse error at 1:3: expected expression but found end of string"
    );
    assert_eq!(
        err("${entity_name", &v),
        "parse error at 1:14: expected \"}\" but found end of string"
    );
    assert_eq!(
        err("a-${entity_name", &v),
        "parse error at 1:16: expected \"}\" but found end of string"
    );
    assert_eq!(
        err("${}", &v),
        "parse error at 1:3: expected expression but found \"}\""
    );
    assert_eq!(
        err("${entity_tags.a@b}", &v),
        "parse error at 1:16: expected \"}\" but found invalid sequence \"@\""
    );
    assert_eq!(
        err("${entity_name:x}", &v),
        "parse error at 1:14: expected \"}\" but found \":\""
    );
    assert_eq!(
        err("${entity_name x}", &v),
        "parse error at 1:15: expected \"}\" but found \"x\""
    );
    assert_eq!(
        err("${a=b}", &v),
        "parse error at 1:4: expected \"}\" but found invalid sequence \"=\""
    );
    assert_eq!(
        err("${\"abc}", &v),
        "parse error at 1:4: expected \"${\" but found invalid sequence \"abc}\""
    );
    assert_eq!(
        err("${\"a\\qb\"}", &v),
        "parse error at 1:5: invalid backslash escape sequence"
    );
    assert_eq!(
        err("${99999999999999999999}", &v),
        "parse error at 1:3: invalid integer: strconv.Atoi: parsing \"99999999999999999999\": value out of range"
    );
}

#[test]
fn operators_are_rejected_after_identifier_check() {
    let v = identity();
    // `/` and `+` end the identifier and parse as operators; unknown operands are reported
    // first, as HIL's IdentifierCheck runs before its type check.
    assert_eq!(
        err("${entity_tags.a/b}", &v),
        "1:3: unknown variable accessed: entity_tags.a"
    );
    assert!(matches!(
        interpolate("${entity_name+entity_id}", &v, true),
        Err(HilError::Unsupported {
            line: 1,
            column: 3,
            ..
        })
    ));
}

#[test]
fn ints_and_bools_print() {
    let v = identity();
    assert_eq!(ok("n-${5}", &v), "n-5");
    assert_eq!(ok("${true}", &v), "true");
}

#[test]
fn bounded() {
    let v = identity();
    let deep = format!("${{{}entity_name{}}}", "(".repeat(200), ")".repeat(200));
    assert!(matches!(
        interpolate(&deep, &v, true),
        Err(HilError::TooDeep { .. })
    ));
    let nested_ok = format!("${{{}entity_name{}}}", "(".repeat(20), ")".repeat(20));
    assert_eq!(ok(&nested_ok, &v), "my-role");
    let long = format!("${{entity_name}}{}", "a".repeat(70 * 1024));
    assert!(matches!(
        interpolate(&long, &v, true),
        Err(HilError::TooLong { .. })
    ));
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let _ = interpolate(&s, &identity(), true);
        }

        #[test]
        fn never_panics_hil_alphabet(s in "[$${}()\"\\\\a-z._*+/:@=!<>&| \n0-9-]{0,48}") {
            let _ = interpolate(&s, &identity(), true);
        }

        #[test]
        fn plain_text_round_trips(s in "[^$]{0,40}") {
            prop_assert_eq!(interpolate(&s, &identity(), true).unwrap(), s);
        }
    }
}
