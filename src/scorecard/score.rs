//! Pure scoring: from per-rule outcomes to the level reached, points, percentage and next steps.

use serde::{Deserialize, Serialize};

/// What happened to one rule for one entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The rule is true.
    Pass,
    /// The rule is false.
    Fail,
    /// The rule failed because a data source had no value (unmapped entity, no uploads).
    NoData,
    /// The data source or the expression failed.
    Error,
    /// Filtered out: not passing, not failing, not counted.
    Skipped,
    /// An exemption applies: counts as passing for levels, left out of the percentage.
    Exempt,
}

impl Outcome {
    /// Only `pass` and `exempt` count as passing.
    pub fn is_passing(self) -> bool {
        matches!(self, Outcome::Pass | Outcome::Exempt)
    }

    /// The JSON name (`no_data`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NoData => "no_data",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
            Outcome::Exempt => "exempt",
        }
    }
}

/// What scoring needs to know about one rule's result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleResult {
    /// Index of the rule's level in the ladder (sorted lowest first), if it has one.
    pub level: Option<usize>,
    /// The rule's weight.
    pub weight: f64,
    /// Its outcome.
    pub outcome: Outcome,
    /// False before the rule's `effectiveFrom`: shown, but not counted.
    pub counted: bool,
}

impl RuleResult {
    /// Whether the rule takes part in levels and points (counted and not filtered out).
    pub fn applies(&self) -> bool {
        self.counted && self.outcome != Outcome::Skipped
    }
}

/// The score of one entity on one scorecard.
#[derive(Clone, Debug, PartialEq)]
pub struct Score {
    /// Index of the highest level reached, if any.
    pub level: Option<usize>,
    /// Index of the next level to reach, if there is one above.
    pub next_level: Option<usize>,
    /// Sum of the weights of passing rules.
    pub score: f64,
    /// Sum of the weights of applicable rules, exempt ones left out.
    pub max_score: f64,
    /// `score / max_score` in percent (two decimals); `None` when nothing is counted.
    pub percentage: Option<f64>,
    /// Indices of the rules to fix, in order: for a ladder, every applicable non-passing rule
    /// of the next level and below, lowest level first; without one, failing rules by weight.
    pub next_steps: Vec<usize>,
}

