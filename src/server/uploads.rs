//! Coverage uploads: the routes the uploaders teams already run can send to, unchanged but for
//! their host and token, and the native API. Every route reads the report (any format,
//! detected when not named; gzip or not) within the `[uploads]` limits, makes its paths
//! relative to the repository and merges it into its commit in one transaction: a report that
//! is refused leaves nothing behind.
//!
//! Who may upload where: a project token (`rubric tokens create`) to its own repository; an API
//! token with the `upload` or `admin` role to any.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, Role};
use crate::coverage::paths::{PathContext, normalize};
use crate::coverage::{Format, Limits, RepoSlug, Totals};
use crate::store::uploads::{CommitCoverage, CommitQuery, NewUpload, UploadReceipt};

/// Headers uploaders carry their token in, besides `Authorization`: Codacy's (both spellings),
/// Codecov's legacy uploader's, Datadog's.
const TOKEN_HEADERS: &[&str] = &[
    "project_token",
    "project-token",
    "api_token",
    "api-token",
    "x-upload-token",
    "dd-api-key",
];

/// Who sent an upload.
#[derive(Clone, Debug)]
pub enum Uploader {
    /// An API token with the `upload` or `admin` role: any repository.
    Account(String),
    /// A project token: its repository only.
    Project {
        /// `service/owner/repo`.
        repository: String,
        /// The token's name.
        name: String,
    },
}

impl Uploader {
    pub(super) fn name(&self) -> &str {
        match self {
            Uploader::Account(name) | Uploader::Project { name, .. } => name,
        }
    }

    /// Refuses a project token of another repository.
    pub(super) fn may_upload_to(&self, slug: &RepoSlug) -> Result<(), ApiError> {
        match self {
            Uploader::Project { repository, .. } if *repository != slug.to_string() => {
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("this project token uploads to {repository}, not to {slug}"),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The token of a request: `Authorization: Bearer T` or `token T` (Codecov), else the first
/// uploader header that is set.
pub(super) fn request_token(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some((scheme, token)) = value.trim().split_once(' ')
        && (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
    {
        return Some(token.trim().to_string());
    }
    TOKEN_HEADERS.iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

/// Who the request's token belongs to; 401 without a token or with an unknown one, 403 for an
/// API token without the `upload` or `admin` role.
pub(super) async fn uploader(state: &AppState, headers: &HeaderMap) -> Result<Uploader, ApiError> {
    let Some(token) = request_token(headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "an upload token is required (Authorization: Bearer TOKEN, or the uploader's own \
             token header)",
        ));
    };
    if let Some(caller) = state.inner.auth.caller(&token) {
        return if caller.role.grants(Role::Upload) {
            Ok(Uploader::Account(caller.name))
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "this token's role may not upload (needs upload or admin, or a project token)",
            ))
        };
    }
    match state.runner().store().upload_token(&token).await? {
        Some((repository, name)) => Ok(Uploader::Project { repository, name }),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unknown or revoked upload token",
        )),
    }
}

/// An upload on its way into the store.
pub(super) struct Incoming<'a> {
    pub slug: RepoSlug,
    pub commit: &'a str,
    pub branch: Option<&'a str>,
    pub flags: Vec<String>,
    pub format: Option<Format>,
    pub complete: bool,
    pub uploader: &'a Uploader,
    /// The reports, each with the name errors give it (several from one Codecov upload).
    pub bodies: Vec<(String, Bytes)>,
    /// The repository's files, when the uploader listed them.
    pub files: Vec<String>,
}

