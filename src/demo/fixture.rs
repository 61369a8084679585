//! The offline Codecov-compatible server behind `rubric demo` (and the benchmark): axum on
//! 127.0.0.1, an ephemeral port, inside the process, answering Codecov v2 routes with the real
//! response shapes for the sample catalog in `entities/`.
//!
//! | repository | what it shows |
//! |---|---|
//! | `github/acme/payments-api` | 97.42 %, a 120-day trend, pull requests 412, 415, 418 (no comparison yet) |
//! | `github/acme/checkout-web` | 82.5 %, flags `unit` and `e2e`, pull request 77 |
//! | `github/acme/platform` | monorepo; flag `billing` 88.13 %; flag `identity` never uploaded (`sessions: 0`) |
//! | `github/acme/ledger` | 64.2 %, last complete upload 400 hours ago, branch `master` |
//! | `github/acme/notifications` | `totals: null`: no uploads |
//! | `gitlab/acme/search-indexer` | 45.0 % |
//!
//! Each owner's repository list (`GET {service}/{owner}/repos/`, paginated, `page_size`
//! uncapped, filters `active`, `search`, `names`) gives every repository as its detail does.
//!
//! It also answers Datadog Code Coverage's summaries (`POST /api/v2/code-coverage/*/summary`,
//! `GET /api/v1/validate`) for the same repositories, as `github.com/acme/payments-api`, so
//! `[datadog] url` can point at it too.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Value as Json, json};

const REPOS: &str = include_str!("fixture/repos.json");

/// How the fixture server behaves beyond the sample data (the benchmark and fault tests).
#[derive(Clone, Debug, Default)]
pub struct FixtureOptions {
    /// Added to every answer.
    pub latency: Duration,
    /// Answers 429 (with `Retry-After: 1`) above this many requests per second; 0: no limit.
    pub rate_limit_per_sec: u32,
    /// Also serve `github/bench/repo-0` ... `repo-{n-1}` with generated totals.
    pub synthetic_repos: usize,
    /// Also serve these repositories (`service/owner/repo`), each with the flags listed, with
    /// generated totals, trend and commit: the repositories of a generated catalog.
    pub named_repos: Vec<(String, Vec<String>)>,
}

/// The Codecov repositories (`service/owner/repo`) `catalog` maps to, each with the flags its
/// entities name: [`FixtureOptions::named_repos`] for serving a generated catalog, as a Codecov
/// account serves an organisation's repositories.
pub fn repositories_of(catalog: &crate::catalog::Catalog) -> Vec<(String, Vec<String>)> {
    let mut repos: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for project in catalog.entities.iter().filter_map(|e| e.codecov.as_ref()) {
        let key = format!("{}/{}/{}", project.service, project.owner, project.repo);
        let flags = repos.entry(key).or_default();
        if let Some(flag) = &project.flag
            && !flags.contains(flag)
        {
            flags.push(flag.clone());
        }
    }
    repos.into_iter().collect()
}

