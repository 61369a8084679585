//! Results: a scorecard's scores, an entity's next steps, its badge, its scores in every
//! scorecard, and the re-evaluation of one entity. Every answer is read from the store's latest
//! results (the re-evaluation runs through the runner, as `POST .../evaluate` does).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error;
use super::scorecards::{configured, params};
use super::shape::{self, MAX_PAGE_SIZE, Page, ladder_level, reached, scorecard_id};
use crate::server::api::{evaluate_entity, known_scorecard, resolve_entity};
use crate::server::{ApiError, AppState};
use crate::store::StoredResult;

/// The latest stored result of `entity` (tag or ref) in `scorecard`: `Ok(None)` when the
/// entity is known but has none; 404 for an unknown entity.
async fn latest(
    state: &AppState,
    scorecard: &str,
    entity: &str,
) -> Result<(String, Option<StoredResult>), ApiError> {
    let (tag, results) = resolve_entity(state, entity).await?;
    let found = results.into_iter().find(|r| r.scorecard == scorecard);
    Ok((tag, found))
}

/// `GET /scorecards/{tag}/scores?entityTag=&page=&pageSize=`: `ScorecardServiceScore`, plus
/// `page`, `total` and `totalPages`. Without `pageSize`, up to 1000 entities (Cortex "attempts
/// to return all"; `totalPages` tells when there are more).
pub(super) async fn scores(
    State(state): State<AppState>,
    Path(tag): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = params(query)?;
    let page = Page::from(&params, MAX_PAGE_SIZE)?;
    let store = state.runner().store();
    let (results, total) = match params.get("entityTag").filter(|e| !e.is_empty()) {
        Some(entity) => {
            let (_, found) = latest(&state, &tag, entity).await?;
            let found: Vec<StoredResult> = found.into_iter().collect();
            let total = found.len() as i64;
            (page.slice(&found).to_vec(), total)
        }
        None => {
            let (mut items, total) = store
                .latest_for_scorecard(&tag, None, page.offset(), i64::from(page.size))
                .await?;
            store.fill_rules(&mut items).await?;
            (items, total)
        }
    };
    if total == 0 {
        let any = store.runs(Some(&tag), 1).await?;
        known_scorecard(&state, &tag, !any.is_empty())?;
    }
    let info = state.scorecard(&tag);
    let catalog = state.runner().evaluator().current_catalog();
    let filter = state
        .runner()
        .evaluator()
        .definition(&tag)
        .and_then(|card| shape::filter(&card.spec.filter));
    let mut body = page.envelope(
        "serviceScores",
        results
            .iter()
            .map(|r| shape::service_score(info, catalog.as_deref(), r))
            .collect(),
        total,
    );
    body["scorecardId"] = json!(scorecard_id(&state, &tag));
    body["scorecardTag"] = json!(tag);
    body["scorecardName"] = json!(info.map_or(tag.as_str(), |i| i.name.as_str()));
    if let Some(filter) = filter {
        body["scorecardFilter"] = filter;
    }
    Ok(Json(body).into_response())
}

/// `GET /scorecards/{tag}/next-steps?entityTag=`: `{nextSteps: [{currentLevel, nextLevel,
/// rulesToComplete}]}` from the entity's stored next steps (empty for a points-only scorecard).
pub(super) async fn next_steps(
    State(state): State<AppState>,
    Path(tag): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = params(query)?;
    let info = configured(&state, &tag)?;
    let entity = params
        .get("entityTag")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| ApiError::bad_request("entityTag is required"))?;
    let (entity, found) = latest(&state, &tag, entity).await?;
    let r = found.ok_or_else(|| {
        ApiError::not_found(format!(
            "entity {entity:?} has no result in scorecard {tag:?} yet"
        ))
    })?;
    if info.levels.is_empty() {
        return Ok(Json(json!({ "nextSteps": [] })).into_response());
    }
    let definition = state.runner().evaluator().definition(&tag);
    let steps: Vec<crate::scorecard::report::NextStep> =
        serde_json::from_value(r.result.next_steps.clone()).unwrap_or_default();
    let rules: Vec<Value> = steps
        .iter()
        .map(|step| {
            let rule = r.result.rules.iter().find(|x| x.title == step.title);
            let spec = definition.and_then(|card| {
                card.spec.rules.iter().find(|s| {
                    rule.and_then(|x| x.identifier.as_deref())
                        .map_or(s.title == step.title, |id| s.is_named(id))
                })
            });
            json!({
                "expression": rule.map(|x| x.expression.as_str()),
                "identifier": rule.and_then(|x| x.identifier.as_deref()),
                "title": step.title,
                "description": spec.and_then(|s| s.description.as_deref()),
            })
        })
        .collect();
    let mut step = json!({ "rulesToComplete": rules });
    if let Some(level) = &r.result.level {
        step["currentLevel"] = ladder_level(Some(info), level);
    }
    if let Some(level) = &r.result.next_level {
        step["nextLevel"] = ladder_level(Some(info), level);
    }
    Ok(Json(json!({ "nextSteps": [step] })).into_response())
}

