//! Cortex's JSON shapes, projected from rubric's scorecards, catalog and stored results, and
//! the query conventions of its API (pages from 0, Python's `True`).
//!
//! Units and numbering, decided from the Cortex swagger (cortexapps/cortex-mcp `swagger.json`)
//! and Cortex's own clients:
//! - `percentage` and `scorePercentage` are fractions from 0 to 1: the swagger types them as a
//!   bare `number`, and Cortex's Backstage plugin draws `scorePercentage * 100` as the percent;
//!   rubric stores percent (0 to 100) and divides by 100 here.
//! - `LadderLevel.level.number`: the swagger says "1 is the highest", so it counts from the top
//!   of the ladder, while the scorecard YAML's `rank` counts from the bottom (1 = lowest).
//! - A rule's `score` is its weight when it passes and 0 otherwise; `error` carries the reason
//!   of an `error` outcome. Exempt rules are listed in `ruleExemptions` as approved.
//! - Ids: rubric has no numeric or 18-character ids. An entity's `id` is its tag, and a
//!   scorecard's `scorecardId` its 1-based position among the configured scorecards (by tag);
//!   `scorecardTag` is added beside it as the stable key.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, Entity, Owner};
use crate::jobs::ScorecardInfo;
use crate::scorecard::Scorecard;
use crate::scorecard::model::{FilterSpec, Selector};
use crate::scorecard::score::Outcome;
use crate::store::{RuleResult, StoredResult};

use super::super::{ApiError, AppState};

/// A request's query parameters, repeated keys kept (Python sends lists as `k=a&k=b`).
pub(super) struct Params(HashMap<String, Vec<String>>);

impl Params {
    /// From the parsed pairs.
    pub(super) fn new(pairs: Vec<(String, String)>) -> Params {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            map.entry(k).or_default().push(v);
        }
        Params(map)
    }

    /// The last value of `key`.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.last()).map(String::as_str)
    }

    /// Every value of `key`, comma-separated lists split, empty ones dropped.
    pub(super) fn list(&self, key: &str) -> Vec<&str> {
        self.0
            .get(key)
            .into_iter()
            .flatten()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// A boolean as Python's requests sends it (`True`, `False`) or as JSON writes it.
    pub(super) fn flag(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::bad_request(format!(
                "{key} must be true or false, not {v:?}"
            ))),
        }
    }

    /// Refuses filters rubric does not apply, rather than answering as if it had.
    pub(super) fn refuse(&self, keys: &[&str]) -> Result<(), ApiError> {
        match keys.iter().find(|k| !self.list(k).is_empty()) {
            Some(k) => Err(ApiError::bad_request(format!(
                "filtering by {k} is not supported by rubric's Cortex API"
            ))),
            None => Ok(()),
        }
    }
}

/// One page of a list: `page` counts from 0, `pageSize` is 1 to 1000.
#[derive(Clone, Copy, Debug)]
pub(super) struct Page {
    /// 0-based page.
    pub(super) page: u32,
    /// Items per page.
    pub(super) size: u32,
}

/// Largest `pageSize`, as Cortex's API allows.
pub(super) const MAX_PAGE_SIZE: u32 = 1000;

