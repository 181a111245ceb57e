//! HIL's recursive-descent parser (`parser/parser.go`) over the scanned tokens.

use crate::HilError;
use crate::scan::{Pos, Tok, Token};

/// Deepest nesting of parentheses / quoted strings / operands accepted (HIL has no limit).
pub(crate) const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// Literal text (`$$` already unescaped).
    Str(String, Pos),
    Int(i64, Pos),
    Float(Pos),
    Bool(bool, Pos),
    Var(String, Pos),
    Call(String, Vec<Node>, Pos),
    Index(Box<Node>, Box<Node>, Pos),
    /// Binary or unary arithmetic, comparison or logic (all `ast.Arithmetic` in HIL).
    Arith(Vec<Node>, Pos),
    Cond(Box<Node>, Box<Node>, Box<Node>, Pos),
    /// A sequence of literals and interpolations (`ast.Output`).
    Output(Vec<Node>, Pos),
}

impl Node {
    pub(crate) fn pos(&self) -> Pos {
        match self {
            Node::Str(_, p)
            | Node::Int(_, p)
            | Node::Float(p)
            | Node::Bool(_, p)
            | Node::Var(_, p)
            | Node::Call(_, _, p)
            | Node::Index(_, _, p)
            | Node::Arith(_, p)
            | Node::Cond(_, _, _, p)
            | Node::Output(_, p) => *p,
        }
    }
}

pub(crate) struct Parser<'a> {
    toks: Vec<Token<'a>>,
    next: usize,
    depth: usize,
}

fn parse_error(pos: Pos, message: String) -> HilError {
    HilError::Parse {
        line: pos.line,
        column: pos.column,
        message,
    }
}

fn expectation(wanted: &str, got: &Token<'_>) -> HilError {
    parse_error(
        got.pos,
        format!("expected {wanted} but found {}", got.describe()),
    )
}

const BINARY_OPS: &[&str] = &["||", "&&", "==", "!=", "<", ">", "<=", ">="];

impl<'a> Parser<'a> {
    pub(crate) fn new(toks: Vec<Token<'a>>) -> Self {
        Parser {
            toks,
            next: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> Token<'a> {
        self.toks
            .get(self.next)
            .or_else(|| self.toks.last())
            .cloned()
            .unwrap_or(Token {
                kind: Tok::Eof,
                content: "",
                pos: Pos { line: 1, column: 1 },
            })
    }

    /// EOF is returned forever once reached (HIL's peeker).
    fn read(&mut self) -> Token<'a> {
        let t = self.peek();
        if t.kind != Tok::Eof {
            self.next += 1;
        }
        t
    }

    fn nest<T>(
        &mut self,
        at: Pos,
        f: impl FnOnce(&mut Self) -> Result<T, HilError>,
    ) -> Result<T, HilError> {
        self.depth += 1;
        let r = if self.depth > MAX_DEPTH {
            Err(HilError::TooDeep {
                line: at.line,
                column: at.column,
                max: MAX_DEPTH,
            })
        } else {
            f(self)
        };
        self.depth -= 1;
        r
    }

    pub(crate) fn parse_top_level(&mut self) -> Result<Node, HilError> {
        self.parse_interpolation_seq(false)
    }

    fn parse_interpolation_seq(&mut self, quoted: bool) -> Result<Node, HilError> {
        let (literal, end) = if quoted {
            (Tok::String, Tok::CQuote)
        } else {
            (Tok::Literal, Tok::Eof)
        };
        let start = self.peek().pos;
        if quoted {
            let t = self.read();
            if t.kind != Tok::OQuote {
                return Err(expectation("open quote", &t));
            }
        }
        let mut exprs = Vec::new();
        loop {
            let t = self.read();
            if t.kind == end {
                break;
            }
            if t.kind == literal {
                exprs.push(Node::Str(parse_string_token(&t, quoted)?, t.pos));
            } else if t.kind == Tok::Begin {
                let e = self.nest(t.pos, |p| p.parse_interpolation())?;
                exprs.push(e);
            } else {
                return Err(expectation("\"${\"", &t));
            }
        }
        if exprs.is_empty() {
            exprs.push(Node::Str(String::new(), start));
        }
        if exprs.len() == 1 && matches!(exprs.first(), Some(Node::Str(..))) {
            return Ok(exprs.remove(0));
        }
        Ok(Node::Output(exprs, start))
    }

    fn parse_interpolation(&mut self) -> Result<Node, HilError> {
        let e = self.parse_expression()?;
        self.require(Tok::End, "\"}\"")?;
        Ok(e)
    }

    fn require(&mut self, kind: Tok, name: &str) -> Result<(), HilError> {
        let t = self.read();
        if t.kind != kind {
            return Err(expectation(name, &t));
        }
        Ok(())
    }

