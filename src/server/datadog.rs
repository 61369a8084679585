//! Datadog's coverage intake, `POST /api/v2/cicovreprt`, as `datadog-ci coverage upload` sends
//! it: `multipart/form-data` with an `event` part (JSON: `format`, `git.repository_url`,
//! `git.branch`, `git.commit.sha`, optional `report.flags`) and one `code_coverage_report_file`
//! part per report (gzipped); `commit_diff`, `pr_diff` and `file_fixes` are accepted and not
//! used. `DD-API-KEY` carries a project token or an API token with the `upload` role. The
//! repository comes from `git.repository_url`. Answers 202.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::uploads::{Incoming, Uploader, accept, flag_list, uploader};
use super::{ApiError, AppState};
use crate::coverage::{Format, RepoSlug};

/// `POST /api/v2/cicovreprt`.
pub(super) async fn intake(
    State(state): State<AppState>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let who = uploader(&state, &headers).await?;
    let mut event: Option<Value> = None;
    let mut reports: Vec<(String, Bytes)> = Vec::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("the multipart body is malformed: {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        let file = field.file_name().unwrap_or("report").to_string();
        let bytes = field
            .bytes()
            .await
            .map_err(|e| ApiError::bad_request(format!("the part {name:?} cannot be read: {e}")))?;
        match name.as_str() {
            "event" => {
                event = Some(serde_json::from_slice(&bytes).map_err(|e| {
                    ApiError::bad_request(format!("the event part is not JSON: {e}"))
                })?);
            }
            "code_coverage_report_file" => reports.push((file, bytes)),
            _ => {}
        }
    }
    let event = event.ok_or_else(|| ApiError::bad_request("the upload has no event part"))?;
    if reports.is_empty() {
        return Err(ApiError::bad_request(
            "the upload has no code_coverage_report_file part",
        ));
    }
    let text = |key: &str| event[key].as_str().map(str::trim).filter(|v| !v.is_empty());
    let commit = text("git.commit.sha")
        .ok_or_else(|| ApiError::bad_request("the event names no git.commit.sha"))?;
    let slug = repository(&who, text("git.repository_url"))?;
    let format = match text("format") {
        None => None,
        Some(name) => Some(Format::from_name(name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "format {name:?} is not one rubric reads ({})",
                Format::ALL.map(Format::as_str).join(", ")
            ))
        })?),
    };
    let flags = flag_list(&event["report.flags"]);
    accept(
        &state,
        Incoming {
            slug,
            commit,
            branch: text("git.branch"),
            flags,
            format,
            complete: true,
            uploader: &who,
            bodies: reports,
            files: Vec::new(),
        },
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))).into_response())
}

/// The repository of `git.repository_url`; a project token's own when the URL names none.
fn repository(who: &Uploader, url: Option<&str>) -> Result<RepoSlug, ApiError> {
    match (url.and_then(RepoSlug::from_git_url), who) {
        (Some(slug), _) => Ok(slug),
        (None, Uploader::Project { repository, .. }) => {
            RepoSlug::parse(repository).map_err(ApiError::bad_request)
        }
        (None, Uploader::Account(_)) => Err(ApiError::bad_request(format!(
            "git.repository_url {:?} names no GitHub, GitLab or Bitbucket repository",
            url.unwrap_or_default()
        ))),
    }
}
