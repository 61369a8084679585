//! Configuration: `plugin.toml` defaults, an optional user file, then `RUBRIC_<SECTION>_<KEY>`
//! environment overrides. The keys of `plugin.toml` are all the keys there are: others, in the
//! file or the environment, are reported as [`Unknown`] (with the likely key meant) and ignored.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The built-in defaults: the repository's `plugin.toml`.
pub const DEFAULT_CONFIG: &str = include_str!("../plugin.toml");

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The plugin manifest.
    pub plugin: PluginManifest,
    /// Where entities come from.
    pub catalog: CatalogConfig,
    /// Where scorecards come from.
    pub scorecards: ScorecardsConfig,
    /// The Codecov provider.
    pub codecov: CodecovConfig,
    /// The Datadog Code Coverage provider.
    pub datadog: DatadogConfig,
    /// The HTTP layer every provider shares: timeouts, retries, secrets.
    pub http: HttpConfig,
    /// The evaluation history database.
    pub store: StoreConfig,
    /// Coverage uploads.
    pub uploads: UploadsConfig,
    /// Deploy risk.
    pub risk: RiskConfig,
    /// The HTTP server of `rubric serve`.
    pub server: ServerConfig,
    /// Who may call the HTTP API.
    pub auth: AuthConfig,
    /// Scheduled evaluations.
    pub schedule: ScheduleConfig,
    /// Alerts after runs.
    pub alerts: AlertsConfig,
    /// The budgets of every rule evaluation.
    pub cql: CqlLimits,
}

/// `[cql]`: the budgets every rule evaluation runs under (installed by `cql::Limits::install`).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CqlLimits {
    /// Steps one rule evaluation may take (each lambda iteration and each aggregated item is one).
    pub max_steps: u64,
    /// Wall-clock time one `jq(...)` call may take, in milliseconds.
    pub jq_timeout_ms: u64,
    /// Memory one jq evaluation may build, in MiB (enforced as the sandbox's address-space limit).
    pub jq_memory_mib: u64,
    /// Stack the jq evaluator may use, in MiB: the recursion bound of a filter.
    pub jq_stack_mib: u64,
    /// Largest jq result (as JSON), in bytes.
    pub jq_max_output_bytes: u64,
    /// Most outputs one jq filter may produce.
    pub jq_max_outputs: u64,
}

impl CqlLimits {
    /// The budgets of a process that installed none (and `plugin.toml`'s defaults).
    pub const DEFAULT: CqlLimits = CqlLimits {
        max_steps: 1_000_000,
        jq_timeout_ms: 100,
        jq_memory_mib: 256,
        jq_stack_mib: 8,
        jq_max_output_bytes: 1 << 20,
        jq_max_outputs: 10_000,
    };
}

impl Default for CqlLimits {
    fn default() -> Self {
        CqlLimits::DEFAULT
    }
}

/// The plugin manifest (`[plugin]`).
#[derive(Clone, Debug, Deserialize)]
pub struct PluginManifest {
    /// Plugin name.
    pub name: String,
    /// Plugin version.
    pub version: String,
    /// One-line description.
    pub description: String,
    /// Path template of the entity page.
    pub entity_page: String,
    /// Base path of the HTTP API.
    pub api: String,
}

/// `[catalog]`.
#[derive(Clone, Debug, Deserialize)]
pub struct CatalogConfig {
    /// Folder of descriptors.
    pub path: PathBuf,
    /// Further folders whose files Location targets and `*.yaml` symlinks may lead to; any
    /// other file outside `path` is refused. Empty: only `path`.
    pub allowed_roots: Vec<PathBuf>,
    /// Backstage host root (e.g. `https://backstage.example.com`); empty: no HTTP source.
    pub backstage_url: String,
    /// Name of the environment variable holding the Backstage token (sent as a bearer token).
    pub backstage_token_env: String,
    /// Backstage catalog filters (`kind=component`), each a `filter` query parameter; empty: all.
    pub backstage_filter: Vec<String>,
    /// Entities per page when paging through `/api/catalog/entities/by-query`.
    pub backstage_page_size: usize,
    /// Timeout of each Backstage request, in seconds.
    pub backstage_timeout_secs: u64,
}

/// `[scorecards]`.
#[derive(Clone, Debug, Deserialize)]
pub struct ScorecardsConfig {
    /// Folder of scorecard YAML files.
    pub path: PathBuf,
}

