//! Cortex's scorecard and catalog API under `/cortex/api/v1` (reached with
//! `CORTEX_BASE_URL=http://host/cortex`, since rubric's own API owns `/api/v1`), so that the
//! `cortex` CLI and scripts written for Cortex read rubric's results unchanged.
//!
//! Every route projects the store's latest results (as `/api/v1` reads them) into Cortex's
//! shapes ([`shape`]); none evaluates, but the explicit re-evaluation, which goes through the
//! runner as `POST /api/v1/scorecards/{tag}/entities/{entity}/evaluate` does. Reads need the
//! read role, the re-evaluation the admin role; every error under `/cortex` is in Cortex's shape
//! ([`error`]).

mod catalog;
pub(super) mod error;
mod scorecards;
mod scores;
mod shape;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;

/// The routes of this API, each with its own authorisation layer.
pub(super) fn routes(state: &AppState) -> Router<AppState> {
    let v1 = |path: &str| format!("{}/api/v1{path}", error::PREFIX);
    // Entities in paths may be Backstage refs with a raw slash: the routes that take one end
    // in a wildcard, split from its end (`.../badge`, `.../scores`, `.../scorecards`).
    let read = Router::new()
        .route(&v1("/scorecards"), get(scorecards::list))
        .route(&v1("/scorecards/descriptor"), post(scorecards::dry_run))
        .route(&v1("/scorecards/{tag}"), get(scorecards::get))
        .route(
            &v1("/scorecards/{tag}/descriptor"),
            get(scorecards::descriptor),
        )
        .route(&v1("/scorecards/{tag}/scores"), get(scores::scores))
        .route(&v1("/scorecards/{tag}/next-steps"), get(scores::next_steps))
        .route(
            &v1("/scorecards/{tag}/entity/{*rest}"),
            get(scores::entity_get),
        )
        .route(&v1("/catalog"), get(catalog::list))
        .route(&v1("/catalog/{*rest}"), get(catalog::entity_routes))
        .route_layer(super::layers::require(state, super::Role::Read));
    let admin = Router::new()
        .route(
            &v1("/scorecards/{tag}/entity/{*rest}"),
            post(scores::entity_post),
        )
        .route_layer(super::layers::require(state, super::Role::Admin));
    read.merge(admin)
}
