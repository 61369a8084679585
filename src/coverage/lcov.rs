//! LCOV tracefiles: `SF:path`, `DA:line,hits`, `BRDA:line,block,branch,taken`, `end_of_record`,
//! read byte by byte from the buffer. Other records (`TN`, `FN`, `LF`, ...) carry nothing the
//! totals need (they are recomputed from `DA`) and are skipped.

use super::input::{Input, for_each_line};
use super::report::{Line, ReportBuilder, SameLine};
use super::{Format, Limits, ParseError, Report};

/// The section being read: its file and the branches of its lines (added up per line).
struct Section {
    file: usize,
    path: String,
    branches: Vec<(u32, bool)>,
}

pub fn parse(input: &mut Input<'_>, limits: &Limits) -> Result<Report, ParseError> {
    let mut builder = ReportBuilder::new(SameLine::Max, *limits);
    let mut section: Option<Section> = None;
    let mut last = 0;
    let result = for_each_line(input, |number, line| {
        last = number;
        record(&mut builder, &mut section, line)
    });
    match result {
        Err((line, message)) => Err(ParseError::at_line(Format::Lcov, line, message)),
        Ok(_) => match section {
            Some(s) => Err(ParseError::at_line(
                Format::Lcov,
                last,
                format!(
                    "the report ends inside the section of {} (no end_of_record): is it truncated?",
                    s.path
                ),
            )),
            None if builder.is_empty() => Err(ParseError::new(
                Some(Format::Lcov),
                "the report has no SF section",
            )),
            None => Ok(builder.finish()),
        },
    }
}

fn record(
    builder: &mut ReportBuilder,
    section: &mut Option<Section>,
    line: &[u8],
) -> Result<(), String> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(());
    }
    if line == b"end_of_record" {
        let s = section
            .take()
            .ok_or("end_of_record outside a section (no SF before it)")?;
        return close(builder, s);
    }
    let Some(colon) = memchr::memchr(b':', line) else {
        return Err(format!("`{}` is not an LCOV record", shown(line)));
    };
    let (kind, value) = (&line[..colon], &line[colon + 1..]);
    match kind {
        b"SF" => {
            if let Some(s) = section.take() {
                return Err(format!(
                    "SF inside the section of {} (no end_of_record before it)",
                    s.path
                ));
            }
            let path = std::str::from_utf8(value).map_err(|_| "SF path is not UTF-8")?;
            let file = builder.file(path)?;
            *section = Some(Section {
                file,
                path: path.to_string(),
                branches: Vec::new(),
            });
        }
        b"DA" => {
            let s = section
                .as_mut()
                .ok_or("DA outside a section (no SF before it)")?;
            let mut fields = value.split(|&b| b == b',');
            let number = fields.next().and_then(number_u32);
            let hits = fields.next().and_then(hits);
            let (Some(number), Some(hits)) = (number, hits) else {
                return Err(format!(
                    "DA needs a line number and a hit count: `{}`",
                    shown(line)
                ));
            };
            builder.line(
                s.file,
                Line {
                    number,
                    hits,
                    ..Line::default()
                },
            )?;
        }
        b"BRDA" => {
            let s = section
                .as_mut()
                .ok_or("BRDA outside a section (no SF before it)")?;
            let fields: Vec<&[u8]> = value.splitn(4, |&b| b == b',').collect();
            let parsed = match fields[..] {
                [number, _, _, taken] => number_u32(number).zip(match taken {
                    b"-" => Some(false),
                    t => hits(t).map(|h| h > 0),
                }),
                _ => None,
            };
            let Some((number, taken)) = parsed else {
                return Err(format!(
                    "BRDA needs line,block,branch,taken: `{}`",
                    shown(line)
                ));
            };
            s.branches.push((number, taken));
        }
        _ if kind.iter().all(|b| b.is_ascii_alphanumeric()) => {}
        _ => return Err(format!("`{}` is not an LCOV record", shown(line))),
    }
    Ok(())
}

