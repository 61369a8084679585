//! Backstage Tech Insights under `/api/tech-insights`: checks, runs, facts and fact schemas,
//! projected from the stored results (a "run" reads the latest stored outcomes; it evaluates
//! nothing).
//!
//! One boolean check per rule, `type: "json-rules-engine"` so that the stock entity content
//! renders it, id `<scorecard>/<rule id>`; the scorecard, level, rank and expression are in
//! `check.metadata`. Outcomes: `pass` and `exempt` are `true`; `fail`, `no_data` and `error` are
//! `false` (rubric counts them against the level), with the outcome in `metadata.status` and the
//! error in `metadata.error`; `skipped` (out of the rule's or scorecard's scope) is left out, as
//! Tech Insights leaves out checks that do not apply. Fact retrievers are rubric's providers
//! (`codecov`, `catalog`...), their facts the values the rules read, by CQL name.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value, json};

use super::AppState;
use super::portal::{self, BackstageError, EntityRef, Pairs, RuleDef, pairs, param};
use crate::cql::Ty;
use crate::scorecard::report::RuleReport;
use crate::scorecard::score::Outcome;
use crate::store::StoredResult;

/// The version fact schemas and facts carry: rubric's.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Providers whose daily coverage history rubric records (`/facts/range`).
const HISTORY_PROVIDERS: [&str; 3] = ["codecov", "datadog", "coverage"];

/// The routes of this API, each with its own authorisation layer.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/tech-insights/checks", get(checks))
        .route("/api/tech-insights/checks/run", post(run_bulk))
        .route(
            "/api/tech-insights/checks/run/{namespace}/{kind}/{name}",
            post(run_one),
        )
        .route("/api/tech-insights/fact-schemas", get(fact_schemas))
        .route("/api/tech-insights/facts/latest", get(facts_latest))
        .route("/api/tech-insights/facts/range", get(facts_range))
        .route_layer(super::layers::require(state, super::Role::Read))
}

/// `<scorecard>/<rule id>`.
fn check_id(def: &RuleDef) -> String {
    format!("{}/{}", def.scorecard, def.slug)
}

/// A check as `GET /checks` lists it (and as results carry it, before the outcome).
fn check_json(def: &RuleDef) -> Map<String, Value> {
    let mut metadata = Map::new();
    metadata.insert("scorecard".into(), json!(def.scorecard));
    metadata.insert("scorecardName".into(), json!(def.scorecard_name));
    metadata.insert("category".into(), json!(def.scorecard_name));
    metadata.insert("level".into(), json!(def.level));
    metadata.insert("rank".into(), json!(def.rank));
    metadata.insert("weight".into(), portal::number(def.weight));
    metadata.insert("expression".into(), json!(def.expression));
    let mut check = Map::new();
    check.insert("id".into(), json!(check_id(def)));
    check.insert("type".into(), json!("json-rules-engine"));
    check.insert("name".into(), json!(def.title));
    check.insert(
        "description".into(),
        json!(def.description.as_deref().unwrap_or("")),
    );
    check.insert("factIds".into(), json!(def.providers()));
    check.insert("metadata".into(), Value::Object(metadata));
    check.insert("links".into(), json!([]));
    check
}

/// `GET /checks`: every rule of every configured scorecard.
async fn checks(State(state): State<AppState>) -> Response {
    let list: Vec<Value> = portal::definitions(&state)
        .iter()
        .map(|d| Value::Object(check_json(d)))
        .collect();
    Json(list).into_response()
}

/// What the registry says of the facts stored inputs name, looked up once per name.
#[derive(Default)]
struct FactInfo {
    known: HashMap<String, Option<(String, &'static str, &'static str)>>,
}

impl FactInfo {
    /// `(provider, Tech Insights type, description)` of a fact by its CQL name.
    fn get(&mut self, fact: &str) -> Option<(String, &'static str, &'static str)> {
        self.known
            .entry(fact.to_string())
            .or_insert_with(|| {
                let key = portal::input_key(fact)?;
                let (ty, doc) = portal::fact_doc(&key);
                Some((key.source.name().to_string(), fact_type(ty), doc))
            })
            .clone()
    }
}

/// A CQL type as Tech Insights names fact types.
fn fact_type(ty: Ty) -> &'static str {
    match ty {
        Ty::Number => "float",
        Ty::Bool => "boolean",
        Ty::String | Ty::Duration => "string",
        Ty::List => "set",
        Ty::Timestamp => "datetime",
        Ty::Object | Ty::Any | Ty::Null => "object",
    }
}

