-- Where a daily coverage point comes from: `run` (read by a run that day) or `backfill` (the
-- provider's own daily history, recorded so that trends exist from the first run).
ALTER TABLE coverage_daily ADD COLUMN source TEXT NOT NULL DEFAULT 'run';
