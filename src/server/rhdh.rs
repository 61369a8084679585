//! Red Hat Developer Hub's scorecard backend under `/api/scorecard`: metrics and aggregations, projected from the stored results.

use axum::Router;

use super::AppState;

/// The routes of this API, each with its own authorisation layer.
pub(super) fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
}