/// One stored rule outcome as a `CheckResult`, or `None` when it is left out (`skipped`).
fn check_result(
    def: &RuleDef,
    report: &RuleReport,
    r: &StoredResult,
    info: &mut FactInfo,
) -> Option<Value> {
    let result = match report.outcome {
        Outcome::Skipped => return None,
        Outcome::Pass | Outcome::Exempt => true,
        Outcome::Fail | Outcome::NoData | Outcome::Error => false,
    };
    let mut facts = Map::new();
    for input in &report.inputs {
        let (id, ty, doc) = info
            .get(&input.fact)
            .unwrap_or_else(|| (String::new(), "object", ""));
        facts.insert(
            input.fact.clone(),
            json!({"id": id, "type": ty, "description": doc, "value": input.value}),
        );
    }
    let mut check = check_json(def);
    if let Some(Value::Object(m)) = check.get_mut("metadata") {
        m.insert("status".into(), json!(report.outcome.as_str()));
        m.insert("message".into(), json!(report.message));
        m.insert("value".into(), report.value.clone());
        m.insert("counted".into(), json!(report.counted));
        m.insert("evaluatedAt".into(), json!(r.result.evaluated_at));
        if let Some(f) = &report.failure_message {
            m.insert("failureMessage".into(), json!(f));
        }
        if report.outcome == Outcome::Error {
            m.insert("error".into(), json!(report.message));
        }
        if let Some(until) = &report.exempt_until {
            m.insert("exemptUntil".into(), json!(until));
        }
    }
    Some(json!({"facts": facts, "result": result, "check": check}))
}

/// The check results of an entity's stored results, only the checks named when `only` is given.
fn results_of(
    defs: &[RuleDef],
    stored: &[StoredResult],
    only: Option<&[String]>,
    info: &mut FactInfo,
) -> Vec<Value> {
    let mut out = Vec::new();
    for r in stored {
        for (def, report) in portal::stored_rules(defs, r) {
            if only.is_some_and(|ids| !ids.iter().any(|id| *id == check_id(&def))) {
                continue;
            }
            out.extend(check_result(&def, report, r, info));
        }
    }
    out
}

/// The request body of a run, `{}` or `{"checks": [...]}` (bulk: with `entities`).
fn parse_body(body: &Bytes) -> Result<Map<String, Value>, BackstageError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(BackstageError::input("the body is not a JSON object")),
        Err(e) => Err(BackstageError::input(format!("the body is not JSON: {e}"))),
    }
}

/// `checks` of a run body: `None` (all) when absent, null or empty.
fn checks_of(body: &Map<String, Value>) -> Result<Option<Vec<String>>, BackstageError> {
    match body.get("checks") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(ids)) => {
            let ids = ids
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect::<Option<Vec<String>>>()
                .ok_or_else(|| {
                    BackstageError::input("`checks` is a list of check ids (strings)")
                })?;
            Ok((!ids.is_empty()).then_some(ids))
        }
        Some(_) => Err(BackstageError::input("`checks` is a list of check ids")),
    }
}

/// `POST /checks/run/{namespace}/{kind}/{name}`: the latest stored outcomes of one entity.
async fn run_one(
    State(state): State<AppState>,
    Path((namespace, kind, name)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, BackstageError> {
    let only = checks_of(&parse_body(&body)?)?;
    let r = EntityRef {
        kind,
        namespace,
        name,
    };
    let (_, stored) = portal::latest_for_ref(&state, &r).await?;
    let defs = portal::definitions(&state);
    let results = results_of(&defs, &stored, only.as_deref(), &mut FactInfo::default());
    Ok(Json(results).into_response())
}

/// One entity of a bulk body: `{namespace?, kind, name}` or a ref string.
fn bulk_entity(v: &Value) -> Option<EntityRef> {
    match v {
        Value::String(s) => EntityRef::parse(s),
        Value::Object(o) => {
            let part = |k: &str| o.get(k).and_then(Value::as_str);
            let text = format!(
                "{}:{}/{}",
                part("kind")?,
                part("namespace").unwrap_or("default"),
                part("name")?
            );
            EntityRef::parse(&text)
        }
        _ => None,
    }
}

/// `POST /checks/run`: `{entities, checks?}`; `entities: []` means every entity with results.
async fn run_bulk(State(state): State<AppState>, body: Bytes) -> Result<Response, BackstageError> {
    let body = parse_body(&body)?;
    let only = checks_of(&body)?;
    let asked = match body.get("entities") {
        Some(Value::Array(list)) if list.len() > portal::MAX_ENTITIES => {
            return Err(BackstageError::input(format!(
                "at most {} entities per request, not {}",
                portal::MAX_ENTITIES,
                list.len()
            )));
        }
        Some(Value::Array(list)) => list.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(BackstageError::input("`entities` is a list of entity refs")),
    };
    let refs = asked
        .iter()
        .map(bulk_entity)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            BackstageError::input(
                "each entity is a ref (`kind:namespace/name`) or {kind, namespace, name}",
            )
        })?;
    let refs = if refs.is_empty() {
        let tags = portal::entities_with_results(&state).await?;
        tags.iter().map(|t| portal::ref_of(&state, t)).collect()
    } else {
        refs
    };
    let defs = portal::definitions(&state);
    let mut info = FactInfo::default();
    let mut out = Vec::with_capacity(refs.len());
    for r in refs {
        let entity = r.text();
        match portal::latest_for_ref(&state, &r).await {
            Ok((_, stored)) => out.push(json!({
                "entity": entity,
                "results": results_of(&defs, &stored, only.as_deref(), &mut info),
            })),
            Err(e) if e.status == StatusCode::NOT_FOUND => out.push(json!({
                "entity": entity,
                "results": [],
                "error": {"name": "NotFoundError", "message": format!("no entity {entity} in the catalog")},
            })),
            Err(e) => return Err(e),
        }
    }
    Ok(Json(out).into_response())
}

