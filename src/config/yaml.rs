//! Position-preserving YAML loading for driftwatch configuration files.
//!
//! Why our own layer rather than a crate: tried on the config's needs in a scratch crate
//! (2026-12), marked-yaml 0.8.0 rejects anchors and aliases outright ("unexpected definition
//! of anchor", so no merge keys either), gives no position for unknown-field, missing-field or
//! wrong-type errors, and stops at the first error; its public `Node` tree would serve `${VAR}`
//! expansion and lifting system-named keys off a check. serde-saphyr 2.2.0 positions every
//! error, reads anchors, aliases and merge keys, rejects duplicate keys and has a `Spanned<T>`,
//! but stops at the first error (one unset `${VAR}` per file, one mistake per run), expands
//! `${VAR}` only in plain scalars and from a map given up front, has no positioned tree to lift
//! dynamic keys off before `deny_unknown_fields` (`flatten` loses the positions inside, line 0,
//! and serde does not combine it with `deny_unknown_fields`), and needs Rust 1.89. Neither
//! reports every mistake of a file in one run with its `file:line:col`, which the loader
//! promises, so the layer stays. Like marked-yaml it does not read merge keys (`<<` is an
//! unknown field).
//!
//! This module owns everything between the raw text of a YAML file and a typed configuration
//! value, and knows nothing of driftwatch's config types:
//!
//! * [`parse`] turns text into a spanned tree of [`Node`]s using `yaml-rust2`'s event parser.
//!   Every node knows the 1-based line and column ([`Pos`]) where it starts, anchors/aliases are
//!   expanded, and duplicate keys are rejected.
//! * [`Node::expand_env`] substitutes `${VAR}` / `${VAR:-default}` references in scalar values.
//! * [`from_node_collect`] / [`from_node_partial`] deserialize a tree with serde through our own
//!   `Deserializer`, so every error (unknown field, missing field, wrong type, bad value...)
//!   carries the position of the node it is about, and every error of a tree is reported, not
//!   the first. [`Spanned`] lets a config struct keep the position of an individual value for
//!   errors found later (validation); a [`Node`] field keeps a whole subtree whose keys are
//!   names (systems, columns) for validation by hand. [`fields`] reads a struct's field names.
//!
//! Every error is a [`YamlError`]: a position plus a lowercase message without a trailing period;
//! callers prefix it with the file name (`file:line:col: message`).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Expected, IntoDeserializer, Unexpected, Visitor};
use serde::Deserialize;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

// ---------------------------------------------------------------------------------------------
// Tree
// ---------------------------------------------------------------------------------------------

/// A position in a YAML file. Both fields are 1-based; `col` counts characters, not bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// One YAML node and the position where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub pos: Pos,
}

/// The content of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// Plain `~`, `null`, `Null`, `NULL`, or an empty value.
    Null,
    /// Any other scalar. `quoted` is true for single/double quoted and block (`|`, `>`) scalars,
    /// for `!!str`-tagged scalars, and for scalars produced by environment expansion.
    Scalar {
        value: String,
        quoted: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order.
    Map(Vec<(Node, Node)>),
}

/// An error with the position it is about. The message is lowercase without a trailing period.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// A value together with the position of the node it was deserialized from.
///
/// Only works with this module's deserializer ([`from_node_collect`], [`from_node_partial`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub pos: Pos,
    pub value: T,
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl Node {
    /// Looks up `key` in a mapping (keys compared as scalar text). `None` for non-mappings.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    /// Where the key `key` of a mapping is written. `None` for non-mappings.
    pub fn key_pos(&self, key: &str) -> Option<Pos> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, _)| k.pos)
    }

    /// The text of a scalar (quoted or not); `None` for null, lists and mappings.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// What the node is, for messages: "a mapping", "a list", "a string", "an integer",
    /// "a number", "a boolean" or "null". Quoted scalars are always "a string".
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
            NodeKind::Scalar { quoted: true, .. } => "a string",
            NodeKind::Scalar { value, .. } => {
                if parse_bool(value).is_some() {
                    "a boolean"
                } else if parse_int_literal(value).is_some() {
                    "an integer"
                } else if parse_float_literal(value).is_some() {
                    "a number"
                } else {
                    "a string"
                }
            }
        }
    }

    /// Replaces `${VAR}` / `${VAR:-default}` in every scalar value (map keys are left alone).
    /// `$${` is a literal `${`. Returns every error found; expansion continues after each one.
    pub fn expand_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) -> Vec<YamlError> {
        let mut errors = Vec::new();
        self.expand_env_into(lookup, &mut errors);
        errors
    }

    fn expand_env_into(
        &mut self,
        lookup: &dyn Fn(&str) -> Option<String>,
        errors: &mut Vec<YamlError>,
    ) {
        let pos = self.pos;
        match &mut self.kind {
            NodeKind::Null => {}
            NodeKind::Scalar { value, quoted } => {
                if !value.contains('$') {
                    return;
                }
                let (expanded, substituted) = expand_str(value, lookup, pos, errors);
                *value = expanded;
                if substituted {
                    *quoted = true;
                }
            }
            NodeKind::Seq(items) => {
                for item in items {
                    item.expand_env_into(lookup, errors);
                }
            }
            NodeKind::Map(entries) => {
                for (_, v) in entries {
                    v.expand_env_into(lookup, errors);
                }
            }
        }
    }

    fn count(&self) -> usize {
        1 + match &self.kind {
            NodeKind::Null | NodeKind::Scalar { .. } => 0,
            NodeKind::Seq(items) => items.iter().map(Node::count).sum(),
            NodeKind::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
        }
    }
}

fn valid_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expands one scalar. Returns the new text and whether any reference was substituted.
fn expand_str(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    pos: Pos,
    errors: &mut Vec<YamlError>,
) -> (String, bool) {
    let mut out = String::with_capacity(text.len());
    let mut substituted = false;
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let here = &rest[i..];
        if let Some(after) = here.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(after) = here.strip_prefix("${") {
            let Some(end) = after.find('}') else {
                errors.push(YamlError {
                    pos,
                    message: "unterminated `${` (missing `}`; write $${ for a literal ${)"
                        .to_string(),
                });
                out.push_str(here);
                rest = "";
                break;
            };
            let inner = &after[..end];
            rest = &after[end + 1..];
            let (name, default) = match inner.find(":-") {
                Some(k) => (&inner[..k], Some(&inner[k + 2..])),
                None => (inner, None),
            };
            if name.is_empty() {
                errors.push(YamlError {
                    pos,
                    message: format!("empty environment variable name in `${{{inner}}}`"),
                });
                out.push_str(&here[..end + 3]);
            } else if !valid_env_name(name) {
                errors.push(YamlError {
                    pos,
                    message: format!(
                        "invalid environment variable name `{name}` in `${{{inner}}}` \
                         (names are letters, digits and `_`; write ${{VAR:-default}} for a default)"
                    ),
                });
                out.push_str(&here[..end + 3]);
            } else {
                match (lookup(name), default) {
                    (Some(v), Some(d)) if v.is_empty() => out.push_str(d),
                    (Some(v), _) => out.push_str(&v),
                    (None, Some(d)) => out.push_str(d),
                    (None, None) => {
                        errors.push(YamlError {
                            pos,
                            message: format!(
                                "environment variable `{name}` is not set \
                                 (set it, or write ${{{name}:-default}})"
                            ),
                        });
                        out.push_str(&here[..end + 3]);
                        continue;
                    }
                }
                substituted = true;
            }
        } else {
            out.push('$');
            rest = &here[1..];
        }
    }
    out.push_str(rest);
    (out, substituted)
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// Upper bound on nodes produced by alias expansion (guards against "billion laughs").
const MAX_ALIAS_NODES: usize = 1_000_000;

