-- The open pull requests of each repository as the last run saw them: base, head and patch
-- coverage and the change a pull request makes.
CREATE TABLE pulls (
    repository TEXT NOT NULL,
    provider TEXT NOT NULL,
    pullid BIGINT NOT NULL,
    title TEXT NOT NULL,
    base_coverage DOUBLE PRECISION,
    head_coverage DOUBLE PRECISION,
    patch_coverage DOUBLE PRECISION,
    delta DOUBLE PRECISION,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (repository, provider, pullid)
);
