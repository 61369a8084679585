//! CQL: grammar/cql.pest → AST → compiled program → value.
