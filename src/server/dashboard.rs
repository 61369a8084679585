//! The coverage dashboard: every repository with coverage, its 30-day sparkline and change,
//! whether it is declining, its minimum, its last upload and its regressing pull requests;
//! sortable by column and filterable by owner. `GET /api/v1/coverage` answers it as JSON,
//! `GET /coverage` as a server-rendered page (no scripts, readable at 600 px).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::series_json;
use super::page::{content_security_policy, escape, sparkline, when};
use super::{ApiError, AppState};
use crate::store::{CoverageSeries, PullRecord, window_start};

const TEMPLATE: &str = include_str!("dashboard.html.hbs");

/// `?owner=&sort=&order=`.
#[derive(Deserialize, Default)]
pub(super) struct DashboardQuery {
    owner: Option<String>,
    sort: Option<String>,
    order: Option<String>,
}

/// The columns one can sort by, as `sort=` names them.
const SORTS: &[&str] = &["repository", "coverage", "change", "minimum", "last_upload"];

/// One repository's row.
struct Row {
    series: CoverageSeries,
    minimum: Option<f64>,
    regressing: Vec<PullRecord>,
}

impl Row {
    /// Whether its latest coverage is under its minimum.
    fn below_minimum(&self) -> bool {
        self.minimum
            .zip(self.series.latest)
            .is_some_and(|(m, c)| c < m)
    }

    fn key(&self, sort: &str) -> Option<f64> {
        match sort {
            "coverage" => self.series.latest,
            "change" => self.series.change(),
            "minimum" => self.minimum,
            "last_upload" => self.series.last_upload_at.map(|t| t.timestamp() as f64),
            _ => None,
        }
    }
}

/// The rows `q` asks for, sorted (missing values last) and filtered by owner.
async fn rows(state: &AppState, q: &DashboardQuery) -> Result<Vec<Row>, ApiError> {
    let sort = q.sort.as_deref().unwrap_or("repository");
    if !SORTS.contains(&sort) {
        return Err(ApiError::bad_request(format!(
            "sort {sort:?} is not one of {}",
            SORTS.join(", ")
        )));
    }
    let descending = match q.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "order {other:?} is not asc or desc"
            )));
        }
    };
    let store = state.runner().store();
    let settings = &state.inner.settings;
    let regressing = store.pulls(Some(-settings.regressing_points)).await?;
    let owner = q.owner.as_deref().map(str::trim).filter(|o| !o.is_empty());
    let mut rows: Vec<Row> = store
        .coverage_all(window_start(crate::clock::now(), 30))
        .await?
        .into_iter()
        .filter(|s| {
            owner.is_none_or(|o| {
                crate::coverage::repository_matches(&format!("{o}/*"), &s.repository)
            })
        })
        .map(|series| Row {
            minimum: settings
                .alerts
                .minimum(None, &series.repository, &series.flag),
            regressing: regressing
                .iter()
                .filter(|p| p.repository == series.repository && p.provider == series.provider)
                .cloned()
                .collect(),
            series,
        })
        .collect();
    if sort == "repository" {
        rows.sort_by(|a, b| a.series.repository.cmp(&b.series.repository));
        if descending {
            rows.reverse();
        }
    } else {
        rows.sort_by(|a, b| match (a.key(sort), b.key(sort)) {
            (Some(x), Some(y)) if descending => y.total_cmp(&x),
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.series.repository.cmp(&b.series.repository),
        });
    }
    Ok(rows)
}