/// A running fixture server; it stops when dropped.
#[derive(Debug)]
pub struct FixtureServer {
    addr: SocketAddr,
    state: Arc<Fixture>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FixtureServer {
    /// `http://127.0.0.1:PORT`: the value for `[codecov] url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far (including 429s).
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Relaxed)
    }

    /// Requests answered 429 because of the configured rate limit.
    pub fn throttled(&self) -> u64 {
        self.state.throttled.load(Ordering::Relaxed)
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the sample-catalog fixture on 127.0.0.1 (ephemeral port).
pub async fn start() -> std::io::Result<FixtureServer> {
    start_with(FixtureOptions::default()).await
}

/// Starts a fixture server with these options.
pub async fn start_with(options: FixtureOptions) -> std::io::Result<FixtureServer> {
    let mut repos: HashMap<String, RepoData> = serde_json::from_str(REPOS).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("fixture data: {e}"),
        )
    })?;
    repos = repos
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    for i in 0..options.synthetic_repos {
        repos.insert(format!("github/bench/repo-{i}"), RepoData::synthetic(i));
    }
    for (i, (name, flags)) in options.named_repos.iter().enumerate() {
        let mut repo = RepoData::synthetic(i);
        repo.flags = flags
            .iter()
            .enumerate()
            .filter_map(|(j, flag)| Some((flag.clone(), RepoData::synthetic(i + j + 1).totals?)))
            .collect();
        repos.insert(name.to_ascii_lowercase(), repo);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(Fixture {
        repos,
        base: format!("http://{addr}"),
        now: crate::clock::now(),
        latency: options.latency,
        limit: (options.rate_limit_per_sec > 0)
            .then(|| Mutex::new((f64::from(options.rate_limit_per_sec), Instant::now()))),
        rate: f64::from(options.rate_limit_per_sec),
        requests: AtomicU64::new(0),
        throttled: AtomicU64::new(0),
    });
    let app = router(state.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(FixtureServer {
        addr,
        state,
        shutdown: Some(tx),
    })
}

struct Fixture {
    repos: HashMap<String, RepoData>,
    base: String,
    now: DateTime<Utc>,
    latency: Duration,
    /// Server-side token bucket: (tokens, last refill).
    limit: Option<Mutex<(f64, Instant)>>,
    rate: f64,
    requests: AtomicU64,
    throttled: AtomicU64,
}

impl std::fmt::Debug for Fixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixture")
            .field("repos", &self.repos.len())
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize)]
struct RepoData {
    private: bool,
    language: String,
    branch: String,
    updated_hours_ago: i64,
    totals: Option<Counts>,
    paths: Vec<String>,
    flags: BTreeMap<String, Counts>,
    trend: Option<Trend>,
    commits: Vec<CommitData>,
    pulls: Vec<PullData>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
struct Counts {
    files: u64,
    lines: u64,
    hits: u64,
    misses: u64,
    partials: u64,
    #[serde(default)]
    branches: u64,
    #[serde(default)]
    methods: u64,
    sessions: u64,
}

#[derive(Clone, Copy, Debug, Deserialize)]
struct Trend {
    days: i64,
    from: f64,
}

#[derive(Clone, Debug, Deserialize)]
struct CommitData {
    commitid: String,
    message: String,
    hours_ago: i64,
    author: String,
    state: String,
}

#[derive(Clone, Debug, Deserialize)]
struct PullData {
    pullid: u64,
    title: String,
    state: String,
    author: String,
    base: Option<f64>,
    head: Option<f64>,
    patch: Option<Patch>,
    files: Vec<PullFile>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
struct Patch {
    hits: u64,
    misses: u64,
    partials: u64,
}

#[derive(Clone, Debug, Deserialize)]
struct PullFile {
    name: String,
    base: Option<f64>,
    head: Option<f64>,
}

impl RepoData {
    fn synthetic(i: usize) -> RepoData {
        let lines = 1000 + (i as u64 * 37) % 9000;
        let hits = lines * (40 + (i as u64 * 7) % 60) / 100;
        let partials = lines / 50;
        RepoData {
            private: true,
            language: "rust".into(),
            branch: "main".into(),
            updated_hours_ago: 1 + (i as i64 % 48),
            totals: Some(Counts {
                files: 10 + (i as u64 % 90),
                lines,
                hits,
                misses: lines - hits - partials.min(lines - hits),
                partials: partials.min(lines - hits),
                branches: lines / 8,
                methods: lines / 12,
                sessions: 1,
            }),
            paths: vec!["src/lib.rs".into(), "src/main.rs".into()],
            flags: BTreeMap::new(),
            trend: Some(Trend {
                days: 60,
                from: 50.0,
            }),
            commits: vec![CommitData {
                commitid: format!("{:040x}", i as u128 * 0x9e37_79b9_7f4a_7c15),
                message: "Synthetic commit".into(),
                hours_ago: 1 + (i as i64 % 48),
                author: "bench".into(),
                state: "complete".into(),
            }],
            pulls: Vec::new(),
        }
    }
}

/// `floor(100 * hits / lines, 2)`, as Codecov computes stored coverage; `None` without lines.
fn coverage(c: &Counts) -> Option<f64> {
    (c.lines > 0).then(|| (c.hits * 10_000 / c.lines) as f64 / 100.0)
}

/// CommitTotals (repository detail, commits, pulls).
fn commit_totals(c: &Counts) -> Json {
    json!({
        "files": c.files, "lines": c.lines, "hits": c.hits, "misses": c.misses,
        "partials": c.partials, "coverage": coverage(c), "branches": c.branches,
        "methods": c.methods, "sessions": c.sessions, "complexity": 0.0,
        "complexity_total": 0.0, "complexity_ratio": 0, "diff": 0
    })
}

/// ReportTotals (`/totals/`, compare): coverage is never null there, 0 instead.
fn report_totals(c: &Counts) -> Json {
    json!({
        "files": c.files, "lines": c.lines, "hits": c.hits, "misses": c.misses,
        "partials": c.partials, "coverage": coverage(c).unwrap_or(0.0), "branches": c.branches,
        "methods": c.methods, "messages": 0, "sessions": c.sessions, "complexity": 0.0,
        "complexity_total": 0.0, "complexity_ratio": 0, "diff": 0
    })
}

/// Counts with `lines` lines at `cov` percent.
fn counts_at(lines: u64, cov: f64) -> Counts {
    let hits = ((lines as f64) * cov / 100.0).round() as u64;
    Counts {
        files: 1,
        lines,
        hits,
        misses: lines - hits.min(lines),
        partials: 0,
        sessions: 1,
        ..Counts::default()
    }
}

fn detail(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({"detail": text}))).into_response()
}

