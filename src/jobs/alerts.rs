//! Alerts after a run: level or score drops, coverage under a minimum, a declining 30-day trend.
//!
//! Each condition has a key (`drop:SCORECARD:ENTITY`, `below:PROVIDER:REPO#FLAG`,
//! `trend:PROVIDER:REPO#FLAG`) whose state is kept in the store; an alert fires only when the
//! state changes, not on every run. Every alert is recorded, then posted to each webhook (Slack
//! incoming-webhook `{"text"}` or the plain JSON alert), retried with exponential backoff, and
//! every attempt is recorded. Webhook URLs are secrets: only webhook names are logged.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use serde::Serialize;

use crate::config::AlertsConfig;
use crate::store::{CoveragePoint, Delivery, NewRun, PointSource, Store, StoreError, window_start};

/// How alert bodies are shaped for a webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Slack incoming webhook: `{"text": "..."}`.
    Slack,
    /// The [`Alert`] as JSON.
    Json,
}

/// A webhook to deliver to.
#[derive(Clone)]
pub struct Webhook {
    /// Name, recorded and logged.
    pub name: String,
    /// Body shape.
    pub format: Format,
    /// URL (a secret for Slack; never logged).
    pub url: String,
    /// The repositories whose alerts it receives (`owner/name`, or `owner/*` for an owner's);
    /// empty: every alert.
    pub repositories: Vec<String>,
}

impl Webhook {
    /// Whether `alert` goes to this webhook: every alert without a repository filter; with
    /// one, the alerts of the repositories it names.
    fn takes(&self, alert: &Alert) -> bool {
        self.repositories.is_empty()
            || alert.repository.as_deref().is_some_and(|repo| {
                self.repositories
                    .iter()
                    .any(|pattern| crate::coverage::repository_matches(pattern, repo))
            })
    }
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("name", &self.name)
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

/// One alert, as sent in the JSON format.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// `level_drop`, `score_drop`, `coverage_below`, `coverage_recovered` or `coverage_declining`.
    pub kind: String,
    /// The condition key.
    pub key: String,
    /// One sentence for people.
    pub summary: String,
    /// Scorecard tag.
    pub scorecard: String,
    /// Entity tag, when about one entity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
    /// Repository, when about coverage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Flag, when about a flag's coverage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// The value before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous: Option<f64>,
    /// The value now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<f64>,
    /// The minimum that applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
}

/// Decides and delivers alerts.
#[derive(Debug)]
pub struct Alerter {
    cfg: AlertsConfig,
    webhooks: Vec<Webhook>,
    client: reqwest::Client,
}

/// A webhook's environment variable is missing or its format unknown.
#[derive(Debug, thiserror::Error)]
#[error("[[alerts.webhooks]] {name}: {reason}")]
pub struct WebhookConfigError {
    name: String,
    reason: String,
}

impl Alerter {
    /// An alerter with these settings, reading webhook URLs from the environment.
    pub fn from_config(cfg: &AlertsConfig) -> Result<Alerter, WebhookConfigError> {
        let mut webhooks = Vec::new();
        for w in &cfg.webhooks {
            let err = |reason: String| WebhookConfigError {
                name: w.name.clone(),
                reason,
            };
            let format = match w.format.as_str() {
                "slack" => Format::Slack,
                "json" => Format::Json,
                other => {
                    return Err(err(format!(
                        "format {other:?} is not \"slack\" or \"json\""
                    )));
                }
            };
            let url = std::env::var(&w.url_env)
                .map_err(|_| err(format!("environment variable {} is not set", w.url_env)))?;
            webhooks.push(Webhook {
                name: w.name.clone(),
                format,
                url,
                repositories: w.repositories.clone(),
            });
        }
        Ok(Alerter::new(cfg.clone(), webhooks))
    }

    /// An alerter delivering to these webhooks.
    pub fn new(cfg: AlertsConfig, webhooks: Vec<Webhook>) -> Alerter {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("rubric/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Alerter {
            cfg,
            webhooks,
            client,
        }
    }

