//! Catalog: entity descriptors (Cortex and Backstage) loaded into [`Entity`] values.

mod entity;

use std::collections::HashMap;

pub use entity::*;

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

    /// The entity with this tag or Backstage ref (`component:default/name`).
    pub fn get(&self, tag_or_ref: &str) -> Option<&Entity> {
        self.index.get(tag_or_ref).map(|&i| &self.entities[i])
    }
}