fn pos_of(mark: &Marker) -> Pos {
    // yaml-rust2 markers: line is 1-based, col is 0-based (in chars).
    Pos {
        line: u32::try_from(mark.line()).unwrap_or(u32::MAX).max(1),
        col: u32::try_from(mark.col())
            .unwrap_or(u32::MAX - 1)
            .saturating_add(1),
    }
}

/// Parses one YAML document into a tree. An empty file gives a `Null` node at 1:1.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    let result = parser.load(&mut builder, true);
    if let Some(err) = builder.error {
        return Err(err);
    }
    if let Err(e) = result {
        let mut message = e.info().trim_end_matches('.').to_string();
        if let Some(first) = message.get(..1) {
            if first.chars().all(|c| c.is_ascii_uppercase()) {
                message.replace_range(..1, &first.to_ascii_lowercase());
            }
        }
        return Err(YamlError {
            pos: pos_of(e.marker()),
            message,
        });
    }
    Ok(builder.root.unwrap_or(Node {
        kind: NodeKind::Null,
        pos: Pos { line: 1, col: 1 },
    }))
}

enum FrameKind {
    Seq(Vec<Node>),
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        seen: HashSet<String>,
        seen_null: bool,
    },
}

struct Frame {
    kind: FrameKind,
    pos: Pos,
    anchor: usize,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    documents: usize,
    alias_nodes: usize,
    error: Option<YamlError>,
}

impl Builder {
    fn fail(&mut self, pos: Pos, message: String) {
        if self.error.is_none() {
            self.error = Some(YamlError { pos, message });
        }
    }

