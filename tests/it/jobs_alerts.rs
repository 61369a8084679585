//! Alerts after runs, delivered over real HTTP to a fake webhook receiver on 127.0.0.1.

use crate::support::store;
use crate::support::{self, server};

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use rubric::jobs::alerts::{Format, Webhook};
use rubric::store::{CoveragePoint, PointSource, Trigger};
use server::{Fake, alerts_config, runner};
use store::entity;
use tokio::sync::mpsc;

/// A webhook receiver answering 500 to its first `failures` requests, then 200; every body
/// received is sent on the channel.
struct Receiver {
    url: String,
    bodies: mpsc::UnboundedReceiver<serde_json::Value>,
}

#[derive(Clone)]
struct ReceiverState {
    failures: usize,
    seen: Arc<AtomicUsize>,
    tx: mpsc::UnboundedSender<serde_json::Value>,
}

async fn receive(
    State(s): State<ReceiverState>,
    Json(body): Json<serde_json::Value>,
) -> StatusCode {
    let n = s.seen.fetch_add(1, Ordering::SeqCst);
    let _ = s.tx.send(body);
    if n < s.failures {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

async fn receiver(failures: usize) -> Receiver {
    let (tx, bodies) = mpsc::unbounded_channel();
    let state = ReceiverState {
        failures,
        seen: Arc::new(AtomicUsize::new(0)),
        tx,
    };
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(state);
    let url = format!("{}/hook", support::serve(app).await);
    Receiver { url, bodies }
}

fn hook(name: &str, format: Format, url: &str) -> Webhook {
    Webhook {
        name: name.into(),
        format,
        url: url.into(),
        repositories: Vec::new(),
    }
}

fn point(day: u32, coverage: f64) -> CoveragePoint {
    CoveragePoint {
        entity: "api".into(),
        repository: "acme/api".into(),
        flag: String::new(),
        provider: "codecov".into(),
        day: NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
        coverage,
        last_upload_at: None,
        source: PointSource::Run,
    }
}

#[tokio::test]
async fn a_level_drop_fires_once_and_a_failed_delivery_is_retried_and_recorded() {
    let db = store::sqlite().await;
    let mut rx = receiver(1).await;
    let fake = Arc::new(Fake::new(&["api"]));
    fake.set("coverage", entity("api", Some(("Silver", 2)), 80.0, &[]));
    let r = runner(
        db.store.clone(),
        fake.clone(),
        alerts_config(),
        vec![hook("team", Format::Slack, &rx.url)],
    );
    let first = r.run("coverage", None, Trigger::Schedule).await.unwrap();
    assert!(
        first.alerts.await.unwrap().is_empty(),
        "no previous result, nothing dropped"
    );

    fake.set("coverage", entity("api", Some(("Bronze", 1)), 40.0, &[]));
    let ids = r
        .run("coverage", None, Trigger::Schedule)
        .await
        .unwrap()
        .alerts
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    let slack = rx.bodies.recv().await.unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.contains("api dropped to Bronze in scorecard coverage (rank 2 → 1)"),
        "{text}"
    );
    assert_eq!(
        rx.bodies.recv().await.unwrap(),
        slack,
        "the retry sends the same body"
    );
    let deliveries = db.store.deliveries(ids[0]).await.unwrap();
    assert_eq!(
        deliveries
            .iter()
            .map(|d| (d.attempt, d.http_status, d.delivered))
            .collect::<Vec<_>>(),
        [(1, Some(500), false), (2, Some(200), true)]
    );

    // Same level again: no change of state, no alert.
    let ids = r
        .run("coverage", None, Trigger::Schedule)
        .await
        .unwrap()
        .alerts
        .await
        .unwrap();
    assert!(ids.is_empty());
    // A lower score at the same level is a score drop.
    fake.set("coverage", entity("api", Some(("Bronze", 1)), 30.0, &[]));
    let ids = r
        .run("coverage", None, Trigger::Schedule)
        .await
        .unwrap()
        .alerts
        .await
        .unwrap();
    assert_eq!(db.store.alerts(1).await.unwrap()[0].1, "score_drop");
    assert_eq!(ids.len(), 1);
    db.finish().await;
}

/// `points` and `padding` other repositories read the same day, healthy and steady: a run of
/// more than a few repositories reads its alert states and series at once, a small one per key.
fn padded(points: Vec<CoveragePoint>, padding: usize) -> Vec<CoveragePoint> {
    let day = points[0].day;
    let others = (0..padding).map(|i| CoveragePoint {
        entity: format!("pad-{i}"),
        repository: format!("acme/pad-{i}"),
        coverage: 99.0,
        ..point(1, 0.0)
    });
    points
        .into_iter()
        .chain(others.map(|c| CoveragePoint { day, ..c }))
        .collect()
}

#[tokio::test]
async fn coverage_under_its_minimum_fires_on_each_change_of_state() {
    coverage_under_its_minimum(0).await;
}

#[tokio::test]
async fn coverage_under_its_minimum_fires_on_each_change_of_state_in_a_large_round() {
    coverage_under_its_minimum(40).await;
}

async fn coverage_under_its_minimum(padding: usize) {
    let db = store::sqlite().await;
    let mut rx = receiver(0).await;
    let fake = Arc::new(Fake::new(&["api"]));
    fake.set("coverage", entity("api", None, 0.0, &[]));
    let mut cfg = alerts_config();
    cfg.min_coverage = 50.0;
    cfg.min_coverage_by_scorecard
        .insert("coverage".into(), 60.0);
    cfg.min_coverage_by_repository
        .insert("acme/api".into(), 80.0);
    cfg.trend_drop_points = 0.0;
    let r = runner(
        db.store.clone(),
        fake.clone(),
        cfg,
        vec![hook("json", Format::Json, &rx.url)],
    );
    let mut kinds = Vec::new();
    for coverage in [75.0, 74.0, 85.0, 86.0, 79.0] {
        *fake.coverage.lock().unwrap() = padded(
            vec![CoveragePoint {
                day: Utc::now().date_naive(),
                ..point(1, coverage)
            }],
            padding,
        );
        let ids = r
            .run("coverage", None, Trigger::Schedule)
            .await
            .unwrap()
            .alerts
            .await
            .unwrap();
        for _ in &ids {
            let body = rx.bodies.recv().await.unwrap();
            kinds.push((
                body["kind"].as_str().unwrap().to_string(),
                body["current"].as_f64().unwrap(),
            ));
            assert_eq!(body["minimum"], 80.0, "the per-repository minimum wins");
            assert_eq!(body["repository"], "acme/api");
        }
    }
    assert_eq!(
        kinds,
        [
            ("coverage_below".to_string(), 75.0),
            ("coverage_recovered".to_string(), 85.0),
            ("coverage_below".to_string(), 79.0)
        ]
    );
    db.finish().await;
}

#[tokio::test]
async fn a_declining_trend_above_the_minimum_fires_once() {
    a_declining_trend(0).await;
}

#[tokio::test]
async fn a_declining_trend_above_the_minimum_fires_once_in_a_large_round() {
    a_declining_trend(40).await;
}

async fn a_declining_trend(padding: usize) {
    let db = store::sqlite().await;
    let mut rx = receiver(0).await;
    let fake = Arc::new(Fake::new(&["api"]));
    fake.set("coverage", entity("api", None, 0.0, &[]));
    let mut cfg = alerts_config();
    cfg.min_coverage = 50.0;
    cfg.trend_drop_points = 3.0;
    let r = runner(
        db.store.clone(),
        fake.clone(),
        cfg,
        vec![hook("json", Format::Json, &rx.url)],
    );
    let today = Utc::now().date_naive();
    let day = |back: i64| CoveragePoint {
        day: today - chrono::TimeDelta::days(back),
        ..point(1, 0.0)
    };
    let mut fired = Vec::new();
    for (back, coverage) in [(20, 90.0), (10, 88.0), (5, 86.5), (0, 86.0)] {
        *fake.coverage.lock().unwrap() = padded(
            vec![CoveragePoint {
                coverage,
                ..day(back)
            }],
            padding,
        );
        let ids = r
            .run("coverage", None, Trigger::Schedule)
            .await
            .unwrap()
            .alerts
            .await
            .unwrap();
        for _ in &ids {
            fired.push(rx.bodies.recv().await.unwrap());
        }
    }
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["kind"], "coverage_declining");
    assert_eq!(
        fired[0]["summary"],
        "acme/api coverage fell 3.5 points in 30 days (90.0% → 86.5%)"
    );
    db.finish().await;
}

