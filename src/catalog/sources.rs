//! Where a catalog comes from: a folder of descriptor files, a Backstage catalog over HTTP, or
//! both; and the configured Codecov accounts the mapping records.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::load::{self, FileResult};
use super::{Catalog, MapEntity};
use crate::config::{CodecovAccount, Config};
use crate::diag::Diagnostic;
use crate::yaml::Node;

/// Most pages read from one Backstage catalog (a guard against a server that never stops).
const MAX_PAGES: usize = 10_000;

/// Largest answer read for one page (500 entities are a few MiB); the rest is not read.
const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

/// A Backstage catalog read over HTTP (`GET {url}/api/catalog/entities/by-query`, cursor paging).
#[derive(Clone)]
pub struct BackstageSource {
    /// Host root, e.g. `https://backstage.example.com` (no `/api/catalog`).
    pub url: String,
    /// Bearer token, when one is configured.
    pub token: Option<SecretString>,
    /// Filters, each sent as a `filter` query parameter (`kind=component`).
    pub filters: Vec<String>,
    /// Entities per page.
    pub page_size: usize,
    /// Timeout of each request.
    pub timeout: Duration,
}

impl fmt::Debug for BackstageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackstageSource")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("filters", &self.filters)
            .field("page_size", &self.page_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl BackstageSource {
    /// A source for this host with no token, no filters, 500 entities a page and a 30 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        BackstageSource {
            url: url.into(),
            token: None,
            filters: Vec::new(),
            page_size: 500,
            timeout: Duration::from_secs(30),
        }
    }

    /// `{url}/api/catalog/entities/by-query`.
    fn endpoint(&self) -> String {
        format!(
            "{}/api/catalog/entities/by-query",
            self.url.trim_end_matches('/')
        )
    }
}

/// Everything a catalog is loaded from.
#[derive(Clone, Debug, Default)]
pub struct CatalogSources {
    /// Folder (or single file) of descriptors, when files are read.
    pub dir: Option<PathBuf>,
    /// Further folders whose files Location targets and symlinks may lead to
    /// (`[catalog] allowed_roots`); nothing else outside `dir` is read.
    pub allowed_roots: Vec<PathBuf>,
    /// The Backstage catalog over HTTP, when configured.
    pub backstage: Option<BackstageSource>,
    /// `[[codecov.accounts]]`: the mapping records which one serves each entity.
    pub accounts: Vec<CodecovAccount>,
}

impl CatalogSources {
    /// The sources `plugin.toml` names: `[catalog] path` and `allowed_roots`,
    /// `[catalog] backstage_url` (token from the variable `backstage_token_env`, when set) and
    /// `[[codecov.accounts]]`.
    pub fn from_config(cfg: &Config) -> Self {
        Self::from_config_with_env(cfg, |name| std::env::var(name).ok())
    }

    /// [`CatalogSources::from_config`] with an explicit environment (for tests).
    pub fn from_config_with_env(cfg: &Config, env: impl Fn(&str) -> Option<String>) -> Self {
        let c = &cfg.catalog;
        let backstage = (!c.backstage_url.trim().is_empty()).then(|| BackstageSource {
            url: c.backstage_url.trim().to_string(),
            token: env(&c.backstage_token_env)
                .filter(|t| !t.trim().is_empty())
                .map(|t| SecretString::from(t.trim().to_string())),
            filters: c.backstage_filter.clone(),
            page_size: c.backstage_page_size.clamp(1, 10_000),
            timeout: Duration::from_secs(c.backstage_timeout_secs.max(1)),
        });
        CatalogSources {
            dir: Some(c.path.clone()),
            allowed_roots: c.allowed_roots.clone(),
            backstage,
            accounts: cfg.codecov.accounts.clone(),
        }
    }

    /// The same sources with another folder (`--catalog DIR`).
    pub fn with_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }
}

