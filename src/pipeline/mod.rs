//! The evaluation pipeline, the one path every command and the service take: **plan** the
//! union of the fact keys of the scorecards (and of any extra keys the caller keeps, such as
//! coverage history), **fetch** them once for all entities through the [`Providers`] (live
//! providers, or a facts file, and the catalog), then **evaluate** every rule per entity into
//! one [`EvalReport`]. Catalog calls with computed arguments are answered during evaluation.

pub mod sync;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::catalog::{Catalog, Entity};
use crate::facts::{Fact, FactKey};
use crate::providers::Providers;
use crate::scorecard::Scorecard;
use crate::scorecard::report::{EntityReport, EvalReport, ScorecardReport};

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
        let mut plan = FetchPlan::default();
        let mut index: HashMap<FactKey, usize> = HashMap::new();
        for card in scorecards {
            let slots = card
                .fact_keys()
                .iter()
                .map(|key| plan.intern(&mut index, key))
                .collect();
            plan.slots.push(slots);
        }
        plan
    }

    /// Adds `extra` keys (those already planned are shared); returns where each one is.
    pub fn with_keys(mut self, extra: &[FactKey]) -> (FetchPlan, Vec<usize>) {
        let mut index: HashMap<FactKey, usize> = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        let at = extra.iter().map(|k| self.intern(&mut index, k)).collect();
        (self, at)
    }

    fn intern(&mut self, index: &mut HashMap<FactKey, usize>, key: &FactKey) -> usize {
        if let Some(&i) = index.get(key) {
            return i;
        }
        self.keys.push(key.clone());
        index.insert(key.clone(), self.keys.len() - 1);
        self.keys.len() - 1
    }
}

/// The stages wired once: what is evaluated, over which catalog, with which providers.
#[derive(Clone, Copy, Debug)]
pub struct Pipeline<'a> {
    /// The catalog the entities come from (catalog facts read it).
    pub catalog: &'a Catalog,
    /// The scorecards to evaluate.
    pub scorecards: &'a [Scorecard],
    /// Where facts come from.
    pub providers: &'a Providers,
}

impl Pipeline<'_> {
    /// Plans, fetches and evaluates for `entities` (every entity of the catalog when `None`);
    /// `now` is the evaluation time. The report's diagnostics are left for the caller to fill.
    pub async fn run(&self, entities: Option<&[&Entity]>, now: DateTime<Utc>) -> EvalReport {
        let all: Vec<&Entity>;
        let entities = match entities {
            Some(e) => e,
            None => {
                all = self.catalog.entities.iter().collect();
                &all
            }
        };
        let (plan, facts) = self.fetch(entities).await;
        self.evaluate(entities, &plan, &facts, now)
    }

    /// Plans and fetches the facts of `entities`: `facts[e][k]` answers `plan.keys[k]` for
    /// `entities[e]`.
    pub async fn fetch(&self, entities: &[&Entity]) -> (FetchPlan, Vec<Vec<Fact>>) {
        let plan = FetchPlan::new(self.scorecards);
        let facts = self
            .providers
            .fetch(self.catalog, entities, &plan.keys)
            .await;
        (plan, facts)
    }

    /// The report [`Pipeline::evaluate`] gives, with each entity evaluated only while the
    /// report is serialized and dropped once written: the same bytes, with memory for one
    /// entity's results at a time instead of the whole report's.
    pub fn streamed<'b>(
        &'b self,
        entities: &'b [&'b Entity],
        plan: &'b FetchPlan,
        facts: &'b [Vec<Fact>],
        now: DateTime<Utc>,
    ) -> StreamedReport<'b> {
        self.report(entities, plan, facts, now, |evaluated| evaluated)
    }

    /// The report skeleton of every scorecard, with `entities` made by `results` from each
    /// scorecard's [`Evaluated`] results.
    fn report<'b, E>(
        &'b self,
        entities: &'b [&'b Entity],
        plan: &'b FetchPlan,
        facts: &'b [Vec<Fact>],
        now: DateTime<Utc>,
        results: impl Fn(Evaluated<'b>) -> E,
    ) -> EvalReport<ScorecardReport<E>> {
        let scorecards = self
            .scorecards
            .iter()
            .enumerate()
            .map(|(card, scorecard)| {
                scorecard.report_with(results(Evaluated {
                    pipeline: *self,
                    card,
                    entities,
                    plan,
                    facts,
                    now,
                }))
            })
            .collect();
        EvalReport {
            evaluated_at: now,
            scorecards,
            diagnostics: Vec::new(),
        }
    }

    /// Evaluates with facts already fetched: `facts[e][k]` answers `plan.keys[k]` for
    /// `entities[e]`. A missing fact (a short list) is an error fact, never a panic.
    pub fn evaluate(
        &self,
        entities: &[&Entity],
        plan: &FetchPlan,
        facts: &[Vec<Fact>],
        now: DateTime<Utc>,
    ) -> EvalReport {
        self.report(entities, plan, facts, now, |evaluated| {
            evaluated.iter().collect()
        })
    }

    /// Evaluates the `card`-th scorecard for one entity, whose facts `row` answer
    /// `plan.keys` (a missing fact is an error fact).
    pub fn evaluate_entity(
        &self,
        card: usize,
        entity: &Entity,
        plan: &FetchPlan,
        row: &[Fact],
        now: DateTime<Utc>,
    ) -> EntityReport {
        let missing = Fact::error("the provider returned no value for this fact");
        let slots = plan.slots.get(card).map(Vec::as_slice).unwrap_or_default();
        let facts: Vec<Fact> = slots
            .iter()
            .map(|&k| row.get(k).unwrap_or(&missing).clone())
            .collect();
        let lookup = self.providers.lookup_for(entity, self.catalog);
        self.scorecards[card].evaluate(entity, self.catalog, &facts, &lookup, now)
    }
}

