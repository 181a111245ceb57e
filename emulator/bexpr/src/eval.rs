//! Evaluation over an identity's selectable fields (go-bexpr v0.1.2 `evaluate.go`).

use std::collections::BTreeMap;

use crate::ast::MatchOp;
use crate::check::{Compiled, CompiledMatch, Target};
use crate::error::EvalError;

/// A field value: a string, or a string map that may be nil (`Map(None)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string field.
    String(String),
    /// A `map[string]string` field; `None` is Go's nil map.
    Map(Option<BTreeMap<String, String>>),
}

/// The selectable fields of one identity, by top-level field name.
pub type Data = BTreeMap<String, Value>;

pub(crate) fn eval(c: &Compiled, data: &Data) -> Result<bool, EvalError> {
    Ok(match c {
        // Short-circuits like go-bexpr: the right side is not evaluated when the left decides.
        Compiled::Or(l, r) => eval(l, data)? || eval(r, data)?,
        Compiled::And(l, r) => eval(l, data)? && eval(r, data)?,
        Compiled::Not(x) => !eval(x, data)?,
        Compiled::Match(m) => eval_match(m, data)?,
    })
}

fn field<'d>(data: &'d Data, name: &str) -> Result<&'d Value, EvalError> {
    data.get(name)
        .ok_or_else(|| EvalError::MissingField(name.to_owned()))
}

fn eval_match(m: &CompiledMatch, data: &Data) -> Result<bool, EvalError> {
    match &m.target {
        Target::String(name) => match field(data, name)? {
            Value::String(s) => Ok(string_op(m, s)),
            Value::Map(_) => Err(EvalError::KindMismatch(name.clone())),
        },
        Target::Map(name) => match field(data, name)? {
            Value::Map(map) => Ok(match m.op {
                MatchOp::IsEmpty => map.as_ref().is_none_or(BTreeMap::is_empty),
                MatchOp::IsNotEmpty => !map.as_ref().is_none_or(BTreeMap::is_empty),
                MatchOp::In => map.as_ref().is_some_and(|mm| mm.contains_key(&m.value)),
                MatchOp::NotIn => !map.as_ref().is_some_and(|mm| mm.contains_key(&m.value)),
                // check() admits no other operator on a map.
                _ => false,
            }),
            Value::String(_) => Err(EvalError::KindMismatch(name.clone())),
        },
        Target::MapKey(name, key) => match field(data, name)? {
            Value::Map(map) => match map.as_ref().and_then(|mm| mm.get(key)) {
                Some(s) => Ok(string_op(m, s)),
                // evaluate.go, key absent (also for a nil map): `==`, `is not empty`, `in` are
                // false; every other operator is true.
                // UNVERIFIED: `matches` / `not matches` on an absent key fall into the same
                // default branch (true) as in the v0.1.x source read; not run against v0.1.2.
                None => Ok(!matches!(
                    m.op,
                    MatchOp::Equal | MatchOp::IsNotEmpty | MatchOp::In
                )),
            },
            Value::String(_) => Err(EvalError::KindMismatch(name.clone())),
        },
    }
}

fn string_op(m: &CompiledMatch, s: &str) -> bool {
    let v = m.value.as_str();
    let re_match = || m.regex.as_ref().is_some_and(|re| re.is_match(s));
    match m.op {
        MatchOp::Equal => s == v,
        MatchOp::NotEqual => s != v,
        MatchOp::In => s.contains(v),
        MatchOp::NotIn => !s.contains(v),
        MatchOp::Matches => re_match(),
        MatchOp::NotMatches => !re_match(),
        // check() admits no emptiness test on a string.
        MatchOp::IsEmpty => s.is_empty(),
        MatchOp::IsNotEmpty => !s.is_empty(),
    }
}