impl Catalog {
    /// Reads every configured source: files (as [`Catalog::read_dir`]) and the Backstage catalog
    /// over HTTP, concurrently; the entities are not mapped yet ([`Catalog::load_sources`] maps
    /// them). A tag defined twice (in files, or once in files and once in
    /// Backstage) is an error naming both sources; the file entity wins. An unreachable
    /// Backstage is one error; the files still load.
    pub async fn read_sources(sources: &CatalogSources) -> Catalog {
        let files = |dir: &Path, allowed: &[PathBuf]| {
            let (results, diagnostics) = load::load_files(dir, allowed, None);
            (results, diagnostics, ())
        };
        gather(sources, None, files).await.0
    }

    /// [`Catalog::read_sources`], mapping each entity with `map` as it is read.
    pub async fn read_sources_mapped(
        sources: &CatalogSources,
        map: Arc<MapEntity<'static>>,
    ) -> Catalog {
        let for_files = Arc::clone(&map);
        let files = move |dir: &Path, allowed: &[PathBuf]| {
            let (results, diagnostics) = load::load_files(dir, allowed, Some(&*for_files));
            (results, diagnostics, ())
        };
        gather(sources, Some(&*map), files).await.0
    }
}

/// What reading the files of a catalog gave: each file's result, the diagnostics of the walk,
/// and what the reader keeps (a cache's new state).
pub(crate) type FilesRead<T> = (Vec<Arc<FileResult>>, Vec<Diagnostic>, T);

/// Reads every configured source concurrently: the folder with `files` (on a blocking thread;
/// `T::default()` when there is no folder or the thread failed) and the Backstage catalog over
/// HTTP, whose entities are mapped with `map` when given; then assembles the catalog.
pub(crate) async fn gather<T: Default + Send + 'static>(
    sources: &CatalogSources,
    map: Option<&MapEntity<'_>>,
    files: impl FnOnce(&Path, &[PathBuf]) -> FilesRead<T> + Send + 'static,
) -> (Catalog, T) {
    let dir = sources.dir.clone();
    let allowed = sources.allowed_roots.clone();
    let task = tokio::task::spawn_blocking(move || match dir {
        Some(dir) => files(&dir, &allowed),
        None => (Vec::new(), Vec::new(), T::default()),
    });
    let http = async {
        match &sources.backstage {
            Some(b) => fetch_backstage(b).await,
            None => Vec::new(),
        }
    };
    let (task, http) = tokio::join!(task, http);
    let (mut results, diagnostics, kept) = task.unwrap_or_else(|e| {
        let d = Diagnostic::error(format!("loading the catalog files failed: {e}"));
        (Vec::new(), vec![d], T::default())
    });
    results.extend(http.into_iter().map(|mut r| {
        if let Some(map) = map {
            load::map_result(&mut r, map, None);
        }
        Arc::new(r)
    }));
    (load::assemble(results, diagnostics), kept)
}

/// One page of `GET /api/catalog/entities/by-query` (`QueryEntitiesResponse`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<serde_json::Value>,
    #[serde(default)]
    page_info: PageInfo,
}

#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    next_cursor: Option<String>,
}