    /// Decides the alerts a written run causes, records and delivers them; returns their ids.
    /// `previous` holds each entity's level rank and percentage before the run.
    pub async fn after_run(
        &self,
        store: &Store,
        run: &NewRun,
        previous: &HashMap<String, (Option<i64>, f64)>,
    ) -> Vec<i64> {
        let alerts = match self.decide(store, run, previous).await {
            Ok(alerts) => alerts,
            Err(e) => {
                tracing::error!(scorecard = %run.scorecard, error = %e, "alert check failed");
                return Vec::new();
            }
        };
        let mut ids = Vec::new();
        for alert in alerts {
            metrics::counter!("rubric_alerts_total", "kind" => alert.kind.clone()).increment(1);
            let body = serde_json::to_value(&alert).unwrap_or_default();
            match store
                .record_alert(
                    &alert.kind,
                    &alert.key,
                    &alert.summary,
                    &body,
                    crate::clock::now(),
                )
                .await
            {
                Ok(id) => {
                    for w in self.webhooks.iter().filter(|w| w.takes(&alert)) {
                        self.deliver(store, id, w, &alert).await;
                    }
                    ids.push(id);
                }
                Err(e) => {
                    tracing::error!(key = %alert.key, error = %e, "could not record an alert")
                }
            }
        }
        ids
    }

    async fn decide(
        &self,
        store: &Store,
        run: &NewRun,
        previous: &HashMap<String, (Option<i64>, f64)>,
    ) -> Result<Vec<Alert>, crate::store::StoreError> {
        let mut alerts = Vec::new();
        let now = crate::clock::now();
        for e in &run.entities {
            let Some(&(prev_rank, prev_pct)) = previous.get(&e.entity) else {
                continue;
            };
            let base = Alert {
                kind: String::new(),
                key: format!("drop:{}:{}", run.scorecard, e.entity),
                summary: String::new(),
                scorecard: run.scorecard.clone(),
                entity: Some(e.entity.clone()),
                repository: None,
                flag: None,
                previous: None,
                current: None,
                minimum: None,
            };
            // No applicable rule counts as 0 %, as the store keeps it.
            let pct = e.percentage.unwrap_or(0.0);
            if e.level_rank.unwrap_or(0) < prev_rank.unwrap_or(0) {
                let now_level = e.level.as_deref().unwrap_or("no level");
                alerts.push(Alert {
                    kind: "level_drop".into(),
                    summary: format!(
                        "{} dropped to {now_level} in scorecard {} (rank {} → {})",
                        e.entity,
                        run.scorecard,
                        prev_rank.unwrap_or(0),
                        e.level_rank.unwrap_or(0)
                    ),
                    previous: prev_rank.map(|r| r as f64),
                    current: Some(e.level_rank.unwrap_or(0) as f64),
                    ..base
                });
            } else if pct + 0.05 < prev_pct {
                alerts.push(Alert {
                    kind: "score_drop".into(),
                    summary: format!(
                        "{}'s score in scorecard {} dropped from {prev_pct:.1}% to {:.1}%",
                        e.entity, run.scorecard, pct
                    ),
                    previous: Some(prev_pct),
                    current: Some(pct),
                    ..base
                });
            }
        }
        let mut seen = BTreeSet::new();
        // Today's readings (each repository once); backfilled days are history for the trend,
        // not news.
        let readings: Vec<&CoveragePoint> = run
            .coverage
            .iter()
            .filter(|c| c.source == PointSource::Run)
            .filter(|c| seen.insert((&c.provider, &c.repository, &c.flag)))
            .collect();
        // A trend's state is the repository's, not a scorecard's: of a round's runs, the one
        // that wrote the readings checks it (the others would read the same series again).
        let trends = self.cfg.trend_drop_points > 0.0 && !run.coverage_written;
        let mut memory = AlertMemory::read(store, readings.len()).await?;
        for c in readings {
            let name = if c.flag.is_empty() {
                c.repository.clone()
            } else {
                format!("{}#{}", c.repository, c.flag)
            };
            let minimum = self.minimum(&run.scorecard, &c.repository, &c.flag);
            let base = Alert {
                kind: String::new(),
                key: String::new(),
                summary: String::new(),
                scorecard: run.scorecard.clone(),
                entity: Some(c.entity.clone()),
                repository: Some(c.repository.clone()),
                flag: (!c.flag.is_empty()).then(|| c.flag.clone()),
                previous: None,
                current: Some(c.coverage),
                minimum,
            };
            let below = minimum.is_some_and(|m| c.coverage < m);
            if let Some(m) = minimum {
                // Per scorecard and repository: scorecards with other minimums for the same
                // repository each keep their own state (one shared state flapped between them).
                let key = format!("below:{}:{}:{name}", run.scorecard, c.provider);
                let state = if below { "below" } else { "ok" };
                let before = memory.state(store, &key).await?;
                if before.as_deref() != Some(state) {
                    memory.set(&key, state);
                    if below {
                        alerts.push(Alert {
                            kind: "coverage_below".into(),
                            key,
                            summary: format!(
                                "{name} coverage {:.1}% fell below its minimum {m:.1}%",
                                c.coverage
                            ),
                            ..base.clone()
                        });
                    } else if before.is_some() {
                        alerts.push(Alert {
                            kind: "coverage_recovered".into(),
                            key,
                            summary: format!(
                                "{name} coverage {:.1}% is back above its minimum {m:.1}%",
                                c.coverage
                            ),
                            ..base.clone()
                        });
                    }
                }
            }
            if below || !trends {
                continue;
            }
            let series = store
                .coverage_series(&c.repository, &c.flag, &c.provider, window_start(now, 30))
                .await?;
            let (Some(first), Some(last)) = (series.points.first(), series.points.last()) else {
                continue;
            };
            let fall = first.coverage - last.coverage;
            let declining = series.declining(self.cfg.trend_drop_points);
            let key = format!("trend:{}:{name}", c.provider);
            let state = if declining { "declining" } else { "steady" };
            let before = memory.state(store, &key).await?;
            if before.as_deref() != Some(state) {
                memory.set(&key, state);
                if declining {
                    alerts.push(Alert {
                        kind: "coverage_declining".into(),
                        key,
                        summary: format!(
                            "{name} coverage fell {fall:.1} points in 30 days ({:.1}% → {:.1}%)",
                            first.coverage, last.coverage
                        ),
                        previous: Some(first.coverage),
                        ..base
                    });
                }
            }
        }
        store.set_alert_states(&memory.changed, now).await?;
        Ok(alerts)
    }

