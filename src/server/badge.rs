//! `GET /badge/{scorecard}/{entity}.svg`: a shields-style badge with the entity's level.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::api::resolve_entity;
use super::{ApiError, AppState};

/// Query of the badge: an optional shields style (`flat`, `flat-square`, `plastic`, `for-the-badge`).
#[derive(Debug, serde::Deserialize)]
pub(super) struct BadgeQuery {
    style: Option<String>,
}

/// The badge of an entity in a scorecard.
pub(super) async fn badge(
    State(state): State<AppState>,
    Path((scorecard, file)): Path<(String, String)>,
    Query(q): Query<BadgeQuery>,
) -> Result<Response, ApiError> {
    let Some(entity) = file.strip_suffix(".svg") else {
        return Err(ApiError::not_found(
            "badges are served as /badge/{scorecard}/{entity}.svg",
        ));
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
    let top_rank = info.and_then(|i| i.levels.iter().map(|(_, r)| *r).max());
    let (message, color) = match result {
        None => ("not evaluated".to_string(), "lightgrey"),
        Some(r) => match (&r.result.level, r.result.level_rank) {
            (Some(level), rank) => {
                let color = if rank.is_some() && rank == top_rank {
                    "brightgreen"
                } else {
                    "yellowgreen"
                };
                (level.clone(), color)
            }
            (None, _) => ("no level".to_string(), "red"),
        },
    };
    let style = q
        .style
        .as_deref()
        .and_then(|s| s.parse::<shields::BadgeStyle>().ok())
        .unwrap_or_default();
    let params = shields::BadgeParams {
        style,
        message_color: Some(color),
        ..shields::BadgeParams::new(label, &message)
    };
    let svg = shields::render_badge_svg(&params);
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        svg,
    )
        .into_response())
}