/// Percent-encodes every byte of `s` but ASCII letters, digits and those in `keep`.
fn encode(s: &str, keep: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || keep.as_bytes().contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /scorecards/{tag}/entity/{entity}/badge`: `{value}`, shields.io markdown whose image is
/// rubric's own badge document (`/badge/{tag}/{entity}.json`, through `img.shields.io/endpoint`)
/// and whose link is the entity page. shields.io reads the badge without a token, so it shows
/// only with `[server] public_badges = true`.
async fn badge(
    state: &AppState,
    tag: &str,
    entity: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let info = configured(state, tag)?;
    let (entity, _) = resolve_entity(state, entity).await?;
    let base = crate::server::codecov::public_url(state, headers);
    let base = encode(&base, ":/.-_~[]");
    let json_url = format!(
        "{base}/badge/{}/{}.json",
        encode(tag, "-_.~"),
        encode(&entity, "-_.~")
    );
    let page = format!("{base}/entities/{}", encode(&entity, "-_.~"));
    let label: String = info.name.chars().filter(|c| !"[]()".contains(*c)).collect();
    let value = format!(
        "[![{label}](https://img.shields.io/endpoint?url={})]({page})",
        encode(&json_url, "-_.~")
    );
    Ok(Json(json!({ "value": value })).into_response())
}

/// `GET /scorecards/{tag}/entity/{entity}/badge`, the entity a tag or a Backstage ref (its
/// slash raw or `%2F`).
pub(super) async fn entity_get(
    State(state): State<AppState>,
    Path((tag, rest)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    match rest.strip_suffix("/badge") {
        Some(entity) => badge(&state, &tag, entity, &headers).await,
        None => Err(ApiError::not_found("no such route")),
    }
}

/// `POST /scorecards/{tag}/entity/{entity}/scores`: re-evaluates the entity now through the
/// runner (as `POST /api/v1/scorecards/{tag}/entities/{entity}/evaluate`) and answers its new
/// `ServiceScore`; 409 "Already evaluating scorecard" while a run of the scorecard holds it.
pub(super) async fn entity_post(
    State(state): State<AppState>,
    Path((tag, rest)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let Some(entity) = rest.strip_suffix("/scores") else {
        return Err(ApiError::not_found("no such route"));
    };
    match evaluate_entity(&state, &tag, entity).await {
        Ok(stored) => {
            let catalog = state.runner().evaluator().current_catalog();
            let score = shape::service_score(state.scorecard(&tag), catalog.as_deref(), &stored);
            Ok(Json(score).into_response())
        }
        Err(e) if e.status() == StatusCode::CONFLICT => Ok(error::body(
            StatusCode::CONFLICT,
            "Already evaluating scorecard",
            &format!("scorecard {tag:?} is being evaluated; ask again when that run has ended"),
        )),
        Err(e) => Err(e),
    }
}

/// `GET /catalog/{entity}/scorecards`: `ScorecardScore[]`, the entity's latest result in each
/// scorecard with flat `score`, `totalPossibleScore` and `scorePercentage` (0 to 1).
pub(super) async fn entity_scorecards(
    state: &AppState,
    entity: &str,
) -> Result<Response, ApiError> {
    let (_, results) = resolve_entity(state, entity).await?;
    let list: Vec<Value> = results
        .iter()
        .map(|r| {
            let info = state.scorecard(&r.scorecard);
            let (score, possible, percentage) = shape::totals(r);
            json!({
                "scorecardId": scorecard_id(state, &r.scorecard),
                "scorecardTag": r.scorecard,
                "scorecardName": info.map_or(r.scorecard.as_str(), |i| i.name.as_str()),
                "score": score,
                "totalPossibleScore": possible,
                "scorePercentage": percentage,
                "ladderLevels": reached(info, r.result.level.as_deref()),
            })
        })
        .collect();
    Ok(Json(list).into_response())
}
