//! The syntax tree, shaped like go-bexpr v0.1.2's `ast.go`, and its canonical printer.

use std::fmt;

/// A parsed selector expression.
///
/// `not not x` never appears: the parser collapses it (as go-bexpr's grammar action does), and
/// [`fmt::Display`] prints a hand-built `Not(Not(x))` as `x` so printing always re-parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// `left or right` (right-associative).
    Or(Box<Expr>, Box<Expr>),
    /// `left and right` (right-associative).
    And(Box<Expr>, Box<Expr>),
    /// `not operand`.
    Not(Box<Expr>),
    /// A single comparison.
    Match(MatchExpr),
}

/// One comparison: `selector <op> value`, `selector is [not] empty` or `value [not] in selector`.
///
/// Equality is structural: [`MatchExpr::span`] is ignored, so a tree equals its re-parsed
/// canonical print.
#[derive(Debug, Clone)]
pub struct MatchExpr {
    /// The field path being tested.
    pub selector: Selector,
    /// The operator.
    pub op: MatchOp,
    /// The raw (unquoted) value; `None` only for `is empty` / `is not empty`.
    pub value: Option<String>,
    /// Where the comparison was written (default for hand-built trees).
    pub span: Span,
}

impl PartialEq for MatchExpr {
    fn eq(&self, other: &Self) -> bool {
        self.selector == other.selector && self.op == other.op && self.value == other.value
    }
}

impl Eq for MatchExpr {}

/// A byte range in the selector source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// The match operators of go-bexpr v0.1.2. `contains` is [`MatchOp::In`] with the operands
/// swapped, exactly as in go-bexpr, so `"x" in f` and `f contains "x"` parse to the same tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `==`
    Equal,
    /// `!=`
    NotEqual,
    /// `in` / `contains`
    In,
    /// `not in` / `not contains`
    NotIn,
    /// `is empty`
    IsEmpty,
    /// `is not empty`
    IsNotEmpty,
    /// `matches`
    Matches,
    /// `not matches`
    NotMatches,
}

impl MatchOp {
    /// The name go-bexpr's `MatchOperator.String()` gives, used inside its error messages.
    pub fn go_name(self) -> &'static str {
        match self {
            MatchOp::Equal => "Equal",
            MatchOp::NotEqual => "Not Equal",
            MatchOp::In => "In",
            MatchOp::NotIn => "Not In",
            MatchOp::IsEmpty => "Is Empty",
            MatchOp::IsNotEmpty => "Is Not Empty",
            MatchOp::Matches => "Matches",
            MatchOp::NotMatches => "Not Matches",
        }
    }
}

/// A selector path: an identifier followed by `.ident` / `["key"]` segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector(pub Vec<String>);

impl Selector {
    /// go-bexpr's `Selector.String()`: the segments joined with `.` (index segments lose their
    /// brackets, so `entity_tags["a.b"]` prints as `entity_tags.a.b`).
    pub fn go_string(&self) -> String {
        self.0.join(".")
    }
}

/// `[a-zA-Z][a-zA-Z0-9_]*`
pub(crate) fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            if i == 0 && is_identifier(seg) {
                f.write_str(seg)?;
            } else if i > 0 && is_identifier(seg) {
                write!(f, ".{seg}")?;
            } else {
                // A hand-built selector whose first segment is not an identifier has no
                // canonical form; printing it as an index keeps the output readable.
                write!(f, "[{}]", DisplayValue(seg))?;
            }
        }
        Ok(())
    }
}

/// Prints a value as a double-quoted literal that go-bexpr's grammar reads back unchanged.
///
/// The grammar's `DoubleStringChar <- !'"' .` ends a string at any `"`, even after a backslash,
/// so a quote inside the value is written `\x22`.
pub(crate) struct DisplayValue<'a>(pub(crate) &'a str);

impl fmt::Display for DisplayValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\x22")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => {
                    let n = u32::from(c);
                    if n <= 0xFFFF {
                        write!(f, "\\u{n:04x}")?;
                    } else {
                        write!(f, "\\U{n:08x}")?;
                    }
                }
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

impl fmt::Display for MatchExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "==",
            MatchOp::NotEqual => "!=",
            MatchOp::In => "contains",
            MatchOp::NotIn => "not contains",
            MatchOp::Matches => "matches",
            MatchOp::NotMatches => "not matches",
            MatchOp::IsEmpty => return write!(f, "{} is empty", self.selector),
            MatchOp::IsNotEmpty => return write!(f, "{} is not empty", self.selector),
        };
        let value = self.value.as_deref().unwrap_or("");
        write!(f, "{} {op} {}", self.selector, DisplayValue(value))
    }
}

/// Strips `not not` pairs, which the grammar cannot express.
fn strip_double_not(mut e: &Expr) -> &Expr {
    while let Expr::Not(inner) = e {
        match inner.as_ref() {
            Expr::Not(x) => e = x,
            _ => break,
        }
    }
    e
}

impl Expr {
    /// 0 = or, 1 = and, 2 = not / match (binds tightest).
    fn precedence(&self) -> u8 {
        match strip_double_not(self) {
            Expr::Or(..) => 0,
            Expr::And(..) => 1,
            Expr::Not(_) | Expr::Match(_) => 2,
        }
    }

    fn fmt_operand(&self, f: &mut fmt::Formatter<'_>, parens: bool) -> fmt::Result {
        if parens {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match strip_double_not(self) {
            Expr::Or(l, r) => {
                l.fmt_operand(f, l.precedence() == 0)?;
                f.write_str(" or ")?;
                r.fmt_operand(f, false)
            }
            Expr::And(l, r) => {
                l.fmt_operand(f, l.precedence() <= 1)?;
                f.write_str(" and ")?;
                r.fmt_operand(f, r.precedence() < 1)
            }
            Expr::Not(x) => {
                f.write_str("not ")?;
                // `not (not x)` would collapse on re-parse; `x` here is never a `Not` because
                // pairs were stripped above, but a single inner `Not` cannot occur either way.
                x.fmt_operand(f, x.precedence() < 2)
            }
            Expr::Match(m) => write!(f, "{m}"),
        }
    }
}
