//! A fake evaluator and a real server on 127.0.0.1 for the server and job tests.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures::future::BoxFuture;
use rubric::config::AlertsConfig;
use rubric::jobs::alerts::{Alerter, Webhook};
use rubric::jobs::{EvalError, Evaluator, Runner, ScorecardInfo};
use rubric::server::{AppState, Auth, Settings};
use rubric::store::{CoveragePoint, EntityResult, NewRun, RunStatus, Store, Trigger};
use tokio::sync::{Notify, oneshot};

use super::store::TestDb;

/// Results the fake evaluator answers, by (scorecard, entity); a run evaluates every entry
/// of its scorecard (or the one entity asked for).
#[derive(Default)]
pub struct Fake {
    pub scorecards: Vec<ScorecardInfo>,
    pub entities: Vec<String>,
    pub results: Mutex<BTreeMap<(String, String), EntityResult>>,
    pub coverage: Mutex<Vec<CoveragePoint>>,
    /// When set, each evaluation waits for a notification (to hold a run open).
    pub gate: Mutex<Option<Arc<Notify>>>,
    /// Signalled (to waiters registered before) when an evaluation starts.
    pub started: Arc<Notify>,
}

impl Fake {
    /// A fake with one scorecard `coverage` (Bronze 1, Silver 2, Gold 3) and these entities.
    pub fn new(entities: &[&str]) -> Fake {
        Fake {
            scorecards: vec![ScorecardInfo {
                tag: "coverage".into(),
                name: "Coverage maturity".into(),
                description: "How well tested".into(),
                window_hours: Some(4),
                draft: false,
                levels: vec![
                    ("Bronze".into(), 1),
                    ("Silver".into(), 2),
                    ("Gold".into(), 3),
                ],
                colors: [("Bronze".to_string(), "#c38b5f".to_string())].into(),
            }],
            entities: entities.iter().map(|e| e.to_string()).collect(),
            ..Fake::default()
        }
    }

    /// Sets the result the next runs produce for an entity.
    pub fn set(&self, scorecard: &str, result: EntityResult) {
        self.results
            .lock()
            .unwrap()
            .insert((scorecard.to_string(), result.entity.clone()), result);
    }
}

impl Evaluator for Fake {
    fn scorecards(&self) -> Vec<ScorecardInfo> {
        self.scorecards.clone()
    }

    fn entity_tag(&self, tag_or_ref: &str) -> Option<String> {
        let tag = tag_or_ref
            .strip_prefix("component:default/")
            .unwrap_or(tag_or_ref);
        self.entities.iter().find(|e| *e == tag).cloned()
    }

    fn evaluate<'a>(
        &'a self,
        scorecard: &'a str,
        entity: Option<&'a str>,
        trigger: Trigger,
    ) -> BoxFuture<'a, Result<NewRun, EvalError>> {
        Box::pin(async move {
            if !self.scorecards.iter().any(|s| s.tag == scorecard) {
                return Err(EvalError::UnknownScorecard(scorecard.to_string()));
            }
            self.started.notify_waiters();
            let gate = self.gate.lock().unwrap().clone();
            if let Some(gate) = gate {
                gate.notified().await;
            }
            let started_at = Utc::now();
            let entities: Vec<EntityResult> = self
                .results
                .lock()
                .unwrap()
                .iter()
                .filter(|((s, e), _)| s == scorecard && entity.is_none_or(|want| want == e))
                .map(|(_, r)| EntityResult {
                    evaluated_at: Utc::now(),
                    ..r.clone()
                })
                .collect();
            let coverage = self
                .coverage
                .lock()
                .unwrap()
                .iter()
                .filter(|c| entity.is_none_or(|want| want == c.entity))
                .cloned()
                .collect();
            Ok(NewRun {
                scorecard: scorecard.to_string(),
                trigger,
                started_at,
                finished_at: Utc::now(),
                status: RunStatus::Ok,
                error: None,
                entities,
                facts: Vec::new(),
                coverage,
                pulls: Vec::new(),
                coverage_written: false,
            })
        })
    }
}

/// Alert settings with no minimums and fast retries.
pub fn alerts_config() -> AlertsConfig {
    AlertsConfig {
        min_coverage: 0.0,
        trend_drop_points: 2.0,
        max_attempts: 3,
        retry_base_ms: 10,
        min_coverage_by_repository: BTreeMap::new(),
        min_coverage_by_scorecard: BTreeMap::new(),
        webhooks: Vec::new(),
    }
}

/// A runner over `store` and `fake`, alerting to `webhooks`.
pub fn runner(
    store: Store,
    fake: Arc<Fake>,
    cfg: AlertsConfig,
    webhooks: Vec<Webhook>,
) -> Arc<Runner> {
    Arc::new(Runner::new(store, fake, Alerter::new(cfg, webhooks)))
}

/// The tokens every server test uses.
pub const READ: &str = "read-token-1234";
/// The admin token.
pub const ADMIN: &str = "admin-token-5678";

/// Server settings for tests.
pub fn settings() -> Settings {
    Settings {
        max_body_bytes: 1024,
        request_timeout: std::time::Duration::from_secs(10),
        header_read_timeout: std::time::Duration::from_secs(10),
        frame_ancestors: "*".into(),
        public_badges: false,
        cors_origins: Vec::new(),
        uploads: rubric::config::Config::load_with_env(None, [])
            .expect("the built-in configuration loads")
            .uploads,
        alerts: alerts_config(),
        risk: rubric::coverage::risk::RiskRules {
            below: 40.0,
            points: 15,
        },
        regressing_points: 1.0,
    }
}

/// A running server; dropping it shuts it down.
pub struct Server {
    pub url: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A fresh SQLite store (keep it until the end of the test) and the application over it and
/// `fake` (no webhooks), with the test tokens and limits.
pub async fn on_sqlite(fake: Arc<Fake>, anonymous_read: bool) -> (TestDb, Server) {
    on_sqlite_with(fake, anonymous_read, settings()).await
}

/// [`on_sqlite`] with these limits.
pub async fn on_sqlite_with(
    fake: Arc<Fake>,
    anonymous_read: bool,
    settings: Settings,
) -> (TestDb, Server) {
    let db = super::store::sqlite().await;
    let r = runner(db.store.clone(), fake, alerts_config(), vec![]);
    let s = start_with(r, anonymous_read, settings).await;
    (db, s)
}

/// Starts the application on 127.0.0.1 with the test tokens.
pub async fn start(runner: Arc<Runner>, anonymous_read: bool) -> Server {
    start_with(runner, anonymous_read, settings()).await
}

/// Starts the application on 127.0.0.1 with the test tokens and these limits.
pub async fn start_with(runner: Arc<Runner>, anonymous_read: bool, settings: Settings) -> Server {
    let auth = Auth::parse(
        anonymous_read,
        "TEST_TOKENS",
        &format!("portal:read:{READ},ci:admin:{ADMIN}"),
    )
    .unwrap();
    let app = rubric::server::router(AppState::new(runner, auth, settings.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel();
    let served = tokio::spawn(async move {
        rubric::server::serve(listener, app, &settings, async {
            let _ = rx.await;
        })
        .await
    });
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap();
    Server {
        url,
        client,
        stop: Some(tx),
        served: Some(served),
    }
}

impl Server {
    /// Asks the server to shut down and waits until it has (its connections closed).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.unwrap();
        }
    }

    /// The `host:port` the server listens on.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// GET with a bearer token (or none).
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// POST with a bearer token (or none).
    pub async fn post(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.post(format!("{}{path}", self.url));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }
}

/// Status and JSON body.
pub async fn json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}
