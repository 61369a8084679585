//! The evaluation report: the JSON contract of `rubric eval --format json`, and its renderers.
//!
//! `{"scorecards": [{"tag", "name", "entities": [{"entity", "level", "score", "max_score",
//! "rules": [{"title", "expression", "level", "outcome", "message"}]}]}]}` plus the keys each
//! type documents. `outcome` is one of `pass`, `fail`, `no_data`, `error`, `skipped`, `exempt`.

pub mod junit;
pub mod layout;
pub mod markdown;
pub mod table;
pub mod visible;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, Serializer};

use super::score::Outcome;
use crate::diag::{Diagnostic, Severity};

/// One evaluation run: every scorecard over every entity.
///
/// The scorecards' type is a parameter so that the same fields, in the same order, serialize a
/// report whose entities are evaluated while it is written (`Pipeline::streamed`): the output
/// of a large catalog is then never a whole tree in memory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport<C = ScorecardReport> {
    /// When the rules were evaluated.
    pub evaluated_at: DateTime<Utc>,
    /// One entry per scorecard, in scorecard tag order.
    pub scorecards: Vec<C>,
    /// Catalog and scorecard warnings and errors met on the way.
    #[serde(default)]
    pub diagnostics: Vec<DiagnosticReport>,
}

/// One scorecard's results; `E` is the list of entity results (see [`EvalReport`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScorecardReport<E = Vec<EntityReport>> {
    /// `tag`.
    pub tag: String,
    /// `name`.
    pub name: String,
    /// `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `draft: true` scorecards are evaluated but marked.
    #[serde(default)]
    pub draft: bool,
    /// The ladder's levels, lowest (rank 1) first; empty for a points-only scorecard.
    #[serde(default)]
    pub levels: Vec<LevelReport>,
    /// One entry per catalog entity, in catalog order.
    pub entities: E,
}

/// A ladder level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelReport {
    /// `Bronze`.
    pub name: String,
    /// 1 = lowest.
    pub rank: i64,
    /// `#c38b5f`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
}

/// One entity's result on one scorecard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntityReport {
    /// The entity tag.
    pub entity: String,
    /// The highest level reached, or null.
    pub level: Option<String>,
    /// The rank of that level (1 = lowest), or null.
    #[serde(default)]
    pub rank: Option<i64>,
    /// The level above it, or null when there is none.
    #[serde(default)]
    pub next_level: Option<String>,
    /// Sum of the weights of passing rules.
    #[serde(serialize_with = "number")]
    pub score: f64,
    /// Sum of the weights of counted rules (skipped, exempt and not-yet-effective left out).
    #[serde(serialize_with = "number")]
    pub max_score: f64,
    /// `score / max_score` in percent, or null when nothing is counted.
    #[serde(default, serialize_with = "opt_number")]
    pub percentage: Option<f64>,
    /// Why the whole entity is outside the scorecard's filter (every rule is then `skipped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The rules to fix for the next level, in order.
    #[serde(default)]
    pub next_steps: Vec<NextStep>,
    /// Every rule's outcome, in scorecard order.
    pub rules: Vec<RuleReport>,
}

/// One rule to fix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NextStep {
    /// The rule title.
    pub title: String,
    /// Its level.
    pub level: Option<String>,
    /// What to do: the rendered failure message, else why it failed.
    pub message: String,
}

/// One rule's outcome for one entity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleReport {
    /// `title`.
    pub title: String,
    /// `identifier`, when the scorecard gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// The CQL expression.
    pub expression: String,
    /// The rule's level, or null.
    pub level: Option<String>,
    /// The rule's weight.
    #[serde(serialize_with = "number")]
    pub weight: f64,
    /// `pass`, `fail`, `no_data`, `error`, `skipped` or `exempt`.
    pub outcome: Outcome,
    /// One line on why: the values that decided it, why a value was null, or the error.
    pub message: String,
    /// The rendered `failureMessage`, when the rule did not pass and has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_message: Option<String>,
    /// The value the expression produced (JSON).
    #[serde(default)]
    pub value: serde_json::Value,
    /// Named captures of the expression.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub captures: BTreeMap<String, serde_json::Value>,
    /// The facts the rule read, with their values, statuses and origins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputReport>,
    /// False when the rule is skipped (out of scope) or before its `effectiveFrom`: shown, not
    /// counted.
    #[serde(default = "yes")]
    pub counted: bool,
    /// `effectiveFrom`, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_from: Option<DateTime<Utc>>,
    /// For an exempt rule: `YYYY-MM-DD` (the day it stops applying) or `permanent`.
    #[serde(default)]
    pub exempt_until: Option<String>,
    /// For an exempt rule: the reason and who asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exemption: Option<String>,
}

