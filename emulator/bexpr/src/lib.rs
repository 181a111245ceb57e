//! The go-bexpr v0.1.2 subset Consul uses for ACL binding-rule selectors.
//!
//! Three steps, as in go-bexpr: [`parse`] (syntax, pigeon-style error texts), [`check`]
//! (selectors, operators and regexes against a [`Schema`], `validate.go` texts), and
//! evaluation over [`Data`] through an [`Evaluator`]. Everything is pure and bounded
//! ([`MAX_SELECTOR_LEN`], [`MAX_DEPTH`]).
//!
//! An empty selector is a syntax error here, as in go-bexpr; Consul itself treats an empty
//! binding-rule selector as "match everything" before calling bexpr, and so must callers.
//!
//! Fidelity notes: syntax errors reproduce pigeon's texts (`1:10 (9): rule "grouping":
//! Unmatched parentheses`, `1:4 (3): no match found, expected: "in", "not" or [ \t\r\n]`) and
//! pass go-bexpr's own grammar-test vectors (minus the JSON-pointer `"/"` that later releases
//! added); check errors reproduce `validate.go`; regex syntax errors beyond unbalanced
//! parentheses carry Rust's cause text (UNVERIFIED vs. Go's RE2).
//!
//! ```
//! use iamconform_bexpr::{Data, Evaluator, FieldKind, Schema, Value};
//! let schema = Schema::new([("entity_name", FieldKind::String), ("entity_tags", FieldKind::StringMap)]);
//! let ev = Evaluator::new(r#"entity_tags["team"] == "x" and entity_name matches "^my-""#, &schema).unwrap();
//! let mut data = Data::new();
//! data.insert("entity_name".into(), Value::String("my-role".into()));
//! data.insert("entity_tags".into(), Value::Map(Some([("team".into(), "x".into())].into())));
//! assert!(ev.evaluate(&data).unwrap());
//! ```
#![warn(missing_docs)]

mod ast;
mod check;
mod error;
mod eval;
mod parse;

pub use ast::{Expr, MatchExpr, MatchOp, Selector, Span};
pub use check::{FieldKind, Schema, check};
pub use error::{CheckError, Error, EvalError, ParseError, ParseErrorItem, ParseErrorKind};
pub use eval::{Data, Value};
pub use parse::{MAX_DEPTH, MAX_SELECTOR_LEN, parse};

/// A parsed and validated selector, ready to evaluate many times.
#[derive(Debug, Clone)]
pub struct Evaluator {
    expr: Expr,
    compiled: check::Compiled,
}

impl Evaluator {
    /// Parses and validates `src` (go-bexpr `CreateEvaluatorForType`).
    pub fn new(src: &str, schema: &Schema) -> Result<Evaluator, Error> {
        let expr = parse(src)?;
        let compiled = check::compile(&expr, schema)?;
        Ok(Evaluator { expr, compiled })
    }

    /// Evaluates against one identity's fields.
    pub fn evaluate(&self, data: &Data) -> Result<bool, EvalError> {
        eval::eval(&self.compiled, data)
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }
}
