//! Datadog Code Coverage (v2, preview API): branch, commit and pull request summaries with
//! breakdowns by service and code owner.
//!
//! `POST /api/v2/code-coverage/{branch|commit|pr}/summary` with a JSON:API body naming the
//! repository twice: by `repository_url` (`github.com/org/repo`, from the entity's git
//! repository), which newer API versions read, and by `repository_id`, which the documented
//! request schema requires (a server following it answers 400 without). Headers `DD-API-KEY`
//! and `DD-APPLICATION-KEY`. Errors come back as `{"errors": [...]}` and are shown as they are.
//! Coverage values must be percentages from 0 to 100.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value as Json, json};

use super::cache::{Cached, ResponseCache};
use super::http::{FaultKind, FetchError, Http, Limits, ProviderHttp};
use super::measure::{self, Measure};
use super::secrets::{SecretSource, last_four};
use super::{CoverageReading, Provider, ProviderReport, StatsSnapshot, self_test};
use crate::catalog::{Catalog, CodecovProject, Entity};
use crate::config::{ConfigError, DatadogConfig};
use crate::facts::{Fact, FactKey, FactStatus, Source};

/// Datadog sites and their API hosts (docs: "Datadog site" tables).
pub const SITES: &[(&str, &str)] = &[
    ("datadoghq.com", "api.datadoghq.com"),
    ("us3.datadoghq.com", "api.us3.datadoghq.com"),
    ("us5.datadoghq.com", "api.us5.datadoghq.com"),
    ("datadoghq.eu", "api.datadoghq.eu"),
    ("ap1.datadoghq.com", "api.ap1.datadoghq.com"),
    ("ap2.datadoghq.com", "api.ap2.datadoghq.com"),
    ("ddog-gov.com", "api.ddog-gov.com"),
    ("us2.ddog-gov.com", "api.us2.ddog-gov.com"),
    ("uk1.datadoghq.com", "api.uk1.datadoghq.com"),
];

/// The API host root of a site: `datadoghq.eu` (or `app.datadoghq.eu`) → `https://api.datadoghq.eu`.
pub fn api_root(site: &str) -> Result<String, ConfigError> {
    let s = site
        .trim()
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_ascii_lowercase();
    let s = s.strip_prefix("app.").unwrap_or(&s);
    let s = if s == "us1.datadoghq.com" {
        "datadoghq.com"
    } else {
        s
    };
    SITES
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, host)| format!("https://{host}"))
        .ok_or_else(|| {
            let known: Vec<&str> = SITES.iter().map(|(n, _)| *n).collect();
            ConfigError::Invalid(format!(
                "[datadog] site {site:?} is not a Datadog site; use one of {}",
                known.join(", ")
            ))
        })
}

/// The Datadog provider.
#[derive(Debug)]
pub struct Datadog {
    http: ProviderHttp,
    cache: ResponseCache,
    base: Url,
    api_key_env: String,
    app_key_env: String,
    api_key: Option<SecretString>,
    app_key: Option<SecretString>,
    branch: String,
}

/// Which summary a fact reads.
pub(crate) enum Summary {
    Branch(String),
    Commit(String),
    Pull(u64),
}

impl Summary {
    fn path(&self) -> &'static str {
        match self {
            Summary::Branch(_) => "branch",
            Summary::Commit(_) => "commit",
            Summary::Pull(_) => "pr",
        }
    }

    fn describe(&self) -> String {
        match self {
            Summary::Branch(b) => format!("branch {b}"),
            Summary::Commit(c) => format!("commit {}", c.chars().take(12).collect::<String>()),
            Summary::Pull(n) => format!("pull request #{n}"),
        }
    }

    fn body(&self, repository_url: &str) -> Json {
        let (mut attributes, kind) = match self {
            Summary::Branch(b) => (
                json!({"branch": b}),
                "ci_app_coverage_branch_summary_request",
            ),
            Summary::Commit(c) => (
                json!({"commit_sha": c}),
                "ci_app_coverage_commit_summary_request",
            ),
            Summary::Pull(n) => (
                json!({"pr_number": n}),
                "ci_app_coverage_pr_summary_request",
            ),
        };
        attributes["repository_id"] = json!(repository_id(repository_url));
        attributes["repository_url"] = json!(repository_url);
        json!({"data": {"attributes": attributes, "type": kind}})
    }
}