fn ok(body: Json) -> Response {
    axum::Json(body).into_response()
}

#[derive(Debug, Deserialize)]
struct RepoPath {
    service: String,
    owner: String,
    repo: String,
}

type Params = Query<HashMap<String, String>>;

impl Fixture {
    fn repo(&self, p: &RepoPath) -> Result<&RepoData, Box<Response>> {
        let key =
            format!("{}/{}/{}", service_name(&p.service), p.owner, p.repo).to_ascii_lowercase();
        self.repos.get(&key).ok_or_else(|| {
            Box::new(detail(
                StatusCode::NOT_FOUND,
                "No Repository matches the given query.",
            ))
        })
    }

    fn ago(&self, hours: i64) -> String {
        (self.now - TimeDelta::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    }

    /// The branch a request names, or a 404 like Codecov's for an unknown one.
    fn branch<'a>(
        &self,
        repo: &'a RepoData,
        q: &'a HashMap<String, String>,
    ) -> Result<&'a str, Box<Response>> {
        match q.get("branch") {
            Some(b) if *b != repo.branch => Err(Box::new(detail(
                StatusCode::NOT_FOUND,
                &format!(
                    "The branch '{b}' in not in our records. Please provide a valid branch name."
                ),
            ))),
            _ => Ok(&repo.branch),
        }
    }

    /// `{count, next, previous, results, total_pages}` for page `page` of `items`.
    fn page(&self, uri: &str, q: &HashMap<String, String>, items: Vec<Json>) -> Response {
        self.page_of(uri, q, items, |item| item)
    }

    /// [`Fixture::page`] of items rendered by `render`, only those of the page (a list of
    /// thousands of repositories is read page by page: rendering all of them for each page
    /// would make the fake, not the client, the cost of a large catalog).
    fn page_of<T>(
        &self,
        uri: &str,
        q: &HashMap<String, String>,
        items: Vec<T>,
        render: impl FnMut(T) -> Json,
    ) -> Response {
        let size = q
            .get("page_size")
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&s| s > 0)
            .unwrap_or(20);
        let page = q
            .get("page")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(1);
        let total_pages = items.len().div_ceil(size).max(1);
        if page == 0 || page > total_pages {
            return detail(StatusCode::NOT_FOUND, "Invalid page.");
        }
        let link = |n: usize| {
            let mut pairs: Vec<(String, String)> = q
                .iter()
                .filter(|(k, _)| *k != "page")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            pairs.sort();
            pairs.push(("page".into(), n.to_string()));
            let query: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
            json!(format!("{}{uri}?{}", self.base, query.join("&")))
        };
        let count = items.len();
        let results: Vec<Json> = items
            .into_iter()
            .skip((page - 1) * size)
            .take(size)
            .map(render)
            .collect();
        ok(json!({
            "count": count,
            "next": if page < total_pages { link(page + 1) } else { Json::Null },
            "previous": if page > 1 { link(page - 1) } else { Json::Null },
            "results": results,
            "total_pages": total_pages,
        }))
    }

    /// Daily points from `trend.days` ago to today, ending at `end` percent.
    fn series(&self, trend: Trend, end: f64, q: &HashMap<String, String>) -> Vec<Json> {
        let today = self.now.date_naive();
        let start = q
            .get("start_date")
            .and_then(|s| NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok());
        let days = trend.days.max(1);
        let mut points: Vec<(NaiveDate, f64)> = (0..=days)
            .map(|i| {
                let day = today - TimeDelta::days(days - i);
                let t = i as f64 / days as f64;
                let wiggle = if i == days {
                    0.0
                } else {
                    (i as f64 * 1.7).sin() * 0.4
                };
                let avg = ((trend.from + (end - trend.from) * t + wiggle) * 100.0).round() / 100.0;
                (day, avg.clamp(0.0, 100.0))
            })
            .collect();
        if let Some(start) = start {
            // One older bucket is kept so the value can be carried forward, as Codecov does.
            let first_in = points
                .iter()
                .position(|(d, _)| *d >= start)
                .unwrap_or(points.len());
            points.drain(..first_in.saturating_sub(1));
        }
        points
            .into_iter()
            .map(|(d, avg)| {
                json!({
                    "timestamp": format!("{d}T00:00:00Z"),
                    "min": ((avg - 0.35) * 100.0).round() / 100.0,
                    "max": ((avg + 0.2) * 100.0).round() / 100.0,
                    "avg": avg,
                })
            })
            .collect()
    }
}

