//! The entities of a catalog, each shared: a re-sync of an unchanged file hands out the entities
//! it read last time (a pointer copy), not copies of them.

use std::fmt;
use std::sync::Arc;

use super::Entity;

/// The entities of a [`super::Catalog`], in source order. Reads as a list of `&Entity`
/// (`iter`, `len`, `get`, indexing); [`Entities::shared`] gives the `Arc` itself.
#[derive(Clone, Default, PartialEq)]
pub struct Entities(Vec<Arc<Entity>>);

impl Entities {
    /// Every entity, in order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Entity> + ExactSizeIterator + Clone {
        self.0.iter().map(|e| &**e)
    }

    /// How many entities there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entity at `index`, if any.
    pub fn get(&self, index: usize) -> Option<&Entity> {
        self.0.get(index).map(|e| &**e)
    }

    /// The entities as shared handles (cloning one is a pointer copy).
    pub fn shared(&self) -> &[Arc<Entity>] {
        &self.0
    }

    /// Mutable access to each entity, copying only the ones shared with another catalog or a
    /// [`super::CatalogCache`] (copy on write).
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Entity> {
        self.0.iter_mut().map(Arc::make_mut)
    }
}

impl From<Vec<Arc<Entity>>> for Entities {
    fn from(entities: Vec<Arc<Entity>>) -> Self {
        Entities(entities)
    }
}

impl From<Vec<Entity>> for Entities {
    fn from(entities: Vec<Entity>) -> Self {
        entities.into_iter().collect()
    }
}

impl FromIterator<Entity> for Entities {
    fn from_iter<I: IntoIterator<Item = Entity>>(iter: I) -> Self {
        Entities(iter.into_iter().map(Arc::new).collect())
    }
}

impl std::ops::Index<usize> for Entities {
    type Output = Entity;

    fn index(&self, index: usize) -> &Entity {
        &self.0[index]
    }
}

impl<'a> IntoIterator for &'a Entities {
    type Item = &'a Entity;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, Arc<Entity>>, fn(&Arc<Entity>) -> &Entity>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|e| &**e)
    }
}

impl fmt::Debug for Entities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}
