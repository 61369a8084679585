//! `--format table`: per scorecard, a table of entities, levels, scores and rule outcomes.

use std::fmt::Write;

use comfy_table::{ContentArrangement, Table, presets};

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

/// One scorecard: a heading, the table, then each entity's next steps.
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
    let _ = writeln!(out, "{} ({}){draft}: {ladder}", card.name, card.tag);
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_FULL_CONDENSED.with_rounded_corners())
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(["Entity", "Level", "Score", "Rule", "Outcome", "Reason"]);
    for entity in &card.entities {
        if let Some(why) = &entity.skipped {
            table.add_row([
                entity.entity.as_str(),
                "skipped",
                "-",
                "(all rules)",
                "skipped",
                why.as_str(),
            ]);
            continue;
        }
        if entity.rules.is_empty() {
            table.add_row([
                entity.entity.clone(),
                card.level_text(entity),
                entity.score_text(),
                String::new(),
                String::new(),
                String::new(),
            ]);
        }
        for (i, rule) in entity.rules.iter().enumerate() {
            let (name, level, score) = if i == 0 {
                (
                    entity.entity.clone(),
                    card.level_text(entity),
                    entity.score_text(),
                )
            } else {
                Default::default()
            };
            table.add_row([
                name,
                level,
                score,
                rule.title.clone(),
                rule.outcome_text(),
                rule.message.clone(),
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
            let _ = writeln!(out, "  {}{target}: {}", entity.entity, titles.join("; "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::sample;
    use super::*;

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