/// The service a path names, its short aliases resolved as Codecov resolves them.
fn service_name(service: &str) -> String {
    match service.to_ascii_lowercase().as_str() {
        "gh" => "github".to_string(),
        "gl" => "gitlab".to_string(),
        "bb" => "bitbucket".to_string(),
        "ghe" => "github_enterprise".to_string(),
        "gle" => "gitlab_enterprise".to_string(),
        "bbs" => "bitbucket_server".to_string(),
        s => s.to_string(),
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A repository as Codecov's `RepoSerializer` gives it, in its detail and in its owner's list.
fn repo_json(s: &Fixture, service: &str, owner: &str, name: &str, repo: &RepoData) -> Json {
    json!({
        "name": name,
        "private": repo.private,
        "updatestamp": s.ago(repo.updated_hours_ago),
        "author": {"service": service, "username": owner, "name": owner},
        "language": repo.language,
        "branch": repo.branch,
        "active": repo.totals.is_some(),
        "activated": true,
        "totals": repo.totals.as_ref().map(commit_totals),
    })
}

async fn repo_detail(State(s): State<Arc<Fixture>>, Path(p): Path<RepoPath>) -> Response {
    let repo = match s.repo(&p) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    ok(repo_json(&s, &p.service, &p.owner, &p.repo, repo))
}

#[derive(Debug, Deserialize)]
struct OwnerPath {
    service: String,
    owner: String,
}

/// `GET {service}/{owner}/repos/`: the owner's repositories by name, paginated (`page_size`
/// uncapped, as Codecov sets no maximum), filtered by `active`, `search` (in the name) and
/// repeated `names`, as Codecov's `RepositoryFilters` do.
async fn repo_list(
    State(s): State<Arc<Fixture>>,
    Path(p): Path<OwnerPath>,
    Query(pairs): Query<Vec<(String, String)>>,
    req: Request,
) -> Response {
    let prefix = format!("{}/{}/", service_name(&p.service), p.owner).to_ascii_lowercase();
    let mut mine: Vec<(&str, &RepoData)> = s
        .repos
        .iter()
        .filter_map(|(k, r)| Some((k.strip_prefix(&prefix)?, r)))
        .collect();
    if mine.is_empty() {
        return detail(StatusCode::NOT_FOUND, "No Owner matches the given query.");
    }
    mine.sort_unstable_by_key(|(name, _)| *name);
    let names: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "names")
        .map(|(_, v)| v.to_ascii_lowercase())
        .collect();
    let q: HashMap<String, String> = pairs.into_iter().filter(|(k, _)| k != "names").collect();
    let active = q
        .get("active")
        .map(|a| matches!(a.as_str(), "true" | "True" | "1"));
    let search = q.get("search").map(|t| t.to_ascii_lowercase());
    let items = mine
        .into_iter()
        .filter(|(name, r)| {
            active.is_none_or(|a| a == r.totals.is_some())
                && search.as_ref().is_none_or(|t| name.contains(t.as_str()))
                && (names.is_empty() || names.iter().any(|n| n == name))
        })
        .collect();
    s.page_of(req.uri().path(), &q, items, |(name, r)| {
        repo_json(&s, &p.service, &p.owner, name, r)
    })
}

async fn totals(
    State(s): State<Arc<Fixture>>,
    Path(p): Path<RepoPath>,
    Query(q): Params,
) -> Response {
    let repo = match s.repo(&p) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let branch = match s.branch(repo, &q) {
        Ok(b) => b,
        Err(e) => return *e,
    };
    let Some(all) = repo.totals else {
        return detail(
            StatusCode::NOT_FOUND,
            &format!(
                "The branch '{branch}' in not in our records. Please provide a valid branch name."
            ),
        );
    };
    let counts = match q.get("flag") {
        // An unknown flag is not an error: zero totals, zero sessions.
        Some(f) => repo.flags.get(f).copied().unwrap_or_default(),
        None => all,
    };
    let n = repo.paths.len().max(1) as u64;
    let files: Vec<Json> = repo
        .paths
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let share = |x: u64| {
                if i as u64 == n - 1 {
                    x - x / n * (n - 1)
                } else {
                    x / n
                }
            };
            let c = Counts {
                files: 0,
                lines: share(counts.lines),
                hits: share(counts.hits),
                misses: share(counts.misses),
                partials: share(counts.partials),
                branches: share(counts.branches),
                methods: 0,
                sessions: 0,
            };
            json!({"name": name, "totals": report_totals(&c)})
        })
        .collect();
    let sha = repo.commits.first().map_or("", |c| c.commitid.as_str());
    ok(json!({
        "totals": report_totals(&counts),
        "files": files,
        "commit_file_url": format!("{}/{}/{}/{}/commit/{sha}/tree/", s.base, p.service, p.owner, p.repo),
    }))
}

