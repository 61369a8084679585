//! The catalog and mapping stages together: the loaders every command uses read descriptors
//! through the catalog's readers, then map each entity ([`map_catalog`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::map_entity;
use crate::catalog::{Catalog, CatalogCache, CatalogSources, CodecovSpec, Entity, MapEntity};
use crate::config::CodecovAccount;
use crate::diag::Diagnostic;

/// Maps every entity of `catalog` to its repository and Codecov project (or records why not),
/// recording which of `accounts` serves it; bad Codecov blocks become diagnostics of the
/// catalog, placed at their fields.
pub fn map_catalog(catalog: &mut Catalog, accounts: &[CodecovAccount]) {
    catalog.map_each(|entity, spec| map_one(entity, spec, accounts));
}

/// Maps one entity in place, returning the diagnostics about its Codecov block or annotations.
fn map_one(
    entity: &mut Entity,
    spec: Option<&CodecovSpec>,
    accounts: &[CodecovAccount],
) -> Vec<Diagnostic> {
    let m = map_entity(spec, entity.repository.as_ref(), accounts);
    entity.codecov = m.codecov;
    entity.unmapped_reason = m.unmapped_reason;
    entity.mapping_failed =
        entity.codecov.is_none() && m.diagnostics.iter().any(Diagnostic::is_error);
    m.diagnostics
}

/// The mapping stage as the catalog's loaders call it for each entity they read.
fn mapper(accounts: &[CodecovAccount]) -> Arc<MapEntity<'static>> {
    let accounts = accounts.to_vec();
    Arc::new(move |entity: &mut Entity, spec: Option<&CodecovSpec>| {
        map_one(entity, spec, &accounts)
    })
}

impl Catalog {
    /// Loads every `*.yaml` / `*.yml` under `dir` as [`Catalog::read_dir`] reads them, and maps
    /// each entity to its repository and Codecov project, with no extra Codecov accounts.
    pub fn load(dir: &Path) -> Catalog {
        Self::load_with_accounts(dir, &[])
    }

    /// [`Catalog::load`], recording which of these `[[codecov.accounts]]` serves each entity.
    pub fn load_with_accounts(dir: &Path, accounts: &[CodecovAccount]) -> Catalog {
        Self::load_with_roots(dir, &[], accounts)
    }

    /// [`Catalog::load_with_accounts`], also reading files under the `allowed_roots` folders
    /// (`[catalog] allowed_roots`) that Location targets or symlinks lead to.
    pub fn load_with_roots(
        dir: &Path,
        allowed_roots: &[PathBuf],
        accounts: &[CodecovAccount],
    ) -> Catalog {
        let map = |entity: &mut Entity, spec: Option<&CodecovSpec>| map_one(entity, spec, accounts);
        Catalog::read_dir_mapped(dir, allowed_roots, &map)
    }

    /// Loads every configured source ([`Catalog::read_sources`]) and maps each entity with the
    /// sources' accounts.
    pub async fn load_sources(sources: &CatalogSources) -> Catalog {
        Catalog::read_sources_mapped(sources, mapper(&sources.accounts)).await
    }
}

impl CatalogCache {
    /// Loads `dir` as [`Catalog::load_with_accounts`] does with the cache's accounts,
    /// re-parsing and re-mapping only changed files.
    pub fn load(&mut self, dir: &Path) -> Catalog {
        let accounts = self.accounts().to_vec();
        let map =
            |entity: &mut Entity, spec: Option<&CodecovSpec>| map_one(entity, spec, &accounts);
        self.read_mapped(dir, &map)
    }

    /// Loads every source as [`Catalog::load_sources`] does (the Backstage catalog is fetched
    /// again; files are re-parsed and re-mapped only when changed), mapping with the cache's
    /// accounts.
    pub async fn load_sources(&mut self, sources: &CatalogSources) -> Catalog {
        let map = mapper(self.accounts());
        self.read_sources_mapped(sources, map).await
    }
}
