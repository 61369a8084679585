-- Per result of a run, its rule reports in scorecard order (`rules_json`, a JSON array of what
-- `rule_results.report_json` held per row) and the facts the run fetched for its entity
-- (`facts_json`, a JSON array of {provider, key, value, status, reason, stale_secs}): one row
-- per entity instead of one per rule and per fact. Runs written from now on leave
-- `rule_results` and `facts` empty; older runs keep their rows, and readers fall back to them.
-- A table of its own, so that the large text stays out of the `entity_results` pages that
-- level counts and listings scan.
CREATE TABLE entity_reports (
    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    rules_json TEXT NOT NULL,
    facts_json TEXT NOT NULL,
    PRIMARY KEY (run_id, entity)
);