/// The `ids` of a query in any of qs's forms: `ids[0]=`, `ids[]=`, `ids=`.
fn ids(pairs: &[(String, String)]) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| {
            k == "ids"
                || k.strip_prefix("ids[")
                    .and_then(|rest| rest.strip_suffix(']'))
                    .is_some_and(|i| i.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|(_, v)| v.clone())
        .collect()
}

fn ids_missing() -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"error": "Failed to parse ids from request"})),
    )
        .into_response()
}

/// `GET /fact-schemas[?ids[]=]`: one schema per provider the rules read, its facts by CQL name.
async fn fact_schemas(
    State(state): State<AppState>,
    query: Pairs,
) -> Result<Response, BackstageError> {
    let wanted = ids(&pairs(query)?);
    let mut schemas: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for def in portal::definitions(&state) {
        for key in &def.facts {
            let provider = key.source.name().to_string();
            let (ty, doc) = portal::fact_doc(key);
            schemas.entry(provider).or_default().insert(
                key.to_string(),
                json!({"type": fact_type(ty), "description": doc}),
            );
        }
    }
    let mut out = Vec::new();
    for (provider, facts) in schemas {
        if !wanted.is_empty() && !wanted.contains(&provider) {
            continue;
        }
        let mut row = Map::new();
        row.insert("id".into(), json!(provider));
        row.insert("version".into(), json!(VERSION));
        row.insert("entityFilter".into(), Value::Null);
        row.extend(facts);
        if HISTORY_PROVIDERS.contains(&provider.as_str()) {
            for (name, ty, doc) in history_facts() {
                row.insert(name.into(), json!({"type": ty, "description": doc}));
            }
        }
        out.push(Value::Object(row));
    }
    Ok(Json(out).into_response())
}

