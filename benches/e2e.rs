//! End-to-end benchmark of issue #17: a generated catalog (`scripts/gen_catalog.py`, default
//! 10,000 entities) and the sample scorecards against a fake Codecov on 127.0.0.1 inside this
//! process (the offline fixture server of `rubric demo`, which answers at once and counts the
//! requests it gets).
//!
//! ```text
//! cargo bench --bench e2e                         # 10,000 entities
//! RUBRIC_BENCH_50K=1 cargo bench --bench e2e      # also 50,000, and the 50k / 10k ratio
//! RUBRIC_BENCH_ENTITIES=2000 cargo bench --bench e2e
//! RUBRIC_BENCH_ONLY=scheduled cargo bench --bench e2e   # only the `scheduled run stored` figures
//! ```
//!
//! The release `rubric` binary runs as a child process for every `eval`, so that its wall time
//! and peak memory (`VmHWM`) are its own. Prints one JSON line per figure,
//! `{"bench":"e2e","figure","entities","value","unit","goal","ratio"}`, where `ratio` is `value /
//! goal` (at most 1 meets the goal):
//!
//! - `eval live wall` / `eval live peak rss`: `rubric eval --format json` against the fake;
//! - `eval facts wall` / `eval facts peak rss`: `rubric eval --facts FILE --format json` over the
//!   facts `rubric sync --out FILE` fetched;
//! - `codecov requests per mapped entity`: the requests of the live sync, per entity that maps
//!   to a Codecov repository. Before the repository list it was 2 (totals and trend of each);
//!   totals now come from the owner's repository list, and what remains is what Codecov serves
//!   per repository only: coverage-hygiene's `coverageTrend` (one request per repository and
//!   flag) and a flag's totals, so the goal is 1.2 for this catalog, where about one entity in
//!   six reads a flag. The issue's tenth-of-the-requests goal is a sync of totals alone, measured
//!   by `cargo bench --bench sync`;
//! - `catalog re-sync / cold load`: a re-sync of the unchanged catalog through `CatalogCache`
//!   against a cold load, in this process;
//! - `eval live 50k / 10k`: with `RUBRIC_BENCH_50K=1`, the 50,000-entity wall time against the
//!   10,000 one (goal at most 5.5).
//! - `scheduled run stored`: in this process, `rubric serve`'s scheduler firing every sample
//!   scorecard at once (as it does on a fresh store), through the same `Runner` and
//!   `PipelineEvaluator`, until every run is written to a fresh SQLite store (goal 1.5 s);
//!   with `RUBRIC_TEST_POSTGRES_URL` set, the same on a fresh PostgreSQL database and the
//!   `scheduled run stored postgres / sqlite` ratio (goal 2.0).
//!
//! The fake serves every repository (and flag) the generated catalog maps to, with generated
//! totals, trend and commits, as Codecov serves an organisation's repositories; it answers at
//! once, so the figures are rubric's own cost, not a provider's.

#[path = "support/measure.rs"]
mod measure;

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Instant;

use rubric::catalog::{Catalog, CatalogCache};
use rubric::demo::fixture;
use rubric::jobs::{Runner, alerts::Alerter, pipeline::PipelineEvaluator, scheduler};
use rubric::store::Store;
use serde_json::json;
use sqlx::Connection;

/// The allocator of the `rubric` binary, for the scheduled runs this process makes itself.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use measure::{Measured, measure};

/// One figure, as the JSON line this benchmark prints.
fn figure(name: &str, entities: usize, value: f64, unit: &str, goal: f64) {
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    println!(
        "{}",
        json!({"bench": "e2e", "figure": name, "entities": entities, "value": round(value),
            "unit": unit, "goal": goal, "ratio": round(value / goal)})
    );
}

fn generate(dir: &Path, entities: usize) -> Result<(), String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen_catalog.py");
    let status = Command::new("python3")
        .arg(&script)
        .args(["--count", &entities.to_string(), "--out"])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("python3: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{}: {status}", script.display()))
    }
}

/// `rubric ARGS` against the fake Codecov at `codecov_url`, with the client's rate limit lifted
/// (the default 50 requests/s is Codecov's, not the fake's).
fn rubric(codecov_url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rubric"));
    cmd.args(args)
        .env("RUBRIC_CODECOV_URL", codecov_url)
        .env("CODECOV_TOKEN", "e2e-bench-token")
        .env("RUBRIC_CODECOV_RATE_LIMIT_PER_SEC", "1000000")
        .env("RUBRIC_CODECOV_RATE_LIMIT_BURST", "1000")
        .env("RUBRIC_CODECOV_CONCURRENCY", "64")
        .env("RUBRIC_LOG", "error");
    cmd
}

/// The fake Codecov, serving every repository and flag `catalog` maps to; it runs on `rt`'s
/// threads while the children call it.
fn serve(rt: &tokio::runtime::Runtime, catalog: &Path) -> Result<fixture::FixtureServer, String> {
    rt.block_on(fixture::start_with(fixture::FixtureOptions {
        named_repos: fixture::repositories_of(&Catalog::load(catalog)),
        ..fixture::FixtureOptions::default()
    }))
    .map_err(|e| format!("cannot start the fixture server: {e}"))
}

