//! Diagnostics: what is wrong in a scenario file, where, and how to fix it.
//!
//! Every problem the loader finds becomes one [`Diagnostic`] with the file path, a 1-based line
//! and column, a lowercase message and usually a `help` line. [`Diagnostics`] holds all of them
//! for one file, sorted by position; its `Display` is what `iamconform lint` prints.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in, as given to the loader.
    pub path: PathBuf,
    /// 1-based line of the offending node.
    pub line: u32,
    /// 1-based column of the offending node.
    pub col: u32,
    /// What is wrong: lowercase, no trailing period.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub help: Option<String>,
}

impl fmt::Display for Diagnostic {
    /// `path:line:col: error: message`, then `  help: …` on its own line when there is help.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// All problems found in one scenario file, sorted by line and column; never empty when
/// returned as an error by the loader.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// The diagnostics in file order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.items.iter()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when no problem was found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The diagnostics as a vector, in file order.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    /// A single diagnostic for a problem with the file as a whole (unreadable, too large).
    pub(crate) fn whole_file(path: &Path, message: String, help: Option<String>) -> Self {
        Self {
            items: vec![Diagnostic {
                path: path.to_path_buf(),
                line: 1,
                col: 1,
                message,
                help,
            }],
        }
    }

    pub(crate) fn from_vec(mut items: Vec<Diagnostic>) -> Self {
        items.sort_by_key(|d| (d.line, d.col));
        items.dedup();
        Self { items }
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl fmt::Display for Diagnostics {
    /// One diagnostic per entry, separated by newlines, in file order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The candidate closest to `word` when it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // Nobody mistypes a 64-character key; skipping long words bounds the quadratic distance.
    if word.is_empty() || word.len() > 64 {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for &c in candidates {
        let d = if c.eq_ignore_ascii_case(word) {
            0
        } else {
            edit_distance(&lower, &c.to_ascii_lowercase())
        };
        if best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    let (d, c) = best?;
    let limit = (word.chars().count() / 3).max(1);
    if d <= limit {
        return Some(c);
    }
    // A longer or shorter spelling of a key (`okay` for `ok`, `sts` for `sts_endpoint`).
    candidates.iter().copied().find(|c| {
        let c_lower = c.to_ascii_lowercase();
        c.len() >= 2
            && lower.len() >= 2
            && (lower.starts_with(&c_lower) || c_lower.starts_with(&lower))
    })
}

/// `help` text for a value that must be one of `choices`.
pub(crate) fn one_of_help(word: &str, choices: &[&str]) -> String {
    let list = choices
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match did_you_mean(word, choices) {
        Some(m) => format!("did you mean `{m}`? expected one of {list}"),
        None => format!("expected one of {list}"),
    }
}

/// Edit distance counting an adjacent transposition as one edit (optimal string alignment), so
/// `nmae` is one edit from `name`. Callers pass short words only; the cost is quadratic.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len().saturating_add(1);
    let mut d = vec![0usize; a.len().saturating_add(1).saturating_mul(width)];
    let at = |i: usize, j: usize| i.saturating_mul(width).saturating_add(j);
    for i in 0..=a.len() {
        if let Some(x) = d.get_mut(at(i, 0)) {
            *x = i;
        }
    }
    for j in 0..=b.len() {
        if let Some(x) = d.get_mut(at(0, j)) {
            *x = j;
        }
    }
    let get = |d: &[usize], i: usize, j: usize| d.get(at(i, j)).copied().unwrap_or(usize::MAX);
    for (i, ca) in a.iter().enumerate() {
        for (j, cb) in b.iter().enumerate() {
            let (i1, j1) = (i.saturating_add(1), j.saturating_add(1));
            let cost = usize::from(ca != cb);
            let mut v = get(&d, i, j1)
                .saturating_add(1)
                .min(get(&d, i1, j).saturating_add(1))
                .min(get(&d, i, j).saturating_add(cost));
            if i > 0
                && j > 0
                && a.get(i.wrapping_sub(1)) == Some(cb)
                && b.get(j.wrapping_sub(1)) == Some(ca)
            {
                v = v.min(get(&d, i.wrapping_sub(1), j.wrapping_sub(1)).saturating_add(1));
            }
            if let Some(x) = d.get_mut(at(i1, j1)) {
                *x = v;
            }
        }
    }
    get(&d, a.len(), b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_path_position_message_and_help() {
        let d = Diagnostic {
            path: PathBuf::from("scenarios/a.yaml"),
            line: 3,
            col: 7,
            message: "unknown key `nmae`".into(),
            help: Some("did you mean `name`?".into()),
        };
        assert_eq!(
            d.to_string(),
            "scenarios/a.yaml:3:7: error: unknown key `nmae`\n  help: did you mean `name`?"
        );
    }

    #[test]
    fn suggestions_catch_typos_and_case_only() {
        assert_eq!(did_you_mean("nmae", &["name", "tags"]), Some("name"));
        assert_eq!(did_you_mean("Steps", &["name", "steps"]), Some("steps"));
        assert_eq!(
            did_you_mean("include-entity", &["include_entity", "meta"]),
            Some("include_entity")
        );
        assert_eq!(did_you_mean("zzzzzz", &["name", "tags"]), None);
        assert_eq!(did_you_mean("okay", &["error", "ok"]), Some("ok"));
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("nmae", "name"), 1);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
