//! Snapshots of every output format of `rubric demo`: the sample catalog and scorecards
//! evaluated against the built-in Codecov fixture (timestamps redacted).

use crate::support::rubric;

/// Runs `rubric demo --format FORMAT` from the crate root, with `COLUMNS` when given (else as
/// wide as piped output is by default), and returns stdout.
fn demo(format: &str, columns: Option<&str>) -> String {
    let mut cmd = rubric()
        .args(["demo", "--format", format])
        // A fixed day, so exemptions and `effectiveFrom` read the same whatever the date.
        .env("RUBRIC_NOW", "2026-11-22T06:00:00Z");
    if let Some(columns) = columns {
        cmd = cmd.env("COLUMNS", columns);
    }
    let out = cmd.run();
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "the sample catalog and scorecards are clean: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.output.stdout).expect("UTF-8 output")
}

/// Snapshots the output (`COLUMNS` as [`demo`] takes it) as `name`, with evaluation timestamps
/// redacted.
fn check_as(name: &str, format: &str, columns: Option<&str>) {
    let timestamp =
        regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
            .unwrap();
    let text = timestamp
        .replace_all(&demo(format, columns), "[timestamp]")
        .into_owned();
    insta::with_settings!({ prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, text);
    });
}

/// Snapshots `demo_FORMAT`, piped with no `COLUMNS`.
fn check(format: &str) {
    check_as(&format!("demo_{format}"), format, None);
}

/// Piped with no `COLUMNS`: 100 columns, too narrow for the demo's table, so one block per
/// entity.
#[test]
fn demo_table() {
    check("table");
}

/// `COLUMNS=200`: the table, its reasons wrapped between words.
#[test]
fn demo_table_wide() {
    check_as("demo_table_wide", "table", Some("200"));
}

/// Every line of the table output fits `COLUMNS` (100 when unset), and every word of every
/// reason is shown whole.
#[test]
fn the_table_fits_columns_and_keeps_words_whole() {
    use unicode_width::UnicodeWidthStr;
    let report: serde_json::Value = serde_json::from_str(&demo("json", None)).unwrap();
    let mut words: Vec<String> = Vec::new();
    for card in report["scorecards"].as_array().unwrap() {
        for entity in card["entities"].as_array().unwrap() {
            let reasons = entity["rules"].as_array().unwrap().iter();
            for reason in reasons.map(|r| &r["message"]).chain([&entity["skipped"]]) {
                let reason = reason.as_str().unwrap_or_default();
                words.extend(reason.split_whitespace().map(str::to_string));
            }
        }
    }
    assert!(words.iter().any(|w| w == "codecov.coverageTrend(days=30)"));
    for (columns, width) in [
        (None, 100),
        (Some("60"), 60),
        (Some("80"), 80),
        (Some("100"), 100),
        (Some("150"), 150),
        (Some("200"), 200),
        (Some("not-a-number"), 100),
    ] {
        let text = demo("table", columns);
        for line in text.lines() {
            assert!(line.width() <= width, "{columns:?}: {line:?}");
        }
        let shown: Vec<&str> = text.split_whitespace().collect();
        for word in &words {
            assert!(
                shown.contains(&word.as_str()),
                "{columns:?}: {word:?} is split"
            );
        }
    }
}

#[test]
fn demo_json() {
    check("json");
}

#[test]
fn demo_markdown() {
    check("markdown");
}

#[test]
fn demo_junit() {
    check("junit");
}

/// `RUBRIC_NOW` moves the whole run in time: after the sample's `effectiveFrom: 2030-01-01`
/// the runbook rule counts, before it it does not.
#[test]
fn rubric_now_pins_the_clock_of_a_run() {
    let counted = |now: &str| {
        let out = rubric()
            .args(["demo", "--format", "json"])
            .env("RUBRIC_NOW", now)
            .run();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            report["evaluated_at"]
                .as_str()
                .unwrap()
                .starts_with(&now[..10]),
            "{}",
            report["evaluated_at"]
        );
        let card = report["scorecards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["tag"] == "production-readiness")
            .unwrap()
            .clone();
        let rule = card["entities"][0]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["title"] == "Has a runbook link")
            .unwrap()
            .clone();
        rule["counted"].as_bool().unwrap()
    };
    assert!(!counted("2026-11-22T06:00:00Z"));
    assert!(counted("2031-01-01T00:00:00Z"));
}
