//! A YAML tree that keeps the line and column of every node and key, so scorecard errors point
//! at the exact place in the file.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::diag::Diagnostic;

/// One YAML node and where it starts (1-based line and column; 0 when unknown).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: NodeValue,
    /// 1-based line of the node.
    pub line: usize,
    /// 1-based column of the node.
    pub column: usize,
}

/// The value of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub enum NodeValue {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any number.
    Number(f64),
    /// A string (plain, quoted or block).
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping; keys keep their own positions, in file order.
    Map(Vec<(Node, Node)>),
}

impl NodeValue {
    /// The kind of value as messages name it.
    pub fn kind(&self) -> &'static str {
        match self {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Number(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }
}

impl Node {
    /// The node as a map, if it is one.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The text of a scalar key or value: strings as they are, numbers and booleans printed.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.value {
            NodeValue::String(s) => Some(s.clone()),
            NodeValue::Number(n) => Some(number_text(*n)),
            NodeValue::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// The value under `key` in a map node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.scalar_text().as_deref() == Some(key))
            .map(|(_, v)| v)
    }
}

/// Prints a number the way YAML wrote it (`2`, not `2.0`).
pub fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

fn spanned(s: Spanned<NodeValue>) -> Node {
    Node {
        value: s.value,
        line: s.referenced.line() as usize,
        column: s.referenced.column() as usize,
    }
}

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }

    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(v as f64))
    }

    fn visit_u64<E>(self, v: u64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(v as f64))
    }

    fn visit_i128<E>(self, v: i128) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(v as f64))
    }

    fn visit_u128<E>(self, v: u128) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<NodeValue, E> {
        Ok(NodeValue::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<NodeValue>>()? {
            items.push(spanned(item));
        }
        Ok(NodeValue::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<NodeValue>>()? {
            let value = map.next_value::<Spanned<NodeValue>>()?;
            entries.push((spanned(key), spanned(value)));
        }
        Ok(NodeValue::Map(entries))
    }
}

/// Parses one YAML document into a [`Node`] tree; a syntax error is a diagnostic with the
/// file, line, column and the offending line.
pub fn parse(src: &str, file: &std::path::Path) -> Result<Node, Box<Diagnostic>> {
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Spanned<NodeValue>>(src, options) {
        Ok(node) => Ok(spanned(node)),
        Err(e) => {
            let mut message = e.without_snippet().to_string();
            let mut d = Diagnostic::error("");
            if let Some(loc) = e.location() {
                let (line, column) = (loc.line() as usize, loc.column() as usize);
                // The message repeats the position; it is shown by the diagnostic already.
                for noise in [
                    format!("line {line} column {column}: "),
                    format!(" at line {line}, column {column}"),
                ] {
                    message = message.replace(&noise, "");
                }
                d = d.at(line, column);
                if let Some(text) = src.lines().nth(line.saturating_sub(1)) {
                    d = d.with_source_line(text, 1);
                }
            }
            d.message = format!("malformed YAML: {message}");
            Err(Box::new(d.in_file(file)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let src =
            "tag: a\nrules:\n  - title: x\n    expression: 'codecov != null'\n    weight: 2\n";
        let root = parse(src, Path::new("a.yaml")).unwrap();
        let rules = root.get("rules").unwrap();
        let NodeValue::Seq(items) = &rules.value else {
            panic!("{rules:?}")
        };
        let expr = items[0].get("expression").unwrap();
        assert_eq!(expr.value, NodeValue::String("codecov != null".into()));
        assert_eq!(expr.line, 4);
        assert_eq!(expr.column, 17);
        assert_eq!(
            items[0].get("weight").unwrap().value,
            NodeValue::Number(2.0)
        );
        let (key, _) = &root.as_map().unwrap()[1];
        assert_eq!((key.line, key.column), (2, 1));
    }

    #[test]
    fn yaml_1_1_words_stay_strings() {
        let root = parse("a: no\nb: 0755\n", Path::new("a.yaml")).unwrap();
        assert_eq!(root.get("a").unwrap().value, NodeValue::String("no".into()));
        assert_eq!(
            root.get("b").unwrap().scalar_text().as_deref(),
            Some("0755")
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let d = parse("tag: a\nrules: [1, 2\nname: b\n", Path::new("s.yaml")).unwrap_err();
        assert!(d.line >= 2, "{d}");
        assert!(d.column > 0, "{d}");
        assert!(d.message.starts_with("malformed YAML: "), "{d}");
        assert!(!d.message.contains("line "), "{d}");
    }
}
