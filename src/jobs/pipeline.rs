//! The real [`Evaluator`]: the catalog, the scorecards and the providers, as `rubric eval` uses
//! them, producing one [`NewRun`] per scorecard with its facts and coverage points.

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::{EvalError, Evaluator, ScorecardInfo};
use crate::catalog::{Catalog, CatalogCache, CatalogSources, Entity};
use crate::config::Config;
use crate::cql::Registry;
use crate::diag::Diagnostic;
use crate::facts::{Fact, FactKey, Source};
use crate::pipeline::{FetchPlan, Pipeline};
use crate::providers::{Providers, StatsSnapshot};
use crate::scorecard::Scorecard;
use crate::scorecard::report::EntityReport;
use crate::store::coverage_facts::UploadsProvider;
use crate::store::{
    CoveragePoint, EntityResult, FactRecord, NewRun, PointSource, RunStatus, Trigger,
};

/// Evaluates the configured scorecards over the catalog with live providers.
pub struct PipelineEvaluator {
    sources: CatalogSources,
    /// Each file's last parse, so that a reload re-parses only the files that changed.
    reloads: tokio::sync::Mutex<CatalogCache>,
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
        let mut reloads = CatalogCache::new(sources.accounts.clone());
        let catalog = reloads.load_sources(&sources).await;
        let (scorecards, mut diags) =
            Scorecard::load_dir(&cfg.scorecards.path, Registry::standard());
        diags.splice(0..0, catalog.diagnostics.iter().cloned());
        let providers = Providers::from_config(cfg)?.with(UploadsProvider::from_config(cfg, None));
        Ok((
            PipelineEvaluator {
                sources,
                reloads: tokio::sync::Mutex::new(reloads),
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

    /// `rubric providers test` over the loaded catalog: host, token and a readable repository
    /// per provider, for `rubric serve` to check its tokens before it starts.
    pub async fn self_test(&self) -> Vec<crate::providers::ProviderReport> {
        let catalog = self.catalog();
        self.providers.self_test(Some(&catalog), None).await
    }

    /// The first sync of `rubric serve`: fetches every fact the scorecards read for every
    /// entity, so that the caches are warm and a provider fault shows before the first run.
    pub async fn first_sync(&self) -> crate::pipeline::sync::SyncSummary {
        let catalog = self.catalog();
        let entities: Vec<&Entity> = catalog.entities.iter().collect();
        let plan = FetchPlan::new(&self.scorecards);
        let (_, summary) =
            crate::pipeline::sync::sync(&self.providers, &catalog, &entities, &plan.keys, &|| {})
                .await;
        self.export_provider_stats();
        summary
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

    /// Re-reads the catalog (before every full run, so new entities are evaluated), parsing
    /// only the files that changed since the last read.
    async fn reload(&self) -> Arc<Catalog> {
        let fresh = Arc::new(self.reloads.lock().await.load_sources(&self.sources).await);
        for d in fresh.diagnostics.iter().filter(|d| d.is_error()) {
            tracing::warn!(diagnostic = %d, "catalog error");
        }
        *self.catalog.write().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
        fresh
    }
}

impl Evaluator for PipelineEvaluator {
    fn scorecards(&self) -> Vec<ScorecardInfo> {
        self.scorecards.iter().map(ScorecardInfo::of).collect()
    }

    fn comparisons(&self) -> Option<&dyn super::risk::Comparisons> {
        self.providers
            .get::<crate::providers::codecov::Codecov>()
            .map(|c| c as &dyn super::risk::Comparisons)
    }

    fn entity_tag(&self, tag_or_ref: &str) -> Option<String> {
        self.catalog().get(tag_or_ref).map(|e| e.tag.clone())
    }

    fn entity_ref(&self, tag: &str) -> Option<String> {
        let catalog = self.catalog();
        let e = catalog.get(tag)?;
        // A Cortex descriptor's entity as Backstage would name it: teams are groups, domains
        // domains, everything else a component, in the default namespace.
        e.backstage_ref.clone().or_else(|| {
            let kind = match e.kind.as_str() {
                "team" => "group",
                "domain" => "domain",
                _ => "component",
            };
            Some(format!("{kind}:default/{}", e.tag))
        })
    }

    fn definition(&self, tag: &str) -> Option<&Scorecard> {
        self.scorecards.iter().find(|c| c.spec.tag == tag)
    }

    fn current_catalog(&self) -> Option<Arc<Catalog>> {
        Some(self.catalog())
    }

    fn evaluate<'a>(
        &'a self,
        scorecard: &'a str,
        entity: Option<&'a str>,
        trigger: Trigger,
    ) -> BoxFuture<'a, Result<NewRun, EvalError>> {
        Box::pin(async move {
            let mut evaluated = None;
            self.runs(&[scorecard], entity, trigger, |run| evaluated = Some(run))
                .await?;
            evaluated.ok_or_else(|| EvalError::UnknownScorecard(scorecard.to_string()))
        })
    }

    fn evaluate_many<'a>(
        &'a self,
        scorecards: &'a [&'a str],
        trigger: Trigger,
    ) -> BoxFuture<'a, Result<Vec<NewRun>, EvalError>> {
        Box::pin(async move {
            let mut runs = Vec::with_capacity(scorecards.len());
            self.runs(scorecards, None, trigger, |run| runs.push(run))
                .await?;
            Ok(runs)
        })
    }

    fn evaluate_each<'a>(
        &'a self,
        scorecards: &'a [&'a str],
        trigger: Trigger,
        done: futures::channel::mpsc::UnboundedSender<NewRun>,
    ) -> BoxFuture<'a, Result<(), EvalError>> {
        Box::pin(self.runs(scorecards, None, trigger, move |run| {
            // A closed receiver no longer wants runs.
            let _ = done.unbounded_send(run);
        }))
    }
}

