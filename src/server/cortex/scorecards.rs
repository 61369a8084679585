//! Scorecard definitions: the list, one scorecard, its YAML descriptor, and the dry run of a
//! descriptor (validated by rubric's scorecard loader; nothing is saved).

use std::path::Path as FilePath;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error;
use super::shape::{Page, Params, scorecard_response};
use crate::diag::{Diagnostic, Severity};
use crate::jobs::ScorecardInfo;
use crate::scorecard::Scorecard;
use crate::server::{ApiError, AppState};

/// The query as [`Params`], or 400.
pub(super) fn params(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Params, ApiError> {
    let Query(pairs) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Ok(Params::new(pairs))
}

/// The configured scorecard `tag`, or 404.
pub(super) fn configured<'a>(
    state: &'a AppState,
    tag: &str,
) -> Result<&'a ScorecardInfo, ApiError> {
    state
        .scorecard(tag)
        .ok_or_else(|| ApiError::not_found(format!("unknown scorecard {tag:?}")))
}

/// `ScorecardResponse`s of `infos`, with the end of each one's last stored run.
async fn responses(state: &AppState, infos: &[&ScorecardInfo]) -> Result<Vec<Value>, ApiError> {
    let last_runs = state.runner().store().scorecards().await?;
    Ok(infos
        .iter()
        .map(|info| {
            let last = last_runs
                .iter()
                .find(|r| r.scorecard == info.tag)
                .map(|r| r.finished_at);
            scorecard_response(info, state.runner().evaluator().definition(&info.tag), last)
        })
        .collect())
}

/// `GET /scorecards?page=&pageSize=&showDrafts=`: `{scorecards, page, total, totalPages}`,
/// drafts only with `showDrafts=true` (as Cortex).
pub(super) async fn list(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = params(query)?;
    params.refuse(&["groups", "entities", "teams"])?;
    let page = Page::from(&params, 250)?;
    let drafts = params.flag("showDrafts")?.unwrap_or(false);
    let shown: Vec<&ScorecardInfo> = state
        .inner
        .scorecards
        .iter()
        .filter(|s| drafts || !s.draft)
        .collect();
    let items = responses(&state, page.slice(&shown)).await?;
    Ok(Json(page.envelope("scorecards", items, shown.len() as i64)).into_response())
}

/// `GET /scorecards/{tag}`: `{scorecard: ScorecardResponse}`.
pub(super) async fn get(
    State(state): State<AppState>,
    Path(tag): Path<String>,
) -> Result<Response, ApiError> {
    let info = configured(&state, &tag)?;
    let mut one = responses(&state, &[info]).await?;
    Ok(Json(json!({ "scorecard": one.pop() })).into_response())
}

/// `GET /scorecards/{tag}/descriptor`: the scorecard's YAML as its file said when it loaded.
pub(super) async fn descriptor(
    State(state): State<AppState>,
    Path(tag): Path<String>,
) -> Result<Response, ApiError> {
    configured(&state, &tag)?;
    let card = state.runner().evaluator().definition(&tag).ok_or_else(|| {
        ApiError::not_found(format!("scorecard {tag:?} has no descriptor file here"))
    })?;
    Ok((
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        card.source().to_string(),
    )
        .into_response())
}

/// What rubric's loader says of a descriptor.
struct Validation {
    scorecard: Option<Scorecard>,
    diagnostics: Vec<Diagnostic>,
}

/// Parses and compiles a descriptor as `rubric` loads scorecard files (the YAML budgets against
/// bombs and deep nesting, the CQL limits), reading no file beside it.
fn validate(text: &str) -> Validation {
    let file = FilePath::new("descriptor.yaml");
    let (spec, mut diagnostics) = crate::scorecard::load::parse_scorecard(text, file);
    let scorecard = spec.map(|spec| {
        Scorecard::compile(
            spec,
            text,
            crate::cql::Registry::standard(),
            &mut diagnostics,
        )
    });
    Validation {
        scorecard,
        diagnostics,
    }
}

/// One diagnostic as the dry run reports it.
fn diagnostic(d: &Diagnostic) -> Value {
    json!({
        "line": d.line,
        "column": d.column,
        "message": d.message,
        "hint": d.hint,
    })
}

/// A diagnostic as a Cortex `violation` (the CLI prints `title: description` and the pointer).
fn violation(d: &Diagnostic) -> Value {
    let what = match d.severity {
        Severity::Error => "Error",
        Severity::Warning => "Warning",
    };
    let description = match &d.hint {
        Some(hint) => format!("{} ({hint})", d.message),
        None => d.message.clone(),
    };
    json!({
        "title": format!("{what} at line {}, column {}", d.line, d.column),
        "description": description,
        "pointer": format!("line {}, column {}", d.line, d.column),
        "violationType": what.to_ascii_uppercase(),
    })
}

/// `POST /scorecards/descriptor?dryRun=true` (raw YAML body): validates the descriptor with
/// rubric's scorecard loader and answers its errors and warnings, saving nothing. 200 with
/// `{scorecard, errors: [], warnings}` when it loads; 400 in Cortex's shape with one
/// `violation` per diagnostic (line and column) when it has errors.
///
/// Without `dryRun` (or `dryRun=false`) it answers 403: scorecards are files reviewed in
/// version control, so this API is read-only for them whoever calls (the way a forge answers
/// 403 to a write to a read-only repository). Not 404 or 405: the route and method exist (for
/// dry runs); not 400: the request is well formed; not a 5xx: nothing failed on the server.
pub(super) async fn dry_run(
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = params(query)?;
    if !params.flag("dryRun")?.unwrap_or(false) {
        return Ok(error::body(
            StatusCode::FORBIDDEN,
            "rubric's scorecards are files: this API does not save them",
            "add or change the scorecard's YAML in rubric's scorecards folder (version \
             control reviews it); POST here with dryRun=true to validate it first",
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::bad_request(format!("the descriptor is not UTF-8 text: {e}")))?;
    let checked = validate(text);
    let (errors, warnings): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
        checked.diagnostics.iter().partition(|d| d.is_error());
    if !errors.is_empty() || checked.scorecard.is_none() {
        let mut doc = error::document(
            StatusCode::BAD_REQUEST,
            &format!(
                "the scorecard descriptor is not valid: {} error(s)",
                errors.len().max(1)
            ),
            &errors
                .iter()
                .map(|d| format!("line {}, column {}: {}", d.line, d.column, d.message))
                .collect::<Vec<_>>()
                .join("; "),
        );
        doc["violations"] = checked.diagnostics.iter().map(violation).collect();
        return Ok((StatusCode::BAD_REQUEST, Json(doc)).into_response());
    }
    // Validated now; its file time would be a file of this server's folder.
    let scorecard = checked.scorecard.as_ref().map(|card| {
        scorecard_response(
            &ScorecardInfo::of(card),
            Some(card),
            Some(crate::clock::now()),
        )
    });
    Ok(Json(json!({
        "scorecard": scorecard,
        "errors": [],
        "warnings": warnings.iter().map(|d| diagnostic(d)).collect::<Vec<_>>(),
    }))
    .into_response())
}
