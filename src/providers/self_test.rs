//! `rubric providers test`: checks each configured provider the way Cortex's "Test
//! configuration" button does (host reachable, token accepted, a known repository readable),
//! and says what is wrong in clear words (DNS failure, TLS, 401, 403, 404).

use std::fmt;

use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Serialize;
use serde_json::Value as Json;

use super::codecov::{Account, Codecov};
use super::datadog::{Datadog, Summary};
use super::http::{FaultKind, FetchError, error_detail, looks_like_html};
use crate::catalog::{Catalog, CodecovProject, MappedBy};

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// It works.
    Pass,
    /// It does not; the detail says why.
    Fail,
    /// Not checked; the detail says why.
    Skip,
}

/// One check of one provider.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// `host reachable`, `token accepted`, `repository readable`...
    pub name: &'static str,
    /// Pass, fail or skip.
    pub status: CheckStatus,
    /// What was seen, in words.
    pub detail: String,
}

/// The checks of one provider (or one Codecov account).
#[derive(Clone, Debug, Serialize)]
pub struct ProviderReport {
    /// `Codecov (default account, https://api.codecov.io/, token …abcd from CODECOV_TOKEN)`.
    pub provider: String,
    /// The checks, in order; later ones are skipped when the host is unreachable.
    pub checks: Vec<Check>,
}

impl ProviderReport {
    /// Whether no check failed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.status != CheckStatus::Fail)
    }
}

impl fmt::Display for ProviderReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.provider)?;
        for c in &self.checks {
            let mark = match c.status {
                CheckStatus::Pass => "ok  ",
                CheckStatus::Fail => "FAIL",
                CheckStatus::Skip => "skip",
            };
            writeln!(f, "  {mark} {}: {}", c.name, c.detail)?;
        }
        if self.ok() {
            writeln!(f, "  Configuration is valid.")?;
        }
        Ok(())
    }
}

fn check(name: &'static str, status: CheckStatus, detail: impl Into<String>) -> Check {
    Check {
        name,
        status,
        detail: detail.into(),
    }
}

/// Transport faults in words, with what to look at.
fn unreachable(e: &FetchError, what: &str) -> String {
    let hint = match e.kind {
        FaultKind::Dns => format!(": the host name does not resolve; check {what}"),
        FaultKind::Tls => ": the TLS handshake failed; is the URL's scheme right (https vs http), and is the certificate trusted?".to_string(),
        FaultKind::ConnectionRefused => format!(": nothing listens there; check {what}"),
        FaultKind::Timeout => ": no answer in time; is a proxy or firewall in the way?".to_string(),
        _ => String::new(),
    };
    format!("{e}{hint}")
}

/// `service/owner/repo` → a project on the default account.
pub fn parse_repo(text: &str) -> Option<CodecovProject> {
    let mut parts = text.trim().trim_matches('/').splitn(3, '/');
    let (service, owner, repo) = (parts.next()?, parts.next()?, parts.next()?);
    if [service, owner, repo].iter().any(|p| p.is_empty()) {
        return None;
    }
    Some(CodecovProject {
        service: service.to_ascii_lowercase(),
        owner: owner.into(),
        repo: repo.into(),
        flag: None,
        account: None,
        mapped_by: MappedBy::Descriptor,
    })
}

/// The checks of every Codecov account. The repository read is `repo` when given, else the
/// first catalog entity mapped to that account.
pub(super) async fn codecov(
    codecov: &Codecov,
    catalog: Option<&Catalog>,
    repo: Option<&CodecovProject>,
) -> Vec<ProviderReport> {
    let mut reports = Vec::new();
    for account in codecov.accounts() {
        let probe = repo.cloned().or_else(|| {
            let wanted = (account.name != "default").then_some(account.name.as_str());
            catalog?
                .entities
                .iter()
                .filter_map(|e| e.codecov.as_ref())
                .find(|p| p.account.as_deref() == wanted)
                .cloned()
        });
        reports.push(test_codecov(codecov, account, probe.as_ref()).await);
    }
    reports
}

