//! Store: evaluation history in SQLite (embedded default) or PostgreSQL, one SQL text for both.
//!
//! The backend is chosen by the URL scheme (`sqlite://FILE` or `postgres://...`); both run the
//! same queries through sqlx's `Any` driver, with their own migration folders embedded in the
//! binary. Times are stored as Unix milliseconds, JSON as text. A run is written in one
//! transaction, so readers see either the previous results or the complete new run.

pub mod coverage_facts;
mod model;
pub mod uploads;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Row};

pub use model::*;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no supported database.
    #[error("store url {0}: expected sqlite://FILE or postgres://USER@HOST/DB")]
    BadUrl(String),
    /// The database answered an error or could not be reached.
    #[error("store: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be read back.
    #[error("store: corrupt value in {column}: {reason}")]
    Corrupt {
        /// The column.
        column: &'static str,
        /// Why.
        reason: String,
    },
}

/// A stored rule: the whole report, or for rows written before reports were kept whole, what
/// their columns hold.
fn rule_result(row: &AnyRow) -> StoreResult<RuleResult> {
    let corrupt = |column, e: serde_json::Error| StoreError::Corrupt {
        column,
        reason: e.to_string(),
    };
    if let Some(report) = row.try_get::<Option<String>, _>("report_json")? {
        return serde_json::from_str(&report).map_err(|e| corrupt("rule_results.report_json", e));
    }
    let outcome: String = row.try_get("outcome")?;
    let legacy = serde_json::json!({
        "title": row.try_get::<String, _>("title")?,
        "expression": row.try_get::<String, _>("expression")?,
        "level": row.try_get::<Option<String>, _>("rule_level")?,
        "weight": row.try_get::<f64, _>("weight")?,
        "outcome": outcome,
        "message": row.try_get::<String, _>("message")?,
        "value": json(row.try_get("value_json")?, "rule_results.value_json")?,
    });
    serde_json::from_value(legacy).map_err(|e| corrupt("rule_results.outcome", e))
}

