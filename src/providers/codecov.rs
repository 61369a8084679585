//! Codecov (REST API v2, codecov.io or self-hosted, several accounts): repository and flag
//! totals, the daily coverage trend, the latest upload, and pull request coverage.
//!
//! Traps handled (see `shared/research/codecov-api.md` §7): `totals: null` and `sessions == 0`
//! are "no data", never 0 %; coverage numbers are parsed as `f64` (from numbers or numeric
//! text) and must be possible (a percentage from 0 to 100, a count not negative); a 404 may mean
//! "private and no access"; the trend is read from `/coverage/?interval=1d`, never from the
//! deprecated `diff`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value as Json;

use super::cache::{Cached, ResponseCache};
use super::http::{FaultKind, FetchError, Http, Limits, ProviderHttp};
use super::measure::{self, Measure};
use super::repo_list::{OwnerList, RepoLists};
use super::secrets::{SecretSource, last_four};
use super::{CoverageReading, Provider, ProviderReport, StatsSnapshot, self_test};
use crate::catalog::{Catalog, CodecovProject, Entity, MappedBy};
use crate::config::{CodecovConfig, ConfigError};
use crate::facts::{Fact, FactKey, FactStatus, Source};
use crate::value::Value;

impl Provider for Codecov {
    fn source(&self) -> Source {
        Source::Codecov
    }

    fn answer<'a>(
        &'a self,
        key: &'a FactKey,
        entity: &'a Entity,
        _catalog: &'a Catalog,
    ) -> BoxFuture<'a, Fact> {
        Box::pin(self.fact(key, entity))
    }

    /// The mapping, totals, 30-day trend and last upload (`pullRequest(id)` needs an argument
    /// only rules give).
    fn sync_keys(&self) -> Vec<FactKey> {
        let key = |f: &str| FactKey::new(Source::Codecov, "codecov", f);
        vec![
            key(""),
            key("codeCoverage"),
            key("lines"),
            key("hits"),
            key("misses"),
            key("partials"),
            key("files"),
            key("coverageTrend").with_arg("days", serde_json::json!(30)),
            key("lastUploadAt"),
        ]
    }

    /// Owners with many repositories in this fetch are read from their repository lists.
    fn plan(&self, entities: &[&Entity], keys: &[FactKey]) {
        if self.branch.is_some() || !self.lists.enabled() {
            return;
        }
        let needed = entities.iter().filter_map(|e| {
            let project = e.codecov.as_ref()?;
            let account = self.account(project).ok()?;
            keys.iter()
                .any(|k| k.source == Source::Codecov && reads_repository(k, project))
                .then(|| (owner_key(account, project), repo_name(project)))
        });
        self.lists.plan(needed);
    }

    fn history_keys(&self) -> Vec<FactKey> {
        vec![
            FactKey::new(Source::Codecov, "codecov", "codeCoverage"),
            FactKey::new(Source::Codecov, "codecov", "lastUploadAt"),
            FactKey::new(Source::Codecov, "codecov", "coverageHistory")
                .with_arg("days", serde_json::json!(30)),
            FactKey::new(Source::Codecov, "codecov", "openPullRequests"),
        ]
    }

    /// The pull requests of `codecov.openPullRequests()`.
    fn open_pulls(&self, entity: &Entity, facts: &[&Fact]) -> Vec<super::PullReading> {
        let (
            Some(project),
            Some(Fact {
                value: Value::List(pulls),
                status: FactStatus::Ok,
                ..
            }),
        ) = (entity.codecov.as_ref(), facts.get(3))
        else {
            return Vec::new();
        };
        pulls
            .iter()
            .filter_map(|p| {
                let p = p.to_json();
                let pct = |k: &str| p.get(k).and_then(Json::as_f64);
                Some(super::PullReading {
                    repository: format!("{}/{}", project.owner, project.repo),
                    // CQL numbers are floats: 7 comes back as 7.0.
                    pullid: p.get("pullid")?.as_f64().filter(|n| n.fract() == 0.0)? as i64,
                    title: p
                        .get("title")
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    base: pct("base"),
                    head: pct("head"),
                    patch: pct("patch"),
                })
            })
            .collect()
    }

    /// The daily points of `codecov.coverageHistory(days=30)`, for history from day one.
    fn history_backfill(&self, _entity: &Entity, facts: &[&Fact]) -> Vec<(NaiveDate, f64)> {
        super::daily_points(facts.get(2))
    }

    fn history_point(&self, entity: &Entity, facts: &[&Fact]) -> Option<CoverageReading> {
        let project = entity.codecov.as_ref()?;
        let (coverage, last_upload_at) = super::reading_values(facts)?;
        Some(CoverageReading {
            repository: format!("{}/{}", project.owner, project.repo),
            flag: project.flag.clone().unwrap_or_default(),
            coverage,
            last_upload_at,
        })
    }

    fn stats(&self) -> Option<(&'static str, StatsSnapshot)> {
        Some((self.http.name(), self.http.stats.snapshot()))
    }

    fn self_test<'a>(
        &'a self,
        catalog: Option<&'a Catalog>,
        repo: Option<&'a CodecovProject>,
    ) -> BoxFuture<'a, Vec<ProviderReport>> {
        Box::pin(self_test::codecov(self, catalog, repo))
    }
}

