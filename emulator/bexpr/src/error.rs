//! Error types. Their `Display` is go-bexpr's message text, which Consul embeds in its own
//! errors (`invalid Binding Rule: Selector is invalid: <this>`).

use std::fmt;

use crate::ast::Span;

/// A syntax error: one or more messages in pigeon's `line:col (offset): …` form.
///
/// Several messages are joined with `\n`, as pigeon's `errList` does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    items: Vec<ParseErrorItem>,
}

impl ParseError {
    pub(crate) fn new(items: Vec<ParseErrorItem>) -> Self {
        ParseError { items }
    }

    pub(crate) fn single(
        src: &str,
        offset: usize,
        rule: Option<&'static str>,
        kind: ParseErrorKind,
    ) -> Self {
        ParseError {
            items: vec![ParseErrorItem::new(src, offset, rule, kind)],
        }
    }

    /// The individual messages, in the order they were found.
    pub fn items(&self) -> &[ParseErrorItem] {
        &self.items
    }

    /// Byte offset of the first message, for a diagnostic label.
    pub fn offset(&self) -> usize {
        self.items.first().map_or(0, |i| i.offset)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}

/// One positioned message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseErrorItem {
    /// Byte offset into the selector.
    pub offset: usize,
    /// 1-based line, counted as pigeon does.
    pub line: usize,
    /// Column in characters, counted as pigeon does (a `\n` itself sits at column 0 of the
    /// next line).
    pub col: usize,
    /// Display name of the grammar rule that raised the error (`grouping`, `match`, `index`,
    /// `number`, `string`), absent for "no match found".
    pub rule: Option<&'static str>,
    /// What went wrong.
    pub kind: ParseErrorKind,
}

impl ParseErrorItem {
    pub(crate) fn new(
        src: &str,
        offset: usize,
        rule: Option<&'static str>,
        kind: ParseErrorKind,
    ) -> Self {
        let (line, col) = pigeon_position(src, offset);
        ParseErrorItem {
            offset,
            line,
            col,
            rule,
            kind,
        }
    }
}

/// pigeon advances `col` on every rune read and resets it to 0 when the rune read is `\n`, so
/// the position of a rune is computed by reading up to and including it (or EOF).
fn pigeon_position(src: &str, offset: usize) -> (usize, usize) {
    let (mut line, mut col) = (1usize, 0usize);
    let upto = src.get(..offset).unwrap_or(src);
    let current = src.get(offset..).and_then(|s| s.chars().next());
    for c in upto.chars().chain(current) {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
        }
    }
    if current.is_none() {
        col += 1;
    }
    (line, col)
}

// pigeon's `addErrAt` names the innermost rule by its display name, which keeps the quotes
// of the grammar source (`rule "grouping": …`), as go-bexpr's grammar_test.go expects.
impl fmt::Display for ParseErrorItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} ({})", self.line, self.col, self.offset)?;
        if let Some(rule) = self.rule {
            write!(f, ": rule \"{rule}\"")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// The kinds of syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// pigeon's farthest-failure report; `expected` is already sorted, `EOF` last.
    NoMatch {
        /// What the grammar would have accepted at the failure position.
        expected: Vec<String>,
    },
    /// `Unmatched parentheses`
    UnmatchedParentheses,
    /// `Invalid selector` (after `in` / `not in`).
    InvalidSelector,
    /// `Invalid index` (`[` not followed by a string literal).
    InvalidIndex,
    /// `Unclosed index expression`
    UnclosedIndex,
    /// `Invalid number literal`
    InvalidNumber,
    /// `Unterminated string literal`
    UnterminatedString,
    /// `strconv.Unquote` rejected a string literal (`invalid syntax`).
    InvalidStringSyntax,
    /// Our bound on input length (go-bexpr has none).
    TooLong {
        /// The bound in bytes.
        max: usize,
    },
    /// Our bound on nesting depth (go-bexpr has none).
    TooDeep {
        /// The bound.
        max: usize,
    },
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseErrorKind::NoMatch { expected } => {
                f.write_str("no match found, expected: ")?;
                // pigeon `listJoin(expected, ", ", "or")`
                match expected.split_last() {
                    None => Ok(()),
                    Some((last, [])) => f.write_str(last),
                    Some((last, init)) => write!(f, "{} or {last}", init.join(", ")),
                }
            }
            ParseErrorKind::UnmatchedParentheses => f.write_str("Unmatched parentheses"),
            ParseErrorKind::InvalidSelector => f.write_str("Invalid selector"),
            ParseErrorKind::InvalidIndex => f.write_str("Invalid index"),
            ParseErrorKind::UnclosedIndex => f.write_str("Unclosed index expression"),
            ParseErrorKind::InvalidNumber => f.write_str("Invalid number literal"),
            ParseErrorKind::UnterminatedString => f.write_str("Unterminated string literal"),
            ParseErrorKind::InvalidStringSyntax => f.write_str("invalid syntax"),
            ParseErrorKind::TooLong { max } => write!(f, "selector longer than {max} bytes"),
            ParseErrorKind::TooDeep { max } => {
                write!(f, "selector nested deeper than {max} levels")
            }
        }
    }
}

/// A creation-time validation error (go-bexpr `validate.go`); `Display` is go-bexpr's text,
/// `span` locates the offending comparison.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The selector does not name a field (the prefix up to the first unknown segment).
    #[error("Selector {} is not valid", go_quote(.selector))]
    InvalidSelector {
        /// The `.`-joined prefix up to and including the first unknown segment.
        selector: String,
        /// The comparison.
        span: Span,
    },
    /// The operator is not supported on that field.
    #[error("Invalid match operator {} for selector {}", go_quote(.op), go_quote(.selector))]
    InvalidOperator {
        /// go-bexpr's operator name (`Is Empty`, `Matches`, …).
        op: &'static str,
        /// The full selector, `.`-joined.
        selector: String,
        /// The comparison.
        span: Span,
    },
    /// The regular expression of `matches` / `not matches` does not compile.
    #[error("Failed to compile regular expression {}: error parsing regexp: {reason}", go_quote(.pattern))]
    Regex {
        /// The pattern as written.
        pattern: String,
        /// Why it failed (see `check.rs` for how close this is to Go's text).
        reason: String,
        /// The comparison.
        span: Span,
    },
}

impl CheckError {
    /// Where the offending comparison is in the source.
    pub fn span(&self) -> Span {
        match self {
            CheckError::InvalidSelector { span, .. }
            | CheckError::InvalidOperator { span, .. }
            | CheckError::Regex { span, .. } => *span,
        }
    }
}

/// A parse or check failure from [`crate::Evaluator::new`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Syntax error.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// Validation error.
    #[error(transparent)]
    Check(#[from] CheckError),
}

/// An evaluation failure. Consul treats these as "rule does not match".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The data lacks a field the schema declares.
    #[error("field {0:?} is missing from the data")]
    MissingField(String),
    /// The data holds a value of another kind than the schema declares.
    #[error("field {0:?} does not have the kind its schema declares")]
    KindMismatch(String),
}

/// Go's `%q` (strconv.Quote) for the strings that appear in messages.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                let n = c as u32;
                if n <= 0xFFFF {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
