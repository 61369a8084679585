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
use store::{TestDb, entity, postgres_test};
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