/// The checks of Datadog. The repository read is `repo` when given, else the first catalog
/// entity with a git repository.
pub(super) async fn datadog(
    dd: &Datadog,
    catalog: Option<&Catalog>,
    repo: Option<&CodecovProject>,
) -> ProviderReport {
    let repository_url = match repo {
        Some(p) => Some(format!(
            "{}.com/{}/{}",
            p.service.trim_end_matches("_enterprise"),
            p.owner,
            p.repo
        )),
        None => catalog.and_then(|c| {
            c.entities
                .iter()
                .find_map(|e| e.repository.as_ref().map(|r| r.url_path()))
        }),
    };
    test_datadog(dd, repository_url.as_deref()).await
}

async fn test_codecov(
    codecov: &Codecov,
    account: &Account,
    probe: Option<&CodecovProject>,
) -> ProviderReport {
    let http = codecov.http();
    let provider = format!(
        "Codecov ({} account, {}, {})",
        account.name,
        account.base,
        account.token_hint()
    );
    let mut checks = Vec::new();
    let auth = account.auth_header();
    let get = |url: reqwest::Url| {
        let auth = auth.clone();
        move |c: &reqwest::Client| {
            let r = c.get(url.clone()).header(ACCEPT, "application/json");
            match &auth {
                Some(h) => r.header(AUTHORIZATION, h.clone()),
                None => r,
            }
        }
    };
    let service = probe.map_or("github", |p| p.service.as_str());
    let mut root = account.base.clone();
    if let Ok(mut s) = root.path_segments_mut() {
        s.pop_if_empty().extend(["api", "v2", service, ""]);
    }
    let (status, body) = match http.probe(get(root.clone())).await {
        Ok(answer) => answer,
        Err(e) => {
            checks.push(check(
                "host reachable",
                CheckStatus::Fail,
                unreachable(&e, "[codecov] url"),
            ));
            checks.push(check(
                "token accepted",
                CheckStatus::Skip,
                "the host is unreachable",
            ));
            checks.push(check(
                "repository readable",
                CheckStatus::Skip,
                "the host is unreachable",
            ));
            return ProviderReport { provider, checks };
        }
    };
    let html = looks_like_html(&body);
    if html || (status == 404 && error_detail(&body).is_some_and(|d| d.contains("Page Not Found")))
    {
        checks.push(check(
            "host reachable",
            CheckStatus::Fail,
            format!("{root} answered {status} {}, not the Codecov API: set [codecov] url to the host root (e.g. https://api.codecov.io)", if html { "with an HTML page" } else { "Page Not Found" }),
        ));
        return ProviderReport { provider, checks };
    }
    checks.push(check(
        "host reachable",
        CheckStatus::Pass,
        format!("{root} answered {status}"),
    ));
    let detail = error_detail(&body)
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    checks.push(match (account.has_token(), status) {
        (false, _) => check(
            "token accepted",
            CheckStatus::Skip,
            format!(
                "no token: set {} to read private repositories",
                account.token_env
            ),
        ),
        (true, 401) => check(
            "token accepted",
            CheckStatus::Fail,
            format!("401: the token was refused{detail}; create a new one under Settings → Access"),
        ),
        (true, 200..=299) => check(
            "token accepted",
            CheckStatus::Pass,
            "the token was accepted",
        ),
        (true, s) => check(
            "token accepted",
            CheckStatus::Fail,
            format!("unexpected answer {s}{detail}"),
        ),
    });
    let Some(p) = probe else {
        checks.push(check(
            "repository readable",
            CheckStatus::Skip,
            "no entity is mapped to this account; pass --repo service/owner/repo",
        ));
        return ProviderReport { provider, checks };
    };
    let mut url = account.base.clone();
    if let Ok(mut s) = url.path_segments_mut() {
        s.pop_if_empty().extend([
            "api",
            "v2",
            p.service.as_str(),
            p.owner.as_str(),
            "repos",
            p.repo.as_str(),
            "",
        ]);
    }
    let name = format!("{}/{}/{}", p.service, p.owner, p.repo);
    checks.push(match http.probe(get(url)).await {
        Err(e) => check(
            "repository readable",
            CheckStatus::Fail,
            unreachable(&e, "[codecov] url"),
        ),
        Ok((200, body)) => match serde_json::from_slice::<Json>(&body) {
            Ok(j) => {
                let branch = j.get("branch").and_then(Json::as_str).unwrap_or("?");
                let what = match j
                    .get("totals")
                    .and_then(|t| t.get("coverage"))
                    .and_then(Json::as_f64)
                {
                    Some(c) => format!("coverage {c} % on {branch}"),
                    None => format!("no coverage uploads on {branch} yet"),
                };
                check(
                    "repository readable",
                    CheckStatus::Pass,
                    format!("{name}: {what}"),
                )
            }
            Err(e) => check(
                "repository readable",
                CheckStatus::Fail,
                format!("{name}: Codecov answered malformed JSON: {e}"),
            ),
        },
        Ok((status, body)) => {
            let detail = error_detail(&body)
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            let why = match status {
                401 => "401: the token was refused".to_string(),
                403 => {
                    "403: the token's user is not activated in this organisation (per-user plan)"
                        .to_string()
                }
                404 => format!(
                    "404: unknown to Codecov, or private and not readable with {}",
                    account.token_hint()
                ),
                s => format!("Codecov answered {s}"),
            };
            check(
                "repository readable",
                CheckStatus::Fail,
                format!("{name}: {why}{detail}"),
            )
        }
    });
    ProviderReport { provider, checks }
}

