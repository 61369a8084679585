//! The catalog and mapping stages together: the loaders every command uses read descriptors
//! through the catalog's readers, then map each entity ([`map_catalog`]).

use std::path::{Path, PathBuf};

use super::map_entity;
use crate::catalog::{Catalog, CatalogCache, CatalogSources};
use crate::config::CodecovAccount;
use crate::diag::Diagnostic;

/// Maps every entity of `catalog` to its repository and Codecov project (or records why not),
/// recording which of `accounts` serves it; bad Codecov blocks become diagnostics of the
/// catalog, placed at their fields.
pub fn map_catalog(catalog: &mut Catalog, accounts: &[CodecovAccount]) {
    catalog.map_each(|entity, spec| {
        let m = map_entity(spec, entity.repository.as_ref(), accounts);
        entity.codecov = m.codecov;
        entity.unmapped_reason = m.unmapped_reason;
        entity.mapping_failed =
            entity.codecov.is_none() && m.diagnostics.iter().any(Diagnostic::is_error);
        m.diagnostics
    });
}

fn mapped(mut catalog: Catalog, accounts: &[CodecovAccount]) -> Catalog {
    map_catalog(&mut catalog, accounts);
    catalog
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
        mapped(Catalog::read_dir(dir, allowed_roots), accounts)
    }

    /// Loads every configured source ([`Catalog::read_sources`]) and maps each entity with the
    /// sources' accounts.
    pub async fn load_sources(sources: &CatalogSources) -> Catalog {
        mapped(Catalog::read_sources(sources).await, &sources.accounts)
    }
}

impl CatalogCache {
    /// Loads `dir` as [`Catalog::load_with_accounts`] does with the cache's accounts,
    /// re-parsing only changed files.
    pub fn load(&mut self, dir: &Path) -> Catalog {
        let catalog = self.read(dir);
        mapped(catalog, self.accounts())
    }

    /// Loads every source as [`Catalog::load_sources`] does (the Backstage catalog is fetched
    /// again; files are re-parsed only when changed), mapping with the cache's accounts.
    pub async fn load_sources(&mut self, sources: &CatalogSources) -> Catalog {
        let catalog = self.read_sources(sources).await;
        mapped(catalog, self.accounts())
    }
}