/// Parses, normalises and stores one report: 400 naming the problem when it is malformed, 413
/// when it is over a limit.
pub(super) async fn accept(
    state: &AppState,
    upload: Incoming<'_>,
) -> Result<(UploadReceipt, Format), ApiError> {
    upload.uploader.may_upload_to(&upload.slug)?;
    let commit = upload.commit.trim();
    if commit.is_empty() || commit.len() > 64 || !commit.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ApiError::bad_request(format!(
            "commit {commit:?} is not a commit id (letters and digits, at most 64)"
        )));
    }
    check_label("branch", upload.branch.unwrap_or_default(), 255)?;
    for flag in &upload.flags {
        check_label("flag", flag, 100)?;
    }
    let limits = state.upload_limits();
    let bodies = upload.bodies;
    let parsed = tokio::task::spawn_blocking(move || parse_all(bodies, upload.format, &limits))
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the report parser stopped");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: the report parser stopped",
            )
        })?;
    let (mut report, format) = parsed?;
    normalize(
        &mut report,
        &PathContext {
            owner: upload.slug.owner.rsplit('/').next().unwrap_or_default(),
            repo: &upload.slug.repo,
            files: &upload.files,
        },
    );
    let repository = upload.slug.to_string();
    let receipt = state
        .runner()
        .store()
        .save_upload(NewUpload {
            repository: &repository,
            commit,
            branch: upload.branch.map(str::trim).filter(|b| !b.is_empty()),
            flags: &upload.flags,
            format,
            uploaded_by: upload.uploader.name(),
            complete: upload.complete,
            report,
            at: crate::clock::now(),
        })
        .await?;
    tracing::info!(
        repository,
        commit,
        format = format.as_str(),
        lines = receipt.totals.lines,
        by = upload.uploader.name(),
        "coverage upload stored"
    );
    Ok((receipt, format))
}

/// A branch or flag name: at most `max` characters, no control characters, and for flags no
/// comma (flags are listed with commas).
fn check_label(what: &str, text: &str, max: usize) -> Result<(), ApiError> {
    let bad = text.chars().count() > max
        || text.chars().any(char::is_control)
        || (what == "flag" && text.contains(','));
    if bad {
        let shown: String = text.chars().take(40).filter(|c| !c.is_control()).collect();
        return Err(ApiError::bad_request(format!(
            "{what} {shown:?}… is not a {what} name (at most {max} characters, no control characters{})",
            if what == "flag" { " or commas" } else { "" }
        )));
    }
    Ok(())
}

/// Parses every report of an upload and merges them: one report to store, in the format of the
/// first. 400 naming the report and its problem, 413 when one is over a limit.
fn parse_all(
    bodies: Vec<(String, Bytes)>,
    format: Option<Format>,
    limits: &Limits,
) -> Result<(crate::coverage::Report, Format), ApiError> {
    let several = bodies.len() > 1;
    let mut merged: Option<(crate::coverage::Report, Format)> = None;
    for (name, body) in bodies {
        let (report, read_as) = crate::coverage::parse(&body[..], format, limits).map_err(|e| {
            let status = if e.is_over_limit() {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            let which = if several {
                format!(" {name}")
            } else {
                String::new()
            };
            ApiError::new(status, format!("the report{which} was refused: {e}"))
        })?;
        match &mut merged {
            Some((all, _)) => all.merge(report),
            None => merged = Some((report, read_as)),
        }
    }
    merged.ok_or_else(|| ApiError::bad_request("the upload holds no coverage report"))
}

/// Flags as uploaders send them: a list (Codecov's `flags`, Datadog's `report.flags`) or one
/// comma-separated text.
pub(super) fn flag_list(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect(),
        serde_json::Value::String(s) => s
            .split(',')
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The repository of a native route, or 400.
fn slug(service: &str, owner: &str, repo: &str) -> Result<RepoSlug, ApiError> {
    RepoSlug::parse(&format!("{service}/{owner}/{repo}")).map_err(ApiError::bad_request)
}

/// A `format` parameter, or 400 listing the formats.
fn format_param(name: Option<&str>) -> Result<Option<Format>, ApiError> {
    match name.map(str::trim).filter(|n| !n.is_empty()) {
        None => Ok(None),
        Some(name) => Format::from_name(name).map(Some).ok_or_else(|| {
            ApiError::bad_request(format!(
                "format {name:?} is not one of {}",
                Format::ALL.map(Format::as_str).join(", ")
            ))
        }),
    }
}

/// The query of `POST /api/v1/coverage/{service}/{owner}/{repo}/uploads`.
#[derive(Deserialize)]
pub(super) struct UploadQuery {
    commit: Option<String>,
    branch: Option<String>,
    flag: Option<String>,
    format: Option<String>,
}

/// `POST /api/v1/coverage/{service}/{owner}/{repo}/uploads?commit=&branch=&flag=&format=`.
pub(super) async fn native_upload(
    State(state): State<AppState>,
    Path((service, owner, repo)): Path<(String, String, String)>,
    Query(q): Query<UploadQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let uploader = uploader(&state, &headers).await?;
    let slug = slug(&service, &owner, &repo)?;
    let commit = q
        .commit
        .ok_or_else(|| ApiError::bad_request("the commit parameter is required (?commit=SHA)"))?;
    let format = format_param(q.format.as_deref())?;
    let flag = q.flag.unwrap_or_default();
    let (receipt, format) = accept(
        &state,
        Incoming {
            slug,
            commit: &commit,
            branch: q.branch.as_deref(),
            flags: vec![flag.clone()],
            format,
            complete: true,
            uploader: &uploader,
            bodies: vec![("report".into(), body)],
            files: Vec::new(),
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "upload_id": receipt.upload_id,
            "commit": commit,
            "branch": q.branch,
            "flag": if flag.is_empty() { None } else { Some(flag) },
            "format": format,
            "totals": receipt.totals,
        })),
    )
        .into_response())
}

