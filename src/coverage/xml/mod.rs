//! The XML formats, read with quick-xml's pull parser: one event at a time, so memory does not
//! grow with the report. Each format is a small state machine over [`Xml`]'s events.

mod clover;
mod cobertura;
mod dotcover;
mod jacoco;
mod opencover;
mod phpunit;

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};

use super::input::Input;
use super::{Format, Limits, ParseError, Report};

/// Reads an XML report in `format`.
pub fn parse(format: Format, input: &mut Input<'_>, limits: &Limits) -> Result<Report, ParseError> {
    let mut xml = Xml::new(format, input);
    match format {
        Format::Cobertura => cobertura::parse(&mut xml, limits),
        Format::Jacoco => jacoco::parse(&mut xml, limits),
        Format::Clover => clover::parse(&mut xml, limits),
        Format::Opencover => opencover::parse(&mut xml, limits),
        Format::Dotcover => dotcover::parse(&mut xml, limits),
        Format::Phpunit => phpunit::parse(&mut xml, limits),
        Format::Lcov | Format::Go | Format::Codacy | Format::Simplecov => Err(ParseError::new(
            Some(format),
            format!("{format} is not an XML format"),
        )),
    }
}

/// A pull parser over a report's bytes that knows its place (line and byte offset) for errors,
/// and whether the document ended before its root element closed.
pub struct Xml<'i, 'a> {
    reader: quick_xml::Reader<&'i mut Input<'a>>,
    format: Format,
}

/// One event, borrowed from the parser's buffer for the time of one visit: what the format
/// parsers match on.
pub enum Node<'b> {
    /// `<name ...>`, or `<name .../>` (`empty`, which has no matching close).
    Open {
        /// The element.
        element: &'b BytesStart<'b>,
        /// Whether it closes itself.
        empty: bool,
    },
    /// `</name>`: its local name.
    Close(&'b str),
    /// Text inside an element (trimmed; entity references are not expanded).
    Text(Cow<'b, str>),
}

impl<'i, 'a> Xml<'i, 'a> {
    fn new(format: Format, input: &'i mut Input<'a>) -> Self {
        let mut reader = quick_xml::Reader::from_reader(input);
        let config = reader.config_mut();
        config.trim_text(true);
        config.check_end_names = true;
        Xml { reader, format }
    }

    /// An error at `offset`, on the line read so far.
    fn error_at(&self, offset: u64, message: impl Into<String>) -> ParseError {
        ParseError {
            format: Some(self.format),
            line: Some(self.reader.get_ref().line()),
            offset: Some(offset),
            message: message.into(),
        }
    }

    /// Calls `visit` with every element, end tag and text of the document, in order (comments,
    /// declarations and the doctype are skipped); an error from `visit` is placed at the event
    /// that caused it. A document that ends with elements still open is an error (a truncated
    /// upload), as is one without a root element.
    pub fn walk(
        &mut self,
        mut visit: impl FnMut(Node<'_>) -> Result<(), String>,
    ) -> Result<(), ParseError> {
        let mut buf = Vec::with_capacity(4096);
        let mut depth = 0usize;
        let mut root: Option<String> = None;
        loop {
            buf.clear();
            let before = self.reader.buffer_position();
            let event = match self.reader.read_event_into(&mut buf) {
                Ok(event) => event,
                Err(e) => {
                    let offset = self.reader.error_position();
                    return Err(self.error_at(offset, format!("not well-formed XML: {e}")));
                }
            };
            let visited = match &event {
                Event::Start(e) => {
                    depth += 1;
                    if root.is_none() {
                        root = Some(e.local_name().as_ref().to_string());
                    }
                    visit(Node::Open {
                        element: e,
                        empty: false,
                    })
                }
                Event::Empty(e) => {
                    if root.is_none() {
                        root = Some(e.local_name().as_ref().to_string());
                    }
                    visit(Node::Open {
                        element: e,
                        empty: true,
                    })
                }
                Event::End(e) => {
                    depth = depth.saturating_sub(1);
                    visit(Node::Close(e.local_name().into_inner()))
                }
                Event::Text(t) => visit(Node::Text(
                    t.xml_content(quick_xml::XmlVersion::Implicit1_0),
                )),
                Event::Eof => {
                    return match (&root, depth) {
                        (None, _) => Err(self.error_at(before, "the report has no root element")),
                        (Some(root), 1..) => Err(self.error_at(
                            before,
                            format!(
                                "the report ends inside <{root}> (its end tag is missing): is it truncated?"
                            ),
                        )),
                        _ => Ok(()),
                    };
                }
                _ => Ok(()),
            };
            drop(event);
            if let Err(message) = visited {
                return Err(self.error_at(before, message));
            }
        }
    }
}

/// The value of attribute `name` of `element`, unescaped; `None` when absent.
pub fn attr<'e>(element: &'e BytesStart<'_>, name: &str) -> Result<Option<Cow<'e, str>>, String> {
    for a in element.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        if a.key.local_name().as_ref() == name {
            return a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(Some)
                .map_err(|e| format!("bad attribute {}: {e}", name));
        }
    }
    Ok(None)
}

/// Attribute `name` as a count (saturated to 32 bits; negative counts as 0); an error names the
/// element and the attribute when it is missing or not a number.
pub fn count(element: &BytesStart<'_>, name: &str) -> Result<u32, String> {
    optional_count(element, name)?.ok_or_else(|| missing(element, name))
}

/// Attribute `name` as a count, `None` when absent; an error names the element and the
/// attribute when it is not a number.
pub fn optional_count(element: &BytesStart<'_>, name: &str) -> Result<Option<u32>, String> {
    let Some(text) = attr(element, name)? else {
        return Ok(None);
    };
    parse_count(&text).map(Some).ok_or_else(|| {
        format!(
            "<{}> {}={text:?} is not a number",
            element.local_name().as_ref(),
            name
        )
    })
}

/// A branch count as a line record holds it (saturated to 16 bits).
pub fn branch_count(n: u32) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// The most lines one statement may span ([`span`]).
pub const MAX_SPAN: u32 = 100_000;

/// The lines `start..=end` a statement of `element` covers: just `start` when `end` is before
/// it (as Codecov reads such spans); an error past [`MAX_SPAN`] lines, which no source has.
pub fn span(
    element: &BytesStart<'_>,
    start: u32,
    end: u32,
) -> Result<std::ops::RangeInclusive<u32>, String> {
    if end.saturating_sub(start) >= MAX_SPAN {
        return Err(format!(
            "<{}> spans lines {start} to {end}, more than {MAX_SPAN} lines",
            element.local_name().as_ref()
        ));
    }
    Ok(start..=end.max(start))
}

/// A count: an integer (saturated; negative is 0) or a decimal number.
pub fn parse_count(text: &str) -> Option<u32> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Some(u32::try_from(n).unwrap_or(u32::MAX));
    }
    let n: f64 = text.parse().ok()?;
    n.is_finite()
        .then(|| n.clamp(0.0, f64::from(u32::MAX)) as u32)
}

/// Attribute `name`, which must be there.
pub fn required<'e>(element: &'e BytesStart<'_>, name: &str) -> Result<Cow<'e, str>, String> {
    attr(element, name)?.ok_or_else(|| missing(element, name))
}

fn missing(element: &BytesStart<'_>, name: &str) -> String {
    format!(
        "<{}> has no {} attribute",
        element.local_name().as_ref(),
        name
    )
}