async fn trend(
    State(s): State<Arc<Fixture>>,
    Path(p): Path<RepoPath>,
    Query(q): Params,
    req: Request,
) -> Response {
    let repo = match s.repo(&p) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    match q.get("interval").map(String::as_str) {
        Some("1d" | "7d" | "30d") => {}
        _ => {
            return detail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "You must specify an interval (1d/7d/30d)",
            );
        }
    }
    if let Err(e) = s.branch(repo, &q) {
        return *e;
    }
    let items = match (repo.trend, repo.totals.as_ref().and_then(coverage)) {
        (Some(t), Some(end)) => s.series(t, end, &q),
        _ => Vec::new(),
    };
    s.page(req.uri().path(), &q, items)
}

#[derive(Debug, Deserialize)]
struct FlagPath {
    service: String,
    owner: String,
    repo: String,
    flag: String,
}

async fn flag_trend(
    State(s): State<Arc<Fixture>>,
    Path(p): Path<FlagPath>,
    Query(q): Params,
    req: Request,
) -> Response {
    let rp = RepoPath {
        service: p.service,
        owner: p.owner,
        repo: p.repo,
    };
    let repo = match s.repo(&rp) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let items = match (
        repo.trend,
        repo.flags.get(&p.flag).and_then(coverage),
        repo.totals.as_ref().and_then(coverage),
    ) {
        (Some(t), Some(end), Some(all)) => s.series(
            Trend {
                days: t.days,
                from: t.from + end - all,
            },
            end,
            &q,
        ),
        _ => Vec::new(), // An unknown flag: 200 with no results.
    };
    s.page(req.uri().path(), &q, items)
}