impl PipelineEvaluator {
    /// One run per scorecard of `tags` (over every entity, or one), all evaluated from one
    /// catalog load and one fetch of the facts any of them reads, each handed to `done` as soon
    /// as it is evaluated. Fails before handing any over.
    async fn runs(
        &self,
        tags: &[&str],
        entity: Option<&str>,
        trigger: Trigger,
        mut done: impl FnMut(NewRun) + Send,
    ) -> Result<(), EvalError> {
        let cards = tags
            .iter()
            .map(|tag| {
                self.scorecards
                    .iter()
                    .find(|c| c.spec.tag == *tag)
                    .cloned()
                    .ok_or_else(|| EvalError::UnknownScorecard(tag.to_string()))
            })
            .collect::<Result<Vec<Scorecard>, EvalError>>()?;
        let loading = std::time::Instant::now();
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
        let pipeline = Pipeline {
            catalog: &catalog,
            scorecards: &cards,
            providers: &self.providers,
        };
        let history = self.providers.history_keys();
        let fetch_started = std::time::Instant::now();
        let (plan, history_at) = FetchPlan::new(pipeline.scorecards).with_keys(&history);
        let facts = self.providers.fetch(&catalog, &entities, &plan.keys).await;
        for tag in tags {
            metrics::histogram!("rubric_provider_fetch_seconds", "scorecard" => tag.to_string())
                .record(fetch_started.elapsed().as_secs_f64());
        }
        self.export_provider_stats();
        tracing::debug!(
            entities = entities.len(),
            catalog_ms = (fetch_started - loading).as_millis() as u64,
            fetch_ms = fetch_started.elapsed().as_millis() as u64,
            "facts fetched"
        );
        let now = crate::clock::now();
        for (card, tag) in tags.iter().enumerate() {
            let evaluating = std::time::Instant::now();
            // Coverage points, pull requests and the history facts they are made of are the
            // repositories', not the scorecards': the first run of the round carries them for
            // all to write (each run keeping the same ones again was most of a scheduled
            // round's rows and bytes). The others carry today's readings, unwritten, for their
            // scorecards' alerts.
            let first = card == 0;
            let mut run = NewRun {
                scorecard: tag.to_string(),
                trigger,
                started_at,
                finished_at: now,
                status: RunStatus::Ok,
                error: None,
                entities: Vec::with_capacity(entities.len()),
                facts: Vec::new(),
                coverage: Vec::new(),
                pulls: Vec::new(),
                coverage_written: !first,
            };
            // The facts this scorecard's run keeps, each key once, with its text: its own keys,
            // then (the first run) the history keys, in the order a plan of this scorecard
            // alone would have them. The same for every entity, so worked out once.
            let history_kept: &[usize] = if first { &history_at } else { &[] };
            let mut seen = BTreeSet::new();
            let kept: Vec<(usize, &FactKey, String)> = plan.slots[card]
                .iter()
                .chain(history_kept)
                .filter_map(|&k| Some((k, plan.keys.get(k)?)))
                .filter(|(_, key)| key.source != Source::Catalog)
                .map(|(k, key)| (k, key, key.to_string()))
                .filter(|(_, _, text)| seen.insert(text.clone()))
                .collect();
            for (i, e) in entities.iter().enumerate() {
                // Evaluation is CPU work: yield now and then, so a shutdown or an abort is
                // seen between entities rather than after the whole run.
                tokio::task::consume_budget().await;
                let all = facts.get(i).map(Vec::as_slice).unwrap_or_default();
                let result = pipeline.evaluate_entity(card, e, &plan, all, now);
                run.entities.push(entity_result(e, result, all, now));
                for (k, key, text) in &kept {
                    if let Some(fact) = all.get(*k) {
                        run.facts.push(fact_record(&e.tag, key, text, fact));
                    }
                }
                run.coverage.extend(self.coverage_points(
                    e,
                    &history,
                    &history_at,
                    all,
                    now,
                    first,
                ));
                if first {
                    run.pulls.extend(self.pulls(e, &history, &history_at, all));
                }
            }
            run.finished_at = crate::clock::now();
            tracing::debug!(
                scorecard = tag,
                evaluate_ms = evaluating.elapsed().as_millis() as u64,
                "scorecard evaluated"
            );
            done(run);
        }
        Ok(())
    }
}

