//! The HTTP layer every provider shares: one reqwest client with timeouts, and per provider a
//! concurrency limit, a token-bucket rate limit, retries with backoff and jitter, a
//! provider-wide pause when the server answers 429, and a cap on the size of answers.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::config::HttpConfig;

/// What kind of fault ended a request; decides retries, caching and the words users see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// 404: unknown repository, pull request, branch; cached briefly.
    NotFound,
    /// 401: the token was refused.
    Unauthorized,
    /// 403: the token may not read this.
    Forbidden,
    /// 429 that outlasted the retries or asked for a wait longer than allowed.
    RateLimited,
    /// Any other status that is not a success.
    Status,
    /// A success status whose body is an HTML page.
    Html,
    /// A success status whose body is not the JSON expected.
    BadJson,
    /// A body larger than the provider's `max_response_bytes` (after decompression).
    TooLarge,
    /// Nothing listens on the port.
    ConnectionRefused,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// Any other connection failure.
    Connect,
    /// No answer in time.
    Timeout,
}

impl FaultKind {
    /// A fault of the host rather than of one request (DNS, refused, TLS, other connection
    /// failures): every request to that host fails the same way until it is fixed.
    pub fn is_host_fault(self) -> bool {
        matches!(
            self,
            FaultKind::Dns | FaultKind::ConnectionRefused | FaultKind::Tls | FaultKind::Connect
        )
    }
}

/// A request that failed, with a message that names the fault (never a token).
#[derive(Clone, Debug, PartialEq)]
pub struct FetchError {
    /// The kind of fault.
    pub kind: FaultKind,
    /// The HTTP status, when there was one.
    pub status: Option<u16>,
    /// What happened, for people: `Codecov answered 500 Internal Server Error (after 4 attempts)`.
    pub message: String,
    /// `host:port` of a transport fault (DNS, connection, TLS, timeout), when known.
    pub host: Option<String>,
}

impl FetchError {
    fn new(kind: FaultKind, status: Option<u16>, message: String) -> Self {
        FetchError {
            kind,
            status,
            message,
            host: None,
        }
    }

    /// A failure of the answer's content (valid HTTP, unusable body).
    pub fn bad_json(provider: &str, why: impl fmt::Display) -> Self {
        FetchError::new(
            FaultKind::BadJson,
            None,
            format!("{provider} answered malformed JSON: {why}"),
        )
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FetchError {}

/// Counters of one provider, for `rubric sync`'s summary and for tests.
#[derive(Debug, Default)]
pub struct Stats {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    errors: AtomicU64,
    cache_lookups: AtomicU64,
    cache_fetches: AtomicU64,
    stale_served: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// HTTP requests sent (every attempt counts).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// Fetches that ended in an error (after retries).
    pub errors: u64,
    /// Lookups answered from the cache without a fetch (including coalesced waiters).
    pub cache_hits: u64,
    /// Errors hidden by serving the last good value, marked stale.
    pub stale_served: u64,
}

impl StatsSnapshot {
    /// The counts since `before` was taken.
    pub fn since(&self, before: &StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.saturating_sub(before.requests),
            retries: self.retries.saturating_sub(before.retries),
            throttled: self.throttled.saturating_sub(before.throttled),
            errors: self.errors.saturating_sub(before.errors),
            cache_hits: self.cache_hits.saturating_sub(before.cache_hits),
            stale_served: self.stale_served.saturating_sub(before.stale_served),
        }
    }
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let lookups = self.cache_lookups.load(Ordering::Relaxed);
        let fetches = self.cache_fetches.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            cache_hits: lookups.saturating_sub(fetches),
            stale_served: self.stale_served.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_lookup(&self) {
        self.cache_lookups.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_fetch(&self) {
        self.cache_fetches.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_stale(&self) {
        self.stale_served.fetch_add(1, Ordering::Relaxed);
    }
}

/// The one reqwest client and the retry policy, shared by every provider.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    max_retries: u32,
    retry_budget: Duration,
    backoff_base: Duration,
    max_retry_after: Duration,
}

/// `rubric/<version>`, the User-Agent of every request.
pub const USER_AGENT: &str = concat!("rubric/", env!("CARGO_PKG_VERSION"));

impl Http {
    /// Builds the client from `[http]`.
    pub fn new(cfg: &HttpConfig) -> Result<Http, String> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms.max(1)))
            .read_timeout(Duration::from_millis(cfg.read_timeout_ms.max(1)))
            .timeout(Duration::from_millis(cfg.request_timeout_ms.max(1)))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Http {
            client,
            max_retries: cfg.max_retries,
            retry_budget: Duration::from_millis(cfg.retry_budget_ms.min(86_400_000)),
            backoff_base: Duration::from_millis(cfg.backoff_base_ms.max(1)),
            // Bounded so that no configuration can overflow an instant.
            max_retry_after: Duration::from_secs(cfg.max_retry_after_secs.min(86_400)),
        })
    }
}