/// Pages read at most when following a paginated list.
const MAX_PAGES: u32 = 50;

/// A page of `coverage/` (a trend) as Codecov sends it, parsed for what a trend reads only
/// (Codecov's `min`, `max` and the rest are skipped unread).
#[derive(serde::Deserialize)]
struct RawTrendPage {
    results: Option<Vec<RawTrendPoint>>,
    next: Option<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct RawTrendPoint {
    timestamp: Option<Json>,
    avg: Option<Json>,
}

/// How a page of a trend is cached: `{"points": [day, avg, day, avg, ...], "next": bool}`, flat
/// (a trend per repository of a large catalog would otherwise hold hundreds of megabytes), the
/// day being the timestamp's date and `avg` as Codecov sent it (read and checked when the trend
/// is computed). A page without a `results` list is kept as `null`, to be reported.
struct TrendPage;

impl TrendPage {
    fn trim(page: RawTrendPage) -> Json {
        let Some(results) = page.results else {
            return Json::Null;
        };
        let mut points = Vec::with_capacity(2 * results.len());
        for r in results {
            let day = r
                .timestamp
                .as_ref()
                .and_then(Json::as_str)
                .and_then(|t| t.get(..10))
                .unwrap_or_default();
            points.push(Json::from(day));
            points.push(r.avg.unwrap_or_default());
        }
        serde_json::json!({ "points": points, "next": page.next.is_some() })
    }

    /// The `(day, avg)` points of a trimmed page; `None` when Codecov sent no `results` list.
    fn points(page: &Json) -> Option<impl Iterator<Item = (&str, Option<&Json>)>> {
        let points = page.get("points")?.as_array()?;
        Some(
            points
                .chunks(2)
                .map(|p| (p[0].as_str().unwrap_or_default(), p.get(1))),
        )
    }

    fn has_next(page: &Json) -> bool {
        page.get("next").and_then(Json::as_bool).unwrap_or(false)
    }
}

/// The functions answered from a repository's totals.
const TOTALS_FUNCTIONS: &[&str] = &[
    "codeCoverage",
    "lines",
    "hits",
    "misses",
    "partials",
    "files",
];

/// Whether `key` reads the repository itself (`repos/{repo}/`: its totals, or its default
/// branch for the last upload) when no `[codecov] branch` is configured: what an owner's
/// repository list can answer.
fn reads_repository(key: &FactKey, project: &CodecovProject) -> bool {
    match key.function.as_str() {
        "lastUploadAt" => true,
        f if TOTALS_FUNCTIONS.contains(&f) => {
            key.arg_str("flag").is_none() && project.flag.is_none()
        }
        _ => false,
    }
}

/// The repository's name inside its owner (`acme/api` and `api` are both `api`).
fn repo_name(p: &CodecovProject) -> &str {
    p.repo
        .strip_prefix(&format!("{}/", p.owner))
        .unwrap_or(&p.repo)
        .rsplit('/')
        .next()
        .unwrap_or(&p.repo)
}

/// An owner as the repository lists know it: account, service and owner (Codecov's owner
/// names are case-insensitive).
fn owner_key(account: &Account, p: &CodecovProject) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}",
        account.name,
        p.service.to_lowercase(),
        p.owner.to_lowercase()
    )
}

/// One Codecov account: a host root and the token for it.
#[derive(Debug)]
pub struct Account {
    /// `default`, or the `[[codecov.accounts]]` name.
    pub name: String,
    /// Host root (no `/api/v2`).
    pub base: Url,
    /// The variable the token is read from (shown in hints; the token never is).
    pub token_env: String,
    token: Option<SecretString>,
}

impl Account {
    fn new(
        name: &str,
        url: &str,
        token_env: &str,
        secrets: &SecretSource,
    ) -> Result<Account, ConfigError> {
        let base = parse_base(url).map_err(|why| {
            ConfigError::Invalid(format!("[codecov] account {name}: url {url:?} {why}"))
        })?;
        Ok(Account {
            name: name.to_string(),
            base,
            token_env: token_env.to_string(),
            token: secrets.get(token_env),
        })
    }

    /// Whether a token is set.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// `token …abcd from CODECOV_TOKEN`, or `no token (CODECOV_TOKEN is not set)`.
    pub fn token_hint(&self) -> String {
        match &self.token {
            Some(t) => format!("token {} from {}", last_four(t), self.token_env),
            None => format!("no token ({} is not set)", self.token_env),
        }
    }

    pub(crate) fn auth_header(&self) -> Option<HeaderValue> {
        let token = self.token.as_ref()?;
        let mut h = HeaderValue::from_str(&format!("bearer {}", token.expose_secret())).ok()?;
        h.set_sensitive(true);
        Some(h)
    }
}

/// Parses a host root such as `https://api.codecov.io` (a trailing `/` and `/api/v2` are dropped).
pub(crate) fn parse_base(url: &str) -> Result<Url, &'static str> {
    let trimmed = url.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api/v2").unwrap_or(trimmed);
    let u = Url::parse(trimmed).map_err(|_| "is not a URL")?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err("is not an http(s) URL with a host");
    }
    Ok(u)
}

