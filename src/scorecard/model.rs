//! The scorecard model: Cortex's exported scorecard YAML, as read (before rules are compiled).

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};

/// A scorecard as its YAML file states it, with the positions errors need.
#[derive(Clone, Debug, PartialEq)]
pub struct ScorecardSpec {
    /// The file it was read from.
    pub file: PathBuf,
    /// Unique id (`tag`).
    pub tag: String,
    /// Display name (`name`; the tag when missing).
    pub name: String,
    /// `description`.
    pub description: Option<String>,
    /// `draft: true`: evaluated, but marked draft in every output.
    pub draft: bool,
    /// `notifications`.
    pub notifications: Notifications,
    /// `exemptions {enabled, autoApprove}`.
    pub exemption_settings: ExemptionSettings,
    /// `evaluation.window` in hours (Cortex's default is 4 when unset).
    pub evaluation_window_hours: Option<u64>,
    /// `ladder`; `None` for a points-only scorecard.
    pub ladder: Option<Ladder>,
    /// `rules`, in file order.
    pub rules: Vec<RuleSpec>,
    /// The scorecard-level `filter`: entities outside it are `skipped`.
    pub filter: Option<FilterSpec>,
}

/// `notifications`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Notifications {
    /// `enabled` (Cortex: true for non-draft scorecards when unset).
    pub enabled: Option<bool>,
    /// `scoreDropNotificationsEnabled`.
    pub score_drop: bool,
}

/// `exemptions {enabled, autoApprove}`.
#[derive(Clone, Debug, PartialEq)]
pub struct ExemptionSettings {
    /// Whether exemptions apply at all (default true).
    pub enabled: bool,
    /// `autoApprove` (kept for round trips; file-based exemptions are approved by review).
    pub auto_approve: bool,
}

impl Default for ExemptionSettings {
    fn default() -> Self {
        ExemptionSettings {
            enabled: true,
            auto_approve: false,
        }
    }
}

/// `ladder`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ladder {
    /// `ladder.name`.
    pub name: Option<String>,
    /// The levels, sorted by rank, lowest (rank 1) first.
    pub levels: Vec<Level>,
}

/// One ladder level. Rank 1 is the lowest level.
#[derive(Clone, Debug, PartialEq)]
pub struct Level {
    /// `name` (`Bronze`).
    pub name: String,
    /// `rank`: 1 = lowest.
    pub rank: i64,
    /// `color` (`#c38b5f`).
    pub color: Option<String>,
    /// `description`.
    pub description: Option<String>,
}

/// One rule as written.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleSpec {
    /// `title` (the expression when missing).
    pub title: String,
    /// `description`.
    pub description: Option<String>,
    /// `expression` (CQL).
    pub expression: String,
    /// Where the expression text starts in the file.
    pub expression_at: TextPosition,
    /// `weight` (default 1).
    pub weight: f64,
    /// `level`: the ladder level this rule belongs to.
    pub level: Option<String>,
    /// `failureMessage` (a handlebars template).
    pub failure_message: Option<String>,
    /// Where the failure message text starts in the file.
    pub failure_message_at: TextPosition,
    /// `identifier` (a stable id, often a UUID in Cortex exports).
    pub identifier: Option<String>,
    /// `effectiveFrom`: before it the rule is shown but not counted.
    pub effective_from: Option<DateTime<Utc>>,
    /// The rule-level `filter`: entities outside it get `skipped` for this rule.
    pub filter: Option<FilterSpec>,
    /// 1-based line of the rule item.
    pub line: usize,
    /// Why the rule cannot be evaluated (given an `error` outcome), found while loading.
    pub problem: Option<String>,
}

impl RuleSpec {
    /// Whether `name` names this rule: its identifier or its title.
    pub fn is_named(&self, name: &str) -> bool {
        self.identifier.as_deref() == Some(name) || self.title == name
    }
}

