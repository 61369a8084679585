//! LCOV tracefiles: `SF:path`, `DA:line,hits`, `BRDA:line,block,branch,taken`, `end_of_record`,
//! read byte by byte from the buffer. Other records (`TN`, `FN`, `LF`, ...) carry nothing the
//! totals need (they are recomputed from `DA`) and are skipped.

use super::input::{Input, for_each_line};
use super::report::{Line, ReportBuilder, SameLine};
use super::{Format, Limits, ParseError};

/// The section being read: its file.
struct Section {
    file: usize,
    path: String,
}

/// What the reader keeps between records: the section it is in and that section's branches
/// (line, taken), which become per-line counts when it ends; their list is kept for the next
/// section.
struct State {
    section: Option<Section>,
    branches: Vec<(u32, bool)>,
}

pub fn parse(input: &mut Input<'_>, limits: &Limits) -> Result<ReportBuilder, ParseError> {
    let mut builder = ReportBuilder::new(SameLine::Max, *limits);
    let mut state = State {
        section: None,
        branches: Vec::new(),
    };
    let mut last = 0;
    let result = for_each_line(input, |number, line| {
        last = number;
        // Most records are plain `DA:line,hits` in a section: read those here, in the loop;
        // [`record`] reads the others and says what is wrong with a bad one.
        if let Some(value) = line.strip_prefix(b"DA:")
            && let Some(s) = &state.section
            && let Some((number, hits)) = line_data(value)
        {
            return builder.line(
                s.file,
                Line {
                    number,
                    hits,
                    ..Line::default()
                },
            );
        }
        record(&mut builder, &mut state, line)
    });
    match result {
        Err((line, message)) => Err(ParseError::at_line(Format::Lcov, line, message)),
        Ok(_) => match state.section {
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
            None => Ok(builder),
        },
    }
}

fn record(builder: &mut ReportBuilder, state: &mut State, line: &[u8]) -> Result<(), String> {
    let line = line.trim_ascii();
    if let Some(value) = line.strip_prefix(b"DA:") {
        let s = state
            .section
            .as_ref()
            .ok_or("DA outside a section (no SF before it)")?;
        let Some((number, hits)) = line_data(value) else {
            return Err(format!(
                "DA needs a line number and a hit count: `{}`",
                shown(line)
            ));
        };
        return builder.line(
            s.file,
            Line {
                number,
                hits,
                ..Line::default()
            },
        );
    }
    if line.is_empty() {
        return Ok(());
    }
    if line == b"end_of_record" {
        let s = state
            .section
            .take()
            .ok_or("end_of_record outside a section (no SF before it)")?;
        return close(builder, s.file, &mut state.branches);
    }
    let Some(colon) = memchr::memchr(b':', line) else {
        return Err(format!("`{}` is not an LCOV record", shown(line)));
    };
    let (kind, value) = (&line[..colon], &line[colon + 1..]);
    match kind {
        b"SF" => {
            if let Some(s) = state.section.take() {
                return Err(format!(
                    "SF inside the section of {} (no end_of_record before it)",
                    s.path
                ));
            }
            let path = std::str::from_utf8(value).map_err(|_| "SF path is not UTF-8")?;
            let file = builder.file(path)?;
            state.section = Some(Section {
                file,
                path: path.to_string(),
            });
        }
        b"BRDA" => {
            if state.section.is_none() {
                return Err("BRDA outside a section (no SF before it)".into());
            }
            let mut fields = value.splitn(4, |&b| b == b',');
            let parsed = match (fields.next(), fields.next(), fields.next(), fields.next()) {
                (Some(number), Some(_), Some(_), Some(taken)) => {
                    number_u32(number).zip(match taken {
                        b"-" => Some(false),
                        t => hits(t).map(|h| h > 0),
                    })
                }
                _ => None,
            };
            let Some((number, taken)) = parsed else {
                return Err(format!(
                    "BRDA needs line,block,branch,taken: `{}`",
                    shown(line)
                ));
            };
            state.branches.push((number, taken));
        }
        _ if kind.iter().all(|b| b.is_ascii_alphanumeric()) => {}
        _ => return Err(format!("`{}` is not an LCOV record", shown(line))),
    }
    Ok(())
}

/// `line,hits` (and an optional `,checksum`): the line number and hit count of a `DA:` record,
/// read in one pass when both are plain digits.
fn line_data(value: &[u8]) -> Option<(u32, u32)> {
    let (number, len) = leading_digits(value);
    if len == 0 || len > 10 || value.get(len) != Some(&b',') {
        return None;
    }
    let number = u32::try_from(number).ok()?;
    let rest = &value[len + 1..];
    let (n, len) = leading_digits(rest);
    let hits = match rest.get(len) {
        None | Some(b',') if len > 0 && len <= 10 => u32::try_from(n).unwrap_or(u32::MAX),
        _ => {
            let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
            hits(&rest[..end])?
        }
    };
    Some((number, hits))
}

/// The value of the ASCII digits `text` starts with (wrapping past 64 bits, so meaningful for
/// up to 19 digits) and how many there are.
fn leading_digits(text: &[u8]) -> (u64, usize) {
    let mut n = 0u64;
    for (i, &b) in text.iter().enumerate() {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return (n, i);
        }
        n = n.wrapping_mul(10).wrapping_add(u64::from(digit));
    }
    (n, text.len())
}

/// Ends a section: its branches become per-line counts, and its list is emptied for the next.
fn close(
    builder: &mut ReportBuilder,
    file: usize,
    branches: &mut Vec<(u32, bool)>,
) -> Result<(), String> {
    if !branches.is_sorted_by_key(|(n, _)| *n) {
        branches.sort_unstable_by_key(|(n, _)| *n);
    }
    for group in branches.chunk_by(|a, b| a.0 == b.0) {
        let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        builder.branches(
            file,
            group[0].0,
            count(group.len()),
            count(group.iter().filter(|(_, t)| *t).count()),
        )?;
    }
    branches.clear();
    builder.end_file(file)?;
    Ok(())
}

/// A positive decimal number that fits in 32 bits.
fn number_u32(text: &[u8]) -> Option<u32> {
    match leading_digits(text) {
        (n, len) if len == text.len() && (1..=10).contains(&len) => u32::try_from(n).ok(),
        _ => None,
    }
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
    fn branches_before_their_lines_or_without_one_count_as_after() {
        // geninfo writes BRDA before DA; a branch may be on a line with no DA.
        let report = lcov(
            "SF:a\nBRDA:2,0,0,1\nBRDA:2,0,1,0\nBRDA:7,0,0,-\nDA:1,1\nDA:2,1\nDA:3,0\nend_of_record\nSF:a\nDA:2,0\nBRDA:2,0,0,1\nBRDA:2,0,1,1\nend_of_record\n",
        )
        .unwrap();
        let line = |number, hits, branches, branches_hit| crate::coverage::Line {
            number,
            hits,
            branches,
            branches_hit,
        };
        assert_eq!(
            report.files[0].lines,
            [
                line(1, 1, 0, 0),
                line(2, 1, 2, 2),
                line(3, 0, 0, 0),
                line(7, 0, 1, 0)
            ]
        );
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