    fn parse_expression(&mut self) -> Result<Node, HilError> {
        let start = self.peek().pos;
        self.nest(start, |p| {
            let cond = p.parse_binary_ops()?;
            if p.peek().kind != Tok::Punct('?') {
                return Ok(cond);
            }
            p.read();
            let t = p.parse_expression()?;
            let colon = p.read();
            if colon.kind != Tok::Punct(':') {
                return Err(expectation(":", &colon));
            }
            let f = p.parse_expression()?;
            Ok(Node::Cond(Box::new(cond), Box::new(t), Box::new(f), start))
        })
    }

    /// Precedence does not change which inputs parse, and this crate does not evaluate
    /// operators, so one left-associative level stands for HIL's six.
    fn parse_binary_ops(&mut self) -> Result<Node, HilError> {
        let start = self.peek().pos;
        let mut lhs = self.parse_term()?;
        loop {
            let t = self.peek();
            let is_op = match &t.kind {
                Tok::Op(op) => BINARY_OPS.contains(op),
                Tok::Punct(c) => matches!(c, '+' | '-' | '*' | '/' | '%'),
                _ => false,
            };
            if !is_op {
                return Ok(lhs);
            }
            self.read();
            let rhs = self.nest(start, |p| p.parse_term())?;
            lhs = Node::Arith(vec![lhs, rhs], start);
        }
    }

    fn parse_term(&mut self) -> Result<Node, HilError> {
        let next = self.peek();
        match next.kind {
            Tok::Punct('(') => {
                self.read();
                let e = self.parse_expression()?;
                self.require(Tok::Punct(')'), "\")\"")?;
                Ok(e)
            }
            Tok::OQuote => self.nest(next.pos, |p| p.parse_interpolation_seq(true)),
            Tok::Integer => {
                let t = self.read();
                let v = t.content.parse::<i64>().map_err(|_| {
                    parse_error(
                        t.pos,
                        format!(
                            "invalid integer: strconv.Atoi: parsing {}: value out of range",
                            crate::scan::go_quote(t.content)
                        ),
                    )
                })?;
                Ok(Node::Int(v, t.pos))
            }
            Tok::Float => {
                let t = self.read();
                Ok(Node::Float(t.pos))
            }
            Tok::Bool => {
                let t = self.read();
                Ok(Node::Bool(t.content.starts_with('t'), t.pos))
            }
            Tok::Punct('-') | Tok::Bang => {
                let t = self.read();
                let operand = self.nest(t.pos, |p| p.parse_term())?;
                Ok(Node::Arith(vec![operand], t.pos))
            }
            Tok::Identifier => self.parse_scope_interaction(),
            _ => Err(expectation("expression", &next)),
        }
    }

    fn parse_scope_interaction(&mut self) -> Result<Node, HilError> {
        let first = self.read();
        let start = first.pos;
        if first.kind != Tok::Identifier {
            return Err(expectation("identifier", &first));
        }
        if self.peek().kind == Tok::Punct('(') {
            self.read();
            let mut args = Vec::new();
            loop {
                if self.peek().kind == Tok::Punct(')') {
                    break;
                }
                args.push(self.parse_expression()?);
                if self.peek().kind == Tok::Punct(',') {
                    self.read();
                    continue;
                }
                break;
            }
            self.require(Tok::Punct(')'), "\")\"")?;
            return Ok(Node::Call(first.content.to_owned(), args, start));
        }
        let var = Node::Var(first.content.to_owned(), start);
        if self.peek().kind == Tok::Punct('[') {
            let bracket = self.read().pos;
            let key = self.parse_expression()?;
            self.require(Tok::Punct(']'), "\"]\"")?;
            return Ok(Node::Index(Box::new(var), Box::new(key), bracket));
        }
        Ok(var)
    }
}

/// `parseStringToken`: `$$` → `$` everywhere; in quoted strings `\\`, `\n`, `\"` escapes.
fn parse_string_token(t: &Token<'_>, backslashes: bool) -> Result<String, HilError> {
    let raw = t.content.as_bytes();
    let mut buf: Vec<u8> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        let mut b = b;
        let more = raw.get(i + 1).copied();
        if b == b'$' {
            if more == Some(b'$') {
                i += 1;
            }
        } else if backslashes && b == b'\\' {
            let column = t.pos.column + t.content.get(..i).map_or(0, |s| s.chars().count());
            let at = Pos {
                line: t.pos.line,
                column,
            };
            match more {
                None => {
                    return Err(parse_error(
                        at,
                        "unfinished backslash escape sequence".to_owned(),
                    ));
                }
                Some(b'\\') => i += 1,
                Some(b'n') => {
                    b = b'\n';
                    i += 1;
                }
                Some(b'"') => {
                    b = b'"';
                    i += 1;
                }
                Some(_) => {
                    return Err(parse_error(
                        at,
                        "invalid backslash escape sequence".to_owned(),
                    ));
                }
            }
        }
        buf.push(b);
        i += 1;
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}
