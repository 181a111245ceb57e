//! Subset matching of JSON values, the rule behind `expect.token`, `expect.json` and
//! `expect_audit.contains`. Pure, so the runner and its tests share one definition.

use std::fmt;

use serde_json::Value;

/// Where and how an expected value differs from the actual one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// JSON path of the difference, e.g. `ServiceIdentities[0].ServiceName`; empty at the root.
    pub path: String,
    /// What was expected there.
    pub expected: String,
    /// What was found (`missing` when absent).
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() {
            "value"
        } else {
            &self.path
        };
        write!(f, "{at}: expected {}, found {}", self.expected, self.actual)
    }
}

/// Checks that `expected` is a subset of `actual`: objects match key by key (extra keys in
/// `actual` are fine), arrays element by element with equal length, numbers by value, other
/// scalars exactly. Inside an object, the string `present` matches any non-null value and
/// `absent` matches a missing or null one.
///
/// ```
/// use serde_json::json;
/// use iamconform_scenario::json_subset;
/// let token = json!({"ServiceIdentities": [{"ServiceName": "web"}], "Local": true,
///                    "ExpirationTime": "2026-01-01T00:00:00Z"});
/// assert!(json_subset(&json!({"ServiceIdentities": [{"ServiceName": "web"}],
///                             "ExpirationTime": "present", "Roles": "absent"}), &token).is_ok());
/// assert!(json_subset(&json!({"Local": false}), &token).is_err());
/// ```
pub fn json_subset(expected: &Value, actual: &Value) -> Result<(), Mismatch> {
    subset_at(expected, actual, &mut String::new())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

fn subset_at(expected: &Value, actual: &Value, path: &mut String) -> Result<(), Mismatch> {
    let mismatch = |path: &str, expected: String, actual: String| Mismatch {
        path: path.to_owned(),
        expected,
        actual,
    };
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                let av = a.get(key);
                let r = match (ev.as_str(), av) {
                    (Some("present"), Some(v)) if !v.is_null() => Ok(()),
                    (Some("present"), _) => Err(mismatch(path, "present".into(), "missing".into())),
                    (Some("absent"), None | Some(Value::Null)) => Ok(()),
                    (Some("absent"), Some(v)) => Err(mismatch(path, "absent".into(), short(v))),
                    (_, None) => Err(mismatch(path, short(ev), "missing".into())),
                    (_, Some(av)) => subset_at(ev, av, path),
                };
                r?;
                path.truncate(len);
            }
            Ok(())
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return Err(mismatch(
                    path,
                    format!("{} element(s): {}", e.len(), short(expected)),
                    format!("{} element(s): {}", a.len(), short(actual)),
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                subset_at(ev, av, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        (e, a) if e == a => Ok(()),
        (e, a) => Err(mismatch(path, short(e), short(a))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_the_path_of_the_first_difference() {
        let e = json!({"ServiceIdentities": [{"ServiceName": "api"}]});
        let a = json!({"ServiceIdentities": [{"ServiceName": "web", "Datacenters": []}]});
        let m = json_subset(&e, &a).unwrap_err();
        assert_eq!(m.path, "ServiceIdentities[0].ServiceName");
        assert_eq!(
            m.to_string(),
            "ServiceIdentities[0].ServiceName: expected \"api\", found \"web\""
        );
    }

    #[test]
    fn arrays_must_have_equal_length_and_numbers_compare_by_value() {
        assert!(json_subset(&json!([1]), &json!([1, 2])).is_err());
        assert!(json_subset(&json!({"n": 1}), &json!({"n": 1.0})).is_ok());
        assert!(json_subset(&json!({"x": "present"}), &json!({"x": null})).is_err());
        assert!(json_subset(&json!({"x": "absent"}), &json!({})).is_ok());
        assert!(json_subset(&json!({"x": 1}), &json!({})).is_err());
    }
}