async fn commits(
    State(s): State<Arc<Fixture>>,
    Path(p): Path<RepoPath>,
    Query(q): Params,
    req: Request,
) -> Response {
    let repo = match s.repo(&p) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let on_branch = q.get("branch").is_none_or(|b| *b == repo.branch);
    let mut list = repo.commits.clone();
    list.sort_by_key(|c| c.hours_ago);
    let items: Vec<Json> = list
        .iter()
        .enumerate()
        .filter(|_| on_branch)
        .map(|(i, c)| {
            let totals = match (c.state.as_str(), repo.totals) {
                ("complete", Some(t)) => commit_totals(&t),
                _ => {
                    let mut t = commit_totals(&Counts::default());
                    t["coverage"] = Json::Null;
                    t
                }
            };
            json!({
                "commitid": c.commitid,
                "message": c.message,
                "timestamp": s.ago(c.hours_ago),
                "ci_passed": c.state == "complete",
                "author": {"service": p.service, "username": c.author, "name": c.author},
                "branch": repo.branch,
                "totals": totals,
                "state": c.state,
                "parent": list.get(i + 1).map(|n| n.commitid.clone()),
            })
        })
        .collect();
    s.page(req.uri().path(), &q, items)
}

#[derive(Debug, Deserialize)]
struct PullPath {
    service: String,
    owner: String,
    repo: String,
    pullid: String,
}

fn find_pull<'a>(repo: &'a RepoData, id: &str) -> Result<&'a PullData, Box<Response>> {
    repo.pulls
        .iter()
        .find(|pr| pr.pullid.to_string() == id)
        .ok_or_else(|| {
            Box::new(detail(
                StatusCode::NOT_FOUND,
                "No Pull matches the given query.",
            ))
        })
}

fn patch_json(patch: &Patch) -> Json {
    let lines = patch.hits + patch.misses + patch.partials;
    let cov = if lines == 0 {
        0.0
    } else {
        (patch.hits as f64 * 10_000.0 / lines as f64).round() / 100.0
    };
    json!({"hits": patch.hits, "misses": patch.misses, "partials": patch.partials, "coverage": cov})
}

async fn pull(State(s): State<Arc<Fixture>>, Path(p): Path<PullPath>) -> Response {
    let rp = RepoPath {
        service: p.service.clone(),
        owner: p.owner.clone(),
        repo: p.repo,
    };
    let repo = match s.repo(&rp) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let pr = match find_pull(repo, &p.pullid) {
        Ok(pr) => pr,
        Err(e) => return *e,
    };
    let lines = repo.totals.map_or(1000, |t| t.lines);
    ok(json!({
        "pullid": pr.pullid,
        "title": pr.title,
        "base_totals": pr.base.map(|c| exact_totals(lines, c)),
        "head_totals": pr.head.map(|c| exact_totals(lines, c)),
        "updatestamp": s.ago(4),
        "state": pr.state,
        "ci_passed": pr.patch.is_some(),
        "author": {"service": p.service, "username": pr.author, "name": pr.author},
        "patch": pr.patch.as_ref().map(patch_json),
    }))
}

/// CommitTotals for `lines` lines whose coverage reads exactly `cov`.
fn exact_totals(lines: u64, cov: f64) -> Json {
    let mut t = commit_totals(&counts_at(lines, cov));
    t["coverage"] = json!(cov);
    t
}