/// The Codecov provider.
#[derive(Debug)]
pub struct Codecov {
    http: ProviderHttp,
    cache: ResponseCache,
    lists: RepoLists,
    list_page_size: usize,
    default: Account,
    accounts: HashMap<String, Account>,
    branch: Option<String>,
}

impl Codecov {
    /// The provider `[codecov]` describes, over the shared HTTP client.
    pub fn new(
        cfg: &CodecovConfig,
        http: Http,
        secrets: &SecretSource,
    ) -> Result<Codecov, ConfigError> {
        let default = Account::new("default", &cfg.url, &cfg.token_env, secrets)?;
        let mut accounts = HashMap::new();
        for a in &cfg.accounts {
            let url = a.url.as_deref().unwrap_or(&cfg.url);
            let env = a.token_env.as_deref().unwrap_or(&cfg.token_env);
            accounts.insert(a.name.clone(), Account::new(&a.name, url, env, secrets)?);
        }
        let limits = Limits {
            concurrency: cfg.concurrency,
            rate_per_sec: cfg.rate_limit_per_sec,
            burst: cfg.rate_limit_burst,
            max_response_bytes: cfg.max_response_bytes,
        };
        Ok(Codecov {
            http: ProviderHttp::new("Codecov", http, limits),
            cache: ResponseCache::new(
                Duration::from_secs(cfg.cache_ttl_secs),
                Duration::from_secs(cfg.not_found_ttl_secs),
            ),
            lists: RepoLists::new(
                cfg.repository_list_min,
                Duration::from_secs(cfg.cache_ttl_secs),
                Duration::from_secs(cfg.not_found_ttl_secs),
            ),
            list_page_size: cfg.repository_list_page_size.clamp(1, 10_000),
            default,
            accounts,
            branch: Some(cfg.branch.trim().to_string()).filter(|b| !b.is_empty()),
        })
    }

    /// The HTTP layer (counters, current rate).
    pub fn http(&self) -> &ProviderHttp {
        &self.http
    }

