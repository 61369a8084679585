//! Configuration: `plugin.toml` defaults, an optional user file, then `RUBRIC_<SECTION>_<KEY>`
//! environment overrides.

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
}

impl Config {
    /// Loads the defaults, then `file` (if given) over them, then environment overrides.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// [`Config::load`] with an explicit environment (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table = parse_table(DEFAULT_CONFIG, Path::new("plugin.toml (built in)"))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            merge(&mut table, parse_table(&text, path)?);
        }
        for (name, value) in env {
            if let Some(rest) = name.strip_prefix("RUBRIC_") {
                apply_override(&mut table, rest, &value)?;
            }
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                ConfigError::Invalid(format!("configuration: {}", e.message()))
            })
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

/// Applies `SECTION_KEY=value` (the part after `RUBRIC_`). The section is the longest known
/// section name that prefixes the variable; the value takes the type of the default it replaces.
fn apply_override(table: &mut toml::Table, name: &str, raw: &str) -> Result<(), ConfigError> {
    let lower = name.to_ascii_lowercase();
    let section = table
        .iter()
        .filter(|(s, v)| v.is_table() && lower.starts_with(&format!("{s}_")))
        .map(|(s, _)| s.clone())
        .max_by_key(String::len);
    let Some(section) = section else {
        return Ok(()); // RUBRIC_* variables that are not configuration (e.g. RUBRIC_LOG).
    };
    let key = lower[section.len() + 1..].to_string();
    let Some(toml::Value::Table(sec)) = table.get_mut(&section) else {
        return Ok(());
    };
    let bad = |what: &str| {
        ConfigError::Invalid(format!(
            "environment variable RUBRIC_{name}={raw:?}: expected {what}"
        ))
    };
    let value = match sec.get(&key) {
        Some(toml::Value::Integer(_)) => {
            toml::Value::Integer(raw.trim().parse().map_err(|_| bad("an integer"))?)
        }
        Some(toml::Value::Float(_)) => {
            toml::Value::Float(raw.trim().parse().map_err(|_| bad("a number"))?)
        }
        Some(toml::Value::Boolean(_)) => {
            toml::Value::Boolean(raw.trim().parse().map_err(|_| bad("true or false"))?)
        }
        Some(toml::Value::Array(_)) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    };
    sec.insert(key, value);
    Ok(())
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