#[tokio::test]
async fn an_unreachable_webhook_is_tried_max_attempts_times_and_recorded() {
    let db = store::sqlite().await;
    // Bind then drop a listener: its port now refuses connections.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let fake = Arc::new(Fake::new(&["api"]));
    fake.set("coverage", entity("api", Some(("Gold", 3)), 100.0, &[]));
    let url = format!("http://{closed}/secret-path-token");
    let r = runner(
        db.store.clone(),
        fake.clone(),
        alerts_config(),
        vec![hook("down", Format::Slack, &url)],
    );
    r.run("coverage", None, Trigger::Schedule)
        .await
        .unwrap()
        .alerts
        .await
        .unwrap();
    fake.set("coverage", entity("api", None, 0.0, &[]));
    let ids = r
        .run("coverage", None, Trigger::Schedule)
        .await
        .unwrap()
        .alerts
        .await
        .unwrap();
    let deliveries = db.store.deliveries(ids[0]).await.unwrap();
    assert_eq!(deliveries.len(), 3, "max_attempts");
    assert!(
        deliveries
            .iter()
            .all(|d| !d.delivered && d.http_status.is_none())
    );
    let error = deliveries[0].error.as_deref().unwrap();
    assert!(
        !error.contains("secret-path-token"),
        "webhook URLs are secrets: {error}"
    );
    db.finish().await;
}