    /// Every configured account, the default first.
    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        let mut named: Vec<&Account> = self.accounts.values().collect();
        named.sort_by(|a, b| a.name.cmp(&b.name));
        std::iter::once(&self.default).chain(named)
    }

    fn account(&self, project: &CodecovProject) -> Result<&Account, Fact> {
        match &project.account {
            None => Ok(&self.default),
            Some(name) => self
                .accounts
                .get(name)
                .ok_or_else(|| Fact::error(format!("Codecov account {name} is not configured"))),
        }
    }

    /// Answers one `codecov` fact for one entity.
    pub async fn fact(&self, key: &FactKey, entity: &Entity) -> Fact {
        let Some(project) = &entity.codecov else {
            let reason = entity.unmapped_reason.as_deref().unwrap_or("no repository");
            if entity.mapping_failed {
                return Fact::error(format!("the entity's Codecov mapping is invalid: {reason}"));
            }
            return Fact::no_data(format!("entity has no Codecov mapping: {reason}"));
        };
        let account = match self.account(project) {
            Ok(a) => a,
            Err(f) => return f.from_origin(project.describe()),
        };
        let repo = Repo { account, project };
        match key.function.as_str() {
            "" => Fact::ok(mapping_value(project)).from_origin(project.describe()),
            f if TOTALS_FUNCTIONS.contains(&f) => self.totals(&repo, key).await,
            "coverageTrend" => self.trend(&repo, key).await,
            "coverageHistory" => self.history(&repo, key).await,
            "openPullRequests" => self.open_pull_requests(&repo).await,
            "lastUploadAt" => self.last_upload(&repo).await,
            "pullRequest.patchCoverage"
            | "pullRequest.coverageDelta"
            | "pullRequest.baseCoverage"
            | "pullRequest.headCoverage"
            | "pullRequest.files"
            | "pullRequest.changedFilesCoverage" => self.pull(&repo, key).await,
            other => Fact::error(format!(
                "codecov.{other}() is not provided by the Codecov provider"
            ))
            .from_origin(project.describe()),
        }
    }

    /// GET through the cache; the key is the account and the URL (never the token).
    pub(crate) async fn get(&self, account: &Account, url: Url) -> Result<Cached, Arc<FetchError>> {
        let key = format!("{}\u{1f}{url}", account.name);
        let fetch = self.send(account, url);
        self.cache.get_or_fetch(&key, &self.http.stats, fetch).await
    }

    /// A page of a coverage trend, cached as [`TrendPage`] keeps it.
    async fn get_trend_page(&self, account: &Account, url: Url) -> Result<Cached, Arc<FetchError>> {
        let key = format!("{}\u{1f}trend\u{1f}{url}", account.name);
        let fetch = async { self.send(account, url).await.map(TrendPage::trim) };
        self.cache.get_or_fetch(&key, &self.http.stats, fetch).await
    }

    /// GET `url` with `account`'s token, uncached, its answer parsed as a `T`.
    async fn send<T: serde::de::DeserializeOwned>(
        &self,
        account: &Account,
        url: Url,
    ) -> Result<T, FetchError> {
        let auth = account.auth_header();
        self.http
            .send_as(move |c| {
                let r = c.get(url.clone()).header(ACCEPT, "application/json");
                match &auth {
                    Some(h) => r.header(AUTHORIZATION, h.clone()),
                    None => r,
                }
            })
            .await
    }

    /// The repository (`repos/{repo}/`: its `totals` and default `branch`): from its owner's
    /// repository list when that owner is read so and the list has it, else its own request.
    async fn repository(&self, repo: &Repo<'_>) -> Result<Cached, Arc<FetchError>> {
        let owner = owner_key(repo.account, repo.project);
        if self.lists.is_listed(&owner) {
            let list = self
                .lists
                .list(&owner, self.read_list(repo.account, repo.project))
                .await;
            if let Some(value) = list.get(repo_name(repo.project)) {
                // Answered without a request of its own: a cache hit, as the counters see it.
                self.http.stats.count_lookup();
                return Ok(Cached {
                    value,
                    stale_secs: None,
                    stale_because: None,
                });
            }
        }
        self.get(repo.account, self.url(repo, &[], &[])).await
    }

    /// Reads the repository list of `project`'s owner (`{service}/{owner}/repos/`), page by
    /// page; the pages are our own numbers, never the `next` links (another host's URL would
    /// get the token).
    async fn read_list(&self, account: &Account, project: &CodecovProject) -> OwnerList {
        let size = self.list_page_size.to_string();
        let list = OwnerList::read(|page| {
            let mut url = account.base.clone();
            if let Ok(mut segs) = url.path_segments_mut() {
                segs.pop_if_empty().extend([
                    "api",
                    "v2",
                    project.service.as_str(),
                    project.owner.as_str(),
                    "repos",
                    "",
                ]);
            }
            url.query_pairs_mut()
                .append_pair("page_size", &size)
                .append_pair("page", &page.to_string());
            self.http.stats.count_fetch();
            self.send(account, url)
        })
        .await;
        if let Some(why) = &list.failure {
            tracing::warn!(
                service = %project.service,
                owner = %project.owner,
                listed = list.len(),
                "Codecov's repository list was not read whole ({why}); the repositories it lacks are asked for one by one"
            );
        }
        list
    }

    /// `.../repos/{repo}/` + `tail` segments + trailing slash, with `query`.
    fn url(&self, repo: &Repo<'_>, tail: &[&str], query: &[(&str, &str)]) -> Url {
        let p = repo.project;
        let name = repo_name(p);
        let mut url = repo.account.base.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty()
                .extend([
                    "api",
                    "v2",
                    p.service.as_str(),
                    p.owner.as_str(),
                    "repos",
                    name,
                ])
                .extend(tail)
                .push("");
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Turns a fetch error into an error fact with a hint about tokens and 404s.
    fn error_fact(&self, repo: &Repo<'_>, what: &str, e: &FetchError) -> Fact {
        let hint = match e.kind {
            FaultKind::Unauthorized => format!(" ({} was refused)", repo.account.token_hint()),
            FaultKind::Forbidden => {
                " (the token's user may not be activated in this organisation)".to_string()
            }
            FaultKind::NotFound => format!(
                " ({what} unknown to Codecov, or private and not readable with {})",
                repo.account.token_hint()
            ),
            _ => String::new(),
        };
        Fact::error(format!("{e}{hint}")).from_origin(repo.origin(None, self.branch.as_deref()))
    }

    async fn totals(&self, repo: &Repo<'_>, key: &FactKey) -> Fact {
        let flag = key.arg_str("flag").or_else(|| repo.project.flag.clone());
        let (field, what, measure) = if key.function == "codeCoverage" {
            ("coverage", "coverage".to_string(), Measure::Percentage)
        } else {
            let f = key.function.as_str();
            (f, format!("number of {f}"), Measure::Count)
        };
        let origin = repo.origin(flag.as_deref(), self.branch.as_deref());
        let (cached, totals) = if flag.is_none() && self.branch.is_none() {
            // The repository's own totals: the newest complete default-branch commit.
            let cached = match self.repository(repo).await {
                Ok(c) => c,
                Err(e) => return self.error_fact(repo, "the repository is", &e),
            };
            let totals = match cached.value.get("totals") {
                Some(Json::Object(t)) => t.clone(),
                Some(Json::Null) => {
                    return finish(
                        Fact::no_data("no coverage uploads on the default branch"),
                        Some(&cached),
                        origin,
                    );
                }
                _ => return unexpected("the repository has no `totals` field").from_origin(origin),
            };
            (cached, totals)
        } else {
            let mut query = Vec::new();
            if let Some(f) = &flag {
                query.push(("flag", f.as_str()));
            }
            if let Some(b) = &self.branch {
                query.push(("branch", b.as_str()));
            }
            let cached = match self
                .get(repo.account, self.url(repo, &["totals"], &query))
                .await
            {
                Ok(c) => c,
                Err(e) => return self.error_fact(repo, "the repository, branch or commit is", &e),
            };
            let totals = match cached.value.get("totals") {
                Some(Json::Object(t)) => t.clone(),
                _ => {
                    return unexpected("the totals answer has no `totals` object")
                        .from_origin(origin);
                }
            };
            // An unknown flag (or a branch without uploads) answers zero totals: no data, not 0 %.
            if totals.get("sessions").and_then(Json::as_f64) == Some(0.0) {
                let why = match (&flag, &self.branch) {
                    (Some(f), _) => format!("flag {f} has no uploads"),
                    (None, Some(b)) => format!("no coverage uploads on branch {b}"),
                    (None, None) => "no coverage uploads".to_string(),
                };
                return finish(Fact::no_data(why), Some(&cached), origin);
            }
            (cached, totals)
        };
        let fact = match totals.get(field) {
            None => unexpected(&format!("totals has no `{field}`")),
            value => match measure::read("Codecov", &what, measure, value) {
                Ok(Some(n)) => Fact::ok(n),
                Ok(None) => Fact::no_data(format!("Codecov has no {field} value for this commit")),
                Err(why) => Fact::error(why),
            },
        };
        finish(fact, Some(&cached), origin)
    }

    /// The daily coverage of the last `days` days (Codecov's `coverage/?interval=1d`, of the
    /// mapped flag when there is one), oldest first: `(day, percent)`, with the cached page
    /// that was served stale, if any; an error fact when it cannot be read.
    async fn daily(
        &self,
        repo: &Repo<'_>,
        days: i64,
    ) -> Result<(Vec<(String, f64)>, Option<Cached>), Fact> {
        let flag = repo.project.flag.clone();
        let origin = repo.origin(flag.as_deref(), self.branch.as_deref());
        let start = (crate::clock::now() - chrono::TimeDelta::days(days))
            .format("%Y-%m-%d")
            .to_string();
        let tail: Vec<&str> = match &flag {
            Some(f) => vec!["flags", f.as_str(), "coverage"],
            None => vec!["coverage"],
        };
        let mut points: Vec<(String, f64)> = Vec::new();
        let mut stale_from: Option<Cached> = None;
        for page in 1..=MAX_PAGES {
            let page_text = page.to_string();
            let mut query = vec![("interval", "1d"), ("start_date", start.as_str())];
            if let Some(b) = &self.branch {
                query.push(("branch", b.as_str()));
            }
            // 100 daily points a page (Codecov's default is 20): a 30-day window is one request.
            query.extend([("page_size", "100"), ("page", page_text.as_str())]);
            let url = self.url(repo, &tail, &query);
            let cached = match self.get_trend_page(repo.account, url).await {
                Ok(c) => c,
                Err(e) if e.kind == FaultKind::NotFound && flag.is_some() => {
                    return Err(Fact::error(format!(
                        "{e} (Codecov serves flag trends only when its timeseries are enabled)"
                    ))
                    .from_origin(origin));
                }
                Err(e) => return Err(self.error_fact(repo, "the repository is", &e)),
            };
            let Some(page_points) = TrendPage::points(&cached.value) else {
                return Err(
                    unexpected("the coverage trend has no `results` list").from_origin(origin)
                );
            };
            for (day, avg) in page_points {
                match measure::read("Codecov", "daily coverage", Measure::Percentage, avg) {
                    Ok(Some(point)) => points.push((day.to_string(), point)),
                    Ok(None) => {}
                    Err(why) => return Err(Fact::error(why).from_origin(origin)),
                }
            }
            let more = TrendPage::has_next(&cached.value);
            if cached.stale_secs.is_some() {
                stale_from = Some(cached);
            }
            if !more {
                break;
            }
        }
        Ok((points, stale_from))
    }

    async fn trend(&self, repo: &Repo<'_>, key: &FactKey) -> Fact {
        let days = key.arg_f64("days").unwrap_or(30.0).clamp(1.0, 3650.0) as i64;
        let origin = repo.origin(repo.project.flag.as_deref(), self.branch.as_deref());
        let (points, stale_from) = match self.daily(repo, days).await {
            Ok(answer) => answer,
            Err(fact) => return fact,
        };
        let fact = match (points.first(), points.last()) {
            (Some((_, first)), Some((_, last))) => Fact::ok(round2(last - first)),
            _ => Fact::no_data(format!("no coverage measurements in the last {days} days")),
        };
        finish(fact, stale_from.as_ref(), origin)
    }

    /// `codecov.openPullRequests()`: `[{pullid, title, base, head, patch}]` (coverage in percent,
    /// null where Codecov has none), from `pulls/?state=open` (its first 100).
    async fn open_pull_requests(&self, repo: &Repo<'_>) -> Fact {
        let origin = repo.origin(None, None);
        let query = [("state", "open"), ("page_size", "100")];
        let cached = match self
            .get(repo.account, self.url(repo, &["pulls"], &query))
            .await
        {
            Ok(c) => c,
            Err(e) => return self.error_fact(repo, "the repository is", &e),
        };
        let Some(results) = cached.value.get("results").and_then(Json::as_array) else {
            return unexpected("the pull requests have no `results` list").from_origin(origin);
        };
        let coverage = |v: Option<&Json>| {
            measure::read(
                "Codecov",
                "pull coverage",
                Measure::Percentage,
                v.and_then(|t| t.get("coverage")),
            )
            .ok()
            .flatten()
        };
        let list: Vec<Json> = results
            .iter()
            .map(|p| {
                serde_json::json!({
                    "pullid": p.get("pullid"),
                    "title": p.get("title"),
                    "base": coverage(p.get("base_totals")),
                    "head": coverage(p.get("head_totals")),
                    "patch": coverage(p.get("patch")),
                })
            })
            .collect();
        finish(
            Fact::ok(Value::from_json(&Json::Array(list))),
            Some(&cached),
            origin,
        )
    }

    /// `codecov.coverageHistory(days)`: the daily points themselves, `[{day, coverage}]`.
    async fn history(&self, repo: &Repo<'_>, key: &FactKey) -> Fact {
        let days = key.arg_f64("days").unwrap_or(30.0).clamp(1.0, 3650.0) as i64;
        let origin = repo.origin(repo.project.flag.as_deref(), self.branch.as_deref());
        let (points, stale_from) = match self.daily(repo, days).await {
            Ok(answer) => answer,
            Err(fact) => return fact,
        };
        let list: Vec<Json> = points
            .iter()
            .filter(|(day, _)| !day.is_empty())
            .map(|(day, coverage)| serde_json::json!({"day": day, "coverage": round2(*coverage)}))
            .collect();
        let fact = Fact::ok(Value::from_json(&Json::Array(list)));
        finish(fact, stale_from.as_ref(), origin)
    }

    async fn default_branch(&self, repo: &Repo<'_>) -> Result<String, Fact> {
        if let Some(b) = &self.branch {
            return Ok(b.clone());
        }
        let cached = self
            .repository(repo)
            .await
            .map_err(|e| self.error_fact(repo, "the repository is", &e))?;
        match cached.value.get("branch").and_then(Json::as_str) {
            Some(b) if !b.is_empty() => Ok(b.to_string()),
            _ => Err(unexpected("the repository has no default `branch`")),
        }
    }

    async fn last_upload(&self, repo: &Repo<'_>) -> Fact {
        let origin = repo.origin(None, self.branch.as_deref());
        let branch = match self.default_branch(repo).await {
            Ok(b) => b,
            Err(f) => return f.from_origin(origin),
        };
        for page in 1..=3u32 {
            let page_text = page.to_string();
            let query = [("branch", branch.as_str()), ("page", page_text.as_str())];
            let cached = match self
                .get(repo.account, self.url(repo, &["commits"], &query))
                .await
            {
                Ok(c) => c,
                Err(e) => return self.error_fact(repo, "the repository is", &e),
            };
            let Some(results) = cached.value.get("results").and_then(Json::as_array) else {
                return unexpected("the commit list has no `results` list").from_origin(origin);
            };
            let with_coverage = results.iter().find(|c| {
                c.get("state").and_then(Json::as_str) == Some("complete")
                    && c.get("totals")
                        .and_then(|t| t.get("coverage"))
                        .is_some_and(|v| !v.is_null())
            });
            if let Some(commit) = with_coverage {
                let ts = commit.get("timestamp").and_then(Json::as_str).unwrap_or("");
                let fact = match DateTime::parse_from_rfc3339(ts) {
                    Ok(t) => Fact::ok(Value::Timestamp(t.with_timezone(&Utc))),
                    Err(_) => unexpected(&format!("commit timestamp {ts:?} is not RFC 3339")),
                };
                return finish(fact, Some(&cached), origin);
            }
            if cached.value.get("next").is_none_or(Json::is_null) {
                break;
            }
        }
        Fact::no_data(format!("no commit with coverage on branch {branch}")).from_origin(origin)
    }

    /// The files a comparison changes (`compare/?pullid=N`, or `?base=SHA&head=SHA`), each with
    /// its head coverage (none for a file without coverage data); deleted files are left out.
    pub async fn changed_files(
        &self,
        project: &CodecovProject,
        query: &[(&str, &str)],
    ) -> Result<Vec<crate::coverage::risk::ChangedFile>, String> {
        let account = self
            .account(project)
            .map_err(|_| format!("Codecov account {:?} is not configured", project.account))?;
        let repo = Repo { account, project };
        let cached = self
            .get(account, self.url(&repo, &["compare"], query))
            .await
            .map_err(|e| format!("Codecov's comparison: {e}"))?;
        compared_files(&cached.value)
            .ok_or_else(|| "Codecov's comparison has no `files` list".into())
    }

    async fn pull(&self, repo: &Repo<'_>, key: &FactKey) -> Fact {
        let id = match key.arg("id") {
            // CQL numbers are floats: `412` arrives as 412.0.
            Some(Json::Number(n)) if n.as_f64().is_some_and(|f| f >= 0.0 && f.fract() == 0.0) => {
                format!("{}", n.as_f64().unwrap_or_default() as u64)
            }
            Some(Json::String(s)) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => s,
            other => {
                return Fact::error(format!(
                    "codecov.pullRequest(id) needs a pull request number, got {}",
                    other.map_or("nothing".to_string(), |v| v.to_string())
                ));
            }
        };
        let origin = format!("{}, pull request #{id}", repo.project.describe());
        let cached = match self
            .get(repo.account, self.url(repo, &["pulls", &id], &[]))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                return self
                    .error_fact(repo, &format!("pull request #{id} is"), &e)
                    .from_origin(origin);
            }
        };
        // The `coverage` of a totals object, checked as a percentage.
        let coverage = |what: &str, totals: Option<&Json>| {
            let value = totals.and_then(|t| t.get("coverage"));
            measure::read("Codecov", what, Measure::Percentage, value)
        };
        let base_and_head = |base: Option<&Json>, head: Option<&Json>| {
            Ok::<_, String>((
                coverage("base coverage", base)?,
                coverage("head coverage", head)?,
            ))
        };
        let function = key.function.as_str();
        if function == "pullRequest.patchCoverage" {
            let fact = match cached.value.get("patch") {
                Some(Json::Null) | None => Fact::no_data(format!(
                    "pull request #{id} has no processed comparison yet"
                )),
                patch => match coverage("patch coverage", patch) {
                    Ok(Some(c)) => Fact::ok(c),
                    Ok(None) => unexpected("the pull's `patch` has no coverage"),
                    Err(why) => Fact::error(why),
                },
            };
            return finish(fact, Some(&cached), origin);
        }
        let (mut base, mut head) = match base_and_head(
            cached.value.get("base_totals"),
            cached.value.get("head_totals"),
        ) {
            Ok(pair) => pair,
            Err(why) => return finish(Fact::error(why), Some(&cached), origin),
        };
        // The comparison has per-file coverage, and base/head totals when the pull lacks them.
        let mut compared = None;
        let per_file = matches!(
            function,
            "pullRequest.files" | "pullRequest.changedFilesCoverage"
        );
        if per_file || base.is_none() || head.is_none() {
            let query = [("pullid", id.as_str())];
            match self
                .get(repo.account, self.url(repo, &["compare"], &query))
                .await
            {
                Ok(c) => {
                    let totals = c.value.get("totals");
                    match base_and_head(
                        totals.and_then(|t| t.get("base")),
                        totals.and_then(|t| t.get("head")),
                    ) {
                        Ok((b, h)) => (base, head) = (base.or(b), head.or(h)),
                        Err(why) => return finish(Fact::error(why), Some(&c), origin),
                    }
                    compared = Some(c);
                }
                Err(e) if e.kind == FaultKind::NotFound => {}
                Err(e) => {
                    return self
                        .error_fact(
                            repo,
                            &format!("the comparison of pull request #{id} is"),
                            &e,
                        )
                        .from_origin(origin);
                }
            }
        }
        let fact = match function {
            "pullRequest.files" => match compared
                .as_ref()
                .and_then(|c| c.value.get("files")?.as_array().cloned())
            {
                Some(files) => files
                    .iter()
                    .map(|f| {
                        let name = f.get("name");
                        let part = |p: &str| {
                            let totals = f.get("totals").and_then(|t| t.get(p));
                            coverage(&format!("{p} coverage of a file"), totals)
                        };
                        Ok(Value::from_json(&serde_json::json!({
                            "name": name.and_then(|n| n.get("head")).filter(|n| !n.is_null())
                                .or_else(|| name.and_then(|n| n.get("base"))),
                            "base": part("base")?,
                            "head": part("head")?,
                            "patch": part("patch")?,
                        })))
                    })
                    .collect::<Result<_, String>>()
                    .map_or_else(Fact::error, |files| Fact::ok(Value::List(files))),
                None => Fact::no_data(format!("pull request #{id} has no comparison yet")),
            },
            "pullRequest.changedFilesCoverage" => {
                match compared.as_ref().and_then(|c| compared_files(&c.value)) {
                    // Weighed as `rubric risk` weighs the change.
                    Some(files) => crate::coverage::risk::changed_coverage(&files).map_or_else(
                        || {
                            Fact::no_data(format!(
                                "no changed file of pull request #{id} has coverage"
                            ))
                        },
                        Fact::ok,
                    ),
                    None => Fact::no_data(format!("pull request #{id} has no comparison yet")),
                }
            }
            "pullRequest.baseCoverage" => base.map_or_else(
                || Fact::no_data(format!("pull request #{id} has no base coverage")),
                Fact::ok,
            ),
            "pullRequest.headCoverage" => head.map_or_else(
                || Fact::no_data(format!("pull request #{id} has no head coverage")),
                Fact::ok,
            ),
            _ => match (base, head) {
                (Some(b), Some(h)) => Fact::ok(round2(h - b)),
                (None, _) => Fact::no_data(format!("pull request #{id} has no base coverage")),
                (_, None) => Fact::no_data(format!("pull request #{id} has no head coverage")),
            },
        };
        finish(fact, Some(&cached), origin)
    }
}