/// `[codecov]`.
#[derive(Clone, Debug, Deserialize)]
pub struct CodecovConfig {
    /// Host root, without `/api/v2`.
    pub url: String,
    /// Name of the environment variable holding the token.
    pub token_env: String,
    /// Branch to read; empty for the default branch.
    pub branch: String,
    /// Cache TTL in seconds.
    pub cache_ttl_secs: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests per second at most (token bucket refill rate).
    pub rate_limit_per_sec: u32,
    /// Requests that may start at once before the rate limit applies (token bucket size).
    pub rate_limit_burst: u32,
    /// How long a 404 answer is reused, in seconds.
    pub not_found_ttl_secs: u64,
    /// Largest answer body read, in bytes after decompression; a larger one is an error fact.
    pub max_response_bytes: u64,
    /// Repositories of one owner a fetch must need before their totals are read from the
    /// owner's repository list instead of one request each; 0 never reads the list.
    pub repository_list_min: usize,
    /// Repositories asked for per page of an owner's repository list.
    pub repository_list_page_size: usize,
    /// Further Codecov accounts or hosts, each serving the owners it lists (`[[codecov.accounts]]`).
    #[serde(default)]
    pub accounts: Vec<CodecovAccount>,
}

/// One extra Codecov account (`[[codecov.accounts]]`): its own host and token for some owners.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodecovAccount {
    /// Account name, recorded on every entity it serves.
    pub name: String,
    /// Host root; defaults to `[codecov] url`.
    pub url: Option<String>,
    /// Environment variable holding this account's token; defaults to `[codecov] token_env`.
    pub token_env: Option<String>,
    /// The Codecov owners (organisations) this account serves, matched case-insensitively.
    pub owners: Vec<String>,
}

/// `[datadog]`: Datadog Code Coverage (v2 API).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatadogConfig {
    /// Whether rubric asks Datadog at all; when false, `datadog.*` rules get an error outcome.
    pub enabled: bool,
    /// The Datadog site (`datadoghq.com`, `datadoghq.eu`, `us3.datadoghq.com`, `ddog-gov.com`...).
    pub site: String,
    /// API host root overriding the one derived from `site` (for proxies and tests); empty: none.
    pub url: String,
    /// Environment variable holding the API key (`DD-API-KEY`).
    pub api_key_env: String,
    /// Environment variable holding the application key (`DD-APPLICATION-KEY`).
    pub app_key_env: String,
    /// Branch summarised when a rule names none.
    pub branch: String,
    /// Cache TTL in seconds.
    pub cache_ttl_secs: u64,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests per second at most.
    pub rate_limit_per_sec: u32,
    /// Token bucket size.
    pub rate_limit_burst: u32,
    /// How long a 404 answer is reused, in seconds.
    pub not_found_ttl_secs: u64,
    /// Largest answer body read, in bytes after decompression; a larger one is an error fact.
    pub max_response_bytes: u64,
}

/// `[http]`: the HTTP layer all providers share.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Time allowed to open a connection (TCP + TLS), in milliseconds.
    pub connect_timeout_ms: u64,
    /// Time allowed between two reads of a response, in milliseconds.
    pub read_timeout_ms: u64,
    /// Time allowed for one whole request, in milliseconds.
    pub request_timeout_ms: u64,
    /// Retries after the first attempt (connection errors, timeouts, 5xx, 429).
    pub max_retries: u32,
    /// Total time one fetch may spend retrying, in milliseconds.
    pub retry_budget_ms: u64,
    /// First backoff delay in milliseconds; doubles each retry, with full jitter.
    pub backoff_base_ms: u64,
    /// Longest `Retry-After` honoured, in seconds; a longer one fails the fetch.
    pub max_retry_after_secs: u64,
    /// A file of `NAME=value` lines read for any token variable the environment lacks; empty: none.
    pub secrets_file: PathBuf,
}

/// `[store]`: where evaluation runs are kept.
#[derive(Clone, Deserialize)]
pub struct StoreConfig {
    /// `sqlite://FILE` (created when missing) or `postgres://user:password@host/db`.
    pub url: String,
    /// Days of runs kept; older runs are pruned by the scheduler.
    pub retention_days: u32,
}

impl std::fmt::Debug for StoreConfig {
    /// Hides a password in the URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &redact_url(&self.url))
            .field("retention_days", &self.retention_days)
            .finish()
    }
}

/// `[risk]`: the deploy risk of a change from the coverage of the files it touches.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct RiskConfig {
    /// Changed files covered below this percentage add `points`.
    pub low_coverage: f64,
    /// The risk points they add.
    pub points: u32,
    /// Points of coverage a pull request must lower to be listed as regressing.
    pub regressing_points: f64,
}

/// `[uploads]`: coverage uploads to `rubric serve` and the `coverage.*` facts read from them.
#[derive(Clone, Debug, Deserialize)]
pub struct UploadsConfig {
    /// Largest upload body as sent, in bytes.
    pub max_body_bytes: usize,
    /// Largest report after decompression, in bytes.
    pub max_report_bytes: u64,
    /// Most files in one report.
    pub max_files: usize,
    /// Most line records in one report.
    pub max_lines: u64,
    /// The branches whose latest complete commit `coverage.*` reads.
    pub branches: Vec<String>,
    /// The address uploaders reach the server at ("" = the request's Host header).
    pub public_url: String,
}

