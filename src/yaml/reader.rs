//! Reading typed fields of a [`Node`] tree, with a diagnostic placed at the offending node for
//! every problem. The descriptor reader and the scorecard loader word their own messages and
//! keep their own rules; this is what they share.

use std::path::Path;

use super::Node;
use crate::diag::Diagnostic;

/// Collects the diagnostics of one file while its nodes are read.
pub(crate) struct Reader<'a> {
    /// The path shown in messages.
    pub file: &'a Path,
    /// The file's text, to show the source line and a caret under each message; `None` leaves
    /// that to the caller.
    source: Option<&'a str>,
    /// Errors and warnings so far, in the order found.
    pub diags: Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    /// A reader of `file`; with its `source`, messages show the line and a caret.
    pub fn new(file: &'a Path, source: Option<&'a str>) -> Self {
        Reader {
            file,
            source,
            diags: Vec::new(),
        }
    }

    /// `d` in this file at `node` (when its position is known), with the source line and a caret
    /// under the scalar when the reader has the text.
    pub fn place(&self, d: Diagnostic, node: &Node) -> Diagnostic {
        let d = d.in_file(self.file);
        if node.line == 0 {
            return d;
        }
        let d = d.at(node.line, node.column);
        match self.source.and_then(|s| s.lines().nth(node.line - 1)) {
            Some(text) => {
                let width = node.scalar_text().map_or(1, |t| t.chars().count().min(60));
                d.with_source_line(text.trim_end_matches('\r'), width)
            }
            None => d,
        }
    }

    /// Records an error at `node`; returns its message (for the item it leaves out).
    pub fn error(
        &mut self,
        node: &Node,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> String {
        let message = message.into();
        let mut d = self.place(Diagnostic::error(message.clone()), node);
        d.hint = hint;
        self.diags.push(d);
        message
    }

    /// Records a warning at `node`.
    pub fn warn(&mut self, node: &Node, message: impl Into<String>, hint: Option<String>) {
        let mut d = self.place(Diagnostic::warning(message), node);
        d.hint = hint;
        self.diags.push(d);
    }

    /// `node` as the type `get` takes; any other type is an error at `node`, worded by `wrong`
    /// from the type found ("a list").
    pub fn expect<'n, T>(
        &mut self,
        node: &'n Node,
        get: impl FnOnce(&'n Node) -> Option<T>,
        wrong: impl FnOnce(&str) -> String,
    ) -> Result<T, String> {
        match get(node) {
            Some(v) => Ok(v),
            None => Err(self.error(node, wrong(node.type_name()), None)),
        }
    }

    /// The value under `key` of `map` as the type `get` takes: `None` when it is missing or
    /// null, an error as in [`Reader::expect`] when it has another type.
    pub fn field<'n, T>(
        &mut self,
        map: &'n Node,
        key: &str,
        get: impl FnOnce(&'n Node) -> Option<T>,
        wrong: impl FnOnce(&str) -> String,
    ) -> Result<Option<T>, String> {
        match map.get(key) {
            Some(v) if !v.is_null() => self.expect(v, get, wrong).map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_document;

    #[test]
    fn fields_are_typed_and_problems_placed() {
        let src = "a: text\nb: [1]\nc: ~\n";
        let file = Path::new("r.yaml");
        let doc = parse_document(src, file).unwrap();
        let mut r = Reader::new(file, Some(src));
        let wrong = |found: &str| format!("must be text, not {found}");
        assert_eq!(
            r.field(&doc, "a", Node::scalar_text, wrong),
            Ok(Some("text".into()))
        );
        assert_eq!(r.field(&doc, "c", Node::scalar_text, wrong), Ok(None));
        assert_eq!(r.field(&doc, "z", Node::scalar_text, wrong), Ok(None));
        assert_eq!(
            r.field(&doc, "b", Node::scalar_text, wrong),
            Err("must be text, not a list".into())
        );
        let d = &r.diags[0];
        assert_eq!((d.line, d.column), (2, 4));
        assert_eq!(d.source_line.as_deref(), Some("b: [1]"));
        assert_eq!(d.file.as_deref(), Some(file));

        let mut unplaced = Reader::new(file, None);
        unplaced.warn(&doc, "w", Some("h".into()));
        assert_eq!(unplaced.diags[0].source_line, None);
        assert_eq!(unplaced.diags[0].hint.as_deref(), Some("h"));
    }
}
