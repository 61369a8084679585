//! The real [`Evaluator`]: the catalog, the scorecards and the providers, as `rubric eval` uses
//! them, producing one [`NewRun`] per scorecard with its facts and coverage points.

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::{EvalError, Evaluator, ScorecardInfo};
use crate::catalog::{Catalog, CatalogSources, Entity};
use crate::config::Config;
use crate::cql::Registry;
use crate::diag::Diagnostic;
use crate::facts::{Fact, FactKey, FactStatus};
use crate::providers::{Providers, StatsSnapshot};
use crate::scorecard::Scorecard;
use crate::scorecard::report::EntityReport;
use crate::store::{
    CoveragePoint, EntityResult, FactRecord, NewRun, RuleResult, RunStatus, Trigger,
};
use crate::value::Value;

/// Evaluates the configured scorecards over the catalog with live providers.
pub struct PipelineEvaluator {
    sources: CatalogSources,
    catalog: RwLock<Arc<Catalog>>,
    scorecards: Vec<Scorecard>,
    providers: Providers,
    /// Provider counters already exported to the metrics recorder.
    exported: Mutex<HashMap<&'static str, StatsSnapshot>>,
}

impl std::fmt::Debug for PipelineEvaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineEvaluator")
            .field("catalog", &self.sources.dir)
            .field("scorecards", &self.scorecards.len())
            .finish_non_exhaustive()
    }
}

impl PipelineEvaluator {
    /// Loads the catalog (files and Backstage, as configured) and the scorecards, and builds the
    /// providers. Returns the evaluator and every diagnostic met (a bad file excludes only itself).
    pub async fn load(
        cfg: &Config,
    ) -> Result<(PipelineEvaluator, Vec<Diagnostic>), crate::config::ConfigError> {
        let sources = CatalogSources::from_config(cfg);
        let catalog = Catalog::load_sources(&sources).await;
        let (scorecards, mut diags) =
            Scorecard::load_dir(&cfg.scorecards.path, Registry::standard());
        diags.splice(0..0, catalog.diagnostics.iter().cloned());
        let providers = Providers::from_config(cfg)?;
        Ok((
            PipelineEvaluator {
                sources,
                catalog: RwLock::new(Arc::new(catalog)),
                scorecards,
                providers,
                exported: Mutex::new(HashMap::new()),
            },
            diags,
        ))
    }

    fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds the providers' counters since the last export to the Prometheus metrics.
    fn export_provider_stats(&self) {
        let mut exported = self.exported.lock().unwrap_or_else(|p| p.into_inner());
        for (provider, now) in self.providers.stats() {
            let before = exported.insert(provider, now).unwrap_or_default();
            let d = now.since(&before);
            for (name, n) in [
                ("rubric_provider_requests_total", d.requests),
                ("rubric_provider_retries_total", d.retries),
                ("rubric_provider_throttled_total", d.throttled),
                ("rubric_provider_errors_total", d.errors),
                ("rubric_provider_cache_hits_total", d.cache_hits),
                ("rubric_provider_stale_served_total", d.stale_served),
            ] {
                metrics::counter!(name, "provider" => provider).increment(n);
            }
        }
    }

    /// Re-reads the catalog (before every full run, so new entities are evaluated).
    async fn reload(&self) -> Arc<Catalog> {
        let fresh = Arc::new(Catalog::load_sources(&self.sources).await);
        for d in fresh.diagnostics.iter().filter(|d| d.is_error()) {
            tracing::warn!(diagnostic = %d, "catalog error");
        }
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
        fresh
    }
}

/// The facts kept for coverage history, fetched with every run for mapped entities.
fn coverage_keys() -> [FactKey; 2] {
    [
        FactKey::new("codecov", "codecov", "codeCoverage"),
        FactKey::new("codecov", "codecov", "lastUploadAt"),
    ]
}

impl Evaluator for PipelineEvaluator {
    fn scorecards(&self) -> Vec<ScorecardInfo> {
        self.scorecards
            .iter()
            .map(|card| {
                let report = card.report();
                ScorecardInfo {
                    tag: report.tag,
                    name: report.name,
                    description: report.description.unwrap_or_default(),
                    window_hours: card
                        .spec
                        .evaluation_window_hours
                        .map(|h| u32::try_from(h).unwrap_or(u32::MAX)),
                    draft: report.draft,
                    levels: report
                        .levels
                        .into_iter()
                        .map(|l| (l.name, l.rank))
                        .collect(),
                }
            })
            .collect()
    }

    fn entity_tag(&self, tag_or_ref: &str) -> Option<String> {
        self.catalog().get(tag_or_ref).map(|e| e.tag.clone())
    }

