//! The evaluation pipeline: the union of every scorecard's facts is fetched once for all
//! entities (catalog facts resolved from the catalog, the rest concurrently by the providers),
//! then every rule is evaluated per entity.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::catalog::{Catalog, Entity};
use crate::config::Config;
use crate::cql::catalog_facts;
use crate::facts::{Fact, FactKey};
use crate::providers::{FactsFile, Providers};
use crate::scorecard::Scorecard;
use crate::scorecard::report::EvalReport;

/// The facts every scorecard needs, fetched once: one key list for all scorecards and, per
/// scorecard, where each of its slots is in that list.
#[derive(Clone, Debug, Default)]
pub struct FetchPlan {
    /// Every distinct fact key, in first-seen order.
    pub keys: Vec<FactKey>,
    /// Per scorecard, the index in `keys` of each of its slots.
    pub slots: Vec<Vec<usize>>,
}

impl FetchPlan {
    /// Unions the fact keys of `scorecards`.
    pub fn new(scorecards: &[Scorecard]) -> FetchPlan {
        let mut index: HashMap<&FactKey, usize> = HashMap::new();
        let mut plan = FetchPlan::default();
        for card in scorecards {
            let mut slots = Vec::with_capacity(card.fact_keys().len());
            for key in card.fact_keys() {
                let i = *index.entry(key).or_insert_with(|| {
                    plan.keys.push(key.clone());
                    plan.keys.len() - 1
                });
                slots.push(i);
            }
            plan.slots.push(slots);
        }
        plan
    }
}

/// Evaluates every scorecard over every entity of `catalog`, fetching facts with `providers`.
/// `_cfg` is the configuration the providers were built from (evaluation itself has no
/// settings yet). The report's diagnostics are left for the caller to fill.
pub async fn run(
    _cfg: &Config,
    catalog: &Catalog,
    scorecards: &[Scorecard],
    providers: &Providers,
    now: DateTime<Utc>,
) -> EvalReport {
    let plan = FetchPlan::new(scorecards);
    let facts = fetch(catalog, &plan.keys, providers).await;
    evaluate(catalog, scorecards, &plan, &facts, now)
}

/// Answers `keys` for every entity of `catalog`: `facts[e][k]` answers `keys[k]` for
/// `catalog.entities[e]`. Catalog facts come from the catalog; the others from the providers,
/// in one concurrent fetch.
pub async fn fetch(catalog: &Catalog, keys: &[FactKey], providers: &Providers) -> Vec<Vec<Fact>> {
    let entities: Vec<&Entity> = catalog.entities.iter().collect();
    fetch_for(catalog, &entities, keys, providers).await
}

/// The facts of a facts file (`rubric sync --out`) for every entity of `catalog`, laid out as
/// [`fetch`] gives them: catalog facts from the catalog, the others from the file (a fact the
/// file lacks is an error fact saying so). No request is made.
pub fn facts_from_file(catalog: &Catalog, keys: &[FactKey], file: &FactsFile) -> Vec<Vec<Fact>> {
    catalog
        .entities
        .iter()
        .map(|entity| {
            keys.iter()
                .map(|key| match key.source.as_str() {
                    "catalog" => catalog_facts::resolve(key, entity, catalog),
                    _ => file
                        .facts_for(&entity.tag, std::slice::from_ref(key))
                        .remove(0),
                })
                .collect()
        })
        .collect()
}

/// [`fetch`] for some entities of `catalog` only.
pub async fn fetch_for(
    catalog: &Catalog,
    entities: &[&Entity],
    keys: &[FactKey],
    providers: &Providers,
) -> Vec<Vec<Fact>> {
    let remote: Vec<FactKey> = keys
        .iter()
        .filter(|k| k.source != "catalog")
        .cloned()
        .collect();
    let fetched = if remote.is_empty() {
        vec![Vec::new(); entities.len()]
    } else {
        providers.fetch(catalog, entities, &remote).await
    };
    let missing = Fact::error("the provider returned no value for this fact");
    entities
        .iter()
        .zip(fetched)
        .map(|(entity, remote_facts)| {
            let mut remote_facts = remote_facts.into_iter();
            keys.iter()
                .map(|key| match key.source.as_str() {
                    "catalog" => catalog_facts::resolve(key, entity, catalog),
                    _ => remote_facts.next().unwrap_or_else(|| missing.clone()),
                })
                .collect()
        })
        .collect()
}

/// Evaluates with facts already fetched: `facts[e][k]` answers `plan.keys[k]` for
/// `catalog.entities[e]`. A missing fact (a short list) is an error fact, never a panic.
pub fn evaluate(
    catalog: &Catalog,
    scorecards: &[Scorecard],
    plan: &FetchPlan,
    facts: &[Vec<Fact>],
    now: DateTime<Utc>,
) -> EvalReport {
    let missing = Fact::error("the provider returned no value for this fact");
    let mut report = EvalReport {
        evaluated_at: now,
        scorecards: Vec::new(),
        diagnostics: Vec::new(),
    };
    for (card, slots) in scorecards.iter().zip(&plan.slots) {
        let mut card_report = card.report();
        for (e, entity) in catalog.entities.iter().enumerate() {
            let entity_facts: Vec<Fact> = slots
                .iter()
                .map(|&k| {
                    facts
                        .get(e)
                        .and_then(|f| f.get(k))
                        .unwrap_or(&missing)
                        .clone()
                })
                .collect();
            card_report
                .entities
                .push(card.evaluate(entity, catalog, &entity_facts, now));
        }
        report.scorecards.push(card_report);
    }
    report
}