/// `[server]`: the HTTP listener of `rubric serve`.
#[derive(Clone, Debug, Deserialize)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub bind: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take, in seconds, before it is answered 408.
    pub request_timeout_secs: u64,
    /// Longest a client may take to send a request's headers, in seconds, before the
    /// connection is closed (also the idle time allowed between keep-alive requests).
    pub header_read_timeout_secs: u64,
    /// Value of the page's `Content-Security-Policy: frame-ancestors` (which portals may embed it).
    pub frame_ancestors: String,
    /// Whether badges are read without a token.
    pub public_badges: bool,
    /// Origins whose pages may call the API from a browser (CORS).
    pub cors_origins: Vec<String>,
    /// `[server.backstage]`: Backstage user tokens accepted as read tokens.
    pub backstage: BackstageAuthConfig,
}

/// `[server.backstage]`: the signed-in user's Backstage token (a JWT that Backstage front-ends
/// send to the backends they discover), verified against the Backstage JWKS.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackstageAuthConfig {
    /// The JWKS of Backstage's auth backend
    /// (`https://backstage.example.com/api/auth/.well-known/jwks.json`); empty: off.
    pub jwks_url: String,
    /// The expected `iss`; empty: the JWKS URL without `/.well-known/jwks.json`.
    pub issuer: String,
    /// The expected `aud`.
    pub audience: String,
    /// How long the fetched keys are used before they are fetched again, in seconds.
    pub cache_secs: u64,
    /// Least time between two fetches caused by a token signed with an unknown key (or after a
    /// failed fetch), in seconds.
    pub refetch_interval_secs: u64,
    /// Longest a JWKS fetch may take, in seconds.
    pub timeout_secs: u64,
}

/// `[auth]`: bearer tokens with the roles `read` and `admin`.
#[derive(Clone, Debug, Deserialize)]
pub struct AuthConfig {
    /// Let requests without a token read the API and pages (only on a trusted network).
    pub anonymous_read: bool,
    /// Environment variable holding the tokens: `name:role:token` entries separated by commas.
    pub tokens_env: String,
}

/// `[schedule]`: when `rubric serve` evaluates each scorecard.
#[derive(Clone, Debug, Deserialize)]
pub struct ScheduleConfig {
    /// Run scheduled evaluations at all.
    pub enabled: bool,
    /// Hours between runs of a scorecard that sets no `evaluation.window` of its own.
    pub window_hours: u32,
    /// A cron line (5 or 6 fields, UTC) used instead of windows for every scorecard; empty for none.
    pub cron: String,
    /// Largest random delay, in seconds, added before each scheduled run.
    pub jitter_secs: u64,
}

/// `[alerts]`: webhooks fired after runs.
#[derive(Clone, Debug, Deserialize)]
pub struct AlertsConfig {
    /// Coverage minimum in percent for every repository; 0 turns the check off.
    pub min_coverage: f64,
    /// Percentage points a repository's 30-day coverage may fall before a "declining" alert.
    pub trend_drop_points: f64,
    /// Delivery attempts per alert and webhook.
    pub max_attempts: u32,
    /// Delay before the first retry, in milliseconds; it doubles on every further retry.
    pub retry_base_ms: u64,
    /// Minimums per repository (`owner/name` or `owner/name#flag`), in percent.
    pub min_coverage_by_repository: std::collections::BTreeMap<String, f64>,
    /// Minimums per scorecard tag, in percent, for the repositories of its entities.
    pub min_coverage_by_scorecard: std::collections::BTreeMap<String, f64>,
    /// Where alerts are sent (`[[alerts.webhooks]]`).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
}

impl AlertsConfig {
    /// The minimum coverage of a repository (and flag): per repository and flag, per repository,
    /// per owner (`owner/*`), per scorecard when one is named, then the global one (none when 0).
    pub fn minimum(&self, scorecard: Option<&str>, repository: &str, flag: &str) -> Option<f64> {
        let by_repo = &self.min_coverage_by_repository;
        let flagged = (!flag.is_empty()).then(|| format!("{repository}#{flag}"));
        let by_owner = || {
            by_repo
                .iter()
                .find(|(pattern, _)| {
                    pattern.ends_with("/*")
                        && crate::coverage::repository_matches(pattern, repository)
                })
                .map(|(_, m)| *m)
        };
        flagged
            .and_then(|k| by_repo.get(&k).copied())
            .or_else(|| by_repo.get(repository).copied())
            .or_else(by_owner)
            .or_else(|| scorecard.and_then(|s| self.min_coverage_by_scorecard.get(s).copied()))
            .or((self.min_coverage > 0.0).then_some(self.min_coverage))
    }
}