async fn test_datadog(dd: &Datadog, repository_url: Option<&str>) -> ProviderReport {
    let provider = format!("Datadog ({}, {})", dd.base(), dd.key_hint());
    let mut checks = Vec::new();
    let headers = match dd.headers() {
        Ok(h) => h,
        Err(why) => {
            checks.push(check("keys set", CheckStatus::Fail, why));
            return ProviderReport { provider, checks };
        }
    };
    let mut validate = dd.base().clone();
    if let Ok(mut s) = validate.path_segments_mut() {
        s.pop_if_empty().extend(["api", "v1", "validate"]);
    }
    let h = headers.clone();
    match dd
        .http()
        .probe(move |c| c.get(validate.clone()).headers(h.clone()))
        .await
    {
        Err(e) => {
            checks.push(check(
                "host reachable",
                CheckStatus::Fail,
                unreachable(&e, "[datadog] site"),
            ));
            return ProviderReport { provider, checks };
        }
        Ok((status, body)) => {
            checks.push(check(
                "host reachable",
                CheckStatus::Pass,
                format!("{} answered {status}", dd.base()),
            ));
            let detail = error_detail(&body)
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            checks.push(match status {
                200..=299 => check("API key accepted", CheckStatus::Pass, "the API key is valid"),
                403 | 401 => check("API key accepted", CheckStatus::Fail, format!("{status}: the API key was refused{detail}; is [datadog] site the key's site?")),
                s => check("API key accepted", CheckStatus::Fail, format!("unexpected answer {s}{detail}")),
            });
        }
    }
    let Some(repo) = repository_url else {
        checks.push(check(
            "coverage readable",
            CheckStatus::Skip,
            "no entity has a git repository; pass --repo",
        ));
        return ProviderReport { provider, checks };
    };
    let which = Summary::Branch(dd.default_branch().to_string());
    checks.push(match dd.summary(&which, repo).await {
        Ok(c) => {
            let total = c
                .value
                .pointer("/data/attributes/total_coverage")
                .and_then(Json::as_f64);
            check(
                "coverage readable",
                CheckStatus::Pass,
                format!(
                    "{repo} on branch {}: total coverage {}",
                    dd.default_branch(),
                    total.map_or("none".into(), |t| format!("{t} %"))
                ),
            )
        }
        Err(e) if e.kind == FaultKind::NotFound => check(
            "coverage readable",
            CheckStatus::Pass,
            format!(
                "keys accepted; Datadog has no coverage for {repo} on branch {} ({e})",
                dd.default_branch()
            ),
        ),
        Err(e) if matches!(e.kind, FaultKind::Forbidden | FaultKind::Unauthorized) => check(
            "coverage readable",
            CheckStatus::Fail,
            format!(
                "{e}: the application key is refused or lacks the code_coverage_read permission"
            ),
        ),
        Err(e) => check(
            "coverage readable",
            CheckStatus::Fail,
            unreachable(&e, "[datadog] site"),
        ),
    });
    ProviderReport { provider, checks }
}
