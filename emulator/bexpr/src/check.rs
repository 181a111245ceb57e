//! Creation-time validation against the field schema (go-bexpr `validate.go` with the field
//! configurations `field_config.go` derives for Consul's identity struct).

use std::collections::BTreeMap;

use regex::Regex;

use crate::ast::{Expr, MatchExpr, MatchOp};
use crate::error::CheckError;

/// Largest compiled regex accepted (bytes of program). Go's RE2 has its own bounds; this
/// keeps a hostile `matches` pattern from exhausting memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// The kind of a top-level field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A `string` field: `==`, `!=`, `in`/`not in` (substring), `matches`/`not matches`.
    String,
    /// A `map[string]string` field: on the map `is empty`, `is not empty`, `in`/`not in` (key
    /// presence); one more segment (any key) selects a value with the string operators.
    StringMap,
}

impl FieldKind {
    /// `field_config.go`: primitive string fields and maps with string keys.
    fn supports(self, op: MatchOp) -> bool {
        match self {
            FieldKind::String => matches!(
                op,
                MatchOp::Equal
                    | MatchOp::NotEqual
                    | MatchOp::In
                    | MatchOp::NotIn
                    | MatchOp::Matches
                    | MatchOp::NotMatches
            ),
            FieldKind::StringMap => {
                matches!(
                    op,
                    MatchOp::IsEmpty | MatchOp::IsNotEmpty | MatchOp::In | MatchOp::NotIn
                )
            }
        }
    }
}

/// Top-level field names (the bexpr struct tags, e.g. `entity_name`) and their kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    fields: BTreeMap<String, FieldKind>,
}

impl Schema {
    /// Builds a schema from `(name, kind)` pairs.
    pub fn new<'a>(fields: impl IntoIterator<Item = (&'a str, FieldKind)>) -> Self {
        Schema {
            fields: fields.into_iter().map(|(n, k)| (n.to_owned(), k)).collect(),
        }
    }

    /// The kind of a top-level field.
    pub fn get(&self, name: &str) -> Option<FieldKind> {
        self.fields.get(name).copied()
    }
}

/// What a validated selector points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A string field.
    String(String),
    /// A map field as a whole.
    Map(String),
    /// One key of a map field.
    MapKey(String, String),
}

/// A validated match with its regex compiled.
#[derive(Debug, Clone)]
pub(crate) struct CompiledMatch {
    pub(crate) target: Target,
    pub(crate) op: MatchOp,
    pub(crate) value: String,
    pub(crate) regex: Option<Regex>,
}

/// A validated expression.
#[derive(Debug, Clone)]
pub(crate) enum Compiled {
    Or(Box<Compiled>, Box<Compiled>),
    And(Box<Compiled>, Box<Compiled>),
    Not(Box<Compiled>),
    Match(CompiledMatch),
}

/// Validates `expr` against `schema`; the first error in left-to-right order is reported, as
/// `validateRecurse` does.
pub fn check(expr: &Expr, schema: &Schema) -> Result<(), CheckError> {
    compile(expr, schema).map(|_| ())
}

pub(crate) fn compile(expr: &Expr, schema: &Schema) -> Result<Compiled, CheckError> {
    Ok(match expr {
        Expr::Or(l, r) => {
            Compiled::Or(Box::new(compile(l, schema)?), Box::new(compile(r, schema)?))
        }
        Expr::And(l, r) => {
            Compiled::And(Box::new(compile(l, schema)?), Box::new(compile(r, schema)?))
        }
        Expr::Not(x) => Compiled::Not(Box::new(compile(x, schema)?)),
        Expr::Match(m) => Compiled::Match(compile_match(m, schema)?),
    })
}

fn compile_match(m: &MatchExpr, schema: &Schema) -> Result<CompiledMatch, CheckError> {
    let path = &m.selector.0;
    let invalid = |n: usize| CheckError::InvalidSelector {
        selector: path.iter().take(n).cloned().collect::<Vec<_>>().join("."),
        span: m.span,
    };

    // Step 1: resolve the selector segment by segment (`Selector %q is not valid` names the
    // prefix up to the first segment that has no configuration).
    let (target, kind) = match path.as_slice() {
        [] => return Err(invalid(0)),
        [field, rest @ ..] => match (schema.get(field), rest) {
            (None, _) => return Err(invalid(1)),
            (Some(FieldKind::String), []) => (Target::String(field.clone()), FieldKind::String),
            (Some(FieldKind::String), [_, ..]) => return Err(invalid(2)),
            (Some(FieldKind::StringMap), []) => (Target::Map(field.clone()), FieldKind::StringMap),
            // The map's only sub-field is `FieldNameAny` with the string configuration.
            (Some(FieldKind::StringMap), [key]) => (
                Target::MapKey(field.clone(), key.clone()),
                FieldKind::String,
            ),
            (Some(FieldKind::StringMap), [_, _, ..]) => return Err(invalid(3)),
        },
    };

    // Step 2: the operator must be one the field configuration lists.
    if !kind.supports(m.op) {
        return Err(CheckError::InvalidOperator {
            op: m.op.go_name(),
            selector: m.selector.go_string(),
            span: m.span,
        });
    }

    // Step 3: coercion (`CoerceString` never fails), then the regex for `matches`.
    // UNVERIFIED: Go's RE2 classes `\d`, `\w`, `\s`, `\b` are ASCII-only while Rust's are
    // Unicode-aware; patterns and identities are ASCII in practice.
    let value = m.value.clone().unwrap_or_default();
    let regex = if matches!(m.op, MatchOp::Matches | MatchOp::NotMatches) {
        let re = regex::RegexBuilder::new(&value)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| CheckError::Regex {
                pattern: value.clone(),
                reason: regex_reason(&e, &value),
                span: m.span,
            })?;
        Some(re)
    } else {
        None
    };
    Ok(CompiledMatch {
        target,
        op: m.op,
        value,
        regex,
    })
}

/// The cause after Go's `error parsing regexp: ` prefix.
///
/// Go's two most common texts (unbalanced parentheses, which quote the whole pattern) are
/// reproduced; for anything else Rust's cause (the last line of its multi-line report) is
/// used. UNVERIFIED beyond those two: Go's `regexp/syntax` texts differ from Rust's.
fn regex_reason(e: &regex::Error, pattern: &str) -> String {
    let text = e.to_string();
    let cause = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("error: ").to_owned())
        .unwrap_or(text);
    match cause.as_str() {
        "unclosed group" => format!("missing closing ): `{pattern}`"),
        "unopened group" => format!("unexpected ): `{pattern}`"),
        _ => cause,
    }
}
