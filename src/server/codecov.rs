//! Codecov's upload API, as `codecovcli --enterprise-url URL` (and the official CI actions that
//! wrap it) calls it, with `S` = `/upload/{service}/{owner::::repo}`:
//!
//! - `upload-coverage`: `POST S/upload-coverage` (commit, branch, flags) answers 201 with a
//!   `raw_upload_location` on rubric itself, then `PUT` there the JSON of `coverage_files`
//!   (each report base64 of zlib) and `network_files` (the repository's files, for paths);
//! - `upload-process`: `POST S/commits`, `POST S/commits/{sha}/reports`, `POST
//!   S/commits/{sha}/reports/{code}/uploads` (201 with `raw_upload_location`), the same `PUT`,
//!   and `POST S/commits/{sha}/upload-complete`;
//! - the legacy uploader: `POST /upload/v4?commit=&branch=&slug=&service=` answering two lines
//!   of text, `resultURL` and `putURL`, then a `PUT` of the old text format (`# path=` blocks
//!   ending `<<<<<< EOF`, after the file list and `<<<<<< network`).
//!
//! The `Authorization: token T` (or `X-Upload-Token`) is a project token, or an API token with
//! the `upload` role. The PUT carries no token: its URL's random id is the capability, usable
//! once within a day.

use std::io::Read;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use super::uploads::{Incoming, Uploader, accept, flag_list, uploader};
use super::{ApiError, AppState};
use crate::coverage::RepoSlug;
use crate::store::uploads::NewUpload;

/// The repository of `/upload/{service}/{owner::::repo}` (GitLab subgroups as `a:::b`).
fn repository(service: &str, slug: &str) -> Result<RepoSlug, ApiError> {
    let (owner, repo) = slug
        .rsplit_once("::::")
        .ok_or_else(|| ApiError::bad_request(format!("{slug:?} is not owner::::repo")))?;
    RepoSlug::parse(&format!("{service}/{}/{repo}", owner.replace(":::", "/")))
        .map_err(ApiError::bad_request)
}

/// The address uploaders reach this server at: `[uploads] public_url`, else the request's
/// `Host` (https when a proxy says so).
pub(super) fn public_url(state: &AppState, headers: &HeaderMap) -> String {
    let configured = state
        .inner
        .settings
        .uploads
        .public_url
        .trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// A JSON body, or an empty object when there is none.
fn body_json(body: &Bytes) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
}

/// Opens a session for a report to be PUT later; answers its absolute URL.
async fn open_session(
    state: &AppState,
    headers: &HeaderMap,
    who: &Uploader,
    slug: &RepoSlug,
    commit: &str,
    branch: Option<&str>,
    flags: &[String],
) -> Result<String, ApiError> {
    who.may_upload_to(slug)?;
    let repository = slug.to_string();
    let remembered = match branch {
        Some(_) => None,
        None => {
            state
                .runner()
                .store()
                .commit_branch(&repository, commit)
                .await?
        }
    };
    let id = crate::store::uploads::new_token().replace('-', "");
    state
        .runner()
        .store()
        .open_upload_session(
            &id,
            &NewUpload {
                repository: &repository,
                commit,
                branch: branch.or(remembered.as_deref()),
                flags,
                format: crate::coverage::Format::Lcov,
                uploaded_by: who.name(),
                complete: true,
                report: Default::default(),
                at: crate::clock::now(),
            },
        )
        .await?;
    Ok(format!("{}/upload/raw/{id}", public_url(state, headers)))
}

fn commit_of(body: &Value) -> Result<String, ApiError> {
    body["commitid"]
        .as_str()
        .or_else(|| body["commit"].as_str())
        .map(str::to_string)
        .ok_or_else(|| ApiError::bad_request("the body names no commitid"))
}

