//! The YAML document as a tree of positioned nodes: the first stage of loading.
//!
//! serde-saphyr parses the text (with its resource budget, so aliases and nesting are bounded)
//! into [`Node`]s that remember where they start. Duplicate keys are passed through so that the
//! decoder can report each of them instead of stopping at the first.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A 1-based line and column in the source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct Pos {
    /// 1-based line.
    pub(crate) line: u32,
    /// 1-based column.
    pub(crate) col: u32,
}

/// One YAML node with its position and its place in a preorder numbering of the tree.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Preorder index of this node.
    pub(crate) id: usize,
    /// Largest preorder index inside this node's subtree (equal to `id` for scalars).
    pub(crate) last: usize,
    pub(crate) pos: Pos,
    pub(crate) value: Value,
}

/// The content of a node, with YAML scalars already resolved to their core-schema types.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// How the value is described in "found …" messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Null => "null".to_owned(),
            Value::Bool(b) => format!("boolean `{b}`"),
            Value::Int(i) => format!("integer `{i}`"),
            Value::UInt(u) => format!("integer `{u}`"),
            Value::Float(f) => format!("number `{f}`"),
            Value::Str(s) => {
                let shown: String = s.chars().take(40).collect();
                if shown.len() < s.len() {
                    format!("string \"{shown}…\"")
                } else {
                    format!("string \"{shown}\"")
                }
            }
            Value::Seq(_) => "a list".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
        }
    }
}

impl Node {
    /// Numbers the nodes of the tree in preorder, starting at `next`; returns the next free index.
    fn number(&mut self, next: usize) -> usize {
        self.id = next;
        let mut next = next.saturating_add(1);
        match &mut self.value {
            Value::Seq(items) => {
                for item in items {
                    next = item.number(next);
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    next = k.number(next);
                    next = v.number(next);
                }
            }
            Value::Null
            | Value::Bool(_)
            | Value::Int(_)
            | Value::UInt(_)
            | Value::Float(_)
            | Value::Str(_) => {}
        }
        self.last = next.saturating_sub(1);
        next
    }
}

/// A YAML syntax or budget error: the document could not be turned into a tree at all.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) pos: Pos,
    pub(crate) message: String,
}

/// Parses one YAML document into a numbered tree. An empty document is a null node.
pub(crate) fn parse(text: &str) -> Result<Node, SyntaxError> {
    // YAML 1.2 core booleans only: `n`, `no`, `off` stay strings (the "Norway problem"), and
    // numbers with leading zeros (account IDs such as 012345678901) stay strings too.
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    let parsed: Option<Spanned<Value>> = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| {
            let pos = e
                .location()
                .map(|l| to_pos(&l))
                .unwrap_or(Pos { line: 1, col: 1 });
            SyntaxError {
                pos,
                message: syntax_message(&e),
            }
        })?;
    let mut root = match parsed {
        Some(sp) => node_from(sp),
        None => Node {
            id: 0,
            last: 0,
            pos: Pos { line: 1, col: 1 },
            value: Value::Null,
        },
    };
    root.number(0);
    Ok(root)
}

/// The first line of serde-saphyr's message, without its location suffix and source snippet
/// (our diagnostics carry the location themselves).
fn syntax_message(e: &serde_saphyr::Error) -> String {
    let full = e.to_string();
    let first = full.lines().next().unwrap_or("invalid YAML").trim();
    let first = match first.find(" at line ") {
        Some(i) => first.get(..i).unwrap_or(first),
        None => first,
    };
    let first = first.trim_start_matches("error: ").trim();
    // serde-saphyr may lead with "line N column M: "; the diagnostic shows the position already.
    let first = match (first.strip_prefix("line "), first.find(": ")) {
        (Some(_), Some(i)) if first.get(..i).is_some_and(|p| p.contains(" column ")) => {
            first.get(i.saturating_add(2)..).unwrap_or(first)
        }
        _ => first,
    };
    if first.is_empty() {
        "invalid YAML".to_owned()
    } else {
        format!("invalid YAML: {first}")
    }
}

fn to_pos(l: &serde_saphyr::Location) -> Pos {
    Pos {
        line: u32::try_from(l.line()).unwrap_or(u32::MAX).max(1),
        col: u32::try_from(l.column()).unwrap_or(u32::MAX).max(1),
    }
}

fn node_from(sp: Spanned<Value>) -> Node {
    Node {
        id: 0,
        last: 0,
        pos: to_pos(&sp.referenced),
        value: sp.value,
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::Int)
            .or_else(|_| u64::try_from(v).map(Value::UInt))
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v)
            .map(Value::UInt)
            .map_err(|_| E::custom("integer out of range"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(sp) = seq.next_element::<Spanned<Value>>()? {
            items.push(node_from(sp));
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Spanned<Value>>()? {
            let v = map.next_value::<Spanned<Value>>()?;
            entries.push((node_from(k), node_from(v)));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_point_at_values() {
        let root = parse("a: 1\nb:\n  - x\n  - {c: d}\n").unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("not a map")
        };
        let (k, _) = &entries[1];
        assert_eq!(k.pos, Pos { line: 2, col: 1 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(items[0].pos, Pos { line: 3, col: 5 });
        assert_eq!(items[1].pos, Pos { line: 4, col: 5 });
        assert_eq!(root.id, 0);
        assert_eq!(root.last, 8);
    }

    #[test]
    fn duplicate_keys_are_kept() {
        let root = parse("a: 1\na: 2\n").unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("not a map")
        };
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 2, col: 2 });
        assert_eq!(
            e.message,
            "invalid YAML: illegal placement of ':' indicator"
        );
        let e = parse("a: b: c\n").unwrap_err();
        assert_eq!(e.pos, Pos { line: 1, col: 5 });
    }

    #[test]
    fn scalars_follow_yaml_1_2_core() {
        let root = parse("[n, no, off, yes, true, 012345678901, 12, 1.5, ~]").unwrap();
        let Value::Seq(items) = &root.value else {
            panic!("not a seq")
        };
        let kinds: Vec<String> = items.iter().map(|n| n.value.describe()).collect();
        assert_eq!(
            kinds,
            [
                "string \"n\"",
                "string \"no\"",
                "string \"off\"",
                "string \"yes\"",
                "boolean `true`",
                "string \"012345678901\"",
                "integer `12`",
                "number `1.5`",
                "null"
            ]
        );
    }
}