    fn finish(&mut self, node: Node, anchor: usize, implicit_empty: bool) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        let mut dup = None;
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame {
                kind: FrameKind::Seq(items),
                ..
            }) => items.push(node),
            Some(Frame {
                kind:
                    FrameKind::Map {
                        entries,
                        key,
                        seen,
                        seen_null,
                    },
                pos,
                ..
            }) => match key.take() {
                None => {
                    // Block mappings are reported by yaml-rust2 at the first `:`; use the
                    // first key's position when it comes earlier.
                    if entries.is_empty() && node.pos < *pos {
                        *pos = node.pos;
                    }
                    let is_dup = match &node.kind {
                        NodeKind::Scalar { value, .. } => !seen.insert(value.clone()),
                        NodeKind::Null => std::mem::replace(seen_null, true),
                        _ => false,
                    };
                    if is_dup {
                        let name = node.as_str().unwrap_or("null").to_string();
                        dup = Some((node.pos, format!("duplicate key `{name}`")));
                    }
                    *key = Some(node);
                }
                Some(k) => {
                    let mut value = node;
                    if implicit_empty {
                        // yaml-rust2 puts an empty value at the *next* token; point at the key.
                        value.pos = k.pos;
                    }
                    entries.push((k, value));
                }
            },
        }
        if let Some((pos, message)) = dup {
            self.fail(pos, message);
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = pos_of(&mark);
        match ev {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents > 1 {
                    self.fail(
                        pos,
                        "multiple documents in one file are not supported (found a second `---`)"
                            .to_string(),
                    );
                }
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(node) => {
                    let mut node = node.clone();
                    self.alias_nodes += node.count();
                    if self.alias_nodes > MAX_ALIAS_NODES {
                        self.fail(pos, "too many alias expansions".to_string());
                        return;
                    }
                    node.pos = pos;
                    self.finish(node, 0, false);
                }
                None => self.fail(
                    pos,
                    "alias refers to a node that contains it (recursive aliases are not supported)"
                        .to_string(),
                ),
            },
            Event::Scalar(value, style, anchor, tag) => {
                let is_str_tag = tag
                    .as_ref()
                    .is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                let plain = style == TScalarStyle::Plain && !is_str_tag;
                let implicit_empty = plain && value.is_empty() && anchor == 0 && tag.is_none();
                let kind = if plain && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL")
                {
                    NodeKind::Null
                } else {
                    NodeKind::Scalar {
                        value,
                        quoted: !plain,
                    }
                };
                self.finish(Node { kind, pos }, anchor, implicit_empty);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame {
                kind: FrameKind::Seq(Vec::new()),
                pos,
                anchor,
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame {
                kind: FrameKind::Map {
                    entries: Vec::new(),
                    key: None,
                    seen: HashSet::new(),
                    seen_null: false,
                },
                pos,
                anchor,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return;
                };
                let kind = match frame.kind {
                    FrameKind::Seq(items) => NodeKind::Seq(items),
                    FrameKind::Map { entries, .. } => NodeKind::Map(entries),
                };
                self.finish(
                    Node {
                        kind,
                        pos: frame.pos,
                    },
                    frame.anchor,
                    false,
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Scalar resolution
// ---------------------------------------------------------------------------------------------

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// YAML 1.2 core schema integers: `[-+]?[0-9]+`, `0x[0-9a-fA-F]+`, `0o[0-7]+`.
fn parse_int_literal(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits_ok = |d: &str, f: fn(&u8) -> bool| !d.is_empty() && d.as_bytes().iter().all(f);
    let v = if let Some(h) = body.strip_prefix("0x") {
        if !digits_ok(h, u8::is_ascii_hexdigit) {
            return None;
        }
        i128::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        if !digits_ok(o, |b| (b'0'..=b'7').contains(b)) {
            return None;
        }
        i128::from_str_radix(o, 8).ok()?
    } else {
        if !digits_ok(body, u8::is_ascii_digit) {
            return None;
        }
        body.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// YAML 1.2 core schema floats (including `.inf`, `-.inf`, `.nan`).
fn parse_float_literal(s: &str) -> Option<f64> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    s.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// Deserializer
// ---------------------------------------------------------------------------------------------

const SPANNED_NAME: &str = "$__driftwatch_spanned";
const SPANNED_LINE: &str = "$__pos_line";
const SPANNED_COL: &str = "$__pos_col";
const SPANNED_VALUE: &str = "$__value";
const SPANNED_FIELDS: &[&str] = &[SPANNED_LINE, SPANNED_COL, SPANNED_VALUE];

/// The serde error of our deserializer. `pos` is filled by the innermost node that sees the
/// error go by, i.e. the node being deserialized when the error was raised.
#[derive(Debug)]
struct DeError {
    pos: Option<Pos>,
    message: String,
    /// Child indices from the node the error is about out to the root (innermost first), so
    /// [`from_node_partial`] can cut the entry holding it out of the tree and go on.
    path: Vec<usize>,
    /// The error came from inside a mapping key: its path leads nowhere that can be cut.
    in_key: bool,
    /// For `missing field` errors, the field.
    missing: Option<&'static str>,
}

impl DeError {
    fn at(pos: Pos, message: String) -> Self {
        DeError {
            pos: Some(pos),
            message,
            path: Vec::new(),
            in_key: false,
            missing: None,
        }
    }

    fn fill_pos(mut self, pos: Pos) -> Self {
        if self.pos.is_none() {
            self.pos = Some(pos);
        }
        self
    }

    /// Called when the error leaves the child at `index` of a collection.
    fn in_child(mut self, index: usize) -> Self {
        self.path.push(index);
        self
    }

    fn into_yaml(self, fallback: Pos) -> YamlError {
        YamlError {
            pos: self.pos.unwrap_or(fallback),
            message: self.message,
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => format!("`{one}`"),
        _ => {
            let list: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            format!("one of {}", list.join(", "))
        }
    }
}

/// "found ..." text for a type mismatch, in the same words as [`Node::describe`].
fn unexpected_type(unexp: &Unexpected<'_>) -> String {
    match unexp {
        Unexpected::Bool(_) => "a boolean".into(),
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer".into(),
        Unexpected::Float(_) => "a number".into(),
        Unexpected::Char(_) => "a character".into(),
        Unexpected::Str(_) => "a string".into(),
        Unexpected::Bytes(_) => "bytes".into(),
        Unexpected::Unit => "null".into(),
        Unexpected::Option => "an optional value".into(),
        Unexpected::NewtypeStruct => "a newtype struct".into(),
        Unexpected::Seq => "a list".into(),
        Unexpected::Map => "a mapping".into(),
        Unexpected::Enum => "an enum".into(),
        Unexpected::UnitVariant => "a unit variant".into(),
        Unexpected::NewtypeVariant => "a newtype variant".into(),
        Unexpected::TupleVariant => "a tuple variant".into(),
        Unexpected::StructVariant => "a struct variant".into(),
        Unexpected::Other(other) => (*other).to_string(),
    }
}

/// "found ..." text for a bad value: the value itself, backticked.
fn unexpected_value(unexp: &Unexpected<'_>) -> String {
    match unexp {
        Unexpected::Bool(b) => format!("`{b}`"),
        Unexpected::Unsigned(n) => format!("`{n}`"),
        Unexpected::Signed(n) => format!("`{n}`"),
        Unexpected::Float(n) => format!("`{n}`"),
        Unexpected::Char(c) => format!("`{c}`"),
        Unexpected::Str(s) => format!("`{s}`"),
        other => unexpected_type(other),
    }
}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            pos: None,
            message: msg.to_string(),
            path: Vec::new(),
            in_key: false,
            missing: None,
        }
    }

    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::custom(format_args!(
            "invalid type: expected {exp}, found {}",
            unexpected_type(&unexp)
        ))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn Expected) -> Self {
        Self::custom(format_args!(
            "invalid value: expected {exp}, found {}",
            unexpected_value(&unexp)
        ))
    }

    fn invalid_length(len: usize, exp: &dyn Expected) -> Self {
        let items = if len == 1 { "item" } else { "items" };
        Self::custom(format_args!(
            "invalid length: expected {exp}, found {len} {items}"
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        if expected.is_empty() {
            Self::custom(format_args!(
                "unknown variant `{variant}`, there are no variants"
            ))
        } else {
            Self::custom(format_args!(
                "unknown variant `{variant}`, expected {}",
                one_of(expected)
            ))
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        if expected.is_empty() {
            Self::custom(format_args!("unknown field `{field}`, there are no fields"))
        } else {
            Self::custom(format_args!(
                "unknown field `{field}`, expected {}",
                one_of(expected)
            ))
        }
    }

    fn missing_field(field: &'static str) -> Self {
        let mut err = Self::custom(format_args!("missing field `{field}`"));
        err.missing = Some(field);
        err
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::custom(format_args!("duplicate field `{field}`"))
    }
}

/// A serde `Deserializer` over one node.
#[derive(Clone, Copy)]
struct NodeDe<'a> {
    node: &'a Node,
}

impl<'a> NodeDe<'a> {
    fn wrap<R>(&self, r: Result<R, DeError>) -> Result<R, DeError> {
        r.map_err(|e| e.fill_pos(self.node.pos))
    }

    fn invalid_type(&self, expected: &str) -> DeError {
        DeError::at(
            self.node.pos,
            format!(
                "invalid type: expected {expected}, found {}",
                self.node.describe()
            ),
        )
    }

    fn scalar(&self, expected: &str) -> Result<&'a str, DeError> {
        match &self.node.kind {
            NodeKind::Scalar { value, .. } => Ok(value),
            _ => Err(self.invalid_type(expected)),
        }
    }

    fn integer<T: TryFrom<i128> + fmt::Display>(&self, min: T, max: T) -> Result<T, DeError> {
        let text = self.scalar("an integer")?;
        let Some(v) = parse_int_literal(text) else {
            return Err(DeError::at(
                self.node.pos,
                format!("invalid value: expected an integer, found `{text}`"),
            ));
        };
        T::try_from(v).map_err(|_| {
            DeError::at(
                self.node.pos,
                format!("invalid value: expected an integer from {min} to {max}, found `{text}`"),
            )
        })
    }

    fn float(&self) -> Result<f64, DeError> {
        let text = self.scalar("a number")?;
        parse_float_literal(text).ok_or_else(|| {
            DeError::at(
                self.node.pos,
                format!("invalid value: expected a number, found `{text}`"),
            )
        })
    }
}

macro_rules! de_integer {
    ($($method:ident => $ty:ty, $visit:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            let v = self.integer::<$ty>(<$ty>::MIN, <$ty>::MAX)?;
            self.wrap(visitor.$visit(v))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Null => visitor.visit_unit(),
            NodeKind::Scalar {
                value,
                quoted: true,
            } => visitor.visit_borrowed_str(value),
            NodeKind::Scalar { value, .. } => {
                if let Some(b) = parse_bool(value) {
                    visitor.visit_bool(b)
                } else if let Some(u) = parse_int_literal(value).and_then(|i| u64::try_from(i).ok())
                {
                    visitor.visit_u64(u)
                } else if let Some(i) = parse_int_literal(value).and_then(|i| i64::try_from(i).ok())
                {
                    visitor.visit_i64(i)
                } else if let Some(f) = parse_float_literal(value) {
                    visitor.visit_f64(f)
                } else {
                    visitor.visit_borrowed_str(value)
                }
            }
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe::new(items)),
            NodeKind::Map(entries) => visitor.visit_map(MapDe::new(entries)),
        };
        self.wrap(r)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.scalar("a boolean")?;
        let Some(b) = parse_bool(text) else {
            return Err(DeError::at(
                self.node.pos,
                format!("invalid value: expected a boolean (`true` or `false`), found `{text}`"),
            ));
        };
        self.wrap(visitor.visit_bool(b))
    }

    de_integer! {
        deserialize_i8 => i8, visit_i8;
        deserialize_i16 => i16, visit_i16;
        deserialize_i32 => i32, visit_i32;
        deserialize_i64 => i64, visit_i64;
        deserialize_i128 => i128, visit_i128;
        deserialize_u8 => u8, visit_u8;
        deserialize_u16 => u16, visit_u16;
        deserialize_u32 => u32, visit_u32;
        deserialize_u64 => u64, visit_u64;
        deserialize_u128 => u128, visit_u128;
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let f = self.float()?;
        self.wrap(visitor.visit_f32(f as f32))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let f = self.float()?;
        self.wrap(visitor.visit_f64(f))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.scalar("a single character")?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => self.wrap(visitor.visit_char(c)),
            _ => Err(DeError::at(
                self.node.pos,
                format!("invalid value: expected a single character, found `{text}`"),
            )),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let text = self.scalar("a string")?;
        self.wrap(visitor.visit_borrowed_str(text))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Scalar { value, .. } => {
                self.wrap(visitor.visit_borrowed_bytes(value.as_bytes()))
            }
            NodeKind::Seq(items) => self.wrap(visitor.visit_seq(SeqDe::new(items))),
            _ => Err(self.invalid_type("a string or a list of bytes")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.kind {
            NodeKind::Null => self.wrap(visitor.visit_none()),
            _ => self.wrap(visitor.visit_some(self)),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.node.kind {
            NodeKind::Null => self.wrap(visitor.visit_unit()),
            _ => Err(self.invalid_type("null")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.wrap(visitor.visit_newtype_struct(self))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Seq(items) => self.wrap(visitor.visit_seq(SeqDe::new(items))),
            _ => Err(self.invalid_type("a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            NodeKind::Map(entries) => self.wrap(visitor.visit_map(MapDe::new(entries))),
            _ => Err(self.invalid_type("a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == SPANNED_NAME {
            return self.wrap(visitor.visit_map(SpannedDe {
                node: self.node,
                state: 0,
            }));
        }
        if name == NODE_NAME {
            return self.wrap(visitor.visit_map(NodeParts {
                node: self.node,
                done: false,
            }));
        }
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, DeError> {
        // No config type is an enum: closed sets are strings, validated with their own
        // "unknown ... (available: ...)" messages.
        Err(DeError::at(
            self.node.pos,
            format!("`{name}` is an enum, which the config deserializer does not read"),
        ))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.wrap(visitor.visit_unit())
    }
}

/// Deserializes `node` with `seed`, giving a position to errors raised by the `Deserialize` impl
/// itself after our deserializer returned (e.g. `deserialize_with`, `try_from`, buffered
/// internally tagged enums).
fn deserialize_node<'de, S: DeserializeSeed<'de>>(
    seed: S,
    node: &'de Node,
) -> Result<S::Value, DeError> {
    seed.deserialize(NodeDe { node })
        .map_err(|e| e.fill_pos(node.pos))
}

impl<'de> IntoDeserializer<'de, DeError> for NodeDe<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

struct SeqDe<'a> {
    items: &'a [Node],
    next: usize,
}

impl<'a> SeqDe<'a> {
    fn new(items: &'a [Node]) -> Self {
        SeqDe { items, next: 0 }
    }
}

impl<'de> de::SeqAccess<'de> for SeqDe<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.get(self.next) else {
            return Ok(None);
        };
        let index = self.next;
        self.next += 1;
        deserialize_node(seed, node)
            .map(Some)
            .map_err(|e| e.in_child(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.next)
    }
}

struct MapDe<'a> {
    entries: &'a [(Node, Node)],
    /// Index of the entry whose key was returned last (its value comes next).
    current: usize,
    next: usize,
}

impl<'a> MapDe<'a> {
    fn new(entries: &'a [(Node, Node)]) -> Self {
        MapDe {
            entries,
            current: 0,
            next: 0,
        }
    }
}

impl<'de> de::MapAccess<'de> for MapDe<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, _)) = self.entries.get(self.next) else {
            return Ok(None);
        };
        let index = self.next;
        self.current = index;
        self.next += 1;
        deserialize_node(seed, key).map(Some).map_err(|mut e| {
            // An error about the key itself (an unknown field) cuts its entry; one from inside
            // a mapping used as a key has a path into the key, which cutting cannot follow.
            e.in_key = !e.path.is_empty();
            e.in_child(index)
        })
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let index = self.current;
        let node = &self.entries[index].1;
        deserialize_node(seed, node).map_err(|e| e.in_child(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len() - self.next)
    }
}

/// Presents a node as the magic `{line, col, value}` struct that [`Spanned`] asks for.
struct SpannedDe<'a> {
    node: &'a Node,
    state: u8,
}

impl<'de> de::MapAccess<'de> for SpannedDe<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let key = match self.state {
            0 => SPANNED_LINE,
            1 => SPANNED_COL,
            2 => SPANNED_VALUE,
            _ => return Ok(None),
        };
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        self.state += 1;
        match self.state {
            1 => seed.deserialize(self.node.pos.line.into_deserializer()),
            2 => seed.deserialize(self.node.pos.col.into_deserializer()),
            _ => deserialize_node(seed, self.node),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a value with its position (`Spanned` needs driftwatch's yaml deserializer \
                     and does not work inside internally tagged or untagged enums or `flatten`)",
                )
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                let wrong = || {
                    de::Error::custom(
                        "`Spanned` can only be deserialized by driftwatch's yaml deserializer",
                    )
                };
                if map.next_key::<&str>()? != Some(SPANNED_LINE) {
                    return Err(wrong());
                }
                let line: u32 = map.next_value()?;
                if map.next_key::<&str>()? != Some(SPANNED_COL) {
                    return Err(wrong());
                }
                let col: u32 = map.next_value()?;
                if map.next_key::<&str>()? != Some(SPANNED_VALUE) {
                    return Err(wrong());
                }
                let value: T = map.next_value()?;
                Ok(Spanned {
                    pos: Pos { line, col },
                    value,
                })
            }
        }

        deserializer.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, SpannedVisitor(PhantomData))
    }
}

