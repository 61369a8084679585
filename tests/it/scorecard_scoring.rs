//! Scoring through real compiled rules: levels, points, filters, drafts, effectiveFrom and
//! exemptions (including expiry), and Cortex-style scorecards using data sources rubric lacks.

use std::path::Path;

use chrono::{DateTime, Utc};
use rubric::catalog::{Catalog, CodecovProject, Entity, MappedBy};
use rubric::cql::Registry;
use rubric::facts::{Fact, FactKey};
use rubric::providers::{Providers, catalog::resolve};
use rubric::scorecard::Scorecard;
use rubric::scorecard::report::EntityReport;
use rubric::scorecard::score::Outcome;

fn entity(tag: &str, kind: &str, groups: &[&str], coverage_project: bool) -> Entity {
    Entity {
        kind: kind.into(),
        entity_type: kind.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        codecov: coverage_project.then(|| CodecovProject {
            service: "github".into(),
            owner: "acme".into(),
            repo: tag.into(),
            flag: None,
            account: None,
            mapped_by: MappedBy::Descriptor,
        }),
        unmapped_reason: (!coverage_project).then(|| "no repository".into()),
        ..Entity::new(tag)
    }
}

/// Answers every key of `card` for `e`: catalog facts from the catalog, Codecov coverage from
/// `coverage` (no data when `None`), anything else as an unconfigured source.
fn facts(card: &Scorecard, e: &Entity, catalog: &Catalog, coverage: Option<f64>) -> Vec<Fact> {
    card.fact_keys()
        .iter()
        .map(|k: &FactKey| match (k.source.name(), k.function.as_str()) {
            ("catalog", _) => resolve(k, e, catalog),
            ("codecov", "codeCoverage") => match (coverage, &e.codecov) {
                (Some(c), Some(p)) => Fact::ok(c).from_origin(p.describe()),
                (_, Some(_)) => Fact::no_data("no coverage uploads on the default branch"),
                (_, None) => Fact::no_data("entity has no Codecov mapping: no repository"),
            },
            ("codecov", "") => match &e.codecov {
                Some(p) => Fact::ok(true).from_origin(p.describe()),
                None => Fact::no_data("entity has no Codecov mapping: no repository"),
            },
            (source, _) => Fact::error(format!("data source {source} is not configured")),
        })
        .collect()
}

