//! Diagnostics for people: file, line, column, the offending source line, a caret and a hint.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How serious a diagnostic is. Errors exclude the item they belong to; warnings exclude nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something to fix that did not stop evaluation.
    Warning,
    /// The entity, scorecard or rule it names was left out or given an `error` outcome.
    Error,
}

/// What kind of problem a diagnostic reports, for tools that act on it (`kind` in JSON;
/// left out for [`Kind::Other`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Not classified: descriptor, scorecard and configuration problems.
    #[default]
    Other,
    /// The text does not parse.
    Syntax,
    /// Past a length, nesting or depth limit.
    Limit,
    /// A name that does not exist: function, method, namespace, parameter or property.
    Name,
    /// A value or name of the wrong type for where it stands.
    Type,
    /// Arguments that do not fit: their number, names, constancy or values.
    Argument,
    /// A CQL v1 form that v2 does not accept.
    Unsupported,
}

impl Kind {
    fn is_other(&self) -> bool {
        *self == Kind::Other
    }
}

/// One message pointing at a place in a file or expression.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What kind of problem it is.
    #[serde(skip_serializing_if = "Kind::is_other")]
    pub kind: Kind,
    /// The file the message is about, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// 1-based line; 0 when unknown.
    pub line: usize,
    /// 1-based column (in characters); 0 when unknown.
    pub column: usize,
    /// What is wrong, in one sentence.
    pub message: String,
    /// How to fix it ("did you mean ...?"), when we know.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The source line the caret points into.
    #[serde(skip)]
    pub source_line: Option<String>,
    /// How many characters the caret underlines (at least one).
    #[serde(skip)]
    pub width: usize,
    /// The place the hint points at (the `(` a `)` would close), moved with the diagnostic when
    /// it is embedded in a file, so that the hint and the error use the same coordinates.
    #[serde(skip)]
    hint_at: Option<HintAt>,
}

/// A hint that ends with a place: `expected `)` to close the `(` at 14:35`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HintAt {
    text: String,
    line: usize,
    column: usize,
}

impl HintAt {
    fn render(&self) -> String {
        format!("{} at {}:{}", self.text, self.line, self.column)
    }
}

/// Moves a 1-based `(line, column)` of an expression to the coordinates of the file it is
/// embedded in, starting at `at_line:at_column`; lines after the first are shifted right by the
/// indentation of a YAML block scalar when there is one.
fn embed_position(
    (line, column): (usize, usize),
    at_line: usize,
    at_column: usize,
    block_indent: Option<usize>,
) -> (usize, usize) {
    let column = if line <= 1 {
        at_column + column.saturating_sub(1)
    } else {
        column + block_indent.unwrap_or(0)
    };
    (at_line + line.saturating_sub(1), column)
}

impl Diagnostic {
    /// An error with a message and no position yet.
    pub fn error(message: impl Into<String>) -> Self {
        Self::new(Severity::Error, message)
    }

    /// A warning with a message and no position yet.
    pub fn warning(message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, message)
    }

    fn new(severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            kind: Kind::Other,
            file: None,
            line: 0,
            column: 0,
            message: message.into(),
            hint: None,
            source_line: None,
            width: 1,
            hint_at: None,
        }
    }

    /// Names the file.
    pub fn in_file(mut self, file: impl AsRef<Path>) -> Self {
        self.file = Some(file.as_ref().to_path_buf());
        self
    }

    /// Points at a 1-based line and column.
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = line;
        self.column = column;
        self
    }

    /// Points at a byte offset of `source` (line and column computed, source line kept for the caret).
    pub fn at_offset(mut self, source: &str, offset: usize, width: usize) -> Self {
        let (line, column, text) = locate(source, offset);
        self.line = line;
        self.column = column;
        self.source_line = Some(text.to_string());
        self.width = width.max(1);
        self
    }

    /// Keeps the offending source line (for files, where the caller knows the line).
    pub fn with_source_line(mut self, text: impl Into<String>, width: usize) -> Self {
        self.source_line = Some(text.into());
        self.width = width.max(1);
        self
    }

    /// Says what kind of problem it is.
    pub fn with_kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self.hint_at = None;
        self
    }

    /// Adds a hint that ends with a place in the same source as the diagnostic
    /// (`{text} at {line}:{column}`); embedding moves that place too.
    pub fn with_hint_at(mut self, text: impl Into<String>, line: usize, column: usize) -> Self {
        let hint_at = HintAt {
            text: text.into(),
            line,
            column,
        };
        self.hint = Some(hint_at.render());
        self.hint_at = Some(hint_at);
        self
    }

    /// Where it points, as `file:line:column` (or as much of it as is known).
    pub fn place(&self) -> Option<String> {
        match (&self.file, self.line) {
            (Some(file), 0) => Some(file.display().to_string()),
            (Some(file), line) => Some(format!("{}:{line}:{}", file.display(), self.column)),
            (None, 0) => None,
            (None, line) => Some(format!("{line}:{}", self.column)),
        }
    }

    /// The message and its place on one line, `message (at file:line:column)`: how an outcome
    /// names the problem that gave it.
    pub fn one_line(&self) -> String {
        match self.place() {
            Some(place) => format!("{} (at {place})", self.message),
            None => self.message.clone(),
        }
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Shifts the position of a diagnostic made for an expression embedded in a file
    /// (e.g. a rule expression inside a scorecard YAML) to the file's coordinates.
    pub fn embedded_at(self, file: impl AsRef<Path>, line: usize, column: usize) -> Self {
        self.embedded_in(file, line, column, None)
    }

    /// [`embedded_at`](Self::embedded_at) for an expression in a YAML block scalar whose lines
    /// after the first are indented by `block_indent` in the file. The place a hint names moves
    /// the same way.
    pub fn embedded_in(
        mut self,
        file: impl AsRef<Path>,
        line: usize,
        column: usize,
        block_indent: Option<usize>,
    ) -> Self {
        self.file = Some(file.as_ref().to_path_buf());
        (self.line, self.column) =
            embed_position((self.line, self.column), line, column, block_indent);
        if let Some(h) = &mut self.hint_at {
            (h.line, h.column) = embed_position((h.line, h.column), line, column, block_indent);
            self.hint = Some(h.render());
        }
        self
    }
}