/// A token bucket whose rate halves on 429 and recovers slowly on success.
#[derive(Debug)]
struct TokenBucket {
    configured: f64,
    burst: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    last: Instant,
    rate: f64,
}

impl TokenBucket {
    fn new(rate_per_sec: u32, burst: u32) -> Self {
        let rate = f64::from(rate_per_sec.max(1));
        let burst = f64::from(burst.max(1));
        TokenBucket {
            configured: rate,
            burst,
            state: Mutex::new(BucketState {
                tokens: burst,
                last: Instant::now(),
                rate,
            }),
        }
    }

    /// Takes one token, waiting for it when the bucket is empty. Tokens are reserved under
    /// the lock, so waiters leave in order and never more than the rate allows.
    async fn acquire(&self) {
        let wait = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
            s.tokens = (s.tokens + elapsed * s.rate).min(self.burst);
            s.last = now;
            s.tokens -= 1.0;
            if s.tokens >= 0.0 {
                0.0
            } else {
                -s.tokens / s.rate
            }
        };
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }

    fn slow_down(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.rate = (s.rate / 2.0).max(self.configured / 16.0).max(0.5);
    }

    fn recover(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.rate < self.configured {
            s.rate = (s.rate + self.configured / 50.0).min(self.configured);
        }
    }

    fn rate(&self) -> f64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).rate
    }
}

/// One provider's view of the HTTP layer: its name, limits and counters.
#[derive(Debug)]
pub struct ProviderHttp {
    name: &'static str,
    http: Http,
    permits: Semaphore,
    bucket: TokenBucket,
    paused_until: Mutex<Option<Instant>>,
    max_response_bytes: u64,
    /// The provider's counters.
    pub stats: Stats,
}

/// The limits of one provider.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Requests per second.
    pub rate_per_sec: u32,
    /// Token bucket size.
    pub burst: u32,
    /// Largest body read, in bytes after decompression.
    pub max_response_bytes: u64,
}

/// What one attempt gave.
enum Attempt<T> {
    Done(T),
    Fail(FetchError),
    Retry {
        error: FetchError,
        wait: Option<Duration>,
    },
}

impl ProviderHttp {
    /// A provider (`"Codecov"`, `"Datadog"`) over the shared client.
    pub fn new(name: &'static str, http: Http, limits: Limits) -> Self {
        ProviderHttp {
            name,
            http,
            permits: Semaphore::new(limits.concurrency.max(1)),
            bucket: TokenBucket::new(limits.rate_per_sec, limits.burst),
            paused_until: Mutex::new(None),
            max_response_bytes: limits.max_response_bytes,
            stats: Stats::default(),
        }
    }

    /// The provider's name as messages show it.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The request rate now (lower than configured after a 429).
    pub fn current_rate(&self) -> f64 {
        self.bucket.rate()
    }

