//! Store: evaluation history in SQLite (embedded default) or PostgreSQL.
