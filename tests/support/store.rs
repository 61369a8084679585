//! Test databases for the store, server and job tests: a fresh SQLite file always, and a fresh
//! PostgreSQL database when `RUBRIC_TEST_POSTGRES_URL` names a server (see scripts/ci-postgres.sh).

use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rubric::store::{EntityResult, NewRun, RuleResult, RunStatus, Store, Trigger};
use sqlx::Connection;

/// The environment variable naming a PostgreSQL server for the tests.
pub const POSTGRES_ENV: &str = "RUBRIC_TEST_POSTGRES_URL";

/// A store on a throwaway database; dropping it removes the database.
pub struct TestDb {
    /// `sqlite` or `postgres`.
    pub name: &'static str,
    /// The store.
    pub store: Store,
    /// Its URL.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh SQLite store in a temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("history.db").display());
    let store = Store::connect(&url).await.expect("sqlite store");
    TestDb {
        name: "sqlite",
        store,
        url,
        _dir: Some(dir),
    }
}

/// A fresh PostgreSQL database on the server `RUBRIC_TEST_POSTGRES_URL` names, or `None` (saying
/// so on stderr, past the test harness's capture) when the variable is not set.
pub async fn postgres() -> Option<TestDb> {
    let Ok(base) = std::env::var(POSTGRES_ENV) else {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "note: PostgreSQL store tests SKIPPED: {POSTGRES_ENV} is not set \
                 (run `eval \"$(scripts/ci-postgres.sh)\"` first); SQLite tests still run"
            );
        });
        return None;
    };
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let db = format!(
        "rubric_t_{}_{}_{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .expect("connect to RUBRIC_TEST_POSTGRES_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let _ = admin.close().await;
    let url = replace_db(&base, &db);
    let store = Store::connect(&url).await.expect("postgres store");
    Some(TestDb {
        name: "postgres",
        store,
        url,
        _dir: None,
    })
}

/// Every backend available here: SQLite always, PostgreSQL when configured.
pub async fn backends() -> Vec<TestDb> {
    let mut all = vec![sqlite().await];
    all.extend(postgres().await);
    all
}

impl TestDb {
    /// Closes the store and drops a PostgreSQL database.
    pub async fn finish(self) {
        self.store.close().await;
        if self.name == "postgres" {
            let base = std::env::var(POSTGRES_ENV).expect("set for postgres");
            let db = self.url.rsplit('/').next().unwrap_or_default().to_string();
            if let Ok(mut admin) = sqlx::PgConnection::connect(&base).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await;
                let _ = admin.close().await;
            }
        }
    }
}

fn replace_db(url: &str, db: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let base = match head.rfind('/') {
        Some(i) if i > head.find("://").map_or(0, |j| j + 2) => &head[..i],
        _ => head,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// A time `mins` minutes after an origin at midnight (UTC) ten days before today, so that
/// windows relative to now (the API's 30-day series, retention) hold every test point
/// whatever day the tests run on.
pub fn t(mins: i64) -> DateTime<Utc> {
    let origin = days_ago(10).and_time(chrono::NaiveTime::MIN).and_utc();
    origin + TimeDelta::minutes(mins)
}

/// The UTC date `n` days before today.
pub fn days_ago(n: i64) -> NaiveDate {
    Utc::now().date_naive() - TimeDelta::days(n)
}

/// An entity result with one rule per `(title, outcome)`.
pub fn entity(
    tag: &str,
    level: Option<(&str, i64)>,
    percentage: f64,
    rules: &[(&str, &str)],
) -> EntityResult {
    EntityResult {
        entity: tag.to_string(),
        entity_name: format!("{tag} service"),
        level: level.map(|(l, _)| l.to_string()),
        level_rank: level.map(|(_, r)| r),
        next_level: None,
        score: percentage / 10.0,
        max_score: 10.0,
        percentage: Some(percentage),
        next_steps: serde_json::json!([]),
        evaluated_at: t(1),
        data_as_of: None,
        rules: rules
            .iter()
            .map(|(title, outcome)| -> RuleResult {
                serde_json::from_value(serde_json::json!({
                    "title": title,
                    "expression": "codecov.codeCoverage() >= 80",
                    "level": "Bronze",
                    "weight": 1.0,
                    "outcome": outcome,
                    "message": format!("{title}: {outcome}"),
                    "value": {"coverage": 71.5},
                }))
                .expect("a rule report")
            })
            .collect(),
    }
}

/// A scheduled run of `scorecard` finished at `t(at)` over these results.
pub fn run(scorecard: &str, at: i64, entities: Vec<EntityResult>) -> NewRun {
    NewRun {
        scorecard: scorecard.to_string(),
        trigger: Trigger::Schedule,
        started_at: t(at),
        finished_at: t(at),
        status: RunStatus::Ok,
        error: None,
        entities,
        facts: Vec::new(),
        coverage: Vec::new(),
    }
}
