-- Coverage uploads: project tokens (stored as SHA-256 digests), one row per accepted upload,
-- and per commit and flag the merged report (flag '' is every upload of the commit merged):
-- its totals, and per file its lines (encoded by coverage::report::encode_lines).

CREATE TABLE upload_tokens (
    id BIGSERIAL PRIMARY KEY,
    repository TEXT NOT NULL,
    name TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    last_four TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX upload_tokens_by_repository ON upload_tokens (repository);

CREATE TABLE coverage_uploads (
    id BIGSERIAL PRIMARY KEY,
    repository TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    branch TEXT,
    flag TEXT NOT NULL,
    format TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    files BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    hits BIGINT NOT NULL
);
CREATE INDEX coverage_uploads_by_commit ON coverage_uploads (repository, commit_sha);

CREATE TABLE coverage_commits (
    repository TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    flag TEXT NOT NULL,
    branch TEXT,
    complete BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    totals_json TEXT NOT NULL,
    PRIMARY KEY (repository, commit_sha, flag)
);
CREATE INDEX coverage_commits_latest ON coverage_commits (repository, flag, branch, uploaded_at);

CREATE TABLE coverage_files (
    repository TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    flag TEXT NOT NULL,
    path TEXT NOT NULL,
    lines_text TEXT NOT NULL,
    PRIMARY KEY (repository, commit_sha, flag, path)
);

-- Uploads in two steps (Codecov's uploader): the step that names the commit hands out a URL
-- whose id is the capability to PUT the report once.
CREATE TABLE upload_sessions (
    id TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    branch TEXT,
    flags TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The branch an uploader named for a commit before uploading to it (Codecov's `commits` call).
CREATE TABLE commit_branches (
    repository TEXT NOT NULL,
    commit_sha TEXT NOT NULL,
    branch TEXT NOT NULL,
    PRIMARY KEY (repository, commit_sha)
);
