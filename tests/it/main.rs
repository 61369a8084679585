//! The integration tests in one binary (one link instead of one per file): the real `rubric`
//! binary end to end, the library over real HTTP, files and databases. `tests/cql_alloc.rs`
//! (a counting global allocator), `tests/server_logs.rs` (tracing's process-wide callsite cache)
//! and `tests/server_bench_seed.rs` (run by `benches/serve.sh`) stay binaries of their own.

#[path = "../support/mod.rs"]
mod support;

mod catalog_backstage;
mod catalog_cli;
mod catalog_files;
mod catalog_hostile;
mod config_cli;
mod coverage_cli;
mod coverage_history;
mod cql_cli;
mod cql_fuzz_regressions;
mod cql_props;
mod eval_codecov;
mod eval_gate;
mod jobs_alerts;
mod jobs_scheduler;
mod portal_cortex;
mod portal_cortex_cli;
mod portal_node_clients;
mod portal_rhdh;
mod portal_tech_insights;
mod providers_cli;
mod providers_codecov;
mod providers_codecov_lists;
mod providers_datadog;
mod providers_faults;
mod providers_hostile;
mod risk_cli;
mod rule_budgets;
mod scorecard_scoring;
mod scorecard_snapshots;
mod server_api;
mod server_backstage_auth;
mod server_cli;
mod server_edges;
mod server_kill;
mod service_parity;
mod store_history;
mod store_uploads;
mod upload_clients;
mod uploads_api;
mod uploads_eval;
mod uploads_facts;