    fn evaluate<'a>(
        &'a self,
        scorecard: &'a str,
        entity: Option<&'a str>,
        trigger: Trigger,
    ) -> BoxFuture<'a, Result<NewRun, EvalError>> {
        Box::pin(async move {
            let card = self
                .scorecards
                .iter()
                .find(|c| c.spec.tag == scorecard)
                .ok_or_else(|| EvalError::UnknownScorecard(scorecard.to_string()))?;
            let catalog = if entity.is_some() {
                self.catalog()
            } else {
                self.reload().await
            };
            let entities: Vec<&Entity> = match entity {
                Some(tag) => vec![
                    catalog
                        .get(tag)
                        .ok_or_else(|| EvalError::UnknownEntity(tag.to_string()))?,
                ],
                None => catalog.entities.iter().collect(),
            };
            let started_at = crate::clock::now();
            let extra = coverage_keys();
            let mut keys: Vec<FactKey> = card.fact_keys().to_vec();
            let extra_at: Vec<usize> = extra
                .iter()
                .map(|k| match keys.iter().position(|have| have == k) {
                    Some(i) => i,
                    None => {
                        keys.push(k.clone());
                        keys.len() - 1
                    }
                })
                .collect();
            let fetch_started = std::time::Instant::now();
            let facts = self.providers.fetch(&catalog, &entities, &keys).await;
            metrics::histogram!("rubric_provider_fetch_seconds", "scorecard" => scorecard.to_string())
                .record(fetch_started.elapsed().as_secs_f64());
            self.export_provider_stats();
            let now = crate::clock::now();
            let missing = Fact::error("the provider returned no value for this fact");
            let mut run = NewRun {
                scorecard: scorecard.to_string(),
                trigger,
                started_at,
                finished_at: now,
                status: RunStatus::Ok,
                error: None,
                entities: Vec::with_capacity(entities.len()),
                facts: Vec::new(),
                coverage: Vec::new(),
            };
            for (i, e) in entities.iter().enumerate() {
                // Evaluation is CPU work: yield now and then, so a shutdown or an abort is
                // seen between entities rather than after the whole run.
                tokio::task::consume_budget().await;
                let all = facts.get(i).map(Vec::as_slice).unwrap_or_default();
                let own: Vec<Fact> = (0..card.fact_keys().len())
                    .map(|k| all.get(k).unwrap_or(&missing).clone())
                    .collect();
                let report = card.evaluate(e, &catalog, &own, now);
                run.entities.push(entity_result(e, report, &own, now));
                let mut seen = BTreeSet::new();
                for (key, fact) in keys.iter().zip(all) {
                    if key.source == "catalog" || !seen.insert(key.to_string()) {
                        continue;
                    }
                    run.facts.push(fact_record(&e.tag, key, fact));
                }
                if let Some(point) =
                    coverage_point(e, all.get(extra_at[0]), all.get(extra_at[1]), now)
                {
                    run.coverage.push(point);
                }
            }
            run.finished_at = crate::clock::now();
            Ok(run)
        })
    }
}

fn entity_result(e: &Entity, r: EntityReport, facts: &[Fact], now: DateTime<Utc>) -> EntityResult {
    let oldest_stale = facts.iter().filter_map(|f| f.stale_secs).max();
    EntityResult {
        entity: r.entity,
        entity_name: if e.name.is_empty() {
            e.tag.clone()
        } else {
            e.name.clone()
        },
        level: r.level,
        level_rank: r.rank,
        next_level: r.next_level,
        score: r.score,
        max_score: r.max_score,
        percentage: r.percentage.unwrap_or(0.0),
        next_steps: serde_json::to_value(&r.next_steps).unwrap_or_default(),
        evaluated_at: now,
        data_as_of: oldest_stale
            .map(|s| now - chrono::TimeDelta::seconds(i64::try_from(s).unwrap_or(i64::MAX / 2))),
        rules: r
            .rules
            .into_iter()
            .map(|rule| RuleResult {
                message: match &rule.failure_message {
                    Some(m) if !m.is_empty() => format!("{} — {m}", rule.message),
                    _ => rule.message.clone(),
                },
                title: rule.title,
                expression: rule.expression,
                level: rule.level,
                weight: rule.weight,
                outcome: rule.outcome.as_str().to_string(),
                value: serde_json::json!({ "value": rule.value, "captures": rule.captures }),
            })
            .collect(),
    }
}

fn fact_record(entity: &str, key: &FactKey, fact: &Fact) -> FactRecord {
    let (status, reason) = match &fact.status {
        FactStatus::Ok => ("ok", None),
        FactStatus::NoData(r) => ("no_data", Some(r.clone())),
        FactStatus::Error(r) => ("error", Some(r.clone())),
    };
    FactRecord {
        entity: entity.to_string(),
        provider: key.source.clone(),
        key: key.to_string(),
        value: fact.value.to_json(),
        status: status.to_string(),
        reason,
        stale_secs: fact
            .stale_secs
            .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
    }
}

fn coverage_point(
    e: &Entity,
    coverage: Option<&Fact>,
    upload: Option<&Fact>,
    now: DateTime<Utc>,
) -> Option<CoveragePoint> {
    let project = e.codecov.as_ref()?;
    let Some(Fact {
        value: Value::Number(pct),
        status: FactStatus::Ok,
        ..
    }) = coverage
    else {
        return None;
    };
    let last_upload_at = match upload {
        Some(Fact {
            value: Value::Timestamp(t),
            ..
        }) => Some(*t),
        _ => None,
    };
    Some(CoveragePoint {
        entity: e.tag.clone(),
        repository: format!("{}/{}", project.owner, project.repo),
        flag: project.flag.clone().unwrap_or_default(),
        provider: "codecov".into(),
        day: now.date_naive(),
        coverage: *pct,
        last_upload_at,
    })
}
