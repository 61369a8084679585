//! Providers: Codecov, Datadog and the shared HTTP layer, behind one cache per provider.
//!
//! [`Providers::fetch`] answers every [`FactKey`] a compiled scorecard needs for every entity:
//! concurrently, within each provider's concurrency and rate limits, each distinct request made
//! once (cached and coalesced), and never failing as a whole: every fault becomes an error
//! [`Fact`] whose message names it.

pub mod cache;
pub mod codecov;
pub mod datadog;
pub mod facts_file;
pub mod fixture;
pub mod http;
pub mod measure;
pub mod secrets;
pub mod sync;
pub mod test_config;

use std::sync::Arc;

use futures::future::join_all;

use crate::catalog::{Catalog, Entity};
use crate::config::{Config, ConfigError};
use crate::facts::{Fact, FactKey};

pub use facts_file::{FactsFile, FactsFileError, load_facts_file, save_facts_file};
pub use http::StatsSnapshot;

/// Every configured provider.
#[derive(Debug, Clone)]
pub struct Providers {
    codecov: Arc<codecov::Codecov>,
    datadog: Option<Arc<datadog::Datadog>>,
}

impl Providers {
    /// Builds the providers `cfg` configures; tokens come from the environment or the secrets
    /// file. Fails only on unusable configuration (a bad URL, an unreadable secrets file).
    pub fn from_config(cfg: &Config) -> Result<Providers, ConfigError> {
        let secrets = secrets::SecretSource::load(&cfg.http.secrets_file)?;
        let http = http::Http::new(&cfg.http).map_err(ConfigError::Invalid)?;
        let codecov = codecov::Codecov::new(&cfg.codecov, http.clone(), &secrets)?;
        let datadog = if cfg.datadog.enabled {
            Some(Arc::new(datadog::Datadog::new(
                &cfg.datadog,
                http,
                &secrets,
            )?))
        } else {
            None
        };
        Ok(Providers {
            codecov: Arc::new(codecov),
            datadog,
        })
    }

    /// The Codecov provider.
    pub fn codecov(&self) -> &codecov::Codecov {
        &self.codecov
    }

    /// The Datadog provider, when `[datadog] enabled`.
    pub fn datadog(&self) -> Option<&datadog::Datadog> {
        self.datadog.as_deref()
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
        join_all(entities.iter().map(|entity| async move {
            let facts = join_all(keys.iter().map(|key| self.answer(catalog, entity, key))).await;
            entity_done();
            facts
        }))
        .await
    }

    /// Answers one key for one entity.
    pub async fn answer(&self, catalog: &Catalog, entity: &Entity, key: &FactKey) -> Fact {
        match key.source.as_str() {
            "codecov" => self.codecov.answer(key, entity).await,
            "datadog" => match &self.datadog {
                Some(d) => d.answer(key, entity).await,
                None => Fact::error(
                    "data source datadog is not configured (set [datadog] enabled = true)",
                ),
            },
            "catalog" => crate::cql::catalog_facts::resolve(key, entity, catalog),
            other => Fact::error(format!("data source {other} is not configured")),
        }
    }

    /// Counters per provider: requests, retries, 429s, errors, cache hits.
    pub fn stats(&self) -> Vec<(&'static str, StatsSnapshot)> {
        let mut all = vec![(
            self.codecov.http().name(),
            self.codecov.http().stats.snapshot(),
        )];
        if let Some(d) = &self.datadog {
            all.push((d.http().name(), d.http().stats.snapshot()));
        }
        all
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
}