impl Page {
    /// `page` and `pageSize` of `params`, with `default_size` when none is given.
    pub(super) fn from(params: &Params, default_size: u32) -> Result<Page, ApiError> {
        let number = |key: &str| -> Result<Option<u32>, ApiError> {
            params
                .get(key)
                .map(|v| {
                    v.trim().parse::<u32>().map_err(|_| {
                        ApiError::bad_request(format!("{key} must be a whole number, not {v:?}"))
                    })
                })
                .transpose()
        };
        let page = number("page")?.unwrap_or(0);
        let size = number("pageSize")?.unwrap_or(default_size);
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            return Err(ApiError::bad_request(format!(
                "pageSize must be 1 to {MAX_PAGE_SIZE}, not {size}"
            )));
        }
        Ok(Page { page, size })
    }

    /// Items before this page.
    pub(super) fn offset(self) -> i64 {
        i64::from(self.page) * i64::from(self.size)
    }

    /// The items of this page out of `all`.
    pub(super) fn slice<T>(self, all: &[T]) -> &[T] {
        let from = usize::try_from(self.offset()).unwrap_or(usize::MAX);
        let to = from.saturating_add(self.size as usize);
        all.get(from.min(all.len())..to.min(all.len()))
            .unwrap_or_default()
    }

    /// `{key: items, page, total, totalPages}`: the paged envelope `cortex` reads (it stops
    /// when `totalPages == page + 1`, or at an empty page).
    pub(super) fn envelope(self, key: &str, items: Vec<Value>, total: i64) -> Value {
        let size = i64::from(self.size);
        json!({
            key: items,
            "page": self.page,
            "total": total,
            "totalPages": (total + size - 1) / size,
        })
    }
}

/// `3`, not `3.0`, for whole numbers.
pub(super) fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

/// `{name: value}` of the pairs whose value is there.
fn present(pairs: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect::<Map<String, Value>>(),
    )
}

/// A `LadderLevel` (`{level: {name, number}}`, number 1 = the highest) of the level `name`.
pub(super) fn ladder_level(info: Option<&ScorecardInfo>, name: &str) -> Value {
    let levels = info.map_or(&[][..], |i| i.levels.as_slice());
    let number = levels
        .iter()
        .position(|(n, _)| n == name)
        .map(|i| levels.len() - i);
    json!({ "level": { "name": name, "number": number } })
}

/// `[LadderLevel]` of the level an entity reached (empty below every level).
pub(super) fn reached(info: Option<&ScorecardInfo>, level: Option<&str>) -> Vec<Value> {
    level.map(|l| ladder_level(info, l)).into_iter().collect()
}

/// The 1-based position of a configured scorecard, Cortex's numeric `scorecardId`.
pub(super) fn scorecard_id(state: &AppState, tag: &str) -> Option<usize> {
    state
        .inner
        .scorecards
        .iter()
        .position(|s| s.tag == tag)
        .map(|i| i + 1)
}

fn selector(s: &Option<Selector>) -> Option<Value> {
    s.as_ref().map(|s| match s {
        Selector::Include(list) => json!({ "include": list }),
        Selector::Exclude(list) => json!({ "exclude": list }),
    })
}

/// A Cortex `Filter` of a scorecard or rule filter.
pub(super) fn filter(f: &Option<FilterSpec>) -> Option<Value> {
    f.as_ref().map(|f| {
        present(vec![
            ("types", selector(&f.types)),
            ("groups", selector(&f.groups)),
            ("query", f.query.as_ref().map(|(q, _)| json!(q))),
        ])
    })
}

