-- Evaluation history: runs, per-entity results, per-rule outcomes, fetched facts,
-- daily coverage points, and alert state and deliveries. Times are Unix milliseconds (UTC).
-- Never edit a shipped migration: add a new file.

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    scorecard TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    entity_count BIGINT NOT NULL
);
CREATE INDEX runs_by_scorecard ON runs (scorecard, id);
CREATE INDEX runs_by_finish ON runs (finished_at);

CREATE TABLE entity_results (
    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    scorecard TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_name TEXT NOT NULL,
    level TEXT,
    level_rank BIGINT,
    next_level TEXT,
    score DOUBLE PRECISION NOT NULL,
    max_score DOUBLE PRECISION NOT NULL,
    percentage DOUBLE PRECISION NOT NULL,
    next_steps TEXT NOT NULL,
    evaluated_at BIGINT NOT NULL,
    data_as_of BIGINT,
    PRIMARY KEY (run_id, entity)
);
CREATE INDEX entity_results_latest ON entity_results (entity, scorecard, run_id);
CREATE INDEX entity_results_by_scorecard ON entity_results (scorecard, entity, run_id);

CREATE TABLE rule_results (
    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    expression TEXT NOT NULL,
    level TEXT,
    weight DOUBLE PRECISION NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT NOT NULL,
    value_json TEXT NOT NULL,
    PRIMARY KEY (run_id, entity, position)
);

CREATE TABLE facts (
    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    entity TEXT NOT NULL,
    provider TEXT NOT NULL,
    fact_key TEXT NOT NULL,
    value_json TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT,
    stale_secs BIGINT,
    PRIMARY KEY (run_id, entity, fact_key)
);

CREATE TABLE coverage_daily (
    repository TEXT NOT NULL,
    flag TEXT NOT NULL,
    provider TEXT NOT NULL,
    day TEXT NOT NULL,
    coverage DOUBLE PRECISION NOT NULL,
    last_upload_at BIGINT,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (repository, flag, provider, day)
);

CREATE TABLE entity_coverage (
    entity TEXT NOT NULL,
    repository TEXT NOT NULL,
    flag TEXT NOT NULL,
    provider TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (entity, repository, flag, provider)
);

CREATE TABLE alert_state (
    alert_key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    changed_at BIGINT NOT NULL
);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    alert_key TEXT NOT NULL,
    summary TEXT NOT NULL,
    body_json TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id BIGINT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    webhook TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    http_status BIGINT,
    error TEXT,
    delivered BIGINT NOT NULL,
    at BIGINT NOT NULL
);