fn load(yaml: &str) -> Scorecard {
    let (card, diags) = Scorecard::from_source(yaml, Path::new("test.yaml"), Registry::standard());
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    card.expect("the scorecard loads")
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn run(card: &Scorecard, e: &Entity, coverage: Option<f64>, now: &str) -> EntityReport {
    let catalog = Catalog::from_entities(vec![e.clone()], vec![]);
    let facts = facts(card, e, &catalog, coverage);
    let lookup = Providers::catalog_only();
    card.evaluate(
        e,
        &catalog,
        &facts,
        &lookup.lookup_for(e, &catalog),
        at(now),
    )
}

fn outcomes(r: &EntityReport) -> Vec<Outcome> {
    r.rules.iter().map(|r| r.outcome).collect()
}

const LADDER: &str = r#"
tag: cov
name: Coverage
ladder:
  levels:
    - {name: Gold, rank: 3}
    - {name: Bronze, rank: 1}
    - {name: Silver, rank: 2}
rules:
  - title: Mapped
    expression: codecov != null
    level: Bronze
  - title: Fifty
    expression: codecov.codeCoverage() >= 50
    level: Bronze
  - title: Eighty
    identifier: cov-80
    expression: captures("cov", codecov.codeCoverage()) >= 80
    level: Silver
    weight: 2
    failureMessage: "{{entity.tag}} is at {{context.evaluation.captures.cov}}%, needs 80%"
  - title: Ninety-five
    expression: codecov.codeCoverage() >= 95
    level: Gold
    weight: 3
"#;

#[test]
fn levels_need_every_rule_of_the_level_and_below_rank_1_lowest() {
    use Outcome::*;
    let card = load(LADDER);
    let api = entity("api", "service", &[], true);
    let cases = [
        (Some(97.0), Some("Gold"), [Pass, Pass, Pass, Pass], 7.0),
        (Some(85.0), Some("Silver"), [Pass, Pass, Pass, Fail], 4.0),
        (Some(60.0), Some("Bronze"), [Pass, Pass, Fail, Fail], 2.0),
        (Some(10.0), None, [Pass, Fail, Fail, Fail], 1.0),
        (None, None, [Pass, NoData, NoData, NoData], 1.0),
    ];
    for (coverage, level, rules, score) in cases {
        let r = run(&card, &api, coverage, "2026-06-01T00:00:00Z");
        assert_eq!(r.level.as_deref(), level, "{coverage:?}");
        assert_eq!(outcomes(&r), rules, "{coverage:?}");
        assert_eq!((r.score, r.max_score), (score, 7.0), "{coverage:?}");
    }
    let unmapped = run(
        &card,
        &entity("x", "service", &[], false),
        None,
        "2026-06-01T00:00:00Z",
    );
    assert_eq!(outcomes(&unmapped), [Fail, NoData, NoData, NoData]);
    assert_eq!(unmapped.level, None);
}

#[test]
fn failure_messages_render_captures_and_next_steps_list_rules_in_order() {
    let card = load(LADDER);
    let r = run(
        &card,
        &entity("api", "service", &[], true),
        Some(61.5),
        "2026-06-01T00:00:00Z",
    );
    assert_eq!(r.next_level.as_deref(), Some("Silver"));
    assert_eq!(
        r.rules[2].failure_message.as_deref(),
        Some("api is at 61.5%, needs 80%")
    );
    assert!(
        r.rules[2].message.contains("61.5"),
        "{}",
        r.rules[2].message
    );
    let steps: Vec<&str> = r.next_steps.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(steps, ["Eighty"]);
    assert_eq!(r.next_steps[0].message, "api is at 61.5%, needs 80%");

    let r = run(
        &card,
        &entity("api", "service", &[], true),
        Some(10.0),
        "2026-06-01T00:00:00Z",
    );
    let steps: Vec<&str> = r.next_steps.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(steps, ["Fifty"], "only what the next level (Bronze) needs");
}

#[test]
fn points_without_levels_and_percentage() {
    let card = load(
        r#"
tag: points
name: Points
rules:
  - {title: A, expression: 'entity.type() == "service"', weight: 3}
  - {title: B, expression: 'hasGroup("payments")', weight: 1}
  - {title: C, expression: 'codecov.codeCoverage() >= 80', weight: 2}
"#,
    );
    let r = run(
        &card,
        &entity("api", "service", &["web"], true),
        Some(90.0),
        "2026-06-01T00:00:00Z",
    );
    assert_eq!(r.level, None);
    assert_eq!(
        (r.score, r.max_score, r.percentage),
        (5.0, 6.0, Some(83.33))
    );
    assert_eq!(
        r.next_steps
            .iter()
            .map(|s| s.title.as_str())
            .collect::<Vec<_>>(),
        ["B"]
    );
}

#[test]
fn filters_skip_entities_and_rules() {
    use Outcome::*;
    let card = load(
        r#"
tag: f
name: Filters
filter:
  kind: GENERIC
  types: {include: [service]}
  groups: {exclude: [archived]}
ladder:
  levels: [{name: Bronze, rank: 1}]
rules:
  - title: Mapped
    expression: codecov != null
    level: Bronze
  - title: Payments covered
    expression: codecov.codeCoverage() >= 90
    level: Bronze
    filter: {kind: GENERIC, groups: {include: [payments]}}
  - title: Tier 1 covered
    expression: codecov.codeCoverage() >= 95
    level: Bronze
    filter: {kind: GENERIC, query: 'custom("tier") == "tier1"'}
"#,
    );
    let now = "2026-06-01T00:00:00Z";
    let domain = run(&card, &entity("d", "domain", &[], false), None, now);
    assert_eq!(outcomes(&domain), [Skipped, Skipped, Skipped]);
    assert_eq!(
        domain.skipped.as_deref(),
        Some("type `domain` is not one of service")
    );
    assert_eq!((domain.level.clone(), domain.max_score), (None, 0.0));

    let archived = run(
        &card,
        &entity("a", "service", &["archived"], true),
        Some(99.0),
        now,
    );
    assert_eq!(outcomes(&archived), [Skipped, Skipped, Skipped]);

    let web = run(
        &card,
        &entity("w", "service", &["web"], true),
        Some(50.0),
        now,
    );
    assert_eq!(outcomes(&web), [Pass, Skipped, Skipped]);
    assert_eq!(
        web.level.as_deref(),
        Some("Bronze"),
        "skipped rules are not counted"
    );
    assert_eq!((web.score, web.max_score), (1.0, 1.0));

    let mut tier1 = entity("p", "service", &["payments"], true);
    tier1.custom.insert("tier".into(), "tier1".into());
    let p = run(&card, &tier1, Some(92.0), now);
    assert_eq!(outcomes(&p), [Pass, Pass, Fail]);
    assert_eq!(p.level, None);
}

#[test]
fn drafts_are_marked_and_effective_from_is_shown_but_not_counted() {
    let card = load(
        r#"
tag: d
name: Draft
draft: true
ladder:
  levels: [{name: Bronze, rank: 1}]
rules:
  - {title: Mapped, expression: codecov != null, level: Bronze}
  - title: Later
    expression: codecov.codeCoverage() >= 99
    level: Bronze
    weight: 5
    effectiveFrom: 2027-01-01
"#,
    );
    assert!(card.report().draft);
    let api = entity("api", "service", &[], true);
    let before = run(&card, &api, Some(50.0), "2026-12-31T23:59:59Z");
    assert_eq!(outcomes(&before), [Outcome::Pass, Outcome::Fail]);
    assert!(!before.rules[1].counted);
    assert_eq!(before.level.as_deref(), Some("Bronze"));
    assert_eq!((before.score, before.max_score), (1.0, 1.0));
    let after = run(&card, &api, Some(50.0), "2027-01-01T00:00:00Z");
    assert!(after.rules[1].counted);
    assert_eq!(after.level, None);
    assert_eq!((after.score, after.max_score), (1.0, 6.0));
}

#[test]
fn exemptions_count_for_levels_not_percentage_and_expire_on_their_date() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cov.yaml"), LADDER).unwrap();
    std::fs::write(
        dir.path().join("cov.exemptions.yaml"),
        "exemptions:\n  - entity: api\n    rule: cov-80\n    reason: migrating\n    requested_by: jane\n    until: 2026-07-01\n  - entity: api\n    rule: Ninety-five\n    reason: legacy\n    permanent: true\n",
    )
    .unwrap();
    let (cards, diags) = Scorecard::load_dir(dir.path(), Registry::standard());
    assert!(diags.is_empty(), "{diags:?}");
    let card = &cards[0];
    assert_eq!(card.exemptions.len(), 2);
    let api = entity("api", "service", &[], true);

    let r = run(card, &api, Some(60.0), "2026-06-30T12:00:00Z");
    assert_eq!(
        outcomes(&r),
        [
            Outcome::Pass,
            Outcome::Pass,
            Outcome::Exempt,
            Outcome::Exempt
        ]
    );
    assert_eq!(
        r.level.as_deref(),
        Some("Gold"),
        "exempt counts as passing for levels"
    );
    assert_eq!(
        (r.score, r.max_score, r.percentage),
        (2.0, 2.0, Some(100.0)),
        "exempt rules leave the percentage"
    );
    assert_eq!(r.rules[2].exempt_until.as_deref(), Some("2026-07-01"));
    assert_eq!(r.rules[3].exempt_until.as_deref(), Some("permanent"));
    assert!(
        r.rules[2]
            .message
            .starts_with("exempt (migrating, requested by jane); the rule gives fail: "),
        "{}",
        r.rules[2].message
    );

    let expired = run(card, &api, Some(60.0), "2026-07-01T00:00:00Z");
    assert_eq!(
        outcomes(&expired),
        [Outcome::Pass, Outcome::Pass, Outcome::Fail, Outcome::Exempt]
    );
    assert_eq!(expired.level.as_deref(), Some("Bronze"));
    assert!(
        expired.rules[2]
            .message
            .ends_with("(exemption expired on 2026-07-01)"),
        "{}",
        expired.rules[2].message
    );

    let other = run(
        card,
        &entity("web", "service", &[], true),
        Some(60.0),
        "2026-06-01T00:00:00Z",
    );
    assert_eq!(
        other.rules[2].outcome,
        Outcome::Fail,
        "exemptions are per entity"
    );
}

