//! The JSON API under `/api/v1` (documented in `openapi.json`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::cache::Rendered;
use super::{ApiError, AppState};
use crate::store::{StoredResult, Trigger, window_start};

/// Resolves a tag or Backstage ref to the entity's tag, or 404 when neither the catalog nor the
/// history knows it.
pub(super) async fn resolve_entity(
    state: &AppState,
    tag: &str,
) -> Result<(String, Vec<StoredResult>), ApiError> {
    let canonical = state.runner().evaluator().entity_tag(tag);
    let key = canonical.clone().unwrap_or_else(|| tag.to_string());
    let results = state.runner().store().latest_for_entity(&key).await?;
    if canonical.is_none() && results.is_empty() {
        return Err(ApiError::not_found(format!("unknown entity {tag:?}")));
    }
    Ok((key, results))
}

/// One scorecard's result as an entity page shows it.
pub(super) fn entity_view(state: &AppState, r: &StoredResult, now: chrono::DateTime<Utc>) -> Value {
    let (mut view, as_of) = entity_view_head(state, r);
    view.insert(
        "stale_secs".into(),
        json!((now - as_of).num_seconds().max(0)),
    );
    view.insert("run_id".into(), json!(r.run_id));
    Value::Object(view)
}

/// [`entity_view`] up to `stale_secs` (the fields that do not change with time), and the time
/// `stale_secs` counts from.
fn entity_view_head(
    state: &AppState,
    r: &StoredResult,
) -> (serde_json::Map<String, Value>, chrono::DateTime<Utc>) {
    let info = state.scorecard(&r.scorecard);
    let e = &r.result;
    // The stored result's own serialisation, so numbers read as `rubric eval` prints them.
    let stored = serde_json::to_value(e).unwrap_or_default();
    let as_of = e.data_as_of.unwrap_or(e.evaluated_at).min(e.evaluated_at);
    let head = json!({
        "scorecard": r.scorecard,
        "name": info.map_or(r.scorecard.as_str(), |i| i.name.as_str()),
        "draft": info.is_some_and(|i| i.draft),
        "level": e.level.as_ref().map(|name| json!({ "name": name, "rank": e.level_rank })),
        "next_level": e.next_level,
        "score": stored["score"],
        "max_score": stored["max_score"],
        "percentage": stored["percentage"],
        "rules": e.rules,
        "next_steps": e.next_steps,
        "evaluated_at": e.evaluated_at,
        "data_as_of": as_of,
    });
    match head {
        Value::Object(map) => (map, as_of),
        _ => unreachable!("json! of an object literal is an object"),
    }
}

/// `GET /api/v1/entities/{tag}/scorecards`.
pub(super) async fn entity_scorecards(
    State(state): State<AppState>,
    Path(tag): Path<String>,
) -> Result<Response, ApiError> {
    let cache = &state.inner.cache;
    let valid = cache.validity(state.runner()).await;
    if let Some(rendered) = cache.get(&tag, valid) {
        return Ok(json_bytes(rendered.body(crate::clock::now())));
    }
    let (entity, results) = resolve_entity(&state, &tag).await?;
    let rendered = std::sync::Arc::new(render_entity(&state, &entity, &results));
    let body = rendered.body(crate::clock::now());
    cache.insert(tag, valid, rendered);
    Ok(json_bytes(body))
}

/// The answer of `GET /api/v1/entities/{tag}/scorecards`, `{"entity", "name", "scorecards":
/// [entity_view...]}`, with each `stale_secs` left to be written when served.
fn render_entity(state: &AppState, entity: &str, results: &[StoredResult]) -> Rendered {
    let name = results
        .first()
        .map_or(entity, |r| r.result.entity_name.as_str());
    let mut out = Rendered::default();
    let json = |s: &str| serde_json::to_vec(s).unwrap_or_default();
    out.push(b"{\"entity\":");
    out.push(&json(entity));
    out.push(b",\"name\":");
    out.push(&json(name));
    out.push(b",\"scorecards\":[");
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(b",");
        }
        let (head, as_of) = entity_view_head(state, r);
        let head = serde_json::to_vec(&head).unwrap_or_default();
        // `{...}` without its `}`: the fields after it follow.
        out.push(&head[..head.len().saturating_sub(1)]);
        out.push(b",\"stale_secs\":");
        out.stale_secs_since(as_of);
        out.push(b",\"run_id\":");
        out.push(r.run_id.to_string().as_bytes());
        out.push(b"}");
    }
    out.push(b"]}");
    out
}

