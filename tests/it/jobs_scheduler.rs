//! The scheduler and the run locks: repeated runs on a cadence, clean shutdown, one run per
//! scorecard at a time, and (with PostgreSQL) one replica at a time.

use crate::support::server;
use crate::support::store;

use std::sync::Arc;
use std::time::Duration;

use rubric::jobs::scheduler::{Cadence, Plan, spawn};
use rubric::jobs::{RunError, RunEvent};
use rubric::store::Trigger;
use server::{Fake, alerts_config, runner};
use store::{TestDb, entity, postgres_test, store_tests};
use tokio::sync::Notify;

async fn next_event(rx: &mut tokio::sync::broadcast::Receiver<RunEvent>) -> RunEvent {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a run within 20 s")
        .expect("event")
}

#[tokio::test]
async fn each_scorecard_runs_on_its_cadence_until_shutdown() {
    let db = store::sqlite().await;
    let fake = Arc::new(Fake::new(&["api"]));
    fake.set("coverage", entity("api", Some(("Gold", 3)), 100.0, &[]));
    let r = runner(db.store.clone(), fake, alerts_config(), vec![]);
    let mut events = r.subscribe();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let plan = Plan {
        scorecard: "coverage".into(),
        cadence: Cadence::Every(Duration::from_millis(50)),
        jitter: Duration::from_millis(5),
    };
    let tasks = spawn(r.clone(), vec![plan], chrono::TimeDelta::days(90), shutdown);
    let a = next_event(&mut events).await;
    let b = next_event(&mut events).await;
    assert_eq!(
        (a.trigger, b.trigger),
        (Trigger::Schedule, Trigger::Schedule)
    );
    assert!(b.run_id > a.run_id);
    stop.send(true).unwrap();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .expect("stops on shutdown")
            .unwrap();
    }
    assert!(db.store.runs(Some("coverage"), 100).await.unwrap().len() >= 2);
    db.finish().await;
}

/// Holds a run of `coverage` open on runner `a`; another run of it (on `b`) must be refused.
async fn second_run_is_refused(
    a: Arc<rubric::jobs::Runner>,
    b: Arc<rubric::jobs::Runner>,
    fake: Arc<Fake>,
) {
    let gate = Arc::new(Notify::new());
    *fake.gate.lock().unwrap() = Some(gate.clone());
    let started = fake.started.notified();
    tokio::pin!(started);
    started.as_mut().enable();
    let held = tokio::spawn(async move {
        a.run("coverage", None, Trigger::Schedule)
            .await
            .map(|o| o.run_id)
    });
    tokio::time::timeout(Duration::from_secs(10), started)
        .await
        .expect("the first run started");
    match b.run("coverage", None, Trigger::Schedule).await {
        Err(RunError::Busy(tag)) => assert_eq!(tag, "coverage"),
        other => panic!("expected Busy, got {other:?}"),
    }
    *fake.gate.lock().unwrap() = None;
    gate.notify_one();
    tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .unwrap()
        .unwrap()
        .expect("the first run completes");
    b.run("coverage", None, Trigger::Schedule)
        .await
        .expect("free again afterwards");
}

#[tokio::test]
async fn one_run_per_scorecard_at_a_time_in_one_process() {
    let db = store::sqlite().await;
    let fake = Arc::new(Fake::new(&["api"]));
    fake.set("coverage", entity("api", None, 0.0, &[]));
    let r = runner(db.store.clone(), fake.clone(), alerts_config(), vec![]);
    second_run_is_refused(r.clone(), r, fake).await;
    db.finish().await;
}

postgres_test!(replicas_sharing_one_database_do_not_run_the_same_scorecard_twice);
async fn replicas_sharing_one_database_do_not_run_the_same_scorecard_twice(db: TestDb) {
    let fake = Arc::new(Fake::new(&["api"]));
    fake.set("coverage", entity("api", None, 0.0, &[]));
    // Two runners = two replicas: separate in-process locks, one database.
    let replica = rubric::store::Store::connect(&db.url).await.unwrap();
    let a = runner(db.store.clone(), fake.clone(), alerts_config(), vec![]);
    let b = runner(replica.clone(), fake.clone(), alerts_config(), vec![]);
    second_run_is_refused(a, b, fake).await;
    replica.close().await;
    db.finish().await;
}

store_tests!(scorecards_due_together_run_together_and_all_land);
/// Three scorecards never run are all due at once: one scheduled run of them writes every
/// scorecard's run, each with its own results.
async fn scorecards_due_together_run_together_and_all_land(db: TestDb) {
    let mut fake = Fake::new(&["api", "web"]);
    for tag in ["hygiene", "readiness"] {
        let mut info = fake.scorecards[0].clone();
        info.tag = tag.into();
        fake.scorecards.push(info);
    }
    let tags = ["coverage", "hygiene", "readiness"];
    for (i, tag) in tags.iter().enumerate() {
        fake.set(tag, entity("api", Some(("Gold", 3)), 90.0 + i as f64, &[]));
        fake.set(tag, entity("web", None, 10.0 * i as f64, &[]));
    }
    let r = runner(db.store.clone(), Arc::new(fake), alerts_config(), vec![]);
    let mut events = r.subscribe();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let plans = tags
        .iter()
        .map(|tag| Plan {
            scorecard: tag.to_string(),
            cadence: Cadence::Every(Duration::from_secs(3600)),
            jitter: Duration::ZERO,
        })
        .collect();
    let tasks = spawn(r.clone(), plans, chrono::TimeDelta::days(90), shutdown);
    let mut written = std::collections::BTreeSet::new();
    while written.len() < tags.len() {
        let event = next_event(&mut events).await;
        assert_eq!(event.trigger, Trigger::Schedule);
        written.insert(event.scorecard);
    }
    stop.send(true).unwrap();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(10), t)
            .await
            .expect("stops on shutdown")
            .unwrap();
    }
    for (i, tag) in tags.iter().enumerate() {
        let runs = db.store.runs(Some(tag), 10).await.unwrap();
        assert_eq!(runs.len(), 1, "{tag}: one scheduled run");
        assert_eq!(runs[0].entity_count, 2, "{tag}");
        let (page, total) = db
            .store
            .latest_for_scorecard(tag, None, 0, 10)
            .await
            .unwrap();
        assert_eq!(total, 2, "{tag}");
        let web = page.iter().find(|r| r.result.entity == "web").unwrap();
        assert_eq!(web.result.percentage, Some(10.0 * i as f64), "{tag}");
    }
    db.finish().await;
}

