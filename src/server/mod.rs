//! Server: the HTTP API, entity pages and badges.
//!
//! [`router`] builds the whole application from an [`AppState`] (for tests without a socket);
//! [`serve`] runs it on a bound listener until a shutdown future resolves. Every route but the
//! probes and the OpenAPI document needs a bearer token (or `[auth] anonymous_read`); writes need
//! the `admin` role. Errors are JSON `{"error", "code"}`, including the rejections of oversized
//! heads and bodies and of malformed requests; requests are bounded in size and time, and a
//! connection that sends no complete request head within the header read timeout is closed.

mod api;
mod auth;
mod badge;
mod cache;
mod codacy;
mod codecov;
mod cortex;
mod dashboard;
mod datadog;
mod error;
mod jwks;
mod layers;
mod page;
mod portal;
mod rhdh;
mod tech_insights;
mod uploads;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use metrics_exporter_prometheus::PrometheusHandle;
use tower::Layer as _;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use auth::{Auth, AuthConfigError, Caller, Denied, Refusal, Role};
pub use error::ApiError;
pub use jwks::{BackstageJwks, JwksConfigError};

use crate::jobs::{Runner, ScorecardInfo};

/// The OpenAPI document of the API, served at `/api/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Limits and headers of the server.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Longest a client may take to send a request's headers (and to start the next request
    /// on a kept-alive connection) before the connection is closed.
    pub header_read_timeout: Duration,
    /// CSP `frame-ancestors` of the entity page.
    pub frame_ancestors: String,
    /// Whether badges are read without a token (`[server] public_badges`).
    pub public_badges: bool,
    /// Origins whose pages may call the API from a browser (`[server] cors_origins`).
    pub cors_origins: Vec<String>,
    /// Coverage uploads: body and report limits, branches, public address.
    pub uploads: crate::config::UploadsConfig,
    /// `[alerts]`: the declining threshold (`trend_drop_points`) and the minimums shown.
    pub alerts: crate::config::AlertsConfig,
    /// The thresholds and points of `[risk]`.
    pub risk: crate::coverage::risk::RiskRules,
    /// Points of coverage a pull request must lower to be regressing (`[risk]
    /// regressing_points`).
    pub regressing_points: f64,
}

impl Settings {
    /// From `[server]`, `[uploads]` and `[alerts] trend_drop_points`.
    pub fn from_config(config: &crate::config::Config) -> Settings {
        let cfg = &config.server;
        Settings {
            uploads: config.uploads.clone(),
            alerts: config.alerts.clone(),
            risk: crate::coverage::risk::RiskRules {
                below: config.risk.low_coverage,
                points: config.risk.points,
            },
            regressing_points: config.risk.regressing_points,
            max_body_bytes: cfg.max_body_bytes,
            request_timeout: Duration::from_secs(cfg.request_timeout_secs.max(1)),
            header_read_timeout: Duration::from_secs(cfg.header_read_timeout_secs.max(1)),
            frame_ancestors: cfg.frame_ancestors.clone(),
            public_badges: cfg.public_badges,
            cors_origins: cfg.cors_origins.clone(),
        }
    }
}

/// Everything a request handler reads. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    runner: Arc<Runner>,
    auth: Auth,
    settings: Settings,
    metrics: PrometheusHandle,
    scorecards: Vec<ScorecardInfo>,
    pages: handlebars::Handlebars<'static>,
    /// Whether the server is ready (`/readyz`): not while the first sync runs.
    readiness: std::sync::RwLock<Readiness>,
    /// Rendered entity responses, valid until a run is written (here or by another replica).
    cache: cache::EntityCache,
    /// The request metrics of [`layers::record`], registered once per route and status.
    http_metrics: HttpMetrics,
}

impl AppState {
    /// State for a server over `runner`, with these tokens and limits.
    pub fn new(runner: Arc<Runner>, auth: Auth, settings: Settings) -> AppState {
        let scorecards = runner.evaluator().scorecards();
        AppState {
            inner: Arc::new(Inner {
                runner,
                auth,
                settings,
                metrics: metrics_handle(),
                scorecards,
                pages: page::templates(),
                readiness: std::sync::RwLock::new(Readiness::Ready),
                cache: cache::EntityCache::default(),
                http_metrics: HttpMetrics::default(),
            }),
        }
    }

    fn runner(&self) -> &Runner {
        &self.inner.runner
    }

    fn scorecard(&self, tag: &str) -> Option<&ScorecardInfo> {
        self.inner.scorecards.iter().find(|s| s.tag == tag)
    }