/// The figures of one catalog size; returns the live `eval` wall time.
fn run(rt: &tokio::runtime::Runtime, entities: usize) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let catalog_dir = dir.path().join("catalog");
    eprintln!("generating {entities} entities");
    generate(&catalog_dir, entities)?;
    let server = serve(rt, &catalog_dir)?;
    let catalog = catalog_dir.to_str().ok_or("a non-UTF-8 temporary path")?;
    let scorecards = concat!(env!("CARGO_MANIFEST_DIR"), "/scorecards");
    let facts = dir.path().join("facts.json");
    let facts = facts.to_str().ok_or("a non-UTF-8 temporary path")?;
    let url = server.url();
    let common = ["--catalog", catalog, "--scorecards", scorecards];
    let check = |what: &str, m: Result<Measured, String>| {
        m.map_err(|e| format!("{what}: {e}")).and_then(|m| {
            // `eval` exits 0 whatever the levels; its JSON must parse and hold scorecards.
            let v: serde_json::Value = serde_json::from_str(&m.stdout)
                .map_err(|e| format!("{what} printed no JSON: {e}"))?;
            if v["scorecards"].as_array().is_none_or(Vec::is_empty) {
                return Err(format!("{what} printed no scorecards"));
            }
            Ok(m)
        })
    };
    let before = server.requests();
    let live = check(
        "eval",
        measure(rubric(
            &url,
            &[&["eval", "--format", "json"][..], &common].concat(),
        )),
    )?;
    let requests = server.requests() - before;
    figure("eval live wall", entities, live.seconds, "s", 1.0);
    figure(
        "eval live peak rss",
        entities,
        live.peak_rss_mb,
        "MB",
        250.0,
    );

    let sync = measure(rubric(
        &url,
        &[&["sync", "--out", facts][..], &common].concat(),
    ))
    .map_err(|e| format!("sync: {e}"))?;
    eprintln!("sync --out: {:.3} s", sync.seconds);
    let offline = check(
        "eval --facts",
        measure(rubric(
            &url,
            &[&["eval", "--facts", facts, "--format", "json"][..], &common].concat(),
        )),
    )?;
    figure("eval facts wall", entities, offline.seconds, "s", 1.0);
    figure(
        "eval facts peak rss",
        entities,
        offline.peak_rss_mb,
        "MB",
        250.0,
    );

    let t = Instant::now();
    let cold = Catalog::load(&catalog_dir);
    let cold_s = t.elapsed().as_secs_f64();
    let mapped = cold.entities.iter().filter(|e| e.codecov.is_some()).count();
    let mut cache = CatalogCache::new(Vec::new());
    let _ = cache.load(&catalog_dir);
    let t = Instant::now();
    let again = cache.load(&catalog_dir);
    let warm_s = t.elapsed().as_secs_f64();
    if again.entities.len() != cold.entities.len() || cache.stats().parsed != 0 {
        return Err("the re-sync of an unchanged catalog re-parsed files".into());
    }
    figure(
        "codecov requests per mapped entity",
        entities,
        requests as f64 / mapped.max(1) as f64,
        "requests",
        1.2,
    );
    eprintln!("live eval: {requests} Codecov requests for {mapped} mapped entities");
    figure(
        "catalog re-sync / cold load",
        entities,
        warm_s / cold_s,
        "x",
        0.5,
    );
    scheduled_figures(&url, &catalog_dir, entities)?;
    Ok(live.seconds)
}

/// Only the `scheduled run stored` figures, over a freshly generated catalog of `entities`.
/// With `RUBRIC_LOG` set (e.g. `rubric=debug`), the runs' own timings go to stderr.
fn scheduled_only(rt: &tokio::runtime::Runtime, entities: usize) -> Result<(), String> {
    if let Ok(filter) = std::env::var("RUBRIC_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let catalog = dir.path().join("catalog");
    eprintln!("generating {entities} entities");
    generate(&catalog, entities)?;
    let server = serve(rt, &catalog)?;
    scheduled_figures(&server.url(), &catalog, entities)
}

/// The `scheduled run stored` figures (SQLite, and PostgreSQL when `RUBRIC_TEST_POSTGRES_URL`
/// names a server): median of 3 runs each.
fn scheduled_figures(codecov_url: &str, catalog: &Path, entities: usize) -> Result<(), String> {
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let median = |runs: &mut Vec<f64>| {
        runs.sort_by(f64::total_cmp);
        runs[runs.len() / 2]
    };
    let mut sqlite = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let url = format!("sqlite://{}", dir.path().join("history.db").display());
        sqlite.push(rt.block_on(scheduled_run(codecov_url, catalog, &url))?);
    }
    let sqlite = median(&mut sqlite);
    figure("scheduled run stored", entities, sqlite, "s", 1.5);
    let Some(base) = std::env::var("RUBRIC_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return Ok(());
    };
    let mut postgres = Vec::new();
    for i in 0..3 {
        let db = format!("rubric_e2e_{}_{i}", std::process::id());
        postgres.push(rt.block_on(async {
            let url = postgres_database(&base, &db, true).await?;
            let wall = scheduled_run(codecov_url, catalog, &url).await;
            postgres_database(&base, &db, false).await?;
            wall
        })?);
    }
    let postgres = median(&mut postgres);
    figure(
        "scheduled run stored postgres",
        entities,
        postgres,
        "s",
        3.0,
    );
    figure(
        "scheduled run stored postgres / sqlite",
        entities,
        postgres / sqlite,
        "x",
        2.0,
    );
    Ok(())
}

