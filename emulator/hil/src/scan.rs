//! HIL's scanner (`scanner/scanner.go`): splits a template into tokens with 1-based line/column
//! positions counted the way HIL counts them.

/// A source position as HIL reports it (`line:column`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (runes in literals and identifiers, bytes for punctuation).
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// Text outside `${…}`.
    Literal,
    /// Text inside a quoted string within `${…}`.
    String,
    Integer,
    Float,
    Bool,
    /// `${`
    Begin,
    /// `}`
    End,
    OQuote,
    CQuote,
    /// Single punctuation character: `( ) [ ] , . + - * / % ? :`
    Punct(char),
    Identifier,
    /// `!`
    Bang,
    /// `&& || == != < > <= >=`
    Op(&'static str),
    Eof,
    Invalid,
}

#[derive(Debug, Clone)]
pub(crate) struct Token<'a> {
    pub(crate) kind: Tok,
    pub(crate) content: &'a str,
    pub(crate) pos: Pos,
}

impl Token<'_> {
    /// `Token.String()`, used in "expected X but found Y".
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            Tok::Eof => "end of string".to_owned(),
            Tok::Invalid => format!("invalid sequence {}", go_quote(self.content)),
            Tok::Integer => format!("integer {}", self.content),
            Tok::Float => format!("float {}", self.content),
            Tok::String => format!("string {}", go_quote(self.content)),
            Tok::Literal => format!("literal {}", go_quote(self.content)),
            Tok::OQuote => "opening quote".to_owned(),
            Tok::CQuote => "closing quote".to_owned(),
            Tok::Op(op) => (*op).to_owned(),
            _ => go_quote(self.content),
        }
    }
}

/// Scans the whole template (HIL streams tokens over a channel; the sequence is the same).
pub(crate) fn scan(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut remain = s;
    let mut pos = Pos { line: 1, column: 1 };
    let mut nesting: usize = 0;
    loop {
        let start = pos;
        let (lit, term) = scan_literal(remain, pos, nesting > 0);
        if !lit.is_empty() {
            let kind = if nesting > 0 {
                Tok::String
            } else {
                Tok::Literal
            };
            out.push(Token {
                kind,
                content: lit,
                pos: start,
            });
            remain = remain.get(lit.len()..).unwrap_or("");
        }
        remain = remain.get(term.content.len()..).unwrap_or("");
        pos = term.pos;
        pos.column += term.content.len();
        let kind = term.kind.clone();
        out.push(term);
        match kind {
            Tok::Invalid => {
                out.push(Token {
                    kind: Tok::Eof,
                    content: "",
                    pos,
                });
                return out;
            }
            Tok::Eof => return out,
            Tok::Begin => nesting += 1,
            _ => {}
        }
        loop {
            let (tok, size, new_pos) = scan_interpolation_token(remain, pos);
            remain = remain.get(size..).unwrap_or("");
            pos = new_pos;
            let kind = tok.kind.clone();
            out.push(tok);
            match kind {
                Tok::Invalid => {
                    out.push(Token {
                        kind: Tok::Eof,
                        content: "",
                        pos,
                    });
                    return out;
                }
                Tok::Eof => return out,
                Tok::End => {
                    nesting = nesting.saturating_sub(1);
                    break;
                }
                Tok::OQuote => break,
                _ => {}
            }
        }
    }
}

