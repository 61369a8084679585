//! `GET /badge/{scorecard}/{entity}.svg`: a shields-style badge with the entity's level, and
//! `GET /badge/{scorecard}/{entity}.json`: the same as a shields.io endpoint document
//! (`{"schemaVersion": 1, "label", "message", "color"}`) for `img.shields.io/endpoint?url=`.
//! The level's colour is the ladder's (`color`) when it gives one; a points-only scorecard
//! shows its score; an entity outside the scorecard's filter says so. With `[server]
//! public_badges` they are read without a token (for READMEs).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::api::resolve_entity;
use super::{ApiError, AppState};
use crate::jobs::ScorecardInfo;
use crate::store::EntityResult;

/// Query of the badge: an optional shields style (`flat`, `flat-square`, `plastic`, `for-the-badge`).
#[derive(Debug, serde::Deserialize)]
pub(super) struct BadgeQuery {
    style: Option<String>,
}

/// What a badge says: its message and colour (a shields name or `#rrggbb`).
pub(super) fn message(
    info: Option<&ScorecardInfo>,
    result: Option<&EntityResult>,
) -> (String, String) {
    let Some(r) = result else {
        return ("not evaluated".into(), "lightgrey".into());
    };
    if !r.rules.is_empty()
        && r.rules
            .iter()
            .all(|rule| rule.outcome.as_str() == "skipped")
    {
        return ("out of scope".into(), "lightgrey".into());
    }
    let has_ladder = info.is_some_and(|i| !i.levels.is_empty());
    if !has_ladder {
        let pct = r.percentage.unwrap_or(0.0);
        let color = if pct >= 80.0 {
            "brightgreen"
        } else if pct >= 50.0 {
            "yellow"
        } else {
            "orange"
        };
        return (format!("{pct:.0}%"), color.into());
    }
    match &r.level {
        Some(level) => {
            let ladder = info
                .and_then(|i| i.colors.get(level))
                .filter(|c| super::page::css_color(c))
                .cloned();
            let top = info.and_then(|i| i.levels.iter().map(|(_, rank)| *rank).max());
            let color = ladder.unwrap_or_else(|| {
                if r.level_rank.is_some() && r.level_rank == top {
                    "brightgreen".into()
                } else {
                    "yellowgreen".into()
                }
            });
            (level.clone(), color)
        }
        None => ("no level".into(), "red".into()),
    }
}

/// The badge of an entity in a scorecard, as SVG or shields endpoint JSON.
pub(super) async fn badge(
    State(state): State<AppState>,
    Path((scorecard, file)): Path<(String, String)>,
    Query(q): Query<BadgeQuery>,
) -> Result<Response, ApiError> {
    let (entity, as_json) = match (file.strip_suffix(".svg"), file.strip_suffix(".json")) {
        (Some(e), _) => (e, false),
        (_, Some(e)) => (e, true),
        _ => {
            return Err(ApiError::not_found(
                "badges are served as /badge/{scorecard}/{entity}.svg or .json",
            ));
        }
    };
    let (_, results) = resolve_entity(&state, entity).await?;
    let info = state.scorecard(&scorecard);
    let result = results.iter().find(|r| r.scorecard == scorecard);
    if result.is_none() && info.is_none() {
        return Err(ApiError::not_found(format!(
            "unknown scorecard {scorecard:?}"
        )));
    }
    let label = info.map_or(scorecard.as_str(), |i| i.name.as_str());
    let (message, color) = message(info, result.map(|r| &r.result));
    let cache = (header::CACHE_CONTROL, "max-age=300");
    if as_json {
        let color = color.trim_start_matches('#');
        let doc = json!({"schemaVersion": 1, "label": label, "message": message, "color": color});
        return Ok(([cache], Json(doc)).into_response());
    }
    let style = q
        .style
        .as_deref()
        .and_then(|s| s.parse::<shields::BadgeStyle>().ok())
        .unwrap_or_default();
    let params = shields::BadgeParams {
        style,
        message_color: Some(&color),
        ..shields::BadgeParams::new(label, &message)
    };
    let svg = shields::render_badge_svg(&params);
    Ok(([(header::CONTENT_TYPE, "image/svg+xml"), cache], svg).into_response())
}
