//! Catalog: entity descriptors (Cortex and Backstage) loaded into [`Entity`] values.

mod cache;
mod confine;
mod entities;
mod entity;
mod load;
mod read;
mod sources;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use cache::{CatalogCache, ReloadStats};
pub use entities::Entities;
pub use entity::*;
pub(crate) use sources::read_capped;
pub use sources::{BackstageSource, CatalogSources};

use crate::diag::Diagnostic;

/// Every entity of a catalog, with the warnings and errors met while loading it.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// The entities that loaded, in source order (shared with the [`CatalogCache`] that loaded
    /// them, if any).
    pub entities: Entities,
    /// Errors (each excluded only its own entity) and warnings.
    pub diagnostics: Vec<Diagnostic>,
    index: HashMap<String, usize>,
    /// Backstage refs lower-cased: refs match case-insensitively, as in Backstage.
    folded_refs: HashMap<String, usize>,
    /// Parallel to `entities` when loaded from descriptors; empty from `from_entities`.
    mapping_sources: Vec<Arc<MappingSources>>,
}

/// The mapping stage as the catalog's loaders call it, once for each entity read: fills the
/// entity's Codecov fields from the Codecov block or annotations it was read with (`None` when
/// it has none) and returns the diagnostics about them. The catalog imports nothing of the
/// mapping module: the mapping module passes this in.
pub type MapEntity<'a> =
    dyn Fn(&mut Entity, Option<&CodecovSpec>) -> Vec<Diagnostic> + Send + Sync + 'a;

impl Catalog {
    /// A catalog of these entities (the first of a duplicated tag wins lookups).
    pub fn from_entities(entities: Vec<Entity>, diagnostics: Vec<Diagnostic>) -> Self {
        Self::from_shared(entities.into(), diagnostics)
    }

    /// [`Catalog::from_entities`] with entities already shared.
    pub(crate) fn from_shared(entities: Entities, diagnostics: Vec<Diagnostic>) -> Self {
        let mut index = HashMap::new();
        let mut folded_refs = HashMap::new();
        for (i, e) in entities.iter().enumerate() {
            index.entry(e.tag.clone()).or_insert(i);
            if let Some(r) = &e.backstage_ref {
                index.entry(r.clone()).or_insert(i);
                folded_refs.entry(r.to_lowercase()).or_insert(i);
            }
        }
        Catalog {
            entities,
            diagnostics,
            index,
            folded_refs,
            mapping_sources: Vec::new(),
        }
    }

    /// Attaches where each entity's mapping fields were read (parallel to `entities`).
    pub(crate) fn with_mapping_sources(mut self, sources: Vec<Arc<MappingSources>>) -> Self {
        if sources.len() == self.entities.len() {
            self.mapping_sources = sources;
        }
        self
    }

    /// Where the fields the mapping of this entity used were read (Codecov block or annotations,
    /// each field of it, the git repository); `None` for an unknown entity or a catalog built
    /// with [`Catalog::from_entities`].
    pub fn mapping_sources(&self, tag_or_ref: &str) -> Option<&MappingSources> {
        self.index
            .get(tag_or_ref)
            .and_then(|&i| self.mapping_sources.get(i))
            .map(|m| &**m)
    }

    /// Reads every `*.yaml` / `*.yml` under `dir` (recursively; multi-document files; Cortex
    /// descriptors and Backstage entities; Backstage `kind: Location` targets followed) into
    /// entities that are not mapped yet (the mapping stage's [`Catalog::load`] maps them), also
    /// reading files under the `allowed_roots` folders (`[catalog] allowed_roots`) that Location
    /// targets or symlinks lead to.
    ///
    /// Never fails as a whole: a missing folder is one error diagnostic, a malformed file is one
    /// error for that file, and an invalid entity is left out with an error; everything else loads.
    /// `dir` may also name a single file.
    ///
    /// Nothing outside `dir` and the allowed roots is read: a Location target or a `*.yaml`
    /// symlink that leads elsewhere is an error naming it, and its file is not opened. A file
    /// larger than 8 MiB, or one whose aliases expand too far, is an error on that file.
    pub fn read_dir(dir: &Path, allowed_roots: &[PathBuf]) -> Catalog {
        let (results, diagnostics) = load::load_files(dir, allowed_roots, None);
        load::assemble(results, diagnostics)
    }

    /// [`Catalog::read_dir`], mapping each entity with `map` as its file is read (in parallel).
    pub fn read_dir_mapped(dir: &Path, allowed_roots: &[PathBuf], map: &MapEntity<'_>) -> Catalog {
        let (results, diagnostics) = load::load_files(dir, allowed_roots, Some(map));
        load::assemble(results, diagnostics)
    }

    /// The mapping stage's entry: calls `map` with each entity and the Codecov block or
    /// annotations it was read with (`None` for entities built with [`Catalog::from_entities`]);
    /// the diagnostics `map` returns join the catalog's, with their source lines read back from
    /// the descriptor files they point at. An entity shared with a [`CatalogCache`] is copied
    /// before `map` changes it.
    pub fn map_each(
        &mut self,
        mut map: impl FnMut(&mut Entity, Option<&CodecovSpec>) -> Vec<Diagnostic>,
    ) {
        let mut found: Vec<Diagnostic> = Vec::new();
        for (i, entity) in self.entities.iter_mut().enumerate() {
            let spec = self.mapping_sources.get(i).and_then(|m| m.spec.as_ref());
            found.extend(map(entity, spec));
        }
        load::attach_source_lines_from_files(&mut found);
        self.diagnostics.extend(found);
    }

    /// Whether loading met any error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The entity with this tag or Backstage ref (`component:default/name`); refs match in any
    /// case (`Component:default/Checkout-Web`), as Backstage matches them.
    pub fn get(&self, tag_or_ref: &str) -> Option<&Entity> {
        self.index
            .get(tag_or_ref)
            .or_else(|| {
                let folded = tag_or_ref
                    .contains(':')
                    .then(|| tag_or_ref.to_lowercase())?;
                self.folded_refs.get(&folded)
            })
            .and_then(|&i| self.entities.get(i))
    }
}
