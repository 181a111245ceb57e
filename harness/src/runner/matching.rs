//! Subset matching of JSON values, the rule every `token:`/`json:`/`contains:` expectation uses.
//!
//! Objects match when every expected key matches (extra actual keys are fine); arrays match
//! element-wise, in order, with the same length; scalars match exactly. Two strings are
//! special: `present` matches any non-null value and `absent` matches a missing or null field.

use serde_json::Value;

/// Describes every mismatch between `expected` and `actual`; empty when they match.
pub fn subset(expected: &Value, actual: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    walk("", expected, Some(actual), &mut problems);
    problems
}

fn walk(path: &str, expected: &Value, actual: Option<&Value>, out: &mut Vec<String>) {
    let shown = |v: Option<&Value>| v.map_or_else(|| "nothing".to_string(), Value::to_string);
    let here = if path.is_empty() { "(root)" } else { path };
    match expected {
        Value::String(s) if s == "present" => {
            if matches!(actual, None | Some(Value::Null)) {
                out.push(format!("{here}: expected a value, found nothing"));
            }
        }
        Value::String(s) if s == "absent" => {
            if let Some(v) = actual.filter(|v| !v.is_null()) {
                out.push(format!("{here}: expected no value, found {v}"));
            }
        }
        Value::Object(map) => match actual {
            Some(Value::Object(act)) => {
                for (k, v) in map {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(&child, v, act.get(k), out);
                }
            }
            other => out.push(format!(
                "{here}: expected an object, found {}",
                shown(other)
            )),
        },
        Value::Array(items) => match actual {
            Some(Value::Array(act)) => {
                if items.len() != act.len() {
                    out.push(format!(
                        "{here}: expected {} element(s), found {}: {}",
                        items.len(),
                        act.len(),
                        Value::Array(act.clone())
                    ));
                    return;
                }
                for (i, (e, a)) in items.iter().zip(act).enumerate() {
                    walk(&format!("{path}[{i}]"), e, Some(a), out);
                }
            }
            other => out.push(format!("{here}: expected an array, found {}", shown(other))),
        },
        scalar => {
            if actual != Some(scalar) {
                out.push(format!(
                    "{here}: expected {scalar}, found {}",
                    shown(actual)
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_rules() {
        let actual = json!({"A": 1, "B": [{"X": "y", "Z": 2}], "C": null, "D": "t"});
        assert!(subset(&json!({"A": 1}), &actual).is_empty());
        assert!(subset(&json!({"B": [{"X": "y"}]}), &actual).is_empty());
        assert!(
            subset(
                &json!({"D": "present", "C": "absent", "E": "absent"}),
                &actual
            )
            .is_empty()
        );
        assert_eq!(
            subset(&json!({"A": 2}), &actual),
            ["A: expected 2, found 1"]
        );
        assert_eq!(
            subset(&json!({"E": "present"}), &actual),
            ["E: expected a value, found nothing"]
        );
        assert_eq!(
            subset(&json!({"B": []}), &actual),
            [r#"B: expected 0 element(s), found 1: [{"X":"y","Z":2}]"#]
        );
        assert_eq!(
            subset(&json!({"B": [{"X": "q"}]}), &actual),
            [r#"B[0].X: expected "q", found "y""#]
        );
        assert_eq!(
            subset(&json!({"D": "absent"}), &actual),
            [r#"D: expected no value, found "t""#]
        );
    }
}