/// One webhook (`[[alerts.webhooks]]`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Name, recorded with every delivery.
    pub name: String,
    /// `slack` (incoming-webhook `{"text": ...}`) or `json` (the alert as a JSON object).
    pub format: String,
    /// Environment variable holding the URL (Slack webhook URLs are secrets).
    pub url_env: String,
    /// The repositories whose alerts it receives (`owner/name`, or `owner/*` for an owner's);
    /// empty or absent: every alert.
    #[serde(default)]
    pub repositories: Vec<String>,
}

/// Configuration that cannot be used: exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has wrong types.
    #[error("{0}")]
    Invalid(String),
    /// Keys or variables that are not configuration, refused (`--strict`): one per line, each
    /// line after the first with its own `error: `.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\nerror: "))]
    Unknown(Vec<Unknown>),
}

/// The variable holding the log filter (`rubric --log-json`, `rubric serve`).
pub const LOG_ENV: &str = "RUBRIC_LOG";

/// `RUBRIC_*` variables that are not configuration keys, never reported as unknown: the log
/// filter, the pinned clock, and those of the repository's own scripts, tests and benches.
const NOT_CONFIGURATION: &[&str] = &[
    LOG_ENV,
    crate::clock::ENV,
    "RUBRIC_JQ_WORKER",
    "RUBRIC_URL",
    "RUBRIC_TOKEN",
    "RUBRIC_TEST_POSTGRES_URL",
    "RUBRIC_TEST_UPLOAD_CLIENTS",
    "RUBRIC_CLIENTS_DIR",
    "RUBRIC_UPLOAD_TOKEN",
    "RUBRIC_PG_DIR",
    "RUBRIC_PG_PORT",
    "RUBRIC_BENCH_DIR",
    "RUBRIC_BENCH_ENTITIES",
    "RUBRIC_BENCH_NO_BUILD",
    "RUBRIC_BENCH_STORE",
];

/// Where a value of the effective configuration was set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The built-in `plugin.toml`.
    Default,
    /// The configuration file (`--config`).
    File(PathBuf),
    /// An environment variable, by name.
    Env(String),
}

/// `default`, `file PATH` or `env NAME`.
impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(name) => write!(f, "env {name}"),
        }
    }
}

/// A key of the configuration file or a `RUBRIC_*` variable that names no configuration key:
/// ignored (a warning, or an error under `--strict`). A variable's value is never kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// The file's key (`server.bnd`) or the variable (`RUBRIC_CODECOV_URLL`).
    pub name: String,
    /// The file or the variable.
    pub source: Source,
    /// The known key or variable it is likely a misspelling of.
    pub suggestion: Option<String>,
}

/// `unknown configuration key server.bnd in FILE (did you mean server.bind?)`.
impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::File(path) => {
                let what = if self.name.contains('.') {
                    "key"
                } else {
                    "section"
                };
                write!(
                    f,
                    "unknown configuration {what} {} in {}",
                    self.name,
                    path.display()
                )?
            }
            _ => write!(f, "unknown configuration variable {}", self.name)?,
        }
        match &self.suggestion {
            Some(s) => write!(f, " (did you mean {s}?)"),
            None => Ok(()),
        }
    }
}

/// One key of the effective configuration, as shown to people: passwords in URLs redacted.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    /// `section.key`.
    pub key: String,
    /// The value (a table or array shown whole).
    pub value: toml::Value,
    /// Where it was set.
    pub source: Source,
}

/// A loaded configuration with the provenance of every value and what was ignored.
#[derive(Debug)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Every key in `plugin.toml` order, with its value and source.
    pub settings: Vec<Setting>,
    /// Keys and variables ignored, the file's first (in file order), then the variables by name.
    pub unknown: Vec<Unknown>,
}

impl Loaded {
    /// Every `*_env` key naming the variable of a secret (token, key, webhook URL), as
    /// `(key, variable)`: `("codecov.token_env", "CODECOV_TOKEN")`,
    /// `("codecov.accounts[0].token_env", ...)`.
    pub fn secret_variables(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for setting in &self.settings {
            secret_variables(&setting.key, &setting.value, &mut found);
        }
        found
    }
}

