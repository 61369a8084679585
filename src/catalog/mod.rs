//! Catalog: entity descriptors (Cortex and Backstage) loaded into [`Entity`] values.

mod cache;
mod entity;
mod load;
mod read;
mod sources;
mod yaml;

use std::collections::HashMap;
use std::path::Path;

pub use cache::{CatalogCache, ReloadStats};
pub use entity::*;
pub use sources::{BackstageSource, CatalogSources};

use crate::config::CodecovAccount;
use crate::diag::Diagnostic;

/// Every entity of a catalog, with the warnings and errors met while loading it.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// The entities that loaded, in source order.
    pub entities: Vec<Entity>,
    /// Errors (each excluded only its own entity) and warnings.
    pub diagnostics: Vec<Diagnostic>,
    index: HashMap<String, usize>,
}

impl Catalog {
    /// A catalog of these entities (the first of a duplicated tag wins lookups).
    pub fn from_entities(entities: Vec<Entity>, diagnostics: Vec<Diagnostic>) -> Self {
        let mut index = HashMap::new();
        for (i, e) in entities.iter().enumerate() {
            index.entry(e.tag.clone()).or_insert(i);
            if let Some(r) = &e.backstage_ref {
                index.entry(r.clone()).or_insert(i);
            }
        }
        Catalog {
            entities,
            diagnostics,
            index,
        }
    }

    /// Loads every `*.yaml` / `*.yml` under `dir` (recursively; multi-document files; Cortex
    /// descriptors and Backstage entities; Backstage `kind: Location` targets followed) and maps
    /// each entity to its repository and Codecov project, with no extra Codecov accounts.
    ///
    /// Never fails as a whole: a missing folder is one error diagnostic, a malformed file is one
    /// error for that file, and an invalid entity is left out with an error; everything else loads.
    /// `dir` may also name a single file.
    pub fn load(dir: &Path) -> Catalog {
        Self::load_with_accounts(dir, &[])
    }

    /// [`Catalog::load`], recording which of these `[[codecov.accounts]]` serves each entity.
    pub fn load_with_accounts(dir: &Path, accounts: &[CodecovAccount]) -> Catalog {
        let (results, diagnostics) = load::load_files(dir, accounts);
        let (entities, diagnostics) = load::assemble(results, diagnostics);
        Catalog::from_entities(entities, diagnostics)
    }

    /// Whether loading met any error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The entity with this tag or Backstage ref (`component:default/name`).
    pub fn get(&self, tag_or_ref: &str) -> Option<&Entity> {
        self.index.get(tag_or_ref).map(|&i| &self.entities[i])
    }
}