/// Two scorecards with their own minimums for one repository at 91.5 %: one alert when it is
/// first below cova's 95, none for covb's 50, and no flapping between them over four runs.
#[tokio::test]
async fn each_scorecard_keeps_its_own_state_for_a_repository() {
    let db = store::sqlite().await;
    let mut rx = receiver(0).await;
    let mut fake = Fake::new(&["api"]);
    let info = fake.scorecards[0].clone();
    fake.scorecards = ["cova", "covb"]
        .iter()
        .map(|tag| rubric::jobs::ScorecardInfo {
            tag: tag.to_string(),
            ..info.clone()
        })
        .collect();
    let fake = Arc::new(fake);
    let mut cfg = alerts_config();
    cfg.min_coverage_by_scorecard.insert("cova".into(), 95.0);
    cfg.min_coverage_by_scorecard.insert("covb".into(), 50.0);
    cfg.trend_drop_points = 0.0;
    *fake.coverage.lock().unwrap() = vec![CoveragePoint {
        day: Utc::now().date_naive(),
        ..point(1, 91.5)
    }];
    let r = runner(
        db.store.clone(),
        fake.clone(),
        cfg,
        vec![hook("json", Format::Json, &rx.url)],
    );
    let mut summaries = Vec::new();
    for scorecard in ["cova", "covb", "cova", "covb"] {
        let ids = r
            .run(scorecard, None, Trigger::Schedule)
            .await
            .unwrap()
            .alerts
            .await
            .unwrap();
        for _ in &ids {
            let body = rx.bodies.recv().await.unwrap();
            summaries.push(body["summary"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(
        summaries,
        ["acme/api coverage 91.5% fell below its minimum 95.0%"]
    );
    db.finish().await;
}

/// A webhook for one owner's repositories receives their alerts only; an owner's minimum
/// (`acme/*`) applies to each of its repositories.
#[tokio::test]
async fn a_channel_per_owner_gets_its_repositories_alerts() {
    let db = store::sqlite().await;
    let mut everything = receiver(0).await;
    let mut acme = receiver(0).await;
    let fake = Arc::new(Fake::new(&["api"]));
    let mut cfg = alerts_config();
    cfg.min_coverage = 50.0;
    cfg.min_coverage_by_repository.insert("acme/*".into(), 80.0);
    cfg.trend_drop_points = 0.0;
    *fake.coverage.lock().unwrap() = vec![
        CoveragePoint {
            day: Utc::now().date_naive(),
            ..point(1, 75.0)
        },
        CoveragePoint {
            repository: "other/x".into(),
            day: Utc::now().date_naive(),
            ..point(1, 10.0)
        },
    ];
    let owner_hook = Webhook {
        repositories: vec!["acme/*".into()],
        ..hook("acme-slack", Format::Json, &acme.url)
    };
    let r = runner(
        db.store.clone(),
        fake.clone(),
        cfg,
        vec![hook("all", Format::Json, &everything.url), owner_hook],
    );
    let ids = r
        .run("coverage", None, Trigger::Schedule)
        .await
        .unwrap()
        .alerts
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    let mut all = Vec::new();
    for _ in 0..2 {
        all.push(
            everything.bodies.recv().await.unwrap()["summary"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    all.sort();
    assert_eq!(
        all,
        [
            "acme/api coverage 75.0% fell below its minimum 80.0%",
            "other/x coverage 10.0% fell below its minimum 50.0%"
        ]
    );
    let only = acme.bodies.recv().await.unwrap();
    assert_eq!(only["repository"], "acme/api");
    assert!(
        acme.bodies.try_recv().is_err(),
        "other/x's alert is not acme's"
    );
    db.finish().await;
}

/// Of a round's runs, the ones whose readings an earlier run wrote check their scorecard's own
/// minimum but not the repository's trend (the run that wrote them did).
#[tokio::test]
async fn later_runs_of_a_round_check_their_minimum_not_the_trend_again() {
    let db = store::sqlite().await;
    let today = Utc::now().date_naive();
    let at = |back: i64, coverage: f64, source: PointSource| CoveragePoint {
        day: today - chrono::TimeDelta::days(back),
        coverage,
        source,
        ..point(1, 0.0)
    };
    // 90 % twenty days ago, 85 % today: a fall of 5 points, past the 2-point threshold.
    let mut first = store::run("coverage", 1, vec![entity("api", None, 0.0, &[])]);
    first.coverage = vec![
        at(20, 90.0, PointSource::Backfill),
        at(0, 85.0, PointSource::Run),
    ];
    db.store.save_run(&first).await.unwrap();
    let mut cfg = alerts_config();
    cfg.min_coverage_by_scorecard.insert("strict".into(), 88.0);
    cfg.min_coverage_by_scorecard.insert("lenient".into(), 80.0);
    let alerter = rubric::jobs::alerts::Alerter::new(cfg, Vec::new());
    let previous = std::collections::HashMap::new();
    let kinds = || async {
        let alerts = db.store.alerts(10).await.unwrap();
        alerts
            .into_iter()
            .map(|(_, kind, _, _)| kind)
            .collect::<Vec<_>>()
    };
    for (scorecard, fired) in [("strict", 1), ("lenient", 0)] {
        let mut later = store::run(scorecard, 2, vec![entity("api", None, 0.0, &[])]);
        later.coverage = vec![at(0, 85.0, PointSource::Run)];
        later.coverage_written = true;
        let ids = alerter.after_run(&db.store, &later, &previous).await;
        assert_eq!(ids.len(), fired, "{scorecard}");
    }
    assert_eq!(kinds().await, ["coverage_below"]);
    let state = |key: &'static str| db.store.alert_state(key);
    assert_eq!(
        state("below:lenient:codecov:acme/api")
            .await
            .unwrap()
            .as_deref(),
        Some("ok")
    );
    assert_eq!(
        state("trend:codecov:acme/api").await.unwrap(),
        None,
        "no trend checked"
    );
    // The run that wrote the readings checks the trend.
    let ids = alerter.after_run(&db.store, &first, &previous).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(kinds().await, ["coverage_declining", "coverage_below"]);
    db.finish().await;
}