impl Config {
    /// Loads the defaults, then `file` (if given) over them, then the process environment's
    /// overrides.
    pub fn load(file: Option<&Path>) -> Result<Loaded, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// [`Config::load`] with an explicit environment, keeping only the configuration (unknown
    /// keys and variables are ignored unreported).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Self::load_from(file, env).map(|loaded| loaded.config)
    }

    /// [`Config::load`] with an explicit environment.
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let defaults = parse_table(DEFAULT_CONFIG, Path::new("plugin.toml (built in)"))?;
        let mut table = defaults.clone();
        let mut sources = HashMap::new();
        let mut unknown = Vec::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            let mut over = parse_table(&text, path)?;
            let mut dropped = Vec::new();
            drop_unknown(&defaults, &mut over, "", &mut dropped);
            unknown.extend(dropped.into_iter().map(|(name, suggestion)| Unknown {
                name,
                source: Source::File(path.to_path_buf()),
                suggestion,
            }));
            for (key, _) in keys(&defaults, &over) {
                sources.insert(key, Source::File(path.to_path_buf()));
            }
            merge(&mut table, over);
        }
        let mut unmatched = Vec::new();
        for (name, value) in env {
            if !name.starts_with("RUBRIC_") {
                continue;
            }
            match apply_override(&mut table, &name, &value)? {
                Some(key) => {
                    sources.insert(key, Source::Env(name));
                }
                None => unmatched.push(name),
            }
        }
        // Variables that `*_env` keys name hold secrets (`RUBRIC_API_TOKENS`), not configuration.
        let mut secrets = Vec::new();
        for (section, value) in &table {
            secret_variables(section, value, &mut secrets);
        }
        unmatched.retain(|name| {
            !NOT_CONFIGURATION.contains(&name.as_str()) && !secrets.iter().any(|(_, v)| v == name)
        });
        unmatched.sort();
        let variables: Vec<String> = keys(&defaults, &defaults)
            .into_iter()
            .map(|(key, _)| format!("RUBRIC_{}", key.replace('.', "_")).to_ascii_uppercase())
            .collect();
        let known = variables
            .iter()
            .map(String::as_str)
            .chain(NOT_CONFIGURATION.iter().copied());
        unknown.extend(unmatched.into_iter().map(|name| Unknown {
            suggestion: crate::diag::suggest(&name, known.clone()).map(str::to_string),
            source: Source::Env(name.clone()),
            name,
        }));
        let settings = keys(&defaults, &table)
            .into_iter()
            .map(|(key, value)| Setting {
                value: redact_urls(value),
                source: sources.remove(&key).unwrap_or(Source::Default),
                key,
            })
            .collect();
        let config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                ConfigError::Invalid(format!("configuration: {}", e.message()))
            })?;
        Ok(Loaded {
            config,
            settings,
            unknown,
        })
    }
}

/// Every key of `table` with its value, dotted (`server.bind`), in order. A sub-table that the
/// defaults `known` fill is a section of its own (`server.backstage.jwks_url`); one they leave
/// empty is a map of names, one value.
fn keys<'a>(known: &toml::Table, table: &'a toml::Table) -> Vec<(String, &'a toml::Value)> {
    fn walk<'a>(
        known: &toml::Table,
        table: &'a toml::Table,
        prefix: &str,
        out: &mut Vec<(String, &'a toml::Value)>,
    ) {
        for (key, value) in table {
            let name = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            match (known.get(key), value) {
                (Some(toml::Value::Table(k)), toml::Value::Table(t)) if !k.is_empty() => {
                    walk(k, t, &name, out);
                }
                _ => out.push((name, value)),
            }
        }
    }
    let mut out = Vec::new();
    walk(known, table, "", &mut out);
    out
}

/// Removes from `over` every key that `known` lacks, collecting its dotted name and the known
/// key nearest to it. A table the defaults leave empty is a map of names (minimums per
/// repository): any key goes there.
fn drop_unknown(
    known: &toml::Table,
    over: &mut toml::Table,
    prefix: &str,
    dropped: &mut Vec<(String, Option<String>)>,
) {
    let dotted = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    over.retain(|key, value| match (known.get(key), value) {
        (None, _) => {
            let near = crate::diag::suggest(key, known.keys().map(String::as_str));
            dropped.push((dotted(key), near.map(dotted)));
            false
        }
        (Some(toml::Value::Table(k)), toml::Value::Table(o)) if !k.is_empty() => {
            drop_unknown(k, o, &dotted(key), dropped);
            true
        }
        _ => true,
    });
}

/// Collects `(path, variable)` for every non-empty string under a key ending in `_env`.
fn secret_variables(path: &str, value: &toml::Value, found: &mut Vec<(String, String)>) {
    match value {
        toml::Value::String(name) if path.ends_with("_env") && !name.is_empty() => {
            found.push((path.to_string(), name.clone()));
        }
        toml::Value::Table(t) => {
            for (key, value) in t {
                secret_variables(&format!("{path}.{key}"), value, found);
            }
        }
        toml::Value::Array(items) => {
            for (i, value) in items.iter().enumerate() {
                secret_variables(&format!("{path}[{i}]"), value, found);
            }
        }
        _ => {}
    }
}