#[test]
fn disabled_exemptions_and_bad_entries_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cov.yaml"),
        format!("{LADDER}exemptions:\n  enabled: false\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cov.exemptions.yaml"),
        "exemptions:\n  - entity: api\n    rule: cov-80\n    reason: r\n    permanent: true\n",
    )
    .unwrap();
    let (cards, diags) = Scorecard::load_dir(dir.path(), Registry::standard());
    assert!(cards[0].exemptions.is_empty());
    assert!(
        diags[0].message.contains("exemptions.enabled: false"),
        "{diags:?}"
    );
}

/// Cortex's own template style: sources rubric has no provider for load unchanged, and every
/// rule still gets an outcome.
#[test]
fn cortex_scorecards_with_unknown_data_sources_give_every_rule_an_outcome() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval/cortex-library");
    let (cards, diags) = Scorecard::load_dir(&dir, Registry::standard());
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(cards.len(), 3);
    let mut api = entity("api", "service", &["payments"], true);
    api.custom.insert("tier".into(), "tier1".into());
    let catalog = Catalog::from_entities(vec![api.clone()], vec![]);
    for card in &cards {
        let r = card.evaluate(
            &api,
            &catalog,
            &facts(card, &api, &catalog, Some(91.0)),
            &Providers::catalog_only().lookup_for(&api, &catalog),
            at("2026-06-01T00:00:00Z"),
        );
        assert_eq!(r.rules.len(), card.spec.rules.len());
        for rule in &r.rules {
            assert!(!rule.message.is_empty(), "{}: {rule:?}", card.spec.tag);
            if rule.expression.contains("sonarqube.") || rule.expression.contains("jira.") {
                assert_eq!(rule.outcome, Outcome::Error, "{rule:?}");
                assert!(rule.message.contains("is not configured"), "{rule:?}");
            }
        }
    }
    let quality = cards
        .iter()
        .find(|c| c.spec.tag == "code-quality-metrics")
        .unwrap();
    let r = quality.evaluate(
        &api,
        &catalog,
        &facts(quality, &api, &catalog, Some(91.0)),
        &Providers::catalog_only().lookup_for(&api, &catalog),
        at("2026-06-01T00:00:00Z"),
    );
    let coverage = r
        .rules
        .iter()
        .find(|r| r.title == "Codecov coverage at least 90%")
        .unwrap();
    assert_eq!(coverage.outcome, Outcome::Pass);
}