/// The query of the native reads.
#[derive(Deserialize)]
pub(super) struct ReadQuery {
    branch: Option<String>,
    commit: Option<String>,
    flag: Option<String>,
}

/// `GET /api/v1/coverage/{service}/{owner}/{repo}[?branch=&commit=&flag=]`: the latest merged
/// result (of the branch, commit or flag).
pub(super) async fn latest(
    State(state): State<AppState>,
    Path((service, owner, repo)): Path<(String, String, String)>,
    Query(q): Query<ReadQuery>,
) -> Result<Response, ApiError> {
    let slug = slug(&service, &owner, &repo)?;
    let found = pick(&state, &slug, &q).await?;
    let totals: Totals = match q.flag.as_deref().filter(|f| !f.is_empty()) {
        None => found.totals,
        Some(flag) => *found.flags.get(flag).ok_or_else(|| {
            ApiError::not_found(format!(
                "no upload with flag {flag:?} for commit {} (flags: {})",
                found.commit,
                found.flags.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?,
    };
    Ok(Json(json!({
        "service": slug.service,
        "owner": slug.owner,
        "repo": slug.repo,
        "branch": found.branch,
        "commit": found.commit,
        "uploaded_at": found.uploaded_at,
        "complete": found.complete,
        "totals": totals,
        "flags": found.flags,
    }))
    .into_response())
}

/// The commit a read names (`?commit=`, else the latest on `?branch=`, else the latest), or 404.
async fn pick(
    state: &AppState,
    slug: &RepoSlug,
    q: &ReadQuery,
) -> Result<CommitCoverage, ApiError> {
    let branches: Vec<String> = q.branch.iter().cloned().collect();
    let query = CommitQuery {
        commit: q.commit.as_deref(),
        branches: &branches,
        complete_only: false,
        unknown_branch_matches: false,
        before: None,
    };
    state
        .runner()
        .store()
        .commit_coverage(&slug.to_string(), query)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no coverage uploaded for {slug}{}", which(q))))
}

fn which(q: &ReadQuery) -> String {
    match (&q.commit, &q.branch) {
        (Some(c), _) => format!(" at commit {c}"),
        (None, Some(b)) => format!(" on branch {b}"),
        (None, None) => String::new(),
    }
}

/// `GET /api/v1/coverage/{service}/{owner}/{repo}/files[?commit=&branch=&flag=]`: per-file
/// totals of the commit.
pub(super) async fn files(
    State(state): State<AppState>,
    Path((service, owner, repo)): Path<(String, String, String)>,
    Query(q): Query<ReadQuery>,
) -> Result<Response, ApiError> {
    let slug = slug(&service, &owner, &repo)?;
    let found = pick(&state, &slug, &q).await?;
    let flag = q.flag.unwrap_or_default();
    let files: Vec<_> = state
        .runner()
        .store()
        .commit_files(&slug.to_string(), &found.commit, &flag)
        .await?
        .iter()
        .map(|f| {
            let t = f.totals();
            json!({"path": f.path, "lines": t.lines, "hits": t.hits, "misses": t.misses,
                "partials": t.partials, "coverage": t.coverage})
        })
        .collect();
    Ok(Json(json!({
        "commit": found.commit,
        "flag": if flag.is_empty() { None } else { Some(flag) },
        "files": files,
    }))
    .into_response())
}

/// Upload limits from `[uploads]`, for the parser.
pub(super) fn limits(cfg: &crate::config::UploadsConfig) -> Limits {
    Limits {
        max_bytes: cfg.max_report_bytes,
        max_files: cfg.max_files,
        max_lines: cfg.max_lines,
        totals_only: false,
    }
}
