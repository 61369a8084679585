//! Red Hat Developer Hub's scorecard API under `/api/scorecard`: metrics, an entity's metric
//! results, aggregations (KPIs) and their drill-down, projected from the stored results.
//!
//! One metric per rule that compares one provider value with a constant (found in the rule's
//! syntax tree, e.g. `codecov.codeCoverage() >= 80`), id `<scorecard>.<rule id>`: its value is
//! the one the stored evaluation read, its thresholds the comparison (`success: >= 80`,
//! `error: < 80`), its evaluation the stored outcome (`pass`/`exempt` → `success`, `fail` →
//! `error`). A missing value (`no_data`) has no evaluation and a threshold error; an evaluation
//! error is the metric's `error`. An aggregation has the metric's id and counts every entity
//! with a stored result: rubric does not know who calls, so there is no ownership filter.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::AppState;
use super::portal::{self, BackstageError, EntityRef, Pairs, RuleDef, Threshold, pairs, param};
use crate::scorecard::report::RuleReport;
use crate::scorecard::score::Outcome;
use crate::store::StoredResult;

/// Largest drill-down page, as RHDH's backend allows.
const MAX_PAGE_SIZE: u64 = 100;

/// The routes of this API, each with its own authorisation layer.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/api/scorecard/metrics", get(metrics))
        .route(
            "/api/scorecard/metrics/catalog/{kind}/{namespace}/{name}",
            get(entity_metrics),
        )
        .route("/api/scorecard/aggregations/{id}", get(aggregation))
        .route(
            "/api/scorecard/aggregations/{id}/metadata",
            get(aggregation_metadata),
        )
        .route(
            "/api/scorecard/metrics/{id}/catalog/aggregations/entities",
            get(drill_down),
        )
        .route_layer(super::layers::require(state, super::Role::Read))
}

/// A rule that is a metric, with its threshold.
struct MetricDef {
    def: RuleDef,
    threshold: Threshold,
}

impl MetricDef {
    fn of(def: RuleDef) -> Option<MetricDef> {
        let threshold = def.threshold.clone()?;
        Some(MetricDef { def, threshold })
    }

    /// `<scorecard>.<rule id>`.
    fn id(&self) -> String {
        metric_id(&self.def)
    }

    /// `{title, description, type, history}`.
    fn metadata(&self) -> Value {
        let d = &self.def;
        let description = d
            .description
            .clone()
            .unwrap_or_else(|| format!("`{}` ({})", d.expression, d.scorecard_name));
        json!({
            "title": d.title,
            "description": description,
            "type": self.threshold.metric_type(),
            "history": false,
        })
    }

    /// `{rules: [{key: success, expression}, {key: error, expression}]}`.
    fn thresholds(&self) -> Value {
        let t = &self.threshold;
        json!({"rules": [
            {"key": "success", "expression": t.expression(t.op)},
            {"key": "error", "expression": t.expression(t.failing_op)},
        ]})
    }
}

fn metric_id(def: &RuleDef) -> String {
    format!("{}.{}", def.scorecard, def.slug)
}

/// Every metric of the configured scorecards.
fn metric_defs(state: &AppState) -> Vec<MetricDef> {
    portal::definitions(state)
        .into_iter()
        .filter_map(MetricDef::of)
        .collect()
}

/// The one metric with this id, or a 404.
fn find_metric(state: &AppState, id: &str) -> Result<MetricDef, BackstageError> {
    metric_defs(state)
        .into_iter()
        .find(|m| m.id() == id)
        .ok_or_else(|| BackstageError::not_found(format!("no metric {id:?}")))
}

/// `metricIds=a,b` as a list (`None` when absent).
fn metric_ids(pairs: &[(String, String)]) -> Option<Vec<String>> {
    param(pairs, "metricIds").map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
}

/// `GET /metrics[?metricIds=a,b | ?datasource=<scorecard>]`.
async fn metrics(State(state): State<AppState>, query: Pairs) -> Result<Response, BackstageError> {
    let pairs = pairs(query)?;
    let ids = metric_ids(&pairs);
    let datasource = param(&pairs, "datasource");
    if ids.is_some() && datasource.is_some() {
        return Err(BackstageError::input(
            "give metricIds or datasource, not both",
        ));
    }
    let list: Vec<Value> = metric_defs(&state)
        .iter()
        .filter(|m| ids.as_ref().is_none_or(|ids| ids.contains(&m.id())))
        .filter(|m| datasource.is_none_or(|d| m.def.scorecard == d))
        .map(|m| {
            let mut v = json!({"id": m.id()});
            if let (Some(out), Value::Object(meta)) = (v.as_object_mut(), m.metadata()) {
                out.extend(meta);
            }
            v
        })
        .collect();
    Ok(Json(json!({"metrics": list})).into_response())
}