/// The `repository_id` of a repository URL: host and path, without scheme, `.git` or trailing
/// slash (`https://github.com/org/repo.git` → `github.com/org/repo`).
fn repository_id(repository_url: &str) -> &str {
    let url = repository_url.trim();
    let url = url.split_once("://").map_or(url, |(_, rest)| rest);
    let url = url.trim_end_matches('/');
    url.strip_suffix(".git").unwrap_or(url)
}

impl Datadog {
    /// The provider `[datadog]` describes, over the shared HTTP client.
    pub fn new(
        cfg: &DatadogConfig,
        http: Http,
        secrets: &SecretSource,
    ) -> Result<Datadog, ConfigError> {
        let root = if cfg.url.trim().is_empty() {
            api_root(&cfg.site)?
        } else {
            cfg.url.trim().to_string()
        };
        let base = super::codecov::parse_base(&root)
            .map_err(|why| ConfigError::Invalid(format!("[datadog] url {root:?} {why}")))?;
        let limits = Limits {
            concurrency: cfg.concurrency,
            rate_per_sec: cfg.rate_limit_per_sec,
            burst: cfg.rate_limit_burst,
            max_response_bytes: cfg.max_response_bytes,
        };
        Ok(Datadog {
            http: ProviderHttp::new("Datadog", http, limits),
            cache: ResponseCache::new(
                Duration::from_secs(cfg.cache_ttl_secs),
                Duration::from_secs(cfg.not_found_ttl_secs),
            ),
            base,
            api_key_env: cfg.api_key_env.clone(),
            app_key_env: cfg.app_key_env.clone(),
            api_key: secrets.get(&cfg.api_key_env),
            app_key: secrets.get(&cfg.app_key_env),
            branch: cfg.branch.clone(),
        })
    }

    /// The HTTP layer (counters, current rate).
    pub fn http(&self) -> &ProviderHttp {
        &self.http
    }

    /// The branch summarised when a rule names none.
    pub fn default_branch(&self) -> &str {
        &self.branch
    }

    /// The API host root requests go to.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `API key …abcd from DD_API_KEY, application key …wxyz from DD_APP_KEY` (or which is unset).
    pub fn key_hint(&self) -> String {
        let one = |what: &str, key: &Option<SecretString>, env: &str| match key {
            Some(k) => format!("{what} {} from {env}", last_four(k)),
            None => format!("no {what} ({env} is not set)"),
        };
        format!(
            "{}, {}",
            one("API key", &self.api_key, &self.api_key_env),
            one("application key", &self.app_key, &self.app_key_env)
        )
    }

