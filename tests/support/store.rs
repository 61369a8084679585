//! Test databases for the store, server and job tests: a fresh SQLite file always, and a fresh
//! PostgreSQL database on the server `RUBRIC_TEST_POSTGRES_URL` names (see scripts/ci-postgres.sh)
//! for the tests [`postgres_test!`] and [`store_tests!`] make.

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

/// A fresh PostgreSQL database on the server `RUBRIC_TEST_POSTGRES_URL` names. Panics, saying
/// how to start one, when the variable is not set or the server cannot be reached: a PostgreSQL
/// test that runs never passes without PostgreSQL (see [`postgres_test!`]).
pub async fn postgres() -> TestDb {
    let base = match std::env::var(POSTGRES_ENV) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{POSTGRES_ENV} is not set, and the PostgreSQL tests never pass without PostgreSQL \
             (this build runs them because CI or {POSTGRES_ENV} was set when it was built): \
             run `eval \"$(scripts/ci-postgres.sh)\"` first"
        ),
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
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to the PostgreSQL server {POSTGRES_ENV} names: {e} \
             (start it with `eval \"$(scripts/ci-postgres.sh)\"`)"
            )
        });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let _ = admin.close().await;
    let url = replace_db(&base, &db);
    let store = Store::connect(&url).await.expect("postgres store");
    TestDb {
        name: "postgres",
        store,
        url,
        _dir: None,
    }
}

/// The test `async fn NAME(db: TestDb)` (defined next to it) on PostgreSQL alone: `NAME::postgres`.
/// It runs when the build enables the PostgreSQL tests (`cfg(rubric_postgres_tests)`, set by
/// build.rs when `RUBRIC_TEST_POSTGRES_URL` is set or `CI` is true), and then fails without a
/// server; otherwise libtest lists it as `ignored, <how to run it>` and counts it in the
/// summary's "N ignored".
#[allow(unused_macros)] // Not every test binary has PostgreSQL tests.
macro_rules! postgres_test {
    ($name:ident) => {
        mod $name {
            $crate::support::store::postgres_test!(@fn $name);
        }
    };
    (@fn $name:ident) => {
        #[tokio::test]
        #[cfg_attr(
            not(rubric_postgres_tests),
            ignore = "PostgreSQL tests need RUBRIC_TEST_POSTGRES_URL (run `eval \"$(scripts/ci-postgres.sh)\"` first)"
        )]
        async fn postgres() {
            super::$name($crate::support::store::postgres().await).await
        }
    };
}

/// The store test `async fn NAME(db: TestDb)` (defined next to it) on each store: `NAME::sqlite`
/// always, and `NAME::postgres` as [`postgres_test!`] makes it.
#[allow(unused_macros)]
macro_rules! store_tests {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::support::store::sqlite().await).await
            }

            $crate::support::store::postgres_test!(@fn $name);
        }
    };
}

#[allow(unused_imports)] // Not every test binary has store tests.
pub(crate) use {postgres_test, store_tests};

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
        pulls: Vec::new(),
        coverage_written: false,
    }
}
