//! Providers: the data sources facts come from, behind one contract, [`Provider`].
//!
//! A provider answers the [`FactKey`]s of its [`Source`] for an entity: the catalog from
//! memory ([`catalog`]), Codecov and Datadog over HTTP, each behind its own cache, concurrency
//! and rate limits, and a facts file offline ([`FactsFile`]). [`Providers`] holds the ones the
//! configuration enables and routes each key to the provider of its source. Nothing fails as a
//! whole: every fault becomes an error [`Fact`] whose message names it.
//!
//! Adding a provider is one module implementing [`Provider`], its rows in the CQL function
//! registry (`source: "name"`), its configuration section, and one line in
//! [`Providers::from_config`].

pub mod cache;
pub mod catalog;
pub mod codecov;
pub mod datadog;
pub mod facts_file;
pub mod http;
pub mod measure;
pub mod repo_list;
pub mod secrets;
pub mod self_test;

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::{BoxFuture, join_all};
use futures::stream::{self, StreamExt};

use crate::catalog::{Catalog, CodecovProject, Entity};
use crate::config::{Config, ConfigError};
use crate::facts::{Fact, FactKey, Lookup, Source};

pub use facts_file::{FactsFile, FactsFileError, load_facts_file, save_facts_file};
pub use http::StatsSnapshot;
pub use self_test::ProviderReport;

/// One coverage measurement a provider reports for an entity, kept as daily history with every
/// scheduled run (see [`Provider::history_point`]).
#[derive(Clone, Debug, PartialEq)]
pub struct CoverageReading {
    /// The repository it measures, as the provider names it (`acme/api`).
    pub repository: String,
    /// The flag or sub-project, `""` for the whole repository.
    pub flag: String,
    /// Line coverage, percent.
    pub coverage: f64,
    /// When coverage was last uploaded, if the provider knows.
    pub last_upload_at: Option<DateTime<Utc>>,
}

/// The coverage and last upload of the first two answers to a provider's history keys (a
/// number, then a timestamp); `None` without the number.
pub fn reading_values(facts: &[&Fact]) -> Option<(f64, Option<DateTime<Utc>>)> {
    let coverage = match facts.first() {
        Some(Fact {
            value: crate::value::Value::Number(pct),
            status: crate::facts::FactStatus::Ok,
            ..
        }) => *pct,
        _ => return None,
    };
    let last_upload_at = match facts.get(1) {
        Some(Fact {
            value: crate::value::Value::Timestamp(t),
            ..
        }) => Some(*t),
        _ => None,
    };
    Some((coverage, last_upload_at))
}

/// The `(day, coverage)` pairs of a daily-history answer (`[{day, coverage}]`).
pub fn daily_points(fact: Option<&&Fact>) -> Vec<(NaiveDate, f64)> {
    let Some(Fact {
        value: crate::value::Value::List(points),
        status: crate::facts::FactStatus::Ok,
        ..
    }) = fact
    else {
        return Vec::new();
    };
    points
        .iter()
        .filter_map(|p| {
            let p = p.to_json();
            Some((
                p.get("day")?.as_str()?.parse().ok()?,
                p.get("coverage")?.as_f64()?,
            ))
        })
        .collect()
}

/// An open pull request of an entity's repository and the coverage it changes (see
/// [`Provider::open_pulls`]).
#[derive(Clone, Debug, PartialEq)]
pub struct PullReading {
    /// The repository, as [`CoverageReading::repository`] names it.
    pub repository: String,
    /// Its number.
    pub pullid: i64,
    /// Its title.
    pub title: String,
    /// Base, head and patch coverage, percent.
    pub base: Option<f64>,
    /// See `base`.
    pub head: Option<f64>,
    /// See `base`.
    pub patch: Option<f64>,
}

/// A data source: the contract every provider implements.
pub trait Provider: std::any::Any + Send + Sync + std::fmt::Debug {
    /// The source whose keys it answers.
    fn source(&self) -> Source;

    /// Whether it answers keys of `source` (its own source, unless it stands in for others as
    /// a facts file does).
    fn answers(&self, source: &Source) -> bool {
        *source == self.source()
    }

