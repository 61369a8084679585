//! rubric: scorecards for internal developer portals.
//!
//! Data flows one way through the stages, one module each:
//! [`catalog`] (descriptors → entities) → [`mapping`] (entity → repository → coverage project)
//! → [`providers`] (Codecov, Datadog; cached HTTP) → [`cql`] (rules → compiled programs)
//! → [`scorecard`] (levels, points, explanations) → [`store`] → [`server`] / [`jobs`] / [`cli`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cql;
pub mod demo;
pub mod diag;
pub mod facts;
pub mod jobs;
pub mod mapping;
pub mod pipeline;
pub mod providers;
pub mod scorecard;
pub mod server;
pub mod store;
pub mod value;
/// YAML (and JSON) documents as trees of nodes that keep their line and column, parsed with
/// budgets against hostile input, and a reader of typed fields with positioned diagnostics;
/// shared by the catalog's descriptors and the scorecards.
pub(crate) mod yaml;
