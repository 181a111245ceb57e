//! `iamconform run --bless`: rewrite the expectations of failing steps to what happened.
//!
//! Like insta's `--accept` and trycmd's `TRYCMD=overwrite`: for each failed scenario, the
//! failing step's `expect:` is replaced by one built from the runner's observation
//! ([`crate::record::observe_login`]), keeping the keys the author chose (a `token:` that pinned
//! two fields still pins those two, now with the actual values). Only that `expect:` entry is
//! rewritten (as one flow-style line); every other line, comment and blank line of the file is
//! kept byte for byte. The runner stops a scenario at its first failing step, so a scenario
//! with several stale steps needs several `--bless` runs.
//!
//! Files are only rewritten when `git` reports them unchanged (so the diff can be reviewed and
//! undone), unless `force`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::record::expect_from_observation;
use crate::runner::events::{Outcome, ScenarioReport};

/// Why a file was not blessed.
#[derive(Debug, thiserror::Error)]
pub enum BlessError {
    /// The file has uncommitted changes (or is not in a git work tree).
    #[error(
        "{0}: not blessed: the file has uncommitted changes or is not tracked by git (commit it first, or pass --force)"
    )]
    Dirty(PathBuf),
    /// The failing step is not one bless can rewrite.
    #[error("{path}: step {step} ({title}) cannot be blessed: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// 1-based step.
        step: usize,
        /// The step title.
        title: String,
        /// Why.
        reason: String,
    },
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// One rewritten file.
#[derive(Debug, Clone)]
pub struct Blessed {
    /// The file.
    pub path: PathBuf,
    /// A unified diff of the change.
    pub diff: String,
}

/// Whether git reports `path` as tracked and unchanged.
fn git_clean(path: &Path) -> bool {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = path.file_name() else {
        return false;
    };
    let tracked = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["ls-files", "--error-unmatch", "--"])
        .arg(name)
        .output()
        .is_ok_and(|o| o.status.success());
    let status = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["status", "--porcelain", "--"])
        .arg(name)
        .output();
    tracked && status.is_ok_and(|o| o.status.success() && o.stdout.is_empty())
}