// ---------------------------------------------------------------------------------------------
// A node as a value
// ---------------------------------------------------------------------------------------------

const NODE_NAME: &str = "$__driftwatch_node";
const NODE_NULL: &str = "$__node_null";
const NODE_PLAIN: &str = "$__node_plain";
const NODE_QUOTED: &str = "$__node_quoted";
const NODE_SEQ: &str = "$__node_seq";
/// A mapping's entries as one list: key, value, key, value...
const NODE_MAP: &str = "$__node_map";
const NODE_FIELDS: &[&str] = &[NODE_NULL, NODE_PLAIN, NODE_QUOTED, NODE_SEQ, NODE_MAP];

/// Presents a node's content as the magic one-field struct [`NodeKind`]'s `Deserialize` asks
/// for: the field says what the node is and holds its content.
struct NodeParts<'a> {
    node: &'a Node,
    done: bool,
}

impl<'de> de::MapAccess<'de> for NodeParts<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        if self.done {
            return Ok(None);
        }
        let key = match &self.node.kind {
            NodeKind::Null => NODE_NULL,
            NodeKind::Scalar { quoted: false, .. } => NODE_PLAIN,
            NodeKind::Scalar { quoted: true, .. } => NODE_QUOTED,
            NodeKind::Seq(_) => NODE_SEQ,
            NodeKind::Map(_) => NODE_MAP,
        };
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        self.done = true;
        match &self.node.kind {
            NodeKind::Null => seed.deserialize(().into_deserializer()),
            NodeKind::Scalar { value, .. } => {
                seed.deserialize(de::value::BorrowedStrDeserializer::new(value))
            }
            NodeKind::Seq(items) => {
                seed.deserialize(de::value::SeqAccessDeserializer::new(SeqDe::new(items)))
            }
            NodeKind::Map(entries) => {
                seed.deserialize(de::value::SeqAccessDeserializer::new(FlatEntries {
                    entries,
                    next: 0,
                }))
            }
        }
    }
}

/// A mapping's entries as one list of nodes, key then value.
struct FlatEntries<'a> {
    entries: &'a [(Node, Node)],
    next: usize,
}

