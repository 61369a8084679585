//! Codacy's coverage API, as its reporters (Python, Node, Scala) call it: `POST
//! /2.0/coverage/{commit}/{language}` with a project token, `POST
//! /2.0/[{provider}/]{owner}/{project}/commit/{commit}/coverage/{language}` with an account
//! token, `?partial=true` for reports in parts and the `coverageFinal` calls that complete
//! them. Tokens come in `project_token`, `project-token`, `api_token` or `api-token` headers.
//! The body is Codacy's JSON; each language is a flag of the commit, and the commit's whole
//! report merges them. Success is 200 `{"success": "..."}` (the Node reporter wants exactly
//! 200), an error `{"error": "..."}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::uploads::{Incoming, Uploader, accept, uploader};
use super::{ApiError, AppState};
use crate::coverage::{Format, RepoSlug};

/// `?partial=`.
#[derive(Deserialize)]
pub(super) struct PartialQuery {
    partial: Option<String>,
}

/// Codacy's provider names (`gh`, `gl`, `bb`) as Codecov's services; none means GitHub.
fn service(provider: Option<&str>) -> Result<&'static str, ApiError> {
    match provider.map(str::to_ascii_lowercase).as_deref() {
        None | Some("gh" | "github") => Ok("github"),
        Some("gl" | "gitlab") => Ok("gitlab"),
        Some("bb" | "bitbucket") => Ok("bitbucket"),
        Some(other) => Err(ApiError::bad_request(format!(
            "provider {other:?} is not gh, gl or bb"
        ))),
    }
}

/// The repository of a request: the account route's, or the project token's own.
fn repository(
    uploader: &Uploader,
    route: Option<(Option<&str>, &str, &str)>,
) -> Result<RepoSlug, ApiError> {
    match (route, uploader) {
        (Some((provider, owner, project)), _) => {
            RepoSlug::parse(&format!("{}/{owner}/{project}", service(provider)?))
                .map_err(ApiError::bad_request)
        }
        (None, Uploader::Project { repository, .. }) => {
            RepoSlug::parse(repository).map_err(ApiError::bad_request)
        }
        (None, Uploader::Account(_)) => Err(ApiError::bad_request(
            "an account token names its repository: POST /2.0/{owner}/{project}/commit/{commit}/\
             coverage/{language} (or use a project token)",
        )),
    }
}

async fn upload(
    state: AppState,
    headers: HeaderMap,
    route: Option<(Option<&str>, &str, &str)>,
    commit: &str,
    language: &str,
    partial: Option<&str>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = uploader(&state, &headers).await?;
    let slug = repository(&who, route)?;
    let partial = matches!(
        partial.map(str::to_ascii_lowercase).as_deref(),
        Some("true" | "1")
    );
    accept(
        &state,
        Incoming {
            slug,
            commit,
            branch: None,
            flags: vec![language.to_string()],
            format: Some(Format::Codacy),
            complete: !partial,
            uploader: &who,
            bodies: vec![("report".into(), body)],
            files: Vec::new(),
        },
    )
    .await?;
    Ok(Json(json!({"success": "Report sent!"})).into_response())
}

async fn finish(
    state: AppState,
    headers: HeaderMap,
    route: Option<(Option<&str>, &str, &str)>,
    commit: &str,
) -> Result<Response, ApiError> {
    let who = uploader(&state, &headers).await?;
    let slug = repository(&who, route)?;
    who.may_upload_to(&slug)?;
    if !state
        .runner()
        .store()
        .complete_commit(&slug.to_string(), commit)
        .await?
    {
        return Err(ApiError::not_found(format!(
            "no coverage was uploaded for commit {commit} of {slug}"
        )));
    }
    Ok(Json(json!({"success": "Coverage final sent"})).into_response())
}

/// `POST /2.0/coverage/{commit}/{language}` (project token).
pub(super) async fn project_upload(
    State(state): State<AppState>,
    Path((commit, language)): Path<(String, String)>,
    Query(q): Query<PartialQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    upload(
        state,
        headers,
        None,
        &commit,
        &language,
        q.partial.as_deref(),
        body,
    )
    .await
}

/// `POST /2.0/{owner}/{project}/commit/{commit}/coverage/{language}` (account token).
pub(super) async fn account_upload(
    State(state): State<AppState>,
    Path((owner, project, commit, language)): Path<(String, String, String, String)>,
    Query(q): Query<PartialQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let route = Some((None, owner.as_str(), project.as_str()));
    upload(
        state,
        headers,
        route,
        &commit,
        &language,
        q.partial.as_deref(),
        body,
    )
    .await
}

/// `POST /2.0/{provider}/{owner}/{project}/commit/{commit}/coverage/{language}`.
pub(super) async fn provider_upload(
    State(state): State<AppState>,
    Path((provider, owner, project, commit, language)): Path<(
        String,
        String,
        String,
        String,
        String,
    )>,
    Query(q): Query<PartialQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let route = Some((Some(provider.as_str()), owner.as_str(), project.as_str()));
    upload(
        state,
        headers,
        route,
        &commit,
        &language,
        q.partial.as_deref(),
        body,
    )
    .await
}

/// `POST /2.0/commit/{commit}/coverageFinal` (project token).
pub(super) async fn project_final(
    State(state): State<AppState>,
    Path(commit): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    finish(state, headers, None, &commit).await
}

/// `POST /2.0/{owner}/{project}/commit/{commit}/coverageFinal`.
pub(super) async fn account_final(
    State(state): State<AppState>,
    Path((owner, project, commit)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    finish(state, headers, Some((None, &owner, &project)), &commit).await
}

/// `POST /2.0/{provider}/{owner}/{project}/commit/{commit}/coverageFinal`.
pub(super) async fn provider_final(
    State(state): State<AppState>,
    Path((provider, owner, project, commit)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    finish(
        state,
        headers,
        Some((Some(&provider), &owner, &project)),
        &commit,
    )
    .await
}