/// `POST /upload/{service}/{slug}/upload-coverage`.
pub(super) async fn upload_coverage(
    State(state): State<AppState>,
    Path((service, slug)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = body_json(&body)?;
    let commit = commit_of(&body)?;
    upload_location(&state, &headers, &service, &slug, &commit, &body).await
}

/// Opens a session for the commit with the body's branch and flags, and answers 201 with the
/// URL to PUT the report to.
async fn upload_location(
    state: &AppState,
    headers: &HeaderMap,
    service: &str,
    slug: &str,
    commit: &str,
    body: &Value,
) -> Result<Response, ApiError> {
    let who = uploader(state, headers).await?;
    let slug = repository(service, slug)?;
    let branch = body["branch"].as_str();
    let url = open_session(
        state,
        headers,
        &who,
        &slug,
        commit,
        branch,
        &flag_list(&body["flags"]),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"raw_upload_location": url, "url": url})),
    )
        .into_response())
}

/// `POST /upload/{service}/{slug}/commits`: remembers the commit's branch.
pub(super) async fn commits(
    State(state): State<AppState>,
    Path((service, slug)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = uploader(&state, &headers).await?;
    let slug = repository(&service, &slug)?;
    who.may_upload_to(&slug)?;
    let body = body_json(&body)?;
    let commit = commit_of(&body)?;
    if let Some(branch) = body["branch"].as_str().filter(|b| !b.is_empty()) {
        state
            .runner()
            .store()
            .set_commit_branch(&slug.to_string(), &commit, branch)
            .await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({"commitid": commit, "branch": body["branch"]})),
    )
        .into_response())
}

