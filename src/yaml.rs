//! A YAML (or JSON) document as a tree of nodes that remember their line and column.
//!
//! serde-saphyr has no `Value` type of its own; this tree is ours. Each node is read through
//! [`serde_saphyr::Spanned`] so that every map key and value keeps its position, which the
//! descriptor readers, the mapping and the scorecard loader use to point their messages at
//! the right place ([`Reader`] reads typed fields and places the messages).
//! Scalars are read with YAML 1.2 rules (`strict_booleans`, leading-zero numbers kept as
//! strings), so `no` stays the string `"no"` and `0755` stays `"0755"`.

use std::cell::RefCell;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::diag::Diagnostic;

mod reader;

pub(crate) use reader::Reader;

/// A node of a YAML or JSON document with its 1-based position (0 when unknown).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    /// The value.
    pub value: NodeValue,
    /// 1-based line, 0 when unknown (JSON from an HTTP source).
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
}

/// The value of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in source order (keys that are not strings are rendered as strings).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A node without a position.
    pub fn unplaced(value: NodeValue) -> Node {
        Node {
            value,
            line: 0,
            column: 0,
        }
    }

    /// The scalar as text (strings as they are, numbers and booleans printed), `None` for
    /// null, lists and maps.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            NodeValue::Str(s) => Some(s.clone()),
            NodeValue::Bool(b) => Some(b.to_string()),
            NodeValue::Int(i) => Some(i.to_string()),
            NodeValue::UInt(u) => Some(u.to_string()),
            NodeValue::Float(f) => Some(f.to_string()),
            NodeValue::Null | NodeValue::Seq(_) | NodeValue::Map(_) => None,
        }
    }

    /// The entries, when this is a map.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            NodeValue::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items, when this is a list.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The number, when this is one (integers as the nearest `f64`).
    pub fn as_f64(&self) -> Option<f64> {
        match self.value {
            NodeValue::Int(i) => Some(i as f64),
            NodeValue::UInt(u) => Some(u as f64),
            NodeValue::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self.value {
            NodeValue::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    /// The value under `key`, when this is a map that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value under `key`, when this is a map that has it.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.key_text() == key)
            .map(|(k, v)| (k, v))
    }

    /// The text of a map key.
    pub fn key_text(&self) -> std::borrow::Cow<'_, str> {
        match &self.value {
            NodeValue::Str(s) => std::borrow::Cow::Borrowed(s),
            NodeValue::Null => std::borrow::Cow::Borrowed("null"),
            _ => std::borrow::Cow::Owned(
                self.scalar_text()
                    .unwrap_or_else(|| self.type_name().to_string()),
            ),
        }
    }

    /// A word for the node's type, for messages ("expected a list, found a string").
    pub fn type_name(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) | NodeValue::UInt(_) | NodeValue::Float(_) => "a number",
            NodeValue::Str(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a map",
        }
    }

    /// The node as JSON, with the types YAML gave it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            NodeValue::Null => J::Null,
            NodeValue::Bool(b) => J::Bool(*b),
            NodeValue::Int(i) => J::from(*i),
            NodeValue::UInt(u) => J::from(*u),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            NodeValue::Str(s) => J::String(s.clone()),
            NodeValue::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.key_text().into_owned(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

impl Node {
    /// A node tree (without positions) from JSON, for entities read over HTTP.
    pub fn from_json(value: &serde_json::Value) -> Node {
        use serde_json::Value as J;
        Node::unplaced(match value {
            J::Null => NodeValue::Null,
            J::Bool(b) => NodeValue::Bool(*b),
            J::Number(n) => {
                if let Some(i) = n.as_i64() {
                    NodeValue::Int(i)
                } else if let Some(u) = n.as_u64() {
                    NodeValue::UInt(u)
                } else {
                    NodeValue::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            J::String(s) => NodeValue::Str(s.clone()),
            J::Array(items) => NodeValue::Seq(items.iter().map(Node::from_json).collect()),
            J::Object(map) => NodeValue::Map(
                map.iter()
                    .map(|(k, v)| {
                        (
                            Node::unplaced(NodeValue::Str(k.clone())),
                            Node::from_json(v),
                        )
                    })
                    .collect(),
            ),
        })
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<NodeValue>::deserialize(deserializer)?;
        let loc = spanned.referenced;
        let node = Node {
            value: spanned.value,
            line: usize::try_from(loc.line()).unwrap_or(0),
            column: usize::try_from(loc.column()).unwrap_or(0),
        };
        SERDE_BUDGET
            .with_borrow_mut(|b| b.charge(&node))
            .map_err(|e| de::Error::custom(&e.message))?;
        Ok(node)
    }
}

/// Most nodes one file may expand to, aliases included (serde-saphyr's own cap on the nodes
/// written in a file).
const MAX_NODES: usize = 250_000;

/// Most bytes of string text one file may expand to, aliases included (a descriptor is at
/// most 8 MiB, and text is at most 1.5 times its escaped spelling).
const MAX_TEXT_BYTES: usize = 32 * 1024 * 1024;

/// Deepest nesting of lists and maps (serde-saphyr's default), so that the recursive walks
/// over a tree stay far from the end of the stack.
const MAX_DEPTH: usize = 64;

/// What a file has expanded to so far. An alias repeats its anchor without the text being
/// written again, so without a budget a small file can ask for gigabytes (a "YAML bomb").
#[derive(Debug, Default)]
struct Budget {
    nodes: usize,
    bytes: usize,
    /// Set once the budget is spent.
    exceeded: Option<Exceeded>,
}

/// Where and how a file went over its [`Budget`].
#[derive(Clone, Debug)]
struct Exceeded {
    message: String,
    line: usize,
    column: usize,
}

impl Exceeded {
    fn at(message: String, line: usize, column: usize) -> Exceeded {
        Exceeded {
            message,
            line,
            column,
        }
    }

    /// The error on `file`.
    fn diagnostic(&self, file: &Path) -> Diagnostic {
        let mut d = Diagnostic::error(format!("YAML too large: {}; not loaded", self.message))
            .in_file(file)
            .with_hint(
                "aliases repeating a large anchor many times (a YAML bomb) are refused; \
                 write repeated values out or split the file",
            );
        if self.line > 0 {
            d = d.at(self.line, self.column);
        }
        d
    }
}

impl Budget {
    /// Charges one finished node (its string text, when it is a string).
    fn charge(&mut self, node: &Node) -> Result<(), Exceeded> {
        self.nodes += 1;
        if let NodeValue::Str(s) = &node.value {
            self.bytes += s.len();
        }
        let message = if self.nodes > MAX_NODES {
            format!("it expands to more than {MAX_NODES} nodes, aliases included")
        } else if self.bytes > MAX_TEXT_BYTES {
            format!(
                "it expands to more than {} MiB of text, aliases included",
                MAX_TEXT_BYTES / (1024 * 1024)
            )
        } else {
            return Ok(());
        };
        let e = Exceeded::at(message, node.line, node.column);
        self.exceeded = Some(e.clone());
        Err(e)
    }
}

thread_local! {
    /// The budget of the file serde-saphyr is reading on this thread: serde gives
    /// `Node::deserialize` no other way to share state across the nodes of one file.
    static SERDE_BUDGET: RefCell<Budget> = RefCell::default();
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(d)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<NodeValue, E> {
        Ok(i64::try_from(v).map_or(NodeValue::UInt(v), NodeValue::Int))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<NodeValue, E> {
        Ok(i64::try_from(v).map_or(NodeValue::Float(v as f64), NodeValue::Int))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<NodeValue, E> {
        Ok(u64::try_from(v).map_or(NodeValue::Float(v as f64), NodeValue::UInt))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<NodeValue, E> {
        Ok(NodeValue::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<NodeValue, E> {
        Ok(NodeValue::Str(String::from_utf8_lossy(v).into_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(NodeValue::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1024));
        while let Some(key) = map.next_key::<Node>()? {
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(NodeValue::Map(entries))
    }
}

fn options() -> serde_saphyr::Options {
    let mut opt = serde_saphyr::Options::default();
    opt.strict_booleans = true;
    opt.leading_zero_numbers_as_strings = true;
    opt.with_snippet = false;
    let mut budget = opt.budget.take().unwrap_or_default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_NODES;
    opt.budget = Some(budget);
    opt
}

/// Every non-null document through serde-saphyr, with a fresh [`Budget`]; on failure, the
/// error on `file` (the budget's breach when that is what stopped it).
fn serde_parse(source: &str, file: &Path) -> Result<Vec<Node>, Box<Diagnostic>> {
    SERDE_BUDGET.set(Budget::default());
    let docs = serde_saphyr::from_multiple_with_options::<Node>(source, options());
    let exceeded = SERDE_BUDGET.take().exceeded;
    match (docs, exceeded) {
        (Ok(docs), _) => Ok(docs.into_iter().filter(|d| !d.is_null()).collect()),
        (Err(_), Some(x)) => Err(Box::new(x.diagnostic(file))),
        (Err(e), None) => Err(Box::new(yaml_error(source, file, &e))),
    }
}

/// Parses every document of a YAML file (empty and null documents are skipped).
/// A syntax error is one error diagnostic naming `file`, line, column and the offending line;
/// so is a file expanding past its budget (nodes and text, aliases included, and depth).
///
/// The common case goes through the parser's event stream directly ([`fast`]); anything it does
/// not handle (errors, duplicate keys, merge keys, anchored collections, unusual tags) goes
/// through serde-saphyr, which gives the same tree or the error message. Both keep to the
/// same budget.
pub(crate) fn parse_documents(source: &str, file: &Path) -> Result<Vec<Node>, Box<Diagnostic>> {
    match fast::parse(source) {
        Ok(Some(docs)) => Ok(docs),
        Ok(None) => serde_parse(source, file),
        Err(x) => Err(Box::new(x.diagnostic(file))),
    }
}

/// Parses a file that holds one YAML document (a null node when it is empty); a second
/// document is an error at its start, like a syntax error.
pub(crate) fn parse_document(source: &str, file: &Path) -> Result<Node, Box<Diagnostic>> {
    let mut docs = parse_documents(source, file)?.into_iter();
    let first = docs.next().unwrap_or(Node::unplaced(NodeValue::Null));
    match docs.next() {
        None => Ok(first),
        Some(second) => Err(Box::new(
            Diagnostic::error("malformed YAML: more than one document in the file")
                .in_file(file)
                .at(second.line, second.column)
                .with_hint("keep one document per file, without a second `---`"),
        )),
    }
}

mod fast {
    //! A positioned tree straight from granit-parser's events, without serde in between.
    //! Scalars are resolved with the YAML 1.2 core schema, as the serde-saphyr options above
    //! do (`no` and `0755` stay strings). Returns `None` for anything it leaves to serde-saphyr.

    use std::collections::{HashMap, HashSet};

    use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span};

    use super::{Budget, Exceeded, MAX_DEPTH, Node, NodeValue};

    /// Up to this many entries, duplicate keys are found by scanning the map.
    const SCAN_KEYS: usize = 16;

    enum Frame {
        Seq(Node, Vec<Node>),
        Map(Node, Vec<(Node, Node)>, Option<Node>, HashSet<String>),
    }

    fn placed(value: NodeValue, span: &Span) -> Node {
        Node {
            value,
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }

    /// The documents, `Ok(None)` to leave the file to serde-saphyr, or the breach of the
    /// file's budget.
    pub(super) fn parse(source: &str) -> Result<Option<Vec<Node>>, Exceeded> {
        let mut budget = Budget::default();
        let docs = walk(source, &mut budget);
        match budget.exceeded {
            Some(e) => Err(e),
            None => Ok(docs),
        }
    }

    /// The tree, or `None` to fall back (also when `budget` runs out: it records where).
    fn walk(source: &str, budget: &mut Budget) -> Option<Vec<Node>> {
        let mut docs = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        // Only scalars are anchored here (anchored collections fall back), so an alias costs
        // one node and its text.
        let mut anchors: HashMap<usize, Node> = HashMap::new();
        let deeper = |stack: &[Frame], budget: &mut Budget, span: &Span| {
            if stack.len() < MAX_DEPTH {
                return true;
            }
            budget.exceeded = Some(Exceeded::at(
                format!("lists and maps nest more than {MAX_DEPTH} levels deep"),
                span.start.line(),
                span.start.col() + 1,
            ));
            false
        };
        for item in Parser::new_from_str(source) {
            let (event, span) = item.ok()?;
            let (node, anchor) = match event {
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => continue,
                Event::DocumentStart(..) => {
                    anchors.clear();
                    continue;
                }
                Event::Scalar(value, style, anchor, tag) => {
                    let tag = tag
                        .as_ref()
                        .map(|t| (t.handle().to_string(), t.suffix().to_string()));
                    (placed(resolve(&value, style, tag)?, &span), anchor)
                }
                Event::SequenceStart(_, anchor, tag) => {
                    if tag.is_some() || !deeper(&stack, budget, &span) {
                        return None;
                    }
                    stack.push(Frame::Seq(placed(NodeValue::Null, &span), Vec::new()));
                    if anchor != 0 {
                        return None; // anchored collections: left to serde-saphyr
                    }
                    continue;
                }
                Event::MappingStart(_, anchor, tag) => {
                    if tag.is_some() || anchor != 0 || !deeper(&stack, budget, &span) {
                        return None;
                    }
                    stack.push(Frame::Map(
                        placed(NodeValue::Null, &span),
                        Vec::new(),
                        None,
                        HashSet::new(),
                    ));
                    continue;
                }
                Event::SequenceEnd => match stack.pop()? {
                    Frame::Seq(mut n, items) => {
                        n.value = NodeValue::Seq(items);
                        (n, 0)
                    }
                    Frame::Map(..) => return None,
                },
                Event::MappingEnd => match stack.pop()? {
                    Frame::Map(mut n, entries, None, _) => {
                        n.value = NodeValue::Map(entries);
                        (n, 0)
                    }
                    _ => return None,
                },
                Event::Alias(id) => {
                    let mut n = anchors.get(&id)?.clone();
                    n.line = span.start.line();
                    n.column = span.start.col() + 1;
                    (n, 0)
                }
                // Comments and anchor metadata are presentation, not nodes.
                _ => continue,
            };
            budget.charge(&node).ok()?;
            if anchor != 0 {
                anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                None => {
                    if !node.is_null() {
                        docs.push(node);
                    }
                }
                Some(Frame::Seq(_, items)) => items.push(node),
                Some(Frame::Map(_, entries, pending, keys)) => match pending.take() {
                    None => {
                        if matches!(node.value, NodeValue::Seq(_) | NodeValue::Map(_)) {
                            return None;
                        }
                        let text = node.key_text();
                        // Merge keys and duplicate keys: serde-saphyr decides. Small maps are
                        // checked by a scan; a set takes over past `SCAN_KEYS` entries.
                        let duplicate = if entries.len() < SCAN_KEYS {
                            entries.iter().any(|(k, _)| k.key_text() == text)
                        } else {
                            if keys.is_empty() {
                                keys.extend(entries.iter().map(|(k, _)| k.key_text().into_owned()));
                            }
                            !keys.insert(text.clone().into_owned())
                        };
                        if text == "<<" || duplicate {
                            return None;
                        }
                        *pending = Some(node);
                    }
                    Some(key) => entries.push((key, node)),
                },
            }
        }
        stack.is_empty().then_some(docs)
    }

    /// YAML 1.2 core schema resolution of one scalar.
    fn resolve(
        value: &str,
        style: ScalarStyle,
        tag: Option<(String, String)>,
    ) -> Option<NodeValue> {
        if let Some((handle, suffix)) = &tag {
            if handle != "tag:yaml.org,2002:" {
                return None;
            }
            return match suffix.as_str() {
                "str" => Some(NodeValue::Str(value.to_string())),
                _ => None,
            };
        }
        if style != ScalarStyle::Plain {
            return Some(NodeValue::Str(value.to_string()));
        }
        Some(match value {
            "" | "~" | "null" | "Null" | "NULL" => NodeValue::Null,
            "true" | "True" | "TRUE" => NodeValue::Bool(true),
            "false" | "False" | "FALSE" => NodeValue::Bool(false),
            // Non-finite floats: serde-saphyr's policy decides.
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf"
            | "-.INF" | ".nan" | ".NaN" | ".NAN" => return None,
            _ => number(value)?,
        })
    }

    /// A number, a string, or `None` for spellings left to serde-saphyr (`0x1F`, `0o17`, `1_000`).
    fn number(v: &str) -> Option<NodeValue> {
        let first = v.as_bytes()[0];
        if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
            return Some(NodeValue::Str(v.to_string()));
        }
        let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
        if digits.is_empty() {
            return Some(NodeValue::Str(v.to_string()));
        }
        if digits.bytes().all(|b| b.is_ascii_digit()) {
            if digits.len() > 1 && digits.starts_with('0') {
                return Some(NodeValue::Str(v.to_string())); // leading zero: kept as written
            }
            return Some(match v.parse::<i64>() {
                Ok(i) => NodeValue::Int(i),
                Err(_) => match v.parse::<u64>() {
                    Ok(u) => NodeValue::UInt(u),
                    Err(_) => NodeValue::Float(v.parse().ok()?),
                },
            });
        }
        if digits
            .bytes()
            .any(|b| b == b'_' || b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E'))
        {
            // Hex, octal, underscores: rare in descriptors; serde-saphyr's rules apply.
            return digits
                .bytes()
                .any(|b| b == b'_' || b == b'x' || b == b'o')
                .then_some(())
                .map_or(Some(NodeValue::Str(v.to_string())), |()| None);
        }
        let float_like = {
            let (mantissa, exp) = match digits.find(['e', 'E']) {
                Some(i) => (&digits[..i], Some(&digits[i + 1..])),
                None => (digits, None),
            };
            let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
            let mantissa_ok = (!int.is_empty() || !frac.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && (mantissa.contains('.') || exp.is_some());
            let exp_ok = exp.is_none_or(|e| {
                let e = e.strip_prefix(['-', '+']).unwrap_or(e);
                !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
            });
            mantissa_ok && exp_ok
        };
        if float_like {
            return v.parse::<f64>().ok().map(NodeValue::Float);
        }
        Some(NodeValue::Str(v.to_string()))
    }
}

fn yaml_error(source: &str, file: &Path, e: &serde_saphyr::Error) -> Diagnostic {
    let inner = e.without_snippet();
    let mut message = inner.to_string();
    // The crate prefixes "line L column C: " itself; the diagnostic carries the position.
    if let Some(rest) = message.strip_prefix("line ")
        && let Some(idx) = rest.find(": ")
        && rest[..idx].contains("column")
    {
        message = rest[idx + 2..].to_string();
    }
    if let Some(idx) = message.rfind(" at line ")
        && message[idx..].contains("column")
    {
        message.truncate(idx);
    }
    let message = format!("malformed YAML: {}", message.trim());
    let mut d = Diagnostic::error(message).in_file(file);
    if let Some(loc) = inner.location() {
        let line = usize::try_from(loc.line()).unwrap_or(0);
        let column = usize::try_from(loc.column()).unwrap_or(0);
        d = d.at(line, column);
        if let Some(text) = source
            .lines()
            .nth(line.saturating_sub(1))
            .filter(|_| line > 0)
        {
            d = d.with_source_line(text.trim_end_matches('\r'), 1);
        }
    }
    d.with_hint("check the indentation and the `key: value` syntax around this line")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Vec<Node> {
        parse_documents(src, Path::new("t.yaml")).unwrap()
    }

    #[test]
    fn nodes_keep_positions_and_types() {
        let docs = parse("# c\na: 1\nb:\n  - no\n  - 0755\n  - true\n  - 2.5\nc: ~\n");
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(d.line, 2);
        let (k, v) = d.entry("b").unwrap();
        assert_eq!((k.line, k.column), (3, 1));
        let items = v.as_seq().unwrap();
        assert_eq!(items[0].scalar_text().as_deref(), Some("no"));
        assert_eq!(items[1].scalar_text().as_deref(), Some("0755"));
        assert_eq!(items[2].value, NodeValue::Bool(true));
        assert_eq!(items[3].value, NodeValue::Float(2.5));
        assert_eq!((items[0].line, items[0].column), (4, 5));
        assert!(d.get("c").unwrap().is_null());
        assert_eq!(d.get("a").unwrap().value, NodeValue::Int(1));
        assert_eq!(
            d.to_json(),
            serde_json::json!({"a": 1, "b": ["no", "0755", true, 2.5], "c": null})
        );
    }

    #[test]
    fn multi_document_lines_count_from_the_file_start() {
        let docs = parse("a: 1\n---\n---\nb: 2\n---\n# only a comment\n");
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].get("b").unwrap().line, 4);
    }

    #[test]
    fn syntax_errors_name_file_line_column_and_line() {
        let err = parse_documents("a: 1\nb: [1, 2\nc: 3\n", Path::new("x/bad.yaml")).unwrap_err();
        assert!(err.is_error());
        assert_eq!(err.file.as_deref(), Some(Path::new("x/bad.yaml")));
        assert!(err.line >= 2, "{err}");
        assert!(err.column >= 1, "{err}");
        assert!(err.source_line.is_some(), "{err}");
        assert!(err.message.starts_with("malformed YAML: "), "{err}");
        assert!(!err.message.contains("line "), "{err}");
    }

    #[test]
    fn one_document_files() {
        let file = Path::new("one.yaml");
        assert!(parse_document("# nothing\n", file).unwrap().is_null());
        let doc = parse_document("a: 1\n", file).unwrap();
        assert_eq!(doc.get("a").and_then(Node::as_f64), Some(1.0));
        let err = parse_document("a: 1\n---\nb: 2\n", file).unwrap_err();
        assert_eq!((err.line, err.column), (3, 1), "{err}");
        assert!(err.message.starts_with("malformed YAML: "), "{err}");
    }

    #[test]
    fn json_round_trips_through_nodes() {
        let v = serde_json::json!({"a": [1, -2, 2.5, "x", null, true, {"b": {}}], "big": 18446744073709551615u64});
        assert_eq!(Node::from_json(&v).to_json(), v);
    }

    /// The fast path and serde-saphyr agree on every scalar and every position.
    #[test]
    fn fast_path_matches_serde_saphyr() {
        let src = "# c\na: 1\nb:\n  - no\n  - 0755\n  - true\n  - 2.5\n  - -3\n  - +4\n  - 1e3\n  - .5\n  - 'q'\n  - \"d\"\n  - |\n    block\n  - ~\n  - null\n  - 1.2.3\n  - -\n  - 18446744073709551615\n  - 3.\n  - yes\n  - !!str 12\nc: ~\nd: {x: [1, {y: z}], \"k k\": v}\n---\n---\n- &a x\n- *a\n";
        let fast = fast::parse(src).unwrap().expect("fast path handles this");
        let slow = serde_parse(src, Path::new("t.yaml")).unwrap();
        assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
    }

    #[test]
    fn fast_path_leaves_hard_cases_to_serde_saphyr() {
        for src in [
            "a: 1\na: 2\n",
            "base: &b {x: 1}\nm:\n  <<: *b\n",
            "a: [1\n",
            "a: 0x1F\n",
            "a: !custom x\n",
            "a: .inf\n",
        ] {
            assert!(fast::parse(src).unwrap().is_none(), "{src}");
        }
    }

    /// A 1 MiB anchor repeated 3,000 times: each alias would copy it.
    fn alias_bomb(extra: &str) -> String {
        let mut src = format!("{extra}big: &big {}\nlist:\n", "x".repeat(1 << 20));
        src.push_str(&"  - *big\n".repeat(3_000));
        src
    }

    fn too_large(src: &str) -> Box<Diagnostic> {
        let err = parse_documents(src, Path::new("bomb.yaml")).unwrap_err();
        assert!(err.is_error());
        assert_eq!(err.file.as_deref(), Some(Path::new("bomb.yaml")));
        assert!(err.message.starts_with("YAML too large: "), "{err}");
        assert!(err.line > 0 && err.column > 0, "{err}");
        err
    }

    #[test]
    fn alias_bombs_are_errors_in_the_fast_path() {
        assert!(fast::parse(&alias_bomb("")).is_err());
        let err = too_large(&alias_bomb(""));
        assert!(err.message.contains("MiB of text"), "{err}");
        // Stopped at the alias that went over: the anchor, the keys and 31 copies pass 32 MiB;
        // the first alias is on line 3.
        assert_eq!((err.line, err.column), (3 + 30, 5), "{err}");
    }

    #[test]
    fn alias_bombs_are_errors_in_the_serde_saphyr_path() {
        // An anchored map sends the file to serde-saphyr; the tiny anchors keep it under
        // serde-saphyr's own alias-to-anchor ratio, so the byte budget is what stops it.
        let tiny: String = (0..400).map(|i| format!("t{i}: &t{i} x\n")).collect();
        let src = alias_bomb(&format!("m: &m {{k: v}}\n{tiny}"));
        assert!(fast::parse(&src).unwrap().is_none());
        let err = too_large(&src);
        assert!(err.message.contains("MiB of text"), "{err}");
    }

    #[test]
    fn nested_alias_bombs_are_errors() {
        // Billion laughs: each level repeats the one before ten times.
        let mut src = String::from("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..9 {
            let refs = vec![format!("*l{}", i - 1); 10].join(", ");
            src.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
        }
        let err = parse_documents(&src, Path::new("laughs.yaml")).unwrap_err();
        assert!(err.is_error() && err.line > 0, "{err}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = |n: usize| format!("a: {}x{}\n", "[".repeat(n), "]".repeat(n));
        assert_eq!(parse(&deep(60))[0].get("a").unwrap().type_name(), "a list");
        let err = too_large(&deep(200));
        assert!(err.message.contains("more than 64 levels deep"), "{err}");
        for src in [
            deep(100_000),
            format!("{}x\n", "- ".repeat(100_000)),
            "a:\n".to_string()
                + &(1..5_000)
                    .map(|i| format!("{}k: \n", " ".repeat(i)))
                    .collect::<String>(),
        ] {
            let err = parse_documents(&src, Path::new("deep.yaml")).unwrap_err();
            assert!(err.is_error(), "{err}");
        }
    }

    proptest::proptest! {
        /// Whenever the fast path answers, it answers what serde-saphyr answers.
        #[test]
        fn fast_path_agrees_on_any_scalar(v in "[-+0-9.eE_xoa-z~ ]{1,10}") {
            let src = format!("k: {v}\nl:\n  - {v}\n");
            if let Some(fast) = fast::parse(&src).unwrap() {
                let slow = serde_parse(&src, Path::new("t.yaml")).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{src:?}: fast ok, serde-saphyr: {e}")))?;
                proptest::prop_assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{:?}", src);
            }
        }
    }
}