    fn upload_limits(&self) -> crate::coverage::Limits {
        uploads::limits(&self.inner.settings.uploads)
    }
}

/// What `/readyz` answers, besides the store's health.
#[derive(Clone, Debug, PartialEq)]
pub enum Readiness {
    /// Serving.
    Ready,
    /// The first sync of `rubric serve` runs, since then.
    FirstSync(std::time::Instant),
}

impl AppState {
    /// Sets what `/readyz` answers (`rubric serve` is not ready during its first sync).
    pub fn set_readiness(&self, readiness: Readiness) {
        *self
            .inner
            .readiness
            .write()
            .unwrap_or_else(|p| p.into_inner()) = readiness;
    }

    fn readiness(&self) -> Readiness {
        self.inner
            .readiness
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The process-wide Prometheus recorder (installed on first use; later calls share it).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = metrics_exporter_prometheus::PrometheusBuilder::new();
            match builder.install_recorder() {
                Ok(handle) => {
                    let upkeep = handle.clone();
                    // Histograms grow until upkeep drains them; the exporter leaves that to us.
                    std::thread::Builder::new()
                        .name("metrics-upkeep".into())
                        .spawn(move || {
                            loop {
                                std::thread::sleep(Duration::from_secs(5));
                                upkeep.run_upkeep();
                            }
                        })
                        .ok();
                    handle
                }
                // Another recorder is installed (e.g. by an embedding program): render ours empty.
                Err(_) => metrics_exporter_prometheus::PrometheusBuilder::new()
                    .build_recorder()
                    .handle(),
            }
        })
        .clone()
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let read = Router::new()
        .route("/api/v1/scorecards", get(api::scorecards))
        .route("/api/v1/scorecards/{tag}/scores", get(api::scores))
        .route("/api/v1/scorecards/{tag}/history", get(api::history))
        .route(
            "/api/v1/entities/{tag}/scorecards",
            get(api::entity_scorecards),
        )
        .route("/api/v1/entities/{tag}/coverage", get(api::entity_coverage))
        .route("/api/v1/risk", post(api::risk))
        .route("/api/v1/pulls", get(api::pulls))
        .route("/api/v1/coverage", get(dashboard::json))
        .route("/coverage", get(dashboard::page))
        .route(
            "/api/v1/coverage/{service}/{owner}/{repo}",
            get(uploads::latest),
        )
        .route(
            "/api/v1/coverage/{service}/{owner}/{repo}/files",
            get(uploads::files),
        )
        .route("/entities/{tag}", get(page::entity_page))
        .route("/metrics", get(prometheus))
        .route_layer(layers::require(&state, Role::Read));
    let admin = Router::new()
        .route(
            "/api/v1/scorecards/{tag}/entities/{entity}/evaluate",
            post(api::evaluate),
        )
        .route_layer(layers::require(&state, Role::Admin));
    let settings = state.inner.settings.clone();
    let badges = Router::new().route("/badge/{scorecard}/{file}", get(badge::badge));
    let (read, badges) = if settings.public_badges {
        (read, badges)
    } else {
        (
            read.merge(badges.route_layer(layers::require(&state, Role::Read))),
            Router::new(),
        )
    };
    // Uploads authenticate with their own tokens and take larger bodies than the API.
    let upload = Router::new()
        .route(
            "/api/v1/coverage/{service}/{owner}/{repo}/uploads",
            post(uploads::native_upload),
        )
        .route(
            "/upload/{service}/{slug}/upload-coverage",
            post(codecov::upload_coverage),
        )
        .route("/upload/{service}/{slug}/commits", post(codecov::commits))
        .route(
            "/upload/{service}/{slug}/commits/{sha}/reports",
            post(codecov::reports),
        )
        .route(
            "/upload/{service}/{slug}/commits/{sha}/reports/{code}/uploads",
            post(codecov::uploads),
        )
        .route(
            "/upload/{service}/{slug}/commits/{sha}/upload-complete",
            post(codecov::upload_complete),
        )
        .route("/upload/v4", post(codecov::legacy))
        .route("/api/v2/cicovreprt", post(datadog::intake))
        .route("/upload/raw/{id}", put(codecov::put_raw))
        .route("/2.0/coverage/{a}/{b}", post(codacy::project_upload))
        .route(
            "/2.0/{a}/{b}/commit/{commit}/coverage/{language}",
            post(codacy::account_upload),
        )
        .route(
            "/2.0/{a}/{b}/{c}/commit/{commit}/coverage/{language}",
            post(codacy::provider_upload),
        )
        .route(
            "/2.0/commit/{commit}/coverageFinal",
            post(codacy::project_final),
        )
        .route(
            "/2.0/{a}/{b}/commit/{commit}/coverageFinal",
            post(codacy::account_final),
        )
        .route(
            "/2.0/{a}/{b}/{c}/commit/{commit}/coverageFinal",
            post(codacy::provider_final),
        )
        .layer(RequestBodyLimitLayer::new(settings.uploads.max_body_bytes))
        // axum's own 2 MB default for extractors would stop uploads short of the limit above.
        .layer(axum::extract::DefaultBodyLimit::disable());
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/api/openapi.json", get(openapi))
        .merge(read)
        .merge(badges)
        .merge(admin)
        .merge(tech_insights::routes(&state))
        .merge(rhdh::routes(&state))
        .merge(cortex::routes(&state))
        .layer(RequestBodyLimitLayer::new(settings.max_body_bytes))
        .merge(upload)
        .route_layer(layers::record(&state))
        .fallback(|| async { ApiError::not_found("no such route") })
        .with_state(state);
    // Around the routes as plain tower services (not `Router::layer`, which wraps every route
    // and costs a boxed clone of each per request). Inside out: panics become JSON 500s, then
    // [`Front`] (entity refs, limits and headers, Cortex's error shape), CORS, tracing.
    let front = Front {
        inner: CatchPanicLayer::custom(|_| {
            error::body(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        })
        .layer(app),
        settings: Arc::new(settings.clone()),
    };
    // CORS outermost but for tracing, so preflight requests are answered before any token is
    // asked for.
    match cors(&settings.cors_origins) {
        Some(cors) => {
            Router::new().fallback_service(TraceLayer::new_for_http().layer(cors.layer(front)))
        }
        None => Router::new().fallback_service(TraceLayer::new_for_http().layer(front)),
    }
}