impl PipelineEvaluator {
    /// The answers of `provider`'s history keys for `e` (`history[j]` is answered by
    /// `facts[at[j]]`).
    fn history_answers<'f>(
        provider: &dyn crate::providers::Provider,
        history: &[FactKey],
        at: &[usize],
        facts: &'f [Fact],
        missing: &'f Fact,
    ) -> Vec<&'f Fact> {
        provider
            .history_keys()
            .iter()
            .map(|k| {
                history
                    .iter()
                    .position(|h| h == k)
                    .and_then(|j| facts.get(at[j]))
                    .unwrap_or(missing)
            })
            .collect()
    }

    /// The open pull requests every provider reports for `e`'s repository.
    fn pulls(
        &self,
        e: &Entity,
        history: &[FactKey],
        at: &[usize],
        facts: &[Fact],
    ) -> Vec<crate::store::PullRecord> {
        let missing = Fact::error("not fetched");
        self.providers
            .all()
            .iter()
            .flat_map(|p| {
                let answers = Self::history_answers(p.as_ref(), history, at, facts, &missing);
                p.open_pulls(e, &answers)
                    .into_iter()
                    .map(|r| crate::store::PullRecord {
                        repository: r.repository,
                        provider: p.source().to_string(),
                        pullid: r.pullid,
                        title: r.title,
                        base_coverage: r.base,
                        head_coverage: r.head,
                        patch_coverage: r.patch,
                        delta: r
                            .base
                            .zip(r.head)
                            .map(|(b, h)| ((h - b) * 100.0).round() / 100.0),
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Each provider's coverage history point for `e`, from the answers to its history keys
    /// (`history[j]` is answered by `facts[at[j]]`), after the provider's earlier days when
    /// `backfill`.
    fn coverage_points(
        &self,
        e: &Entity,
        history: &[FactKey],
        at: &[usize],
        facts: &[Fact],
        now: DateTime<Utc>,
        backfill: bool,
    ) -> Vec<CoveragePoint> {
        let missing = Fact::error("not fetched");
        self.providers
            .all()
            .iter()
            .filter_map(|p| {
                let answers = Self::history_answers(p.as_ref(), history, at, facts, &missing);
                let reading = p.history_point(e, &answers)?;
                let point = |day, coverage, source| CoveragePoint {
                    entity: e.tag.clone(),
                    repository: reading.repository.clone(),
                    flag: reading.flag.clone(),
                    provider: p.source().to_string(),
                    day,
                    coverage,
                    last_upload_at: (source == PointSource::Run)
                        .then_some(reading.last_upload_at)
                        .flatten(),
                    source,
                };
                let today = now.date_naive();
                let earlier = if backfill {
                    p.history_backfill(e, &answers)
                } else {
                    Vec::new()
                };
                let mut points: Vec<CoveragePoint> = earlier
                    .into_iter()
                    .filter(|(day, _)| *day < today)
                    .map(|(day, coverage)| point(day, coverage, PointSource::Backfill))
                    .collect();
                points.push(point(today, reading.coverage, PointSource::Run));
                Some(points)
            })
            .flatten()
            .collect()
    }
}

/// The stored form of an entity's report: its rules kept whole.
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
        percentage: r.percentage,
        next_steps: serde_json::to_value(&r.next_steps).unwrap_or_default(),
        evaluated_at: now,
        data_as_of: oldest_stale
            .map(|s| now - chrono::TimeDelta::seconds(i64::try_from(s).unwrap_or(i64::MAX / 2))),
        rules: r.rules,
    }
}

/// `fact`, fetched for `entity`'s `key` (whose text is `text`), as a run stores it.
fn fact_record(entity: &str, key: &FactKey, text: &str, fact: &Fact) -> FactRecord {
    FactRecord {
        entity: entity.to_string(),
        provider: key.source.clone(),
        key: text.to_string(),
        value: fact.value.to_json(),
        status: fact.status.state(),
        reason: fact.null_reason().map(str::to_string),
        stale_secs: fact
            .stale_secs
            .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
    }
}