    /// The minimum for a repository (see [`AlertsConfig::minimum`]).
    fn minimum(&self, scorecard: &str, repository: &str, flag: &str) -> Option<f64> {
        self.cfg.minimum(Some(scorecard), repository, flag)
    }

    async fn deliver(&self, store: &Store, alert_id: i64, w: &Webhook, alert: &Alert) {
        let body = match w.format {
            Format::Slack => {
                serde_json::json!({ "text": format!(":warning: rubric: {}", alert.summary) })
            }
            Format::Json => serde_json::to_value(alert).unwrap_or_default(),
        };
        let attempts = self.cfg.max_attempts.max(1);
        for attempt in 1..=attempts {
            let (status, error) = match self.client.post(&w.url).json(&body).send().await {
                Ok(resp) if resp.status().is_success() => (Some(resp.status().as_u16()), None),
                Ok(resp) => (
                    Some(resp.status().as_u16()),
                    Some(format!("HTTP {}", resp.status().as_u16())),
                ),
                // Strip the URL: a Slack webhook URL is a secret.
                Err(e) => (None, Some(e.without_url().to_string())),
            };
            let delivered = error.is_none();
            let record = Delivery {
                alert_id,
                webhook: w.name.clone(),
                attempt: i64::from(attempt),
                http_status: status.map(i64::from),
                error: error.clone(),
                delivered,
            };
            if let Err(e) = store.record_delivery(&record, crate::clock::now()).await {
                tracing::error!(webhook = %w.name, error = %e, "could not record a delivery");
            }
            let result = if delivered { "delivered" } else { "failed" };
            metrics::counter!("rubric_alert_deliveries_total", "result" => result).increment(1);
            if delivered {
                return;
            }
            tracing::warn!(webhook = %w.name, attempt, error = error.as_deref().unwrap_or(""), "alert delivery failed");
            if attempt < attempts {
                // Backoff between attempts is the point here, not waiting for an event.
                let delay = self
                    .cfg
                    .retry_base_ms
                    .saturating_mul(1 << (attempt - 1).min(16));
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
        }
    }
}

/// What a run's coverage alerts read from the store, and the states they change (written back
/// in one transaction). A run of many repositories (a scheduled round) reads every alert state
/// in one query; a run of a few repositories reads its keys alone. Series are read per
/// repository, by the table's key (reading the whole 30-day window at once and grouping it
/// measured slower in a scheduled round of 10,000 entities).
struct AlertMemory {
    /// Every alert state, when read at once.
    states: Option<HashMap<String, String>>,
    /// The states to write back (each key once: a run names each repository once).
    changed: Vec<(String, &'static str)>,
}

impl AlertMemory {
    /// Runs with more repositories than this read every state at once.
    const FEW: usize = 32;

    async fn read(store: &Store, repositories: usize) -> Result<Self, StoreError> {
        let states = if repositories > Self::FEW {
            Some(store.alert_states().await?)
        } else {
            None
        };
        Ok(AlertMemory {
            states,
            changed: Vec::new(),
        })
    }

    async fn state(&self, store: &Store, key: &str) -> Result<Option<String>, StoreError> {
        match &self.states {
            Some(states) => Ok(states.get(key).cloned()),
            None => store.alert_state(key).await,
        }
    }

    fn set(&mut self, key: &str, state: &'static str) {
        self.changed.push((key.to_string(), state));
    }
}