    pub(crate) fn headers(&self) -> Result<HeaderMap, String> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_static("application/json"));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, key, env) in [
            ("dd-api-key", &self.api_key, &self.api_key_env),
            ("dd-application-key", &self.app_key, &self.app_key_env),
        ] {
            let key = key
                .as_ref()
                .ok_or_else(|| format!("Datadog is enabled but {env} is not set"))?;
            let mut v = HeaderValue::from_str(key.expose_secret())
                .map_err(|_| format!("the value of {env} is not a valid header value"))?;
            v.set_sensitive(true);
            h.insert(name, v);
        }
        Ok(h)
    }

    /// POSTs one summary request through the cache (the key is the URL and body).
    pub(crate) async fn summary(
        &self,
        which: &Summary,
        repository_url: &str,
    ) -> Result<Cached, Arc<FetchError>> {
        let headers = self.headers().map_err(|m| {
            Arc::new(FetchError {
                kind: FaultKind::Unauthorized,
                status: None,
                message: m,
                host: None,
            })
        })?;
        let mut url = self.base.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty()
                .extend(["api", "v2", "code-coverage", which.path(), "summary"]);
        }
        let body = which.body(repository_url).to_string();
        let key = format!("{url}\u{1f}{body}");
        let fetch = self.http.send_json(move |c| {
            c.post(url.clone())
                .headers(headers.clone())
                .body(body.clone())
        });
        self.cache.get_or_fetch(&key, &self.http.stats, fetch).await
    }

    /// Answers one `datadog` fact for one entity.
    pub async fn fact(&self, key: &FactKey, entity: &Entity) -> Fact {
        let Some(repo) = &entity.repository else {
            return Fact::no_data("entity has no git repository for Datadog Code Coverage");
        };
        let repository_url = repo.url_path();
        let branch = key.arg_str("branch").unwrap_or_else(|| self.branch.clone());
        let pr = key.arg("pr").and_then(|v| {
            // CQL numbers are floats: `42` arrives as 42.0.
            v.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
                .or_else(|| v.as_str()?.parse().ok())
        });
        let which = match (key.function.as_str(), key.arg_str("commit"), pr) {
            ("codeCoverage", Some(sha), _) => Summary::Commit(sha),
            ("patchCoverage", _, Some(n)) => Summary::Pull(n),
            _ => Summary::Branch(branch),
        };
        let (field, part): (&str, Option<(&str, String)>) = match key.function.as_str() {
            "codeCoverage" => ("total_coverage", None),
            "patchCoverage" => ("patch_coverage", None),
            "serviceCoverage" => match key.arg_str("service") {
                Some(s) => ("total_coverage", Some(("services", s))),
                None => return Fact::error("datadog.serviceCoverage needs a service name"),
            },
            "codeownerCoverage" => match key.arg_str("codeowner") {
                Some(o) => ("total_coverage", Some(("codeowners", o))),
                None => return Fact::error("datadog.codeownerCoverage needs a code owner"),
            },
            other => {
                return Fact::error(format!(
                    "datadog.{other}() is not provided by the Datadog provider"
                ));
            }
        };
        let mut origin = format!("{repository_url}, {}", which.describe());
        if let Some((_, name)) = &part {
            origin.push_str(&format!(", {name}"));
        }
        let cached = match self.summary(&which, &repository_url).await {
            Ok(c) => c,
            Err(e) => {
                let hint = match e.kind {
                    FaultKind::Unauthorized | FaultKind::Forbidden if e.status.is_some() => {
                        format!(
                            " ({}; the application key needs code_coverage_read)",
                            self.key_hint()
                        )
                    }
                    FaultKind::NotFound => {
                        format!(" (Datadog has no coverage for {})", which.describe())
                    }
                    _ => String::new(),
                };
                return Fact::error(format!("{e}{hint}")).from_origin(origin);
            }
        };
        let Some(attrs) = cached.value.get("data").and_then(|d| d.get("attributes")) else {
            return Fact::error("Datadog answered unexpected JSON: no `data.attributes`")
                .from_origin(origin);
        };
        let stats = match &part {
            None => Some(attrs),
            Some((group, name)) => attrs.get(*group).and_then(|g| g.get(name.as_str())),
        };
        let fact = match (stats, &part) {
            (None, Some((group, name))) => {
                let what = if *group == "services" {
                    "service"
                } else {
                    "code owner"
                };
                Fact::no_data(format!(
                    "Datadog has no coverage for {what} {name} on {}",
                    which.describe()
                ))
            }
            (stats, _) => {
                let what = field.replace('_', " ");
                let value = stats.and_then(|s| s.get(field));
                match measure::read("Datadog", &what, Measure::Percentage, value) {
                    Ok(Some(n)) => Fact::ok(n),
                    Ok(None) => {
                        Fact::no_data(format!("Datadog has no {what} for {}", which.describe()))
                    }
                    Err(why) => Fact::error(why),
                }
            }
        };
        super::codecov::finish(fact, Some(&cached), origin)
    }
}

