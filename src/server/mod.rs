//! Server: the HTTP API, entity pages and badges.
