//! `--format table`: per scorecard, a table of entities, levels, scores and rule outcomes, laid
//! out to a given width. When the table would not fit with readable reasons, each entity becomes
//! a block: a heading line, then each rule and its reason on lines of their own.

use std::borrow::Borrow;
use std::fmt::Write;

use super::layout::{fit_table, wrap};
use super::visible::visible;
use super::{EvalReport, ScorecardReport, each_scorecard};

/// The table's columns.
const HEADER: [&str; 6] = ["Entity", "Level", "Score", "Rule", "Outcome", "Reason"];

/// Renders the whole report with no line wider than `width` columns (unless one word is).
pub fn render(report: &EvalReport, width: usize) -> String {
    let mut out = String::new();
    let _ = render_each(&report.scorecards, width, |text| {
        out.push_str(text);
        Ok(())
    });
    out
}

/// Renders each scorecard of `cards` as it comes and hands its text to `write` (the pieces
/// [`render`] joins), so a caller can write and drop one scorecard before the next is made.
pub fn render_each<C: Borrow<ScorecardReport>>(
    cards: impl IntoIterator<Item = C>,
    width: usize,
    mut write: impl FnMut(&str) -> std::io::Result<()>,
) -> std::io::Result<()> {
    each_scorecard(cards, |i, card| {
        if i > 0 {
            write("\n")?;
        }
        write(&render_scorecard(card, width))
    })
    .and_then(|any| {
        if any {
            Ok(())
        } else {
            write(super::NO_SCORECARDS)
        }
    })
}

/// One entity as both layouts show it, every text from outside already through [`visible`], so
/// it cannot move the cursor, recolour or reorder the terminal.
struct Entry {
    entity: String,
    level: String,
    score: String,
    /// The line that heads the entity's block.
    heading: String,
    /// Each rule's title, outcome and reason.
    rules: Vec<[String; 3]>,
}

/// The entities of `card` as both layouts show them.
fn entries(card: &ScorecardReport) -> Vec<Entry> {
    card.entities
        .iter()
        .map(|entity| {
            let tag = visible(&entity.entity).into_owned();
            let level = visible(&card.level_text(entity)).into_owned();
            let score = entity.score_text();
            let (heading, rules) = match &entity.skipped {
                Some(why) => (
                    format!("{tag}: skipped"),
                    vec![[
                        "(all rules)".to_string(),
                        "skipped".to_string(),
                        visible(why).into_owned(),
                    ]],
                ),
                None => {
                    // A points-only scorecard has no level to name.
                    let reached = if card.levels.is_empty() {
                        String::new()
                    } else {
                        format!("level {level}, ")
                    };
                    let rules = entity
                        .rules
                        .iter()
                        .map(|rule| {
                            [
                                visible(&rule.title).into_owned(),
                                visible(&rule.outcome_text()).into_owned(),
                                visible(&rule.message).into_owned(),
                            ]
                        })
                        .collect();
                    (format!("{tag}: {reached}score {score}"), rules)
                }
            };
            Entry {
                entity: tag,
                level,
                score,
                heading,
                rules,
            }
        })
        .collect()
}

/// One scorecard: a heading, the table (or the blocks), then each entity's next steps.
pub fn render_scorecard(card: &ScorecardReport, width: usize) -> String {
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
    let heading = format!(
        "{} ({}){draft}: {}",
        visible(&card.name),
        visible(&card.tag),
        visible(&ladder)
    );
    wrap(&mut out, &heading, width, 0, 2);
    let entries = entries(card);
    match fit_table(HEADER, &rows(&entries), width) {
        Some(table) => {
            let _ = writeln!(out, "{table}");
        }
        None => blocks(&mut out, &entries, width),
    }
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
            wrap(&mut out, &visible(&line), width, 2, 4);
        }
    }
    out
}

/// The table's rows: an entity's cells on its first rule's row only.
fn rows(entries: &[Entry]) -> Vec<[&str; 6]> {
    let mut rows = Vec::new();
    for e in entries {
        if e.rules.is_empty() {
            rows.push([e.entity.as_str(), &e.level, &e.score, "", "", ""]);
        }
        for (i, [title, outcome, reason]) in e.rules.iter().enumerate() {
            let (entity, level, score) = if i == 0 {
                (e.entity.as_str(), e.level.as_str(), e.score.as_str())
            } else {
                ("", "", "")
            };
            rows.push([entity, level, score, title, outcome, reason]);
        }
    }
    rows
}