impl Provider for Datadog {
    fn source(&self) -> Source {
        Source::Datadog
    }

    fn answer<'a>(
        &'a self,
        key: &'a FactKey,
        entity: &'a Entity,
        _catalog: &'a Catalog,
    ) -> BoxFuture<'a, Fact> {
        Box::pin(self.fact(key, entity))
    }

    /// The default branch's total and the patch coverage (`serviceCoverage(name)` and
    /// `codeownerCoverage(name)` need arguments only rules give).
    fn sync_keys(&self) -> Vec<FactKey> {
        vec![
            FactKey::new(Source::Datadog, "datadog", "codeCoverage"),
            FactKey::new(Source::Datadog, "datadog", "patchCoverage"),
        ]
    }

    fn history_keys(&self) -> Vec<FactKey> {
        vec![FactKey::new(Source::Datadog, "datadog", "codeCoverage")]
    }

    /// The default branch's total coverage of the entity's repository.
    fn history_point(&self, entity: &Entity, facts: &[&Fact]) -> Option<CoverageReading> {
        let repo = entity.repository.as_ref()?;
        match facts.first() {
            Some(Fact {
                value: crate::value::Value::Number(pct),
                status: FactStatus::Ok,
                ..
            }) => Some(CoverageReading {
                repository: format!("{}/{}", repo.owner, repo.name),
                flag: String::new(),
                coverage: *pct,
                last_upload_at: None,
            }),
            _ => None,
        }
    }

    fn stats(&self) -> Option<(&'static str, StatsSnapshot)> {
        Some((self.http.name(), self.http.stats.snapshot()))
    }

    fn self_test<'a>(
        &'a self,
        catalog: Option<&'a Catalog>,
        repo: Option<&'a CodecovProject>,
    ) -> BoxFuture<'a, Vec<ProviderReport>> {
        Box::pin(async move { vec![self_test::datadog(self, catalog, repo).await] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_map_to_api_hosts() {
        assert_eq!(
            api_root("datadoghq.com").unwrap(),
            "https://api.datadoghq.com"
        );
        assert_eq!(
            api_root("app.datadoghq.eu").unwrap(),
            "https://api.datadoghq.eu"
        );
        assert_eq!(
            api_root("US5.datadoghq.com").unwrap(),
            "https://api.us5.datadoghq.com"
        );
        assert_eq!(
            api_root("ddog-gov.com").unwrap(),
            "https://api.ddog-gov.com"
        );
        let e = api_root("datadog.example").unwrap_err().to_string();
        assert!(
            e.contains("is not a Datadog site; use one of datadoghq.com"),
            "{e}"
        );
    }

    #[test]
    fn bodies_are_json_api() {
        let b = Summary::Branch("main".into()).body("github.com/acme/api");
        assert_eq!(
            b,
            json!({"data": {"attributes": {"branch": "main", "repository_id": "github.com/acme/api",
                                           "repository_url": "github.com/acme/api"},
                            "type": "ci_app_coverage_branch_summary_request"}})
        );
        let p = Summary::Pull(42).body("github.com/acme/api");
        assert_eq!(p["data"]["attributes"]["pr_number"], json!(42));
        assert_eq!(
            p["data"]["type"],
            json!("ci_app_coverage_pr_summary_request")
        );
    }

    #[test]
    fn repository_ids_drop_scheme_and_dot_git() {
        for url in [
            "github.com/datadog/shopist",
            "https://github.com/datadog/shopist",
            "https://github.com/datadog/shopist.git",
            " http://github.com/datadog/shopist/ ",
        ] {
            assert_eq!(repository_id(url), "github.com/datadog/shopist", "{url}");
        }
    }
}