/// What every request passes before routing, in one service: entity refs made one path
/// segment, [`guard`] (header size, timeout, JSON errors, security headers), and Cortex's error
/// shape for everything under `/cortex` (outside the panic catcher, so its 500 too).
#[derive(Clone)]
struct Front<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S> tower::Service<Request> for Front<S>
where
    S: tower::Service<Request, Error = std::convert::Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Response, std::convert::Infallible>> + Send + 'static>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let req = entity_refs_as_one_segment(req);
        let cortex = cortex::error::is_under(req.uri().path());
        // The service polled ready goes with this request; a clone waits for the next.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let settings = self.settings.clone();
        Box::pin(async move {
            let resp = guard(&settings, req, |req| {
                let answer = inner.call(req);
                async move {
                    match answer.await {
                        Ok(resp) => resp.into_response(),
                        Err(never) => match never {},
                    }
                }
            })
            .await;
            Ok(if cortex {
                cortex::error::reshape(resp).await
            } else {
                resp
            })
        })
    }
}

/// CORS for the configured origins (none: no CORS headers, browsers keep other origins out).
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            axum::http::Method::GET,
            axum::http::Method::POST,
            axum::http::Method::PUT,
        ])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600));
    Some(layer)
}

/// Largest request head (header names and values) answered by the application; larger ones get
/// a JSON 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// hyper's read buffer per connection. It must exceed [`MAX_HEADER_BYTES`] by a margin so that a
/// head between the two reaches [`guard`] (which answers JSON); beyond it hyper answers a bare 431
/// itself, as it does for more than 100 header lines.
const READ_BUFFER_BYTES: usize = 4 * MAX_HEADER_BYTES;

/// Serves `app` on `listener` until `shutdown` resolves, then finishes requests in flight.
///
/// HTTP/1.1 only: hyper bounds the time to read a request head only there, and an HTTP/2
/// (cleartext, prior knowledge) connection could be held open without one. Connections that
/// send no complete head within `settings.header_read_timeout` are closed.
pub async fn serve(
    mut listener: tokio::net::TcpListener,
    app: Router,
    settings: &Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt as _;

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_buf_size(READ_BUFFER_BYTES);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // `Listener::accept` retries transient accept errors (e.g. out of file descriptors).
        let (stream, peer) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        let service = app
            .clone()
            .map_request(|req: Request<hyper::body::Incoming>| req.map(Body::new));
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Timeouts, resets and malformed requests end here; they are the client's business.
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    // Idle and not-yet-talking connections close at once; the others after their request.
    graceful.shutdown().await;
}

