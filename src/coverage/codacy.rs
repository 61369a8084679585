//! Codacy's JSON payload, as its reporters post it: `{"total": 75, "fileReports": [{"filename":
//! "src/app.py", "total": 75, "coverage": {"1": 1, "6": 0}}]}`. Every coverable line is listed
//! (0 = not covered); `total` and `codeLines` are hints that are recomputed.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::input::Input;
use super::report::{Line, ReportBuilder, SameLine};
use super::{Format, Limits, ParseError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    file_reports: Vec<FileReport>,
}

#[derive(Deserialize)]
struct FileReport {
    filename: String,
    #[serde(default)]
    coverage: BTreeMap<String, serde_json::Number>,
}

pub fn parse(input: &mut Input<'_>, limits: &Limits) -> Result<ReportBuilder, ParseError> {
    let payload: Payload = serde_json::from_reader(&mut *input).map_err(|e| {
        ParseError::at_line(
            Format::Codacy,
            e.line() as u64,
            format!("not Codacy's coverage JSON: {e}"),
        )
    })?;
    let error = |m: String| ParseError::new(Some(Format::Codacy), m);
    let mut builder = ReportBuilder::new(SameLine::Max, *limits);
    for file in payload.file_reports {
        let id = builder
            .file(&file.filename)
            .map_err(|m| error(format!("fileReports: {m}")))?;
        for (number, hits) in &file.coverage {
            let bad = || {
                error(format!(
                    "{}: coverage maps line numbers to hit counts, not {number:?}: {hits}",
                    file.filename
                ))
            };
            let number: u32 = number.parse().map_err(|_| bad())?;
            let hits = hits
                .as_u64()
                .map(|h| u32::try_from(h).unwrap_or(u32::MAX))
                .or_else(|| hits.as_i64().map(|_| 0))
                .ok_or_else(bad)?;
            builder
                .line(
                    id,
                    Line {
                        number,
                        hits,
                        ..Line::default()
                    },
                )
                .map_err(|m| error(format!("{}: {m}", file.filename)))?;
        }
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use crate::coverage::{Format, Limits, parse};

    #[test]
    fn reads_the_payload_of_both_reporters() {
        let body = r#"{"language":"python","total":75,"codeLines":4,"fileReports":[{"filename":"src/app.py","total":75,"codeLines":4,"coverage":{"1":1,"2":1,"5":1,"6":0}}]}"#;
        let (report, format) = parse(body.as_bytes(), None, &Limits::default()).unwrap();
        assert_eq!(format, Format::Codacy);
        let t = report.totals();
        assert_eq!((t.files, t.lines, t.hits, t.misses), (1, 4, 3, 1));
        assert_eq!(t.coverage, Some(75.0));
    }

    #[test]
    fn bad_payloads_are_named() {
        let cases = [
            (
                r#"{"fileReports":[{"filename":"a","coverage":{"x":1}}]}"#,
                "codacy: a: coverage maps line numbers to hit counts, not \"x\": 1",
            ),
            (
                r#"{"fileReports":[{"filename":"a","coverage":{"1":1.5}}]}"#,
                "codacy: a: coverage maps line numbers to hit counts, not \"1\": 1.5",
            ),
            (
                "{\"fileReports\":\n[{\"filename\":",
                "codacy, line 2: not Codacy's coverage JSON: EOF while parsing a value at line 2 column 13",
            ),
            (
                r#"{"total":1}"#,
                "codacy, line 1: not Codacy's coverage JSON: missing field `fileReports` at line 1 column 11",
            ),
        ];
        for (body, want) in cases {
            let err = parse(body.as_bytes(), Some(Format::Codacy), &Limits::default()).unwrap_err();
            assert_eq!(err.to_string(), want, "{body}");
        }
    }
}