/// The rules of a result as `entity_reports.rules_json` holds them.
fn rule_list(json: &str) -> StoreResult<Vec<RuleResult>> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
        column: "entity_reports.rules_json",
        reason: e.to_string(),
    })
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// The evaluation history. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Taken by the large writes (a run, pruning) on SQLite, which has one writer at a time: a
    /// second writer queues here instead of polling SQLite's lock until `busy_timeout` gives
    /// up (three scorecards saving at once failed with "database is locked").
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// A checkpoint of SQLite's write-ahead log is queued behind the writes (see
    /// [`Store::write_run`]).
    checkpoint_queued: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Store {
    /// Opens (creating a SQLite file when missing) and migrates the store at `url`.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(rest) = url.strip_prefix("sqlite:") {
            let mut u = format!("sqlite:{rest}");
            if !rest.contains("mode=") && !rest.contains(":memory:") {
                u.push_str(if rest.contains('?') {
                    "&mode=rwc"
                } else {
                    "?mode=rwc"
                });
            }
            (Backend::Sqlite, u)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(StoreError::BadUrl(crate::config::redact_url(url)));
        };
        let options = AnyPoolOptions::new().acquire_timeout(std::time::Duration::from_secs(10));
        let pool = match backend {
            // Readers never wait for the writer in WAL mode; a writer waits up to 10 s for another.
            Backend::Sqlite => {
                options
                    .max_connections(8)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            sqlx::query("PRAGMA busy_timeout = 10000")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA foreign_keys = ON")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("PRAGMA synchronous = NORMAL")
                                .execute(&mut *conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => options.max_connections(16).connect(&url).await?,
        };
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Store {
            pool,
            backend,
            writer: Default::default(),
            checkpoint_queued: Default::default(),
        })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// This process's turn to write a large transaction: on SQLite one at a time, on PostgreSQL
    /// (row locks, many writers) at once.
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.writer.lock().await),
            Backend::Postgres => None,
        }
    }

    /// Writes a whole run in one transaction and returns its id.
    pub async fn save_run(&self, run: &NewRun) -> StoreResult<i64> {
        // Serialised before the write turn: another run's write proceeds meanwhile.
        let prepared = Prepared::of(run)?;
        self.write_run(run, &prepared).await
    }

    /// Writes a run serialised ahead by [`PreparedRun::new`] in one transaction and returns
    /// its id.
    pub async fn save_prepared(&self, prepared: &PreparedRun) -> StoreResult<i64> {
        self.write_run(&prepared.run, &prepared.prepared).await
    }

    /// Writes a run in one transaction. On SQLite the transaction does not checkpoint the
    /// write-ahead log on commit, as SQLite does once the log passes 1,000 pages: copying a
    /// run's 40 MB into the database file took a third of a round's writes, and the runs of a
    /// round wait for each other's. A checkpoint queued behind the waiting writes does it
    /// instead; every other write checkpoints as usual, so the log stays bounded.
    async fn write_run(&self, run: &NewRun, prepared: &Prepared) -> StoreResult<i64> {
        let _writing = self.write_turn().await;
        let mut conn = self.pool.acquire().await?;
        let sqlite = self.backend == Backend::Sqlite;
        if sqlite {
            sqlx::query("PRAGMA wal_autocheckpoint = 0")
                .execute(&mut *conn)
                .await?;
        }
        let written = self.write_run_on(&mut conn, run, prepared).await;
        if sqlite {
            let restored = sqlx::query("PRAGMA wal_autocheckpoint = 1000")
                .execute(&mut *conn)
                .await;
            if restored.is_err() {
                // Never hand the pool a connection that would not checkpoint.
                conn.close_on_drop();
            }
            if written.is_ok() {
                self.checkpoint_after_writes();
            }
        }
        written
    }

    /// Queues one passive checkpoint of SQLite's write-ahead log behind the writes waiting for
    /// their turn (a later one coalesces with it).
    fn checkpoint_after_writes(&self) {
        use std::sync::atomic::Ordering;
        if self.checkpoint_queued.swap(true, Ordering::AcqRel) {
            return;
        }
        /// Clears the flag when its turn comes, or when the task is dropped without running
        /// (its runtime shut down), so that a later write can queue one again.
        struct Queued(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Queued {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let queued = Queued(self.checkpoint_queued.clone());
        let store = self.clone();
        tokio::spawn(async move {
            let _writing = store.write_turn().await;
            drop(queued);
            if let Err(e) = store.checkpoint().await {
                tracing::warn!(error = %e, "checkpoint of the write-ahead log failed");
            }
        });
    }

    /// Copies SQLite's write-ahead log into the database file as far as readers allow
    /// (`PRAGMA wal_checkpoint(PASSIVE)`); nothing on PostgreSQL.
    pub async fn checkpoint(&self) -> StoreResult<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn write_run_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        run: &NewRun,
        prepared: &Prepared,
    ) -> StoreResult<i64> {
        let rows: Vec<(&EntityResult, &PreparedRow)> =
            run.entities.iter().zip(&prepared.rows).collect();
        let orphan_facts: Vec<&FactRecord> = prepared
            .orphan_facts
            .iter()
            .filter_map(|&i| run.facts.get(i))
            .collect();
        let mut tx = sqlx::Connection::begin(conn).await?;
        let row = sqlx::query(
            "INSERT INTO runs (scorecard, trigger, started_at, finished_at, status, error, entity_count) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&run.scorecard)
        .bind(run.trigger.as_str())
        .bind(ms(run.started_at))
        .bind(ms(run.finished_at))
        .bind(run.status.as_str())
        .bind(run.error.as_deref())
        .bind(run.entities.len() as i64)
        .fetch_one(&mut *tx)
        .await?;
        let run_id: i64 = row.try_get(0)?;
        let saved = std::time::Instant::now();
        insert_rows(
            &mut tx,
            self.backend,
            "INSERT INTO entity_results (run_id, scorecard, entity, entity_name, level, level_rank, \
             next_level, score, max_score, percentage, next_steps, evaluated_at, data_as_of) VALUES",
            "",
            13,
            &rows,
            |q, (e, row)| {
                q.bind(run_id)
                    .bind(&run.scorecard)
                    .bind(&e.entity)
                    .bind(&e.entity_name)
                    .bind(e.level.as_deref())
                    .bind(e.level_rank)
                    .bind(e.next_level.as_deref())
                    .bind(finite(e.score))
                    .bind(finite(e.max_score))
                    .bind(finite(e.percentage.unwrap_or(0.0)))
                    .bind(&row.next_steps)
                    .bind(ms(e.evaluated_at))
                    .bind(e.data_as_of.map(ms))
            },
        )
        .await?;
        insert_rows(
            &mut tx,
            self.backend,
            "INSERT INTO entity_reports (run_id, entity, rules_json, facts_json) VALUES",
            "",
            4,
            &rows,
            |q, (e, row)| {
                q.bind(run_id)
                    .bind(&e.entity)
                    .bind(&row.rules)
                    .bind(&row.facts)
            },
        )
        .await?;
        drop(rows);
        insert_rows(
            &mut tx,
            self.backend,
            "INSERT INTO facts (run_id, entity, provider, fact_key, value_json, status, reason, stale_secs) VALUES",
            "ON CONFLICT (run_id, entity, fact_key) DO NOTHING",
            8,
            &orphan_facts,
            |q, f| {
                q.bind(run_id)
                    .bind(&f.entity)
                    .bind(f.provider.name())
                    .bind(&f.key)
                    .bind(f.value.to_string())
                    .bind(f.status.as_str())
                    .bind(f.reason.as_deref())
                    .bind(f.stale_secs)
            },
        )
        .await?;
        let now = ms(run.finished_at);
        // A run's reading replaces what was there; a backfilled one never does (so backfilled
        // points go first, the first of a key kept). Run points name each key once (PostgreSQL
        // refuses to update a row twice in one statement), the last of a key winning as it did
        // when each was its own statement.
        let written: &[CoveragePoint] = if run.coverage_written {
            &[]
        } else {
            &run.coverage
        };
        for source in [PointSource::Backfill, PointSource::Run] {
            let on_conflict = match source {
                PointSource::Run => {
                    "ON CONFLICT (repository, flag, provider, day) DO UPDATE SET coverage = excluded.coverage, \
                     last_upload_at = COALESCE(excluded.last_upload_at, coverage_daily.last_upload_at), \
                     recorded_at = excluded.recorded_at, source = excluded.source"
                }
                PointSource::Backfill => "ON CONFLICT (repository, flag, provider, day) DO NOTHING",
            };
            let of_source = written.iter().filter(|c| c.source == source);
            let points = match source {
                PointSource::Run => {
                    last_per_key(of_source, |c| (&c.repository, &c.flag, &c.provider, c.day))
                }
                PointSource::Backfill => {
                    // In key order, SQLite appends to its index instead of splitting pages all
                    // over it (about a tenth of a first round's 250,000 backfilled points). Stable:
                    // the first of a key still wins.
                    let mut points: Vec<&CoveragePoint> = of_source.collect();
                    points.sort_by(|a, b| {
                        (&a.repository, &a.flag, &a.provider, a.day).cmp(&(
                            &b.repository,
                            &b.flag,
                            &b.provider,
                            b.day,
                        ))
                    });
                    points
                }
            };
            insert_rows(
                &mut tx,
                self.backend,
                "INSERT INTO coverage_daily (repository, flag, provider, day, coverage, last_upload_at, recorded_at, source) VALUES",
                on_conflict,
                8,
                &points,
                |q, c| {
                    q.bind(&c.repository)
                        .bind(&c.flag)
                        .bind(&c.provider)
                        .bind(c.day.to_string())
                        .bind(finite(c.coverage))
                        .bind(c.last_upload_at.map(ms))
                        .bind(now)
                        .bind(c.source.as_str())
                },
            )
            .await?;
        }
        let mapped = last_per_key(written.iter(), |c| {
            (&c.entity, &c.repository, &c.flag, &c.provider)
        });
        insert_rows(
            &mut tx,
            self.backend,
            "INSERT INTO entity_coverage (entity, repository, flag, provider, recorded_at) VALUES",
            "ON CONFLICT (entity, repository, flag, provider) DO UPDATE SET recorded_at = excluded.recorded_at",
            5,
            &mapped,
            |q, c| {
                q.bind(&c.entity)
                    .bind(&c.repository)
                    .bind(&c.flag)
                    .bind(&c.provider)
                    .bind(now)
            },
        )
        .await?;
        // Each repository's open pull requests, as this run saw them, replace the recorded ones.
        let mut replaced = std::collections::BTreeSet::new();
        for p in &run.pulls {
            if replaced.insert((&p.repository, &p.provider)) {
                sqlx::query("DELETE FROM pulls WHERE repository = $1 AND provider = $2")
                    .bind(&p.repository)
                    .bind(&p.provider)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "INSERT INTO pulls (repository, provider, pullid, title, base_coverage, head_coverage, \
                 patch_coverage, delta, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (repository, provider, pullid) DO NOTHING",
            )
            .bind(&p.repository)
            .bind(&p.provider)
            .bind(p.pullid)
            .bind(&p.title)
            .bind(p.base_coverage.map(finite))
            .bind(p.head_coverage.map(finite))
            .bind(p.patch_coverage.map(finite))
            .bind(p.delta.map(finite))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        tracing::debug!(
            scorecard = %run.scorecard,
            run_id,
            rows = run.entities.len() + orphan_facts.len() + run.coverage.len(),
            rules_bytes = prepared.rules_bytes,
            facts_bytes = prepared.facts_bytes,
            elapsed_ms = saved.elapsed().as_millis() as u64,
            "run rows written"
        );
        Ok(run_id)
    }

    /// The recorded open pull requests, those whose delta is `max_delta` or lower when given,
    /// largest drop first.
    pub async fn pulls(&self, max_delta: Option<f64>) -> StoreResult<Vec<PullRecord>> {
        let rows = sqlx::query(
            "SELECT repository, provider, pullid, title, base_coverage, head_coverage, patch_coverage, delta \
             FROM pulls WHERE delta IS NOT NULL OR $1 = 0 ORDER BY COALESCE(delta, 0), repository, pullid",
        )
        .bind(i64::from(max_delta.is_some()))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let pull = PullRecord {
                repository: r.try_get("repository")?,
                provider: r.try_get("provider")?,
                pullid: r.try_get("pullid")?,
                title: r.try_get("title")?,
                base_coverage: r.try_get("base_coverage")?,
                head_coverage: r.try_get("head_coverage")?,
                patch_coverage: r.try_get("patch_coverage")?,
                delta: r.try_get("delta")?,
            };
            if max_delta.is_none_or(|m| pull.delta.is_some_and(|d| d <= m)) {
                out.push(pull);
            }
        }
        Ok(out)
    }

    /// The latest runs of a scorecard (all scorecards when `None`), newest first.
    pub async fn runs(&self, scorecard: Option<&str>, limit: i64) -> StoreResult<Vec<RunSummary>> {
        let rows = sqlx::query(
            "SELECT id, scorecard, trigger, started_at, finished_at, status, error, entity_count FROM runs \
             WHERE ($1 IS NULL OR scorecard = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(scorecard)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_summary).collect()
    }

    /// When the latest run of `scorecard` with this trigger finished, if there is one.
    pub async fn last_finished(
        &self,
        scorecard: &str,
        trigger: Trigger,
    ) -> StoreResult<Option<DateTime<Utc>>> {
        let row =
            sqlx::query("SELECT MAX(finished_at) FROM runs WHERE scorecard = $1 AND trigger = $2")
                .bind(scorecard)
                .bind(trigger.as_str())
                .fetch_one(&self.pool)
                .await?;
        row.try_get::<Option<i64>, _>(0)?
            .map(|t| from_ms(t, "runs.finished_at"))
            .transpose()
    }

    /// Every scorecard tag with stored results, with its latest run.
    pub async fn scorecards(&self) -> StoreResult<Vec<RunSummary>> {
        let rows = sqlx::query(
            "SELECT id, scorecard, trigger, started_at, finished_at, status, error, entity_count FROM runs r \
             WHERE id = (SELECT MAX(id) FROM runs r2 WHERE r2.scorecard = r.scorecard) ORDER BY scorecard",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(run_summary).collect()
    }

    /// An entity's latest result in every scorecard that evaluated it, by scorecard tag.
    pub async fn latest_for_entity(&self, entity: &str) -> StoreResult<Vec<StoredResult>> {
        // One round trip: each latest result joined with its rules (none for a rule-less result).
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESULT_COLUMNS}, rr.position, rr.title, rr.expression, rr.level AS rule_level, rr.weight, \
             rr.outcome, rr.message, rr.value_json, rr.report_json, ep.rules_json FROM entity_results er \
             LEFT JOIN entity_reports ep ON ep.run_id = er.run_id AND ep.entity = er.entity \
             LEFT JOIN rule_results rr ON ep.rules_json IS NULL AND rr.run_id = er.run_id AND rr.entity = er.entity \
             WHERE er.entity = $1 AND er.run_id = (SELECT MAX(run_id) FROM entity_results e2 \
             WHERE e2.entity = er.entity AND e2.scorecard = er.scorecard) ORDER BY er.scorecard, rr.position"
        )))
        .bind(entity)
        .fetch_all(&self.pool)
        .await?;
        let mut results: Vec<StoredResult> = Vec::new();
        for row in &rows {
            let run_id: i64 = row.try_get("run_id")?;
            let scorecard: String = row.try_get("scorecard")?;
            if results
                .last()
                .is_none_or(|r| r.run_id != run_id || r.scorecard != scorecard)
            {
                let mut result = stored_result(row)?;
                if let Some(rules) = row.try_get::<Option<String>, _>("rules_json")? {
                    result.result.rules = rule_list(&rules)?;
                }
                results.push(result);
            }
            if row.try_get::<Option<i64>, _>("position")?.is_none() {
                continue;
            }
            let rule = rule_result(row)?;
            if let Some(last) = results.last_mut() {
                last.result.rules.push(rule);
            }
        }
        Ok(results)
    }

    /// The latest result of every entity in a scorecard, sorted by entity tag, optionally only
    /// those at `level` (`""` for entities below every level); one page, plus the total count.
    /// Rules are left empty.
    pub async fn latest_for_scorecard(
        &self,
        scorecard: &str,
        level: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> StoreResult<(Vec<StoredResult>, i64)> {
        const LATEST: &str = "er.scorecard = $1 AND er.run_id = (SELECT MAX(run_id) FROM entity_results e2 \
             WHERE e2.scorecard = er.scorecard AND e2.entity = er.entity) \
             AND ($2 IS NULL OR COALESCE(er.level, '') = $2)";
        let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM entity_results er WHERE {LATEST}"
        )))
        .bind(scorecard)
        .bind(level)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RESULT_COLUMNS} FROM entity_results er WHERE {LATEST} ORDER BY er.entity LIMIT $3 OFFSET $4"
        )))
        .bind(scorecard)
        .bind(level)
        .bind(limit.max(0))
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await?;
        let page = rows
            .iter()
            .map(stored_result)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((page, total))
    }

    /// Fills in the rules of `results` (as [`Store::latest_for_scorecard`] reads them, without
    /// rules): each result's rules of its own run, in scorecard order.
    pub async fn fill_rules(&self, results: &mut [StoredResult]) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        let rows = self
            .rows_of_results(
                "SELECT er.run_id, er.entity, ep.rules_json FROM entity_results er \
                 LEFT JOIN entity_reports ep ON ep.run_id = er.run_id AND ep.entity = er.entity \
                 WHERE er.run_id IN ({runs}) AND er.entity IN ({entities})",
                results,
            )
            .await?;
        let mut at: HashMap<(i64, &str), usize> = HashMap::new();
        for (i, r) in results.iter().enumerate() {
            at.insert((r.run_id, r.result.entity.as_str()), i);
        }
        let mut rules: Vec<Vec<RuleResult>> = vec![Vec::new(); results.len()];
        let mut legacy = false;
        for row in &rows {
            let entity: String = row.try_get("entity")?;
            let Some(&i) = at.get(&(row.try_get("run_id")?, entity.as_str())) else {
                continue;
            };
            match row.try_get::<Option<String>, _>("rules_json")? {
                Some(json) => rules[i] = rule_list(&json)?,
                None => legacy = true,
            }
        }
        if legacy {
            // Runs written before 0006 keep one row per rule.
            let rows = self
                .rows_of_results(
                    "SELECT rr.run_id, rr.entity, rr.position, rr.title, rr.expression, \
                     rr.level AS rule_level, rr.weight, rr.outcome, rr.message, rr.value_json, \
                     rr.report_json FROM rule_results rr WHERE rr.run_id IN ({runs}) \
                     AND rr.entity IN ({entities}) ORDER BY rr.run_id, rr.entity, rr.position",
                    results,
                )
                .await?;
            for row in &rows {
                let entity: String = row.try_get("entity")?;
                if let Some(&i) = at.get(&(row.try_get("run_id")?, entity.as_str())) {
                    rules[i].push(rule_result(row)?);
                }
            }
        }
        for (r, rules) in results.iter_mut().zip(rules) {
            r.result.rules = rules;
        }
        Ok(())
    }

    /// The rows `sql` selects for `results`, its `{runs}` and `{entities}` replaced by the
    /// placeholders of their run ids and entity tags.
    async fn rows_of_results(
        &self,
        sql: &str,
        results: &[StoredResult],
    ) -> StoreResult<Vec<AnyRow>> {
        let runs: std::collections::BTreeSet<i64> = results.iter().map(|r| r.run_id).collect();
        let run_marks: Vec<String> = (1..=runs.len()).map(|i| format!("${i}")).collect();
        let entity_marks: Vec<String> = (runs.len() + 1..=runs.len() + results.len())
            .map(|i| format!("${i}"))
            .collect();
        let sql = sql
            .replace("{runs}", &run_marks.join(", "))
            .replace("{entities}", &entity_marks.join(", "));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for run in &runs {
            query = query.bind(*run);
        }
        for r in results {
            query = query.bind(r.result.entity.clone());
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// Level rank and percentage of each entity's latest result in a scorecard.
    pub async fn latest_levels(
        &self,
        scorecard: &str,
    ) -> StoreResult<HashMap<String, (Option<i64>, f64)>> {
        let rows = sqlx::query(
            "SELECT er.entity, er.level_rank, er.percentage FROM entity_results er WHERE er.scorecard = $1 \
             AND er.run_id = (SELECT MAX(run_id) FROM entity_results e2 WHERE e2.scorecard = er.scorecard \
             AND e2.entity = er.entity)",
        )
        .bind(scorecard)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("entity")?,
                    (r.try_get("level_rank")?, r.try_get("percentage")?),
                ))
            })
            .collect()
    }

    /// Level counts of the latest `limit` scheduled (full) runs of a scorecard, oldest first.
    pub async fn history(&self, scorecard: &str, limit: i64) -> StoreResult<Vec<HistoryPoint>> {
        let rows = sqlx::query(
            "SELECT r.id, r.finished_at, COALESCE(er.level, '') AS level, COUNT(*) AS n, \
             SUM(er.percentage) AS pct FROM runs r JOIN entity_results er ON er.run_id = r.id \
             WHERE r.id IN (SELECT id FROM runs WHERE scorecard = $1 AND trigger = 'schedule' AND status = 'ok' \
             ORDER BY id DESC LIMIT $2) GROUP BY r.id, r.finished_at, COALESCE(er.level, '') ORDER BY r.id",
        )
        .bind(scorecard)
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        let mut points: Vec<(HistoryPoint, f64)> = Vec::new();
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            let n: i64 = row.try_get("n")?;
            let pct: f64 = row.try_get("pct")?;
            if points.last().is_none_or(|(p, _)| p.run_id != id) {
                let finished = from_ms(row.try_get("finished_at")?, "runs.finished_at")?;
                points.push((
                    HistoryPoint {
                        run_id: id,
                        finished_at: finished,
                        levels: BTreeMap::new(),
                        entities: 0,
                        mean_percentage: 0.0,
                    },
                    0.0,
                ));
            }
            if let Some((p, sum)) = points.last_mut() {
                let level: String = row.try_get("level")?;
                let level = if level.is_empty() {
                    NO_LEVEL.to_string()
                } else {
                    level
                };
                p.levels.insert(level, n);
                p.entities += n;
                *sum += pct;
            }
        }
        Ok(points
            .into_iter()
            .map(|(mut p, sum)| {
                p.mean_percentage = if p.entities > 0 {
                    sum / p.entities as f64
                } else {
                    0.0
                };
                p
            })
            .collect())
    }

    /// Daily coverage of every repository and flag mapped to an entity, from `since` on.
    pub async fn coverage_for_entity(
        &self,
        entity: &str,
        since: NaiveDate,
    ) -> StoreResult<Vec<CoverageSeries>> {
        let rows = sqlx::query(
            "SELECT repository, flag, provider FROM entity_coverage WHERE entity = $1 \
             ORDER BY provider, repository, flag",
        )
        .bind(entity)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let repository: String = row.try_get("repository")?;
            let flag: String = row.try_get("flag")?;
            let provider: String = row.try_get("provider")?;
            out.push(
                self.coverage_series(&repository, &flag, &provider, since)
                    .await?,
            );
        }
        Ok(out)
    }

    /// The daily coverage of every repository, flag and provider with a point since `since`,
    /// ordered by provider, repository and flag (the coverage dashboard), read in one query.
    pub async fn coverage_all(&self, since: NaiveDate) -> StoreResult<Vec<CoverageSeries>> {
        let rows = sqlx::query(
            "SELECT repository, flag, provider, day, coverage, last_upload_at, source FROM coverage_daily \
             WHERE day >= $1 ORDER BY provider, repository, flag, day",
        )
        .bind(since.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<CoverageSeries> = Vec::new();
        for row in &rows {
            let repository: String = row.try_get("repository")?;
            let flag: String = row.try_get("flag")?;
            let provider: String = row.try_get("provider")?;
            let series = match out.last_mut() {
                Some(s)
                    if s.repository == repository && s.flag == flag && s.provider == provider =>
                {
                    s
                }
                _ => {
                    out.push(CoverageSeries::empty(repository, flag, provider));
                    out.last_mut().expect("just pushed")
                }
            };
            add_point(series, row)?;
        }
        Ok(out)
    }

    /// Daily coverage of one repository and flag from `since` on.
    pub async fn coverage_series(
        &self,
        repository: &str,
        flag: &str,
        provider: &str,
        since: NaiveDate,
    ) -> StoreResult<CoverageSeries> {
        let rows = sqlx::query(
            "SELECT day, coverage, last_upload_at, source FROM coverage_daily WHERE repository = $1 AND flag = $2 \
             AND provider = $3 AND day >= $4 ORDER BY day",
        )
        .bind(repository)
        .bind(flag)
        .bind(provider)
        .bind(since.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut series = CoverageSeries::empty(
            repository.to_string(),
            flag.to_string(),
            provider.to_string(),
        );
        for row in &rows {
            add_point(&mut series, row)?;
        }
        Ok(series)
    }

    /// Deletes runs (with their results and facts) that finished before `before`, and coverage
    /// points older than that day. Returns the number of runs deleted.
    pub async fn prune(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        let cutoff = ms(before);
        let _writing = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        for table in ["rule_results", "facts", "entity_reports", "entity_results"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE run_id IN (SELECT id FROM runs WHERE finished_at < $1)"
            )))
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        }
        let deleted = sqlx::query("DELETE FROM runs WHERE finished_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM coverage_daily WHERE day < $1")
            .bind(before.date_naive().to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// The recorded state of an alert key (e.g. `below`, `ok`), if any.
    pub async fn alert_state(&self, key: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT state FROM alert_state WHERE alert_key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("state")).transpose()?)
    }

    /// Records the state of an alert key.
    pub async fn set_alert_state(
        &self,
        key: &str,
        state: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.set_alert_states(&[(key.to_string(), state)], at).await
    }

    /// Every alert key's recorded state (a whole round's alert checks read them at once).
    pub async fn alert_states(&self) -> StoreResult<HashMap<String, String>> {
        let rows = sqlx::query("SELECT alert_key, state FROM alert_state")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("alert_key")?, r.try_get("state")?)))
            .collect()
    }

    /// Records the states of several alert keys (each named once) in one transaction.
    pub async fn set_alert_states(
        &self,
        states: &[(String, &str)],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        if states.is_empty() {
            return Ok(());
        }
        let at = ms(at);
        let _writing = self.write_turn().await;
        let mut tx = self.pool.begin().await?;
        insert_rows(
            &mut tx,
            self.backend,
            "INSERT INTO alert_state (alert_key, state, changed_at) VALUES",
            "ON CONFLICT (alert_key) DO UPDATE SET state = excluded.state, changed_at = excluded.changed_at",
            3,
            states,
            |q, (key, state)| q.bind(key).bind(*state).bind(at),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a fired alert and returns its id.
    pub async fn record_alert(
        &self,
        kind: &str,
        key: &str,
        summary: &str,
        body: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> StoreResult<i64> {
        let row = sqlx::query(
            "INSERT INTO alerts (kind, alert_key, summary, body_json, created_at) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id",
        )
        .bind(kind)
        .bind(key)
        .bind(summary)
        .bind(body.to_string())
        .bind(ms(at))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// Records one delivery attempt of an alert.
    pub async fn record_delivery(&self, d: &Delivery, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO alert_deliveries (alert_id, webhook, attempt, http_status, error, delivered, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(d.alert_id)
        .bind(&d.webhook)
        .bind(d.attempt)
        .bind(d.http_status)
        .bind(d.error.as_deref())
        .bind(i64::from(d.delivered))
        .bind(ms(at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The alerts fired, newest first: (id, kind, key, summary).
    pub async fn alerts(&self, limit: i64) -> StoreResult<Vec<(i64, String, String, String)>> {
        let rows = sqlx::query(
            "SELECT id, kind, alert_key, summary FROM alerts ORDER BY id DESC LIMIT $1",
        )
        .bind(limit.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    r.try_get("kind")?,
                    r.try_get("alert_key")?,
                    r.try_get("summary")?,
                ))
            })
            .collect()
    }

    /// The delivery attempts of an alert, in order.
    pub async fn deliveries(&self, alert_id: i64) -> StoreResult<Vec<Delivery>> {
        let rows = sqlx::query(
            "SELECT alert_id, webhook, attempt, http_status, error, delivered FROM alert_deliveries \
             WHERE alert_id = $1 ORDER BY id",
        )
        .bind(alert_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    alert_id: r.try_get("alert_id")?,
                    webhook: r.try_get("webhook")?,
                    attempt: r.try_get("attempt")?,
                    http_status: r.try_get("http_status")?,
                    error: r.try_get("error")?,
                    delivered: r.try_get::<i64, _>("delivered")? != 0,
                })
            })
            .collect()
    }

    /// Takes the cluster-wide lock for `job` without waiting: with PostgreSQL a session advisory
    /// lock (so replicas don't run the same job twice), with SQLite always granted (one process
    /// owns the file). `None` when another instance holds it.
    pub async fn try_lock(&self, job: &str) -> StoreResult<Option<JobLock>> {
        if self.backend == Backend::Sqlite {
            return Ok(Some(JobLock { conn: None, key: 0 }));
        }
        let key = lock_key(job);
        let mut conn = self.pool.acquire().await?;
        let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        Ok(got.then_some(JobLock {
            conn: Some(conn),
            key,
        }))
    }
}

/// A held job lock; [`JobLock::release`] it when the job ends. Dropping it without releasing
/// closes its connection, which releases a PostgreSQL advisory lock too.
#[derive(Debug)]
pub struct JobLock {
    conn: Option<PoolConnection<Any>>,
    key: i64,
}

impl JobLock {
    /// Releases the lock.
    pub async fn release(mut self) -> StoreResult<()> {
        if let Some(mut conn) = self.conn.take() {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Closing the session is the only synchronous way to give the lock back.
            drop(conn.detach());
        }
    }
}

/// A stable 64-bit advisory-lock key for a job name.
fn lock_key(job: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("rubric:{job}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// A run with its large text columns serialised, for [`Store::save_prepared`]: made ahead of
/// the write (e.g. on a blocking thread) so that the store's write turn is spent writing.
#[derive(Debug)]
pub struct PreparedRun {
    run: NewRun,
    prepared: Prepared,
}

impl PreparedRun {
    /// Serialises the rules and facts of `run`.
    pub fn new(run: NewRun) -> StoreResult<PreparedRun> {
        let prepared = Prepared::of(&run)?;
        Ok(PreparedRun { run, prepared })
    }

    /// The run.
    pub fn run(&self) -> &NewRun {
        &self.run
    }

    /// The run, given back.
    pub fn into_run(self) -> NewRun {
        self.run
    }
}

/// The serialised columns of a run's results, in the order of its entities.
#[derive(Debug)]
struct Prepared {
    rows: Vec<PreparedRow>,
    /// Indexes of the facts of entities without a result in the run (kept as `facts` rows).
    orphan_facts: Vec<usize>,
    rules_bytes: usize,
    facts_bytes: usize,
}

/// One result's serialised columns.
#[derive(Debug)]
struct PreparedRow {
    next_steps: String,
    /// The rule reports, in scorecard order.
    rules: String,
    /// The run's facts of this entity.
    facts: String,
}

/// A fetched fact as `entity_reports.facts_json` holds it (its entity is the row's).
#[derive(serde::Serialize)]
struct StoredFact<'a> {
    provider: &'a str,
    key: &'a str,
    value: &'a serde_json::Value,
    status: &'a str,
    reason: Option<&'a str>,
    stale_secs: Option<i64>,
}

impl Prepared {
    fn of(run: &NewRun) -> StoreResult<Prepared> {
        let corrupt = |column, e: serde_json::Error| StoreError::Corrupt {
            column,
            reason: e.to_string(),
        };
        let mut facts: HashMap<&str, Vec<StoredFact>> = HashMap::new();
        for f in &run.facts {
            facts
                .entry(f.entity.as_str())
                .or_default()
                .push(StoredFact {
                    provider: f.provider.name(),
                    key: &f.key,
                    value: &f.value,
                    status: f.status.as_str(),
                    reason: f.reason.as_deref(),
                    stale_secs: f.stale_secs,
                });
        }
        let rows = run
            .entities
            .iter()
            .map(|e| {
                let of_entity = facts.remove(e.entity.as_str()).unwrap_or_default();
                Ok(PreparedRow {
                    next_steps: e.next_steps.to_string(),
                    rules: serde_json::to_string(&e.rules)
                        .map_err(|x| corrupt("entity_reports.rules_json", x))?,
                    facts: serde_json::to_string(&of_entity)
                        .map_err(|x| corrupt("entity_reports.facts_json", x))?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        let orphan_facts = (0..run.facts.len())
            .filter(|&i| facts.contains_key(run.facts[i].entity.as_str()))
            .collect();
        Ok(Prepared {
            rules_bytes: rows.iter().map(|r| r.rules.len()).sum(),
            facts_bytes: rows.iter().map(|r| r.facts.len()).sum(),
            rows,
            orphan_facts,
        })
    }
}

const RESULT_COLUMNS: &str = "er.run_id, er.scorecard, er.entity, er.entity_name, er.level, er.level_rank, \
     er.next_level, er.score, er.max_score, er.percentage, er.next_steps, er.evaluated_at, er.data_as_of";

fn stored_result(row: &AnyRow) -> StoreResult<StoredResult> {
    let (score, max_score): (f64, f64) = (row.try_get("score")?, row.try_get("max_score")?);
    Ok(StoredResult {
        run_id: row.try_get("run_id")?,
        scorecard: row.try_get("scorecard")?,
        result: EntityResult {
            entity: row.try_get("entity")?,
            entity_name: row.try_get("entity_name")?,
            level: row.try_get("level")?,
            level_rank: row.try_get("level_rank")?,
            next_level: row.try_get("next_level")?,
            score,
            max_score,
            // Stored as 0 when no rule applies; the report says null then.
            percentage: (max_score > 0.0).then_some(row.try_get("percentage")?),
            next_steps: json(row.try_get("next_steps")?, "entity_results.next_steps")?,
            evaluated_at: from_ms(row.try_get("evaluated_at")?, "entity_results.evaluated_at")?,
            data_as_of: row
                .try_get::<Option<i64>, _>("data_as_of")?
                .map(|t| from_ms(t, "entity_results.data_as_of"))
                .transpose()?,
            rules: Vec::new(),
        },
    })
}

fn run_summary(row: &AnyRow) -> StoreResult<RunSummary> {
    Ok(RunSummary {
        id: row.try_get("id")?,
        scorecard: row.try_get("scorecard")?,
        trigger: parse_trigger(row.try_get("trigger")?),
        started_at: from_ms(row.try_get("started_at")?, "runs.started_at")?,
        finished_at: from_ms(row.try_get("finished_at")?, "runs.finished_at")?,
        status: RunStatus::parse(row.try_get("status")?),
        error: row.try_get("error")?,
        entity_count: row.try_get("entity_count")?,
    })
}

fn json(text: String, column: &'static str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt {
        column,
        reason: e.to_string(),
    })
}

/// Adds a `coverage_daily` row (`day`, `coverage`, `last_upload_at`, `source`) to `series`.
fn add_point(series: &mut CoverageSeries, row: &sqlx::any::AnyRow) -> StoreResult<()> {
    let day: String = row.try_get("day")?;
    let day = day.parse::<NaiveDate>().map_err(|e| StoreError::Corrupt {
        column: "coverage_daily.day",
        reason: e.to_string(),
    })?;
    let coverage: f64 = row.try_get("coverage")?;
    if let Some(at) = row.try_get::<Option<i64>, _>("last_upload_at")? {
        series.last_upload_at = Some(from_ms(at, "coverage_daily.last_upload_at")?);
    }
    series.latest = Some(coverage);
    let source: String = row.try_get("source")?;
    series
        .points
        .push(DailyPoint::stored(day, coverage, &source));
    Ok(())
}

/// Most parameters bound to one statement (under SQLite's limit of 32,766 and PostgreSQL's of
/// 65,535): larger statements save no more round trips worth having.
const MAX_PARAMS: usize = 4_000;

/// Inserts `rows` with multi-row `VALUES` statements, as many rows per statement as
/// [`MAX_PARAMS`] allows (one round trip per statement instead of one per row). `head` is the
/// `INSERT INTO t (...) VALUES` part, `tail` what follows the values (`ON CONFLICT ...`), and
/// `bind` binds one row's `columns` values in column order. SQLite gets anonymous `?`
/// placeholders: its parser looks each named one (`$N`) up in a list, quadratic in a long
/// statement.
async fn insert_rows<T>(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &[T],
    bind: impl Fn(
        sqlx::query::Query<'static, Any, sqlx::any::AnyArguments>,
        &T,
    ) -> sqlx::query::Query<'static, Any, sqlx::any::AnyArguments>,
) -> StoreResult<()> {
    for chunk in rows.chunks((MAX_PARAMS / columns).max(1)) {
        let mut sql = String::with_capacity(head.len() + tail.len() + chunk.len() * columns * 6);
        sql.push_str(head);
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            sql.push_str(if i == 0 { " (" } else { ", (" });
            for c in 0..columns {
                n += 1;
                if c > 0 {
                    sql.push_str(", ");
                }
                match backend {
                    Backend::Sqlite => sql.push('?'),
                    Backend::Postgres => {
                        sql.push('$');
                        sql.push_str(&n.to_string());
                    }
                }
            }
            sql.push(')');
        }
        sql.push(' ');
        sql.push_str(tail);
        let query = chunk
            .iter()
            .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), &bind);
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The last item of each key, in the order of their first appearance: one multi-row upsert
/// may not name a key twice.
fn last_per_key<'a, T, K: Eq + std::hash::Hash>(
    items: impl Iterator<Item = &'a T>,
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut at: HashMap<K, usize> = HashMap::new();
    let mut out: Vec<&T> = Vec::new();
    for item in items {
        match at.entry(key(item)) {
            std::collections::hash_map::Entry::Occupied(slot) => out[*slot.get()] = item,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(out.len());
                out.push(item);
            }
        }
    }
    out
}

/// Unix milliseconds.
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(t: i64, column: &'static str) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(t).ok_or(StoreError::Corrupt {
        column,
        reason: format!("time {t} out of range"),
    })
}

/// NaN and infinities are not storable in every backend; they become 0.
fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

/// The first day of a trailing window of `days` days ending on `now`'s day.
pub fn window_start(now: DateTime<Utc>, days: i64) -> NaiveDate {
    (now - TimeDelta::days(days.saturating_sub(1).max(0))).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("a"), lock_key("a"));
        assert_ne!(lock_key("a"), lock_key("b"));
    }

    #[test]
    fn window_start_counts_today() {
        let now = DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(window_start(now, 30).to_string(), "2026-10-24");
        assert_eq!(window_start(now, 1).to_string(), "2026-11-22");
    }
}