    /// Answers one key for one entity; never fails as a whole.
    fn answer<'a>(
        &'a self,
        key: &'a FactKey,
        entity: &'a Entity,
        catalog: &'a Catalog,
    ) -> BoxFuture<'a, Fact>;

    /// Told, before a fetch starts, which keys it will ask for which entities, so a provider
    /// can read many entities' answers in fewer requests (Codecov's repository lists).
    fn plan(&self, _entities: &[&Entity], _keys: &[FactKey]) {}

    /// Answers a key while a rule is evaluated, for a source held in memory whose functions
    /// accept computed arguments; `None` for sources that are fetched before evaluation.
    fn lookup(&self, _key: &FactKey, _entity: &Entity, _catalog: &Catalog) -> Option<Fact> {
        None
    }

    /// The facts `rubric sync` fetches when no scorecard names any: those it can answer
    /// without a rule's arguments.
    fn sync_keys(&self) -> Vec<FactKey> {
        Vec::new()
    }

    /// The facts fetched with every scheduled run to keep coverage history (in the order
    /// [`Provider::history_point`] receives their answers).
    fn history_keys(&self) -> Vec<FactKey> {
        Vec::new()
    }

    /// The coverage history point for `entity` from the answers to
    /// [`Provider::history_keys`], when there is one.
    fn history_point(&self, _entity: &Entity, _facts: &[&Fact]) -> Option<CoverageReading> {
        None
    }

    /// Earlier daily coverage of `entity`'s repository from the answers to
    /// [`Provider::history_keys`] (the provider's own history of the last 30 days), so that
    /// trends exist from the first run: `(day, percent)`, oldest first.
    fn history_backfill(&self, _entity: &Entity, _facts: &[&Fact]) -> Vec<(NaiveDate, f64)> {
        Vec::new()
    }

    /// The open pull requests of `entity`'s repository from the answers to
    /// [`Provider::history_keys`], for the pull-request list of the service.
    fn open_pulls(&self, _entity: &Entity, _facts: &[&Fact]) -> Vec<PullReading> {
        Vec::new()
    }

    /// Its request counters, named (`codecov`), for sources that make requests.
    fn stats(&self) -> Option<(&'static str, StatsSnapshot)> {
        None
    }

    /// `rubric providers test`: checks its configuration and reachability. The repository
    /// read is `repo` when given, else one of the catalog's.
    fn self_test<'a>(
        &'a self,
        _catalog: Option<&'a Catalog>,
        _repo: Option<&'a CodecovProject>,
    ) -> BoxFuture<'a, Vec<ProviderReport>> {
        Box::pin(async { Vec::new() })
    }
}

/// Sources rubric has a provider for that the configuration may leave off, and how to turn
/// each on (for the error fact of a key nobody answers).
const SWITCHES: &[(Source, &str)] = &[(Source::Datadog, "set [datadog] enabled = true")];

/// Entities whose facts are fetched at once (see [`Providers::fetch_with_progress`]).
const ENTITIES_IN_FLIGHT: usize = 512;

/// Every provider of a run, the catalog first.
#[derive(Debug, Clone)]
pub struct Providers {
    all: Vec<Arc<dyn Provider>>,
}

impl Providers {
    /// The catalog alone: no provider facts (they answer "not configured").
    pub fn catalog_only() -> Providers {
        Providers {
            all: vec![Arc::new(catalog::CatalogProvider)],
        }
    }

    /// Builds the providers `cfg` configures; tokens come from the environment or the secrets
    /// file. Fails only on unusable configuration (a bad URL, an unreadable secrets file).
    pub fn from_config(cfg: &Config) -> Result<Providers, ConfigError> {
        let secrets = secrets::SecretSource::load(&cfg.http.secrets_file)?;
        let http = http::Http::new(&cfg.http).map_err(ConfigError::Invalid)?;
        let mut providers = Providers::catalog_only();
        providers = providers.with(Arc::new(codecov::Codecov::new(
            &cfg.codecov,
            http.clone(),
            &secrets,
        )?));
        if cfg.datadog.enabled {
            providers = providers.with(Arc::new(datadog::Datadog::new(
                &cfg.datadog,
                http,
                &secrets,
            )?));
        }
        Ok(providers)
    }

    /// The catalog, and a facts file (`rubric sync --out`) for every other source: no
    /// request is made.
    pub fn from_facts_file(file: FactsFile) -> Providers {
        Providers::catalog_only().with(Arc::new(file))
    }

    /// Adds a provider; it answers its source from now on (before any added earlier).
    pub fn with(mut self, provider: Arc<dyn Provider>) -> Providers {
        self.all.insert(1.min(self.all.len()), provider);
        self
    }

    /// The providers, the catalog first.
    pub fn all(&self) -> &[Arc<dyn Provider>] {
        &self.all
    }

    /// The provider answering `source`, if one is configured.
    pub fn for_source(&self, source: &Source) -> Option<&dyn Provider> {
        self.all
            .iter()
            .find(|p| p.answers(source))
            .map(|p| p.as_ref())
    }