/// The candidate closest to `name`, when it is close enough to be a likely typo: the one
/// suggestion rule for every "did you mean ...?" hint (unknown keys, levels, rules, entities,
/// CQL names).
///
/// Distances are optimal string alignment (a transposition counts once) between lowercased
/// spellings, and a candidate is close when it is at most a quarter of its length away (at
/// least 1, at most 3 edits). A candidate spelled exactly like `name` is never suggested: it
/// is the name that failed. On a tie the first candidate wins.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::osa_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 4).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// 1-based line and column (in characters) of a byte offset, and the text of that line.
pub fn locate(source: &str, offset: usize) -> (usize, usize, &str) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    let line = source[..offset].matches('\n').count() + 1;
    let column = source[line_start..offset].chars().count() + 1;
    (
        line,
        column,
        source[line_start..line_end].trim_end_matches('\r'),
    )
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Renders `kind: message`, `--> file:line:col`, the source line, a caret and the hint.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{kind}: {}", self.message)?;
        if let Some(place) = self.place() {
            writeln!(f, "  --> {place}")?;
        }
        if let Some(text) = &self.source_line {
            let number = self.line.to_string();
            let pad = " ".repeat(number.len());
            writeln!(f, "{pad} |")?;
            writeln!(f, "{number} | {text}")?;
            let indent: String = text
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            writeln!(f, "{pad} | {indent}{}", "^".repeat(self.width))?;
        }
        if let Some(hint) = &self.hint {
            writeln!(f, "  = hint: {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_near_and_never_the_name_that_failed() {
        assert_eq!(suggest("codcov", ["codecov", "datadog"]), Some("codecov"));
        assert_eq!(suggest("Hihg", ["Mapped", "High"]), Some("High"));
        assert_eq!(suggest("Payments", ["payments"]), Some("payments"));
        assert_eq!(suggest("xyz", ["codecov"]), None);
        assert_eq!(suggest("lnes", ["lines", "files"]), Some("lines"));
        assert_eq!(suggest("fles", ["lines"]), None);
        assert_eq!(
            suggest("pullRequest", ["codeCoverage", "pullRequest"]),
            None
        );
    }

    #[test]
    fn locates_offsets_in_multiline_source() {
        let src = "a: 1\nbb: [1, 2\nc: 3";
        assert_eq!(locate(src, 0), (1, 1, "a: 1"));
        assert_eq!(locate(src, 9), (2, 5, "bb: [1, 2"));
        assert_eq!(locate(src, src.len()), (3, 5, "c: 3"));
    }

    #[test]
    fn renders_caret_under_the_column() {
        let d = Diagnostic::error("unknown function codecov.codeCoverag")
            .at_offset("codecov.codeCoverag() >= 95", 8, 11)
            .with_hint("did you mean codecov.codeCoverage?");
        let text = d.to_string();
        assert!(text.contains("  --> 1:9\n"), "{text}");
        assert!(text.contains("1 | codecov.codeCoverag() >= 95\n"), "{text}");
        assert!(text.contains("  |         ^^^^^^^^^^^\n"), "{text}");
        assert!(
            text.contains("= hint: did you mean codecov.codeCoverage?"),
            "{text}"
        );
    }

    #[test]
    fn embedded_positions_shift_to_the_file() {
        let d = Diagnostic::error("x").at_offset("a >= ", 5, 1).embedded_at(
            "scorecards/a.yaml",
            12,
            17,
        );
        assert_eq!((d.line, d.column), (12, 22));
    }

    #[test]
    fn a_hint_place_moves_with_its_diagnostic() {
        let d = Diagnostic::error("x")
            .at(1, 23)
            .with_hint_at("expected `)` to close the `(`", 1, 21)
            .embedded_at("bad.yaml", 14, 17);
        assert_eq!((d.line, d.column), (14, 39));
        assert_eq!(
            d.hint.as_deref(),
            Some("expected `)` to close the `(` at 14:37")
        );
        let d = Diagnostic::error("x")
            .at(3, 2)
            .with_hint_at("expected `)` to close the `(`", 2, 5)
            .embedded_in("bad.yaml", 10, 7, Some(6));
        assert_eq!((d.line, d.column), (12, 8));
        assert_eq!(
            d.hint.as_deref(),
            Some("expected `)` to close the `(` at 11:11")
        );
    }
}
