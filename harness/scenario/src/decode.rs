//! A serde `Deserializer` over the positioned tree that keeps going after errors.
//!
//! Serde stops at the first error. To report every problem in a file at once, the decoder
//! deserializes the raw types (`raw.rs`) from the tree in rounds: each error is recorded with the
//! position of the innermost node that failed, that node is then left out, and the next round
//! runs without it. Unknown and duplicate keys are reported and skipped without ending a round,
//! because `deserialize_struct` knows the field names. When a required field is missing only
//! because its value was left out, the resulting "missing field" is not reported again; the
//! enclosing node is left out instead. Rounds stop when deserialization succeeds, the root fails
//! or [`MAX_PROBLEMS`] is reached, so the cost stays bounded on any input.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess,
    SeqAccess, VariantAccess, Visitor,
};

use crate::diag::{did_you_mean, one_of_help};
use crate::tree::{Node, Pos, Value};

/// The struct name by which [`crate::raw::Sp`] asks the decoder for a node's position.
pub(crate) const SPANNED: &str = "$iamconform::Spanned";

/// Stop after this many problems: beyond it more reports do not help and only cost time.
pub(crate) const MAX_PROBLEMS: usize = 100;

/// One structural problem found while decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) pos: Pos,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

#[derive(Default)]
struct Ctx {
    problems: Vec<Problem>,
    /// Value nodes left out of their parent mapping or list.
    dropped: BTreeSet<usize>,
    /// Nodes in or under which a problem was reported (dropped values, unknown/duplicate keys).
    dirty: BTreeSet<usize>,
    /// Mappings and lists that lost an entry (unknown, duplicate or dropped): a required key
    /// "missing" from them is most likely the entry that was reported.
    flawed: BTreeSet<usize>,
    /// Where the first problem beyond [`MAX_PROBLEMS`] was found.
    truncated: Option<Pos>,
}

impl Ctx {
    fn report(&mut self, pos: Pos, message: String, help: Option<String>) {
        let p = Problem { pos, message, help };
        if self.problems.contains(&p) {
            return;
        }
        if self.problems.len() >= MAX_PROBLEMS {
            self.truncated.get_or_insert(pos);
        } else {
            self.problems.push(p);
        }
    }
}

/// The result of decoding: the value when a round succeeded, and every problem found.
pub(crate) struct Decoded<T> {
    pub(crate) value: Option<T>,
    pub(crate) problems: Vec<Problem>,
}

/// Decodes `T` from the tree, collecting every structural problem.
pub(crate) fn decode<T: DeserializeOwned>(root: &Node) -> Decoded<T> {
    let ctx = RefCell::new(Ctx::default());
    let value = loop {
        let result = T::deserialize(NodeDe {
            node: root,
            ctx: &ctx,
            key: false,
        });
        match result {
            Ok(v) => break Some(v),
            Err(e) => {
                let mut c = ctx.borrow_mut();
                let (id, pos) = e.at.unwrap_or((root.id, root.pos));
                if !e.consequential {
                    c.report(pos, e.message, e.help);
                }
                c.dirty.insert(id);
                if id == root.id || !c.dropped.insert(id) || c.problems.len() >= MAX_PROBLEMS {
                    break None;
                }
            }
        }
    };
    let ctx = ctx.into_inner();
    let mut problems = ctx.problems;
    if let Some(pos) = ctx.truncated {
        problems.push(Problem {
            pos,
            message: format!("too many problems; stopped after {MAX_PROBLEMS}"),
            help: Some("fix the problems above and run again".to_owned()),
        });
    }
    Decoded { value, problems }
}

/// Errors raised while decoding one round.
#[derive(Debug)]
pub(crate) struct DeError {
    message: String,
    help: Option<String>,
    missing_field: Option<&'static str>,
    /// The innermost node that failed: its preorder id and position.
    at: Option<(usize, Pos)>,
    /// A consequence of an earlier, already reported problem.
    consequential: bool,
}

impl DeError {
    fn new(message: String, help: Option<String>) -> Self {
        Self {
            message,
            help,
            missing_field: None,
            at: None,
            consequential: false,
        }
    }