/// Backstage entity refs (`component:default/checkout-web`) hold a slash that clients send raw:
/// after `/api/v1/entities/`, `/entities/` and `/badge/{scorecard}/`, a segment with a `:`
/// followed by another segment is one ref, so the slash between them is sent on encoded
/// (`%2F`), as the routes expect.
fn entity_refs_as_one_segment(mut req: Request) -> Request {
    let path = req.uri().path();
    let rest_at = ["/api/v1/entities/", "/entities/"]
        .iter()
        .find(|p| path.starts_with(*p))
        .map(|p| p.len())
        .or_else(|| {
            let after = path.strip_prefix("/badge/")?;
            Some("/badge/".len() + after.find('/')? + 1)
        });
    let Some(at) = rest_at else {
        return req;
    };
    let rest = &path[at..];
    let Some((kind_ns, tail)) = rest.split_once('/') else {
        return req;
    };
    // `kind:namespace` alone: a ref whose slash is already encoded is left as it is.
    let encoded = kind_ns.to_ascii_lowercase().contains("%2f");
    if !kind_ns.contains(':') || encoded || tail.is_empty() {
        return req;
    }
    let fixed = format!("{}{kind_ns}%2F{tail}", &path[..at]);
    let with_query = match req.uri().query() {
        Some(q) => format!("{fixed}?{q}"),
        None => fixed,
    };
    if let Ok(uri) = with_query.parse() {
        *req.uri_mut() = uri;
    }
    req
}

/// `rubric_http_requests_total{route, status}` and `rubric_http_request_duration_seconds{route}`,
/// with their handles kept per route: registering them by label strings on every request
/// allocated and hashed the labels each time. Bounded: routes are the router's patterns (and
/// `unmatched`), statuses the codes the server answers.
#[derive(Default)]
struct HttpMetrics {
    routes: std::sync::RwLock<std::collections::HashMap<String, RouteMetrics>>,
}

struct RouteMetrics {
    duration: metrics::Histogram,
    requests: Vec<(StatusCode, metrics::Counter)>,
}

impl HttpMetrics {
    fn observe(&self, route: &str, status: StatusCode, took: Duration) {
        let seconds = took.as_secs_f64();
        {
            let routes = self.routes.read().unwrap_or_else(|p| p.into_inner());
            if let Some(m) = routes.get(route)
                && let Some((_, counter)) = m.requests.iter().find(|(s, _)| *s == status)
            {
                counter.increment(1);
                m.duration.record(seconds);
                return;
            }
        }
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        let m = routes
            .entry(route.to_string())
            .or_insert_with(|| RouteMetrics {
                duration: metrics::histogram!(
                    "rubric_http_request_duration_seconds",
                    "route" => route.to_string()
                ),
                requests: Vec::new(),
            });
        let counter = match m.requests.iter().find(|(s, _)| *s == status) {
            Some((_, counter)) => counter,
            None => {
                let counter = metrics::counter!(
                    "rubric_http_requests_total",
                    "route" => route.to_string(),
                    "status" => status.as_str().to_string()
                );
                m.requests.push((status, counter));
                &m.requests[m.requests.len() - 1].1
            }
        };
        counter.increment(1);
        m.duration.record(seconds);
    }
}

