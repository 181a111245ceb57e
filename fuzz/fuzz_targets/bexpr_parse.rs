//! bexpr: parse, then print and parse again (the trees must agree), then check against the
//! aws-iam schema and evaluate over a fixed identity. Ok or Err everywhere, never a panic.
#![no_main]

use std::collections::BTreeMap;

use iamconform_bexpr::{Data, Evaluator, FieldKind, Schema, Value, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = parse(src) else {
        return;
    };
    let printed = expr.to_string();
    let reparsed =
        parse(&printed).unwrap_or_else(|e| panic!("printed form does not parse: {printed:?}: {e}"));
    assert_eq!(
        expr, reparsed,
        "round trip changed the tree; printed: {printed:?}"
    );
    assert_eq!(
        printed,
        reparsed.to_string(),
        "printing is not a fixed point"
    );

    // The schema Consul's aws-iam auth method exposes to binding-rule selectors.
    let schema = Schema::new([
        ("entity_name", FieldKind::String),
        ("entity_id", FieldKind::String),
        ("account_id", FieldKind::String),
        ("entity_path", FieldKind::String),
        ("entity_tags", FieldKind::StringMap),
    ]);
    if let Ok(ev) = Evaluator::new(src, &schema) {
        let mut identity = Data::new();
        identity.insert("entity_name".into(), Value::String("web-task".into()));
        identity.insert("entity_id".into(), Value::String("AROAEXAMPLE".into()));
        identity.insert("account_id".into(), Value::String("123456789012".into()));
        identity.insert("entity_path".into(), Value::String("/ecs/".into()));
        identity.insert(
            "entity_tags".into(),
            Value::Map(Some(BTreeMap::from([("team".into(), "web".into())]))),
        );
        let _ = ev.evaluate(&identity);
        // A nil map and missing fields are valid identities too.
        identity.insert("entity_tags".into(), Value::Map(None));
        identity.remove("entity_path");
        let _ = ev.evaluate(&identity);
    }
});
