//! The scenario loader on arbitrary text: a scenario or diagnostics, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(diags) = iamconform_scenario::load_str(Path::new("fuzz.yaml"), text) {
        let _ = diags.to_string();
    }
});