/// A `ScorecardResponse`: the definition from its file when the evaluator has one, else what
/// the listing knows (no rules); `lastUpdated` is the last run's end, else the file's time.
pub(super) fn scorecard_response(
    info: &ScorecardInfo,
    definition: Option<&Scorecard>,
    last_run: Option<DateTime<Utc>>,
) -> Value {
    let file_time = || {
        let file = &definition?.spec.file;
        let modified = std::fs::metadata(file).ok()?.modified().ok()?;
        Some(DateTime::<Utc>::from(modified))
    };
    let updated = last_run
        .or_else(file_time)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let levels: Vec<Value> = info
        .levels
        .iter()
        .map(|(name, _)| ladder_level(Some(info), name))
        .collect();
    let mut out = json!({
        "tag": info.tag,
        "name": info.name,
        "description": info.description,
        "isDraft": info.draft,
        "lastUpdated": updated,
        "levels": levels,
        "rules": [],
    });
    if let Some(window) = info.window_hours {
        out["evaluation"] = json!({ "window": window });
    }
    let Some(card) = definition else {
        out["exemptions"] = json!({ "enabled": true, "autoApprove": false });
        out["notifications"] =
            json!({ "enabled": !info.draft, "scoreDropNotificationsEnabled": false });
        return out;
    };
    let spec = &card.spec;
    out["exemptions"] = json!({
        "enabled": spec.exemption_settings.enabled,
        "autoApprove": spec.exemption_settings.auto_approve,
    });
    out["notifications"] = json!({
        "enabled": spec.notifications.enabled.unwrap_or(!spec.draft),
        "scoreDropNotificationsEnabled": spec.notifications.score_drop,
    });
    if let Some(f) = filter(&spec.filter) {
        out["filter"] = f;
    }
    out["rules"] = spec
        .rules
        .iter()
        .map(|r| {
            present(vec![
                ("expression", Some(json!(r.expression))),
                ("identifier", r.identifier.as_ref().map(|i| json!(i))),
                ("title", Some(json!(r.title))),
                ("description", r.description.as_ref().map(|d| json!(d))),
                ("levelName", r.level.as_ref().map(|l| json!(l))),
                ("weight", Some(number(r.weight))),
                (
                    "failureMessage",
                    r.failure_message.as_ref().map(|m| json!(m)),
                ),
                ("effectiveFrom", r.effective_from.map(|t| json!(t))),
                ("filter", filter(&r.filter)),
            ])
        })
        .collect();
    out
}

/// An entity's owners as Cortex splits them: teams (`group`, `team`) and individuals with an
/// email address (`email`, or a `user` named by one); Slack channels and Backstage users
/// without an address have no place there.
pub(super) fn owners(e: &Entity) -> (Vec<&Owner>, Vec<&Owner>) {
    let teams = e
        .owners
        .iter()
        .filter(|o| matches!(o.kind.as_str(), "group" | "team"))
        .collect();
    let people = e
        .owners
        .iter()
        .filter(|o| o.kind == "email" || (o.kind == "user" && o.name.contains('@')))
        .collect();
    (teams, people)
}

/// `ServiceDetails` of an entity: from the catalog when there is one, else its tag and name.
pub(super) fn service(entity: Option<&Entity>, tag: &str, name: &str) -> Value {
    let Some(e) = entity else {
        return json!({
            "id": tag, "tag": tag, "name": name, "groups": [],
            "owners": { "groups": [], "individuals": [] },
        });
    };
    let (groups, individuals) = owners(e);
    json!({
        "id": e.tag,
        "tag": e.tag,
        "name": e.name,
        "groups": e.groups,
        "owners": {
            "groups": groups.iter().map(|o| &o.name).collect::<Vec<_>>(),
            "individuals": individuals.iter().map(|o| json!({ "email": o.name })).collect::<Vec<_>>(),
        },
    })
}

/// A `RuleOutcome`: score = weight when the rule passes, 0 otherwise; `error` on an error.
fn rule_outcome(rule: &RuleResult) -> Value {
    let score = if rule.outcome == Outcome::Pass {
        rule.weight
    } else {
        0.0
    };
    present(vec![
        ("expression", Some(json!(rule.expression))),
        ("identifier", rule.identifier.as_ref().map(|i| json!(i))),
        ("title", Some(json!(rule.title))),
        ("score", Some(number(score))),
        (
            "error",
            (rule.outcome == Outcome::Error).then(|| json!(rule.message)),
        ),
    ])
}

/// `ruleExemptions` of a result: its exempt rules, approved (rubric's exemptions are reviewed
/// files).
fn exemptions(rules: &[RuleResult]) -> Vec<Value> {
    rules
        .iter()
        .filter(|r| r.outcome == Outcome::Exempt)
        .map(|r| {
            let until = r
                .exempt_until
                .as_deref()
                .filter(|u| *u != "permanent")
                .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| json!(t.and_utc()));
            present(vec![
                (
                    "ruleIdentifier",
                    Some(json!(r.identifier.as_ref().unwrap_or(&r.title))),
                ),
                ("ruleExpression", Some(json!(r.expression))),
                ("requestingReason", r.exemption.as_ref().map(|e| json!(e))),
                ("endDate", until),
                ("exemptionStatus", Some(json!({ "status": "APPROVED" }))),
            ])
        })
        .collect()
}

