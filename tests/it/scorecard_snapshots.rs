//! Snapshots of every output format of `rubric demo`: the sample catalog and scorecards
//! evaluated against the built-in Codecov fixture (timestamps redacted).

use crate::support::rubric;

/// Runs `rubric demo --format FORMAT` from the crate root and returns stdout.
fn demo(format: &str) -> String {
    let out = rubric()
        .args(["demo", "--format", format])
        // A fixed day, so exemptions and `effectiveFrom` read the same whatever the date.
        .env("RUBRIC_NOW", "2026-11-22T06:00:00Z")
        .run();
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

/// Snapshots the output with evaluation timestamps redacted.
fn check(format: &str) {
    let timestamp =
        regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")
            .unwrap();
    let text = timestamp
        .replace_all(&demo(format), "[timestamp]")
        .into_owned();
    insta::with_settings!({ prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(format!("demo_{format}"), text);
    });
}

#[test]
fn demo_table() {
    check("table");
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