fn json_bytes(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `GET /api/v1/entities/{tag}/coverage`.
pub(super) async fn entity_coverage(
    State(state): State<AppState>,
    Path(tag): Path<String>,
) -> Result<Response, ApiError> {
    let (entity, _) = resolve_entity(&state, &tag).await?;
    let declining_points = state.inner.settings.alerts.trend_drop_points;
    let series = state
        .runner()
        .store()
        .coverage_for_entity(&entity, window_start(crate::clock::now(), 30))
        .await?;
    let coverage: Vec<Value> = series
        .iter()
        .map(|s| series_json(s, declining_points))
        .collect();
    Ok(Json(json!({ "entity": entity, "coverage": coverage })).into_response())
}

/// One repository's coverage series as the API answers it (per entity and on the dashboard):
/// the latest value, the 30-day change, whether it is declining by `declining_points` or more,
/// the daily trend and the last upload.
pub(super) fn series_json(s: &crate::store::CoverageSeries, declining_points: f64) -> Value {
    json!({
        "provider": s.provider,
        "repository": s.repository,
        "flag": (!s.flag.is_empty()).then_some(&s.flag),
        "coverage": s.latest,
        "last_upload_at": s.last_upload_at,
        "change_30d": s.change(),
        "declining": s.declining(declining_points),
        "trend": s.points,
    })
}

/// `GET /api/v1/scorecards`.
pub(super) async fn scorecards(State(state): State<AppState>) -> Result<Response, ApiError> {
    let last_runs = state.runner().store().scorecards().await?;
    let mut out: Vec<Value> = state
        .inner
        .scorecards
        .iter()
        .map(|s| {
            let last = last_runs.iter().find(|r| r.scorecard == s.tag);
            json!({
                "tag": s.tag,
                "name": s.name,
                "description": s.description,
                "draft": s.draft,
                "window_hours": s.window_hours,
                "levels": s.levels.iter().map(|(name, rank)| json!({"name": name, "rank": rank})).collect::<Vec<_>>(),
                "last_run": last,
            })
        })
        .collect();
    // Scorecards removed from the configuration still have history.
    for r in last_runs
        .iter()
        .filter(|r| state.scorecard(&r.scorecard).is_none())
    {
        out.push(
            json!({ "tag": r.scorecard, "name": r.scorecard, "removed": true, "last_run": r }),
        );
    }
    Ok(Json(json!({ "scorecards": out })).into_response())
}

/// Query of `/scores`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ScoresQuery {
    /// Only entities at this level; `none` for those below every level.
    level: Option<String>,
    /// 1-based page.
    page: Option<u32>,
    /// Items per page, 1 to 500 (default 50).
    page_size: Option<u32>,
}

#[derive(Serialize)]
struct ScoreItem<'a> {
    entity: &'a str,
    name: &'a str,
    level: Option<&'a str>,
    rank: Option<i64>,
    score: f64,
    max_score: f64,
    percentage: f64,
    evaluated_at: chrono::DateTime<Utc>,
}

pub(super) fn known_scorecard(
    state: &AppState,
    tag: &str,
    has_history: bool,
) -> Result<(), ApiError> {
    if state.scorecard(tag).is_none() && !has_history {
        return Err(ApiError::not_found(format!("unknown scorecard {tag:?}")));
    }
    Ok(())
}

/// `GET /api/v1/scorecards/{tag}/scores?level=&page=&page_size=`.
pub(super) async fn scores(
    State(state): State<AppState>,
    Path(tag): Path<String>,
    query: Result<Query<ScoresQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let page = q.page.unwrap_or(1);
    let size = q.page_size.unwrap_or(50);
    if page == 0 || !(1..=500).contains(&size) {
        return Err(ApiError::bad_request(
            "page starts at 1; page_size is 1 to 500",
        ));
    }
    let level = q.level.as_deref().map(|l| {
        if l.eq_ignore_ascii_case(crate::store::NO_LEVEL) {
            ""
        } else {
            l
        }
    });
    let offset = i64::from(page - 1) * i64::from(size);
    let (items, total) = state
        .runner()
        .store()
        .latest_for_scorecard(&tag, level, offset, i64::from(size))
        .await?;
    if total == 0 {
        let any = state.runner().store().runs(Some(&tag), 1).await?;
        known_scorecard(&state, &tag, !any.is_empty())?;
    }
    let list: Vec<ScoreItem> = items
        .iter()
        .map(|r| ScoreItem {
            entity: &r.result.entity,
            name: &r.result.entity_name,
            level: r.result.level.as_deref(),
            rank: r.result.level_rank,
            score: r.result.score,
            max_score: r.result.max_score,
            percentage: r.result.percentage.unwrap_or(0.0),
            evaluated_at: r.result.evaluated_at,
        })
        .collect();
    let total_pages = (total + i64::from(size) - 1) / i64::from(size);
    Ok(Json(json!({
        "scorecard": tag,
        "page": page,
        "page_size": size,
        "total": total,
        "total_pages": total_pages,
        "items": list,
    }))
    .into_response())
}