    /// The concrete provider of type `P`, if configured (for provider-specific commands).
    pub fn get<P: Provider + 'static>(&self) -> Option<&P> {
        self.all
            .iter()
            .find_map(|p| (p.as_ref() as &dyn std::any::Any).downcast_ref::<P>())
    }

    /// One `Vec<Fact>` per entity, in key order; concurrent, bounded, cached; never panics.
    pub async fn fetch(
        &self,
        catalog: &Catalog,
        entities: &[&Entity],
        keys: &[FactKey],
    ) -> Vec<Vec<Fact>> {
        self.fetch_with_progress(catalog, entities, keys, &|| ())
            .await
    }

    /// [`Providers::fetch`], calling `entity_done` as each entity's facts are complete.
    pub async fn fetch_with_progress(
        &self,
        catalog: &Catalog,
        entities: &[&Entity],
        keys: &[FactKey],
        entity_done: &(dyn Fn() + Sync),
    ) -> Vec<Vec<Fact>> {
        for p in &self.all {
            p.plan(entities, keys);
        }
        // A bounded window of entities in flight rather than one future per entity at once:
        // each entity's future holds every layer of a request's state (cache, HTTP client),
        // kilobytes apiece, so 10,000 of them at once cost hundreds of megabytes. The window is
        // far wider than any provider's request concurrency, so the requests stay as parallel.
        let mut facts: Vec<Vec<Fact>> = vec![Vec::new(); entities.len()];
        // (By index: a closure taking a reference trips the compiler's `Send` check of the
        // futures that hold this one.)
        let mut done = stream::iter(0..entities.len())
            .map(|at| async move {
                let entity = entities[at];
                let row = join_all(keys.iter().map(|key| self.answer(catalog, entity, key))).await;
                (at, row)
            })
            .buffer_unordered(ENTITIES_IN_FLIGHT);
        while let Some((at, row)) = done.next().await {
            facts[at] = row;
            entity_done();
        }
        facts
    }

    /// Answers one key for one entity.
    pub async fn answer(&self, catalog: &Catalog, entity: &Entity, key: &FactKey) -> Fact {
        match self.for_source(&key.source) {
            Some(p) => p.answer(key, entity, catalog).await,
            None => not_configured(&key.source),
        }
    }

    /// The [`Lookup`] that answers computed catalog calls for `entity` during evaluation.
    pub fn lookup_for<'a>(&'a self, entity: &'a Entity, catalog: &'a Catalog) -> EntityLookup<'a> {
        EntityLookup {
            providers: self,
            entity,
            catalog,
        }
    }

    /// Counters per provider that makes requests: requests, retries, 429s, errors, cache hits.
    pub fn stats(&self) -> Vec<(&'static str, StatsSnapshot)> {
        self.all.iter().filter_map(|p| p.stats()).collect()
    }

    /// Every provider's history keys (each once).
    pub fn history_keys(&self) -> Vec<FactKey> {
        let mut keys: Vec<FactKey> = Vec::new();
        for k in self.all.iter().flat_map(|p| p.history_keys()) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys
    }

    /// `rubric providers test` for every provider.
    pub async fn self_test(
        &self,
        catalog: Option<&Catalog>,
        repo: Option<&CodecovProject>,
    ) -> Vec<ProviderReport> {
        let mut reports = Vec::new();
        for p in &self.all {
            reports.extend(p.self_test(catalog, repo).await);
        }
        reports
    }
}

/// The error fact of a key no configured provider answers.
fn not_configured(source: &Source) -> Fact {
    match SWITCHES.iter().find(|(s, _)| s == source) {
        Some((_, how)) => Fact::error(format!("data source {source} is not configured ({how})")),
        None => Fact::error(format!("data source {source} is not configured")),
    }
}

/// Answers computed calls for one entity during evaluation, through the providers that can
/// (the catalog).
#[derive(Clone, Copy, Debug)]
pub struct EntityLookup<'a> {
    providers: &'a Providers,
    entity: &'a Entity,
    catalog: &'a Catalog,
}

impl Lookup for EntityLookup<'_> {
    fn lookup(&self, key: &FactKey) -> Fact {
        match self.providers.for_source(&key.source) {
            Some(p) => p
                .lookup(key, self.entity, self.catalog)
                .unwrap_or_else(|| {
                    Fact::error(format!(
                        "{key}: data source {} is fetched before evaluation, so its arguments must be constants",
                        key.source
                    ))
                }),
            None => not_configured(&key.source),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_configuration_is_a_config_error() {
        let mut cfg = Config::load_with_env(None, Vec::<(String, String)>::new()).unwrap();
        cfg.codecov.url = "api.codecov.io".into();
        let e = Providers::from_config(&cfg).unwrap_err().to_string();
        assert_eq!(
            e,
            "[codecov] account default: url \"api.codecov.io\" is not a URL"
        );
        cfg.codecov.url = "https://api.codecov.io".into();
        cfg.http.secrets_file = "/nonexistent/rubric-secrets.env".into();
        let e = Providers::from_config(&cfg).unwrap_err().to_string();
        assert!(
            e.starts_with("cannot read configuration /nonexistent/rubric-secrets.env"),
            "{e}"
        );
    }

    #[test]
    fn keys_go_to_the_provider_of_their_source() {
        let cfg = Config::load_with_env(None, Vec::<(String, String)>::new()).unwrap();
        let providers = Providers::from_config(&cfg).unwrap();
        assert!(providers.for_source(&Source::Catalog).is_some());
        assert!(providers.get::<codecov::Codecov>().is_some());
        assert!(providers.get::<datadog::Datadog>().is_none());
        let reason = |s: Source| not_configured(&s).null_reason().map(str::to_string);
        assert_eq!(
            reason(Source::Datadog).as_deref(),
            Some("data source datadog is not configured (set [datadog] enabled = true)")
        );
        assert_eq!(
            reason(Source::named("sonarqube")).as_deref(),
            Some("data source sonarqube is not configured")
        );
    }
}