/// A report whose entities are evaluated while it is serialized ([`Pipeline::streamed`]).
pub type StreamedReport<'a> = EvalReport<ScorecardReport<Evaluated<'a>>>;

/// The entity results of one scorecard, evaluated one at a time: as an iterator, or serialized
/// as the list of [`EntityReport`]s (each dropped once written). See [`Pipeline::streamed`].
#[derive(Clone, Copy, Debug)]
pub struct Evaluated<'a> {
    pipeline: Pipeline<'a>,
    card: usize,
    entities: &'a [&'a Entity],
    plan: &'a FetchPlan,
    facts: &'a [Vec<Fact>],
    now: DateTime<Utc>,
}

impl Evaluated<'_> {
    /// Each entity's result, in entity order, evaluated as it is taken.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = EntityReport> + '_ {
        self.entities.iter().enumerate().map(|(e, entity)| {
            let row = self.facts.get(e).map(Vec::as_slice).unwrap_or_default();
            self.pipeline
                .evaluate_entity(self.card, entity, self.plan, row, self.now)
        })
    }
}

impl Serialize for Evaluated<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::cql::Registry;
    use crate::providers::FactsFile;

    /// The streamed report is written with exactly the bytes of the report built whole, for
    /// the sample catalog and scorecards: passing and failing rules, captures in failure
    /// messages, missing facts, filters and exemptions.
    #[tokio::test]
    async fn the_streamed_report_is_the_whole_report_byte_for_byte() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let catalog = Catalog::load(&root.join("entities"));
        let (scorecards, _) = Scorecard::load_dir(&root.join("scorecards"), Registry::standard());
        assert!(!catalog.entities.is_empty() && !scorecards.is_empty());
        let coverage = |n: f64| {
            BTreeMap::from([(
                "codecov.codeCoverage()".to_string(),
                Fact::ok(crate::value::Value::Number(n)),
            )])
        };
        let file = FactsFile {
            generated_at: None,
            entities: BTreeMap::from([
                ("payments-api".to_string(), coverage(97.42)),
                ("ledger".to_string(), coverage(64.2)),
            ]),
        };
        let providers = Providers::from_facts_file(file);
        let pipeline = Pipeline {
            catalog: &catalog,
            scorecards: &scorecards,
            providers: &providers,
        };
        let entities: Vec<&Entity> = catalog.entities.iter().collect();
        let (plan, facts) = pipeline.fetch(&entities).await;
        let now = "2026-11-22T06:00:00Z".parse().unwrap();
        let whole = pipeline.evaluate(&entities, &plan, &facts, now).to_json();
        assert!(whole.contains("from 64.2% to 80% or more"), "{whole}");
        let streamed = pipeline.streamed(&entities, &plan, &facts, now);
        assert_eq!(serde_json::to_string_pretty(&streamed).unwrap(), whole);
    }
}
