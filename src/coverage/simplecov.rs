//! SimpleCov's JSON (Ruby), as Datadog's intake accepts it: `.resultset.json` (suites, each
//! `{"coverage": {FILE: {"lines": [null, 1, 0], "branches": {...}}}, "timestamp"}`; before
//! SimpleCov 0.18 a file maps straight to its line list) or the JSON formatter's
//! `coverage.json` (`{"meta", "coverage": {FILE: {"lines": [...]}}}`). A line is its index + 1;
//! `null` is not coverable, `"ignored"` neither. Branches are counted on the line of their
//! condition (the third number of the condition's key, `[:if, 0, 3, 4, 3, 21]`). Several suites
//! of one result set are one report, each line counted as often as the best suite ran it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::input::Input;
use super::report::{Line, ReportBuilder, SameLine};
use super::{Format, Limits, ParseError};

/// One file's data: the line list alone (SimpleCov before 0.18), or lines and branches.
#[derive(Deserialize)]
#[serde(untagged)]
enum FileData {
    Lines(Vec<Value>),
    Full {
        lines: Vec<Value>,
        #[serde(default)]
        branches: BTreeMap<String, BTreeMap<String, Value>>,
    },
}

#[derive(Deserialize)]
struct Suite {
    coverage: BTreeMap<String, FileData>,
}

pub fn parse(input: &mut Input<'_>, limits: &Limits) -> Result<ReportBuilder, ParseError> {
    let document: BTreeMap<String, Value> = serde_json::from_reader(&mut *input).map_err(|e| {
        ParseError::at_line(
            Format::Simplecov,
            e.line() as u64,
            format!("not SimpleCov's JSON: {e}"),
        )
    })?;
    let error = |m: String| ParseError::new(Some(Format::Simplecov), m);
    // The JSON formatter's document has `coverage` at the top; a result set has suites.
    let suites: Vec<Suite> = match document.get("coverage") {
        Some(coverage) => vec![Suite {
            coverage: serde_json::from_value(coverage.clone())
                .map_err(|e| error(format!("coverage: {e}")))?,
        }],
        None => document
            .into_iter()
            .map(|(name, suite)| {
                serde_json::from_value(suite).map_err(|e| error(format!("suite {name:?}: {e}")))
            })
            .collect::<Result<_, _>>()?,
    };
    if suites.is_empty() {
        return Err(error("the document has no coverage".into()));
    }
    let mut builder = ReportBuilder::new(SameLine::Max, *limits);
    for suite in suites {
        for (path, data) in suite.coverage {
            let id = builder.file(&path).map_err(error)?;
            let (lines, branches) = match data {
                FileData::Lines(lines) => (lines, BTreeMap::new()),
                FileData::Full { lines, branches } => (lines, branches),
            };
            for (index, hits) in lines.iter().enumerate() {
                let hits = match hits {
                    Value::Null | Value::String(_) => continue,
                    Value::Number(n) => n
                        .as_u64()
                        .map(|h| u32::try_from(h).unwrap_or(u32::MAX))
                        .or_else(|| n.as_i64().map(|_| 0))
                        .ok_or_else(|| error(format!("{path}: line {} has hits {n}", index + 1)))?,
                    other => {
                        return Err(error(format!(
                            "{path}: line {} has hits {other}",
                            index + 1
                        )));
                    }
                };
                let number = u32::try_from(index + 1)
                    .map_err(|_| error(format!("{path}: too many lines")))?;
                builder
                    .line(
                        id,
                        Line {
                            number,
                            hits,
                            ..Line::default()
                        },
                    )
                    .map_err(|m| error(format!("{path}: {m}")))?;
            }
            for (condition, outcomes) in &branches {
                let number = condition
                    .trim_matches(['[', ']'])
                    .split(',')
                    .nth(2)
                    .and_then(|n| n.trim().parse::<u32>().ok())
                    .ok_or_else(|| {
                        error(format!(
                            "{path}: branch condition {condition:?} names no line"
                        ))
                    })?;
                let taken = outcomes
                    .values()
                    .filter(|v| v.as_u64().is_some_and(|c| c > 0))
                    .count();
                let count = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
                builder
                    .line(
                        id,
                        Line {
                            number,
                            hits: 0,
                            branches: count(outcomes.len()),
                            branches_hit: count(taken),
                        },
                    )
                    .map_err(|m| error(format!("{path}: {m}")))?;
            }
        }
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use crate::coverage::{Format, Limits, parse};

    #[test]
    fn reads_result_sets_old_and_new_and_the_json_formatter() {
        let resultset = r#"{
          "RSpec": {"coverage": {"/app/lib/a.rb": {"lines": [null, 1, 0, "ignored", 2],
            "branches": {"[:if, 0, 2, 4, 2, 21]": {"[:then, 1, 2, 4, 2, 9]": 1, "[:else, 2, 2, 4, 2, 21]": 0}}}},
            "timestamp": 1733400000},
          "Minitest": {"coverage": {"/app/lib/b.rb": [1, null, 0]}, "timestamp": 1733400000}
        }"#;
        let (report, format) = parse(resultset.as_bytes(), None, &Limits::default()).unwrap();
        assert_eq!(format, Format::Simplecov);
        let t = report.totals();
        // a.rb: 2 partial (one branch of two), 3 missed, 5 hit; b.rb: 1 hit, 3 missed.
        assert_eq!(
            (t.files, t.lines, t.hits, t.partials, t.misses),
            (2, 5, 2, 1, 2)
        );
        assert_eq!((t.branches, t.branches_hit), (2, 1));
        let formatter = r#"{"meta": {"simplecov_version": "0.22.0"}, "coverage": {"lib/c.rb": {"lines": [1, 0]}}}"#;
        let (report, _) = parse(
            formatter.as_bytes(),
            Some(Format::Simplecov),
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(report.totals().lines, 2);
    }

    #[test]
    fn bad_documents_are_named() {
        let cases = [
            (
                r#"{"RSpec": {"coverage": {"a.rb": [1, true]}}}"#,
                "simplecov: a.rb: line 2 has hits true",
            ),
            (
                r#"{"RSpec": {"timestamp": 1}}"#,
                "simplecov: suite \"RSpec\": missing field `coverage`",
            ),
            (
                "{\"RSpec\": {\"coverage\":",
                "simplecov, line 1: not SimpleCov's JSON: EOF while parsing a value at line 1 column 22",
            ),
            ("{}", "simplecov: the document has no coverage"),
        ];
        for (text, want) in cases {
            let err =
                parse(text.as_bytes(), Some(Format::Simplecov), &Limits::default()).unwrap_err();
            assert_eq!(err.to_string(), want, "{text}");
        }
    }
}
