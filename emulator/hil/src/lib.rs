//! HIL interpolation as Consul uses it for bind names (`${var}` in `BindName`,
//! `BindVars.Name`, `BindNamespace`).
//!
//! The template is scanned and parsed with HIL's full expression syntax so that syntax errors
//! carry HIL's texts and positions; then, as HIL's `IdentifierCheck` does, every variable and
//! function reference is resolved (`L:C: unknown variable accessed: name`); finally literals,
//! string variables and quoted strings are concatenated. Operators, conditionals, calls and
//! indexing parse but are not evaluated ([`HilError::Unsupported`]); Consul's variables are
//! all strings, so these only matter for exotic templates.
//!
//! Texts follow hashicorp/hil: `parse error at 1:14: expected "}" but found end of string`
//! (`parser/error.go`, `scanner/token.go`), `1:3: unknown variable accessed: x`
//! (`check_identifier.go`, which `Eval` runs before its type check). Positions are HIL's:
//! 1-based, columns in runes for text and identifiers, in bytes for punctuation.
//!
//! ```
//! use std::collections::BTreeMap;
//! let vars = BTreeMap::from([("entity_name".to_owned(), "My-Role".to_owned())]);
//! assert_eq!(iamconform_hil::interpolate("svc-${entity_name}", &vars, true).unwrap(), "svc-my-role");
//! ```
#![warn(missing_docs)]

mod parse;
mod scan;

use std::collections::BTreeMap;

use parse::{Node, Parser};
pub use scan::Pos;

/// Longest template accepted, in bytes (HIL has no limit).
pub const MAX_TEMPLATE_LEN: usize = 64 * 1024;

/// Why a template could not be interpolated. `Display` is HIL's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HilError {
    /// A syntax error (`parser.ParseError`).
    #[error("parse error at {line}:{column}: {message}")]
    Parse {
        /// Line of the offending token.
        line: usize,
        /// Column of the offending token.
        column: usize,
        /// HIL's message, e.g. `expected "}" but found invalid sequence "@"`.
        message: String,
    },
    /// A variable not in scope (`IdentifierCheck`).
    #[error("{line}:{column}: unknown variable accessed: {name}")]
    UnknownVariable {
        /// Line of the reference.
        line: usize,
        /// Column of the reference.
        column: usize,
        /// The variable name as written.
        name: String,
    },
    /// A function not in scope (`IdentifierCheck`; HIL registers only `__builtin_*` helpers).
    #[error("{line}:{column}: unknown function called: {name}")]
    UnknownFunction {
        /// Line of the call.
        line: usize,
        /// Column of the call.
        column: usize,
        /// The function name.
        name: String,
    },
    /// A construct this crate parses but does not evaluate (arithmetic, comparison, logic,
    /// conditional, indexing, builtin calls, floats). The text is ours, not HIL's.
    // UNVERIFIED: HIL would type-check these (e.g. string→int conversion of a variable) and
    // fail or succeed with its own texts; every such template is rejected here.
    #[error("{line}:{column}: unsupported HIL expression: {what}")]
    Unsupported {
        /// Line of the construct.
        line: usize,
        /// Column of the construct.
        column: usize,
        /// What it is.
        what: &'static str,
    },
    /// The template exceeds [`MAX_TEMPLATE_LEN`] (our bound).
    #[error("template longer than {max} bytes")]
    TooLong {
        /// The bound.
        max: usize,
    },
    /// The template nests deeper than the parser's bound (our bound).
    #[error("{line}:{column}: template nested deeper than {max} levels")]
    TooDeep {
        /// Line where the bound was hit.
        line: usize,
        /// Column where the bound was hit.
        column: usize,
        /// The bound.
        max: usize,
    },
}

/// Interpolates `template` as Consul's `template.InterpolateHIL` does.
///
/// Without `${` the template is returned unchanged (so `$$` stays `$$`). Otherwise `$$` becomes
/// `$` in literal text and each `${name}` is replaced by the variable's value, lower-cased when
/// `lowercase` (literal text is never changed).
pub fn interpolate(
    template: &str,
    vars: &BTreeMap<String, String>,
    lowercase: bool,
) -> Result<String, HilError> {
    if !template.contains("${") {
        return Ok(template.to_owned());
    }
    if template.len() > MAX_TEMPLATE_LEN {
        return Err(HilError::TooLong {
            max: MAX_TEMPLATE_LEN,
        });
    }
    let tree = Parser::new(scan::scan(template)).parse_top_level()?;
    identifier_check(&tree, vars)?;
    let mut out = String::new();
    eval(&tree, vars, lowercase, &mut out)?;
    Ok(out)
}

/// HIL's `IdentifierCheck`: children before parents, first failure wins.
fn identifier_check(n: &Node, vars: &BTreeMap<String, String>) -> Result<(), HilError> {
    match n {
        Node::Str(..) | Node::Int(..) | Node::Float(_) | Node::Bool(..) => Ok(()),
        Node::Var(name, p) => {
            if vars.contains_key(name) {
                Ok(())
            } else {
                Err(HilError::UnknownVariable {
                    line: p.line,
                    column: p.column,
                    name: name.clone(),
                })
            }
        }
        Node::Call(name, args, p) => {
            for a in args {
                identifier_check(a, vars)?;
            }
            if name.starts_with("__builtin_") {
                Ok(())
            } else {
                Err(HilError::UnknownFunction {
                    line: p.line,
                    column: p.column,
                    name: name.clone(),
                })
            }
        }
        Node::Index(t, k, _) => {
            identifier_check(t, vars)?;
            identifier_check(k, vars)
        }
        Node::Cond(c, t, f, _) => {
            identifier_check(c, vars)?;
            identifier_check(t, vars)?;
            identifier_check(f, vars)
        }
        Node::Arith(xs, _) | Node::Output(xs, _) => {
            xs.iter().try_for_each(|x| identifier_check(x, vars))
        }
    }
}

fn eval(
    n: &Node,
    vars: &BTreeMap<String, String>,
    lowercase: bool,
    out: &mut String,
) -> Result<(), HilError> {
    let unsupported = |what: &'static str| {
        let p = n.pos();
        Err(HilError::Unsupported {
            line: p.line,
            column: p.column,
            what,
        })
    };
    match n {
        Node::Str(s, _) => out.push_str(s),
        // HIL converts ints and bools to strings implicitly in output position.
        Node::Int(v, _) => out.push_str(&v.to_string()),
        Node::Bool(v, _) => out.push_str(if *v { "true" } else { "false" }),
        Node::Var(name, _) => {
            let v = vars.get(name).map_or("", String::as_str);
            // UNVERIFIED: Go's strings.ToLower and Rust's to_lowercase differ for a few
            // special-cased characters (e.g. U+0130); ASCII is identical.
            if lowercase {
                out.push_str(&v.to_lowercase())
            } else {
                out.push_str(v)
            }
        }
        Node::Output(xs, _) => {
            for x in xs {
                eval(x, vars, lowercase, out)?;
            }
        }
        Node::Float(_) => return unsupported("float"),
        Node::Call(..) => return unsupported("function call"),
        Node::Index(..) => return unsupported("index"),
        Node::Arith(..) => return unsupported("operator"),
        Node::Cond(..) => return unsupported("conditional"),
    }
    Ok(())
}