/// One fact a rule read: the values that decided its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputReport {
    /// The fact as the CQL call it stands for: `codecov.codeCoverage()`.
    pub fact: String,
    /// Its value (null when missing).
    pub value: serde_json::Value,
    /// `ok`, `no_data` or `error`.
    pub status: crate::facts::FactState,
    /// Why it is missing, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where it came from (`github/acme/api, flag backend`), and whether it is stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl InputReport {
    /// The report of one fact a rule read.
    pub fn new(key: &crate::facts::FactKey, fact: &crate::facts::Fact) -> Self {
        InputReport {
            fact: key.to_string(),
            value: fact.value.to_json(),
            status: fact.status.state(),
            reason: fact.null_reason().map(str::to_string),
            origin: fact.origin.clone(),
        }
    }
}

fn yes() -> bool {
    true
}

/// A diagnostic as the report carries it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticReport {
    /// `error` or `warning`.
    pub severity: String,
    /// The file, when there is one.
    #[serde(default)]
    pub file: Option<String>,
    /// 1-based line, 0 when unknown.
    pub line: usize,
    /// 1-based column, 0 when unknown.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl From<&Diagnostic> for DiagnosticReport {
    fn from(d: &Diagnostic) -> Self {
        DiagnosticReport {
            severity: match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            }
            .to_string(),
            file: d.file.as_ref().map(|f| f.display().to_string()),
            line: d.line,
            column: d.column,
            message: d.message.clone(),
            hint: d.hint.clone(),
        }
    }
}

/// What the text formats print for a run without scorecards.
const NO_SCORECARDS: &str = "No scorecards to evaluate.\n";

/// Calls `each` with the index and each scorecard of `cards` in turn (stopping at the first
/// error); whether there was any.
fn each_scorecard<C: std::borrow::Borrow<ScorecardReport>>(
    cards: impl IntoIterator<Item = C>,
    mut each: impl FnMut(usize, &ScorecardReport) -> std::io::Result<()>,
) -> std::io::Result<bool> {
    let mut any = false;
    for (i, card) in cards.into_iter().enumerate() {
        each(i, card.borrow())?;
        any = true;
    }
    Ok(any)
}

/// Whole numbers serialize as integers (`3`, not `3.0`).
pub(crate) fn number<S: Serializer>(n: &f64, s: S) -> Result<S::Ok, S::Error> {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        s.serialize_i64(*n as i64)
    } else {
        s.serialize_f64(*n)
    }
}

pub(crate) fn opt_number<S: Serializer>(n: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => number(n, s),
        None => s.serialize_none(),
    }
}

/// `3`, `2.5`: a number as people read it.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}

impl EvalReport {
    /// The report as pretty JSON (the `--format json` contract).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

impl<E> ScorecardReport<E> {
    /// The same scorecard with `entities(&self.entities)` as its entity results.
    pub fn with_entities<F>(&self, entities: impl FnOnce(&E) -> F) -> ScorecardReport<F> {
        ScorecardReport {
            tag: self.tag.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            draft: self.draft,
            levels: self.levels.clone(),
            entities: entities(&self.entities),
        }
    }
}

impl ScorecardReport {
    /// The level column for `entity`: `-` on a points-only scorecard.
    pub fn level_text(&self, entity: &EntityReport) -> String {
        if self.levels.is_empty() && entity.skipped.is_none() {
            "-".to_string()
        } else {
            entity.level_text()
        }
    }
}

impl EntityReport {
    /// `Gold`, `none` or `skipped` as tables show it (see [`ScorecardReport::level_text`]).
    pub fn level_text(&self) -> String {
        match (&self.skipped, &self.level) {
            (Some(_), _) => "skipped".to_string(),
            (None, Some(level)) => level.clone(),
            (None, None) => "none".to_string(),
        }
    }

    /// `3/7 (42.86%)`, or `-` for an entity outside the scorecard's filter.
    pub fn score_text(&self) -> String {
        if self.skipped.is_some() {
            return "-".to_string();
        }
        let pct = self
            .percentage
            .map(|p| format!(" ({}%)", format_number(p)))
            .unwrap_or_default();
        format!(
            "{}/{}{pct}",
            format_number(self.score),
            format_number(self.max_score)
        )
    }
}

impl RuleReport {
    /// The outcome as tables show it, with `exempt until ...` and `not counted before ...`.
    /// Whether the rule is before its `effectiveFrom`: shown with its outcome, not in force.
    pub fn not_yet_in_force(&self) -> bool {
        !self.counted && self.outcome != Outcome::Skipped && self.effective_from.is_some()
    }