/// Header size and time limits, security headers, and JSON bodies for errors that carry none
/// (axum's extractor rejections, the body limit's 413, 404/405 of routing).
/// `inner` answers the request.
async fn guard<F, A>(settings: &Settings, req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> A,
    A: Future<Output = Response>,
{
    let method = req.method().clone();
    let head_bytes = header_bytes(req.headers());
    let mut resp = if head_bytes > MAX_HEADER_BYTES {
        error::body(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!(
                "request headers too large: {head_bytes} bytes, at most {MAX_HEADER_BYTES} \
                 (send fewer or shorter headers, e.g. cookies)"
            ),
        )
    } else {
        match tokio::time::timeout(settings.request_timeout, inner(req)).await {
            Ok(resp) => resp,
            Err(_) => error::body(StatusCode::REQUEST_TIMEOUT, "the request took too long"),
        }
    };
    let status = resp.status();
    let is_json_or_page = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json") || ct.starts_with("text/html"));
    if (status.is_client_error() || status.is_server_error()) && !is_json_or_page {
        let message = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "request body too large".to_string(),
            StatusCode::METHOD_NOT_ALLOWED => format!("method {method} not allowed here"),
            _ => {
                let body = std::mem::replace(resp.body_mut(), Body::empty());
                let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
                let text = String::from_utf8_lossy(&text).trim().to_string();
                if text.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_string()
                } else {
                    text
                }
            }
        };
        let headers = resp.headers().clone();
        resp = error::body(status, &message);
        if let Some(v) = headers.get(header::WWW_AUTHENTICATE) {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, v.clone());
        }
    }
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Size of the header lines as sent: `name: value` and the line break.
fn header_bytes(headers: &axum::http::HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

async fn readyz(State(state): State<AppState>) -> Response {
    if let Readiness::FirstSync(since) = state.readiness() {
        return error::body(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "not ready: the first sync of every provider fact is running (for {} s)",
                since.elapsed().as_secs()
            ),
        );
    }
    match state.runner().store().ping().await {
        Ok(()) => "ready\n".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            error::body(
                StatusCode::SERVICE_UNAVAILABLE,
                "the history store is not reachable",
            )
        }
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn prometheus(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.inner.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt as _;

    #[test]
    fn raw_slashes_in_entity_refs_become_one_segment() {
        let path = |p: &str| {
            entity_refs_as_one_segment(Request::get(p).body(Body::empty()).unwrap())
                .uri()
                .to_string()
        };
        assert_eq!(
            path("/api/v1/entities/component:default/checkout-web/scorecards?x=1"),
            "/api/v1/entities/component:default%2Fcheckout-web/scorecards?x=1"
        );
        assert_eq!(
            path("/entities/component:default/checkout-web"),
            "/entities/component:default%2Fcheckout-web"
        );
        assert_eq!(
            path("/api/v1/entities/component:default%2Fapi/scorecards"),
            "/api/v1/entities/component:default%2Fapi/scorecards",
            "already encoded"
        );
        assert_eq!(
            path("/badge/coverage/component:default/checkout-web.svg"),
            "/badge/coverage/component:default%2Fcheckout-web.svg"
        );
        assert_eq!(
            path("/api/v1/entities/api/scorecards"),
            "/api/v1/entities/api/scorecards"
        );
        assert_eq!(
            path("/api/v1/scorecards/cov/scores"),
            "/api/v1/scorecards/cov/scores"
        );
    }

    /// A JSON-body route behind [`Front`]'s [`guard`], as any future endpoint with a body would be.
    async fn post_json(content_type: &str, body: &'static str) -> (StatusCode, serde_json::Value) {
        let settings = Settings {
            max_body_bytes: 1024,
            request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            frame_ancestors: "*".into(),
            public_badges: false,
            cors_origins: Vec::new(),
            uploads: crate::config::Config::load_with_env(None, [])
                .expect("the built-in configuration loads")
                .uploads,
            alerts: crate::config::Config::load_with_env(None, [])
                .expect("the built-in configuration loads")
                .alerts,
            risk: crate::coverage::risk::RiskRules {
                below: 40.0,
                points: 15,
            },
            regressing_points: 1.0,
        };
        let app = Front {
            inner: Router::new().route(
                "/echo",
                post(|axum::Json(v): axum::Json<Vec<u32>>| async move { axum::Json(v) }),
            ),
            settings: Arc::new(settings),
        };
        let req = Request::post("/echo")
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status();
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn json_body_rejections_are_json_errors() {
        let (status, body) = post_json("application/json", "[1, 2").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request"))
        );
        assert!(body["error"].as_str().unwrap().contains("JSON"), "{body}");
        let (status, body) = post_json("application/json", "[\"one\"]").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["code"], "unprocessable_entity");
        let (status, body) = post_json("text/plain", "[1]").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("application/json"),
            "{body}"
        );
        let (status, body) = post_json("application/json", "[1]").await;
        assert_eq!((status, body), (StatusCode::OK, serde_json::json!([1])));
    }

    #[test]
    fn request_metrics_are_registered_once_per_route_and_status() {
        let m = HttpMetrics::default();
        for status in [StatusCode::OK, StatusCode::OK, StatusCode::NOT_FOUND] {
            m.observe("/api/v1/scorecards", status, Duration::from_millis(1));
        }
        m.observe("unmatched", StatusCode::NOT_FOUND, Duration::ZERO);
        let routes = m.routes.read().unwrap();
        assert_eq!(routes.len(), 2);
        let statuses: Vec<StatusCode> = routes["/api/v1/scorecards"]
            .requests
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(statuses, [StatusCode::OK, StatusCode::NOT_FOUND]);
    }

    #[test]
    fn header_bytes_count_lines_as_sent() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-a", HeaderValue::from_static("12345"));
        headers.insert(header::HOST, HeaderValue::from_static("rubric"));
        assert_eq!(header_bytes(&headers), (3 + 5 + 4) + (4 + 6 + 4));
    }
}