/// `value` with [`redact_url`] applied to every string in it.
fn redact_urls(value: &toml::Value) -> toml::Value {
    match value {
        toml::Value::String(s) => toml::Value::String(redact_url(s)),
        toml::Value::Array(items) => toml::Value::Array(items.iter().map(redact_urls).collect()),
        toml::Value::Table(t) => {
            toml::Value::Table(t.iter().map(|(k, v)| (k.clone(), redact_urls(v))).collect())
        }
        other => other.clone(),
    }
}

fn parse_table(text: &str, path: &Path) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| {
        let (line, column) = e
            .span()
            .map(|s| {
                let (l, c, _) = crate::diag::locate(text, s.start);
                (l, c)
            })
            .unwrap_or((0, 0));
        ConfigError::Invalid(format!(
            "{}:{line}:{column}: {}",
            path.display(),
            e.message()
        ))
    })
}

/// Deep-merges `over` into `base`: tables merge key by key, anything else replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Applies the variable `RUBRIC_SECTION_KEY=raw` and returns the key it set (`section.key`), or
/// `None` when it names no key. The section is the longest known section name that prefixes
/// the variable (then the longest sub-section, `RUBRIC_SERVER_BACKSTAGE_JWKS_URL`); the value takes the type of the default it replaces, and a list is a TOML
/// array (`["a", "b"]`) or comma-separated (`a,b`).
fn apply_override(
    table: &mut toml::Table,
    name: &str,
    raw: &str,
) -> Result<Option<String>, ConfigError> {
    let lower = name["RUBRIC_".len()..].to_ascii_lowercase();
    let Some(path) = key_path(table, &lower) else {
        return Ok(None);
    };
    let Some((key, sections)) = path.split_last() else {
        return Ok(None);
    };
    let mut sec = &mut *table;
    for section in sections {
        let Some(toml::Value::Table(inner)) = sec.get_mut(section) else {
            return Ok(None);
        };
        sec = inner;
    }
    let key = key.clone();
    let bad = |what: &str| {
        ConfigError::Invalid(format!(
            "environment variable {name}={raw:?}: expected {what}"
        ))
    };
    let value = match sec.get(&key) {
        None => return Ok(None),
        Some(toml::Value::Integer(_)) => {
            toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?)
        }
        Some(toml::Value::Float(_)) => {
            toml::Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?)
        }
        Some(toml::Value::Boolean(_)) => {
            toml::Value::Boolean(raw.trim().parse().map_err(|_| bad("true or false"))?)
        }
        Some(toml::Value::Array(_)) if raw.trim_start().starts_with('[') => format!("list = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("list"))
            .filter(toml::Value::is_array)
            .ok_or_else(|| bad("a TOML array ([\"a\", \"b\"]) or comma-separated values"))?,
        Some(toml::Value::Array(_)) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        Some(_) => toml::Value::String(raw.to_string()),
    };
    sec.insert(key, value);
    Ok(Some(path.join(".")))
}

/// The sections and key that `rest` (`server_backstage_jwks_url`, lower case) names: the
/// longest section name that prefixes it (`server`, then `backstage`) is entered, until the rest
/// is a key that is not a section.
fn key_path(table: &toml::Table, rest: &str) -> Option<Vec<String>> {
    let is_section = |v: &toml::Value| v.as_table().is_some_and(|t| !t.is_empty());
    if table.get(rest).is_some_and(|v| !is_section(v)) {
        return Some(vec![rest.to_string()]);
    }
    let mut sections: Vec<(&String, &toml::Table)> = table
        .iter()
        .filter(|(name, v)| is_section(v) && rest.starts_with(&format!("{name}_")))
        .filter_map(|(name, v)| Some((name, v.as_table()?)))
        .collect();
    sections.sort_by_key(|(name, _)| std::cmp::Reverse(name.len()));
    sections.into_iter().find_map(|(name, inner)| {
        let mut path = key_path(inner, &rest[name.len() + 1..])?;
        path.insert(0, name.clone());
        Some(path)
    })
}