    /// The outcome as people read it, with an exemption's end or the day the rule counts from.
    pub fn outcome_text(&self) -> String {
        let mut text = self.outcome.as_str().to_string();
        if let Some(until) = &self.exempt_until {
            text.push_str(&format!(" (until {until})"));
        }
        if !self.counted
            && let Some(from) = self.effective_from
        {
            text.push_str(&format!(" (counts from {})", from.date_naive()));
        }
        text
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// [`sample`] with one more failing rule that counts only from 2030-01-01.
    pub fn sample_with_a_rule_not_yet_in_force() -> EvalReport {
        let mut report = sample();
        let rules = &mut report.scorecards[0].entities[0].rules;
        let mut later = rules[0].clone();
        later.title = "Has a runbook link".into();
        later.outcome = Outcome::Fail;
        later.message = "links(\"runbook\").length = 0, needs > 0".into();
        later.counted = false;
        later.effective_from = Some("2030-01-01T00:00:00Z".parse().unwrap());
        rules.push(later);
        report
    }

    /// A small report used by the renderer tests.
    pub fn sample() -> EvalReport {
        let rule = |title: &str, outcome: Outcome, message: &str| RuleReport {
            title: title.into(),
            identifier: None,
            expression: "codecov.codeCoverage() >= 80".into(),
            level: Some("Silver".into()),
            weight: 2.0,
            outcome,
            message: message.into(),
            failure_message: (outcome == Outcome::Fail).then(|| "Raise coverage to 80%.".into()),
            value: json!(false),
            captures: BTreeMap::new(),
            inputs: Vec::new(),
            counted: true,
            effective_from: None,
            exempt_until: None,
            exemption: None,
        };
        let mut exempt = rule(
            "Has CODEOWNERS",
            Outcome::Exempt,
            "exempt: migrating (jane)",
        );
        exempt.exempt_until = Some("2027-01-31".into());
        EvalReport {
            evaluated_at: "2026-11-22T05:00:00Z".parse().unwrap(),
            scorecards: vec![ScorecardReport {
                tag: "cov".into(),
                name: "Coverage".into(),
                description: None,
                draft: true,
                levels: vec![
                    LevelReport {
                        name: "Bronze".into(),
                        rank: 1,
                        color: None,
                    },
                    LevelReport {
                        name: "Silver".into(),
                        rank: 2,
                        color: None,
                    },
                ],
                entities: vec![EntityReport {
                    entity: "api".into(),
                    level: Some("Bronze".into()),
                    rank: Some(1),
                    next_level: Some("Silver".into()),
                    score: 1.0,
                    max_score: 3.0,
                    percentage: Some(33.33),
                    skipped: None,
                    next_steps: vec![NextStep {
                        title: "Coverage at least 80%".into(),
                        level: Some("Silver".into()),
                        message: "Raise coverage to 80%.".into(),
                    }],
                    rules: vec![
                        rule(
                            "Reports coverage",
                            Outcome::Pass,
                            "codecov is set (github/acme/api)",
                        ),
                        rule(
                            "Coverage at least 80%",
                            Outcome::Fail,
                            "codecov.codeCoverage() = 61.5 (github/acme/api), needs >= 80",
                        ),
                        rule(
                            "Uploads <recent> & \"fresh\"",
                            Outcome::Error,
                            "Codecov answered 500",
                        ),
                        exempt,
                    ],
                }],
            }],
            diagnostics: vec![],
        }
    }

    /// Terminal and bidi controls as a hostile descriptor or provider would send them.
    pub const HOSTILE: &str = "red\x1b[31m\rover\u{202e}txt.exe";

    /// [`sample`] with [`HOSTILE`] in the entity name, a rule message, a skip reason and a
    /// next step.
    pub fn hostile() -> EvalReport {
        let mut report = sample();
        let card = &mut report.scorecards[0];
        let mut skipped = card.entities[0].clone();
        skipped.entity = format!("skipped-{HOSTILE}");
        skipped.skipped = Some(format!("owner is {HOSTILE}"));
        let e = &mut card.entities[0];
        e.entity = HOSTILE.into();
        e.rules[2].message = format!("Codecov answered: {HOSTILE}");
        e.next_steps[0].title = format!("Fix {HOSTILE}");
        card.entities.push(skipped);
        report
    }

    /// Asserts `text` holds none of [`HOSTILE`]'s controls and `count` escaped copies of it.
    pub fn assert_escaped(text: &str, escaped: &str, count: usize) {
        for c in ['\x1b', '\r', '\u{202e}'] {
            assert!(!text.contains(c), "{c:?} left in {text}");
        }
        assert_eq!(text.matches(escaped).count(), count, "{text}");
    }

    #[test]
    fn json_keeps_the_contract() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        let e = &v["scorecards"][0]["entities"][0];
        assert_eq!(v["scorecards"][0]["tag"], "cov");
        assert_eq!(e["entity"], "api");
        assert_eq!(e["level"], "Bronze");
        assert_eq!(e["score"], json!(1));
        assert_eq!(e["max_score"], json!(3));
        assert_eq!(e["percentage"], json!(33.33));
        let r = &e["rules"][1];
        for key in ["title", "expression", "level", "outcome", "message"] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        assert_eq!(r["outcome"], "fail");
        assert_eq!(e["rules"][3]["exempt_until"], "2027-01-31");
        assert_eq!(e["next_steps"][0]["title"], "Coverage at least 80%");
        let back: EvalReport = serde_json::from_value(v).unwrap();
        assert_eq!(back, sample());
    }
}
