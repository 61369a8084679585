//! Catalog: entity descriptors (Cortex and Backstage) loaded into [`Entity`] values.

mod entity;

pub use entity::*;