/// `POST /upload/{service}/{slug}/commits/{sha}/reports`.
pub(super) async fn reports(
    State(state): State<AppState>,
    Path((service, slug, commit)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let who = uploader(&state, &headers).await?;
    who.may_upload_to(&repository(&service, &slug)?)?;
    let code = body_json(&body)?["code"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    Ok((
        StatusCode::CREATED,
        Json(json!({"code": code, "commitid": commit})),
    )
        .into_response())
}

/// `POST /upload/{service}/{slug}/commits/{sha}/reports/{code}/uploads`.
pub(super) async fn uploads(
    State(state): State<AppState>,
    Path((service, slug, commit, _code)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = body_json(&body)?;
    upload_location(&state, &headers, &service, &slug, &commit, &body).await
}

/// `POST /upload/{service}/{slug}/commits/{sha}/upload-complete`.
pub(super) async fn upload_complete(
    State(state): State<AppState>,
    Path((service, slug, commit)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = uploader(&state, &headers).await?;
    let slug = repository(&service, &slug)?;
    who.may_upload_to(&slug)?;
    let done = state
        .runner()
        .store()
        .complete_commit(&slug.to_string(), &commit)
        .await?;
    Ok(Json(json!({"result": if done { "complete" } else { "no uploads" }})).into_response())
}

/// The query of `POST /upload/v4`.
#[derive(Deserialize)]
pub(super) struct LegacyQuery {
    commit: Option<String>,
    branch: Option<String>,
    slug: Option<String>,
    flags: Option<String>,
}

/// `POST /upload/v4?commit=&branch=&slug=owner/repo&service=`: two lines of text, the result URL
/// and the URL to PUT the report to.
pub(super) async fn legacy(
    State(state): State<AppState>,
    Query(q): Query<LegacyQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = uploader(&state, &headers).await?;
    let slug_text = q
        .slug
        .as_deref()
        .ok_or_else(|| ApiError::bad_request("the slug parameter is required"))?;
    // `service` is the CI service here (`github-actions`, `local`): the git service is the
    // project token's repository's, or GitHub for an account token.
    let service = match &who {
        Uploader::Project { repository, .. } => repository.split('/').next().unwrap_or("github"),
        Uploader::Account(_) => "github",
    };
    let slug = RepoSlug::parse(&format!("{service}/{slug_text}")).map_err(ApiError::bad_request)?;
    let commit = q
        .commit
        .ok_or_else(|| ApiError::bad_request("the commit parameter is required"))?;
    let flags: Vec<String> = q
        .flags
        .unwrap_or_default()
        .split(',')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    let put = open_session(
        &state,
        &headers,
        &who,
        &slug,
        &commit,
        q.branch.as_deref(),
        &flags,
    )
    .await?;
    let result = format!(
        "{}/api/v1/coverage/{}/{}/{}?commit={commit}",
        public_url(&state, &headers),
        slug.service,
        slug.owner,
        slug.repo
    );
    Ok((
        [(header::CONTENT_TYPE, "text/plain")],
        format!("{result}\n{put}"),
    )
        .into_response())
}

/// One report of a PUT body, decoded.
struct RawReport {
    name: String,
    bytes: Vec<u8>,
}

/// `coverage_files` of the JSON body (`base64+compressed`, or plain text), and `network_files`.
fn json_reports(body: &Value, max: u64) -> Result<(Vec<RawReport>, Vec<String>), ApiError> {
    let network: Vec<String> = body["network_files"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut reports = Vec::new();
    for file in body["coverage_files"].as_array().into_iter().flatten() {
        let name = file["filename"].as_str().unwrap_or("report").to_string();
        let data = file["data"].as_str().unwrap_or_default();
        let bytes = match file["format"].as_str() {
            Some("base64+compressed") => {
                let packed = base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|e| {
                        ApiError::bad_request(format!("{name}: data is not base64: {e}"))
                    })?;
                let mut out = Vec::new();
                flate2::read::ZlibDecoder::new(&packed[..])
                    .take(max + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| ApiError::bad_request(format!("{name}: data is not zlib: {e}")))?;
                if out.len() as u64 > max {
                    return Err(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("{name}: the report is over its limit of {max} bytes"),
                    ));
                }
                out
            }
            _ => data.as_bytes().to_vec(),
        };
        reports.push(RawReport { name, bytes });
    }
    Ok((reports, network))
}

/// The legacy text body: the file list, `<<<<<< network`, then `# path=NAME` blocks ending with
/// `<<<<<< EOF`.
fn text_reports(body: &str) -> (Vec<RawReport>, Vec<String>) {
    let (network, rest) = match body.split_once("<<<<<< network") {
        Some((files, rest)) => (
            files
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            rest,
        ),
        None => (Vec::new(), body),
    };
    let reports = rest
        .split("<<<<<< EOF")
        .filter_map(|block| {
            let block = block.trim_start_matches(['\r', '\n']);
            let (first, content) = block.split_once('\n')?;
            let name = first.strip_prefix("# path=")?.trim().to_string();
            Some(RawReport {
                name,
                bytes: content.as_bytes().to_vec(),
            })
        })
        .collect();
    (reports, network)
}

/// `PUT /upload/raw/{id}`: the report of an open session, once.
pub(super) async fn put_raw(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let store = state.runner().store();
    let Some(session) = store.take_upload_session(&id, crate::clock::now()).await? else {
        return Err(ApiError::not_found(
            "no such upload, or it was used or expired (a day)",
        ));
    };
    let max = state.upload_limits().max_bytes;
    let (reports, network) = match serde_json::from_slice::<Value>(&body) {
        Ok(v) if v.is_object() => json_reports(&v, max)?,
        _ => text_reports(&String::from_utf8_lossy(&body)),
    };
    let slug = RepoSlug::parse(&session.repository).map_err(ApiError::bad_request)?;
    let who = Uploader::Project {
        repository: session.repository.clone(),
        name: session.uploaded_by.clone(),
    };
    accept(
        &state,
        Incoming {
            slug,
            commit: &session.commit,
            branch: session.branch.as_deref(),
            flags: session.flags.clone(),
            format: None,
            complete: true,
            uploader: &who,
            bodies: reports
                .into_iter()
                .map(|r| (r.name, Bytes::from(r.bytes)))
                .collect(),
            files: network,
        },
    )
    .await?;
    Ok(Json(json!({"result": "stored"})).into_response())
}
