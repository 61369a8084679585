//! `rubric sync`: fetch every provider fact the scorecards need for every entity, and sum up
//! what it cost (requests, cache hits, retries, 429s, errors per provider).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use crate::catalog::{Catalog, Entity};
use crate::facts::{FactKey, FactStatus, Source};
use crate::providers::{FactsFile, Providers, StatsSnapshot};

/// Every provider fact rubric can fetch without a rule's arguments (each provider's
/// [`crate::providers::Provider::sync_keys`]). Used when no scorecard names the facts it needs.
pub fn provider_keys(providers: &Providers) -> Vec<FactKey> {
    providers.all().iter().flat_map(|p| p.sync_keys()).collect()
}

/// What a sync did.
#[derive(Clone, Debug, Default)]
pub struct SyncSummary {
    /// Entities synced.
    pub entities: usize,
    /// Of those, entities with a Codecov mapping.
    pub mapped: usize,
    /// Facts with a value.
    pub ok: usize,
    /// Facts without data (unmapped, no uploads...).
    pub no_data: usize,
    /// Facts that failed, by data source.
    pub errors: BTreeMap<String, usize>,
    /// HTTP counters per provider during this sync.
    pub providers: Vec<(&'static str, StatsSnapshot)>,
    /// Wall time.
    pub elapsed: Duration,
}

impl fmt::Display for SyncSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors: usize = self.errors.values().sum();
        writeln!(
            f,
            "synced {} entities ({} mapped to Codecov) in {:.2} s: {} facts ok, {} no data, {} errors",
            self.entities,
            self.mapped,
            self.elapsed.as_secs_f64(),
            self.ok,
            self.no_data,
            errors
        )?;
        for (name, s) in &self.providers {
            let failed = self
                .errors
                .get(&name.to_ascii_lowercase())
                .copied()
                .unwrap_or(0);
            writeln!(
                f,
                "  {name}: {} requests, {} cache hits, {} retries, {} rate-limited (429), {} failed requests, {} stale values, {failed} facts in error",
                s.requests, s.cache_hits, s.retries, s.throttled, s.errors, s.stale_served
            )?;
        }
        for (source, n) in &self.errors {
            if !self
                .providers
                .iter()
                .any(|(p, _)| p.eq_ignore_ascii_case(source))
            {
                writeln!(f, "  {source}: {n} facts in error")?;
            }
        }
        Ok(())
    }
}

/// Fetches `keys` (provider keys only: catalog facts are read at evaluation) for every entity
/// of `entities`, calling `entity_done` as each completes.
pub async fn sync(
    providers: &Providers,
    catalog: &Catalog,
    entities: &[&Entity],
    keys: &[FactKey],
    entity_done: &(dyn Fn() + Sync),
) -> (FactsFile, SyncSummary) {
    let keys: Vec<FactKey> = keys
        .iter()
        .filter(|k| k.source != Source::Catalog)
        .cloned()
        .collect();
    let before = providers.stats();
    let start = Instant::now();
    let facts = providers
        .fetch_with_progress(catalog, entities, &keys, entity_done)
        .await;
    let elapsed = start.elapsed();
    let mut summary = SyncSummary {
        entities: entities.len(),
        mapped: entities.iter().filter(|e| e.codecov.is_some()).count(),
        elapsed,
        providers: providers
            .stats()
            .into_iter()
            .map(|(name, after)| {
                let b = before
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, s)| *s)
                    .unwrap_or_default();
                (name, after.since(&b))
            })
            .collect(),
        ..SyncSummary::default()
    };
    for row in &facts {
        for (key, fact) in keys.iter().zip(row) {
            match &fact.status {
                FactStatus::Ok => summary.ok += 1,
                FactStatus::NoData(_) => summary.no_data += 1,
                FactStatus::Error(_) => {
                    *summary.errors.entry(key.source.to_string()).or_default() += 1
                }
            }
        }
    }
    (
        FactsFile::from_fetch(entities, &keys, &facts, crate::clock::now()),
        summary,
    )
}
