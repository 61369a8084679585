//! `--format markdown`: a summary table per scorecard and per-entity details, for a PR comment.

use std::borrow::Borrow;
use std::fmt::Write;

use super::visible::visible;
use super::{EntityReport, EvalReport, RuleReport, ScorecardReport, each_scorecard};
use crate::scorecard::score::Outcome;

/// Renders the whole report as GitHub-flavoured markdown.
pub fn render(report: &EvalReport) -> String {
    let mut out = String::new();
    let _ = render_each(&report.scorecards, |text| {
        out.push_str(text);
        Ok(())
    });
    out
}

/// Renders each scorecard of `cards` as it comes and hands its text to `write` (the pieces
/// [`render`] joins), so a caller can write and drop one scorecard before the next is made.
pub fn render_each<C: Borrow<ScorecardReport>>(
    cards: impl IntoIterator<Item = C>,
    mut write: impl FnMut(&str) -> std::io::Result<()>,
) -> std::io::Result<()> {
    each_scorecard(cards, |_, card| {
        let mut out = String::new();
        render_scorecard(&mut out, card);
        write(&out)
    })
    .and_then(|any| {
        if any {
            Ok(())
        } else {
            write(super::NO_SCORECARDS)
        }
    })
}

fn icon(rule: &RuleReport) -> &'static str {
    if rule.not_yet_in_force() {
        return "🕒";
    }
    match rule.outcome {
        Outcome::Pass => "✅",
        Outcome::Fail => "❌",
        Outcome::NoData => "⚪",
        Outcome::Error => "⚠️",
        Outcome::Skipped => "➖",
        Outcome::Exempt => "🛡️",
    }
}

/// Escapes text for a table cell or a line: display-steering characters (see [`visible`]),
/// backslashes, pipes and HTML-looking angle brackets.
fn cell(text: &str) -> String {
    visible(text)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text as an inline code span in a table: backslashes and `&lt;` show as typed there, so only
/// pipes are escaped, and the fence is longer than any run of backticks inside.
fn code(text: &str) -> String {
    let text = visible(text).replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if longest > 0 { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// Text inside the raw HTML of a `<details>` line, where markdown escapes are not read.
fn html(text: &str) -> String {
    visible(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn render_scorecard(out: &mut String, card: &ScorecardReport) {
    let draft = if card.draft { " (draft)" } else { "" };
    let _ = writeln!(
        out,
        "## {} ({}){draft}\n",
        cell(&card.name),
        code(&card.tag)
    );
    if let Some(description) = &card.description {
        // The description is markdown of the scorecard's author: its line breaks stay.
        for line in description.trim().lines() {
            let _ = writeln!(out, "{}", visible(line));
        }
        out.push('\n');
    }
    if !card.levels.is_empty() {
        let levels: Vec<String> = card.levels.iter().map(|l| cell(&l.name)).collect();
        let _ = writeln!(out, "Levels, lowest first: {}\n", levels.join(" → "));
    }
    let _ = writeln!(
        out,
        "| Entity | Level | Score | Passing | Not passing |\n|---|---|---|---|---|"
    );
    for e in &card.entities {
        let passing = e.rules.iter().filter(|r| r.outcome.is_passing()).count();
        let failing = e
            .rules
            .iter()
            .filter(|r| !r.outcome.is_passing() && r.counted)
            .count();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {passing} | {failing} |",
            code(&e.entity),
            cell(&card.level_text(e)),
            e.score_text()
        );
    }
    out.push('\n');
    for e in &card.entities {
        render_entity(out, card, e);
    }
}

fn render_entity(out: &mut String, card: &ScorecardReport, e: &EntityReport) {
    let _ = writeln!(
        out,
        "<details><summary><code>{}</code>: {}, {}</summary>\n",
        html(&e.entity),
        html(&card.level_text(e)),
        e.score_text()
    );
    if let Some(why) = &e.skipped {
        let _ = writeln!(out, "Not in scope: {}\n\n</details>\n", cell(why));
        return;
    }
    let _ = writeln!(
        out,
        "| | Rule | Level | Outcome | Why |\n|---|---|---|---|---|"
    );
    for r in &e.rules {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            icon(r),
            cell(&r.title),
            cell(r.level.as_deref().unwrap_or("")),
            cell(&r.outcome_text()),
            cell(&r.message)
        );
    }
    if !e.next_steps.is_empty() {
        let target = e
            .next_level
            .as_deref()
            .map(|l| format!(" to reach {l}"))
            .unwrap_or_default();
        let _ = writeln!(out, "\n**Next steps{target}:**\n");
        for (i, step) in e.next_steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "{}. **{}**: {}",
                i + 1,
                cell(&step.title),
                cell(&step.message)
            );
        }
    }
    out.push_str("\n</details>\n\n");
}

#[cfg(test)]
mod tests {
    use super::super::tests::{HOSTILE, assert_escaped, hostile, sample};
    use super::*;

    #[test]
    fn outside_text_is_shown_escaped() {
        let text = render(&hostile());
        // In code spans and raw HTML a backslash shows as typed; in markdown text it is doubled.
        let raw = "red\\u{1b}[31m\\rover\\u{202e}txt.exe";
        let escaped = raw.replace('\\', "\\\\");
        assert!(text.contains(&format!("| `{raw}` | Bronze |")), "{text}");
        assert!(
            text.contains(&format!("<summary><code>{raw}</code>")),
            "{text}"
        );
        // Two summary rows and two details headings.
        assert_escaped(&text, raw, 4);
        assert!(
            text.contains(&format!("Codecov answered: {escaped} |")),
            "{text}"
        );
        assert!(text.contains(&format!("1. **Fix {escaped}**: ")), "{text}");
        assert!(
            text.contains(&format!("Not in scope: owner is {escaped}")),
            "{text}"
        );
        assert_escaped(&text, &escaped, 3);
        assert!(!text.contains(HOSTILE));
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("api"), "`api`");
        assert_eq!(code("a`b|c"), "`` a`b\\|c ``");
    }

    #[test]
    fn rules_not_yet_in_force_are_neither_failures_nor_counted_as_not_passing() {
        let before = render(&super::super::tests::sample());
        let text = render(&super::super::tests::sample_with_a_rule_not_yet_in_force());
        assert!(
            text.contains("| 🕒 | Has a runbook link | Silver | fail (counts from 2030-01-01) |"),
            "{text}"
        );
        assert_eq!(
            before.matches('❌').count(),
            text.matches('❌').count(),
            "{text}"
        );
        let summary = |t: &str| {
            t.lines()
                .find(|l| l.starts_with("| `api`"))
                .map(str::to_string)
        };
        assert_eq!(summary(&before), summary(&text), "the counts do not change");
    }

    #[test]
    fn renders_summary_details_and_next_steps() {
        let text = render(&sample());
        assert!(text.starts_with("## Coverage (`cov`) (draft)\n"), "{text}");
        assert!(
            text.contains("| `api` | Bronze | 1/3 (33.33%) | 2 | 2 |"),
            "{text}"
        );
        assert!(text.contains("| ⚠️ | Uploads &lt;recent&gt; & \"fresh\" | Silver | error | Codecov answered 500 |"), "{text}");
        assert!(text.contains("**Next steps to reach Silver:**\n\n1. **Coverage at least 80%**: Raise coverage to 80%."), "{text}");
    }
}