    fn located(mut self, node: &Node) -> Self {
        if self.at.is_none() {
            self.at = Some((node.id, node.pos));
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::new(msg.to_string(), None)
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let expected = exp.to_string();
        let help = match unexp {
            de::Unexpected::Signed(_)
            | de::Unexpected::Unsigned(_)
            | de::Unexpected::Float(_)
            | de::Unexpected::Bool(_)
                if expected.contains("string") =>
            {
                Some("quote the value to make it a string".to_owned())
            }
            _ => None,
        };
        Self::new(
            format!("expected {expected}, found {}", unexpected(unexp)),
            help,
        )
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::new(
            format!("invalid value {}, expected {exp}", unexpected(unexp)),
            None,
        )
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::new(
            format!("unknown value `{variant}`"),
            Some(one_of_help(variant, expected)),
        )
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::new(
            format!("unknown key `{field}`"),
            Some(one_of_help(field, expected)),
        )
    }

    fn missing_field(field: &'static str) -> Self {
        let mut e = Self::new(format!("`{field}` is required"), None);
        e.missing_field = Some(field);
        e
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::new(format!("duplicate key `{field}`"), None)
    }
}

fn unexpected(u: de::Unexpected<'_>) -> String {
    match u {
        de::Unexpected::Str(s) => format!("string \"{}\"", s.chars().take(40).collect::<String>()),
        de::Unexpected::Map => "a mapping".to_owned(),
        de::Unexpected::Seq => "a list".to_owned(),
        de::Unexpected::Unit | de::Unexpected::Option => "null".to_owned(),
        other => other.to_string(),
    }
}

/// Deserializes one node.
struct NodeDe<'a> {
    node: &'a Node,
    ctx: &'a RefCell<Ctx>,
    /// The node is a key of a free-form mapping (JSON values, `meta`): scalar keys such as
    /// account IDs written without quotes are read as their text, as JSON object keys must be.
    key: bool,
}

impl<'a> NodeDe<'a> {
    /// The entries of a mapping that reach the visitor: dropped values, non-string keys,
    /// duplicates and (for structs) unknown keys are left out, the last three reported here.
    fn entries(
        &self,
        entries: &'a [(Node, Node)],
        fields: Option<&[&str]>,
    ) -> Vec<&'a (Node, Node)> {
        let mut kept: Vec<&'a (Node, Node)> = Vec::new();
        for entry in entries {
            let (k, v) = entry;
            let mut ctx = self.ctx.borrow_mut();
            // Every path below that skips the entry marks the mapping as flawed.
            ctx.flawed.insert(self.node.id);
            if ctx.dropped.contains(&v.id) {
                continue;
            }
            if let Some(first) = kept.iter().find(|(pk, _)| same_key(&pk.value, &k.value)) {
                ctx.report(
                    k.pos,
                    format!("duplicate key {}", key_text(&k.value)),
                    Some(format!(
                        "the first is at line {}; remove one of them",
                        first.0.pos.line
                    )),
                );
                ctx.dirty.insert(k.id);
                continue;
            }
            if let Some(fields) = fields {
                let Value::Str(name) = &k.value else {
                    ctx.report(
                        k.pos,
                        format!("expected a key name, found {}", k.value.describe()),
                        None,
                    );
                    ctx.dirty.insert(k.id);
                    continue;
                };
                if !fields.contains(&name.as_str()) {
                    let help = if fields.is_empty() {
                        Some("this mapping takes no keys; write `{}`".to_owned())
                    } else {
                        Some(match did_you_mean(name, fields) {
                            Some(m) => format!("did you mean `{m}`?"),
                            None => one_of_help(name, fields),
                        })
                    };
                    ctx.report(k.pos, format!("unknown key `{name}`"), help);
                    ctx.dirty.insert(k.id);
                    continue;
                }
            }
            kept.push(entry);
        }
        let mut ctx = self.ctx.borrow_mut();
        if kept.len() == entries.len() {
            ctx.flawed.remove(&self.node.id);
        }
        kept
    }

    fn visit_entries<'de, V: Visitor<'de>>(
        self,
        fields: Option<&[&str]>,
        visitor: V,
    ) -> Result<V::Value, DeError>
    where
        'a: 'de,
    {
        let node = self.node;
        let entries: &'a [(Node, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null if fields.is_some() => &[],
            other => {
                return Err(DeError::new(
                    format!("expected a mapping, found {}", other.describe()),
                    None,
                )
                .located(node));
            }
        };
        let kept = self.entries(entries, fields);
        let access = EntriesAccess {
            iter: kept.into_iter(),
            value: None,
            ctx: self.ctx,
        };
        visitor.visit_map(access).map_err(|mut e| {
            if e.at.is_none()
                && let Some(field) = e.missing_field
            {
                let ctx = self.ctx.borrow();
                e.consequential = entries.iter().any(|(k, v)| {
                    matches!(&k.value, Value::Str(s) if s == field) && ctx.dropped.contains(&v.id)
                });
            }
            e.located(node)
        })
    }
}

fn same_key(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::UInt(x), Value::UInt(y)) => x == y,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Null, Value::Null) => true,
        _ => false,
    }
}

fn key_text(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("`{s}`"),
        other => other.describe(),
    }
}