/// One entity's value of a metric, as the stored result has it; `None` when the rule was out of
/// the entity's scope (`skipped`).
struct Reading {
    value: Value,
    timestamp: DateTime<Utc>,
    /// `success` / `error`: the threshold the stored outcome met; `None` without a value.
    evaluation: Option<&'static str>,
    /// Why there is no value: missing (`no_data`) or an evaluation error.
    missing: Option<String>,
    /// Whether the rule's evaluation failed (`error`).
    calculation_error: bool,
}

fn reading(m: &MetricDef, report: &RuleReport, r: &StoredResult) -> Option<Reading> {
    let measure = m.threshold.measure.to_string();
    let input = report.inputs.iter().find(|i| i.fact == measure);
    let value = input
        .filter(|i| i.status == crate::facts::FactState::Ok)
        .map_or(Value::Null, |i| i.value.clone());
    let (evaluation, missing, calculation_error) = match report.outcome {
        Outcome::Skipped => return None,
        Outcome::Pass | Outcome::Exempt => (Some("success"), None, false),
        Outcome::Fail => (Some("error"), None, false),
        Outcome::NoData => (None, Some(report.message.clone()), false),
        Outcome::Error => (None, Some(report.message.clone()), true),
    };
    Some(Reading {
        value,
        timestamp: r.result.evaluated_at,
        evaluation,
        missing,
        calculation_error,
    })
}

/// A `MetricResult` of one entity.
fn metric_result(m: &MetricDef, x: &Reading) -> Value {
    let mut threshold = json!({
        "status": if x.evaluation.is_some() { "success" } else { "error" },
        "definition": m.thresholds(),
        "evaluation": x.evaluation,
    });
    if let Some(why) = &x.missing {
        threshold["error"] = json!(format!(
            "Unable to evaluate thresholds, metric value is missing: {why}"
        ));
    }
    let mut out = json!({
        "id": m.id(),
        "status": if x.calculation_error { "error" } else { "success" },
        "metadata": m.metadata(),
        "result": {"value": x.value, "timestamp": x.timestamp, "thresholdResult": threshold},
    });
    if x.calculation_error {
        out["error"] = json!(x.missing);
    }
    out
}

/// `GET /metrics/catalog/{kind}/{namespace}/{name}[?metricIds=]`: the entity's metric results.
async fn entity_metrics(
    State(state): State<AppState>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    query: Pairs,
) -> Result<Response, BackstageError> {
    let pairs = pairs(query)?;
    let ids = metric_ids(&pairs);
    let r = EntityRef {
        kind,
        namespace,
        name,
    };
    let (_, stored) = portal::latest_for_ref(&state, &r).await?;
    let defs = portal::definitions(&state);
    let mut out = Vec::new();
    for s in &stored {
        for (def, report) in portal::stored_rules(&defs, s) {
            let Some(m) = MetricDef::of(def.into_owned()) else {
                continue;
            };
            if ids.as_ref().is_some_and(|ids| !ids.contains(&m.id())) {
                continue;
            }
            if let Some(x) = reading(&m, report, s) {
                out.push(metric_result(&m, &x));
            }
        }
    }
    Ok(Json(out).into_response())
}

/// Every entity's reading of a metric, from the latest stored results of its scorecard.
async fn readings(
    state: &AppState,
    m: &MetricDef,
) -> Result<Vec<(EntityRef, Reading)>, BackstageError> {
    let defs = portal::definitions(state);
    let store = state.runner().store();
    let tags = portal::scorecard_entities(state, &m.def.scorecard).await?;
    let mut out = Vec::with_capacity(tags.len());
    for tag in tags {
        let stored = store.latest_for_entity(&tag).await?;
        let Some(s) = stored.iter().find(|s| s.scorecard == m.def.scorecard) else {
            continue;
        };
        let found = portal::stored_rules(&defs, s)
            .into_iter()
            .find(|(def, _)| metric_id(def) == m.id());
        if let Some(x) = found.and_then(|(_, report)| reading(m, report, s)) {
            out.push((portal::ref_of(state, &tag), x));
        }
    }
    Ok(out)
}

/// `{title, description, type, history, aggregationType}` of the aggregation of a metric.
fn aggregation_meta(m: &MetricDef) -> Value {
    let mut meta = m.metadata();
    meta["aggregationType"] = json!("statusGrouped");
    meta
}

