//! `rubric upload FILE...`: sends coverage reports from CI to `rubric serve`'s native upload
//! route, gzipped, with the token of `RUBRIC_UPLOAD_TOKEN`, retrying what a retry can fix
//! (connection failures, 429 and 5xx; 0.5, 1 and 2 s apart) and nothing else.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{CliError, CliResult, Global};
use crate::coverage::{Format, RepoSlug};

/// The variable holding the upload token.
pub const TOKEN_ENV: &str = "RUBRIC_UPLOAD_TOKEN";

/// Waits before each retry.
const BACKOFF: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// `rubric upload`.
#[derive(Debug, clap::Args)]
pub struct UploadArgs {
    /// The reports (any format `rubric coverage summary` reads).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The repository, `SERVICE/OWNER/REPO`.
    #[arg(long, value_name = "SERVICE/OWNER/REPO")]
    pub repo: String,
    /// The commit the reports measure.
    #[arg(long, value_name = "SHA")]
    pub commit: String,
    /// Its branch.
    #[arg(long)]
    pub branch: Option<String>,
    /// The flag of these reports.
    #[arg(long)]
    pub flag: Option<String>,
    /// Their format (detected by the server when not given).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// The server (default `http://` + `[server] bind`).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

/// Runs `rubric upload`: exit 0 when every report was stored, 1 when one was refused, 2 for
/// unusable arguments (no token, an unreadable file).
pub async fn run(args: UploadArgs, g: &Global) -> CliResult {
    let token = std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{TOKEN_ENV} is not set (a project token from `rubric tokens create`, or an API token with the upload role)"
            ))
        })?;
    let slug = RepoSlug::parse(&args.repo).map_err(CliError::Usage)?;
    let base = match args.url {
        Some(url) => url,
        None => format!("http://{}", g.load_config()?.server.bind),
    };
    let mut url = reqwest::Url::parse(&format!(
        "{}/api/v1/coverage/{}/{}/{}/uploads",
        base.trim_end_matches('/'),
        slug.service,
        slug.owner.replace('/', "%2F"),
        slug.repo
    ))
    .map_err(|e| CliError::Usage(format!("--url {base}: {e}")))?;
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("commit", &args.commit);
        if let Some(b) = &args.branch {
            query.append_pair("branch", b);
        }
        if let Some(f) = &args.flag {
            query.append_pair("flag", f);
        }
        if let Some(f) = args.format {
            query.append_pair("format", f.as_str());
        }
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .map_err(|e| CliError::Other(e.into()))?;
    let mut failed = false;
    for file in &args.files {
        let raw = std::fs::read(file)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).map_err(|e| CliError::Other(e.into()))?;
        let body = gz.finish().map_err(|e| CliError::Other(e.into()))?;
        match send(&http, &url, &token, body).await {
            Ok(answer) => say!(
                "{}: stored as upload {} ({} format, {} of {} lines covered, {}%)",
                file.display(),
                answer["upload_id"],
                answer["format"].as_str().unwrap_or("?"),
                answer["totals"]["hits"],
                answer["totals"]["lines"],
                answer["totals"]["coverage"]
            ),
            Err(reason) => {
                eprintln!("error: {}: {reason}", file.display());
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// POSTs one report, retrying connection failures, 429 and 5xx; the server's answer, or why
/// it was refused.
async fn send(
    http: &reqwest::Client,
    url: &reqwest::Url,
    token: &str,
    body: Vec<u8>,
) -> Result<serde_json::Value, String> {
    let mut attempt = 0;
    loop {
        let sent = http
            .post(url.clone())
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body.clone())
            .send()
            .await;
        let retry = match sent {
            Ok(resp) if resp.status().is_success() => {
                return resp
                    .json()
                    .await
                    .map_err(|e| format!("the answer is not JSON: {e}"));
            }
            Ok(resp) => {
                let status = resp.status();
                let text = resp.text().await.unwrap_or_default();
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_string))
                    .unwrap_or(text);
                let reason = format!("{status}: {message}");
                if !(status.is_server_error() || status.as_u16() == 429) {
                    return Err(reason);
                }
                reason
            }
            Err(e) => format!("cannot reach {}: {e}", url.origin().ascii_serialization()),
        };
        let Some(wait) = BACKOFF.get(attempt) else {
            return Err(format!("{retry} (after {} retries)", BACKOFF.len()));
        };
        eprintln!("rubric upload: {retry}; retrying in {wait:?}");
        tokio::time::sleep(*wait).await;
        attempt += 1;
    }
}