/// `url` with any password replaced by `****`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:****@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:****@h/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load() {
        let c = Config::load_with_env(None, env(&[])).unwrap();
        assert_eq!(c.codecov.url, "https://api.codecov.io");
        assert_eq!(c.codecov.token_env, "CODECOV_TOKEN");
        assert_eq!(c.catalog.path, PathBuf::from("entities"));
        assert!(c.codecov.accounts.is_empty());
    }

    #[test]
    fn accounts_load_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rubric.toml");
        std::fs::write(
            &path,
            "[[codecov.accounts]]\nname = \"oss\"\nurl = \"https://codecov.example.com\"\nowners = [\"acme-oss\"]\n",
        )
        .unwrap();
        let c = Config::load_with_env(Some(&path), env(&[])).unwrap();
        assert_eq!(c.codecov.accounts[0].name, "oss");
        assert_eq!(c.codecov.accounts[0].owners, ["acme-oss"]);
        assert_eq!(c.codecov.accounts[0].token_env, None);
    }

    #[test]
    fn environment_overrides_any_key_with_its_type() {
        let c = Config::load_with_env(
            None,
            env(&[
                ("RUBRIC_CODECOV_URL", "http://127.0.0.1:9000"),
                ("RUBRIC_CODECOV_CACHE_TTL_SECS", "60"),
                ("RUBRIC_LOG", "debug"),
            ]),
        )
        .unwrap();
        assert_eq!(c.codecov.url, "http://127.0.0.1:9000");
        assert_eq!(c.codecov.cache_ttl_secs, 60);
    }

    #[test]
    fn list_variables_take_a_toml_array_or_commas() {
        let filters = |raw: &str| {
            Config::load_with_env(None, env(&[("RUBRIC_CATALOG_BACKSTAGE_FILTER", raw)]))
                .map(|c| c.catalog.backstage_filter)
        };
        assert_eq!(
            filters(r#"["kind=component"]"#).unwrap(),
            ["kind=component"]
        );
        assert_eq!(
            filters(r#" ["kind=component,spec.type=service", 'kind=api'] "#).unwrap(),
            ["kind=component,spec.type=service", "kind=api"]
        );
        assert_eq!(
            filters("kind=component, kind=api").unwrap(),
            ["kind=component", "kind=api"]
        );
        assert!(filters("").unwrap().is_empty());
        let err = filters(r#"["kind=component""#).unwrap_err().to_string();
        assert!(
            err.starts_with("environment variable RUBRIC_CATALOG_BACKSTAGE_FILTER="),
            "{err}"
        );
        assert!(err.contains("expected a TOML array"), "{err}");
    }

    #[test]
    fn unknown_file_keys_are_reported_with_the_key_meant_and_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rubric.toml");
        std::fs::write(
            &path,
            "[server]\nbnd = \"0.0.0.0:9000\"\n[servr]\nbind = \"x\"\n\
             [alerts.min_coverage_by_repository]\n\"acme/api\" = 80.0\n\
             [[codecov.accounts]]\nname = \"oss\"\nowners = [\"acme-oss\"]\n",
        )
        .unwrap();
        let loaded = Config::load_from(Some(&path), env(&[])).unwrap();
        assert_eq!(loaded.config.server.bind, "127.0.0.1:8080");
        assert_eq!(
            loaded.config.alerts.min_coverage_by_repository["acme/api"],
            80.0
        );
        assert_eq!(loaded.config.codecov.accounts[0].name, "oss");
        let file = Source::File(path.clone());
        assert_eq!(
            loaded.unknown,
            [
                Unknown {
                    name: "server.bnd".into(),
                    source: file.clone(),
                    suggestion: Some("server.bind".into()),
                },
                Unknown {
                    name: "servr".into(),
                    source: file,
                    suggestion: Some("server".into()),
                },
            ]
        );
        assert_eq!(
            loaded.unknown[0].to_string(),
            format!(
                "unknown configuration key server.bnd in {} (did you mean server.bind?)",
                path.display()
            )
        );
    }

    #[test]
    fn unknown_variables_are_reported_but_not_secrets_or_the_log_filter() {
        let loaded = Config::load_from(
            None,
            env(&[
                ("RUBRIC_CODECOV_URLL", "http://127.0.0.1:9000"),
                ("RUBRIC_LGO", "debug"),
                ("RUBRIC_NOTHING_LIKE_IT", "1"),
                ("RUBRIC_LOG", "debug"),
                ("RUBRIC_NOW", "2026-11-22T06:00:00Z"),
                ("RUBRIC_API_TOKENS", "portal:read:abc"),
                ("RUBRIC_CODECOV_TOKEN_ENV", "RUBRIC_CODECOV_TOKEN"),
                ("RUBRIC_CODECOV_TOKEN", "secret-token-value"),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.config.codecov.url, "https://api.codecov.io");
        let found: Vec<(&str, Option<&str>)> = loaded
            .unknown
            .iter()
            .map(|u| (u.name.as_str(), u.suggestion.as_deref()))
            .collect();
        assert_eq!(
            found,
            [
                ("RUBRIC_CODECOV_URLL", Some("RUBRIC_CODECOV_URL")),
                ("RUBRIC_LGO", Some("RUBRIC_LOG")),
                ("RUBRIC_NOTHING_LIKE_IT", None),
            ]
        );
        assert_eq!(
            loaded.unknown[0].to_string(),
            "unknown configuration variable RUBRIC_CODECOV_URLL (did you mean RUBRIC_CODECOV_URL?)"
        );
    }

    #[test]
    fn every_value_names_its_source_and_urls_hide_passwords() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rubric.toml");
        std::fs::write(&path, "[server]\nbind = \"0.0.0.0:9000\"\n").unwrap();
        let loaded = Config::load_from(
            Some(&path),
            env(&[("RUBRIC_STORE_URL", "postgres://u:hunter2@h/db")]),
        )
        .unwrap();
        let get = |key: &str| loaded.settings.iter().find(|s| s.key == key).unwrap();
        assert_eq!(get("server.bind").source, Source::File(path.clone()));
        assert_eq!(get("server.max_body_bytes").source, Source::Default);
        assert_eq!(
            get("store.url").source,
            Source::Env("RUBRIC_STORE_URL".into())
        );
        assert_eq!(
            get("store.url").value.as_str(),
            Some("postgres://u:****@h/db")
        );
        assert_eq!(loaded.config.store.url, "postgres://u:hunter2@h/db");
        assert_eq!(loaded.settings[0].key, "plugin.name");
        let defaults = parse_table(DEFAULT_CONFIG, Path::new("plugin.toml")).unwrap();
        assert_eq!(loaded.settings.len(), keys(&defaults, &defaults).len());
        assert!(
            loaded
                .secret_variables()
                .contains(&("codecov.token_env".into(), "CODECOV_TOKEN".into()))
        );
    }

    #[test]
    fn sub_sections_are_set_from_a_file_and_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rubric.toml");
        std::fs::write(
            &path,
            "[server.backstage]\naudience = \"portal\"\njwks_ur = \"x\"\n",
        )
        .unwrap();
        let loaded = Config::load_from(
            Some(&path),
            env(&[
                (
                    "RUBRIC_SERVER_BACKSTAGE_JWKS_URL",
                    "http://127.0.0.1:7007/jwks",
                ),
                ("RUBRIC_SERVER_BACKSTAGE_CACHE_SECS", "60"),
                ("RUBRIC_SERVER_BACKSTAGE_JWKS_URLL", "x"),
            ]),
        )
        .unwrap();
        let b = &loaded.config.server.backstage;
        assert_eq!(b.jwks_url, "http://127.0.0.1:7007/jwks");
        assert_eq!((b.audience.as_str(), b.cache_secs), ("portal", 60));
        assert_eq!(b.issuer, "");
        let get = |key: &str| loaded.settings.iter().find(|s| s.key == key).unwrap();
        assert_eq!(
            get("server.backstage.jwks_url").source,
            Source::Env("RUBRIC_SERVER_BACKSTAGE_JWKS_URL".into())
        );
        assert_eq!(get("server.backstage.audience").source, Source::File(path));
        assert_eq!(get("server.backstage.issuer").source, Source::Default);
        assert!(loaded.settings.iter().all(|s| s.key != "server.backstage"));
        let unknown: Vec<_> = loaded
            .unknown
            .iter()
            .map(|u| (u.name.as_str(), u.suggestion.as_deref()))
            .collect();
        assert_eq!(
            unknown,
            [
                (
                    "server.backstage.jwks_ur",
                    Some("server.backstage.jwks_url")
                ),
                (
                    "RUBRIC_SERVER_BACKSTAGE_JWKS_URLL",
                    Some("RUBRIC_SERVER_BACKSTAGE_JWKS_URL")
                ),
            ]
        );
        let err =
            Config::load_with_env(None, env(&[("RUBRIC_SERVER_BACKSTAGE_CACHE_SECS", "long")]))
                .unwrap_err();
        assert!(
            err.to_string()
                .contains("RUBRIC_SERVER_BACKSTAGE_CACHE_SECS=\"long\": expected an integer"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_override_names_the_variable() {
        let err = Config::load_with_env(None, env(&[("RUBRIC_CODECOV_CONCURRENCY", "many")]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable RUBRIC_CODECOV_CONCURRENCY=\"many\": expected an integer"
        );
    }

    #[test]
    fn a_user_file_merges_over_defaults_and_reports_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rubric.toml");
        std::fs::write(&path, "[codecov]\nconcurrency = 4\n").unwrap();
        let c = Config::load_with_env(Some(&path), env(&[])).unwrap();
        assert_eq!(c.codecov.concurrency, 4);
        assert_eq!(c.codecov.url, "https://api.codecov.io");

        std::fs::write(&path, "[codecov]\nconcurrency = \n").unwrap();
        let err = Config::load_with_env(Some(&path), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rubric.toml:2:"), "{err}");
    }
}
