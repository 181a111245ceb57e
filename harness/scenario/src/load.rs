//! Loading: read → parse (`tree.rs`) → decode (`decode.rs`) → validate (`validate.rs`).
//!
//! [`load_str`] and [`load_file`] return the validated [`Scenario`] or every problem found in the
//! file as [`Diagnostics`]; `iamconform lint` and `iamconform run` both use them.

use std::io::Read;
use std::path::Path;

use crate::decode::{Problem, decode};
use crate::diag::{Diagnostic, Diagnostics};
use crate::model::Scenario;
use crate::raw::{RawScenario, Sp};
use crate::tree::{self, Value};
use crate::validate::validate;

/// Scenario files larger than this are rejected unread.
pub const MAX_FILE_SIZE: u64 = 1024 * 1024;

/// Loads a scenario from text; `path` is used only in diagnostics.
///
/// ```
/// use std::path::Path;
/// let text = "name: smoke\nsteps:\n  - login: { as: web-task/task-1, method: aws }\n";
/// let scenario = iamconform_scenario::load_str(Path::new("smoke.yaml"), text).unwrap();
/// assert_eq!(scenario.steps.len(), 1);
///
/// let err = iamconform_scenario::load_str(Path::new("bad.yaml"), "nmae: x\n").unwrap_err();
/// assert!(err.to_string().starts_with("bad.yaml:1:1: error: unknown key `nmae`"));
/// ```
pub fn load_str(path: &Path, text: &str) -> Result<Scenario, Diagnostics> {
    if u64::try_from(text.len()).unwrap_or(u64::MAX) > MAX_FILE_SIZE {
        return Err(too_large(path));
    }
    let to_diags = |problems: Vec<Problem>| {
        Diagnostics::from_vec(
            problems
                .into_iter()
                .map(|p| Diagnostic {
                    path: path.to_path_buf(),
                    line: p.pos.line,
                    col: p.pos.col,
                    message: p.message,
                    help: p.help,
                })
                .collect(),
        )
    };
    let root = match tree::parse(text) {
        Ok(root) => root,
        Err(e) => {
            return Err(to_diags(vec![Problem {
                pos: e.pos,
                message: e.message,
                help: Some("check indentation, quoting and brackets near this position".into()),
            }]));
        }
    };
    if matches!(root.value, Value::Null) {
        return Err(Diagnostics::whole_file(
            path,
            "the file is empty".into(),
            Some("`iamconform new NAME` writes a starting scenario".into()),
        ));
    }
    let decoded = decode::<Sp<RawScenario>>(&root);
    let mut problems = decoded.problems;
    match decoded.value {
        Some(raw) => match validate(raw) {
            Ok(scenario) if problems.is_empty() => return Ok(scenario),
            Ok(_) => {}
            Err(more) => problems.extend(more),
        },
        None if problems.is_empty() => {
            // The decoder always reports why it gave up; this is a guard, not a path.
            problems.push(Problem {
                pos: root.pos,
                message: "internal error: the file could not be decoded (please file a bug)".into(),
                help: None,
            });
        }
        None => {}
    }
    Err(to_diags(problems))
}

/// Reads and loads a scenario file (at most [`MAX_FILE_SIZE`] bytes, UTF-8).
pub fn load_file(path: &Path) -> Result<Scenario, Diagnostics> {
    let unreadable = |e: std::io::Error| {
        Diagnostics::whole_file(path, format!("cannot read the file: {e}"), None)
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_SIZE.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > MAX_FILE_SIZE {
        return Err(too_large(path));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        Diagnostics::whole_file(
            path,
            format!(
                "the file is not UTF-8 (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            Some("save the file as UTF-8".into()),
        )
    })?;
    load_str(path, &text)
}

fn too_large(path: &Path) -> Diagnostics {
    Diagnostics::whole_file(
        path,
        format!("the file is larger than {MAX_FILE_SIZE} bytes"),
        Some("split it into several scenarios".into()),
    )
}