/// Ends a section: its branches become per-line counts.
fn close(builder: &mut ReportBuilder, mut s: Section) -> Result<(), String> {
    s.branches.sort_unstable_by_key(|(n, _)| *n);
    for group in s.branches.chunk_by(|a, b| a.0 == b.0) {
        let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        builder.line(
            s.file,
            Line {
                number: group[0].0,
                hits: 0,
                branches: count(group.len()),
                branches_hit: count(group.iter().filter(|(_, t)| *t).count()),
            },
        )?;
    }
    Ok(())
}

/// A positive decimal number that fits in 32 bits.
fn number_u32(text: &[u8]) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = text.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    u32::try_from(n).ok()
}

/// A hit count: an integer (saturated; a negative one, which some gcov versions write, is 0) or
/// a number in exponent form (`1.2e+06`).
fn hits(text: &[u8]) -> Option<u32> {
    if let Some(n) = number_u32(text) {
        return Some(n);
    }
    let text = std::str::from_utf8(text).ok()?;
    let n: f64 = text.parse().ok()?;
    n.is_finite()
        .then(|| n.clamp(0.0, f64::from(u32::MAX)) as u32)
}

/// A record as it can be shown in an error: at most 80 characters.
fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use crate::coverage::{Format, Limits, parse};

    fn lcov(text: &str) -> Result<crate::coverage::Report, crate::coverage::ParseError> {
        parse(text.as_bytes(), Some(Format::Lcov), &Limits::default()).map(|(r, _)| r)
    }

    #[test]
    fn reads_lines_and_branches() {
        let report = lcov(
            "TN:\nSF:/home/runner/work/app/app/src/a.js\nFN:1,main\nFNDA:1,main\nDA:1,1\nDA:2,0\r\nDA:3,5\nBRDA:3,0,0,1\nBRDA:3,0,1,-\nDA:4,1.2e+03\nLF:4\nLH:3\nend_of_record\nSF:b.js\nDA:1,-1\nend_of_record\n",
        )
        .unwrap();
        let t = report.totals();
        assert_eq!(
            (t.files, t.lines, t.hits, t.misses, t.partials),
            (2, 5, 2, 2, 1)
        );
        assert_eq!((t.branches, t.branches_hit), (2, 1));
        assert_eq!(report.files[0].path, "/home/runner/work/app/app/src/a.js");
        assert_eq!(report.files[0].lines[3].hits, 1200);
    }

    #[test]
    fn malformed_and_truncated_reports_name_the_line() {
        let cases = [
            (
                "SF:a\nDA:1,1\nDA:2\nend_of_record\n",
                "lcov, line 3: DA needs a line number and a hit count: `DA:2`",
            ),
            (
                "SF:a\nDA:1,1\n",
                "lcov, line 2: the report ends inside the section of a (no end_of_record): is it truncated?",
            ),
            (
                "DA:1,1\n",
                "lcov, line 1: DA outside a section (no SF before it)",
            ),
            (
                "SF:a\nDA:x,1\nend_of_record\n",
                "lcov, line 2: DA needs a line number and a hit count: `DA:x,1`",
            ),
            (
                "SF:a\nSF:b\n",
                "lcov, line 2: SF inside the section of a (no end_of_record before it)",
            ),
            (
                "SF:a\nhello world\n",
                "lcov, line 2: `hello world` is not an LCOV record",
            ),
            (
                "SF:a\nDA:0,1\nend_of_record\n",
                "lcov, line 2: line numbers start at 1",
            ),
            (
                "SF:a\nDA:99999999999,1\nend_of_record\n",
                "lcov, line 2: DA needs a line number and a hit count: `DA:99999999999,1`",
            ),
            ("TN:x\n", "lcov: the report has no SF section"),
        ];
        for (text, want) in cases {
            assert_eq!(lcov(text).unwrap_err().to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn a_section_listed_twice_keeps_each_line_once() {
        let report =
            lcov("SF:a\nDA:1,0\nend_of_record\nSF:a\nDA:1,3\nDA:2,0\nend_of_record\n").unwrap();
        assert_eq!(report.files.len(), 1);
        let t = report.totals();
        assert_eq!((t.lines, t.hits), (2, 1));
    }
}
