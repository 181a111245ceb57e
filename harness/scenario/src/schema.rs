//! The JSON Schema of scenario files (`iamconform schema`), generated from the raw types so that
//! editors see the same keys and descriptions the loader accepts.

use crate::raw::RawScenario;

/// The JSON Schema (draft 2020-12) of a scenario file.
///
/// ```
/// let schema = iamconform_scenario::json_schema();
/// assert_eq!(schema["title"], "iamconform scenario");
/// ```
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(RawScenario).to_value()
}
