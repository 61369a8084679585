//! The catalog: the entity list (paged like Cortex), one entity's details, and its scores.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::scorecards::params;
use super::scores::entity_scorecards;
use super::shape::{Page, owners, service};
use crate::catalog::Entity;
use crate::server::api::resolve_entity;
use crate::server::{ApiError, AppState};

/// An entity as Cortex's catalog describes it (`id` is the tag: rubric has no other id).
fn entity(e: &Entity) -> Value {
    let (teams, individuals) = owners(e);
    json!({
        "id": e.tag,
        "tag": e.tag,
        "name": e.name,
        "description": e.description,
        "type": e.entity_type,
        "groups": e.groups,
        "owners": {
            "teams": teams.iter().map(|o| json!({ "tag": o.name, "provider": o.provider })).collect::<Vec<_>>(),
            "individuals": individuals.iter().map(|o| json!({ "email": o.name })).collect::<Vec<_>>(),
        },
        "links": e.links.iter().map(|l| json!({ "name": l.name, "type": l.kind, "url": l.url })).collect::<Vec<_>>(),
        "git": e.repository.as_ref().map(|r| json!({
            "repository": format!("{}/{}", r.owner, r.name),
            "provider": r.provider,
            "basepath": r.basepath,
        })),
        "isArchived": false,
    })
}

/// Whether an entity passes the catalog list's filters (`types`, `groups`, `owners`,
/// `gitRepositories`; any value of a filter, case-insensitively).
fn selected(e: &Entity, filter: &[(&str, Vec<&str>)]) -> bool {
    filter.iter().all(|(key, wanted)| {
        let has = |v: &str| wanted.iter().any(|w| w.eq_ignore_ascii_case(v));
        wanted.is_empty()
            || match *key {
                "types" => has(&e.entity_type),
                "groups" => e.groups.iter().any(|g| has(g)),
                "owners" => e.owners.iter().any(|o| has(&o.name)),
                _ => e
                    .repository
                    .as_ref()
                    .is_some_and(|r| has(&format!("{}/{}", r.owner, r.name))),
            }
    })
}

/// `GET /catalog?page=&pageSize=&types=&groups=&owners=&gitRepositories=`: `{entities, page,
/// total, totalPages}` in catalog order (empty when the evaluator has no catalog). Display
/// options (`includeOwners`, `hierarchyDepth`...) are accepted; the details are always there.
pub(super) async fn list(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let params = params(query)?;
    let page = Page::from(&params, 250)?;
    let filter: Vec<(&str, Vec<&str>)> = ["types", "groups", "owners", "gitRepositories"]
        .into_iter()
        .map(|k| (k, params.list(k)))
        .collect();
    let catalog = state.runner().evaluator().current_catalog();
    let chosen: Vec<&Entity> = catalog
        .iter()
        .flat_map(|c| c.entities.iter())
        .filter(|e| selected(e, &filter))
        .collect();
    let items = page.slice(&chosen).iter().map(|e| entity(e)).collect();
    Ok(Json(page.envelope("entities", items, chosen.len() as i64)).into_response())
}

/// `GET /catalog/{entity}` (details) and `GET /catalog/{entity}/scorecards` (its scores), the
/// entity a tag or a Backstage ref (its slash raw or `%2F`).
pub(super) async fn entity_routes(
    State(state): State<AppState>,
    Path(rest): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(tag) = rest.strip_suffix("/scorecards") {
        return entity_scorecards(&state, tag).await;
    }
    let (tag, results) = resolve_entity(&state, &rest).await?;
    let catalog = state.runner().evaluator().current_catalog();
    let body = match catalog.as_ref().and_then(|c| c.get(&tag)) {
        Some(e) => entity(e),
        None => {
            let name = results
                .first()
                .map_or(tag.as_str(), |r| r.result.entity_name.as_str());
            service(None, &tag, name)
        }
    };
    Ok(Json(body).into_response())
}
