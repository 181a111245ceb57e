use std::path::Path;

use iamconform_scenario::{StepKind, json_schema, load_str, new_scenario_template};

#[test]
fn schema_is_json_and_describes_every_key_and_step_kind() {
    let schema = json_schema();
    let text = serde_json::to_string_pretty(&schema).unwrap();
    let reparsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(reparsed, schema);
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    assert_eq!(schema["title"], "iamconform scenario");
    assert_eq!(schema["additionalProperties"], false);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["name", "steps"]);
    for key in [
        "name",
        "tags",
        "requires",
        "identities",
        "aws",
        "consul",
        "steps",
    ] {
        let prop = &schema["properties"][key];
        assert!(
            prop["description"].as_str().is_some_and(|d| !d.is_empty()),
            "{key} has no description: {prop}"
        );
    }
    let step = &schema["$defs"]["Step"];
    let kinds: Vec<&str> = step["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["title"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, StepKind::KEYS);
    for key in StepKind::KEYS {
        assert!(text.contains(&format!("\"{key}\"")), "schema lacks {key}");
    }
}

#[test]
fn every_field_of_every_definition_has_a_description() {
    let schema = json_schema();
    let defs = schema["$defs"].as_object().unwrap();
    for (name, def) in defs {
        if let Some(props) = def["properties"].as_object() {
            for (key, prop) in props {
                assert!(
                    prop.get("description").is_some(),
                    "{name}.{key} has no description"
                );
            }
            assert_eq!(def["additionalProperties"], false, "{name} is not closed");
        }
    }
    let login = &defs["Login"];
    assert_eq!(login["required"], serde_json::json!(["as", "method"]));
    assert!(defs["CredentialSource"].to_string().contains("shared-file"));
}

#[test]
fn new_template_loads_and_carries_the_name() {
    for name in [
        "my scenario",
        "quote \" and: colon # hash",
        "ünïcode",
        "- dash",
    ] {
        let text = new_scenario_template(name);
        let s = load_str(Path::new("new.yaml"), &text)
            .unwrap_or_else(|d| panic!("template for {name:?} does not load:\n{d}"));
        assert_eq!(s.name, name);
        assert!(
            text.lines()
                .filter(|l| l.trim_start().starts_with('#'))
                .count()
                > 10
        );
    }
}