#[test]
fn exemptions_for_unknown_entities_are_warnings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cov.yaml"), LADDER).unwrap();
    std::fs::write(
        dir.path().join("cov.exemptions.yaml"),
        "exemptions:\n  - entity: apii\n    rule: cov-80\n    reason: r\n    permanent: true\n",
    )
    .unwrap();
    let (cards, _) = Scorecard::load_dir(dir.path(), Registry::standard());
    let catalog = Catalog::from_entities(vec![entity("api", "service", &[], true)], vec![]);
    let warnings = cards[0].check_exemptions(&catalog);
    assert_eq!(warnings.len(), 1);
    let text = warnings[0].to_string();
    assert!(
        text.contains("exemption for `apii` on scorecard `cov`: no such entity"),
        "{text}"
    );
    assert!(text.contains("cov.exemptions.yaml:2:5"), "{text}");
    assert!(text.contains("did you mean `api`?"), "{text}");
}

#[test]
fn bad_failure_message_templates_are_warnings_and_render_errors_are_shown() {
    let yaml = "tag: t\nname: T\nrules:\n  - title: A\n    expression: codecov != null\n    failureMessage: 'Fix {{#if x}} it'\n  - title: B\n    expression: codecov != null\n    failureMessage: 'Fix {{context.evaluation.captures.nope}}'\n";
    let (card, diags) = Scorecard::from_source(yaml, Path::new("t.yaml"), Registry::standard());
    let card = card.unwrap();
    assert_eq!(diags.len(), 1, "{diags:?}");
    let text = diags[0].to_string();
    assert!(
        text.starts_with("warning: failureMessage is not a valid template"),
        "{text}"
    );
    assert!(text.contains("t.yaml:6:"), "{text}");
    let r = run(
        &card,
        &entity("x", "service", &[], false),
        None,
        "2026-06-01T00:00:00Z",
    );
    assert_eq!(
        r.rules[0].failure_message.as_deref(),
        Some("Fix {{#if x}} it"),
        "shown as written"
    );
    // A variable that is not there renders as "unknown" and is named (issue 16, item 10).
    let b = r.rules[1].failure_message.as_deref().unwrap();
    assert!(
        b.contains("unknown") && b.ends_with("(missing: context.evaluation.captures.nope)"),
        "{b}"
    );
}