/// The facts of a `/facts/range` point.
fn history_facts() -> [(&'static str, &'static str, &'static str); 3] {
    [
        (
            "coverage",
            "float",
            "Daily line coverage %, from rubric's coverage history.",
        ),
        ("repository", "string", "The repository the coverage is of."),
        (
            "flag",
            "string",
            "The flag the coverage is of (null: the whole repository).",
        ),
    ]
}

/// The entity of a facts query (`entity=component:default/name`), resolved.
async fn facts_entity(
    state: &AppState,
    pairs: &[(String, String)],
) -> Result<(EntityRef, Vec<StoredResult>, String), BackstageError> {
    let r = param(pairs, "entity")
        .and_then(EntityRef::parse)
        .ok_or_else(|| {
            BackstageError::input("`entity` is an entity ref, e.g. component:default/name")
        })?;
    let (tag, stored) = portal::latest_for_ref(state, &r).await?;
    Ok((portal::ref_of(state, &tag), stored, tag))
}

/// `GET /facts/latest?entity=&ids[0]=`: the values the latest stored results read, per provider.
async fn facts_latest(
    State(state): State<AppState>,
    query: Pairs,
) -> Result<Response, BackstageError> {
    let pairs = pairs(query)?;
    let wanted = ids(&pairs);
    if wanted.is_empty() {
        return Ok(ids_missing());
    }
    let (r, stored, _) = facts_entity(&state, &pairs).await?;
    let mut info = FactInfo::default();
    // Newest result last, so its values win.
    let mut stored: Vec<&StoredResult> = stored.iter().collect();
    stored.sort_by_key(|s| s.result.evaluated_at);
    let mut out: BTreeMap<String, (DateTime<Utc>, Map<String, Value>)> = BTreeMap::new();
    for s in stored {
        for input in s.result.rules.iter().flat_map(|rule| &rule.inputs) {
            if input.status != crate::facts::FactState::Ok {
                continue;
            }
            let Some((provider, _, _)) = info.get(&input.fact) else {
                continue;
            };
            if !wanted.contains(&provider) {
                continue;
            }
            let entry = out
                .entry(provider)
                .or_insert_with(|| (s.result.evaluated_at, Map::new()));
            entry.0 = entry.0.max(s.result.evaluated_at);
            entry.1.insert(input.fact.clone(), input.value.clone());
        }
    }
    let body: Map<String, Value> = out
        .into_iter()
        .map(|(id, (at, facts))| {
            let row = json!({"id": id, "entity": r.json(), "timestamp": at, "version": VERSION, "facts": facts});
            (id, row)
        })
        .collect();
    Ok(Json(body).into_response())
}

/// A `startDatetime`/`endDatetime`: RFC 3339, or a day (its start, UTC).
fn datetime(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            let day = value.parse::<NaiveDate>().ok()?;
            Some(day.and_hms_opt(0, 0, 0)?.and_utc())
        })
}

fn bad_datetime(field: &str, value: Option<&str>) -> Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"message": "Failed to parse datetime from request", "field": field, "value": value})),
    )
        .into_response()
}

/// `GET /facts/range?entity=&ids[0]=&startDatetime=&endDatetime=`: the entity's daily coverage
/// history between the two times, per provider.
async fn facts_range(
    State(state): State<AppState>,
    query: Pairs,
) -> Result<Response, BackstageError> {
    let pairs = pairs(query)?;
    let wanted = ids(&pairs);
    if wanted.is_empty() {
        return Ok(ids_missing());
    }
    let mut bounds = [crate::clock::now(); 2];
    for (i, field) in ["startDatetime", "endDatetime"].into_iter().enumerate() {
        let value = param(&pairs, field);
        match value.and_then(datetime) {
            Some(at) => bounds[i] = at,
            None => return Ok(bad_datetime(field, value)),
        }
    }
    let [start, end] = bounds;
    let (r, _, tag) = facts_entity(&state, &pairs).await?;
    let series = state
        .runner()
        .store()
        .coverage_for_entity(&tag, start.date_naive())
        .await?;
    let mut out: BTreeMap<String, Vec<Value>> =
        wanted.iter().map(|id| (id.clone(), Vec::new())).collect();
    for s in &series {
        let Some(rows) = out.get_mut(&s.provider) else {
            continue;
        };
        // Whole days: a day's point is in range when the day is.
        for p in s
            .points
            .iter()
            .filter(|p| (start.date_naive()..=end.date_naive()).contains(&p.day))
        {
            let Some(at) = p.day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()) else {
                continue;
            };
            rows.push(json!({
                "id": s.provider,
                "entity": r.json(),
                "timestamp": at,
                "version": VERSION,
                "facts": {
                    "coverage": p.coverage,
                    "repository": s.repository,
                    "flag": (!s.flag.is_empty()).then_some(&s.flag),
                },
            }));
        }
    }
    Ok(Json(out).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_in_every_qs_form() {
        let q = |pairs: &[(&str, &str)]| {
            ids(&pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>())
        };
        assert_eq!(q(&[("ids[0]", "a"), ("ids[1]", "b")]), ["a", "b"]);
        assert_eq!(q(&[("ids[]", "a"), ("entity", "x")]), ["a"]);
        assert_eq!(q(&[("ids", "a"), ("ids", "b")]), ["a", "b"]);
        assert!(q(&[("ids[x]", "a"), ("idsx", "b"), ("ids[", "c")]).is_empty());
    }

    #[test]
    fn datetimes_are_rfc3339_or_days() {
        assert!(datetime("2026-11-01T00:00:00.000Z").is_some());
        assert!(datetime("2026-11-01").is_some());
        for bad in ["", "yesterday", "2026-13-01", "2026-11-01T25:00:00Z"] {
            assert_eq!(datetime(bad), None, "{bad}");
        }
    }
}
