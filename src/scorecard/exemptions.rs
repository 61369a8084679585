//! Exemptions: a file beside the scorecard (`<scorecard>.exemptions.yaml`) lists entities that
//! need not pass a rule, until a date or permanently.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use super::model::{Exemption, RuleSpec};

/// Whether `path` is an exemptions file rather than a scorecard.
pub fn is_exemptions_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".exemptions.yaml") || n.ends_with(".exemptions.yml"))
}

/// The exemptions file beside `scorecard_file`, if one exists.
pub fn exemptions_file_for(scorecard_file: &Path) -> Option<PathBuf> {
    let stem = scorecard_file.file_stem()?.to_str()?;
    let dir = scorecard_file.parent()?;
    ["yaml", "yml"]
        .iter()
        .map(|ext| dir.join(format!("{stem}.exemptions.{ext}")))
        .find(|p| p.is_file())
}

/// The exemptions for the entity `is_entity` recognises (by tag or ref) and `rule`: the one in
/// force on `today` (if any), and the latest expired one (if any), to mention in the outcome.
pub fn lookup<'a>(
    exemptions: &'a [Exemption],
    is_entity: impl Fn(&str) -> bool,
    rule: &RuleSpec,
    today: NaiveDate,
) -> (Option<&'a Exemption>, Option<&'a Exemption>) {
    let matching = exemptions
        .iter()
        .filter(|e| is_entity(&e.entity) && rule.is_named(&e.rule));
    let active = matching.clone().find(|e| e.applies_on(today));
    let expired = matching
        .filter(|e| !e.applies_on(today))
        .max_by_key(|e| e.until);
    (active, expired)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scorecard::model::TextPosition;

    fn rule(title: &str, identifier: Option<&str>) -> RuleSpec {
        RuleSpec {
            title: title.into(),
            description: None,
            expression: "true".into(),
            expression_at: TextPosition::default(),
            weight: 1.0,
            level: None,
            failure_message: None,
            failure_message_at: TextPosition::default(),
            identifier: identifier.map(Into::into),
            effective_from: None,
            filter: None,
            line: 1,
            problem: None,
        }
    }

    fn exemption(entity: &str, rule: &str, until: Option<&str>) -> Exemption {
        Exemption {
            entity: entity.into(),
            rule: rule.into(),
            reason: "r".into(),
            requested_by: None,
            until: until.map(|d| d.parse().unwrap()),
            file: "x.exemptions.yaml".into(),
            line: 1,
            column: 5,
        }
    }

    #[test]
    fn matches_by_identifier_or_title_and_honours_expiry() {
        let list = [
            exemption("api", "cov-80", Some("2026-01-01")),
            exemption("api", "Coverage 80", Some("2027-01-01")),
            exemption("other", "cov-80", None),
        ];
        let r = rule("Coverage 80", Some("cov-80"));
        let today: NaiveDate = "2026-06-01".parse().unwrap();
        let api = |name: &str| name == "api";
        let (active, expired) = lookup(&list, api, &r, today);
        assert_eq!(active, Some(&list[1]));
        assert_eq!(expired, Some(&list[0]));
        let later: NaiveDate = "2027-01-01".parse().unwrap();
        let (active, expired) = lookup(&list, api, &r, later);
        assert_eq!(active, None);
        assert_eq!(expired, Some(&list[1]));
    }

    #[test]
    fn recognises_exemption_files() {
        assert!(is_exemptions_file(Path::new("s/coverage.exemptions.yaml")));
        assert!(!is_exemptions_file(Path::new("s/coverage.yaml")));
    }
}
