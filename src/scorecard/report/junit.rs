//! `--format junit`: JUnit XML for CI dashboards; one test suite per scorecard and entity, one
//! test case per rule (`fail`/`no_data` are failures, `error` errors, `skipped`/`exempt` skipped).

use std::borrow::Borrow;
use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{EvalReport, RuleReport, ScorecardReport};
use crate::scorecard::score::Outcome;

/// Escapes text for XML attributes and content.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn counts<'a>(rules: impl Iterator<Item = &'a RuleReport>) -> (usize, usize, usize, usize) {
    rules.fold((0, 0, 0, 0), |(t, f, e, s), r| match r.outcome {
        _ if r.not_yet_in_force() => (t + 1, f, e, s + 1),
        Outcome::Fail | Outcome::NoData => (t + 1, f + 1, e, s),
        Outcome::Error => (t + 1, f, e + 1, s),
        Outcome::Skipped | Outcome::Exempt => (t + 1, f, e, s + 1),
        Outcome::Pass => (t + 1, f, e, s),
    })
}

/// Renders the whole report as JUnit XML.
pub fn render(report: &EvalReport) -> String {
    render_cards(report.evaluated_at, &report.scorecards)
}

/// Renders the scorecards of `cards`, evaluated at `evaluated_at`, as JUnit XML, each one as it
/// comes: only the text is kept (the totals head the document, so it is written at the end).
pub fn render_cards<C: Borrow<ScorecardReport>>(
    evaluated_at: DateTime<Utc>,
    cards: impl IntoIterator<Item = C>,
) -> String {
    let timestamp = evaluated_at.format("%Y-%m-%dT%H:%M:%S");
    let mut totals = (0, 0, 0, 0);
    let mut body = String::new();
    for card in cards {
        let card = card.borrow();
        let (tests, failures, errors, skipped) =
            counts(card.entities.iter().flat_map(|e| e.rules.iter()));
        totals = (
            totals.0 + tests,
            totals.1 + failures,
            totals.2 + errors,
            totals.3 + skipped,
        );
        render_scorecard(&mut body, card, &timestamp);
    }
    let (tests, failures, errors, skipped) = totals;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"rubric\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">"
    );
    out.push_str(&body);
    out.push_str("</testsuites>\n");
    out
}

/// One test suite per entity of `card`.
fn render_scorecard(out: &mut String, card: &ScorecardReport, timestamp: &impl std::fmt::Display) {
    for e in &card.entities {
        let (tests, failures, errors, skipped) = counts(e.rules.iter());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{} / {}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" timestamp=\"{timestamp}\">",
            xml(&card.tag),
            xml(&e.entity)
        );
        let _ = writeln!(
            out,
            "    <properties><property name=\"level\" value=\"{}\"/><property name=\"score\" value=\"{}\"/></properties>",
            xml(&card.level_text(e)),
            xml(&e.score_text())
        );
        let classname = xml(&format!("{}.{}", card.tag, e.entity));
        for r in &e.rules {
            let name = xml(&r.title);
            let message = xml(&r.message);
            let detail = xml(r.failure_message.as_deref().unwrap_or(&r.message));
            match r.outcome {
                // Not yet in force: whatever its outcome, a skip that names the date.
                _ if r.not_yet_in_force() => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"{classname}\" name=\"{name}\">\n      <skipped message=\"{}: {message}\"/>\n    </testcase>",
                        xml(&r.outcome_text())
                    );
                }
                Outcome::Pass => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"{classname}\" name=\"{name}\"/>"
                    );
                }
                Outcome::Fail | Outcome::NoData => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"{classname}\" name=\"{name}\">\n      <failure type=\"{}\" message=\"{message}\">{detail}</failure>\n    </testcase>",
                        r.outcome.as_str()
                    );
                }
                Outcome::Error => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"{classname}\" name=\"{name}\">\n      <error type=\"error\" message=\"{message}\"/>\n    </testcase>"
                    );
                }
                Outcome::Skipped | Outcome::Exempt => {
                    let _ = writeln!(
                        out,
                        "    <testcase classname=\"{classname}\" name=\"{name}\">\n      <skipped message=\"{}: {message}\"/>\n    </testcase>",
                        xml(&r.outcome_text())
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

    #[test]
    fn rules_not_yet_in_force_are_skipped_with_their_date() {
        let before = render(&super::super::tests::sample());
        let text = render(&super::super::tests::sample_with_a_rule_not_yet_in_force());
        assert!(
            text.contains(
                "<testsuites name=\"rubric\" tests=\"5\" failures=\"1\" errors=\"1\" skipped=\"2\">"
            ),
            "{text}"
        );
        assert!(
            text.contains("<testcase classname=\"cov.api\" name=\"Has a runbook link\">\n      <skipped message=\"fail (counts from 2030-01-01): links(&quot;runbook&quot;).length = 0, needs &gt; 0\"/>"),
            "{text}"
        );
        assert_eq!(
            before.matches("<failure").count(),
            text.matches("<failure").count()
        );
    }

    #[test]
    fn counts_and_escapes() {
        let text = render(&sample());
        assert!(
            text.contains(
                "<testsuites name=\"rubric\" tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"1\">"
            ),
            "{text}"
        );
        assert!(
            text.contains("<testsuite name=\"cov / api\" tests=\"4\""),
            "{text}"
        );
        assert!(
            text.contains("name=\"Uploads &lt;recent&gt; &amp; &quot;fresh&quot;\""),
            "{text}"
        );
        assert!(text.contains("<failure type=\"fail\" message=\"codecov.codeCoverage() = 61.5 (github/acme/api), needs &gt;= 80\">Raise coverage to 80%.</failure>"), "{text}");
        assert!(
            text.contains("<skipped message=\"exempt (until 2027-01-31): "),
            "{text}"
        );
        assert!(text.ends_with("</testsuites>\n"));
    }
}
