//! The XML formats, read with quick-xml's pull parser: one event at a time, so memory does not
//! grow with the report. Each format is a small state machine over [`Xml`]'s events.

mod clover;
mod cobertura;
mod dotcover;
mod jacoco;
mod opencover;
mod phpunit;

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};

use super::input::Input;
use super::report::ReportBuilder;
use super::{Format, Limits, ParseError};

/// Reads an XML report in `format`.
pub fn parse(
    format: Format,
    input: &mut Input<'_>,
    limits: &Limits,
) -> Result<ReportBuilder, ParseError> {
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
    let [found] = attrs(element, [name])?;
    found.map(|a| value(&a, name)).transpose()
}

/// The attributes `names` of `element`, found in one pass over its attributes (the first of
/// each local name), their values not yet unescaped: for the elements a report holds by the
/// million. The attributes are checked (syntax, no key twice) up to the last one needed.
pub fn attrs<'e, const N: usize>(
    element: &'e BytesStart<'_>,
    names: [&str; N],
) -> Result<[Option<Attribute<'e>>; N], String> {
    let mut found = [const { None }; N];
    for a in element.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        let key = a.key.local_name();
        if let Some(i) = names.iter().position(|n| *n == key.as_ref())
            && found[i].is_none()
        {
            found[i] = Some(a);
            if found.iter().all(Option::is_some) {
                break;
            }
        }
    }
    Ok(found)
}

/// The value of attribute `a` (named `name`), unescaped.
pub fn value<'e>(a: &Attribute<'e>, name: &str) -> Result<Cow<'e, str>, String> {
    a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .map_err(|e| format!("bad attribute {name}: {e}"))
}

/// Attribute `name` as a count (saturated to 32 bits; negative counts as 0); an error names the
/// element and the attribute when it is missing or not a number.
pub fn count(element: &BytesStart<'_>, name: &str) -> Result<u32, String> {
    optional_count(element, name)?.ok_or_else(|| missing(element, name))
}

/// Attribute `name` as a count, `None` when absent; an error names the element and the
/// attribute when it is not a number.
pub fn optional_count(element: &BytesStart<'_>, name: &str) -> Result<Option<u32>, String> {
    let [found] = attrs(element, [name])?;
    found.map(|a| count_of(element, name, &a)).transpose()
}

/// Attribute `a` (named `name`) of `element` as a count; see [`count`].
pub fn count_of(element: &BytesStart<'_>, name: &str, a: &Attribute<'_>) -> Result<u32, String> {
    if let Some(n) = plain_count(a.value.as_bytes()) {
        return Ok(n);
    }
    let text = value(a, name)?;
    parse_count(&text).ok_or_else(|| {
        format!(
            "<{}> {}={text:?} is not a number",
            element.local_name().as_ref(),
            name
        )
    })
}

/// Attribute `a` (named `name`) of `element`, which must be there, as a count.
pub fn required_count(
    element: &BytesStart<'_>,
    name: &str,
    a: Option<&Attribute<'_>>,
) -> Result<u32, String> {
    count_of(element, name, a.ok_or_else(|| missing(element, name))?)
}

/// A count written as plain ASCII digits (as good as every count is), read straight from the
/// raw value: what [`parse_count`] makes of it, with nothing to unescape or trim.
fn plain_count(text: &[u8]) -> Option<u32> {
    // 19 digits always fit in 64 bits.
    if text.is_empty() || text.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &b in text {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n = n * 10 + u64::from(digit);
    }
    Some(u32::try_from(n).unwrap_or(u32::MAX))
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

/// What the XML parsers' tests check, in one place.
#[cfg(test)]
pub(crate) mod check {
    use crate::coverage::{Format, Limits, ParseError, Report, parse};

    /// `doc` read with its format detected, which must be `format`.
    pub fn read(doc: &str, format: Format) -> Report {
        let (report, read_as) = parse(doc.as_bytes(), None, &Limits::default()).unwrap();
        assert_eq!(read_as, format);
        report
    }

    /// Why `doc` read as `format` is refused.
    pub fn refused(doc: &str, format: Format) -> ParseError {
        parse(doc.as_bytes(), Some(format), &Limits::default()).unwrap_err()
    }

    /// `doc` cut where `at` starts is refused as truncated, on line `line`: the error.
    pub fn truncated(doc: &str, at: &str, line: u64) -> ParseError {
        let cut = &doc[..doc.find(at).expect("the cut is in the document")];
        let err = parse(cut.as_bytes(), None, &Limits::default()).unwrap_err();
        assert!(err.message.contains("is it truncated?"), "{err}");
        assert_eq!(err.line, Some(line), "{err}");
        err
    }
}
