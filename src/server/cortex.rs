//! Cortex's scorecard and catalog API under `/cortex/api/v1` (reached with `CORTEX_BASE_URL=http://host/cortex`), projected from the stored results.

use axum::Router;

use super::AppState;

/// The routes of this API, each with its own authorisation layer.
pub(super) fn routes(_state: &AppState) -> Router<AppState> {
    Router::new()
}