/// Creates (or drops) the database `db` on the PostgreSQL server of `base`; returns its URL.
async fn postgres_database(base: &str, db: &str, create: bool) -> Result<String, String> {
    let mut admin = sqlx::PgConnection::connect(base)
        .await
        .map_err(|e| format!("postgres: {e}"))?;
    let sql = if create {
        format!("CREATE DATABASE {db}")
    } else {
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    };
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&mut admin)
        .await
        .map_err(|e| format!("postgres: {e}"))?;
    let _ = admin.close().await;
    let (server, _) = base
        .rsplit_once('/')
        .ok_or("a postgres URL without a database")?;
    Ok(format!("{server}/{db}"))
}

/// One scheduled run of every scorecard over `catalog` into the empty store at `store_url`, as
/// `rubric serve` makes it: the evaluator loaded and its first sync done, then the scheduler's
/// tasks started (a fresh store makes every scorecard due at once) and timed until the last run
/// is written. Returns the wall seconds.
async fn scheduled_run(codecov_url: &str, catalog: &Path, store_url: &str) -> Result<f64, String> {
    let env = [
        ("RUBRIC_CODECOV_URL", codecov_url),
        ("RUBRIC_CODECOV_RATE_LIMIT_PER_SEC", "1000000"),
        ("RUBRIC_CODECOV_RATE_LIMIT_BURST", "1000"),
        ("RUBRIC_CODECOV_CONCURRENCY", "64"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let mut cfg = rubric::config::Config::load_with_env(None, env).map_err(|e| e.to_string())?;
    // The Codecov token, from a secrets file (this process's environment is left alone).
    let secrets = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    std::fs::write(
        secrets.path(),
        format!("{}=e2e-bench-token\n", cfg.codecov.token_env),
    )
    .map_err(|e| e.to_string())?;
    cfg.http.secrets_file = secrets.path().to_path_buf();
    cfg.catalog.path = catalog.to_path_buf();
    cfg.scorecards.path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scorecards");
    cfg.store.url = store_url.to_string();
    cfg.schedule.jitter_secs = 0;
    let store = Store::connect(store_url).await.map_err(|e| e.to_string())?;
    let (evaluator, _) = PipelineEvaluator::load(&cfg)
        .await
        .map_err(|e| e.to_string())?;
    evaluator.first_sync().await;
    let infos = rubric::jobs::Evaluator::scorecards(&evaluator);
    let plans = scheduler::plans(&cfg.schedule, &infos).map_err(|e| e.to_string())?;
    let alerter = Alerter::from_config(&cfg.alerts).map_err(|e| e.to_string())?;
    let runner = Arc::new(Runner::new(store.clone(), Arc::new(evaluator), alerter));
    let mut events = runner.subscribe();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let tasks = scheduler::spawn(runner, plans, chrono::TimeDelta::days(90), stopped);
    let mut written = std::collections::BTreeSet::new();
    while written.len() < infos.len() {
        let event = tokio::time::timeout(std::time::Duration::from_secs(300), events.recv())
            .await
            .map_err(|_| "no scheduled run written within 300 s")?
            .map_err(|e| e.to_string())?;
        written.insert(event.scorecard);
    }
    let wall = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    for task in tasks {
        let _ = task.await;
    }
    let runs = store.runs(None, 100).await.map_err(|e| e.to_string())?;
    if runs.len() != infos.len() || runs.iter().any(|r| r.entity_count == 0) {
        return Err(format!("the scheduled run wrote {runs:?}"));
    }
    store.close().await;
    eprintln!(
        "scheduled run of {} scorecards into {:?}: {wall:.3} s",
        infos.len(),
        store.backend()
    );
    Ok(wall)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; under `cargo test --benches` there is nothing to run.
    if !std::env::args().any(|a| a == "--bench") {
        return ExitCode::SUCCESS;
    }
    let entities: usize = std::env::var("RUBRIC_BENCH_ENTITIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var("RUBRIC_BENCH_ONLY").is_ok_and(|v| v == "scheduled") {
        return match scheduled_only(&rt, entities) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    let small = match run(&rt, entities) {
        Ok(wall) => wall,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if std::env::var_os("RUBRIC_BENCH_50K").is_some() {
        let large = 5 * entities;
        match run(&rt, large) {
            Ok(wall) => figure("eval live 50k / 10k", large, wall / small, "x", 5.5),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