/// The files a comparison (`compare/`) changes, with their head coverage (none for a file
/// without it); deleted files are left out. `None` when the answer has no `files` list.
fn compared_files(comparison: &Json) -> Option<Vec<crate::coverage::risk::ChangedFile>> {
    let files = comparison.get("files")?.as_array()?;
    Some(
        files
            .iter()
            .filter_map(|f| {
                let path = f.get("name")?.get("head")?.as_str()?.to_string();
                let head = f.get("totals").and_then(|t| t.get("head"));
                let count = |k: &str| head.and_then(|h| h.get(k)).and_then(Json::as_u64);
                let (lines, hits) = (count("lines").unwrap_or(0), count("hits").unwrap_or(0));
                let coverage = match head {
                    Some(h) if !h.is_null() && lines > 0 => {
                        crate::coverage::report::percent(hits, lines)
                    }
                    _ => None,
                };
                Some(crate::coverage::risk::ChangedFile {
                    path,
                    coverage,
                    lines,
                    hits,
                })
            })
            .collect(),
    )
}

/// An entity's project together with the account that serves it.
struct Repo<'a> {
    account: &'a Account,
    project: &'a CodecovProject,
}

impl Repo<'_> {
    /// `github/acme/api, flag backend, branch main` (the flag the key asked for wins).
    fn origin(&self, flag: Option<&str>, branch: Option<&str>) -> String {
        let p = self.project;
        let mut s = format!("{}/{}/{}", p.service, p.owner, p.repo);
        if let Some(f) = flag.or(p.flag.as_deref()) {
            s.push_str(&format!(", flag {f}"));
        }
        if let Some(b) = branch {
            s.push_str(&format!(", branch {b}"));
        }
        s
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn unexpected(what: &str) -> Fact {
    Fact::error(format!("Codecov answered unexpected JSON: {what}"))
}

/// Sets the origin, and marks a fact served from the last good answer after a failed refresh
/// (its age in `stale_secs`, the failure in the origin).
pub(crate) fn finish(fact: Fact, cached: Option<&Cached>, origin: String) -> Fact {
    let Some((age, c)) = cached.and_then(|c| Some((c.stale_secs?, c))) else {
        return fact.from_origin(origin);
    };
    let mut fact = match &c.stale_because {
        Some(why) => fact.from_origin(format!("{origin}; refresh failed: {why}")),
        None => fact.from_origin(origin),
    };
    fact.stale_secs = Some(age);
    fact
}

/// The bare `codecov` fact: the mapping as an object.
fn mapping_value(p: &CodecovProject) -> Value {
    let mapped_by = match p.mapped_by {
        MappedBy::Descriptor => "descriptor",
        MappedBy::Annotation => "annotation",
        MappedBy::Discovery => "discovery",
    };
    Value::from_json(&serde_json::json!({
        "service": p.service,
        "owner": p.owner,
        "repo": p.repo,
        "flag": p.flag,
        "account": p.account,
        "mapped_by": mapped_by,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trimmed(page: &str) -> Json {
        TrendPage::trim(serde_json::from_str(page).expect("a trend page"))
    }

    #[test]
    fn a_trend_page_is_cached_as_its_days_and_averages_only() {
        let page = trimmed(
            r#"{"count": 2, "next": "https://elsewhere.example/?page=2", "previous": null,
                "results": [
                  {"timestamp": "2026-11-01T00:00:00Z", "min": 1.0, "max": 99.0, "avg": 80.5},
                  {"timestamp": "2026-11-02T00:00:00Z", "avg": null},
                  {"timestamp": 7, "avg": "81.25"}
                ]}"#,
        );
        assert_eq!(
            page,
            serde_json::json!({
                "points": ["2026-11-01", 80.5, "2026-11-02", null, "", "81.25"],
                "next": true
            })
        );
        let points: Vec<(&str, Option<&Json>)> = TrendPage::points(&page).unwrap().collect();
        assert_eq!(points[0], ("2026-11-01", Some(&Json::from(80.5))));
        assert_eq!(points[2], ("", Some(&Json::from("81.25"))));
        assert!(TrendPage::has_next(&page));
        let last = trimmed(r#"{"results": [], "next": null}"#);
        assert!(!TrendPage::has_next(&last));
        assert_eq!(TrendPage::points(&last).unwrap().count(), 0);
    }

    #[test]
    fn a_trend_page_without_results_is_reported_not_read_as_empty() {
        // A page that smuggles in the cached shape is still a page without `results`.
        let page = trimmed(r#"{"points": ["2026-11-01", 50], "next": null}"#);
        assert!(TrendPage::points(&page).is_none());
        // Not a page at all: the parse fails, and the fetch reports bad JSON.
        assert!(serde_json::from_str::<RawTrendPage>(r#"{"results": "none"}"#).is_err());
    }

    #[test]
    fn host_roots_are_normalised() {
        assert_eq!(
            parse_base("https://api.codecov.io/").unwrap().as_str(),
            "https://api.codecov.io/"
        );
        assert_eq!(
            parse_base("https://cc.example.com/api/v2")
                .unwrap()
                .as_str(),
            "https://cc.example.com/"
        );
        assert!(parse_base("api.codecov.io").is_err());
        assert!(parse_base("ftp://x").is_err());
    }
}