impl<'de> de::SeqAccess<'de> for FlatEntries<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some((k, v)) = self.entries.get(self.next / 2) else {
            return Ok(None);
        };
        let node = if self.next % 2 == 0 { k } else { v };
        self.next += 1;
        deserialize_node(seed, node).map(Some)
    }
}

/// A raw struct keeps a subtree whose keys are not fixed (names of systems, columns, measures)
/// as a `Node`, to be validated by hand with every position intact.
impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Spanned { pos, value: kind } = Spanned::<NodeKind>::deserialize(deserializer)?;
        Ok(Node { kind, pos })
    }
}

impl<'de> Deserialize<'de> for NodeKind {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KindVisitor;

        impl<'de> Visitor<'de> for KindVisitor {
            type Value = NodeKind;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML node (`Node` needs driftwatch's yaml deserializer)")
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
                Ok(match map.next_key::<&str>()? {
                    Some(NODE_NULL) => {
                        map.next_value::<()>()?;
                        NodeKind::Null
                    }
                    Some(k @ (NODE_PLAIN | NODE_QUOTED)) => NodeKind::Scalar {
                        value: map.next_value()?,
                        quoted: k == NODE_QUOTED,
                    },
                    Some(NODE_SEQ) => NodeKind::Seq(map.next_value()?),
                    Some(NODE_MAP) => {
                        let mut flat = map.next_value::<Vec<Node>>()?.into_iter();
                        let mut entries = Vec::new();
                        while let (Some(k), Some(v)) = (flat.next(), flat.next()) {
                            entries.push((k, v));
                        }
                        NodeKind::Map(entries)
                    }
                    _ => {
                        return Err(de::Error::custom(
                            "`Node` can only be read by driftwatch's yaml deserializer",
                        ))
                    }
                })
            }
        }

        deserializer.deserialize_struct(NODE_NAME, NODE_FIELDS, KindVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// The field names of the struct `T` deserializes as, in declaration order and as written in
/// files (after `rename`), so a list of allowed keys is never spelt a second time by hand.
///
/// Serde's derive hands them to `Deserializer::deserialize_struct`; a deserializer that
/// answers every call with an error carrying them is enough to read them.
pub fn fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);

    impl fmt::Display for Fields {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("not a struct")
        }
    }

    impl std::error::Error for Fields {}

    impl de::Error for Fields {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Fields(&[])
        }
    }

    struct Probe;

    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Fields;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    match T::deserialize(Probe) {
        Err(Fields(fields)) => fields,
        Ok(_) => &[],
    }
}

/// Maximum number of entries [`from_node_partial`] cuts out before giving up.
const MAX_COLLECT_RETRIES: usize = 50;

/// Deserializes a node, collecting every error rather than the first: [`from_node_partial`],
/// `Ok` only if there was no error at all.
pub fn from_node_collect<T: serde::de::DeserializeOwned>(node: &Node) -> Result<T, Vec<YamlError>> {
    match from_node_partial(node) {
        (Some(v), errors) if errors.is_empty() => Ok(v),
        (_, errors) => Err(errors),
    }
}

/// Deserializes a node, collecting as many errors as there are: each error is recorded, the
/// mapping entry holding it (an unknown key, a bad value, a struct missing a field) is cut
/// from a clone of the tree, and deserialization is retried, up to 50 times. A "missing field"
/// that only follows from such a cut is not reported again. Returns the value deserialized
/// once every bad entry was cut, if there is one (when only optional fields were bad), with
/// every error.
pub fn from_node_partial<T: serde::de::DeserializeOwned>(
    node: &Node,
) -> (Option<T>, Vec<YamlError>) {
    let mut errors = Vec::new();
    let mut work: Option<Node> = None;
    // (path of the mapping, key) of every entry cut so far.
    let mut cut_entries: Vec<(Vec<Step>, String)> = Vec::new();
    for _ in 0..=MAX_COLLECT_RETRIES {
        let current = work.as_ref().unwrap_or(node);
        let mut err = match deserialize_node(PhantomData::<T>, current) {
            Ok(v) => return (Some(v), errors),
            Err(e) => e,
        };
        err.path.reverse();
        let route = std::mem::take(&mut err.path);
        let follows_from_cut = err.missing.is_some_and(|field| {
            steps(current, &route).is_some_and(|at| {
                cut_entries
                    .iter()
                    .any(|(map, key)| *map == at && key == field)
            })
        });
        let in_key = err.in_key;
        if !follows_from_cut {
            errors.push(err.into_yaml(current.pos));
        }
        if in_key {
            break;
        }
        let target = work.get_or_insert_with(|| node.clone());
        match cut(target, &route) {
            Some(entry) => cut_entries.push(entry),
            None => break,
        }
    }
    (None, errors)
}

/// One step down a tree: into the value under a mapping key, or into a list item. Keys, not
/// entry indices, so that cutting an entry leaves the paths recorded before it valid.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Item(usize),
}

/// The steps from `root` along `route` (child indices), if they lead anywhere.
fn steps(root: &Node, route: &[usize]) -> Option<Vec<Step>> {
    let mut node = root;
    let mut out = Vec::new();
    for &i in route {
        node = match &node.kind {
            NodeKind::Map(entries) => {
                let (k, v) = entries.get(i)?;
                out.push(Step::Key(k.as_str()?.to_string()));
                v
            }
            NodeKind::Seq(items) => {
                out.push(Step::Item(i));
                items.get(i)?
            }
            _ => return None,
        };
    }
    Some(out)
}

/// Removes the innermost mapping entry on `route` (child indices from the root): the entry an
/// error is about, or the one holding the list it is in. Returns the mapping's path and the
/// entry's key, or `None` when the route holds no mapping entry (an error about the root).
fn cut(root: &mut Node, route: &[usize]) -> Option<(Vec<Step>, String)> {
    let depth = (0..route.len()).rev().find(|&d| {
        matches!(
            node_at(root, &route[..d]).map(|n| &n.kind),
            Some(NodeKind::Map(_))
        )
    })?;
    let map_path = steps(root, &route[..depth])?;
    let mut node = root;
    for &i in &route[..depth] {
        node = match &mut node.kind {
            NodeKind::Map(entries) => &mut entries.get_mut(i)?.1,
            NodeKind::Seq(items) => items.get_mut(i)?,
            _ => return None,
        };
    }
    let NodeKind::Map(entries) = &mut node.kind else {
        return None;
    };
    let i = route[depth];
    let key = entries.get(i)?.0.as_str()?.to_string();
    entries.remove(i);
    Some((map_path, key))
}