/// The sample scorecards evaluated together (one catalog load, one fetch) give each scorecard
/// the run it gets evaluated alone: the same results, facts, coverage points and pulls, whether
/// they are returned together or handed over one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scorecards_evaluated_together_equal_each_evaluated_alone() {
    use rubric::jobs::Evaluator;
    use rubric::jobs::pipeline::PipelineEvaluator;

    let fixture = rubric::demo::fixture::start().await.unwrap();
    let mut cfg = rubric::config::Config::load_with_env(None, []).unwrap();
    cfg.catalog.path = crate::support::root().join("entities");
    cfg.scorecards.path = crate::support::root().join("scorecards");
    cfg.codecov.url = fixture.url();
    for account in &mut cfg.codecov.accounts {
        account.url = Some(fixture.url());
    }
    let (evaluator, _) = PipelineEvaluator::load(&cfg).await.unwrap();
    let infos = evaluator.scorecards();
    assert!(infos.len() >= 3, "the sample scorecards");
    let tags: Vec<&str> = infos.iter().map(|s| s.tag.as_str()).collect();
    let together = evaluator
        .evaluate_many(&tags, Trigger::Schedule)
        .await
        .unwrap();
    assert_eq!(together.len(), tags.len());
    // Handed over one by one as each is evaluated: the same runs, in the same order.
    let (done, handed) = futures::channel::mpsc::unbounded();
    evaluator
        .evaluate_each(&tags, Trigger::Schedule, done)
        .await
        .unwrap();
    let handed: Vec<rubric::store::NewRun> = futures::StreamExt::collect(handed).await;
    assert_eq!(handed.len(), tags.len());
    let at = chrono::DateTime::from_timestamp(0, 0).unwrap();
    let timeless = |mut run: rubric::store::NewRun| {
        for e in &mut run.entities {
            e.evaluated_at = at;
            e.data_as_of = None;
        }
        run
    };
    for (card, ((tag, run), handed)) in tags.iter().zip(together).zip(handed).enumerate() {
        let alone = timeless(
            evaluator
                .evaluate(tag, None, Trigger::Schedule)
                .await
                .unwrap(),
        );
        let run = timeless(run);
        let handed = timeless(handed);
        assert_eq!(handed.scorecard, *tag);
        assert_eq!(handed.entities, alone.entities, "{tag}");
        assert_eq!(handed.facts, run.facts, "{tag}");
        assert_eq!(run.scorecard, *tag);
        assert!(!run.entities.is_empty(), "{tag}");
        assert_eq!(run.entities, alone.entities, "{tag}");
        // The history facts (trends, pull lists) are kept by the first run only, like the
        // points made of them: the others keep the facts their own rules read, in the order a
        // run alone keeps them.
        let history = [
            "codecov.coverageHistory",
            "codecov.openPullRequests",
            "coverage.history",
        ];
        let of_history = |key: &str| history.iter().any(|h| key.starts_with(h));
        if card == 0 {
            assert_eq!(run.facts, alone.facts, "{tag}");
            assert!(run.facts.iter().any(|f| of_history(&f.key)), "{tag}");
        } else {
            // No sample scorecard reads a trend or a pull list in its rules: what the run
            // keeps is the lone run's facts, in order, less those.
            assert!(!run.facts.is_empty(), "{tag}");
            assert!(!run.facts.iter().any(|f| of_history(&f.key)), "{tag}");
            let mut lone = alone.facts.iter();
            for kept in &run.facts {
                assert!(lone.any(|f| f == kept), "{tag}: {kept:?}");
            }
            assert!(run.facts.len() < alone.facts.len(), "{tag}");
        }
        // Backfilled coverage days and pull requests go with the first run only; today's
        // readings (what each scorecard's coverage alerts read) with every run.
        if card == 0 {
            assert!(!run.coverage.is_empty() && !run.coverage_written, "{tag}");
            assert_eq!(run.coverage, alone.coverage, "{tag}");
            assert_eq!(run.pulls, alone.pulls, "{tag}");
        } else {
            let today: Vec<_> = alone
                .coverage
                .iter()
                .filter(|c| c.source == rubric::store::PointSource::Run)
                .cloned()
                .collect();
            assert!(!today.is_empty(), "{tag}");
            assert_eq!(run.coverage, today, "{tag}");
            assert!(run.coverage_written && run.pulls.is_empty(), "{tag}");
        }
    }
}