/// Scores `rules` on a ladder of `levels` levels (0 for a points-only scorecard).
///
/// An entity reaches a level when every applicable rule of that level and of all lower levels
/// passes (`pass` or `exempt`). Points count `pass` only; exempt rules are left out of the
/// maximum, as Cortex does.
pub fn score(levels: usize, rules: &[RuleResult]) -> Score {
    let passing_up_to = |k: usize| {
        rules
            .iter()
            .filter(|r| r.applies() && r.level.is_some_and(|l| l <= k))
            .all(|r| r.outcome.is_passing())
    };
    let reached = (0..levels).take_while(|&k| passing_up_to(k)).last();
    let next_level = match reached {
        Some(k) if k + 1 < levels => Some(k + 1),
        Some(_) => None,
        None if levels > 0 => Some(0),
        None => None,
    };
    let counted = rules
        .iter()
        .filter(|r| r.applies() && r.outcome != Outcome::Exempt);
    let max_score: f64 = counted.clone().map(|r| r.weight).sum();
    let score: f64 = counted
        .filter(|r| r.outcome == Outcome::Pass)
        .map(|r| r.weight)
        .sum();
    let percentage = (max_score > 0.0).then(|| (score / max_score * 10_000.0).round() / 100.0);

    let failing = |r: &RuleResult| r.applies() && !r.outcome.is_passing();
    let next_steps = if levels == 0 {
        let mut steps: Vec<usize> = (0..rules.len())
            .filter(|&i| failing(&rules[i]) && rules[i].weight > 0.0)
            .collect();
        steps.sort_by(|&a, &b| rules[b].weight.total_cmp(&rules[a].weight));
        steps
    } else {
        let mut steps: Vec<usize> = match next_level {
            Some(next) => (0..rules.len())
                .filter(|&i| failing(&rules[i]) && rules[i].level.is_some_and(|l| l <= next))
                .collect(),
            None => Vec::new(),
        };
        steps.sort_by_key(|&i| rules[i].level);
        steps
    };
    Score {
        level: reached,
        next_level,
        score,
        max_score,
        percentage,
        next_steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Outcome::*;

    fn rule(level: Option<usize>, weight: f64, outcome: Outcome) -> RuleResult {
        RuleResult {
            level,
            weight,
            outcome,
            counted: true,
        }
    }

    #[test]
    fn levels_need_every_rule_of_the_level_and_below() {
        let rules = [
            rule(Some(0), 1.0, Pass),
            rule(Some(0), 1.0, Pass),
            rule(Some(1), 2.0, Fail),
            rule(Some(2), 3.0, Pass),
        ];
        let s = score(3, &rules);
        assert_eq!(s.level, Some(0));
        assert_eq!(s.next_level, Some(1));
        assert_eq!((s.score, s.max_score), (5.0, 7.0));
        assert_eq!(s.percentage, Some(71.43));
        assert_eq!(s.next_steps, [2]);
    }

    #[test]
    fn no_data_and_error_do_not_pass_and_a_failed_bronze_means_no_level() {
        let rules = [
            rule(Some(0), 1.0, NoData),
            rule(Some(1), 1.0, Pass),
            rule(Some(0), 1.0, Error),
        ];
        let s = score(2, &rules);
        assert_eq!(s.level, None);
        assert_eq!(s.next_level, Some(0));
        assert_eq!(s.next_steps, [0, 2]);
        assert_eq!(s.score, 1.0);
    }

    #[test]
    fn all_levels_reached_leaves_no_next_steps() {
        let s = score(2, &[rule(Some(0), 1.0, Pass), rule(Some(1), 1.0, Pass)]);
        assert_eq!((s.level, s.next_level), (Some(1), None));
        assert!(s.next_steps.is_empty());
        assert_eq!(s.percentage, Some(100.0));
    }

    #[test]
    fn a_level_without_applicable_rules_is_reached_when_the_ones_below_are() {
        let s = score(
            3,
            &[
                rule(Some(0), 1.0, Pass),
                rule(Some(1), 1.0, Skipped),
                rule(Some(2), 1.0, Fail),
            ],
        );
        assert_eq!(s.level, Some(1));
        assert_eq!(s.next_steps, [2]);
        assert_eq!((s.score, s.max_score), (1.0, 2.0));
    }

    #[test]
    fn exempt_counts_for_levels_but_not_for_points() {
        let s = score(
            2,
            &[
                rule(Some(0), 1.0, Exempt),
                rule(Some(0), 1.0, Pass),
                rule(Some(1), 2.0, Fail),
            ],
        );
        assert_eq!(s.level, Some(0));
        assert_eq!((s.score, s.max_score), (1.0, 3.0));
        assert_eq!(s.percentage, Some(33.33));
    }

    #[test]
    fn rules_before_effective_from_are_not_counted() {
        let mut later = rule(Some(0), 5.0, Fail);
        later.counted = false;
        let s = score(1, &[rule(Some(0), 1.0, Pass), later]);
        assert_eq!(s.level, Some(0));
        assert_eq!((s.score, s.max_score), (1.0, 1.0));
        assert!(s.next_steps.is_empty());
    }

    #[test]
    fn points_mode_orders_next_steps_by_weight() {
        let rules = [
            rule(None, 1.0, Fail),
            rule(None, 3.0, NoData),
            rule(None, 2.0, Pass),
            rule(None, 2.0, Fail),
        ];
        let s = score(0, &rules);
        assert_eq!(s.level, None);
        assert_eq!(s.next_level, None);
        assert_eq!((s.score, s.max_score), (2.0, 8.0));
        assert_eq!(s.percentage, Some(25.0));
        assert_eq!(s.next_steps, [1, 3, 0]);
    }

    #[test]
    fn nothing_counted_has_no_percentage() {
        let s = score(1, &[rule(Some(0), 1.0, Skipped)]);
        assert_eq!(s.percentage, None);
        assert_eq!(s.level, Some(0));
        let s = score(0, &[]);
        assert_eq!((s.level, s.percentage), (None, None));
    }
}