/// Where a piece of text embedded in YAML starts, to move diagnostics about it into the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TextPosition {
    /// 1-based line of the text's first character.
    pub line: usize,
    /// 1-based column of the text's first character.
    pub column: usize,
    /// For a block scalar (`|`, `>`): the indentation of its lines, added to later lines' columns.
    pub block_indent: Option<usize>,
}

/// `filter {kind: GENERIC, types, groups, query}`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FilterSpec {
    /// `types {include|exclude}`: entity types.
    pub types: Option<Selector>,
    /// `groups {include|exclude}`: entity groups.
    pub groups: Option<Selector>,
    /// `query`: a CQL expression that must be true.
    pub query: Option<(String, TextPosition)>,
}

/// `include: [...]` or `exclude: [...]`.
#[derive(Clone, Debug, PartialEq)]
pub enum Selector {
    /// Only these.
    Include(Vec<String>),
    /// All but these.
    Exclude(Vec<String>),
}

impl Selector {
    /// Whether any of `values` is selected (case-insensitive). An empty include list selects
    /// nothing only when it names something; `include: []` selects everything.
    pub fn selects<'a>(&self, mut values: impl Iterator<Item = &'a str>) -> bool {
        match self {
            Selector::Include(list) if list.is_empty() => true,
            Selector::Include(list) => {
                values.any(|v| list.iter().any(|l| l.eq_ignore_ascii_case(v)))
            }
            Selector::Exclude(list) => {
                !values.any(|v| list.iter().any(|l| l.eq_ignore_ascii_case(v)))
            }
        }
    }

    /// `include service, website` / `exclude domain`.
    pub fn describe(&self) -> String {
        match self {
            Selector::Include(list) => format!("one of {}", list.join(", ")),
            Selector::Exclude(list) => format!("none of {}", list.join(", ")),
        }
    }
}

/// One exemption from an exemptions file: an entity does not have to pass a rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Exemption {
    /// The entity tag.
    pub entity: String,
    /// The rule's identifier or title.
    pub rule: String,
    /// Why.
    pub reason: String,
    /// Who asked.
    pub requested_by: Option<String>,
    /// The first day it no longer applies; `None` = permanent.
    pub until: Option<NaiveDate>,
    /// The exemptions file.
    pub file: PathBuf,
    /// 1-based line of the entry in its file.
    pub line: usize,
    /// 1-based column of the entry.
    pub column: usize,
}

impl Exemption {
    /// Whether it applies on `today` (an exemption stops applying on its `until` date).
    pub fn applies_on(&self, today: NaiveDate) -> bool {
        self.until.is_none_or(|until| today < until)
    }

    /// `until 2026-12-31` or `permanent`.
    pub fn until_text(&self) -> String {
        self.until
            .map_or_else(|| "permanent".to_string(), |d| d.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_case_insensitively() {
        let inc = Selector::Include(vec!["service".into()]);
        assert!(inc.selects(["Service"].into_iter()));
        assert!(!inc.selects(["domain"].into_iter()));
        let exc = Selector::Exclude(vec!["payments".into()]);
        assert!(!exc.selects(["web", "payments"].into_iter()));
        assert!(exc.selects(std::iter::empty()));
        assert!(Selector::Include(vec![]).selects(std::iter::empty()));
    }

    #[test]
    fn exemptions_stop_on_their_date() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let e = Exemption {
            entity: "a".into(),
            rule: "r".into(),
            reason: "x".into(),
            requested_by: None,
            until: Some(d("2026-12-01")),
            file: PathBuf::from("x.exemptions.yaml"),
            line: 1,
            column: 5,
        };
        assert!(e.applies_on(d("2026-11-30")));
        assert!(!e.applies_on(d("2026-12-01")));
        let permanent = Exemption { until: None, ..e };
        assert!(permanent.applies_on(d("2099-01-01")));
        assert_eq!(permanent.until_text(), "permanent");
    }
}