fn query(q: Result<Query<DashboardQuery>, QueryRejection>) -> Result<DashboardQuery, ApiError> {
    q.map(|Query(q)| q)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

/// `GET /api/v1/coverage[?owner=&sort=&order=]`.
pub(super) async fn json(
    State(state): State<AppState>,
    q: Result<Query<DashboardQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let q = query(q)?;
    let rows = rows(&state, &q).await?;
    let threshold = state.inner.settings.alerts.trend_drop_points;
    let repositories: Vec<Value> = rows
        .iter()
        .map(|r| {
            let mut row = series_json(&r.series, threshold);
            if let Some(fields) = row.as_object_mut() {
                fields.insert("minimum".into(), json!(r.minimum));
                fields.insert("below_minimum".into(), json!(r.below_minimum()));
                fields.insert("regressing_pulls".into(), json!(r.regressing));
            }
            row
        })
        .collect();
    Ok(Json(json!({"repositories": repositories})).into_response())
}

/// `GET /coverage[?owner=&sort=&order=]`: the dashboard page.
pub(super) async fn page(
    State(state): State<AppState>,
    q: Result<Query<DashboardQuery>, QueryRejection>,
) -> Response {
    let q = match query(q) {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    let rows = match rows(&state, &q).await {
        Ok(rows) => rows,
        Err(e) => return e.into_response(),
    };
    let owner = q.owner.clone().unwrap_or_default();
    let sort = q.sort.clone().unwrap_or_else(|| "repository".into());
    let order = q.order.clone().unwrap_or_else(|| "asc".into());
    let link = |column: &str| {
        // Sorting by the current column again flips its order.
        let flipped = if sort == column && order == "asc" {
            "desc"
        } else {
            "asc"
        };
        let params = [
            ("sort", column),
            ("order", flipped),
            ("owner", owner.as_str()),
        ];
        reqwest::Url::parse_with_params("http://rubric/coverage", params).map_or_else(
            |_| "/coverage".into(),
            |u| format!("/coverage?{}", u.query().unwrap_or_default()),
        )
    };
    let column = |label: &str, sort_key: Option<&str>, narrow: bool| json!({"label": label, "href": sort_key.map(&link), "narrow": narrow});
    let threshold = state.inner.settings.alerts.trend_drop_points;
    let data = json!({
        "owner": owner,
        "sort": sort,
        "order": order,
        "count": rows.len(),
        "generated_at": when(crate::clock::now()),
        "columns": [
            column("Repository", Some("repository"), false),
            column("Coverage", Some("coverage"), false),
            column("Last 30 days", None, true),
            column("Change", Some("change"), false),
            column("Minimum", Some("minimum"), true),
            column("Last upload", Some("last_upload"), false),
            column("Regressing pull requests", None, false),
        ],
        "rows": rows.iter().map(|r| {
            let s = &r.series;
            let name = if s.flag.is_empty() { s.repository.clone() } else { format!("{} (flag {})", s.repository, s.flag) };
            json!({
                "repository": name,
                "provider": s.provider,
                "latest": s.latest.map_or("no data".into(), |c| format!("{c:.1}%")),
                "below": r.below_minimum(),
                "minimum": r.minimum.map_or(String::new(), |m| format!("{m:.1}%")),
                "spark": sparkline(s, threshold),
                "change": s.change().map_or("—".into(), |c| format!("{c:+.1} pts")),
                "last_upload": s.last_upload_at.map_or("unknown".into(), when),
                "regressing": r.regressing.iter().map(|p| json!({
                    "pullid": p.pullid, "title": p.title,
                    "delta": p.delta.map_or(String::new(), |d| format!("{d:+.1}")),
                })).collect::<Vec<_>>(),
            })
        }).collect::<Vec<_>>(),
    });
    let html = template().render("dashboard", &data);
    match html {
        Ok(html) => {
            let mut resp = Html(html).into_response();
            let csp = content_security_policy(&state.inner.settings.frame_ancestors);
            if let Ok(v) = HeaderValue::from_str(&csp) {
                resp.headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, v);
            }
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "the coverage dashboard did not render");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
            .into_response()
        }
    }
}

/// The page template, compiled once (it is part of the binary and covered by tests).
fn template() -> &'static handlebars::Handlebars<'static> {
    static PAGES: std::sync::OnceLock<handlebars::Handlebars<'static>> = std::sync::OnceLock::new();
    PAGES.get_or_init(|| {
        let mut pages = handlebars::Handlebars::new();
        pages.register_escape_fn(escape);
        if let Err(e) = pages.register_template_string("dashboard", TEMPLATE) {
            tracing::error!(error = %e, "the coverage dashboard template does not compile");
        }
        pages
    })
}