/// `GET /aggregations/{id}`: how many entities meet each threshold of the metric `id`.
async fn aggregation(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, BackstageError> {
    let m = find_metric(&state, &id)?;
    let rows = readings(&state, &m).await?;
    let count = |key: &str| {
        rows.iter()
            .filter(|(_, x)| x.evaluation == Some(key))
            .count()
    };
    let (success, error) = (count("success"), count("error"));
    let timestamp = rows.iter().map(|(_, x)| x.timestamp).max();
    Ok(Json(json!({
        "id": m.id(),
        "status": "success",
        "metadata": aggregation_meta(&m),
        "result": {
            "values": [{"name": "success", "count": success}, {"name": "error", "count": error}],
            "total": success + error,
            "timestamp": timestamp.map_or(json!(""), |t| json!(t)),
            "entitiesConsidered": rows.len(),
            "calculationErrorCount": rows.iter().filter(|(_, x)| x.calculation_error).count(),
            "thresholds": m.thresholds(),
        },
    }))
    .into_response())
}

/// `GET /aggregations/{id}/metadata`.
async fn aggregation_metadata(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, BackstageError> {
    Ok(Json(aggregation_meta(&find_metric(&state, &id)?)).into_response())
}

/// A positive number parameter no larger than `max`, or its default.
fn number(
    pairs: &[(String, String)],
    name: &str,
    default: u64,
    max: u64,
) -> Result<u64, BackstageError> {
    match param(pairs, name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                BackstageError::input(format!("{name} is a whole number from 1 to {max}"))
            }),
    }
}

/// `GET /metrics/{id}/catalog/aggregations/entities?page=&pageSize=&status=&kind=&entityName=
/// &sortBy=&sortOrder=`: the entities behind an aggregation, one page (`owner` is not
/// filtered on: rubric does not know owners' sign-in identities).
async fn drill_down(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Pairs,
) -> Result<Response, BackstageError> {
    let pairs = pairs(query)?;
    let page = number(&pairs, "page", 1, u64::from(u32::MAX))?;
    let size = number(&pairs, "pageSize", 5, MAX_PAGE_SIZE)?;
    let descending = match param(&pairs, "sortOrder") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(BackstageError::input("sortOrder is asc or desc")),
    };
    let m = find_metric(&state, &id)?;
    let mut rows = readings(&state, &m).await?;
    if let Some(status) = param(&pairs, "status") {
        rows.retain(|(_, x)| x.evaluation == Some(status));
    }
    if let Some(kind) = param(&pairs, "kind") {
        rows.retain(|(r, _)| r.kind.eq_ignore_ascii_case(kind));
    }
    if let Some(name) = param(&pairs, "entityName") {
        let name = name.to_lowercase();
        rows.retain(|(r, _)| r.name.to_lowercase().contains(&name));
    }
    match param(&pairs, "sortBy") {
        None | Some("entityName") => rows.sort_by(|a, b| a.0.name.cmp(&b.0.name)),
        Some("entityKind") => rows.sort_by(|a, b| a.0.kind.cmp(&b.0.kind)),
        Some("status") => rows.sort_by(|a, b| a.1.evaluation.cmp(&b.1.evaluation)),
        Some("timestamp") => rows.sort_by_key(|(_, x)| x.timestamp),
        Some("metricValue") => rows.sort_by(|a, b| {
            let key = |x: &Reading| x.value.as_f64().or(x.value.as_bool().map(f64::from));
            key(&a.1)
                .partial_cmp(&key(&b.1))
                .unwrap_or(std::cmp::Ordering::Equal)
        }),
        Some(other) => return Err(BackstageError::input(format!("cannot sort by {other:?}"))),
    }
    if descending {
        rows.reverse();
    }
    let total = rows.len() as u64;
    let errors = rows.iter().filter(|(_, x)| x.calculation_error).count();
    let skip = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let entities: Vec<Value> = rows
        .iter()
        .skip(skip)
        .take(size as usize)
        .map(|(r, x)| {
            json!({
                "entityRef": r.text(),
                "entityName": r.name,
                "entityNamespace": r.namespace,
                "entityKind": r.kind,
                "metricValue": x.value,
                "timestamp": x.timestamp,
                "status": x.evaluation,
            })
        })
        .collect();
    Ok(Json(json!({
        "metricId": m.id(),
        "metricMetadata": {
            "title": m.def.title,
            "description": m.metadata()["description"],
            "type": m.threshold.metric_type(),
        },
        "entities": entities,
        "pagination": {
            "page": page,
            "pageSize": size,
            "total": total,
            "totalPages": total.div_ceil(size),
            "isCapped": false,
        },
        "entityHealth": {
            "totalEntities": total,
            "calculationErrorCount": errors,
            "countsArePartial": false,
        },
    }))
    .into_response())
}