async fn compare(
    State(s): State<Arc<Fixture>>,
    Path(p): Path<RepoPath>,
    Query(q): Params,
) -> Response {
    let repo = match s.repo(&p) {
        Ok(r) => r,
        Err(e) => return *e,
    };
    let Some(id) = q.get("pullid") else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"base": ["This field is required."]})),
        )
            .into_response();
    };
    let pr = match find_pull(repo, id) {
        Ok(pr) => pr,
        Err(e) => return *e,
    };
    if pr.patch.is_none() {
        return detail(
            StatusCode::NOT_FOUND,
            "Sorry, we are missing a commit for that pull request.",
        );
    }
    let lines = repo.totals.map_or(1000, |t| t.lines);
    let totals = |c: Option<f64>| c.map(|c| report_totals(&counts_at(lines, c)));
    let files: Vec<Json> = pr
        .files
        .iter()
        .map(|f| {
            json!({
                "name": {"base": f.base.map(|_| f.name.clone()), "head": f.name},
                "totals": {"base": totals(f.base), "head": totals(f.head), "patch": Json::Null},
                "has_diff": true,
                "stats": {"added": 12, "removed": 3},
                "change_summary": {},
                "lines": [],
            })
        })
        .collect();
    ok(json!({
        "base_commit": format!("{:040x}", pr.pullid * 7919),
        "head_commit": format!("{:040x}", pr.pullid * 104_729),
        "totals": {"base": totals(pr.base), "head": totals(pr.head), "patch": pr.patch.as_ref().map(patch_json)},
        "commit_uploads": [],
        "diff": {"git_commits": []},
        "files": files,
        "untracked": [],
    }))
}

/// `GET {service}/`: the owners the token's user can see (paginated).
async fn owners(
    State(s): State<Arc<Fixture>>,
    Path(service): Path<String>,
    Query(q): Params,
    req: Request,
) -> Response {
    let mut names: Vec<&str> = s
        .repos
        .keys()
        .filter_map(|k| k.strip_prefix(&format!("{}/", service.to_ascii_lowercase())))
        .filter_map(|rest| rest.split('/').next())
        .collect();
    names.sort_unstable();
    names.dedup();
    let items = names
        .iter()
        .map(|n| json!({"service": service, "username": n, "name": n}))
        .collect();
    s.page(req.uri().path(), &q, items)
}

/// Datadog `GET /api/v1/validate`: any API key is valid, a missing one is not.
async fn dd_validate(headers: axum::http::HeaderMap) -> Response {
    if headers.contains_key("dd-api-key") {
        ok(json!({"valid": true}))
    } else {
        dd_error(StatusCode::FORBIDDEN, "Forbidden")
    }
}

fn dd_error(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({"errors": [text]}))).into_response()
}

