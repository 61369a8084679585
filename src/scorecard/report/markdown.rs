//! `--format markdown`: a summary table per scorecard and per-entity details, for a PR comment.

use std::fmt::Write;

use super::{EntityReport, EvalReport, ScorecardReport};
use crate::scorecard::score::Outcome;

/// Renders the whole report as GitHub-flavoured markdown.
pub fn render(report: &EvalReport) -> String {
    let mut out = String::new();
    for card in &report.scorecards {
        render_scorecard(&mut out, card);
    }
    if report.scorecards.is_empty() {
        out.push_str("No scorecards to evaluate.\n");
    }
    out
}

fn icon(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "✅",
        Outcome::Fail => "❌",
        Outcome::NoData => "⚪",
        Outcome::Error => "⚠️",
        Outcome::Skipped => "➖",
        Outcome::Exempt => "🛡️",
    }
}

/// Escapes a table cell: pipes, newlines and HTML-looking angle brackets.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\r', '\n'], " ")
}

fn render_scorecard(out: &mut String, card: &ScorecardReport) {
    let draft = if card.draft { " (draft)" } else { "" };
    let _ = writeln!(out, "## {} (`{}`){draft}\n", cell(&card.name), card.tag);
    if let Some(description) = &card.description {
        let _ = writeln!(out, "{}\n", description.trim());
    }
    if !card.levels.is_empty() {
        let levels: Vec<&str> = card.levels.iter().map(|l| l.name.as_str()).collect();
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
            .filter(|r| !r.outcome.is_passing() && r.outcome != Outcome::Skipped)
            .count();
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {passing} | {failing} |",
            e.entity,
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
        e.entity,
        cell(&card.level_text(e)),
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
            icon(r.outcome),
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
    use super::super::tests::sample;
    use super::*;

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