fn node_at<'a>(root: &'a Node, route: &[usize]) -> Option<&'a Node> {
    let mut node = root;
    for &i in route {
        node = match &node.kind {
            NodeKind::Map(entries) => &entries.get(i)?.1,
            NodeKind::Seq(items) => items.get(i)?,
            _ => return None,
        };
    }
    Some(node)
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    /// The first error only, as serde reports it.
    fn from_node<T: serde::de::DeserializeOwned>(node: &Node) -> Result<T, YamlError> {
        deserialize_node(PhantomData::<T>, node).map_err(|e| e.into_yaml(node.pos))
    }

    fn p(line: u32, col: u32) -> Pos {
        Pos { line, col }
    }

    fn err(line: u32, col: u32, message: &str) -> YamlError {
        YamlError {
            pos: p(line, col),
            message: message.to_string(),
        }
    }

    const NESTED: &str = "\
# comment
name: demo
checks:
  - id: a
    tags: [x, \"y\"]
    flow: {k: v}
  - id: b
db:
    url: 'postgres://x'
    pool: 5
empty:
";

    #[test]
    fn positions_in_nested_file() {
        let root = parse(NESTED).unwrap();
        assert_eq!(root.pos, p(2, 1));
        assert_eq!(root.get("name").unwrap().pos, p(2, 7));
        let (name_key, _) = &root.as_map().unwrap()[0];
        assert_eq!(name_key.pos, p(2, 1));

        let checks = root.get("checks").unwrap();
        assert_eq!(checks.pos, p(4, 3));
        let items = checks.as_seq().unwrap();
        assert_eq!(items[0].pos, p(4, 5));
        assert_eq!(items[0].get("id").unwrap().pos, p(4, 9));
        let tags = items[0].get("tags").unwrap();
        assert_eq!(tags.pos, p(5, 11));
        let tags = tags.as_seq().unwrap();
        assert_eq!(tags[0].pos, p(5, 12));
        assert_eq!(tags[1].pos, p(5, 15));
        assert_eq!(
            tags[1].kind,
            NodeKind::Scalar {
                value: "y".into(),
                quoted: true
            }
        );
        let flow = items[0].get("flow").unwrap();
        assert_eq!(flow.pos, p(6, 11));
        assert_eq!(flow.get("k").unwrap().pos, p(6, 15));
        assert_eq!(items[1].pos, p(7, 5));

        let db = root.get("db").unwrap();
        assert_eq!(db.pos, p(9, 5));
        assert_eq!(db.get("url").unwrap().pos, p(9, 10));
        assert_eq!(db.get("url").unwrap().as_str(), Some("postgres://x"));
        assert_eq!(db.get("pool").unwrap().pos, p(10, 11));
        assert_eq!(db.get("pool").unwrap().describe(), "an integer");

        // An empty value is reported at its key, not at the next line.
        let empty = root.get("empty").unwrap();
        assert_eq!(empty.kind, NodeKind::Null);
        assert_eq!(empty.pos, p(11, 1));
    }

    #[test]
    fn columns_count_characters() {
        let root = parse("é: ü\nx: [a, b]\n").unwrap();
        assert_eq!(root.get("é").unwrap().pos, p(1, 4));
        assert_eq!(root.get("x").unwrap().as_seq().unwrap()[1].pos, p(2, 8));
    }

    #[test]
    fn nulls_and_scalar_styles() {
        let root =
            parse("a: ~\nb: null\nc: NULL\nd:\ne: 'null'\nf: |\n  text\ng: !!str 12\nh: 12\n")
                .unwrap();
        for k in ["a", "b", "c", "d"] {
            assert_eq!(root.get(k).unwrap().kind, NodeKind::Null, "{k}");
        }
        let scalar = |k: &str| root.get(k).unwrap().kind.clone();
        assert_eq!(
            scalar("e"),
            NodeKind::Scalar {
                value: "null".into(),
                quoted: true
            }
        );
        assert_eq!(
            scalar("f"),
            NodeKind::Scalar {
                value: "text\n".into(),
                quoted: true
            }
        );
        assert_eq!(
            scalar("g"),
            NodeKind::Scalar {
                value: "12".into(),
                quoted: true
            }
        );
        assert_eq!(
            scalar("h"),
            NodeKind::Scalar {
                value: "12".into(),
                quoted: false
            }
        );
        assert_eq!(root.get("e").unwrap().describe(), "a string");
        assert_eq!(root.get("a").unwrap().describe(), "null");
        assert_eq!(root.describe(), "a mapping");
        assert!(root.get("missing").is_none());
    }

    #[test]
    fn empty_document() {
        for text in ["", "   \n", "# only a comment\n"] {
            assert_eq!(
                parse(text).unwrap(),
                Node {
                    kind: NodeKind::Null,
                    pos: p(1, 1)
                },
                "{text:?}"
            );
        }
        assert_eq!(parse("---\n").unwrap().kind, NodeKind::Null);
    }

    #[test]
    fn multiple_documents_rejected() {
        let e = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(e.pos.line, 2);
        assert!(e.message.contains("multiple documents"), "{}", e.message);
        // A single explicit document is fine.
        assert!(parse("---\na: 1\n...\n").is_ok());
    }

    #[test]
    fn syntax_error_position() {
        let e = parse("a: b\n  c: d\n").unwrap_err();
        assert_eq!(
            e,
            err(2, 4, "mapping values are not allowed in this context")
        );
        let e = parse("x: [a, b\n").unwrap_err();
        assert_eq!(e.pos.line, 2);
        assert!(e.message.starts_with("while parsing a flow sequence"));
    }

    #[test]
    fn duplicate_key() {
        let e = parse("a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\n").unwrap_err();
        assert_eq!(e, err(5, 3, "duplicate key `x`"));
        // Quoting does not make a key different.
        let e = parse("a: 1\n'a': 2\n").unwrap_err();
        assert_eq!(e, err(2, 1, "duplicate key `a`"));
        // Same key in different mappings is fine.
        assert!(parse("- a: 1\n- a: 2\n").is_ok());
    }

    #[test]
    fn alias_expansion() {
        let root =
            parse("base: &b\n  x: 1\n  y: [2]\nother: *b\nname: &n hello\nagain: *n\n").unwrap();
        let base = root.get("base").unwrap();
        let other = root.get("other").unwrap();
        assert_eq!(other.pos, p(4, 8));
        assert_eq!(other.kind, base.kind);
        let again = root.get("again").unwrap();
        assert_eq!(again.as_str(), Some("hello"));
        assert_eq!(again.pos, p(6, 8));
        // Unknown anchors are a parse error.
        assert!(parse("a: *nope\n").is_err());
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Check {
        name: String,
        kind: String,
        schedule: Option<String>,
    }

    #[test]
    fn unknown_field_message_and_position() {
        let root = parse("name: a\nkind: b\nschedul: x\n").unwrap();
        let e = from_node::<Check>(&root).unwrap_err();
        assert_eq!(
            e,
            err(
                3,
                1,
                "unknown field `schedul`, expected one of `name`, `kind`, `schedule`"
            )
        );

        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct One {
            name: String,
        }
        let root = parse("name: a\n  # c\nnmae: b\n").unwrap();
        assert_eq!(
            from_node::<One>(&root).unwrap_err(),
            err(3, 1, "unknown field `nmae`, expected `name`")
        );
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Config {
        checks: Vec<Check>,
        db: Db,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Db {
        url: String,
    }

    #[test]
    fn collect_unknown_fields_in_nested_structs() {
        let text = "\
checks:
  - name: a
    kidn: x
    kind: k
  - name: b
    kind: k
  - name: c
    kind: k
    schedul: daily
db:
  url: u
  pool: 3
";
        let root = parse(text).unwrap();
        let errors = from_node_collect::<Config>(&root).unwrap_err();
        assert_eq!(
            errors,
            vec![
                err(
                    3,
                    5,
                    "unknown field `kidn`, expected one of `name`, `kind`, `schedule`"
                ),
                err(
                    9,
                    5,
                    "unknown field `schedul`, expected one of `name`, `kind`, `schedule`"
                ),
                err(12, 3, "unknown field `pool`, expected `url`"),
            ]
        );
        // The input tree itself is untouched.
        assert!(root.get("db").unwrap().get("pool").is_some());

        // A struct missing a field is reported once, and its entry is cut like any other.
        let text = "checks:\n  - name: a\n    x: 1\n  - name: b\n    kind: k\ndb:\n  url: u\n";
        let errors = from_node_collect::<Config>(&parse(text).unwrap()).unwrap_err();
        assert_eq!(
            errors,
            vec![
                err(
                    3,
                    5,
                    "unknown field `x`, expected one of `name`, `kind`, `schedule`"
                ),
                err(2, 5, "missing field `kind`"),
            ]
        );

        // No error at all -> Ok.
        let ok = "checks: []\ndb:\n  url: u\n";
        let cfg = from_node_collect::<Config>(&parse(ok).unwrap()).unwrap();
        assert_eq!(cfg.db.url, "u");
    }

    #[test]
    fn collect_unknown_fields_in_map_values() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Root {
            targets: BTreeMap<String, Db>,
        }
        let text = "\
targets:
  one:
    url: u
    urll: v
  two:
    url: w
";
        let errors = from_node_collect::<Root>(&parse(text).unwrap()).unwrap_err();
        assert_eq!(
            errors,
            vec![err(4, 5, "unknown field `urll`, expected `url`")]
        );
    }

    #[test]
    fn collect_through_option_spanned_and_custom_errors() {
        fn positive<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
            let v = i64::deserialize(d)?;
            if v <= 0 {
                return Err(serde::de::Error::custom(format!("`{v}` is not positive")));
            }
            Ok(v)
        }
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Item {
            #[serde(deserialize_with = "positive")]
            n: i64,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Root {
            opt: Option<Item>,
            items: Vec<Spanned<Item>>,
        }
        let text = "\
opt:
  n: 1
  m: 2
items:
  - n: 1
  - n: 2
    nn: 3
  - n: -4
";
        let errors = from_node_collect::<Root>(&parse(text).unwrap()).unwrap_err();
        assert_eq!(
            errors,
            vec![
                err(3, 3, "unknown field `m`, expected `n`"),
                err(7, 5, "unknown field `nn`, expected `n`"),
                err(8, 8, "`-4` is not positive"),
            ]
        );
    }

    #[test]
    fn missing_field() {
        let root = parse("db:\n  other: 1\nchecks: []\n").unwrap();
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Loose {
            db: LooseDb,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct LooseDb {
            table: String,
        }
        assert_eq!(
            from_node::<Loose>(&root).unwrap_err(),
            err(2, 3, "missing field `table`")
        );
        // Missing at the top level of an empty flow mapping.
        assert_eq!(
            from_node::<Loose>(&parse("{}").unwrap()).unwrap_err(),
            err(1, 1, "missing field `db`")
        );
    }

    #[test]
    fn invalid_type_and_value() {
        let root = parse("name:\n  - a\nkind: k\n").unwrap();
        assert_eq!(
            from_node::<Check>(&root).unwrap_err(),
            err(2, 3, "invalid type: expected a string, found a list")
        );

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Nums {
            port: u16,
            ratio: f64,
            on: bool,
        }
        let e = from_node::<Nums>(&parse("port: abc\nratio: 1\non: true\n").unwrap()).unwrap_err();
        assert_eq!(
            e,
            err(1, 7, "invalid value: expected an integer, found `abc`")
        );
        let e =
            from_node::<Nums>(&parse("port: 70000\nratio: 1\non: true\n").unwrap()).unwrap_err();
        assert_eq!(
            e,
            err(
                1,
                7,
                "invalid value: expected an integer from 0 to 65535, found `70000`"
            )
        );
        let e = from_node::<Nums>(&parse("port: 1\nratio: x\non: true\n").unwrap()).unwrap_err();
        assert_eq!(e, err(2, 8, "invalid value: expected a number, found `x`"));
        let e = from_node::<Nums>(&parse("port: 1\nratio: 2\non: yes\n").unwrap()).unwrap_err();
        assert_eq!(
            e,
            err(
                3,
                5,
                "invalid value: expected a boolean (`true` or `false`), found `yes`"
            )
        );
        let e = from_node::<Nums>(&parse("port: [1]\nratio: 2\non: true\n").unwrap()).unwrap_err();
        assert_eq!(
            e,
            err(1, 7, "invalid type: expected an integer, found a list")
        );
        let e = from_node::<Config>(&parse("checks: 5\ndb: {url: u}\n").unwrap()).unwrap_err();
        assert_eq!(
            e,
            err(1, 9, "invalid type: expected a list, found an integer")
        );
        let e = from_node::<Config>(&parse("checks: []\ndb: x\n").unwrap()).unwrap_err();
        assert_eq!(
            e,
            err(2, 5, "invalid type: expected a mapping, found a string")
        );
        let e = from_node::<Config>(&parse("checks: []\ndb:\n").unwrap()).unwrap_err();
        assert_eq!(e, err(2, 1, "invalid type: expected a mapping, found null"));
        let n: Nums = from_node(&parse("port: 0x10\nratio: .inf\non: FALSE\n").unwrap()).unwrap();
        assert_eq!((n.port, n.ratio, n.on), (16, f64::INFINITY, false));
    }

    #[test]
    fn quoted_numbers() {
        let root = parse("a: \"123\"\nb: '7'\n").unwrap();
        let s: String = from_node(root.get("a").unwrap()).unwrap();
        assert_eq!(s, "123");
        let n: u32 = from_node(root.get("a").unwrap()).unwrap();
        assert_eq!(n, 123);
        let n: i64 = from_node(root.get("b").unwrap()).unwrap();
        assert_eq!(n, 7);
        // Unquoted numbers deserialize into strings too.
        let s: String = from_node(&parse("42").unwrap()).unwrap();
        assert_eq!(s, "42");
    }

    #[test]
    fn deserialize_any_resolves_plain_scalars() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(untagged)]
        enum Any {
            B(bool),
            U(u64),
            I(i64),
            F(f64),
            S(String),
            L(Vec<Any>),
            Nothing(()),
        }
        let v: Vec<Any> =
            from_node(&parse("[true, 5, -3, 1.5, hello, '5', ~, [x]]").unwrap()).unwrap();
        assert_eq!(
            v,
            vec![
                Any::B(true),
                Any::U(5),
                Any::I(-3),
                Any::F(1.5),
                Any::S("hello".into()),
                Any::S("5".into()),
                Any::Nothing(()),
                Any::L(vec![Any::S("x".into())]),
            ]
        );
        let m: BTreeMap<String, u32> = from_node(&parse("a: 1\nb: 2\n").unwrap()).unwrap();
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn spanned_values() {
        #[derive(Debug, Deserialize)]
        struct S {
            name: Spanned<String>,
            port: Spanned<u32>,
            list: Vec<Spanned<u32>>,
            opt: Option<Spanned<String>>,
        }
        let s: S = from_node(&parse("name: web\nport: \"8080\"\nlist: [1, 2]\n").unwrap()).unwrap();
        assert_eq!(
            s.name,
            Spanned {
                pos: p(1, 7),
                value: "web".to_string()
            }
        );
        assert_eq!(s.name.len(), 3); // Deref
        assert_eq!(
            s.port,
            Spanned {
                pos: p(2, 7),
                value: 8080
            }
        );
        assert_eq!(s.list[1].pos, p(3, 11));
        assert!(s.opt.is_none());

        // Errors inside a Spanned keep the inner position.
        let e = from_node::<S>(&parse("name: web\nport: x\nlist: []\n").unwrap()).unwrap_err();
        assert_eq!(
            e,
            err(2, 7, "invalid value: expected an integer, found `x`")
        );

        // A whole spanned struct.
        let c: Spanned<Db> = from_node(&parse("\n  url: u\n").unwrap()).unwrap();
        assert_eq!(c.pos, p(2, 3));
        assert_eq!(c.url, "u");
    }

    #[test]
    fn option_fields() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct O {
            a: Option<u32>,
            b: Option<u32>,
            c: Option<String>,
            d: Option<Vec<u32>>,
        }
        let o: O = from_node(&parse("a: 1\nb: ~\nd: [3]\n").unwrap()).unwrap();
        assert_eq!(
            o,
            O {
                a: Some(1),
                b: None,
                c: None,
                d: Some(vec![3])
            }
        );
        let e = from_node::<O>(&parse("a: x\n").unwrap()).unwrap_err();
        assert_eq!(
            e,
            err(1, 4, "invalid value: expected an integer, found `x`")
        );
    }

    #[test]
    fn enums_are_not_read() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        enum Kind {
            Count,
        }
        let e = from_node::<Kind>(&parse("Count").unwrap()).unwrap_err();
        assert_eq!(
            e,
            err(
                1,
                1,
                "`Kind` is an enum, which the config deserializer does not read"
            )
        );
    }

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("db.local".into()),
            "PORT" => Some("5432".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn env_expansion() {
        let mut root = parse(
            "\
url: postgres://${HOST}:${PORT}/x
port: ${PORT}
fallback: ${MISSING:-8080}
empty_default: ${EMPTY:-d}
empty: \"${EMPTY}\"
literal: cost $${HOST} $5
${HOST}: key untouched
",
        )
        .unwrap();
        let errors = root.expand_env(&env);
        assert!(errors.is_empty(), "{errors:?}");
        let text = |k: &str| root.get(k).unwrap().as_str().unwrap().to_string();
        assert_eq!(text("url"), "postgres://db.local:5432/x");
        assert_eq!(text("port"), "5432");
        assert_eq!(text("fallback"), "8080");
        assert_eq!(text("empty_default"), "d");
        assert_eq!(text("empty"), "");
        assert_eq!(text("literal"), "cost ${HOST} $5");
        assert_eq!(text("${HOST}"), "key untouched");
        // A literal-only scalar keeps its style; a substituted one becomes quoted.
        assert_eq!(
            root.get("literal").unwrap().kind,
            NodeKind::Scalar {
                value: "cost ${HOST} $5".into(),
                quoted: false
            }
        );
        let port = root.get("port").unwrap();
        assert_eq!(port.describe(), "a string");
        assert_eq!(from_node::<String>(port).unwrap(), "5432");
        assert_eq!(from_node::<u16>(port).unwrap(), 5432);
    }

    #[test]
    fn env_expansion_errors() {
        let mut root = parse(
            "\
a: ok ${HOST}
list:
  - ${NOPE}
  - fine
b: ${ALSO_NOPE:-x} ${STILL_NOPE}
c: ${unterminated
d: ${}
e: ${BAD-NAME}
",
        )
        .unwrap();
        let errors = root.expand_env(&env);
        assert_eq!(
            errors,
            vec![
                err(
                    3,
                    5,
                    "environment variable `NOPE` is not set (set it, or write ${NOPE:-default})"
                ),
                err(
                    5,
                    4,
                    "environment variable `STILL_NOPE` is not set \
                     (set it, or write ${STILL_NOPE:-default})"
                ),
                err(
                    6,
                    4,
                    "unterminated `${` (missing `}`; write $${ for a literal ${)"
                ),
                err(7, 4, "empty environment variable name in `${}`"),
                err(
                    8,
                    4,
                    "invalid environment variable name `BAD-NAME` in `${BAD-NAME}` \
                     (names are letters, digits and `_`; write ${VAR:-default} for a default)"
                ),
            ]
        );
        // Expansion continued past the errors.
        assert_eq!(root.get("a").unwrap().as_str(), Some("ok db.local"));
        assert_eq!(root.get("b").unwrap().as_str(), Some("x ${STILL_NOPE}"));
    }

    #[test]
    fn collect_goes_on_past_bad_values_and_missing_fields() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Alert {
            sinks: Vec<String>,
            every: Option<u32>,
        }
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Root {
            name: String,
            port: u16,
            ratio: Option<f64>,
            alert: Option<Alert>,
            tags: Option<Vec<u32>>,
        }
        let text = "\
name: [a]
port: 70000
ratio: x
alert: {every: 5, evry: 6}
tags: [1, two]
";
        let errors = from_node_collect::<Root>(&parse(text).unwrap()).unwrap_err();
        assert_eq!(
            errors,
            vec![
                err(1, 7, "invalid type: expected a string, found a list"),
                err(
                    2,
                    7,
                    "invalid value: expected an integer from 0 to 65535, found `70000`"
                ),
                err(3, 8, "invalid value: expected a number, found `x`"),
                err(
                    4,
                    19,
                    "unknown field `evry`, expected one of `sinks`, `every`"
                ),
                err(4, 8, "missing field `sinks`"),
                err(5, 11, "invalid value: expected an integer, found `two`"),
            ]
        );
    }

    #[test]
    fn partial_gives_the_value_without_its_bad_optional_fields() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Own {
            grace: Option<String>,
            size: Option<u32>,
            window: Option<Db>,
        }
        let (own, errors) =
            from_node_partial::<Own>(&parse("grace: 5m\nsize: lots\nwindow: {}\n").unwrap());
        assert_eq!(
            own,
            Some(Own {
                grace: Some("5m".into()),
                size: None,
                window: None
            })
        );
        assert_eq!(
            errors,
            vec![
                err(2, 7, "invalid value: expected an integer, found `lots`"),
                err(3, 9, "missing field `url`"),
            ]
        );
        // A required field cut for its bad value is not also reported missing, and there is
        // no value.
        let (one, errors) = from_node_partial::<Db>(&parse("url: [x]\n").unwrap());
        assert!(one.is_none());
        assert_eq!(
            errors,
            vec![err(1, 6, "invalid type: expected a string, found a list")]
        );
    }

    #[test]
    fn a_node_field_keeps_the_subtree_as_written() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Own {
            columns: Option<Node>,
            name: String,
        }
        let text = "columns:\n  a: {legacy: '1.50', modern: 1.50}\n  b: [x, ~]\nname: n\n";
        let root = parse(text).unwrap();
        let own: Own = from_node_collect(&root).unwrap();
        assert_eq!(own.name, "n");
        assert_eq!(own.columns.as_ref(), root.get("columns"));
        let a = own.columns.as_ref().unwrap().get("a").unwrap();
        assert_eq!(a.pos, p(2, 6));
        assert_eq!(a.get("modern").unwrap().as_str(), Some("1.50"));
        assert_eq!(a.get("modern").unwrap().describe(), "a number");
        assert_eq!(a.get("legacy").unwrap().describe(), "a string");
    }

    #[test]
    fn fields_come_from_the_struct() {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Side {
            table: String,
            #[serde(rename = "where")]
            filter: Option<String>,
        }
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Empty {}
        assert_eq!(fields::<Side>(), ["table", "where"]);
        assert_eq!(fields::<Empty>(), [] as [&str; 0]);
        assert_eq!(fields::<String>(), [] as [&str; 0]);
    }
}