/// Blesses every failed scenario of a run; returns what was rewritten and what was not.
pub fn bless(reports: &[ScenarioReport], force: bool) -> (Vec<Blessed>, Vec<BlessError>) {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    for r in reports {
        let Outcome::Failed(failure) = &r.outcome else {
            continue;
        };
        let path = PathBuf::from(&r.path);
        match bless_one(&path, r, failure.step, &failure.step_title, force) {
            Ok(Some(b)) => done.push(b),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    (done, errors)
}

fn bless_one(
    path: &Path,
    r: &ScenarioReport,
    step: usize,
    title: &str,
    force: bool,
) -> Result<Option<Blessed>, BlessError> {
    let unsupported = |reason: &str| BlessError::Unsupported {
        path: path.to_owned(),
        step,
        title: title.to_owned(),
        reason: reason.to_owned(),
    };
    let Some(report) = step.checked_sub(1).and_then(|i| r.steps.get(i)) else {
        return Err(unsupported(
            "the scenario failed before its steps ran (set-up)",
        ));
    };
    if !force && !git_clean(path) {
        return Err(BlessError::Dirty(path.to_owned()));
    }
    let io = |source| BlessError::Io {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let (start, end, indent, old) = find_expect(&text, report.line)
        .ok_or_else(|| unsupported("its `- ` line was not found"))?;
    let new = if let Some(observed) = &report.observed {
        merge_login_expect(old.as_ref(), observed)
    } else if title.starts_with("logout") {
        let stderr = report
            .stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty());
        let o = crate::record::observe_login(stderr.is_none(), &report.stderr, None, None, &[]);
        expect_from_observation(&o)
    } else {
        return Err(unsupported("only login and logout steps are blessed"));
    };
    let line = format!("{}expect: {new}\n", " ".repeat(indent));
    let mut out = String::new();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, l) in lines.iter().enumerate() {
        if i == start {
            out.push_str(&line);
        }
        if i < start || i >= end {
            out.push_str(l);
        }
    }
    if start >= lines.len() {
        if !out.ends_with('\n') && !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    if out == text {
        return Ok(None);
    }
    std::fs::write(path, &out).map_err(io)?;
    let diff = similar::TextDiff::from_lines(&text, &out)
        .unified_diff()
        .header(&r.path, &r.path)
        .to_string();
    Ok(Some(Blessed {
        path: path.to_owned(),
        diff,
    }))
}

fn indent_of(l: &str) -> usize {
    l.len() - l.trim_start_matches(' ').len()
}

fn is_blank_or_comment(l: &str) -> bool {
    let t = l.trim();
    t.is_empty() || t.starts_with('#')
}

/// Finds the `expect:` entry of the step whose `- ` is on 1-based `line`: the range of lines it
/// spans (`start..end`, 0-based; `start == end` where it must be inserted), its indentation, and
/// its current value.
fn find_expect(text: &str, line: u32) -> Option<(usize, usize, usize, Option<Value>)> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let first = usize::try_from(line).ok()?.checked_sub(1)?;
    let item = lines.get(first)?;
    let dash = indent_of(item);
    if !item.trim_start().starts_with('-') {
        return None;
    }
    let content = dash + 2;
    // The end of the item: the next non-comment line indented at most as far as its `-`.
    let mut item_end = lines.len();
    for (i, l) in lines.iter().enumerate().skip(first + 1) {
        if !is_blank_or_comment(l) && indent_of(l) <= dash {
            item_end = i;
            break;
        }
    }
    // The expect key.
    let found = (first + 1..item_end).find(|&i| {
        lines
            .get(i)
            .is_some_and(|l| indent_of(l) == content && l.trim_start().starts_with("expect:"))
    });
    let Some(start) = found else {
        // Insert after the item's last non-blank line.
        let mut at = item_end;
        while at > first + 1 && lines.get(at - 1).is_some_and(|l| l.trim().is_empty()) {
            at -= 1;
        }
        return Some((at, at, content, None));
    };
    let mut end = start + 1;
    while let Some(l) = lines.get(end) {
        if end >= item_end || (!l.trim().is_empty() && indent_of(l) <= content) {
            break;
        }
        end += 1;
    }
    // Trailing blank lines belong to what follows.
    while end > start + 1 && lines.get(end - 1).is_some_and(|l| l.trim().is_empty()) {
        end -= 1;
    }
    let block: String = lines.get(start..end)?.concat();
    let dedented: String = block
        .lines()
        .map(|l| l.get(content.min(indent_of(l))..).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let old = serde_saphyr::from_str::<Value>(&dedented)
        .ok()
        .and_then(|v| v.get("expect").cloned());
    Some((start, end, content, old))
}

/// The new `expect:` of a login step: the observed outcome, keeping the author's choice of keys.
fn merge_login_expect(old: Option<&Value>, observed: &Value) -> String {
    let Some(old) = old.and_then(Value::as_object) else {
        return expect_from_observation(observed);
    };
    let ok = observed.get("ok").and_then(Value::as_bool).unwrap_or(false);
    let fresh: Value =
        serde_json::from_str(&expect_from_observation(observed)).unwrap_or(Value::Null);
    let mut m = Map::new();
    m.insert("ok".into(), Value::Bool(ok));
    if !ok {
        let line = observed.get("error").and_then(Value::as_str).unwrap_or("");
        let keep = old
            .get("error")
            .and_then(Value::as_str)
            .filter(|e| line.to_lowercase().contains(&e.to_lowercase()));
        match keep {
            Some(e) => m.insert("error".into(), Value::String(e.to_owned())),
            None => fresh
                .get("error")
                .cloned()
                .and_then(|e| m.insert("error".into(), e)),
        };
    }
    if ok && let Some(old_token) = old.get("token").and_then(Value::as_object) {
        let actual = observed.get("token").and_then(Value::as_object);
        let mut t = Map::new();
        for (k, v) in old_token {
            let value = actual.and_then(|a| a.get(k)).cloned().unwrap_or_else(|| {
                // Not observed (e.g. `present`/`absent` markers on unpinned fields): keep it.
                v.clone()
            });
            t.insert(k.clone(), value);
        }
        m.insert("token".into(), Value::Object(t));
    }
    if let Some(old_sent) = old.get("sent").and_then(Value::as_object)
        && let Some(actual) = observed.get("sent").and_then(Value::as_object)
    {
        let mut s = Map::new();
        for (k, v) in old_sent {
            let value = if k == "signed_headers" {
                let signed: Vec<&str> = actual
                    .get("signed_headers")
                    .and_then(|h| h.get("include"))
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let pick = |key: &str, keep_if_signed: bool| -> Vec<Value> {
                    v.get(key)
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter(|h| {
                                    h.as_str()
                                        .is_some_and(|h| signed.contains(&h) == keep_if_signed)
                                })
                                .cloned()
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let mut sh = Map::new();
                if v.get("include").is_some() {
                    sh.insert("include".into(), Value::Array(pick("include", true)));
                }
                if v.get("exclude").is_some() {
                    sh.insert("exclude".into(), Value::Array(pick("exclude", false)));
                }
                Value::Object(sh)
            } else {
                match actual.get(k) {
                    Some(a) => a.clone(),
                    // The journal has no verdict when nothing reached STS.
                    None => continue,
                }
            };
            s.insert(k.clone(), value);
        }
        m.insert("sent".into(), Value::Object(s));
    }
    Value::Object(m).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FILE: &str = "name: x # keep me\nsteps:\n  # a comment\n  - login: { as: a/b, method: m }\n    expect:\n      ok: true   # stale\n      token: { Description: old }\n\n  - logout: {}\n    expect: { ok: true }\n";

    #[test]
    fn finds_block_and_flow_expectations() {
        let (s, e, ind, old) = find_expect(FILE, 4).unwrap();
        assert_eq!((s, e, ind), (4, 7, 4));
        assert_eq!(
            old.unwrap(),
            json!({"ok": true, "token": {"Description": "old"}})
        );
        let (s, e, _, old) = find_expect(FILE, 9).unwrap();
        assert_eq!((s, e), (9, 10));
        assert_eq!(old.unwrap(), json!({"ok": true}));
    }

    #[test]
    fn merge_keeps_the_authors_keys() {
        let observed = json!({"ok": true, "error": null,
            "token": {"Description": "new", "Local": true},
            "sent": {"region": "us-west-2", "host": "h", "signed_headers": {"include": ["host"]}}});
        let old = json!({"ok": true, "token": {"Description": "old"},
            "sent": {"region": "us-east-1", "signed_headers": {"include": ["host", "x-consul-iam-serverid"], "exclude": ["host"]}}});
        let got: Value = serde_json::from_str(&merge_login_expect(Some(&old), &observed)).unwrap();
        assert_eq!(
            got,
            json!({"ok": true, "token": {"Description": "new"},
                   "sent": {"region": "us-west-2", "signed_headers": {"include": ["host"], "exclude": []}}})
        );
        let failed = json!({"ok": false, "error": "Error: x (header wasn't signed)", "token": null, "sent": null});
        let got: Value = serde_json::from_str(&merge_login_expect(Some(&old), &failed)).unwrap();
        assert_eq!(got, json!({"ok": false, "error": "header wasn't signed"}));
    }
}