/// One block per entity: its heading, then each rule as `title: outcome` with its reason
/// indented below, every line wrapped to `width` at spaces.
fn blocks(out: &mut String, entries: &[Entry], width: usize) {
    for e in entries {
        wrap(out, &e.heading, width, 0, 2);
        for [title, outcome, reason] in &e.rules {
            // A long title's continuation goes deeper than the reason, so the two stay apart.
            wrap(out, &format!("{title}: {outcome}"), width, 2, 6);
            wrap(out, reason, width, 4, 4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_escaped, hostile, sample};
    use super::super::{EntityReport, Outcome};
    use super::*;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn outside_text_is_shown_escaped() {
        for width in [60, 200] {
            let text = render_scorecard(&hostile().scorecards[0], width);
            // Two entity cells, a reason, a skip reason, three in the next steps.
            assert_escaped(&text, "red\\u{1b}[31m\\rover\\u{202e}txt.exe", 7);
        }
    }

    #[test]
    fn shows_level_score_and_each_rule() {
        let text = render(&sample(), 200);
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

    /// [`sample`] with the long reasons of the demo, a skipped entity and a long next step.
    fn wordy() -> EvalReport {
        let mut report = sample();
        let card = &mut report.scorecards[0];
        let mut identity = card.entities[0].clone();
        identity.entity = "identity-platform-service".into();
        identity.rules[0].title = "Coverage is not falling over 30 days".into();
        identity.rules[0].outcome = Outcome::NoData;
        identity.rules[0].message = "codecov.coverageTrend(days=30) is null \
            (github/acme/platform, flag identity: no coverage measurements in the last 30 \
            days), needs >= 0"
            .into();
        identity.next_steps[0].title =
            "Coverage is not falling over 30 days; Tracks at least 100 lines".into();
        let skipped = EntityReport {
            entity: "legacy-reports".into(),
            skipped: Some(
                "query `codecov != null` is false: codecov is null (entity has no Codecov \
                 mapping: no repository), needs a value"
                    .into(),
            ),
            next_steps: Vec::new(),
            ..card.entities[0].clone()
        };
        card.entities.extend([identity, skipped]);
        report
    }

    #[test]
    fn every_line_fits_and_words_stay_whole() {
        let report = wordy();
        let card = &report.scorecards[0];
        let words: Vec<&str> = card
            .entities
            .iter()
            .flat_map(|e| {
                e.rules
                    .iter()
                    .map(|r| r.message.as_str())
                    .chain(e.skipped.as_deref())
            })
            .flat_map(|reason| reason.split(' '))
            .collect();
        for width in [50, 60, 80, 100, 120, 160, 200] {
            let text = render(&report, width);
            for line in text.lines() {
                assert!(line.width() <= width, "{width}: {line:?} in\n{text}");
            }
            let shown: Vec<&str> = text.split_whitespace().collect();
            for word in &words {
                assert!(shown.contains(word), "{width}: {word:?} split in\n{text}");
            }
        }
    }

    #[test]
    fn a_table_when_reasons_fit_else_one_block_per_entity() {
        let report = wordy();
        let wide = render(&report, 200);
        assert!(wide.contains("┆ Reason"), "{wide}");
        // The reasons wrap inside their column, between words.
        assert!(wide.lines().all(|l| l.width() <= 200), "{wide}");
        let narrow = render(&report, 80);
        assert!(!narrow.contains('│'), "{narrow}");
        assert!(
            narrow.contains(
                "identity-platform-service: level Bronze, score 1/3 (33.33%)\n  \
                 Coverage is not falling over 30 days: no_data\n    \
                 codecov.coverageTrend(days=30) is null (github/acme/platform, flag identity:\n    \
                 no coverage measurements in the last 30 days), needs >= 0\n"
            ),
            "{narrow}"
        );
        assert!(
            narrow.contains(
                "legacy-reports: skipped\n  (all rules): skipped\n    query `codecov != null`"
            ),
            "{narrow}"
        );
        assert!(
            narrow.contains(
                "  identity-platform-service for Silver: Coverage is not falling over 30 days;\n    \
                 Tracks at least 100 lines\n"
            ),
            "{narrow}"
        );
    }
}