/// The totals of a result: points, possible points, and the fraction (0 to 1).
pub(super) fn totals(r: &StoredResult) -> (Value, Value, Value) {
    let e = &r.result;
    (
        number(e.score),
        number(e.max_score),
        json!(e.percentage.unwrap_or(0.0) / 100.0),
    )
}

/// A `ServiceScore` of a stored result (with its rules).
pub(super) fn service_score(
    info: Option<&ScorecardInfo>,
    catalog: Option<&Catalog>,
    r: &StoredResult,
) -> Value {
    let e = &r.result;
    let (score, possible, percentage) = totals(r);
    json!({
        "service": service(catalog.and_then(|c| c.get(&e.entity)), &e.entity, &e.entity_name),
        "lastEvaluated": e.evaluated_at,
        "score": {
            "summary": { "score": score, "totalPossibleScore": possible, "percentage": percentage },
            "ladderLevels": reached(info, e.level.as_deref()),
            "rules": e.rules.iter().map(rule_outcome).collect::<Vec<_>>(),
        },
        "ruleExemptions": exemptions(&e.rules),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        Params::new(serde_urlencoded_pairs(q))
    }

    fn serde_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect()
    }

    #[test]
    fn pages_count_from_zero_and_bound_their_size() {
        let p = Page::from(&params("page=2&pageSize=3"), 250).unwrap();
        assert_eq!((p.page, p.size, p.offset()), (2, 3, 6));
        let items: Vec<u32> = (0..8).collect();
        assert_eq!(p.slice(&items), &[6, 7]);
        let past = Page::from(&params("page=9&pageSize=3"), 250).unwrap();
        assert!(past.slice(&items).is_empty());
        let huge = Page::from(&params("page=4294967295&pageSize=1000"), 250).unwrap();
        assert!(huge.slice(&items).is_empty());
        assert_eq!(Page::from(&params(""), 250).unwrap().size, 250);
        for bad in ["pageSize=0", "pageSize=1001", "page=-1", "page=x"] {
            assert!(Page::from(&params(bad), 250).is_err(), "{bad}");
        }
        let env = p.envelope("items", vec![], 7);
        assert_eq!(
            (env["totalPages"].as_i64(), env["page"].as_i64()),
            (Some(3), Some(2))
        );
        assert_eq!(p.envelope("items", vec![], 0)["totalPages"], 0);
    }

    #[test]
    fn flags_read_python_booleans() {
        assert_eq!(params("dryRun=True").flag("dryRun").unwrap(), Some(true));
        assert_eq!(params("dryRun=false").flag("dryRun").unwrap(), Some(false));
        assert_eq!(params("").flag("dryRun").unwrap(), None);
        assert!(params("dryRun=yes").flag("dryRun").is_err());
        assert_eq!(
            params("types=a,b&types=c").list("types"),
            vec!["a", "b", "c"]
        );
    }

    #[test]
    fn level_numbers_count_from_the_top() {
        let info = ScorecardInfo {
            tag: "t".into(),
            name: "T".into(),
            description: String::new(),
            window_hours: None,
            draft: false,
            levels: vec![
                ("Bronze".into(), 1),
                ("Silver".into(), 2),
                ("Gold".into(), 3),
            ],
            colors: Default::default(),
        };
        assert_eq!(ladder_level(Some(&info), "Gold")["level"]["number"], 1);
        assert_eq!(ladder_level(Some(&info), "Bronze")["level"]["number"], 3);
        assert!(reached(Some(&info), None).is_empty());
    }
}
