//! `--format table`: per scorecard, a table of entities, levels, scores and rule outcomes.

use std::fmt::Write;

use comfy_table::{ContentArrangement, Table, presets};

use super::visible::visible;
use super::{EvalReport, ScorecardReport};

/// Renders the whole report for a terminal (wrapped to its width; unwrapped when piped).
pub fn render(report: &EvalReport) -> String {
    let mut out = String::new();
    for (i, card) in report.scorecards.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&render_scorecard(card));
    }
    if report.scorecards.is_empty() {
        out.push_str("No scorecards to evaluate.\n");
    }
    out
}

/// One scorecard: a heading, the table, then each entity's next steps. Text from outside is
/// shown through [`visible`], so it cannot move the cursor, recolour or reorder the terminal.
pub fn render_scorecard(card: &ScorecardReport) -> String {
    let mut out = String::new();
    let draft = if card.draft { " [draft]" } else { "" };
    let ladder = if card.levels.is_empty() {
        "points only".to_string()
    } else {
        card.levels
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(" < ")
    };
    let _ = writeln!(
        out,
        "{} ({}){draft}: {}",
        visible(&card.name),
        visible(&card.tag),
        visible(&ladder)
    );
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED.with_rounded_corners())
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["Entity", "Level", "Score", "Rule", "Outcome", "Reason"]);
    let mut row = |cells: [&str; 6]| {
        table.add_row(cells.map(|c| visible(c).into_owned()));
    };
    for entity in &card.entities {
        if let Some(why) = &entity.skipped {
            row([
                &entity.entity,
                "skipped",
                "-",
                "(all rules)",
                "skipped",
                why,
            ]);
            continue;
        }
        let (level, score) = (card.level_text(entity), entity.score_text());
        if entity.rules.is_empty() {
            row([&entity.entity, &level, &score, "", "", ""]);
        }
        for (i, rule) in entity.rules.iter().enumerate() {
            let (name, level, score) = if i == 0 {
                (entity.entity.as_str(), level.as_str(), score.as_str())
            } else {
                ("", "", "")
            };
            row([
                name,
                level,
                score,
                &rule.title,
                &rule.outcome_text(),
                &rule.message,
            ]);
        }
    }
    let _ = writeln!(out, "{table}");
    let with_steps: Vec<_> = card
        .entities
        .iter()
        .filter(|e| !e.next_steps.is_empty())
        .collect();
    if !with_steps.is_empty() {
        let _ = writeln!(out, "Next steps:");
        for entity in with_steps {
            let target = entity
                .next_level
                .as_deref()
                .map(|l| format!(" for {l}"))
                .unwrap_or_default();
            let titles: Vec<&str> = entity.next_steps.iter().map(|s| s.title.as_str()).collect();
            let line = format!("{}{target}: {}", entity.entity, titles.join("; "));
            let _ = writeln!(out, "  {}", visible(&line));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_escaped, hostile, sample};
    use super::*;

    #[test]
    fn outside_text_is_shown_escaped() {
        let text = render_scorecard(&hostile().scorecards[0]);
        // Two entity cells, a reason, a skip reason, three in the next steps.
        assert_escaped(&text, "red\\u{1b}[31m\\rover\\u{202e}txt.exe", 7);
    }

    #[test]
    fn shows_level_score_and_each_rule() {
        let text = render(&sample());
        assert!(
            text.starts_with("Coverage (cov) [draft]: Bronze < Silver\n"),
            "{text}"
        );
        assert!(text.contains("│ api "), "{text}");
        assert!(text.contains("1/3 (33.33%)"), "{text}");
        assert!(
            text.contains("codecov.codeCoverage() = 61.5 (github/acme/api), needs >= 80"),
            "{text}"
        );
        assert!(text.contains("exempt (until 2027-01-31)"), "{text}");
        assert!(
            text.contains("Next steps:\n  api for Silver: Coverage at least 80%\n"),
            "{text}"
        );
    }
}
