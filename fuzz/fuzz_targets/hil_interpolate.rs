//! HIL interpolation of arbitrary bind-name templates over the aws-iam variables: Ok or Err,
//! never a panic.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(template) = std::str::from_utf8(data) else {
        return;
    };
    let vars = BTreeMap::from([
        ("entity_name".to_owned(), "Web-Task".to_owned()),
        ("entity_id".to_owned(), "AROAEXAMPLE".to_owned()),
        ("account_id".to_owned(), "123456789012".to_owned()),
        ("entity_path".to_owned(), "/ecs/".to_owned()),
        ("entity_tags.team".to_owned(), "Web".to_owned()),
    ]);
    let lowered = iamconform_hil::interpolate(template, &vars, true);
    let kept = iamconform_hil::interpolate(template, &vars, false);
    // Lowercasing only changes variable values, never whether a template is valid.
    assert_eq!(
        lowered.is_ok(),
        kept.is_ok(),
        "lowercase flag changed validity"
    );
    if let Err(e) = lowered {
        let _ = e.to_string();
    }
});