    /// Sends the request `build` makes (called once per attempt) and parses the JSON answer,
    /// retrying connection errors, timeouts, 5xx and 429 within the retry count and budget.
    pub async fn send_json(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, FetchError> {
        self.send_as(build).await
    }

    /// [`ProviderHttp::send_json`], parsing the answer straight into `T` (no JSON tree built
    /// first); an answer that is not a `T` is a bad-JSON failure.
    pub async fn send_as<T: serde::de::DeserializeOwned>(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<T, FetchError> {
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            let outcome = {
                let _permit = self.permits.acquire().await.ok();
                self.wait_while_paused().await;
                self.bucket.acquire().await;
                self.stats.requests.fetch_add(1, Ordering::Relaxed);
                if attempt > 0 {
                    self.stats.retries.fetch_add(1, Ordering::Relaxed);
                }
                self.attempt(&build).await
            };
            let attempts = attempt + 1;
            let (error, wait) = match outcome {
                Attempt::Done(v) => {
                    self.bucket.recover();
                    return Ok(v);
                }
                Attempt::Fail(e) => return Err(self.failed(e)),
                Attempt::Retry { error, wait } => (error, wait),
            };
            let wait = match wait {
                Some(w) if w > self.http.max_retry_after => {
                    let e = FetchError {
                        message: format!(
                            "{} (Retry-After {} s is longer than the {} s allowed)",
                            error.message,
                            w.as_secs(),
                            self.http.max_retry_after.as_secs()
                        ),
                        ..error
                    };
                    return Err(self.failed(e));
                }
                Some(w) => w,
                None => self.backoff(attempt),
            };
            if attempt >= self.http.max_retries || start.elapsed() + wait > self.http.retry_budget {
                let e = FetchError {
                    message: format!(
                        "{} (after {attempts} attempt{})",
                        error.message,
                        if attempts == 1 { "" } else { "s" }
                    ),
                    ..error
                };
                return Err(self.failed(e));
            }
            tracing::debug!(provider = self.name, attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One attempt, no retries, no rate limit: the status and body, or the transport fault
    /// (for `rubric providers test`).
    pub async fn probe(
        &self,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), FetchError> {
        let request = build(&self.http.client)
            .build()
            .map_err(|e| self.transport_error(&e))?;
        let response = self
            .http
            .client
            .execute(request)
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let body = self.read_body(response).await?;
        Ok((status, body))
    }

    /// Reads the body, refusing one larger than `max_response_bytes` once decoded: at once when
    /// `Content-Length` says so, else as soon as the decoded chunks pass the cap (reqwest
    /// decompresses gzip, so a small compressed body cannot smuggle in a large one). The client's
    /// total timeout bounds a body that trickles forever.
    async fn read_body(&self, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        let max = self.max_response_bytes;
        let status = Some(response.status().as_u16());
        let too_large = |detail: String| {
            FetchError::new(
                FaultKind::TooLarge,
                status,
                format!(
                    "{} answered more than {}{detail} (raise [{}] max_response_bytes if such answers are expected)",
                    self.name,
                    human_bytes(max),
                    self.name.to_ascii_lowercase()
                ),
            )
        };
        if let Some(length) = response.content_length().filter(|n| *n > max) {
            return Err(too_large(format!(
                ": its Content-Length is {}",
                human_bytes(length)
            )));
        }
        // Body errors carry no URL of their own; the host is what the message names.
        let url = response.url().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(&e.with_url(url.clone())))?
        {
            if (body.len() + chunk.len()) as u64 > max {
                return Err(too_large(String::new()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Counts and logs a request that failed for good. A host fault (DNS, refused, TLS) is
    /// logged as a warning the first time per provider and host, later ones at debug level:
    /// a host that does not resolve would otherwise say so once per entity. Each fact still
    /// carries its own error, so outcomes explain every failure.
    fn failed(&self, e: FetchError) -> FetchError {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        match e.host.as_deref().filter(|_| e.kind.is_host_fault()) {
            Some(host) if !HOST_FAULTS.first(self.name, host) => {
                tracing::debug!(provider = self.name, host, error = %e, "request failed (reported before)");
            }
            Some(host) => {
                tracing::warn!(
                    provider = self.name,
                    host,
                    error = %e,
                    "request failed; further failures reaching this host are logged at debug level"
                );
            }
            None => tracing::warn!(provider = self.name, error = %e, "request failed"),
        }
        e
    }

    /// Exponential backoff with equal jitter: half fixed, half random.
    fn backoff(&self, attempt: u32) -> Duration {
        let full = self
            .http
            .backoff_base
            .saturating_mul(1u32 << attempt.min(16));
        let half = full / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }

    /// Waits out a provider-wide pause set by a 429 (bounded: each pause is itself bounded).
    async fn wait_while_paused(&self) {
        for _ in 0..8 {
            let until = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }

    fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut p = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if p.is_none_or(|t| t < until) {
            *p = Some(until);
        }
    }

    async fn attempt<T: serde::de::DeserializeOwned>(
        &self,
        build: &impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Attempt<T> {
        let request = match build(&self.http.client).build() {
            Ok(r) => r,
            Err(e) => return Attempt::Fail(self.transport_error(&e)),
        };
        let response = match self.http.client.execute(request).await {
            Ok(r) => r,
            Err(e) => {
                let error = self.transport_error(&e);
                return match error.kind {
                    FaultKind::Dns | FaultKind::Tls => Attempt::Fail(error),
                    _ => Attempt::Retry { error, wait: None },
                };
            }
        };
        // The host answered: a later fault there is news again.
        HOST_FAULTS.recovered(self.name, || host_port(response.url()));
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = match self.read_body(response).await {
            Ok(b) => b,
            Err(error) if error.kind == FaultKind::TooLarge => return Attempt::Fail(error),
            Err(error) => return Attempt::Retry { error, wait: None },
        };
        let html = content_type.contains("html") || looks_like_html(&body);
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            self.bucket.slow_down();
            let wait = retry_after.unwrap_or_else(|| self.backoff(2));
            if wait <= self.http.max_retry_after {
                self.pause_for(wait);
            }
            let error = self.status_error(FaultKind::RateLimited, status, &body, html);
            return Attempt::Retry {
                error,
                wait: Some(wait),
            };
        }
        if status.is_server_error() {
            let error = self.status_error(FaultKind::Status, status, &body, html);
            return Attempt::Retry {
                error,
                wait: retry_after.map(|w| w.min(self.http.max_retry_after)),
            };
        }
        if !status.is_success() {
            let kind = match status {
                StatusCode::NOT_FOUND => FaultKind::NotFound,
                StatusCode::UNAUTHORIZED => FaultKind::Unauthorized,
                StatusCode::FORBIDDEN => FaultKind::Forbidden,
                _ => FaultKind::Status,
            };
            return Attempt::Fail(self.status_error(kind, status, &body, html));
        }
        if html {
            return Attempt::Fail(FetchError::new(
                FaultKind::Html,
                Some(status.as_u16()),
                format!(
                    "{} answered HTML, not JSON (status {})",
                    self.name,
                    status.as_u16()
                ),
            ));
        }
        match serde_json::from_slice(&body) {
            Ok(v) => Attempt::Done(v),
            Err(e) => Attempt::Fail(FetchError {
                status: Some(status.as_u16()),
                ..FetchError::bad_json(self.name, e)
            }),
        }
    }

    fn status_error(
        &self,
        kind: FaultKind,
        status: StatusCode,
        body: &[u8],
        html: bool,
    ) -> FetchError {
        let code = status.as_u16();
        let reason = status.canonical_reason().unwrap_or("");
        let detail = if html {
            Some("an HTML page, not JSON".to_string())
        } else {
            error_detail(body)
        };
        let message = match detail {
            Some(d) => format!("{} answered {code} {reason}: {d}", self.name),
            None => format!("{} answered {code} {reason}", self.name),
        };
        FetchError::new(kind, Some(code), message)
    }

    fn transport_error(&self, e: &reqwest::Error) -> FetchError {
        let known = e.url().map(host_port);
        let host = known.clone().unwrap_or_else(|| "its host".into());
        let chain = error_chain(e);
        let lower = chain.to_ascii_lowercase();
        let name = self.name;
        let (kind, message) = if e.is_timeout() || lower.contains("timed out") {
            (FaultKind::Timeout, format!("{name} at {host} timed out"))
        } else if is_refused(e) || lower.contains("connection refused") {
            (
                FaultKind::ConnectionRefused,
                format!("cannot connect to {name} at {host}: connection refused"),
            )
        } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
            (
                FaultKind::Dns,
                format!("cannot resolve {name} host {host} (DNS failure)"),
            )
        } else if [
            "certificate",
            "tls",
            "handshake",
            "corrupt message",
            "invalidcontenttype",
            "peer",
            "alert",
        ]
        .iter()
        .any(|w| lower.contains(w))
        {
            let cause = chain.rsplit(": ").next().unwrap_or(&chain);
            (
                FaultKind::Tls,
                format!("TLS handshake with {name} at {host} failed: {cause}"),
            )
        } else if e.is_builder() {
            (
                FaultKind::Connect,
                format!("bad {name} request URL: {chain}"),
            )
        } else {
            (
                FaultKind::Connect,
                format!("cannot reach {name} at {host}: {chain}"),
            )
        };
        FetchError {
            host: known,
            ..FetchError::new(kind, None, message)
        }
    }
}

/// `host:port` of a URL (the port the scheme implies when none is written).
fn host_port(u: &reqwest::Url) -> String {
    match (u.host_str(), u.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => u.to_string(),
    }
}

/// The host faults reported as warnings so far, in this process.
static HOST_FAULTS: LazyLock<HostFaults> = LazyLock::new(HostFaults::default);

/// At most this many `(provider, host)` pairs are remembered; past it every fault is reported.
const MAX_HOST_FAULTS: usize = 1024;

/// Which `(provider, host)` pairs already had a host fault reported, so that it is said once
/// per host rather than once per request; forgotten when the host answers again.
#[derive(Debug, Default)]
struct HostFaults {
    seen: Mutex<HashSet<(&'static str, String)>>,
    /// `seen` is not empty (spares successful requests the lock).
    any: std::sync::atomic::AtomicBool,
}

impl HostFaults {
    /// Whether this is the first fault of `provider` at `host` since it last answered
    /// (remembering it, up to [`MAX_HOST_FAULTS`] pairs).
    fn first(&self, provider: &'static str, host: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(&(provider, host.to_string())) {
            return false;
        }
        if seen.len() < MAX_HOST_FAULTS {
            seen.insert((provider, host.to_string()));
            self.any.store(true, Ordering::Relaxed);
        }
        true
    }

    /// `provider` reached the host `host()` names: its next fault is reported again.
    fn recovered(&self, provider: &'static str, host: impl FnOnce() -> String) {
        if !self.any.load(Ordering::Relaxed) {
            return;
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.remove(&(provider, host()));
        if seen.is_empty() {
            self.any.store(false, Ordering::Relaxed);
        }
    }
}

fn is_refused(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut depth = 0;
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        depth += 1;
        if depth > 16 {
            break;
        }
        source = s.source();
    }
    false
}

/// The error and its sources, joined with `: ` (URLs and queries carry no secrets here).
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = vec![e.without_url_ref().to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        if parts.len() > 8 {
            break;
        }
        source = s.source();
    }
    parts.join(": ")
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let text = self.to_string();
        match self.url() {
            Some(u) => text
                .replace(&format!(" for url ({u})"), "")
                .replace(&format!(" ({u})"), ""),
            None => text,
        }
    }
}

/// `8 MiB`, `1.50 KiB`, `512 B`.
fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string().replace(".00 ", " ")
}

/// Whether a body is an HTML page.
pub fn looks_like_html(body: &[u8]) -> bool {
    let start: Vec<u8> = body
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(15)
        .map(u8::to_ascii_lowercase)
        .collect();
    start.starts_with(b"<!doctype") || start.starts_with(b"<html") || start.starts_with(b"<head")
}

/// The error text an API put in its body: Codecov/DRF `detail` or `error`, Datadog
/// `errors: [...]`, or a short plain-text body.
pub fn error_detail(body: &[u8]) -> Option<String> {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => {
            let pick = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_string);
            pick("detail")
                .or_else(|| pick("error"))
                .or_else(|| pick("message"))
                .or_else(|| {
                    let errors = json.get("errors")?.as_array()?;
                    let texts: Vec<String> = errors
                        .iter()
                        .map(|e| match e {
                            serde_json::Value::String(s) => s.clone(),
                            other => other
                                .get("detail")
                                .or_else(|| other.get("title"))
                                .and_then(|d| d.as_str())
                                .map_or_else(|| other.to_string(), str::to_string),
                        })
                        .collect();
                    (!texts.is_empty()).then(|| texts.join("; "))
                })
        }
        Err(_) => {
            let s = String::from_utf8_lossy(body).trim().to_string();
            (!s.is_empty()).then_some(s)
        }
    }?;
    let mut text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 200 {
        text = text.chars().take(200).collect::<String>() + "…";
    }
    Some(text)
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_fault_is_reported_once_until_the_host_answers() {
        let faults = HostFaults::default();
        assert!(faults.first("Codecov", "codecov.invalid:443"));
        assert!(!faults.first("Codecov", "codecov.invalid:443"), "said once");
        assert!(!faults.first("Codecov", "codecov.invalid:443"));
        assert!(faults.first("Codecov", "other.invalid:443"), "per host");
        assert!(
            faults.first("Datadog", "codecov.invalid:443"),
            "per provider"
        );
        faults.recovered("Codecov", || "codecov.invalid:443".into());
        assert!(
            faults.first("Codecov", "codecov.invalid:443"),
            "a new fault after the host answered is news"
        );

        // Bounded: past the cap nothing more is remembered, and nothing new is hidden.
        let faults = HostFaults::default();
        for i in 0..MAX_HOST_FAULTS + 10 {
            assert!(faults.first("Codecov", &format!("h{i}:443")));
        }
        assert_eq!(faults.seen.lock().unwrap().len(), MAX_HOST_FAULTS);
        assert!(faults.first("Codecov", &format!("h{}:443", MAX_HOST_FAULTS + 1)));
        assert!(!faults.first("Codecov", "h0:443"));
    }

    #[test]
    fn only_faults_of_the_host_are_host_faults() {
        for kind in [
            FaultKind::Dns,
            FaultKind::ConnectionRefused,
            FaultKind::Tls,
            FaultKind::Connect,
        ] {
            assert!(kind.is_host_fault(), "{kind:?}");
        }
        for kind in [
            FaultKind::Timeout,
            FaultKind::Status,
            FaultKind::NotFound,
            FaultKind::RateLimited,
        ] {
            assert!(!kind.is_host_fault(), "{kind:?}");
        }
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        let later = std::time::SystemTime::now() + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("1e300"), None);
        assert_eq!(parse_retry_after("-3"), None);
    }

    #[test]
    fn error_details_come_from_either_api() {
        assert_eq!(
            error_detail(br#"{"detail":"Invalid token."}"#).as_deref(),
            Some("Invalid token.")
        );
        assert_eq!(
            error_detail(br#"{"error":"Page Not Found (404)"}"#).as_deref(),
            Some("Page Not Found (404)")
        );
        assert_eq!(
            error_detail(br#"{"errors":["Bad Request","branch"]}"#).as_deref(),
            Some("Bad Request; branch")
        );
        assert_eq!(error_detail(b"  "), None);
        assert!(looks_like_html(b"\n<!DOCTYPE html><html>"));
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human_bytes(8 * 1024 * 1024), "8 MiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5 GiB");
        assert_eq!(human_bytes(1536), "1.50 KiB");
        assert_eq!(human_bytes(512), "512 B");
    }

    #[tokio::test]
    async fn the_bucket_spaces_requests_at_the_rate() {
        let bucket = TokenBucket::new(100, 2);
        let start = Instant::now();
        for _ in 0..12 {
            bucket.acquire().await;
        }
        // 2 from the burst, then 10 at 100/s.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(95) && elapsed <= Duration::from_millis(400),
            "{elapsed:?}"
        );
        bucket.slow_down();
        assert_eq!(bucket.rate(), 50.0);
        bucket.recover();
        assert!(bucket.rate() > 5.0);
    }
}