impl<'de, 'a> Deserializer<'de> for NodeDe<'a>
where
    'a: 'de,
{
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        let r = match &node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) if self.key => visitor.visit_string(b.to_string()),
            Value::Int(i) if self.key => visitor.visit_string(i.to_string()),
            Value::UInt(u) if self.key => visitor.visit_string(u.to_string()),
            Value::Float(f) if self.key => visitor.visit_string(f.to_string()),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => {
                let access = ItemsAccess {
                    iter: items.iter(),
                    ctx: self.ctx,
                    list: node.id,
                };
                visitor.visit_seq(access)
            }
            Value::Map(_) => return self.visit_entries(None, visitor),
        };
        r.map_err(|e| e.located(node))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let node = self.node;
        match node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.located(node))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        visitor
            .visit_newtype_struct(self)
            .map_err(|e| e.located(node))
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.visit_entries(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        if name == SPANNED {
            return visitor
                .visit_seq(SpannedAccess {
                    node,
                    ctx: self.ctx,
                    index: 0,
                })
                .map_err(|e| e.located(node));
        }
        self.visit_entries(Some(fields), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let node = self.node;
        match &node.value {
            Value::Str(s) => visitor.visit_enum(UnitVariant { name: s.as_str() }),
            other => Err(DeError::new(
                format!("expected a name, found {}", other.describe()),
                Some(one_of_help("", variants)),
            )),
        }
        .map_err(|e| e.located(node))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit_struct seq tuple tuple_struct identifier
    }
}

struct ItemsAccess<'a> {
    iter: std::slice::Iter<'a, Node>,
    ctx: &'a RefCell<Ctx>,
    list: usize,
}

impl<'de, 'a: 'de> SeqAccess<'de> for ItemsAccess<'a> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        for node in self.iter.by_ref() {
            let mut ctx = self.ctx.borrow_mut();
            if ctx.dropped.contains(&node.id) {
                ctx.flawed.insert(self.list);
                continue;
            }
            drop(ctx);
            return seed
                .deserialize(NodeDe {
                    node,
                    ctx: self.ctx,
                    key: false,
                })
                .map(Some);
        }
        Ok(None)
    }
}

struct EntriesAccess<'a> {
    iter: std::vec::IntoIter<&'a (Node, Node)>,
    value: Option<&'a Node>,
    ctx: &'a RefCell<Ctx>,
}

impl<'de, 'a: 'de> MapAccess<'de> for EntriesAccess<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((k, v)) = self.iter.next() else {
            return Ok(None);
        };
        self.value = Some(v);
        // A key that cannot be decoded is reported at the key but drops the whole entry.
        seed.deserialize(NodeDe {
            node: k,
            ctx: self.ctx,
            key: true,
        })
        .map(Some)
        .map_err(|mut e| {
            if e.at.is_none() {
                e.at = Some((v.id, k.pos));
            }
            e
        })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        let node = self
            .value
            .take()
            .ok_or_else(|| DeError::new("internal: value before key".to_owned(), None))?;
        seed.deserialize(NodeDe {
            node,
            ctx: self.ctx,
            key: false,
        })
    }
}

/// Hands a [`crate::raw::Sp`] its value, then line, column, whether it is dirty and whether it
/// is flawed.
struct SpannedAccess<'a> {
    node: &'a Node,
    ctx: &'a RefCell<Ctx>,
    index: u8,
}

impl<'de, 'a: 'de> SeqAccess<'de> for SpannedAccess<'a> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DeError> {
        let index = self.index;
        self.index = self.index.saturating_add(1);
        let node = self.node;
        match index {
            0 => seed
                .deserialize(NodeDe {
                    node,
                    ctx: self.ctx,
                    key: false,
                })
                .map(Some),
            1 => seed
                .deserialize(node.pos.line.into_deserializer())
                .map(Some),
            2 => seed.deserialize(node.pos.col.into_deserializer()).map(Some),
            3 => {
                let dirty = self
                    .ctx
                    .borrow()
                    .dirty
                    .range(node.id..=node.last)
                    .next()
                    .is_some();
                seed.deserialize(dirty.into_deserializer()).map(Some)
            }
            4 => {
                let flawed = self.ctx.borrow().flawed.contains(&node.id);
                seed.deserialize(flawed.into_deserializer()).map(Some)
            }
            _ => Ok(None),
        }
    }
}

struct UnitVariant<'a> {
    name: &'a str,
}

impl<'de, 'a> EnumAccess<'de> for UnitVariant<'a> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Self), DeError> {
        let v = seed.deserialize(IntoDeserializer::<DeError>::into_deserializer(self.name))?;
        Ok((v, self))
    }
}

impl<'de, 'a> VariantAccess<'de> for UnitVariant<'a> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, _seed: S) -> Result<S::Value, DeError> {
        Err(DeError::new(format!("`{}` needs a value", self.name), None))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError::new(format!("`{}` needs a value", self.name), None))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        Err(DeError::new(format!("`{}` needs a value", self.name), None))
    }
}