/// Datadog `POST /api/v2/code-coverage/{branch|commit|pr}/summary` for the sample repositories
/// (`repository_url` `github.com/acme/payments-api` ↔ Codecov `github/acme/payments-api`).
async fn dd_summary(
    State(s): State<Arc<Fixture>>,
    Path(kind): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !headers.contains_key("dd-api-key") || !headers.contains_key("dd-application-key") {
        return dd_error(StatusCode::FORBIDDEN, "Forbidden");
    }
    let Ok(body) = serde_json::from_slice::<Json>(&body) else {
        return dd_error(StatusCode::BAD_REQUEST, "Bad Request");
    };
    let attrs = body
        .pointer("/data/attributes")
        .cloned()
        .unwrap_or(Json::Null);
    let url = attrs
        .get("repository_url")
        .or_else(|| attrs.get("repository_id"))
        .and_then(Json::as_str)
        .unwrap_or("");
    let url = url
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let mut parts = url.splitn(3, '/');
    let (host, owner, name) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let service = host.trim_end_matches(".com");
    let Some(repo) = s
        .repos
        .get(&format!("{service}/{owner}/{name}").to_ascii_lowercase())
    else {
        return dd_error(StatusCode::NOT_FOUND, "repository not found");
    };
    let patch = repo
        .pulls
        .iter()
        .find_map(|p| p.patch.as_ref())
        .map(|p| patch_json(p)["coverage"].clone());
    match (
        kind.as_str(),
        attrs.get("branch").and_then(Json::as_str),
        attrs.get("pr_number"),
    ) {
        ("branch", Some(b), _) if b == repo.branch => {}
        ("branch", _, _) => return dd_error(StatusCode::NOT_FOUND, "branch not found"),
        ("commit", _, _)
            if attrs
                .get("commit_sha")
                .and_then(Json::as_str)
                .is_some_and(|c| c.len() == 40) => {}
        ("commit", _, _) => {
            return dd_error(
                StatusCode::BAD_REQUEST,
                "commit_sha must be a 40-character SHA",
            );
        }
        ("pr", _, Some(n)) if repo.pulls.iter().any(|p| Some(p.pullid) == n.as_u64()) => {}
        ("pr", _, _) => return dd_error(StatusCode::NOT_FOUND, "pull request not found"),
        _ => return dd_error(StatusCode::NOT_FOUND, "Not found"),
    }
    let Some(total) = repo.totals.as_ref().and_then(coverage) else {
        return dd_error(StatusCode::NOT_FOUND, "no coverage reports");
    };
    let stats = |t: f64| {
        json!({"evaluated_flags_count": repo.flags.len(), "evaluated_reports_count": 2,
               "patch_coverage": patch, "total_coverage": t})
    };
    let mut services = serde_json::Map::new();
    services.insert(name.to_string(), stats(total));
    for (flag, c) in &repo.flags {
        services.insert(flag.clone(), stats(coverage(c).unwrap_or(0.0)));
    }
    ok(json!({"data": {
        "attributes": {
            "codeowners": {format!("@{owner}/{name}-team"): stats(total)},
            "evaluated_flags_count": repo.flags.len(),
            "evaluated_reports_count": 2,
            "patch_coverage": patch,
            "services": services,
            "total_coverage": total,
        },
        "id": format!("{:x}", total.to_bits()),
        "type": "ci_app_coverage_summary",
    }}))
}

async fn unknown_route() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({"error": "Page Not Found (404)"})),
    )
        .into_response()
}

/// Counts requests, adds latency, and enforces the server-side rate limit.
async fn gate(State(s): State<Arc<Fixture>>, req: Request, next: Next) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(limit) = &s.limit {
        let allowed = {
            let mut b = limit.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * s.rate).min(s.rate);
            b.1 = now;
            if b.0 >= 1.0 {
                b.0 -= 1.0;
                true
            } else {
                false
            }
        };
        if !allowed {
            s.throttled.fetch_add(1, Ordering::Relaxed);
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, "1")],
                axum::Json(
                    json!({"detail": "Request was throttled. Expected available in 1 second."}),
                ),
            )
                .into_response();
        }
    }
    if !s.latency.is_zero() {
        tokio::time::sleep(s.latency).await;
    }
    next.run(req).await
}

fn router(state: Arc<Fixture>) -> Router {
    let r = "/api/v2/{service}/{owner}/repos/{repo}";
    let mut app = Router::new();
    for slash in ["", "/"] {
        app = app
            .route(&format!("/api/v2/{{service}}{slash}"), get(owners))
            .route(
                &format!("/api/v2/{{service}}/{{owner}}/repos{slash}"),
                get(repo_list),
            )
            .route(&format!("{r}{slash}"), get(repo_detail))
            .route(&format!("{r}/totals{slash}"), get(totals))
            .route(&format!("{r}/coverage{slash}"), get(trend))
            .route(
                &format!("{r}/flags/{{flag}}/coverage{slash}"),
                get(flag_trend),
            )
            .route(&format!("{r}/commits{slash}"), get(commits))
            .route(&format!("{r}/pulls/{{pullid}}{slash}"), get(pull))
            .route(&format!("{r}/compare{slash}"), get(compare));
    }
    app.route("/api/v1/validate", get(dd_validate))
        .route(
            "/api/v2/code-coverage/{kind}/summary",
            axum::routing::post(dd_summary),
        )
        .fallback(unknown_route)
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}