/// Reads every page of the Backstage catalog; failures are error diagnostics (the entities of
/// the pages read before a failure are kept).
pub(crate) async fn fetch_backstage(src: &BackstageSource) -> Vec<FileResult> {
    let endpoint = src.endpoint();
    let mut out = Vec::new();
    let fail = |message: String, hint: Option<&str>| {
        let mut d = Diagnostic::error(message).in_file(&endpoint);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        FileResult {
            diagnostics: vec![d],
            ..FileResult::default()
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(src.timeout)
        .connect_timeout(src.timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("rubric/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            return vec![fail(
                format!("cannot build the HTTP client for Backstage: {e}"),
                None,
            )];
        }
    };
    let mut cursor: Option<String> = None;
    let mut seen = HashSet::new();
    for page_no in 1..=MAX_PAGES {
        let mut query: Vec<(&str, String)> = vec![("limit", src.page_size.to_string())];
        match &cursor {
            // The cursor carries the filters of the first request.
            Some(c) => query.push(("cursor", c.clone())),
            None => query.extend(src.filters.iter().map(|f| ("filter", f.clone()))),
        }
        let mut req = client
            .get(&endpoint)
            .query(&query)
            .header("accept", "application/json");
        if let Some(t) = &src.token {
            req = req.bearer_auth(t.expose_secret());
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let what = if e.is_timeout() {
                    "timed out"
                } else {
                    "failed"
                };
                out.push(fail(
                    format!(
                        "Backstage request {what} (page {page_no}): {}",
                        error_chain(&e)
                    ),
                    Some("check [catalog] backstage_url and that Backstage is reachable"),
                ));
                return out;
            }
        };
        let status = resp.status();
        let body = match read_capped(resp, MAX_PAGE_BYTES).await {
            Ok(b) => b,
            Err(Some(e)) => {
                out.push(fail(
                    format!(
                        "reading Backstage's answer failed (page {page_no}): {}",
                        error_chain(&e)
                    ),
                    None,
                ));
                return out;
            }
            Err(None) => {
                out.push(fail(
                    format!(
                        "Backstage's answer is larger than {} MiB (page {page_no}); stopped reading it",
                        MAX_PAGE_BYTES / (1024 * 1024)
                    ),
                    Some("lower [catalog] backstage_page_size"),
                ));
                return out;
            }
        };
        if !status.is_success() {
            let hint = match status.as_u16() {
                401 | 403 => {
                    Some("check the token in the variable named by [catalog] backstage_token_env")
                }
                404 => Some("backstage_url is the host root, without /api/catalog"),
                _ => None,
            };
            out.push(fail(
                format!(
                    "Backstage answered {status} (page {page_no}): {}",
                    snippet(&body)
                ),
                hint,
            ));
            return out;
        }
        let page: Page = match serde_json::from_str(&body) {
            Ok(p) => p,
            Err(e) => {
                out.push(fail(
                    format!("Backstage answered something that is not an entities page (page {page_no}): {e}: {}", snippet(&body)),
                    Some("expected {\"items\": [...], \"pageInfo\": {\"nextCursor\": ...}}"),
                ));
                return out;
            }
        };
        for item in &page.items {
            let display = entity_url(&src.url, item);
            let node = Node::from_json(item);
            let path = Path::new(&display);
            out.push(load::read_nodes(
                std::slice::from_ref(&node),
                path,
                path,
                None,
            ));
        }
        match page.page_info.next_cursor.filter(|c| !c.is_empty()) {
            Some(next) => {
                if !seen.insert(next.clone()) {
                    out.push(fail(
                        format!(
                            "Backstage returned cursor `{}` twice; stopped paging",
                            snippet(&next)
                        ),
                        None,
                    ));
                    return out;
                }
                cursor = Some(next);
            }
            None => return out,
        }
    }
    out.push(fail(
        format!("Backstage catalog has more than {MAX_PAGES} pages; stopped paging"),
        Some("raise [catalog] backstage_page_size or add backstage_filter"),
    ));
    out
}

/// The body as text, read chunk by chunk up to `max` bytes: `Err(None)` past that (also used
/// for the server's Backstage JWKS).
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    max: usize,
) -> Result<String, Option<reqwest::Error>> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Some)? {
        if body.len() + chunk.len() > max {
            return Err(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The URL naming one Backstage entity (`{url}/api/catalog/entities/by-name/kind/ns/name`).
fn entity_url(base: &str, item: &serde_json::Value) -> String {
    let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let kind = s(&item["kind"])
        .unwrap_or_else(|| "unknown".into())
        .to_ascii_lowercase();
    let ns = s(&item["metadata"]["namespace"]).unwrap_or_else(|| "default".into());
    let name = s(&item["metadata"]["name"]).unwrap_or_else(|| "unnamed".into());
    format!(
        "{}/api/catalog/entities/by-name/{kind}/{ns}/{name}",
        base.trim_end_matches('/')
    )
}

fn snippet(body: &str) -> String {
    let t: String = body.trim().chars().take(200).collect();
    if t.is_empty() {
        "(empty body)".into()
    } else {
        t
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