/// Query of `/history`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HistoryQuery {
    /// How many runs, newest, 1 to 1000 (default 90).
    limit: Option<u32>,
}

/// `GET /api/v1/scorecards/{tag}/history?limit=`.
pub(super) async fn history(
    State(state): State<AppState>,
    Path(tag): Path<String>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(90);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request("limit is 1 to 1000"));
    }
    let runs = state
        .runner()
        .store()
        .history(&tag, i64::from(limit))
        .await?;
    known_scorecard(&state, &tag, !runs.is_empty())?;
    Ok(Json(json!({ "scorecard": tag, "runs": runs })).into_response())
}

/// `POST /api/v1/scorecards/{tag}/entities/{entity}/evaluate`: evaluates one entity now and
/// answers its new result.
pub(super) async fn evaluate(
    State(state): State<AppState>,
    Path((tag, entity)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let stored = evaluate_entity(&state, &tag, &entity).await?;
    Ok(Json(entity_view(&state, &stored, crate::clock::now())).into_response())
}

/// Evaluates one entity (tag or Backstage ref) of a scorecard now through the runner, which
/// writes the run: the entity's new result, 404 for an unknown scorecard or entity or one the
/// scorecard does not apply to, 409 while the scorecard is being evaluated.
pub(super) async fn evaluate_entity(
    state: &AppState,
    tag: &str,
    entity: &str,
) -> Result<StoredResult, ApiError> {
    if state.scorecard(tag).is_none() {
        return Err(ApiError::not_found(format!("unknown scorecard {tag:?}")));
    }
    let Some(entity) = state.runner().evaluator().entity_tag(entity) else {
        return Err(ApiError::not_found(format!("unknown entity {entity:?}")));
    };
    let outcome = state
        .runner()
        .run(tag, Some(&entity), Trigger::OnDemand)
        .await?;
    let result = outcome
        .run
        .entities
        .iter()
        .find(|e| e.entity == entity)
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "scorecard {tag:?} does not apply to entity {entity:?}"
            ))
        })?;
    Ok(StoredResult {
        run_id: outcome.run_id,
        scorecard: tag.to_string(),
        result,
    })
}

/// The body of `POST /api/v1/risk`.
#[derive(Deserialize)]
pub(super) struct RiskRequest {
    repo: String,
    pull: Option<u64>,
    base: Option<String>,
    head: Option<String>,
    changed_files: Option<Vec<String>>,
}

/// `POST /api/v1/risk`: the deploy risk of a change, as `rubric risk --format json` prints it.
pub(super) async fn risk(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let request: RiskRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not {{\"repo\", \"pull\" | \"base\" and \"head\", \"changed_files\"?}}: {e}"
        ))
    })?;
    let slug = crate::coverage::RepoSlug::parse(&request.repo).map_err(ApiError::bad_request)?;
    let change = crate::jobs::risk::Change {
        pull: request.pull,
        base: request.base,
        head: request.head,
        files: request.changed_files,
    };
    let settings = &state.inner.settings;
    let risk = crate::jobs::risk::assess_change(
        &slug,
        &change,
        state.runner().evaluator().comparisons(),
        Some(state.runner().store()),
        &settings.uploads.branches,
        &settings.risk,
    )
    .await
    .map_err(ApiError::bad_request)?;
    Ok(Json(risk).into_response())
}

/// The query of `GET /api/v1/pulls`.
#[derive(Deserialize)]
pub(super) struct PullsQuery {
    regressing: Option<bool>,
}

/// `GET /api/v1/pulls[?regressing=true]`: the open pull requests the last runs saw, with their
/// base, head and patch coverage and delta; `regressing=true` keeps those that lower coverage
/// by `[risk] regressing_points` or more. Largest drop first.
pub(super) async fn pulls(
    State(state): State<AppState>,
    query: Result<Query<PullsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let threshold = state.inner.settings.regressing_points;
    let max_delta = q.regressing.unwrap_or(false).then_some(-threshold);
    let pulls = state.runner().store().pulls(max_delta).await?;
    Ok(Json(json!({"regressing_points": threshold, "pulls": pulls})).into_response())
}