fn scan_interpolation_token(s: &str, start: Pos) -> (Token<'_>, usize, Pos) {
    let mut pos = start;
    let mut size = 0;
    let mut rest = s;
    while let Some(b) = rest
        .bytes()
        .next()
        .filter(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
    {
        if b == b'\n' {
            pos.column = 1;
            pos.line += 1;
        } else {
            pos.column += 1;
        }
        size += 1;
        rest = rest.get(1..).unwrap_or("");
    }
    let Some(next) = rest.chars().next() else {
        return (
            Token {
                kind: Tok::Eof,
                content: "",
                pos,
            },
            size,
            pos,
        );
    };
    let two = rest.get(..2).unwrap_or("");
    let one = rest.get(..1).unwrap_or("");
    let simple = |kind: Tok, len: usize| (kind, rest.get(..len).unwrap_or(""));
    let (kind, content) = match next {
        '(' | ')' | '[' | ']' | ',' | '.' | '+' | '-' | '*' | '/' | '%' | '?' | ':' => {
            simple(Tok::Punct(next), 1)
        }
        '}' => simple(Tok::End, 1),
        '"' => simple(Tok::OQuote, 1),
        '!' if two == "!=" => simple(Tok::Op("!="), 2),
        '!' => simple(Tok::Bang, 1),
        '<' if two == "<=" => simple(Tok::Op("<="), 2),
        '<' => (Tok::Op("<"), one),
        '>' if two == ">=" => simple(Tok::Op(">="), 2),
        '>' => (Tok::Op(">"), one),
        '=' if two == "==" => simple(Tok::Op("=="), 2),
        '&' if two == "&&" => simple(Tok::Op("&&"), 2),
        '|' if two == "||" => simple(Tok::Op("||"), 2),
        '=' | '&' | '|' => (Tok::Invalid, one),
        c if c.is_ascii_digit() => {
            let (num, float) = scan_number(rest);
            (if float { Tok::Float } else { Tok::Integer }, num)
        }
        c if c.is_ascii_alphabetic() || c == '_' || c.is_alphabetic() => {
            let (ident, rune_len) = scan_identifier(rest);
            let kind = if ident == "true" || ident == "false" {
                Tok::Bool
            } else {
                Tok::Identifier
            };
            let tok = Token {
                kind,
                content: ident,
                pos,
            };
            // Identifiers advance the column by runes, not bytes.
            pos.column += rune_len;
            return (tok, size + ident.len(), pos);
        }
        c => {
            let len = c.len_utf8();
            let tok = Token {
                kind: Tok::Invalid,
                content: rest.get(..len).unwrap_or(""),
                pos,
            };
            pos.column += 1;
            return (tok, size + len, pos);
        }
    };
    let tok = Token { kind, content, pos };
    size += content.len();
    pos.column += content.len();
    (tok, size, pos)
}

/// Returns the literal prefix and the token that ends it.
fn scan_literal(s: &str, start: Pos, nested: bool) -> (&str, Token<'_>) {
    let bytes = s.as_bytes();
    let mut len = 0usize;
    let mut pos = start;
    loop {
        let Some(&next) = bytes.get(len) else {
            if nested {
                // Ended inside a quoted string: the rest is one invalid token.
                return (
                    "",
                    Token {
                        kind: Tok::Invalid,
                        content: s,
                        pos: start,
                    },
                );
            }
            return (
                s,
                Token {
                    kind: Tok::Eof,
                    content: "",
                    pos,
                },
            );
        };
        let follow = bytes.get(len + 1).copied();
        if next == b'$' {
            if follow == Some(b'{') {
                let content = s.get(len..len + 2).unwrap_or("");
                return (
                    s.get(..len).unwrap_or(""),
                    Token {
                        kind: Tok::Begin,
                        content,
                        pos,
                    },
                );
            } else if follow == Some(b'$') {
                pos.column += 2;
                len += 2;
                continue;
            }
        }
        if nested {
            if next == b'"' {
                let content = s.get(len..len + 1).unwrap_or("");
                return (
                    s.get(..len).unwrap_or(""),
                    Token {
                        kind: Tok::CQuote,
                        content,
                        pos,
                    },
                );
            }
            if next == b'\\' && matches!(follow, Some(b'"') | Some(b'\\')) {
                pos.column += 2;
                len += 2;
                continue;
            }
        }
        if next == b'\n' {
            pos.column = 1;
            pos.line += 1;
            len += 1;
        } else {
            pos.column += 1;
            len += s
                .get(len..)
                .and_then(|r| r.chars().next())
                .map_or(1, char::len_utf8);
        }
    }
}

/// Digits with at most one period; a trailing period is not part of the number.
fn scan_number(s: &str) -> (&str, bool) {
    let bytes = s.as_bytes();
    let mut period: Option<usize> = None;
    let mut len = 0;
    let mut float = false;
    while let Some(&b) = bytes.get(len) {
        if b != b'.' && !b.is_ascii_digit() {
            if period.is_some_and(|p| p + 1 == len) {
                len -= 1;
                float = false;
            }
            break;
        }
        if b == b'.' {
            if period.is_some() {
                break;
            }
            period = Some(len);
            float = true;
        }
        len += 1;
    }
    (s.get(..len).unwrap_or(""), float)
}

/// Letters, digits, marks, `_`, `-`, `.`, and `*` only directly after a `.` (a splat). The rune
/// count keeps HIL's quirk of not un-counting a backed-out `.*`.
fn scan_identifier(s: &str) -> (&str, usize) {
    let bytes = s.as_bytes();
    let mut len = 0usize;
    let mut runes = 0usize;
    for c in s.chars() {
        let ok = c == '_'
            || c == '-'
            || c == '.'
            || c == '*'
            || c.is_numeric()
            || c.is_alphabetic()
            || is_mark(c);
        if !ok {
            break;
        }
        let prev = len.checked_sub(1).and_then(|i| bytes.get(i)).copied();
        if c == '*' && prev != Some(b'.') {
            break;
        }
        if prev == Some(b'*') && c != '.' {
            len -= 1;
            if len.checked_sub(1).and_then(|i| bytes.get(i)) == Some(&b'.') {
                len -= 1;
            }
            break;
        }
        len += c.len_utf8();
        runes += 1;
    }
    (s.get(..len).unwrap_or(""), runes)
}

/// Combining marks (Unicode category M), approximated by the common combining blocks.
// UNVERIFIED: Go's unicode.IsMark covers all of category M; only the main blocks are listed.
fn is_mark(c: char) -> bool {
    matches!(u32::from(c), 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Go's `%q`.
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
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)))
            }
            c if c.is_control() => {
                let n = u32::from(c);
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
