//! Mapping: entity → git repository → coverage project.
